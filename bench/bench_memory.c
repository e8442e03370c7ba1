/* Where a training step's memory goes: one forward and backward of a benchmark model
 * (bench_models.h) on a synthetic batch, with the arena's bytes charged to the operations
 * that took them.
 *
 *   bench_memory [-t threads] [-b batch] [-n lines] mlp|vit|vit-large
 *
 * Each taped operation is charged what the arena handed out between the record before it and
 * its own: its output, the values it saved for backward, and any scratch it left in place.
 * Prints those charges summed by operation (largest first), the `-n` largest single records,
 * and the arena at the end of the forward pass and at its peak during backward (gradients).
 * Links the library's internals: the tape is not part of the public API. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "adapt.h"
#include "bench_models.h"
#include "bench_util.h"
#include "lib/autograd/tape.h"
#include "lib/core/context.h"

#define MIB (1024.0 * 1024.0)
#define MAX_OPS 64

typedef struct {
    const char *name;
    int count;
    size_t bytes;
} op_total;

static int by_bytes(const void *a, const void *b)
{
    const size_t x = ((const op_total *)a)->bytes, y = ((const op_total *)b)->bytes;
    return (x < y) - (x > y);
}

/* Records oldest first into `nodes` (which holds `count`), charging each the bytes since the
 * record before it. */
static int tape_oldest_first(const ad_node **nodes, const adapt_context *ctx)
{
    int count = 0;
    for (const ad_node *n = ctx->tape; n; n = n->prev)
        count++;
    int i = count;
    for (const ad_node *n = ctx->tape; n; n = n->prev)
        nodes[--i] = n;
    return count;
}

static size_t charge(const ad_node *const *nodes, int i, size_t start)
{
    return nodes[i]->arena_used - (i ? nodes[i - 1]->arena_used : start);
}

static void report_tape(const adapt_context *ctx, size_t start, int lines)
{
    const ad_node **nodes = malloc(100000 * sizeof *nodes);
    const int count = tape_oldest_first(nodes, ctx);
    op_total ops[MAX_OPS] = {{0}}, *largest = calloc((size_t)count, sizeof *largest);
    int n_ops = 0;
    for (int i = 0; i < count; i++) {
        const size_t bytes = charge(nodes, i, start);
        int k = 0;
        while (k < n_ops && strcmp(ops[k].name, nodes[i]->name))
            k++;
        if (k == n_ops && n_ops < MAX_OPS)
            ops[n_ops++] = (op_total){nodes[i]->name, 0, 0};
        if (k < n_ops)
            ops[k].count++, ops[k].bytes += bytes;
        largest[i] = (op_total){nodes[i]->name, i, bytes};
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_bytes);
    printf("forward, by operation (%d records):\n", count);
    for (int k = 0; k < n_ops; k++)
        printf("  %-24s %5d records %9.1f MiB\n", ops[k].name, ops[k].count, ops[k].bytes / MIB);
    qsort(largest, (size_t)count, sizeof *largest, by_bytes);
    printf("largest records (record number, oldest 0):\n");
    for (int k = 0; k < lines && k < count; k++)
        printf("  %-24s #%-5d %9.1f MiB\n", largest[k].name, largest[k].count,
               largest[k].bytes / MIB);
    free(largest);
    free(nodes);
}

int main(int argc, char **argv)
{
    int threads = 0, lines = 12;
    int64_t batch = 128;
    for (int c; (c = getopt(argc, argv, "t:b:n:")) != -1;) {
        switch (c) {
        case 't': threads = atoi(optarg); break;
        case 'b': batch = atoll(optarg); break;
        case 'n': lines = atoi(optarg); break;
        default: return 2;
        }
    }
    if (argc - optind != 1 || !bench_model_known(argv[optind]) || batch < 1) {
        fprintf(stderr, "usage: bench_memory [-t threads] [-b batch] [-n lines] "
                        "mlp|vit|vit-large\n");
        return 2;
    }
    const char *name = argv[optind], *me = "bench_memory";
    int64_t shape[4];
    const int32_t ndim = bench_input_shape(shape, name, batch);
    float *x = bench_synthetic_inputs(bench_numel(shape, ndim));
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    for (int64_t i = 0; i < batch; i++)
        labels[i] = (int32_t)(i % CLASSES);
    adapt_model *model;
    adapt_context *ctx;
    adapt_context_params cp;
    adapt_context_params_init(&cp, sizeof cp);
    cp.n_threads = threads;
    adapt_tensor *input, *logits, *loss;
    bench_check(me, bench_create_model(&model, name), "model");
    bench_check(me, adapt_context_create(&ctx, &cp), "context");
    bench_check(me, adapt_context_set_grad(ctx, 1), "grad");
    bench_check(me, adapt_context_set_training(ctx, 1), "training");
    bench_check(me, adapt_tensor_input(&input, ctx, ndim, shape, x), "input");
    const size_t start = ctx->arena.used;
    bench_check(me, adapt_model_forward(&logits, ctx, model, input), "forward");
    bench_check(me, adapt_op_cross_entropy(&loss, ctx, logits, labels, 0.0f), "loss");
    const size_t forward = ctx->arena.used;
    report_tape(ctx, start, lines);
    bench_check(me, adapt_backward(ctx, loss), "backward");
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("model %s, batch %lld: arena %.1f MiB after forward, %.1f MiB at its peak in "
           "backward (%.1f MiB of gradients and scratch); peak RSS %.1f MiB\n",
           name, (long long)batch, (forward - start) / MIB, ctx->arena.step_peak / MIB,
           (ctx->arena.step_peak - forward) / MIB, u.ru_maxrss / 1024.0);
    adapt_context_free(ctx);
    adapt_model_free(model);
    free(labels);
    free(x);
    return 0;
}

/* bench_moe — wall-clock against counted FLOPs for dynamic-k Mixture-of-Experts layers.
 *
 *   bench_moe [-t threads] [-b batch] [-e experts] [-s seconds] [-o dir] [-B onednn]
 *             [tau ...]
 *
 * The benchmark ViT (bench_models.h: dim 192, depth 6, 65 tokens, MLPs of 768) with its MLPs
 * swapped to ReLU is the dense model; each MLP split into `experts` experts (default 24, 32
 * units each) with routers trained on the MLP's inputs recorded over 256 synthetic images, so
 * that routing follows a trained router's predictions, is the MoE. For each tau (default 0 0.1
 * 0.2 0.3 0.4 0.5 0.6 0.8 1) it measures, on one batch of synthetic images (default 1):
 *   layers  the six MoE modules on their recorded inputs against the six dense modules;
 *   model   the whole MoE ViT against the whole dense ViT;
 * each as median milliseconds of timed rounds (at least 5 and `seconds`, default 2, for each
 * copy, the two copies alternating in windows of about 50 ms), the measured speed-up, the
 * speed-up the FLOPs predict and their ratio. With -o, writes the modules' weights and inputs
 * there for bench/peers/torch_moe.py. -B onednn times the context's oneDNN backend instead of
 * the default, whose expert products run on the library's small-product kernel
 * (lib/kernels/gemm_small.h). One "result" line per tau; bench/run_moe.sh prints the table. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt */
#define ADAPT_EXPERIMENTAL
#include <unistd.h>

#include "bench_token_modules.h"

#define MAX_TAUS 32

typedef struct {
    int32_t experts;
    adapt_backend backend;
    double seconds;
    const char *out_dir;
    float taus[MAX_TAUS];
    int n_taus;
} options;

/* Each MLP of the second copy split, its routers trained on its inputs, put in place. */
static void build_moe(tm_setup *s, const options *o)
{
    adapt_moe_params mp;
    adapt_moe_params_init(&mp, sizeof mp);
    mp.experts = o->experts, mp.seed = 1;
    for (int b = 0; b < TM_DEPTH; b++)
        tm_check(s, adapt_moe_from_ffn(&s->adaptive[b], s->adaptive_vit, tm_mlp_path(b), &mp),
                 "split");
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 2, tp.batch_size = 16, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-3f, tp.n_threads = s->threads;
    tm_check(s, adapt_moe_train_routers(s->adaptive, (const adapt_recording *const *)s->inputs,
                                        TM_DEPTH, &tp), "routers");
    tm_install(s);
}

/* The modules' weights and the timed batch's inputs for the PyTorch peer. */
static void export_for_peer(const tm_setup *s, const options *o)
{
    char path[512];
    for (int b = 0; b < TM_DEPTH; b++) {
        snprintf(path, sizeof path, "%s/moe%d.safetensors", o->out_dir, b);
        tm_check(s, adapt_model_save(s->adaptive[b], path), "save");
        const adapt_tensor *x = s->batch_inputs[b];
        const int64_t shape[] = {adapt_tensor_dim(x, 0), adapt_tensor_dim(x, 1),
                                 adapt_tensor_dim(x, 2)};
        snprintf(path, sizeof path, "%s/inputs%d.npy", o->out_dir, b);
        tm_check(s, adapt_npy_write(path, adapt_tensor_data(x), 3, shape), "npy");
    }
}

static void measure(adapt_context *ctx, const tm_setup *s, const options *o, float tau)
{
    tm_check(s, adapt_model_set_routing(s->adaptive_vit, ADAPT_ROUTING_DYNAMIC_K, tau, 1, NULL),
             "routing");
    printf("result tau=%g batch=%lld experts=%d threads=%d", (double)tau, (long long)s->batch,
           (int)o->experts, (int)s->threads);
    tm_measure(ctx, s, o->seconds);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_moe [-t threads] [-b batch] [-e experts] [-s seconds] "
                    "[-o dir] [-B onednn] [tau ...]\n");
    exit(2);
}

static options parse(int argc, char **argv, tm_setup *s)
{
    options o = {.experts = 24, .seconds = 2.0};
    s->threads = 2, s->batch = 1;
    for (int c; (c = getopt(argc, argv, "t:b:e:s:o:B:")) != -1;) {
        switch (c) {
        case 't': s->threads = atoi(optarg); break;
        case 'b': s->batch = atoll(optarg); break;
        case 'e': o.experts = atoi(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 'o': o.out_dir = optarg; break;
        case 'B':
            if (strcmp(optarg, "onednn"))
                usage();
            o.backend = ADAPT_BACKEND_ONEDNN;
            break;
        default: usage();
        }
    }
    const float defaults[] = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.8f, 1.0f};
    for (int i = optind; i < argc && o.n_taus < MAX_TAUS; i++)
        o.taus[o.n_taus++] = (float)atof(argv[i]);
    for (int i = 0; !o.n_taus && i < (int)(sizeof defaults / sizeof *defaults); i++)
        o.taus[i] = defaults[i], o.n_taus = i + 1;
    if (s->threads < 1 || s->batch < 1 || o.experts < 1 || o.seconds < 0)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    tm_setup s = {.program = "bench_moe"};
    const options o = parse(argc, argv, &s);
    tm_build_dense(&s, ADAPT_ACTIVATION_RELU);
    build_moe(&s, &o);
    tm_hold_batch(&s);
    if (o.out_dir)
        export_for_peer(&s, &o);
    adapt_context *ctx = tm_context(&s, o.backend);
    for (int i = 0; i < o.n_taus; i++)
        measure(ctx, &s, &o, o.taus[i]);
    adapt_context_free(ctx);
    return 0;
}

/* bench_acm — wall-clock against counted FLOPs for Adaptive Computation Modules.
 *
 *   bench_acm [-t threads] [-b batch] [-s seconds] [-l learners]
 *
 * The benchmark ViT (bench_models.h: dim 192, depth 6, 65 tokens, GELU MLPs of 768) is the
 * dense model; the same ViT with an ACM of `learners` (default 4) GELU learners of 768 /
 * learners units for each MLP (adapt_acm_for) is the adaptive one. Timed on one batch of
 * synthetic images (default 1), as bench_moe times its MoE, for:
 *   fixed c   every token runs c learners, c = 0 .. learners, no gate: latency against
 *             executed learners;
 *   beta b    the gates run, shaped so that tokens choose around b x learners: their last
 *             layer's bias is -(c - b learners)^2 over the counts c and its weights make
 *             the choice vary from token to token (the timing depends on the counts chosen,
 *             not on how a gate was trained to choose them), b = 0.25, 0.4, 0.6, 0.75.
 * One "result" line per setting with the mean learners a token ran; bench/run_acm.sh prints
 * the table. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt */
#define ADAPT_EXPERIMENTAL
#include <unistd.h>

#include "bench_token_modules.h"

/* How far the gates' random part moves a token's logits: enough that neighbouring counts
 * trade places from token to token. */
#define GATE_SPREAD 8.0f

typedef struct {
    int32_t learners;
    double seconds;
} options;

static float *param(const tm_setup *s, adapt_model *m, const char *name)
{
    for (int32_t i = 0; i < adapt_model_param_count(m); i++)
        if (!strcmp(adapt_model_param_name(m, i), name))
            return adapt_tensor_data(adapt_model_param(m, i));
    tm_check(s, ADAPT_ERR_INVALID_ARGUMENT, name);
    return NULL;
}

static void build_acms(tm_setup *s, const options *o)
{
    adapt_acm_params ap;
    adapt_acm_params_init(&ap, sizeof ap);
    ap.learners = o->learners, ap.seed = 1;
    for (int b = 0; b < TM_DEPTH; b++) {
        tm_check(s, adapt_acm_for(&s->adaptive[b], s->adaptive_vit, tm_mlp_path(b), &ap),
                 "ACM");
        float *w = param(s, s->adaptive[b], "0.gate.4.weight");
        for (int32_t i = 0; i < 16 * (o->learners + 1); i++)
            w[i] *= GATE_SPREAD;
    }
    tm_install(s);
}

/* Gates that choose around `target` learners. */
static void shape_gates(const tm_setup *s, const options *o, double target)
{
    for (int b = 0; b < TM_DEPTH; b++) {
        float *bias = param(s, s->adaptive[b], "0.gate.4.bias");
        for (int32_t c = 0; c <= o->learners; c++)
            bias[c] = (float)(-(c - target) * (c - target));
    }
}

/* Mean learners a token of the batch ran, over the six ACMs. */
static double mean_learners(adapt_context *ctx, const tm_setup *s)
{
    const int64_t tokens = adapt_tensor_numel(s->batch_inputs[0]) /
                           adapt_tensor_dim(s->batch_inputs[0], 2);
    int32_t *counts = malloc((size_t)tokens * sizeof *counts);
    double sum = 0.0;
    for (int b = 0; b < TM_DEPTH; b++) {
        adapt_context_reset(ctx);
        tm_check(s, adapt_acm_learner_counts(counts, ctx, s->adaptive[b], s->batch_inputs[b]),
                 "counts");
        for (int64_t t = 0; t < tokens; t++)
            sum += counts[t];
    }
    free(counts);
    return sum / (double)(tokens * TM_DEPTH);
}

static void measure(adapt_context *ctx, const tm_setup *s, const options *o, const char *kind,
                    double value)
{
    printf("result setting=%s:%g batch=%lld learners=%d threads=%d ran=%.3f", kind, value,
           (long long)s->batch, (int)o->learners, (int)s->threads, mean_learners(ctx, s));
    tm_measure(ctx, s, o->seconds);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_acm [-t threads] [-b batch] [-s seconds] [-l learners]\n");
    exit(2);
}

static options parse(int argc, char **argv, tm_setup *s)
{
    options o = {.learners = 4, .seconds = 2.0};
    s->threads = 2, s->batch = 1;
    for (int c; (c = getopt(argc, argv, "t:b:s:l:")) != -1;) {
        switch (c) {
        case 't': s->threads = atoi(optarg); break;
        case 'b': s->batch = atoll(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 'l': o.learners = atoi(optarg); break;
        default: usage();
        }
    }
    if (s->threads < 1 || s->batch < 1 || o.learners < 1 || 768 % o.learners || o.seconds < 0)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    static const double budgets[] = {0.25, 0.4, 0.6, 0.75};
    tm_setup s = {.program = "bench_acm"};
    const options o = parse(argc, argv, &s);
    tm_build_dense(&s, ADAPT_ACTIVATION_GELU);
    build_acms(&s, &o);
    tm_hold_batch(&s);
    adapt_context *ctx = tm_context(&s, ADAPT_BACKEND_DEFAULT);
    for (int32_t c = 0; c <= o.learners; c++) {
        tm_check(&s, adapt_model_set_acm_learners(s.adaptive_vit, c, NULL), "learners");
        measure(ctx, &s, &o, "fixed", c);
    }
    tm_check(&s, adapt_model_set_acm_learners(s.adaptive_vit, -1, NULL), "learners");
    for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++) {
        shape_gates(&s, &o, budgets[i] * o.learners);
        measure(ctx, &s, &o, "beta", budgets[i]);
    }
    adapt_context_free(ctx);
    return 0;
}

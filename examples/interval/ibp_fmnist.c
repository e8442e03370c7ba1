/*
 * IBP training and certification on Fashion-MNIST (docs/intervals.md, results in
 * docs/interval_results.md): for an MLP and a small CNN, the model trained plainly and with
 * IBP at each training radius, then its clean accuracy and its certified accuracy at every
 * radius on the test set.
 *
 *   ibp_fmnist SEED CSV [EPOCHS [THREADS]]
 *
 * Appends rows seed,model,train_eps,eval_eps,clean,certified to CSV (eval_eps 0: the clean
 * accuracy alone). EPOCHS (default 10) of AdamW at 1e-3, cosine, batches of 128; IBP ramps
 * the radius over 10 % to 60 % of the steps and ends at kappa 0.5 (the defaults).
 */
#include "../common/fmnist_run.h"

#include <string.h>

static const float radii[] = {0.01f, 0.05f, 0.1f};
enum { N_RADII = sizeof radii / sizeof *radii };

static adapt_model *mlp(uint64_t seed)
{
    adapt_mlp_params p;
    adapt_mlp_params_init(&p, sizeof p);
    p.n_sizes = 4, p.sizes = (int64_t[]){784, 256, 256, FMNIST_CLASSES}, p.seed = seed;
    adapt_model *m;
    CHECK(adapt_model_create_mlp(&m, &p));
    return m;
}

static void append(adapt_model *m, int32_t kind, int64_t out, int32_t kernel, int32_t stride)
{
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = kind, p.out_features = out, p.kernel = kernel, p.stride = stride;
    CHECK(adapt_model_append(m, &p));
}

/* The "small" CNN of the IBP literature: conv 16 4x4 stride 2, conv 32 4x4, linear 100. */
static adapt_model *cnn(uint64_t seed)
{
    adapt_model *m;
    CHECK(adapt_model_create_sequential(&m, 3, (int64_t[]){1, 28, 28}, seed));
    append(m, ADAPT_LAYER_CONV2D, 16, 4, 2);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_CONV2D, 32, 4, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_FLATTEN, 0, 3, 1);
    append(m, ADAPT_LAYER_LINEAR, 100, 3, 1);
    append(m, ADAPT_LAYER_RELU, 0, 3, 1);
    append(m, ADAPT_LAYER_LINEAR, FMNIST_CLASSES, 3, 1);
    return m;
}

static void emit(const fmnist_run *r, const char *model, float train_eps, float eval_eps,
                 double clean, double certified)
{
    fprintf(r->out, "%llu,%s,%g,%g,%.4f,%.4f\n", (unsigned long long)r->seed, model,
            (double)train_eps, (double)eval_eps, clean, certified);
    fflush(r->out);
    printf("    eval eps %-5g clean %.4f certified %.4f\n", (double)eval_eps, clean, certified);
}

static void run(const fmnist_run *r, const char *name, adapt_model *(*make)(uint64_t),
                float train_eps)
{
    printf("  %s, %s%g\n", name, train_eps > 0 ? "IBP at eps " : "plain", (double)train_eps);
    adapt_model *m = make(r->seed);
    adapt_train_params tp = fmnist_train_params(r, r->epochs, 1e-3f);
    tp.ibp_epsilon = train_eps;
    CHECK(adapt_model_train(m, r->train, NULL, &tp));
    for (int i = 0; i < N_RADII; i++) {
        adapt_certify_result c = {.struct_size = sizeof c};
        CHECK(adapt_model_certify(&c, m, r->test, radii[i], 0.0f, 1.0f, 500, r->threads));
        if (i == 0)
            emit(r, name, train_eps, 0.0f, c.accuracy, c.accuracy);
        emit(r, name, train_eps, radii[i], c.accuracy, c.certified_accuracy);
    }
    adapt_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED CSV [EPOCHS [THREADS]]\n", argv[0]);
        return 2;
    }
    fmnist_run r = {.seed = strtoull(argv[1], NULL, 10), .epochs = argc > 3 ? atoi(argv[3]) : 10,
                    .threads = argc > 4 ? atoi(argv[4]) : 0};
    fmnist_open(&r, argv[2]);
    printf("seed %llu: %d epochs per model\n", (unsigned long long)r.seed, (int)r.epochs);
    const char *only = getenv("IBP_MODELS"); /* "mlp", "cnn" or both (default) */
    for (int plain = 1; plain >= 0; plain--)
        for (int i = 0; i < (plain ? 1 : N_RADII); i++) {
            const float eps = plain ? 0.0f : radii[i];
            if (!only || strstr(only, "mlp"))
                run(&r, "mlp", mlp, eps);
            if (!only || strstr(only, "cnn"))
                run(&r, "cnn", cnn, eps);
        }
    fmnist_close(&r);
    return 0;
}

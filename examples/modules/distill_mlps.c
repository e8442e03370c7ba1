/* distill_mlps — module-wise distillation on Fashion-MNIST: narrower MLPs learn, on recorded
 * activations, what each transformer block's MLP computes, and then replace them.
 *
 *   distill_mlps [epochs] [hidden] [threads]
 *
 * Trains a small ViT (or takes vit_fmnist.safetensors when present), records the input and
 * output of every blocks.i.mlp over 4000 training images, distils one MLP of `hidden` units
 * (default 32, a quarter of the original 128) per block from those recordings, all at once,
 * puts them in place, and reports test accuracy and FLOPs per image before and after. The
 * method's first phase for Adaptive Computation Modules and Mixture-of-Experts layers. */
#define ADAPT_EXPERIMENTAL /* recording, distillation and replacement */
#include <adapt.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        adapt_status st_ = (call);                                                      \
        if (st_ != ADAPT_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, adapt_status_string(st_),   \
                    adapt_last_error());                                                \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

enum { DEPTH = 4, TOKENS = 17, DIM = 64 };

static adapt_dataset *load(const char *dir, const char *prefix)
{
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    adapt_dataset *ds;
    CHECK(adapt_dataset_load_idx(&ds, images, labels));
    return ds;
}

static adapt_model *trained_vit(const adapt_dataset *train, int32_t epochs, int32_t threads)
{
    adapt_model *m;
    if (adapt_model_load(&m, "vit_fmnist.safetensors") == ADAPT_OK)
        return m;
    adapt_vit_params p;
    adapt_vit_params_init(&p, sizeof p);
    p.image_size = 28, p.in_channels = 1, p.patch = 7, p.dim = DIM, p.depth = DEPTH;
    p.heads = 4, p.mlp_ratio = 2.0f, p.n_classes = 10;
    CHECK(adapt_model_create_vit(&m, &p));
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = epochs, tp.batch_size = 128, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-3f, tp.weight_decay = 0.05f, tp.schedule = ADAPT_SCHEDULE_COSINE;
    tp.warmup_steps = 200, tp.n_threads = threads;
    CHECK(adapt_model_train(m, train, NULL, &tp));
    CHECK(adapt_model_save(m, "vit_fmnist.safetensors"));
    return m;
}

/* token_linear(hidden), GELU, token_linear(DIM) on [TOKENS, DIM]: an MLP's shape. */
static adapt_model *narrow_mlp(int64_t hidden, uint64_t seed)
{
    adapt_model *m;
    CHECK(adapt_model_create_sequential(&m, 2, (int64_t[]){TOKENS, DIM}, seed));
    adapt_layer_params p;
    adapt_layer_params_init(&p, sizeof p);
    p.kind = ADAPT_LAYER_TOKEN_LINEAR, p.out_features = hidden;
    CHECK(adapt_model_append(m, &p));
    p.kind = ADAPT_LAYER_GELU;
    CHECK(adapt_model_append(m, &p));
    p.kind = ADAPT_LAYER_TOKEN_LINEAR, p.out_features = DIM;
    CHECK(adapt_model_append(m, &p));
    return m;
}

static void report(const char *what, adapt_model *m, const adapt_dataset *test, int32_t threads)
{
    adapt_eval_result r = {.struct_size = sizeof r};
    CHECK(adapt_model_evaluate(&r, NULL, m, test, 256, threads));
    printf("%-28s test accuracy %.2f %%, %.3f MFLOPs per image\n", what, 100.0 * r.accuracy,
           (double)adapt_model_flops(m) / 1e6);
}

int main(int argc, char **argv)
{
    const int32_t epochs = argc > 1 ? atoi(argv[1]) : 3;
    const int64_t hidden = argc > 2 ? atoll(argv[2]) : 32;
    const int32_t threads = argc > 3 ? atoi(argv[3]) : 0;
    const char *dir = getenv("FMNIST_DIR") ? getenv("FMNIST_DIR")
                                           : "/usr/share/datasets/fashion-mnist";
    adapt_dataset *train = load(dir, "train"), *test = load(dir, "t10k"), *rest, *sample;
    CHECK(adapt_dataset_split(&rest, &sample, train, 4000.0f / 60000.0f, 7));
    adapt_model *vit = trained_vit(train, epochs, threads);
    report("the ViT as trained:", vit, test, threads);

    adapt_record_params rp;
    adapt_record_params_init(&rp, sizeof rp);
    rp.n_threads = threads;
    adapt_recording *recordings[DEPTH];
    adapt_model *students[DEPTH];
    char path[32];
    for (int i = 0; i < DEPTH; i++) {
        snprintf(path, sizeof path, "blocks.%d.mlp", i);
        CHECK(adapt_model_record(&recordings[i], vit, path, sample, &rp));
        students[i] = narrow_mlp(hidden, 100 + (uint64_t)i);
    }
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.epochs = 8, tp.batch_size = 64, tp.optimizer = ADAPT_OPTIMIZER_ADAMW;
    tp.learning_rate = 1e-3f, tp.schedule = ADAPT_SCHEDULE_COSINE, tp.grad_clip_norm = 1.0f;
    tp.n_threads = threads;
    printf("distilling %d MLPs of %lld hidden units on %lld recorded images ...\n", DEPTH,
           (long long)hidden, (long long)adapt_dataset_count(sample));
    CHECK(adapt_modules_distill(students, (const adapt_recording *const *)recordings, DEPTH,
                                &tp));
    for (int i = 0; i < DEPTH; i++) {
        snprintf(path, sizeof path, "blocks.%d.mlp", i);
        CHECK(adapt_model_replace(vit, path, students[i], NULL));
        adapt_recording_free(recordings[i]);
    }
    report("with the distilled MLPs:", vit, test, threads);

    adapt_model_free(vit);
    adapt_dataset_free(rest), adapt_dataset_free(sample);
    adapt_dataset_free(train), adapt_dataset_free(test);
    return 0;
}

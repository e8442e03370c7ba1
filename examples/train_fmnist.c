/* train_fmnist — train, evaluate and save a Fashion-MNIST classifier.
 *
 *   train_fmnist mlp|cnn|vit [epochs] [checkpoint.safetensors] [threads]
 *
 * Reads the IDX files of Debian's dataset-fashion-mnist package (or the
 * directory in $FMNIST_DIR), holds out 5000 training images for validation,
 * trains with a progress line, reports test accuracy and wall time, and
 * saves the model. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <adapt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        adapt_status st_ = (call);                                                      \
        if (st_ != ADAPT_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, adapt_status_string(st_),   \
                    adapt_last_error());                                                \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static adapt_dataset *load(const char *dir, const char *prefix)
{
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    adapt_dataset *ds;
    CHECK(adapt_dataset_load_idx(&ds, images, labels));
    return ds;
}

/* Each architecture with the optimiser settings it trains well with. */
static adapt_model *build(const char *arch, adapt_train_params *tp)
{
    adapt_model *m;
    if (!strcmp(arch, "mlp")) {
        const int64_t sizes[] = {784, 512, 256, 10};
        adapt_mlp_params p;
        adapt_mlp_params_init(&p, sizeof p);
        p.n_sizes = 4, p.sizes = sizes, p.dropout = 0.2f;
        CHECK(adapt_model_create_mlp(&m, &p));
        tp->optimizer = ADAPT_OPTIMIZER_ADAMW, tp->learning_rate = 1e-3f;
    } else if (!strcmp(arch, "cnn")) {
        const int32_t channels[] = {32, 64, 128}, blocks[] = {1, 1, 1}, strides[] = {1, 2, 2};
        adapt_cnn_params p;
        adapt_cnn_params_init(&p, sizeof p);
        p.in_channels = 1, p.image_size = 28, p.n_classes = 10, p.stem_channels = 32;
        p.n_stages = 3, p.stage_channels = channels, p.stage_blocks = blocks;
        p.stage_strides = strides;
        CHECK(adapt_model_create_cnn(&m, &p));
        tp->optimizer = ADAPT_OPTIMIZER_SGD, tp->learning_rate = 0.05f, tp->momentum = 0.9f;
        tp->nesterov = 1, tp->weight_decay = 5e-4f;
    } else if (!strcmp(arch, "vit")) {
        adapt_vit_params p;
        adapt_vit_params_init(&p, sizeof p);
        p.image_size = 28, p.in_channels = 1, p.patch = 7, p.dim = 64, p.depth = 4;
        p.heads = 4, p.mlp_ratio = 2.0f, p.n_classes = 10;
        CHECK(adapt_model_create_vit(&m, &p));
        tp->optimizer = ADAPT_OPTIMIZER_ADAMW, tp->learning_rate = 1e-3f;
        tp->weight_decay = 0.05f, tp->warmup_steps = 200;
    } else {
        fprintf(stderr, "unknown architecture '%s' (mlp, cnn or vit)\n", arch);
        exit(2);
    }
    return m;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s mlp|cnn|vit [epochs] [checkpoint] [threads]\n", argv[0]);
        return 2;
    }
    const char *dir = getenv("FMNIST_DIR") ? getenv("FMNIST_DIR")
                                           : "/usr/share/datasets/fashion-mnist";
    adapt_train_params tp;
    adapt_train_params_init(&tp, sizeof tp);
    tp.schedule = ADAPT_SCHEDULE_COSINE;
    tp.batch_size = 128;
    tp.epochs = argc > 2 ? atoi(argv[2]) : 10;
    tp.n_threads = argc > 4 ? atoi(argv[4]) : 0;
    const char *out = argc > 3 ? argv[3] : "fmnist.safetensors";

    adapt_dataset *all = load(dir, "train"), *test = load(dir, "t10k"), *train, *val;
    CHECK(adapt_dataset_split(&train, &val, all, 5000.0f / 60000.0f, 1));
    adapt_model *model = build(argv[1], &tp);
    printf("%s: %d blocks, %.2f MFLOPs per image; %lld training, %lld validation images\n",
           argv[1], adapt_model_block_count(model), (double)adapt_model_flops(model) / 1e6,
           (long long)adapt_dataset_count(train), (long long)adapt_dataset_count(val));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(adapt_model_train(model, train, val, &tp));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    adapt_eval_result r = {.struct_size = sizeof r};
    CHECK(adapt_model_evaluate(&r, NULL, model, test, 256, tp.n_threads));
    printf("test accuracy %.2f%% (loss %.4f) after %d epochs, %.0f s training\n",
           100.0 * r.accuracy, r.loss, tp.epochs, seconds);
    CHECK(adapt_model_save(model, out));
    printf("saved %s\n", out);

    adapt_model_free(model);
    adapt_dataset_free(train), adapt_dataset_free(val);
    adapt_dataset_free(all), adapt_dataset_free(test);
    return 0;
}

/* What the Fashion-MNIST reproductions of the adaptive methods share (examples/moe,
 * examples/acm): the data, the training recipe, the ViT backbone, test accuracy and FLOPs
 * per image as CSV rows, and the early-exit curve of the same backbone. A row is
 * seed,method,setting,accuracy,mflops,ffn_mflops. */
#ifndef EXAMPLES_COMMON_FMNIST_RUN_H
#define EXAMPLES_COMMON_FMNIST_RUN_H

#define ADAPT_EXPERIMENTAL /* replacement, recording, early exits, MoE, ACM */
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

enum { FMNIST_CLASSES = 10 };

typedef struct {
    uint64_t seed;
    int32_t epochs, threads;
    FILE *out;                                   /* the CSV rows */
    adapt_dataset *train, *test, *rest, *sample; /* sample: 10000 training images */
    double dense_mflops, ffn_mflops;             /* of the dense model: all, its FFNs' */
} fmnist_run;

/* Loads the data ($FMNIST_DIR, else Debian's dataset-fashion-mnist) and opens `csv` for
 * appending; exits on failure. */
void fmnist_open(fmnist_run *r, const char *csv);
void fmnist_close(fmnist_run *r);

/* AdamW at `lr`, weight decay 0.05, cosine after 100 warm-up steps, batches of 128. */
adapt_train_params fmnist_train_params(const fmnist_run *r, int32_t epochs, float lr);

/* The ViT on 28 x 28 images, patch 7 (16 tokens and the class token), width 64, 4 blocks of
 * 4 heads, MLPs of 256 GELU units, seeded with r->seed; untrained. */
adapt_model *fmnist_vit(const fmnist_run *r);

/* Trains `m` r->epochs epochs at 1e-3 and sets r->dense_mflops and r->ffn_mflops (the
 * submodules `ffns[0 .. n)`). */
void fmnist_train_dense(fmnist_run *r, adapt_model *m, const char *const *ffns, int32_t n);

/* A context of r->threads threads, without gradients. */
adapt_context *fmnist_context(const fmnist_run *r);

/* Appends the row of what `m` runs now (test accuracy, mean FLOPs per image from a metered
 * pass) and prints it; returns the accuracy. */
double fmnist_emit(const fmnist_run *r, adapt_model *m, const char *method, double setting);

/* Heads of `head_kind` after blocks [first, blocks - tail) of a frozen copy of the model at
 * `checkpoint`, trained r->epochs - 1 epochs; appends the test set's max-probability
 * threshold sweep as "early_exit" rows. */
void fmnist_early_exits(const fmnist_run *r, const char *checkpoint, int32_t head_kind,
                        int32_t first, int32_t tail);

#endif

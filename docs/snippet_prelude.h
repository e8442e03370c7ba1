/* What the fragments in the docs take as given: the check_c_snippets.sh harness
 * includes this file, then pastes a fragment into a function body and compiles it.
 * Externs, not definitions: a fragment is compiled, never linked or run, and a
 * fragment may redeclare a name locally (concepts.md's x) without a clash. */
#ifndef ADAPT_EXPERIMENTAL
#define ADAPT_EXPERIMENTAL /* fragments may use either tier of the API */
#endif
#include <adapt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern adapt_context *ctx;                     /* from adapt_context_create */
extern adapt_model *model, *cnn, *vit, *student;
extern adapt_tensor *a, *b, *y, *loss;
extern adapt_tensor *lo, *mid, *hi;           /* a box of inputs (intervals.md) */
extern adapt_dataset *train_set, *test;
extern adapt_dataset *task_sets[];            /* continual.md: one view per task */
extern int n_tasks;
extern adapt_train_params train_params;
extern float *pixels, *x;                      /* the caller's input data */
extern int32_t *labels;
extern int64_t n;                              /* samples in pixels */
extern int steps, batch;
extern float *val_logits, *test_logits, *rows;  /* slova.md: a one-vs-all model's outputs */
extern int32_t *val_labels, *test_labels, classes;
extern int64_t n_val, n_test;

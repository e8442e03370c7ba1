/* classify — load a checkpoint and classify IDX images.
 *
 *   classify model.safetensors images-idx3-ubyte[.gz] labels-idx1-ubyte[.gz]
 *
 * Prints the accuracy and the confusion matrix (rows: true class). */
#include <adapt.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, adapt_status st)
{
    fprintf(stderr, "%s: %s (%s)\n", what, adapt_status_string(st), adapt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s model.safetensors images labels\n", argv[0]);
        return 2;
    }
    adapt_model *model;
    adapt_dataset *data;
    adapt_status st = adapt_model_load(&model, argv[1]);
    if (st)
        return fail(argv[1], st);
    if ((st = adapt_dataset_load_idx(&data, argv[2], argv[3])))
        return fail(argv[2], st);
    const int32_t k = adapt_model_classes(model);
    int64_t *confusion = calloc((size_t)k * (size_t)k, sizeof *confusion);
    adapt_eval_result r = {.struct_size = sizeof r};
    if (!confusion)
        return fail("confusion matrix", ADAPT_ERR_OUT_OF_MEMORY);
    if ((st = adapt_model_evaluate(&r, confusion, model, data, 256, 0)))
        return fail("evaluate", st);
    printf("%lld images, accuracy %.2f%%, mean loss %.4f\n\ntrue\\pred", (long long)r.count,
           100.0 * r.accuracy, r.loss);
    for (int32_t j = 0; j < k; j++)
        printf("%6d", j);
    for (int32_t i = 0; i < k; i++) {
        printf("\n%9d", i);
        for (int32_t j = 0; j < k; j++)
            printf("%6lld", (long long)confusion[i * k + j]);
    }
    printf("\n");
    free(confusion);
    adapt_dataset_free(data);
    adapt_model_free(model);
    return 0;
}

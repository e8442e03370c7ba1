/* adapt_dataset_split: a seeded permutation cut into a training part and a validation tail,
 * both views of the parent (ad_dataset_subset). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/train/dataset.h"
#include "lib/train/shuffle.h"

static adapt_status check_split(adapt_dataset **train, adapt_dataset **validation,
                                const adapt_dataset *dataset, float fraction, const char *fn)
{
    if (!train || !validation)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       train ? "validation" : "train");
    adapt_status st = ad_dataset_check(dataset, fn, "dataset");
    if (st)
        return st;
    if (!isfinite(fraction))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: validation_fraction is not finite", fn);
    if (fraction < 0.0f || fraction >= 1.0f)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: validation_fraction %g outside [0, 1)",
                       fn, (double)fraction);
    return ADAPT_OK;
}

adapt_status adapt_dataset_split(adapt_dataset **train, adapt_dataset **validation,
                                 const adapt_dataset *dataset, float validation_fraction,
                                 uint64_t seed)
{
    const char *fn = "adapt_dataset_split";
    adapt_status st = check_split(train, validation, dataset, validation_fraction, fn);
    if (st)
        return st;
    const int64_t n = dataset->count;
    /* Rounded, so that a fraction written as k / n gives exactly k samples. */
    const int64_t n_val = (int64_t)floor((double)validation_fraction * (double)n + 0.5);
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    int64_t *tail = malloc((size_t)(n_val ? n_val : 1) * sizeof *tail);
    if (!perm || !tail) {
        free(perm);
        free(tail);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld indices", fn,
                       (long long)n);
    }
    ad_permutation(perm, n, seed, 0);
    for (int64_t i = 0; i < n; i++)
        perm[i] = ad_dataset_base(dataset, perm[i]);
    memcpy(tail, perm + (n - n_val), (size_t)n_val * sizeof *tail);
    adapt_dataset *t = NULL, *v = NULL;
    st = ad_dataset_subset(&t, dataset, perm, n - n_val, fn);
    if (st) {
        free(tail);
        return st;
    }
    st = ad_dataset_subset(&v, dataset, tail, n_val, fn);
    if (st) {
        adapt_dataset_free(t);
        return st;
    }
    *train = t;
    *validation = v;
    return ADAPT_OK;
}

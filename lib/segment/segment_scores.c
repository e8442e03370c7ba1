/* adapt_segmentation_scores: per-class intersection over union, their mean and the pixel
 * accuracy of predicted label maps against the true ones. */
#include <math.h>
#include <stdlib.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"

static const char *const fn = "adapt_segmentation_scores";

/* Pixels of each class in the truth, in the prediction, and in both. */
typedef struct {
    int64_t truth, predicted, both;
} class_counts;

static adapt_status count(class_counts *c, int64_t *labelled, int64_t *right,
                          const int32_t *predicted, const int32_t *truth, int64_t n,
                          int32_t classes)
{
    for (int64_t i = 0; i < n; i++) {
        const int32_t p = predicted[i], t = truth[i];
        if (p < 0 || p >= classes || t >= classes)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: pixel %lld is labelled %d, "
                           "predicted %d: not a class in [0, %d) (truth < 0: unlabelled)", fn,
                           (long long)i, (int)t, (int)p, (int)classes);
        if (t < 0)
            continue;
        c[t].truth++, c[p].predicted++, (*labelled)++;
        if (p == t)
            c[t].both++, (*right)++;
    }
    return ADAPT_OK;
}

adapt_status adapt_segmentation_scores(adapt_segmentation_score *out, double *class_iou,
                                       const int32_t *predicted, const int32_t *truth,
                                       int64_t n, int32_t classes)
{
    adapt_status st = ad_struct_check_out(out, "out", "adapt_segmentation_score", fn);
    if (!st && (!predicted || !truth || n < 0 || classes < 1))
        st = ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL labels, n < 0 or classes < 1", fn);
    class_counts *c = st ? NULL : calloc((size_t)classes, sizeof *c);
    if (!st && !c)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %d classes", fn, (int)classes);
    int64_t labelled = 0, right = 0;
    if (!st)
        st = count(c, &labelled, &right, predicted, truth, n, classes);
    adapt_segmentation_score s = {.struct_size = sizeof s};
    double sum = 0.0;
    for (int32_t k = 0; k < classes && !st; k++) {
        const int64_t both_or_either = c[k].truth + c[k].predicted - c[k].both;
        const double iou = both_or_either ? (double)c[k].both / (double)both_or_either : NAN;
        if (class_iou)
            class_iou[k] = iou;
        if (both_or_either)
            sum += iou, s.classes_seen++;
    }
    free(c);
    if (st)
        return st;
    s.mean_iou = s.classes_seen ? sum / s.classes_seen : NAN;
    s.pixel_accuracy = labelled ? (double)right / (double)labelled : NAN;
    s.pixels = labelled;
    ad_struct_write(out, &s, sizeof s);
    return ADAPT_OK;
}

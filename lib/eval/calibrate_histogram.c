/* Histogram binning, one class against the rest: the probability of class k is replaced by
 * the frequency of class k among the validation samples whose probability of k fell into
 * the same equal-width bin. A bin no sample fell into keeps its centre, the value a
 * calibrated model would have there on average. */
#include "lib/eval/calibrator.h"

#include <math.h>
#include <stdlib.h>

#include "lib/core/error.h"

int32_t ad_histogram_bin(double p, int32_t bins)
{
    const double b = ceil(p * bins) - 1.0;
    return b < 0.0 ? 0 : b > bins - 1 ? bins - 1 : (int32_t)b;
}

adapt_status ad_histogram_fit(double *bin_value, int32_t bins, const ad_score_rows *rows,
                              const int32_t *labels, const char *fn)
{
    const size_t cells = (size_t)rows->classes * (size_t)bins;
    int64_t *count = calloc(cells, sizeof *count), *hits = calloc(cells, sizeof *hits);
    adapt_status st = ADAPT_OK;
    if (!count || !hits) {
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu bins", fn, cells);
    } else {
        for (int64_t i = 0; i < rows->n; i++)
            for (int32_t k = 0; k < rows->classes; k++) {
                const size_t cell =
                    (size_t)k * bins + (size_t)ad_histogram_bin(ad_score_prob(rows, i, k), bins);
                count[cell]++;
                hits[cell] += labels[i] == k;
            }
        for (size_t c = 0; c < cells; c++)
            bin_value[c] = count[c] ? (double)hits[c] / (double)count[c]
                                    : ((double)(c % (size_t)bins) + 0.5) / bins;
    }
    free(count);
    free(hits);
    return st;
}

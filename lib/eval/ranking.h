/* Sorting samples by a score with ties broken by sample index: a total order, so every
 * platform's qsort produces the same permutation and every result built on it is
 * deterministic. */
#ifndef AD_EVAL_RANKING_H
#define AD_EVAL_RANKING_H

#include <stdint.h>

typedef struct {
    double key;
    int64_t index;
} ad_ranked;

/* Sorts by key ascending, equal keys by index ascending. */
void ad_rank_ascending(ad_ranked *items, int64_t n);
/* Sorts by key descending, equal keys by index ascending. */
void ad_rank_descending(ad_ranked *items, int64_t n);

/* End (exclusive) of the run of items with the key of items[start]: a tie group. */
static inline int64_t ad_tie_group_end(const ad_ranked *items, int64_t start, int64_t n)
{
    int64_t end = start + 1;
    while (end < n && items[end].key == items[start].key)
        end++;
    return end;
}

#endif

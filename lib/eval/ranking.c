#include "lib/eval/ranking.h"

#include <stdlib.h>

static int compare_index(const ad_ranked *a, const ad_ranked *b)
{
    return (a->index > b->index) - (a->index < b->index);
}

static int by_key_ascending(const void *pa, const void *pb)
{
    const ad_ranked *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return compare_index(a, b);
}

static int by_key_descending(const void *pa, const void *pb)
{
    const ad_ranked *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return compare_index(a, b);
}

void ad_rank_ascending(ad_ranked *items, int64_t n)
{
    qsort(items, (size_t)n, sizeof *items, by_key_ascending);
}

void ad_rank_descending(ad_ranked *items, int64_t n)
{
    qsort(items, (size_t)n, sizeof *items, by_key_descending);
}

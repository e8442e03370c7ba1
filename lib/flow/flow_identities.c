/* Identity units for adapt_flow_train: rows sorted by identity, each identity one unit. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/flow/flow_identities.h"

typedef struct {
    int32_t id;
    int64_t row;
} id_row;

static int by_identity(const void *a, const void *b)
{
    const id_row *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

void ad_identity_units_free(ad_identity_units *u)
{
    free(u->start);
    free(u->rows);
    *u = (ad_identity_units){0};
}

adapt_status ad_identity_units_make(ad_identity_units *u, const int32_t *identities, int64_t n,
                                    const char *fn)
{
    *u = (ad_identity_units){0};
    id_row *sorted = (uint64_t)n <= SIZE_MAX / sizeof *sorted ? malloc((size_t)n * sizeof *sorted)
                                                              : NULL;
    u->start = malloc((size_t)(n + 1) * sizeof *u->start);
    u->rows = malloc((size_t)n * sizeof *u->rows);
    if (!sorted || !u->start || !u->rows) {
        free(sorted);
        ad_identity_units_free(u);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: identity groups of %lld rows", fn,
                       (long long)n);
    }
    for (int64_t i = 0; i < n; i++)
        sorted[i] = (id_row){identities[i] < 0 ? -1 : identities[i], i};
    qsort(sorted, (size_t)n, sizeof *sorted, by_identity);
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || sorted[i].id < 0 || sorted[i].id != sorted[i - 1].id)
            u->start[u->count++] = i;
        u->rows[i] = sorted[i].row;
    }
    u->start[u->count] = n;
    free(sorted);
    return ADAPT_OK;
}

adapt_status ad_identity_units_rows(const int64_t **rows, int64_t *n_rows, adapt_context *ctx,
                                    const ad_identity_units *u, const int64_t *units, int64_t m,
                                    const char *fn)
{
    int64_t total = 0;
    for (int64_t i = 0; i < m; i++)
        total += u->start[units[i] + 1] - u->start[units[i]];
    int64_t *out = NULL;
    adapt_status st = ad_scratch((void **)&out, ctx, (size_t)total * sizeof *out, fn);
    if (st)
        return st;
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        const int64_t first = u->start[units[i]], count = u->start[units[i] + 1] - first;
        memcpy(out + k, u->rows + first, (size_t)count * sizeof *out);
        k += count;
    }
    *rows = out, *n_rows = total;
    return ADAPT_OK;
}

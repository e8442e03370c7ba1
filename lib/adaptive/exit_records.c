/* Checking adapt_exit_records and reducing its score rows to exit views. */
#include "lib/adaptive/exit_records.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/eval/score_rows.h"

/* Every field is required (records have no defaults), so a caller's struct must reach the
 * last one this library reads; fields appended later will have to default to zero. */
#define RECORDS_MIN_SIZE (offsetof(adapt_exit_records, reference_flops) + sizeof(int64_t))

static adapt_status read_records(adapt_exit_records *own, const adapt_exit_records *user,
                                 const char *fn)
{
    if (!user)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records is NULL", fn);
    if (user->struct_size < RECORDS_MIN_SIZE)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: records.struct_size is %zu; set it to sizeof(adapt_exit_records)",
                       fn, user->struct_size);
    memset(own, 0, sizeof *own);
    return ad_struct_read(own, sizeof *own, user, "adapt_exit_records", fn);
}

static adapt_status check_costs(const adapt_exit_records *r, const char *fn)
{
    if (!r->exit_flops)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records.exit_flops is NULL", fn);
    for (int32_t k = 0; k < r->exits; k++) {
        if (r->exit_flops[k] < 0)
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: exit_flops[%d] = %lld is negative",
                           fn, (int)k, (long long)r->exit_flops[k]);
        /* A later exit has run everything an earlier one ran. */
        if (k > 0 && r->exit_flops[k] < r->exit_flops[k - 1])
            return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                           "%s: exit_flops[%d] = %lld is below exit_flops[%d] = %lld", fn,
                           (int)k, (long long)r->exit_flops[k], (int)(k - 1),
                           (long long)r->exit_flops[k - 1]);
    }
    if (r->reference_flops < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: records.reference_flops = %lld; must be >= 1", fn,
                       (long long)r->reference_flops);
    return ADAPT_OK;
}

/* Labels after the scores: reading n of them is safe only once the sizes are known to be
 * addressable, which the score check establishes. */
static adapt_status check_records(const adapt_exit_records *r, const char *fn)
{
    if (r->exits < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records.exits = %d; must be >= 1", fn,
                       (int)r->exits);
    if (r->n < 1)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records.n = %lld; must be >= 1", fn,
                       (long long)r->n);
    if (r->classes < 2)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: records.classes = %d; must be >= 2", fn,
                       (int)r->classes);
    if (r->n > INT64_MAX / r->exits)
        return ad_fail(ADAPT_ERR_OVERFLOW, "%s: %d exits x %lld samples do not fit", fn,
                       (int)r->exits, (long long)r->n);
    adapt_status st = check_costs(r, fn);
    if (!st)
        st = ad_score_rows_check(r->scores, r->n * r->exits, r->classes,
                                 (adapt_score_kind)r->kind, 1, "scores", fn);
    if (!st)
        st = ad_labels_check(r->labels, r->n, r->classes, fn);
    return st;
}

/* Views of every row; a logit row becomes probabilities through a double copy and
 * ad_probabilities_in_place, the very doubles inference decides on. */
static adapt_status compute_views(ad_exit_table *t, const char *fn)
{
    const adapt_exit_records *r = &t->rec;
    const int64_t rows = r->n * r->exits;
    double *p = malloc((size_t)r->classes * sizeof *p);
    t->views = malloc((size_t)rows * sizeof *t->views);
    if (!p || !t->views) {
        free(p);
        ad_exit_table_close(t);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld exit views", fn,
                       (long long)rows);
    }
    for (int64_t row = 0; row < rows; row++) {
        const float *s = r->scores + row * r->classes;
        for (int32_t k = 0; k < r->classes; k++)
            p[k] = s[k];
        ad_probabilities_in_place(p, r->classes, (adapt_score_kind)r->kind);
        t->views[row] = ad_exit_view_of(p, r->classes, true);
    }
    free(p);
    return ADAPT_OK;
}

adapt_status ad_exit_table_open(ad_exit_table *table, const adapt_exit_records *records,
                                const char *fn)
{
    table->views = NULL;
    adapt_status st = read_records(&table->rec, records, fn);
    if (!st)
        st = check_records(&table->rec, fn);
    return st ? st : compute_views(table, fn);
}

void ad_exit_table_close(ad_exit_table *table)
{
    free(table->views);
    table->views = NULL;
}

float ad_exit_float_threshold(int32_t rule, double threshold)
{
    float t = (float)threshold;
    if (rule == ADAPT_EXIT_MAX_PROBABILITY && t > threshold)
        t = nextafterf(t, -INFINITY);
    else if (rule == ADAPT_EXIT_ENTROPY && t < threshold)
        t = nextafterf(t, INFINITY);
    return t;
}

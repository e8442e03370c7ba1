/* adapt_exit_simulate: a policy replayed on recorded exit outputs, deciding through
 * ad_exit_leaves exactly as inference does. */
#include <stdlib.h>
#include <string.h>

#include "lib/adaptive/exit_records.h"
#include "lib/core/error.h"
#include "lib/core/struct_io.h"

/* The exit that answers sample i: the first head the policy lets it out of, else the final
 * exit. */
static int32_t exit_taken(const ad_exit_table *t, const adapt_exit_policy *policy, int64_t i)
{
    const int32_t heads = t->rec.exits - 1;
    int32_t streak = 0;
    for (int32_t h = 0; h < heads; h++) {
        const ad_exit_view *v = ad_exit_view_at(t, h, i);
        streak = h > 0 && v->prediction == ad_exit_view_at(t, h - 1, i)->prediction
                     ? streak + 1
                     : 1;
        if (ad_exit_leaves(policy, h, v, streak))
            return h;
    }
    return heads;
}

void ad_exit_replay(ad_exit_tally *tally, const ad_exit_table *table,
                    const adapt_exit_policy *policy)
{
    memset(tally->counts, 0, (size_t)table->rec.exits * sizeof *tally->counts);
    tally->correct = 0;
    for (int64_t i = 0; i < table->rec.n; i++) {
        const int32_t k = exit_taken(table, policy, i);
        tally->counts[k]++;
        tally->correct += ad_exit_right(table, k, i);
    }
}

adapt_exit_outcome ad_exit_outcome_of(const ad_exit_tally *tally, const ad_exit_table *table)
{
    const adapt_exit_records *r = &table->rec;
    double flops = 0.0;
    for (int32_t k = 0; k < r->exits; k++)
        flops += (double)tally->counts[k] * (double)r->exit_flops[k];
    const double mean_flops = flops / (double)r->n;
    return (adapt_exit_outcome){
        .struct_size = sizeof(adapt_exit_outcome),
        .accuracy = (double)tally->correct / (double)r->n,
        .mean_flops = mean_flops,
        .budget = mean_flops / (double)r->reference_flops,
    };
}

adapt_status adapt_exit_simulate(adapt_exit_outcome *outcome, int64_t *exit_counts,
                                 const adapt_exit_records *records,
                                 const adapt_exit_policy *policy)
{
    const char *fn = "adapt_exit_simulate";
    adapt_status st = ad_struct_check_out(outcome, "outcome", "adapt_exit_outcome", fn);
    ad_exit_table table;
    if (st || (st = ad_exit_table_open(&table, records, fn)))
        return st;
    const int32_t exits = table.rec.exits;
    adapt_exit_policy own;
    ad_exit_tally tally = {.counts = calloc((size_t)exits, sizeof *tally.counts)};
    if (!tally.counts)
        st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %d exit counts", fn,
                     (int)exits);
    else
        st = ad_exit_policy_read(&own, policy, exits - 1, fn);
    if (!st) {
        ad_exit_replay(&tally, &table, &own);
        const adapt_exit_outcome full = ad_exit_outcome_of(&tally, &table);
        ad_struct_write(outcome, &full, sizeof full);
        if (exit_counts)
            memcpy(exit_counts, tally.counts, (size_t)exits * sizeof *exit_counts);
    }
    free(tally.counts);
    ad_exit_table_close(&table);
    return st;
}

#include "lib/core/meter.h"

#include <string.h>

adapt_status ad_meter_start(adapt_context *ctx, int64_t rows, const char *fn)
{
    int64_t *meter = NULL;
    adapt_status st =
        ad_scratch((void **)&meter, ctx, (size_t)(rows ? rows : 1) * sizeof *meter, fn);
    if (st)
        return st;
    memset(meter, 0, (size_t)rows * sizeof *meter);
    ctx->meter = meter, ctx->meter_rows = rows;
    return ADAPT_OK;
}

void ad_meter_stop(adapt_context *ctx)
{
    ctx->meter = NULL, ctx->meter_rows = 0;
}

static void charge_row(adapt_context *ctx, int64_t i, int64_t flops)
{
    if (__builtin_add_overflow(ctx->meter[i], flops, &ctx->meter[i]))
        ctx->meter[i] = INT64_MAX; /* saturates, as every FLOP count does */
}

void ad_meter_charge(adapt_context *ctx, int64_t rows, int64_t flops)
{
    for (int64_t i = 0; ctx->meter && i < rows && i < ctx->meter_rows; i++)
        charge_row(ctx, i, flops);
}

void ad_meter_charge_each(adapt_context *ctx, int64_t rows, const int64_t *flops)
{
    for (int64_t i = 0; ctx->meter && i < rows && i < ctx->meter_rows; i++)
        charge_row(ctx, i, flops[i]);
}

void ad_meter_keep_rows(adapt_context *ctx, const int64_t *keep, int64_t kept)
{
    for (int64_t j = 0; ctx->meter && j < kept; j++)
        ctx->meter[j] = ctx->meter[keep[j]];
    if (ctx->meter)
        ctx->meter_rows = kept;
}

#include "lib/ops/op.h"

#include <string.h>

adapt_status ad_op_check(adapt_context *ctx, adapt_tensor **out, const char *fn,
                         adapt_tensor *const *in, const char *const *names, int32_t n)
{
    adapt_status st = ad_check_context(ctx, fn);
    if (st)
        return st;
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    for (int32_t i = 0; i < n && !st; i++)
        st = ad_check_tensor(ctx, in[i], fn, names[i]);
    return st;
}

adapt_status ad_op_finish(adapt_tensor **out, adapt_context *ctx, const char *fn,
                          ad_backward_fn backward, adapt_tensor *y, adapt_tensor *const *in,
                          int32_t n_in, const void *saved, size_t saved_size)
{
    if (ad_tape_wants(ctx, in, n_in)) {
        void *copy = NULL;
        adapt_status st = ad_tape_record(ctx, fn, backward, y, in, n_in, &copy, saved_size);
        if (st)
            return st;
        if (saved_size)
            memcpy(copy, saved, saved_size);
    }
    *out = y;
    return ADAPT_OK;
}

#include "lib/core/handle.h"

#include <stdint.h>

#include "lib/core/arena.h"
#include "lib/core/context.h"
#include "lib/core/error.h"
#include "lib/core/tensor.h"

_Static_assert(sizeof(adapt_tensor) <= AD_SLOT_SIZE, "a tensor record fits in an arena slot");

#define WIDE_FORM ((uintptr_t)1)
#define LOW_TAG_BITS 6
#define LOW_BITS ((uintptr_t)AD_SLOT_SIZE - 1) /* the form bit and the low tag */

/* 64-bit targets keep the top 16 bits for the tag when the address leaves them clear. */
#if UINTPTR_MAX > 0xffffffffu
#define ADDRESS_BITS 48
#define HIGH_TAG_MASK ((uintptr_t)0xffff)

static uintptr_t add_high_tag(uintptr_t h, uintptr_t address, uint64_t generation)
{
    if (address >> ADDRESS_BITS)
        return h;
    const uintptr_t high = (uintptr_t)(generation >> LOW_TAG_BITS) & HIGH_TAG_MASK;
    return h | WIDE_FORM | high << ADDRESS_BITS;
}

static uintptr_t drop_high_tag(uintptr_t h)
{
    return h & WIDE_FORM ? h & (((uintptr_t)1 << ADDRESS_BITS) - 1) : h;
}
#else
static uintptr_t add_high_tag(uintptr_t h, uintptr_t address, uint64_t generation)
{
    (void)address, (void)generation;
    return h;
}

static uintptr_t drop_high_tag(uintptr_t h)
{
    return h;
}
#endif

adapt_tensor *ad_tensor_handle(const adapt_tensor *t)
{
    if (!t || ad_is_param(t))
        return (adapt_tensor *)t;
    const uintptr_t address = (uintptr_t)t;
    const uintptr_t low = (uintptr_t)(t->generation & ((1u << LOW_TAG_BITS) - 1)) << 1;
    return (adapt_tensor *)add_high_tag(address | low, address, t->generation);
}

adapt_tensor *ad_tensor_hand_out(adapt_tensor *t)
{
    if (t && !ad_is_param(t))
        t->flags |= AD_TENSOR_HANDED_OUT;
    return ad_tensor_handle(t);
}

adapt_status ad_tensor_from_handle(adapt_tensor **out, const adapt_tensor *handle,
                                   const char *fn, const char *what)
{
    if (!handle)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    adapt_tensor *t = (adapt_tensor *)(drop_high_tag((uintptr_t)handle) & ~LOW_BITS);
    if (!t || t->magic != AD_TENSOR_MAGIC)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is not a live tensor", fn, what);
    const bool current = ad_tensor_handle(t) == handle;
    if (ad_is_param(t) && !current)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is not a live tensor", fn, what);
    /* A handle that is not the record's own is older than the record; one that is may still
     * be of the record's last step, before its context's reset. */
    if (!ad_is_param(t) && (!current || t->generation != t->ctx->generation))
        return ad_fail(ADAPT_ERR_STATE, "%s: %s was released by adapt_context_reset", fn,
                       what);
    *out = t;
    return ADAPT_OK;
}

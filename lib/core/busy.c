#include "lib/core/busy.h"

#include <stdbool.h>

#include "lib/core/error.h"

#define AD_BUSY_WRITER 0x80000000u

/* The holds this thread has, newest first. */
static _Thread_local ad_hold *held;

void ad_busy_init(ad_busy *busy)
{
    atomic_init(&busy->state, 0);
    atomic_init(&busy->parent, NULL);
}

static ad_busy *root_of(ad_busy *busy)
{
    ad_busy *parent;
    while ((parent = atomic_load_explicit(&busy->parent, memory_order_acquire)))
        busy = parent;
    return busy;
}

void ad_busy_defer(ad_busy *busy, ad_busy *parent)
{
    atomic_store_explicit(&busy->parent, parent, memory_order_release);
}

/* A thread that holds the model for writing calls it from within that call (a training
 * callback): nothing can run or change it meanwhile but this thread. */
static bool written_by_this_thread(const ad_busy *root)
{
    for (const ad_hold *h = held; h; h = h->next)
        if (h->lock == root && h->access == AD_WRITE)
            return true;
    return false;
}

/* Counts a reader in unless a writer holds the lock; *seen gets the state that refused. */
static bool try_read(ad_busy *b, unsigned *seen)
{
    unsigned s = atomic_load_explicit(&b->state, memory_order_relaxed);
    do {
        if (s & AD_BUSY_WRITER) {
            *seen = s;
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(&b->state, &s, s + 1, memory_order_acquire,
                                                    memory_order_relaxed));
    return true;
}

static bool try_write(ad_busy *b, unsigned *seen)
{
    *seen = 0;
    return atomic_compare_exchange_strong_explicit(&b->state, seen, AD_BUSY_WRITER,
                                                   memory_order_acquire, memory_order_relaxed);
}

static void release(ad_busy *b, ad_access access)
{
    if (access == AD_WRITE)
        atomic_store_explicit(&b->state, 0, memory_order_release);
    else
        atomic_fetch_sub_explicit(&b->state, 1, memory_order_release);
}

adapt_status ad_busy_enter(ad_hold *hold, ad_busy *busy, ad_access access, const char *fn)
{
    *hold = (ad_hold){.access = access};
    for (;;) {
        ad_busy *root = root_of(busy);
        if (written_by_this_thread(root))
            return ADAPT_OK;
        unsigned seen = 0;
        if (!(access == AD_WRITE ? try_write(root, &seen) : try_read(root, &seen)))
            return ad_fail(ADAPT_ERR_STATE, "%s: the model is being %s by another call", fn,
                           seen & AD_BUSY_WRITER ? "trained or changed" : "run");
        /* A parent changes only while its child's root is held for writing, so the root stays
         * while held; one that moved before it was taken is not the one to hold. */
        if (root_of(busy) == root) {
            hold->lock = root;
            break;
        }
        release(root, access);
    }
    hold->next = held;
    held = hold;
    return ADAPT_OK;
}

void ad_busy_leave(ad_hold *hold)
{
    if (!hold->lock)
        return;
    held = hold->next;
    release(hold->lock, hold->access);
    hold->lock = NULL;
}

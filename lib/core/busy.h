/* The single-writer rule of models, enforced: a model is read by any number of calls at once
 * (inference) or written by one (training, loading weights, changing its modules), never both.
 *
 * Each model has a reader/writer lock that is only ever tried, never waited for: the public
 * entry points take it, for reading or for writing, and a call that finds it held against it
 * fails with ADAPT_ERR_STATE instead of racing. Internal calls take nothing, so work nested in
 * a public call (training's forward passes and validation) runs under the call's own hold. A
 * thread that holds a model for writing may also use it in calls of its own, such as a
 * training callback evaluating the model: the rule is about other threads.
 *
 * A model that replaces a submodule of another is held with it: its lock defers to its owner's
 * (`parent`). Parameters a model holds point at its lock, so that writing one of them directly
 * obeys the rule too. */
#ifndef AD_CORE_BUSY_H
#define AD_CORE_BUSY_H

#include <stdatomic.h>

#include "adapt.h"

typedef struct ad_busy {
    atomic_uint state; /* readers in the low bits, AD_BUSY_WRITER while written */
    /* The lock that stands for this one, or NULL; atomic because a call on the module may
     * look it up while another thread's call puts the module in or takes it out. */
    _Atomic(struct ad_busy *) parent;
} ad_busy;

typedef enum { AD_READ, AD_WRITE } ad_access;

/* One entry point's hold, on its stack, from ad_busy_enter() to ad_busy_leave(). */
typedef struct ad_hold {
    ad_busy *lock; /* the lock taken; NULL when the thread's own write hold covered it */
    ad_access access;
    struct ad_hold *next; /* the thread's older holds */
} ad_hold;

/* A lock nobody holds, deferring to none. */
void ad_busy_init(ad_busy *busy);

/* Takes `busy` (its root: the lock no parent stands for) for `access`, or fails with STATE
 * saying why, naming `fn`. Holds of one thread end in the reverse order they began. */
adapt_status ad_busy_enter(ad_hold *hold, ad_busy *busy, ad_access access, const char *fn);

/* Ends a hold that ad_busy_enter() granted. */
void ad_busy_leave(ad_hold *hold);

/* Makes `parent` (NULL: none) stand for `busy`, by a call that holds both for writing. */
void ad_busy_defer(ad_busy *busy, ad_busy *parent);

#endif

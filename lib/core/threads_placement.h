/* Where the pool's workers run when the machine is busy.
 *
 * With no core idle, the kernel wakes a sleeping worker on the core of the
 * thread that woke it: the caller's. There the worker only takes time from
 * the caller, and two threads ran slower than one beside a busy process. So a
 * worker that finds itself on the caller's core moves to the pool's other
 * cores, where it gets a share of a core that is not the caller's; and a
 * caller about to sleep until a moved worker finishes lets it back onto every
 * core, its own included, which its sleep frees. On an idle machine the kernel
 * never puts the two together, and none of this happens.
 *
 * Placement is a hint to the kernel only: which thread runs a range never
 * changes what the range computes. */
#ifndef AD_CORE_THREADS_PLACEMENT_H
#define AD_CORE_THREADS_PLACEMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#ifdef __linux__
#include <sched.h>
#endif

typedef struct {
    _Atomic int caller_core; /* where the caller published the current job, or -1 */
#ifdef __linux__
    cpu_set_t cores; /* where the pool may run: its creating thread's cores */
#endif
} ad_placement;

/* Called by the thread creating the pool. */
void ad_placement_init(ad_placement *p);

/* Called by the caller before it publishes a job. */
void ad_placement_note_caller(ad_placement *p);

/* Called by a worker that took up a job: moves it off the caller's core if it
 * is there. True if it moved. */
bool ad_placement_step_aside(ad_placement *p);

/* Lets a worker that stepped aside run on all of the pool's cores again. */
void ad_placement_recall(ad_placement *p, pthread_t worker);

#endif

#define _GNU_SOURCE /* sched_getcpu, pthread_setaffinity_np, CPU_* */
#include "lib/core/threads_placement.h"

#ifdef __linux__
void ad_placement_init(ad_placement *p)
{
    atomic_init(&p->caller_core, -1);
    if (sched_getaffinity(0, sizeof p->cores, &p->cores) != 0)
        CPU_ZERO(&p->cores); /* unknown: workers stay where the kernel puts them */
}

void ad_placement_note_caller(ad_placement *p)
{
    atomic_store_explicit(&p->caller_core, sched_getcpu(), memory_order_relaxed);
}

bool ad_placement_step_aside(ad_placement *p)
{
    const int caller = atomic_load_explicit(&p->caller_core, memory_order_relaxed);
    if (caller < 0 || caller >= CPU_SETSIZE || caller != sched_getcpu() ||
        !CPU_ISSET(caller, &p->cores) || CPU_COUNT(&p->cores) < 2)
        return false;
    cpu_set_t others = p->cores;
    CPU_CLR(caller, &others);
    return pthread_setaffinity_np(pthread_self(), sizeof others, &others) == 0;
}

void ad_placement_recall(ad_placement *p, pthread_t worker)
{
    pthread_setaffinity_np(worker, sizeof p->cores, &p->cores); /* a hint: failure is harmless */
}
#else
void ad_placement_init(ad_placement *p) { atomic_init(&p->caller_core, -1); }
void ad_placement_note_caller(ad_placement *p) { (void)p; }
bool ad_placement_step_aside(ad_placement *p)
{
    (void)p;
    return false;
}
void ad_placement_recall(ad_placement *p, pthread_t worker) { (void)p, (void)worker; }
#endif

/* One point of the out-of-memory sweep, run in a process of its own so that a
 * crash, an abort or an exit is seen by the sweep instead of ending it. */
#ifndef TESTS_OOM_CHILD_H
#define TESTS_OOM_CHILD_H

#include <stdbool.h>

/* How a workflow meets the refused allocation. */
typedef enum oom_mode {
    OOM_COLD,      /* in a fresh process: one-time initialisation included */
    OOM_WARM,      /* after one undisturbed run: the steady state */
    OOM_PERSISTENT /* warm, and every allocation from the k-th on is refused */
} oom_mode;

extern const char *const oom_mode_names[3];

/* Runs `workflow` with allocation k refused, for k = first..last in turn (k = 0:
 * none, and the result becomes the reference in `files`), checks everything the
 * sweep promises and prints one line per point: "K pass STATUS ALLOCATIONS
 * REFUSED" (the status as a number) or "K FAIL why", stopping at the first
 * failure. Returns the process exit code. */
int oom_child(const char *workflow, oom_mode mode, long first, long last, const char *files);

#endif

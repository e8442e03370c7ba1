#include "lib/core/threads.h"

#include <unistd.h>

int64_t ad_pool_ranges(int64_t n, int64_t grain, int32_t seats)
{
    if (n <= 0)
        return 0;
    int64_t ranges = grain > 0 ? (n + grain - 1) / grain : n;
    return ranges < seats ? ranges : seats;
}

int32_t ad_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

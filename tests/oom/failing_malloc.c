#define _GNU_SOURCE /* the prototypes of memalign, valloc and pvalloc */
#include "failing_malloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* glibc's own entry points: the interposed functions below hand every
 * allocation they do not refuse to them. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern void __libc_free(void *ptr);

/* Exported from the program (it is linked with --export-dynamic) so that every
 * shared library's calls bind to them. */
#define REPLACES __attribute__((visibility("default")))

static atomic_long counted, fail_at, refused;
static atomic_bool armed, persist;

void fm_arm(long k, bool persistent)
{
    atomic_store(&counted, 0);
    atomic_store(&refused, 0);
    atomic_store(&fail_at, k);
    atomic_store(&persist, persistent);
    atomic_store(&armed, true);
}

long fm_disarm(void)
{
    atomic_store(&armed, false);
    return atomic_load(&counted);
}

long fm_refused(void) { return atomic_load(&refused); }

static bool refuse(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    const long n = atomic_fetch_add(&counted, 1) + 1;
    const long k = atomic_load(&fail_at);
    if (k == 0 || n < k || (n > k && !atomic_load(&persist)))
        return false;
    atomic_fetch_add(&refused, 1);
    errno = ENOMEM;
    return true;
}

REPLACES void *malloc(size_t size) { return refuse() ? NULL : __libc_malloc(size); }

REPLACES void *calloc(size_t count, size_t size)
{
    return refuse() ? NULL : __libc_calloc(count, size);
}

REPLACES void *realloc(void *ptr, size_t size)
{
    /* realloc(p, 0) frees: not an allocation that can fail. */
    return size && refuse() ? NULL : __libc_realloc(ptr, size);
}

REPLACES void free(void *ptr) { __libc_free(ptr); }

REPLACES void *memalign(size_t alignment, size_t size)
{
    return refuse() ? NULL : __libc_memalign(alignment, size);
}

REPLACES void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

REPLACES void *valloc(size_t size) { return refuse() ? NULL : __libc_valloc(size); }

REPLACES void *pvalloc(size_t size) { return refuse() ? NULL : __libc_pvalloc(size); }

REPLACES int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment % sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    if (refuse())
        return ENOMEM;
    void *p = __libc_memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

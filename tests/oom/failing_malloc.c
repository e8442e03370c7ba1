#define _GNU_SOURCE /* the prototypes of memalign, valloc and pvalloc */
#include "failing_malloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the functions below send every allocation they do not refuse. */
typedef struct allocator {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void *(*memalign)(size_t alignment, size_t size);
    void (*free)(void *ptr);
} allocator;

#if defined(FM_ASAN)
/* AddressSanitizer's allocator: the next definitions after this program's,
 * found on the first allocation, which comes before main, on one thread. */

/* What is allocated while they are being found (dlsym allocates) comes from here. */
static _Alignas(max_align_t) unsigned char bootstrap[1 << 16];
static atomic_size_t bootstrap_used;

static void *bootstrap_alloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    const size_t at = atomic_fetch_add(&bootstrap_used, size);
    return at + size <= sizeof bootstrap ? memset(bootstrap + at, 0, size) : NULL;
}

static const unsigned char *bootstrap_end(void) { return bootstrap + sizeof bootstrap; }

static bool from_bootstrap(const void *p)
{
    const unsigned char *c = p;
    return c >= bootstrap && c < bootstrap_end();
}

static allocator next;
static atomic_bool resolving;

static const allocator *real(void)
{
    if (!next.free && !atomic_exchange(&resolving, true)) {
        allocator found;
        found.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
        found.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
        found.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
        found.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
        found.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
        next = found;
    }
    return next.free ? &next : NULL;
}
#else
/* glibc's own entry points. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static const allocator libc = {__libc_malloc, __libc_calloc, __libc_realloc, __libc_memalign,
                               __libc_free};

static void *bootstrap_alloc(size_t size) { return NULL; }
static const unsigned char *bootstrap_end(void) { return NULL; }
static bool from_bootstrap(const void *p) { return false; }
static const allocator *real(void) { return &libc; }
#endif

/* Exported from the program (it is linked with --export-dynamic) so that every
 * shared library's calls bind to them. */
#define REPLACES __attribute__((visibility("default")))

static atomic_long counted, fail_at, refused;
static atomic_bool armed, persist;

/* libgomp's code, whose allocations are spared: it ends the process when one
 * fails, by design. The library calls into it only to give a thread its
 * OpenMP settings, once per thread (lib/kernels/gemm_onednn.c). */
static uintptr_t gomp_begin, gomp_end;

static int find_gomp(struct dl_phdr_info *info, size_t size, void *unused)
{
    (void)size, (void)unused;
    if (!strstr(info->dlpi_name, "/libgomp."))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            gomp_begin = info->dlpi_addr + ph->p_vaddr;
            gomp_end = gomp_begin + ph->p_memsz;
        }
    }
    return 1;
}

/* Whether this thread runs the program's code yet. A thread's allocations
 * before its start routine are the sanitizer's setup of the thread (through
 * glibc's pthread_getattr_np), which stops the process when one fails:
 * machinery absent from the library users run, so spared. */
static _Thread_local bool entered;

typedef struct {
    void *(*routine)(void *);
    void *arg;
} thread_start;

static void *enter(void *raw)
{
    thread_start start = *(thread_start *)raw;
    free(raw);
    entered = true;
    return start.routine(start.arg);
}

/* Every thread is started through here, so that it can mark itself entered. */
REPLACES int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                            void *(*routine)(void *), void *arg)
{
    static int (*next_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (!next_create)
        next_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                               void *))dlsym(RTLD_NEXT, "pthread_create");
    thread_start *start = malloc(sizeof *start);
    if (!start)
        return EAGAIN;
    *start = (thread_start){routine, arg};
    const int failed = next_create(thread, attr, enter, start);
    if (failed)
        free(start);
    return failed;
}

static bool spared(const void *caller)
{
    const uintptr_t at = (uintptr_t)caller;
    return !entered || (at >= gomp_begin && at < gomp_end);
}

void fm_arm(long k, bool persistent)
{
    entered = true;
    if (!gomp_end)
        dl_iterate_phdr(find_gomp, NULL);
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

static bool refuse(const void *caller)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed) || spared(caller))
        return false;
    const long n = atomic_fetch_add(&counted, 1) + 1;
    const long k = atomic_load(&fail_at);
    if (k == 0 || n < k || (n > k && !atomic_load(&persist)))
        return false;
    atomic_fetch_add(&refused, 1);
    errno = ENOMEM;
    return true;
}

#define CALLER __builtin_return_address(0)

REPLACES void *malloc(size_t size)
{
    const allocator *a = real();
    return !a ? bootstrap_alloc(size) : refuse(CALLER) ? NULL : a->malloc(size);
}

REPLACES void *calloc(size_t count, size_t size)
{
    const allocator *a = real();
    if (!a)
        return count && size > SIZE_MAX / count ? NULL : bootstrap_alloc(count * size);
    return refuse(CALLER) ? NULL : a->calloc(count, size);
}

REPLACES void *realloc(void *ptr, size_t size)
{
    if (from_bootstrap(ptr)) { /* its old size is unknown: copy what the buffer holds */
        const size_t held = (size_t)(bootstrap_end() - (const unsigned char *)ptr);
        void *p = malloc(size);
        return p ? memcpy(p, ptr, size < held ? size : held) : NULL;
    }
    /* realloc(p, 0) frees: not an allocation that can fail. */
    return size && refuse(CALLER) ? NULL : real()->realloc(ptr, size);
}

REPLACES void free(void *ptr)
{
    if (ptr && !from_bootstrap(ptr))
        real()->free(ptr);
}

static void *aligned(const void *caller, size_t alignment, size_t size)
{
    return refuse(caller) ? NULL : real()->memalign(alignment, size);
}

REPLACES void *memalign(size_t alignment, size_t size) { return aligned(CALLER, alignment, size); }

REPLACES void *aligned_alloc(size_t alignment, size_t size)
{
    return aligned(CALLER, alignment, size);
}

REPLACES void *valloc(size_t size)
{
    return aligned(CALLER, (size_t)sysconf(_SC_PAGESIZE), size);
}

REPLACES void *pvalloc(size_t size)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return aligned(CALLER, page, (size + page - 1) / page * page);
}

REPLACES int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment % sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    if (refuse(CALLER))
        return ENOMEM;
    void *p = real()->memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

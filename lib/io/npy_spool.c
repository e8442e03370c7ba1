#define _POSIX_C_SOURCE 200809L

#include "lib/io/npy_spool.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/core/error.h"
#include "lib/io/npy.h"

adapt_status ad_npy_spool_open(ad_npy_spool *s, const char *path, int32_t ndim,
                               const int64_t *shape, const char *fn)
{
    *s = (ad_npy_spool){.rows = shape[0], .row_bytes = sizeof(float)};
    for (int32_t i = 1; i < ndim; i++)
        s->row_bytes *= (size_t)shape[i];
    unsigned char head[AD_NPY_FILE_HEAD_MAX];
    s->head = ad_npy_file_head(head, sizeof head, ndim, shape);
    adapt_status st = ad_atomic_open(&s->file, path, fn);
    if (!st && (st = ad_atomic_write(&s->file, head, s->head)))
        ad_atomic_abort(&s->file);
    return st;
}

adapt_status ad_npy_spool_append(ad_npy_spool *s, const float *rows, int64_t n)
{
    if (n > s->rows - s->written)
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: more rows than the spool holds", s->file.fn);
    adapt_status st = ad_atomic_write(&s->file, rows, (size_t)n * s->row_bytes);
    s->written += st ? 0 : n;
    return st;
}

static adapt_status map_file(ad_npy_spool *s, const char *path, const char *fn)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    s->map_bytes = s->head + (size_t)s->rows * s->row_bytes;
    void *map = fd < 0 ? MAP_FAILED : mmap(NULL, s->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd >= 0)
        close(fd);
    if (map == MAP_FAILED)
        return ad_fail(ADAPT_ERR_IO, "%s: cannot map %s", fn, path);
    s->map = map;
    return ADAPT_OK;
}

adapt_status ad_npy_spool_finish(ad_npy_spool *s, const float **data)
{
    const char *path = s->file.path, *fn = s->file.fn;
    if (s->written != s->rows) {
        ad_atomic_abort(&s->file);
        return ad_fail(ADAPT_ERR_INTERNAL, "%s: %lld of %lld rows spooled", fn,
                       (long long)s->written, (long long)s->rows);
    }
    adapt_status st = ad_atomic_commit(&s->file);
    if (!st)
        st = map_file(s, path, fn);
    if (!st)
        *data = (const float *)(const void *)((const char *)s->map + s->head);
    return st;
}

void ad_npy_spool_close(ad_npy_spool *s)
{
    if (s->map)
        munmap(s->map, s->map_bytes);
    else
        ad_atomic_abort(&s->file);
    *s = (ad_npy_spool){0};
}

/* IDX reader. zlib's gzread passes plain files through unchanged, so one path reads both
 * the .gz files datasets ship as and their decompressed copies. Every count in the header is
 * checked against the file length before anything is allocated from it. */
#define _POSIX_C_SOURCE 200809L

#include "lib/io/idx.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/core/error.h"
#include "lib/io/bytes.h"
#include "lib/io/source.h"

#define IDX_UBYTE 0x08
/* deflate's best ratio is 1032:1, so a gzip file of S bytes inflates to at most this much. */
#define IDX_MAX_GZIP_RATIO 1032u
#define IDX_CHUNK 65536u

typedef struct idx_file {
    gzFile gz;
    uint64_t file_size;
    const char *path;
    const char *fn;
} idx_file;

static adapt_status idx_open(idx_file *f, const char *path, const char *fn)
{
    *f = (idx_file){.path = path, .fn = fn};
    int fd = -1;
    adapt_status st = ad_open_regular(&fd, &f->file_size, path, fn);
    if (st)
        return st;
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to open %s", fn, path);
    }
    gzbuffer(f->gz, IDX_CHUNK);
    return ADAPT_OK;
}

/* Turns a failed or short gzread into a status. */
static adapt_status idx_read_error(const idx_file *f, const char *what)
{
    int zerr = Z_OK;
    const char *msg = gzerror(f->gz, &zerr);
    if (zerr == Z_ERRNO)
        return ad_fail(ad_errno_status(errno), "%s: cannot read %s: %s", f->fn, f->path,
                       strerror(errno));
    if (zerr == Z_MEM_ERROR)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to read %s", f->fn, f->path);
    return ad_fail(ADAPT_ERR_FORMAT, "%s: %s is truncated or corrupt in its %s%s%s", f->fn,
                   f->path, what, zerr != Z_OK ? ": " : "", zerr != Z_OK ? msg : "");
}

/* Reads exactly `len` bytes; a short read is truncation (or a damaged gzip stream). */
static adapt_status idx_read(idx_file *f, void *dst, unsigned len, const char *what)
{
    if (gzread(f->gz, dst, len) == (int)len)
        return ADAPT_OK;
    return idx_read_error(f, what);
}

/* The data a header declares must be what the file can hold: exactly the rest of a plain
 * file; for a gzip file at most deflate's ratio times its size, so that a small file cannot
 * make the reader allocate much. */
static adapt_status idx_check_count(const idx_file *f, uint64_t count, uint64_t head_len)
{
    if (gzdirect(f->gz)) {
        uint64_t held = f->file_size > head_len ? f->file_size - head_len : 0;
        if (count != held)
            return ad_fail(ADAPT_ERR_FORMAT, "%s: %s declares %llu data bytes but holds %llu",
                           f->fn, f->path, (unsigned long long)count, (unsigned long long)held);
    } else if (count / IDX_MAX_GZIP_RATIO > f->file_size) {
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s declares %llu data bytes, more than %llu "
                       "compressed bytes can hold", f->fn, f->path, (unsigned long long)count,
                       (unsigned long long)f->file_size);
    }
    return ADAPT_OK;
}

/* Reads the magic and the dims. The product of the dims, as floats, must fit both int64 and
 * the address space; then it is checked against the file length. */
static adapt_status idx_header(idx_file *f, uint32_t ndim, int64_t *dims, uint64_t *count)
{
    unsigned char head[4 + 4 * 3];
    uint32_t want = IDX_UBYTE << 8 | ndim;
    adapt_status st = idx_read(f, head, 4, "header");
    if (st)
        return st;
    if (ad_be32(head) != want)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has magic 0x%08x, expected 0x%08x (unsigned "
                       "bytes, %u dims)", f->fn, f->path, ad_be32(head), want, ndim);
    st = idx_read(f, head + 4, 4 * ndim, "header");
    if (st)
        return st;
    const uint64_t max_values =
        (SIZE_MAX < (uint64_t)INT64_MAX ? SIZE_MAX : (uint64_t)INT64_MAX) / sizeof(float);
    uint64_t n = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        uint32_t d = ad_be32(head + 4 + 4 * i);
        if (d == 0)
            return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has size 0 in dimension %u", f->fn,
                           f->path, i);
        if (n > max_values / d)
            return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has dimensions whose product overflows",
                           f->fn, f->path);
        n *= d;
        dims[i] = d;
    }
    st = idx_check_count(f, n, 4 + 4 * (uint64_t)ndim);
    if (!st)
        *count = n;
    return st;
}

/* Streams the bytes through a small buffer into floats in [0, 1] or into int32 labels, then
 * insists on the end of the data (which also makes zlib check the gzip CRC). */
static adapt_status idx_body(idx_file *f, uint64_t count, float *pixels, int32_t *labels)
{
    unsigned char *chunk = malloc(IDX_CHUNK);
    if (!chunk)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory to read %s", f->fn, f->path);
    adapt_status st = ADAPT_OK;
    for (uint64_t done = 0; done < count && !st; done += IDX_CHUNK) {
        unsigned len = count - done < IDX_CHUNK ? (unsigned)(count - done) : IDX_CHUNK;
        st = idx_read(f, chunk, len, "data");
        if (st)
            break;
        if (pixels)
            for (unsigned i = 0; i < len; i++)
                pixels[done + i] = (float)chunk[i] / 255.0f;
        else
            for (unsigned i = 0; i < len; i++)
                labels[done + i] = chunk[i];
    }
    if (!st) {
        int extra = gzread(f->gz, chunk, 1);
        if (extra > 0)
            st = ad_fail(ADAPT_ERR_FORMAT, "%s: %s has bytes after its data", f->fn, f->path);
        else if (extra < 0)
            st = idx_read_error(f, "end");
    }
    free(chunk);
    return st;
}

/* Shared by both readers: `ndim` 3 gives float pixels, 1 gives int32 labels. */
static adapt_status idx_load(void **out, int64_t *dims, uint32_t ndim, const char *path,
                             const char *fn)
{
    idx_file f;
    adapt_status st = idx_open(&f, path, fn);
    if (st)
        return st;
    uint64_t count = 0;
    void *values = NULL;
    st = idx_header(&f, ndim, dims, &count);
    if (!st) {
        values = malloc((size_t)count * (ndim == 3 ? sizeof(float) : sizeof(int32_t)));
        if (!values)
            st = ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %llu values of %s", fn,
                         (unsigned long long)count, path);
    }
    if (!st)
        st = idx_body(&f, count, ndim == 3 ? values : NULL, ndim == 3 ? NULL : values);
    gzclose_r(f.gz);
    if (st) {
        free(values);
        return st;
    }
    *out = values;
    return ADAPT_OK;
}

adapt_status ad_idx_read_images(float **pixels, int64_t *n, int64_t *h, int64_t *w,
                                const char *path)
{
    const char *fn = "ad_idx_read_images";
    if (!pixels || !n || !h || !w || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    int64_t dims[3] = {0};
    void *values = NULL;
    adapt_status st = idx_load(&values, dims, 3, path, fn);
    if (st)
        return st;
    *pixels = values;
    *n = dims[0];
    *h = dims[1];
    *w = dims[2];
    return ADAPT_OK;
}

adapt_status ad_idx_read_labels(int32_t **labels, int64_t *n, const char *path)
{
    const char *fn = "ad_idx_read_labels";
    if (!labels || !n || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    int64_t dims[1] = {0};
    void *values = NULL;
    adapt_status st = idx_load(&values, dims, 1, path, fn);
    if (st)
        return st;
    *labels = values;
    *n = dims[0];
    return ADAPT_OK;
}

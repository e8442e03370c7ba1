/* NPY files: adapt_npy_read / adapt_npy_write. The header dict is npy_header.c's business;
 * this file handles the preamble, the data length and the atomic write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/tensor.h"
#include "lib/io/atomic_file.h"
#include "lib/io/bytes.h"
#include "lib/io/npy.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Magic, version and header length: where the header starts and how long it is. */
static adapt_status npy_preamble(const ad_source *src, uint64_t *start, uint32_t *len,
                                 const char *fn)
{
    unsigned char pre[12];
    adapt_status st = ad_source_read(src, 0, pre, 10, fn);
    if (st)
        return st;
    if (memcmp(pre, npy_magic, sizeof npy_magic) != 0)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s is not an NPY file (bad magic)", fn,
                       src->name);
    if ((pre[6] != 1 && pre[6] != 2) || pre[7] != 0)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s is NPY version %u.%u; only 1.0 and 2.0 "
                       "are supported", fn, src->name, pre[6], pre[7]);
    if (pre[6] == 1) {
        *start = 10;
        *len = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else {
        st = ad_source_read(src, 0, pre, 12, fn);
        if (st)
            return st;
        *start = 12;
        *len = ad_le32(pre + 8);
    }
    if (*len > AD_NPY_MAX_HEADER)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s claims a %u-byte header (limit %u)", fn,
                       src->name, *len, AD_NPY_MAX_HEADER);
    return ADAPT_OK;
}

static adapt_status npy_header(ad_npy_header *h, uint64_t *data_start, const ad_source *src,
                               const char *fn)
{
    uint64_t start = 0;
    uint32_t len = 0;
    adapt_status st = npy_preamble(src, &start, &len, fn);
    if (st)
        return st;
    char *text = malloc(len ? len : 1);
    if (!text)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for the header of %s", fn,
                       src->name);
    st = ad_source_read(src, start, text, len, fn);
    if (!st)
        st = ad_npy_parse_header(h, text, len, src->name, fn);
    free(text);
    if (!st)
        *data_start = start + len;
    return st;
}

adapt_status ad_npy_read_source(float **data, int32_t *ndim, int64_t *shape,
                                const ad_source *src, const char *fn)
{
    ad_npy_header h;
    uint64_t start = 0;
    adapt_status st = npy_header(&h, &start, src, fn);
    if (st)
        return st;
    uint64_t bytes = (uint64_t)h.numel * sizeof(float);
    if (src->size - start != bytes)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s should hold %llu data bytes but holds %llu", fn,
                       src->name, (unsigned long long)bytes,
                       (unsigned long long)(src->size - start));
    if (bytes > SIZE_MAX)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: %s holds %llu data bytes, more than the "
                       "address space", fn, src->name, (unsigned long long)bytes);
    float *values = malloc(bytes ? (size_t)bytes : 1);
    if (!values)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for %llu bytes of %s", fn,
                       (unsigned long long)bytes, src->name);
    st = ad_source_read(src, start, values, (size_t)bytes, fn);
    if (st) {
        free(values);
        return st;
    }
    *data = values;
    *ndim = h.ndim;
    if (h.ndim)
        memcpy(shape, h.shape, (size_t)h.ndim * sizeof *shape);
    return ADAPT_OK;
}

adapt_status adapt_npy_read(float **data, int32_t *ndim, int64_t *shape, const char *path)
{
    const char *fn = "adapt_npy_read";
    if (!data || !ndim || !shape || !path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !data ? "data" : !ndim ? "ndim" : !shape ? "shape" : "path");
    ad_source src;
    adapt_status st = ad_source_open(&src, path, fn);
    if (st)
        return st;
    st = ad_npy_read_source(data, ndim, shape, &src, fn);
    ad_source_close(&src);
    return st;
}

/* numpy's own layout: the dict, space padding and a newline, so that the data starts at a
 * multiple of 64 bytes. Returns the header length (without the 10-byte preamble). */
static size_t npy_format_header(char *buf, size_t cap, int32_t ndim, const int64_t *shape)
{
    int n = snprintf(buf, cap, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int32_t i = 0; i < ndim; i++)
        n += snprintf(buf + n, cap - (size_t)n, i ? ", %lld" : "%lld", (long long)shape[i]);
    n += snprintf(buf + n, cap - (size_t)n, ndim == 1 ? ",), }" : "), }");
    size_t len = (size_t)n + 1;
    size_t pad = (64 - (10 + len) % 64) % 64;
    memset(buf + n, ' ', pad);
    buf[(size_t)n + pad] = '\n';
    return len + pad;
}

size_t ad_npy_file_head(unsigned char *buf, size_t cap, int32_t ndim, const int64_t *shape)
{
    const size_t len = npy_format_header((char *)buf + 10, cap - 10, ndim, shape);
    memcpy(buf, npy_magic, sizeof npy_magic);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(len & 0xff);
    buf[9] = (unsigned char)(len >> 8);
    return 10 + len;
}

adapt_status adapt_npy_write(const char *path, const float *data, int32_t ndim,
                             const int64_t *shape)
{
    const char *fn = "adapt_npy_write";
    if (!path)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: path is NULL", fn);
    int64_t numel;
    adapt_status st = ad_prefix(ad_shape_numel(&numel, ndim, shape), fn);
    if (st)
        return st;
    if (!data && numel > 0)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    unsigned char file_head[AD_NPY_FILE_HEAD_MAX];
    const size_t head = ad_npy_file_head(file_head, sizeof file_head, ndim, shape);
    ad_atomic_file af;
    st = ad_atomic_open(&af, path, fn);
    if (st)
        return st;
    st = ad_atomic_write(&af, file_head, head);
    if (!st)
        st = ad_atomic_write(&af, data, (size_t)numel * sizeof(float));
    if (st) {
        ad_atomic_abort(&af);
        return st;
    }
    return ad_atomic_commit(&af);
}

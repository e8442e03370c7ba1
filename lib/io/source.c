#define _POSIX_C_SOURCE 200809L

#include "lib/io/source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/core/error.h"

adapt_status ad_source_open(ad_source *src, const char *path, const char *fn)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ad_fail(ADAPT_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int err = errno;
        fclose(f);
        return ad_fail(ADAPT_ERR_IO, "%s: cannot stat %s: %s", fn, path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return ad_fail(ADAPT_ERR_IO, "%s: %s is not a regular file", fn, path);
    }
    *src = (ad_source){.file = f, .size = (uint64_t)st.st_size, .name = path};
    return ADAPT_OK;
}

void ad_source_memory(ad_source *src, const void *bytes, size_t size)
{
    *src = (ad_source){.bytes = bytes, .size = size, .name = "<memory>"};
}

adapt_status ad_source_read(const ad_source *src, uint64_t offset, void *dst, size_t len,
                            const char *fn)
{
    if (offset > src->size || len > src->size - offset)
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s is truncated: %zu bytes at offset %llu, "
                       "file holds %llu", fn, src->name, len, (unsigned long long)offset,
                       (unsigned long long)src->size);
    if (len == 0)
        return ADAPT_OK;
    if (!src->file) {
        memcpy(dst, src->bytes + offset, len);
        return ADAPT_OK;
    }
    if (offset > INT64_MAX || fseeko(src->file, (off_t)offset, SEEK_SET) != 0)
        return ad_fail(ADAPT_ERR_IO, "%s: cannot seek in %s: %s", fn, src->name,
                       strerror(errno));
    if (fread(dst, 1, len, src->file) != len) {
        if (ferror(src->file))
            return ad_fail(ADAPT_ERR_IO, "%s: cannot read %s: %s", fn, src->name,
                           strerror(errno));
        return ad_fail(ADAPT_ERR_FORMAT, "%s: %s is truncated (it shrank while being read)",
                       fn, src->name);
    }
    return ADAPT_OK;
}

void ad_source_close(ad_source *src)
{
    if (src->file)
        fclose(src->file);
    src->file = NULL;
}

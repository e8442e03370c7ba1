#define _POSIX_C_SOURCE 200809L

#include "lib/io/source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/core/error.h"

adapt_status ad_open_regular(int *fd_out, uint64_t *size, const char *path, const char *fn)
{
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer before it could be refused. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return ad_fail(ad_errno_status(errno), "%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return ad_fail(ad_errno_status(err), "%s: cannot stat %s: %s", fn, path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ad_fail(ADAPT_ERR_IO, "%s: %s is not a regular file", fn, path);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(fd);
        return ad_fail(ad_errno_status(err), "%s: cannot read %s: %s", fn, path, strerror(err));
    }
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return ADAPT_OK;
}

adapt_status ad_source_open(ad_source *src, const char *path, const char *fn)
{
    int fd = -1;
    uint64_t size = 0;
    adapt_status st = ad_open_regular(&fd, &size, path, fn);
    if (st)
        return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return ad_fail(ad_errno_status(err), "%s: cannot open %s: %s", fn, path, strerror(err));
    }
    *src = (ad_source){.file = f, .size = size, .name = path};
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
        return ad_fail(ad_errno_status(errno), "%s: cannot seek in %s: %s", fn, src->name,
                       strerror(errno));
    if (fread(dst, 1, len, src->file) != len) {
        if (ferror(src->file))
            return ad_fail(ad_errno_status(errno), "%s: cannot read %s: %s", fn, src->name,
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

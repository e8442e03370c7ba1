#define _POSIX_C_SOURCE 200809L

#include "lib/io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/core/error.h"

/* Distinguishes concurrent saves to the same path from threads of one process. */
static atomic_uint tmp_counter;

/* Whether `name` is "<base>.tmp.<pid>.<n>" of a process that no longer runs. A pid in use
 * again by another process keeps its file: removing a live save's file is the worse mistake. */
static bool is_stale_temp(const char *name, const char *base)
{
    const size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
        return false;
    char *end;
    const long pid = strtol(name + n + 5, &end, 10);
    if (pid <= 0 || *end != '.' || end[1] < '0' || end[1] > '9')
        return false;
    strtoul(end + 1, &end, 10);
    return *end == '\0' && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes the temporary files that saves to `path` left when their process died (killed
 * mid-save). Best effort: a directory that cannot be listed keeps them. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096]; /* with its trailing slash */
    if (snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 2,
                 slash ? path : "./") >= (int)sizeof dir)
        return;
    const char *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        char full[4096 + 256];
        if (is_stale_temp(e->d_name, base) &&
            snprintf(full, sizeof full, "%s%s", dir, e->d_name) < (int)sizeof full)
            unlink(full);
    }
    if (d)
        closedir(d);
}

/* A path that exists must be a regular file (or a link to one): a device, a fifo or a
 * directory is never replaced by a checkpoint. */
static adapt_status check_target(const char *path, const char *fn)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ad_fail(ADAPT_ERR_IO, "%s: %s exists and is not a regular file; it is left "
                       "as it is", fn, path);
    return ADAPT_OK;
}

adapt_status ad_atomic_open(ad_atomic_file *af, const char *path, const char *fn)
{
    *af = (ad_atomic_file){.path = path, .fn = fn};
    adapt_status st = check_target(path, fn);
    if (st)
        return st;
    remove_stale_temps(path);
    size_t cap = strlen(path) + 64;
    char *tmp = malloc(cap);
    if (!tmp)
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for a temporary name", fn);
    snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1u));
    /* O_EXCL: never write through a file or link someone else created under that name. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return ad_fail(ad_errno_status(err), "%s: cannot create a temporary file beside %s: %s", fn,
                       path, strerror(err));
    }
    af->file = f;
    af->tmp_path = tmp;
    return ADAPT_OK;
}

adapt_status ad_atomic_write(ad_atomic_file *af, const void *bytes, size_t len)
{
    if (len && fwrite(bytes, 1, len, af->file) != len)
        return ad_fail(ad_errno_status(errno), "%s: cannot write %s: %s", af->fn, af->tmp_path,
                       strerror(errno));
    return ADAPT_OK;
}

void ad_atomic_abort(ad_atomic_file *af)
{
    if (af->file)
        fclose(af->file);
    if (af->tmp_path) {
        unlink(af->tmp_path);
        free(af->tmp_path);
    }
    *af = (ad_atomic_file){0};
}

/* The directory holding `path` (owned), or NULL when memory ran out. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (dir) {
        memcpy(dir, !slash ? "." : path, len);
        dir[len] = '\0';
    }
    return dir;
}

/* Makes the rename itself durable (consumes `dir`). Filesystems that cannot sync
 * directories say EINVAL. */
static adapt_status sync_dir(char *dir, const char *fn)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = fd < 0 || (fsync(fd) != 0 && errno != EINVAL) ? errno : 0;
    if (fd >= 0)
        close(fd);
    adapt_status st = err ? ad_fail(ad_errno_status(err), "%s: cannot sync directory %s: %s",
                                    fn, dir, strerror(err))
                          : ADAPT_OK;
    free(dir);
    return st;
}

adapt_status ad_atomic_commit(ad_atomic_file *af)
{
    const char *fn = af->fn;
    /* Made before the rename: once the new file is in place, nothing may fail. */
    char *dir = parent_dir(af->path);
    if (!dir) {
        ad_atomic_abort(af);
        return ad_fail(ADAPT_ERR_OUT_OF_MEMORY, "%s: no memory for a directory name", fn);
    }
    const char *step = "flush";
    int failed = fflush(af->file) != 0;
    if (!failed) {
        step = "sync";
        failed = fsync(fileno(af->file)) != 0;
    }
    int err = errno;
    FILE *f = af->file;
    af->file = NULL;
    if (fclose(f) != 0 && !failed) {
        step = "close";
        failed = 1;
        err = errno;
    }
    if (!failed && rename(af->tmp_path, af->path) != 0) {
        step = "rename";
        failed = 1;
        err = errno;
    }
    if (failed) {
        adapt_status st = ad_fail(ad_errno_status(err), "%s: cannot %s %s: %s", fn, step,
                                  af->tmp_path, strerror(err));
        ad_atomic_abort(af);
        free(dir);
        return st;
    }
    free(af->tmp_path);
    *af = (ad_atomic_file){0};
    return sync_dir(dir, fn);
}

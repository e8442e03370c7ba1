#include "lib/core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

adapt_status ad_fail(adapt_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

adapt_status ad_prefix(adapt_status status, const char *fn)
{
    const size_t n = strlen(fn);
    if (status == ADAPT_OK || (strncmp(last_error, fn, n) == 0 && last_error[n] == ':'))
        return status;
    char detail[sizeof last_error];
    memcpy(detail, last_error, sizeof detail);
    return ad_fail(status, "%s: %s", fn, detail);
}

const char *adapt_last_error(void)
{
    return last_error;
}

const char *adapt_status_string(adapt_status status)
{
    switch (status) {
    case ADAPT_OK: return "ok";
    case ADAPT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ADAPT_ERR_SHAPE: return "invalid or incompatible shape";
    case ADAPT_ERR_NONFINITE: return "NaN or infinity in input";
    case ADAPT_ERR_OUT_OF_MEMORY: return "out of memory";
    case ADAPT_ERR_OVERFLOW: return "size overflow";
    case ADAPT_ERR_STATE: return "invalid state for this call";
    case ADAPT_ERR_UNSUPPORTED: return "unsupported";
    case ADAPT_ERR_IO: return "I/O error";
    case ADAPT_ERR_FORMAT: return "invalid file format";
    case ADAPT_ERR_CANCELLED: return "cancelled";
    case ADAPT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

adapt_status ad_errno_status(int err)
{
    return err == ENOMEM ? ADAPT_ERR_OUT_OF_MEMORY : ADAPT_ERR_IO;
}

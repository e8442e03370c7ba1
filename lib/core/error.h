/* Thread-local error detail behind adapt_last_error(). */
#ifndef AD_CORE_ERROR_H
#define AD_CORE_ERROR_H

#include "adapt.h"

#if defined(__GNUC__)
#define AD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AD_PRINTF(f, a)
#endif

/* Records a formatted detail message for this thread and returns `status`,
 * so error paths read `return ad_fail(ADAPT_ERR_SHAPE, "...", ...);`. */
adapt_status ad_fail(adapt_status status, const char *fmt, ...) AD_PRINTF(2, 3);

/* Puts "<fn>: " in front of this thread's message when `status` is a failure whose
 * message does not already begin with "<fn>:", and returns `status`. Public functions call it
 * on what they return from internals shared by many entry points (kernels, layers, model
 * building), whose messages cannot name the caller; the result is cut to the buffer. */
adapt_status ad_prefix(adapt_status status, const char *fn);

/* The status of a failed system call by its errno: ADAPT_ERR_OUT_OF_MEMORY for
 * ENOMEM (fopen or a kernel allocation), else ADAPT_ERR_IO. */
adapt_status ad_errno_status(int err);

#endif

/* The versioned structs of the public API cross the boundary by size: a caller built against
 * an older header passes a smaller struct, a newer one a larger struct. Params structs are
 * initialised and read as min(caller size, own size) bytes, and a larger struct is accepted
 * only when every byte past the library's own size is zero (the fields it does not know are
 * unset); result structs are written as min(caller size, own size) bytes. Neither side ever
 * touches bytes the other lacks. */
#ifndef AD_CORE_STRUCT_IO_H
#define AD_CORE_STRUCT_IO_H

#include <stddef.h>

#include "adapt.h"

/* The body of every _params_init(): zeroes the caller's `user_size` bytes, copies the first
 * min(user_size, own_size) bytes of `defaults` over them and sets struct_size to user_size.
 * NULL `user` or a user_size below sizeof(size_t) is a no-op. */
void ad_struct_init(void *user, size_t user_size, const void *defaults, size_t own_size);

/* Overlays the caller's struct `user` (NULL: keep the defaults) on `own`, which holds the
 * defaults, and sets own's struct_size to `own_size`. INVALID_ARGUMENT when the caller's
 * struct_size is unset (the message says to call `type`_init(), so structs without one check
 * struct_size first); UNSUPPORTED when it is larger than own_size and a byte past own_size is
 * not zero. `own` is untouched on error. */
adapt_status ad_struct_read(void *own, size_t own_size, const void *user, const char *type,
                            const char *fn);

/* INVALID_ARGUMENT unless `out` is non-NULL with a struct_size set by the caller. */
adapt_status ad_struct_check_out(const void *out, const char *what, const char *type,
                                 const char *fn);

/* Copies the first min(out's struct_size, full_size) bytes of `full` into a checked `out`,
 * leaving its struct_size as the caller set it. */
void ad_struct_write(void *out, const void *full, size_t full_size);

#endif

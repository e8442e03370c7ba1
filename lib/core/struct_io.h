/* The versioned structs of the public API cross the boundary by size: a caller built against
 * an older header passes a smaller struct, a newer one a larger struct. Params structs are read
 * as min(caller size, own size) bytes over the library's defaults; result structs are written
 * as min(caller size, own size) bytes, so neither side ever touches bytes the other lacks. */
#ifndef AD_CORE_STRUCT_IO_H
#define AD_CORE_STRUCT_IO_H

#include <stddef.h>

#include "adapt.h"

/* Overlays the caller's struct `user` (NULL: keep the defaults) on `own`, which holds the
 * defaults, and sets own's struct_size to `own_size`. INVALID_ARGUMENT when the caller's
 * struct_size is unset; `what` names the struct and `init_fn` its initialiser in messages. */
adapt_status ad_struct_read(void *own, size_t own_size, const void *user, const char *what,
                            const char *init_fn, const char *fn);

/* INVALID_ARGUMENT unless `out` is non-NULL with a struct_size set by the caller. */
adapt_status ad_struct_check_out(const void *out, const char *what, const char *type,
                                 const char *fn);

/* Copies the first min(out's struct_size, full_size) bytes of `full` into a checked `out`,
 * leaving its struct_size as the caller set it. */
void ad_struct_write(void *out, const void *full, size_t full_size);

#endif

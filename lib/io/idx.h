/* IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain. */
#ifndef AD_IO_IDX_H
#define AD_IO_IDX_H

#include <stdint.h>

#include "adapt.h"

/* Reads an unsigned-byte image file (magic 0x00000803, dims [N, H, W]).
 * On success *pixels is a malloc'd array of N*H*W floats, byte / 255 in [0, 1],
 * which the caller frees; *n, *h, *w receive the dims. On error nothing is
 * written to any output and nothing needs freeing.
 * Errors: ADAPT_ERR_INVALID_ARGUMENT (NULL argument), ADAPT_ERR_IO (cannot open
 * or read, with strerror), ADAPT_ERR_FORMAT (bad magic, zero/overflowing/absurd
 * dims, truncated data, trailing bytes), ADAPT_ERR_OUT_OF_MEMORY. */
adapt_status ad_idx_read_images(float **pixels, int64_t *n, int64_t *h, int64_t *w,
                                const char *path);

/* Reads an unsigned-byte label file (magic 0x00000801, dims [N]).
 * On success *labels is a malloc'd array of N values in 0..255 which the
 * caller frees; *n receives N. Errors and output guarantees as above; the
 * range of the labels is the caller's business. */
adapt_status ad_idx_read_labels(int32_t **labels, int64_t *n, const char *path);

#endif

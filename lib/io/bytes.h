/* Fixed-width integers and float32 arrays in the byte orders the file formats prescribe. */
#ifndef AD_IO_BYTES_H
#define AD_IO_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t ad_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint32_t ad_le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

static inline uint64_t ad_le64(const unsigned char *p)
{
    return (uint64_t)ad_le32(p + 4) << 32 | ad_le32(p);
}

static inline void ad_put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void ad_put_le64(unsigned char *p, uint64_t v)
{
    ad_put_le32(p, (uint32_t)v);
    ad_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* NPY and safetensors store float32 little-endian and the readers and writers move the arrays
 * with plain memcpy/fread/fwrite, which is only right on a little-endian host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lib/io assumes a little-endian host"
#endif

#endif

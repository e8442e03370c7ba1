#include "lib/core/struct_io.h"

#include <string.h>

#include "lib/core/error.h"

adapt_status ad_struct_read(void *own, size_t own_size, const void *user, const char *what,
                            const char *init_fn, const char *fn)
{
    if (!user)
        return ADAPT_OK;
    const size_t user_size = *(const size_t *)user;
    if (user_size < sizeof(size_t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s.struct_size is %zu; call %s", fn,
                       what, user_size, init_fn);
    memcpy(own, user, user_size < own_size ? user_size : own_size);
    *(size_t *)own = own_size;
    return ADAPT_OK;
}

adapt_status ad_struct_check_out(const void *out, const char *what, const char *type,
                                 const char *fn)
{
    if (!out)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    const size_t size = *(const size_t *)out;
    if (size < sizeof(size_t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s.struct_size is %zu; set it to sizeof(%s)",
                       fn, what, size, type);
    return ADAPT_OK;
}

void ad_struct_write(void *out, const void *full, size_t full_size)
{
    const size_t size = *(const size_t *)out;
    memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t),
           (size < full_size ? size : full_size) - sizeof(size_t));
}

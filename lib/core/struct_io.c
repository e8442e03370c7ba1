#include "lib/core/struct_io.h"

#include <string.h>

#include "lib/core/error.h"

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void ad_struct_init(void *user, size_t user_size, const void *defaults, size_t own_size)
{
    if (!user || user_size < sizeof(size_t))
        return;
    memset(user, 0, user_size);
    memcpy(user, defaults, min_size(user_size, own_size));
    *(size_t *)user = user_size;
}

/* A field appended to a struct means "as before" when zero, so a newer caller's struct is
 * safe to read without its tail only if the tail is all zero (Linux's copy_struct_from_user
 * rule). */
static adapt_status check_tail(const void *user, size_t user_size, size_t own_size,
                               const char *type, const char *fn)
{
    const unsigned char *bytes = user;
    for (size_t i = own_size; i < user_size; i++)
        if (bytes[i])
            return ad_fail(ADAPT_ERR_UNSUPPORTED,
                           "%s: %s has fields this library (%s) does not know set (byte %zu of "
                           "%zu is not zero): built against a newer adapt.h?",
                           fn, type, adapt_version_string(), i, user_size);
    return ADAPT_OK;
}

adapt_status ad_struct_read(void *own, size_t own_size, const void *user, const char *type,
                            const char *fn)
{
    if (!user)
        return ADAPT_OK;
    const size_t user_size = *(const size_t *)user;
    if (user_size < sizeof(size_t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s.struct_size is %zu; call %s_init()",
                       fn, type, user_size, type);
    adapt_status st = check_tail(user, user_size, own_size, type, fn);
    if (st)
        return st;
    memcpy(own, user, min_size(user_size, own_size));
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
           min_size(size, full_size) - sizeof(size_t));
}

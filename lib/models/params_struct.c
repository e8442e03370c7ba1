/* Reading a caller's params struct of any compatible size. */
#include <string.h>

#include "lib/core/error.h"
#include "lib/models/model_impl.h"

adapt_status ad_read_struct(void *own, size_t own_size, const void *user, const char *fn)
{
    if (!user)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    size_t user_size = *(const size_t *)user;
    if (user_size < sizeof(size_t))
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT,
                       "%s: params.struct_size is %zu; call the matching _params_init()", fn,
                       user_size);
    memcpy(own, user, user_size < own_size ? user_size : own_size);
    *(size_t *)own = own_size;
    return ADAPT_OK;
}

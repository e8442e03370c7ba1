/* Reading a caller's params struct of any compatible size. */
#include "lib/core/error.h"
#include "lib/core/struct_io.h"
#include "lib/models/model_impl.h"

/* Models have fields without defaults (sizes, stages), so NULL is not accepted. */
adapt_status ad_read_struct(void *own, size_t own_size, const void *user, const char *type,
                            const char *fn)
{
    if (!user)
        return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    return ad_struct_read(own, own_size, user, type, fn);
}

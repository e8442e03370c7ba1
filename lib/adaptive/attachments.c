/* The attachment types a model's description may list: the model layer reads and writes
 * them through this table alone. */
#include "lib/adaptive/head.h"

static const ad_attachment_type *const types[] = {&ad_exit_head_type};

const ad_attachment_type *const *ad_attachment_types(int32_t *count)
{
    *count = (int32_t)(sizeof types / sizeof *types);
    return types;
}

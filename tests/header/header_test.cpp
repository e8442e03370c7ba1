/* Compiled as C++ with -Wall -Wextra -pedantic -Werror: the public header
 * must be usable from C++ as it is. */
#include "adapt.h"

#include <stdio.h>

int main(void)
{
    adapt_context_params p;
    adapt_context_params_init(&p, sizeof p);
    if (adapt_version_number() != ADAPT_VERSION_NUMBER || p.struct_size != sizeof p) {
        fprintf(stderr, "header and library disagree\n");
        return 1;
    }
    printf("adapt.h %s OK\n", adapt_version_string());
    return 0;
}

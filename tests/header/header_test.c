/* Compiled as C99 and C11 with -Wall -Wextra -pedantic -Werror: the public
 * header must be clean in every dialect users compile it with. */
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

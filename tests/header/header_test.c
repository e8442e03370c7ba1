/* Compiled as C99 and C11 with -Wall -Wextra -pedantic -Werror: the public
 * header must be clean in every dialect users compile it with, with and without its
 * experimental tier. */
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
#ifdef ADAPT_EXPERIMENTAL
    adapt_head_params h; /* the tier is declared and links */
    adapt_head_params_init(&h, sizeof h);
    if (h.struct_size != sizeof h) {
        fprintf(stderr, "experimental tier: header and library disagree\n");
        return 1;
    }
    printf("adapt.h %s with the experimental tier OK\n", adapt_version_string());
#else
    printf("adapt.h %s OK\n", adapt_version_string());
#endif
    return 0;
}

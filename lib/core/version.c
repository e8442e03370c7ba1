#include "adapt.h"

#define AD_STR_(x) #x
#define AD_STR(x) AD_STR_(x)

unsigned adapt_version_number(void)
{
    return ADAPT_VERSION_NUMBER;
}

const char *adapt_version_string(void)
{
    return AD_STR(ADAPT_VERSION_MAJOR) "." AD_STR(ADAPT_VERSION_MINOR) "." AD_STR(
        ADAPT_VERSION_PATCH);
}

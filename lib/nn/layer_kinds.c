/* The table of layer kinds, indexed by adapt_layer_kind, and what is generic about them: the
 * lookup and the range checks of their fields. */
#include "lib/nn/layer_kinds.h"

#include <math.h>
#include <string.h>

#include "lib/core/error.h"

static const ad_layer_kind *const kinds[] = {
#define AD_LAYER_KIND(value, descriptor) [value] = &descriptor,
#include "lib/nn/layer_kinds.def"
#undef AD_LAYER_KIND
};

/* One entry per line of the list and no gaps: the largest value is the count minus one. */
enum {
#define AD_LAYER_KIND(value, descriptor) +1
    n_listed = 0
#include "lib/nn/layer_kinds.def"
#undef AD_LAYER_KIND
};
_Static_assert(sizeof kinds / sizeof *kinds == n_listed,
               "layer_kinds.def skips or repeats an adapt_layer_kind value");

const ad_layer_kind *ad_layer_kind_of(int32_t kind)
{
    return kind >= 0 && kind < n_listed ? kinds[kind] : NULL;
}

int32_t ad_layer_kind_count(void)
{
    return n_listed;
}

int32_t ad_layer_kind_from_name(const char *name)
{
    for (int32_t k = 0; name && k < n_listed; k++)
        if (strcmp(kinds[k]->name, name) == 0)
            return k;
    return -1;
}

double ad_field_get(const adapt_layer_params *p, const ad_layer_field *f)
{
    const char *at = (const char *)p + f->offset;
    switch (f->type) {
    case AD_FIELD_INT32: return *(const int32_t *)(const void *)at;
    case AD_FIELD_INT64: return (double)*(const int64_t *)(const void *)at;
    default: return *(const float *)(const void *)at;
    }
}

void ad_field_set(adapt_layer_params *p, const ad_layer_field *f, double value)
{
    char *at = (char *)p + f->offset;
    switch (f->type) {
    case AD_FIELD_INT32: *(int32_t *)(void *)at = (int32_t)value; break;
    case AD_FIELD_INT64: *(int64_t *)(void *)at = (int64_t)value; break;
    default: *(float *)(void *)at = (float)value;
    }
}

static bool in_range(const ad_layer_field *f, double v)
{
    const bool above = f->flags & AD_FIELD_OPEN_LO ? v > f->lo : v >= f->lo;
    const bool below = f->flags & AD_FIELD_OPEN_HI ? v < f->hi : v <= f->hi;
    return above && below;
}

static adapt_status check_field(const ad_layer_kind *kind, const adapt_layer_params *p,
                                const ad_layer_field *f, const char *fn)
{
    const double v = ad_field_get(p, f);
    if (!isfinite(v))
        return ad_fail(ADAPT_ERR_NONFINITE, "%s: %s %s is not finite", fn, kind->name,
                       f->name);
    if (in_range(f, v))
        return ADAPT_OK;
    return ad_fail(ADAPT_ERR_INVALID_ARGUMENT, "%s: %s %s %.9g is outside %c%.9g, %.9g%c", fn,
                   kind->name, f->name, v, f->flags & AD_FIELD_OPEN_LO ? '(' : '[', f->lo,
                   f->hi, f->flags & AD_FIELD_OPEN_HI ? ')' : ']');
}

adapt_status ad_layer_kind_check(const ad_layer_kind *kind, const adapt_layer_params *p,
                                 const char *fn)
{
    for (int32_t i = 0; i < kind->n_fields; i++) {
        adapt_status st = check_field(kind, p, &kind->fields[i], fn);
        if (st)
            return st;
    }
    return kind->check ? kind->check(p, fn) : ADAPT_OK;
}

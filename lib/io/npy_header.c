/* A strict parser for the one Python dict literal an NPY header holds. No general Python
 * parsing: exactly three keys, a string, a boolean and a tuple of non-negative integers. */
#include <stdbool.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/io/npy.h"

/* Long enough for any dtype string numpy writes ('<f4', '<U12', '|S200', '<M8[ns]'). */
#define NPY_MAX_STRING 64

typedef struct npy_cursor {
    const char *p, *end;
    const char *name, *fn;
} npy_cursor;

static adapt_status npy_bad(const npy_cursor *c, const char *what)
{
    size_t at = (size_t)(c->end - c->p);
    return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has a malformed NPY header: %s (%zu bytes before "
                   "its end)", c->fn, c->name, what, at);
}

static void npy_skip_spaces(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Consumes `ch` (after optional spaces) if it is next. */
static bool npy_accept(npy_cursor *c, char ch)
{
    npy_skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string of printable ASCII without escapes, copied NUL-terminated into out. */
static adapt_status npy_string(npy_cursor *c, char out[NPY_MAX_STRING + 1])
{
    npy_skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return npy_bad(c, "expected a quoted string");
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p < 0x20 || *c->p > 0x7e || *c->p == '\\' || n == NPY_MAX_STRING)
            return npy_bad(c, "unexpected character or length in a string");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return npy_bad(c, "unterminated string");
    c->p++;
    out[n] = '\0';
    return ADAPT_OK;
}

static adapt_status npy_bool(npy_cursor *c, bool *value)
{
    npy_skip_spaces(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && !memcmp(c->p, "True", 4)) {
        c->p += 4;
        *value = true;
    } else if (left >= 5 && !memcmp(c->p, "False", 5)) {
        c->p += 5;
        *value = false;
    } else {
        return npy_bad(c, "fortran_order is not True or False");
    }
    return ADAPT_OK;
}

/* A decimal integer as Python writes it: no sign, no leading zeros, fits int64. */
static adapt_status npy_int(npy_cursor *c, int64_t *value)
{
    npy_skip_spaces(c);
    const char *start = c->p;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int digit = *c->p - '0';
        if (v > (INT64_MAX - digit) / 10)
            return npy_bad(c, "dimension too large");
        v = v * 10 + digit;
        c->p++;
    }
    if (c->p == start || (*start == '0' && c->p - start > 1))
        return npy_bad(c, "expected a dimension");
    *value = v;
    return ADAPT_OK;
}

/* (), (d,) or (d0, d1, ...) with an optional trailing comma; dims past ADAPT_MAX_DIMS are
 * parsed and counted but not stored. */
static adapt_status npy_shape(npy_cursor *c, ad_npy_header *h, int64_t *count)
{
    if (!npy_accept(c, '('))
        return npy_bad(c, "shape is not a tuple");
    int64_t n = 0;
    bool comma = false;
    while (!npy_accept(c, ')')) {
        if (n > 0 && !comma)
            return npy_bad(c, "expected ',' or ')' in the shape");
        int64_t d = 0;
        adapt_status st = npy_int(c, &d);
        if (st)
            return st;
        if (n < ADAPT_MAX_DIMS)
            h->shape[n] = d;
        n++;
        comma = npy_accept(c, ',');
    }
    if (n == 1 && !comma)
        return npy_bad(c, "a one-element shape tuple needs its trailing comma");
    *count = n;
    return ADAPT_OK;
}

typedef struct npy_fields {
    bool has_descr, has_fortran, has_shape;
    char descr[NPY_MAX_STRING + 1];
    bool fortran;
    int64_t ndim;
} npy_fields;

/* One "key: value" pair of the dict. */
static adapt_status npy_entry(npy_cursor *c, ad_npy_header *h, npy_fields *f)
{
    char key[NPY_MAX_STRING + 1];
    adapt_status st = npy_string(c, key);
    if (st)
        return st;
    if (!npy_accept(c, ':'))
        return npy_bad(c, "expected ':' after a key");
    bool *seen = !strcmp(key, "descr")           ? &f->has_descr
                 : !strcmp(key, "fortran_order") ? &f->has_fortran
                 : !strcmp(key, "shape")         ? &f->has_shape
                                                 : NULL;
    if (!seen)
        return npy_bad(c, "unknown key");
    if (*seen)
        return npy_bad(c, "repeated key");
    *seen = true;
    if (seen == &f->has_fortran)
        return npy_bool(c, &f->fortran);
    if (seen == &f->has_shape)
        return npy_shape(c, h, &f->ndim);
    if (npy_accept(c, '['))
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s holds a structured dtype; only '<f4' "
                       "(little-endian float32) is supported", c->fn, c->name);
    return npy_string(c, f->descr);
}

/* The dict, then only the padding numpy writes: spaces and one final newline. */
static adapt_status npy_dict(npy_cursor *c, ad_npy_header *h, npy_fields *f)
{
    if (!npy_accept(c, '{'))
        return npy_bad(c, "expected '{'");
    bool need_comma = false;
    while (!npy_accept(c, '}')) {
        if (need_comma)
            return npy_bad(c, "expected ',' or '}'");
        adapt_status st = npy_entry(c, h, f);
        if (st)
            return st;
        need_comma = !npy_accept(c, ',');
    }
    while (c->p < c->end && *c->p == ' ')
        c->p++;
    if (c->p < c->end && *c->p == '\n')
        c->p++;
    if (c->p != c->end)
        return npy_bad(c, "unexpected text after the dict");
    if (!f->has_descr || !f->has_fortran || !f->has_shape)
        return npy_bad(c, !f->has_descr     ? "no 'descr' key"
                          : !f->has_fortran ? "no 'fortran_order' key"
                                            : "no 'shape' key");
    return ADAPT_OK;
}

adapt_status ad_npy_parse_header(ad_npy_header *h, const char *text, size_t len,
                                 const char *name, const char *fn)
{
    npy_cursor c = {.p = text, .end = text + len, .name = name, .fn = fn};
    npy_fields f = {0};
    adapt_status st = npy_dict(&c, h, &f);
    if (st)
        return st;
    if (strcmp(f.descr, "<f4") != 0)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s has dtype '%s'; only '<f4' "
                       "(little-endian float32) is supported", fn, name, f.descr);
    if (f.fortran)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s is in Fortran order; only C order is "
                       "supported", fn, name);
    if (f.ndim > ADAPT_MAX_DIMS)
        return ad_fail(ADAPT_ERR_UNSUPPORTED, "%s: %s has %lld dims; at most %d are supported",
                       fn, name, (long long)f.ndim, ADAPT_MAX_DIMS);
    int64_t numel = 1;
    for (int64_t i = 0; i < f.ndim; i++) {
        if (h->shape[i] > 0 && numel > (INT64_MAX / (int64_t)sizeof(float)) / h->shape[i])
            return ad_fail(ADAPT_ERR_FORMAT, "%s: %s has a shape whose size overflows", fn,
                           name);
        numel *= h->shape[i];
    }
    h->ndim = (int32_t)f.ndim;
    h->numel = numel;
    return ADAPT_OK;
}

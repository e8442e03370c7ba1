/* jansson under allocation failure. jansson's parser does not survive a
 * malloc that returns NULL (it crashes or corrupts the heap in its lexer), so
 * parsing and printing run in a guarded session: an allocation that fails
 * there frees everything the session allocated and unwinds to the caller,
 * which gets ADAPT_ERR_OUT_OF_MEMORY. Outside a session jansson allocates
 * with plain malloc and free, so an application's own use of jansson is
 * unaffected (unless it installs allocation functions of its own). */
#ifndef AD_IO_JSON_GUARD_H
#define AD_IO_JSON_GUARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "adapt.h"

/* json_loadb(text, len, flags, error) in a session: ADAPT_OK with *out owned
 * (json_decref), ADAPT_ERR_FORMAT with `error` describing the fault, or
 * ADAPT_ERR_OUT_OF_MEMORY. Sets no message: callers know what was parsed. */
adapt_status ad_json_parse(json_t **out, const char *text, size_t len, size_t flags,
                           json_error_t *error);

/* json_dumps(root, flags) in a session: ADAPT_OK with *out owned (free()),
 * or ADAPT_ERR_OUT_OF_MEMORY. Sets no message. */
adapt_status ad_json_print(char **out, const json_t *root, size_t flags);

/* True if `text` is valid UTF-8 as jansson requires of keys and strings: with it
 * checked first, a NULL or -1 from json_string or json_object_set_new can only
 * mean that memory ran out. */
bool ad_json_utf8(const char *text);

#endif

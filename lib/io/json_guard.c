#include "lib/io/json_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

/* What a session allocated and not yet freed: an open-addressing set of
 * pointers (TOMBSTONE marks a freed slot). */
#define TOMBSTONE ((void *)1)

typedef struct session {
    jmp_buf unwind;
    void **slots;
    size_t capacity, used; /* used counts tombstones too */
} session;

static _Thread_local session *current;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static size_t slot_of(const void *p, size_t capacity)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15u) & (capacity - 1);
}

static void put(void **slots, size_t capacity, void *p)
{
    size_t i = slot_of(p, capacity);
    while (slots[i] && slots[i] != TOMBSTONE)
        i = (i + 1) & (capacity - 1);
    slots[i] = p;
}

/* Frees every block of the session and its set, and unwinds to its start. */
static _Noreturn void unwind(session *s)
{
    for (size_t i = 0; i < s->capacity; i++)
        if (s->slots[i] != TOMBSTONE)
            free(s->slots[i]);
    free(s->slots);
    current = NULL;
    longjmp(s->unwind, 1);
}

static void grow(session *s)
{
    const size_t capacity = s->capacity * 2;
    void **slots = calloc(capacity, sizeof *slots);
    if (!slots)
        unwind(s);
    size_t used = 0;
    for (size_t i = 0; i < s->capacity; i++)
        if (s->slots[i] && s->slots[i] != TOMBSTONE) {
            put(slots, capacity, s->slots[i]);
            used++;
        }
    free(s->slots);
    s->slots = slots;
    s->capacity = capacity;
    s->used = used;
}

static void *guarded_malloc(size_t size)
{
    session *s = current;
    if (!s)
        return malloc(size);
    if (2 * (s->used + 1) > s->capacity)
        grow(s);
    void *p = malloc(size ? size : 1);
    if (!p)
        unwind(s);
    put(s->slots, s->capacity, p);
    s->used++;
    return p;
}

static void guarded_free(void *p)
{
    session *s = current;
    if (s && p)
        for (size_t i = slot_of(p, s->capacity); s->slots[i]; i = (i + 1) & (s->capacity - 1))
            if (s->slots[i] == p) {
                s->slots[i] = TOMBSTONE;
                break;
            }
    free(p);
}

static void install(void) { json_set_alloc_funcs(guarded_malloc, guarded_free); }

/* Starts a session on this thread; false when even its set cannot be made. */
static bool session_open(session *s)
{
    pthread_once(&installed, install);
    s->capacity = 64;
    s->used = 0;
    s->slots = calloc(s->capacity, sizeof *s->slots);
    current = s->slots ? s : NULL;
    return s->slots != NULL;
}

/* Ends a session, keeping what it allocated. */
static void session_close(session *s)
{
    current = NULL;
    free(s->slots);
}

bool ad_json_utf8(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        const unsigned c = *s++;
        /* Lead byte: continuation count and the smallest code point it may encode. */
        int more = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2
                 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
        if (more < 0)
            return false;
        uint32_t code = more ? c & (0x3fu >> more) : c;
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
            code = code << 6 | (*s & 0x3fu);
        }
        if ((more == 2 && code < 0x800) || (more == 3 && (code < 0x10000 || code > 0x10ffff)) ||
            (code >= 0xd800 && code <= 0xdfff))
            return false;
    }
    return true;
}

adapt_status ad_json_parse(json_t **out, const char *text, size_t len, size_t flags,
                           json_error_t *error)
{
    session s;
    if (!session_open(&s))
        return ADAPT_ERR_OUT_OF_MEMORY;
    if (setjmp(s.unwind))
        return ADAPT_ERR_OUT_OF_MEMORY;
    json_t *root = json_loadb(text, len, flags, error);
    session_close(&s);
    *out = root;
    return root ? ADAPT_OK : ADAPT_ERR_FORMAT;
}

adapt_status ad_json_print(char **out, const json_t *root, size_t flags)
{
    session s;
    if (!session_open(&s))
        return ADAPT_ERR_OUT_OF_MEMORY;
    if (setjmp(s.unwind))
        return ADAPT_ERR_OUT_OF_MEMORY;
    char *text = json_dumps(root, flags);
    session_close(&s);
    *out = text;
    /* Every allocation having succeeded, json_dumps has nothing left to fail on:
     * jansson checked the strings' UTF-8 when they were made. */
    return text ? ADAPT_OK : ADAPT_ERR_INTERNAL;
}

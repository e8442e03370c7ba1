/* Bump allocator for activations, gradients and tape records of one step.
 *
 * Memory is handed out from chunks; reset() rewinds and, if the step needed
 * more than one chunk, replaces them by a single chunk of the most the step
 * held at once and a quarter more, so from the second identical step on no
 * allocation reaches malloc. */
#ifndef AD_CORE_ARENA_H
#define AD_CORE_ARENA_H

#include <stddef.h>

#define AD_ARENA_ALIGN 64

typedef struct ad_chunk ad_chunk;

typedef struct ad_arena {
    ad_chunk *chunks;   /* newest first */
    size_t used;        /* bytes handed out since reset, padding included */
    size_t reserved;    /* bytes held in chunks */
    size_t peak;        /* highest `used` seen */
    size_t step_peak;   /* highest `used` since the last reset */
    size_t limit;       /* 0 = unbounded */
    size_t system_allocs; /* chunk mallocs so far, for steady-state checks */
} ad_arena;

void ad_arena_init(ad_arena *arena, size_t initial_bytes, size_t limit);
void ad_arena_release(ad_arena *arena);
void ad_arena_reset(ad_arena *arena);

/* A position in the arena, to hand back scratch memory taken after it. */
typedef struct ad_arena_mark {
    ad_chunk *chunk;
    size_t offset, used;
} ad_arena_mark;

ad_arena_mark ad_arena_mark_now(const ad_arena *arena);
/* Frees every block allocated since `mark`, which must be the newest mark
 * still in use. */
void ad_arena_rewind(ad_arena *arena, ad_arena_mark mark);

/* 64-byte aligned block, or NULL when out of memory or over the limit. */
void *ad_arena_alloc(ad_arena *arena, size_t bytes);
/* Same, zero-filled. */
void *ad_arena_calloc(ad_arena *arena, size_t count, size_t size);

#endif

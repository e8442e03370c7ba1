/* Bump allocator for activations, gradients and tape records of one step.
 *
 * Memory is handed out from chunks; reset() rewinds and, if the step needed
 * more than one chunk, replaces them by a single chunk of the most the step
 * held at once and a quarter more, so from the second identical step on no
 * allocation reaches malloc.
 *
 * Beside the chunks, fixed slots for the tensor records: handed out in order
 * and taken back by reset() too, but their memory is kept until release(),
 * so a pointer to a slot stays readable as long as the arena lives (the
 * handle of a released activation still leads to a record that says so,
 * lib/core/handle.c). */
#ifndef AD_CORE_ARENA_H
#define AD_CORE_ARENA_H

#include <stddef.h>

#define AD_ARENA_ALIGN 64
/* Size and alignment of a slot: a tensor record fits, and its address leaves
 * the 7 low bits free for a handle's tag. */
#define AD_SLOT_SIZE 128

typedef struct ad_chunk ad_chunk;
typedef struct ad_slot_block ad_slot_block;

typedef struct ad_arena {
    ad_chunk *chunks;   /* newest first */
    ad_chunk *spare;    /* a chunk a rewind emptied, kept for the next growth, or NULL */
    size_t used;        /* bytes handed out since reset, padding included */
    size_t reserved;    /* bytes held in chunks */
    size_t peak;        /* highest `used` seen */
    size_t step_peak;   /* highest `used` since the last reset */
    size_t limit;       /* 0 = unbounded */
    size_t system_allocs; /* chunk and slot block mallocs so far, for steady-state checks */
    ad_slot_block *slots;      /* oldest first; never freed before release */
    ad_slot_block *slot_block; /* where the next slot comes from; NULL before the first */
    size_t slot_next;          /* index of the next slot in slot_block */
} ad_arena;

void ad_arena_init(ad_arena *arena, size_t initial_bytes, size_t limit);
void ad_arena_release(ad_arena *arena);
void ad_arena_reset(ad_arena *arena);

/* A position in the arena, to hand back scratch memory taken after it. */
typedef struct ad_arena_mark {
    ad_chunk *chunk;
    size_t offset, used;
    ad_slot_block *slot_block;
    size_t slot_next;
} ad_arena_mark;

ad_arena_mark ad_arena_mark_now(const ad_arena *arena);
/* Frees every block allocated since `mark`, which must be the newest mark
 * still in use. */
void ad_arena_rewind(ad_arena *arena, ad_arena_mark mark);

/* 64-byte aligned block, or NULL when out of memory or over the limit. */
void *ad_arena_alloc(ad_arena *arena, size_t bytes);
/* Same, zero-filled. */
void *ad_arena_calloc(ad_arena *arena, size_t count, size_t size);

/* AD_SLOT_SIZE bytes aligned to AD_SLOT_SIZE, not cleared, or NULL when out
 * of memory or over the limit (slot blocks count in `reserved`, not in
 * `used`). */
void *ad_arena_slot(ad_arena *arena);

#endif

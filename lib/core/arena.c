#include "lib/core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ad_chunk {
    ad_chunk *next;
    size_t size;
    size_t offset;
    /* payload follows, aligned to AD_ARENA_ALIGN */
};

#define AD_CHUNK_HEADER \
    ((sizeof(ad_chunk) + AD_ARENA_ALIGN - 1) / AD_ARENA_ALIGN * AD_ARENA_ALIGN)
#define AD_MIN_CHUNK ((size_t)1 << 20)

static unsigned char *chunk_base(ad_chunk *chunk)
{
    return (unsigned char *)chunk + AD_CHUNK_HEADER;
}

static ad_chunk *chunk_new(ad_arena *arena, size_t size)
{
    if (size > SIZE_MAX - AD_CHUNK_HEADER)
        return NULL;
    if (arena->limit && arena->reserved + size > arena->limit)
        return NULL;
    ad_chunk *chunk = aligned_alloc(AD_ARENA_ALIGN,
                                    (AD_CHUNK_HEADER + size + AD_ARENA_ALIGN - 1) /
                                        AD_ARENA_ALIGN * AD_ARENA_ALIGN);
    if (!chunk)
        return NULL;
    chunk->size = size;
    chunk->offset = 0;
    chunk->next = arena->chunks;
    arena->chunks = chunk;
    arena->reserved += size;
    arena->system_allocs++;
    return chunk;
}

void ad_arena_init(ad_arena *arena, size_t initial_bytes, size_t limit)
{
    memset(arena, 0, sizeof *arena);
    arena->limit = limit;
    if (initial_bytes)
        chunk_new(arena, initial_bytes); /* failure just means growing later */
}

static void free_chunks(ad_arena *arena)
{
    ad_chunk *chunk = arena->chunks;
    while (chunk) {
        ad_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->chunks = NULL;
    arena->reserved = 0;
}

void ad_arena_release(ad_arena *arena)
{
    free_chunks(arena);
    arena->used = 0;
}

void ad_arena_reset(ad_arena *arena)
{
    if (arena->chunks && arena->chunks->next) {
        /* Blocks were handed back during the step (ad_arena_rewind), so its
         * high-water mark can be far below what the chunks hold. A quarter
         * more than it: steps whose peaks creep up (early-exit batches
         * compacting to other sizes) would otherwise replace the chunk, and
         * fault in its fresh pages, at every new high. */
        size_t needed = arena->step_peak + arena->step_peak / 4;
        if (arena->limit && needed > arena->limit)
            needed = arena->limit;
        free_chunks(arena);
        chunk_new(arena, needed); /* on failure the next step grows again */
    }
    arena->step_peak = 0;
    if (arena->chunks)
        arena->chunks->offset = 0;
    arena->used = 0;
}

ad_arena_mark ad_arena_mark_now(const ad_arena *arena)
{
    ad_chunk *chunk = arena->chunks;
    return (ad_arena_mark){chunk, chunk ? chunk->offset : 0, arena->used};
}

void ad_arena_rewind(ad_arena *arena, ad_arena_mark mark)
{
    /* Chunks added since the mark hold nothing older: they empty out, and
     * allocation goes on in the newest. The marked chunk's tail stays unused
     * until the next reset merges the chunks. */
    ad_chunk *chunk = arena->chunks;
    for (; chunk && chunk != mark.chunk; chunk = chunk->next)
        chunk->offset = 0;
    if (chunk && arena->chunks == chunk)
        chunk->offset = mark.offset;
    arena->used = mark.used;
}

void *ad_arena_alloc(ad_arena *arena, size_t bytes)
{
    if (bytes > SIZE_MAX - AD_ARENA_ALIGN)
        return NULL;
    size_t padded = (bytes + AD_ARENA_ALIGN - 1) / AD_ARENA_ALIGN * AD_ARENA_ALIGN;
    ad_chunk *chunk = arena->chunks;
    if (!chunk || chunk->size - chunk->offset < padded) {
        size_t grow = chunk ? chunk->size * 2 : AD_MIN_CHUNK;
        if (grow < padded)
            grow = padded;
        if (arena->limit && arena->reserved + grow > arena->limit)
            grow = padded; /* try the smallest block that fits under the cap */
        chunk = chunk_new(arena, grow);
        if (!chunk)
            return NULL;
    }
    void *block = chunk_base(chunk) + chunk->offset;
    chunk->offset += padded;
    arena->used += padded;
    if (arena->used > arena->step_peak)
        arena->step_peak = arena->used;
    if (arena->used > arena->peak)
        arena->peak = arena->used;
    return block;
}

void *ad_arena_calloc(ad_arena *arena, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *block = ad_arena_alloc(arena, count * size);
    if (block)
        memset(block, 0, count * size);
    return block;
}

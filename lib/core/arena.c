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

/* A block of slots; its header takes the first slot's room, which keeps the
 * others aligned to AD_SLOT_SIZE. Blocks double in size from the smallest to
 * the largest, so a step of many tensors needs few of them and a small cap
 * still fits one. */
struct ad_slot_block {
    ad_slot_block *next;
    size_t count; /* slots after the header */
};

#define AD_SLOTS_MIN 8
#define AD_SLOTS_MAX 512

static size_t slot_block_bytes(size_t count)
{
    return (size_t)AD_SLOT_SIZE * (count + 1);
}

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

static void free_chunk(ad_arena *arena, ad_chunk *chunk)
{
    if (chunk) {
        arena->reserved -= chunk->size;
        free(chunk);
    }
}

static void free_chunks(ad_arena *arena)
{
    ad_chunk *chunk = arena->chunks;
    while (chunk) {
        ad_chunk *next = chunk->next;
        free_chunk(arena, chunk);
        chunk = next;
    }
    arena->chunks = NULL;
    free_chunk(arena, arena->spare);
    arena->spare = NULL;
}

/* Keeps the larger of `chunk` and the spare for the next growth, frees the other. */
static void keep_spare(ad_arena *arena, ad_chunk *chunk)
{
    if (arena->spare && arena->spare->size >= chunk->size) {
        free_chunk(arena, chunk);
        return;
    }
    free_chunk(arena, arena->spare);
    arena->spare = chunk;
}

/* A chunk at the head for a block of `needed` bytes: the spare if it holds them, else a new
 * one of `size` (the spare, too small, is freed first). */
static ad_chunk *chunk_next(ad_arena *arena, size_t needed, size_t size)
{
    ad_chunk *spare = arena->spare;
    arena->spare = NULL;
    if (!spare || spare->size < needed) {
        free_chunk(arena, spare);
        return chunk_new(arena, size);
    }
    spare->offset = 0;
    spare->next = arena->chunks;
    arena->chunks = spare;
    return spare;
}

static void free_slots(ad_arena *arena)
{
    while (arena->slots) {
        ad_slot_block *next = arena->slots->next;
        arena->reserved -= slot_block_bytes(arena->slots->count);
        free(arena->slots);
        arena->slots = next;
    }
    arena->slot_block = NULL;
    arena->slot_next = 0;
}

void ad_arena_release(ad_arena *arena)
{
    free_chunks(arena);
    free_slots(arena);
    arena->used = 0;
}

void ad_arena_reset(ad_arena *arena)
{
    if (arena->chunks && (arena->chunks->next || arena->step_peak > arena->chunks->size)) {
        /* One chunk for the whole step next time. Blocks were handed back
         * during the step (ad_arena_rewind), so its high-water mark can be far
         * below what the chunks held. A quarter
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
    arena->slot_block = NULL; /* the slots are handed out again, from the first */
    arena->slot_next = 0;
}

ad_arena_mark ad_arena_mark_now(const ad_arena *arena)
{
    ad_chunk *chunk = arena->chunks;
    return (ad_arena_mark){chunk, chunk ? chunk->offset : 0, arena->used, arena->slot_block,
                           arena->slot_next};
}

void ad_arena_rewind(ad_arena *arena, ad_arena_mark mark)
{
    /* Chunks added since the mark hold nothing older, and allocation goes on
     * in the marked chunk from the mark. Allocating on in the newest instead
     * would leave the marked chunk's tail resident and unused, and a step that
     * rewinds often (inference, recomputed blocks) would hold up to twice its
     * peak until the next reset merges the chunks. The largest emptied chunk
     * is kept for the next growth, whose pages it has already faulted in. */
    while (arena->chunks && arena->chunks != mark.chunk) {
        ad_chunk *emptied = arena->chunks;
        arena->chunks = emptied->next;
        keep_spare(arena, emptied);
    }
    if (arena->chunks)
        arena->chunks->offset = mark.offset;
    arena->used = mark.used;
    arena->slot_block = mark.slot_block;
    arena->slot_next = mark.slot_next;
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
        chunk = chunk_next(arena, padded, grow);
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

static ad_slot_block *slot_block_new(ad_arena *arena, size_t count)
{
    if (arena->limit && arena->reserved + slot_block_bytes(count) > arena->limit)
        count = AD_SLOTS_MIN; /* try the smallest block under the cap */
    const size_t bytes = slot_block_bytes(count);
    if (arena->limit && arena->reserved + bytes > arena->limit)
        return NULL;
    ad_slot_block *block = aligned_alloc(AD_SLOT_SIZE, bytes);
    if (!block)
        return NULL;
    *block = (ad_slot_block){NULL, count};
    arena->reserved += bytes;
    arena->system_allocs++;
    return block;
}

void *ad_arena_slot(ad_arena *arena)
{
    ad_slot_block *block = arena->slot_block;
    if (!block || arena->slot_next == block->count) {
        ad_slot_block **link = block ? &block->next : &arena->slots;
        size_t count = block ? 2 * block->count : AD_SLOTS_MIN;
        if (count > AD_SLOTS_MAX)
            count = AD_SLOTS_MAX;
        if (!*link && !(*link = slot_block_new(arena, count)))
            return NULL;
        arena->slot_block = block = *link;
        arena->slot_next = 0;
    }
    return (unsigned char *)block + (size_t)AD_SLOT_SIZE * (1 + arena->slot_next++);
}

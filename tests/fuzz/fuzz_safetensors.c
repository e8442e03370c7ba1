/* libFuzzer target: the safetensors reader on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ad_safetensors *st = NULL;
    if (ad_safetensors_open_memory(&st, data, size, "fuzz") != ADAPT_OK) {
        if (st) /* untouched on error */
            abort();
        return 0;
    }
    /* Whatever the header claims was validated: reading any entry must stay in bounds. */
    for (int64_t i = 0; i < st->count; i++) {
        const ad_st_entry *e = &st->entries[i];
        if (ad_safetensors_find(st, e->name) != e)
            abort();
        float *values = malloc((size_t)(e->end - e->begin) + 1);
        if (values && ad_safetensors_read_f32(st, e, values, "fuzz") == ADAPT_OK &&
            strcmp(e->dtype, "F32") != 0)
            abort();
        free(values);
    }
    for (int64_t i = 0; i < st->meta_count; i++)
        if (ad_safetensors_metadata(st, st->meta_keys[i]) == NULL)
            abort();
    ad_safetensors_close(st);
    return 0;
}

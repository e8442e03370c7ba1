/* Modules attached beside a model's blocks: each reads a block's output and the model's own
 * forward does not run it (an early-exit head). The model keeps them, frees them, shows their
 * parameters after its own and describes them in its architecture; what they are and do is
 * their type's business, so the model layer knows none of the methods. */
#ifndef AD_MODELS_ATTACHMENT_H
#define AD_MODELS_ATTACHMENT_H

#include <jansson.h>

#include "adapt.h"
#include "lib/nn/params.h"

typedef struct ad_attachment_type {
    /* The member of the architecture JSON that lists this type's attachments, e.g. "exits". */
    const char *member;
    /* Its parameters, named as the model shows them. */
    const ad_param_list *(*params)(const void *self);
    /* Its description, one JSON object (NULL: out of memory). */
    json_t *(*describe)(const void *self);
    /* Builds one described attachment, `entry`, onto m within `max_values` parameter values
     * (FORMAT for anything the description gets wrong). */
    adapt_status (*read)(adapt_model *m, const json_t *entry, int64_t max_values);
    /* The model it is attached to changed what runs in it (a replaced submodule): whatever
     * the attachment planned on the model's structure is planned again. */
    void (*refresh)(void *self, const adapt_model *m);
    void (*destroy)(void *self);
} ad_attachment_type;

typedef struct {
    const ad_attachment_type *type;
    void *self; /* owned by the model */
} ad_attachment;

/* Every attachment type a description may list, *count of them (lib/adaptive/attachments.c). */
const ad_attachment_type *const *ad_attachment_types(int32_t *count);

#endif

/* Heads as attachments of a model: what the model layer needs to keep, show, describe and
 * rebuild them without knowing what a head is. */
#include "lib/adaptive/head.h"

#include "lib/models/json_fields.h"
#include "lib/models/model_impl.h"

static const ad_param_list *head_params(const void *self)
{
    return &((const adapt_head *)self)->list;
}

/* {"kind": "sdn", "block": 3, "hidden": 0, "cascade": false, "seed": "7"} */
static json_t *describe(const void *self)
{
    const adapt_head *h = self;
    return json_pack("{s:s, s:i, s:i, s:b, s:o}", "kind", ad_head_kind_name(h->params.kind),
                     "block", h->params.block, "hidden", h->params.hidden, "cascade",
                     h->params.cascade, "seed", ad_json_seed_value(h->params.seed));
}

static adapt_status read_params(adapt_head_params *p, const json_t *o)
{
    const char *kind = "";
    int64_t hidden = 0;
    const json_t *cascade = json_object_get(o, "cascade");
    adapt_status st = json_is_object(o)
                          ? ad_json_string(&kind, o, "kind")
                          : ad_json_bad_field("exits", "holds an entry that is not an object");
    if (!st && (p->kind = ad_head_kind_from_name(kind)) < 0)
        st = ad_json_bad_field("kind", "names no head kind");
    if (!st)
        st = ad_json_int32(&p->block, o, "block");
    if (!st)
        st = ad_json_int(&hidden, o, "hidden", 0, AD_MODEL_MAX_ARCH_ENTRIES);
    if (!st && !json_is_boolean(cascade))
        st = ad_json_bad_field("cascade", "is missing or not true/false");
    if (!st)
        st = ad_json_seed(&p->seed, o);
    p->hidden = (int32_t)hidden;
    p->cascade = json_is_true(cascade);
    return st;
}

static adapt_status read(adapt_model *m, const json_t *entry, int64_t max_values)
{
    adapt_head_params p;
    adapt_head_params_init(&p, sizeof p);
    adapt_status st = read_params(&p, entry);
    if (st)
        return st;
    adapt_head *head = NULL;
    const int64_t room = max_values - ad_param_values(m);
    st = ad_json_as_format(ad_head_new(&head, m, &p, room > 0 ? room : 0));
    if (!st && (st = ad_json_as_format(adapt_model_add_head(m, head, NULL))))
        adapt_head_free(head);
    return st;
}

static void refresh(void *self, const adapt_model *m)
{
    ad_head_plan(self, m);
}

static void destroy(void *self)
{
    ad_head_destroy(self);
}

const ad_attachment_type ad_exit_head_type = {
    .member = "exits", /* "heads" is taken by the ViT's attention heads */
    .params = head_params, .describe = describe, .read = read, .refresh = refresh,
    .destroy = destroy,
};

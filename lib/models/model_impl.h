/* The model object behind adapt_model: a list of blocks, each a short chain of layers, and the
 * parameters they own. Shared by the model files of lib/models only. */
#ifndef AD_MODELS_MODEL_IMPL_H
#define AD_MODELS_MODEL_IMPL_H

#include <stdbool.h>

#include "adapt.h"
#include "lib/core/busy.h"
#include "lib/models/attachment.h"
#include "lib/models/model.h"
#include "lib/nn/chain.h"

typedef struct {
    int32_t kind; /* adapt_layer_kind of the block's principal layer */
    ad_layer layers[AD_CHAIN_MAX_LAYERS];
    int32_t n_layers;
    ad_chain_plan plan; /* how its layers run */
    ad_dims in, out; /* per sample */
    int64_t flops, n_params;
    int64_t own_flops; /* flops less its replacements', which charge the meter themselves */
    int32_t join;      /* the block whose output joins this block's input (join.c), or -1 */
} ad_block;

typedef enum { AD_ARCH_SEQUENTIAL, AD_ARCH_MLP, AD_ARCH_CNN, AD_ARCH_VIT } ad_arch;

/* Where a path leads: a layer of a block, a part of that layer, or a slice of `span`
 * consecutive layers starting there (site.c). */
typedef struct {
    int32_t block, layer;
    const ad_layer_part *part; /* NULL: the whole layer (or slice) */
    int32_t span;              /* layers covered: 1 but for a slice */
} ad_site;

/* A module that runs in place of a submodule (replace.c). */
typedef struct {
    char *path;          /* "blocks.3.mlp" */
    adapt_model *module; /* owned */
    ad_site site;
} ad_replacement;

/* A parameter as the model shows it: a backbone parameter no replacement hides, or one of a
 * replacement's under its path. */
typedef struct {
    const char *name;
    adapt_tensor *tensor;
    char *owned_name; /* the prefixed name of a replacement's parameter, else NULL */
} ad_visible_param;

struct adapt_model {
    ad_arch arch;
    ad_dims input; /* per sample */
    ad_block *blocks;
    int32_t n_blocks, block_capacity;
    int32_t block_limit; /* more blocks than this is a FORMAT error (hostile descriptions) */
    ad_param_list params;
    ad_replacement *replaced; /* in the order they were made */
    int32_t n_replaced;
    ad_visible_param *visible; /* the parameters the model shows, heads' excluded */
    int32_t n_visible;
    const adapt_model *owner;  /* the model this one replaces a submodule of, or NULL */
    bool in_pipeline;          /* a pipeline's stage: the pipeline frees it (lib/pipeline) */
    ad_attachment *attached; /* beside the blocks, e.g. exit heads (lib/adaptive) */
    int32_t n_attached;
    char *architecture; /* JSON text, see ad_model_architecture() */
    ad_busy busy; /* the single-writer rule (lib/core/busy.h); its parent is the owner's */
};

/* An empty model holding at most `max_values` parameter values. INT64_MAX means built through
 * the API; anything less, built from text (ad_model_from_architecture), which also limits it
 * to AD_MODEL_MAX_ARCH_ENTRIES blocks: more of either is FORMAT. */
adapt_status ad_model_new(adapt_model **out, ad_arch arch, const ad_dims *input, uint64_t seed,
                          int64_t max_values);

/* FORMAT when a model that will have `blocks` blocks exceeds its block limit: lets builders
 * refuse a hostile description before building any of it. */
adapt_status ad_model_check_blocks(const adapt_model *model, int64_t blocks);

/* Input shape of the next block: the last block's output, or the model input. */
ad_dims ad_model_tail(const adapt_model *model);

/* The block's forward on x (forward.c). */
adapt_status ad_block_run(adapt_tensor **out, adapt_context *ctx, const ad_block *b,
                          adapt_tensor *x);

/* Starts block `b` of principal kind `kind` taking `in`. */
void ad_block_start(ad_block *b, int32_t kind, const ad_dims *in);

/* Appends layer `p` to block `b`, fed by the block's current output. On error the parameter
 * list is as it was. */
adapt_status ad_block_add(ad_block *b, const adapt_layer_params *p, ad_param_list *list,
                          const ad_layer_names *names, const char *fn);

/* Appends a finished block to the model (copied). */
adapt_status ad_model_push_block(adapt_model *model, const ad_block *b);

/* Overlays a caller's params struct of C type `type` on `own` (already filled by its
 * _params_init()), as ad_struct_read(); NULL is INVALID_ARGUMENT. */
adapt_status ad_read_struct(void *own, size_t own_size, const void *user, const char *type,
                            const char *fn);

/* Builders behind the public create functions; `max_values` as for ad_model_new(). */
adapt_status ad_build_mlp(adapt_model **out, const adapt_mlp_params *p,
                          int64_t max_values);
adapt_status ad_build_cnn(adapt_model **out, const adapt_cnn_params *p,
                          int64_t max_values);
adapt_status ad_build_vit(adapt_model **out, const adapt_vit_params *p,
                          int64_t max_values);
adapt_status ad_build_sequential(adapt_model **out, int32_t input_ndim,
                                 const int64_t *input_shape, uint64_t seed, int64_t max_values);

/* (Re)writes model->architecture; OUT_OF_MEMORY leaves the old text in place. */
adapt_status ad_describe_mlp(adapt_model *model, const adapt_mlp_params *p);
adapt_status ad_describe_cnn(adapt_model *model, const adapt_cnn_params *p);
adapt_status ad_describe_vit(adapt_model *model, const adapt_vit_params *p);
adapt_status ad_describe_sequential(adapt_model *model);

/* Rewrites the members of model->architecture that list its attachments, one per attachment
 * type (none of a type: no member); OUT_OF_MEMORY leaves the old text in place. */
adapt_status ad_describe_attachments(adapt_model *model);

/* Parameter values the model holds, its attachments' and replacements' included. */
int64_t ad_param_values(const adapt_model *model);

/* Where `path` leads in m (site.c); INVALID_ARGUMENT, naming the path, when nowhere. */
adapt_status ad_model_site(ad_site *site, const adapt_model *m, const char *path,
                           const char *fn);
/* The site's (first) layer, and the k-th layer of its span (k < span). */
ad_layer *ad_site_layer(adapt_model *m, const ad_site *s);
const ad_layer *ad_site_covered(const adapt_model *m, const ad_site *s, int32_t k);
/* The block of the site's last layer. */
int32_t ad_site_last_block(const adapt_model *m, const ad_site *s);
/* Whether l is one of a replaced slice's layers after its first (replace.c). */
bool ad_layer_passed_over(const ad_layer *l);
/* The override that runs at the site: the layer's, or its part's; a slice's module sits in
 * its first layer's. */
ad_override *ad_site_slot(adapt_model *m, const ad_site *s);
/* Per-sample shapes at a site: a part takes its layer's input shape, a slice its first
 * layer's, and gives its last layer's output shape. */
void ad_site_shapes(ad_dims *in, ad_dims *out, const adapt_model *m, const ad_site *s);
/* Whether `path` is `prefix` followed by ".rest" (the path of something inside it). */
bool ad_path_inside(const char *path, const char *prefix);
/* Whether two sites share a layer (two parts of one layer do too). */
bool ad_sites_overlap(const adapt_model *m, const ad_site *a, const ad_site *b);
/* Block b's FLOPs and plan after a change of what runs at one of its sites. */
void ad_model_refresh_block(adapt_model *m, int32_t b);

/* The parameters the model shows for its current replacements, into a new list (owned: free
 * with ad_visible_free()); the model is only read. */
adapt_status ad_visible_params(ad_visible_param **out, int32_t *count, const adapt_model *m);
void ad_visible_free(ad_visible_param *v, int32_t n);

/* Frees the replacements and the visible list. */
void ad_model_free_replacements(adapt_model *model);

/* model->architecture with its "replaced" member rewritten from the current replacements
 * (none: no member), as new text (owned: free()); the model is only read. */
adapt_status ad_describe_replacements(char **text, const adapt_model *model);

#endif

/* The kinds by name, for code that recognises one (the fusion plans, the fast exit paths). */
#ifndef AD_NN_LAYER_KINDS_H
#define AD_NN_LAYER_KINDS_H

#include "lib/nn/layer_kind.h"

#define AD_LAYER_KIND(value, descriptor) extern const ad_layer_kind descriptor;
#include "lib/nn/layer_kinds.def"
#undef AD_LAYER_KIND

#endif

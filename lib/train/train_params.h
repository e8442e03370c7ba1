/* Reading and validating adapt_train_params. */
#ifndef AD_TRAIN_TRAIN_PARAMS_H
#define AD_TRAIN_TRAIN_PARAMS_H

#include "adapt.h"
#include "lib/train/optimizer.h"

/* Defaults overlaid with the first min(user->struct_size, sizeof *own) bytes of `user` (NULL:
 * defaults), then every field checked: NaN/inf -> NONFINITE, out of range -> INVALID_ARGUMENT. */
adapt_status ad_train_params_read(adapt_train_params *own, const adapt_train_params *user,
                                  const char *fn);

/* The optimizer part of validated params. */
ad_optim_config ad_train_optim_config(const adapt_train_params *p);

#endif

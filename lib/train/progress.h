/* Wall-clock timing and the default progress printer of adapt_model_train. */
#ifndef AD_TRAIN_PROGRESS_H
#define AD_TRAIN_PROGRESS_H

#include <stdbool.h>

#include "adapt.h"

/* Monotonic seconds from an arbitrary origin. */
double ad_clock_seconds(void);

/* One updating line on stderr, rewritten at most ~10 times a second, finished with a newline
 * at each epoch end. Silent unless stderr is a terminal. */
typedef struct {
    bool enabled;
    double last_shown;
    int width; /* characters of the line on screen, to blank leftovers */
} ad_printer;

void ad_printer_init(ad_printer *printer);
void ad_printer_show(ad_printer *printer, const adapt_progress *progress, bool epoch_end);

#endif

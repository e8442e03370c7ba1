#include "lib/train/schedule.h"

#include <math.h>

/* M_PI is POSIX, not ISO C. */
static const double pi = 3.14159265358979323846;

static double scheduled(const ad_schedule *s, int64_t step)
{
    switch (s->kind) {
    case ADAPT_SCHEDULE_STEP: {
        const int64_t epoch = step / s->steps_per_epoch;
        return s->base_lr * pow(s->gamma, (double)(epoch / s->step_epochs));
    }
    case ADAPT_SCHEDULE_COSINE: {
        if (s->total_steps < 2)
            return s->base_lr;
        const double progress = (double)step / (double)(s->total_steps - 1);
        return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(pi * progress));
    }
    case ADAPT_SCHEDULE_CONSTANT:
        break;
    }
    return s->base_lr;
}

float ad_schedule_lr(const ad_schedule *s, int64_t step)
{
    double lr = scheduled(s, step);
    if (step < s->warmup_steps)
        lr *= (double)(step + 1) / (double)s->warmup_steps;
    return (float)lr;
}

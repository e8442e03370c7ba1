/* clock_gettime, fileno and isatty are POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "lib/train/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define PRINT_INTERVAL_SECONDS 0.1

double ad_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ad_printer_init(ad_printer *printer)
{
    *printer = (ad_printer){.enabled = isatty(fileno(stderr)) == 1, .last_shown = -1e300};
}

/* "1:02:03" or "2:03". */
static void format_duration(char *buf, size_t size, double seconds)
{
    const long s = seconds > 0.0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void ad_printer_show(ad_printer *printer, const adapt_progress *p, bool epoch_end)
{
    const double now = ad_clock_seconds();
    if (!printer->enabled || (!epoch_end && now - printer->last_shown < PRINT_INTERVAL_SECONDS))
        return;
    printer->last_shown = now;
    char eta[32], val[32] = "";
    format_duration(eta, sizeof eta, p->eta_seconds);
    if (p->val_accuracy >= 0.0f)
        snprintf(val, sizeof val, "  val acc %.2f%%", 100.0 * p->val_accuracy);
    char line[256];
    int n = snprintf(line, sizeof line,
                     "epoch %d/%d  step %lld/%lld  loss %.4f  lr %.3g  %.0f samples/s  ETA %s%s",
                     (int)p->epoch, (int)p->epochs, (long long)p->step, (long long)p->steps,
                     (double)p->loss, (double)p->learning_rate, p->samples_per_second, eta, val);
    n = n < (int)sizeof line ? n : (int)sizeof line - 1;
    fprintf(stderr, "\r%s%*s", line, printer->width > n ? printer->width - n : 0, "");
    printer->width = epoch_end ? 0 : n;
    if (epoch_end)
        fputc('\n', stderr);
    fflush(stderr);
}

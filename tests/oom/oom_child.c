#define _DEFAULT_SOURCE /* dup2, fstat, unlink */
#include "tests/oom/oom_child.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/oom/failing_malloc.h"
#include "tests/oom/oom_workflows.h"

const char *const oom_mode_names[3] = {"cold", "warm", "persistent"};

typedef struct child {
    const oom_workflow *w;
    oom_mode mode;
    long k;
    oom_fixture f;
    char reference[600];
    char why[1024];
} child;

/* Output the library wrote while allocations were refused: it must write none. */
typedef struct capture {
    int saved_out, saved_err, file;
} capture;

static int capture_start(capture *c, const char *files)
{
    char path[600];
    snprintf(path, sizeof path, "%s/printed.%ld", files, (long)getpid());
    fflush(NULL);
    c->file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    unlink(path);
    c->saved_out = dup(1);
    c->saved_err = dup(2);
    return c->file < 0 || c->saved_out < 0 || c->saved_err < 0 || dup2(c->file, 1) < 0 ||
           dup2(c->file, 2) < 0;
}

/* Returns the bytes printed meanwhile. */
static long capture_stop(capture *c)
{
    fflush(NULL);
    dup2(c->saved_out, 1);
    dup2(c->saved_err, 2);
    close(c->saved_out);
    close(c->saved_err);
    struct stat s;
    const long printed = fstat(c->file, &s) ? -1 : (long)s.st_size;
    close(c->file);
    return printed;
}

static int fail(child *c, const char *why)
{
    if (!c->why[0])
        snprintf(c->why, sizeof c->why, "%s", why);
    return 1;
}

/* Compares the collected result with the reference, or makes it the reference. */
static int compare_result(child *c, const char *when)
{
    free(c->f.out);
    c->f.out = NULL;
    c->f.out_bytes = 0;
    if (c->w->collect(&c->f))
        return fail(c, "cannot collect the result");
    FILE *ref = fopen(c->reference, c->k ? "rb" : "wb");
    if (!ref)
        return fail(c, "cannot open the reference");
    int bad = 0;
    if (!c->k)
        bad = fwrite(c->f.out, 1, c->f.out_bytes, ref) != c->f.out_bytes;
    else
        for (size_t i = 0; !bad && i < c->f.out_bytes; i++)
            bad = fgetc(ref) != c->f.out[i];
    if (c->k && !bad)
        bad = fgetc(ref) != EOF;
    fclose(ref);
    if (bad)
        snprintf(c->why, sizeof c->why, "%s: the result differs from an undisturbed run", when);
    return bad;
}

static int run_unarmed(child *c, const char *when)
{
    const adapt_status st = c->w->run(&c->f);
    if (st) {
        snprintf(c->why, sizeof c->why, "%s: %s: %s", when, adapt_status_string(st),
                 adapt_last_error());
        return 1;
    }
    return 0;
}

/* The armed run: nothing printed, OK or OUT_OF_MEMORY with a message, nothing
 * damaged. */
static int run_armed(child *c, adapt_status *st, long *count, long *refused)
{
    if (c->w->snapshot && c->w->snapshot(&c->f))
        return fail(c, "cannot take the snapshot");
    capture cap;
    if (capture_start(&cap, c->f.files))
        return fail(c, "cannot capture output");
    fm_arm(c->k, c->mode == OOM_PERSISTENT);
    *st = c->w->run(&c->f);
    *count = fm_disarm();
    *refused = fm_refused();
    const long printed = capture_stop(&cap);
    if (printed)
        return snprintf(c->why, sizeof c->why, "the library printed %ld bytes", printed), 1;
    if (*st != ADAPT_OK && *st != ADAPT_ERR_OUT_OF_MEMORY)
        return snprintf(c->why, sizeof c->why, "returned %s: %s", adapt_status_string(*st),
                        adapt_last_error()), 1;
    if (*st && !*refused)
        return fail(c, "out of memory without a refused allocation");
    if (*st && !adapt_last_error()[0])
        return fail(c, "out of memory without a message");
    if (!*st)
        return compare_result(c, "after the disturbed run");
    return c->w->after_failure ? c->w->after_failure(&c->f, c->why, sizeof c->why) : 0;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int sweep_point(child *c)
{
    adapt_status st = ADAPT_OK;
    long count = 0, refused = 0;
    int bad = c->w->setup(&c->f) ? fail(c, "setup failed") : 0;
    if (!bad && c->mode != OOM_COLD) {
        bad = run_unarmed(c, "warm-up run");
        oom_end_run(&c->f);
    }
    if (!bad)
        bad = run_armed(c, &st, &count, &refused);
    oom_end_run(&c->f);
    if (!bad && st) /* the objects still work: the same calls now succeed */
        bad = run_unarmed(c, "run after the failure") ||
              (c->w->repeatable && compare_result(c, "run after the failure"));
    oom_end_run(&c->f);
    if (bad)
        printf("%ld FAIL %s\n", c->k, c->why);
    else
        printf("%ld pass %d %ld %ld\n", c->k, (int)st, count, refused);
    fflush(stdout);
    return bad;
}

static int one_point(const oom_workflow *w, oom_mode mode, long k, const char *files)
{
    child c = {.w = w, .mode = mode, .k = k, .f = {.files = files}};
    snprintf(c.reference, sizeof c.reference, "%s/reference.%s.%s", files, w->name,
             oom_mode_names[mode]);
    snprintf(c.f.dir, sizeof c.f.dir, "%s/run.XXXXXX", files);
    if (!mkdtemp(c.f.dir))
        return printf("%ld FAIL cannot make %s\n", k, c.f.dir), 1;
    const int bad = sweep_point(&c);
    oom_fixture_free(&c.f);
    remove_dir(c.f.dir);
    return bad;
}

int oom_child(const char *workflow, oom_mode mode, long first, long last, const char *files)
{
    const oom_workflow *w = oom_find(workflow);
    if (!w)
        return printf("%ld FAIL no workflow %s\n", first, workflow), 2;
    int bad = 0;
    for (long k = first; !bad && k <= last; k++)
        bad = one_point(w, mode, k, files);
    return bad;
}

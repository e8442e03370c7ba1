#define _DEFAULT_SOURCE /* mkdtemp, realpath, readlink */
/* The out-of-memory sweep: for one workflow, every allocation it makes is
 * refused in turn (sqlite's method), and each point must end in OK or
 * ADAPT_ERR_OUT_OF_MEMORY with nothing printed, nothing damaged and every
 * object still working (tests/oom/oom_child.c). The points run in a child
 * process, so that a crash, an abort or an exit fails the sweep instead of
 * ending it: cold points each in a fresh one, the others all in one.
 *
 *   test_oom WORKFLOW MODE...                  the sweep in each mode, as a Check suite
 *   test_oom --child WORKFLOW MODE K1 K2 FILES points K1..K2 (used by the sweep)
 *   test_oom --prepare FILES                   writes the input files (to run points by hand)
 */
#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/oom/oom_child.h"
#include "tests/oom/oom_workflows.h"

static const char *workflow;
static char files[PATH_MAX];
static char self[PATH_MAX];

/* What the points of a sweep returned. */
typedef struct tally {
    long allocations; /* made by the undisturbed run */
    long points, ok, out_of_memory;
    char failure[1400];
} tally;

static void note_failure(tally *t, long k, const char *what)
{
    snprintf(t->failure, sizeof t->failure, "allocation %ld refused: %s", k, what);
}

/* Runs points first..last in one process; false at the first one that fails. */
static bool run_range(oom_mode mode, long first, long last, tally *t)
{
    char command[3 * PATH_MAX], line[1200];
    snprintf(command, sizeof command, "'%s' --child %s %s %ld %ld '%s'", self, workflow,
             oom_mode_names[mode], first, last, files);
    FILE *pipe = popen(command, "r");
    long next = first, count, refused;
    int status;
    while (pipe && !t->failure[0] && fgets(line, sizeof line, pipe)) {
        line[strcspn(line, "\n")] = '\0';
        long k;
        if (sscanf(line, "%ld pass %d %ld %ld", &k, &status, &count, &refused) != 4 || k != next)
            note_failure(t, next, line);
        else if (k == 0)
            t->allocations = count;
        else {
            t->points++;
            t->ok += status == ADAPT_OK;
            t->out_of_memory += status == ADAPT_ERR_OUT_OF_MEMORY;
        }
        next += !t->failure[0];
    }
    const int exit_status = pipe ? pclose(pipe) : -1;
    if (!t->failure[0] && WIFSIGNALED(exit_status))
        snprintf(line, sizeof line, "killed by signal %d", WTERMSIG(exit_status));
    else if (!t->failure[0] && (!WIFEXITED(exit_status) || WEXITSTATUS(exit_status)))
        snprintf(line, sizeof line, "the process exited with status %d",
                 WIFEXITED(exit_status) ? WEXITSTATUS(exit_status) : -1);
    else if (!t->failure[0] && next != last + 1)
        snprintf(line, sizeof line, "no report");
    else
        return !t->failure[0];
    if (next > last) /* every point passed: what failed came at exit, such as a leak report */
        snprintf(t->failure, sizeof t->failure, "after point %ld: %s", last, line);
    else
        note_failure(t, next, line);
    return false;
}

/* Refuses k = 1 .. the undisturbed run's allocations + 1 (the last refuses nothing):
 * cold, each in a fresh process; otherwise all in one (a new one after a crash is
 * not needed: a crash fails the sweep). */
static void sweep(oom_mode mode)
{
    tally t = {0};
    const char *name = oom_mode_names[mode];
    ck_assert_msg(run_range(mode, 0, 0, &t), "%s %s, undisturbed: %s", workflow, name,
                  t.failure);
    const long last = t.allocations + 1;
    bool passed = true;
    if (mode == OOM_COLD)
        for (long k = 1; passed && k <= last; k++)
            passed = run_range(mode, k, k, &t);
    else
        passed = run_range(mode, 1, last, &t);
    ck_assert_msg(passed, "%s %s: %s", workflow, name, t.failure);
    printf("%s %s: %ld allocations, %ld points: %ld OK, %ld out of memory\n", workflow, name,
           t.allocations, t.points, t.ok, t.out_of_memory);
}

START_TEST(cold) { sweep(OOM_COLD); }
END_TEST

START_TEST(warm) { sweep(OOM_WARM); }
END_TEST

START_TEST(persistent) { sweep(OOM_PERSISTENT); }
END_TEST

static int mode_named(const char *name)
{
    for (int mode = 0; mode < 3; mode++)
        if (!strcmp(name, oom_mode_names[mode]))
            return mode;
    return -1;
}

static int run_sweep(int n_modes, char **modes)
{
    char dir[] = "/tmp/adapt-oom.XXXXXX";
    if (!mkdtemp(dir) || !realpath(dir, files) || oom_prepare_files(files) ||
        readlink("/proc/self/exe", self, sizeof self - 1) < 0) {
        fprintf(stderr, "cannot prepare the input files: %s\n", adapt_last_error());
        return 1;
    }
    Suite *suite = suite_create(workflow);
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 1200);
    const TTest *tests[] = {cold, warm, persistent};
    for (int i = 0; i < n_modes; i++)
        tcase_add_test(tc, tests[mode_named(modes[i])]);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    const int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    char command[PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", files);
    if (system(command))
        fprintf(stderr, "could not remove %s\n", files);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "--child")) {
        const int mode = mode_named(argv[3]);
        return mode < 0 ? 2 : oom_child(argv[2], (oom_mode)mode, atol(argv[4]), atol(argv[5]),
                                        argv[6]);
    }
    if (argc == 3 && !strcmp(argv[1], "--prepare"))
        return oom_prepare_files(argv[2]) != ADAPT_OK;
    bool usage = argc < 3 || !oom_find(argv[1]);
    for (int i = 2; !usage && i < argc; i++)
        usage = mode_named(argv[i]) < 0;
    if (usage) {
        fprintf(stderr, "usage: %s WORKFLOW cold|warm|persistent...\n", argv[0]);
        return 2;
    }
    workflow = argv[1];
    return run_sweep(argc - 2, argv + 2);
}

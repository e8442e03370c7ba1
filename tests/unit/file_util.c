#define _POSIX_C_SOURCE 200809L

#include "file_util.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 512

static char scratch[64];

void tu_scratch_setup(void)
{
    strcpy(scratch, "/tmp/adapt_test_files_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
}

/* Depth first; a directory is made writable before its entries go. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *e;
        char child[PATH_CAP];
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void tu_scratch_teardown(void)
{
    remove_tree(scratch);
}

const char *tu_scratch_dir(void)
{
    return scratch;
}

const char *tu_in_scratch(const char *name)
{
    static char paths[8][PATH_CAP];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, PATH_CAP, "%s/%s", scratch, name);
    return p;
}

void tu_write_file(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

unsigned char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long end = ftell(f);
    ck_assert_int_ge(end, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    *len = (size_t)end;
    unsigned char *bytes = malloc(*len + 1);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_uint_eq(fread(bytes, 1, *len, f), *len);
    fclose(f);
    return bytes;
}

void tu_assert_file_holds(const char *path, const void *bytes, size_t len)
{
    size_t now_len;
    unsigned char *now = tu_slurp(path, &now_len);
    ck_assert_uint_eq(now_len, len);
    ck_assert_mem_eq(now, bytes, len);
    free(now);
}

int tu_count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

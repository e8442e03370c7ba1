/* Every failure's message begins with the public function the caller called, then ": ",
 * also when the cause lies in an internal layer that many entry points share. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "file_util.h"
#include "lib/core/error.h"

/* Fails the test unless adapt_last_error() begins with "<fn>: ". */
static void assert_names(const char *fn)
{
    const char *msg = adapt_last_error();
    const size_t n = strlen(fn);
    ck_assert_msg(strncmp(msg, fn, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ',
                  "'%s' does not begin with '%s: '", msg, fn);
}

START_TEST(prefix_names_the_caller_once)
{
    ck_assert_int_eq(ad_fail(ADAPT_ERR_SHAPE, "rank %d outside [0, %d]", 9, 8), ADAPT_ERR_SHAPE);
    ck_assert_int_eq(ad_prefix(ADAPT_ERR_SHAPE, "adapt_f"), ADAPT_ERR_SHAPE);
    ck_assert_str_eq(adapt_last_error(), "adapt_f: rank 9 outside [0, 8]");
    ad_prefix(ADAPT_ERR_SHAPE, "adapt_f"); /* already named: unchanged */
    ck_assert_str_eq(adapt_last_error(), "adapt_f: rank 9 outside [0, 8]");
    ad_prefix(ADAPT_ERR_SHAPE, "adapt"); /* "adapt_f:" is another name */
    ck_assert_str_eq(adapt_last_error(), "adapt: adapt_f: rank 9 outside [0, 8]");
    ck_assert_int_eq(ad_prefix(ADAPT_OK, "adapt_g"), ADAPT_OK); /* success: untouched */
    ck_assert_str_eq(adapt_last_error(), "adapt: adapt_f: rank 9 outside [0, 8]");
}
END_TEST

START_TEST(prefix_cuts_a_long_message_to_the_buffer)
{
    char long_text[2000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    ad_fail(ADAPT_ERR_IO, "%s", long_text);
    const size_t full = strlen(adapt_last_error());
    ck_assert_uint_lt(full, sizeof long_text - 1); /* the buffer is the bound */
    ad_prefix(ADAPT_ERR_IO, "adapt_f");
    assert_names("adapt_f");
    ck_assert_uint_eq(strlen(adapt_last_error()), full);
    ck_assert_int_eq(adapt_last_error()[full - 1], 'x');
}
END_TEST

START_TEST(shape_checks_name_the_caller)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    const int64_t shape[ADAPT_MAX_DIMS + 1] = {1};
    const float one = 1.0f;
    adapt_tensor *t = NULL;
    TU_FAILS(adapt_tensor_input(&t, ctx, ADAPT_MAX_DIMS + 1, shape, &one), ADAPT_ERR_SHAPE);
    assert_names("adapt_tensor_input");
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "rank"));
    TU_FAILS(adapt_param_create(&t, -1, shape), ADAPT_ERR_SHAPE);
    assert_names("adapt_param_create");
    TU_FAILS(adapt_npy_write(tu_in_scratch("x.npy"), &one, ADAPT_MAX_DIMS + 1, shape),
             ADAPT_ERR_SHAPE);
    assert_names("adapt_npy_write");
    adapt_context_free(ctx);
}
END_TEST

START_TEST(operations_name_themselves)
{
    adapt_context *ctx = tu_context(ADAPT_BACKEND_DEFAULT);
    const float one = 1.0f;
    adapt_tensor *x = NULL, *y = NULL;
    TU_OK(adapt_tensor_input(&x, ctx, 1, (const int64_t[]){1}, &one));
    /* Past the op's own checks, the shared size guard finds the overflow. */
    const int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    TU_FAILS(adapt_op_reshape(&y, ctx, x, 2, huge), ADAPT_ERR_OVERFLOW);
    assert_names("adapt_op_reshape");
    TU_FAILS(adapt_op_matmul(&y, ctx, x, x, 0), ADAPT_ERR_SHAPE);
    assert_names("adapt_op_matmul");
    adapt_context_free(ctx);
}
END_TEST

/* A checkpoint with no tensors whose metadata holds `metadata`. */
static void write_checkpoint(const char *path, const char *metadata)
{
    char file[1024];
    int len = snprintf(file + 8, sizeof file - 8, "{\"__metadata__\":%s}", metadata);
    ck_assert_int_lt(len + 8, (int)sizeof file - 8);
    while (len % 8)
        file[8 + len++] = ' ';
    for (int i = 0; i < 8; i++)
        file[i] = (char)(((uint64_t)len >> (8 * i)) & 0xff);
    tu_write_file(path, file, (size_t)len + 8);
}

START_TEST(model_load_names_itself_for_a_bad_architecture)
{
    const char *path = tu_in_scratch("m.safetensors");
    write_checkpoint(path, "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\","
                           "\"architecture\":\"{]\"}");
    adapt_model *m = NULL;
    TU_FAILS(adapt_model_load(&m, path), ADAPT_ERR_FORMAT);
    assert_names("adapt_model_load");
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "model architecture is not JSON"));
    write_checkpoint(path, "{\"format\":\"libadapt\",\"libadapt_version\":\"0.1.0\","
                           "\"architecture\":\"[1]\"}");
    TU_FAILS(adapt_model_load(&m, path), ADAPT_ERR_FORMAT);
    assert_names("adapt_model_load");
    ck_assert_ptr_nonnull(strstr(adapt_last_error(), "is not a JSON object"));
}
END_TEST

static Suite *messages_suite(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("messages");
    tcase_add_checked_fixture(tc, tu_scratch_setup, tu_scratch_teardown);
    tcase_add_test(tc, prefix_names_the_caller_once);
    tcase_add_test(tc, prefix_cuts_a_long_message_to_the_buffer);
    tcase_add_test(tc, shape_checks_name_the_caller);
    tcase_add_test(tc, operations_name_themselves);
    tcase_add_test(tc, model_load_names_itself_for_a_bad_architecture);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(messages_suite());
}

#include "check_util.h"
START_TEST(placeholder) { ck_assert(1); }
END_TEST
int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, placeholder);
    suite_add_tcase(s, tc);
    return tu_run(s);
}

/* Built against the installed library through pkg-config. */
#include <adapt.h>
#include <stdio.h>

int main(void)
{
    adapt_context *ctx = NULL;
    adapt_tensor *w = NULL, *y = NULL;
    float one = 1.0f, seen = 0.0f;
    if (adapt_context_create(&ctx, NULL) || adapt_param_create(&w, 1, (const int64_t[]){1}) ||
        adapt_param_write(w, &one, 1) || adapt_op_scale(&y, ctx, w, 3.0f) ||
        adapt_tensor_read(y, &seen, 1) || seen != 3.0f) {
        fprintf(stderr, "installed libadapt failed: %s\n", adapt_last_error());
        return 1;
    }
    printf("installed libadapt %s works\n", adapt_version_string());
    adapt_tensor_free(w);
    adapt_context_free(ctx);
    return 0;
}

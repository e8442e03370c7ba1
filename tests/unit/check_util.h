/* Helpers shared by the Check suites: contexts, random parameters, and the
 * finite-difference gradient check every op's test uses. */
#ifndef TESTS_CHECK_UTIL_H
#define TESTS_CHECK_UTIL_H

#include <check.h>
#include <stdint.h>

#include "adapt.h"

#define TU_OK(call)                                                                    \
    do {                                                                               \
        adapt_status tu_st_ = (call);                                                  \
        ck_assert_msg(tu_st_ == ADAPT_OK, "%s -> %s: %s", #call,                       \
                      adapt_status_string(tu_st_), adapt_last_error());                \
    } while (0)

#define TU_FAILS(call, status)                                                         \
    do {                                                                               \
        adapt_status tu_st_ = (call);                                                  \
        ck_assert_msg(tu_st_ == (status), "%s -> %s, expected %s", #call,              \
                      adapt_status_string(tu_st_), adapt_status_string(status));       \
        ck_assert_msg(adapt_last_error()[0] != '\0', "%s left no error message", #call); \
    } while (0)

/* A single-threaded context on `backend` with gradient recording on. */
adapt_context *tu_context(adapt_backend backend);
/* The same with `n_threads` threads. */
adapt_context *tu_context_threads(adapt_backend backend, int32_t n_threads);

/* A parameter with values uniform in [lo, hi) from a fixed seed. */
adapt_tensor *tu_param(int32_t ndim, const int64_t *shape, uint64_t seed, float lo, float hi);

/* The record behind a handle of the public API, for the internal functions white-box suites
 * call (fails the test unless the handle is live), and the handle of a record they made. */
adapt_tensor *tu_record(const adapt_tensor *handle);
adapt_tensor *tu_handle(const adapt_tensor *record);

/* Fills x[0..n) with values uniform in [lo, hi) from `seed`. */
void tu_fill(float *x, int64_t n, uint64_t seed, float lo, float hi);

/* Builds the op under test from `params` into *out. */
typedef adapt_status (*tu_forward_fn)(adapt_tensor **out, adapt_context *ctx,
                                      adapt_tensor **params, void *arg);

/* Compares the analytic gradient of L = sum(out * R), R fixed random, with
 * central differences (step `h`) for every element of every parameter that
 * requires a gradient (at most `max_checks` elements each, spread evenly).
 * Fails the test if |analytic - numeric| > tol * max(1, |numeric|). */
void tu_gradcheck(tu_forward_fn forward, adapt_tensor **params, int32_t n_params, void *arg,
                  double h, double tol, int32_t max_checks);

/* Runs the forward pass and the backward pass of sum(out * R) on one thread
 * and on `n_threads`, and fails unless outputs and parameter gradients agree
 * within tol * max(1, |value|); tol 0 demands bit-identical results. */
void tu_check_threads(tu_forward_fn forward, adapt_tensor **params, int32_t n_params,
                      void *arg, adapt_backend backend, int32_t n_threads, double tol);

/* A sequential model of an MLP's shape on [tokens, dim]: token_linear(hidden), GELU,
 * token_linear(dim). */
adapt_model *tu_token_mlp(int64_t tokens, int64_t dim, int64_t hidden, uint64_t seed);

/* Runs a suite, printing Check's summary; returns the process exit code. */
int tu_run(Suite *suite);

#endif

/* Small row-major products without packing (gemm_small.h).
 *
 * The AVX-512 kernel walks C in strips of 32 columns (then one of 16, then a masked one of
 * the last 1-15). Within a strip, k runs in passes of KC rows of B, so that the strip's KC x 32
 * block of B (32 KiB) stays in L1 while every block of rows of A goes past it; a pass after the
 * first resumes from the partial sums it stored in C, which continues each element's chain of
 * multiply-adds exactly where it stopped (a float stored and loaded is the same float), so the
 * order over k stays p = 0 .. k-1. A block of up to MR rows keeps its rows x 32 outputs in
 * registers for the whole pass: per p one row of B (two vectors) is loaded and each A[r][p]
 * broadcast into two FMAs. */
#include "lib/kernels/gemm_small.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "lib/kernels/vector_math.h"

/* ---- portable ---------------------------------------------------------------------------- */

/* Row c[0 .. n) (+)= a[0 .. k) B: a pass over the row per p, in order, which the compiler
 * vectorises over the columns (the clones give it the machine's widest registers); the row of C
 * stays in L1 between passes. */
AD_VECTOR_CLONES
static void portable_row(int64_t n, int64_t k, const float *restrict a, const float *restrict b,
                         int64_t ldb, float *restrict c, bool accumulate)
{
    if (!accumulate)
        for (int64_t j = 0; j < n; j++)
            c[j] = 0.0f;
    for (int64_t p = 0; p < k; p++) {
        const float ap = a[p];
        const float *restrict bp = b + p * ldb;
        for (int64_t j = 0; j < n; j++)
            c[j] += ap * bp[j];
    }
}

void ad_gemm_small_portable(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate)
{
    for (int64_t i = 0; i < m; i++)
        portable_row(n, k, a + i * lda, b, ldb, c + i * ldc, accumulate);
}

/* ---- AVX-512 ----------------------------------------------------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)

#define INLINED static inline __attribute__((always_inline))
#define LANES 16
#define MR 8   /* rows of a tile: 16 accumulators and 2 vectors of B in the 32 registers */
#define KC 256 /* rows of B per pass: 256 x 32 floats, 32 KiB of the 48 KiB L1 */

/* A tile's columns: 32 (two vectors), 16, or the last 1 .. 15 under a mask. */
enum { WIDE, HALF, TAIL };

/* One tile of one pass: A at its first row and the pass's first p, B at the pass's first row
 * and the tile's first column, C at the tile's corner. */
typedef struct {
    const float *a, *b;
    float *c;
    int64_t k, lda, ldb, ldc;
    int kind;
    __mmask16 tail; /* the columns of a TAIL tile */
    bool accumulate;
} tile_job;

AD_TARGET_AVX512 INLINED __m512 load_cols(const float *p, int kind, __mmask16 tail)
{
    return kind == TAIL ? _mm512_maskz_loadu_ps(tail, p) : _mm512_loadu_ps(p);
}

AD_TARGET_AVX512 INLINED void store_cols(float *p, __m512 v, int kind, __mmask16 tail)
{
    if (kind == TAIL)
        _mm512_mask_storeu_ps(p, tail, v);
    else
        _mm512_storeu_ps(p, v);
}

/* C tile (+)= A B over the pass. `rows` and `kind` are constants at every call, so the
 * rows x vecs accumulators are registers and the loops unroll away. */
AD_TARGET_AVX512 INLINED void tile(const tile_job *t, int rows, int kind)
{
    const int vecs = kind == WIDE ? 2 : 1;
    const float *a = t->a, *b = t->b;
    float *c = t->c; /* locals: the stores into C could otherwise alias *t */
    const int64_t k = t->k, lda = t->lda, ldb = t->ldb, ldc = t->ldc;
    const __mmask16 tail = t->tail;
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++)
            acc[r][v] = t->accumulate ? load_cols(c + r * ldc + v * LANES, kind, tail)
                                      : _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m512 bv[2];
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++)
            bv[v] = load_cols(b + p * ldb + v * LANES, kind, tail);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            const __m512 ar = _mm512_set1_ps(a[r * lda + p]);
#pragma GCC unroll 2
            for (int v = 0; v < vecs; v++)
                acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++)
            store_cols(c + r * ldc + v * LANES, acc[r][v], kind, tail);
}

/* One function per row count, each with the three kinds inlined. */
#define TILE_ROWS(R)                                                                           \
    AD_TARGET_AVX512 static void tile_##R(const tile_job *t)                                   \
    {                                                                                          \
        if (t->kind == WIDE)                                                                   \
            tile(t, R, WIDE);                                                                  \
        else if (t->kind == HALF)                                                              \
            tile(t, R, HALF);                                                                  \
        else                                                                                   \
            tile(t, R, TAIL);                                                                  \
    }
TILE_ROWS(1)
TILE_ROWS(2)
TILE_ROWS(3)
TILE_ROWS(4)
TILE_ROWS(5)
TILE_ROWS(6)
TILE_ROWS(7)
TILE_ROWS(8)

static void (*const tile_of_rows[MR + 1])(const tile_job *) = {
    NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7, tile_8};

/* One pass of one strip over all rows. The rows go in ceil(m / MR) blocks as even as they come
 * (65 rows: 8 8 7 7 7 7 7 7 7): a last block of a row or two would leave too few independent
 * FMA chains to cover the FMA latency. */
AD_TARGET_AVX512 static void pass_rows(tile_job *t, int64_t m, const float *a, float *c)
{
    const int64_t blocks = (m + MR - 1) / MR;
    for (int64_t blk = 0, row = 0; blk < blocks; blk++) {
        const int rows = (int)(m / blocks + (blk < m % blocks));
        t->a = a + row * t->lda;
        t->c = c + row * t->ldc;
        tile_of_rows[rows](t);
        row += rows;
    }
}

AD_TARGET_AVX512 static void gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a,
                                         int64_t lda, const float *b, int64_t ldb, float *c,
                                         int64_t ldc, bool accumulate)
{
    tile_job t = {.lda = lda, .ldb = ldb, .ldc = ldc};
    for (int64_t col = 0, width; col < n; col += width) {
        const int64_t left = n - col;
        t.kind = left >= 2 * LANES ? WIDE : left >= LANES ? HALF : TAIL;
        width = t.kind == WIDE ? 2 * LANES : t.kind == HALF ? LANES : left;
        t.tail = (__mmask16)((1u << (width & (LANES - 1))) - 1);
        for (int64_t p = 0; p < k; p += KC) {
            t.k = k - p < KC ? k - p : KC;
            t.b = b + p * ldb + col;
            t.accumulate = accumulate || p > 0; /* later passes resume from C */
            pass_rows(&t, m, a + p, c + col);
        }
    }
}

#endif

/* ---- dispatch ---------------------------------------------------------------------------- */

void ad_gemm_small(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc, bool accumulate)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* an empty sum: C unchanged, or zero */
        for (int64_t i = 0; !accumulate && i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = 0.0f;
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (ad_has_avx512()) {
        gemm_avx512(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        return;
    }
#endif
    ad_gemm_small_portable(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

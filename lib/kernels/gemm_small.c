/* Small row-major products without packing (gemm_small.h).
 *
 * AVX-512, more than SWEEP_ROWS rows: tiles. C is walked in strips of 32 columns (then one of
 * 16, then a masked one of the last 1-15). Within a strip, k runs in passes of KC rows of B, so
 * that the strip's KC x 32 block of B (32 KiB) stays in L1 while every block of rows of A goes
 * past it. A block of up to MR rows keeps its rows x 32 outputs in registers for the whole
 * pass: per p one row of B (two vectors) is loaded and each A[r][p] broadcast into two FMAs.
 * While the first block of rows runs, the next block of B is prefetched: its rows lie a page
 * or so apart, a pattern the hardware prefetchers do not follow. With B in L3 (an expert's
 * weights, used once per batch) that gained 10-20 %; with B in L2 it costs up to 5-10 %.
 *
 * AVX-512, at most SWEEP_ROWS rows: sweeps. A tile of one to four rows has too few FMAs per
 * row of B to hide reading B a strip at a time (at 192 x 768, four rows took as long as eight).
 * So these rows take B a band of rows at a time along its whole width, carrying each partial
 * sum from C through the band's FMAs and back: B is read along its rows, page by page.
 *
 * Both carry every output element through one chain of FMAs over p = 0 .. k-1, resumed from C
 * where a pass or band stopped (a float stored and loaded is the same float): the tiling, the
 * path and m change no bit. */
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

#if defined(__x86_64__) && defined(__GNUC__)

#define INLINED static inline __attribute__((always_inline))
#define LANES 16
#define MR 8   /* rows of a tile: 16 accumulators and 2 vectors of B in the 32 registers */
#define KC 256 /* rows of B per pass: 256 x 32 floats, 32 KiB of the 48 KiB L1 */
#define SWEEP_ROWS 4 /* products of up to this many rows sweep; also the rows of one sweep */
#define BAND 8       /* rows of B per sweep of one or two rows; 4 for three or four (registers) */

/* ---- AVX-512 tiles ----------------------------------------------------------------------- */

/* A tile's columns: 32 (two vectors), 16, or the last 1 .. 15 under a mask. */
enum { WIDE, HALF, TAIL };

/* One tile of one pass: A at its first row and the pass's first p, B at the pass's first row
 * and the tile's first column, C at the tile's corner. */
typedef struct {
    const float *a, *b;
    float *c;
    int64_t k, lda, ldb, ldc;
    const float *next;          /* the next block of B to prefetch, or NULL */
    int64_t next_rows, next_last; /* its rows, and its last column */
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

/* Both ends of a row of a block of B (the lines of a row of up to 32 columns), into L2: the
 * block then comes from L2 however far off B was, and leaves L1 to the block in use. */
INLINED void prefetch_row(const float *row, int64_t last)
{
    __builtin_prefetch(row, 0, 2);
    __builtin_prefetch(row + last, 0, 2);
}

/* C tile (+)= A B over the pass; row p of the next block of B prefetched at step p. `rows` and
 * `kind` are constants at every call, so the rows x vecs accumulators are registers. */
AD_TARGET_AVX512 INLINED void tile(const tile_job *t, int rows, int kind)
{
    const int vecs = kind == WIDE ? 2 : 1;
    const float *a = t->a, *b = t->b, *next = t->next;
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
        if (next && p < t->next_rows)
            prefetch_row(next + p * ldb, t->next_last);
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
 * FMA chains to cover the FMA latency. The first block prefetches the next block of B; the
 * rows of it that this pass is too short to reach are asked for after it. */
AD_TARGET_AVX512 static void pass_rows(tile_job *t, int64_t m, const float *a, float *c)
{
    const int64_t blocks = (m + MR - 1) / MR;
    for (int64_t blk = 0, row = 0; blk < blocks; blk++) {
        const int rows = (int)(m / blocks + (blk < m % blocks));
        t->a = a + row * t->lda;
        t->c = c + row * t->ldc;
        tile_of_rows[rows](t);
        row += rows;
        for (int64_t p = t->k; t->next && p < t->next_rows; p++)
            prefetch_row(t->next + p * t->ldb, t->next_last);
        t->next = NULL;
    }
}

static int64_t strip_width(int64_t left)
{
    return left >= 2 * LANES ? 2 * LANES : left >= LANES ? LANES : left;
}

AD_TARGET_AVX512 static void gemm_tiles(int64_t m, int64_t n, int64_t k, const float *a,
                                        int64_t lda, const float *b, int64_t ldb, float *c,
                                        int64_t ldc, bool accumulate)
{
    tile_job t = {.lda = lda, .ldb = ldb, .ldc = ldc};
    for (int64_t col = 0, width; col < n; col += width) {
        width = strip_width(n - col);
        t.kind = width == 2 * LANES ? WIDE : width == LANES ? HALF : TAIL;
        t.tail = (__mmask16)((1u << (width & (LANES - 1))) - 1);
        for (int64_t p = 0; p < k; p += KC) {
            t.k = k - p < KC ? k - p : KC;
            t.b = b + p * ldb + col;
            t.accumulate = accumulate || p > 0; /* later passes resume from C */
            /* the next block: this strip's next pass, else the next strip's first */
            const int64_t np = p + KC < k ? p + KC : 0, ncol = np ? col : col + width;
            t.next = ncol < n ? b + np * ldb + ncol : NULL;
            t.next_rows = k - np < KC ? k - np : KC;
            t.next_last = ncol < n ? strip_width(n - ncol) - 1 : 0;
            pass_rows(&t, m, a + p, c + col);
        }
    }
}

/* ---- AVX-512 sweeps ---------------------------------------------------------------------- */

/* C[rows][0 .. n) (+)= A[rows][0 .. u) B[0 .. u)[0 .. n), vector by vector along the rows of
 * B: each partial sum loaded from C (or 0 if `zero`), carried through u FMAs in p order and
 * stored back. The rows x u broadcasts of A stay in registers. */
AD_TARGET_AVX512 INLINED void sweep(const float *a, int64_t lda, const float *b, int64_t ldb,
                                    float *c, int64_t ldc, int64_t n, int rows, int u, bool zero)
{
    __m512 av[SWEEP_ROWS][BAND];
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 8
        for (int q = 0; q < u; q++)
            av[r][q] = _mm512_set1_ps(a[r * lda + q]);
    for (int64_t j = 0; j < n; j += LANES) {
        const __mmask16 cols = n - j >= LANES ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 bv[BAND];
#pragma GCC unroll 8
        for (int q = 0; q < u; q++)
            bv[q] = _mm512_maskz_loadu_ps(cols, b + q * ldb + j);
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++) {
            __m512 acc = zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(cols, c + r * ldc + j);
#pragma GCC unroll 8
            for (int q = 0; q < u; q++)
                acc = _mm512_fmadd_ps(av[r][q], bv[q], acc);
            _mm512_mask_storeu_ps(c + r * ldc + j, cols, acc);
        }
    }
}

/* All of k for `rows` (a constant) rows: sweeps of u rows of B, then of one. */
AD_TARGET_AVX512 INLINED void sweeps(int64_t n, int64_t k, const float *a, int64_t lda,
                                     const float *b, int64_t ldb, float *c, int64_t ldc,
                                     bool accumulate, int rows, int u)
{
    int64_t p = 0;
    for (; p + u <= k; p += u)
        sweep(a + p, lda, b + p * ldb, ldb, c, ldc, n, rows, u, !accumulate && p == 0);
    for (; p < k; p++)
        sweep(a + p, lda, b + p * ldb, ldb, c, ldc, n, rows, 1, !accumulate && p == 0);
}

AD_TARGET_AVX512 static void gemm_sweeps(int64_t m, int64_t n, int64_t k, const float *a,
                                         int64_t lda, const float *b, int64_t ldb, float *c,
                                         int64_t ldc, bool accumulate)
{
    switch (m) {
    case 1: sweeps(n, k, a, lda, b, ldb, c, ldc, accumulate, 1, BAND); break;
    case 2: sweeps(n, k, a, lda, b, ldb, c, ldc, accumulate, 2, BAND); break;
    case 3: sweeps(n, k, a, lda, b, ldb, c, ldc, accumulate, 3, BAND / 2); break;
    default: sweeps(n, k, a, lda, b, ldb, c, ldc, accumulate, 4, BAND / 2); break;
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
        if (m <= SWEEP_ROWS)
            gemm_sweeps(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else
            gemm_tiles(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        return;
    }
#endif
    ad_gemm_small_portable(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

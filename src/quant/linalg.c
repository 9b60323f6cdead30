/* quant/linalg.c - GPTQ's dense linear algebra (linalg.h).  Every loop
 * nest below reorders the visits of the plain loop quoted before it, never
 * the operations one element sees: each a[i][j] receives the same
 * products, rounded the same way, subtracted or added in the same
 * ascending k. */
#include "quant/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 32   /* Cholesky: columns factored before the trailing update */

/* Two doubles as one value (GCC/Clang vector extension): each lane's
 * arithmetic is the scalar IEEE operation, so the lanes give exactly what
 * the scalar loop gives; on x86-64 without ISA flags it is SSE2. */
typedef double v2d __attribute__((vector_size(16)));

static inline v2d ld2(const double *p)
{
    v2d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st2(double *p, v2d v) { memcpy(p, &v, sizeof v); }

/* y[j] -= v0 x0[j], then v1 x1[j], ... for j in [j0, j1): four steps per
 * load and store of y, in order. */
static void sub4(double *restrict y, const double *restrict x0, const double *restrict x1,
                 const double *restrict x2, const double *restrict x3, double v0, double v1, double v2, double v3,
                 int j0, int j1)
{
    int j = j0;
    for (; j + 2 <= j1; j += 2)
        st2(y + j, (((ld2(y + j) - v0 * ld2(x0 + j)) - v1 * ld2(x1 + j)) - v2 * ld2(x2 + j)) - v3 * ld2(x3 + j));
    for (; j < j1; j++) y[j] = (((y[j] - v0 * x0[j]) - v1 * x1[j]) - v2 * x2[j]) - v3 * x3[j];
}

static void sub1(double *restrict y, const double *restrict x, double v, int j0, int j1)
{
    int j = j0;
    for (; j + 2 <= j1; j += 2) st2(y + j, ld2(y + j) - v * ld2(x + j));
    for (; j < j1; j++) y[j] -= v * x[j];
}

/* the same with +=, for the sums that start from 0 */
static void add4(double *restrict y, const double *restrict x0, const double *restrict x1,
                 const double *restrict x2, const double *restrict x3, double v0, double v1, double v2, double v3,
                 int j0, int j1)
{
    int j = j0;
    for (; j + 2 <= j1; j += 2)
        st2(y + j, (((ld2(y + j) + v0 * ld2(x0 + j)) + v1 * ld2(x1 + j)) + v2 * ld2(x2 + j)) + v3 * ld2(x3 + j));
    for (; j < j1; j++) y[j] = (((y[j] + v0 * x0[j]) + v1 * x1[j]) + v2 * x2[j]) + v3 * x3[j];
}

static void add1(double *restrict y, const double *restrict x, double v, int j0, int j1)
{
    int j = j0;
    for (; j + 2 <= j1; j += 2) st2(y + j, ld2(y + j) + v * ld2(x + j));
    for (; j < j1; j++) y[j] += v * x[j];
}

void llx_axpy(double *y, const double *x, double v, int n) { add1(y, x, v, 0, n); }

void llx_lazy_sums(double *d, size_t ldd, const double *e, size_t lde, const double *u, size_t ld, int nr, int B,
                   int nk, const llx_la_tier *tier)
{
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < nk; k++) d[(size_t)r * ldd + k] = 0.0;
    llx_la_update(tier, 1, d, ldd, e, lde, 1, u, ld, nr, nk, B);
}

/* Work shared by rows (the inverse: by column tiles): on the pool's members
 * when there is one (each row on one member, whole), else here.  Rows are
 * dealt out in turn (i % nth), which balances the triangular shapes. */
typedef struct rows_job {
    double *a;
    const double *p;
    const llx_la_tier *tier;
    int n, k0, k1, i0;
} rows_job;

static void run_rows(llx_pool *pool, llx_pool_fn fn, void *j)
{
    if (pool && llx_pool_size(pool) > 1) llx_pool_run(pool, fn, j);
    else fn(j, 0, 1);
}

/* Plain loop:
 *   for j: d = a[j][j] - sum_{k<j} a[j][k]^2 (k ascending); a[j][j] = sqrt(d)
 *          for i > j: a[i][j] = (a[i][j] - sum_{k<j} a[i][k] a[j][k]) / a[j][j]
 * Here the subtractions for k in a finished panel are applied to the
 * trailing rows at once (rows i, columns j <= i past the panel), from a
 * transposed copy of the panel so the inner loop runs along row i; the
 * panel's own columns then take their subtractions k >= the panel's start
 * as in the plain loop. */
static void panel_column(void *ctx, int ith, int nth) /* column j = i0 of the rows below it */
{
    const rows_job *c = ctx;
    const int n = c->n, j = c->i0;
    const double *aj = c->a + (size_t)j * n;
    const double d = aj[j];
    for (int i = j + 1 + ith; i < n; i += nth) {
        double *ai = c->a + (size_t)i * n, s = ai[j];
        for (int k = c->k0; k < j; k++) s -= ai[k] * aj[k];
        ai[j] = s / d;
    }
}

/* Rows in groups of the tier's tile height, dealt out in turn: a group's
 * rectangle (columns k1 .. its first row, which every row of the group
 * reaches) in register tiles, then each later row's few columns past it
 * with the scalar loop.  Each element takes the panel's k in order. */
static void trailing(void *ctx, int ith, int nth)
{
    const rows_job *c = ctx;
    const int n = c->n, k0 = c->k0, k1 = c->k1, nb = k1 - k0, R = c->tier->rows;
    for (int i = k1 + ith * R; i < n; i += nth * R) {
        const int nr = n - i < R ? n - i : R;
        double *ai = c->a + (size_t)i * n;
        llx_la_update(c->tier, 0, ai + k1, (size_t)n, ai + k0, (size_t)n, 1, c->p + k1, (size_t)n, nr, i + 1 - k1, nb);
        for (int q = 1; q < nr; q++) {
            double *aq = ai + (size_t)q * n;
            int k = 0;
            for (; k + 4 <= nb; k += 4) {
                const double *p = c->p + (size_t)k * n;
                sub4(aq, p, p + n, p + 2 * (size_t)n, p + 3 * (size_t)n, aq[k0 + k], aq[k0 + k + 1], aq[k0 + k + 2],
                     aq[k0 + k + 3], i + 1, i + q + 1);
            }
            for (; k < nb; k++) sub1(aq, c->p + (size_t)k * n, aq[k0 + k], i + 1, i + q + 1);
        }
    }
}

int llx_cholesky_pool(double *a, int n, llx_pool *pool, const llx_la_tier *tier)
{
    double *p = malloc((size_t)PANEL * (n > 0 ? n : 1) * sizeof *p); /* p[k][j] = a[j][k0 + k] */
    if (!p) return -1;
    rows_job job = {.a = a, .p = p, .n = n, .tier = tier ? tier : llx_la_tier_best()};
    for (int k0 = 0; k0 < n; k0 += PANEL) {
        const int k1 = k0 + PANEL < n ? k0 + PANEL : n;
        job.k0 = k0, job.k1 = k1;
        for (int j = k0; j < k1; j++) {
            double *aj = a + (size_t)j * n;
            double d = aj[j];
            for (int k = k0; k < j; k++) d -= aj[k] * aj[k];
            if (!(d > 0.0)) {
                free(p);
                return 0;
            }
            aj[j] = sqrt(d);
            job.i0 = j;
            /* a short column is not worth waking the pool for */
            run_rows(n - j > 256 ? pool : NULL, panel_column, &job);
        }
        if (k1 == n) break;
        const int nb = k1 - k0;
        for (int j = k1; j < n; j++)
            for (int k = 0; k < nb; k++) p[(size_t)k * n + j] = a[(size_t)j * n + k0 + k];
        run_rows(pool, trailing, &job);
    }
    free(p);
    return 1;
}

int llx_cholesky(double *a, int n) { return llx_cholesky_pool(a, n, NULL, NULL); }

/* Plain loop, row by row (row i read before it is overwritten):
 *   d = 1 / a[i][i]
 *   for j < i: s = 0; for k = j .. i-1: s += a[i][k] Linv[k][j]; row[j] = -s * d
 *   a[i][0..i) = row; a[i][i] = d
 * Here the rows go in blocks of ROWS and the columns in tiles of TILE:
 * a block's L entries are copied aside first (transposed, m[k][r] =
 * a[i0 + r][k]), so a tile of the block can be written while the others
 * still read them.  For each tile the block's sums, in cache, take every
 * finished row k above the block (each row of Linv read once per block
 * and tile, not once per row), then the block's own rows finish one by
 * one with the k inside the block.  Each sum still adds its terms in
 * ascending k from 0.  The tiles of a block are independent: the pool's
 * members take them in turn. */
#define ROWS 32   /* rows per block */
#define TILE 256  /* columns per tile */

/* For rows r < nr (sums s + r * TILE, multipliers m[k * ROWS + r]):
 * s[r][j - j0] += m[k][r] Linv[k][j] for k in [k0, k1) ascending, over
 * the tile's columns j in [j0, j1) with j <= k (Linv is lower).  Four rows
 * of Linv at a time, which stay in cache for all nr rows: each row adds
 * them per load and store of its sums, then the columns past the first of
 * the four that only the later ones reach. */
static void tile_sums(double *s, int nr, const double *a, int n, const double *m, int k0, int k1, int j0, int j1)
{
    int k = k0;
    for (; k + 4 <= k1; k += 4) {
        const double *l[4] = {a + (size_t)k * n, a + (size_t)(k + 1) * n, a + (size_t)(k + 2) * n,
                              a + (size_t)(k + 3) * n};
        const int e = k + 1 < j1 ? k + 1 : j1;
        for (int r = 0; r < nr; r++) {
            double *sr = s + (size_t)r * TILE;
            const double *mk = m + (size_t)k * ROWS + r, v[4] = {mk[0], mk[ROWS], mk[2 * ROWS], mk[3 * ROWS]};
            if (j0 < e) add4(sr, l[0] + j0, l[1] + j0, l[2] + j0, l[3] + j0, v[0], v[1], v[2], v[3], 0, e - j0);
            for (int j = k + 1 > j0 ? k + 1 : j0; j < k + 4 && j < j1; j++) /* rows k+1.. reach j; k.. before do not */
                for (int q = j - k; q < 4; q++) sr[j - j0] += v[q] * l[q][j];
        }
    }
    for (; k < k1; k++) {
        const int e = k + 1 < j1 ? k + 1 : j1;
        for (int r = 0; r < nr && j0 < e; r++)
            add1(s + (size_t)r * TILE, a + (size_t)k * n + j0, m[(size_t)k * ROWS + r], 0, e - j0);
    }
}

typedef struct inv_job {
    double *a, *m, *s; /* the matrix, the block's L entries (m[k][r]), sums per member */
    const llx_la_tier *tier;
    double d[ROWS];    /* 1 / a[i][i] of the block's rows */
    int n, i0, i1, tiles;
} inv_job;

static void inv_tiles(void *ctx, int ith, int nth)
{
    const inv_job *c = ctx;
    const int n = c->n, i0 = c->i0, i1 = c->i1;
    double *s = c->s + (size_t)ith * ROWS * TILE;
    for (int t = ith; t < c->tiles; t += nth) {
        const int j0 = t * TILE, j1 = j0 + TILE < i1 ? j0 + TILE : i1;
        memset(s, 0, (size_t)ROWS * TILE * sizeof *s);
        /* the finished rows above the block: those that reach only part of
         * the tile (k < j1 - 1) here, the rest in register tiles */
        const int kt = j1 - 1 < i0 ? j1 - 1 : i0;
        if (j0 < kt) tile_sums(s, i1 - i0, c->a, n, c->m, j0, kt, j0, j1);
        const int kr = kt > j0 ? kt : j0;
        if (kr < i0)
            llx_la_update(c->tier, 1, s, TILE, c->m + (size_t)kr * ROWS, 1, ROWS, c->a + (size_t)kr * n + j0, (size_t)n,
                          i1 - i0, j1 - j0, i0 - kr);
        for (int i = i0; i < i1; i++) { /* the block's own rows, in order */
            double *si = s + (size_t)(i - i0) * TILE, *ai = c->a + (size_t)i * n;
            const int kb = i0 > j0 ? i0 : j0;
            if (kb < i) tile_sums(si, 1, c->a, n, c->m + (i - i0), kb, i, j0, j1);
            const double dii = c->d[i - i0];
            for (int j = j0; j < j1 && j < i; j++) ai[j] = -si[j - j0] * dii;
            if (i >= j0 && i < j1) ai[i] = dii;
        }
    }
}

int llx_invert_lower(double *a, int n, llx_pool *pool, const llx_la_tier *tier)
{
    const int nth = pool ? llx_pool_size(pool) : 1;
    double *m = malloc((size_t)ROWS * (n > 0 ? n : 1) * sizeof *m);
    double *s = malloc((size_t)nth * ROWS * TILE * sizeof *s);
    if (!m || !s) {
        free(m), free(s);
        return -1;
    }
    inv_job job = {.a = a, .m = m, .s = s, .n = n, .tier = tier ? tier : llx_la_tier_best()};
    for (int i0 = 0; i0 < n; i0 += ROWS) {
        const int i1 = i0 + ROWS < n ? i0 + ROWS : n;
        for (int i = i0; i < i1; i++) {
            const double *ai = a + (size_t)i * n;
            for (int k = 0; k < i; k++) m[(size_t)k * ROWS + (i - i0)] = ai[k];
            job.d[i - i0] = 1.0 / ai[i];
        }
        job.i0 = i0, job.i1 = i1, job.tiles = (i1 + TILE - 1) / TILE;
        run_rows(job.tiles > 1 ? pool : NULL, inv_tiles, &job);
    }
    free(m), free(s);
    return 0;
}

/* J reverses the order of rows and columns.  If J H J = L L^T, then
 * H = V V^T with V = J L J upper, H^-1 = V^-T V^-1, and U = V^-1 =
 * J L^-1 J is upper with a positive diagonal: H^-1's upper Cholesky factor,
 * from one factorisation and one triangular inverse.  The copy of J H J's
 * lower triangle reads H's lower triangle transposed ((J H J)[i][j] =
 * H[n-1-j][n-1-i]), in square tiles so both sides stay in cache. */
#define FLIP 32

int llx_inverse_upper_factor(const double *a, int n, double *u, llx_pool *pool, const llx_la_tier *tier)
{
    const size_t last = (size_t)n * n - 1; /* element e of J X J is element last - e of X */
    for (int i0 = 0; i0 < n; i0 += FLIP)
        for (int j0 = 0; j0 <= i0; j0 += FLIP)
            for (int i = i0; i < i0 + FLIP && i < n; i++)
                for (int j = j0; j < j0 + FLIP && j <= i; j++)
                    u[(size_t)i * n + j] = a[(size_t)(n - 1 - j) * n + (n - 1 - i)];
    const int ok = llx_cholesky_pool(u, n, pool, tier);
    if (ok <= 0) return ok;
    if (llx_invert_lower(u, n, pool, tier) != 0) return -1;
    for (int i = 0; i < n; i++) /* U[i][j] = Linv[n-1-i][n-1-j]: above the diagonal from below it */
        for (int j = i + 1; j < n; j++) {
            const size_t up = (size_t)i * n + j, lo = last - up;
            u[up] = u[lo], u[lo] = 0.0;
        }
    for (int i = 0; i < n - 1 - i; i++) { /* and the diagonal reversed */
        const size_t d0 = (size_t)i * n + i, d1 = last - d0;
        const double t = u[d0];
        u[d0] = u[d1], u[d1] = t;
    }
    return 1;
}

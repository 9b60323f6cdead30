/* kernels/hadamard.c - Paley and Sylvester Hadamard matrices and the
 * reference fast Walsh-Hadamard transform (hadamard.h). */
#include "kernels/hadamard.h"

#include <math.h>
#include <string.h>

static int is_prime(int q)
{
    if (q < 2) return 0;
    for (int d = 2; d * d <= q; d++)
        if (q % d == 0) return 0;
    return 1;
}

/* 1: Paley I (m - 1 prime, 3 mod 4); 2: Paley II (m/2 - 1 prime, 1 mod 4); 0: neither */
static int paley_kind(int m)
{
    if (m < 4 || m % 4 || m > LLX_HAD_MAX_M) return 0;
    if (is_prime(m - 1) && (m - 1) % 4 == 3) return 1;
    if (is_prime(m / 2 - 1) && (m / 2 - 1) % 4 == 1) return 2;
    return 0;
}

int llx_hadamard_factor(int n)
{
    if (n < 1) return 0;
    int odd = n, e = 0;
    while (odd % 2 == 0) odd /= 2, e++;
    if (odd == 1) return 1;
    for (int a = 0, m = odd; a <= e && m <= LLX_HAD_MAX_M; a++, m *= 2)
        if (paley_kind(m)) return m;
    return 0;
}

/* quadratic character of a modulo the prime q */
static int chi(int a, int q)
{
    a = ((a % q) + q) % q;
    if (a == 0) return 0;
    for (int x = 1; x < q; x++)
        if (x * x % q == a) return 1;
    return -1;
}

static void paley1(int m, int8_t *h)
{
    const int q = m - 1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            int v;
            if (i == 0) v = 1;
            else if (j == 0) v = -1;
            else v = chi(j - i, q) + (i == j);
            h[i * m + j] = (int8_t)v;
        }
}

static void paley2(int m, int8_t *h)
{
    const int q = m / 2 - 1, c = q + 1;
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) {
            /* conference matrix entry: 0 on the diagonal, 1 in the first row/column, chi inside */
            const int cij = i == j ? 0 : (i == 0 || j == 0) ? 1 : chi(j - i, q);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const int v = cij ? cij * (a && b ? -1 : 1) : (a == b ? (a ? -1 : 1) : -1);
                    h[(2 * i + a) * m + 2 * j + b] = (int8_t)v;
                }
        }
}

static int orthogonal(const int8_t *h, int m)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            int s = 0;
            for (int k = 0; k < m; k++) s += h[i * m + k] * h[j * m + k];
            if (s != (i == j ? m : 0)) return 0;
        }
    return 1;
}

int llx_hadamard_small(int m, int8_t *out)
{
    if (m == 1) {
        out[0] = 1;
        return 1;
    }
    if (m == 2) {
        out[0] = out[1] = out[2] = 1;
        out[3] = -1;
        return 1;
    }
    const int kind = paley_kind(m);
    if (kind == 1) paley1(m, out);
    else if (kind == 2) paley2(m, out);
    else return 0;
    return orthogonal(out, m);
}

int llx_hadamard_init(llx_hadamard *h, int n, int transpose)
{
    memset(h, 0, sizeof *h);
    const int m = llx_hadamard_factor(n);
    if (!m) return 0;
    int8_t tmp[LLX_HAD_MAX_M * LLX_HAD_MAX_M];
    if (!llx_hadamard_small(m, tmp)) return 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) h->hm[i * m + j] = transpose ? tmp[j * m + i] : tmp[i * m + j];
    h->n = n;
    h->m = m;
    h->p = n / m;
    while ((1 << h->log2p) < h->p) h->log2p++;
    h->transpose = transpose;
    h->scale = (float)(1.0 / sqrt((double)n));
    return 1;
}

static void fwht_rows(float *x, int m, int p)
{
    for (int i = 0; i < m; i++) {
        float *r = x + (size_t)i * p;
        for (int hs = 1; hs < p; hs *= 2)
            for (int j0 = 0; j0 < p; j0 += 2 * hs)
                for (int j = j0; j < j0 + hs; j++) {
                    const float a = r[j], b = r[j + hs];
                    r[j] = a + b;
                    r[j + hs] = a - b;
                }
    }
}

static void mix_columns(float *x, const llx_hadamard *h)
{
    const int m = h->m, p = h->p;
    float col[LLX_HAD_MAX_M];
    for (int j = 0; j < p; j++) {
        for (int l = 0; l < m; l++) col[l] = x[(size_t)l * p + j];
        for (int i = 0; i < m; i++) {
            const int8_t *hi = h->hm + i * m;
            float acc = hi[0] > 0 ? col[0] : -col[0];
            for (int l = 1; l < m; l++) acc = hi[l] > 0 ? acc + col[l] : acc - col[l];
            x[(size_t)i * p + j] = acc;
        }
    }
}

void llx_fwht_f32_ref(float *x, int T, int ld, const llx_hadamard *h)
{
    for (int t = 0; t < T; t++) {
        float *v = x + (size_t)t * ld;
        fwht_rows(v, h->m, h->p);
        if (h->m > 1) mix_columns(v, h);
        for (int i = 0; i < h->n; i++) v[i] *= h->scale;
    }
}

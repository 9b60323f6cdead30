/* tests/test_rotate.c - the rotation primitives against dense matrices, and
 * computational invariance: a toy GPT-2 (LayerNorm with bias, biases,
 * multi-head attention, GELU MLP, tied LM head) gives the same logits after
 * the transforms --rotate hadamard composes (norms folded, the residual
 * stream rotated by a mixing Q that keeps the all-ones direction so
 * LayerNorm stays, V/O rotated per head, and the MLP's down input rotated
 * offline and online). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/rotate.h"
#include "test.h"
#include "util/rng.h"

TEST(rotate_apply_matches_dense, LLX_T_ASAN)
{
    enum { N = 40 };
    llx_rotation *rot = malloc(sizeof *rot);
    REQUIRE(rot && llx_rot_init(rot, N, 9, 1) == LLX_OK);
    int plus = 0;
    for (int i = 0; i < N; i++) plus += rot->d[i] > 0;
    CHECK(plus > 5 && plus < 35);
    /* column j of Q is Q e_j; Q must be orthogonal, keep the ones and mix */
    static double q[N][N];
    for (int j = 0; j < N; j++) {
        double e[N] = {0};
        e[j] = 1.0;
        llx_rot_apply_f64(rot, e);
        for (int i = 0; i < N; i++) q[i][j] = e[i];
    }
    double big = 0;
    for (int i = 0; i < N; i++) {
        double row = 0;
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += q[k][i] * q[k][j];
            CHECK_CLOSE(s, i == j, 1e-12, 0);
            row += q[i][j];
            big = fmax(big, fabs(q[i][j]));
        }
        CHECK_CLOSE(row, 1.0, 1e-12, 0); /* Q 1 = 1 */
    }
    CHECK(big < 0.75); /* no coordinate stays where it was */
    /* rows, columns, vectors: all Q v */
    float w[3 * N], wc[N * 3];
    llx_rng g;
    llx_rng_seed(&g, 1);
    for (int i = 0; i < 3 * N; i++) w[i] = wc[i] = (float)llx_rng_normal(&g);
    float w0[3 * N], wc0[3 * N];
    memcpy(w0, w, sizeof w), memcpy(wc0, wc, sizeof wc);
    REQUIRE(llx_rot_rows(w, 3, rot) == LLX_OK);
    REQUIRE(llx_rot_cols(wc, 3, rot) == LLX_OK);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < N; i++) {
            double a = 0, b = 0;
            for (int k = 0; k < N; k++) a += q[i][k] * w0[r * N + k], b += q[i][k] * wc0[k * 3 + r];
            CHECK_CLOSE(w[r * N + i], a, 1e-5, 0);
            CHECK_CLOSE(wc[i * 3 + r], b, 1e-5, 0);
        }
    llx_rot_free(rot);
    free(rot);
    llx_rotation bad;
    CHECK(llx_rot_init(&bad, 172, 1, 0) == LLX_ERR_UNSUPPORTED && strstr(llx_errmsg(), "no Hadamard matrix of order 172"));
}

/* ---- a toy GPT-2 and its transformed twin ---- */

enum { C = 24, NH = 2, HD = 12, F = 40, V = 30, P = 6, L = 2 };

typedef struct toy {
    float wte[V * C], wpe[P * C], lm[V * C], lmb[V];
    float wqkv[L][3 * C * C], bqkv[L][3 * C], wo[L][C * C], bo[L][C];
    float w1[L][F * C], b1[L][F], w2[L][C * F], b2[L][C];
    float g1[L][C], nb1[L][C], g2[L][C], nb2[L][C], gf[C], nbf[C];
    int folded;   /* norms without weight and bias (transformed) */
    int had_down; /* the MLP's down input is Hadamard-rotated online */
} toy;

static void fill(float *x, int n, llx_rng *g, double sd, double mean)
{
    for (int i = 0; i < n; i++) x[i] = (float)(mean + sd * llx_rng_normal(g));
}

static void norm(const toy *t, const float *x, const float *g, const float *b, double *out)
{
    double mu = 0, var = 0;
    for (int i = 0; i < C; i++) mu += x[i];
    mu /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mu) * (x[i] - mu);
    const double r = 1.0 / sqrt(var / C + 1e-5);
    for (int i = 0; i < C; i++) out[i] = t->folded ? (x[i] - mu) * r : (x[i] - mu) * r * g[i] + b[i];
}

static void linear(const float *w, const float *b, const double *x, int R, int K, double *y)
{
    for (int r = 0; r < R; r++) {
        double s = b ? b[r] : 0;
        for (int k = 0; k < K; k++) s += w[r * K + k] * x[k];
        y[r] = s;
    }
}

static double gelu(double x) { return 0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x * x * x))); }

/* logits of the last of n tokens */
static void forward(const toy *t, const int *tok, int n, double *logits, const llx_rotation *hf)
{
    static float x[P][C];
    static double qkv[P][3 * C];
    double h[C], y[F], m[F], ctx[C];
    for (int p = 0; p < n; p++)
        for (int i = 0; i < C; i++) x[p][i] = t->wte[tok[p] * C + i] + t->wpe[p * C + i];
    for (int l = 0; l < L; l++) {
        for (int p = 0; p < n; p++) {
            norm(t, x[p], t->g1[l], t->nb1[l], h);
            linear(t->wqkv[l], t->bqkv[l], h, 3 * C, C, qkv[p]);
        }
        for (int p = 0; p < n; p++) {
            for (int hh = 0; hh < NH; hh++) {
                double sc[P], mx = -1e300, sum = 0;
                for (int j = 0; j <= p; j++) {
                    double s = 0;
                    for (int d = 0; d < HD; d++) s += qkv[p][hh * HD + d] * qkv[j][C + hh * HD + d];
                    sc[j] = s / sqrt((double)HD);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= p; j++) sum += sc[j] = exp(sc[j] - mx);
                for (int d = 0; d < HD; d++) {
                    double s = 0;
                    for (int j = 0; j <= p; j++) s += sc[j] / sum * qkv[j][2 * C + hh * HD + d];
                    ctx[hh * HD + d] = s;
                }
            }
            linear(t->wo[l], t->bo[l], ctx, C, C, y);
            for (int i = 0; i < C; i++) x[p][i] += (float)y[i];
            norm(t, x[p], t->g2[l], t->nb2[l], h);
            linear(t->w1[l], t->b1[l], h, F, C, y);
            for (int i = 0; i < F; i++) m[i] = gelu(y[i]);
            if (t->had_down) llx_rot_apply_f64(hf, m);
            linear(t->w2[l], t->b2[l], m, C, F, y);
            for (int i = 0; i < C; i++) x[p][i] += (float)y[i];
        }
    }
    norm(t, x[n - 1], t->gf, t->nbf, h);
    linear(t->lm, t->folded ? t->lmb : NULL, h, V, C, logits);
}

static void transform(toy *t, const llx_rotation *rf)
{
    static llx_rotation rc, rd;
    REQUIRE(llx_rot_init(&rc, C, 42, 1) == LLX_OK && llx_rot_init(&rd, HD, 43, 0) == LLX_OK);
    for (int l = 0; l < L; l++) {
        llx_fold_norm(t->wqkv[l], 3 * C, C, t->bqkv[l], t->g1[l], t->nb1[l]);
        llx_fold_norm(t->w1[l], F, C, t->b1[l], t->g2[l], t->nb2[l]);
        REQUIRE(llx_rot_rows(t->wqkv[l], 3 * C, &rc) == LLX_OK);
        REQUIRE(llx_rot_rows(t->w1[l], F, &rc) == LLX_OK);
        REQUIRE(llx_rot_cols(t->wo[l], C, &rc) == LLX_OK && llx_rot_vec(t->bo[l], &rc) == LLX_OK);
        REQUIRE(llx_rot_cols(t->w2[l], F, &rc) == LLX_OK && llx_rot_vec(t->b2[l], &rc) == LLX_OK);
        for (int hh = 0; hh < NH; hh++) { /* V rows of head hh, and its bias; O columns of head hh */
            REQUIRE(llx_rot_cols(t->wqkv[l] + (size_t)(2 * C + hh * HD) * C, C, &rd) == LLX_OK);
            REQUIRE(llx_rot_vec(t->bqkv[l] + 2 * C + hh * HD, &rd) == LLX_OK);
        }
        REQUIRE(llx_rot_row_segments(t->wo[l], C, C, &rd) == LLX_OK);
        REQUIRE(llx_rot_rows(t->w2[l], C, rf) == LLX_OK);
    }
    memset(t->lmb, 0, sizeof t->lmb);
    llx_fold_norm(t->lm, V, C, t->lmb, t->gf, t->nbf);
    REQUIRE(llx_rot_rows(t->lm, V, &rc) == LLX_OK);
    REQUIRE(llx_rot_rows(t->wte, V, &rc) == LLX_OK && llx_rot_rows(t->wpe, P, &rc) == LLX_OK);
    llx_rot_free(&rc), llx_rot_free(&rd);
    t->folded = 1;
    t->had_down = 1;
}

TEST(rotate_gpt2_invariance, LLX_T_ASAN)
{
    toy *a = calloc(1, sizeof *a), *b = malloc(sizeof *b);
    llx_rng g;
    llx_rng_seed(&g, 5);
    fill(a->wte, V * C, &g, 0.3, 0.05); /* a non-zero mean: the rotation keeps it */
    fill(a->wpe, P * C, &g, 0.1, -0.02);
    for (int l = 0; l < L; l++) {
        fill(a->wqkv[l], 3 * C * C, &g, 0.2, 0), fill(a->bqkv[l], 3 * C, &g, 0.1, 0);
        fill(a->wo[l], C * C, &g, 0.2, 0), fill(a->bo[l], C, &g, 0.1, 0.1);
        fill(a->w1[l], F * C, &g, 0.2, 0), fill(a->b1[l], F, &g, 0.1, 0);
        fill(a->w2[l], C * F, &g, 0.15, 0.02), fill(a->b2[l], C, &g, 0.1, 0);
        fill(a->g1[l], C, &g, 0.2, 1.0), fill(a->nb1[l], C, &g, 0.1, 0);
        fill(a->g2[l], C, &g, 0.2, 1.0), fill(a->nb2[l], C, &g, 0.1, 0);
    }
    fill(a->gf, C, &g, 0.2, 1.0), fill(a->nbf, C, &g, 0.1, 0);
    memcpy(a->lm, a->wte, sizeof a->lm); /* tied */
    memcpy(b, a, sizeof *a);
    static llx_rotation hf; /* the down projection's input: offline and online */
    REQUIRE(llx_rot_init(&hf, F, 44, 0) == LLX_OK);
    transform(b, &hf);
    const int tok[P] = {3, 17, 0, 29, 8, 8};
    double la[V], lb[V], diff = 0, mag = 0;
    for (int n = 1; n <= P; n++) {
        forward(a, tok, n, la, &hf);
        forward(b, tok, n, lb, &hf);
        for (int i = 0; i < V; i++) diff = fmax(diff, fabs(la[i] - lb[i])), mag = fmax(mag, fabs(la[i]));
    }
    llx_test_note("max |logit| %.3g, max difference %.3g", mag, diff);
    CHECK(mag > 0.5);
    CHECK(diff < 2e-5 * mag);
    /* the weights did change: the rotation is not the identity */
    CHECK(memcmp(a->w1, b->w1, sizeof a->w1) != 0 && fabsf(a->wte[0] - b->wte[0]) > 1e-4f);
    free(a), free(b);
}

/* tests/rotfile_util.c - random rotation files and the models quantized
 * with them (rotfile_util.h). */
#include "rotfile_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llx/model.h"
#include "llx/quant.h"
#include "model/llx_model.h"
#include "quant/rotfile.h"
#include "serveutil.h"
#include "test.h"
#include "util/rng.h"
#include "w8a8_fixtures.h"

/* the columns of a (n x n, row-major) made orthonormal in order */
static void gram_schmidt(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        for (int k = 0; k < j; k++) {
            double d = 0.0;
            for (int i = 0; i < n; i++) d += a[(size_t)i * n + j] * a[(size_t)i * n + k];
            for (int i = 0; i < n; i++) a[(size_t)i * n + j] -= d * a[(size_t)i * n + k];
        }
        double s = 0.0;
        for (int i = 0; i < n; i++) s += a[(size_t)i * n + j] * a[(size_t)i * n + j];
        s = 1.0 / sqrt(s);
        for (int i = 0; i < n; i++) a[(size_t)i * n + j] *= s;
    }
}

/* an orthonormal basis of random columns; the first 1/sqrt(n) when ones */
static void basis(double *b, int n, llx_rng *g, int ones)
{
    for (size_t i = 0; i < (size_t)n * n; i++) b[i] = llx_rng_normal(g);
    if (ones)
        for (int i = 0; i < n; i++) b[(size_t)i * n] = 1.0;
    gram_schmidt(b, n);
}

void llx_test_random_orthogonal(double *q, int n, uint64_t seed, int keep_ones)
{
    llx_rng g;
    llx_rng_seed(&g, seed);
    double *b1 = malloc(sizeof(double) * n * n), *b2 = malloc(sizeof(double) * n * n);
    basis(b1, n, &g, keep_ones);
    if (!keep_ones) {
        memcpy(q, b1, sizeof(double) * n * n);
    } else { /* Q = B1 B2^T maps 1 = sqrt(n) b2_0 to sqrt(n) b1_0 = 1 */
        basis(b2, n, &g, 1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double s = 0.0;
                for (int k = 0; k < n; k++) s += b1[(size_t)i * n + k] * b2[(size_t)j * n + k];
                q[(size_t)i * n + j] = s;
            }
    }
    free(b1), free(b2);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *put_values(uint8_t *p, const double *v, size_t n, int f64)
{
    for (size_t i = 0; i < n; i++) {
        if (f64) {
            memcpy(p, &v[i], 8);
            p += 8;
        } else {
            const float f = (float)v[i];
            memcpy(p, &f, 4);
            p += 4;
        }
    }
    return p;
}

uint8_t *llx_test_rotfile_image(const llx_config *c, uint64_t seed, int f64, size_t *size)
{
    const int C = c->n_embd, hd = llx_config_head_dim(c), L = c->n_layer, vb = f64 ? 8 : 4;
    *size = LLX_ROTFILE_HEADER + (size_t)vb * ((size_t)C * C + (size_t)L * hd * hd);
    uint8_t *img = calloc(1, *size);
    double *q = malloc(sizeof(double) * C * C);
    if (!img || !q) {
        free(img), free(q);
        return NULL;
    }
    memcpy(img, LLX_ROTFILE_MAGIC, 8);
    put_u32(img + 8, LLX_ROTFILE_VERSION), put_u32(img + 12, (uint32_t)vb);
    put_u32(img + 16, (uint32_t)C), put_u32(img + 20, (uint32_t)hd), put_u32(img + 24, (uint32_t)L);
    llx_test_random_orthogonal(q, C, seed, c->arch == LLX_ARCH_GPT2);
    uint8_t *p = put_values(img + LLX_ROTFILE_HEADER, q, (size_t)C * C, f64);
    for (int l = 0; l < L; l++) {
        llx_test_random_orthogonal(q, hd, seed * 1000 + 1 + (uint64_t)l, 0);
        p = put_values(p, q, (size_t)hd * hd, f64);
    }
    free(q);
    return img;
}

const char *llx_test_rotfile_write(const char *name, const llx_config *c, uint64_t seed)
{
    static char path[512];
    snprintf(path, sizeof path, "%s", llx_test_tmpfile(name));
    if (llx_test_exists(path)) return path; /* the same bytes: written once per run */
    size_t n;
    uint8_t *img = llx_test_rotfile_image(c, seed, 0, &n);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *f = img ? fopen(tmp, "wb") : NULL;
    int ok = f && fwrite(img, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(img);
    ok = ok && rename(tmp, path) == 0; /* readers never see a partial file */
    return ok ? path : NULL;
}

const char *llx_fixture_rotfile_lowbit(int llama, const char **rot)
{
    static char paths[2][512], rots[2][512];
    const int k = llama != 0;
    const char *dir = k ? llx_fixture_llama_paley() : llx_serve_model_small(), *calib = llx_fixture_calib_text();
    if (!dir || !calib) return NULL;
    llx_model *m = NULL;
    if (llx_model_open(&m, dir) != LLX_OK) return NULL;
    const char *rp = llx_test_rotfile_write(k ? "llama-rot.bin" : "small-rot.bin", &m->cfg, 3);
    llx_model_close(m);
    if (!rp) return NULL;
    snprintf(rots[k], sizeof rots[k], "%s", rp);
    if (rot) *rot = rots[k];
    snprintf(paths[k], sizeof paths[k], "%s", llx_test_tmpfile(k ? "llama-w4a4-rotfile.llx" : "small-w4a4-rotfile.llx"));
    if (llx_test_exists(paths[k])) return paths[k];
    llx_quant_opts o = llx_fixture_lowbit_opts(2, calib, k ? 96 : 128);
    o.rotate_file = rots[k];
    if (llx_quantize(dir, &o, paths[k]) != LLX_OK) {
        llx_test_note("quantize with %s: %s", rots[k], llx_errmsg());
        return NULL;
    }
    return paths[k];
}

const char *llx_fixture_r4_lowbit(int llama, int v, const char **what)
{
    static const char *const names[2][2] = {{"gpt2 w4a4 rtn r4 lm4 clip 0.875", "gpt2 w4a8 rtn g32 f16 r4 fp32-kv dynamic"},
                                            {"llama w4a4 rtn r4 lm4 clip 0.875", "llama w4a8 rtn g32 f16 r4 fp32-kv dynamic"}};
    static char paths[2][2][512];
    const int k = llama != 0, i = v != 0;
    if (what) *what = names[k][i];
    char name[64];
    snprintf(name, sizeof name, "%s-r4-%d.llx", k ? "llama" : "small", i);
    snprintf(paths[k][i], sizeof paths[k][i], "%s", llx_test_tmpfile(name));
    if (llx_test_exists(paths[k][i])) return paths[k][i];
    const char *dir = k ? llx_fixture_llama_paley() : llx_serve_model_small(), *calib = llx_fixture_calib_text();
    if (!dir || !calib) return NULL;
    llx_quant_opts o = llx_fixture_lowbit_opts(i ? 1 : 2, calib, k ? 96 : 128);
    o.rotate = LLX_ROTATE_R4;
    o.gptq = 0;
    if (llx_quantize(dir, &o, paths[k][i]) != LLX_OK) {
        llx_test_note("quantize %s: %s", names[k][i], llx_errmsg());
        return NULL;
    }
    return paths[k][i];
}

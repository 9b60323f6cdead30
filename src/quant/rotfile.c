/* quant/rotfile.c - reading and checking a rotation file (rotfile.h). */
#include "quant/rotfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/llx_file.h"
#include "util/file.h"
#include "util/status.h"

/* the largest dimension a file may give: bounds the products below */
#define DIM_MAX 65536
#define LAYERS_MAX 4096

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static double value_at(const uint8_t *p, uint32_t bytes)
{
    if (bytes == 4) {
        uint32_t u = u32_at(p);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    uint64_t u = (uint64_t)u32_at(p) | (uint64_t)u32_at(p + 4) << 32;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static llx_status parse_header(const uint8_t *p, size_t size, const char *name, uint32_t *vb, int dims[3])
{
    if (size < LLX_ROTFILE_HEADER)
        return llx_fail(LLX_ERR_FORMAT, "%s: not a rotation file (%zu bytes, shorter than its header)", name, size);
    if (memcmp(p, LLX_ROTFILE_MAGIC, 8) != 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: not a rotation file (bad magic)", name);
    const uint32_t version = u32_at(p + 8);
    if (version != LLX_ROTFILE_VERSION)
        return llx_fail(LLX_ERR_FORMAT, "%s: rotation file version %u (this reader knows %d)", name, version,
                        LLX_ROTFILE_VERSION);
    *vb = u32_at(p + 12);
    if (*vb != 4 && *vb != 8)
        return llx_fail(LLX_ERR_FORMAT, "%s: rotation file values of %u bytes (4 fp32 or 8 fp64)", name, *vb);
    static const char *const what[3] = {"n_embd", "head_dim", "n_layer"};
    for (int i = 0; i < 3; i++) {
        const int32_t v = (int32_t)u32_at(p + 16 + 4 * i);
        if (v < 1 || v > (i == 2 ? LAYERS_MAX : DIM_MAX))
            return llx_fail(LLX_ERR_FORMAT, "%s: rotation file %s %d out of range", name, what[i], (int)v);
        dims[i] = v;
    }
    if (u32_at(p + 28) != 0) return llx_fail(LLX_ERR_FORMAT, "%s: rotation file reserved field not zero", name);
    if (dims[1] > dims[0])
        return llx_fail(LLX_ERR_FORMAT, "%s: rotation file head_dim %d above n_embd %d", name, dims[1], dims[0]);
    return LLX_OK;
}

llx_status llx_rotfile_parse(llx_rotfile *rf, const void *data, size_t size, const char *name)
{
    memset(rf, 0, sizeof *rf);
    const uint8_t *p = data;
    uint32_t vb = 0;
    int d[3] = {0, 0, 0};
    LLX_TRY(parse_header(p, size, name, &vb, d));
    const uint64_t n1 = (uint64_t)d[0] * (uint64_t)d[0], n2 = (uint64_t)d[2] * (uint64_t)d[1] * (uint64_t)d[1];
    const uint64_t want = LLX_ROTFILE_HEADER + (n1 + n2) * vb;
    if ((uint64_t)size != want)
        return llx_fail(LLX_ERR_FORMAT, "%s: rotation file of %zu bytes, its dimensions need %llu", name, size,
                        (unsigned long long)want);
    rf->r1 = malloc((size_t)n1 * sizeof *rf->r1);
    rf->r2 = malloc((size_t)n2 * sizeof *rf->r2);
    if (!rf->r1 || !rf->r2) {
        llx_rotfile_free(rf);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    const uint8_t *v = p + LLX_ROTFILE_HEADER;
    for (uint64_t i = 0; i < n1 + n2; i++, v += vb) {
        const double x = value_at(v, vb);
        if (!isfinite(x)) {
            llx_rotfile_free(rf);
            return llx_fail(LLX_ERR_FORMAT, "%s: rotation file value %llu is not finite", name, (unsigned long long)i);
        }
        if (i < n1) rf->r1[i] = x;
        else rf->r2[i - n1] = x;
    }
    rf->n_embd = d[0], rf->head_dim = d[1], rf->n_layer = d[2];
    rf->hash = llx_hash64(data, size, 0);
    return LLX_OK;
}

/* the largest |Q Q^T - I| entry of the n x n matrix q */
static double orth_error(const double *q, int n)
{
    double e = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 0.0;
            for (int k = 0; k < n; k++) s += q[(size_t)i * n + k] * q[(size_t)j * n + k];
            e = fmax(e, fabs(s - (i == j)));
        }
    return e;
}

/* the largest |Q 1 - 1| entry */
static double ones_error(const double *q, int n)
{
    double e = 0.0;
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int k = 0; k < n; k++) s += q[(size_t)i * n + k];
        e = fmax(e, fabs(s - 1.0));
    }
    return e;
}

llx_status llx_rotfile_check(const llx_rotfile *rf, const llx_config *c, const char *name)
{
    const int hd = llx_config_head_dim(c);
    if (rf->n_embd != c->n_embd || rf->head_dim != hd || rf->n_layer != c->n_layer)
        return llx_fail(LLX_ERR_FORMAT,
                        "%s: rotation file for n_embd %d, head_dim %d, %d layers; the model has %d, %d, %d", name,
                        rf->n_embd, rf->head_dim, rf->n_layer, c->n_embd, hd, c->n_layer);
    double e = orth_error(rf->r1, rf->n_embd);
    if (!(e <= LLX_ROTFILE_TOL))
        return llx_fail(LLX_ERR_FORMAT, "%s: R1 is not orthogonal (|Q Q^T - I| up to %.3g, tolerance %g)", name, e,
                        LLX_ROTFILE_TOL);
    for (int l = 0; l < rf->n_layer; l++) {
        e = orth_error(rf->r2 + (size_t)l * hd * hd, hd);
        if (!(e <= LLX_ROTFILE_TOL))
            return llx_fail(LLX_ERR_FORMAT, "%s: R2 of layer %d is not orthogonal (|Q Q^T - I| up to %.3g, tolerance %g)",
                            name, l, e, LLX_ROTFILE_TOL);
    }
    if (c->arch == LLX_ARCH_GPT2 && !((e = ones_error(rf->r1, rf->n_embd)) <= LLX_ROTFILE_TOL))
        return llx_fail(LLX_ERR_FORMAT,
                        "%s: R1 does not keep the all-ones direction (|Q 1 - 1| up to %.3g, tolerance %g), which "
                        "GPT-2's LayerNorm needs",
                        name, e, LLX_ROTFILE_TOL);
    return LLX_OK;
}

llx_status llx_rotfile_load(llx_rotfile *rf, const char *path, const llx_config *c)
{
    memset(rf, 0, sizeof *rf);
    char *buf;
    size_t len;
    llx_status st = llx_read_file(path, (size_t)1 << 30, &buf, &len);
    if (st != LLX_OK) return st;
    st = llx_rotfile_parse(rf, buf, len, path);
    free(buf);
    if (st == LLX_OK) st = llx_rotfile_check(rf, c, path);
    if (st != LLX_OK) llx_rotfile_free(rf);
    return st;
}

void llx_rotfile_free(llx_rotfile *rf)
{
    free(rf->r1);
    free(rf->r2);
    memset(rf, 0, sizeof *rf);
}

/* quant/qwrite.c - one weight matrix rounded per the scheme and added to
 * a .llx writer (qwrite.h). */
#include "quant/qwrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "model/half.h"
#include "util/status.h"

/* q (R x K, values in [-8, 7]) two per byte, the low nibble first, w + 8 */
static uint8_t *pack_nibbles(const int8_t *q, int R, int K)
{
    uint8_t *p = calloc((size_t)R * K / 2 + 1, 1);
    if (!p) return NULL;
    for (size_t i = 0; i < (size_t)R * K; i++) p[i / 2] |= (uint8_t)((q[i] + 8) << (i & 1 ? 4 : 0));
    return p;
}

/* [R] scales (one per row) or, with weight groups, [R][ng] (ng may be 1) */
static llx_status add_scales(llx_llx_writer *wr, const char *name, float *s, int R, int ng, int grouped, int f16)
{
    const long long cols = grouped ? ng : 0;
    if (!f16) return llx_llx_add(wr, name, LLX_DT_F32, R, cols, s);
    uint16_t *h = malloc((size_t)R * ng * sizeof *h + 1);
    if (!h) {
        free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)R * ng; i++) h[i] = llx_f32_to_f16(s[i]); /* exact: rounded when chosen */
    free(s);
    return llx_llx_add(wr, name, LLX_DT_F16, R, cols, h);
}

/* int4 scales per row at input width K: one per group, or one */
static int scales_per_row(const llx_qw_spec *q, int K)
{
    return q->bits == 4 && q->group > 0 && q->group < K ? K / q->group : 1;
}

llx_status llx_qw_add(llx_llx_writer *wr, const char *pre, float *w, int R, int K, const llx_qw_spec *q, double *h)
{
    char wn[80], sn[80];
    snprintf(wn, sizeof wn, "%s.w", pre);
    snprintf(sn, sizeof sn, "%s.s", pre);
    if (q->bits == 32) {
        float *c = malloc((size_t)R * K * sizeof *c + 1);
        if (!c) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        memcpy(c, w, (size_t)R * K * sizeof *c);
        return llx_llx_add(wr, wn, LLX_DT_F32, R, K, c);
    }
    const llx_wq spec = {q->bits, q->bits == 4 ? q->group : 0, q->bits == 4 && q->f16, q->bits == 4 && q->clip};
    const int ng = scales_per_row(q, K);
    int8_t *v = malloc((size_t)R * K + 1);
    float *s = malloc((size_t)R * ng * sizeof *s + 1);
    llx_status st = v && s ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) {
        if (h) st = llx_wq_gptq(&spec, &q->gptq, w, R, K, h, v, s);
        else llx_wq_rtn(&spec, w, R, K, v, s);
    }
    if (st != LLX_OK) {
        free(v), free(s);
        return st;
    }
    if (q->bits == 8) {
        st = llx_llx_add(wr, wn, LLX_DT_I8, R, K, v);
        return st == LLX_OK ? llx_llx_add(wr, sn, LLX_DT_F32, R, 0, s) : (free(s), st);
    }
    uint8_t *p = pack_nibbles(v, R, K);
    free(v);
    if (!p) {
        free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    st = llx_llx_add(wr, wn, LLX_DT_Q4, R, K, p);
    return st == LLX_OK ? add_scales(wr, sn, s, R, ng, spec.group > 0, spec.f16) : (free(s), st);
}

const char *llx_qw_shape_error(int K, int bits, int group)
{
    if (bits != 4) return NULL;
    if (K % 8) return "int4 needs input widths that are multiples of 8";
    if (group && K % group) return "the weight group does not divide an input width";
    return NULL;
}

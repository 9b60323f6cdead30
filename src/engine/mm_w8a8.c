/* engine/mm_w8a8.c - the quantized datapath's MATMUL executor: a node's
 * rows of one matrix against the stage's input, for int8 weights (int8 x
 * int8 -> int32, then the quantization unit y = acc * (s_in[t] * s_w[r]) +
 * b[r]), int4 weights (the int4 GEMM's group formula, kernels.h) or fp32
 * weights (fp32 models; the LM head with --lm-head fp32).  Then the
 * stage's activation, the aux product, and the output: fp32, or int8 by
 * the static scale of its row's segment (q | k | v, or one per head).
 * int8 weights run the tier's gemm_i8 with this quantization unit fused
 * into its epilogue where the epilogue holds the stage (i8_fused_part),
 * else tiles of int32 sums (i8_part); both give the same bits.
 * Formulas: docs/quantization.md. */
#include <string.h>

#include "engine/w8a8_node.h"
#include "kernels/q8.h"

typedef struct mp_job {
    node *nd;
    const llx_stage *st;
    const w8_layer *L;
    int fmt;
    const int8_t *w, *in;
    const uint8_t *w4;
    const float *wf, *inf, *ws, *b, *s_in, *aux;
    int r0, tokens, K, ldi, ldo, lda, groups, group;
    float *outf;  /* fp32 output (quant F32 / DYNAMIC / DYNAMIC4) */
    int8_t *out8; /* int8 output (quant STATIC) */
    int nseg;     /* static output: segments of global rows with their own scale */
    const int *seg_end;
    const float *seg_inv;
    int one_end;
    float one_inv;
    llx_epilogue ep; /* int8 and int4 weights, fused (fused_setup) */
    int fused;       /* int4: ep holds the stage */
} mp_job;

/* The activation, the aux product and the int8 output of rows [a, a + n)
 * (relative to r0) of token t, whose dequantized values (bias added) are
 * in y; y is the fp32 output row itself when the output is fp32. */
static void finish(const mp_job *j, float *y, int t, int a, int n)
{
    const llx_kernels *k = j->nd->k;
    if (j->st->act == LLX_ACT_GELU) k->gelu_f32(y, n);
    else if (j->st->act == LLX_ACT_SILU) k->silu_f32(y, n);
    if (j->aux)
        for (int i = 0; i < n; i++) y[i] *= j->aux[(size_t)t * j->lda + j->r0 + a + i];
    if (!j->out8) return;
    int8_t *o = j->out8 + (size_t)t * j->ldo + (size_t)(j->r0 + a);
    for (int i = 0, R = j->r0 + a, s = 0; i < n;) { /* rows split at the segment boundaries */
        while (R >= j->seg_end[s]) s++;
        const int len = j->seg_end[s] - R < n - i ? j->seg_end[s] - R : n - i;
        k->quant_i8(o + i, y + i, j->seg_inv[s], len);
        i += len, R += len;
    }
}

/* fp32 row of token t for rows starting at a: the output itself, or scratch */
static float *row_of(const mp_job *j, float *scratch, int t, int a)
{
    return j->out8 ? scratch : j->outf + (size_t)t * j->ldo + (size_t)(j->r0 + a);
}

/* rows per tile: as many as the thread's scratch holds for all tokens, in
 * whole units of the weight layout; with several tokens (prefill, a batch
 * of sequences) no more than fit the L2 cache, so the kernel's passes over
 * the tile for each group of tokens read the weights from memory only once */
static int tile_rows(const mp_job *j, int align, size_t row_bytes)
{
    int step = (int)(W8_ACC_ELEMS / (size_t)j->tokens) / align * align;
    const int l2_rows = (int)(W8_L2_TILE / (row_bytes ? row_bytes : 1)) / align * align;
    if (j->tokens > 1 && l2_rows < step) step = l2_rows;
    return step < align ? align : step;
}

/* int8 in tiles of int32 sums, then the quantization unit per token (static
 * outputs with more segments than one epilogue holds: per-head scales) */
static void i8_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = w8_impl(j->nd);
    const llx_kernels *k = j->nd->k;
    int32_t *acc = q->acc + (size_t)ith * (W8_ACC_ELEMS + (size_t)j->nd->max_batch * 8);
    float *y = q->ybuf + (size_t)ith * W8_ACC_ELEMS;
    const int step = tile_rows(j, k->i8_rows, (size_t)j->K);
    for (int r = a; r < b; r += step) {
        const int e = r + step < b ? r + step : b, n = e - r;
        /* r is a multiple of i8_rows from the slice start: a packed sub-matrix (kernels.h) */
        k->matmul_i8p(acc, n, j->in, j->ldi, j->w + (size_t)r * llx_i8_ld(k, j->K), j->tokens, n, j->K);
        for (int t = 0; t < j->tokens; t++) {
            float *yt = row_of(j, y, t, r);
            k->dequant_f32(yt, acc + (size_t)t * n, j->ws + r, j->b ? j->b + r : NULL, j->s_in[t], n);
            finish(j, yt, t, r, n);
        }
    }
}

/* The tier's int8 GEMM with the quantization unit fused into its epilogue
 * (kernels.h: dequant, GELU, the aux product, int8 by the row's segment
 * scale or fp32), no int32 tile in between: the prefill stage design, and
 * at one token the same call is the bandwidth GEMV.  j->ep (fused_setup)
 * is the epilogue of the stage's rows from r0. */
static void i8_fused_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const llx_kernels *k = j->nd->k;
    const llx_epilogue ep = llx_epilogue_at(&j->ep, 0, a);
    /* a is a multiple of i8_rows from the slice start: a packed sub-matrix (kernels.h) */
    k->gemm_i8(&ep, j->in, j->ldi, j->w + (size_t)a * llx_i8_ld(k, j->K), j->tokens, b - a, j->K);
}

/* The fused epilogue when it can hold the stage: GELU or no activation,
 * and static outputs whose scales are at most LLX_EPI_SEGS runs of equal
 * segments (q | k | v; per-head scales take the tiles of i8_part). */
static int fused_setup(mp_job *j)
{
    llx_epilogue *ep = &j->ep;
    if (j->st->act != LLX_ACT_NONE && j->st->act != LLX_ACT_GELU) return 0;
    *ep = (llx_epilogue){.scale = LLX_EPI_DEQUANT, .act = j->st->act == LLX_ACT_GELU ? LLX_EPI_GELU : LLX_EPI_ACT_NONE,
                         .ws = j->ws, .bias = j->b, .s_in = j->s_in, .row0 = j->r0, .ldo = (size_t)j->ldo,
                         .out_i8 = j->out8 != NULL, .lda = (size_t)j->lda, .ng = j->groups};
    if (j->aux) ep->aux = j->aux + j->r0;
    ep->out = j->out8 ? (void *)(j->out8 + j->r0) : (void *)(j->outf + j->r0);
    for (int s = 0; j->out8 && s < j->nseg; s++) {
        if (ep->nseg && ep->seg_inv[ep->nseg - 1] == j->seg_inv[s]) {
            ep->seg_end[ep->nseg - 1] = j->seg_end[s];
            continue;
        }
        if (ep->nseg == LLX_EPI_SEGS) return 0;
        ep->seg_end[ep->nseg] = j->seg_end[s];
        ep->seg_inv[ep->nseg++] = j->seg_inv[s];
    }
    return 1;
}

/* int4: the GEMM runs the stage's whole epilogue (dequant, GELU, the aux
 * product, int8 by the row's segment scale, kernels.h) where it holds the
 * stage (fused_setup), so GELU and the int8 rounding are one pass over
 * registers; else it dequantizes (and adds the bias) into the output rows
 * or a scratch tile [tokens][n] and the rest follows per token (finish):
 * the same bits. */
static void q4_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = w8_impl(j->nd);
    const llx_kernels *k = j->nd->k;
    float *y = q->ybuf + (size_t)ith * W8_ACC_ELEMS;
    const int step = tile_rows(j, k->q4_rows, (size_t)j->K / 2);
    for (int r = a; r < b; r += step) {
        const int e = r + step < b ? r + step : b, n = e - r;
        if (j->fused) {
            const llx_epilogue ep = llx_epilogue_at(&j->ep, 0, r);
            k->gemm_q4(&ep, j->in, j->ldi, j->w4 + (size_t)r * j->K / 2, j->tokens, n, j->K, j->group);
            continue;
        }
        llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = j->ws + (size_t)r * j->groups, .bias = j->b ? j->b + r : NULL,
                           .s_in = j->s_in, .ng = j->groups};
        ep.out = j->out8 ? (void *)y : (void *)row_of(j, y, 0, r);
        ep.ldo = j->out8 ? (size_t)n : (size_t)j->ldo;
        k->gemm_q4(&ep, j->in, j->ldi, j->w4 + (size_t)r * j->K / 2, j->tokens, n, j->K, j->group);
        for (int t = 0; t < j->tokens; t++) finish(j, j->out8 ? y + (size_t)t * n : row_of(j, y, t, r), t, r, n);
    }
}

static void f32_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = w8_impl(j->nd);
    const llx_kernels *k = j->nd->k;
    float *y = q->ybuf + (size_t)ith * W8_ACC_ELEMS;
    const int step = tile_rows(j, 4, (size_t)j->K * 4);
    for (int r = a; r < b; r += step) {
        const int e = r + step < b ? r + step : b, n = e - r;
        float *out = j->out8 ? y : row_of(j, y, 0, r);
        const int ldy = j->out8 ? n : j->ldo;
        k->matmul_f32(out, ldy, j->inf, j->ldi, j->wf + (size_t)r * j->K, j->K, j->b ? j->b + r : NULL, j->tokens, n,
                      j->K);
        for (int t = 0; t < j->tokens; t++) finish(j, out + (size_t)t * ldy, t, r, n);
    }
}

/* The stage's output buffer and its row stride; returns the rows it holds
 * (the logits buffer may hold fewer than the stage's tokens). */
static int w8_dst(node *nd, const llx_stage *st, void **dst, int *ld)
{
    w8_node *q = w8_impl(nd);
    *ld = q->ld[st->out];
    if (st->out != LLX_SLOT_LOGITS) {
        *dst = st->quant == LLX_QUANT_STATIC ? (void *)q->q[st->out] : (void *)q->f[st->out];
        return st->tokens;
    }
    int rows;
    *dst = llx_logits_dst(nd, &q->f[LLX_SLOT_LOGITS], &q->logit_rows, st->tokens, &rows);
    return rows;
}

void w8_target(node *nd, const llx_stage *st, void **dst, int *ld) { (void)w8_dst(nd, st, dst, ld); }

void w8_quantize(const node *nd, const llx_stage *st, const float *x, int n, int8_t *qo, float *s)
{
    const w8_node *wq = w8_impl(nd);
    const w8_layer *L = w8_layer_of(wq, st);
    int zero;
    switch (st->quant) {
    case LLX_QUANT_DYNAMIC: llx_quantize_dynamic(x, n, qo, s); break;
    case LLX_QUANT_DYNAMIC4: llx_quantize_a4(x, n, wq->a4_clip, qo, s, &zero); break;
    case LLX_QUANT_STATIC:
        nd->k->quant_i8(qo, x, L->inv[st->scale], n);
        *s = L->sc[st->scale];
        break;
    default: break;
    }
}

llx_status w8_matmul(node *nd, const llx_stage *st, int r0, int r1)
{
    w8_node *q = w8_impl(nd);
    const w8_layer *L = w8_layer_of(q, st);
    const int m = st->matrix, own0 = nd->part->rows[m][nd->id].begin, r = r0 - own0;
    mp_job j = {.nd = nd, .st = st, .L = L, .fmt = L->fmt[m], .r0 = r0, .tokens = st->tokens, .K = st->cols};
    void *dst;
    const int rows = w8_dst(nd, st, &dst, &j.ldo);
    if (j.tokens > rows) j.tokens = rows;
    if (st->quant == LLX_QUANT_STATIC) {
        j.out8 = dst;
        if (st->out == LLX_SLOT_QKV) {
            j.nseg = L->nseg, j.seg_end = L->seg_end, j.seg_inv = L->seg_inv;
        } else {
            j.one_end = st->rows, j.one_inv = L->inv[st->scale];
            j.nseg = 1, j.seg_end = &j.one_end, j.seg_inv = &j.one_inv;
        }
    } else {
        j.outf = dst;
    }
    const int t0 = llx_stage_row0(nd, st); /* rows before it are not wanted (pass.c) */
    j.tokens -= t0;
    if (j.outf) j.outf += (size_t)t0 * j.ldo;
    else j.out8 += (size_t)t0 * j.ldo;
    /* the LM head reads the last tokens, the others their rows from t0 */
    const size_t skip = (size_t)(nd->pass_tokens - j.tokens);
    j.ldi = q->ld[st->in];
    if (st->aux != LLX_SLOT_NONE) {
        j.lda = q->ld[st->aux];
        j.aux = q->f[st->aux] + (size_t)t0 * j.lda;
    }
    j.b = L->b[m] ? L->b[m] + r : NULL;
    if (j.fmt == W8_WF_F32) {
        j.wf = L->wf[m] + (size_t)r * st->cols;
        j.inf = q->f[st->in] + skip * j.ldi;
        llx_node_parallel_paced(nd, nd->pace, r1 - r0, 4, f32_part, &j);
        return LLX_OK;
    }
    j.in = q->q[st->in] + skip * j.ldi;
    j.s_in = q->s[st->in] + skip;
    if (j.fmt == W8_WF_Q4) {
        j.groups = L->groups[m], j.group = L->group[m];
        j.w4 = L->w4[m] + (size_t)r * st->cols / 2;
        j.ws = L->ws[m] + (size_t)r * j.groups;
        j.fused = fused_setup(&j);
        llx_node_parallel_paced(nd, nd->pace, r1 - r0, nd->k->q4_rows, q4_part, &j);
        return LLX_OK;
    }
    j.w = L->w[m] + (size_t)r * llx_i8_ld(nd->k, st->cols);
    j.ws = L->ws[m] + r;
    llx_node_parallel_paced(nd, nd->pace, r1 - r0, nd->k->i8_rows, fused_setup(&j) ? i8_fused_part : i8_part, &j);
    return LLX_OK;
}

/* sched/schedule.c - builds the per-pass stage list described in llx/schedule.h.
 * Pure planning: no weights, no threads, no I/O. */
#include "llx/schedule.h"

#include <stdlib.h>
#include <string.h>

#include "util/status.h"

#define DEFAULT_BLOCK_ROWS 64
#define STAGES_PER_LAYER 8
#define HOST_STAGES 3

llx_range llx_split_range(int units, int nodes, int node)
{
    llx_range r;
    r.begin = (int)((long long)units * node / nodes);
    r.end = (int)((long long)units * (node + 1) / nodes);
    return r;
}

void llx_matrix_shape(const llx_config *c, llx_matrix m, int *rows, int *cols)
{
    int C = c->n_embd, F = c->n_inner;
    switch (m) {
    case LLX_MAT_QKV: *rows = 3 * C, *cols = C; return;
    case LLX_MAT_PROJ: *rows = C, *cols = C; return;
    case LLX_MAT_FC1: *rows = F, *cols = C; return;
    case LLX_MAT_FC2: *rows = C, *cols = F; return;
    case LLX_MAT_LM_HEAD: *rows = c->n_vocab, *cols = C; return;
    default: *rows = 0, *cols = 0; return;
    }
}

/* Bytes per element on the ring after each kind of stage.  int8 travels where
 * the consumer quantizes with a static scale every node already knows; the
 * residual branches (PROJ, FC2), the logits, and anything a per-token
 * (dynamic) scale must be computed from, travel as fp32. */
static int gather_bytes(llx_precision p, llx_op op)
{
    if (p == LLX_PREC_FP32) return 4;
    switch (op) {
    case LLX_OP_QKV: return 1; /* q, k, v use static scales in both modes */
    case LLX_OP_ATTN:
    case LLX_OP_FC1: return p == LLX_PREC_W8A8_STATIC ? 1 : 4;
    default: return 4;
    }
}

static llx_stage base_stage(const llx_sched_opts *o, llx_op op, llx_kernel k, int layer)
{
    llx_stage st;
    memset(&st, 0, sizeof st);
    st.op = op;
    st.kernel = k;
    st.layer = layer;
    st.matrix = LLX_MAT_NONE;
    st.tokens = o->tokens;
    st.pos = o->pos;
    st.ctx = o->pos + o->tokens;
    st.split = LLX_SPLIT_NONE;
    return st;
}

static llx_stage mp_stage(const llx_config *c, const llx_sched_opts *o, llx_op op, llx_matrix m, int layer)
{
    llx_stage st = base_stage(o, op, LLX_KERNEL_MP, layer);
    st.matrix = m;
    llx_matrix_shape(c, m, &st.rows, &st.cols);
    st.split = LLX_SPLIT_ROWS;
    st.units = st.rows;
    st.gather = st.rows;
    st.gather_bytes = gather_bytes(o->precision, op);
    st.gelu = op == LLX_OP_FC1;
    return st;
}

static llx_stage vec_stage(const llx_config *c, const llx_sched_opts *o, llx_op op, llx_kernel k, int layer,
                           int residual, int layernorm)
{
    llx_stage st = base_stage(o, op, k, layer);
    st.cols = c->n_embd;
    st.residual = residual;
    st.layernorm = layernorm;
    return st;
}

static void plan_layer(const llx_config *c, const llx_sched_opts *o, int l, llx_stage *out)
{
    int n = 0;
    out[n++] = vec_stage(c, o, LLX_OP_LN1, LLX_KERNEL_LNRES, l, 0, 1);
    out[n++] = mp_stage(c, o, LLX_OP_QKV, LLX_MAT_QKV, l);

    llx_stage a = base_stage(o, LLX_OP_ATTN, LLX_KERNEL_MHA, l);
    a.heads = c->n_head;
    a.head_dim = llx_config_head_dim(c);
    a.split = LLX_SPLIT_HEADS;
    a.units = c->n_head;
    a.gather = c->n_embd;
    a.gather_bytes = gather_bytes(o->precision, LLX_OP_ATTN);
    out[n++] = a;

    out[n++] = mp_stage(c, o, LLX_OP_PROJ, LLX_MAT_PROJ, l);
    out[n++] = vec_stage(c, o, LLX_OP_RES_LN2, LLX_KERNEL_LNRES, l, 1, 1);
    out[n++] = mp_stage(c, o, LLX_OP_FC1, LLX_MAT_FC1, l);
    out[n++] = mp_stage(c, o, LLX_OP_FC2, LLX_MAT_FC2, l);
    out[n++] = vec_stage(c, o, LLX_OP_RES, LLX_KERNEL_LNRES, l, 1, 0);
}

static llx_range stage_slice(const llx_stage *st, int nodes, int node)
{
    llx_range r = {0, 0};
    switch (st->split) {
    case LLX_SPLIT_ROWS:
    case LLX_SPLIT_HEADS: return llx_split_range(st->units, nodes, node);
    case LLX_SPLIT_HOST:
        if (node == 0) r.end = st->cols;
        return r;
    case LLX_SPLIT_NONE: r.end = st->cols; return r;
    }
    return r;
}

llx_status llx_schedule_build(llx_schedule *s, const llx_config *cfg, const llx_sched_opts *opt)
{
    memset(s, 0, sizeof *s);
    LLX_TRY(llx_config_check(cfg));
    llx_sched_opts o = *opt;
    if (o.nodes < 1 || o.nodes > LLX_MAX_NODES)
        return llx_fail(LLX_ERR_ARG, "node count %d out of range [1, %d]", o.nodes, LLX_MAX_NODES);
    if (o.tokens < 1) return llx_fail(LLX_ERR_ARG, "a pass needs at least one token (got %d)", o.tokens);
    if (o.pos < 0 || (long)o.pos + o.tokens > cfg->n_ctx)
        return llx_fail(LLX_ERR_ARG, "positions %d..%d do not fit the context of %d tokens", o.pos,
                        o.pos + o.tokens - 1, cfg->n_ctx);
    if (o.block_rows < 0) return llx_fail(LLX_ERR_ARG, "block_rows must be >= 0 (got %d)", o.block_rows);
    if (o.block_rows == 0) o.block_rows = DEFAULT_BLOCK_ROWS;
    if (o.precision < LLX_PREC_FP32 || o.precision > LLX_PREC_W8A8_DYNAMIC)
        return llx_fail(LLX_ERR_ARG, "unknown precision %d", (int)o.precision);

    int n = cfg->n_layer * STAGES_PER_LAYER + HOST_STAGES;
    s->stages = calloc((size_t)n, sizeof *s->stages);
    s->slices = calloc((size_t)n * (size_t)o.nodes, sizeof *s->slices);
    if (!s->stages || !s->slices) {
        llx_schedule_free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory planning the schedule");
    }
    s->cfg = *cfg;
    s->opt = o;

    int k = 0;
    llx_stage e = vec_stage(cfg, &o, LLX_OP_EMBED, LLX_KERNEL_HOST, -1, 0, 0);
    e.split = LLX_SPLIT_HOST;
    e.gather = cfg->n_embd; /* the host hands every node the full embedding */
    e.gather_bytes = 4;
    s->stages[k++] = e;
    for (int l = 0; l < cfg->n_layer; l++, k += STAGES_PER_LAYER) plan_layer(cfg, &o, l, s->stages + k);
    s->stages[k++] = vec_stage(cfg, &o, LLX_OP_LN_F, LLX_KERNEL_HOST, -1, 0, 1);

    llx_stage h = mp_stage(cfg, &o, LLX_OP_LM_HEAD, LLX_MAT_LM_HEAD, -1);
    h.kernel = LLX_KERNEL_HOST;
    h.layer = -1;
    h.tokens = o.all_logits ? o.tokens : 1;
    h.gather_bytes = 4;
    s->stages[k++] = h;
    s->n_stages = k;

    for (int i = 0; i < k; i++)
        for (int nd = 0; nd < o.nodes; nd++)
            s->slices[(long)i * o.nodes + nd] = stage_slice(&s->stages[i], o.nodes, nd);
    return LLX_OK;
}

void llx_schedule_free(llx_schedule *s)
{
    free(s->stages);
    free(s->slices);
    memset(s, 0, sizeof *s);
}

const char *llx_op_name(llx_op op)
{
    static const char *names[] = {"embed", "ln1", "qkv", "attn", "proj", "res_ln2",
                                  "fc1", "fc2", "res", "ln_f", "lm_head"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

const char *llx_kernel_name(llx_kernel k)
{
    static const char *names[] = {"host", "mp", "mha", "lnres"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *llx_matrix_name(llx_matrix m)
{
    static const char *names[] = {"qkv", "proj", "fc1", "fc2", "lm_head"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "none";
}

const char *llx_precision_name(llx_precision p)
{
    static const char *names[] = {"fp32", "w8a8-static", "w8a8-dynamic"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* sched/schedule.c - builds the per-pass stage list described in
 * llx/schedule.h from the config, a partition and the pass options.
 * Pure planning: no weights, no threads, no I/O. */
#include "llx/schedule.h"

#include <stdlib.h>
#include <string.h>

#include "util/status.h"

#define MAX_STAGES_PER_LAYER 11
#define HOST_STAGES 3

typedef struct plan {
    const llx_config *c;
    const llx_sched_opts *o;
    const llx_partition *part;
    int quantized, dynamic; /* W8A8, and its per-token mode */
} plan;

/* Ring element size: int8 travels where the producer quantizes with a
 * static scale every node knows; everything else travels as fp32. */
static int elem_bytes(const plan *p, llx_quant q) { return p->quantized && q == LLX_QUANT_STATIC ? 1 : 4; }

/* How a quantized datapath produces an activation a matrix reads next:
 * static scale (the hardware), per token (dynamic mode), int4 per token
 * (W4A4), or fp32 (an fp32 model). */
static llx_quant act_quant(const plan *p)
{
    if (!p->quantized || p->o->act_bits == 32) return LLX_QUANT_F32;
    if (p->o->act_bits == 4) return LLX_QUANT_DYNAMIC4;
    return p->dynamic ? LLX_QUANT_DYNAMIC : LLX_QUANT_STATIC;
}

/* q, k, v: int8 with static scales, or fp32 (fp32 attention) */
static llx_quant kv_quant(const plan *p) { return p->o->kv_f32 ? LLX_QUANT_F32 : LLX_QUANT_STATIC; }

static llx_stage base_stage(const plan *p, llx_op op, llx_kernel k, llx_work w, int layer)
{
    llx_stage st;
    memset(&st, 0, sizeof st);
    st.op = op;
    st.kernel = k;
    st.work = w;
    st.layer = layer;
    st.in = st.out = st.aux = LLX_SLOT_NONE;
    st.matrix = LLX_MAT_NONE;
    st.normw = LLX_NORMW_NONE;
    st.scale = -1;
    st.tokens = p->o->tokens;
    st.pos = p->o->pos;
    st.ctx = p->o->pos + p->o->tokens;
    st.split = LLX_SPLIT_NONE;
    st.unit_elems = 1;
    return st;
}

static void set_quant(const plan *p, llx_stage *st, llx_quant q, int scale)
{
    st->quant = p->quantized ? q : LLX_QUANT_F32;
    st->scale = st->quant == LLX_QUANT_STATIC ? scale : -1;
}

/* A matrix stage; gathered unless `local`. */
static llx_stage mp_stage(const plan *p, llx_op op, llx_matrix m, int layer, llx_slot in, llx_slot out, int local)
{
    llx_stage st = base_stage(p, op, LLX_KERNEL_MP, LLX_WORK_MATMUL, layer);
    st.matrix = m;
    st.in = in;
    st.out = out;
    llx_matrix_shape(p->c, m, &st.rows, &st.cols);
    st.split = LLX_SPLIT_ROWS;
    st.units = st.rows;
    st.block = p->part->block_rows[m];
    st.gather = local ? 0 : st.rows;
    st.gather_bytes = elem_bytes(p, LLX_QUANT_F32);
    return st;
}

static void finish_quant(const plan *p, llx_stage *st, llx_quant q, int scale)
{
    set_quant(p, st, q, scale);
    if (st->gather) st->gather_bytes = elem_bytes(p, st->quant);
}

static llx_stage norm_stage(const plan *p, llx_op op, llx_kernel k, int layer, llx_slot branch, llx_normw w)
{
    llx_stage st = base_stage(p, op, k, LLX_WORK_NORM, layer);
    st.cols = p->c->n_embd;
    st.in = branch;
    st.residual = branch != LLX_SLOT_NONE;
    if (w != LLX_NORMW_NONE) {
        st.normw = w;
        st.norm = p->c->arch == LLX_ARCH_LLAMA ? LLX_NORM_RMS : LLX_NORM_LAYER;
        st.out = LLX_SLOT_H;
    }
    return st;
}

static llx_stage head_stage(const plan *p, llx_op op, llx_kernel k, llx_work w, int layer)
{
    llx_stage st = base_stage(p, op, k, w, layer);
    st.heads = p->c->n_head;
    st.kv_heads = llx_config_kv_heads(p->c);
    st.head_dim = llx_config_head_dim(p->c);
    st.split = LLX_SPLIT_HEADS;
    st.units = st.heads;
    st.unit_elems = st.head_dim;
    st.block = 1;
    return st;
}

static int plan_layer(const plan *p, int l, llx_stage *out)
{
    const int llama = p->c->arch == LLX_ARCH_LLAMA;
    int n = 0;
    llx_stage st = norm_stage(p, LLX_OP_LN1, LLX_KERNEL_LNRES, l, LLX_SLOT_NONE, LLX_NORMW_1);
    set_quant(p, &st, act_quant(p), LLX_SC_LN1);
    out[n++] = st;

    /* q, k, v: int8 straight from the matrix (GPT-2, static scales in both
     * W8A8 modes), or fp32 to the rotary step, which quantizes them */
    st = mp_stage(p, LLX_OP_QKV, LLX_MAT_QKV, l, LLX_SLOT_H, LLX_SLOT_QKV, 0);
    finish_quant(p, &st, llama ? LLX_QUANT_F32 : kv_quant(p), LLX_SC_Q);
    out[n++] = st;
    if (llama) {
        st = head_stage(p, LLX_OP_ROPE, LLX_KERNEL_LNRES, LLX_WORK_ROPE, l);
        st.in = st.out = LLX_SLOT_QKV;
        st.cols = llx_slot_width(p->c, LLX_SLOT_QKV);
        set_quant(p, &st, kv_quant(p), LLX_SC_Q);
        out[n++] = st;
    }

    st = head_stage(p, LLX_OP_ATTN, LLX_KERNEL_MHA, LLX_WORK_ATTN, l);
    st.block = st.heads / st.kv_heads; /* a ring block per KV group: its K and V are read once */
    st.in = LLX_SLOT_QKV;
    st.out = LLX_SLOT_CTX;
    st.gather = st.heads * st.head_dim;
    finish_quant(p, &st, act_quant(p), LLX_SC_CTX);
    out[n++] = st;

    out[n++] = mp_stage(p, LLX_OP_PROJ, LLX_MAT_PROJ, l, LLX_SLOT_CTX, LLX_SLOT_BR, 0);
    st = norm_stage(p, LLX_OP_RES_LN2, LLX_KERNEL_LNRES, l, LLX_SLOT_BR, LLX_NORMW_2);
    set_quant(p, &st, act_quant(p), LLX_SC_LN2);
    out[n++] = st;

    if (llama) {
        /* gate and up share the partition's rows, so UP multiplies by the
         * node's own GATE rows and the gate output never travels */
        st = mp_stage(p, LLX_OP_GATE, LLX_MAT_GATE, l, LLX_SLOT_H, LLX_SLOT_GATE, 1);
        st.act = LLX_ACT_SILU;
        out[n++] = st;
        st = mp_stage(p, LLX_OP_UP, LLX_MAT_FC1, l, LLX_SLOT_H, LLX_SLOT_MID, 0);
        st.aux = LLX_SLOT_GATE;
    } else {
        st = mp_stage(p, LLX_OP_FC1, LLX_MAT_FC1, l, LLX_SLOT_H, LLX_SLOT_MID, 0);
        st.act = LLX_ACT_GELU;
    }
    if (p->quantized && p->o->hadamard) {
        /* the transform needs the whole fp32 vector: it runs after the
         * gather, on every node, and quantizes its output */
        finish_quant(p, &st, LLX_QUANT_F32, -1);
        out[n++] = st;
        st = base_stage(p, LLX_OP_HAD, LLX_KERNEL_LNRES, LLX_WORK_HADAMARD, l);
        st.in = st.out = LLX_SLOT_MID;
        st.cols = p->c->n_inner;
        set_quant(p, &st, act_quant(p), LLX_SC_GELU);
    } else {
        finish_quant(p, &st, act_quant(p), LLX_SC_GELU);
    }
    out[n++] = st;
    out[n++] = mp_stage(p, llama ? LLX_OP_DOWN : LLX_OP_FC2, LLX_MAT_FC2, l, LLX_SLOT_MID, LLX_SLOT_BR, 0);
    out[n++] = norm_stage(p, LLX_OP_RES, LLX_KERNEL_LNRES, l, LLX_SLOT_BR, LLX_NORMW_NONE);
    return n;
}

static llx_range stage_slice(const llx_stage *st, const llx_partition *part, int node)
{
    llx_range r = {0, 0};
    switch (st->split) {
    case LLX_SPLIT_ROWS: return part->rows[st->matrix][node];
    case LLX_SPLIT_HEADS: return part->heads[node];
    case LLX_SPLIT_HOST:
        if (node == 0) r.end = st->cols;
        return r;
    case LLX_SPLIT_NONE: r.end = st->cols; return r;
    }
    return r;
}

static llx_status check_pass(const llx_config *cfg, const llx_sched_opts *o)
{
    if (o->nodes < 1 || o->nodes > LLX_MAX_NODES)
        return llx_fail(LLX_ERR_ARG, "node count %d out of range [1, %d]", o->nodes, LLX_MAX_NODES);
    if (o->tokens < 1) return llx_fail(LLX_ERR_ARG, "a pass needs at least one token (got %d)", o->tokens);
    if (o->logits < 0 || o->logits > o->tokens)
        return llx_fail(LLX_ERR_ARG, "logits wanted for %d of %d tokens", o->logits, o->tokens);
    if (!o->mixed && (o->pos < 0 || (long)o->pos + o->tokens > cfg->n_ctx))
        return llx_fail(LLX_ERR_ARG, "positions %d..%d do not fit the context of %d tokens", o->pos,
                        o->pos + o->tokens - 1, cfg->n_ctx);
    if (o->block_rows < 0) return llx_fail(LLX_ERR_ARG, "block_rows must be >= 0 (got %d)", o->block_rows);
    if (o->precision < LLX_PREC_FP32 || o->precision > LLX_PREC_W8A8_DYNAMIC)
        return llx_fail(LLX_ERR_ARG, "unknown precision %d", (int)o->precision);
    if (o->act_bits != 0 && o->act_bits != 8 && o->act_bits != 4 && o->act_bits != 32)
        return llx_fail(LLX_ERR_ARG, "activation bits must be 8, 4 or 32 (got %d)", o->act_bits);
    return LLX_OK;
}

static void plan_stages(llx_schedule *s)
{
    const llx_config *cfg = &s->cfg;
    const llx_sched_opts *o = &s->opt;
    const plan p = {cfg, o, &s->part, o->precision != LLX_PREC_FP32, o->precision == LLX_PREC_W8A8_DYNAMIC};
    int k = 0;
    llx_stage e = base_stage(&p, LLX_OP_EMBED, LLX_KERNEL_HOST, LLX_WORK_EMBED, -1);
    e.cols = cfg->n_embd;
    e.out = LLX_SLOT_X;
    e.pos_embed = cfg->arch == LLX_ARCH_GPT2;
    e.split = LLX_SPLIT_HOST;
    e.block = e.cols;
    e.gather = cfg->n_embd; /* the host hands every node the full embedding */
    e.gather_bytes = 4;
    s->stages[k++] = e;
    for (int l = 0; l < cfg->n_layer; l++) k += plan_layer(&p, l, s->stages + k);
    llx_stage f = norm_stage(&p, LLX_OP_LN_F, LLX_KERNEL_HOST, -1, LLX_SLOT_NONE, LLX_NORMW_F);
    set_quant(&p, &f, o->act_bits == 32 ? LLX_QUANT_F32 : LLX_QUANT_DYNAMIC, -1); /* per token, for the LM head */
    s->stages[k++] = f;

    llx_stage h = mp_stage(&p, LLX_OP_LM_HEAD, LLX_MAT_LM_HEAD, -1, LLX_SLOT_H, LLX_SLOT_LOGITS, 0);
    h.kernel = LLX_KERNEL_HOST;
    h.tokens = o->all_logits ? o->tokens : o->logits > 0 ? o->logits : 1;
    s->stages[k++] = h;
    s->n_stages = k;
    for (int i = 0; i < k; i++) {
        s->stages[i].block = s->stages[i].block > 0 ? s->stages[i].block : 1;
        for (int nd = 0; nd < o->nodes; nd++)
            s->slices[(long)i * o->nodes + nd] = stage_slice(&s->stages[i], &s->part, nd);
    }
}

llx_status llx_schedule_build_part(llx_schedule *s, const llx_config *cfg, const llx_partition *part,
                                   const llx_sched_opts *opt)
{
    memset(s, 0, sizeof *s);
    LLX_TRY(llx_config_check(cfg));
    LLX_TRY(check_pass(cfg, opt));
    if (part->nodes != opt->nodes)
        return llx_fail(LLX_ERR_ARG, "partition for %d nodes used for a pass on %d", part->nodes, opt->nodes);
    const int n = cfg->n_layer * MAX_STAGES_PER_LAYER + HOST_STAGES;
    s->stages = calloc((size_t)n, sizeof *s->stages);
    s->slices = calloc((size_t)n * (size_t)opt->nodes, sizeof *s->slices);
    if (!s->stages || !s->slices) {
        llx_schedule_free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory planning the schedule");
    }
    s->cfg = *cfg;
    s->opt = *opt;
    s->part = *part;
    plan_stages(s);
    return LLX_OK;
}

llx_status llx_schedule_set_pos(llx_schedule *s, int pos)
{
    llx_sched_opts o = s->opt;
    o.pos = pos;
    LLX_TRY(check_pass(&s->cfg, &o));
    s->opt.pos = pos;
    for (int i = 0; i < s->n_stages; i++) { /* as base_stage */
        s->stages[i].pos = pos;
        s->stages[i].ctx = pos + o.tokens;
    }
    return LLX_OK;
}

llx_status llx_schedule_build(llx_schedule *s, const llx_config *cfg, const llx_sched_opts *opt)
{
    memset(s, 0, sizeof *s);
    LLX_TRY(llx_config_check(cfg));
    LLX_TRY(check_pass(cfg, opt));
    llx_part_opts po = {opt->nodes, opt->precision == LLX_PREC_FP32 ? 4 : 1, opt->block_rows};
    llx_partition *part = malloc(sizeof *part);
    if (!part) return llx_fail(LLX_ERR_NOMEM, "out of memory planning the schedule");
    llx_status st = llx_partition_build(part, cfg, &po);
    if (st == LLX_OK) st = llx_schedule_build_part(s, cfg, part, opt);
    free(part);
    return st;
}

void llx_schedule_free(llx_schedule *s)
{
    free(s->stages);
    free(s->slices);
    memset(s, 0, sizeof *s);
}

int llx_slot_width(const llx_config *c, llx_slot s)
{
    const int d = llx_config_head_dim(c);
    switch (s) {
    case LLX_SLOT_X:
    case LLX_SLOT_H:
    case LLX_SLOT_BR: return c->n_embd;
    case LLX_SLOT_QKV: return (c->n_head + 2 * llx_config_kv_heads(c)) * d;
    case LLX_SLOT_CTX: return c->n_head * d;
    case LLX_SLOT_GATE: return c->arch == LLX_ARCH_LLAMA ? c->n_inner : 0;
    case LLX_SLOT_MID: return c->n_inner;
    case LLX_SLOT_LOGITS: return c->n_vocab;
    default: return 0;
    }
}

const char *llx_op_name(llx_op op)
{
    static const char *names[] = {"embed", "ln1",     "qkv",  "attn", "proj", "res_ln2", "fc1", "fc2",
                                  "res",   "ln_f",    "lm_head", "rope", "gate", "up",   "down", "had"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

const char *llx_kernel_name(llx_kernel k)
{
    static const char *names[] = {"host", "mp", "mha", "lnres"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *llx_matrix_name(llx_matrix m)
{
    static const char *names[] = {"qkv", "proj", "fc1", "fc2", "gate", "lm_head"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "none";
}

const char *llx_precision_name(llx_precision p)
{
    static const char *names[] = {"fp32", "w8a8-static", "w8a8-dynamic"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

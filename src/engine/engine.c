/* engine/engine.c - llx_engine: options, the threads backend, the forward
 * pass and its statistics (node setup and running: node.c).
 *
 * Threads backend: node i runs on member i of a team (member 0 is the
 * caller's thread); every node owns an inner pool of `threads` workers, its
 * weight slices (allocated and first touched on its own thread) and its KV
 * heads; nodes talk through in-process links.  MPI backend (engine_mpi.c):
 * this process is node `rank`; rank 0 is also the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "util/status.h"
#include "util/timer.h"

llx_engine_opts llx_engine_defaults(void)
{
    llx_engine_opts o;
    memset(&o, 0, sizeof o);
    o.nodes = 1;
    o.threads = llx_cpu_count();
    o.precision = LLX_PREC_FP32;
    o.kernels = "auto";
    o.backend = LLX_BACKEND_THREADS;
    o.lm_head_int8 = 1; /* W8A8 only; +0.01 % ppl on the shared model, a quarter of the bytes */
    return o;
}

static llx_status check_opts(const llx_model *m, llx_engine_opts *o)
{
    const llx_config *c = llx_model_config(m);
    if (o->nodes < 1 || o->nodes > LLX_MAX_NODES)
        return llx_fail(LLX_ERR_ARG, "--nodes must be in [1, %d] (got %d)", LLX_MAX_NODES, o->nodes);
    if (o->threads < 1 || o->threads > 256)
        return llx_fail(LLX_ERR_ARG, "--threads must be in [1, 256] (got %d)", o->threads);
    /* default: the model's positions, at most LLX_DEFAULT_CTX (Llama 3.2 has
     * 131072; its KV cache would take gigabytes nobody asked for) */
    if (o->max_ctx == 0) o->max_ctx = c->n_ctx < LLX_DEFAULT_CTX ? c->n_ctx : LLX_DEFAULT_CTX;
    if (o->max_ctx > c->n_ctx) o->max_ctx = c->n_ctx;
    if (o->max_ctx < 1) return llx_fail(LLX_ERR_ARG, "context size must be positive (got %d)", o->max_ctx);
    if (o->max_seqs == 0) o->max_seqs = 1;
    if (o->max_seqs < 1 || o->max_seqs > 256)
        return llx_fail(LLX_ERR_ARG, "sequences must be in [1, 256] (got %d)", o->max_seqs);
    if (o->kv_blocks < 0) return llx_fail(LLX_ERR_ARG, "KV blocks must be >= 0 (got %d)", o->kv_blocks);
    if (o->max_batch == 0) o->max_batch = 256;
    if (o->max_batch < 1 || o->max_batch > 4096)
        return llx_fail(LLX_ERR_ARG, "batch size must be in [1, 4096] (got %d)", o->max_batch);
    if (o->max_batch < o->max_seqs) o->max_batch = o->max_seqs; /* a step's last tokens fit one pass */
    if (o->block_rows < 0) return llx_fail(LLX_ERR_ARG, "block rows must be >= 0 (got %d)", o->block_rows);
    o->block_rows = (o->block_rows + 15) & ~15; /* whole 16-row int8 panels (kernels.h); 0 = automatic */
    if (!o->kernels) o->kernels = "auto";
    const int quantized = llx_model_kind_of(m) == LLX_MODEL_LLX;
    if (o->precision == LLX_PREC_FP32 && quantized)
        return llx_fail(LLX_ERR_UNSUPPORTED, "'%s' is a quantized .llx model; fp32 needs the HuggingFace folder",
                        llx_model_path(m));
    if (o->precision != LLX_PREC_FP32 && !quantized)
        return llx_fail(LLX_ERR_UNSUPPORTED, "w8a8 needs a quantized .llx model (make one with 'looplynx quantize')");
    return LLX_OK;
}

/* What the model's scheme changes in every pass's schedule. */
static void set_sched(llx_engine *e)
{
    llx_sched_opts *so = &e->sched;
    memset(so, 0, sizeof *so);
    so->nodes = e->opt.nodes;
    so->block_rows = e->opt.block_rows;
    so->precision = e->opt.precision;
    if (e->opt.precision == LLX_PREC_FP32) return;
    llx_quant_info qi;
    llx_model_quant_info(e->model, &qi);
    const llx_scheme_info *s = &qi.s;
    so->act_bits = s->scheme == LLX_SCHEME_W4A4 ? 4 : s->scheme == LLX_SCHEME_F32 ? 32 : 8;
    so->w_bits = s->scheme == LLX_SCHEME_W8A8 ? 8 : s->scheme == LLX_SCHEME_F32 ? 32 : 4;
    so->lm_bits = e->opt.lm_head_int8 || s->lm_bits != 8 ? s->lm_bits : 32;
    so->kv_f32 = !s->kv_int8;
    so->hadamard = s->had_down;
    so->w_group = s->group;
    so->w_scale_bytes = s->scales_f16 ? 2 : 4;
}

llx_status llx_engine_create(llx_engine **out, const llx_model *m, const llx_engine_opts *o)
{
    *out = NULL;
    llx_engine *e = calloc(1, sizeof *e);
    if (!e) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    e->model = m;
    e->opt = *o;
    llx_status st = check_opts(m, &e->opt);
    if (st != LLX_OK) {
        free(e);
        return st;
    }
    e->k = llx_kernels_select(e->opt.kernels);
    if (!e->k) {
        const char *why = "unknown";
        for (int t = 0; t < LLX_TIER_COUNT; t++)
            if (!strcmp(e->opt.kernels, llx_tier_name((llx_tier)t))) why = llx_tier_missing((llx_tier)t);
        st = llx_fail(LLX_ERR_ARG, "kernels '%s' cannot run here: %s", e->opt.kernels, why);
        free(e);
        return st;
    }
    e->ops = e->opt.precision == LLX_PREC_FP32 ? &llx_fp32_ops : &llx_w8a8_ops;
    st = llx_engine_kv_init(e);
    if (st != LLX_OK) {
        llx_engine_kv_free_all(e);
        free(e);
        return st;
    }
    set_sched(e);
    const llx_part_opts po = {e->opt.nodes, e->ops->weight_bytes_per_elem, e->opt.block_rows};
    st = llx_partition_build(&e->part, llx_model_config(m), &po);
    if (st != LLX_OK) {
        llx_engine_kv_free_all(e);
        free(e);
        return st;
    }
    if (e->opt.backend == LLX_BACKEND_MPI) st = llx_engine_mpi_create(e);
    else st = llx_engine_threads_create(e);
    if (st != LLX_OK) {
        llx_engine_free(e);
        return st;
    }
    *out = e;
    return LLX_OK;
}

llx_status llx_engine_threads_create(llx_engine *e)
{
    const int N = e->opt.nodes;
    LLX_TRY(llx_engine_local_nodes(e, 0, N));
    if (N > 1) {
        LLX_TRY(llx_inproc_fabric_create(&e->fab, N));
        LLX_TRY(llx_pool_create(&e->team, N, e->opt.threads * N <= llx_cpu_count()));
    }
    LLX_TRY(llx_engine_run_local(e, 0, NULL, NULL));
    llx_model_release_pages(e->model); /* the nodes hold their own copies now */
    for (int i = 0; i < N; i++) e->weight_bytes += e->ops->weight_bytes(&e->nd[i]);
    return LLX_OK;
}

void llx_engine_free(llx_engine *e)
{
    if (!e) return;
    if (e->opt.backend == LLX_BACKEND_MPI) llx_engine_mpi_free(e);
    if (e->nd) llx_engine_run_local(e, 2, NULL, NULL);
    llx_schedule_free(&e->last);
    llx_pool_free(e->team);
    llx_inproc_fabric_free(e->fab);
    llx_engine_kv_free_all(e);
    free(e->nd);
    free(e);
}

const llx_config *llx_engine_config(const llx_engine *e) { return llx_model_config(e->model); }
int llx_engine_rank(const llx_engine *e) { return e->nd ? e->nd[0].id : 0; }
void llx_engine_reset(llx_engine *e) { e->pos = 0; }
int llx_engine_pos(const llx_engine *e) { return e->pos; }
int llx_engine_max_ctx(const llx_engine *e) { return e->opt.max_ctx; }

static llx_status check_tokens(const llx_engine *e, const int *tokens, int n)
{
    const llx_config *c = llx_model_config(e->model);
    if (n < 1) return llx_fail(LLX_ERR_ARG, "nothing to run: no tokens");
    if (e->broken) return llx_fail(LLX_ERR_RING, "the engine stopped after an earlier ring failure");
    if ((long)e->pos + n > e->opt.max_ctx)
        return llx_fail(LLX_ERR_ARG, "%d tokens at position %d exceed the context of %d tokens", n, e->pos,
                        e->opt.max_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
            return llx_fail(LLX_ERR_ARG, "token id %d at index %d is outside the vocabulary [0, %d)", tokens[i], i,
                            c->n_vocab);
    return LLX_OK;
}

llx_status llx_engine_schedule(llx_engine *e, const llx_sched_opts *so, const llx_schedule **out)
{
    *out = &e->last;
    llx_sched_opts a = e->last.opt, b = *so;
    a.pos = b.pos = 0;
    if (e->have_last && !memcmp(&a, &b, sizeof a) && llx_schedule_set_pos(&e->last, so->pos) == LLX_OK) return LLX_OK;
    llx_schedule_free(&e->last);
    e->have_last = 0;
    LLX_TRY(llx_schedule_build_part(&e->last, llx_model_config(e->model), &e->part, so));
    e->have_last = 1;
    return LLX_OK;
}

/* Per all-gather of the pass just run, the wait of the node that finished
 * last (the minimum over nodes): what the ring cost beyond the slowest
 * node's own work.  Only the threads backend sees every node. */
static void account_ring(llx_engine *e)
{
    if (!e->nd || !e->nd[0].ring) return;
    int n0 = 0;
    llx_ring_waits(e->nd[0].ring, &n0);
    for (int g = 0; g < n0; g++) {
        double m = 1e300;
        for (int i = 0; i < e->n_local; i++) {
            int n = 0;
            const double *w = llx_ring_waits(e->nd[i].ring, &n);
            if (g < n && w[g] < m) m = w[g];
        }
        e->ring_exposed_s += m;
    }
    for (int i = 0; i < e->n_local; i++) llx_ring_clear_waits(e->nd[i].ring);
}

/* The pass in e->kv.tok_* on every node: n tokens, the last `logits` of
 * them wanted (all with all_logits).  A pass of the default sequence alone
 * is planned at its position; a mixed one carries positions per token. */
llx_status llx_engine_run_pass(llx_engine *e, int n, int all_logits, int logits)
{
    const node *n0 = &e->nd[0];
    if (n0->layer_end && n0->layer_end <= n0->layer_begin)
        return llx_fail(LLX_ERR_ARG, "a pass from layer %d cut after layer %d runs no layer", n0->layer_begin,
                        n0->layer_end - 1);
    const engine_kv *k = &e->kv;
    int mixed = 0;
    for (int t = 0; t < n && !mixed; t++) mixed = k->tok_slot[t] != k->slots - 1 || k->tok_pos[t] != k->tok_pos[0] + t;
    llx_sched_opts so = llx_engine_sched_opts(e, n, mixed ? 0 : k->tok_pos[0], all_logits);
    so.logits = logits;
    so.mixed = mixed;
    const llx_schedule *s;
    LLX_TRY(llx_engine_schedule(e, &so, &s));
    if (n0->stop && llx_node_last_stage(n0, s) < 0)
        return llx_fail(LLX_ERR_ARG, "a pass stopped in layer %d: no stage of it reports observation point %d",
                        n0->stop_layer, n0->stop_point);
    if (n0->stop && n0->layer_begin > n0->stop_layer)
        return llx_fail(LLX_ERR_ARG, "a pass from layer %d stopped in layer %d runs no stage", n0->layer_begin,
                        n0->stop_layer);
    llx_status st = e->opt.backend == LLX_BACKEND_MPI ? llx_engine_mpi_pass(e, s, k->tok_ids)
                                                      : llx_engine_run_local(e, 1, s, k->tok_ids);
    if (st == LLX_ERR_RING) e->broken = 1;
    account_ring(e);
    if (st == LLX_OK) {
        e->stats.passes++;
        e->stats.tokens += n;
    }
    return st;
}

llx_status llx_engine_run_pass_into(llx_engine *e, int n, int all_logits, int logits, float *out, int rows)
{
    node *n0 = &e->nd[0];
    if (out && n0->layer_end) /* the LM head does not run: out would get an earlier pass's logits */
        return llx_fail(LLX_ERR_ARG, "a pass cut after layer %d gives no logits", n0->layer_end - 1);
    if (out && n0->stop)
        return llx_fail(LLX_ERR_ARG, "a pass stopped in layer %d gives no logits", n0->stop_layer);
    n0->logits_out = e->logits_copy ? NULL : out;
    n0->logits_out_rows = rows;
    n0->logits_direct = 0;
    const llx_status st = llx_engine_run_pass(e, n, all_logits, logits);
    n0->logits_out = NULL;
    if (st == LLX_OK && out && !n0->logits_direct) {
        const size_t V = (size_t)llx_model_config(e->model)->n_vocab;
        memcpy(out, e->ops->logits(n0), (size_t)rows * V * sizeof(float));
    }
    return st;
}

/* One pass of n <= max_batch tokens of the default sequence; the logits it
 * produces (n rows with all_logits, else 1) go to out unless it is NULL. */
llx_status llx_engine_pass(llx_engine *e, const int *tokens, int n, int all_logits, float *out)
{
    engine_kv *k = &e->kv;
    const int def = k->slots - 1;
    if (!k->held[def]) LLX_TRY(llx_engine_kv_take(e, def, e->opt.max_ctx));
    for (int t = 0; t < n; t++) {
        k->tok_ids[t] = tokens[t];
        k->tok_pos[t] = e->pos + t;
        k->tok_slot[t] = def;
    }
    LLX_TRY(llx_engine_run_pass_into(e, n, all_logits, 0, out, all_logits ? n : 1));
    e->pos += n;
    return LLX_OK;
}

llx_status llx_engine_forward(llx_engine *e, const int *tokens, int n, float *logits, int all_logits)
{
    LLX_TRY(check_tokens(e, tokens, n));
    const int V = llx_model_config(e->model)->n_vocab;
    for (int done = 0; done < n;) {
        const int chunk = n - done < e->opt.max_batch ? n - done : e->opt.max_batch;
        const int last = done + chunk == n;
        float *out = all_logits ? logits + (size_t)done * V : last ? logits : NULL;
        LLX_TRY(llx_engine_pass(e, tokens + done, chunk, all_logits, out));
        done += chunk;
    }
    return LLX_OK;
}

void llx_engine_set_observer(llx_engine *e, const llx_observer *obs)
{
    for (int i = 0; i < e->n_local; i++) e->nd[i].obs = obs;
}

llx_status llx_engine_set_layer_end(llx_engine *e, int layers)
{
    const int L = llx_model_config(e->model)->n_layer;
    if (layers < 0 || layers > L)
        return llx_fail(LLX_ERR_ARG, "layer_end %d is outside [0, %d] (0: whole passes)", layers, L);
    if (e->mpi_link) return llx_fail(LLX_ERR_UNSUPPORTED, "a pass cut after a layer needs the threads backend");
    for (int i = 0; i < e->n_local; i++) e->nd[i].layer_end = layers;
    return LLX_OK;
}

llx_status llx_engine_set_layer_begin(llx_engine *e, int layer, const float *x)
{
    const int L = llx_model_config(e->model)->n_layer;
    if (layer < 0 || layer >= L)
        return llx_fail(LLX_ERR_ARG, "layer_begin %d is outside [0, %d) (0: from the embedding)", layer, L);
    if (layer && !x) return llx_fail(LLX_ERR_ARG, "a pass from layer %d needs the residual stream entering it", layer);
    if (e->mpi_link) return llx_fail(LLX_ERR_UNSUPPORTED, "a pass from a later layer needs the threads backend");
    if (layer && !e->nd[0].ops->stream_in)
        return llx_fail(LLX_ERR_UNSUPPORTED, "the %s datapath cannot start a pass past the embedding",
                        e->nd[0].ops->name);
    for (int i = 0; i < e->n_local; i++) e->nd[i].layer_begin = layer, e->nd[i].x_in = layer ? x : NULL;
    return LLX_OK;
}

llx_status llx_engine_set_stop_after(llx_engine *e, int layer, int point)
{
    const int L = llx_model_config(e->model)->n_layer;
    if (point > LLX_OBS_DOWN_IN) return llx_fail(LLX_ERR_ARG, "observation point %d does not exist", point);
    if (point >= 0 && (layer < 0 || layer >= L))
        return llx_fail(LLX_ERR_ARG, "a pass stopped in layer %d: outside [0, %d)", layer, L);
    if (point >= 0 && e->mpi_link) return llx_fail(LLX_ERR_UNSUPPORTED, "a pass stopped in a layer needs the threads backend");
    for (int i = 0; i < e->n_local; i++) e->nd[i].stop = point >= 0, e->nd[i].stop_layer = layer, e->nd[i].stop_point = point;
    return LLX_OK;
}

void llx_engine_get_stats(const llx_engine *e, llx_engine_stats *s)
{
    *s = e->stats;
    s->kernels = e->k->name;
    if (e->nd && e->nd[0].ring) {
        const llx_ring_stats *r = llx_ring_get_stats(e->nd[0].ring);
        s->ring_wait_s = r->exposed_s;
        s->ring_exposed_s = e->n_local > 1 ? e->ring_exposed_s : r->exposed_s;
        s->ring_bytes = r->bytes_sent;
    }
    s->weight_bytes = e->weight_bytes;
}

void llx_engine_clear_stats(llx_engine *e)
{
    memset(&e->stats, 0, sizeof e->stats);
    e->ring_exposed_s = 0;
    for (int i = 0; i < e->n_local; i++)
        if (e->nd[i].ring) llx_ring_clear_stats(e->nd[i].ring);
}

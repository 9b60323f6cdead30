/* sched/partition.c - who owns what on N nodes (llx_partition in
 * llx/schedule.h): rows of every matrix, query heads, KV heads, and the
 * ring block of every matrix.  One function, used by the engine's loaders
 * and nodes and by the simulator alike. */
#include <string.h>

#include "llx/schedule.h"
#include "util/status.h"

llx_range llx_split_range(int units, int nodes, int node)
{
    llx_range r;
    r.begin = (int)((long long)units * node / nodes);
    r.end = (int)((long long)units * (node + 1) / nodes);
    return r;
}

void llx_matrix_shape(const llx_config *c, llx_matrix m, int *rows, int *cols)
{
    const int C = c->n_embd, F = c->n_inner, d = llx_config_head_dim(c);
    const int q = c->n_head * d, kv = llx_config_kv_heads(c) * d;
    const int llama = c->arch == LLX_ARCH_LLAMA;
    switch (m) {
    case LLX_MAT_QKV: *rows = q + 2 * kv, *cols = C; return;
    case LLX_MAT_PROJ: *rows = C, *cols = q; return;
    case LLX_MAT_FC1: *rows = F, *cols = C; return;
    case LLX_MAT_FC2: *rows = C, *cols = F; return;
    case LLX_MAT_GATE: *rows = llama ? F : 0, *cols = llama ? C : 0; return;
    case LLX_MAT_LM_HEAD: *rows = c->n_vocab, *cols = C; return;
    default: *rows = 0, *cols = 0; return;
    }
}

/* Heads of node n: see llx_partition in llx/schedule.h. */
static void split_heads(const llx_config *c, int N, int n, llx_range *heads, llx_range *kv)
{
    const int NH = c->n_head, NKV = llx_config_kv_heads(c), G = NH / NKV;
    if (N <= NKV) {
        *kv = llx_split_range(NKV, N, n);
        heads->begin = kv->begin * G;
        heads->end = kv->end * G;
        return;
    }
    /* nodes [first, last) serve KV head k and split its G query heads */
    const int k = (int)((long long)n * NKV / N);
    const int first = (int)(((long long)k * N + NKV - 1) / NKV);
    const int last = (int)(((long long)(k + 1) * N + NKV - 1) / NKV);
    const llx_range part = llx_split_range(G, last - first, n - first);
    heads->begin = k * G + part.begin;
    heads->end = k * G + part.end;
    kv->begin = k;
    kv->end = part.end > part.begin ? k + 1 : k; /* a node without query heads keeps no cache */
}

static int auto_block_rows(int cols, int weight_bytes)
{
    if (cols < 1) return 64;
    const long rows = ((long)LLX_BLOCK_BYTES / ((long)cols * weight_bytes)) & ~15L; /* whole 16-row int8 panels */
    return rows < 64 ? 64 : rows > (1 << 20) ? (1 << 20) : (int)rows;
}

llx_status llx_partition_build(llx_partition *p, const llx_config *c, const llx_part_opts *o)
{
    memset(p, 0, sizeof *p);
    LLX_TRY(llx_config_check(c));
    if (o->nodes < 1 || o->nodes > LLX_MAX_NODES)
        return llx_fail(LLX_ERR_ARG, "node count %d out of range [1, %d]", o->nodes, LLX_MAX_NODES);
    if (o->block_rows < 0) return llx_fail(LLX_ERR_ARG, "block_rows must be >= 0 (got %d)", o->block_rows);
    if (o->weight_bytes < 1 || o->weight_bytes > 8)
        return llx_fail(LLX_ERR_ARG, "weight_bytes %d out of range [1, 8]", o->weight_bytes);
    p->nodes = o->nodes;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        p->block_rows[m] = o->block_rows > 0 ? o->block_rows : auto_block_rows(cols, o->weight_bytes);
        for (int n = 0; n < o->nodes; n++) p->rows[m][n] = llx_split_range(rows, o->nodes, n);
    }
    for (int n = 0; n < o->nodes; n++) split_heads(c, o->nodes, n, &p->heads[n], &p->kv_heads[n]);
    return LLX_OK;
}

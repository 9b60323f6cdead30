/* dse/space.c - the design space: the default knobs and their values for a
 * platform (docs/dse.md section 1), knob lists from the command line, and
 * candidates as mixed-radix numbers over the knobs' value indices. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dse/space.h"
#include "util/status.h"

#define K_MP LLX_SIM_KERNEL_BIT(LLX_KERNEL_MP)
#define K_MHA LLX_SIM_KERNEL_BIT(LLX_KERNEL_MHA)
#define K_LN LLX_SIM_KERNEL_BIT(LLX_KERNEL_LNRES)
#define K_ALL LLX_SIM_ALL_KERNELS

/* What each kernel's timing rule reads (src/sim/net_*.c) and what the
 * resource model reads (src/sim/resources.c: the write ports' banks and
 * multiplexers read the write widths).  A wrong entry cannot go
 * unnoticed: every reported design is re-timed as a whole. */
typedef struct knob_info {
    const char *name;
    unsigned kernels;
    int res;
} knob_info;

static const knob_info known[] = {
    {"nodes", K_ALL, 1},
    {"nodes_per_fpga", K_ALL, 1},
    {"channels", K_ALL, 1},
    {"clock_mhz", K_ALL, 0},
    {"word_bytes", K_ALL, 1},
    {"heads_parallel", K_MHA, 1},
    {"ln_lanes", K_LN, 1},
    {"block_rows", K_MP, 0},
    {"lnres_fusion", K_LN, 1},
    {"headwise_pipeline", K_MHA, 0},
    {"transfer_hiding", K_MP | K_MHA, 0},
    {"mp_in_elems", K_MP, 0},
    {"mp_wb_elems", K_MP, 1},
    {"act_elems", K_MP, 1},
    {"mha_q_elems", K_MHA, 0},
    {"kv_in_elems", K_MHA, 0},
    {"ctx_q_elems", K_MHA, 0},
    {"mha_wb_elems", K_MHA, 1},
    {"ln_rd_elems", K_LN, 0},
    {"ln_wb_elems", K_LN, 1},
    {"ln_acc_ii", K_LN, 0},
    {"out_fifo", K_MP, 1},
    {"disp_fifo", K_MP, 0},
    {"sc_fifo", K_MHA, 0},
    {"score_fifo", K_MHA, 1},
    {"exp_fifo", K_MHA, 1},
    {"stat_fifo", K_MHA, 0},
    {"prob_fifo", K_MHA, 1},
    {"ctx_fifo", K_MHA, 0},
    {"w_bits", K_MP, 1}, /* the scheme's weight bits: the MP slices' passes and DSPs */
};

static const knob_info *info(const char *name)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, name)) return &known[i];
    return NULL;
}

unsigned dse_knob_kernels(const char *name) { return info(name) ? info(name)->kernels : K_ALL; }
int dse_knob_res(const char *name) { return info(name) ? info(name)->res : 1; }

/* ---- knob lists ---- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* sort, drop duplicates */
static void tidy(llx_dse_knob *k)
{
    qsort(k->v, (size_t)k->n, sizeof k->v[0], cmp_d);
    int n = 0;
    for (int i = 0; i < k->n; i++)
        if (n == 0 || k->v[i] != k->v[n - 1]) k->v[n++] = k->v[i];
    k->n = n;
}

static llx_status put(llx_dse_opts *o, const char *name, const double *v, int n)
{
    if (llx_sim_param_find(name) < 0) return llx_fail(LLX_ERR_ARG, "unknown parameter '%s' (see 'looplynx sim --help')", name);
    if (n < 1 || n > LLX_DSE_MAX_VALUES)
        return llx_fail(LLX_ERR_ARG, "%s: %d values (1 to %d)", name, n, LLX_DSE_MAX_VALUES);
    llx_dse_knob *k = NULL;
    for (int i = 0; i < o->nknobs && !k; i++)
        if (!strcmp(o->knobs[i].name, name)) k = &o->knobs[i];
    if (!k) {
        if (o->nknobs == LLX_DSE_MAX_KNOBS)
            return llx_fail(LLX_ERR_ARG, "at most %d parameters can vary at once", LLX_DSE_MAX_KNOBS);
        k = &o->knobs[o->nknobs++];
        snprintf(k->name, sizeof k->name, "%s", name);
    }
    memcpy(k->v, v, sizeof v[0] * (size_t)n);
    k->n = n;
    tidy(k);
    return LLX_OK;
}

/* a default list: the values the parameter accepts, and the base's own
 * (so the base design, the paper's unless --set changed it, is in the space) */
static llx_status put_list(llx_dse_opts *o, const char *name, const double *v, int n)
{
    double keep[LLX_DSE_MAX_VALUES];
    llx_sim_config t = o->base;
    int pi = llx_sim_param_find(name);
    int m = 0;
    keep[m++] = llx_sim_param_get(&o->base, pi);
    for (int i = 0; i < n && m < LLX_DSE_MAX_VALUES; i++)
        if (llx_sim_param_set(&t, pi, v[i]) == LLX_OK) keep[m++] = v[i];
    return put(o, name, keep, m);
}

llx_status llx_dse_opts_init(llx_dse_opts *o, const llx_sim_config *base, const llx_config *m, int lo, int hi)
{
    memset(o, 0, sizeof *o);
    if (lo < 1 || hi < lo || hi > LLX_MAX_NODES || hi - lo + 1 > LLX_DSE_MAX_VALUES)
        return llx_fail(LLX_ERR_ARG, "nodes %d-%d: need 1 <= first <= last <= %d and at most %d counts", lo, hi,
                        LLX_MAX_NODES, LLX_DSE_MAX_VALUES);
    o->base = *base;
    o->nodes_lo = lo, o->nodes_hi = hi;
    if (o->base.block_rows == 0) { /* 0 = the schedule's default: name it, so the space can list it */
        llx_sched_opts so = {.nodes = 1, .tokens = 1};
        llx_schedule s;
        LLX_TRY(llx_schedule_build(&s, m, &so));
        o->base.block_rows = s.opt.block_rows;
        llx_schedule_free(&s);
    }
    o->work.context = m->n_ctx < 640 ? m->n_ctx : 640;
    o->objective = LLX_DSE_PARETO;
    o->cap = 0.8, o->top = 10, o->seed = 1, o->threads = 2, o->validate = 3;
    const llx_sim_platform *p = &base->plat;
    double v[LLX_DSE_MAX_VALUES];
    int n = 0;
    for (int i = lo; i <= hi; i++) v[n++] = i;
    LLX_TRY(put(o, "nodes", v, n));
    n = 0;
    for (int i = 1; i <= p->slrs && i <= hi && n < LLX_DSE_MAX_VALUES; i++) v[n++] = i;
    LLX_TRY(put(o, "nodes_per_fpga", v, n));
    static const double ch[] = {4, 6, 8, 12, 16, 24, 32, 48, 64};
    n = 0;
    for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++)
        if (ch[i] <= p->hbm_pcs) v[n++] = ch[i];
    LLX_TRY(put_list(o, "channels", v, n));
    double clk[] = {p->clock_min_mhz, base->arch.clock_mhz, p->clock_max_mhz};
    LLX_TRY(put_list(o, "clock_mhz", clk, 3));
    static const double word[] = {16, 32, 64}, hp[] = {1, 2, 4}, lanes[] = {4, 8, 16}, fusion[] = {0, 1};
    static const double block[] = {32, 64, 128}, mpwb[] = {1, 4, 8}, mhawb[] = {4, 8, 16};
    LLX_TRY(put_list(o, "word_bytes", word, 3));
    LLX_TRY(put_list(o, "heads_parallel", hp, 3));
    LLX_TRY(put_list(o, "ln_lanes", lanes, 3));
    LLX_TRY(put_list(o, "lnres_fusion", fusion, 2));
    LLX_TRY(put_list(o, "block_rows", block, 3));
    LLX_TRY(put_list(o, "mp_wb_elems", mpwb, 3));
    LLX_TRY(put_list(o, "mha_wb_elems", mhawb, 3));
    return LLX_OK;
}

llx_status llx_dse_set_knob(llx_dse_opts *o, const char *name, const char *values)
{
    if (!strcmp(name, "nodes")) return llx_fail(LLX_ERR_ARG, "the node counts come from --nodes");
    double v[LLX_DSE_MAX_VALUES];
    int n = 0;
    const char *s = values;
    while (1) {
        char *end = NULL;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(x) || (*end && *end != ','))
            return llx_fail(LLX_ERR_ARG, "%s: '%s' is not a list of numbers", name, values);
        if (n == LLX_DSE_MAX_VALUES) return llx_fail(LLX_ERR_ARG, "%s: more than %d values", name, LLX_DSE_MAX_VALUES);
        int pi = llx_sim_param_find(name);
        llx_sim_config t = o->base;
        if (pi >= 0 && llx_sim_param_set(&t, pi, x) != LLX_OK) return LLX_ERR_ARG; /* the range message */
        v[n++] = x;
        if (!*end) break;
        s = end + 1;
    }
    return put(o, name, v, n);
}

llx_status llx_dse_parse_range(const char *s, int *lo, int *hi)
{
    char *end = NULL;
    errno = 0;
    long a = strtol(s, &end, 10), b = a;
    if (end == s || errno) return llx_fail(LLX_ERR_ARG, "'%s' is not a node count or range (N or A-B)", s);
    if (*end == '-') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t || errno) return llx_fail(LLX_ERR_ARG, "'%s' is not a node count or range (N or A-B)", s);
    }
    if (*end) return llx_fail(LLX_ERR_ARG, "'%s' is not a node count or range (N or A-B)", s);
    if (a < 1 || b < a || b > LLX_MAX_NODES)
        return llx_fail(LLX_ERR_ARG, "nodes '%s': need 1 <= A <= B <= %d", s, LLX_MAX_NODES);
    *lo = (int)a, *hi = (int)b;
    return LLX_OK;
}

/* ---- candidates ---- */

llx_status dse_space_init(dse_space *sp, const llx_dse_opts *o)
{
    memset(sp, 0, sizeof *sp);
    sp->nk = o->nknobs;
    sp->nodes_k = sp->npf_k = -1;
    sp->total = 1;
    for (int k = 0; k < o->nknobs; k++) {
        const llx_dse_knob *kn = &o->knobs[k];
        sp->knob[k] = *kn;
        sp->param[k] = llx_sim_param_find(kn->name);
        if (sp->param[k] < 0 || kn->n < 1 || kn->n > LLX_DSE_MAX_VALUES)
            return llx_fail(LLX_ERR_ARG, "knob '%s' is not a parameter with 1 to %d values", kn->name, LLX_DSE_MAX_VALUES);
        sp->kernels[k] = dse_knob_kernels(kn->name);
        sp->res[k] = dse_knob_res(kn->name);
        double bv = llx_sim_param_get(&o->base, sp->param[k]);
        for (int i = 0; i < kn->n; i++)
            if (kn->v[i] == bv) sp->canon[k] = i;
        if (!strcmp(kn->name, "nodes")) sp->nodes_k = k;
        if (!strcmp(kn->name, "nodes_per_fpga")) sp->npf_k = k;
        if (sp->total > (1L << 40) / kn->n) return llx_fail(LLX_ERR_ARG, "the design space is too large to number");
        sp->total *= kn->n;
    }
    return LLX_OK;
}

void dse_decode(const dse_space *sp, long id, unsigned char *idx)
{
    for (int k = sp->nk - 1; k >= 0; k--) {
        idx[k] = (unsigned char)(id % sp->knob[k].n);
        id /= sp->knob[k].n;
    }
}

long dse_encode(const dse_space *sp, const unsigned char *idx)
{
    long id = 0;
    for (int k = 0; k < sp->nk; k++) id = id * sp->knob[k].n + idx[k];
    return id;
}

int dse_duplicate(const dse_space *sp, const unsigned char *idx)
{
    if (sp->nodes_k < 0 || sp->npf_k < 0) return 0;
    return sp->knob[sp->npf_k].v[idx[sp->npf_k]] > sp->knob[sp->nodes_k].v[idx[sp->nodes_k]];
}

llx_status dse_apply(const dse_space *sp, const llx_sim_config *base, const unsigned char *idx, llx_sim_config *c)
{
    *c = *base;
    for (int k = 0; k < sp->nk; k++) LLX_TRY(llx_sim_param_set(c, sp->param[k], sp->knob[k].v[idx[k]]));
    return LLX_OK;
}

uint64_t dse_group_key(const dse_space *sp, const unsigned char *idx, int kernel, unsigned char *canon_idx)
{
    uint64_t key = 0;
    for (int k = 0; k < sp->nk; k++) {
        int read = (sp->kernels[k] & LLX_SIM_KERNEL_BIT(kernel)) != 0;
        canon_idx[k] = read ? idx[k] : (unsigned char)sp->canon[k];
        key = key << 4 | canon_idx[k];
    }
    return key;
}

uint64_t dse_res_key(const dse_space *sp, const unsigned char *idx, unsigned char *canon_idx)
{
    uint64_t key = 0;
    for (int k = 0; k < sp->nk; k++) {
        canon_idx[k] = sp->res[k] ? idx[k] : (unsigned char)sp->canon[k];
        key = key << 4 | canon_idx[k];
    }
    return key;
}

/* dse/fifo_lp.c - FIFO sizing by linear programming (GLPK), after
 * StreamTensor's formulation (docs/dse.md section 3).
 *
 * The graph carries a reference run: the schedule of every process when no
 * FIFO ever fills, the fastest the network can go (latency L).  Every
 * process keeps its own firing pattern (its initiation intervals, rates and
 * latencies) and may only start later, by a delay D_p >= 0: a producer then
 * never stalls, it runs exactly as in the reference, shifted.  For a FIFO
 * f = (p -> q) the consumer's shift relative to the producer, x_f = D_q - D_p,
 * decides how many tokens wait in f:
 *
 *   need_f(x) = max over pushed tokens k of
 *               init + k + 1 - #{pops i : pop_i + x < push_k} - (lat_k - 1)
 *
 * (the simulator's room rule; lat_k - 1 pipeline registers hold tokens in
 * flight, except in an m_axi read buffer where requests hold their place).
 * The linear programme is
 *
 *   minimise   sum_f width_f * copies_f * d_f
 *   subject to D_q - D_p >= -slack_f       every token still arrives before
 *                                          its pop (slack_f: the reference's
 *                                          least pop - visibility)
 *              D_q >= D_g                  q waits for g to complete
 *              0 <= D_p <= L - done_p      no process ends after L
 *              d_f >= a_j + s_j * x_f      the lower convex hull of need_f
 *                                          sampled over the feasible shifts
 *                                          (one line of slope = the edge's
 *                                          token rate for a steady stream)
 *
 * Reconvergent paths are balanced by the shift constraints: at a join the
 * tokens of the short path wait for the long one in the short path's FIFO,
 * or, when a process on it can start later, before that process, whichever
 * costs fewer bits.  The constraint matrix of the shifts is a network
 * matrix, so flooring the optimal shifts keeps every constraint; each depth
 * is then the exact need_f at the chosen shifts.  A FIFO is critical when
 * even the shifts that favour it alone (minimum x_f) need its depth: then no
 * schedule of processes running unstalled at reference speed fits in less. */
#include <glpk.h>
#include <stdlib.h>
#include <string.h>

#include "llx/dse.h"
#include "util/status.h"

#define NO_SLACK (1LL << 50) /* a FIFO nobody pops from constrains no shift */
#define MAX_SAMPLES 80

int llx_fifo_need(const llx_fifo_edge *e, long long x)
{
    long need = e->min_depth > e->init ? e->min_depth : e->init;
    long popped = 0;
    for (long k = 0; k < e->tokens; k++) {
        long long t = e->push[k] - x; /* pops before this cycle freed room */
        while (popped < e->pops && e->pop[popped] < t) popped++;
        long n = e->init + k + 1 - popped - (e->reserve ? 0 : e->lat[k] - 1);
        if (n > need) need = n;
    }
    return need > 0x3fffffff ? 0x3fffffff : (int)need;
}

/* least pop - visibility over the pushed tokens that are popped */
static long long edge_slack(const llx_fifo_edge *e)
{
    long long s = NO_SLACK;
    for (long i = e->init; i < e->pops; i++) {
        long long d = e->pop[i] - e->vis[i - e->init];
        if (d < s) s = d;
    }
    return s;
}

/* ---- the lower convex hull of need_f over sampled shifts ---- */

typedef struct hull {
    int n;
    double x[MAX_SAMPLES], y[MAX_SAMPLES];
} hull;

static double cross(double ox, double oy, double ax, double ay, double bx, double by)
{
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
}

/* samples at 0, lo, hi and powers of two between, then Andrew's lower hull */
static void need_hull(const llx_fifo_edge *e, long long lo, long long hi, hull *h)
{
    long long xs[MAX_SAMPLES];
    int n = 0;
    for (long long v = 1; -v > lo && n < MAX_SAMPLES / 2 - 2; v *= 2) xs[n++] = -v;
    xs[n++] = lo;
    xs[n++] = 0;
    for (long long v = 1; v < hi && n < MAX_SAMPLES - 1; v *= 2) xs[n++] = v;
    xs[n++] = hi;
    /* sort ascending (n is small) and drop duplicates */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && xs[j - 1] > xs[j]; j--) {
            long long t = xs[j];
            xs[j] = xs[j - 1], xs[j - 1] = t;
        }
    h->n = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && xs[i] == xs[i - 1]) continue;
        double x = (double)xs[i], y = llx_fifo_need(e, xs[i]);
        while (h->n >= 2 && cross(h->x[h->n - 2], h->y[h->n - 2], h->x[h->n - 1], h->y[h->n - 1], x, y) <= 0) h->n--;
        h->x[h->n] = x, h->y[h->n] = y, h->n++;
    }
}

/* ---- the programme ---- */

typedef struct lp {
    glp_prob *P;
    int *ia, *ja;
    double *ar;
    int nz, cap;
} lp;

static int lp_coef(lp *l, int row, int col, double v)
{
    if (l->nz + 1 >= l->cap) { /* GLPK's arrays are 1-based */
        int nc = l->cap ? 2 * l->cap : 1024;
        int *ia = realloc(l->ia, sizeof *ia * (size_t)nc);
        if (ia) l->ia = ia;
        int *ja = realloc(l->ja, sizeof *ja * (size_t)nc);
        if (ja) l->ja = ja;
        double *ar = realloc(l->ar, sizeof *ar * (size_t)nc);
        if (ar) l->ar = ar;
        if (!ia || !ja || !ar) return -1;
        l->cap = nc;
    }
    l->nz++;
    l->ia[l->nz] = row, l->ja[l->nz] = col, l->ar[l->nz] = v;
    return 0;
}

/* a row lo <= coefficients (added by the caller) */
static int lp_row(lp *l, double lo)
{
    int r = glp_add_rows(l->P, 1);
    glp_set_row_bnds(l->P, r, GLP_LO, lo, 0);
    return r;
}

/* D_b - D_a >= lo, columns 1 + process */
static int diff_row(lp *l, int a, int b, double lo)
{
    if (a == b) return 0;
    int r = lp_row(l, lo);
    return lp_coef(l, r, 1 + b, 1) || lp_coef(l, r, 1 + a, -1);
}

static llx_status check_graph(const llx_fifo_graph *g)
{
    for (int p = 0; p < g->nprocs; p++)
        if (g->procs[p].done < 0 || g->procs[p].done > g->cycles)
            return llx_fail(LLX_ERR_ARG, "FIFO sizing: process %s never completes in the reference run", g->procs[p].name);
    for (int f = 0; f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        if (e->prod < 0 || e->prod >= g->nprocs || e->cons < 0 || e->cons >= g->nprocs || e->width_bits < 1 ||
            e->copies < 1 || e->tokens < 0 || e->pops < 0 || e->pops > e->init + e->tokens)
            return llx_fail(LLX_ERR_ARG, "FIFO sizing: edge %s is malformed", e->name);
    }
    return LLX_OK;
}

/* causality, gates and latency bounds: the feasible shifts */
static int shift_rows(lp *l, const llx_fifo_graph *g, const long long *slack)
{
    for (int p = 0; p < g->nprocs; p++) {
        glp_set_col_bnds(l->P, 1 + p, GLP_DB, 0, (double)(g->cycles - g->procs[p].done));
        if (g->procs[p].done == g->cycles) glp_set_col_bnds(l->P, 1 + p, GLP_FX, 0, 0);
        for (int k = 0; k < 2; k++)
            if (g->procs[p].after[k] >= 0 && diff_row(l, g->procs[p].after[k], p, 0)) return -1;
    }
    for (int f = 0; f < g->nedges; f++)
        if (slack[f] < NO_SLACK && diff_row(l, g->edges[f].prod, g->edges[f].cons, (double)-slack[f])) return -1;
    return 0;
}

/* d_f >= hull lines; x range from the bounds of the two ends */
static int depth_rows(lp *l, const llx_fifo_graph *g, const long long *slack, int col0)
{
    for (int f = 0; f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        const llx_fifo_proc *P = &g->procs[e->prod], *Q = &g->procs[e->cons];
        long long lo = -(g->cycles - P->done), hi = g->cycles - Q->done;
        if (slack[f] < NO_SLACK && -slack[f] > lo) lo = -slack[f];
        if (e->prod == e->cons) lo = hi = 0;
        if (lo > 0) lo = 0;
        if (hi < 0) hi = 0;
        hull h;
        need_hull(e, lo, hi, &h);
        double base = e->min_depth > e->init ? e->min_depth : e->init;
        glp_set_col_bnds(l->P, col0 + f, GLP_LO, base, 0);
        glp_set_obj_coef(l->P, col0 + f, (double)e->width_bits * e->copies);
        for (int i = 0; i + 1 < h.n || (h.n == 1 && i == 0); i++) {
            double s = h.n == 1 ? 0 : (h.y[i + 1] - h.y[i]) / (h.x[i + 1] - h.x[i]);
            int r = lp_row(l, h.y[i] - s * h.x[i]); /* d - s (D_q - D_p) >= y_i - s x_i */
            if (lp_coef(l, r, col0 + f, 1)) return -1;
            if (s != 0 && e->prod != e->cons &&
                (lp_coef(l, r, 1 + e->cons, -s) || lp_coef(l, r, 1 + e->prod, s)))
                return -1;
        }
    }
    return 0;
}

static llx_status solve(glp_prob *P)
{
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    int rc = glp_simplex(P, &parm);
    if (rc != 0 || glp_get_status(P) != GLP_OPT)
        return llx_fail(LLX_ERR_INTERNAL, "FIFO sizing: GLPK found no optimum (code %d, status %d)", rc,
                        glp_get_status(P));
    return LLX_OK;
}

static long long floor_ll(double v) { return (long long)(v + 1e-6 < 0 ? v - 1 + 1e-6 : v + 1e-6); }

/* The latest start delays any schedule as fast as the reference allows
 * (the greatest solution of D_p <= L - done_p, D_p <= D_q + slack_f for
 * f = p -> q, D_g <= D_q for q waiting on g): a process whose float is zero
 * runs exactly as in the reference in every such schedule. */
static llx_status floats(const llx_fifo_graph *g, const long long *slack, long long *fl)
{
    for (int p = 0; p < g->nprocs; p++) fl[p] = g->cycles - g->procs[p].done;
    for (int round = 0, changed = 1; changed; round++) {
        if (round > g->nprocs + 1) return llx_fail(LLX_ERR_INTERNAL, "FIFO sizing: the float iteration does not settle");
        changed = 0;
        for (int f = 0; f < g->nedges; f++) {
            const llx_fifo_edge *e = &g->edges[f];
            if (slack[f] < NO_SLACK && fl[e->cons] + slack[f] < fl[e->prod])
                fl[e->prod] = fl[e->cons] + slack[f], changed = 1;
        }
        for (int q = 0; q < g->nprocs; q++)
            for (int k = 0; k < 2; k++) {
                int a = g->procs[q].after[k];
                if (a >= 0 && fl[q] < fl[a]) fl[a] = fl[q], changed = 1;
            }
    }
    return LLX_OK;
}

/* critical: above its floor with both ends pinned to the reference (zero
 * float), so the depth is the reference's own peak and one entry less makes
 * the producer wait (the stage may or may not end later) */
static llx_status mark_critical(const llx_fifo_graph *g, const long long *slack, llx_fifo_plan *p)
{
    long long *fl = malloc(sizeof *fl * (size_t)(g->nprocs ? g->nprocs : 1));
    if (!fl) return llx_fail(LLX_ERR_NOMEM, "out of memory sizing FIFOs");
    llx_status st = floats(g, slack, fl);
    for (int f = 0; st == LLX_OK && f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        int floor_d = e->min_depth > e->init ? e->min_depth : e->init;
        p->size[f].critical = p->size[f].depth > floor_d && fl[e->prod] == 0 && fl[e->cons] == 0;
    }
    free(fl);
    return st;
}

static void totals(const llx_fifo_graph *g, llx_fifo_plan *p)
{
    for (int f = 0; f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        p->bits += (double)p->size[f].depth * e->width_bits * e->copies;
        p->design_bits += (double)e->design_depth * e->width_bits * e->copies;
        p->bram += llx_sim_bram36(p->size[f].depth, e->width_bits) * e->copies;
        p->design_bram += llx_sim_bram36(e->design_depth, e->width_bits) * e->copies;
    }
}

static llx_status build_and_solve(lp *l, const llx_fifo_graph *g, llx_fifo_plan *p, long long *slack)
{
    const int col0 = 1 + g->nprocs;
    glp_set_obj_dir(l->P, GLP_MIN);
    glp_add_cols(l->P, g->nprocs + g->nedges);
    for (int f = 0; f < g->nedges; f++) slack[f] = edge_slack(&g->edges[f]);
    if (shift_rows(l, g, slack) || depth_rows(l, g, slack, col0))
        return llx_fail(LLX_ERR_NOMEM, "out of memory building the FIFO programme");
    glp_load_matrix(l->P, l->nz, l->ia, l->ja, l->ar);
    LLX_TRY(solve(l->P));
    p->lp_objective = glp_get_obj_val(l->P);
    for (int q = 0; q < g->nprocs; q++) p->delay[q] = floor_ll(glp_get_col_prim(l->P, 1 + q));
    for (int f = 0; f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        llx_fifo_size *z = &p->size[f];
        z->shift = p->delay[e->cons] - p->delay[e->prod];
        z->depth = llx_fifo_need(e, z->shift);
        z->lp_depth = glp_get_col_prim(l->P, col0 + f);
    }
    LLX_TRY(mark_critical(g, slack, p));
    totals(g, p);
    return LLX_OK;
}

llx_status llx_fifo_size_graph(const llx_fifo_graph *g, llx_fifo_plan *p)
{
    memset(p, 0, sizeof *p);
    LLX_TRY(check_graph(g));
    p->nedges = g->nedges;
    p->size = calloc((size_t)(g->nedges ? g->nedges : 1), sizeof *p->size);
    p->delay = calloc((size_t)(g->nprocs ? g->nprocs : 1), sizeof *p->delay);
    long long *slack = malloc(sizeof *slack * (size_t)(g->nedges ? g->nedges : 1));
    lp l = {glp_create_prob(), NULL, NULL, NULL, 0, 0};
    llx_status st = !p->size || !p->delay || !slack ? llx_fail(LLX_ERR_NOMEM, "out of memory sizing FIFOs")
                                                    : build_and_solve(&l, g, p, slack);
    glp_delete_prob(l.P);
    free(l.ia), free(l.ja), free(l.ar), free(slack);
    if (st != LLX_OK) llx_fifo_plan_free(p);
    return st;
}

void llx_fifo_plan_free(llx_fifo_plan *p)
{
    free(p->size), free(p->delay);
    memset(p, 0, sizeof *p);
}

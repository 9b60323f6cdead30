/* sim/net_ring.c - the ring all-gather and the write ports of a stage.
 *
 * Router of node n (paper Fig. 6(c); TeraFly router): for every block it
 * collects its own message from the kernel's FIFO, then runs N rounds; in
 * round s it sends the message it holds (its own in round 1, the one it
 * received in round s-1 after that) to node n+1 through the link FIFO, one
 * flit per link credit, waits the handshake, then receives the message from
 * node n-1 and passes each flit to the write port.  After N rounds every
 * node has written every block, its own one last (it comes back around).
 * A link FIFO shallower than a message stalls every sender at once: the
 * network reports that as a deadlock.
 * Write port of node n: writes each flit's elements into the shared buffer,
 * `wb` elements per cycle.  With one node (or no all-gather) the write port
 * takes the kernel's own flits directly. */
#include <stdio.h>

#include "sim/hw.h"

/* phases of a write port for one message of F flits carrying e elements */
static void wb_message(sim_graph *g, int proc, int fifo, long F, long e, int fe, int wb)
{
    if (e <= 0) { /* header-only message: the port discards the beats */
        int ph = sim_phase_add(g, proc, F, 1, 0, 0);
        sim_port_add(g, ph, fifo, SIM_POP, 1, 0, sim_every());
        return;
    }
    long rem = e - (F - 1) * fe;
    if (F > 1) {
        int ph = sim_phase_add(g, proc, F - 1, (int)cdiv_l(fe, wb), 0, 0);
        sim_port_add(g, ph, fifo, SIM_POP, 1, 0, sim_every());
    }
    int ph = sim_phase_add(g, proc, 1, (int)cdiv_l(rem > 0 ? rem : 1, wb), 0, 0);
    sim_port_add(g, ph, fifo, SIM_POP, 1, 0, sim_every());
}

void sim_net_headers(const sim_hw *hw, sim_graph *g, int proc, int tx, int from, int nblk, long *msgs, long *elems)
{
    if (from >= nblk) return;
    int ph = sim_phase_add(g, proc, nblk - from, 1, 0, 0);
    sim_port_add(g, ph, tx, SIM_PUSH, 1, hw->lat_fifo, sim_every());
    for (int b = from; b < nblk; b++) msgs[b] = 1, elems[b] = 0;
}

int sim_net_ring(const sim_hw *hw, sim_stage_net *net, int nblk, const int *own, const long *msgs,
                 const long *elems, int bytes, int wb, const int *gate, int ring, int *wproc)
{
    sim_graph *g = &net->g;
    const int N = hw->nodes;
    const int fe = hw->flit_bytes / bytes;
    char name[SIM_NAME_LEN];
    int link[LLX_MAX_NODES], wbq[LLX_MAX_NODES], router[LLX_MAX_NODES];
    ring = ring && N > 1;
    for (int n = 0; n < N && ring; n++) {
        snprintf(name, sizeof name, "n%d.link", n);
        link[n] = sim_fifo_add(g, name, hw->link_fifo, 0, SIM_BYTE_BITS * hw->flit_bytes);
        snprintf(name, sizeof name, "n%d.from_router", n);
        wbq[n] = sim_fifo_add(g, name, hw->wb_fifo, 0, SIM_BYTE_BITS * hw->flit_bytes);
        snprintf(name, sizeof name, "n%d.router", n);
        router[n] = sim_proc_add(g, name, n, SIM_PK_ROUTER);
        sim_proc_rate(g, router[n], hw->link[n]);
        if (gate && gate[n] >= 0) sim_proc_after(g, router[n], gate[n]);
    }
    for (int n = 0; n < N; n++) {
        snprintf(name, sizeof name, "n%d.write", n);
        int w = sim_proc_add(g, name, n, SIM_PK_WRITE);
        if (w >= 0) g->procs[w].trace = 1;
        wproc[n] = w;
        if (!ring) {
            for (int b = 0; b < nblk; b++) wb_message(g, w, own[n], msgs[n * nblk + b], elems[n * nblk + b], fe, wb);
            continue;
        }
        int prev = (n - 1 + N) % N;
        for (int b = 0; b < nblk; b++) {
            int ph = sim_phase_add(g, router[n], msgs[n * nblk + b], 1, 0, 0); /* collect the own message */
            sim_port_add(g, ph, own[n], SIM_POP, 1, 0, sim_every());
            for (int s = 1; s <= N; s++) {
                int o_send = (n - s + 1 + N) % N, o_recv = (n - s + N) % N;
                long fs = msgs[o_send * nblk + b], fr = msgs[o_recv * nblk + b];
                ph = sim_phase_add(g, router[n], fs, 1, 0, 1);
                sim_port_add(g, ph, link[n], SIM_PUSH, 1, hw->hop[n], sim_every());
                net->link_bytes += (double)fs * hw->flit_bytes;
                ph = sim_phase_add(g, router[n], fr, 1, hw->router, 0);
                sim_port_add(g, ph, link[prev], SIM_POP, 1, 0, sim_every());
                sim_port_add(g, ph, wbq[n], SIM_PUSH, 1, hw->lat_fifo, sim_every());
                wb_message(g, w, wbq[n], fr, elems[o_recv * nblk + b], fe, wb);
            }
        }
    }
    return g->oom ? -1 : 0;
}

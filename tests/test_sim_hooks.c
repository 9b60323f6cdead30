/* tests/test_sim_hooks.c - the simulator's hooks for design-space
 * exploration and FIFO sizing: kernel-masked timing adds up to the whole
 * schedule, the power and BRAM helpers agree with llx_sim_run, a stage's
 * dataflow description and its unbounded reference run are consistent, and
 * runs with chosen FIFO depths reach the same cycles as the normal path. */
#include <string.h>

#include "llx/sim.h"
#include "test.h"

#define SMALL "dims:hidden=256,layers=2,heads=4,ffn=1024,vocab=1000,ctx=256"

static llx_schedule plan(const llx_config *m, int nodes, int pos)
{
    llx_sched_opts o = {.nodes = nodes, .tokens = 1, .pos = pos, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    memset(&s, 0, sizeof s);
    CHECK(llx_schedule_build(&s, m, &o) == LLX_OK);
    return s;
}

TEST(sim_time_kernels_add_up, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(SMALL, &m) == LLX_OK);
    for (int nodes = 1; nodes <= 3; nodes += 2)
        for (int fpga = 0; fpga <= 1; fpga++) {
            llx_sim_config c;
            CHECK(llx_sim_config_init(&c, "u280") == LLX_OK);
            c.arch.nodes = nodes, c.arch.lm_head_fpga = fpga;
            llx_schedule s = plan(&m, nodes, 100);
            llx_sim_pass all, part, sum;
            memset(&sum, 0, sizeof sum);
            CHECK(llx_sim_time_schedule(&c, &s, &all) == LLX_OK);
            const llx_kernel ks[] = {LLX_KERNEL_HOST, LLX_KERNEL_MP, LLX_KERNEL_MHA, LLX_KERNEL_LNRES};
            for (int k = 0; k < 4; k++) {
                CHECK(llx_sim_time_kernels(&c, &s, LLX_SIM_KERNEL_BIT(ks[k]), &part) == LLX_OK);
                CHECK(ks[k] == LLX_KERNEL_HOST || part.cycles > 0);
                sum.cycles += part.cycles, sum.host_s += part.host_s, sum.link_bytes += part.link_bytes;
                for (int ch = 0; ch < LLX_SIM_MAX_CHANNELS; ch++) sum.hbm_bytes[ch] += part.hbm_bytes[ch];
            }
            CHECK_CLOSE(sum.cycles, all.cycles, 0, 0);
            CHECK_CLOSE(sum.host_s, all.host_s, 1e-15, 1e-12);
            CHECK_CLOSE(sum.link_bytes, all.link_bytes, 0, 0);
            for (int ch = 0; ch < LLX_SIM_MAX_CHANNELS; ch++) CHECK_CLOSE(sum.hbm_bytes[ch], all.hbm_bytes[ch], 0, 0);
            CHECK(llx_sim_time_kernels(&c, &s, 0, &part) == LLX_OK);
            CHECK(part.cycles == 0 && part.host_s == 0);
            llx_schedule_free(&s);
        }
}

TEST(sim_power_and_bram_helpers, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(SMALL, &m) == LLX_OK);
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    c.arch.nodes = 2;
    llx_sim_workload w = {0, 0, 200};
    llx_sim_result r;
    CHECK(llx_sim_run(&c, &m, &w, &r) == LLX_OK);
    llx_schedule s = plan(&m, 2, 199);
    llx_sim_pass p;
    CHECK(llx_sim_time_schedule(&c, &s, &p) == LLX_OK);
    llx_sim_power pw;
    llx_sim_power_of(&c, &r.res, &p, r.decode_ms_per_token * 1e-3, &pw);
    CHECK_CLOSE(pw.total_w, r.power_w, 0, 1e-12);
    CHECK_CLOSE(pw.hbm_w, r.power_hbm_w, 0, 1e-12);
    CHECK(pw.static_w > 0 && pw.logic_w > 0 && pw.hbm_w > 0 && pw.link_w > 0);
    /* 512 x 36 fills one 18 Kb half block; 513 entries need a second; under 64 entries is LUTRAM */
    CHECK_CLOSE(llx_sim_bram36(512, 36), 0.5, 0, 0);
    CHECK_CLOSE(llx_sim_bram36(513, 36), 1.0, 0, 0);
    CHECK_CLOSE(llx_sim_bram36(63, 256), 0, 0, 0);
    CHECK_CLOSE(llx_sim_bram36(4096, 32), 4.0, 0, 0);
    llx_schedule_free(&s);
}

TEST(sim_param_by_index, LLX_T_ASAN)
{
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    int i = llx_sim_param_find("channels"), j = llx_sim_param_find("clock_mhz");
    CHECK(i >= 0 && j >= 0 && llx_sim_param_find("no_such_key") == -1);
    CHECK_CLOSE(llx_sim_param_get(&c, i), 8, 0, 0);
    CHECK(llx_sim_param_set(&c, i, 12) == LLX_OK && c.arch.channels == 12);
    CHECK(llx_sim_param_set(&c, j, 262.5) == LLX_OK && c.arch.clock_mhz == 262.5);
    CHECK(llx_sim_param_set(&c, i, 2.5) == LLX_ERR_ARG && strstr(llx_errmsg(), "not an integer"));
    CHECK(llx_sim_param_set(&c, i, 1000) == LLX_ERR_ARG && strstr(llx_errmsg(), "out of range"));
    CHECK(llx_sim_set(&c, "channels=0") == LLX_ERR_ARG && strstr(llx_errmsg(), "--set channels: 0 out of range"));
    CHECK(c.arch.channels == 12);
}

/* every token of every FIFO moves forward in time: push, visible, popped */
static void check_tokens(const llx_sim_dataflow *d)
{
    for (int f = 0; f < d->nfifos; f++) {
        const llx_sim_df_fifo *q = &d->fifos[f];
        CHECK(q->prod >= 0 && q->cons >= 0 && q->depth >= q->min_depth && q->min_depth >= 1);
        if (q->replica_of >= 0) {
            CHECK(q->push == NULL && d->fifos[q->replica_of].tokens == q->tokens);
            continue;
        }
        CHECK(q->pops == q->init + q->tokens);
        for (long k = 0; k < q->tokens; k++) {
            CHECK(q->vis[k] >= q->push[k] + q->lat[k]);
            CHECK(k == 0 || (q->push[k] >= q->push[k - 1] && q->vis[k] >= q->vis[k - 1]));
            CHECK(q->pop[q->init + k] >= q->vis[k]);
            CHECK(q->push[k] >= d->procs[q->prod].start && q->pop[q->init + k] < d->procs[q->cons].done);
        }
    }
}

TEST(sim_stage_dataflow_reference, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(SMALL, &m) == LLX_OK);
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    c.arch.nodes = 2;
    c.arch.dma_fifo = 16; /* short read buffers: the design is slower than unbounded */
    llx_schedule s = plan(&m, 2, 60);
    int checked = 0;
    for (int i = 0; i < s.n_stages; i++) {
        if (s.stages[i].kernel == LLX_KERNEL_HOST || s.stages[i].layer > 0) continue;
        llx_sim_dataflow d;
        CHECK(llx_sim_stage_dataflow(&c, &s, i, &d) == LLX_OK);
        CHECK(d.nprocs > 0 && d.cycles > 0);
        check_tokens(&d);
        llx_sim_stage_run r;
        int zero[512] = {0};
        CHECK(d.nfifos <= 512);
        for (int mode = 0; mode <= 1; mode++) { /* unbounded on both engines = the reference */
            CHECK(llx_sim_stage_run_depths(&c, &s, i, zero, mode, -1, &r) == LLX_OK);
            CHECK(r.cycles == d.cycles && !r.deadlock.found);
            llx_sim_stage_run_free(&r);
        }
        llx_sim_pass p; /* the design's depths = the normal timing path, without the hand-over */
        CHECK(llx_sim_time_stage(&c, &s, i, &p) == LLX_OK);
        CHECK(llx_sim_stage_run_depths(&c, &s, i, NULL, 1, -1, &r) == LLX_OK);
        CHECK_CLOSE((double)r.cycles + c.arch.sched_cycles, p.cycles, 0, 0);
        CHECK(r.cycles >= d.cycles);
        if (s.stages[i].kernel == LLX_KERNEL_MP) CHECK(r.cycles > d.cycles);
        llx_sim_stage_run_free(&r);
        llx_sim_dataflow_free(&d);
        checked++;
    }
    CHECK(checked == 8); /* LN1 QKV ATTN PROJ RES_LN2 FC1 FC2 RES */
    llx_schedule_free(&s);
}

TEST(sim_stage_run_depths_reports, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(SMALL, &m) == LLX_OK);
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    llx_schedule s = plan(&m, 1, 99);
    int attn = -1;
    for (int i = 0; i < s.n_stages && attn < 0; i++)
        if (s.stages[i].op == LLX_OP_ATTN) attn = i;
    llx_sim_dataflow d;
    CHECK(llx_sim_stage_dataflow(&c, &s, attn, &d) == LLX_OK);
    int depths[256] = {0}, byp = -1, smax = -1;
    CHECK(d.nfifos <= 256);
    for (int f = 0; f < d.nfifos; f++)
        if (strstr(d.fifos[f].name, "score_bypass[0]")) byp = f, smax = d.fifos[f].prod;
    CHECK(byp >= 0);
    /* the softmax maximum comes after the last of the item's 100 scores */
    depths[byp] = 99;
    llx_sim_stage_run r;
    for (int mode = 0; mode <= 1; mode++) {
        CHECK(llx_sim_stage_run_depths(&c, &s, attn, depths, mode, smax, &r) == LLX_OK);
        CHECK(r.cycles == -1 && r.deadlock.found && r.deadlock.stage == attn);
        CHECK(strstr(r.deadlock.what, "deadlock at cycle") && strstr(r.deadlock.what, "score_bypass[0] (full"));
        CHECK(r.nfire == 99); /* it pushed 99 scores, then waited */
        llx_sim_stage_run_free(&r);
    }
    depths[byp] = -1;
    CHECK(llx_sim_stage_run_depths(&c, &s, attn, depths, 0, -1, &r) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "score_bypass[0]: depth -1 is below"));
    depths[byp] = 0;
    CHECK(llx_sim_stage_run_depths(&c, &s, attn, depths, 0, d.nprocs, &r) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "out of range"));
    CHECK(llx_sim_stage_run_depths(&c, &s, 0, depths, 0, -1, &r) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "runs on the host"));
    llx_sim_dataflow e;
    CHECK(llx_sim_stage_dataflow(&c, &s, s.n_stages, &e) == LLX_ERR_ARG && strstr(llx_errmsg(), "out of range"));
    llx_sim_dataflow_free(&d);
    llx_schedule_free(&s);
}

/* tests/test_schedule.c - the schedule is the contract between engine, ring
 * and simulator: check its shape, its slices and its validation. */
#include <string.h>

#include "llx/schedule.h"
#include "test.h"

static llx_config medium(void)
{
    llx_config c;
    llx_config_preset("gpt2-medium", &c);
    return c;
}

TEST(schedule_layer_sequence, LLX_T_ASAN)
{
    llx_config c = medium();
    llx_sched_opts o = {.nodes = 1, .tokens = 1, .pos = 10};
    llx_schedule s;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_OK);
    CHECK_EQ_INT(s.n_stages, 24 * 8 + 3);
    static const llx_op seq[8] = {LLX_OP_LN1, LLX_OP_QKV, LLX_OP_ATTN, LLX_OP_PROJ,
                                  LLX_OP_RES_LN2, LLX_OP_FC1, LLX_OP_FC2, LLX_OP_RES};
    static const llx_kernel ker[8] = {LLX_KERNEL_LNRES, LLX_KERNEL_MP, LLX_KERNEL_MHA, LLX_KERNEL_MP,
                                      LLX_KERNEL_LNRES, LLX_KERNEL_MP, LLX_KERNEL_MP, LLX_KERNEL_LNRES};
    CHECK(s.stages[0].op == LLX_OP_EMBED);
    for (int l = 0; l < 24; l++)
        for (int k = 0; k < 8; k++) {
            const llx_stage *st = &s.stages[1 + l * 8 + k];
            CHECK(st->op == seq[k]);
            CHECK(st->kernel == ker[k]);
            CHECK_EQ_INT(st->layer, l);
        }
    const llx_stage *qkv = &s.stages[2], *attn = &s.stages[3], *fc1 = &s.stages[6], *fc2 = &s.stages[7];
    CHECK_EQ_INT(qkv->rows, 3072);
    CHECK_EQ_INT(qkv->cols, 1024);
    CHECK_EQ_INT(fc1->rows, 4096);
    CHECK(fc1->gelu && !fc2->gelu);
    CHECK_EQ_INT(fc2->cols, 4096);
    CHECK_EQ_INT(attn->heads, 16);
    CHECK_EQ_INT(attn->head_dim, 64);
    CHECK_EQ_INT(attn->ctx, 11);
    CHECK(s.stages[s.n_stages - 1].op == LLX_OP_LM_HEAD);
    CHECK_EQ_INT(s.stages[s.n_stages - 1].rows, 50257);
    llx_schedule_free(&s);
}

TEST(schedule_slices_cover_exactly, LLX_T_ASAN)
{
    llx_config c = medium();
    c.n_head = 16;
    for (int nodes = 1; nodes <= 7; nodes++) {
        llx_sched_opts o = {.nodes = nodes, .tokens = 3, .pos = 0};
        llx_schedule s;
        CHECK(llx_schedule_build(&s, &c, &o) == LLX_OK);
        for (int i = 0; i < s.n_stages; i++) {
            const llx_stage *st = &s.stages[i];
            if (st->split != LLX_SPLIT_ROWS && st->split != LLX_SPLIT_HEADS) continue;
            int next = 0, lo = 1 << 30, hi = 0;
            for (int n = 0; n < nodes; n++) {
                llx_range r = llx_schedule_slice(&s, i, n);
                CHECK_EQ_INT(r.begin, next);
                next = r.end;
                int w = r.end - r.begin;
                lo = w < lo ? w : lo;
                hi = w > hi ? w : hi;
            }
            CHECK_EQ_INT(next, st->units);
            CHECK(hi - lo <= 1); /* balanced */
        }
        llx_schedule_free(&s);
    }
}

TEST(schedule_rejects_bad_passes, LLX_T_ASAN)
{
    llx_config c = medium();
    llx_schedule s;
    llx_sched_opts o = {.nodes = 1, .tokens = 1, .pos = 1024};
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_ERR_ARG);
    o.pos = 1000, o.tokens = 25;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_ERR_ARG);
    o.pos = 0, o.tokens = 0;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_ERR_ARG);
    o.tokens = 1, o.nodes = 0;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_ERR_ARG);
    o.nodes = LLX_MAX_NODES + 1;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "node count") != NULL);
}

TEST(schedule_ring_bytes_follow_precision, LLX_T_ASAN)
{
    llx_config c = medium();
    llx_sched_opts o = {.nodes = 2, .tokens = 1, .pos = 0, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    CHECK(llx_schedule_build(&s, &c, &o) == LLX_OK);
    for (int i = 0; i < s.n_stages; i++) {
        const llx_stage *st = &s.stages[i];
        if (st->op == LLX_OP_QKV || st->op == LLX_OP_FC1 || st->op == LLX_OP_ATTN) CHECK_EQ_INT(st->gather_bytes, 1);
        if (st->op == LLX_OP_PROJ || st->op == LLX_OP_FC2 || st->op == LLX_OP_LM_HEAD) CHECK_EQ_INT(st->gather_bytes, 4);
    }
    llx_schedule_free(&s);
}

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
    CHECK(fc1->act == LLX_ACT_GELU && fc2->act == LLX_ACT_NONE);
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

/* The engine keeps a decode pass's schedule and moves it to the next
 * position: every stage and slice then equals a schedule built there (GPT-2
 * and Llama shapes, 1 and 3 nodes, 1 and 4 tokens, W4A8 options); a
 * position past the context is refused as the build refuses it, and the
 * schedule stays as it was. */
static int same_schedule(const llx_schedule *a, const llx_schedule *b)
{
    return a->n_stages == b->n_stages && !memcmp(&a->opt, &b->opt, sizeof a->opt) &&
           !memcmp(a->stages, b->stages, sizeof *a->stages * (size_t)a->n_stages) &&
           !memcmp(a->slices, b->slices, sizeof *a->slices * (size_t)a->n_stages * (size_t)a->opt.nodes);
}

TEST(schedule_set_pos_equals_a_new_build, LLX_T_ASAN)
{
    static const char *presets[] = {"gpt2-medium", "llama-3.2-1b"};
    for (int m = 0; m < 2; m++) {
        llx_config c;
        REQUIRE(llx_config_preset(presets[m], &c) == LLX_OK);
        for (int nodes = 1; nodes <= 3; nodes += 2)
            for (int tokens = 1; tokens <= 4; tokens += 3) {
                llx_sched_opts o = {.nodes = nodes, .tokens = tokens, .pos = 3, .precision = LLX_PREC_W8A8_STATIC,
                                    .w_bits = 4, .lm_bits = 4, .w_group = 64};
                llx_schedule moved, built;
                REQUIRE(llx_schedule_build(&moved, &c, &o) == LLX_OK);
                static const int to[] = {4, 40, 0, 200};
                for (int i = 0; i < 4; i++) {
                    CHECK(llx_schedule_set_pos(&moved, to[i]) == LLX_OK);
                    o.pos = to[i];
                    REQUIRE(llx_schedule_build(&built, &c, &o) == LLX_OK);
                    CHECK_MSG(same_schedule(&moved, &built), "%s, %d nodes, %d tokens: moved to %d differs",
                              presets[m], nodes, tokens, to[i]);
                    llx_schedule_free(&built);
                }
                CHECK(llx_schedule_set_pos(&moved, c.n_ctx - tokens + 1) == LLX_ERR_ARG);
                CHECK(strstr(llx_errmsg(), "do not fit the context") != NULL);
                CHECK_EQ_INT(moved.opt.pos, 200);
                CHECK_EQ_INT(moved.stages[3].ctx, 200 + tokens);
                llx_schedule_free(&moved);
            }
    }
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

static llx_config tiny_llama(int heads, int kv_heads)
{
    llx_config c = {.n_vocab = 1000, .n_ctx = 256, .n_embd = 256, .n_layer = 2, .n_head = heads, .n_inner = 640,
                    .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = kv_heads, .head_dim = 32, .rope_theta = 10000.0f};
    return c;
}

TEST(schedule_partition_heads_follow_kv_groups, LLX_T_ASAN)
{
    for (int kv = 1; kv <= 8; kv *= 2) {
        const llx_config c = tiny_llama(8, kv);
        const int G = 8 / kv;
        for (int N = 1; N <= 12; N++) {
            llx_partition p;
            llx_part_opts po = {N, 4, 0};
            CHECK(llx_partition_build(&p, &c, &po) == LLX_OK);
            int owner[8], next = 0, copies[8] = {0};
            for (int h = 0; h < 8; h++) owner[h] = -1;
            for (int n = 0; n < N; n++) {
                const llx_range h = p.heads[n], k = p.kv_heads[n];
                CHECK_EQ_INT(h.begin, next); /* contiguous, in node order */
                next = h.end;
                for (int i = h.begin; i < h.end; i++) {
                    CHECK(owner[i] < 0);
                    owner[i] = n;
                    CHECK(i / G >= k.begin && i / G < k.end); /* a query head lives with its KV head */
                }
                /* the node keeps exactly the KV heads its query heads use */
                if (h.end > h.begin) CHECK(k.begin == h.begin / G && k.end == (h.end - 1) / G + 1);
                else CHECK(k.end == k.begin);
                for (int i = k.begin; i < k.end; i++) copies[i]++;
            }
            CHECK_EQ_INT(next, 8);
            for (int i = 0; i < kv; i++) {
                CHECK(copies[i] >= 1);
                if (N <= kv) CHECK_EQ_INT(copies[i], 1); /* replicated only when N > KV heads */
            }
        }
    }
}

TEST(schedule_partition_blocks_and_rows, LLX_T_ASAN)
{
    llx_config c = medium();
    llx_partition p;
    llx_part_opts po = {3, 1, 0};
    CHECK(llx_partition_build(&p, &c, &po) == LLX_OK);
    CHECK_EQ_INT(p.block_rows[LLX_MAT_QKV], 1024);  /* 1 MiB / 1024 int8 columns */
    CHECK_EQ_INT(p.block_rows[LLX_MAT_FC2], 256);   /* 1 MiB / 4096 columns */
    po.weight_bytes = 4;
    CHECK(llx_partition_build(&p, &c, &po) == LLX_OK);
    CHECK_EQ_INT(p.block_rows[LLX_MAT_FC2], 64);    /* at least 64 */
    CHECK_EQ_INT(p.block_rows[LLX_MAT_QKV], 256);
    po.block_rows = 24;
    CHECK(llx_partition_build(&p, &c, &po) == LLX_OK);
    for (int m = 0; m < LLX_MAT_COUNT; m++) CHECK_EQ_INT(p.block_rows[m], 24);
    CHECK(p.rows[LLX_MAT_FC1][1].begin == 1365 && p.rows[LLX_MAT_FC1][1].end == 2730);
    CHECK(p.rows[LLX_MAT_GATE][2].end == 0); /* GPT-2 has no gate */
    /* the schedule takes its slices and blocks from the partition it is given */
    llx_sched_opts o = {.nodes = 3, .tokens = 2, .pos = 5};
    llx_schedule s;
    CHECK(llx_schedule_build_part(&s, &c, &p, &o) == LLX_OK);
    for (int i = 0; i < s.n_stages; i++) {
        const llx_stage *st = &s.stages[i];
        if (st->split != LLX_SPLIT_ROWS) continue;
        CHECK_EQ_INT(st->block, 24);
        for (int n = 0; n < 3; n++)
            CHECK(llx_schedule_slice(&s, i, n).begin == p.rows[st->matrix][n].begin &&
                  llx_schedule_slice(&s, i, n).end == p.rows[st->matrix][n].end);
    }
    llx_schedule_free(&s);
    o.nodes = 2;
    CHECK(llx_schedule_build_part(&s, &c, &p, &o) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "partition for 3 nodes") != NULL);
    po.block_rows = -1;
    CHECK(llx_partition_build(&p, &c, &po) == LLX_ERR_ARG);
}

/* Every slot a stage reads was written earlier in the pass (X by EMBED),
 * and the ring carries int8 only where the producer rounds with a static
 * scale. */
static void check_data_flow(const llx_schedule *s)
{
    int written[LLX_SLOT_COUNT] = {0};
    for (int i = 0; i < s->n_stages; i++) {
        const llx_stage *st = &s->stages[i];
        if (st->work != LLX_WORK_EMBED && st->work != LLX_WORK_NORM) CHECK(st->in != LLX_SLOT_NONE);
        if (st->in != LLX_SLOT_NONE) CHECK_MSG(written[st->in], "stage %d (%s) reads an unwritten slot", i, llx_op_name(st->op));
        if (st->aux != LLX_SLOT_NONE) CHECK(written[st->aux]);
        if (st->work == LLX_WORK_NORM) CHECK(written[LLX_SLOT_X]);
        if (st->out != LLX_SLOT_NONE) written[st->out] = 1;
        if (st->gather) CHECK_EQ_INT(st->gather_bytes, s->opt.precision != LLX_PREC_FP32 && st->quant == LLX_QUANT_STATIC ? 1 : 4);
        if (st->quant == LLX_QUANT_STATIC) CHECK(st->scale >= 0 && st->scale < LLX_SC_COUNT);
        if (st->work == LLX_WORK_MATMUL) CHECK(st->matrix != LLX_MAT_NONE && st->rows > 0);
    }
    CHECK(written[LLX_SLOT_LOGITS]);
}

TEST(schedule_llama_layer_and_data_flow, LLX_T_ASAN)
{
    const llx_config c = tiny_llama(8, 2);
    for (int prec = LLX_PREC_FP32; prec <= LLX_PREC_W8A8_DYNAMIC; prec++) {
        llx_sched_opts o = {.nodes = 3, .tokens = 4, .pos = 2, .precision = (llx_precision)prec};
        llx_schedule s;
        CHECK(llx_schedule_build(&s, &c, &o) == LLX_OK);
        CHECK_EQ_INT(s.n_stages, 2 * 10 + 3);
        static const llx_op seq[10] = {LLX_OP_LN1, LLX_OP_QKV, LLX_OP_ROPE, LLX_OP_ATTN, LLX_OP_PROJ,
                                       LLX_OP_RES_LN2, LLX_OP_GATE, LLX_OP_UP, LLX_OP_DOWN, LLX_OP_RES};
        for (int k = 0; k < 10; k++) CHECK(s.stages[1 + k].op == seq[k]);
        const llx_stage *qkv = &s.stages[2], *rope = &s.stages[3], *attn = &s.stages[4], *gate = &s.stages[7];
        const llx_stage *up = &s.stages[8], *ln1 = &s.stages[1];
        CHECK_EQ_INT(qkv->rows, (8 + 2 * 2) * 32);
        CHECK_EQ_INT(s.stages[5].cols, 8 * 32); /* o_proj reads NH * d */
        CHECK(ln1->norm == LLX_NORM_RMS && !s.stages[0].pos_embed);
        CHECK(rope->split == LLX_SPLIT_HEADS && rope->gather == 0);
        CHECK(attn->kv_heads == 2 && attn->heads == 8 && attn->gather == 8 * 32);
        CHECK(gate->gather == 0 && gate->act == LLX_ACT_SILU && gate->out == LLX_SLOT_GATE);
        CHECK(up->aux == LLX_SLOT_GATE && up->matrix == LLX_MAT_FC1 && up->gather == 640);
        for (int n = 0; n < 3; n++) /* gate and up rows coincide, so UP finds its gate rows locally */
            CHECK(llx_schedule_slice(&s, 7, n).begin == llx_schedule_slice(&s, 8, n).begin &&
                  llx_schedule_slice(&s, 7, n).end == llx_schedule_slice(&s, 8, n).end);
        /* q and k travel in fp32 to the rotary step, which rounds them */
        if (prec != LLX_PREC_FP32) CHECK(qkv->gather_bytes == 4 && rope->quant == LLX_QUANT_STATIC);
        check_data_flow(&s);
        llx_schedule_free(&s);
    }
    llx_config g = medium();
    for (int prec = LLX_PREC_FP32; prec <= LLX_PREC_W8A8_DYNAMIC; prec++) {
        llx_sched_opts o = {.nodes = 2, .tokens = 3, .pos = 0, .precision = (llx_precision)prec};
        llx_schedule s;
        CHECK(llx_schedule_build(&s, &g, &o) == LLX_OK);
        CHECK(s.stages[0].pos_embed);
        check_data_flow(&s);
        llx_schedule_free(&s);
    }
}

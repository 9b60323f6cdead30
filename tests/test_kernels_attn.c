/* tests/test_kernels_attn.c - the blocked causal prompt attention
 * (kernels/attn_prefill.h) on every tier against token-by-token attention
 * with the reference kernels (the decode path's formula), bit for bit:
 * prompts starting at position 0 and after a cached prefix, lengths across
 * block and chunk edges, int8 and fp32 contexts. */
#include <stdlib.h>
#include <string.h>

#include "kernels/attn_prefill.h"
#include "kernels/kernels.h"
#include "test.h"
#include "tiers.h"
#include "util/rng.h"

/* One head's caches: K [pos][ldk], V chunked [c][d][32] (cs bytes per chunk). */
typedef struct head_cache {
    int8_t *k, *v, *q;
    size_t ldk, cs, ldq;
    int cap, hd;
} head_cache;

static head_cache make_cache(llx_rng *r, int cap, int hd, int T)
{
    head_cache h = {.ldk = (size_t)hd + 5, .cs = 32 * (size_t)hd + 96, .ldq = (size_t)hd * 3, .cap = cap, .hd = hd};
    h.k = malloc(h.ldk * cap), h.v = malloc(h.cs * (size_t)(cap / 32)), h.q = malloc(h.ldq * T);
    for (size_t i = 0; i < h.ldk * cap; i++) h.k[i] = (int8_t)((int)(llx_rng_u64(r) % 255) - 127);
    for (size_t i = 0; i < h.cs * (size_t)(cap / 32); i++) h.v[i] = (int8_t)((int)(llx_rng_u64(r) % 255) - 127);
    for (size_t i = 0; i < h.ldq * T; i++) h.q[i] = (int8_t)((int)(llx_rng_u64(r) % 255) - 127);
    return h;
}

/* token-by-token with the reference kernels, as the decode path does */
static void by_token(const llx_attn_prefill *a, void *out)
{
    const llx_kernels *k = &llx_kernels_ref;
    const int n = a->pos0 + a->T, n32 = (n + 31) & ~31, hd = a->hd;
    int32_t *si = malloc(sizeof(int32_t) * n), *acc = malloc(sizeof(int32_t) * hd);
    float *sh = malloc(sizeof(float) * (n > hd ? n : hd));
    int8_t *p = malloc((size_t)n32);
    for (int t = 0; t < a->T; t++) {
        const int seen = a->pos0 + t + 1;
        k->attn_qk_i8(si, n, a->q + (size_t)t * a->ldq, a->k, (int)a->ldk, 1, 1, seen, hd);
        k->scale_i32(sh, si, a->score_scale, seen);
        k->softmax_f32(sh, seen);
        k->quant_i8(p, sh, 127.0f, seen);
        memset(p + seen, 0, (size_t)(((seen + 31) & ~31) - seen));
        k->attn_pv_i8(acc, p, n32, a->v, a->cs, 1, 1, seen, hd);
        if (a->out_i8) {
            k->scale_i32(sh, acc, a->ctx_scale, hd);
            k->quant_i8((int8_t *)out + (size_t)t * a->ldo, sh, a->inv_ctx, hd);
        } else {
            k->scale_i32((float *)out + (size_t)t * a->ldo, acc, a->ctx_scale, hd);
        }
    }
    free(si), free(acc), free(sh), free(p);
}

static void prefill_matches(const llx_kernels *k)
{
    llx_rng r;
    llx_rng_seed(&r, 41);
    static const int cases[][3] = {/* pos0, T, hd */ {0, 1, 64}, {0, 5, 64},  {0, 31, 64}, {0, 33, 64},
                                   {0, 70, 64},  {7, 25, 64}, {29, 40, 16}, {64, 3, 64}, {0, 40, 12},
                                   {100, 30, 40}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int out_i8 = 0; out_i8 < 2; out_i8++) {
            const int pos0 = cases[c][0], T = cases[c][1], hd = cases[c][2], n = pos0 + T, cap = (n + 31) / 32 * 32 + 32;
            head_cache h = make_cache(&r, cap, hd, T);
            const size_t ldo = (size_t)hd + 3, esz = out_i8 ? 1 : 4;
            void *want = calloc((size_t)T * ldo, esz), *got = calloc((size_t)T * ldo, esz);
            llx_attn_prefill a = {.q = h.q, .ldq = h.ldq, .k = h.k, .ldk = h.ldk, .v = h.v, .cs = h.cs, .T = T,
                                  .pos0 = pos0, .hd = hd, .score_scale = 0.0021f, .ctx_scale = 0.37f / 127.0f,
                                  .out_i8 = out_i8, .inv_ctx = 1.0f / 0.09f, .ldo = ldo};
            a.out = want;
            by_token(&a, want);
            void *scratch = malloc(llx_attn_prefill_scratch(k, n, hd));
            a.out = got;
            llx_attn_prefill_i8(k, &a, scratch);
            CHECK_MSG(!memcmp(want, got, (size_t)T * ldo * esz), "%s pos0 %d T %d hd %d out_i8 %d", k->name, pos0, T, hd,
                      out_i8);
            free(scratch), free(want), free(got), free(h.k), free(h.v), free(h.q);
        }
}

TIER_TEST(attn_prefill_matches_token_by_token) { prefill_matches(k); }
TEST(kernels_ref_attn_prefill_matches_token_by_token, LLX_T_ASAN) { prefill_matches(&llx_kernels_ref); }

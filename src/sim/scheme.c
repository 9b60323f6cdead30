/* sim/scheme.c - the numeric scheme the simulated accelerator runs: parsing
 * `sim --scheme`, the combinations it models, and the schedule options a
 * pass of the scheme is planned with (the same fields the engine takes from
 * a .llx header).  docs/simulator.md section 1.3 says what each field
 * changes in the timing and the resources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/sim.h"
#include "util/status.h"

llx_status llx_sim_scheme_check(const llx_sim_scheme *s)
{
    const int w = s->w_bits ? s->w_bits : 8, a = s->act_bits ? s->act_bits : 8, lm = s->lm_bits ? s->lm_bits : 8;
    if (w != 8 && w != 4) return llx_fail(LLX_ERR_ARG, "scheme: weights must be 8 or 4 bits (got %d)", w);
    if (a != 8 && a != 4) return llx_fail(LLX_ERR_ARG, "scheme: activations must be 8 or 4 bits (got %d)", a);
    if (a == 4 && w != 4) return llx_fail(LLX_ERR_ARG, "scheme: int4 activations need int4 weights (w4a4)");
    if (lm != 8 && lm != 4) return llx_fail(LLX_ERR_ARG, "scheme: the LM head must be 8 or 4 bits (got %d)", lm);
    if (lm == 4 && w != 4) return llx_fail(LLX_ERR_ARG, "scheme: an int4 LM head needs an int4 scheme");
    if (s->group != 0 && s->group != 32 && s->group != 64 && s->group != 128)
        return llx_fail(LLX_ERR_ARG, "scheme: group must be 0, 32, 64 or 128 (got %d)", s->group);
    if (s->group && w != 4) return llx_fail(LLX_ERR_ARG, "scheme: weight groups need int4 weights");
    if (s->scale_bytes != 0 && s->scale_bytes != 2 && s->scale_bytes != 4)
        return llx_fail(LLX_ERR_ARG, "scheme: scales must be fp16 or fp32");
    if (s->kv_f32)
        return llx_fail(LLX_ERR_ARG, "scheme: an fp32 KV cache is not modelled (the MHA unit is int8, as "
                                     "LoopLynx's and FlexLLM's)");
    if (s->hadamard != 0 && s->hadamard != 1) return llx_fail(LLX_ERR_ARG, "scheme: hadamard must be 0 or 1");
    return LLX_OK;
}

static int set_field(llx_sim_scheme *s, const char *key, size_t klen, const char *val)
{
#define KEY(k) (klen == strlen(k) && !strncmp(key, k, klen))
    if (KEY("group")) {
        if (!strcmp(val, "0")) s->group = 0;
        else if (!strcmp(val, "32")) s->group = 32;
        else if (!strcmp(val, "64")) s->group = 64;
        else if (!strcmp(val, "128")) s->group = 128;
        else return 0;
    } else if (KEY("scales")) {
        if (!strcmp(val, "fp16")) s->scale_bytes = 2;
        else if (!strcmp(val, "fp32")) s->scale_bytes = 4;
        else return 0;
    } else if (KEY("kv")) {
        if (!strcmp(val, "int8")) s->kv_f32 = 0;
        else if (!strcmp(val, "fp32")) s->kv_f32 = 1;
        else return 0;
    } else if (KEY("lm")) {
        if (!strcmp(val, "8")) s->lm_bits = 8;
        else if (!strcmp(val, "4")) s->lm_bits = 4;
        else return 0;
    } else if (KEY("hadamard")) {
        if (!strcmp(val, "0") || !strcmp(val, "1")) s->hadamard = val[0] - '0';
        else return 0;
    } else {
        return -1;
    }
#undef KEY
    return 1;
}

llx_status llx_sim_scheme_parse(const char *spec, llx_sim_scheme *out)
{
    llx_sim_scheme s;
    memset(&s, 0, sizeof s);
    const char *comma = strchr(spec, ',');
    size_t n = comma ? (size_t)(comma - spec) : strlen(spec);
    if (n == 4 && !strncmp(spec, "w8a8", 4)) s.w_bits = 8, s.act_bits = 8;
    else if (n == 4 && !strncmp(spec, "w4a8", 4)) s.w_bits = 4, s.act_bits = 8;
    else if (n == 4 && !strncmp(spec, "w4a4", 4)) s.w_bits = 4, s.act_bits = 4;
    else return llx_fail(LLX_ERR_ARG, "scheme '%.*s' is not w8a8, w4a8 or w4a4", (int)(n < 32 ? n : 32), spec);
    while (comma) {
        const char *item = comma + 1;
        comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        const char *eq = memchr(item, '=', len);
        char val[16];
        size_t vlen = eq ? len - (size_t)(eq - item) - 1 : 0;
        if (!eq || eq == item || vlen == 0 || vlen >= sizeof val)
            return llx_fail(LLX_ERR_ARG, "scheme: '%.*s' is not key=value", (int)(len < 32 ? len : 32), item);
        memcpy(val, eq + 1, vlen);
        val[vlen] = 0;
        int r = set_field(&s, item, (size_t)(eq - item), val);
        if (r < 0)
            return llx_fail(LLX_ERR_ARG, "scheme: unknown key '%.*s' (group, scales, kv, lm, hadamard)",
                            (int)(eq - item < 32 ? eq - item : 32), item);
        if (r == 0)
            return llx_fail(LLX_ERR_ARG, "scheme: bad value '%s' for %.*s", val, (int)(eq - item), item);
    }
    LLX_TRY(llx_sim_scheme_check(&s));
    *out = s;
    return LLX_OK;
}

void llx_sim_scheme_format(const llx_sim_scheme *s, char *buf, int len)
{
    const int w = s->w_bits ? s->w_bits : 8, a = s->act_bits ? s->act_bits : 8, lm = s->lm_bits ? s->lm_bits : 8;
    if (len <= 0) return;
    snprintf(buf, (size_t)len, "w%da%d,group=%d,scales=%s,kv=%s,lm=%d,hadamard=%d", w, a, s->group,
             s->scale_bytes == 2 ? "fp16" : "fp32", s->kv_f32 ? "fp32" : "int8", lm, s->hadamard);
}

void llx_sim_scheme_sched(const llx_sim_scheme *s, llx_sched_opts *o)
{
    o->precision = LLX_PREC_W8A8_STATIC;
    o->act_bits = s->act_bits ? s->act_bits : 8;
    o->w_bits = s->w_bits ? s->w_bits : 8;
    o->lm_bits = s->lm_bits ? s->lm_bits : 8;
    o->kv_f32 = s->kv_f32;
    o->hadamard = s->hadamard;
    o->w_group = s->group;
    o->w_scale_bytes = s->scale_bytes ? s->scale_bytes : 4;
}

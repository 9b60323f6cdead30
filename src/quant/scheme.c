/* quant/scheme.c - the quantizer's options as a scheme (scheme.h). */
#include "quant/scheme.h"

#include "util/pool.h"
#include "util/status.h"

llx_scheme_info llx_quant_scheme(const llx_quant_opts *o)
{
    llx_scheme_info s = {0};
    s.scheme = o->scheme ? o->scheme : LLX_SCHEME_W8A8;
    const int w4 = s.scheme == LLX_SCHEME_W4A8 || s.scheme == LLX_SCHEME_W4A4;
    s.group = w4 ? o->group : 0;
    s.scales_f16 = w4 && o->scales_f16;
    s.gptq = o->gptq != 0;
    s.gptq_damp = o->gptq ? o->gptq_damp : 0.0f;
    s.gptq_act_order = o->gptq && o->gptq_act_order;
    s.rotate = o->rotate == LLX_ROTATE_HADAMARD; /* R1, R2 and folded norms; R4 alone is had_down only */
    s.rotate_seed = o->rotate ? o->rotate_seed : 0;
    s.kv_int8 = o->kv_int8 != 0;
    s.kv_per_head = s.kv_int8;
    s.lm_bits = s.scheme == LLX_SCHEME_F32 ? 32 : o->lm_bits == 4 ? 4 : 8;
    s.had_down = o->rotate != LLX_ROTATE_NONE;
    s.act_clip = s.scheme == LLX_SCHEME_W4A4 && !o->act_clip_auto ? o->act_clip : 0.0f;
    return s;
}

llx_status llx_quant_check_scheme(const llx_quant_opts *o, const llx_config *c)
{
    const llx_scheme sc = o->scheme ? o->scheme : LLX_SCHEME_W8A8;
    const int w4 = sc == LLX_SCHEME_W4A8 || sc == LLX_SCHEME_W4A4;
    if (sc != LLX_SCHEME_W8A8 && !w4) return llx_fail(LLX_ERR_ARG, "unknown scheme %d", (int)sc);
    if (o->group != 0 && o->group != 32 && o->group != 64 && o->group != 128)
        return llx_fail(LLX_ERR_ARG, "the weight group must be 32, 64 or 128 (got %d)", o->group);
    if (o->group && !w4) return llx_fail(LLX_ERR_ARG, "weight groups need int4 weights (--scheme w4a8 or w4a4)");
    if (o->scales_f16 && !w4) return llx_fail(LLX_ERR_ARG, "fp16 scales need int4 weights (--scheme w4a8 or w4a4)");
    if (o->weight_clip && !w4)
        return llx_fail(LLX_ERR_ARG, "weight clipping needs int4 weights (--scheme w4a8 or w4a4)");
    if ((o->act_clip != 0.0f || o->act_clip_auto) && sc != LLX_SCHEME_W4A4)
        return llx_fail(LLX_ERR_ARG, "activation clipping needs int4 activations (--scheme w4a4)");
    if (o->act_clip != 0.0f && !(o->act_clip >= LLX_ACT_CLIP_MIN && o->act_clip <= 1.0f))
        return llx_fail(LLX_ERR_ARG, "the activation clip ratio must be in [0.5, 1] (got %g)", (double)o->act_clip);
    if (o->lm_bits != 8 && o->lm_bits != 4) return llx_fail(LLX_ERR_ARG, "the LM head must be 8 or 4 bits");
    if (o->lm_bits == 4 && !w4) return llx_fail(LLX_ERR_ARG, "an int4 LM head needs an int4 scheme");
    if (o->gptq && !(o->gptq_damp > 0.0f && o->gptq_damp <= 1.0f))
        return llx_fail(LLX_ERR_ARG, "GPTQ damping must be in (0, 1] (got %g)", (double)o->gptq_damp);
    if (o->gptq_hess_a4 && (!o->gptq || sc != LLX_SCHEME_W4A4))
        return llx_fail(LLX_ERR_ARG, "the int4 inputs' Hessian needs --method gptq and --scheme w4a4");
    if (o->gptq_calib < LLX_GPTQ_CALIB_FP || o->gptq_calib > LLX_GPTQ_CALIB_ASYM)
        return llx_fail(LLX_ERR_ARG, "unknown GPTQ calibration %d", o->gptq_calib);
    if (o->gptq_calib != LLX_GPTQ_CALIB_FP && !o->gptq)
        return llx_fail(LLX_ERR_ARG, "sequential GPTQ calibration needs --method gptq");
    if (o->gptq_calib == LLX_GPTQ_CALIB_ASYM && !(o->gptq_asym_alpha > 0.0f && o->gptq_asym_alpha <= 1.0f))
        return llx_fail(LLX_ERR_ARG, "the asymmetric correction's fraction must be in (0, 1] (got %g)",
                        (double)o->gptq_asym_alpha);
    if (o->gptq_calib != LLX_GPTQ_CALIB_FP && o->gptq_hess_a4)
        return llx_fail(LLX_ERR_ARG, "--gptq-calib seq|asym already takes the quantized model's int4 inputs: drop "
                                     "--gptq-hessian a4");
    if (!w4) return LLX_OK;
    for (int m = 0; m <= LLX_MAT_LM_HEAD; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        if (!rows || (m == LLX_MAT_LM_HEAD && o->lm_bits != 4)) continue;
        const char *why = llx_qw_shape_error(cols, 4, o->group);
        if (why) return llx_fail(LLX_ERR_ARG, "%s (%s has %d)", why, llx_matrix_name((llx_matrix)m), cols);
    }
    return LLX_OK;
}

llx_qw_spec llx_quant_layer_spec(const llx_quant_opts *o)
{
    const llx_scheme sc = o->scheme ? o->scheme : LLX_SCHEME_W8A8;
    llx_qw_spec q = {sc == LLX_SCHEME_W8A8 ? 8 : 4, o->group, o->scales_f16, o->weight_clip,
                     {o->gptq_damp, o->gptq_act_order, 128, o->threads > 0 ? o->threads : llx_cpu_count()}};
    if (sc == LLX_SCHEME_F32) q.bits = 32;
    if (q.bits != 4) q.group = 0, q.f16 = 0, q.clip = 0;
    return q;
}

llx_qw_spec llx_quant_lm_spec(const llx_quant_opts *o)
{
    llx_qw_spec q = llx_quant_layer_spec(o);
    if (q.bits != 32) q.bits = o->lm_bits == 4 ? 4 : 8;
    if (q.bits != 4) q.group = 0, q.f16 = 0, q.clip = 0;
    return q;
}

void llx_quant_head_steps(const llx_config *c, const float *qkv_max, float *steps)
{
    const int d = llx_config_head_dim(c), n = c->n_head + 2 * llx_config_kv_heads(c);
    for (int h = 0; h < n; h++) {
        float m = 0.0f;
        for (int i = 0; i < d; i++) m = qkv_max[h * d + i] > m ? qkv_max[h * d + i] : m;
        steps[h] = m > 0.0f ? m / 127.0f : 1.0f;
    }
}

/* fuzz/fuzz_safetensors.c - any byte string as a model.safetensors: the
 * parser must reject or accept without reading outside the buffer; accepted
 * files then go through the tensor-requirement check for a fixed small
 * config (V 16, ctx 4, C 4, L 1, NH 2, F 8), and bound models are read whole:
 * every read succeeds when the whole-model NaN/Inf check passes, and
 * otherwise a read may only fail as a format error (the readers refuse a
 * non-finite weight; a fuzzer found a NaN bias the old harness trapped on). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/hf_internal.h"
#include "model/safetensors.h"

static void read_ok(llx_status st, int finite)
{
    if (st != LLX_OK && (finite || st != LLX_ERR_FORMAT)) __builtin_trap();
}

static void read_all(const llx_hf *m)
{
    const int finite = llx_hf_check_finite(m) == LLX_OK;
    float buf[16 * 4];
    for (int mat = LLX_MAT_QKV; mat < LLX_MAT_COUNT; mat++) {
        int rows, cols;
        llx_matrix_shape(llx_hf_config(m), (llx_matrix)mat, &rows, &cols); /* GPT-2: no gate, 0 rows */
        read_ok(llx_hf_read_rows(m, 0, (llx_matrix)mat, 0, rows, buf), finite);
        if (rows) read_ok(llx_hf_read_bias(m, 0, (llx_matrix)mat, 1, rows, buf), finite);
    }
    for (int v = LLX_VEC_LN1_G; v <= LLX_VEC_LN2_B; v++) read_ok(llx_hf_read_vec(m, 0, (llx_vec)v, buf), finite);
    read_ok(llx_hf_read_vec(m, -1, LLX_VEC_LNF_B, buf), finite);
    read_ok(llx_hf_read_wte(m, 0, 16, buf), finite);
    read_ok(llx_hf_read_wpe(m, 0, 4, buf), finite);
}

int llx_fuzz_safetensors(const uint8_t *data, size_t size)
{
    llx_st st;
    if (llx_st_parse(&st, data, size, "fuzz.safetensors") != LLX_OK) return 0;
    for (int i = 0; i < st.n; i++) { /* what the parser promises */
        const llx_st_tensor *t = &st.t[i];
        if (t->begin > t->end || t->end > st.data_size || t->data + (t->end - t->begin) > data + size)
            __builtin_trap();
        if (i && strcmp(st.t[i - 1].name, t->name) >= 0) __builtin_trap();
        if (llx_st_find(&st, t->name) != t) __builtin_trap();
    }
    const llx_config c = {.n_vocab = 16, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8,
                          .ln_eps = 1e-5f};
    llx_hf *m = NULL;
    if (llx_hf_from_st(&m, &st, &c, (int)(size & 1), "fuzz") == LLX_OK) {
        read_all(m);
        llx_hf_close(m);
    }
    return 0;
}

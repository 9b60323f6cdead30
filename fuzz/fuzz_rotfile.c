/* fuzz/fuzz_rotfile.c - rotation files (quant/rotfile.h): the whole input
 * is a file.  A parsed file must hold the matrices its header promises;
 * it is then checked against models of its own dimensions: a Llama, and a
 * GPT-2 (whose R1 must also keep the all-ones direction) when head_dim
 * divides n_embd. */
#include <math.h>

#include "fuzz.h"
#include "quant/rotfile.h"

int llx_fuzz_rotfile(const uint8_t *data, size_t size)
{
    llx_rotfile rf;
    if (llx_rotfile_parse(&rf, data, size, "fuzz.rot") != LLX_OK) return 0;
    const size_t vals = (size_t)rf.n_embd * rf.n_embd + (size_t)rf.n_layer * rf.head_dim * rf.head_dim;
    if (size != LLX_ROTFILE_HEADER + vals * 4 && size != LLX_ROTFILE_HEADER + vals * 8) __builtin_trap();
    if (!isfinite(rf.r1[0]) || !isfinite(rf.r2[(size_t)rf.n_layer * rf.head_dim * rf.head_dim - 1])) __builtin_trap();
    llx_config c = {.n_vocab = 4, .n_ctx = 4, .n_embd = rf.n_embd, .n_layer = rf.n_layer, .n_head = 1,
                    .n_inner = 4, .arch = LLX_ARCH_LLAMA, .n_kv_head = 1, .head_dim = rf.head_dim};
    (void)llx_rotfile_check(&rf, &c, "fuzz.rot");
    if (rf.n_embd % rf.head_dim == 0) {
        c = (llx_config){.n_vocab = 4, .n_ctx = 4, .n_embd = rf.n_embd, .n_layer = rf.n_layer,
                         .n_head = rf.n_embd / rf.head_dim, .n_inner = 4};
        (void)llx_rotfile_check(&rf, &c, "fuzz.rot");
    }
    llx_rotfile_free(&rf);
    return 0;
}

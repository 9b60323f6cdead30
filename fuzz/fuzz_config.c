/* fuzz/fuzz_config.c - config.json parsing must reject, never crash. */
#include "fuzz.h"
#include "llx/checkpoint.h"

int llx_fuzz_config(const uint8_t *data, size_t size)
{
    llx_config c;
    if (llx_config_parse_json((const char *)data, size, "fuzz", &c) == LLX_OK) {
        /* an accepted config must pass the consistency check on its own */
        if (llx_config_check(&c) != LLX_OK) __builtin_trap();
    }
    return 0;
}

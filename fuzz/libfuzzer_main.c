/* fuzz/libfuzzer_main.c - libFuzzer glue: LLX_FUZZ_ENTRY names the target. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return LLX_FUZZ_ENTRY(data, size);
}

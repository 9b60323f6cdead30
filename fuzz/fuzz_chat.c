/* fuzz/fuzz_chat.c - chat templates: any input either parses or is refused
 * with a message; a parsed template renders three message lists (or fails
 * with a message) without crashing, leaking or running away (the renderer
 * bounds its steps, memory and output). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "llx/chat.h"
#include "llx/status.h"

#define CHECK_OR_TRAP(c)                                                                           \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

int llx_fuzz_chat(const uint8_t *data, size_t size)
{
    llx_chat_template *t = NULL;
    llx_status st = llx_chat_template_parse(&t, (const char *)data, size, "<s>", "</s>");
    CHECK_OR_TRAP((st == LLX_OK) == (t != NULL));
    CHECK_OR_TRAP(st == LLX_OK || llx_errmsg()[0] != 0);
    if (!t) return 0;
    static const llx_chat_msg m[] = {{"system", "Be brief."}, {"user", "Hi <|eot_id|>"}, {"assistant", " ok "},
                                     {"user", "\xff\xfe naïve"}};
    for (int n = 0; n <= 4; n += 2) {
        char *out = NULL;
        st = llx_chat_render_at(t, m, n, n == 2, 1721995200LL, &out);
        CHECK_OR_TRAP((st == LLX_OK) == (out != NULL));
        CHECK_OR_TRAP(st == LLX_OK || llx_errmsg()[0] != 0);
        free(out);
    }
    llx_chat_template_free(t);
    return 0;
}

/* tests/test_cli_info.c - `looplynx info` and `looplynx tokenize` on a .llx
 * file: info reports the config, parameters, file size and quantization
 * record with the same JSON keys as for a folder; tokenize uses the
 * tokenizer embedded in the file and agrees with the folder's. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clitest.h"
#include "test.h"

static json_t *info_json(const char *model)
{
    llx_proc_result r;
    llx_cli(&r, "info", "-m", model, "--json", NULL);
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    if (!j) llx_test_note("info %s: exit %d %s", model, r.status, r.err);
    CHECK(r.err_len == 0);
    llx_proc_free(&r);
    return j;
}

TEST(info_cli_llx_matches_folder, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *llx = llx_tiny_llx(2);
    if (!hf || !llx) {
        CHECK(hf && llx);
        return;
    }
    json_t *a = info_json(hf), *b = info_json(llx);
    CHECK(a && b);
    if (a && b) {
        /* the same keys, in the same order */
        void *ia = json_object_iter(a), *ib = json_object_iter(b);
        int keys = 0;
        for (; ia && ib; ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib), keys++)
            CHECK_MSG(!strcmp(json_object_iter_key(ia), json_object_iter_key(ib)), "key %s vs %s",
                      json_object_iter_key(ia), json_object_iter_key(ib));
        CHECK(ia == NULL && ib == NULL && keys >= 15);
        /* the same model description */
        static const char *const same[] = {"vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "head_dim",
                                           "n_inner", "parameters", "layer_norm_epsilon", "weight_bytes"};
        for (size_t i = 0; i < sizeof same / sizeof *same; i++)
            CHECK_MSG(json_equal(json_object_get(a, same[i]), json_object_get(b, same[i])), "%s differs", same[i]);
        CHECK(!strcmp(json_string_value(json_object_get(a, "format")), "hf"));
        CHECK(!strcmp(json_string_value(json_object_get(b, "format")), "llx"));
        CHECK(!strcmp(json_string_value(json_object_get(b, "path")), llx));
        CHECK(json_is_null(json_object_get(a, "quantization")));
        const json_t *q = json_object_get(b, "quantization");
        CHECK(json_is_object(q) && !strcmp(json_string_value(json_object_get(q, "act")), "dynamic"));
        CHECK_CLOSE(json_real_value(json_object_get(q, "alpha")), 0.5, 0, 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(q, "calib_tokens")), 512);
        CHECK(json_is_false(json_object_get(q, "smooth_v")));
        struct stat st;
        CHECK(stat(llx, &st) == 0 && json_integer_value(json_object_get(b, "file_bytes")) == st.st_size);
        /* V*C + P*C + 2 layers * (4C^2 + 2CF + 9C + F = 12704) + 2C = 9600 + 1024 + 25408 + 64 */
        CHECK_EQ_INT(json_integer_value(json_object_get(b, "parameters")), 36096);
    }
    json_decref(a);
    json_decref(b);
    /* human output */
    llx_proc_result r;
    llx_cli(&r, "info", "-m", llx, NULL);
    CHECK(r.status == 0 && strstr(r.out, ".llx file") && strstr(r.out, "dynamic activation scales") &&
          strstr(r.out, "calibration tokens  512") && strstr(r.out, "weights int8"));
    llx_proc_free(&r);
}

TEST(info_bad_cli_args, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "info", NULL);
    CHECK(llx_cli_failed(&r, 2, "-m MODEL is required"));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", llx_test_tmpfile("no-such-model"), NULL);
    CHECK(llx_cli_failed(&r, 1, "does not exist"));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", "x", "--frob", NULL);
    CHECK(llx_cli_failed(&r, 2, "unknown option '--frob'"));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", NULL);
    CHECK(llx_cli_failed(&r, 2, "-m needs a value"));
    llx_proc_free(&r);
}

TEST(tokenizer_cli_llx_model, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *llx = llx_tiny_llx(1);
    if (!hf || !llx) {
        CHECK(hf && llx);
        return;
    }
    static const char text[] = "the engine runs a ring of nodes\n\xe2\x82\xac 42";
    llx_proc_result a, b;
    llx_cli(&a, "tokenize", "-m", hf, "-p", text, "--json", NULL);
    llx_cli(&b, "tokenize", "-m", llx, "-p", text, "--json", NULL);
    CHECK(a.status == 0 && b.status == 0 && !strcmp(a.out, b.out) && strlen(a.out) > 20);
    llx_proc_free(&a);
    llx_proc_free(&b);
    llx_cli(&a, "tokenize", "-m", llx, "-p", text, NULL);
    CHECK(a.status == 0 && !strncmp(a.out, "ids: ", 5));
    char *nl = strchr(a.out, '\n');
    if (nl) *nl = 0;
    llx_cli(&b, "tokenize", "-m", llx, "--decode", a.out + 5, NULL);
    CHECK(b.status == 0 && b.out_len == sizeof text - 1 && !memcmp(b.out, text, sizeof text - 1));
    llx_proc_free(&a);
    llx_proc_free(&b);
    /* ids beyond the embedded vocabulary */
    llx_cli(&a, "tokenize", "-m", llx, "--decode", "1 300", NULL);
    CHECK(llx_cli_failed(&a, 2, "token id 300 is outside the vocabulary (0..299)"));
    llx_proc_free(&a);
}

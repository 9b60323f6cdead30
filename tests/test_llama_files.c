/* tests/test_llama_files.c - Llama folders on disk: the same weights cut
 * into shards (model.safetensors.index.json + two shards) give the same
 * logits as the single file, through the library and the CLI; broken
 * Llama folders are refused with one line each: a shard the index lists is
 * missing, a tensor listed twice in the index, a tensor in two shards, a
 * tokenizer.json of a model type the tokenizer does not support. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "llx/engine.h"
#include "test.h"
#include "w8a8_fixtures.h"

static const char *const side_files[] = {"config.json", "tokenizer.json", "tokenizer_config.json"};

static int copy_to(const char *from_dir, const char *to_dir, const char *name)
{
    char a[1100], b[1100];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    size_t n;
    char *s = llx_test_read(a, &n);
    FILE *f = s ? fopen(b, "wb") : NULL;
    int ok = f && fwrite(s, 1, n, f) == n;
    if (f) ok &= fclose(f) == 0;
    free(s);
    return ok;
}

/* A copy of the Llama fixture in a new folder `name`, its tensors dealt
 * alternately into model-00001-of-00002 and model-00002-of-00002 with an
 * index naming them; `dup` (a tensor name or NULL) is written into both
 * shards.  Returns the folder (its own copy) or NULL. */
static const char *sharded(const char *name, const char *dup)
{
    static char dirs[4][1024];
    static int next;
    const char *src = llx_fixture_llama(), *d = llx_test_tmpfile(name);
    if (!src || !d) return NULL;
    char *dir = dirs[next++ % 4];
    snprintf(dir, sizeof dirs[0], "%s", d);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/s0' '%s/s1'", dir, dir, dir);
    if (system(cmd) != 0) return NULL;
    for (size_t i = 0; i < sizeof side_files / sizeof side_files[0]; i++)
        if (!copy_to(src, dir, side_files[i])) return NULL;
    ckpt_img img, part[2] = {{json_object(), malloc(1), 0}, {json_object(), malloc(1), 0}};
    if (!ckpt_img_load(src, &img)) return NULL;
    json_t *map = json_object(), *v;
    const char *key;
    int k = 0;
    json_object_foreach(img.hdr, key, v)
    {
        if (!strcmp(key, "__metadata__")) continue;
        json_t *shape = json_object_get(v, "shape");
        long long dims[2] = {0, 0};
        const int nd = (int)json_array_size(shape);
        for (int i = 0; i < nd && i < 2; i++) dims[i] = json_integer_value(json_array_get(shape, (size_t)i));
        size_t n;
        const uint8_t *raw = ckpt_img_raw(&img, key, &n);
        const char *dt = json_string_value(json_object_get(v, "dtype"));
        ckpt_img_add(&part[k], key, dt, nd, dims, raw, n);
        if (dup && !strcmp(key, dup)) ckpt_img_add(&part[!k], key, dt, nd, dims, raw, n);
        char sn[64];
        snprintf(sn, sizeof sn, "model-%05d-of-00002.safetensors", k + 1);
        json_object_set_new(map, key, json_string(sn));
        k = !k;
    }
    ckpt_img_free(&img);
    int ok = 1;
    for (int s = 0; s < 2; s++) {
        char sub[1100], from[1200], to[1200];
        snprintf(sub, sizeof sub, "%s/s%d", dir, s);
        snprintf(from, sizeof from, "%s/model.safetensors", sub);
        snprintf(to, sizeof to, "%s/model-%05d-of-00002.safetensors", dir, s + 1);
        ok &= ckpt_img_save(sub, &part[s]) && rename(from, to) == 0;
        ckpt_img_free(&part[s]);
    }
    json_t *root = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", map);
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    ok &= json_dump_file(root, path, JSON_INDENT(2)) == 0;
    json_decref(root);
    return ok ? dir : NULL;
}

/* Last-position logits of a fixed prompt on dir's model (fp32, 1 node). */
static float *logits_of(const char *dir, int *V)
{
    llx_model *m = NULL;
    llx_engine *e = NULL;
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 1;
    float *out = NULL;
    if (llx_model_open(&m, dir) == LLX_OK && llx_engine_create(&e, m, &o) == LLX_OK) {
        *V = llx_model_config(m)->n_vocab;
        static const int ids[] = {5, 77, 300, 12, 650, 41};
        out = malloc(sizeof(float) * (size_t)*V);
        if (out && llx_engine_forward(e, ids, 6, out, 0) != LLX_OK) free(out), out = NULL;
    }
    if (!out) llx_test_note("%s: %s", dir, llx_errmsg());
    llx_engine_free(e);
    llx_model_close(m);
    return out;
}

TEST(llama_sharded_same_logits, LLX_T_ASAN)
{
    const char *one = llx_fixture_llama(), *two = sharded("llama-sharded", NULL);
    REQUIRE(one && two);
    int V1 = 0, V2 = 0;
    float *a = logits_of(one, &V1), *b = logits_of(two, &V2);
    CHECK(a && b && V1 == V2 && memcmp(a, b, sizeof(float) * (size_t)V1) == 0);
    free(a), free(b);
    llx_proc_result r[2];
    for (int i = 0; i < 2; i++)
        llx_cli(&r[i], "generate", "-m", i ? two : one, "-p", "the sharded ring", "-n", "6", "--greedy", "--json",
                NULL);
    CHECK_MSG(r[0].status == 0 && r[1].status == 0, "%s%s", r[0].err, r[1].err);
    const char *t0 = strstr(r[0].out, "\"tokens\""), *t1 = strstr(r[1].out, "\"tokens\"");
    CHECK(t0 && t1 && strncmp(t0, t1, (size_t)(strchr(t0, ']') - t0)) == 0);
    llx_proc_free(&r[0]), llx_proc_free(&r[1]);
}

static void set_file(const char *dir, const char *name, const char *text)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) fputs(text, f), fclose(f);
}

TEST(llama_sharded_bad_folders, LLX_T_ASAN)
{
    const char *d = sharded("llama-sh-missing", NULL);
    REQUIRE(d);
    char p[1100];
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", d);
    CHECK(unlink(p) == 0);
    ckpt_expect_cli_error(d, "model-00002-of-00002.safetensors: missing shard (listed in");

    /* the same tensor named twice in the index's weight_map */
    REQUIRE((d = sharded("llama-sh-twice", NULL)));
    set_file(d, "model.safetensors.index.json",
             "{\"metadata\": {}, \"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\", "
             "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}");
    ckpt_expect_cli_error(d, "(a tensor is listed twice)");

    /* one tensor stored in both shards */
    REQUIRE((d = sharded("llama-sh-both", "model.layers.0.mlp.up_proj.weight")));
    ckpt_expect_cli_error(d, "tensor 'model.layers.0.mlp.up_proj.weight' appears in two shards");
}

/* tokenizer.json of a SentencePiece-style model (Unigram): one line naming
 * the model type, from the folder and from the quantizer. */
TEST(llama_tokenizer_unsupported_model_type, LLX_T_ASAN)
{
    const char *d = sharded("llama-unigram", NULL);
    REQUIRE(d);
    char p[1100];
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    json_t *root = json_load_file(p, 0, NULL);
    REQUIRE(root);
    json_object_set_new(json_object_get(root, "model"), "type", json_string("Unigram"));
    CHECK(json_dump_file(root, p, 0) == 0);
    json_decref(root);
    ckpt_expect_cli_error(d, "model type 'Unigram' is not supported (only byte-level BPE)");
    const char *calib = llx_fixture_calib_text();
    REQUIRE(calib);
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", d, "--calib", calib, "-o", llx_test_tmpfile("unigram.llx"), NULL);
    CHECK_MSG(r.status == 1 && strncmp(r.err, "looplynx: error: ", 17) == 0 && strchr(r.err, '\n') == r.err + r.err_len - 1 &&
                  strstr(r.err, "'Unigram' is not supported"), "%s", r.err);
    llx_proc_free(&r);
}

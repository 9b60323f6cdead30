/* tests/test_st_sharded.c - sharded safetensors checkpoints
 * (model.safetensors.index.json + model-0000K-of-0000N.safetensors): a
 * synthetic checkpoint split into shards loads to the same values as the
 * single file (library and CLI), and each broken layout is one error line:
 * a missing shard, a malformed index, a shard that is not safetensors,
 * a tensor listed twice, a tensor in two shards, a tensor
 * in the index but not in its shard, a shard tensor the index does not list
 * or maps elsewhere, a shard name that leaves the folder, no weights. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "llx/checkpoint.h"
#include "model/safetensors.h"
#include "test.h"
#include "util/status.h"

#define NSHARD 3

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    size_t n;
    char *s = llx_test_read(a, &n);
    FILE *f = s ? fopen(b, "wb") : NULL;
    if (f) fwrite(s, 1, n, f), fclose(f);
    free(s);
}

static void shard_name(char *buf, size_t cap, int k) { snprintf(buf, cap, "model-%05d-of-%05d.safetensors", k + 1, NSHARD); }

/* Split src's model.safetensors into NSHARD shards in a new folder `name`
 * (round robin over the header's tensors; `extra` (a tensor name) is also
 * written into the last shard); returns the folder and fills *map with the
 * weight_map written (a new reference; index not yet written). */
static const char *make_sharded(const char *src, const char *name, const char *extra, json_t **map)
{
    const char *dir = llx_test_tmpfile(name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/tmp'", dir);
    if (system(cmd) != 0) return NULL;
    copy_file(src, dir, "config.json"), copy_file(src, dir, "vocab.json"), copy_file(src, dir, "merges.txt");
    ckpt_img img, part[NSHARD];
    if (!ckpt_img_load(src, &img)) return NULL;
    *map = json_object();
    for (int k = 0; k < NSHARD; k++) part[k] = (ckpt_img){json_object(), malloc(1), 0};
    const char *key;
    json_t *v;
    int i = 0;
    json_object_foreach(img.hdr, key, v)
    {
        if (!strcmp(key, "__metadata__")) continue;
        json_t *shape = json_object_get(v, "shape");
        long long dims[8];
        int nd = (int)json_array_size(shape);
        for (int d = 0; d < nd && d < 8; d++) dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
        size_t n;
        const uint8_t *raw = ckpt_img_raw(&img, key, &n);
        const char *dt = json_string_value(json_object_get(v, "dtype"));
        int k = i++ % NSHARD;
        ckpt_img_add(&part[k], key, dt, nd, dims, raw, n);
        if (extra && !strcmp(key, extra) && k != NSHARD - 1) ckpt_img_add(&part[NSHARD - 1], key, dt, nd, dims, raw, n);
        char sn[64];
        shard_name(sn, sizeof sn, k);
        json_object_set_new(*map, key, json_string(sn));
    }
    for (int k = 0; k < NSHARD; k++) {
        char tmp[1100], sn[64], to[1200];
        snprintf(tmp, sizeof tmp, "%s/tmp", dir);
        shard_name(sn, sizeof sn, k);
        snprintf(to, sizeof to, "%s/%s", dir, sn);
        char from[1200];
        snprintf(from, sizeof from, "%s/model.safetensors", tmp);
        if (!ckpt_img_save(tmp, &part[k]) || rename(from, to) != 0) return NULL;
        ckpt_img_free(&part[k]);
    }
    ckpt_img_free(&img);
    return dir;
}

static void write_index(const char *dir, const char *text)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(p, "wb");
    if (f) fputs(text, f), fclose(f);
}

static void write_map(const char *dir, json_t *map)
{
    json_t *root = json_pack("{s:{s:i}, s:O}", "metadata", "total_size", 0, "weight_map", map);
    char *s = json_dumps(root, JSON_INDENT(2));
    write_index(dir, s);
    free(s);
    json_decref(root);
}

/* The single-file checkpoint the shards are cut from (its path copied:
 * llx_test_tmpfile's buffers rotate). */
static const char *base(void)
{
    static char dir[1024];
    static int tried;
    if (!tried) {
        tried = 1;
        llx_config c = ckpt_tiny_config();
        const char *d = ckpt_make("unsharded", &c, "F16", 7);
        if (d) snprintf(dir, sizeof dir, "%s", d);
    }
    return dir[0] ? dir : NULL;
}

TEST(checkpoint_sharded_loads_same_values, LLX_T_ASAN)
{
    const char *src = base();
    json_t *map = NULL;
    const char *dir = src ? make_sharded(src, "sharded", NULL, &map) : NULL;
    CHECK(dir != NULL);
    if (!dir) return;
    write_map(dir, map);
    llx_hf *a = NULL, *b = NULL;
    CHECK(llx_hf_open(&a, src) == LLX_OK);
    CHECK_MSG(llx_hf_open(&b, dir) == LLX_OK, "%s", llx_errmsg());
    if (a && b) {
        size_t n = ckpt_read_all(a, NULL);
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        CHECK(ckpt_read_all(a, x) == n && ckpt_read_all(b, y) == n);
        CHECK(memcmp(x, y, n * sizeof *x) == 0);
        free(x), free(y);
    }
    llx_hf_close(a), llx_hf_close(b);
    llx_st st1, st3;
    CHECK(llx_st_open_model(&st1, src) == LLX_OK && llx_st_open_model(&st3, dir) == LLX_OK);
    CHECK(st3.n == st1.n && st3.n_shards == NSHARD && st3.data_size == st1.data_size);
    for (int i = 0; i < st1.n && st3.n == st1.n; i++)
        CHECK(!strcmp(st1.t[i].name, st3.t[i].name) && st1.t[i].end - st1.t[i].begin == st3.t[i].end - st3.t[i].begin &&
              !memcmp(st1.t[i].data, st3.t[i].data, st1.t[i].end - st1.t[i].begin));
    llx_st_release_pages(&st3);
    llx_st_close(&st1), llx_st_close(&st3);
    /* the CLI sees one checkpoint */
    llx_proc_result r;
    llx_cli(&r, "info", "-m", dir, NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    llx_proc_free(&r);
    json_decref(map);
}

/* A fresh sharded copy with the index written by edit(map). */
static const char *variant(const char *name, const char *extra, void (*edit)(json_t *map, const char *dir))
{
    json_t *map = NULL;
    const char *dir = base() ? make_sharded(base(), name, extra, &map) : NULL;
    if (!dir) return NULL;
    edit(map, dir);
    json_decref(map);
    return dir;
}

static void keep(json_t *map, const char *dir) { write_map(dir, map); }

static const char *some_tensor(json_t *map, int skip)
{
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v) if (skip-- == 0) return k;
    return NULL;
}

static void drop_shard(json_t *map, const char *dir)
{
    write_map(dir, map);
    char p[1200], sn[64];
    shard_name(sn, sizeof sn, 1);
    snprintf(p, sizeof p, "%s/%s", dir, sn);
    unlink(p);
}

static void ghost(json_t *map, const char *dir)
{
    json_object_set_new(map, "h.0.ghost.weight", json_string("model-00002-of-00003.safetensors"));
    write_map(dir, map);
}

static void unlisted(json_t *map, const char *dir)
{
    json_object_del(map, some_tensor(map, 4));
    write_map(dir, map);
}

static void moved(json_t *map, const char *dir)
{
    const char *k = some_tensor(map, 0); /* in shard 1 */
    json_object_set_new(map, k, json_string("model-00002-of-00003.safetensors"));
    write_map(dir, map);
}

static void escape(json_t *map, const char *dir)
{
    json_object_set_new(map, some_tensor(map, 0), json_string("../unsharded/model.safetensors"));
    write_map(dir, map);
}

static void twice(json_t *map, const char *dir)
{
    /* the same key twice in the JSON text */
    const char *k = some_tensor(map, 0);
    char *body = json_dumps(map, JSON_COMPACT), text[1 << 16];
    snprintf(text, sizeof text, "{\"weight_map\": {\"%s\": \"model-00001-of-00003.safetensors\", %s}", k, body + 1);
    write_index(dir, text);
    free(body);
}

static void empty(json_t *map, const char *dir) { write_index(dir, "{\"metadata\": {}, \"weight_map\": {}}"); }

static void malformed(json_t *map, const char *dir) { write_index(dir, "{\"weight_map\": {\"wte.weight\": \"model-00001-of-00003.safetensors\",\n"); }

/* a shard whose bytes are not a safetensors file */
static void corrupt(json_t *map, const char *dir)
{
    write_map(dir, map);
    char p[1200], sn[64];
    shard_name(sn, sizeof sn, 2);
    snprintf(p, sizeof p, "%s/%s", dir, sn);
    FILE *f = fopen(p, "wb");
    if (f) fputs("not a safetensors file", f), fclose(f);
}

TEST(checkpoint_sharded_bad_layouts, LLX_T_ASAN)
{
    const char *d;
    if (!base()) SKIP("no synthetic checkpoint");
    if ((d = variant("sh_missing", NULL, drop_shard))) ckpt_expect_cli_error(d, "model-00002-of-00003.safetensors: missing shard (listed in");
    if ((d = variant("sh_ghost", NULL, ghost)))
        ckpt_expect_cli_error(d, "the index maps tensor 'h.0.ghost.weight' to model-00002-of-00003.safetensors, which does not hold it");
    if ((d = variant("sh_unlisted", NULL, unlisted))) ckpt_expect_cli_error(d, "which the index does not list");
    if ((d = variant("sh_moved", NULL, moved)))
        ckpt_expect_cli_error(d, "is in shard model-00001-of-00003.safetensors, but the index maps it to model-00002-of-00003.safetensors");
    if ((d = variant("sh_escape", NULL, escape))) ckpt_expect_cli_error(d, "the shard must be a file name in the same folder");
    if ((d = variant("sh_twice", NULL, twice))) ckpt_expect_cli_error(d, "duplicate object key near '\"wte.weight\"' (a tensor is listed twice)");
    if ((d = variant("sh_empty", NULL, empty))) ckpt_expect_cli_error(d, "non-empty \"weight_map\"");
    if ((d = variant("sh_malformed", NULL, malformed))) ckpt_expect_cli_error(d, "model.safetensors.index.json: line 2 column 0: string or '}' expected near end of file");
    if ((d = variant("sh_corrupt", NULL, corrupt))) ckpt_expect_cli_error(d, "model-00003-of-00003.safetensors: header length 7021991845529153390 runs past the end of the file (22 bytes)");
    json_t *probe = NULL;
    const char *first = NULL;
    if ((d = make_sharded(base(), "sh_probe", NULL, &probe))) first = some_tensor(probe, 0);
    char extra[256] = "";
    if (first) snprintf(extra, sizeof extra, "%s", first);
    json_decref(probe);
    if (first && (d = variant("sh_two_shards", extra, keep)))
        ckpt_expect_cli_error(d, "appears in two shards (model-00001-of-00003.safetensors and model-00003-of-00003.safetensors)");
    /* neither model.safetensors nor an index */
    if ((d = variant("sh_none", NULL, keep))) {
        char p[1200];
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
        unlink(p);
        ckpt_expect_cli_error(d, "model.safetensors: missing (and no model.safetensors.index.json beside it");
    }
}

TEST(checkpoint_sharded_index_parse, LLX_T_ASAN)
{
    llx_st_index ix;
    const char *ok = "{\"weight_map\": {\"b\": \"s2\", \"a\": \"s1\", \"c\": \"s2\"}}";
    CHECK(llx_st_index_parse(&ix, ok, strlen(ok), "ix") == LLX_OK);
    CHECK(ix.n == 3 && ix.n_files == 2 && !strcmp(ix.files[0], "s2") && !strcmp(ix.names[0], "a") && ix.file[0] == 1);
    llx_st_index_free(&ix);
    const char *bad[][2] = {{"[]", "non-empty \"weight_map\""},
                            {"{\"weight_map\": {\"a\": 5}}", "tensor 'a': the shard must be a file name"},
                            {"{\"weight_map\": {\"a\": \"..\"}}", "the shard must be a file name"},
                            {"{\"weight_map\": {\"a\": \"x/y\"}}", "the shard must be a file name"},
                            {"{\"weight_map\": {\"a\": \"\"}}", "the shard must be a file name"},
                            {"{\"weight_map\": {\"a\": \"s\", \"a\": \"s\"}}", "(a tensor is listed twice)"},
                            {"{\"weight_map\"", "ix: line 1"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(llx_st_index_parse(&ix, bad[i][0], strlen(bad[i][0]), "ix") == LLX_ERR_FORMAT &&
                      strstr(llx_errmsg(), bad[i][1]) && !strncmp(llx_errmsg(), "ix: ", 4),
                  "%s -> %s", bad[i][0], llx_errmsg());
    }
}

/* model/st_index.c - sharded safetensors checkpoints:
 * model.safetensors.index.json ("weight_map": tensor name -> shard file)
 * plus model-0000K-of-0000N.safetensors shards, presented to the loaders as
 * one llx_st.  Each shard is parsed and validated by safetensors.c; here the
 * index is parsed and the two are cross-checked: every shard the index
 * names exists, every listed tensor is in its shard, every tensor of a
 * shard is listed for that shard, and no tensor appears twice (a repeated
 * key in the index, two shards holding it, or twice in one shard, which the
 * shard's parser refuses).  Every failure is one line naming the file.
 * The index's "metadata" (total_size) is not checked. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "util/file.h"
#include "util/mem.h"
#include "util/status.h"

#define MAX_SHARDS 10000
#define INDEX_MAX ((size_t)64 << 20)

static const char INDEX_NAME[] = "model.safetensors.index.json";

void llx_st_index_free(llx_st_index *ix)
{
    for (int i = 0; i < ix->n_files; i++) free(ix->files[i]);
    for (int i = 0; i < ix->n; i++) free(ix->names[i]);
    free(ix->files), free(ix->names), free(ix->file);
    memset(ix, 0, sizeof *ix);
}

/* A shard must be a plain file name in the index's folder. */
static int plain_name(const char *s, size_t n)
{
    return n > 0 && !memchr(s, '/', n) && !memchr(s, '\\', n) && !memchr(s, 0, n) && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

static int file_slot(llx_st_index *ix, const char *s)
{
    for (int i = ix->n_files - 1; i >= 0; i--) /* shards are usually listed in runs */
        if (!strcmp(ix->files[i], s)) return i;
    if (ix->n_files == MAX_SHARDS) return -2;
    char *d = strdup(s);
    if (!d) return -1;
    ix->files[ix->n_files] = d;
    return ix->n_files++;
}

static int cmp_entry(const void *a, const void *b, void *names)
{
    return strcmp(((char **)names)[*(const int *)a], ((char **)names)[*(const int *)b]);
}

/* Sort names (and file alongside) by name. */
static llx_status sort_entries(llx_st_index *ix)
{
    int *ord = malloc((size_t)(ix->n ? ix->n : 1) * sizeof *ord);
    char **nm = malloc((size_t)(ix->n ? ix->n : 1) * sizeof *nm);
    int *fl = malloc((size_t)(ix->n ? ix->n : 1) * sizeof *fl);
    if (!ord || !nm || !fl) {
        free(ord), free(nm), free(fl);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < ix->n; i++) ord[i] = i;
    qsort_r(ord, (size_t)ix->n, sizeof *ord, cmp_entry, ix->names);
    for (int i = 0; i < ix->n; i++) nm[i] = ix->names[ord[i]], fl[i] = ix->file[ord[i]];
    free(ix->names), free(ix->file), free(ord);
    ix->names = nm, ix->file = fl;
    return LLX_OK;
}

static llx_status parse_map(llx_st_index *ix, json_t *map, const char *what)
{
    size_t n = json_object_size(map);
    ix->names = calloc(n, sizeof *ix->names);
    ix->file = calloc(n, sizeof *ix->file);
    ix->files = calloc(n < MAX_SHARDS ? n : MAX_SHARDS, sizeof *ix->files);
    if (!ix->names || !ix->file || !ix->files) return llx_fail(LLX_ERR_NOMEM, "out of memory reading %s", what);
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        char nm[96];
        llx_st_printable(nm, sizeof nm, k);
        if (!json_is_string(v) || !plain_name(json_string_value(v), json_string_length(v)))
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': the shard must be a file name in the same folder", what,
                            nm);
        int f = file_slot(ix, json_string_value(v));
        if (f < 0)
            return f == -2 ? llx_fail(LLX_ERR_FORMAT, "%s: more than %d shards", what, MAX_SHARDS)
                           : llx_fail(LLX_ERR_NOMEM, "out of memory reading %s", what);
        if (!(ix->names[ix->n] = strdup(k))) return llx_fail(LLX_ERR_NOMEM, "out of memory reading %s", what);
        ix->file[ix->n++] = f;
    }
    return sort_entries(ix);
}

llx_status llx_st_index_parse(llx_st_index *ix, const char *text, size_t len, const char *what)
{
    memset(ix, 0, sizeof *ix);
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        char txt[128];
        llx_st_printable(txt, sizeof txt, e.text);
        int dup = strstr(e.text, "duplicate object key") != NULL;
        return llx_fail(LLX_ERR_FORMAT, "%s: line %d column %d: %s%s", what, e.line, e.column, txt,
                        dup ? " (a tensor is listed twice)" : "");
    }
    json_t *map = json_object_get(root, "weight_map");
    llx_status st = LLX_OK;
    if (!json_is_object(root) || !json_is_object(map) || json_object_size(map) == 0)
        st = llx_fail(LLX_ERR_FORMAT, "%s: expected an object with a non-empty \"weight_map\" object", what);
    else st = parse_map(ix, map, what);
    json_decref(root);
    if (st != LLX_OK) llx_st_index_free(ix);
    return st;
}

/* The index entry of name, or -1. */
static int find_entry(const llx_st_index *ix, const char *name)
{
    int lo = 0, hi = ix->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(name, ix->names[mid]);
        if (c == 0) return mid;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

typedef struct owned {
    llx_st_tensor t;
    int shard;
} owned;

static int cmp_owned(const void *a, const void *b)
{
    return strcmp(((const owned *)a)->t.name, ((const owned *)b)->t.name);
}

/* The cross-checks on all tensors, sorted by name (one line each). */
static llx_status cross_check(const owned *all, int n, const llx_st_index *ix, const char *what)
{
    char nm[96];
    for (int i = 0; i < n; i++) {
        llx_st_printable(nm, sizeof nm, all[i].t.name);
        const char *here = ix->files[all[i].shard];
        if (i > 0 && !strcmp(all[i - 1].t.name, all[i].t.name))
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' appears in two shards (%s and %s)", what, nm,
                            ix->files[all[i - 1].shard], here);
        int e = find_entry(ix, all[i].t.name);
        if (e < 0) return llx_fail(LLX_ERR_FORMAT, "%s: shard %s holds tensor '%s', which the index does not list", what, here, nm);
        if (ix->file[e] != all[i].shard)
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' is in shard %s, but the index maps it to %s", what, nm, here,
                            ix->files[ix->file[e]]);
    }
    for (int e = 0, i = 0; e < ix->n; e++) { /* both sorted: walk together */
        while (i < n && strcmp(all[i].t.name, ix->names[e]) < 0) i++;
        if (i >= n || strcmp(all[i].t.name, ix->names[e]) != 0) {
            llx_st_printable(nm, sizeof nm, ix->names[e]);
            return llx_fail(LLX_ERR_FORMAT, "%s: the index maps tensor '%s' to %s, which does not hold it", what, nm,
                            ix->files[ix->file[e]]);
        }
    }
    return LLX_OK;
}

llx_status llx_st_merge(llx_st *out, llx_st *shards, const llx_st_index *ix, const char *what)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (int s = 0; s < ix->n_files; s++) total += (size_t)shards[s].n;
    owned *all = malloc((total ? total : 1) * sizeof *all);
    out->shard_maps = calloc((size_t)ix->n_files, sizeof *out->shard_maps);
    out->what = strdup(what);
    llx_status st = all && out->shard_maps && out->what ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (int s = 0; s < ix->n_files; s++) { /* take the tensors (names included) and the mappings */
        for (int i = 0; all && i < shards[s].n; i++) all[k].t = shards[s].t[i], all[k++].shard = s;
        if (all) shards[s].n = 0; /* the names now belong to all[] */
        if (out->shard_maps) {
            out->shard_maps[out->n_shards++] = shards[s].map;
            memset(&shards[s].map, 0, sizeof shards[s].map);
        }
        out->data_size += shards[s].data_size;
        llx_st_close(&shards[s]);
    }
    if (st == LLX_OK) {
        qsort(all, k, sizeof *all, cmp_owned);
        st = cross_check(all, (int)k, ix, what);
    }
    if (st == LLX_OK && !(out->t = malloc((k ? k : 1) * sizeof *out->t))) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; all && i < k; i++) {
        if (st == LLX_OK) out->t[i] = all[i].t;
        else free(all[i].t.name);
    }
    if (st == LLX_OK) out->n = (int)k;
    free(all);
    if (st != LLX_OK) llx_st_close(out);
    return st;
}

llx_status llx_st_open_sharded(llx_st *st, const char *index_path)
{
    memset(st, 0, sizeof *st);
    char *text = NULL, *dir = strdup(index_path);
    size_t len = 0;
    llx_st_index ix = {0};
    llx_status s = dir ? llx_read_file(index_path, INDEX_MAX, &text, &len) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (s == LLX_OK) s = llx_st_index_parse(&ix, text, len, index_path);
    free(text);
    if (s != LLX_OK) {
        free(dir);
        return s;
    }
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    llx_st *shards = calloc((size_t)ix.n_files, sizeof *shards);
    if (!shards) s = llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int i = 0; s == LLX_OK && i < ix.n_files; i++) {
        size_t n = strlen(dir) + strlen(ix.files[i]) + 1;
        char *p = malloc(n);
        if (!p) {
            s = llx_fail(LLX_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(p, n, "%s%s", dir, ix.files[i]);
        if (!llx_is_file(p)) s = llx_fail(LLX_ERR_IO, "%s: missing shard (listed in %s)", p, index_path);
        else s = llx_st_open(&shards[i], p);
        free(p);
    }
    if (s == LLX_OK) s = llx_st_merge(st, shards, &ix, index_path);
    else
        for (int i = 0; shards && i < ix.n_files; i++) llx_st_close(&shards[i]);
    free(shards);
    free(dir);
    llx_st_index_free(&ix);
    return s;
}

llx_status llx_st_open_model(llx_st *st, const char *dir)
{
    memset(st, 0, sizeof *st);
    char *one = llx_path_join(dir, "model.safetensors"), *index = llx_path_join(dir, INDEX_NAME);
    llx_status s;
    if (!one || !index) s = llx_fail(LLX_ERR_NOMEM, "out of memory");
    else if (llx_is_file(one)) s = llx_st_open(st, one);
    else if (llx_is_file(index)) s = llx_st_open_sharded(st, index);
    else s = llx_fail(LLX_ERR_IO, "%s: missing (and no %s beside it for a sharded checkpoint)", one, INDEX_NAME);
    free(one);
    free(index);
    return s;
}

void llx_st_release_pages(const llx_st *st)
{
    if (st->map.data) llx_release_pages(st->map.data, st->map.size);
    for (int i = 0; i < st->n_shards; i++) llx_release_pages(st->shard_maps[i].data, st->shard_maps[i].size);
}

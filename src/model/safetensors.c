/* model/safetensors.c - see safetensors.h.  Parsing only: no conversion of
 * tensor data and no knowledge of which tensors a model needs. */
#include "model/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

static const struct {
    const char *name;
    int size;
} dtypes[LLX_ST_DTYPE_COUNT] = {
    [LLX_ST_BOOL] = {"BOOL", 1},       [LLX_ST_U8] = {"U8", 1},     [LLX_ST_I8] = {"I8", 1},
    [LLX_ST_I16] = {"I16", 2},         [LLX_ST_U16] = {"U16", 2},   [LLX_ST_F16] = {"F16", 2},
    [LLX_ST_BF16] = {"BF16", 2},       [LLX_ST_I32] = {"I32", 4},   [LLX_ST_U32] = {"U32", 4},
    [LLX_ST_F32] = {"F32", 4},         [LLX_ST_F64] = {"F64", 8},   [LLX_ST_I64] = {"I64", 8},
    [LLX_ST_U64] = {"U64", 8},         [LLX_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LLX_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *llx_st_dtype_name(llx_st_dtype d)
{
    return (unsigned)d < LLX_ST_DTYPE_COUNT ? dtypes[d].name : "?";
}

int llx_st_dtype_size(llx_st_dtype d) { return (unsigned)d < LLX_ST_DTYPE_COUNT ? dtypes[d].size : 0; }

void llx_st_printable(char *dst, size_t cap, const char *name)
{
    size_t n = 0, limit = cap > 4 ? cap - 4 : 0;
    const char *p = name;
    for (; *p && n < limit; p++) {
        unsigned char c = (unsigned char)*p;
        dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (*p && cap >= 4) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    if (cap) dst[n < cap ? n : cap - 1] = 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A non-negative JSON integer. */
static int get_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static llx_status parse_metadata(const llx_st *st, json_t *meta)
{
    if (!json_is_object(meta)) return llx_fail(LLX_ERR_FORMAT, "%s: '__metadata__' must be an object", st->what);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (!json_is_string(v)) {
            char nm[96];
            llx_st_printable(nm, sizeof nm, k);
            return llx_fail(LLX_ERR_FORMAT, "%s: '__metadata__' entry '%s' must be a string", st->what, nm);
        }
    }
    return LLX_OK;
}

static llx_status parse_shape(const llx_st *st, const char *nm, json_t *shape, llx_st_tensor *t)
{
    if (!json_is_array(shape)) return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': shape must be a list", st->what, nm);
    size_t nd = json_array_size(shape);
    if (nd > LLX_ST_MAX_DIMS)
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': shape has %zu dimensions (limit %d)", st->what, nm, nd,
                        LLX_ST_MAX_DIMS);
    t->ndim = (int)nd;
    t->numel = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (!get_u64(json_array_get(shape, i), &d))
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': shape entries must be non-negative integers",
                            st->what, nm);
        t->shape[i] = d;
        if (d && t->numel > UINT64_MAX / d)
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': shape element count overflows", st->what, nm);
        t->numel *= d;
    }
    return LLX_OK;
}

static llx_status parse_offsets(const llx_st *st, const char *nm, json_t *offs, llx_st_tensor *t)
{
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !get_u64(json_array_get(offs, 0), &t->begin) ||
        !get_u64(json_array_get(offs, 1), &t->end))
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] (non-negative integers)",
                        st->what, nm);
    if (t->begin > t->end)
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", st->what,
                        nm, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > st->data_size)
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section"
                        " (%llu bytes)", st->what, nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)st->data_size);
    uint64_t esz = (uint64_t)dtypes[t->dtype].size;
    if (t->numel > UINT64_MAX / esz)
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': byte size overflows", st->what, nm);
    if (t->end - t->begin != t->numel * esz)
        return llx_fail(LLX_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape and %s need %llu",
                        st->what, nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)(t->end - t->begin), dtypes[t->dtype].name,
                        (unsigned long long)(t->numel * esz));
    t->data = st->data + t->begin;
    return LLX_OK;
}

static llx_status parse_tensor(const llx_st *st, const char *name, json_t *v, llx_st_tensor *t)
{
    char nm[96];
    llx_st_printable(nm, sizeof nm, name);
    if (!json_is_object(v)) return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': entry must be an object", st->what, nm);
    const char *k;
    json_t *f;
    json_object_foreach(v, k, f)
    {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char kn[64];
            llx_st_printable(kn, sizeof kn, k);
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': unexpected field '%s'", st->what, nm, kn);
        }
    }
    static const char *const need[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, need[i]))
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", st->what, nm, need[i]);
    const char *dt = json_string_value(json_object_get(v, "dtype"));
    if (!dt) return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': dtype must be a string", st->what, nm);
    int d = 0;
    while (d < LLX_ST_DTYPE_COUNT && strcmp(dtypes[d].name, dt) != 0) d++;
    if (d == LLX_ST_DTYPE_COUNT) {
        char dn[32];
        llx_st_printable(dn, sizeof dn, dt);
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", st->what, nm, dn);
    }
    t->dtype = (llx_st_dtype)d;
    LLX_TRY(parse_shape(st, nm, json_object_get(v, "shape"), t));
    LLX_TRY(parse_offsets(st, nm, json_object_get(v, "data_offsets"), t));
    t->name = strdup(name);
    if (!t->name) return llx_fail(LLX_ERR_NOMEM, "out of memory reading %s", st->what);
    return LLX_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const llx_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const llx_st_tensor *)a)->name, ((const llx_st_tensor *)b)->name);
}

/* Sorted by begin, a non-empty tensor must start at or after the furthest end
 * seen so far. */
static llx_status check_overlaps(const llx_st *st)
{
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_begin);
    int far = -1;
    for (int i = 0; i < st->n; i++) {
        const llx_st_tensor *t = &st->t[i];
        if (t->begin == t->end) continue;
        if (far >= 0 && t->begin < st->t[far].end) {
            char a[96], b[96];
            llx_st_printable(a, sizeof a, t->name);
            llx_st_printable(b, sizeof b, st->t[far].name);
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'", st->what,
                            a, (unsigned long long)t->begin, (unsigned long long)t->end, b);
        }
        if (far < 0 || t->end > st->t[far].end) far = i;
    }
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
    return LLX_OK;
}

static llx_status parse_header(llx_st *st, json_t *root)
{
    if (!json_is_object(root)) return llx_fail(LLX_ERR_FORMAT, "%s: header must be a JSON object", st->what);
    size_t n = json_object_size(root);
    st->t = calloc(n ? n : 1, sizeof *st->t);
    if (!st->t) return llx_fail(LLX_ERR_NOMEM, "out of memory reading %s", st->what);
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "__metadata__") == 0) {
            LLX_TRY(parse_metadata(st, v));
            continue;
        }
        LLX_TRY(parse_tensor(st, k, v, &st->t[st->n]));
        st->n++;
    }
    return check_overlaps(st);
}

llx_status llx_st_parse(llx_st *st, const uint8_t *buf, size_t size, const char *what)
{
    memset(st, 0, sizeof *st);
    st->what = strdup(what ? what : "safetensors");
    if (!st->what) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status s = LLX_OK;
    if (size < 8) {
        s = llx_fail(LLX_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", st->what, size);
        goto out;
    }
    uint64_t hlen = le64(buf);
    if (hlen > size - 8) {
        s = llx_fail(LLX_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", st->what,
                     (unsigned long long)hlen, size);
        goto out;
    }
    if (hlen > LLX_ST_MAX_HEADER) {
        s = llx_fail(LLX_ERR_FORMAT, "%s: header length %llu exceeds the limit of %u bytes", st->what,
                     (unsigned long long)hlen, LLX_ST_MAX_HEADER);
        goto out;
    }
    st->data = buf + 8 + hlen;
    st->data_size = size - 8 - hlen;
    json_error_t err;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        char txt[128];
        llx_st_printable(txt, sizeof txt, err.text);
        s = llx_fail(LLX_ERR_FORMAT, "%s: header is not valid JSON (byte %d: %s)", st->what, err.position, txt);
        goto out;
    }
    s = parse_header(st, root);
    json_decref(root);
out:
    if (s != LLX_OK) llx_st_close(st);
    return s;
}

llx_status llx_st_open(llx_st *st, const char *path)
{
    memset(st, 0, sizeof *st);
    llx_map map;
    LLX_TRY(llx_map_file(path, &map));
    llx_status s = llx_st_parse(st, map.data, map.size, path);
    if (s != LLX_OK) {
        llx_unmap(&map);
        return s;
    }
    st->map = map;
    return LLX_OK;
}

void llx_st_close(llx_st *st)
{
    if (st->t)
        for (int i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    free(st->what);
    llx_unmap(&st->map);
    for (int i = 0; i < st->n_shards; i++) llx_unmap(&st->shard_maps[i]);
    free(st->shard_maps);
    memset(st, 0, sizeof *st);
}

const llx_st_tensor *llx_st_find(const llx_st *st, const char *name)
{
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->t[mid].name);
        if (c == 0) return &st->t[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

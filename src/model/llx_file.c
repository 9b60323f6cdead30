/* model/llx_file.c - reading and writing .llx files (see llx_file.h and
 * docs/formats.md).  Little-endian hosts only; checked at open. */
#include "model/llx_file.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/schedule.h"
#include "model/wscan.h"
#include "util/file.h"
#include "util/mem.h"
#include "util/status.h"

#define ALIGN 64
#define MAX_TENSORS 100000

typedef struct file_header {
    char magic[8];
    uint32_t version;
    uint32_t n_tensors;
    uint64_t file_bytes;
    uint64_t data_offset;
    uint64_t header_hash; /* over header (this field zero) and table */
    int32_t n_vocab, n_ctx, n_embd, n_layer, n_head, n_inner;
    float ln_eps;
    int32_t act_mode;
    float alpha;
    int32_t calib_tokens;
    int32_t smooth_v;
    /* version 3 (read from 2): the Llama fields, zero in a GPT-2 file */
    int32_t arch, n_kv_head, head_dim, untied;
    float rope_theta;
    int32_t rope_llama3;
    float rope_factor, rope_low_freq, rope_high_freq;
    int32_t rope_orig_ctx;
    int32_t smooth_down;
} file_header;

typedef struct table_entry {
    char name[LLX_NAME_MAX];
    uint32_t dtype;
    uint32_t pad;
    int64_t rows, cols;
    uint64_t offset, bytes, hash;
} table_entry;

/* version 3: the scheme, right after the header (docs/formats.md) */
typedef struct scheme_record {
    int32_t scheme, group, scales_f16, gptq;
    float gptq_damp;
    int32_t gptq_act_order, rotate, rotate_seed, kv_int8, kv_per_head, lm_bits, had_down, lm_bias;
    float act_clip;       /* 0 in files written before it existed: no clipping */
    uint64_t rotate_hash; /* 0 in files written before it existed: Hadamard rotations */
    uint8_t reserved[128 - 64];
} scheme_record;

_Static_assert(sizeof(file_header) == 128, "file header must be 128 bytes");
_Static_assert(sizeof(scheme_record) == 128, "scheme record must be 128 bytes");
_Static_assert(sizeof(table_entry) == 104, "table entry must be 104 bytes");

struct llx_llx {
    llx_map map;
    int mapped; /* map is ours (llx_map_file); else a caller's buffer */
    char *path;
    llx_config cfg;
    llx_qinfo q;
    const table_entry *table;
    uint32_t n;
};

static uint64_t header_bytes(uint32_t version)
{
    return sizeof(file_header) + (version >= 3 ? sizeof(scheme_record) : 0);
}

llx_scheme_info llx_scheme_w8a8_v1(void)
{
    return (llx_scheme_info){.scheme = LLX_SCHEME_W8A8, .kv_int8 = 1, .lm_bits = 8};
}

static llx_scheme_info scheme_of(const scheme_record *r)
{
    return (llx_scheme_info){(llx_scheme)r->scheme, r->group, r->scales_f16, r->gptq, r->gptq_damp,
                             r->gptq_act_order, r->rotate, r->rotate_seed, r->kv_int8, r->kv_per_head,
                             r->lm_bits, r->had_down, r->lm_bias, r->act_clip, r->rotate_hash};
}

static scheme_record record_of(const llx_scheme_info *s)
{
    scheme_record r;
    memset(&r, 0, sizeof r);
    r.scheme = s->scheme, r.group = s->group, r.scales_f16 = s->scales_f16, r.gptq = s->gptq;
    r.gptq_damp = s->gptq_damp, r.gptq_act_order = s->gptq_act_order, r.rotate = s->rotate;
    r.rotate_seed = s->rotate_seed, r.kv_int8 = s->kv_int8, r.kv_per_head = s->kv_per_head;
    r.lm_bits = s->lm_bits, r.had_down = s->had_down, r.lm_bias = s->lm_bias, r.act_clip = s->act_clip;
    r.rotate_hash = s->rotate_hash;
    return r;
}

static int flag(int v) { return v == 0 || v == 1; }

const char *llx_scheme_check(const llx_scheme_info *s)
{
    const int w4 = s->scheme == LLX_SCHEME_W4A8 || s->scheme == LLX_SCHEME_W4A4;
    if (s->scheme < LLX_SCHEME_W8A8 || s->scheme > LLX_SCHEME_F32) return "unknown scheme";
    if (s->group != 0 && s->group != 32 && s->group != 64 && s->group != 128) return "group is not 0, 32, 64 or 128";
    if (s->group && !w4) return "weight groups need int4 weights";
    if (!flag(s->scales_f16) || !flag(s->gptq) || !flag(s->gptq_act_order) || !flag(s->rotate) ||
        !flag(s->kv_int8) || !flag(s->kv_per_head) || !flag(s->had_down) || !flag(s->lm_bias))
        return "a flag is not 0 or 1";
    if (!(s->gptq_damp >= 0.0f && s->gptq_damp <= 1.0f)) return "GPTQ damping outside [0, 1]";
    if (s->scheme == LLX_SCHEME_F32 ? s->lm_bits != 32 : s->lm_bits != 8 && s->lm_bits != 4)
        return "LM head bits are not 8 or 4 (32 for f32)";
    if (s->lm_bits == 4 && !w4) return "an int4 LM head needs an int4 scheme";
    if (s->kv_per_head && !s->kv_int8) return "per-head KV scales without an int8 KV cache";
    if (!(s->act_clip == 0.0f || (s->act_clip >= LLX_ACT_CLIP_MIN && s->act_clip <= 1.0f)))
        return "activation clip ratio is not 0 or in [0.5, 1]";
    if (s->act_clip != 0.0f && s->scheme != LLX_SCHEME_W4A4) return "activation clipping without int4 activations";
    if (s->rotate_hash && !s->rotate) return "a rotation file's hash without rotations";
    /* rotate (folded norms, R1, R2) always comes with the online R4; R4 alone
     * (had_down without rotate) is --rotate r4 */
    if (s->rotate && !s->had_down) return "rotations without the online transform before the down projection";
    if (s->rotate_seed && !s->had_down) return "a rotation seed without rotations";
    return NULL;
}

uint64_t llx_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    static const uint64_t sd[4] = {LLX_HASH_SEEDS};
    uint64_t l[4] = {seed ^ sd[0], seed ^ sd[1], seed ^ sd[2], seed ^ sd[3]};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        for (int j = 0; j < 4; j++) l[j] = llx_hash_mix(l[j], w[j]);
    }
    uint64_t h = llx_hash_mix(llx_hash_mix(llx_hash_mix(llx_hash_mix((uint64_t)n, l[0]), l[1]), l[2]), l[3]);
    for (; i < n; i++) h = llx_hash_mix(h, p[i] | 0x100u);
    return h ^ (h >> 29);
}

/* bits per element; 0 for an unknown dtype */
static unsigned dtype_bits(uint32_t dt)
{
    switch (dt) {
    case LLX_DT_F32: return 32;
    case LLX_DT_I8:
    case LLX_DT_U8: return 8;
    case LLX_DT_Q4: return 4;
    case LLX_DT_F16: return 16;
    default: return 0;
    }
}

/* The first NaN/Inf of a float tensor, as "NaN at element 12". */
static void describe_nonfinite(const uint8_t *p, uint64_t bytes, int f16, char *buf, size_t cap)
{
    int nan = 0;
    const int64_t at = llx_wscan_first_bad(p, (size_t)(bytes / (f16 ? 2 : 4)), f16 ? 2 : 4, 0, &nan);
    if (at >= 0) snprintf(buf, cap, "%s at element %lld", nan ? "NaN" : "Inf", (long long)at);
    else snprintf(buf, cap, "a non-finite value");
}


static const char *dtype_name(uint32_t dt)
{
    static const char *const n[] = {"?", "i8", "f32", "u8", "q4", "f16"};
    return dt < sizeof n / sizeof *n ? n[dt] : "?";
}

/* By offset; at equal offsets empty tensors first (the writer puts the
 * tensor after an empty one at the same offset), so the order is total
 * where it matters whatever qsort does with ties. */
static int cmp_offset(const void *a, const void *b)
{
    const table_entry *x = *(const table_entry *const *)a, *y = *(const table_entry *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

static int cmp_name(const void *a, const void *b)
{
    const table_entry *x = *(const table_entry *const *)a, *y = *(const table_entry *const *)b;
    return strncmp(x->name, y->name, LLX_NAME_MAX);
}

/* Bytes a tensor of this dtype and shape holds; 0 with *ok = 0 when the
 * shape is negative or the size overflows. */
static uint64_t shape_bytes(uint32_t dt, int64_t rows, int64_t cols, int *ok)
{
    uint64_t n = 0;
    const unsigned bits = dtype_bits(dt);
    *ok = rows >= 0 && cols >= 0 && bits && (bits >= 8 || (cols ? cols : 1) % 2 == 0) &&
          !__builtin_mul_overflow((uint64_t)rows, (uint64_t)(cols ? cols : 1), &n) &&
          !__builtin_mul_overflow(n, (uint64_t)bits, &n);
    return *ok ? n / 8 : 0;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Table entries one by one, then across entries: distinct names, no
 * overlap, zero padding between them (so every byte of the file is covered
 * by a checksum or must be zero), and finally the data checksums. */
static llx_status check_entries(llx_llx *f, const file_header *h, uint64_t table_end)
{
    const char *p = f->path;
    const table_entry **sorted = malloc((size_t)f->n * sizeof *sorted + 1);
    if (!sorted) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = LLX_OK;
    for (uint32_t i = 0; i < f->n && st == LLX_OK; i++) {
        const table_entry *e = &f->table[i];
        int ok;
        sorted[i] = e;
        if (!memchr(e->name, 0, sizeof e->name) || !e->name[0])
            st = llx_fail(LLX_ERR_FORMAT, "%s: tensor %u has no name", p, i);
        else if (!dtype_bits(e->dtype))
            st = llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' has unknown dtype %u", p, e->name, e->dtype);
        else if (shape_bytes(e->dtype, e->rows, e->cols, &ok) != e->bytes || !ok)
            st = llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' size does not match its shape", p, e->name);
        else if (e->offset < h->data_offset || e->offset % ALIGN || e->offset > f->map.size ||
                 e->bytes > f->map.size - e->offset)
            st = llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' lies outside the data section", p, e->name);
    }
    if (st == LLX_OK) {
        qsort(sorted, f->n, sizeof *sorted, cmp_name);
        for (uint32_t i = 1; i < f->n && st == LLX_OK; i++)
            if (cmp_name(&sorted[i - 1], &sorted[i]) == 0)
                st = llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' appears twice", p, sorted[i]->name);
    }
    if (st == LLX_OK) {
        qsort(sorted, f->n, sizeof *sorted, cmp_offset);
        uint64_t pos = table_end;
        for (uint32_t i = 0; i < f->n && st == LLX_OK; i++) {
            const table_entry *e = sorted[i];
            if (e->offset < pos) /* i > 0: every offset is past the table */
                st = llx_fail(LLX_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", p, i ? sorted[i - 1]->name : "",
                              e->name);
            else if (!all_zero(f->map.data + pos, e->offset - pos))
                st = llx_fail(LLX_ERR_FORMAT, "%s: non-zero padding before tensor '%s' (file corrupted)", p, e->name);
            pos = e->offset + e->bytes;
        }
        if (st == LLX_OK && !all_zero(f->map.data + pos, f->map.size - pos))
            st = llx_fail(LLX_ERR_FORMAT, "%s: non-zero padding at the end (file corrupted)", p);
    }
    for (uint32_t i = 0; i < f->n && st == LLX_OK; i++) {
        const table_entry *e = &f->table[i];
        const uint8_t *d = f->map.data + e->offset;
        int bad = 0;
        const int is_float = e->dtype == LLX_DT_F32 || e->dtype == LLX_DT_F16, f16 = e->dtype == LLX_DT_F16;
        const uint64_t hash = is_float ? llx_wscan_get()->hash_float(d, e->bytes, i, f16, &bad) : llx_hash64(d, e->bytes, i);
        char what[64];
        if (hash != e->hash) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: checksum mismatch in tensor '%s' (file corrupted)", p, e->name);
        } else if (bad) {
            describe_nonfinite(d, e->bytes, f16, what, sizeof what);
            st = llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' holds %s; a model with NaN or Inf weights cannot be used",
                          p, e->name, what);
        }
    }
    free(sorted);
    return st;
}

static llx_status parse(llx_llx *f)
{
    const char *p = f->path;
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: .llx needs a little-endian host", p);
    if (f->map.size < sizeof(file_header)) return llx_fail(LLX_ERR_FORMAT, "%s: too short for a .llx file", p);
    file_header h;
    memcpy(&h, f->map.data, sizeof h);
    if (memcmp(h.magic, LLX_FILE_MAGIC, 8) != 0) return llx_fail(LLX_ERR_FORMAT, "%s: not a .llx file (bad magic)", p);
    if (h.version > LLX_FILE_VERSION)
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: file format version %u is newer than this looplynx reads (%d)", p,
                        h.version, LLX_FILE_VERSION);
    if (h.version == 0) return llx_fail(LLX_ERR_FORMAT, "%s: bad format version 0", p);
    if (h.file_bytes != f->map.size)
        return llx_fail(LLX_ERR_FORMAT, "%s: truncated or padded: header says %llu bytes, file has %zu", p,
                        (unsigned long long)h.file_bytes, f->map.size);
    if (h.n_tensors > MAX_TENSORS) return llx_fail(LLX_ERR_FORMAT, "%s: implausible tensor count %u", p, h.n_tensors);
    const uint64_t hb = header_bytes(h.version);
    const uint64_t table_end = hb + (uint64_t)h.n_tensors * sizeof(table_entry);
    if (table_end > f->map.size || h.data_offset < table_end || h.data_offset > f->map.size)
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor table does not fit the file", p);
    file_header hz = h;
    hz.header_hash = 0;
    uint64_t hh = llx_hash64(&hz, sizeof hz, 0);
    hh = llx_hash64(f->map.data + sizeof h, (size_t)(table_end - sizeof h), hh);
    if (hh != h.header_hash) return llx_fail(LLX_ERR_FORMAT, "%s: header checksum mismatch (file corrupted)", p);
    f->table = (const table_entry *)(const void *)(f->map.data + hb);
    f->n = h.n_tensors;
    f->cfg = (llx_config){.n_vocab = h.n_vocab, .n_ctx = h.n_ctx, .n_embd = h.n_embd, .n_layer = h.n_layer,
                          .n_head = h.n_head, .n_inner = h.n_inner, .ln_eps = h.ln_eps};
    f->q = (llx_qinfo){.act_mode = h.act_mode, .alpha = h.alpha, .calib_tokens = h.calib_tokens, .smooth_v = h.smooth_v};
    if (h.version >= 2) { /* the Llama fields (zero in a GPT-2 file) */
        llx_config *c = &f->cfg;
        c->arch = (llx_arch)h.arch, c->n_kv_head = h.n_kv_head, c->head_dim = h.head_dim, c->untied = h.untied;
        c->rope_theta = h.rope_theta, c->rope_llama3 = h.rope_llama3, c->rope_factor = h.rope_factor;
        c->rope_low_freq = h.rope_low_freq, c->rope_high_freq = h.rope_high_freq, c->rope_orig_ctx = h.rope_orig_ctx;
        f->q.smooth_down = h.smooth_down;
    }
    if (llx_config_check(&f->cfg) != LLX_OK) {
        llx_errmsg_prefix(p);
        return LLX_ERR_FORMAT;
    }
    if (h.act_mode != LLX_ACT_STATIC && h.act_mode != LLX_ACT_DYNAMIC)
        return llx_fail(LLX_ERR_FORMAT, "%s: unknown activation mode %d", p, h.act_mode);
    f->q.s = llx_scheme_w8a8_v1();
    if (h.version >= 3) {
        scheme_record r;
        memcpy(&r, f->map.data + sizeof h, sizeof r);
        if (!all_zero(r.reserved, sizeof r.reserved))
            return llx_fail(LLX_ERR_FORMAT, "%s: non-zero reserved bytes in the scheme record", p);
        f->q.s = scheme_of(&r);
        const char *why = llx_scheme_check(&f->q.s);
        if (why) return llx_fail(LLX_ERR_FORMAT, "%s: bad quantization scheme: %s", p, why);
    }
    return check_entries(f, &h, table_end);
}

/* Both entry points: `map` is either a file mapping (mapped = 1) or a
 * caller's buffer; everything after that is the same code. */
static llx_status open_common(llx_llx **out, const char *path, const llx_map *buf)
{
    *out = NULL;
    llx_llx *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    llx_status st = LLX_OK;
    if (buf) f->map = *buf;
    else if ((st = llx_map_file(path, &f->map)) == LLX_OK) f->mapped = 1;
    if (st == LLX_OK) st = parse(f);
    if (st != LLX_OK) {
        llx_llx_close(f);
        return st;
    }
    *out = f;
    return LLX_OK;
}

llx_status llx_llx_open(llx_llx **out, const char *path) { return open_common(out, path, NULL); }

llx_status llx_llx_open_mem(llx_llx **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    if (!data && size) return llx_fail(LLX_ERR_ARG, "%s: no buffer", name);
    if ((uintptr_t)data % 8 != 0) return llx_fail(LLX_ERR_ARG, "%s: buffer is not 8-byte aligned", name);
    const llx_map m = {data, size};
    return open_common(out, name, &m);
}

void llx_llx_close(llx_llx *f)
{
    if (!f) return;
    if (f->mapped) llx_unmap(&f->map);
    free(f->path);
    free(f);
}

const llx_config *llx_llx_config(const llx_llx *f) { return &f->cfg; }
const llx_qinfo *llx_llx_qinfo(const llx_llx *f) { return &f->q; }
uint64_t llx_llx_file_bytes(const llx_llx *f) { return f->map.size; }

void llx_llx_release_pages(const llx_llx *f)
{
    if (f->mapped) llx_release_pages(f->map.data, f->map.size); /* never a caller's buffer: it would be zeroed */
}

static const table_entry *find(const llx_llx *f, const char *name)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (strncmp(f->table[i].name, name, LLX_NAME_MAX) == 0) return &f->table[i];
    return NULL;
}

const void *llx_llx_tensor(const llx_llx *f, const char *name, llx_dtype dt, long long rows, long long cols)
{
    const table_entry *e = find(f, name);
    if (!e) return llx_fail(LLX_ERR_FORMAT, "%s: missing tensor '%s'", f->path, name), NULL;
    if (e->dtype != (uint32_t)dt || e->rows != rows || e->cols != cols) {
        llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' is %s [%lld, %lld], expected %s [%lld, %lld]", f->path, name,
                 dtype_name(e->dtype), (long long)e->rows, (long long)e->cols, dtype_name(dt), rows, cols);
        return NULL;
    }
    return f->map.data + e->offset;
}

int llx_llx_count(const llx_llx *f) { return (int)f->n; }

llx_status llx_llx_entry(const llx_llx *f, int i, llx_llx_desc *d)
{
    memset(d, 0, sizeof *d);
    if (i < 0 || (uint32_t)i >= f->n) return llx_fail(LLX_ERR_ARG, "%s: no tensor %d", f->path, i);
    const table_entry *e = &f->table[i];
    d->name = e->name;
    d->dtype = (llx_dtype)e->dtype;
    d->rows = e->rows;
    d->cols = e->cols;
    d->bytes = e->bytes;
    d->data = f->map.data + e->offset;
    return LLX_OK;
}

static llx_status need(const llx_llx *f, const char *name, llx_dtype dt, long long rows, long long cols)
{
    return llx_llx_tensor(f, name, dt, rows, cols) ? LLX_OK : LLX_ERR_FORMAT;
}

/* n scales (fp32 or fp16) that must be finite and >= 0 (0: an all-zero group) */
static llx_status check_scales(const llx_llx *f, const char *name, const void *p, int f16, long long n)
{
    for (long long i = 0; i < n; i++) {
        int bad;
        if (f16) { /* infinity, NaN or a negative non-zero */
            uint16_t h;
            memcpy(&h, (const uint8_t *)p + 2 * i, 2);
            bad = (h & 0x7c00u) == 0x7c00u || ((h & 0x8000u) && (h & 0x7fffu));
        } else {
            float v;
            memcpy(&v, (const uint8_t *)p + 4 * i, 4);
            bad = !(v >= 0.0f) || v > 1e30f;
        }
        if (bad)
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': scale %lld is negative or not finite", f->path, name, i);
    }
    return LLX_OK;
}

/* A matrix "<pre>.w" of `bits` (8, 4 or 32) and its scales "<pre>.s". */
static llx_status check_weights(const llx_llx *f, const char *pre, long long rows, long long cols, int bits)
{
    const llx_scheme_info *s = &f->q.s;
    char w[64], sc[64];
    snprintf(w, sizeof w, "%s.w", pre);
    snprintf(sc, sizeof sc, "%s.s", pre);
    if (bits == 32) return need(f, w, LLX_DT_F32, rows, cols);
    if (bits == 8) {
        LLX_TRY(need(f, w, LLX_DT_I8, rows, cols));
        return need(f, sc, LLX_DT_F32, rows, 0);
    }
    const int g = s->group ? s->group : (int)cols;
    if (cols % 8 || cols % g)
        return llx_fail(LLX_ERR_FORMAT, "%s: int4 matrix '%s' has %lld columns, not a multiple of 8 and of the group %d",
                        f->path, w, cols, g);
    LLX_TRY(need(f, w, LLX_DT_Q4, rows, cols));
    const llx_dtype dt = s->scales_f16 ? LLX_DT_F16 : LLX_DT_F32;
    const void *p = llx_llx_tensor(f, sc, dt, rows, s->group ? cols / g : 0);
    if (!p) return LLX_ERR_FORMAT;
    return check_scales(f, sc, p, s->scales_f16, rows * (cols / g));
}

static int layer_bits(const llx_scheme_info *s)
{
    return s->scheme == LLX_SCHEME_W8A8 ? 8 : s->scheme == LLX_SCHEME_F32 ? 32 : 4;
}

/* a vector of n static scales whose first `used` are positive and finite */
static llx_status check_positive(const llx_llx *f, const char *name, long long n, long long used)
{
    const float *sc = llx_llx_tensor(f, name, LLX_DT_F32, n, 0);
    if (!sc) return LLX_ERR_FORMAT;
    for (long long i = 0; i < used; i++)
        if (!(sc[i] > 0.0f) || sc[i] > 1e30f)
            return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s': activation scale %lld is not positive and finite",
                            f->path, name, i);
    return LLX_OK;
}

/* A layer's matrices (GPT-2: with biases), norms (Llama: RMSNorm weights
 * only) and static activation scales. */
static llx_status check_layer(const llx_llx *f, int l)
{
    static const char *const ln[4] = {"ln1.g", "ln2.g", "ln1.b", "ln2.b"};
    const llx_config *c = &f->cfg;
    const int gpt2 = c->arch == LLX_ARCH_GPT2;
    const llx_scheme_info *s = &f->q.s;
    char name[64];
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        if (!rows) continue;
        snprintf(name, sizeof name, "h.%d.%s", l, llx_matrix_name((llx_matrix)m));
        LLX_TRY(check_weights(f, name, rows, cols, layer_bits(s)));
        snprintf(name, sizeof name, "h.%d.%s.b", l, llx_matrix_name((llx_matrix)m));
        if (gpt2) LLX_TRY(need(f, name, LLX_DT_F32, rows, 0));
    }
    for (int i = 0; i < (gpt2 ? 4 : 2); i++) {
        snprintf(name, sizeof name, "h.%d.%s", l, ln[i]);
        LLX_TRY(need(f, name, LLX_DT_F32, c->n_embd, 0));
    }
    if (s->scheme == LLX_SCHEME_F32 && !s->kv_int8) return LLX_OK; /* nothing is quantized */
    snprintf(name, sizeof name, "h.%d.act", l);
    LLX_TRY(check_positive(f, name, LLX_SC_COUNT, LLX_SC_COUNT - 1));
    if (!s->kv_per_head) return LLX_OK;
    snprintf(name, sizeof name, "h.%d.kv", l);
    const int n = c->n_head + 2 * llx_config_kv_heads(c);
    return check_positive(f, name, n, n);
}

static llx_status check_u8(const llx_llx *f, const char *name, int required)
{
    const table_entry *e = find(f, name);
    if (!e) return required ? llx_fail(LLX_ERR_FORMAT, "%s: missing embedded tokenizer file '%s'", f->path, name) : LLX_OK;
    if (e->dtype != LLX_DT_U8 || e->cols)
        return llx_fail(LLX_ERR_FORMAT, "%s: embedded tokenizer files must be u8 vectors", f->path);
    return LLX_OK;
}

/* Every tensor the quantized engine reads, with the dtype and shape the
 * header's config and scheme imply; sane scales; the tokenizer. */
llx_status llx_llx_check_model(const llx_llx *f)
{
    const llx_config *c = &f->cfg;
    const llx_scheme_info *s = &f->q.s;
    const int gpt2 = c->arch == LLX_ARCH_GPT2;
    for (int l = 0; l < c->n_layer; l++) LLX_TRY(check_layer(f, l));
    LLX_TRY(need(f, "wte", LLX_DT_F32, c->n_vocab, c->n_embd));
    if (gpt2) LLX_TRY(need(f, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd));
    LLX_TRY(need(f, "ln_f.g", LLX_DT_F32, c->n_embd, 0));
    if (gpt2) LLX_TRY(need(f, "ln_f.b", LLX_DT_F32, c->n_embd, 0));
    LLX_TRY(check_weights(f, "lm_head", c->n_vocab, c->n_embd, s->lm_bits));
    if (c->untied) LLX_TRY(need(f, "lm_head.f", LLX_DT_F32, c->n_vocab, c->n_embd));
    if (s->lm_bias) LLX_TRY(need(f, "lm_head.b", LLX_DT_F32, c->n_vocab, 0));
    if (s->rotate && gpt2 && !s->lm_bias) /* folding ln_f gives GPT-2's LM head a bias */
        return llx_fail(LLX_ERR_FORMAT, "%s: a rotated GPT-2 file without the LM-head bias", f->path);
    const float *gf = s->rotate ? llx_llx_tensor(f, "ln_f.g", LLX_DT_F32, c->n_embd, 0) : NULL;
    for (int i = 0; gf && i < c->n_embd; i++) /* R1 needs the norms folded: weights 1 (not --rotate r4's) */
        if (gf[i] != 1.0f)
            return llx_fail(LLX_ERR_FORMAT, "%s: rotated, but the final norm's weight is not folded (ln_f.g[%d] = %g)",
                            f->path, i, (double)gf[i]);
    if (s->had_down) {
        const int8_t *d = llx_llx_tensor(f, "down.signs", LLX_DT_I8, c->n_inner, 0);
        if (!d) return LLX_ERR_FORMAT;
        for (int i = 0; i < c->n_inner; i++)
            if (d[i] != 1 && d[i] != -1)
                return llx_fail(LLX_ERR_FORMAT, "%s: tensor 'down.signs': entry %d is not +1 or -1", f->path, i);
    }
    if (!gpt2) {
        LLX_TRY(check_u8(f, "tokenizer.json", 1));
        LLX_TRY(check_u8(f, "tokenizer.config", 0));
        LLX_TRY(check_u8(f, "tokenizer.model_config", 0));
        return check_u8(f, "tokenizer.generation", 0);
    }
    const table_entry *v = find(f, "tokenizer.vocab"), *m = find(f, "tokenizer.merges");
    if (!v || !m) return llx_fail(LLX_ERR_FORMAT, "%s: missing embedded tokenizer", f->path);
    if (v->dtype != LLX_DT_U8 || m->dtype != LLX_DT_U8 || v->cols || m->cols)
        return llx_fail(LLX_ERR_FORMAT, "%s: embedded tokenizer files must be u8 vectors", f->path);
    return LLX_OK;
}

/* An embedded u8 file's bytes and length (NULL, 0 when absent). */
static const char *embedded(const llx_llx *f, const char *name, size_t *len)
{
    const table_entry *e = find(f, name);
    *len = e && e->dtype == LLX_DT_U8 ? (size_t)e->bytes : 0;
    return e && e->dtype == LLX_DT_U8 ? (const char *)f->map.data + e->offset : NULL;
}

/* Llama: tokenizer.json with tokenizer_config.json, generation_config.json
 * and config.json (for its eos_token_id) as the quantizer embedded them. */
static llx_status hf_tokenizer(const llx_llx *f, llx_tokenizer **out)
{
    llx_tokenizer_files tf = {0};
    tf.json = embedded(f, "tokenizer.json", &tf.json_len);
    tf.config = embedded(f, "tokenizer.config", &tf.config_len);
    tf.generation = embedded(f, "tokenizer.generation", &tf.generation_len);
    tf.model_config = embedded(f, "tokenizer.model_config", &tf.model_config_len);
    if (!tf.json) return llx_fail(LLX_ERR_FORMAT, "%s: missing embedded tokenizer file 'tokenizer.json'", f->path);
    llx_status st = llx_tokenizer_load_hf_mem(out, &tf);
    if (st != LLX_OK) llx_errmsg_prefix(f->path);
    return st;
}

llx_status llx_llx_tokenizer(const llx_llx *f, llx_tokenizer **out)
{
    *out = NULL;
    if (f->cfg.arch != LLX_ARCH_GPT2) return hf_tokenizer(f, out);
    const table_entry *v = find(f, "tokenizer.vocab"), *m = find(f, "tokenizer.merges");
    if (!v || !m || v->dtype != LLX_DT_U8 || m->dtype != LLX_DT_U8)
        return llx_fail(LLX_ERR_FORMAT, "%s: missing embedded tokenizer", f->path);
    llx_status st = llx_tokenizer_load_mem(out, (const char *)f->map.data + v->offset, v->bytes,
                                           (const char *)f->map.data + m->offset, m->bytes);
    if (st != LLX_OK) llx_errmsg_prefix(f->path);
    return st;
}

/* the header checksum of an image whose first n table entries are in it */
static void rehash_header(void *data, file_header *h, uint64_t hb, uint64_t n)
{
    h->header_hash = 0;
    const uint64_t hh = llx_hash64(h, sizeof *h, 0);
    h->header_hash = llx_hash64((uint8_t *)data + sizeof *h, (size_t)(hb - sizeof *h + n * sizeof(table_entry)), hh);
    memcpy(data, h, sizeof *h);
}

void llx_llx_fix_checksums(void *data, size_t size)
{
    file_header h;
    if (size < sizeof h) return;
    memcpy(&h, data, sizeof h);
    uint8_t *base = data;
    const uint64_t hb = header_bytes(h.version);
    if (size < hb) return;
    const uint64_t fit = (size - hb) / sizeof(table_entry);
    const uint64_t n = h.n_tensors < fit ? h.n_tensors : fit;
    for (uint64_t i = 0; i < n; i++) {
        table_entry e;
        memcpy(&e, base + hb + i * sizeof e, sizeof e);
        if (e.offset > size || e.bytes > size - e.offset) continue;
        e.hash = llx_hash64(base + e.offset, (size_t)e.bytes, (uint64_t)i);
        memcpy(base + hb + i * sizeof e, &e, sizeof e);
    }
    rehash_header(data, &h, hb, n);
}

llx_status llx_llx_image_set_act_clip(void *data, size_t size, float clip)
{
    file_header h;
    if (size < sizeof h + sizeof(scheme_record)) return llx_fail(LLX_ERR_FORMAT, "not a .llx image");
    memcpy(&h, data, sizeof h);
    const uint64_t hb = header_bytes(h.version);
    if (h.version < 3 || h.n_tensors > (size - hb) / sizeof(table_entry))
        return llx_fail(LLX_ERR_FORMAT, "not a version 3 .llx image");
    uint8_t *base = data;
    scheme_record r;
    memcpy(&r, base + sizeof h, sizeof r);
    llx_scheme_info s = scheme_of(&r);
    s.act_clip = clip;
    const char *why = llx_scheme_check(&s);
    if (why) return llx_fail(LLX_ERR_ARG, "bad quantization scheme: %s", why);
    r.act_clip = clip;
    memcpy(base + sizeof h, &r, sizeof r);
    rehash_header(data, &h, hb, h.n_tensors);
    return LLX_OK;
}

/* ---- writer ---- */

typedef struct wt {
    char name[LLX_NAME_MAX];
    llx_dtype dt;
    long long rows, cols;
    void *data;
    int borrowed; /* llx_llx_add_refs: data belongs to another writer */
} wt;

struct llx_llx_writer {
    llx_config cfg;
    llx_qinfo q;
    const volatile sig_atomic_t *cancel;
    wt *t;
    int n, cap;
};

llx_status llx_llx_writer_create(llx_llx_writer **out, const llx_config *c, const llx_qinfo *q)
{
    *out = NULL;
    LLX_TRY(llx_config_check(c)); /* the reader refuses what it would refuse */
    if (q->act_mode != LLX_ACT_STATIC && q->act_mode != LLX_ACT_DYNAMIC)
        return llx_fail(LLX_ERR_ARG, "unknown activation mode %d", q->act_mode);
    llx_qinfo qi = *q;
    if (qi.s.scheme == 0) qi.s = llx_scheme_w8a8_v1(); /* callers that only know W8A8 */
    const char *why = llx_scheme_check(&qi.s);
    if (why) return llx_fail(LLX_ERR_ARG, "bad quantization scheme: %s", why);
    *out = calloc(1, sizeof **out);
    if (!*out) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    (*out)->cfg = *c;
    (*out)->q = qi;
    return LLX_OK;
}

void llx_llx_writer_free(llx_llx_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++)
        if (!w->t[i].borrowed) free(w->t[i].data);
    free(w->t);
    free(w);
}

/* One table entry; on failure data is freed unless borrowed. */
static llx_status add_entry(llx_llx_writer *w, const char *name, llx_dtype dt, long long rows, long long cols,
                            void *data, int borrowed)
{
    int ok;
    const uint64_t bytes = shape_bytes(dt, rows, cols, &ok);
    llx_status st = LLX_OK;
    if (!name[0] || strlen(name) >= LLX_NAME_MAX)
        st = llx_fail(LLX_ERR_ARG, "tensor name '%s' is empty or too long", name);
    else if (!dtype_bits(dt)) st = llx_fail(LLX_ERR_ARG, "tensor '%s': unknown dtype %d", name, (int)dt);
    else if (!ok) st = llx_fail(LLX_ERR_ARG, "tensor '%s': bad shape [%lld, %lld]", name, rows, cols);
    else if (!data && bytes) st = llx_fail(LLX_ERR_ARG, "tensor '%s': no data", name);
    else if (w->n >= MAX_TENSORS) st = llx_fail(LLX_ERR_ARG, "too many tensors (at '%s')", name);
    for (int i = 0; st == LLX_OK && i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) st = llx_fail(LLX_ERR_ARG, "tensor '%s' added twice", name);
    if (st == LLX_OK && w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        wt *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
        else w->t = t, w->cap = cap;
    }
    if (st != LLX_OK) {
        if (!borrowed) free(data);
        return st;
    }
    wt *e = &w->t[w->n++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->dt = dt;
    e->rows = rows;
    e->cols = cols;
    e->data = data;
    e->borrowed = borrowed;
    return LLX_OK;
}

llx_status llx_llx_add(llx_llx_writer *w, const char *name, llx_dtype dt, long long rows, long long cols, void *data)
{
    return add_entry(w, name, dt, rows, cols, data, 0);
}

static const wt *find_entry(const llx_llx_writer *w, const char *name)
{
    for (int i = 0; w && i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return &w->t[i];
    return NULL;
}

llx_status llx_llx_add_refs_over(llx_llx_writer *w, const llx_llx_writer *src, const llx_llx_writer *over)
{
    int used = 0;
    for (int i = 0; i < src->n; i++) {
        const wt *e = &src->t[i], *o = find_entry(over, e->name);
        if (o && (o->dt != e->dt || o->rows != e->rows || o->cols != e->cols))
            return llx_fail(LLX_ERR_ARG, "tensor '%s': the replacement has another dtype or shape", e->name);
        used += o != NULL;
        if (o) e = o;
        LLX_TRY(add_entry(w, e->name, e->dt, e->rows, e->cols, e->data, 1));
    }
    for (int i = 0; over && used < over->n && i < over->n; i++)
        if (!find_entry(src, over->t[i].name))
            return llx_fail(LLX_ERR_ARG, "tensor '%s' replaces nothing", over->t[i].name);
    return LLX_OK;
}

llx_status llx_llx_add_refs(llx_llx_writer *w, const llx_llx_writer *src)
{
    return llx_llx_add_refs_over(w, src, NULL);
}

void llx_llx_writer_set_cancel(llx_llx_writer *w, const volatile sig_atomic_t *flag) { w->cancel = flag; }

static llx_status check_cancel(const llx_llx_writer *w, const char *path)
{
    if (w->cancel && *w->cancel) return llx_fail(LLX_ERR_CANCELLED, "interrupted while writing '%s'", path);
    return LLX_OK;
}

static uint64_t align_up(uint64_t x) { return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

/* The header and the scheme record + table block of w's file. */
static llx_status layout(const llx_llx_writer *w, file_header *h, unsigned char **blob)
{
    const size_t nt = (size_t)w->n, recb = sizeof(scheme_record);
    /* the scheme record and the table are written (and hashed) as one block */
    *blob = calloc(1, recb + (nt ? nt : 1) * sizeof(table_entry));
    if (!*blob) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    table_entry *tab = (table_entry *)(void *)(*blob + recb);
    memset(h, 0, sizeof *h);
    memcpy(h->magic, LLX_FILE_MAGIC, 8);
    h->version = LLX_FILE_VERSION;
    h->n_tensors = (uint32_t)nt;
    const uint64_t hb = header_bytes(h->version);
    h->data_offset = align_up(hb + nt * sizeof *tab);
    uint64_t off = h->data_offset;
    for (size_t i = 0; i < nt; i++) {
        const wt *e = &w->t[i];
        table_entry *te = &tab[i];
        memcpy(te->name, e->name, sizeof te->name);
        te->dtype = e->dt;
        te->rows = e->rows;
        te->cols = e->cols;
        int ok;
        te->bytes = shape_bytes(e->dt, e->rows, e->cols, &ok); /* checked when added */
        te->offset = off;
        te->hash = llx_hash64(e->data, te->bytes, i);
        off = align_up(off + te->bytes);
    }
    h->file_bytes = off;
    const llx_config *c = &w->cfg;
    h->n_vocab = c->n_vocab, h->n_ctx = c->n_ctx, h->n_embd = c->n_embd, h->n_layer = c->n_layer;
    h->n_head = c->n_head, h->n_inner = c->n_inner, h->ln_eps = c->ln_eps;
    h->act_mode = w->q.act_mode, h->alpha = w->q.alpha, h->calib_tokens = w->q.calib_tokens;
    h->smooth_v = w->q.smooth_v;
    if (c->arch != LLX_ARCH_GPT2) {
        h->arch = (int32_t)c->arch, h->n_kv_head = c->n_kv_head, h->head_dim = c->head_dim, h->untied = c->untied;
        h->rope_theta = c->rope_theta, h->rope_llama3 = c->rope_llama3, h->rope_factor = c->rope_factor;
        h->rope_low_freq = c->rope_low_freq, h->rope_high_freq = c->rope_high_freq, h->rope_orig_ctx = c->rope_orig_ctx;
        h->smooth_down = w->q.smooth_down;
    }
    const scheme_record rec = record_of(&w->q.s);
    memcpy(*blob, &rec, recb);
    const uint64_t hh = llx_hash64(h, sizeof *h, 0);
    h->header_hash = llx_hash64(*blob, recb + nt * sizeof *tab, hh);
    return LLX_OK;
}

/* Where the bytes go: an atomic file, or memory. */
typedef struct sink {
    llx_atomic_file *a;
    unsigned char *mem;
    size_t pos;
} sink;

static llx_status put(sink *k, const void *p, size_t n)
{
    if (!k->mem) return llx_atomic_write(k->a, p, n);
    if (n) memcpy(k->mem + k->pos, p, n);
    k->pos += n;
    return LLX_OK;
}

static llx_status emit(const llx_llx_writer *w, sink *k, const file_header *h, const unsigned char *blob,
                       const char *what)
{
    static const unsigned char zeros[ALIGN];
    const size_t nt = (size_t)w->n, recb = sizeof(scheme_record);
    const table_entry *tab = (const table_entry *)(const void *)(blob + recb);
    llx_status st = put(k, h, sizeof *h);
    if (st == LLX_OK) st = put(k, blob, recb + nt * sizeof *tab);
    uint64_t pos = header_bytes(h->version) + nt * sizeof *tab;
    for (size_t i = 0; i < nt && st == LLX_OK; i++) {
        st = check_cancel(w, what);
        if (st == LLX_OK) st = put(k, zeros, (size_t)(tab[i].offset - pos));
        if (st == LLX_OK) st = put(k, w->t[i].data, tab[i].bytes);
        pos = tab[i].offset + tab[i].bytes;
    }
    if (st == LLX_OK) st = put(k, zeros, (size_t)(h->file_bytes - pos));
    if (st == LLX_OK) st = check_cancel(w, what);
    return st;
}

llx_status llx_llx_write(llx_llx_writer *w, const char *path)
{
    file_header h;
    unsigned char *blob = NULL;
    llx_status st = layout(w, &h, &blob);
    llx_atomic_file a;
    if (st == LLX_OK) st = llx_atomic_open(&a, path);
    if (st == LLX_OK) {
        sink k = {&a, NULL, 0};
        st = emit(w, &k, &h, blob, path);
        if (st == LLX_OK) st = llx_atomic_commit(&a);
        else llx_atomic_abort(&a);
    }
    free(blob);
    llx_llx_writer_free(w);
    return st;
}

llx_status llx_llx_write_mem_reuse(llx_llx_writer *w, void **data, size_t *size, size_t *cap)
{
    *size = 0;
    file_header h;
    unsigned char *blob = NULL;
    llx_status st = layout(w, &h, &blob);
    unsigned char *mem = *data;
    if (st == LLX_OK && (!mem || *cap < h.file_bytes)) {
        free(mem);
        *data = NULL, *cap = 0;
        mem = aligned_alloc(ALIGN, align_up(h.file_bytes));
        if (!mem) st = llx_fail(LLX_ERR_NOMEM, "out of memory for a %llu MB model image",
                                (unsigned long long)(h.file_bytes >> 20));
        else *cap = align_up(h.file_bytes);
    }
    if (st == LLX_OK) {
        sink k = {NULL, mem, 0};
        st = emit(w, &k, &h, blob, "a model image");
    }
    free(blob);
    llx_llx_writer_free(w);
    if (st != LLX_OK) {
        free(mem);
        *data = NULL, *cap = 0;
        return st;
    }
    *data = mem;
    *size = (size_t)h.file_bytes;
    return LLX_OK;
}

llx_status llx_llx_write_mem(llx_llx_writer *w, void **data, size_t *size)
{
    size_t cap = 0;
    *data = NULL;
    return llx_llx_write_mem_reuse(w, data, size, &cap);
}

/* tests/ckpt_util.c - see ckpt_util.h. */
#include "ckpt_util.h"

#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "test.h"

llx_config ckpt_tiny_config(void)
{
    llx_config c = {.n_vocab = 300, .n_ctx = 16, .n_embd = 32, .n_layer = 2, .n_head = 4, .n_inner = 64,
                    .ln_eps = 1e-5f};
    return c;
}

const char *ckpt_make(const char *name, const llx_config *c, const char *dtype, uint64_t seed)
{
    const char *dir = llx_test_tmpfile(name);
    if (llx_synth_write(dir, c, seed, dtype, NULL) != LLX_OK) {
        llx_test_note("synth %s failed: %s", name, llx_errmsg());
        return NULL;
    }
    return dir;
}

static char *model_path(const char *dir)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    return p;
}

int ckpt_img_load(const char *dir, ckpt_img *img)
{
    memset(img, 0, sizeof *img);
    size_t len;
    uint8_t *buf = (uint8_t *)llx_test_read(model_path(dir), &len);
    if (!buf || len < 8) {
        free(buf);
        return 0;
    }
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = (h << 8) | buf[i];
    if (h > len - 8) {
        free(buf);
        return 0;
    }
    img->hdr = json_loadb((const char *)buf + 8, (size_t)h, 0, NULL);
    img->data_len = len - 8 - (size_t)h;
    img->data = malloc(img->data_len + 1);
    memcpy(img->data, buf + 8 + h, img->data_len);
    free(buf);
    return img->hdr != NULL;
}

int ckpt_img_save(const char *dir, const ckpt_img *img)
{
    char *h = json_dumps(img->hdr, JSON_COMPACT);
    if (!h) return 0;
    size_t hl = strlen(h);
    FILE *f = fopen(model_path(dir), "wb");
    if (!f) {
        free(h);
        return 0;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(h, 1, hl, f) == hl &&
             fwrite(img->data, 1, img->data_len, f) == img->data_len;
    ok &= fclose(f) == 0;
    free(h);
    return ok;
}

void ckpt_img_free(ckpt_img *img)
{
    json_decref(img->hdr);
    free(img->data);
    memset(img, 0, sizeof *img);
}

void ckpt_img_add(ckpt_img *img, const char *name, const char *dtype, int ndim, const long long *shape,
                  const void *bytes, size_t n)
{
    size_t begin = img->data_len;
    img->data = realloc(img->data, begin + n + 1);
    memcpy(img->data + begin, bytes, n);
    img->data_len += n;
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) json_array_append_new(sh, json_integer(shape[i]));
    json_t *e = json_object();
    json_object_set_new(e, "dtype", json_string(dtype));
    json_object_set_new(e, "shape", sh);
    json_object_set_new(e, "data_offsets", json_pack("[II]", (json_int_t)begin, (json_int_t)(begin + n)));
    json_object_set_new(img->hdr, name, e);
}

const uint8_t *ckpt_img_raw(const ckpt_img *img, const char *name, size_t *n)
{
    json_t *e = json_object_get(img->hdr, name);
    json_t *o = e ? json_object_get(e, "data_offsets") : NULL;
    if (!o) return NULL;
    json_int_t b = json_integer_value(json_array_get(o, 0)), x = json_integer_value(json_array_get(o, 1));
    if (n) *n = (size_t)(x - b);
    return img->data + b;
}

float ckpt_f32_at(const uint8_t *p, size_t i)
{
    uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                 (uint32_t)p[4 * i + 3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ckpt_u16_at(const uint8_t *p, size_t i) { return (uint16_t)(p[2 * i] | p[2 * i + 1] << 8); }

int ckpt_config_set(const char *dir, const char *key, const char *json_value)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *v = json_loads(json_value, JSON_DECODE_ANY, NULL);
    if (!root || !v) {
        json_decref(root);
        json_decref(v);
        return 0;
    }
    json_object_set_new(root, key, v);
    int ok = json_dump_file(root, path, JSON_INDENT(2)) == 0;
    json_decref(root);
    return ok;
}

void ckpt_expect_cli_error(const char *dir, const char *want)
{
    llx_proc_result r;
    llx_cli(&r, "info", "-m", dir, NULL);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strncmp(r.err, "looplynx: error: ", 17) == 0, "stderr: %s", r.err);
    CHECK_MSG(r.err_len > 0 && strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
    CHECK_MSG(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
    CHECK_EQ_INT(r.out_len, 0);
    llx_proc_free(&r);
}

size_t ckpt_read_all(const llx_hf *m, float *dst)
{
    const llx_config *c = llx_hf_config(m);
    const int C = c->n_embd, F = c->n_inner;
    size_t k = 0;
    for (int l = 0; l < c->n_layer; l++) {
        static const llx_matrix mats[4] = {LLX_MAT_QKV, LLX_MAT_PROJ, LLX_MAT_FC1, LLX_MAT_FC2};
        const int rows[4] = {3 * C, C, F, C}, cols[4] = {C, C, C, F};
        for (int i = 0; i < 4; i++) {
            if (dst) {
                llx_hf_read_rows(m, l, mats[i], 0, rows[i], dst + k);
                llx_hf_read_bias(m, l, mats[i], 0, rows[i], dst + k + (size_t)rows[i] * (size_t)cols[i]);
            }
            k += (size_t)rows[i] * (size_t)cols[i] + (size_t)rows[i];
        }
        for (int v = LLX_VEC_LN1_G; v <= LLX_VEC_LN2_B; v++, k += (size_t)C)
            if (dst) llx_hf_read_vec(m, l, (llx_vec)v, dst + k);
    }
    if (dst) llx_hf_read_rows(m, 0, LLX_MAT_LM_HEAD, 0, c->n_vocab, dst + k);
    k += (size_t)c->n_vocab * (size_t)C;
    if (dst) llx_hf_read_wpe(m, 0, c->n_ctx, dst + k);
    k += (size_t)c->n_ctx * (size_t)C;
    return k;
}

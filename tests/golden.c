/* tests/golden.c - see golden.h. */
#include "golden.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llx/model.h"
#include "test.h"

const char *golden_repo_model(void) { return "tests/models/mini-shakespeare"; }
const char *golden_repo_dir(void) { return "tests/models/mini-shakespeare/golden"; }

json_t *golden_load(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t e;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &e);
    CHECK_MSG(j != NULL, "%s: %s", path, e.text);
    return j;
}

int *golden_ids(const json_t *arr, int *n)
{
    *n = (int)json_array_size(arr);
    int *ids = malloc(sizeof(int) * ((size_t)*n + 1));
    for (int i = 0; i < *n; i++) ids[i] = (int)json_integer_value(json_array_get(arr, (size_t)i));
    return ids;
}

int golden_check_tokenizer(const llx_tokenizer *t, const json_t *cases, const char *what)
{
    size_t i;
    json_t *c;
    int n = 0, bad = 0;
    json_array_foreach(cases, i, c)
    {
        const json_t *text = json_object_get(c, "text");
        const char *s = json_string_value(text);
        const size_t len = json_string_length(text);
        int want_n, *want = golden_ids(json_object_get(c, "ids"), &want_n), *ids = NULL, got_n = 0;
        const int ok = llx_tokenize(t, s, len, &ids, &got_n) == LLX_OK && got_n == want_n &&
                       (got_n == 0 || !memcmp(ids, want, sizeof(int) * (size_t)got_n));
        char *back = NULL;
        size_t blen = 0;
        const int round = ok && llx_detokenize(t, ids, got_n, &back, &blen) == LLX_OK && blen == len &&
                          (len == 0 || !memcmp(back, s, len));
        if ((!ok || !round) && bad++ < 5)
            llx_test_fail_at(__FILE__, __LINE__, "%s case %zu (%.40s): %s", what, i, s,
                             ok ? "does not decode back" : "ids differ");
        free(back), free(ids), free(want);
        n++;
    }
    return n;
}

static llx_engine *engine_for(const llx_model *m, const golden_run *r)
{
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = r->nodes;
    o.threads = r->threads;
    o.kernels = r->kernels;
    llx_engine *e = NULL;
    CHECK_MSG(llx_engine_create(&e, m, &o) == LLX_OK, "engine: %s", llx_errmsg());
    return e;
}

/* top 5 and the greedy continuation of one prompt, logits at the prompt's end */
static void check_continuation(llx_engine *e, const json_t *p, float *logits, int V, const char *name)
{
    json_t *top5 = json_object_get(p, "top5_ids");
    float *tmp = malloc(sizeof(float) * V);
    memcpy(tmp, logits, sizeof(float) * V);
    for (int k = 0; k < 5; k++) {
        const int b = llx_test_argmax(tmp, V);
        CHECK_MSG(b == json_integer_value(json_array_get(top5, (size_t)k)), "%s: top-5 rank %d differs", name, k);
        tmp[b] = -INFINITY;
    }
    free(tmp);
    const json_t *g = json_object_get(p, "greedy");
    const json_t *margins = json_object_get(g, "top1_minus_top2_margins");
    int gn, *gw = golden_ids(json_object_get(g, "ids"), &gn);
    for (int k = 0; k < gn; k++) {
        const int next = llx_test_argmax(logits, V);
        if (next != gw[k] && json_real_value(json_array_get(margins, (size_t)k)) < 1e-3) {
            llx_test_note("%s: greedy step %d took the other side of a near tie; compared %d tokens", name, k, k);
            break;
        }
        CHECK_MSG(next == gw[k], "%s: greedy token %d is %d, want %d", name, k, next, gw[k]);
        if (next != gw[k]) break;
        if (k + 1 < gn) CHECK(llx_engine_forward(e, &next, 1, logits, 0) == LLX_OK);
    }
    free(gw);
}

double golden_check_prompts(const char *model, const char *dir, const golden_run *r)
{
    json_t *g = golden_load(dir, "prompts.json");
    llx_model *m = NULL;
    CHECK_MSG(llx_model_open(&m, model) == LLX_OK, "%s: %s", model, llx_errmsg());
    llx_engine *e = m && g ? engine_for(m, r) : NULL;
    double worst = 0;
    if (!e) goto done;
    const int V = llx_model_config(m)->n_vocab;
    float *logits = malloc(sizeof(float) * V);
    size_t pi;
    json_t *p;
    int prompts = 0;
    json_array_foreach(json_object_get(g, "prompts"), pi, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        const json_t *text = json_object_get(p, "text");
        int n, *want = golden_ids(json_object_get(p, "ids"), &n), *got = NULL, ng = 0;
        CHECK(llx_tokenize(llx_model_tokenizer(m), json_string_value(text), json_string_length(text), &got, &ng) ==
              LLX_OK);
        CHECK_MSG(ng == n && !memcmp(got, want, sizeof(int) * (size_t)n), "%s: token ids differ", name);
        llx_engine_reset(e);
        CHECK(llx_engine_forward(e, want, n, logits, 0) == LLX_OK);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(p, "last_logits_file")));
        size_t len = 0;
        float *ref = (float *)llx_test_read(path, &len);
        CHECK_MSG(ref && len == sizeof(float) * (size_t)V, "%s: %zu bytes", path, len);
        double maxd = 0;
        for (int i = 0; ref && len == sizeof(float) * (size_t)V && i < V; i++)
            maxd = fmax(maxd, fabs(logits[i] - ref[i]));
        CHECK_MSG(maxd <= r->logit_tol, "%s: last logits differ by %.3g (> %.3g)", name, maxd, r->logit_tol);
        worst = fmax(worst, maxd);
        check_continuation(e, p, logits, V, name);
        free(ref), free(got), free(want);
        prompts++;
    }
    CHECK(prompts >= 6);
    free(logits);
done:
    llx_engine_free(e);
    llx_model_close(m);
    json_decref(g);
    return worst;
}

llx_precision golden_precision(const llx_model *m)
{
    if (llx_model_kind_of(m) != LLX_MODEL_LLX) return LLX_PREC_FP32;
    llx_quant_info q;
    llx_model_quant_info(m, &q);
    return q.act_mode == 2 ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
}

double golden_nll(const char *model, const char *dir, int nodes, int threads)
{
    json_t *g = golden_load(dir, "nll.json");
    llx_model *m = NULL;
    double nll = -1;
    if (!g || llx_model_open(&m, model) != LLX_OK) {
        CHECK_MSG(0, "%s: %s", model, llx_errmsg());
        json_decref(g);
        return -1;
    }
    const int window = (int)json_integer_value(json_object_get(g, "window"));
    llx_engine_opts o = llx_engine_defaults();
    o.max_batch = window;
    o.nodes = nodes;
    o.threads = threads;
    o.precision = golden_precision(m);
    llx_engine *e = NULL;
    int n, *ids = golden_ids(json_object_get(g, "token_ids"), &n);
    llx_ppl_result res;
    if (llx_engine_create(&e, m, &o) == LLX_OK && llx_perplexity(e, ids, n, window, NULL, NULL, &res) == LLX_OK) {
        CHECK_EQ_INT(res.predictions, json_integer_value(json_object_get(g, "n_predictions")));
        nll = res.nll;
    } else {
        CHECK_MSG(0, "%s: %s", model, llx_errmsg());
    }
    free(ids);
    llx_engine_free(e);
    llx_model_close(m);
    json_decref(g);
    return nll;
}

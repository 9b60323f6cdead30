/* tests/test_engine_cut.c - a pass cut after a layer
 * (llx_engine_set_layer_end, what GPTQ's calibration runs): the layers it
 * keeps report exactly what a whole pass reports, of the later ones only
 * the stream entering the first is reported, it refuses to give logits,
 * and 0 restores whole passes with the same logits as an engine that was
 * never cut.  A pass started
 * at a later layer (llx_engine_set_layer_begin) from the residual stream
 * a whole pass reported entering it reports what the whole pass reported
 * from there on and gives the same logits, bit for bit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "llx/engine.h"
#include "model/llx_file.h"
#include "model/llx_model.h"
#include "clitest.h"
#include "test.h"
#include "w8a8_fixtures.h"

enum { MAXL = 4, NPT = 16 };

/* Every node of a threads-backend ring reports from its own thread, in no
 * set order: the reports at (layer, point) are summed as hashes, under a
 * lock. */
typedef struct seen {
    pthread_mutex_t mu;
    unsigned long long h[MAXL][NPT]; /* sum of the hashes (llx_hash64) of the reports at (layer, point) */
    int n[MAXL][NPT];
    int calls, bad_layer;
} seen;

static void note(seen *s, int layer, int p, const void *a, size_t na, const void *b, size_t nb)
{
    const unsigned long long h = llx_hash64(b, nb, llx_hash64(a, na, 0));
    pthread_mutex_lock(&s->mu);
    s->calls++;
    if (layer < 0 || layer >= MAXL || p < 0 || p >= NPT) s->bad_layer++;
    else s->h[layer][p] += h, s->n[layer][p]++;
    pthread_mutex_unlock(&s->mu);
}

static void clear(seen *s)
{
    memset(s->h, 0, sizeof s->h), memset(s->n, 0, sizeof s->n);
    s->calls = s->bad_layer = 0;
}

static void on32(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    note(ud, layer, (int)p, x, sizeof *x * (size_t)tokens * width, NULL, 0);
}

static void on8(void *ud, int layer, llx_obs_point p, const int8_t *q, const float *s, int tokens, int width)
{
    note(ud, layer, (int)p, q, (size_t)tokens * width, s, sizeof *s * (size_t)tokens);
}

static void cut_case(const char *path, int nodes, int threads)
{
    llx_model *m = NULL;
    REQUIRE(path && llx_model_open(&m, path) == LLX_OK);
    const llx_config *c = llx_model_config(m);
    REQUIRE(c->n_layer >= 2 && c->n_layer <= MAXL);
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes, o.threads = threads;
    o.precision = LLX_PREC_W8A8_STATIC; /* the .llx scheme says the rest */
    llx_engine *whole = NULL, *cut = NULL;
    REQUIRE(llx_engine_create(&whole, m, &o) == LLX_OK);
    REQUIRE(llx_engine_create(&cut, m, &o) == LLX_OK);
    enum { N = 11 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 5) % c->n_vocab;
    float *lw = malloc(sizeof(float) * c->n_vocab), *lc = malloc(sizeof(float) * c->n_vocab);
    seen sw = {.mu = PTHREAD_MUTEX_INITIALIZER}, sc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const llx_observer ow = {on32, on8, &sw}, oc = {on32, on8, &sc};
    llx_engine_set_observer(whole, &ow);
    llx_engine_set_observer(cut, &oc);
    CHECK(llx_engine_forward(whole, ids, N, lw, 0) == LLX_OK);

    /* out of range: refused, and nothing was cut */
    CHECK(llx_engine_set_layer_end(cut, -1) == LLX_ERR_ARG);
    CHECK(llx_engine_set_layer_end(cut, c->n_layer + 1) == LLX_ERR_ARG);
    CHECK(llx_engine_set_layer_end(cut, 1) == LLX_OK);
    /* a cut pass refuses a logits buffer and leaves it alone */
    memset(lc, 0x7f, sizeof(float) * c->n_vocab);
    CHECK(llx_engine_forward(cut, ids, N, lc, 0) == LLX_ERR_ARG);
    CHECK(((unsigned char *)lc)[0] == 0x7f && ((unsigned char *)lc)[sizeof(float) * c->n_vocab - 1] == 0x7f);
    clear(&sc);
    llx_engine_reset(cut);
    CHECK(llx_engine_forward(cut, ids, N, NULL, 0) == LLX_OK);
    int same = 0, missing = 0, extra = 0;
    for (int p = 0; p < NPT; p++) {
        if (sw.n[0][p]) same += sc.n[0][p] == sw.n[0][p] && sc.h[0][p] == sw.h[0][p];
        missing += sw.n[0][p] && !sc.n[0][p];
        for (int l = 1; l < MAXL; l++) extra += p != LLX_OBS_X_IN || l != 1 ? sc.n[l][p] : 0;
    }
    CHECK(same > 0 && missing == 0);
    CHECK_EQ_INT(extra, 0);
    /* the stream entering layer 1, as the whole pass reports it (what the
     * Hessian runs of --gptq-calib fp start their next run from) */
    CHECK(sw.n[1][LLX_OBS_X_IN] > 0 && sc.n[1][LLX_OBS_X_IN] == sw.n[1][LLX_OBS_X_IN] &&
          sc.h[1][LLX_OBS_X_IN] == sw.h[1][LLX_OBS_X_IN]);
    CHECK(sc.calls > 0 && sc.calls < sw.calls && sw.bad_layer == 0 && sc.bad_layer == 0);
    llx_test_note("%s, %d node(s) x %d thread(s): layer 0's %d points and the stream entering layer 1 as a whole pass "
                  "reports them, nothing else of the later layers (%d of %d reports)",
                  path, nodes, threads, same, sc.calls, sw.calls);

    /* 0: whole passes again, the same logits as the engine never cut */
    CHECK(llx_engine_set_layer_end(cut, 0) == LLX_OK);
    llx_engine_reset(cut);
    llx_engine_set_observer(cut, NULL);
    CHECK(llx_engine_forward(cut, ids, N, lc, 0) == LLX_OK);
    CHECK(!memcmp(lw, lc, sizeof(float) * c->n_vocab));
    llx_engine_free(whole);
    llx_engine_free(cut);
    llx_model_close(m);
    free(lw), free(lc);
}

/* the residual stream entering layer `layer` (the first node to report it) */
typedef struct grab {
    pthread_mutex_t mu;
    int layer, tokens;
    float *x;
} grab;

static void grab32(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    grab *g = ud;
    if (p != LLX_OBS_X_IN || layer != g->layer) return;
    pthread_mutex_lock(&g->mu);
    if (!g->x && (g->x = malloc(sizeof(float) * (size_t)tokens * width)))
        memcpy(g->x, x, sizeof(float) * (size_t)tokens * width), g->tokens = tokens;
    pthread_mutex_unlock(&g->mu);
}

static void begin_case(const char *path, int nodes, int threads, int b)
{
    llx_model *m = NULL;
    REQUIRE(path && llx_model_open(&m, path) == LLX_OK);
    const llx_config *c = llx_model_config(m);
    REQUIRE(c->n_layer > b && c->n_layer <= MAXL);
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes, o.threads = threads;
    o.precision = LLX_PREC_W8A8_STATIC;
    llx_engine *whole = NULL, *from = NULL;
    REQUIRE(llx_engine_create(&whole, m, &o) == LLX_OK);
    REQUIRE(llx_engine_create(&from, m, &o) == LLX_OK);
    enum { N = 13 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 53 + 7) % c->n_vocab;
    float *lw = malloc(sizeof(float) * c->n_vocab), *lf = malloc(sizeof(float) * c->n_vocab);
    grab g = {.mu = PTHREAD_MUTEX_INITIALIZER, .layer = b};
    const llx_observer og = {grab32, NULL, &g};
    llx_engine_set_observer(whole, &og);
    CHECK(llx_engine_forward(whole, ids, N, lw, 0) == LLX_OK);
    REQUIRE(g.x && g.tokens == N);
    /* refused: out of range, no stream, and nothing changed by them */
    CHECK(llx_engine_set_layer_begin(from, -1, g.x) == LLX_ERR_ARG);
    CHECK(llx_engine_set_layer_begin(from, c->n_layer, g.x) == LLX_ERR_ARG);
    CHECK(llx_engine_set_layer_begin(from, b, NULL) == LLX_ERR_ARG && strstr(llx_errmsg(), "residual stream"));
    /* from layer b: the whole pass's reports from layer b on, none before */
    seen sw = {.mu = PTHREAD_MUTEX_INITIALIZER}, sf = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const llx_observer ow = {on32, on8, &sw}, of = {on32, on8, &sf};
    llx_engine_set_observer(whole, &ow);
    llx_engine_reset(whole);
    CHECK(llx_engine_forward(whole, ids, N, lw, 0) == LLX_OK);
    llx_engine_set_observer(from, &of);
    CHECK(llx_engine_set_layer_begin(from, b, g.x) == LLX_OK);
    CHECK(llx_engine_forward(from, ids, N, lf, 0) == LLX_OK);
    CHECK(!memcmp(lw, lf, sizeof(float) * c->n_vocab));
    int same = 0, differ = 0, early = 0;
    for (int l = 0; l < MAXL; l++)
        for (int p = 0; p < NPT; p++) {
            if (l < b) early += sf.n[l][p];
            else if (sw.n[l][p] && sf.n[l][p] == sw.n[l][p] && sf.h[l][p] == sw.h[l][p]) same++;
            else if (sw.n[l][p] || sf.n[l][p]) differ++;
        }
    CHECK(same > 0 && differ == 0 && early == 0 && sf.bad_layer == 0);
    /* with a cut after layer b as well: layer b alone; and a cut before it runs nothing */
    clear(&sf);
    CHECK(llx_engine_set_layer_end(from, b + 1) == LLX_OK);
    llx_engine_reset(from);
    CHECK(llx_engine_forward(from, ids, N, NULL, 0) == LLX_OK);
    int layer_b = 0, others = 0;
    for (int l = 0; l < MAXL; l++)
        for (int p = 0; p < NPT; p++) {
            if (l != b) others += sf.n[l][p];
            else if (sw.n[l][p]) layer_b += sf.n[l][p] == sw.n[l][p] && sf.h[l][p] == sw.h[l][p];
        }
    CHECK(layer_b == same && others == 0);
    CHECK(llx_engine_set_layer_end(from, b) == LLX_OK);
    llx_engine_reset(from);
    CHECK(llx_engine_forward(from, ids, N, NULL, 0) == LLX_ERR_ARG && strstr(llx_errmsg(), "runs no layer"));
    llx_test_note("%s, %d node(s) x %d thread(s), from layer %d: %d points as the whole pass reports them, the same "
                  "logits", path, nodes, threads, b, same);
    /* 0: from the embedding again */
    CHECK(llx_engine_set_layer_end(from, 0) == LLX_OK);
    CHECK(llx_engine_set_layer_begin(from, 0, NULL) == LLX_OK);
    llx_engine_set_observer(from, NULL);
    llx_engine_reset(from);
    memset(lf, 0, sizeof(float) * c->n_vocab);
    CHECK(llx_engine_forward(from, ids, N, lf, 0) == LLX_OK);
    CHECK(!memcmp(lw, lf, sizeof(float) * c->n_vocab));
    llx_engine_free(whole);
    llx_engine_free(from);
    llx_model_close(m);
    free(lw), free(lf), free(g.x);
}

TEST(engine_begin_at_layer_w8a8, LLX_T_ASAN | LLX_T_TSAN)
{
    begin_case(llx_fixture_awkward_llx(1), 1, 1, 1);
    begin_case(llx_fixture_awkward_llx(2), 2, 2, 1);
}

TEST(engine_begin_at_layer_lowbit_llama, LLX_T_ASAN)
{
    begin_case(llx_fixture_llama_lowbit(2, NULL), 1, 2, 1);
}

TEST(engine_begin_at_layer_fp32_refused, LLX_T_ASAN)
{
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, llx_tiny_hf()) == LLX_OK);
    llx_engine_opts o = llx_engine_defaults();
    o.precision = LLX_PREC_FP32;
    llx_engine *e = NULL;
    REQUIRE(llx_engine_create(&e, m, &o) == LLX_OK);
    const float x[1] = {0};
    CHECK(llx_engine_set_layer_begin(e, 1, x) == LLX_ERR_UNSUPPORTED && strstr(llx_errmsg(), "fp32"));
    CHECK(llx_engine_set_layer_begin(e, 0, NULL) == LLX_OK);
    llx_engine_free(e);
    llx_model_close(m);
}

TEST(engine_cut_after_layer_w8a8, LLX_T_ASAN | LLX_T_TSAN)
{
    cut_case(llx_fixture_awkward_llx(1), 1, 1);
    cut_case(llx_fixture_awkward_llx(2), 2, 2);
}

TEST(engine_cut_after_layer_lowbit_llama, LLX_T_ASAN)
{
    cut_case(llx_fixture_llama_lowbit(2, NULL), 1, 2);
}

/* A pass stopped at one matrix input (llx_engine_set_stop_after, what the
 * sequential GPTQ calibration runs): everything it reports, the watched
 * input included, is what a whole pass reports, bit for bit; nothing of
 * the later layers; a later stop point reports more; it refuses logits,
 * a point no stage reports and a start past it; -1 restores whole
 * passes with the whole pass's logits. */
static void stop_case(const char *path, int nodes, int threads)
{
    llx_model *m = NULL;
    REQUIRE(path && llx_model_open(&m, path) == LLX_OK);
    const llx_config *c = llx_model_config(m);
    REQUIRE(c->n_layer >= 2 && c->n_layer <= MAXL);
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes, o.threads = threads;
    o.precision = LLX_PREC_W8A8_STATIC;
    llx_engine *whole = NULL, *stop = NULL;
    REQUIRE(llx_engine_create(&whole, m, &o) == LLX_OK);
    REQUIRE(llx_engine_create(&stop, m, &o) == LLX_OK);
    enum { N = 9 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 29 + 3) % c->n_vocab;
    float *lw = malloc(sizeof(float) * c->n_vocab), *ls = malloc(sizeof(float) * c->n_vocab);
    seen sw = {.mu = PTHREAD_MUTEX_INITIALIZER}, ss = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const llx_observer ow = {on32, on8, &sw}, os = {on32, on8, &ss};
    llx_engine_set_observer(whole, &ow);
    llx_engine_set_observer(stop, &os);
    CHECK(llx_engine_forward(whole, ids, N, lw, 0) == LLX_OK);
    const int last = c->n_layer - 1;
    const int down = sw.n[last][LLX_OBS_DOWN_IN] ? LLX_OBS_DOWN_IN : LLX_OBS_GELU;
    const int points[4] = {LLX_OBS_LN1, LLX_OBS_CTX, LLX_OBS_LN2, down};

    /* refused when set: out of range, and nothing was set by them */
    CHECK(llx_engine_set_stop_after(stop, -1, LLX_OBS_LN1) == LLX_ERR_ARG);
    CHECK(llx_engine_set_stop_after(stop, c->n_layer, LLX_OBS_LN1) == LLX_ERR_ARG);
    CHECK(llx_engine_set_stop_after(stop, 0, LLX_OBS_DOWN_IN + 1) == LLX_ERR_ARG && strstr(llx_errmsg(), "point"));
    for (int layer = 0; layer < c->n_layer; layer += last) {
        int prev = 0;
        for (int i = 0; i < 4; i++) {
            const int P = points[i];
            REQUIRE(sw.n[layer][P] > 0);
            CHECK(llx_engine_set_stop_after(stop, layer, P) == LLX_OK);
            clear(&ss);
            llx_engine_reset(stop);
            CHECK(llx_engine_forward(stop, ids, N, NULL, 0) == LLX_OK);
            int differ = 0, later = 0;
            for (int l = 0; l < MAXL; l++)
                for (int p = 0; p < NPT; p++) {
                    if (!ss.n[l][p]) continue;
                    if (l > layer) later += ss.n[l][p];
                    else differ += ss.n[l][p] != sw.n[l][p] || ss.h[l][p] != sw.h[l][p];
                }
            CHECK_MSG(ss.n[layer][P] == sw.n[layer][P] && ss.h[layer][P] == sw.h[layer][P], "layer %d point %d",
                      layer, P);
            CHECK_MSG(differ == 0 && later == 0 && ss.bad_layer == 0, "layer %d point %d: %d differ, %d later", layer,
                      P, differ, later);
            CHECK_MSG(ss.calls > prev && ss.calls < sw.calls, "layer %d point %d: %d reports after %d", layer, P,
                      ss.calls, prev);
            if (i == 0) /* stopped at the first input: of its layer only the stream entering it and that input */
                for (int p = 0; p < NPT; p++)
                    if (p != LLX_OBS_X_IN && p != LLX_OBS_LN1) CHECK_EQ_INT(ss.n[layer][p], 0);
            prev = ss.calls;
        }
        llx_test_note("%s, %d node(s) x %d thread(s), layer %d: four stop points, %d of %d reports at the last", path,
                      nodes, threads, layer, prev, sw.calls);
        if (!last) break;
    }
    /* a stopped pass refuses a logits buffer and leaves it alone */
    memset(ls, 0x7f, sizeof(float) * c->n_vocab);
    CHECK(llx_engine_forward(stop, ids, N, ls, 0) == LLX_ERR_ARG && strstr(llx_errmsg(), "no logits"));
    CHECK(((unsigned char *)ls)[0] == 0x7f);
    /* a point no stage reports (the stream entering a layer is reported before its first stage) */
    CHECK(llx_engine_set_stop_after(stop, 0, LLX_OBS_X_IN) == LLX_OK);
    llx_engine_reset(stop);
    CHECK(llx_engine_forward(stop, ids, N, NULL, 0) == LLX_ERR_ARG && strstr(llx_errmsg(), "no stage"));
    /* a start past the stop */
    grab g = {.mu = PTHREAD_MUTEX_INITIALIZER, .layer = 1};
    const llx_observer og = {grab32, NULL, &g};
    llx_engine_set_observer(whole, &og);
    llx_engine_reset(whole);
    CHECK(llx_engine_forward(whole, ids, N, lw, 0) == LLX_OK);
    REQUIRE(g.x && g.tokens == N);
    CHECK(llx_engine_set_stop_after(stop, 0, LLX_OBS_LN2) == LLX_OK);
    CHECK(llx_engine_set_layer_begin(stop, 1, g.x) == LLX_OK);
    llx_engine_reset(stop);
    CHECK(llx_engine_forward(stop, ids, N, NULL, 0) == LLX_ERR_ARG && strstr(llx_errmsg(), "runs no stage"));
    /* -1: whole passes again, the same logits */
    CHECK(llx_engine_set_layer_begin(stop, 0, NULL) == LLX_OK);
    CHECK(llx_engine_set_stop_after(stop, 0, -1) == LLX_OK);
    llx_engine_set_observer(stop, NULL);
    llx_engine_reset(stop);
    const llx_status fin = llx_engine_forward(stop, ids, N, ls, 0);
    CHECK_MSG(fin == LLX_OK, "%s", llx_errmsg());
    CHECK(!memcmp(lw, ls, sizeof(float) * c->n_vocab));
    llx_engine_free(whole);
    llx_engine_free(stop);
    llx_model_close(m);
    free(lw), free(ls), free(g.x);
}

TEST(engine_stop_at_input_w8a8, LLX_T_ASAN | LLX_T_TSAN)
{
    stop_case(llx_fixture_awkward_llx(1), 1, 1);
    stop_case(llx_fixture_awkward_llx(2), 2, 2);
}

TEST(engine_stop_at_input_lowbit_llama, LLX_T_ASAN)
{
    stop_case(llx_fixture_llama_lowbit(2, NULL), 1, 2);
}

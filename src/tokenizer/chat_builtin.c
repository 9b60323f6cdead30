/* tokenizer/chat_builtin.c - the filters, tests, functions and methods a
 * chat template may use (docs/chat.md lists them with their meaning):
 *   filters    trim length count upper lower capitalize title string int
 *              tojson default d first last join replace items list reverse
 *              safe selectattr rejectattr map
 *   tests      defined undefined none string number integer boolean mapping
 *              iterable sequence true false odd even equalto eq ne lower
 *              upper in
 *   functions  raise_exception strftime_now namespace range
 *   methods    strip lstrip rstrip startswith endswith split upper lower
 *              replace title capitalize (strings); get items keys values
 *              (dicts)
 * upper/lower/title/capitalize change ASCII letters only. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tokenizer/chat_internal.h"
#include "util/status.h"

static int in_list(const char *s, size_t n, const char *const *names)
{
    for (; *names; names++)
        if (strlen(*names) == n && memcmp(*names, s, n) == 0) return 1;
    return 0;
}

static const char *const FILTERS[] = {"trim", "length", "count", "upper", "lower", "capitalize", "title", "string",
                                      "int", "tojson", "default", "d", "first", "last", "join", "replace", "items",
                                      "list", "reverse", "safe", "selectattr", "rejectattr", "map", NULL};
static const char *const TESTS[] = {"defined", "undefined", "none", "string", "number", "integer", "boolean",
                                    "mapping", "iterable", "sequence", "true", "false", "odd", "even", "equalto",
                                    "eq", "ne", "lower", "upper", "in", NULL};
static const char *const FUNCTIONS[] = {"raise_exception", "strftime_now", "namespace", "range", NULL};
static const char *const METHODS[] = {"strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper",
                                      "lower", "replace", "title", "capitalize", "get", "items", "keys", "values",
                                      NULL};

int ch_known_filter(const char *s, size_t n) { return in_list(s, n, FILTERS); }
int ch_known_test(const char *s, size_t n) { return in_list(s, n, TESTS); }
int ch_known_function(const char *s, size_t n) { return in_list(s, n, FUNCTIONS); }
int ch_known_method(const char *s, size_t n) { return in_list(s, n, METHODS); }

static int is(const ch_node *e, const char *name) { return strlen(name) == e->n && memcmp(e->s, name, e->n) == 0; }

int ch_args(ch_render *r, const ch_node *e, ch_val *pos, int maxpos, int *npos, ch_val *kw, const char *const *kwnames,
            int nkw)
{
    if (e->body.n > maxpos)
        return ch_fail(r, e->line, "'%.*s' takes at most %d positional arguments", (int)e->n, e->s, maxpos);
    for (int i = 0; i < nkw; i++) kw[i] = (ch_val){.k = V_UNDEF};
    for (int i = 0; i < e->body.n; i++)
        if (ch_eval(r, e->body.v[i], &pos[i])) return -1;
    if (npos) *npos = e->body.n;
    for (int i = 0; i < e->orelse.n; i++) {
        const ch_node *k = e->orelse.v[i];
        int j = 0;
        while (j < nkw && !(strlen(kwnames[j]) == k->n && memcmp(kwnames[j], k->s, k->n) == 0)) j++;
        if (j == nkw) return ch_fail(r, k->line, "'%.*s' has no argument '%.*s'", (int)e->n, e->s, (int)k->n, k->s);
        if (ch_eval(r, k->a, &kw[j])) return -1;
    }
    return 0;
}

/* ---- strings ---- */

/* Python's str.isspace() for the code point starting at s (length in *len). */
static int space_at(const char *s, size_t n, int from_end, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (from_end) { /* step back to the lead byte */
        size_t k = n;
        while (k > 0 && (u[k - 1] & 0xC0) == 0x80) k--;
        if (k == 0) return 0;
        *len = n - k + 1;
        u += k - 1, n = *len;
    }
    unsigned c = u[0];
    if (c < 0x80) return *len = 1, (c >= 9 && c <= 13) || c == ' ' || (c >= 0x1c && c <= 0x1f);
    if (c >= 0xC0 && c < 0xE0 && n >= 2) c = ((c & 0x1F) << 6) | (u[1] & 0x3F), *len = 2;
    else if (c >= 0xE0 && c < 0xF0 && n >= 3) c = ((c & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F), *len = 3;
    else return *len = 1, 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static ch_val strip(ch_val v, int left, int right, ch_val chars)
{
    size_t a = 0, b = v.n, k;
    if (chars.k == V_STR) {
        while (left && a < b && memchr(chars.s, v.s[a], chars.n)) a++;
        while (right && b > a && memchr(chars.s, v.s[b - 1], chars.n)) b--;
    } else {
        while (left && a < b && space_at(v.s + a, b - a, 0, &k)) a += k;
        while (right && b > a && space_at(v.s + a, b - a, 1, &k)) b -= k;
    }
    return ch_str(v.s + a, b - a);
}

/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' title (ASCII letters). */
static int recase(ch_render *r, ch_val v, char mode, ch_val *out)
{
    char *s = ch_alloc(&r->arena, v.n + 1);
    if (!s) return ch_fail(r, 0, "the render needs too much memory");
    int start = 1;
    for (size_t i = 0; i < v.n; i++) {
        char c = v.s[i];
        int up = mode == 'u' || ((mode == 'c' && i == 0) || (mode == 't' && start));
        if (c >= 'a' && c <= 'z' && up) c = (char)(c - 32);
        else if (c >= 'A' && c <= 'Z' && !up) c = (char)(c + 32);
        start = !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
        s[i] = c;
    }
    *out = ch_str(s, v.n);
    return 0;
}

static int replace(ch_render *r, ch_val v, ch_val from, ch_val to, int64_t count, ch_val *out)
{
    if (from.n == 0 || v.n == 0) {
        *out = v;
        return 0;
    }
    size_t cap = v.n + (v.n / from.n + 1) * to.n + 1, w = 0;
    char *s = ch_alloc(&r->arena, cap);
    if (!s) return ch_fail(r, 0, "the text is too large");
    for (size_t i = 0; i < v.n;) {
        if (count != 0 && i + from.n <= v.n && memcmp(v.s + i, from.s, from.n) == 0) {
            memcpy(s + w, to.s, to.n), w += to.n, i += from.n;
            if (count > 0) count--;
        } else {
            s[w++] = v.s[i++];
        }
    }
    *out = ch_str(s, w);
    return 0;
}

static ch_val list_of(ch_render *r, int n)
{
    ch_seq *l = ch_alloc(&r->arena, sizeof *l);
    ch_val *v = ch_alloc(&r->arena, (size_t)(n + 1) * sizeof *v);
    if (!l || !v) return (ch_val){.k = V_UNDEF};
    l->v = v, l->n = 0;
    return (ch_val){.k = V_LIST, .l = l};
}

static int split(ch_render *r, const ch_node *e, ch_val v, ch_val sep, ch_val *out)
{
    *out = list_of(r, (int)v.n + 1);
    if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
    if (sep.k == V_STR && sep.n == 0) return ch_fail(r, e->line, "split: empty separator");
    size_t i = 0, k;
    while (i <= v.n) {
        if (sep.k != V_STR) { /* runs of whitespace; no empty strings */
            while (i < v.n && space_at(v.s + i, v.n - i, 0, &k)) i += k;
            if (i >= v.n) break;
            size_t j = i;
            while (j < v.n && !space_at(v.s + j, v.n - j, 0, &k)) j += k;
            out->l->v[out->l->n++] = ch_str(v.s + i, j - i);
            i = j;
        } else {
            const char *hit = memmem(v.s + i, v.n - i, sep.s, sep.n);
            size_t j = hit ? (size_t)(hit - v.s) : v.n;
            out->l->v[out->l->n++] = ch_str(v.s + i, j - i);
            i = j + sep.n;
            if (!hit) break;
        }
    }
    return 0;
}

/* ---- tests ---- */

static int test_value(ch_render *r, const ch_node *e, const char *name, ch_val v, ch_val arg, int *out)
{
    size_t n = strlen(name);
    ch_node fake = *e;
    fake.s = name, fake.n = n;
    const ch_node *t = &fake;
    if (is(t, "defined")) *out = v.k != V_UNDEF;
    else if (is(t, "undefined")) *out = v.k == V_UNDEF;
    else if (is(t, "none")) *out = v.k == V_NONE;
    else if (is(t, "string")) *out = v.k == V_STR;
    else if (is(t, "number")) *out = v.k == V_INT || v.k == V_BOOL;
    else if (is(t, "integer")) *out = v.k == V_INT;
    else if (is(t, "boolean")) *out = v.k == V_BOOL;
    else if (is(t, "mapping")) *out = v.k == V_DICT;
    else if (is(t, "iterable")) *out = v.k == V_LIST || v.k == V_DICT || v.k == V_STR || v.k == V_UNDEF;
    else if (is(t, "sequence")) *out = v.k == V_LIST || v.k == V_DICT || v.k == V_STR;
    else if (is(t, "true") || is(t, "false")) *out = v.k == V_BOOL && v.i == is(t, "true");
    else if (is(t, "odd") || is(t, "even")) {
        if (v.k != V_INT) return ch_fail(r, e->line, "test '%s' needs an integer", name);
        *out = (v.i % 2 != 0) == is(t, "odd");
    } else if (is(t, "equalto") || is(t, "eq") || is(t, "==")) *out = ch_equal(v, arg);
    else if (is(t, "ne") || is(t, "!=")) *out = !ch_equal(v, arg);
    else if (is(t, "lower") || is(t, "upper")) {
        *out = v.k == V_STR;
        for (size_t i = 0; *out && i < v.n; i++)
            if (is(t, "lower") ? (v.s[i] >= 'A' && v.s[i] <= 'Z') : (v.s[i] >= 'a' && v.s[i] <= 'z')) *out = 0;
    } else if (is(t, "in")) {
        if (arg.k == V_LIST) {
            *out = 0;
            for (int i = 0; i < arg.l->n && !*out; i++) *out = ch_equal(v, arg.l->v[i]);
        } else if (arg.k == V_STR && v.k == V_STR) *out = v.n == 0 || memmem(arg.s, arg.n, v.s, v.n) != NULL;
        else if (arg.k == V_DICT && v.k == V_STR) *out = ch_dict_get(arg.d, v.s, v.n).k != V_UNDEF;
        else return ch_fail(r, e->line, "test 'in' needs a list, string or dict");
    } else return ch_fail(r, e->line, "test '%s' is not supported", name);
    return 0;
}

int ch_apply_test(ch_render *r, const ch_node *e, ch_val in, int *out)
{
    ch_val arg[1] = {{.k = V_UNDEF}};
    if (ch_args(r, e, arg, 1, NULL, NULL, NULL, 0)) return -1;
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)e->n, e->s);
    /* the functions are defined names ("strftime_now is defined") */
    if (e->a->kind == N_NAME && in.k == V_UNDEF && ch_known_function(e->a->s, e->a->n) &&
        (is(e, "defined") || is(e, "undefined"))) {
        *out = is(e, "defined");
        return 0;
    }
    return test_value(r, e, name, in, arg[0], out);
}

/* ---- filters ---- */

static int length_of(ch_render *r, const ch_node *e, ch_val v, int64_t *n)
{
    if (v.k == V_LIST) *n = v.l->n;
    else if (v.k == V_DICT) *n = v.d->n;
    else if (v.k == V_STR) {
        *n = 0;
        for (size_t i = 0; i < v.n; i++) *n += ((unsigned char)v.s[i] & 0xC0) != 0x80;
    } else if (v.k == V_UNDEF) *n = 0;
    else return ch_fail(r, e->line, "a %s has no length", ch_kind_name(v.k));
    return 0;
}

/* selectattr / rejectattr: items whose attribute passes the test (or is true). */
static int select_attr(ch_render *r, const ch_node *e, ch_val in, int reject, ch_val *out)
{
    ch_val a[3] = {{.k = V_UNDEF}, {.k = V_UNDEF}, {.k = V_UNDEF}};
    int np = 0;
    if (ch_args(r, e, a, 3, &np, NULL, NULL, 0)) return -1;
    if (a[0].k != V_STR || (np > 1 && a[1].k != V_STR)) return ch_fail(r, e->line, "%.*s needs an attribute name and a test name", (int)e->n, e->s);
    if (in.k != V_LIST) return ch_fail(r, e->line, "%.*s needs a list", (int)e->n, e->s);
    char test[32];
    snprintf(test, sizeof test, "%.*s", np > 1 ? (int)a[1].n : 0, np > 1 ? a[1].s : "");
    if (np > 1 && !ch_known_test(test, strlen(test))) return ch_fail(r, e->line, "test '%s' is not supported", test);
    *out = list_of(r, in.l->n);
    if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
    for (int i = 0; i < in.l->n; i++) {
        ch_val it = in.l->v[i], v = it.k == V_DICT ? ch_dict_get(it.d, a[0].s, a[0].n) : (ch_val){.k = V_UNDEF};
        int pass = 0;
        if (np > 1 ? test_value(r, e, test, v, a[2], &pass) : (pass = ch_truthy(v), 0)) return -1;
        if (pass != reject) out->l->v[out->l->n++] = it;
    }
    return 0;
}

static int join(ch_render *r, const ch_node *e, ch_val in, ch_val sep, ch_val *out)
{
    if (in.k != V_LIST) return ch_fail(r, e->line, "join needs a list");
    if (ch_to_string(r, sep, &sep)) return -1; /* Jinja joins with str(d): join(none) puts "None" between */
    ch_val *parts = ch_alloc(&r->arena, (size_t)(in.l->n + 1) * sizeof *parts);
    if (!parts) return ch_fail(r, 0, "the render needs too much memory");
    size_t total = 0;
    for (int i = 0; i < in.l->n; i++) {
        if (ch_to_string(r, in.l->v[i], &parts[i])) return -1;
        total += parts[i].n + (i ? sep.n : 0);
    }
    char *buf = ch_alloc(&r->arena, total + 1);
    if (!buf) return ch_fail(r, 0, "the text is too large");
    size_t w = 0;
    for (int i = 0; i < in.l->n; i++) {
        if (i) memcpy(buf + w, sep.s, sep.n), w += sep.n;
        memcpy(buf + w, parts[i].s, parts[i].n), w += parts[i].n;
    }
    *out = ch_str(buf, w);
    return 0;
}

static int seq_filter(ch_render *r, const ch_node *e, ch_val in, ch_val *out)
{
    if (is(e, "items")) {
        if (in.k != V_DICT) return ch_fail(r, e->line, "items needs a dict");
        *out = list_of(r, in.d->n);
        if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < in.d->n; i++) {
            ch_val pair = list_of(r, 2);
            if (pair.k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
            pair.l->v[0] = ch_str(in.d->key[i], in.d->klen[i]), pair.l->v[1] = in.d->val[i], pair.l->n = 2;
            out->l->v[out->l->n++] = pair;
        }
        return 0;
    }
    if (in.k == V_DICT) { /* list / first / last / reverse walk a dict's keys */
        ch_val keys = list_of(r, in.d->n);
        if (keys.k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < in.d->n; i++) keys.l->v[keys.l->n++] = ch_str(in.d->key[i], in.d->klen[i]);
        in = keys;
    }
    if (in.k != V_LIST) return ch_fail(r, e->line, "%.*s needs a list, not a %s", (int)e->n, e->s, ch_kind_name(in.k));
    if (is(e, "list")) *out = in;
    else if (is(e, "first") || is(e, "last")) *out = in.l->n ? in.l->v[is(e, "first") ? 0 : in.l->n - 1] : (ch_val){.k = V_UNDEF};
    else {
        *out = list_of(r, in.l->n);
        if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < in.l->n; i++) out->l->v[out->l->n++] = in.l->v[in.l->n - 1 - i];
    }
    return 0;
}

int ch_apply_filter(ch_render *r, const ch_node *e, ch_val in, ch_val *out)
{
    ch_val a[3], kw[2];
    int np = 0;
    if (is(e, "selectattr") || is(e, "rejectattr")) return select_attr(r, e, in, is(e, "rejectattr"), out);
    static const char *const kwn[] = {"indent", "attribute"};
    if (ch_args(r, e, a, 3, &np, kw, kwn, 2)) return -1;
    if (is(e, "default") || is(e, "d")) {
        int use = in.k == V_UNDEF || (np > 1 && ch_truthy(a[1]) && !ch_truthy(in));
        *out = use ? (np ? a[0] : ch_str("", 0)) : in;
        return 0;
    }
    if (is(e, "safe")) return *out = in, 0;
    if (is(e, "string")) return ch_to_string(r, in, out);
    if (is(e, "tojson")) {
        ch_val ind = np ? a[0] : kw[0];
        return ch_tojson(r, in, ind.k == V_INT ? (int)(ind.i > 16 ? 16 : ind.i < 0 ? 0 : ind.i) : -1, out);
    }
    if (is(e, "length") || is(e, "count")) {
        int64_t n = 0;
        if (length_of(r, e, in, &n)) return -1;
        *out = ch_int(n);
        return 0;
    }
    if (is(e, "int")) {
        long long v = 0;
        *out = in.k == V_INT || in.k == V_BOOL ? ch_int(in.i) : ch_int(in.k == V_STR && sscanf(in.s, "%lld", &v) == 1 ? v : 0);
        return 0;
    }
    if (is(e, "map")) {
        if (kw[1].k != V_STR || in.k != V_LIST) return ch_fail(r, e->line, "map needs a list and attribute=");
        *out = list_of(r, in.l->n);
        if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < in.l->n; i++)
            out->l->v[out->l->n++] = in.l->v[i].k == V_DICT ? ch_dict_get(in.l->v[i].d, kw[1].s, kw[1].n) : (ch_val){.k = V_UNDEF};
        return 0;
    }
    if (is(e, "items") || is(e, "list") || is(e, "first") || is(e, "last") || is(e, "reverse")) {
        if (in.k == V_STR && !is(e, "items")) { /* strings: characters */
            ch_val chars = list_of(r, (int)in.n);
            if (chars.k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
            for (size_t i = 0; i < in.n;) {
                size_t j = i + 1;
                while (j < in.n && ((unsigned char)in.s[j] & 0xC0) == 0x80) j++;
                chars.l->v[chars.l->n++] = ch_str(in.s + i, j - i), i = j;
            }
            in = chars;
        }
        return seq_filter(r, e, in, out);
    }
    if (is(e, "join")) return join(r, e, in, np ? a[0] : ch_str("", 0), out);
    if (in.k == V_UNDEF) in = ch_str("", 0);
    if (in.k != V_STR) return ch_fail(r, e->line, "filter '%.*s' needs a string, not a %s", (int)e->n, e->s, ch_kind_name(in.k));
    if (is(e, "trim")) return *out = strip(in, 1, 1, np ? a[0] : (ch_val){.k = V_NONE}), 0;
    if (is(e, "upper")) return recase(r, in, 'u', out);
    if (is(e, "lower")) return recase(r, in, 'l', out);
    if (is(e, "capitalize")) return recase(r, in, 'c', out);
    if (is(e, "title")) return recase(r, in, 't', out);
    if (is(e, "replace")) {
        if (np < 2 || a[0].k != V_STR || a[1].k != V_STR) return ch_fail(r, e->line, "replace needs two strings");
        return replace(r, in, a[0], a[1], np > 2 && a[2].k == V_INT ? a[2].i : -1, out);
    }
    return ch_fail(r, e->line, "filter '%.*s' is not supported", (int)e->n, e->s);
}

/* ---- functions and methods ---- */

static int function(ch_render *r, const ch_node *e, const ch_node *f, ch_val *out)
{
    ch_val a[3];
    int np = 0;
    if (is(f, "namespace")) {
        if (e->body.n) return ch_fail(r, e->line, "namespace() takes keyword arguments only");
        ch_dict *d = ch_alloc(&r->arena, sizeof *d);
        if (!d) return ch_fail(r, 0, "the render needs too much memory");
        d->is_ns = 1;
        for (int i = 0; i < e->orelse.n; i++) {
            ch_val v;
            if (ch_eval(r, e->orelse.v[i]->a, &v) || ch_dict_set(r, d, e->orelse.v[i]->s, e->orelse.v[i]->n, v)) return -1;
        }
        *out = (ch_val){.k = V_DICT, .d = d};
        return 0;
    }
    ch_node named = *e;
    named.s = f->s, named.n = f->n;
    if (ch_args(r, &named, a, is(f, "range") ? 3 : 1, &np, NULL, NULL, 0)) return -1;
    if (is(f, "raise_exception")) {
        ch_val msg;
        if (np < 1 || ch_to_string(r, a[0], &msg)) return np < 1 ? ch_fail(r, e->line, "raise_exception() called") : -1;
        return ch_fail(r, 0, "%.*s", (int)(msg.n > 400 ? 400 : msg.n), msg.s);
    }
    if (is(f, "strftime_now")) {
        if (np != 1 || a[0].k != V_STR || a[0].n > 100) return ch_fail(r, e->line, "strftime_now needs a format string");
        char fmt[128], buf[256];
        snprintf(fmt, sizeof fmt, "%.*s", (int)a[0].n, a[0].s);
        time_t now = (time_t)r->now;
        struct tm tm;
        if (r->local_time) localtime_r(&now, &tm);
        else gmtime_r(&now, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* the template's format */
        size_t n = strftime(buf, sizeof buf, fmt, &tm);
#pragma GCC diagnostic pop
        char *s = ch_strdup(&r->arena, buf, n);
        if (!s) return ch_fail(r, 0, "the render needs too much memory");
        *out = ch_str(s, n);
        return 0;
    }
    /* range(stop) / range(start, stop[, step]) */
    for (int i = 0; i < np; i++)
        if (a[i].k != V_INT) return ch_fail(r, e->line, "range needs integers");
    int64_t start = np > 1 ? a[0].i : 0, stop = np > 1 ? a[1].i : np ? a[0].i : 0, step = np > 2 ? a[2].i : 1;
    if (step == 0) return ch_fail(r, e->line, "range step cannot be zero");
    int64_t cnt = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (cnt > 100000) return ch_fail(r, e->line, "range of more than 100000 numbers");
    *out = list_of(r, (int)cnt);
    if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
    for (int64_t k = 0; k < cnt; k++) out->l->v[out->l->n++] = ch_int(start + k * step);
    return 0;
}

static int method(ch_render *r, const ch_node *e, const ch_node *m, ch_val obj, ch_val *out)
{
    ch_val a[2] = {{.k = V_NONE}, {.k = V_NONE}};
    int np = 0;
    ch_node named = *e;
    named.s = m->s, named.n = m->n;
    if (ch_args(r, &named, a, 2, &np, NULL, NULL, 0)) return -1;
    if (obj.k == V_DICT) {
        ch_node f = named;
        if (is(m, "get")) {
            ch_val v = a[0].k == V_STR ? ch_dict_get(obj.d, a[0].s, a[0].n) : (ch_val){.k = V_UNDEF};
            *out = v.k == V_UNDEF ? (np > 1 ? a[1] : (ch_val){.k = V_NONE}) : v;
            return 0;
        }
        if (is(m, "items") || is(m, "keys")) return seq_filter(r, (f.s = is(m, "items") ? "items" : "list", f.n = strlen(f.s), &f), obj, out);
        if (is(m, "values")) {
            *out = list_of(r, obj.d->n);
            if (out->k != V_LIST) return ch_fail(r, 0, "the render needs too much memory");
            for (int i = 0; i < obj.d->n; i++) out->l->v[out->l->n++] = obj.d->val[i];
            return 0;
        }
    } else if (obj.k == V_STR) {
        if (is(m, "strip") || is(m, "lstrip") || is(m, "rstrip"))
            return *out = strip(obj, m->s[0] != 'r', m->s[0] != 'l', a[0]), 0;
        if (is(m, "startswith") || is(m, "endswith")) {
            if (a[0].k != V_STR) return ch_fail(r, e->line, "%.*s needs a string", (int)m->n, m->s);
            size_t off = is(m, "startswith") ? 0 : obj.n - a[0].n;
            *out = ch_bool(a[0].n <= obj.n && memcmp(obj.s + off, a[0].s, a[0].n) == 0);
            return 0;
        }
        if (is(m, "split")) return split(r, e, obj, a[0], out);
        if (is(m, "replace")) {
            if (a[0].k != V_STR || a[1].k != V_STR) return ch_fail(r, e->line, "replace needs two strings");
            return replace(r, obj, a[0], a[1], -1, out);
        }
        const char *cases = "ulct";
        const char *const names[] = {"upper", "lower", "capitalize", "title"};
        for (int i = 0; i < 4; i++)
            if (is(m, names[i])) return recase(r, obj, cases[i], out);
    } else if (obj.k == V_UNDEF) {
        return ch_fail(r, e->line, "'%.*s' is undefined", (int)m->a->n, m->a->s);
    }
    return ch_fail(r, e->line, "a %s has no method '%.*s'", ch_kind_name(obj.k), (int)m->n, m->s);
}

int ch_call(ch_render *r, const ch_node *e, ch_val *out)
{
    const ch_node *f = e->a;
    if (f->kind == N_NAME) return function(r, e, f, out);
    ch_val obj;
    return ch_eval(r, f->a, &obj) || method(r, e, f, obj, out);
}

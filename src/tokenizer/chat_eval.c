/* tokenizer/chat_eval.c - rendering a parsed chat template: scopes (a for
 * loop's body gets a fresh scope each iteration, as in Jinja, so a plain
 * `set` inside a loop does not outlive it; namespace attributes do),
 * statements, expressions, and the public API of llx/chat.h.
 * A render is bounded: a million evaluation steps, 64 MiB of output and
 * 256 MiB of working memory, else it fails with a message. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer/chat_internal.h"
#include "util/status.h"

#define MAX_STEPS 1000000L

struct ch_frame {
    ch_dict vars; /* name -> value */
};

/* ---- scopes ---- */

/* A fresh scope; a popped frame's arrays are reused, so a loop does not
 * allocate per iteration for its variables. */
static int push_frame(ch_render *r)
{
    if (r->nframes == r->capframes) {
        int cap = r->capframes ? r->capframes * 2 : 8;
        ch_frame *f = realloc(r->frames, (size_t)cap * sizeof *f);
        if (!f) return ch_fail(r, 0, "the render needs too much memory");
        memset(f + r->capframes, 0, (size_t)(cap - r->capframes) * sizeof *f);
        r->frames = f, r->capframes = cap;
    }
    r->frames[r->nframes++].vars.n = 0;
    return 0;
}

static void pop_frame(ch_render *r) { r->nframes--; }

static int set_var(ch_render *r, const char *s, size_t n, ch_val v)
{
    return ch_dict_set(r, &r->frames[r->nframes - 1].vars, s, n, v);
}

static ch_val lookup(const ch_render *r, const char *s, size_t n)
{
    for (int k = r->nframes - 1; k >= 0; k--) {
        ch_val v = ch_dict_get(&r->frames[k].vars, s, n);
        if (v.k != V_UNDEF) return v;
    }
    return (ch_val){.k = V_UNDEF};
}

/* ---- expressions ---- */

/* "'name' is undefined" for an operand that is a name or attribute. */
static int undefined_use(ch_render *r, const ch_node *e)
{
    if (e->kind == N_NAME || e->kind == N_ATTR) return ch_fail(r, e->line, "'%.*s' is undefined", (int)e->n, e->s);
    return ch_fail(r, e->line, "an undefined value was used");
}

/* Byte offset of code point k of s (k <= count). */
static size_t cp_offset(const char *s, size_t n, int64_t k)
{
    size_t i = 0;
    for (; i < n && k > 0; k--)
        for (i++; i < n && ((unsigned char)s[i] & 0xC0) == 0x80; i++) {}
    return i;
}

static int64_t cp_count(const char *s, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int item(ch_render *r, const ch_node *e, ch_val obj, ch_val key, ch_val *out)
{
    *out = (ch_val){.k = V_UNDEF};
    if (obj.k == V_DICT) {
        if (key.k == V_STR) *out = ch_dict_get(obj.d, key.s, key.n);
        return 0;
    }
    if (key.k != V_INT && key.k != V_BOOL) return obj.k == V_UNDEF ? undefined_use(r, e->a) : 0;
    int64_t len = obj.k == V_LIST ? obj.l->n : obj.k == V_STR ? cp_count(obj.s, obj.n) : -1;
    if (len < 0) return obj.k == V_UNDEF ? undefined_use(r, e->a) : ch_fail(r, e->line, "a %s cannot be indexed", ch_kind_name(obj.k));
    int64_t i = key.i < 0 ? key.i + len : key.i;
    if (i < 0 || i >= len) return 0;
    if (obj.k == V_LIST) *out = obj.l->v[i];
    else {
        size_t a = cp_offset(obj.s, obj.n, i), b = cp_offset(obj.s, obj.n, i + 1);
        *out = ch_str(obj.s + a, b - a);
    }
    return 0;
}

/* Python slice bounds of length len. */
static void bounds(int64_t len, const ch_val *v, int64_t step, int64_t *start, int64_t *stop)
{
    for (int k = 0; k < 2; k++) {
        int64_t *x = k ? stop : start, def = step > 0 ? (k ? len : 0) : (k ? -1 : len - 1);
        if (v[k].k != V_INT) {
            *x = def;
            continue;
        }
        *x = v[k].i < 0 ? v[k].i + len : v[k].i;
        if (step > 0) *x = *x < 0 ? 0 : *x > len ? len : *x;
        else *x = *x < -1 ? -1 : *x > len - 1 ? len - 1 : *x;
    }
}

static int slice(ch_render *r, const ch_node *e, ch_val *out)
{
    ch_val obj, v[3] = {{.k = V_NONE}, {.k = V_NONE}, {.k = V_NONE}};
    if (ch_eval(r, e->a, &obj) || (e->b && ch_eval(r, e->b, &v[0])) || (e->c && ch_eval(r, e->c, &v[1])) ||
        (e->body.n && ch_eval(r, e->body.v[0], &v[2])))
        return -1;
    for (int k = 0; k < 3; k++)
        if (v[k].k != V_NONE && v[k].k != V_INT) return ch_fail(r, e->line, "slice indices must be integers");
    int64_t step = v[2].k == V_INT ? v[2].i : 1, start, stop;
    if (step == 0) return ch_fail(r, e->line, "slice step cannot be zero");
    if (obj.k != V_LIST && obj.k != V_STR) return obj.k == V_UNDEF ? undefined_use(r, e->a) : ch_fail(r, e->line, "a %s cannot be sliced", ch_kind_name(obj.k));
    int64_t len = obj.k == V_LIST ? obj.l->n : cp_count(obj.s, obj.n);
    bounds(len, v, step, &start, &stop);
    int64_t cnt = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (obj.k == V_LIST) {
        ch_seq *l = ch_alloc(&r->arena, sizeof *l);
        ch_val *items = ch_alloc(&r->arena, (size_t)(cnt ? cnt : 1) * sizeof *items);
        if (!l || !items) return ch_fail(r, 0, "the render needs too much memory");
        for (int64_t k = 0; k < cnt; k++) items[k] = obj.l->v[start + k * step];
        l->v = items, l->n = (int)cnt;
        *out = (ch_val){.k = V_LIST, .l = l};
        return 0;
    }
    char *buf = ch_alloc(&r->arena, obj.n + 1);
    size_t w = 0;
    if (!buf) return ch_fail(r, 0, "the render needs too much memory");
    for (int64_t k = 0; k < cnt; k++) {
        size_t a = cp_offset(obj.s, obj.n, start + k * step), b = cp_offset(obj.s, obj.n, start + k * step + 1);
        memcpy(buf + w, obj.s + a, b - a);
        w += b - a;
    }
    *out = ch_str(buf, w);
    return 0;
}

static int contains(ch_render *r, const ch_node *e, ch_val needle, ch_val hay, int *out)
{
    *out = 0;
    if (hay.k == V_STR) {
        if (needle.k != V_STR) return ch_fail(r, e->line, "'in <string>' needs a string on the left");
        *out = needle.n == 0 || memmem(hay.s, hay.n, needle.s, needle.n) != NULL;
    } else if (hay.k == V_LIST) {
        for (int i = 0; i < hay.l->n && !*out; i++) *out = ch_equal(needle, hay.l->v[i]);
    } else if (hay.k == V_DICT) {
        *out = needle.k == V_STR && ch_dict_get(hay.d, needle.s, needle.n).k != V_UNDEF;
    } else if (hay.k != V_UNDEF) {
        return ch_fail(r, e->line, "'in' needs a string, list or dict, not a %s", ch_kind_name(hay.k));
    }
    return 0;
}

static int compare(ch_render *r, const ch_node *e, ch_val a, ch_val b, int *cmp)
{
    if ((a.k == V_INT || a.k == V_BOOL) && (b.k == V_INT || b.k == V_BOOL)) *cmp = (a.i > b.i) - (a.i < b.i);
    else if (a.k == V_STR && b.k == V_STR) {
        int c = memcmp(a.s, b.s, a.n < b.n ? a.n : b.n);
        *cmp = c ? (c > 0) - (c < 0) : (a.n > b.n) - (a.n < b.n);
    } else return ch_fail(r, e->line, "cannot order a %s and a %s", ch_kind_name(a.k), ch_kind_name(b.k));
    return 0;
}

static int concat(ch_render *r, ch_val a, ch_val b, ch_val *out)
{
    char *s = ch_alloc(&r->arena, a.n + b.n + 1);
    if (!s) return ch_fail(r, 0, "the text is too large");
    memcpy(s, a.s, a.n);
    memcpy(s + a.n, b.s, b.n);
    *out = ch_str(s, a.n + b.n);
    return 0;
}

static int arith(ch_render *r, const ch_node *e, ch_val a, ch_val b, ch_val *out)
{
    if (e->op == OP_ADD && a.k == V_STR && b.k == V_STR) return concat(r, a, b, out);
    if (e->op == OP_ADD && a.k == V_LIST && b.k == V_LIST) {
        ch_seq *l = ch_alloc(&r->arena, sizeof *l);
        ch_val *v = ch_alloc(&r->arena, (size_t)(a.l->n + b.l->n + 1) * sizeof *v);
        if (!l || !v) return ch_fail(r, 0, "the render needs too much memory");
        memcpy(v, a.l->v, (size_t)a.l->n * sizeof *v);
        memcpy(v + a.l->n, b.l->v, (size_t)b.l->n * sizeof *v);
        l->v = v, l->n = a.l->n + b.l->n;
        *out = (ch_val){.k = V_LIST, .l = l};
        return 0;
    }
    int ints = (a.k == V_INT || a.k == V_BOOL) && (b.k == V_INT || b.k == V_BOOL);
    if (!ints) {
        if (a.k == V_UNDEF) return undefined_use(r, e->a);
        if (b.k == V_UNDEF) return undefined_use(r, e->b);
        return ch_fail(r, e->line, "unsupported operands: %s and %s", ch_kind_name(a.k), ch_kind_name(b.k));
    }
    int64_t x = a.i, y = b.i, z;
    switch (e->op) {
    case OP_ADD: if (__builtin_add_overflow(x, y, &z)) goto overflow; break;
    case OP_SUB: if (__builtin_sub_overflow(x, y, &z)) goto overflow; break;
    case OP_MUL: if (__builtin_mul_overflow(x, y, &z)) goto overflow; break;
    default: /* floor division and modulo, Python's signs */
        if (y == 0) return ch_fail(r, e->line, "division by zero");
        if (x == INT64_MIN && y == -1) goto overflow;
        z = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) z--;
        if (e->op == OP_MOD) z = x - z * y;
    }
    *out = ch_int(z);
    return 0;
overflow:
    return ch_fail(r, e->line, "integer overflow");
}

static int binop(ch_render *r, const ch_node *e, ch_val *out)
{
    ch_val a, b;
    if (ch_eval(r, e->a, &a)) return -1;
    if (e->op == OP_AND || e->op == OP_OR) { /* the deciding operand, as in Python */
        if (ch_truthy(a) == (e->op == OP_OR)) {
            *out = a;
            return 0;
        }
        return ch_eval(r, e->b, out);
    }
    if (ch_eval(r, e->b, &b)) return -1;
    int c = 0;
    switch (e->op) {
    case OP_EQ: *out = ch_bool(ch_equal(a, b)); return 0;
    case OP_NE: *out = ch_bool(!ch_equal(a, b)); return 0;
    case OP_IN:
    case OP_NOTIN:
        if (contains(r, e, a, b, &c)) return -1;
        *out = ch_bool(e->op == OP_IN ? c : !c);
        return 0;
    case OP_LT: case OP_GT: case OP_LE: case OP_GE:
        if (compare(r, e, a, b, &c)) return -1;
        *out = ch_bool(e->op == OP_LT ? c < 0 : e->op == OP_GT ? c > 0 : e->op == OP_LE ? c <= 0 : c >= 0);
        return 0;
    case OP_CONCAT:
        return ch_to_string(r, a, &a) || ch_to_string(r, b, &b) || concat(r, a, b, out);
    default: return arith(r, e, a, b, out);
    }
}

static int collection(ch_render *r, const ch_node *e, ch_val *out)
{
    if (e->kind == N_LIST) {
        ch_seq *l = ch_alloc(&r->arena, sizeof *l);
        ch_val *v = ch_alloc(&r->arena, (size_t)(e->body.n + 1) * sizeof *v);
        if (!l || !v) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < e->body.n; i++)
            if (ch_eval(r, e->body.v[i], &v[i])) return -1;
        l->v = v, l->n = e->body.n;
        *out = (ch_val){.k = V_LIST, .l = l};
        return 0;
    }
    ch_dict *d = ch_alloc(&r->arena, sizeof *d);
    if (!d) return ch_fail(r, 0, "the render needs too much memory");
    for (int i = 0; i + 1 < e->body.n; i += 2) {
        ch_val k, v;
        if (ch_eval(r, e->body.v[i], &k) || ch_eval(r, e->body.v[i + 1], &v)) return -1;
        if (k.k != V_STR) return ch_fail(r, e->line, "dict keys must be strings");
        if (ch_dict_set(r, d, k.s, k.n, v)) return -1;
    }
    *out = (ch_val){.k = V_DICT, .d = d};
    return 0;
}

int ch_eval(ch_render *r, const ch_node *e, ch_val *out)
{
    if (++r->steps > MAX_STEPS) return ch_fail(r, e->line, "the template takes too many steps");
    ch_val v;
    int t;
    switch (e->kind) {
    case N_STR: *out = ch_str(e->s, e->n); return 0;
    case N_INT: *out = ch_int(e->ival); return 0;
    case N_BOOL: *out = ch_bool((int)e->ival); return 0;
    case N_NONE: *out = (ch_val){.k = V_NONE}; return 0;
    case N_NAME: *out = lookup(r, e->s, e->n); return 0;
    case N_ATTR:
        if (ch_eval(r, e->a, &v)) return -1;
        if (v.k == V_UNDEF) return undefined_use(r, e->a);
        *out = v.k == V_DICT ? ch_dict_get(v.d, e->s, e->n) : (ch_val){.k = V_UNDEF};
        return 0;
    case N_ITEM: {
        ch_val k;
        return ch_eval(r, e->a, &v) || ch_eval(r, e->b, &k) || item(r, e, v, k, out);
    }
    case N_SLICE: return slice(r, e, out);
    case N_CALL: return ch_call(r, e, out);
    case N_FILTER: return ch_eval(r, e->a, &v) || ch_apply_filter(r, e, v, out);
    case N_TEST:
        if (ch_eval(r, e->a, &v) || ch_apply_test(r, e, v, &t)) return -1;
        *out = ch_bool(e->op ? !t : t);
        return 0;
    case N_BIN: return binop(r, e, out);
    case N_NOT:
        if (ch_eval(r, e->a, &v)) return -1;
        *out = ch_bool(!ch_truthy(v));
        return 0;
    case N_NEG:
        if (ch_eval(r, e->a, &v)) return -1;
        if (v.k != V_INT && v.k != V_BOOL) return ch_fail(r, e->line, "cannot negate a %s", ch_kind_name(v.k));
        if (v.i == INT64_MIN) return ch_fail(r, e->line, "integer overflow");
        *out = ch_int(-v.i);
        return 0;
    case N_COND:
        if (ch_eval(r, e->b, &v)) return -1;
        if (ch_truthy(v)) return ch_eval(r, e->a, out);
        if (e->c) return ch_eval(r, e->c, out);
        *out = (ch_val){.k = V_UNDEF};
        return 0;
    case N_LIST:
    case N_DICT: return collection(r, e, out);
    default: return ch_fail(r, e->line, "internal error: not an expression");
    }
}

/* ---- statements ---- */

static int exec_list(ch_render *r, const ch_list *l);

/* The items a for loop walks: a list's items, a dict's keys, a string's
 * characters; undefined walks nothing. */
static int iterable(ch_render *r, const ch_node *e, ch_val v, ch_seq *out)
{
    out->v = NULL, out->n = 0;
    if (v.k == V_LIST) {
        *out = *v.l;
        return 0;
    }
    if (v.k == V_UNDEF) return 0;
    int n = v.k == V_DICT ? v.d->n : v.k == V_STR ? (int)cp_count(v.s, v.n) : -1;
    if (n < 0) return ch_fail(r, e->line, "a %s is not iterable", ch_kind_name(v.k));
    out->v = ch_alloc(&r->arena, (size_t)(n + 1) * sizeof *out->v);
    if (!out->v) return ch_fail(r, 0, "the render needs too much memory");
    for (int i = 0; i < n; i++) {
        if (v.k == V_DICT) out->v[i] = ch_str(v.d->key[i], v.d->klen[i]);
        else {
            size_t a = cp_offset(v.s, v.n, i), b = cp_offset(v.s, v.n, i + 1);
            out->v[i] = ch_str(v.s + a, b - a);
        }
    }
    out->n = n;
    return 0;
}

static int bind(ch_render *r, const ch_node *e, ch_val item)
{
    if (!e->b) return set_var(r, e->s, e->n, item);
    if (item.k != V_LIST || item.l->n != 2) return ch_fail(r, e->line, "cannot unpack a %s into two names", ch_kind_name(item.k));
    return set_var(r, e->s, e->n, item.l->v[0]) || set_var(r, e->b->s, e->b->n, item.l->v[1]);
}

/* The loop variable's attributes for item i, in d (one dict per loop,
 * updated in place). */
static int loop_info(ch_render *r, ch_dict *d, const ch_seq *items, int i, ch_val *out)
{
    int n = items->n;
    ch_val undef = {.k = V_UNDEF};
    if (ch_dict_set(r, d, "index", 5, ch_int(i + 1)) || ch_dict_set(r, d, "index0", 6, ch_int(i)) ||
        ch_dict_set(r, d, "revindex", 8, ch_int(n - i)) || ch_dict_set(r, d, "revindex0", 9, ch_int(n - i - 1)) ||
        ch_dict_set(r, d, "first", 5, ch_bool(i == 0)) || ch_dict_set(r, d, "last", 4, ch_bool(i == n - 1)) ||
        ch_dict_set(r, d, "length", 6, ch_int(n)) || ch_dict_set(r, d, "previtem", 8, i > 0 ? items->v[i - 1] : undef) ||
        ch_dict_set(r, d, "nextitem", 8, i + 1 < n ? items->v[i + 1] : undef))
        return -1;
    *out = (ch_val){.k = V_DICT, .d = d};
    return 0;
}

static int exec_for(ch_render *r, const ch_node *e)
{
    ch_val v;
    ch_seq all, items;
    if (ch_eval(r, e->a, &v) || iterable(r, e->a, v, &all)) return -1;
    items = all;
    if (e->c) { /* "for x in y if cond": the loop sees only the items kept */
        items.v = ch_alloc(&r->arena, (size_t)(all.n + 1) * sizeof *items.v);
        items.n = 0;
        if (!items.v) return ch_fail(r, 0, "the render needs too much memory");
        for (int i = 0; i < all.n; i++) {
            ch_val keep;
            if (push_frame(r)) return -1;
            int bad = bind(r, e, all.v[i]) || ch_eval(r, e->c, &keep);
            pop_frame(r);
            if (bad) return -1;
            if (ch_truthy(keep)) items.v[items.n++] = all.v[i];
        }
    }
    if (items.n == 0) return exec_list(r, &e->orelse);
    ch_dict *d = ch_alloc(&r->arena, sizeof *d);
    if (!d) return ch_fail(r, e->line, "the render needs too much memory");
    for (int i = 0; i < items.n; i++) {
        ch_val loop;
        if (++r->steps > MAX_STEPS) return ch_fail(r, e->line, "the template takes too many steps");
        if (push_frame(r)) return -1;
        int bad = bind(r, e, items.v[i]) || loop_info(r, d, &items, i, &loop) || set_var(r, "loop", 4, loop) ||
                  exec_list(r, &e->body);
        pop_frame(r);
        if (bad) return -1;
        r->cont = 0;
        if (r->brk) {
            r->brk = 0;
            break;
        }
    }
    return 0;
}

static int exec_set(ch_render *r, const ch_node *e)
{
    ch_val v;
    if (ch_eval(r, e->a, &v)) return -1;
    if (!e->b) return set_var(r, e->s, e->n, v);
    ch_val ns = lookup(r, e->s, e->n);
    if (ns.k != V_DICT || !ns.d->is_ns)
        return ch_fail(r, e->line, "cannot set an attribute of '%.*s' (not a namespace)", (int)e->n, e->s);
    return ch_dict_set(r, ns.d, e->b->s, e->b->n, v);
}

static int exec_list(ch_render *r, const ch_list *l)
{
    for (int i = 0; i < l->n && !r->brk && !r->cont; i++) {
        const ch_node *e = l->v[i];
        ch_val v;
        if (++r->steps > MAX_STEPS) return ch_fail(r, e->line, "the template takes too many steps");
        int bad = 0;
        switch (e->kind) {
        case N_TEXT: bad = ch_print(r, ch_str(e->s, e->n)); break;
        case N_OUT: bad = ch_eval(r, e->a, &v) || ch_print(r, v); break;
        case N_IF: bad = ch_eval(r, e->a, &v) || exec_list(r, ch_truthy(v) ? &e->body : &e->orelse); break;
        case N_FOR: bad = exec_for(r, e); break;
        case N_SET: bad = exec_set(r, e); break;
        case N_BREAK: r->brk = 1; break;
        case N_CONTINUE: r->cont = 1; break;
        case N_BLOCK: bad = exec_list(r, &e->body); break;
        default: bad = ch_fail(r, e->line, "internal error: not a statement");
        }
        if (bad) return -1;
    }
    return 0;
}

/* ---- public ---- */

llx_status llx_chat_template_parse(llx_chat_template **out, const char *source, size_t len, const char *bos_token,
                                   const char *eos_token)
{
    *out = NULL;
    llx_chat_template *t = calloc(1, sizeof *t);
    if (!t) return llx_fail(LLX_ERR_NOMEM, "chat template: out of memory");
    t->arena.limit = (size_t)64 << 20;
    llx_status st = ch_parse(t, source, len);
    if (st == LLX_OK && bos_token && !(t->bos = strdup(bos_token))) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK && eos_token && !(t->eos = strdup(eos_token))) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st != LLX_OK) {
        llx_chat_template_free(t);
        return st;
    }
    *out = t;
    return LLX_OK;
}

/* A NUL-terminated copy of token id's text, or NULL. */
static char *token_text(const llx_tokenizer *t, int id)
{
    size_t n = 0;
    const char *b = id >= 0 ? llx_token_bytes(t, id, &n) : NULL;
    return b ? strndup(b, n) : NULL;
}

llx_status llx_chat_template_of(llx_chat_template **out, const llx_tokenizer *t)
{
    *out = NULL;
    const char *src = llx_tokenizer_chat_template(t);
    return src ? llx_chat_template_parse_for(out, src, strlen(src), t) : LLX_OK;
}

llx_status llx_chat_template_parse_for(llx_chat_template **out, const char *source, size_t len, const llx_tokenizer *t)
{
    *out = NULL;
    char *bos = token_text(t, llx_tokenizer_bos(t)), *eos = token_text(t, llx_tokenizer_eos(t));
    llx_status st = llx_chat_template_parse(out, source, len, bos, eos);
    free(bos);
    free(eos);
    return st;
}

void llx_chat_template_free(llx_chat_template *t)
{
    if (!t) return;
    ch_arena_free(&t->arena);
    free(t->bos);
    free(t->eos);
    free(t);
}

static int globals(ch_render *r, const llx_chat_msg *msgs, int n, int add_generation_prompt)
{
    ch_seq *l = ch_alloc(&r->arena, sizeof *l);
    ch_val *v = ch_alloc(&r->arena, (size_t)(n + 1) * sizeof *v);
    if (!l || !v || push_frame(r)) return ch_fail(r, 0, "the render needs too much memory");
    for (int i = 0; i < n; i++) {
        ch_dict *d = ch_alloc(&r->arena, sizeof *d);
        if (!d) return ch_fail(r, 0, "the render needs too much memory");
        const char *role = msgs[i].role ? msgs[i].role : "", *content = msgs[i].content ? msgs[i].content : "";
        if (ch_dict_set(r, d, "role", 4, ch_str(role, strlen(role))) ||
            ch_dict_set(r, d, "content", 7, ch_str(content, strlen(content))))
            return -1;
        v[i] = (ch_val){.k = V_DICT, .d = d};
    }
    l->v = v, l->n = n;
    const llx_chat_template *t = r->t;
    return set_var(r, "messages", 8, (ch_val){.k = V_LIST, .l = l}) ||
           set_var(r, "add_generation_prompt", 21, ch_bool(add_generation_prompt)) ||
           (t->bos && set_var(r, "bos_token", 9, ch_str(t->bos, strlen(t->bos)))) ||
           (t->eos && set_var(r, "eos_token", 9, ch_str(t->eos, strlen(t->eos))));
}

static llx_status render(const llx_chat_template *t, const llx_chat_msg *msgs, int n, int add_generation_prompt,
                         long long now, int local_time, char **out)
{
    *out = NULL;
    if (n < 0 || (n > 0 && !msgs)) return llx_fail(LLX_ERR_ARG, "chat template: bad message list");
    ch_render r = {.t = t, .now = now, .local_time = local_time};
    r.arena.limit = (size_t)256 << 20;
    int bad = globals(&r, msgs, n, add_generation_prompt) || exec_list(&r, &t->top);
    if (!bad && !r.out.s && !(r.out.s = calloc(1, 1))) bad = ch_fail(&r, 0, "out of memory");
    ch_arena_free(&r.arena);
    free(r.frames);
    if (bad) {
        free(r.out.s);
        return LLX_ERR_ARG;
    }
    *out = r.out.s;
    return LLX_OK;
}

llx_status llx_chat_render_at(const llx_chat_template *t, const llx_chat_msg *msgs, int n, int add_generation_prompt,
                              long long now_utc, char **out)
{
    return render(t, msgs, n, add_generation_prompt, now_utc, 0, out);
}

llx_status llx_chat_render(const llx_chat_template *t, const llx_chat_msg *msgs, int n, int add_generation_prompt,
                           char **out)
{
    return render(t, msgs, n, add_generation_prompt, (long long)time(NULL), 1, out);
}

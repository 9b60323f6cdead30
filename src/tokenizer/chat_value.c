/* tokenizer/chat_value.c - chat template values: the arena every parse and
 * render allocates from, truthiness and equality (Python's rules for the
 * kinds there are), printing as {{ }} does, tojson as Python's json.dumps
 * (ensure_ascii off), dictionaries, and render errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/chat_internal.h"
#include "util/status.h"

/* ---- arena ---- */

struct ch_chunk {
    struct ch_chunk *next;
    size_t cap, used;
    max_align_t data[];
};

void *ch_alloc(ch_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->limit && a->used + n > a->limit) return NULL;
    struct ch_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head, c->cap = cap, c->used = 0;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *ch_strdup(ch_arena *a, const char *s, size_t n)
{
    char *p = ch_alloc(a, n + 1);
    if (p && n) memcpy(p, s, n);
    return p;
}

void ch_arena_free(ch_arena *a)
{
    for (struct ch_chunk *c = a->head, *next; c; c = next) next = c->next, free(c);
    a->head = NULL;
    a->used = 0;
}

/* ---- values ---- */

ch_val ch_str(const char *s, size_t n) { return (ch_val){.k = V_STR, .s = s, .n = n}; }
ch_val ch_int(int64_t i) { return (ch_val){.k = V_INT, .i = i}; }
ch_val ch_bool(int b) { return (ch_val){.k = V_BOOL, .i = b != 0}; }

const char *ch_kind_name(ch_vk k)
{
    static const char *const names[] = {"undefined", "none", "boolean", "integer", "string", "list", "dict"};
    return names[k];
}

int ch_truthy(ch_val v)
{
    switch (v.k) {
    case V_BOOL:
    case V_INT: return v.i != 0;
    case V_STR: return v.n > 0;
    case V_LIST: return v.l->n > 0;
    case V_DICT: return v.d->n > 0;
    default: return 0;
    }
}

int ch_equal(ch_val a, ch_val b)
{
    int num_a = a.k == V_INT || a.k == V_BOOL, num_b = b.k == V_INT || b.k == V_BOOL;
    if (num_a && num_b) return a.i == b.i;
    if (a.k != b.k) return 0;
    switch (a.k) {
    case V_STR: return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
    case V_LIST:
        if (a.l->n != b.l->n) return 0;
        for (int i = 0; i < a.l->n; i++)
            if (!ch_equal(a.l->v[i], b.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a.d->n != b.d->n) return 0;
        for (int i = 0; i < a.d->n; i++) {
            ch_val o = ch_dict_get(b.d, a.d->key[i], a.d->klen[i]);
            if (o.k == V_UNDEF || !ch_equal(a.d->val[i], o)) return 0;
        }
        return 1;
    default: return 1; /* none == none, undefined == undefined */
    }
}

ch_val ch_dict_get(const ch_dict *d, const char *k, size_t kn)
{
    for (int i = 0; i < d->n; i++)
        if (d->klen[i] == kn && memcmp(d->key[i], k, kn) == 0) return d->val[i];
    return (ch_val){.k = V_UNDEF};
}

int ch_dict_set(ch_render *r, ch_dict *d, const char *k, size_t kn, ch_val v)
{
    for (int i = 0; i < d->n; i++)
        if (d->klen[i] == kn && memcmp(d->key[i], k, kn) == 0) {
            d->val[i] = v;
            return 0;
        }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 4;
        const char **key = ch_alloc(&r->arena, (size_t)cap * sizeof *key);
        size_t *klen = ch_alloc(&r->arena, (size_t)cap * sizeof *klen);
        ch_val *val = ch_alloc(&r->arena, (size_t)cap * sizeof *val);
        if (!key || !klen || !val) return ch_fail(r, 0, "the render needs too much memory");
        if (d->n) {
            memcpy(key, d->key, (size_t)d->n * sizeof *key);
            memcpy(klen, d->klen, (size_t)d->n * sizeof *klen);
            memcpy(val, d->val, (size_t)d->n * sizeof *val);
        }
        d->key = key, d->klen = klen, d->val = val, d->cap = cap;
    }
    d->key[d->n] = k, d->klen[d->n] = kn, d->val[d->n++] = v;
    return 0;
}

int ch_fail(ch_render *r, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) llx_fail(LLX_ERR_ARG, "chat template: line %d: %s", line, msg);
    else llx_fail(LLX_ERR_ARG, "chat template: %s", msg);
    (void)r;
    return -1;
}

/* ---- printing ---- */

typedef struct sb {
    ch_render *r;
    char *s;
    size_t n, cap;
} sb;

static int put(sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = ch_alloc(&b->r->arena, cap);
        if (!p) return ch_fail(b->r, 0, "the output is too large");
        if (b->n) memcpy(p, b->s, b->n);
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

static int puts_(sb *b, const char *s) { return put(b, s, strlen(s)); }

/* Python repr of a string: single quotes unless it holds one and no double. */
static int repr_str(sb *b, const char *s, size_t n)
{
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    if (put(b, &q, 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\n' ? "\\n" : s[i] == '\t' ? "\\t" : s[i] == '\r' ? "\\r" : s[i] == '\\' ? "\\\\" : NULL;
        if (s[i] == q) esc = q == '\'' ? "\\'" : "\\\"";
        if (esc ? puts_(b, esc) : put(b, s + i, 1)) return -1;
    }
    return put(b, &q, 1);
}

static int show(sb *b, ch_val v, int nested)
{
    char num[32];
    switch (v.k) {
    case V_UNDEF: return 0;
    case V_NONE: return puts_(b, "None");
    case V_BOOL: return puts_(b, v.i ? "True" : "False");
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.i); return puts_(b, num);
    case V_STR: return nested ? repr_str(b, v.s, v.n) : put(b, v.s, v.n);
    case V_LIST:
        if (puts_(b, "[")) return -1;
        for (int i = 0; i < v.l->n; i++)
            if ((i && puts_(b, ", ")) || show(b, v.l->v[i], 1)) return -1;
        return puts_(b, "]");
    case V_DICT:
        if (puts_(b, "{")) return -1;
        for (int i = 0; i < v.d->n; i++)
            if ((i && puts_(b, ", ")) || repr_str(b, v.d->key[i], v.d->klen[i]) || puts_(b, ": ") ||
                show(b, v.d->val[i], 1))
                return -1;
        return puts_(b, "}");
    }
    return 0;
}

int ch_print(ch_render *r, ch_val v)
{
    if (v.k == V_STR) { /* the output grows outside the arena: it is handed to the caller */
        if (r->out.n + v.n + 1 > r->out.cap) {
            size_t cap = r->out.cap ? r->out.cap : 256;
            while (r->out.n + v.n + 1 > cap) cap *= 2;
            if (cap > ((size_t)64 << 20)) return ch_fail(r, 0, "the output is larger than 64 MiB");
            char *p = realloc(r->out.s, cap);
            if (!p) return ch_fail(r, 0, "the render needs too much memory");
            r->out.s = p, r->out.cap = cap;
        }
        memcpy(r->out.s + r->out.n, v.s, v.n);
        r->out.n += v.n;
        r->out.s[r->out.n] = 0;
        return 0;
    }
    ch_val s;
    return ch_to_string(r, v, &s) || ch_print(r, s);
}

int ch_to_string(ch_render *r, ch_val v, ch_val *out)
{
    if (v.k == V_STR) {
        *out = v;
        return 0;
    }
    sb b = {r, NULL, 0, 0};
    if (show(&b, v, 0)) return -1;
    *out = ch_str(b.s ? b.s : "", b.n);
    return 0;
}

/* ---- tojson ---- */

static int json_str(sb *b, const char *s, size_t n)
{
    if (puts_(b, "\"")) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n') strcpy(esc, "\\n");
        else if (c == '\r') strcpy(esc, "\\r");
        else if (c == '\t') strcpy(esc, "\\t");
        else if (c == '\b') strcpy(esc, "\\b");
        else if (c == '\f') strcpy(esc, "\\f");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c);
        else esc[0] = 0;
        if (esc[0] ? puts_(b, esc) : put(b, s + i, 1)) return -1;
    }
    return puts_(b, "\"");
}

static int newline(sb *b, int indent, int level)
{
    if (indent < 0) return 0;
    if (puts_(b, "\n")) return -1;
    for (int i = 0; i < indent * level; i++)
        if (puts_(b, " ")) return -1;
    return 0;
}

static int json(sb *b, ch_val v, int indent, int level)
{
    if (level > 64) return ch_fail(b->r, 0, "tojson: nested too deeply");
    const char *sep = indent < 0 ? ", " : ",";
    switch (v.k) {
    case V_STR: return json_str(b, v.s, v.n);
    case V_LIST:
        if (v.l->n == 0) return puts_(b, "[]");
        if (puts_(b, "[")) return -1;
        for (int i = 0; i < v.l->n; i++)
            if ((i && puts_(b, sep)) || newline(b, indent, level + 1) || json(b, v.l->v[i], indent, level + 1)) return -1;
        return newline(b, indent, level) || puts_(b, "]");
    case V_DICT:
        if (v.d->n == 0) return puts_(b, "{}");
        if (puts_(b, "{")) return -1;
        for (int i = 0; i < v.d->n; i++)
            if ((i && puts_(b, sep)) || newline(b, indent, level + 1) || json_str(b, v.d->key[i], v.d->klen[i]) ||
                puts_(b, ": ") || json(b, v.d->val[i], indent, level + 1))
                return -1;
        return newline(b, indent, level) || puts_(b, "}");
    case V_BOOL: return puts_(b, v.i ? "true" : "false");
    case V_INT: return show(b, v, 0);
    default: return puts_(b, "null");
    }
}

int ch_tojson(ch_render *r, ch_val v, int indent, ch_val *out)
{
    sb b = {r, NULL, 0, 0};
    if (json(&b, v, indent, 0)) return -1;
    *out = ch_str(b.s ? b.s : "", b.n);
    return 0;
}

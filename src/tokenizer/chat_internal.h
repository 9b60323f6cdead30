/* tokenizer/chat_internal.h - the chat template renderer's pieces:
 * chat_lex.c (source -> tokens, whitespace control), chat_parse.c
 * (tokens -> syntax tree, names checked against the supported set),
 * chat_eval.c (statements and expressions), chat_builtin.c (filters, tests,
 * methods, functions) and chat_value.c (values, the per-render arena,
 * printing, tojson).  Not a public header: see include/llx/chat.h. */
#ifndef LLX_CHAT_INTERNAL_H
#define LLX_CHAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llx/chat.h"

/* ---- arena: everything a parse or a render allocates ---- */

typedef struct ch_arena {
    struct ch_chunk *head;
    size_t used, limit; /* bytes handed out; the render fails beyond limit */
} ch_arena;

void *ch_alloc(ch_arena *a, size_t n); /* zeroed; NULL past the limit or out of memory */
char *ch_strdup(ch_arena *a, const char *s, size_t n);
void ch_arena_free(ch_arena *a);

/* ---- tokens ---- */

typedef enum ch_tk {
    TK_TEXT,
    TK_VAR_BEGIN, /* {{ */
    TK_VAR_END,
    TK_BLOCK_BEGIN, /* {% */
    TK_BLOCK_END,
    TK_NAME,
    TK_STR, /* s/n: the decoded string */
    TK_INT,
    TK_OP, /* s/n: the operator's characters */
    TK_EOF,
} ch_tk;

typedef struct ch_token {
    ch_tk kind;
    int line;
    const char *s;
    size_t n;
    int64_t ival;
} ch_token;

/* Tokens of src (with trim_blocks, lstrip_blocks, the '-' modifiers and the
 * final newline removed, as transformers' Jinja environment does).  Returns
 * the count (the last is TK_EOF), or -1 with llx_fail set. */
long ch_lex(ch_arena *a, const char *src, size_t len, ch_token **out);

/* ---- syntax tree ---- */

typedef enum ch_kind {
    /* statements */
    N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_BREAK, N_CONTINUE, N_BLOCK,
    /* expressions */
    N_STR, N_INT, N_BOOL, N_NONE, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BIN, N_NOT, N_NEG,
    N_COND, N_LIST, N_DICT, N_KW,
} ch_kind;

typedef enum ch_op {
    OP_ADD, OP_SUB, OP_MUL, OP_FLOORDIV, OP_MOD, OP_CONCAT, OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_AND, OP_OR,
    OP_IN, OP_NOTIN,
} ch_op;

typedef struct ch_node ch_node;
typedef struct ch_list {
    ch_node **v;
    int n, cap;
} ch_list;

/* One node.  Statements: N_TEXT (s), N_OUT (a), N_IF (a: condition, body,
 * orelse), N_FOR (s: loop variable, b: second variable (N_NAME) or NULL,
 * a: iterable, c: filter condition or NULL, body, orelse), N_SET (s: name,
 * b: attribute (N_NAME) for "set ns.attr" or NULL, a: value), N_BREAK,
 * N_CONTINUE, N_BLOCK (body: a {% generation %} block).  Expressions keep
 * operands in a/b/c, call arguments / list items / dict keys and values in
 * body and keyword arguments (N_KW: s = name, a = value) in orelse. */
struct ch_node {
    ch_kind kind;
    int op; /* ch_op; for N_TEST 1 = negated */
    int line;
    const char *s;
    size_t n;
    int64_t ival;
    ch_node *a, *b, *c;
    ch_list body, orelse;
};

/* The template: a parse arena and the top-level statement list. */
struct llx_chat_template {
    ch_arena arena;
    ch_list top;
    char *bos, *eos; /* NULL = undefined */
};

llx_status ch_parse(llx_chat_template *t, const char *src, size_t len);

/* ---- values ---- */

typedef enum ch_vk { V_UNDEF, V_NONE, V_BOOL, V_INT, V_STR, V_LIST, V_DICT } ch_vk;

typedef struct ch_val ch_val;
typedef struct ch_seq {
    ch_val *v;
    int n;
} ch_seq;
typedef struct ch_dict {
    const char **key;
    size_t *klen;
    ch_val *val;
    int n, cap;
    int is_ns; /* a namespace(): attributes may be set */
} ch_dict;

struct ch_val {
    ch_vk k;
    union {
        int64_t i; /* V_BOOL, V_INT */
        struct {
            const char *s; /* V_STR */
            size_t n;
        };
        ch_seq *l; /* V_LIST */
        ch_dict *d; /* V_DICT */
    };
};

/* The render in progress. */
typedef struct ch_frame ch_frame;
typedef struct ch_render {
    ch_arena arena;
    const llx_chat_template *t;
    struct {
        char *s;
        size_t n, cap;
    } out;
    ch_frame *frames;
    int nframes, capframes;
    long long now;  /* strftime_now's time */
    int local_time; /* 1: in local time (llx_chat_render), 0: UTC */
    long steps;
    int brk, cont; /* break / continue pending */
    int depth;
} ch_render;

ch_val ch_str(const char *s, size_t n);
ch_val ch_int(int64_t i);
ch_val ch_bool(int b);
int ch_truthy(ch_val v);
int ch_equal(ch_val a, ch_val b);
const char *ch_kind_name(ch_vk k);
/* Append v as {{ v }} prints it to the render's output (or to *buf when
 * buf != NULL: a string made in the arena).  Returns -1 on failure. */
int ch_print(ch_render *r, ch_val v);
int ch_to_string(ch_render *r, ch_val v, ch_val *out);
/* JSON of v (indent < 0: one line with ", " and ": " as Python's json.dumps). */
int ch_tojson(ch_render *r, ch_val v, int indent, ch_val *out);
int ch_dict_set(ch_render *r, ch_dict *d, const char *k, size_t kn, ch_val v);
ch_val ch_dict_get(const ch_dict *d, const char *k, size_t kn);
int ch_fail(ch_render *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- builtins (chat_builtin.c) ---- */

/* Is name a supported filter / test / function / method?  (parse time) */
int ch_known_filter(const char *s, size_t n);
int ch_known_test(const char *s, size_t n);
int ch_known_function(const char *s, size_t n);
int ch_known_method(const char *s, size_t n);

int ch_eval(ch_render *r, const ch_node *e, ch_val *out);
int ch_apply_filter(ch_render *r, const ch_node *e, ch_val in, ch_val *out);
int ch_apply_test(ch_render *r, const ch_node *e, ch_val in, int *out);
int ch_call(ch_render *r, const ch_node *e, ch_val *out);
/* Evaluated positional and keyword arguments of a call-like node. */
int ch_args(ch_render *r, const ch_node *e, ch_val *pos, int maxpos, int *npos, ch_val *kw, const char *const *kwnames,
            int nkw);

#endif

/* tokenizer/chat_parse.c - chat template tokens -> syntax tree.
 *
 * Statements: if / elif / else / endif; for NAME [, NAME] in EXPR [if EXPR]
 * ... [else] endfor; set NAME = EXPR and set NAME.ATTR = EXPR; break and
 * continue inside a loop; generation ... endgeneration (rendered as is).
 * Expressions with Jinja's precedence: a if c else b; or; and; not;
 * comparisons (== != < > <= >= in, not in); ~; + -; * // %; unary - and +;
 * then literals (strings, integers, true/false/none in either case, lists,
 * dicts), names, attributes, subscripts and slices, calls, filters
 * ("| name(args)") and tests ("is [not] name [arg]").  Filters, tests,
 * functions and methods must be in chat_builtin.c's lists; anything else,
 * and any other statement, is refused here with its line. */
#include <stdio.h>
#include <string.h>

#include "tokenizer/chat_internal.h"
#include "util/status.h"

typedef struct parser {
    llx_chat_template *t;
    ch_token *tk;
    long pos;
    int loops; /* enclosing for loops */
    int depth; /* nesting, bounded */
} parser;

static const ch_token *peek(parser *P) { return &P->tk[P->pos]; }

static int tok_is(const ch_token *t, ch_tk k, const char *s)
{
    return t->kind == k && (!s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0));
}

static int accept(parser *P, ch_tk k, const char *s)
{
    if (!tok_is(peek(P), k, s)) return 0;
    P->pos++;
    return 1;
}

/* Fail with "chat template: line N: <before><what><after>". */
static void *err(parser *P, llx_status st, const char *before, const char *what, size_t n, const char *after)
{
    llx_fail(st, "chat template: line %d: %s%.*s%s", peek(P)->line, before, (int)(n < 40 ? n : 40), what ? what : "",
             after);
    return NULL;
}

static const char *show(const ch_token *t)
{
    switch (t->kind) {
    case TK_EOF: return "end of template";
    case TK_VAR_END: return "}}";
    case TK_BLOCK_END: return "%}";
    case TK_TEXT: return "text";
    default: return NULL;
    }
}

static void *unexpected(parser *P)
{
    const ch_token *t = peek(P);
    const char *s = show(t);
    return err(P, LLX_ERR_FORMAT, "unexpected '", s ? s : t->s, s ? strlen(s) : t->n, "'");
}

static int expect(parser *P, ch_tk k, const char *s)
{
    if (accept(P, k, s)) return 1;
    unexpected(P);
    return 0;
}

static ch_node *node(parser *P, ch_kind k)
{
    ch_node *n = ch_alloc(&P->t->arena, sizeof *n);
    if (!n) llx_fail(LLX_ERR_NOMEM, "chat template: out of memory");
    else n->kind = k, n->line = peek(P)->line;
    return n;
}

static int push(parser *P, ch_list *l, ch_node *n)
{
    if (!n) return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        ch_node **v = ch_alloc(&P->t->arena, (size_t)cap * sizeof *v);
        if (!v) return llx_fail(LLX_ERR_NOMEM, "chat template: out of memory"), 0;
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = n;
    return 1;
}

static ch_node *expr(parser *P);
static ch_node *or_expr(parser *P);
static ch_node *unary(parser *P);
static ch_node *primary(parser *P);

/* "(a, b, k=v)" after the '(' : positional into n->body, keywords into n->orelse. */
static int call_args(parser *P, ch_node *n)
{
    while (!accept(P, TK_OP, ")")) {
        if (n->body.n + n->orelse.n > 0 && !expect(P, TK_OP, ",")) return 0;
        if (accept(P, TK_OP, ")")) break; /* trailing comma */
        if (peek(P)->kind == TK_NAME && tok_is(&P->tk[P->pos + 1], TK_OP, "=")) {
            ch_node *kw = node(P, N_KW);
            if (!kw) return 0;
            kw->s = peek(P)->s, kw->n = peek(P)->n;
            P->pos += 2;
            if (!(kw->a = expr(P)) || !push(P, &n->orelse, kw)) return 0;
        } else if (n->orelse.n > 0) {
            return err(P, LLX_ERR_FORMAT, "positional argument after a keyword argument", "", 0, ""), 0;
        } else if (!push(P, &n->body, expr(P))) {
            return 0;
        }
    }
    return 1;
}

static ch_node *literal_name(parser *P, const ch_token *t)
{
    static const char *const names[] = {"true", "True", "false", "False", "none", "None"};
    for (int i = 0; i < 6; i++)
        if (tok_is(t, TK_NAME, names[i])) {
            ch_node *n = node(P, i < 4 ? N_BOOL : N_NONE);
            if (n) n->ival = i < 2;
            P->pos++;
            return n;
        }
    ch_node *n = node(P, N_NAME);
    if (n) n->s = t->s, n->n = t->n;
    P->pos++;
    return n;
}

static ch_node *collection(parser *P, int dict)
{
    ch_node *n = node(P, dict ? N_DICT : N_LIST);
    const char *close = dict ? "}" : "]";
    while (n && !accept(P, TK_OP, close)) {
        if (n->body.n > 0 && !expect(P, TK_OP, ",")) return NULL;
        if (accept(P, TK_OP, close)) break;
        if (!push(P, &n->body, expr(P))) return NULL;
        if (dict && (!expect(P, TK_OP, ":") || !push(P, &n->body, expr(P)))) return NULL;
    }
    return n;
}

static ch_node *primary(parser *P)
{
    const ch_token *t = peek(P);
    ch_node *n = NULL;
    if (++P->depth > 200) return err(P, LLX_ERR_FORMAT, "expression nested too deeply", "", 0, "");
    if (t->kind == TK_NAME) {
        n = literal_name(P, t);
    } else if (t->kind == TK_STR) {
        n = node(P, N_STR);
        if (n) n->s = t->s, n->n = t->n;
        P->pos++;
        while (n && peek(P)->kind == TK_STR) { /* adjacent literals join */
            size_t m = n->n + peek(P)->n;
            char *s = ch_alloc(&P->t->arena, m + 1);
            if (!s) return llx_fail(LLX_ERR_NOMEM, "chat template: out of memory"), NULL;
            memcpy(s, n->s, n->n), memcpy(s + n->n, peek(P)->s, peek(P)->n);
            n->s = s, n->n = m;
            P->pos++;
        }
    } else if (t->kind == TK_INT) {
        n = node(P, N_INT);
        if (n) n->ival = t->ival;
        P->pos++;
    } else if (accept(P, TK_OP, "(")) {
        n = expr(P);
        if (n && !expect(P, TK_OP, ")")) n = NULL;
    } else if (accept(P, TK_OP, "[")) {
        n = collection(P, 0);
    } else if (accept(P, TK_OP, "{")) {
        n = collection(P, 1);
    } else {
        n = unexpected(P);
    }
    P->depth--;
    return n;
}

/* The rest of "[start:stop:step]" after "start:" : a = object, b = start,
 * c = stop, body[0] = step (each may be NULL / absent). */
static ch_node *slice(parser *P, ch_node *obj, ch_node *start)
{
    ch_node *n = node(P, N_SLICE), *step = NULL;
    if (!n) return NULL;
    n->a = obj, n->b = start;
    if (!tok_is(peek(P), TK_OP, ":") && !tok_is(peek(P), TK_OP, "]") && !(n->c = expr(P))) return NULL;
    if (accept(P, TK_OP, ":") && !tok_is(peek(P), TK_OP, "]") && !(step = expr(P))) return NULL;
    if (step && !push(P, &n->body, step)) return NULL;
    return expect(P, TK_OP, "]") ? n : NULL;
}

static ch_node *postfix(parser *P, ch_node *n)
{
    while (n) {
        if (accept(P, TK_OP, ".")) {
            if (peek(P)->kind != TK_NAME) return unexpected(P);
            ch_node *a = node(P, N_ATTR);
            if (a) a->a = n, a->s = peek(P)->s, a->n = peek(P)->n;
            P->pos++;
            n = a;
        } else if (accept(P, TK_OP, "[")) {
            ch_node *start = NULL;
            if (!tok_is(peek(P), TK_OP, ":") && !(start = expr(P))) return NULL;
            if (accept(P, TK_OP, ":")) {
                n = slice(P, n, start);
                continue;
            }
            ch_node *it = node(P, N_ITEM);
            if (it) it->a = n, it->b = start;
            n = expect(P, TK_OP, "]") ? it : NULL;
        } else if (accept(P, TK_OP, "(")) {
            int fn = n->kind == N_NAME, meth = n->kind == N_ATTR;
            if (fn && !ch_known_function(n->s, n->n))
                return err(P, LLX_ERR_UNSUPPORTED, "function '", n->s, n->n, "' is not supported");
            if (meth && !ch_known_method(n->s, n->n))
                return err(P, LLX_ERR_UNSUPPORTED, "method '", n->s, n->n, "' is not supported");
            if (!fn && !meth) return err(P, LLX_ERR_UNSUPPORTED, "this call is not supported", "", 0, "");
            ch_node *c = node(P, N_CALL);
            if (!c || !call_args(P, c)) return NULL;
            c->a = n;
            n = c;
        } else {
            break;
        }
    }
    return n;
}

/* A test's argument without parentheses ("is equalto 'x'"). */
static int starts_operand(const ch_token *t)
{
    static const char *const kw[] = {"and", "or", "else", "if", "not", "in", "is"};
    if (t->kind == TK_STR || t->kind == TK_INT) return 1;
    if (t->kind != TK_NAME) return 0;
    for (int i = 0; i < 7; i++)
        if (tok_is(t, TK_NAME, kw[i])) return 0;
    return 1;
}

static ch_node *filters_tests(parser *P, ch_node *n)
{
    while (n) {
        if (accept(P, TK_OP, "|")) {
            const ch_token *t = peek(P);
            if (t->kind != TK_NAME) return unexpected(P);
            if (!ch_known_filter(t->s, t->n)) return err(P, LLX_ERR_UNSUPPORTED, "filter '", t->s, t->n, "' is not supported");
            ch_node *f = node(P, N_FILTER);
            if (!f) return NULL;
            f->a = n, f->s = t->s, f->n = t->n;
            P->pos++;
            if (accept(P, TK_OP, "(") && !call_args(P, f)) return NULL;
            n = f;
        } else if (accept(P, TK_NAME, "is")) {
            ch_node *f = node(P, N_TEST);
            if (!f) return NULL;
            f->op = accept(P, TK_NAME, "not");
            const ch_token *t = peek(P);
            if (t->kind != TK_NAME) return unexpected(P);
            if (!ch_known_test(t->s, t->n)) return err(P, LLX_ERR_UNSUPPORTED, "test '", t->s, t->n, "' is not supported");
            f->a = n, f->s = t->s, f->n = t->n;
            P->pos++;
            if (accept(P, TK_OP, "(")) {
                if (!call_args(P, f)) return NULL;
            } else if (starts_operand(peek(P)) && !push(P, &f->body, postfix(P, primary(P)))) {
                return NULL;
            }
            n = f;
        } else {
            break;
        }
    }
    return n;
}

static ch_node *unary(parser *P)
{
    if (accept(P, TK_OP, "-") || accept(P, TK_OP, "+")) {
        int neg = tok_is(&P->tk[P->pos - 1], TK_OP, "-");
        ch_node *n = node(P, N_NEG), *a = unary(P);
        if (!n || !a) return NULL;
        n->a = a;
        return neg ? n : a;
    }
    return filters_tests(P, postfix(P, primary(P)));
}

/* Left-associative binary levels. */
static ch_node *binary(parser *P, int level)
{
    static const struct {
        const char *s;
        ch_tk k;
        int op, level;
    } ops[] = {{"*", TK_OP, OP_MUL, 0},  {"//", TK_OP, OP_FLOORDIV, 0}, {"%", TK_OP, OP_MOD, 0},
               {"+", TK_OP, OP_ADD, 1},  {"-", TK_OP, OP_SUB, 1},      {"~", TK_OP, OP_CONCAT, 2},
               {"==", TK_OP, OP_EQ, 3},  {"!=", TK_OP, OP_NE, 3},      {"<", TK_OP, OP_LT, 3},
               {">", TK_OP, OP_GT, 3},   {"<=", TK_OP, OP_LE, 3},      {">=", TK_OP, OP_GE, 3},
               {"in", TK_NAME, OP_IN, 3}};
    ch_node *l = level == 0 ? unary(P) : binary(P, level - 1);
    while (l) {
        int op = -1;
        if (tok_is(peek(P), TK_OP, "/") || tok_is(peek(P), TK_OP, "**"))
            return err(P, LLX_ERR_UNSUPPORTED, "operator '", peek(P)->s, peek(P)->n, "' is not supported");
        for (size_t i = 0; i < sizeof ops / sizeof *ops && op < 0; i++)
            if (ops[i].level == level && accept(P, ops[i].k, ops[i].s)) op = ops[i].op;
        if (op < 0 && level == 3 && tok_is(peek(P), TK_NAME, "not") && tok_is(&P->tk[P->pos + 1], TK_NAME, "in"))
            P->pos += 2, op = OP_NOTIN;
        if (op < 0) break;
        ch_node *n = node(P, N_BIN), *r = level == 0 ? unary(P) : binary(P, level - 1);
        if (!n || !r) return NULL;
        n->op = op, n->a = l, n->b = r;
        l = n;
    }
    return l;
}

static ch_node *not_expr(parser *P)
{
    if (accept(P, TK_NAME, "not")) {
        ch_node *n = node(P, N_NOT);
        if (!n || !(n->a = not_expr(P))) return NULL;
        return n;
    }
    return binary(P, 3);
}

static ch_node *logic(parser *P, int is_or)
{
    ch_node *l = is_or ? logic(P, 0) : not_expr(P);
    while (l && accept(P, TK_NAME, is_or ? "or" : "and")) {
        ch_node *n = node(P, N_BIN), *r = is_or ? logic(P, 0) : not_expr(P);
        if (!n || !r) return NULL;
        n->op = is_or ? OP_OR : OP_AND, n->a = l, n->b = r;
        l = n;
    }
    return l;
}

static ch_node *or_expr(parser *P) { return logic(P, 1); }

static ch_node *expr(parser *P)
{
    if (++P->depth > 200) return err(P, LLX_ERR_FORMAT, "expression nested too deeply", "", 0, "");
    ch_node *v = or_expr(P);
    while (v && accept(P, TK_NAME, "if")) {
        ch_node *n = node(P, N_COND);
        if (!n || !(n->b = or_expr(P))) return NULL;
        n->a = v;
        if (accept(P, TK_NAME, "else") && !(n->c = or_expr(P))) return NULL;
        v = n;
    }
    P->depth--;
    return v;
}

/* ---- statements ---- */

static int body(parser *P, ch_list *into, const char *const *ends, int nends, int *which);

static ch_node *stmt_if(parser *P)
{
    ch_node *n = node(P, N_IF);
    if (!n || !(n->a = expr(P)) || !expect(P, TK_BLOCK_END, NULL)) return NULL;
    static const char *const ends[] = {"elif", "else", "endif"};
    int which = 0;
    if (!body(P, &n->body, ends, 3, &which)) return NULL;
    if (which == 0) { /* elif: a nested if in the else branch */
        ch_node *e = stmt_if(P);
        return e && push(P, &n->orelse, e) ? n : NULL;
    }
    if (which == 1) {
        if (!expect(P, TK_BLOCK_END, NULL) || !body(P, &n->orelse, ends + 2, 1, &which)) return NULL;
    }
    return expect(P, TK_BLOCK_END, NULL) ? n : NULL;
}

static ch_node *stmt_for(parser *P)
{
    ch_node *n = node(P, N_FOR);
    if (!n) return NULL;
    if (peek(P)->kind != TK_NAME) return unexpected(P);
    n->s = peek(P)->s, n->n = peek(P)->n;
    P->pos++;
    if (accept(P, TK_OP, ",")) {
        if (peek(P)->kind != TK_NAME || !(n->b = node(P, N_NAME))) return peek(P)->kind != TK_NAME ? unexpected(P) : NULL;
        n->b->s = peek(P)->s, n->b->n = peek(P)->n;
        P->pos++;
    }
    if (!expect(P, TK_NAME, "in") || !(n->a = or_expr(P))) return NULL;
    if (accept(P, TK_NAME, "if") && !(n->c = or_expr(P))) return NULL;
    if (accept(P, TK_NAME, "recursive")) return err(P, LLX_ERR_UNSUPPORTED, "recursive loops are not supported", "", 0, "");
    if (!expect(P, TK_BLOCK_END, NULL)) return NULL;
    static const char *const ends[] = {"else", "endfor"};
    int which = 0;
    P->loops++;
    int ok = body(P, &n->body, ends, 2, &which);
    P->loops--;
    if (!ok) return NULL;
    if (which == 0 && (!expect(P, TK_BLOCK_END, NULL) || !body(P, &n->orelse, ends + 1, 1, &which))) return NULL;
    return expect(P, TK_BLOCK_END, NULL) ? n : NULL;
}

static ch_node *stmt_set(parser *P)
{
    ch_node *n = node(P, N_SET);
    if (!n) return NULL;
    if (peek(P)->kind != TK_NAME) return unexpected(P);
    n->s = peek(P)->s, n->n = peek(P)->n;
    P->pos++;
    if (accept(P, TK_OP, ".")) {
        if (peek(P)->kind != TK_NAME || !(n->b = node(P, N_NAME))) return peek(P)->kind != TK_NAME ? unexpected(P) : NULL;
        n->b->s = peek(P)->s, n->b->n = peek(P)->n;
        P->pos++;
    }
    if (tok_is(peek(P), TK_BLOCK_END, NULL) || tok_is(peek(P), TK_OP, ","))
        return err(P, LLX_ERR_UNSUPPORTED, "this form of 'set' is not supported", "", 0, "");
    if (!expect(P, TK_OP, "=") || !(n->a = expr(P))) return NULL;
    return expect(P, TK_BLOCK_END, NULL) ? n : NULL;
}

static ch_node *statement(parser *P)
{
    const ch_token *t = peek(P);
    if (t->kind != TK_NAME) return unexpected(P);
    P->pos++;
    if (tok_is(t, TK_NAME, "if")) return stmt_if(P);
    if (tok_is(t, TK_NAME, "for")) return stmt_for(P);
    if (tok_is(t, TK_NAME, "set")) return stmt_set(P);
    if (tok_is(t, TK_NAME, "break") || tok_is(t, TK_NAME, "continue")) {
        if (!P->loops) return err(P, LLX_ERR_FORMAT, "'", t->s, t->n, "' outside a loop");
        ch_node *n = node(P, t->s[0] == 'b' ? N_BREAK : N_CONTINUE);
        return n && expect(P, TK_BLOCK_END, NULL) ? n : NULL;
    }
    if (tok_is(t, TK_NAME, "generation")) {
        static const char *const ends[] = {"endgeneration"};
        int which;
        ch_node *n = node(P, N_BLOCK);
        if (!n || !expect(P, TK_BLOCK_END, NULL) || !body(P, &n->body, ends, 1, &which)) return NULL;
        return expect(P, TK_BLOCK_END, NULL) ? n : NULL;
    }
    P->pos--;
    if ((t->n > 3 && !memcmp(t->s, "end", 3)) || tok_is(t, TK_NAME, "else") || tok_is(t, TK_NAME, "elif"))
        return unexpected(P);
    return err(P, LLX_ERR_UNSUPPORTED, "statement '", t->s, t->n, "' is not supported");
}

/* Statements into `into` until a block tag named in ends (its index in
 * *which, the tag name consumed) or, with nends == 0, the end. */
static int body(parser *P, ch_list *into, const char *const *ends, int nends, int *which)
{
    if (++P->depth > 200) return err(P, LLX_ERR_FORMAT, "blocks nested too deeply", "", 0, ""), 0;
    for (;;) {
        const ch_token *t = peek(P);
        ch_node *n = NULL;
        if (t->kind == TK_EOF) {
            if (nends == 0) break;
            return err(P, LLX_ERR_FORMAT, "missing {% ", ends[nends - 1], strlen(ends[nends - 1]), " %}"), 0;
        }
        if (t->kind == TK_TEXT) {
            if ((n = node(P, N_TEXT))) n->s = t->s, n->n = t->n;
            P->pos++;
        } else if (accept(P, TK_VAR_BEGIN, NULL)) {
            if ((n = node(P, N_OUT)) && (!(n->a = expr(P)) || !expect(P, TK_VAR_END, NULL))) n = NULL;
        } else if (accept(P, TK_BLOCK_BEGIN, NULL)) {
            for (int k = 0; k < nends; k++)
                if (accept(P, TK_NAME, ends[k])) {
                    *which = k;
                    P->depth--;
                    return 1;
                }
            n = statement(P);
        } else {
            n = unexpected(P);
        }
        if (!push(P, into, n)) return 0;
    }
    P->depth--;
    return 1;
}

llx_status ch_parse(llx_chat_template *t, const char *src, size_t len)
{
    ch_token *tk = NULL;
    if (ch_lex(&t->arena, src, len, &tk) < 0) return LLX_ERR_FORMAT;
    parser P = {.t = t, .tk = tk};
    int which;
    if (!body(&P, &t->top, NULL, 0, &which)) {
        const char *m = llx_errmsg();
        return strstr(m, "not supported") ? LLX_ERR_UNSUPPORTED : strstr(m, "out of memory") ? LLX_ERR_NOMEM : LLX_ERR_FORMAT;
    }
    return LLX_OK;
}

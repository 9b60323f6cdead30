/* tests/test_layers.c - the dependency rules of docs/design.md, checked
 * against the source: every `#include "..."` line of src/, cli/ and
 * include/llx/ must stay inside what the layer table allows, every public
 * header must have an owner, every src/ folder must be a layer, and the
 * allowed graph must have no cycle. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MAX_LAYERS 24
#define NAME_LEN 32

typedef struct rules {
    int n;
    char name[MAX_LAYERS][NAME_LEN];
    unsigned allow[MAX_LAYERS]; /* bit j: layer i may include layer j */
    int public_only[MAX_LAYERS]; /* cli: llx/ headers of any layer, nothing else */
    int nh;
    char header[64][NAME_LEN];
    int owner[64];
} rules;

static int layer_index(const rules *r, const char *name, size_t len)
{
    for (int i = 0; i < r->n; i++)
        if (strlen(r->name[i]) == len && strncmp(r->name[i], name, len) == 0) return i;
    return -1;
}

/* The backquoted words of a table row after the first cell, in order. */
static int row_words(const char *line, char words[][NAME_LEN], int max)
{
    int n = 0;
    for (const char *p = strchr(line, '`'); p && n < max; p = strchr(p, '`')) {
        const char *e = strchr(p + 1, '`');
        if (!e) break;
        size_t len = (size_t)(e - p - 1);
        if (len >= NAME_LEN) len = NAME_LEN - 1;
        memcpy(words[n], p + 1, len);
        words[n][len] = 0;
        n++;
        p = e + 1;
    }
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* The text between <!-- tag:begin --> and <!-- tag:end -->, or NULL. */
static char *section(const char *doc, const char *tag)
{
    char b[64], e[64];
    snprintf(b, sizeof b, "<!-- %s:begin -->", tag);
    snprintf(e, sizeof e, "<!-- %s:end -->", tag);
    const char *p = strstr(doc, b), *q = p ? strstr(p, e) : NULL;
    if (!q) return NULL;
    p += strlen(b);
    char *s = malloc((size_t)(q - p) + 1);
    memcpy(s, p, (size_t)(q - p));
    s[q - p] = 0;
    return s;
}

static int parse_rules(const char *doc, rules *r)
{
    memset(r, 0, sizeof *r);
    char *lay = section(doc, "layers"), *hdr = section(doc, "headers");
    int ok = lay && hdr;
    char words[MAX_LAYERS + 1][NAME_LEN];
    /* two passes over the layer rows: names first, then what they allow */
    for (int pass = 0; ok && pass < 2; pass++) {
        int row = 0;
        for (char *line = lay; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            if (strncmp(line, "| `", 3) != 0) continue;
            char *eol = strchr(line, '\n');
            if (eol) *eol = 0;
            int n = row_words(line, words, MAX_LAYERS + 1);
            if (pass == 0 && r->n < MAX_LAYERS) snprintf(r->name[r->n++], NAME_LEN, "%s", words[0]);
            if (pass == 1) {
                if (strstr(line, "public headers only")) r->public_only[row] = 1;
                for (int k = 1; k < n; k++) {
                    int j = layer_index(r, words[k], strlen(words[k]));
                    if (j >= 0) r->allow[row] |= 1u << j;
                    else if (!r->public_only[row]) ok = 0; /* a name that is not a layer */
                }
            }
            row++;
            if (eol) *eol = '\n';
        }
    }
    for (char *line = hdr; ok && line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "| `", 3) != 0) continue;
        if (row_words(line, words, 2) != 2 || r->nh >= 64) continue;
        int j = layer_index(r, words[1], strlen(words[1]));
        if (j < 0) ok = 0;
        snprintf(r->header[r->nh], NAME_LEN, "%s", words[0]);
        r->owner[r->nh++] = j;
    }
    free(lay);
    free(hdr);
    return ok && r->n > 0 && r->nh > 0;
}

/* The layer an include path belongs to (-1: unknown), from layer `from`. */
static int include_target(const rules *r, int from, const char *inc, int *is_public)
{
    *is_public = 0;
    const char *slash = strchr(inc, '/');
    if (!slash) return from; /* a header of the same folder */
    if (strncmp(inc, "llx/", 4) == 0) {
        *is_public = 1;
        for (int i = 0; i < r->nh; i++)
            if (strcmp(r->header[i], inc) == 0) return r->owner[i];
        return -1;
    }
    return layer_index(r, inc, (size_t)(slash - inc));
}

/* Check one include; on violation write a message and return 0. */
static int check_include(const rules *r, int from, const char *file, const char *inc, char *msg, size_t len)
{
    int pub;
    const int to = include_target(r, from, inc, &pub);
    if (to < 0) {
        snprintf(msg, len, "%s includes \"%s\", which belongs to no layer of docs/design.md", file, inc);
        return 0;
    }
    if (r->public_only[from] && !pub && to != from) {
        snprintf(msg, len, "%s includes internal header \"%s\"; %s may include only llx/*.h", file, inc,
                 r->name[from]);
        return 0;
    }
    if (r->public_only[from] || to == from || (r->allow[from] >> to & 1u)) return 1;
    snprintf(msg, len, "%s includes \"%s\": %s may not depend on %s (docs/design.md)", file, inc, r->name[from],
             r->name[to]);
    return 0;
}

static int violations;

static void check_file(const rules *r, int from, const char *path)
{
    char *s = slurp(path);
    CHECK_MSG(s != NULL, "cannot read %s", path);
    if (!s) return;
    for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "#include \"", 10) != 0) continue;
        p += 10;
        const char *q = strchr(p, '"');
        if (!q || q - p >= 128) continue;
        char inc[128], msg[512];
        memcpy(inc, p, (size_t)(q - p));
        inc[q - p] = 0;
        if (!check_include(r, from, path, inc, msg, sizeof msg)) {
            CHECK_MSG(0, "%s", msg);
            violations++;
        }
    }
    free(s);
}

static int is_source(const char *name)
{
    size_t n = strlen(name);
    return n > 2 && (strcmp(name + n - 2, ".c") == 0 || strcmp(name + n - 2, ".h") == 0);
}

/* Check every .c/.h in dir as layer `from`; returns the files checked. */
static int check_dir(const rules *r, int from, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_source(e->d_name)) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_file(r, from, path);
        n++;
    }
    closedir(d);
    return n;
}

static int load_rules(rules *r)
{
    char *doc = slurp("docs/design.md");
    if (!doc) return 0;
    int ok = parse_rules(doc, r);
    free(doc);
    return ok;
}

TEST(layers_rules_parse_and_have_no_cycle, LLX_T_ASAN)
{
    rules r;
    CHECK(load_rules(&r));
    CHECK(r.n >= 9);
    CHECK(layer_index(&r, "util", 4) >= 0 && layer_index(&r, "cli", 3) >= 0);
    /* every layer's allowed set is reachable only downwards: no cycle */
    unsigned reach[MAX_LAYERS];
    for (int i = 0; i < r.n; i++) reach[i] = r.allow[i];
    for (int k = 0; k < r.n; k++)
        for (int i = 0; i < r.n; i++)
            for (int j = 0; j < r.n; j++)
                if (reach[i] >> j & 1u) reach[i] |= reach[j];
    for (int i = 0; i < r.n; i++) CHECK_MSG(!(reach[i] >> i & 1u), "layer %s depends on itself", r.name[i]);
}

TEST(layers_every_include_follows_design_md, LLX_T_ASAN)
{
    rules r;
    if (!load_rules(&r)) {
        CHECK_MSG(0, "docs/design.md has no readable layer tables");
        return;
    }
    violations = 0;
    int files = 0;
    /* every src/ folder is a layer, and its files follow the rules */
    DIR *d = opendir("src");
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        const int from = layer_index(&r, e->d_name, strlen(e->d_name));
        CHECK_MSG(from >= 0, "src/%s is not a layer of docs/design.md", e->d_name);
        char dir[300];
        snprintf(dir, sizeof dir, "src/%s", e->d_name);
        if (from >= 0) files += check_dir(&r, from, dir);
    }
    if (d) closedir(d);
    files += check_dir(&r, layer_index(&r, "cli", 3), "cli");
    /* public headers: each has an owner, and includes as that owner */
    d = opendir("include/llx");
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!is_source(e->d_name)) continue;
        char name[300], path[320];
        snprintf(name, sizeof name, "llx/%s", e->d_name);
        snprintf(path, sizeof path, "include/%s", name);
        int pub, owner = include_target(&r, 0, name, &pub);
        CHECK_MSG(owner >= 0, "%s has no owning layer in docs/design.md", path);
        if (owner >= 0) check_file(&r, owner, path), files++;
    }
    if (d) closedir(d);
    CHECK(files > 60); /* the walk saw the tree */
    CHECK_EQ_INT(violations, 0);
}

TEST(layers_checker_refuses_a_wrong_include, LLX_T_ASAN)
{
    rules r;
    CHECK(load_rules(&r));
    char msg[512] = "";
    const int kern = layer_index(&r, "kernels", 7), sim = layer_index(&r, "sim", 3), cli = layer_index(&r, "cli", 3);
    /* the cycle issue 14 removed: kernels including the quantizer */
    CHECK(!check_include(&r, kern, "src/kernels/x.c", "quant/w8a8.h", msg, sizeof msg));
    CHECK(strstr(msg, "kernels may not depend on quant") != NULL);
    CHECK(!check_include(&r, sim, "src/sim/x.c", "llx/engine.h", msg, sizeof msg));
    CHECK(strstr(msg, "sim may not depend on engine") != NULL);
    CHECK(!check_include(&r, cli, "cli/x.c", "engine/internal.h", msg, sizeof msg));
    CHECK(strstr(msg, "may include only llx/*.h") != NULL);
    CHECK(!check_include(&r, sim, "src/sim/x.c", "llx/nonexistent.h", msg, sizeof msg));
    CHECK(strstr(msg, "belongs to no layer") != NULL);
    CHECK(check_include(&r, sim, "src/sim/x.c", "llx/schedule.h", msg, sizeof msg));
    CHECK(check_include(&r, sim, "src/sim/x.c", "sim/hw.h", msg, sizeof msg));
    CHECK(check_include(&r, cli, "cli/x.c", "llx/engine.h", msg, sizeof msg));
}

/* Issue 14: the datapaths execute a stage by its work, never by its name.
 * No file of the engine's stage machinery may mention an op. */
TEST(layers_datapaths_do_not_branch_on_ops, LLX_T_ASAN)
{
    static const char *files[] = {"src/engine/pass.c", "src/engine/exec_fp32.c", "src/engine/exec_w8a8.c",
                                  "src/engine/attn_w8a8.c", "src/engine/w8a8_node.h"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *s = slurp(files[i]);
        CHECK_MSG(s != NULL, "cannot read %s", files[i]);
        if (!s) continue;
        const char *hit = strstr(s, "LLX_OP_");
        CHECK_MSG(!hit, "%s names an op (%.40s): look the stage up by its work and slots instead", files[i], hit);
        CHECK_MSG(!strstr(s, "switch (st->op") && !strstr(s, "->op ==") && !strstr(s, "->op !="),
                  "%s branches on a stage's op", files[i]);
        free(s);
    }
}

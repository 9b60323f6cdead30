/* cli/cmd_tokenize.c - `looplynx tokenize`: text -> token ids, or ids ->
 * text, with the tokenizer of a model folder (GPT-2's vocab.json +
 * merges.txt, or a tokenizer.json) or of a .llx file.  Only prints; all
 * tokenizer logic is in the library. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "cli.h"
#include "llx/engine.h"
#include "llx/tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: looplynx tokenize -m MODEL [-p TEXT | -f FILE] [--no-special] [--json]\n"
            "       looplynx tokenize -m MODEL --decode IDS [--json]\n\n"
            "Encode text into token ids, or decode token ids into text.\n\n"
            "  -m, --model MODEL   folder holding vocab.json and merges.txt (GPT-2) or\n"
            "                      tokenizer.json (Llama 3 ...), or a .llx file (its\n"
            "                      embedded tokenizer)\n"
            "  -p, --prompt TEXT   encode TEXT\n"
            "  -f, --file FILE     encode the bytes of FILE ('-' = standard input);\n"
            "                      with neither -p nor -f, standard input is encoded\n"
            "  --no-special        do not add the model's special tokens around the text\n"
            "                      (a tokenizer.json's BOS; GPT-2 adds none)\n"
            "  --decode IDS        decode token ids separated by spaces or commas and\n"
            "                      write the bytes exactly as they are (no newline added)\n"
            "  --json              print {\"tokens\": [...]} or {\"text\": \"...\"}\n"
            "  -h, --help          show this help\n\n"
            "Human output of encoding is 'ids: 1 2 3' and 'count: 3'.  Any bytes can be\n"
            "encoded; invalid UTF-8 becomes single-byte tokens.  Special tokens written\n"
            "in the text ('<|eot_id|>') are matched as such.\n");
}

/* Where the tokenizer came from: a folder's files (owned here) or a .llx
 * model's embedded copy (owned by the model). */
typedef struct tok_source {
    llx_tokenizer *own;
    llx_model *model;
    const llx_tokenizer *t;
} tok_source;

/* The one place that turns -m into a tokenizer.  A folder needs only its
 * tokenizer files (no weights); anything else is opened as a model with
 * llx_model_open, which for a .llx file validates it and loads the
 * tokenizer embedded in it. */
static llx_status open_tokenizer(const char *path, tok_source *ts)
{
    memset(ts, 0, sizeof *ts);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        llx_status rc = llx_tokenizer_load_dir(&ts->own, path);
        ts->t = ts->own;
        return rc;
    }
    const llx_status rc = llx_model_open(&ts->model, path);
    if (rc == LLX_OK) ts->t = llx_model_tokenizer(ts->model);
    return rc;
}

static void close_tokenizer(tok_source *ts)
{
    llx_tokenizer_free(ts->own);
    llx_model_close(ts->model);
    memset(ts, 0, sizeof *ts);
}

/* Read all of f into a new buffer; NULL on failure (errno set). */
static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) break;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) break;
            *len = n;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

/* Split "1 2,3" into ids; returns the count, or -1 after a usage error. */
static int parse_ids(const char *s, int **out)
{
    size_t cap = strlen(s) / 2 + 1;
    int *ids = malloc(cap * sizeof *ids), n = 0;
    if (!ids) return cli_runtime_error("out of memory"), -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        const char *end = p;
        while (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n') end++;
        char item[32];
        size_t len = (size_t)(end - p);
        char *stop = NULL;
        long v = -1;
        if (len < sizeof item) {
            memcpy(item, p, len);
            item[len] = 0;
            errno = 0;
            v = strtol(item, &stop, 10);
        }
        if (len >= sizeof item || *stop || errno == ERANGE || v < 0 || v > INT_MAX) {
            free(ids);
            cli_usage_error("--decode: '%.*s' is not a token id", (int)(len < 40 ? len : 40), p);
            return -1;
        }
        ids[n++] = (int)v;
        p = end;
    }
    *out = ids;
    return n;
}

static int do_decode(const llx_tokenizer *t, const char *spec, int json)
{
    int *ids = NULL;
    int n = parse_ids(spec, &ids);
    if (n < 0) return EXIT_USAGE;
    int vocab = llx_tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        if (ids[i] >= vocab) {
            int bad = ids[i];
            free(ids);
            return cli_usage_error("--decode: token id %d is outside the vocabulary (0..%d)", bad, vocab - 1);
        }
    char *text = NULL;
    size_t len = 0;
    llx_status st = llx_detokenize(t, ids, n, &text, &len);
    free(ids);
    if (st != LLX_OK) return cli_lib_error();
    if (json) {
        fputs("{\"text\": ", stdout);
        cli_json_string(stdout, text, len);
        fputs("}\n", stdout);
    } else {
        fwrite(text, 1, len, stdout);
    }
    free(text);
    return EXIT_OK;
}

static int do_encode(const llx_tokenizer *t, const char *text, size_t len, unsigned flags, int json)
{
    int *ids = NULL, n = 0;
    if (llx_tokenize_ex(t, text, len, flags, &ids, &n) != LLX_OK) return cli_lib_error();
    fputs(json ? "{\"tokens\": [" : "ids:", stdout);
    for (int i = 0; i < n; i++) printf("%s%d", json ? (i ? ", " : "") : " ", ids[i]);
    if (json) fputs("]}\n", stdout);
    else printf("\ncount: %d\n", n);
    free(ids);
    return EXIT_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *file = NULL, *decode = NULL;
    int json = 0;
    unsigned flags = LLX_TOK_ADD_SPECIAL;
    for (int i = 1; i < argc; i++) {
        int r = 0;
        if (cli_flag(argv, i, "-h") || cli_flag(argv, i, "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_flag(argv, i, "--no-special")) flags = 0;
        else if ((r = cli_opt(argc, argv, &i, "-m", &model)) || (r = cli_opt(argc, argv, &i, "--model", &model))) {
        } else if ((r = cli_opt(argc, argv, &i, "-p", &prompt)) || (r = cli_opt(argc, argv, &i, "--prompt", &prompt))) {
        } else if ((r = cli_opt(argc, argv, &i, "-f", &file)) || (r = cli_opt(argc, argv, &i, "--file", &file))) {
        } else if ((r = cli_opt(argc, argv, &i, "--decode", &decode))) {
        } else return cli_usage_error("tokenize: unknown option '%s' (try 'looplynx tokenize --help')", argv[i]);
        if (r < 0) return EXIT_USAGE;
    }
    if (!model) return cli_usage_error("tokenize: -m MODEL is required (a model folder or a .llx file)");
    if (prompt && file) return cli_usage_error("tokenize: give either -p or -f, not both");
    if (decode && (prompt || file)) return cli_usage_error("tokenize: --decode cannot be combined with -p or -f");

    tok_source ts;
    if (open_tokenizer(model, &ts) != LLX_OK) return cli_lib_error();
    const llx_tokenizer *t = ts.t;
    int rc;
    if (decode) {
        rc = do_decode(t, decode, json);
    } else if (prompt) {
        rc = do_encode(t, prompt, strlen(prompt), flags, json);
    } else {
        int from_stdin = !file || !strcmp(file, "-");
        FILE *f = from_stdin ? stdin : fopen(file, "rb");
        size_t len = 0;
        char *text = f ? read_all(f, &len) : NULL;
        if (!text) rc = cli_runtime_error("cannot read %s: %s", from_stdin ? "standard input" : file, strerror(errno));
        else rc = do_encode(t, text, len, flags, json);
        if (f && !from_stdin) fclose(f);
        free(text);
    }
    close_tokenizer(&ts);
    if (rc == EXIT_OK && fflush(stdout) != 0) rc = cli_runtime_error("cannot write the output: %s", strerror(errno));
    return rc;
}

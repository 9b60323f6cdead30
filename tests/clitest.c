/* tests/clitest.c - see clitest.h. */
#include "clitest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "w8a8_fixtures.h"

const char *llx_tiny_hf(void)
{
    static char dir[512];
    static int failed;
    if (failed) return NULL;
    const llx_config c = {.n_vocab = 300, .n_ctx = 32, .n_embd = 32, .n_layer = 2, .n_head = 4, .n_inner = 128, .ln_eps = 1e-5f};
    if (!llx_fixture_synth(dir, sizeof dir, "tiny-hf", &c, 11, "F32")) failed = 1;
    return dir[0] ? dir : NULL;
}

const char *llx_tiny_calib(void) { return llx_fixture_calib_text(); }

const char *llx_tiny_llx(int act)
{
    static char paths[3][512];
    char *p = paths[act == 2 ? 2 : 1];
    snprintf(p, sizeof paths[0], "%s", llx_test_tmpfile(act == 2 ? "tiny-dynamic.llx" : "tiny-static.llx"));
    if (llx_test_exists(p)) return p;
    const char *dir = llx_tiny_hf(), *calib = llx_tiny_calib();
    if (!dir || !calib) return NULL;
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 512;
    o.window = 32;
    o.act_mode = act == 2 ? 2 : 1;
    o.threads = 1;
    if (llx_quantize(dir, &o, p) != LLX_OK) {
        llx_test_note("tiny quantize: %s", llx_errmsg());
        p[0] = 0;
        return NULL;
    }
    return p;
}

int llx_cli_failed(const llx_proc_result *r, int status, const char *want)
{
    const char *nl = strchr(r->err, '\n');
    const int ok = r->status == status && r->out_len == 0 && strncmp(r->err, "looplynx: error: ", 17) == 0 && nl &&
                   nl[1] == 0 && (size_t)(nl - r->err) + 1 == r->err_len && (!want || strstr(r->err, want));
    if (!ok)
        llx_test_note("expected exit %d and one error line with '%s'; got exit %d, stdout %zu bytes, stderr: %.300s",
                      status, want ? want : "", r->status, r->out_len, r->err);
    return ok;
}

int llx_test_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    const int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

int llx_test_same_bytes(const char *path, const void *data, size_t n)
{
    size_t len = 0;
    char *buf = llx_test_read(path, &len);
    const int same = buf && len == n && memcmp(buf, data, n) == 0;
    free(buf);
    return same;
}

int llx_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

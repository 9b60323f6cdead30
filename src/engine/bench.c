/* engine/bench.c - memory bandwidth probe and resident-memory readings for
 * `looplynx bench` (see llx/bench.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/internal.h"
#include "llx/bench.h"
#include "util/status.h"
#include "util/timer.h"

typedef struct bw_job {
    const unsigned char *buf;
    size_t bytes;
    const llx_kernels *k;
    uint64_t sink[256];
} bw_job;

struct llx_membw {
    llx_pool *pool;
    unsigned char *buf;
    bw_job job;
    int threads;
};

static void bw_member(void *arg, int ith, int nth)
{
    bw_job *j = arg;
    const size_t per = (j->bytes / (size_t)nth) & ~(size_t)127;
    j->sink[ith & 255] += j->k->read_bytes(j->buf + per * (size_t)ith, per);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

llx_status llx_membw_create(llx_membw **out, int threads, size_t bytes)
{
    *out = NULL;
    if (threads < 1 || bytes < (size_t)threads * 128) return llx_fail(LLX_ERR_ARG, "bad bandwidth probe size");
    llx_membw *p = calloc(1, sizeof *p);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    p->threads = threads;
    p->buf = llx_alloc(bytes);
    llx_status st = p->buf ? llx_pool_create(&p->pool, threads, threads <= llx_cpu_count())
                           : llx_fail(LLX_ERR_NOMEM, "out of memory for the bandwidth probe");
    if (st != LLX_OK) {
        llx_membw_free(p);
        return st;
    }
    memset(p->buf, 1, bytes); /* not the shared zero page */
    p->job = (bw_job){p->buf, bytes, llx_kernels_select("auto"), {0}};
    llx_pool_run(p->pool, bw_member, &p->job); /* warm-up */
    *out = p;
    return LLX_OK;
}

double llx_membw_run(llx_membw *p, int reps)
{
    double res[64];
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    const size_t read = ((p->job.bytes / (size_t)p->threads) & ~(size_t)127) * (size_t)p->threads;
    for (int r = 0; r < reps; r++) {
        const double t0 = llx_now_s();
        llx_pool_run(p->pool, bw_member, &p->job);
        res[r] = (double)read / (llx_now_s() - t0) / 1e9;
    }
    qsort(res, (size_t)reps, sizeof *res, cmp_double);
    return res[reps / 2];
}

void llx_membw_free(llx_membw *p)
{
    if (!p) return;
    llx_pool_free(p->pool);
    free(p->buf);
    free(p);
}

static uint64_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kb = 0;
    const size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n)) {
            kb = strtoull(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

/* A sysfs cache "size" ("32768K", "1M", "512") in bytes. */
static uint64_t parse_size(const char *s)
{
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    return v << (*end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0);
}

static int read_line(const char *dir, const char *file, char *buf, size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return ok;
}

uint64_t llx_llc_bytes_at(const char *cpu_root)
{
    enum { MAX_SEEN = 512 };
    static char seen[MAX_SEEN][64]; /* shared_cpu_list of each cache counted */
    int n_seen = 0;
    uint64_t total = 0;
    for (int cpu = 0; cpu < 4096; cpu++) {
        char dir[400], idx[500], level[16], size[32], shared[64], best_shared[64] = "";
        int best_level = 0, misses = 0;
        uint64_t best_size = 0;
        snprintf(dir, sizeof dir, "%s/cpu%d/cache", cpu_root, cpu);
        for (int i = 0; i < 16 && misses < 2; i++) {
            snprintf(idx, sizeof idx, "%s/index%d", dir, i);
            if (!read_line(idx, "level", level, sizeof level)) {
                misses++;
                continue;
            }
            if (atoi(level) >= best_level && read_line(idx, "size", size, sizeof size) &&
                read_line(idx, "shared_cpu_list", shared, sizeof shared)) {
                best_level = atoi(level);
                best_size = parse_size(size);
                snprintf(best_shared, sizeof best_shared, "%s", shared);
            }
        }
        if (!best_level) {
            if (cpu > 0 && access(dir, F_OK) != 0) break; /* past the last CPU */
            continue;
        }
        int dup = 0;
        for (int k = 0; k < n_seen && !dup; k++) dup = !strcmp(seen[k], best_shared);
        if (dup) continue;
        if (n_seen < MAX_SEEN) snprintf(seen[n_seen++], sizeof seen[0], "%s", best_shared);
        total += best_size;
    }
    return total;
}

uint64_t llx_llc_bytes(void) { return llx_llc_bytes_at("/sys/devices/system/cpu"); }

uint64_t llx_rss_bytes(void) { return status_kb("VmRSS:"); }
uint64_t llx_peak_rss_bytes(void) { return status_kb("VmHWM:"); }

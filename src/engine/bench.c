/* engine/bench.c - memory bandwidth probe and resident-memory readings for
 * `looplynx bench` (see llx/bench.h). */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/internal.h"
#include "llx/bench.h"
#include "util/status.h"
#include "util/timer.h"

/* The probe's buffer is read as blocks of PROBE_BLOCK bytes, each split
 * into one contiguous part per thread, as the engine splits a weight
 * matrix's rows (see llx/bench.h and docs/performance.md). */
#define PROBE_BLOCK ((size_t)4 << 20)

static const char *const pattern_names[LLX_MEMBW_PATTERNS] = {"seq", "4-stream"};

struct llx_membw {
    llx_pool *pool;
    unsigned char *buf;
    const llx_kernels *k;
    size_t block, blocks, part; /* bytes per block, blocks per pass, bytes per thread per block */
    int threads;
    int pattern; /* the pattern the next pass reads */
    uint64_t sink[LLX_MEMBW_MAX_THREADS];
};

static void bw_member(void *arg, int ith, int nth)
{
    llx_membw *p = arg;
    uint64_t (*read)(const void *, size_t) = p->pattern ? p->k->read_bytes : p->k->read_seq;
    uint64_t sum = 0;
    const unsigned char *at = p->buf + p->part * (size_t)ith;
    for (size_t b = 0; b < p->blocks; b++, at += p->block) sum += read(at, p->part);
    p->sink[ith] = sum;
    (void)nth;
}

llx_status llx_membw_create(llx_membw **out, int threads, size_t bytes)
{
    *out = NULL;
    if (threads < 1 || threads > LLX_MEMBW_MAX_THREADS || bytes < (size_t)threads * 128)
        return llx_fail(LLX_ERR_ARG, "bad bandwidth probe size");
    llx_membw *p = calloc(1, sizeof *p);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    p->threads = threads;
    p->block = bytes < PROBE_BLOCK ? bytes : PROBE_BLOCK;
    p->part = (p->block / (size_t)threads) & ~(size_t)127;
    p->blocks = bytes / p->block;
    p->k = llx_kernels_select("auto");
    p->buf = llx_alloc(bytes);
    llx_status st = p->buf ? llx_pool_create(&p->pool, threads, threads <= llx_cpu_count())
                           : llx_fail(LLX_ERR_NOMEM, "out of memory for the bandwidth probe");
    if (st != LLX_OK) {
        llx_membw_free(p);
        return st;
    }
    memset(p->buf, 1, bytes); /* every page faulted in now, and not the shared zero page */
    for (p->pattern = 0; p->pattern < LLX_MEMBW_PATTERNS; p->pattern++) llx_pool_run(p->pool, bw_member, p); /* warm */
    *out = p;
    return LLX_OK;
}

unsigned char *llx_membw_buffer(llx_membw *p) { return p->buf; }

size_t llx_membw_pass_bytes(const llx_membw *p) { return p->part * (size_t)p->threads * p->blocks; }

uint64_t llx_membw_checksum(const llx_membw *p)
{
    uint64_t s = 0;
    for (int i = 0; i < p->threads; i++) s += p->sink[i];
    return s;
}

const char *llx_membw_pattern_name(int pattern)
{
    return pattern >= 0 && pattern < LLX_MEMBW_PATTERNS ? pattern_names[pattern] : "?";
}

void llx_membw_run(llx_membw *p, int passes, llx_membw_result *out)
{
    memset(out, 0, sizeof *out);
    if (passes < 1) passes = 1;
    const double bytes = (double)llx_membw_pass_bytes(p);
    for (int r = 0; r < passes; r++)
        for (p->pattern = 0; p->pattern < LLX_MEMBW_PATTERNS; p->pattern++) { /* interleaved: drift hits both */
            const double t0 = llx_now_s();
            llx_pool_run(p->pool, bw_member, p);
            const double t = llx_now_s() - t0, gb_s = t > 0 ? bytes / t / 1e9 : 0;
            if (gb_s > out->pattern_gb_s[p->pattern]) out->pattern_gb_s[p->pattern] = gb_s;
        }
    for (int i = 0; i < LLX_MEMBW_PATTERNS; i++)
        if (out->pattern_gb_s[i] > out->gb_s) out->gb_s = out->pattern_gb_s[i], out->best = i;
}

typedef struct handoff_job {
    _Alignas(64) atomic_long flag; /* the line passed back and forth: odd from thread 1, even from thread 0 */
    char pad[64 - sizeof(atomic_long)];
    int trips, batches;
    double best_s; /* thread 0's */
    long answered; /* thread 1's */
} handoff_job;

/* Spin until *f is v; yield now and then, so that a waiting thread whose
 * CPU another process wants lets it run (the partner cannot answer
 * sooner than that process's slice ends anyway). */
static void wait_until(atomic_long *f, long v)
{
    for (unsigned i = 1; atomic_load_explicit(f, memory_order_acquire) != v; i++)
        if (!(i & 0xffff)) sched_yield();
}

/* Only the flag's line moves during the timed trips: the counts are read
 * into locals first, and thread 1 reports what it answered at the end
 * (a counter bumped per trip would share a line thread 0 reads). */
static void handoff_member(void *arg, int ith, int nth)
{
    handoff_job *j = arg;
    (void)nth;
    const int trips = j->trips, batches = j->batches;
    long v = 1;
    if (ith == 1) {
        const long total = (long)trips * batches;
        long answered = 0;
        atomic_store_explicit(&j->flag, v, memory_order_release); /* here: thread 0 starts timing */
        for (; answered < total; answered++, v += 2) {
            wait_until(&j->flag, v + 1);
            atomic_store_explicit(&j->flag, v + 2, memory_order_release);
        }
        j->answered = answered;
    } else if (ith == 0) {
        double best = 0.0;
        wait_until(&j->flag, v);
        for (int b = 0; b < batches; b++) {
            const double t0 = llx_now_s();
            for (int i = 0; i < trips; i++, v += 2) {
                atomic_store_explicit(&j->flag, v + 1, memory_order_release);
                wait_until(&j->flag, v + 2);
            }
            const double t = llx_now_s() - t0;
            if (b == 0 || t < best) best = t;
        }
        j->best_s = best;
    }
}

void llx_membw_handoff(llx_membw *p, int trips, int batches, llx_handoff_result *out)
{
    memset(out, 0, sizeof *out);
    if (p->threads < 2 || p->threads > llx_cpu_count() || trips < 1 || batches < 1) return;
    handoff_job j = {.trips = trips, .batches = batches};
    atomic_init(&j.flag, 0);
    llx_pool_run(p->pool, handoff_member, &j);
    out->round_trip_ns = j.best_s * 1e9 / trips;
    out->trips = j.answered;
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

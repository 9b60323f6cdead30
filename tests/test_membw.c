/* test_membw.c - the read-bandwidth probe (llx/bench.h) without timing:
 * what a pass reads, that its checksum covers exactly those words, and
 * that a run's figures are well formed.  Its speed is measured by
 * `looplynx bench --membw`, never here. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/internal.h"
#include "llx/bench.h"
#include "test.h"
#include "util/rng.h"

#define BLOCK ((size_t)4 << 20) /* the probe's block (bench.c), restated as the specification */

/* The words a pass must read: every block of min(bytes, 4 MiB), whole
 * blocks only, split into `threads` parts of block / threads bytes rounded
 * down to 128. */
static uint64_t expected_sum(const unsigned char *buf, size_t bytes, int threads, size_t *read)
{
    const size_t block = bytes < BLOCK ? bytes : BLOCK, part = (block / (size_t)threads) & ~(size_t)127;
    uint64_t sum = 0;
    *read = 0;
    for (size_t b = 0; b + block <= bytes; b += block)
        for (int t = 0; t < threads; t++) {
            const unsigned char *at = buf + b + part * (size_t)t;
            for (size_t o = 0; o < part; o += 8) {
                uint64_t w;
                memcpy(&w, at + o, 8);
                sum += w;
            }
            *read += part;
        }
    return sum;
}

TEST(membw_probe_reads_its_buffer, LLX_T_ASAN | LLX_T_TSAN)
{
    static const struct {
        int threads;
        size_t bytes;
    } cases[] = {{1, 256 << 10}, {2, (256 << 10) + 640}, {3, 1 << 20}, {2, (9 << 20) + 4096}, {4, 8 << 20}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int th = cases[c].threads;
        const size_t bytes = cases[c].bytes;
        llx_membw *p = NULL;
        REQUIRE(llx_membw_create(&p, th, bytes) == LLX_OK);
        /* random words: a pass that skipped, doubled or misplaced a part
         * would not reproduce the sum */
        unsigned char *buf = llx_membw_buffer(p);
        llx_rng r;
        llx_rng_seed(&r, 100 + c);
        for (size_t o = 0; o + 8 <= bytes; o += 8) {
            const uint64_t w = llx_rng_u64(&r);
            memcpy(buf + o, &w, 8);
        }
        size_t read;
        const uint64_t want = expected_sum(buf, bytes, th, &read);
        CHECK_MSG(llx_membw_pass_bytes(p) == read, "case %zu: pass reads %zu, want %zu", c, llx_membw_pass_bytes(p),
                  read);
        /* all but the rounding: under one block, and 128 bytes per thread per block */
        const size_t block = bytes < BLOCK ? bytes : BLOCK;
        CHECK_MSG(bytes - read < (bytes / block) * 128 * (size_t)th + bytes % block,
                  "case %zu: %zu of %zu bytes", c, read, bytes);
        llx_membw_result res;
        llx_membw_run(p, 2, &res);
        CHECK_MSG(llx_membw_checksum(p) == want, "case %zu: checksum", c);
        CHECK(isfinite(res.gb_s) && res.gb_s > 0);
        CHECK(res.best >= 0 && res.best < LLX_MEMBW_PATTERNS);
        for (int i = 0; i < LLX_MEMBW_PATTERNS; i++) {
            CHECK(isfinite(res.pattern_gb_s[i]) && res.pattern_gb_s[i] > 0);
            CHECK(res.pattern_gb_s[i] <= res.gb_s);
        }
        CHECK(res.gb_s == res.pattern_gb_s[res.best]);
        llx_membw_free(p);
    }
    CHECK(!strcmp(llx_membw_pattern_name(0), "seq") && !strcmp(llx_membw_pattern_name(1), "4-stream"));
    CHECK(!strcmp(llx_membw_pattern_name(LLX_MEMBW_PATTERNS), "?"));
}

TEST(membw_probe_refuses_bad_sizes, LLX_T_ASAN)
{
    llx_membw *p = (llx_membw *)&p;
    CHECK(llx_membw_create(&p, 0, 1 << 20) == LLX_ERR_ARG && p == NULL);
    CHECK(llx_membw_create(&p, 2, 255) == LLX_ERR_ARG);
    CHECK(llx_membw_create(&p, LLX_MEMBW_MAX_THREADS + 1, 1 << 30) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "bad bandwidth probe size") != NULL);
    llx_membw_free(NULL);
}

/* The handoff probe: thread 1 answers every round trip of every batch, the
 * figure is a time per round trip, and with one probe thread (or more than
 * the CPUs) there is nothing to measure. */
TEST(membw_handoff_answers_every_trip, LLX_T_ASAN | LLX_T_TSAN)
{
    const int cpus = llx_cpu_count();
    for (int th = 1; th <= 3; th++) {
        llx_membw *p = NULL;
        REQUIRE(llx_membw_create(&p, th, 256 << 10) == LLX_OK);
        llx_handoff_result h = {.round_trip_ns = -1, .trips = -1};
        llx_membw_handoff(p, 300, 4, &h);
        if (th < 2 || th > cpus) {
            CHECK_MSG(h.round_trip_ns == 0 && h.trips == 0, "%d threads on %d CPUs: %.1f ns, %ld trips", th, cpus,
                      h.round_trip_ns, h.trips);
        } else {
            CHECK_MSG(h.trips == 300 * 4, "%d threads: %ld round trips answered", th, h.trips);
            CHECK_MSG(isfinite(h.round_trip_ns) && h.round_trip_ns > 0 && h.round_trip_ns < 1e9, "%d threads: %.1f ns",
                      th, h.round_trip_ns);
        }
        /* a second call starts over: the counter is the call's own */
        llx_membw_handoff(p, 50, 1, &h);
        CHECK(th < 2 || th > cpus ? h.trips == 0 : h.trips == 50);
        llx_membw_handoff(p, 0, 1, &h); /* nothing asked */
        CHECK(h.trips == 0 && h.round_trip_ns == 0);
        llx_membw_free(p);
    }
}

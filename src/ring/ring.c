/* ring/ring.c - see ring.h.  The algorithm knows nothing about threads or
 * MPI: it only calls the link's non-blocking send and receive. */
#include "ring/ring.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/status.h"
#include "util/timer.h"

#define MSG_MAGIC 0x4c58u /* "LX" */

typedef struct msg_hdr {
    uint32_t magic_seq; /* MSG_MAGIC << 16 | (gather sequence & 0xffff) */
    int32_t origin;
    int32_t off, count; /* element range of every token */
    int32_t tokens, elem_bytes;
} msg_hdr;

typedef struct pending {
    int origin, off, count;
} pending;

struct llx_ring {
    llx_link *link;
    int node, nodes, next;
    double timeout_s;
    int spin;
    /* current gather */
    unsigned seq;
    unsigned char *dst;
    int ld, tokens, elem_bytes, total;
    long long expect, received; /* elements per token still to arrive */
    int chunk;                  /* max elements per message */
    pending *q;
    int q_head, q_len, q_cap;
    unsigned char *buf; /* one message */
    llx_ring_stats stats;
    double *waits; /* per gather_end since llx_ring_clear_waits */
    int n_waits, cap_waits;
};

llx_status llx_ring_create(llx_ring **out, llx_link *link, double timeout_s, int spin)
{
    *out = NULL;
    llx_ring *r = calloc(1, sizeof *r);
    if (!r) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    r->buf = malloc(LLX_LINK_MAX_MSG);
    r->q_cap = 256;
    r->q = malloc((size_t)r->q_cap * sizeof *r->q);
    if (!r->buf || !r->q) {
        llx_ring_free(r);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    r->link = link;
    r->node = link->node;
    r->nodes = link->nodes;
    r->next = (link->node + 1) % link->nodes;
    r->timeout_s = timeout_s > 0 ? timeout_s : 60.0;
    r->spin = spin;
    *out = r;
    return LLX_OK;
}

void llx_ring_free(llx_ring *r)
{
    if (!r) return;
    free(r->buf);
    free(r->q);
    free(r->waits);
    free(r);
}

void llx_ring_gather_begin(llx_ring *r, void *dst, int ld, int tokens, int elem_bytes, int total, llx_range own)
{
    r->seq++;
    r->dst = dst;
    r->ld = ld;
    r->tokens = tokens;
    r->elem_bytes = elem_bytes;
    r->total = total;
    r->expect = (long long)total - (own.end - own.begin);
    r->received = 0;
    r->q_head = r->q_len = 0;
    long per = (long)tokens * elem_bytes;
    long c = (long)(LLX_LINK_MAX_MSG - sizeof(msg_hdr)) / per;
    r->chunk = c < 1 ? 1 : (int)c;
}

static llx_status push_pending(llx_ring *r, int origin, int off, int count)
{
    if (r->q_head + r->q_len == r->q_cap) {
        if (r->q_head > 0) {
            memmove(r->q, r->q + r->q_head, (size_t)r->q_len * sizeof *r->q);
            r->q_head = 0;
        } else {
            pending *n = realloc(r->q, (size_t)r->q_cap * 2 * sizeof *r->q);
            if (!n) return llx_fail(LLX_ERR_NOMEM, "out of memory in ring queue");
            r->q = n;
            r->q_cap *= 2;
        }
    }
    r->q[r->q_head + r->q_len++] = (pending){origin, off, count};
    return LLX_OK;
}

/* Send queued blocks while the link takes them.  Returns >0 if any went. */
static int pump(llx_ring *r, llx_status *st)
{
    int sent = 0;
    while (r->q_len > 0) {
        const pending *p = &r->q[r->q_head];
        msg_hdr h = {MSG_MAGIC << 16 | (r->seq & 0xffffu), p->origin, p->off, p->count, r->tokens, r->elem_bytes};
        const size_t row = (size_t)p->count * (size_t)r->elem_bytes;
        memcpy(r->buf, &h, sizeof h);
        for (int t = 0; t < r->tokens; t++)
            memcpy(r->buf + sizeof h + (size_t)t * row,
                   r->dst + ((size_t)t * (size_t)r->ld + (size_t)p->off) * (size_t)r->elem_bytes, row);
        const size_t len = sizeof h + row * (size_t)r->tokens;
        int rc = r->link->ops->try_send(r->link, r->buf, len);
        if (rc < 0) {
            *st = LLX_ERR_RING;
            return sent;
        }
        if (rc == 0) break;
        r->stats.bytes_sent += (long long)(len - sizeof h);
        r->stats.messages++;
        r->q_head++;
        r->q_len--;
        sent++;
    }
    return sent;
}

/* Take in what has arrived (only this gather's share).  Returns >0 if any. */
static int drain(llx_ring *r, llx_status *st)
{
    int got = 0;
    while (r->received < r->expect) {
        size_t len = 0;
        int rc = r->link->ops->try_recv(r->link, r->buf, &len);
        if (rc < 0) {
            *st = LLX_ERR_RING;
            return got;
        }
        if (rc == 0) break;
        msg_hdr h;
        if (len < sizeof h) goto bad;
        memcpy(&h, r->buf, sizeof h);
        const size_t row = (size_t)h.count * (size_t)r->elem_bytes;
        if (h.magic_seq != (MSG_MAGIC << 16 | (r->seq & 0xffffu)) || h.tokens != r->tokens ||
            h.elem_bytes != r->elem_bytes || h.count < 1 || h.off < 0 || h.off + h.count > r->total ||
            h.origin < 0 || h.origin >= r->nodes || len != sizeof h + row * (size_t)r->tokens)
            goto bad;
        for (int t = 0; t < r->tokens; t++)
            memcpy(r->dst + ((size_t)t * (size_t)r->ld + (size_t)h.off) * (size_t)r->elem_bytes,
                   r->buf + sizeof h + (size_t)t * row, row);
        r->received += h.count;
        got++;
        if (h.origin != r->next && push_pending(r, h.origin, h.off, h.count) != LLX_OK) {
            *st = LLX_ERR_NOMEM;
            return got;
        }
    }
    return got;
bad:
    *st = llx_fail(LLX_ERR_RING, "node %d: malformed ring message from node %d", r->node,
                   (r->node + r->nodes - 1) % r->nodes);
    return got;
}

llx_status llx_ring_gather_post(llx_ring *r, int b, int e)
{
    llx_status st = LLX_OK;
    if (r->nodes == 1) return LLX_OK; /* a ring of one already holds everything */
    for (int off = b; off < e; off += r->chunk) {
        int n = e - off < r->chunk ? e - off : r->chunk;
        LLX_TRY(push_pending(r, r->node, off, n));
    }
    pump(r, &st);
    if (st == LLX_OK) drain(r, &st);
    if (st == LLX_OK) pump(r, &st);
    return st;
}

static void backoff(int idle, int spin)
{
    if (spin || idle < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else if (idle < 2000) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

llx_status llx_ring_gather_end(llx_ring *r)
{
    const double t0 = llx_now_s();
    double last = t0;
    int idle = 0;
    llx_status st = LLX_OK;
    while (r->received < r->expect || r->q_len > 0) {
        int progress = pump(r, &st);
        if (st == LLX_OK) progress += drain(r, &st);
        if (st != LLX_OK) break;
        if (progress) {
            idle = 0;
            last = llx_now_s();
            continue;
        }
        if (r->link->ops->peer_failed(r->link)) {
            st = llx_fail(LLX_ERR_RING, "node %d stopped: another node failed", r->node);
            break;
        }
        if ((++idle & 63) == 0 && llx_now_s() - last > r->timeout_s) {
            st = llx_fail(LLX_ERR_RING, "node %d: ring link stalled (no data from node %d for %.0f s)", r->node,
                          (r->node + r->nodes - 1) % r->nodes, r->timeout_s);
            break;
        }
        backoff(idle, r->spin);
    }
    const double waited = llx_now_s() - t0;
    r->stats.exposed_s += waited;
    if (r->n_waits == r->cap_waits) {
        const int cap = r->cap_waits ? 2 * r->cap_waits : 256;
        double *w = realloc(r->waits, (size_t)cap * sizeof *w);
        if (w) r->waits = w, r->cap_waits = cap;
    }
    if (r->n_waits < r->cap_waits) r->waits[r->n_waits++] = waited;
    if (st != LLX_OK) llx_ring_fail(r);
    return st;
}

void llx_ring_fail(llx_ring *r) { r->link->ops->fail(r->link); }

const llx_ring_stats *llx_ring_get_stats(const llx_ring *r) { return &r->stats; }

void llx_ring_clear_stats(llx_ring *r) { memset(&r->stats, 0, sizeof r->stats); }

const double *llx_ring_waits(const llx_ring *r, int *n)
{
    *n = r->n_waits;
    return r->waits;
}

void llx_ring_clear_waits(llx_ring *r) { r->n_waits = 0; }

/* ring/link_inproc.c - links between node threads of one process.
 *
 * Each directed ring edge is a lock-free single-producer/single-consumer
 * queue of fixed-size slots: the producer publishes a slot with a release
 * store of `tail`, the consumer frees it with a release store of `head`. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ring/link.h"
#include "util/status.h"

#define SLOTS 64

typedef struct spsc {
    _Alignas(64) atomic_size_t head; /* next slot to read (consumer) */
    _Alignas(64) atomic_size_t tail; /* next slot to write (producer) */
    _Alignas(64) size_t len[SLOTS];
    unsigned char *data; /* SLOTS * LLX_LINK_MAX_MSG */
} spsc;

typedef struct inproc_link {
    llx_link base;
    llx_inproc_fabric *fab;
    spsc *out, *in;
} inproc_link;

struct llx_inproc_fabric {
    int nodes;
    atomic_int failed;
    spsc *q;
    inproc_link *links;
};

static int ip_try_send(llx_link *l, const void *msg, size_t len)
{
    spsc *q = ((inproc_link *)l)->out;
    if (len > LLX_LINK_MAX_MSG) return llx_fail(LLX_ERR_INTERNAL, "ring message of %zu bytes is too large", len), -1;
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - head == SLOTS) return 0;
    size_t s = tail % SLOTS;
    memcpy(q->data + s * LLX_LINK_MAX_MSG, msg, len);
    q->len[s] = len;
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return 1;
}

static int ip_try_recv(llx_link *l, void *buf, size_t *len)
{
    spsc *q = ((inproc_link *)l)->in;
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head == tail) return 0;
    size_t s = head % SLOTS;
    *len = q->len[s];
    memcpy(buf, q->data + s * LLX_LINK_MAX_MSG, *len);
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    return 1;
}

static int ip_peer_failed(llx_link *l) { return atomic_load(&((inproc_link *)l)->fab->failed); }

static void ip_fail(llx_link *l) { atomic_store(&((inproc_link *)l)->fab->failed, 1); }

static const llx_link_ops inproc_ops = {ip_try_send, ip_try_recv, ip_peer_failed, ip_fail};

llx_status llx_inproc_fabric_create(llx_inproc_fabric **out, int nodes)
{
    *out = NULL;
    llx_inproc_fabric *f = calloc(1, sizeof *f);
    if (!f) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    f->nodes = nodes;
    f->q = aligned_alloc(64, sizeof(spsc) * (size_t)nodes);
    f->links = calloc((size_t)nodes, sizeof *f->links);
    if (!f->q || !f->links) {
        llx_inproc_fabric_free(f);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    memset(f->q, 0, sizeof(spsc) * (size_t)nodes);
    for (int i = 0; i < nodes; i++) {
        atomic_init(&f->q[i].head, 0);
        atomic_init(&f->q[i].tail, 0);
        f->q[i].data = malloc((size_t)SLOTS * LLX_LINK_MAX_MSG);
        if (!f->q[i].data) {
            llx_inproc_fabric_free(f);
            return llx_fail(LLX_ERR_NOMEM, "out of memory for ring queues");
        }
    }
    for (int i = 0; i < nodes; i++) {
        inproc_link *l = &f->links[i];
        l->base.ops = &inproc_ops;
        l->base.node = i;
        l->base.nodes = nodes;
        l->fab = f;
        l->out = &f->q[i];
        l->in = &f->q[(i + nodes - 1) % nodes];
    }
    *out = f;
    return LLX_OK;
}

void llx_inproc_fabric_free(llx_inproc_fabric *f)
{
    if (!f) return;
    if (f->q)
        for (int i = 0; i < f->nodes; i++) free(f->q[i].data);
    free(f->q);
    free(f->links);
    free(f);
}

llx_link *llx_inproc_link(llx_inproc_fabric *f, int node) { return &f->links[node].base; }

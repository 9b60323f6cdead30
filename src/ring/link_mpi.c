/* ring/link_mpi.c - ring links between MPI ranks (Open MPI), plus the few
 * collectives the engine's control channel needs.  Sends are non-blocking
 * (a small pool of in-flight buffers); receives probe the predecessor.
 * Built without MPI, every entry point reports LLX_ERR_UNSUPPORTED. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring/link.h"
#include "util/status.h"
#include "util/timer.h"

#ifdef LLX_HAVE_MPI
#include <mpi.h>

#define TAG_RING 17
#define INFLIGHT 32

typedef struct mpi_link {
    llx_link base;
    int prev, next;
    unsigned char *buf[INFLIGHT];
    MPI_Request req[INFLIGHT];
} mpi_link;

static int g_inited;

int llx_mpi_available(void) { return 1; }

llx_status llx_mpi_init(int *rank, int *size)
{
    if (!g_inited) {
        int already = 0;
        MPI_Initialized(&already);
        if (!already) {
            int provided = 0;
            if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
                return llx_fail(LLX_ERR_RING, "MPI_Init failed");
        }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        g_inited = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return LLX_OK;
}

void llx_mpi_finalize(void)
{
    int fin = 0;
    if (g_inited && (MPI_Finalized(&fin), !fin)) MPI_Finalize();
}

static int ml_try_send(llx_link *l, const void *msg, size_t len)
{
    mpi_link *m = (mpi_link *)l;
    for (int i = 0; i < INFLIGHT; i++) {
        if (m->req[i] != MPI_REQUEST_NULL) {
            int done = 0;
            if (MPI_Test(&m->req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
                return llx_fail(LLX_ERR_RING, "rank %d: MPI send to rank %d failed", l->node, m->next), -1;
            if (!done) continue;
        }
        memcpy(m->buf[i], msg, len);
        if (MPI_Isend(m->buf[i], (int)len, MPI_BYTE, m->next, TAG_RING, MPI_COMM_WORLD, &m->req[i]) != MPI_SUCCESS)
            return llx_fail(LLX_ERR_RING, "rank %d: MPI send to rank %d failed", l->node, m->next), -1;
        return 1;
    }
    return 0;
}

static int ml_try_recv(llx_link *l, void *buf, size_t *len)
{
    mpi_link *m = (mpi_link *)l;
    int flag = 0, count = 0;
    MPI_Status st;
    if (MPI_Iprobe(m->prev, TAG_RING, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
        return llx_fail(LLX_ERR_RING, "rank %d: MPI receive from rank %d failed", l->node, m->prev), -1;
    if (!flag) return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count < 0 || count > LLX_LINK_MAX_MSG)
        return llx_fail(LLX_ERR_RING, "rank %d: oversized ring message from rank %d", l->node, m->prev), -1;
    if (MPI_Recv(buf, count, MPI_BYTE, m->prev, TAG_RING, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return llx_fail(LLX_ERR_RING, "rank %d: MPI receive from rank %d failed", l->node, m->prev), -1;
    *len = (size_t)count;
    return 1;
}

static int ml_peer_failed(llx_link *l) { return 0; }
static void ml_fail(llx_link *l) {}

static const llx_link_ops mpi_ops = {ml_try_send, ml_try_recv, ml_peer_failed, ml_fail};

llx_status llx_mpi_link_create(llx_link **out)
{
    *out = NULL;
    int rank, size;
    LLX_TRY(llx_mpi_init(&rank, &size));
    mpi_link *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int i = 0; i < INFLIGHT; i++) {
        m->req[i] = MPI_REQUEST_NULL;
        m->buf[i] = malloc(LLX_LINK_MAX_MSG);
        if (!m->buf[i]) {
            llx_mpi_link_free(&m->base);
            return llx_fail(LLX_ERR_NOMEM, "out of memory");
        }
    }
    m->base.ops = &mpi_ops;
    m->base.node = rank;
    m->base.nodes = size;
    m->next = (rank + 1) % size;
    m->prev = (rank + size - 1) % size;
    *out = &m->base;
    return LLX_OK;
}

void llx_mpi_link_free(llx_link *l)
{
    if (!l) return;
    mpi_link *m = (mpi_link *)l;
    for (int i = 0; i < INFLIGHT; i++) {
        if (m->req[i] != MPI_REQUEST_NULL) MPI_Wait(&m->req[i], MPI_STATUS_IGNORE);
        free(m->buf[i]);
    }
    free(m);
}

/* Complete a non-blocking collective; a peer that never joins ends it with
 * an error after timeout_s seconds (<= 0: wait as long as it takes). */
static llx_status finish(MPI_Request *req, double timeout_s, const char *what)
{
    const double t0 = llx_now_s();
    for (int idle = 0;; idle++) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return llx_fail(LLX_ERR_RING, "MPI %s failed", what);
        if (done) return LLX_OK;
        if (timeout_s > 0 && (idle & 63) == 0 && llx_now_s() - t0 > timeout_s) {
            int rank = 0;
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);
            return llx_fail(LLX_ERR_RING, "rank %d: MPI %s got no answer for %.0f s (a rank stalled)", rank, what,
                            timeout_s);
        }
        if (idle > 1000) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        } else {
            sched_yield();
        }
    }
}

llx_status llx_mpi_bcast(void *buf, size_t len, double timeout_s)
{
    MPI_Request req;
    if (MPI_Ibcast(buf, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return llx_fail(LLX_ERR_RING, "MPI broadcast failed");
    return finish(&req, timeout_s, "broadcast");
}

llx_status llx_mpi_sum(long long *v, double timeout_s)
{
    long long in = *v;
    MPI_Request req;
    if (MPI_Iallreduce(&in, v, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return llx_fail(LLX_ERR_RING, "MPI reduction failed");
    return finish(&req, timeout_s, "reduction");
}

void llx_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

#else /* !LLX_HAVE_MPI */

static llx_status no_mpi(void)
{
    return llx_fail(LLX_ERR_UNSUPPORTED, "this looplynx was built without MPI (install libopenmpi-dev and rebuild)");
}

int llx_mpi_available(void) { return 0; }
llx_status llx_mpi_init(int *rank, int *size)
{
    *rank = 0;
    *size = 1;
    return no_mpi();
}
void llx_mpi_finalize(void) {}
llx_status llx_mpi_link_create(llx_link **out)
{
    *out = NULL;
    return no_mpi();
}
void llx_mpi_link_free(llx_link *l) {}
llx_status llx_mpi_bcast(void *buf, size_t len, double timeout_s) { return no_mpi(); }
llx_status llx_mpi_sum(long long *v, double timeout_s) { return no_mpi(); }
void llx_mpi_abort(int code) {}

#endif

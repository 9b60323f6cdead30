/* serve/job.c - a request in flight: created by its connection, queued
 * for the batcher, freed by whichever lets go of it last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

srv_job *srv_job_new(void)
{
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    atomic_init(&j->cancel, 0);
    j->refs = 1;
    j->seq = -1;
    return j;
}

void srv_job_unref(srv_job *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    const int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left) return;
    srv_params_free(&j->p);
    free(j->prompt);
    srv_buf_free(&j->text);
    llx_sampler_free(j->sampler);
    srv_textout_free(&j->tout);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void srv_job_finish(srv_job *j, srv_finish f, const char *errmsg)
{
    pthread_mutex_lock(&j->mu);
    if (j->state != JOB_DONE) {
        j->state = JOB_DONE;
        j->finish = f;
        if (errmsg) snprintf(j->errmsg, sizeof j->errmsg, "%s", errmsg);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/*
 * mhd_static — the HTTP library's own ceiling, for the single-order goal:
 * libmicrohttpd with the daemon settings of src/ingest/http.c (epoll, an
 * internal pool of 2 threads, suspend/resume allowed, the same connection
 * memory limit) answering every request with the same static 201 and JSON
 * body as nginx in bench/lib.sh, after reading the whole request body.
 *
 *   build/bench/mhd_static PORT [handoff]
 *
 * With "handoff", every request also goes the way salesflow's do: the
 * connection is suspended and handed to another thread, which resumes it
 * (in batches, as the log writer does after its write) before the answer
 * is queued. No parsing, no log, no fsync: what is left is libmicrohttpd's
 * cost per request, which salesflow cannot go below. Runs until SIGTERM.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"status\":\"success\",\"message\":\"Stock entry created\","
                           "\"order_id\":\"01a22568-cec3-7000-9ab6-8508f027782a\"}";

static struct MHD_Response *reply;
static int handoff;

/* Suspended connections waiting for the other thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct MHD_Connection **queue;
static size_t qlen, qcap;

enum { READING, WAITING, DONE };

static void *resumer(void *arg)
{
    (void)arg;
    size_t cap = 0;
    struct MHD_Connection **batch = NULL;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!qlen)
            pthread_cond_wait(&cv, &mu);
        if (cap < qlen) {
            cap = qcap;
            batch = realloc(batch, cap * sizeof(*batch));
        }
        size_t n = qlen;
        memcpy(batch, queue, n * sizeof(*batch));
        qlen = 0;
        pthread_mutex_unlock(&mu);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(batch[i]);
    }
    return NULL;
}

static void hand_off(struct MHD_Connection *c)
{
    pthread_mutex_lock(&mu);
    if (qlen == qcap) {
        qcap = qcap ? 2 * qcap : 1024;
        queue = realloc(queue, qcap * sizeof(*queue));
    }
    queue[qlen++] = c;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload, size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    static int st[3];
    if (!*state) {
        *state = &st[READING];
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (handoff && *state == &st[READING]) {
        *state = &st[WAITING];
        MHD_suspend_connection(c);
        hand_off(c);
        return MHD_YES;
    }
    *state = &st[DONE];
    return MHD_queue_response(c, 201, reply);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mhd_static PORT [handoff]\n");
        return 2;
    }
    handoff = argc > 2 && strcmp(argv[2], "handoff") == 0;
    /* Blocked in every thread (they inherit it), taken by sigwait below. */
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    reply = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
                                            MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(reply, "Content-Type", "application/json");
    pthread_t t;
    if (handoff && pthread_create(&t, NULL, resumer, NULL)) {
        fprintf(stderr, "mhd_static: cannot start the resumer thread\n");
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)atoi(argv[1]), NULL, NULL, handler, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_static: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(reply);
    return 0;
}

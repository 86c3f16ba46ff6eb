/*
 * conntrack — see conntrack.h.
 *
 * A doubly linked list of tracked connections under one mutex; the fields
 * the HTTP threads update on every request (phase, deadline) are atomics so
 * those updates take no lock. The reaper shuts a socket down (it never
 * closes one) while the connection is pinned: libmicrohttpd reports a
 * connection closed (and we unlink it, waiting for the pin to go) before it
 * closes the descriptor, so the descriptor we shut down is always still that
 * connection's. The mutex itself is not held across those system calls, so
 * thousands of connections expiring together do not hold up the HTTP
 * threads, which take it when a connection opens or closes.
 */
#include "http/conntrack.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum phase { PH_HEADERS = 0, PH_BODY, PH_WORK, PH_DEAD };

struct tracked {
    struct tracked *prev, *next;
    struct conntrack *t;
    int fd;
    atomic_int phase;
    atomic_int requests;            /* completed on this connection */
    int admitted;                   /* counted in live (under mu) */
    int pinned;                     /* the reaper is using fd (under mu) */
    _Atomic int64_t deadline_ms;    /* monotonic */
};

struct conntrack {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t unpinned;
    struct tracked head;            /* list sentinel */
    int64_t header_ms, body_ms;
    unsigned max_conns, live;       /* the cap, and connections admitted (mu) */
    int stop;
    pthread_t reaper;
    atomic_ulong timeouts;
};

static struct tracked *tracked_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static const char timeout_reply[] =
    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
    "Content-Length: 92\r\n\r\n"
    "{\"detail\":\"Request Timeout: the request was not received in time; the "
    "connection is closed\"}";

static const char busy_reply[] =
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
    "Content-Length: 64\r\n\r\n"
    "{\"detail\":\"Too many open connections; retry in a second or two\"}";

static void *reaper_main(void *arg)
{
    struct conntrack *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        int64_t now = sf_mono_ms();
        for (struct tracked *k = t->head.next; k != &t->head; k = k->next) {
            int ph = atomic_load(&k->phase);
            if (ph == PH_WORK || ph == PH_DEAD || now < atomic_load(&k->deadline_ms))
                continue;
            /* The request may have moved on meanwhile; whoever changes the
             * phase first decides whether it is served or cut. */
            if (!atomic_compare_exchange_strong(&k->phase, &ph, PH_DEAD))
                continue;
            k->pinned = 1;          /* k stays linked and its fd open */
            pthread_mutex_unlock(&t->mu);
            /* Idle between requests: close quietly. Otherwise say why. */
            if (!(ph == PH_HEADERS && atomic_load(&k->requests) > 0))
                conntrack_send_timeout(k->fd);
            shutdown(k->fd, SHUT_RDWR);
            atomic_fetch_add(&t->timeouts, 1);
            pthread_mutex_lock(&t->mu);
            k->pinned = 0;
            pthread_cond_broadcast(&t->unpinned);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

struct conntrack *conntrack_new(int header_timeout_s, int body_timeout_s,
                                unsigned max_conns, char *errstr, size_t errstr_size)
{
    struct conntrack *t = calloc(1, sizeof(*t));
    if (!t) {
        sf_err(-1, errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_cond_init(&t->unpinned, NULL);
    t->head.next = t->head.prev = &t->head;
    t->header_ms = (int64_t)(header_timeout_s > 0 ? header_timeout_s : 10) * 1000;
    t->body_ms = (int64_t)(body_timeout_s > 0 ? body_timeout_s : 30) * 1000;
    t->max_conns = max_conns ? max_conns : 10000;
    if (pthread_create(&t->reaper, NULL, reaper_main, t)) {
        sf_err(-1, errstr, errstr_size, "cannot start the connection reaper thread");
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        pthread_cond_destroy(&t->unpinned);
        free(t);
        return NULL;
    }
    return t;
}

void conntrack_destroy(struct conntrack *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->reaper, NULL);
    /* The daemon is stopped first, so every connection was reported closed. */
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    pthread_cond_destroy(&t->unpinned);
    free(t);
}

void conntrack_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    struct conntrack *t = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct tracked *k = calloc(1, sizeof(*k));
        if (!k || !ci) {
            free(k);
            *socket_context = NULL;
            return;
        }
        k->t = t;
        k->fd = ci->connect_fd;
        atomic_store(&k->deadline_ms, sf_mono_ms() + t->header_ms);
        pthread_mutex_lock(&t->mu);
        k->next = t->head.next;
        k->prev = &t->head;
        t->head.next->prev = k;
        t->head.next = k;
        if (t->live < t->max_conns) {
            t->live++;
            k->admitted = 1;
        } else {
            atomic_store(&k->phase, PH_DEAD);
        }
        pthread_mutex_unlock(&t->mu);
        if (!k->admitted)
            /* Past the cap: refuse now rather than leave the client waiting.
             * (Its request, if already sent, is never served: dead.) */
            conntrack_refuse(k->fd);
        *socket_context = k;
        return;
    }
    struct tracked *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&t->mu);
    while (k->pinned)
        pthread_cond_wait(&t->unpinned, &t->mu);
    k->prev->next = k->next;
    k->next->prev = k->prev;
    if (k->admitted)
        t->live--;
    pthread_mutex_unlock(&t->mu);
    free(k);
    *socket_context = NULL;
}

/* Move to phase `to` unless the connection is dead: 0, or -1 if dead. */
static int advance(struct tracked *k, int to)
{
    int ph = atomic_load(&k->phase);
    while (ph != PH_DEAD)
        if (atomic_compare_exchange_weak(&k->phase, &ph, to))
            return 0;
    return -1;
}

int conntrack_headers_done(struct MHD_Connection *c)
{
    struct tracked *k = tracked_of(c);
    if (!k)
        return 0;
    atomic_store(&k->deadline_ms, sf_mono_ms() + k->t->body_ms);
    return advance(k, PH_BODY);
}

int conntrack_body_done(struct MHD_Connection *c)
{
    struct tracked *k = tracked_of(c);
    return k ? advance(k, PH_WORK) : 0;
}

void conntrack_request_done(struct MHD_Connection *c)
{
    struct tracked *k = tracked_of(c);
    if (!k || atomic_load(&k->phase) == PH_DEAD)
        return;
    atomic_fetch_add(&k->requests, 1);
    atomic_store(&k->deadline_ms, sf_mono_ms() + k->t->header_ms);
    (void)advance(k, PH_HEADERS);
}

void conntrack_send_timeout(int fd)
{
    (void)send(fd, timeout_reply, sizeof(timeout_reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void conntrack_refuse(int fd)
{
    (void)send(fd, busy_reply, sizeof(busy_reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_RDWR);
}

int conntrack_admit(struct conntrack *t)
{
    int rc = -1;
    pthread_mutex_lock(&t->mu);
    if (t->live < t->max_conns) {
        t->live++;
        rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void conntrack_release(struct conntrack *t)
{
    pthread_mutex_lock(&t->mu);
    t->live--;
    pthread_mutex_unlock(&t->mu);
}

int64_t conntrack_idle_ms(const struct conntrack *t)
{
    return t->header_ms;
}

void conntrack_count_timeout(struct conntrack *t)
{
    atomic_fetch_add(&t->timeouts, 1);
}

unsigned long conntrack_timeouts(struct conntrack *t)
{
    return t ? atomic_load(&t->timeouts) : 0;
}

/*
 * stream — GET /api/stream: Server-Sent Events telling dashboards that the
 * store changed, coalesced to at most one notice per WEB_COALESCE_MS.
 *
 * No thread ever waits for a client. The processor's commit hook only bumps
 * an atomic generation and signals a condition variable. Each stream is a
 * libmicrohttpd response with a content-reader callback: when it has
 * nothing to send it suspends its own connection and returns 0 bytes, so
 * it holds no HTTP thread (the pool has two) while it waits. The dispatcher
 * thread publishes a new generation at most every WEB_COALESCE_MS and
 * resumes the suspended streams; each then formats one event and suspends
 * again. A slow reader just leaves bytes in its socket buffer (the server
 * never blocks on a socket); a vanished one is noticed at the next write, at
 * the latest by the heartbeat comment sent every WEB_HEARTBEAT_MS.
 *
 * The 256 streams are shared, so one client must not hold them all: one
 * peer address (IPv6: one /64) gets at most WEB_STREAMS_PER_CLIENT (429
 * past that), and a stream whose data is not being read is dropped. Not
 * read means more than WEB_STALL_BYTES of it still unsent in the socket
 * (SIOCOUTQ: the client's receive window is full) for WEB_STALL_MS on end;
 * the reader checks at each write, and the dispatcher wakes a stream in
 * that state every second to check again. (A socket so full that
 * libmicrohttpd cannot write at all never reaches the reader:
 * libmicrohttpd's own idle timeout closes it.) A client with a large
 * receive window fills it slowly on a quiet store (heartbeats are a few
 * bytes), so it is the per-client cap that bounds what one client holds.
 *
 * Many addresses (one host can bind 127.0.0.2, 127.0.0.3, ...) can still
 * fill the table with streams nobody reads. So a full table makes room by
 * fair share: a new stream from an address holding k streams evicts the
 * oldest stream of an address holding the most, M, when k + 1 < M (the
 * new one's address then holds no more than the evicted one's); otherwise
 * it gets 503. Only clients holding more than anyone else lose streams,
 * and they always keep as many as the newcomer has.
 *
 * Locks: smu guards the client list; each client's mu guards its own
 * state. The dispatcher takes a reference on each client under smu and
 * resumes them after releasing it, so no lock of ours is held while
 * libmicrohttpd takes its own (the free callback runs inside it and takes
 * smu). A client's memory goes when its last reference does.
 */
#include "core/metrics.h"
#include "web/web_int.h"
#include "core/stats.h"
#include "http/http.h"
#include "http/mhd.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

struct web_client {
    struct web_client *prev, *next;
    struct web *w;
    struct MHD_Connection *conn;
    int fd;                         /* its socket: only on its HTTP thread */
    int family;                     /* the peer's address (AF_INET[6]) */
    unsigned char addr[16];
    int refs;                       /* under w->smu: list + borrowers */
    atomic_int evicted;             /* told to end (set under w->smu) */
    pthread_mutex_t mu;             /* the fields below */
    int suspended;
    int gone;                       /* the response was freed */
    int hello_sent;
    uint64_t sent_gen;
    int64_t last_write_ms;          /* monotonic */
    int64_t stall_ms;               /* unsent > WEB_STALL_BYTES since, or 0 */
    char buf[512];
    size_t len, off;
};

static void client_unref_locked(struct web *w, struct web_client *c)
{
    if (--c->refs > 0)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
    (void)w;
}

/* Resume c if its reader suspended it. Called without w->smu held. */
static void client_wake(struct web_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->suspended && !c->gone) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Fill c->buf with the next thing to send, if any. Under c->mu. */
static void next_event(struct web *w, struct web_client *c, int64_t now)
{
    char ts[32];
    int n = 0;
    uint64_t g = atomic_load(&w->published);
    if (!c->hello_sent) {
        n = snprintf(c->buf, sizeof(c->buf),
                     "retry: %d\nevent: hello\ndata: {\"seq\":%" PRIu64
                     ",\"mode\":\"%s\",\"coalesce_ms\":%d}\n\n",
                     WEB_RETRY_MS, g, atomic_load(&w->attached) ? "run" : "serve",
                     WEB_COALESCE_MS);
        c->hello_sent = 1;
        c->sent_gen = g;
    } else if (g != c->sent_gen) {
        int64_t at = atomic_load(&w->last_change_ms);
        n = snprintf(c->buf, sizeof(c->buf),
                     "id: %" PRIu64 "\nevent: commit\ndata: {\"seq\":%" PRIu64
                     ",\"orders\":%" PRIu64 ",\"at\":\"%s\"}\n\n",
                     g, g, (uint64_t)atomic_load(&w->inserted),
                     sf_format_time(at ? at : sf_now_ms(), ts));
        c->sent_gen = g;
    } else if (now - c->last_write_ms >= WEB_HEARTBEAT_MS) {
        n = snprintf(c->buf, sizeof(c->buf), ": ping\n\n");
    }
    c->len = n > 0 ? (size_t)n : 0;
    c->off = 0;
}

static const char *peer_text(const struct web_client *c, char *out, size_t n)
{
    if (!c->family || !inet_ntop(c->family, c->addr, out, (socklen_t)n))
        snprintf(out, n, "?");
    return out;
}

/* Has c's data gone unread for WEB_STALL_MS? Under c->mu, on the
 * connection's own thread (its socket is open). */
static int stalled(struct web_client *c, int64_t now, int *unsent)
{
    int q = 0;
    if (c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &q) != 0 || q <= WEB_STALL_BYTES) {
        c->stall_ms = 0;
        return 0;
    }
    *unsent = q;
    if (!c->stall_ms)
        c->stall_ms = now;
    return now - c->stall_ms >= WEB_STALL_MS;
}

/* libmicrohttpd's content reader for one stream (an HTTP thread). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct web_client *c = cls;
    struct web *w = c->w;
    (void)pos;
    pthread_mutex_lock(&c->mu);
    int64_t now = sf_mono_ms();
    int unsent = 0;
    if (atomic_load(&c->evicted)) {
        char ip[INET6_ADDRSTRLEN];
        log_info("web: dropping a live stream to %s: the streams are all taken and "
                 "its address holds the most", peer_text(c, ip, sizeof(ip)));
        pthread_mutex_unlock(&c->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (stalled(c, now, &unsent)) {
        char ip[INET6_ADDRSTRLEN];
        log_info("web: dropping a live stream to %s: its data is not read (%d bytes "
                 "unsent for %d s)", peer_text(c, ip, sizeof(ip)), unsent,
                 WEB_STALL_MS / 1000);
        pthread_mutex_unlock(&c->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (c->off == c->len) {
        if (atomic_load(&w->closing)) {
            pthread_mutex_unlock(&c->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        next_event(w, c, now);
    }
    if (c->off == c->len) {
        /* Nothing to say: park the connection until the dispatcher resumes
         * it; returning 0 with the connection suspended is libmicrohttpd's
         * way to say "no data yet" without busy-waiting. */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    size_t n = c->len - c->off < max ? c->len - c->off : max;
    memcpy(out, c->buf + c->off, n);
    c->off += n;
    c->last_write_ms = now;
    pthread_mutex_unlock(&c->mu);
    return (ssize_t)n;
}

/* The response is gone (connection closed): unlink and drop the list's
 * reference. */
static void stream_free(void *cls)
{
    struct web_client *c = cls;
    struct web *w = c->w;
    pthread_mutex_lock(&c->mu);
    c->gone = 1;
    c->suspended = 0;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&w->smu);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nclients--;
    if (atomic_load(&c->evicted))
        w->evicting--;
    metrics_sse_clients(-1);
    pthread_cond_broadcast(&w->gone_cv);
    client_unref_locked(w, c);
    pthread_mutex_unlock(&w->smu);
}

/* One client: one IPv4 address, or one IPv6 /64 (what one host or site is
 * given, so its many addresses count as one). */
static int same_client(const struct web_client *a, const struct web_client *b)
{
    return a->family == b->family &&
           !memcmp(a->addr, b->addr, a->family == AF_INET6 ? 8 : 4);
}

/* The table is full and a client holding `mine` streams wants one more:
 * the oldest stream of a client holding the most, if that is more than
 * mine + 1; else NULL. Under w->smu. */
static struct web_client *pick_victim(struct web *w, int mine)
{
    struct web_client *best = NULL;
    int most = 0;
    /* Newest first: a later (older) stream of an equal count wins. */
    for (struct web_client *o = w->clients; o; o = o->next) {
        if (atomic_load(&o->evicted) || !o->family)
            continue;
        int k = 0;
        for (struct web_client *p = w->clients; p; p = p->next)
            k += !atomic_load(&p->evicted) && same_client(o, p);
        if (k >= most) {
            most = k;
            best = o;
        }
    }
    return best && mine + 1 < most ? best : NULL;
}

enum http_result web_api_stream(struct http_req *r)
{
    struct web *w = r->ctx->web;
    if (!w)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "this server has no store to watch");
    if (MHD_get_connection_values(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
        return http_error(r, MHD_HTTP_BAD_REQUEST,
                          "/api/stream takes no query parameters");
    struct web_client *c = calloc(1, sizeof(*c));
    if (!c)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    c->w = w;
    c->conn = http_mhd_conn(r);
    c->last_write_ms = sf_mono_ms();
    c->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(http_mhd_conn(r), MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        c->fd = ci->connect_fd;
    ci = MHD_get_connection_info(http_mhd_conn(r), MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        c->family = AF_INET;
        memcpy(c->addr, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, 4);
    } else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
        c->family = AF_INET6;
        memcpy(c->addr, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
    }
    pthread_mutex_init(&c->mu, NULL);

    pthread_mutex_lock(&w->smu);
    int full = w->nclients - w->evicting >= WEB_STREAMS_MAX,
        closing = atomic_load(&w->closing);
    int mine = 0;
    for (struct web_client *o = w->clients; o && c->family; o = o->next)
        mine += !atomic_load(&o->evicted) && same_client(o, c);
    int over = mine >= WEB_STREAMS_PER_CLIENT;
    struct web_client *victim = NULL;
    if (full && !closing && !over && c->family && (victim = pick_victim(w, mine))) {
        atomic_store(&victim->evicted, 1);
        w->evicting++;
        victim->refs++;             /* woken below, without smu */
        full = 0;
    }
    if (!full && !closing && !over) {
        c->refs = 1;
        c->next = w->clients;
        if (w->clients)
            w->clients->prev = c;
        w->clients = c;
        w->nclients++;
        metrics_sse_clients(1);
    }
    pthread_mutex_unlock(&w->smu);
    if (victim) {
        client_wake(victim);        /* its reader ends it */
        pthread_mutex_lock(&w->smu);
        client_unref_locked(w, victim);
        pthread_mutex_unlock(&w->smu);
    }
    if (over && !full && !closing) {
        char ip[INET6_ADDRSTRLEN], msg[200];
        peer_text(c, ip, sizeof(ip));
        pthread_mutex_destroy(&c->mu);
        free(c);
        snprintf(msg, sizeof(msg), "too many live streams from your address (%d); "
                 "close a dashboard or retry later", WEB_STREAMS_PER_CLIENT);
        log_debug("web: refused a live stream to %s: it has %d", ip, mine);
        return http_error(r, MHD_HTTP_TOO_MANY_REQUESTS, msg);
    }
    if (full || closing) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        char msg[160];
        snprintf(msg, sizeof(msg), closing ? "the server is shutting down"
                 : "too many live dashboards (%d streams); the page falls back "
                   "to polling", WEB_STREAMS_MAX);
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 1024, stream_read, c, stream_free);
    if (!resp) {
        stream_free(c);
        return HTTP_CLOSE;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    enum http_result rc = http_mhd_queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);   /* frees c now if it was not queued */
    return rc;
}

/* Take a reference on every client (under smu) into *out. */
static size_t borrow_all(struct web *w, struct web_client ***out)
{
    size_t n = 0;
    struct web_client **v = malloc((size_t)(w->nclients ? w->nclients : 1) * sizeof(*v));
    if (!v)
        return 0;
    for (struct web_client *c = w->clients; c; c = c->next) {
        c->refs++;
        v[n++] = c;
    }
    *out = v;
    return n;
}

static void give_back(struct web *w, struct web_client **v, size_t n)
{
    pthread_mutex_lock(&w->smu);
    for (size_t i = 0; i < n; i++)
        client_unref_locked(w, v[i]);
    pthread_mutex_unlock(&w->smu);
    free(v);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *dispatcher_main(void *arg)
{
    struct web *w = arg;
    int64_t last_pub = 0, last_beat = sf_mono_ms();
    pthread_mutex_lock(&w->smu);
    while (!atomic_load(&w->stop)) {
        int64_t now = sf_mono_ms();
        int pending = atomic_load(&w->commit_gen) != atomic_load(&w->published);
        int wake_all = atomic_load(&w->closing), beat = 0;
        if (pending && now - last_pub >= WEB_COALESCE_MS) {
            atomic_store(&w->published, atomic_load(&w->commit_gen));
            w->notices++;
            last_pub = now;
            pending = 0;
            wake_all = 1;
        }
        if (now - last_beat >= 1000) {
            beat = 1;
            last_beat = now;
        }
        if (wake_all || beat) {
            struct web_client **v = NULL;
            size_t n = borrow_all(w, &v);
            pthread_mutex_unlock(&w->smu);
            for (size_t i = 0; i < n; i++) {
                struct web_client *c = v[i];
                int due = wake_all;
                if (!due) {
                    /* A heartbeat is due, or a stalled stream checks again. */
                    pthread_mutex_lock(&c->mu);
                    due = now - c->last_write_ms >= WEB_HEARTBEAT_MS || c->stall_ms;
                    pthread_mutex_unlock(&c->mu);
                }
                if (due)
                    client_wake(c);
            }
            if (v)
                give_back(w, v, n);
            pthread_mutex_lock(&w->smu);
        }
        /* Sleep until the coalescing window ends (a change is waiting) or
         * the next tick; a commit's signal cuts an idle sleep short. */
        int64_t wait = pending ? WEB_COALESCE_MS - (now - last_pub) : 100;
        if (wait > 0 && !atomic_load(&w->stop)) {
            struct timespec ts;
            deadline_in(&ts, wait);
            pthread_cond_timedwait(&w->scv, &w->smu, &ts);
        }
    }
    pthread_mutex_unlock(&w->smu);
    return NULL;
}

void web_streams_kick(struct web *w)
{
    /* Signalling without the mutex never waits for its holder; a wake-up
     * lost to the race is caught by the dispatcher's 100 ms tick. */
    pthread_cond_signal(&w->scv);
}

int web_streams_start(struct web *w, char *errstr, size_t n)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->scv, &ca);
    pthread_cond_init(&w->gone_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->smu, NULL);
    if (pthread_create(&w->dispatcher, NULL, dispatcher_main, w))
        return sf_err(-1, errstr, n, "cannot start the stream dispatcher thread");
    w->dispatcher_started = 1;
    return 0;
}

void web_close_streams(struct web *w)
{
    if (!w || !w->dispatcher_started)
        return;
    atomic_store(&w->closing, 1);
    pthread_mutex_lock(&w->smu);
    struct web_client **v = NULL;
    size_t n = borrow_all(w, &v);
    pthread_mutex_unlock(&w->smu);
    for (size_t i = 0; i < n; i++)
        client_wake(v[i]);
    if (v)
        give_back(w, v, n);
    /* Each resumed reader now ends its stream; wait for libmicrohttpd to
     * close them, resuming again any that suspended in between. */
    int64_t deadline = sf_mono_ms() + 3000;
    pthread_mutex_lock(&w->smu);
    while (w->nclients > 0 && sf_mono_ms() < deadline) {
        struct timespec ts;
        deadline_in(&ts, 50);
        pthread_cond_timedwait(&w->gone_cv, &w->smu, &ts);
        v = NULL;
        n = borrow_all(w, &v);
        pthread_mutex_unlock(&w->smu);
        for (size_t i = 0; i < n; i++)
            client_wake(v[i]);
        if (v)
            give_back(w, v, n);
        pthread_mutex_lock(&w->smu);
    }
    if (w->nclients > 0)
        log_warn("web: %d live streams did not close in 3 s", w->nclients);
    pthread_mutex_unlock(&w->smu);
}

void web_streams_stop(struct web *w)
{
    if (!w->dispatcher_started)
        return;
    atomic_store(&w->stop, 1);
    pthread_mutex_lock(&w->smu);
    pthread_cond_broadcast(&w->scv);
    pthread_mutex_unlock(&w->smu);
    pthread_join(w->dispatcher, NULL);
    w->dispatcher_started = 0;
    pthread_cond_destroy(&w->scv);
    pthread_cond_destroy(&w->gone_cv);
    pthread_mutex_destroy(&w->smu);
}

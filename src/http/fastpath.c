/*
 * fastpath — see fastpath.h.
 *
 * Each loop has an epoll set (edge-triggered), the shared listening socket
 * (EPOLLEXCLUSIVE: one loop wakes for new connections and deals them out to
 * all loops in turn), an eventfd, and queues of connections dealt to it and
 * of finished requests. A connection has at most one request in
 * flight: its next request is not read before the answer is out, so
 * answers keep the order of the requests. A connection is only ever touched
 * by its loop's thread; other threads only push to the queue.
 */
#include "http/fastpath.h"
#include "http/conntrack.h"

#include <microhttpd.h>     /* MHD_get_reason_phrase_for: the same bytes */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define FP_PARTIAL_MS 100       /* incomplete this long: libmicrohttpd's */
#define FP_TICK_MS 50           /* sweep for those and for idle connections */
#define FP_LINGER_MS 2000       /* closing: how long to drain unread input */

struct fp_loop;

/* A connection accepted by another loop, on its way to this one. */
struct fp_new {
    struct fp_new *next;
    int fd;
    socklen_t len;
    struct sockaddr_storage ss;
};

struct fast_conn {
    struct fast_conn *prev, *next;  /* the loop's connections */
    struct fp_loop *lp;
    int fd;
    struct http_req *req;           /* in flight, or NULL */
    struct sf_buf out;              /* answers not yet sent */
    size_t out_off;
    size_t held;                    /* out's part of the reply budget */
    int readable;                   /* input may be waiting */
    int close_after;                /* close once out is sent */
    int dead;                       /* the peer is gone: close when idle */
    int closed;                     /* gone; freed after this epoll batch */
    int64_t linger_ms;              /* closing: reading what is left until */
    unsigned requests;              /* answered */
    int64_t last_ms;                /* last request or answer (monotonic) */
    int64_t partial_ms;             /* an incomplete request since, or 0 */
    int partial_head;               /* and it is not to be handed over
                                     * incomplete (fast_req.hold) */
    int64_t blocked_ms;             /* an answer waiting for room since, or 0 */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct fp_loop {
    struct fastpath *fp;
    int ep, efd;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    struct http_req *done;          /* finished requests (mu) */
    struct fp_new *incoming;        /* connections dealt to this loop (mu) */
    struct fast_conn conns;         /* list sentinel */
    struct fast_conn *gone;         /* closed ones, freed after the batch */
    int64_t last_sweep;
    time_t date_t;
    char date[40];
    char buf[FP_MAX];
    /* Where a taken request's bytes are "received": with MSG_TRUNC the
     * kernel drops them without writing here, but the sanitizers' recv
     * wants a real buffer. Never touched, so it costs no memory. */
    char sink[FP_MAX];
};

struct fastpath {
    struct http_core *core;
    fastpath_handoff handoff;       /* to libmicrohttpd (server.c) */
    void *handoff_arg;
    struct conntrack *ct;
    int lfd;
    int n;
    struct fp_loop *loops;
    atomic_int stop;
    atomic_long inflight;           /* requests read and not yet answered */
    atomic_uint next_loop;          /* the loop the next connection goes to */
};

/* ---- answers ------------------------------------------------------------ */

static const char *http_date(struct fp_loop *lp)
{
    time_t now = time(NULL);
    if (now != lp->date_t) {
        struct tm tm;
        static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        gmtime_r(&now, &tm);
        snprintf(lp->date, sizeof(lp->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        lp->date_t = now;
    }
    return lp->date;
}

static void put_str(struct sf_buf *b, const char *s)
{
    sf_buf_append(b, s, strlen(s));
}

/* The transport's reply: r's answer, queued on its connection (HTTP
 * thread). */
static enum http_result fast_reply(struct http_req *r, unsigned status, const char *ctype,
                                   const char *body, size_t len, const char *hname,
                                   const char *hval)
{
    struct fast_conn *c = r->conn;
    const char *reason = MHD_get_reason_phrase_for(status);
    r->status = status;
    /* The same header lines, in the same order, as libmicrohttpd's. Built
     * without printf: this runs once per order. */
    SF_BUF_LIT(&c->out, "HTTP/1.1 ");
    sf_buf_put_u64(&c->out, status);
    SF_BUF_LIT(&c->out, " ");
    put_str(&c->out, reason && *reason ? reason : "Unknown");
    SF_BUF_LIT(&c->out, "\r\nDate: ");
    put_str(&c->out, http_date(c->lp));
    SF_BUF_LIT(&c->out, "\r\n");
    if (c->close_after)
        SF_BUF_LIT(&c->out, "Connection: close\r\n");
    SF_BUF_LIT(&c->out, "Content-Type: ");
    put_str(&c->out, ctype);
    SF_BUF_LIT(&c->out, "\r\nX-Content-Type-Options: nosniff\r\n");
    if (hname) {
        put_str(&c->out, hname);
        SF_BUF_LIT(&c->out, ": ");
        put_str(&c->out, hval);
        SF_BUF_LIT(&c->out, "\r\n");
    }
    SF_BUF_LIT(&c->out, "Content-Length: ");
    sf_buf_put_u64(&c->out, len);
    SF_BUF_LIT(&c->out, "\r\n\r\n");
    sf_buf_append(&c->out, body, len);
    return HTTP_OK;
}

/* A waiting request just sits on its connection: nothing to do. */
static void fast_suspend(struct http_req *r)
{
    (void)r;
}

/* r was finished (any thread): answer it on its loop. */
static void fast_finish(struct http_req *r)
{
    struct fp_loop *lp = ((struct fast_conn *)r->conn)->lp;
    pthread_mutex_lock(&lp->mu);
    int wake = lp->done == NULL;
    r->tp_next = lp->done;
    lp->done = r;
    pthread_mutex_unlock(&lp->mu);
    if (wake) {
        uint64_t one = 1;
        (void)!write(lp->efd, &one, sizeof(one));
    }
}

static const struct http_transport fast_transport = {
    .name = "fastpath",
    .reply = fast_reply,
    .suspend = fast_suspend,
    .finish = fast_finish,
};

/* ---- connections -------------------------------------------------------- */

/* Take c off the loop. It is freed after the current batch of events,
 * which may still name it. */
static void conn_unlink(struct fast_conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    conntrack_release(c->lp->fp->ct);
    http_reply_release(c->lp->fp->core, c->held);
    c->held = 0;
    sf_buf_free(&c->out);
    c->closed = 1;
    c->next = c->lp->gone;
    c->lp->gone = c;
}

static void conn_close(struct fast_conn *c)
{
    if (c->req) {               /* its answer is still to come: close then */
        c->dead = 1;
        return;
    }
    conn_unlink(c);
    close(c->fd);
}

/* Give the connection, at a request boundary, to libmicrohttpd. */
static void conn_handoff(struct fast_conn *c)
{
    struct fastpath *fp = c->lp->fp;
    epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    conn_unlink(c);
    fp->handoff(fp->handoff_arg, c->fd, (const struct sockaddr *)&c->addr, c->addrlen);
}

/* Read and drop what the client still sends, until it closes: 0, or -1
 * once the connection is closed. */
static int conn_drain(struct fast_conn *c)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        conn_close(c);
        return -1;
    }
}

/* Close after the last answer. Closing a socket with unread input resets
 * the connection, and the reset may destroy the answer before the client
 * reads it: so shut the sending side, and close once the client has
 * closed too (or FP_LINGER_MS have passed), dropping what it sends. */
static int conn_linger(struct fast_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->linger_ms = sf_mono_ms() + FP_LINGER_MS;
    conn_drain(c);
    return -1;
}

/* Send what is queued: 0, or -1 if the connection was closed (or is
 * closing). */
static int conn_flush(struct fast_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->blocked_ms)
                c->blocked_ms = sf_mono_ms();
            return 0;           /* EPOLLOUT comes when there is room */
        }
        conn_close(c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    c->blocked_ms = 0;
    http_reply_release(c->lp->fp->core, c->held);
    c->held = 0;
    if (c->close_after)
        return conn_linger(c);
    return 0;
}

/* ---- serving ------------------------------------------------------------ */

/* r was answered (its reply is in c->out): count it, free it, send. */
static int conn_answered(struct fast_conn *c)
{
    struct http_req *r = c->req;
    c->req = NULL;
    c->requests++;
    c->last_ms = sf_mono_ms();
    atomic_fetch_sub(&c->lp->fp->inflight, 1);
    c->held += http_reply_take(r);  /* until out is sent */
    http_req_free(r, r->status);
    if (c->dead) {
        conn_close(c);
        return -1;
    }
    return conn_flush(c);
}

/* Read and serve the connection's requests while it has complete ones. */
static void conn_serve(struct fast_conn *c)
{
    struct fp_loop *lp = c->lp;
    struct fastpath *fp = lp->fp;
    while (c->readable && !c->req && !c->dead && !c->linger_ms && c->out.len == 0 &&
           !atomic_load(&fp->stop)) {
        ssize_t n = recv(c->fd, lp->buf, sizeof(lp->buf), MSG_PEEK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = 0;
            return;
        }
        if (n <= 0) {           /* closed by the peer, or reset */
            conn_close(c);
            return;
        }
        struct fast_req q;
        int pr = fastpath_parse(lp->buf, (size_t)n, &q);
        if (pr == PARSE_OTHER) {
            conn_handoff(c);
            return;
        }
        if (pr == PARSE_BAD) {   /* answer, then close: the framing is unsure */
            struct http_req *r = http_req_new(fp->core, "/", &fast_transport, c);
            if (!r) {
                conn_close(c);
                return;
            }
            c->req = r;
            c->partial_ms = 0;
            atomic_fetch_add(&fp->inflight, 1);
            c->close_after = 1;
            http_error(r, q.status, q.msg);
            conn_answered(c);
            return;
        }
        if (pr == PARSE_MORE) {  /* wait for the rest: the next edge */
            if (!c->partial_ms)
                c->partial_ms = sf_mono_ms();
            c->partial_head = q.hold;
            c->readable = 0;
            return;
        }
        c->partial_ms = 0;
        /* lp->buf holds the request (values cut in place): drop the same
         * bytes from the socket (MSG_TRUNC: TCP discards them, no copy). */
        size_t got = 0;
        while (got < q.total) {
            ssize_t k = recv(c->fd, lp->sink, q.total - got, MSG_TRUNC);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                conn_close(c);
                return;
            }
            got += (size_t)k;
        }
        if ((size_t)n == q.total)
            c->readable = 0;    /* all of it taken: the next edge says more */
        struct http_req *r = http_req_new(fp->core, q.route, &fast_transport, c);
        if (!r) {
            conn_close(c);
            return;
        }
        c->req = r;
        atomic_fetch_add(&fp->inflight, 1);
        struct http_head h = {q.val[0], q.val[1], q.val[2], q.val[3], q.val[4],
                              q.val[5], NULL, q.val[5] != NULL, NULL, NULL,
                              (const struct sockaddr *)&c->addr};
        /* Answered from the headers alone (401, 413, 415), a request with a
         * body closes its connection, as libmicrohttpd's does: it has not
         * read that body. */
        c->close_after = q.close || q.total > q.head_len;
        enum http_result rc = http_route_request(r, q.route, "POST", &h);
        if (rc == HTTP_OK && !c->out.len) {
            if (!r->too_big) {  /* 413 is from the headers too */
                c->close_after = q.close;
                http_body_take(r, lp->buf + q.head_len, q.total - q.head_len);
            }
            rc = http_run(r);
        }
        if (r->suspended && rc == HTTP_OK)
            return;             /* fast_finish brings it back */
        if (rc != HTTP_OK || !c->out.len) {
            c->dead = 1;        /* the handler gave up on the connection */
            conn_answered(c);
            return;
        }
        if (conn_answered(c))
            return;
    }
}

/* Serve an admitted connection on lp (lp's thread). */
static void conn_open(struct fp_loop *lp, int fd, const struct sockaddr_storage *ss,
                      socklen_t len)
{
    struct fast_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        conntrack_release(lp->fp->ct);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->lp = lp;
    c->fd = fd;
    c->addr = *ss;
    c->addrlen = len;
    c->last_ms = sf_mono_ms();
    sf_buf_init(&c->out, (size_t)1 << 30);
    c->next = lp->conns.next;
    c->prev = &lp->conns;
    lp->conns.next->prev = c;
    lp->conns.next = c;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.ptr = c};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev)) {
        conn_unlink(c);
        close(fd);
        return;
    }
    c->readable = 1;
    conn_serve(c);
}

/* Accept what is waiting and deal the connections out to the loops in
 * turn: the loop that wakes for the listening socket takes all of a burst,
 * and the others would sit idle. */
static void accept_all(struct fp_loop *lp)
{
    struct fastpath *fp = lp->fp;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(fp->lfd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("http: accept: %s", strerror(errno));
            return;
        }
        if (conntrack_admit(fp->ct)) {
            conntrack_refuse(fd);
            close(fd);
            continue;
        }
        struct fp_loop *to = &fp->loops[atomic_fetch_add(&fp->next_loop, 1) % (unsigned)fp->n];
        struct fp_new *nw = to == lp ? NULL : malloc(sizeof(*nw));
        if (!nw) {
            conn_open(lp, fd, &ss, len);
            continue;
        }
        *nw = (struct fp_new){.fd = fd, .ss = ss, .len = len};
        pthread_mutex_lock(&to->mu);
        nw->next = to->incoming;
        to->incoming = nw;
        pthread_mutex_unlock(&to->mu);
        uint64_t one = 1;
        (void)!write(to->efd, &one, sizeof(one));
    }
}

/* Open the connections other loops accepted for this one, and answer the
 * requests the log writer (or whoever) finished. */
static void drain_done(struct fp_loop *lp)
{
    uint64_t v;
    (void)!read(lp->efd, &v, sizeof(v));
    pthread_mutex_lock(&lp->mu);
    struct http_req *r = lp->done;
    struct fp_new *nw = lp->incoming;
    lp->done = NULL;
    lp->incoming = NULL;
    pthread_mutex_unlock(&lp->mu);
    while (nw) {
        struct fp_new *next = nw->next;
        if (atomic_load(&lp->fp->stop)) {
            conntrack_release(lp->fp->ct);
            close(nw->fd);
        } else {
            conn_open(lp, nw->fd, &nw->ss, nw->len);
        }
        free(nw);
        nw = next;
    }
    while (r) {
        struct http_req *next = r->tp_next;
        struct fast_conn *c = r->conn;
        if (c->dead)
            r->status = 0;      /* nobody to answer */
        else
            http_resumed(r);
        if (conn_answered(c) == 0)
            conn_serve(c);
        r = next;
    }
}

/* Idle connections past the limit are closed, and so are those whose
 * client has not taken an answer for as long (it stopped reading);
 * requests with a complete head and an incomplete body older than
 * FP_PARTIAL_MS go to libmicrohttpd, which times out slow bodies; an
 * incomplete head gets a 408 at the header timeout. */
static void sweep(struct fp_loop *lp, int64_t now)
{
    struct fastpath *fp = lp->fp;
    int64_t idle = conntrack_idle_ms(fp->ct);
    lp->last_sweep = now;
    for (struct fast_conn *c = lp->conns.next, *next; c != &lp->conns; c = next) {
        next = c->next;
        if (c->linger_ms) {
            if (now >= c->linger_ms)
                conn_close(c);
            continue;
        }
        if (c->blocked_ms && now - c->blocked_ms >= idle) {
            conntrack_count_timeout(fp->ct);
            conn_close(c);
            continue;
        }
        if (c->req || c->out.len)
            continue;
        if (c->partial_ms && c->partial_head) {
            /* A head (or a chunked body within FP_MAX) is only handed
             * over complete and checked: a slow one stays here until the
             * header timeout (408, as libmicrohttpd's connections get from
             * conntrack's reaper). */
            if (now - c->last_ms >= idle) {
                conntrack_send_timeout(c->fd);
                conntrack_count_timeout(fp->ct);
                conn_linger(c);
            }
        } else if (c->partial_ms && now - c->partial_ms >= FP_PARTIAL_MS) {
            conn_handoff(c);
        } else if (!c->partial_ms && now - c->last_ms >= idle) {
            /* Like conntrack's reaper: a connection that never sent a
             * request is told why; one idle between requests is not. */
            if (!c->requests)
                conntrack_send_timeout(c->fd);
            conntrack_count_timeout(fp->ct);
            conn_close(c);
        }
    }
}

static void free_gone(struct fp_loop *lp)
{
    while (lp->gone) {
        struct fast_conn *c = lp->gone;
        lp->gone = c->next;
        free(c);
    }
}

static void *loop_main(void *arg)
{
    struct fp_loop *lp = arg;
    struct fastpath *fp = lp->fp;
    struct epoll_event evs[64];
    for (;;) {
        int stopping = atomic_load(&fp->stop);
        if (stopping && atomic_load(&fp->inflight) == 0)
            break;
        int n = epoll_wait(lp->ep, evs, 64, stopping ? 10 : FP_TICK_MS);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == NULL) {
                accept_all(lp);
            } else if (p == lp) {
                drain_done(lp);
            } else {
                struct fast_conn *c = p;
                if (c->closed)
                    continue;
                if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                    conn_close(c);
                    continue;
                }
                if ((evs[i].events & EPOLLOUT) && c->out.len && conn_flush(c))
                    continue;
                if (c->linger_ms) {
                    conn_drain(c);
                    continue;
                }
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
                    c->readable = 1;
                conn_serve(c);
            }
        }
        int64_t now = sf_mono_ms();
        if (now - lp->last_sweep >= FP_TICK_MS) {
            /* A wake-up that was lost (its write to the eventfd failed) is
             * made up for here: without it, the finished requests would
             * wait for good, for fast_finish wakes the loop only when the
             * queue was empty. */
            pthread_mutex_lock(&lp->mu);
            int pending = lp->done || lp->incoming;
            pthread_mutex_unlock(&lp->mu);
            if (pending)
                drain_done(lp);
            sweep(lp, now);
        }
        free_gone(lp);
    }
    /* Every request is answered: send what fits, then close. */
    while (lp->conns.next != &lp->conns) {
        struct fast_conn *c = lp->conns.next;
        if (c->out.len)
            (void)send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
        conn_close(c);
    }
    free_gone(lp);
    return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

static void loop_free(struct fp_loop *lp)
{
    while (lp->incoming) {      /* dealt to it after it stopped */
        struct fp_new *nw = lp->incoming;
        lp->incoming = nw->next;
        conntrack_release(lp->fp->ct);
        close(nw->fd);
        free(nw);
    }
    if (lp->ep >= 0)
        close(lp->ep);
    if (lp->efd >= 0)
        close(lp->efd);
    pthread_mutex_destroy(&lp->mu);
}

struct fastpath *fastpath_start(struct http_core *core, int listen_fd, int threads,
                                struct conntrack *ct, fastpath_handoff handoff,
                                void *handoff_arg, char *errstr, size_t n)
{
    struct fastpath *fp = calloc(1, sizeof(*fp));
    if (!fp || !(fp->loops = calloc((size_t)threads, sizeof(*fp->loops)))) {
        free(fp);
        sf_err(-1, errstr, n, "out of memory");
        return NULL;
    }
    fp->core = core;
    fp->handoff = handoff;
    fp->handoff_arg = handoff_arg;
    fp->ct = ct;
    fp->lfd = listen_fd;
    fp->n = threads;
    /* Every loop is ready before any runs: a loop deals connections to the
     * others as soon as it accepts. */
    for (int i = 0; i < threads; i++) {
        struct fp_loop *lp = &fp->loops[i];
        lp->fp = fp;
        lp->conns.next = lp->conns.prev = &lp->conns;
        pthread_mutex_init(&lp->mu, NULL);
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
        struct epoll_event eev = {.events = EPOLLIN, .data.ptr = lp};
        if (lp->ep < 0 || lp->efd < 0 ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, listen_fd, &lev) ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->efd, &eev)) {
            sf_err(-1, errstr, n, "cannot set up the HTTP threads: %s", strerror(errno));
            fp->n = i + 1;
            fastpath_stop(fp);
            return NULL;
        }
    }
    for (int i = 0; i < threads; i++) {
        struct fp_loop *lp = &fp->loops[i];
        if (pthread_create(&lp->th, NULL, loop_main, lp)) {
            sf_err(-1, errstr, n, "cannot start the HTTP threads: %s", strerror(errno));
            fastpath_stop(fp);
            return NULL;
        }
        lp->started = 1;
        char name[16];
        snprintf(name, sizeof(name), "sf-http-%d", i % 1000);
        pthread_setname_np(lp->th, name);
    }
    return fp;
}

void fastpath_quiesce(struct fastpath *fp)
{
    if (!fp)
        return;
    for (int i = 0; i < fp->n; i++)
        if (fp->loops[i].ep >= 0)
            epoll_ctl(fp->loops[i].ep, EPOLL_CTL_DEL, fp->lfd, NULL);
}

void fastpath_stop(struct fastpath *fp)
{
    if (!fp)
        return;
    fastpath_quiesce(fp);
    atomic_store(&fp->stop, 1);
    for (int i = 0; i < fp->n; i++) {
        struct fp_loop *lp = &fp->loops[i];
        if (lp->started) {
            uint64_t one = 1;
            (void)!write(lp->efd, &one, sizeof(one));
            pthread_join(lp->th, NULL);
        }
    }
    for (int i = 0; i < fp->n; i++)
        loop_free(&fp->loops[i]);
    free(fp->loops);
    free(fp);
}

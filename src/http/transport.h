/*
 * transport — what an HTTP transport implements and what it may call: the
 * seam between the request pipeline (pipeline.c) and the two ways requests
 * arrive, the epoll fast path (fastpath.c) and the libmicrohttpd adapter
 * (mhd.c). Like Redis's ConnectionType or curl's TLS backends: the
 * pipeline knows a request's connection only as the ops struct and an
 * opaque pointer, and the transports know each other not at all (the
 * server, server.c, hands the fast path a callback that gives a connection
 * to libmicrohttpd).
 *
 * A transport, for each request it reads: http_req_new, then
 * http_route_request with the head; unless that queued an answer, the body
 * bytes through http_body_take and then http_run; once the request's
 * answer is out (or it is abandoned), http_req_free. A handler that
 * suspends the request is brought back by the transport's finish op, on
 * whichever thread; the transport then calls http_resumed on the
 * connection's own thread.
 */
#ifndef SF_HTTP_TRANSPORT_H
#define SF_HTTP_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http/http.h"

struct http_transport {
    const char *name;
    /* Queue an answer on r's connection: the status line, Content-Type,
     * X-Content-Type-Options: nosniff, one more header if hname, and a
     * copy of the body. HTTP_CLOSE: it could not. Connection: close, when
     * given as hname, closes the connection after the answer. */
    enum http_result (*reply)(struct http_req *r, unsigned status, const char *ctype,
                              const char *body, size_t len, const char *hname,
                              const char *hval);
    /* Park r's connection until finish (the handler's thread). */
    void (*suspend)(struct http_req *r);
    /* r was finished (http_finish; any thread): have the connection's
     * thread call http_resumed. */
    void (*finish)(struct http_req *r);
};

/* The pipeline's per-server state, owned by the server (server.c): the
 * handlers' context with the route table, and the memory budgets. */
struct http_core {
    struct http_ctx ctx;
    /* Bytes of request bodies held in memory by all connections together;
     * past HTTP_BODY_BUDGET new body bytes get 503, so many big uploads at
     * once cannot exhaust memory. */
    atomic_size_t body_bytes;
    /* The reply budget (http.h: http_reply_reserve). */
    atomic_size_t reply_bytes;
    /* Sign-in sessions (session.h); NULL without read or admin keys. */
    struct http_sessions *sessions;
    /* Failed key checks per client address (ratelimit.h); NULL without
     * keys of any scope. */
    struct http_ratelimit *limit;
};

#define HTTP_BODY_BUDGET SF_BODY_BUDGET   /* http.h */
#define HTTP_REPLY_BUDGET ((size_t)32 << 20)

/* The headers the routes look at, NUL-terminated, or NULL when absent. */
struct http_head {
    const char *authorization;
    const char *content_type;
    const char *content_length;
    const char *host;
    const char *origin;
    const char *content_encoding;
    const char *accept_encoding;    /* NULL on the fast path (POSTs only) */
    int codings;                    /* Content-Encoding fields (2: stacked) */
    const char *accept;             /* NULL on the fast path */
    const char *cookie;             /* NULL on the fast path */
    /* The client's address (the TCP peer), for the key limiter; lives as
     * long as the connection. NULL: unknown. */
    const struct sockaddr *peer;
};

/* A request read by transport tp on connection conn. NULL: out of memory. */
struct http_req *http_req_new(struct http_core *core, const char *url,
                              const struct http_transport *tp, void *conn);
/* Route by method and path, check the Host, key, type and declared length.
 * An answer queued here ends the request; otherwise the handler is chosen. */
enum http_result http_route_request(struct http_req *r, const char *url,
                                    const char *method, const struct http_head *h);
/* Body bytes, within the route's limit and the server's budget. */
void http_body_take(struct http_req *r, const char *data, size_t n);
/* The route's body limit was passed (from the head): answer 413. */
enum http_result http_too_big(struct http_req *r);
/* The whole body is in: answer 413/503, or run the handler. */
enum http_result http_run(struct http_req *r);
/* A finished request is being resumed: queue its answer. */
enum http_result http_resumed(struct http_req *r);
/* {"detail": msg} with one extra header (hname: hval). */
enum http_result http_error_hdr(struct http_req *r, unsigned status, const char *msg,
                                const char *hname, const char *hval);
/* body's gzip form into z, when r's route and client take it and it is
 * worth it (z's limit: no larger than body). Returns 1 if z holds it. */
int http_gzip_into(struct http_req *r, const char *body, size_t len, struct sf_buf *z);
/* A refusal of keys for wait_ms more (ratelimit_wait) in whole seconds,
 * for Retry-After and the message: at least 1. */
int64_t http_limited_s(int64_t wait_ms);
/* Count the answer (status 0: none) and free r. */
void http_req_free(struct http_req *r, unsigned status);
/* Hand r's reply reservation over (to the connection that holds the
 * reply), and give it back once sent. */
size_t http_reply_take(struct http_req *r);
void http_reply_release(struct http_core *core, size_t n);

#endif

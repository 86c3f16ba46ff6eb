/*
 * http — the one HTTP server that carries ingestion, the query API and the
 * dashboard: what a layer needs to serve routes on it.
 *
 * Each layer registers its own routes (http_add_routes: ingest its POSTs,
 * web its pages and API) in the http_ctx it is started with. The request
 * pipeline (pipeline.c) checks each request's Host, method, path, API key,
 * content type and size against that table, reads its body into a bounded
 * buffer and calls the route's handler once with the whole body. A
 * handler either queues a response at once or suspends the request
 * (http_suspend) and finishes it later from another thread (http_finish):
 * that is how an order's 201 waits for the fsync that makes it durable
 * without holding a thread.
 *
 * Requests arrive over one of two transports (transport.h), each behind
 * the same small ops struct: the epoll fast path (fastpath.c), which reads
 * every connection first and serves the ingestion POSTs itself, and the
 * libmicrohttpd adapter (mhd.c), which gets every other connection at a
 * request boundary. The server (server.c) owns the listening socket and
 * wires the two together; neither calls the other.
 */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/coding.h"
#include "core/order.h"
#include "core/util.h"

#define SF_BODY_MAX (1u << 20)  /* 1 MiB: larger bodies get 413 */
#define HTTP_GZIP_MIN 1024      /* smaller answers are never compressed */

struct broker;
struct catalog;
struct web;
struct dedupe;
struct quarantine;
struct auth;
struct store;
struct sockaddr;

/* A handler's (and the pipeline's) verdict: an answer is queued or the
 * request is suspended (HTTP_OK), or the connection is to be closed
 * without one (HTTP_CLOSE). */
enum http_result { HTTP_CLOSE = 0, HTTP_OK = 1 };

struct http_req;
typedef enum http_result (*http_handler)(struct http_req *r);

/* Route flags: the kind of body, and which key the route takes.
 * HTTP_ROUTE_AUTH: an ingest (API) key, when API keys are configured (the
 * ingestion API). HTTP_ROUTE_OPEN: none (health, metrics, API docs, the
 * sign-in pages). HTTP_ROUTE_ADMIN, and every route whose method is not GET
 * (or HEAD) and that is not HTTP_ROUTE_AUTH or HTTP_ROUTE_OPEN: an admin key,
 * when read or admin keys are configured. Every other route reads: a read
 * or admin key, when read keys are configured. Keys come as
 * "Authorization: Bearer KEY" or through a sign-in session's cookie. */
enum { HTTP_BODY_NONE = 0, HTTP_BODY_JSON = 1, HTTP_BODY_JSON_OR_NDJSON = 2,
       HTTP_BODY_FORM = 3 /* application/x-www-form-urlencoded, 8 KiB */,
       HTTP_BODY_MASK = 3, HTTP_ROUTE_AUTH = 0x100,
       HTTP_ROUTE_GZIP = 0x200 /* large answers: gzip if the client takes it */,
       HTTP_ROUTE_ADMIN = 0x400 /* saved charts: an admin key (see above) */,
       /* The path ends in '/' and the route takes every path under it
        * (DELETE /api/charts/{id}); the handler reads the rest of r->url. */
       HTTP_ROUTE_PREFIX = 0x800,
       HTTP_ROUTE_OPEN = 0x1000 };

struct http_route {
    const char *method;     /* GET routes answer HEAD too */
    const char *path;
    http_handler fn;
    int flags;              /* HTTP_BODY_* | HTTP_ROUTE_* */
    /* Not NULL: the route is known but not served by this process; a
     * request for it gets 404 with this message before any other check. */
    const char *off;
};

#define HTTP_QUERY_PARAMS_MAX 256 /* more in a request target: 414 */
#define HTTP_ROUTES_MAX 48     /* the layers' routes and the sign-in pages */

/* Everything the handlers need; owned by the caller of http_start. */
struct http_ctx {
    struct broker *broker;          /* NULL: ingestion routes answer 503 */
    const struct catalog *cat;
    struct web *web;                /* NULL: dashboard routes answer 503 */
    /* Ingestion API (ingest/v1orders.c); zero values mean the defaults. */
    size_t max_body;                /* POST /v1/orders body bytes (16 MiB) */
    size_t max_batch;               /* rows per POST /v1/orders (100,000) */
    int strict_orderitem;           /* POST /orderitem: unknown fields are 422 */
    struct dedupe *dedupe;          /* NULL: no idempotency index */
    struct quarantine *quarantine;  /* NULL: rejected rows are not kept */
    struct auth *auth;              /* NULL or disabled: no key needed */
    /* Read and admin keys (route flags above); NULL or disabled: none.
     * With either, the server has sign-in sessions lasting session_ttl_ms
     * (0: 12 hours). */
    struct auth *read_auth, *admin_auth;
    int64_t session_ttl_ms;
    /* --auth-fail-limit: after auth_fail_max failed key checks from one
     * client address within auth_fail_window_ms, its keys get 429 for as
     * long (http/ratelimit.h); 0: 10 within a minute. */
    unsigned auth_fail_max;
    int64_t auth_fail_window_ms;
    int header_timeout_s;           /* request line + headers (10 s) */
    int body_timeout_s;             /* whole body after the headers (30 s) */
    unsigned max_connections;       /* open connections (10,000) */
    /* GET /readyz: the processor runs in this process and may lag the log
     * by at most this many records (0: no processor here). */
    int64_t ready_lag;
    /* --allowed-hosts: Host names (comma-separated, "*" any) served besides
     * the listen address's host; NULL: the loopback names when listening
     * on loopback, else any. A request with another Host gets 421. */
    const char *allowed_hosts;
    /* Set by http_start: the origins ("host:port", or a name for any port)
     * a POST or DELETE may come from besides its own Host: the listen
     * address, the loopback names on its port when listening on loopback,
     * and the hosts --allowed-hosts names ("*" is not an origin). Another
     * Origin gets 403. */
    const char *origin_hosts;
    /* GET /readyz without a web layer: a store handle of its own (not the
     * processor's) that must answer a query (`process`). NULL: none. */
    struct store *ready_store;
    /* The routes the layers registered (http_add_routes). */
    struct http_route routes[HTTP_ROUTES_MAX];
    size_t nroutes;
};

/* Add a layer's routes to ctx: 0, or -1 when the table is full. */
int http_add_routes(struct http_ctx *ctx, const struct http_route *routes, size_t n);

#define SF_MAX_BODY_DEFAULT_MB 16
#define SF_MAX_BODY_DEFAULT ((size_t)SF_MAX_BODY_DEFAULT_MB << 20)
/* Request bodies (as sent, and decoded) all connections may hold at once:
 * more get 503. --max-body can therefore be at most this. */
#define SF_BODY_BUDGET_MB 512
#define SF_BODY_BUDGET ((size_t)SF_BODY_BUDGET_MB << 20)
#define SF_MAX_BATCH_DEFAULT 100000

struct http_transport;
struct http_core;

struct http_req {
    /* The connection and the transport it came over (transport.h). */
    const struct http_transport *tp;
    void *conn;
    struct http_req *tp_next;       /* the transport's queue of finished ones */
    struct http_core *core;         /* the server's pipeline: budgets */
    const char *url;                /* valid for the request's lifetime */
    const char *route;              /* the route table's path, for metrics */
    const struct sockaddr *peer;    /* the client's address, or NULL */
    const struct http_ctx *ctx;
    http_handler handler;
    struct sf_buf body;
    int too_big;
    int over_budget;                /* SF_BODY_BUDGET reached */
    size_t budget;                  /* body bytes counted in the budget */
    size_t reply_res;               /* bytes reserved in the reply budget */
    int reply_full;                 /* http_reply_reserve refused */
    int suspended;
    /* Completion of a suspended request, set by http_finish. */
    atomic_int finished;
    unsigned status;
    struct sf_buf reply;
    /* Handler scratch space. */
    struct order order;
    int ndjson;                     /* Content-Type: application/x-ndjson */
    enum coding coding;             /* the body's Content-Encoding */
    int decoding;                   /* its body is being decoded */
    int route_flags;                /* the route's flags (struct http_route) */
    int gzip_ok;                    /* a compressible answer; the client takes gzip */
    size_t body_max;                /* this route's body limit */
    /* A handler that builds its reply only when resumed sets this; it runs
     * on an HTTP thread and queues the response itself. */
    enum http_result (*on_resume)(struct http_req *r);
    void *state;                    /* freed with state_free on completion */
    void (*state_free)(void *state);
};

struct http_server;

/* Start serving on listen ("HOST:PORT", IPv4 or [IPv6]). NULL + errstr. */
struct http_server *http_start(const char *listen, const struct http_ctx *ctx,
                               int threads, char *errstr, size_t errstr_size);
/* Stop accepting new connections (in-flight ones finish). */
void http_quiesce(struct http_server *s);
/* After the read and admin keys were reloaded: end the sign-in sessions
 * whose key is in neither any more. */
void http_sessions_prune(struct http_server *s);
void http_stop(struct http_server *s);

/* Large answers built outside http_reply (the web layer's): when r's
 * route and client take gzip and b is large enough, replace b's bytes by
 * their gzip form (returns 1); then http_coding_headers (mhd.h)
 * adds Content-Encoding (gz) and Vary to the response. */
int http_gzip_buf(struct http_req *r, struct sf_buf *b);

/* Queue r's response with a copy of body (503s get Retry-After: 1, 507s 5, 429s
 * Retry-After: 10; every answer X-Content-Type-Options: nosniff). */
enum http_result http_reply(struct http_req *r, unsigned status,
                            const char *ctype, const char *body, size_t len);
enum http_result http_reply_json(struct http_req *r, unsigned status, const char *json);
/* {"detail": msg} — FastAPI's shape for errors that are not per-field. */
enum http_result http_error(struct http_req *r, unsigned status, const char *msg);

/* The reply budget: bytes that ingestion replies (and the batches that
 * build them) may hold, all connections together, until the clients read
 * them. Reserve n bytes for r: 0, or -1 (r->reply_full set) when the
 * budget would be exceeded and something else holds part of it. The
 * reservation lasts until r is freed (on the fast path: until the reply is
 * sent). */
int http_reply_reserve(struct http_req *r, size_t n);
/* r's reply is queued and what built it freed: keep only n reserved. */
void http_reply_keep(struct http_req *r, size_t n);
/* r's reply is queued: free its body, reply buffer and handler state now,
 * not when the client has read the reply. */
void http_req_shed(struct http_req *r);

/* Suspend r's connection until http_finish. Call from a handler, before
 * handing r to whoever will finish it. */
void http_suspend(struct http_req *r);
/* Complete a suspended request with status and r->reply as a JSON body;
 * thread-safe, call exactly once. */
void http_finish(struct http_req *r, unsigned status);

#endif

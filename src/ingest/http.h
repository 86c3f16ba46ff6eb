/*
 * http — the one HTTP server (libmicrohttpd, epoll, a small thread pool)
 * that carries ingestion, the query API and the dashboard.
 *
 * The server reads each request's body into a bounded buffer, checks the
 * method, path, content type and size against the route table, then calls
 * the route's handler once with the whole body. A handler either queues a
 * response at once or suspends the connection (http_suspend) and finishes
 * it later from another thread (http_finish): that is how an order's 201
 * waits for the fsync that makes it durable without holding a thread.
 *
 * The server owns the listening socket. Its fast path (fastpath.h) reads
 * each connection's requests first and serves the ingestion POSTs itself;
 * a connection with any other request is handed to libmicrohttpd, at a
 * request boundary, for the rest of its life.
 */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>

#include "broker/broker.h"
#include "core/coding.h"
#include "core/catalog.h"
#include "core/order.h"
#include "core/util.h"

#define SF_BODY_MAX (1u << 20)  /* 1 MiB: larger bodies get 413 */
#define HTTP_GZIP_MIN 1024      /* smaller answers are never compressed */

struct web;
struct dedupe;
struct quarantine;
struct auth;

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
    int header_timeout_s;           /* request line + headers (10 s) */
    int body_timeout_s;             /* whole body after the headers (30 s) */
    unsigned max_connections;       /* open connections (10,000) */
    /* GET /readyz: the processor runs in this process and may lag the log
     * by at most this many records (0: no processor here). */
    int64_t ready_lag;
    /* --allowed-hosts: Host names (comma-separated, "*" any) served besides
     * the listen address's host; NULL: the loopback names when listening
     * on loopback, else any. A request with another Host gets 421, a POST
     * whose Origin is neither its Host nor one of these 403. */
    const char *allowed_hosts;
    /* GET /readyz without a web layer: a store handle of its own (not the
     * processor's) that must answer a query (`process`). NULL: none. */
    struct store *ready_store;
};

#define SF_MAX_BODY_DEFAULT ((size_t)16 << 20)
/* Request bodies (as sent, and decoded) all connections may hold at once:
 * more get 503. --max-body can therefore be at most this. */
#define SF_BODY_BUDGET ((size_t)512 << 20)
#define SF_MAX_BATCH_DEFAULT 100000

struct http_req;
typedef enum MHD_Result (*http_handler)(struct http_req *r);

struct fast_conn;

struct http_req {
    /* The connection: libmicrohttpd's, or (fc set) the fast path's, which
     * serves only the ingestion POSTs (see fastpath.h). */
    struct MHD_Connection *conn;
    struct fast_conn *fc;
    struct http_req *fast_next;     /* fast path: its queue of finished ones */
    const char *url;                /* valid for the request's lifetime */
    const char *route;              /* the route table's path, for metrics */
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
    int route_flags;                /* the route table's flags (http.c) */
    int gzip_ok;                    /* a compressible answer; the client takes gzip */
    size_t body_max;                /* this route's body limit */
    /* A handler that builds its reply only when resumed sets this; it runs
     * on an HTTP thread and queues the response itself. */
    enum MHD_Result (*on_resume)(struct http_req *r);
    void *state;                    /* freed with state_free on completion */
    void (*state_free)(void *state);
};

struct http_server;

/* Start serving on listen ("HOST:PORT", IPv4 or [IPv6]). NULL + errstr. */
struct http_server *http_start(const char *listen, const struct http_ctx *ctx,
                               int threads, char *errstr, size_t errstr_size);
/* Stop accepting new connections (in-flight ones finish). */
void http_quiesce(struct http_server *s);
void http_stop(struct http_server *s);

/* Queue resp on a libmicrohttpd connection, as every answer libmicrohttpd
 * sends is queued: with X-Content-Type-Options: nosniff and Connection:
 * close. libmicrohttpd never parses a second request on a connection: only
 * first requests, whose head the fast path has checked (docs/api.md,
 * "Framing"). */
enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp);

/* Large answers built outside http_reply (the web layer's): when r's
 * route and client take gzip and b is large enough, replace b's bytes by
 * their gzip form (returns 1); then http_coding_headers adds
 * Content-Encoding (gz) and Vary to the response. */
int http_gzip_buf(struct http_req *r, struct sf_buf *b);
void http_coding_headers(struct http_req *r, struct MHD_Response *resp, int gz);

/* Queue r's response with a copy of body (503s get Retry-After: 1, 507s 5, 429s
 * Retry-After: 10; every answer X-Content-Type-Options: nosniff). */
enum MHD_Result http_reply(struct http_req *r, unsigned status,
                           const char *ctype, const char *body, size_t len);
enum MHD_Result http_reply_json(struct http_req *r, unsigned status, const char *json);
/* {"detail": msg} — FastAPI's shape for errors that are not per-field. */
enum MHD_Result http_error(struct http_req *r, unsigned status, const char *msg);

/* The reply budget: bytes that ingestion replies (and the batches that
 * build them) may hold, all connections together, until the clients read
 * them. Reserve n bytes for r: 0, or -1 (r->reply_full set) when the
 * budget would be exceeded and something else holds part of it. The
 * reservation lasts until r is freed (on the fast path: until the reply is
 * sent). */
int http_reply_reserve(struct http_req *r, size_t n);
/* r's reply is queued and what built it freed: keep only n reserved. */
void http_reply_keep(struct http_req *r, size_t n);
/* Hand r's reservation over (to the connection that holds the reply), and
 * give it back. */
size_t http_reply_take(struct http_req *r);
void http_reply_release(size_t n);
/* r's reply is queued: free its body, reply buffer and handler state now,
 * not when the client has read the reply. */
void http_req_shed(struct http_req *r);

/* Suspend r's connection until http_finish. Call from a handler, before
 * handing r to whoever will finish it. */
void http_suspend(struct http_req *r);
/* Complete a suspended request with status and r->reply as a JSON body;
 * thread-safe, call exactly once. */
void http_finish(struct http_req *r, unsigned status);

/* Route handlers (ingest/orderitem.c, ingest/v1orders.c, ingest/openapi.c,
 * web/web.c). */
enum MHD_Result ingest_orderitem(struct http_req *r);
enum MHD_Result ingest_v1_orders(struct http_req *r);
enum MHD_Result ingest_v1_quarantine(struct http_req *r);
enum MHD_Result ingest_openapi(struct http_req *r);
enum MHD_Result ingest_docs(struct http_req *r);
enum MHD_Result web_get(struct http_req *r);
enum MHD_Result web_api_sales(struct http_req *r);
enum MHD_Result web_api_sales_minute(struct http_req *r);
enum MHD_Result web_api_sales_second(struct http_req *r);
enum MHD_Result web_api_orders(struct http_req *r);
enum MHD_Result web_api_pipeline(struct http_req *r);
enum MHD_Result web_api_stream(struct http_req *r);
enum MHD_Result web_healthz(struct http_req *r);
enum MHD_Result web_readyz(struct http_req *r);
enum MHD_Result web_metrics(struct http_req *r);

#endif

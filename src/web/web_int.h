/*
 * web_int — what the web layer's files (web.c, api.c, stream.c, sampler.c)
 * share: the struct web itself and a few internal entry points. Not for
 * use outside src/web/.
 */
#ifndef SF_WEB_INT_H
#define SF_WEB_INT_H

#include <microhttpd.h>     /* MHD_HTTP_*: status codes and header names */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/util.h"
#include "store/store.h"
#include "web/web.h"
#include "http/http.h"

#define WEB_STREAMS_MAX 256         /* open /api/stream connections at most */
#define WEB_STREAMS_PER_CLIENT 8    /* ... from one peer address (429 past it) */
#define WEB_STALL_BYTES 1024        /* unsent bytes of a stream above this ... */
#define WEB_STALL_MS 10000          /* ... this long: its reader is gone, drop it */
#define WEB_COALESCE_MS 250         /* at most one notice per this interval */
#define WEB_HEARTBEAT_MS 15000      /* a comment line on an idle stream */
#define WEB_RETRY_MS 3000           /* EventSource reconnect delay we ask for */
#define WEB_RING_S 300              /* per-second history kept (5 minutes) */
#define WEB_KEYS_MAX 4096           /* distinct (source, state) pairs tracked */
#define WEB_QUERY_THREADS 4         /* at most this many query threads (qpool.c) */
#define WEB_QUERY_QUEUE 64          /* requests waiting for one; more get 503 */

struct web_client;
struct web_job;

/* One second of the sampler's history: what changed in the store's `sales`
 * during that second, per (source, state) key, and the ingest counter. */
struct web_delta {
    uint32_t key;
    int64_t count, cents;
};
struct web_second {
    int64_t sec;                    /* unix seconds; 0: unused slot */
    struct web_delta *d;
    size_t n, cap;
};

/* A reading of sf_stats.ingest_accepted, for the ingest rate. */
struct web_acc {
    int64_t ms;                     /* wall clock; 0: unused */
    uint64_t accepted;
};

struct web_key {
    char source[16];
    char state[SF_STATE_MAX];
};

struct web {
    struct store *store;
    pthread_mutex_t mu;             /* serializes use of store */
    struct broker *broker;          /* web_attach: this process's log */
    int nparts;
    atomic_int attached;

    /* Change notices. commit_gen counts commits (run) or changes the
     * sampler saw (serve); published is the generation last announced. */
    _Atomic uint64_t commit_gen;
    _Atomic uint64_t inserted;      /* rows inserted by those commits */
    _Atomic uint64_t published;
    _Atomic int64_t last_change_ms; /* wall clock of the last change seen */
    atomic_int closing;             /* web_close_streams() called */
    atomic_int stop;                /* threads: exit */

    /* Streams (stream.c), under smu. */
    pthread_mutex_t smu;
    pthread_cond_t scv;             /* wakes the dispatcher */
    pthread_cond_t gone_cv;         /* a stream ended (for close_streams) */
    struct web_client *clients;     /* doubly linked */
    int nclients;
    int evicting;                   /* of them, told to end to make room */
    uint64_t notices;               /* notices published */
    int dispatcher_started;
    pthread_t dispatcher;

    /* Sampler (sampler.c), under rmu. */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    struct web_key *keys;
    size_t nkeys;
    int64_t *prev_count, *prev_cents;
    uint32_t *slots;                /* hash of key indexes + 1; 0 empty */
    struct web_second ring[WEB_RING_S + 1];
    int64_t first_sec;              /* first second with a baseline */
    int64_t last_read_ms;           /* wall clock of the last read; 0: none
                                     * (a later read in an earlier second:
                                     * the clock stepped back) */
    struct web_acc acc[64];         /* the last 64 readings (16 s or more) */
    size_t nacc;
    int have_baseline;
    int sampler_started;
    pthread_t sampler;

    /* Query threads (qpool.c), under qmu. */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;             /* a job queued, or closing */
    pthread_cond_t qidle;           /* a job finished */
    struct web_job *qhead, *qtail;  /* waiting */
    size_t qlen;
    int qbusy;                      /* running */
    uint64_t qrefused;              /* 503s: the queue was full */
    size_t qlive;                   /* requests with a job not yet freed */
    int qready;                     /* threads running (priority set) */
    int qclosed;                    /* web_close_queries() called */
    int qinit, qstarted, qthreads_n, query_nice;
    pthread_t qthreads[WEB_QUERY_THREADS];
    struct store *qstores[WEB_QUERY_THREADS];
    /* --query-timeout: the watchdog thread stops (store_interrupt) a query
     * running longer than query_timeout_ms (0: none); per thread, when its
     * query started (sf_mono_ms, 0: none running) and whether it was
     * stopped. */
    int64_t query_timeout_ms;
    int64_t qstart_ms[WEB_QUERY_THREADS];
    int qstopped[WEB_QUERY_THREADS];
    uint64_t qtimeouts, qabandoned;  /* stopped; skipped, the client gone */
    pthread_cond_t qwatch;          /* the watchdog's: closing */
    pthread_t qwatcher;
    int qwatching;
};

/* stream.c */
int web_streams_start(struct web *w, char *errstr, size_t errstr_size);
void web_streams_stop(struct web *w);
void web_streams_kick(struct web *w);   /* a change: wake the dispatcher */

/* sampler.c */
int web_sampler_start(struct web *w, char *errstr, size_t errstr_size);
void web_sampler_stop(struct web *w);
/* Is s a source the sampler has seen in the store? */
int web_sampler_knows_source(struct web *w, const char *s);
/* Append the per-second series for f over the last `window` seconds (up
 * to the last complete one) to b as a JSON array, and the ingest and
 * processing rates over the last 10 s. */
void web_sampler_series(struct web *w, const struct store_filter *f, int window,
                        struct sf_buf *b);
/* Orders per second over the last `secs` seconds: processed (from the
 * store) and accepted by ingest. -1 when not enough history. */
void web_sampler_rates(struct web *w, int secs, double *processed,
                       double *accepted);

/* qpool.c: the query threads. Open their store handles and start them
 * (nice: their CPU priority below the process's), 0 or -1 with errstr. */
int web_queries_start(struct web *w, const char *store_uri, int nice, char *errstr,
                      size_t errstr_size);
void web_queries_stop(struct web *w);   /* web_close_queries, close the handles */
/* salesflow_query_waiting, _running and _refused_total for /metrics. */
void web_queries_metrics(struct web *w, struct sf_buf *b);
/* Run fn for r on a query thread (r suspended meanwhile; 503 when the
 * queue is full or closing); on this thread when there are none. */
enum http_result web_pooled(struct http_req *r, http_handler fn);
enum http_result web_job_resume(struct http_req *r);   /* a pooled r's on_resume */
/* What a handler that may run on a query thread uses instead of
 * libmicrohttpd's calls and http_error/http_reply_json: r's query
 * arguments (as MHD_get_connection_values; returns their number), the
 * store (the thread's own handle, or the shared one under w->mu until
 * web_store_unlock) and its answer (kept for libmicrohttpd's thread). */
int web_args(struct http_req *r, MHD_KeyValueIterator it, void *cls);
struct store *web_store_lock(struct http_req *r);
void web_store_unlock(struct http_req *r);
enum http_result web_error(struct http_req *r, unsigned status, const char *msg);
enum http_result web_reply_json(struct http_req *r, unsigned status, const char *json);

/* Answer 200 with b's bytes (taken over; gzip-coded when the client takes
 * it), Content-Type ctype, Cache-Control: no-store and, unless NULL, the
 * Content-Disposition given. A buffer that ran out of memory: 503. On a
 * query thread the answer is kept for libmicrohttpd's thread (qpool.c). */
enum http_result web_reply_buf(struct http_req *r, struct sf_buf *b, const char *ctype,
                               const char *disposition);

/* The route handlers (web.c: web_add_routes registers them). */
enum http_result web_get(struct http_req *r);
enum http_result web_api_sales(struct http_req *r);
enum http_result web_api_sales_minute(struct http_req *r);
enum http_result web_api_sales_second(struct http_req *r);
enum http_result web_api_orders(struct http_req *r);
enum http_result web_api_pipeline(struct http_req *r);
enum http_result web_api_stream(struct http_req *r);
enum http_result web_healthz(struct http_req *r);
enum http_result web_readyz(struct http_req *r);
enum http_result web_metrics(struct http_req *r);
/* query.c: GET /api/query, GET/POST /api/charts, DELETE /api/charts/{id} */
enum http_result web_api_query(struct http_req *r);
enum http_result web_api_charts(struct http_req *r);
enum http_result web_api_chart_add(struct http_req *r);
enum http_result web_api_chart_delete(struct http_req *r);
/* qpool.c: the routes run on a query thread (web_pooled) */
enum http_result web_q_query(struct http_req *r);
enum http_result web_q_orders(struct http_req *r);
enum http_result web_q_sales_minute(struct http_req *r);
enum http_result web_q_sales(struct http_req *r);

/* An empty query pair ("&&"): skipped by every route's parameters. */
int web_empty_pair(const char *key, const char *value);
/* An answer whose sum passes int64 cents (422 on /api/query and /api/sales). */
#define WEB_SUM_TOO_LARGE "the sum does not fit: it is more than 92,233,720,368,547,758.07, " \
    "the most 64-bit cents hold"

/* api.c: a from/to value (RFC 3339, "YYYY-MM-DDTHH:MM" in UTC, "now" or
 * "-15m"-style) into *ms; -1 with err (naming name) when it is none. */
int web_parse_when(const char *name, const char *v, int64_t now_ms, int64_t *ms,
                   char *err, size_t n);

#endif

/*
 * qpool — the query threads: the read routes whose work is a store query
 * that may take long (GET /api/query and its CSV, /api/sales with a range,
 * /api/orders, /api/sales/minute) run here, not on libmicrohttpd's
 * threads: one per core but one (query_threads), below the rest of the
 * process in CPU priority (--query-nice; by default SCHED_IDLE), so that
 * under contention the ingestion fast path and the processor get the cores
 * first, and a slow query never holds a libmicrohttpd thread that other
 * dashboard requests (/healthz, /api/pipeline, pages) queue behind.
 *
 * The life of such a request:
 *   1. libmicrohttpd thread (web_pooled): copy the request's query
 *      arguments, suspend the request (http_suspend) and queue it; a full
 *      queue (WEB_QUERY_QUEUE waiting) is a 503 with Retry-After at once.
 *   2. query thread (query_main): run the route's handler with the job
 *      set; its store reads go to the thread's own store handle
 *      (web_store_lock: no lock, each thread has one, as SQLite's WAL lets
 *      readers work side by side and MySQL needs a connection per thread),
 *      and its answer (status, type, Content-Disposition, body, gzip-coded
 *      here, or a FastAPI-shaped error) is kept in the job (web_reply_buf,
 *      web_error, web_reply_json) instead of being queued; then
 *      http_finish. Nothing touches the request after that.
 *   3. libmicrohttpd thread (job_resume, the request's on_resume): queue
 *      the response kept in the job. libmicrohttpd's own calls
 *      (MHD_queue_response, MHD_get_connection_values) are only ever made
 *      on its threads.
 * The job is the request's state: freed with it (http_req_free).
 *
 * A job whose client has gone while it waited (its socket has seen the
 * client's FIN or an error: libmicrohttpd does not watch a suspended
 * connection) is not run: the connection is closed, as nginx does with a
 * request its client abandoned (499), so that a client cannot fill the
 * queue with queries nobody will read. A query running longer than
 * --query-timeout is stopped by the watchdog thread (sf-qwatch, at
 * the process's own priority, so that it runs even when the query threads
 * get no core): store_interrupt() (SQLite; a MySQL query runs on) makes
 * the query fail at its next step, and the request gets 504 saying so.
 *
 * Shutdown (web_close_queries, before the HTTP server stops, which it must
 * not do with a request suspended): refuse new jobs (503), answer every
 * queued one 503 "shutting down", wait for those running to finish and
 * for libmicrohttpd to send every answer (or give up on the client after
 * WEB_QUERY_DRAIN_MS), and join the threads.
 */
#include "web/web_int.h"
#include "http/http.h"
#include "http/mhd.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WEB_QUERY_DRAIN_MS 5000     /* at shutdown: answers unsent this long are dropped */
#define WEB_QUERY_CANCEL_MS 2000    /* at shutdown: queries running this long are interrupted */

struct web_arg {
    char *key, *value;              /* value NULL: "key" without "=" */
};

struct web_job {
    struct web_job *next;
    struct web *w;
    struct http_req *r;
    http_handler fn;
    struct web_arg *args;
    size_t nargs, cap;
    int oom;                        /* copying the arguments ran out of memory */
    struct store *store;            /* the query thread's, while fn runs */
    /* The answer fn made: a 200 of body (gzip-coded when gz), else an error
     * (status, JSON body); close: none, close the connection. */
    unsigned status;
    int answered, gz, close;
    int counted;                    /* in w->qlive */
    int fd;                         /* the client's socket, -1: unknown */
    const char *ctype, *disposition;
    struct sf_buf body;
};

static struct web_job *job_of(struct http_req *r)
{
    return r->on_resume == web_job_resume ? r->state : NULL;
}

static void job_free(void *p)
{
    struct web_job *j = p;
    if (!j)
        return;
    if (j->counted) {
        pthread_mutex_lock(&j->w->qmu);
        j->w->qlive--;
        pthread_cond_broadcast(&j->w->qidle);
        pthread_mutex_unlock(&j->w->qmu);
    }
    for (size_t i = 0; i < j->nargs; i++) {
        free(j->args[i].key);
        free(j->args[i].value);
    }
    free(j->args);
    sf_buf_free(&j->body);
    free(j);
}

/* ---- what a handler calls --------------------------------------------- */

int web_args(struct http_req *r, MHD_KeyValueIterator it, void *cls)
{
    struct web_job *j = job_of(r);
    if (!j)
        return MHD_get_connection_values(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND, it, cls);
    int n = 0;
    for (size_t i = 0; i < j->nargs; i++) {
        n++;
        if (it && it(cls, MHD_GET_ARGUMENT_KIND, j->args[i].key, j->args[i].value) != MHD_YES)
            break;
    }
    return n;
}

struct store *web_store_lock(struct http_req *r)
{
    struct web_job *j = job_of(r);
    if (j)
        return j->store;
    pthread_mutex_lock(&r->ctx->web->mu);
    return r->ctx->web->store;
}

void web_store_unlock(struct http_req *r)
{
    if (!job_of(r))
        pthread_mutex_unlock(&r->ctx->web->mu);
}

/* Keep an error answer (a JSON body) in j. */
static enum http_result keep_json(struct web_job *j, unsigned status, const char *json,
                                  size_t len)
{
    sf_buf_free(&j->body);
    sf_buf_init(&j->body, len + 1);
    if (sf_buf_append(&j->body, json, len) || sf_buf_append(&j->body, "", 1)) {
        sf_buf_free(&j->body);
        sf_buf_init(&j->body, 64);
        json = "{\"detail\":\"out of memory\"}";
        len = strlen(json);
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        if (sf_buf_append(&j->body, json, len + 1))
            j->close = 1;
    }
    if (j->body.len)
        j->body.len--;      /* the NUL is not sent */
    j->status = status;
    j->answered = 1;
    j->gz = 0;
    j->ctype = "application/json";
    j->disposition = NULL;
    return HTTP_OK;
}

enum http_result web_reply_json(struct http_req *r, unsigned status, const char *json)
{
    struct web_job *j = job_of(r);
    if (!j)
        return http_reply_json(r, status, json);
    return keep_json(j, status, json, strlen(json));
}

enum http_result web_error(struct http_req *r, unsigned status, const char *msg)
{
    struct web_job *j = job_of(r);
    if (!j)
        return http_error(r, status, msg);
    struct sf_buf b;
    sf_buf_init(&b, 4096);
    SF_BUF_LIT(&b, "{\"detail\":");
    sf_buf_json_str(&b, msg);
    SF_BUF_LIT(&b, "}");
    enum http_result rc = b.data ? keep_json(j, status, b.data, b.len)
                                 : keep_json(j, status, "{}", 2);
    sf_buf_free(&b);
    return rc;
}

/* A 200 of b's bytes (taken over). */
static enum http_result queue_buf(struct http_req *r, struct sf_buf *b, int gz,
                                  const char *ctype, const char *disposition)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        sf_buf_free(b);
        return HTTP_CLOSE;
    }
    b->data = NULL;         /* libmicrohttpd's now */
    sf_buf_free(b);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    http_coding_headers(r, resp, gz);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum http_result rc = http_mhd_queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum http_result web_reply_buf(struct http_req *r, struct sf_buf *b, const char *ctype,
                               const char *disposition)
{
    if (!b->data) {
        sf_buf_free(b);
        return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the answer is too large "
                         "for the memory at hand");
    }
    int gz = http_gzip_buf(r, b);
    struct web_job *j = job_of(r);
    if (!j)
        return queue_buf(r, b, gz, ctype, disposition);
    sf_buf_free(&j->body);
    j->body = *b;
    b->data = NULL;
    sf_buf_free(b);
    j->status = MHD_HTTP_OK;
    j->answered = 1;
    j->gz = gz;
    j->ctype = ctype;
    j->disposition = disposition;
    return HTTP_OK;
}

/* ---- libmicrohttpd's side --------------------------------------------- */

/* The request's on_resume: queue the answer its job holds. */
enum http_result web_job_resume(struct http_req *r)
{
    struct web_job *j = r->state;
    if (j->close || !j->answered)
        return HTTP_CLOSE;
    if (j->status == MHD_HTTP_OK)
        return queue_buf(r, &j->body, j->gz, j->ctype, j->disposition);
    return http_reply(r, j->status, "application/json", j->body.data ? j->body.data : "{}",
                      j->body.data ? j->body.len : 2);
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct web_job *j = cls;
    (void)kind;
    if (j->nargs == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 8;
        struct web_arg *a = realloc(j->args, cap * sizeof(*a));
        if (!a) {
            j->oom = 1;
            return MHD_NO;
        }
        j->args = a;
        j->cap = cap;
    }
    struct web_arg *a = &j->args[j->nargs];
    a->key = strdup(key);
    a->value = value ? strdup(value) : NULL;
    if (!a->key || (value && !a->value)) {
        free(a->key);
        free(a->value);
        j->oom = 1;
        return MHD_NO;
    }
    j->nargs++;
    return MHD_YES;
}

enum http_result web_pooled(struct http_req *r, http_handler fn)
{
    struct web *w = r->ctx->web;
    if (!w || !w->qinit || !http_mhd_conn(r))
        return fn(r);       /* no query threads: on this thread */
    struct web_job *j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    j->w = w;
    j->r = r;
    j->fn = fn;
    sf_buf_init(&j->body, 64);
    MHD_get_connection_values(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND, copy_arg, j);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(http_mhd_conn(r), MHD_CONNECTION_INFO_CONNECTION_FD);
    j->fd = ci ? ci->connect_fd : -1;
    if (j->oom) {
        job_free(j);
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    pthread_mutex_lock(&w->qmu);
    if (w->qclosed || w->qlen >= WEB_QUERY_QUEUE) {
        int closed = w->qclosed;
        w->qrefused += !closed;
        pthread_mutex_unlock(&w->qmu);
        job_free(j);
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, closed
                          ? "the server is shutting down; retry shortly"
                          : "too many queries are waiting for the store; retry shortly");
    }
    j->counted = 1;
    w->qlive++;
    r->state = j;
    r->state_free = job_free;
    r->on_resume = web_job_resume;
    http_suspend(r);        /* before any query thread can finish it */
    if (w->qtail)
        w->qtail->next = j;
    else
        w->qhead = j;
    w->qtail = j;
    w->qlen++;
    pthread_cond_signal(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    return HTTP_OK;
}

void web_queries_metrics(struct web *w, struct sf_buf *b)
{
    if (!w || !w->qinit)
        return;
    pthread_mutex_lock(&w->qmu);
    size_t waiting = w->qlen;
    int running = w->qbusy;
    uint64_t refused = w->qrefused, timeouts = w->qtimeouts, abandoned = w->qabandoned;
    pthread_mutex_unlock(&w->qmu);
    sf_buf_printf(b, "# HELP salesflow_query_waiting Query requests waiting for a query "
                  "thread.\n# TYPE salesflow_query_waiting gauge\n"
                  "salesflow_query_waiting %zu\n"
                  "# HELP salesflow_query_running Query requests a query thread is "
                  "answering.\n# TYPE salesflow_query_running gauge\n"
                  "salesflow_query_running %d\n"
                  "# HELP salesflow_query_refused_total Query requests answered 503 "
                  "because %d were waiting.\n# TYPE salesflow_query_refused_total counter\n"
                  "salesflow_query_refused_total %llu\n", waiting, running,
                  WEB_QUERY_QUEUE, (unsigned long long)refused);
    sf_buf_printf(b, "# HELP salesflow_query_timeouts_total Queries stopped for running "
                  "longer than --query-timeout (answered 504).\n"
                  "# TYPE salesflow_query_timeouts_total counter\n"
                  "salesflow_query_timeouts_total %llu\n"
                  "# HELP salesflow_query_abandoned_total Query requests not run because "
                  "their client had gone while they waited.\n"
                  "# TYPE salesflow_query_abandoned_total counter\n"
                  "salesflow_query_abandoned_total %llu\n", (unsigned long long)timeouts,
                  (unsigned long long)abandoned);
}

/* ---- the query threads ------------------------------------------------ */

struct qthread {
    struct web *w;
    int index;
};

static void lower_priority(int by)
{
    if (sf_lower_thread_priority(by))
        log_warn("web: cannot lower the query threads' CPU priority: %s",
                 strerror(errno));
}

/* *ts = CLOCK_MONOTONIC now + ms (qidle's clock). */
static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

/* The client closed its side or the connection failed: nobody will read
 * the answer. Its socket stays open (libmicrohttpd's) while the request is
 * suspended, so fd is still the client's. */
static int client_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Run j on thread index: skipped when its client has gone; the watchdog
 * may stop it (w->qstopped[index]), then it is answered 504. */
static void run_job(struct web *w, int index, struct web_job *j)
{
    struct http_req *r = j->r;
    if (client_gone(j->fd)) {
        j->close = 1;
        pthread_mutex_lock(&w->qmu);
        w->qabandoned++;
        pthread_mutex_unlock(&w->qmu);
        return;
    }
    pthread_mutex_lock(&w->qmu);
    w->qstart_ms[index] = sf_mono_ms();
    w->qstopped[index] = 0;
    pthread_mutex_unlock(&w->qmu);
    j->store = w->qstores[index];
    if (j->fn(r) != HTTP_OK && !j->answered)
        j->close = 1;
    j->store = NULL;
    pthread_mutex_lock(&w->qmu);
    int stopped = w->qstopped[index];
    w->qstart_ms[index] = 0;
    pthread_mutex_unlock(&w->qmu);
    /* stopped after it had its answer (or a store that cannot be
     * interrupted): the answer stands */
    if (stopped && !(j->answered && j->status == MHD_HTTP_OK)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the query ran longer than --query-timeout (%lld ms) "
                 "and was stopped; narrow the time range or the filters, or raise "
                 "--query-timeout", (long long)w->query_timeout_ms);
        j->close = 0;
        web_error(r, MHD_HTTP_GATEWAY_TIMEOUT, msg);
    }
}

/* The watchdog: every WATCH_MS, stop the queries running longer than
 * query_timeout_ms. */
#define WATCH_MS 100

static void *watch_main(void *arg)
{
    struct web *w = arg;
    pthread_mutex_lock(&w->qmu);
    while (!w->qclosed) {
        struct timespec ts;
        deadline_in(&ts, WATCH_MS);
        pthread_cond_timedwait(&w->qwatch, &w->qmu, &ts);
        int64_t now = sf_mono_ms();
        for (int i = 0; i < w->qthreads_n; i++) {
            if (!w->qstart_ms[i] || now - w->qstart_ms[i] < w->query_timeout_ms)
                continue;
            w->qtimeouts += !w->qstopped[i];
            w->qstopped[i] = 1;
            /* Under qmu, so the thread's next query has not started. Again
             * at every tick: an interrupt between two of a request's
             * statements stops neither. */
            store_interrupt(w->qstores[i]);
        }
    }
    pthread_mutex_unlock(&w->qmu);
    return NULL;
}

static void *query_main(void *arg)
{
    struct web *w = ((struct qthread *)arg)->w;
    int index = ((struct qthread *)arg)->index;
    free(arg);
    lower_priority(w->query_nice);
    pthread_mutex_lock(&w->qmu);
    w->qready++;
    pthread_cond_broadcast(&w->qidle);
    for (;;) {
        while (!w->qhead && !w->qclosed)
            pthread_cond_wait(&w->qcv, &w->qmu);
        if (!w->qhead)
            break;      /* closed and nothing left */
        struct web_job *j = w->qhead;
        w->qhead = j->next;
        if (!w->qhead)
            w->qtail = NULL;
        w->qlen--;
        w->qbusy++;
        pthread_mutex_unlock(&w->qmu);

        struct http_req *r = j->r;
        run_job(w, index, j);
        http_finish(r, j->status);      /* r and j are libmicrohttpd's again */

        pthread_mutex_lock(&w->qmu);
        w->qbusy--;
        pthread_cond_broadcast(&w->qidle);
    }
    pthread_mutex_unlock(&w->qmu);
    return NULL;
}

/* One query thread per core this process may use, less one left to the
 * HTTP loops, the log and the processor (at least one, at most
 * WEB_QUERY_THREADS): with a thread on every core, each wake-up of an
 * ingest thread (after its fdatasync, at a new request) had to take a core
 * from a query, and single-order ingest fell to 0.6× under a query load;
 * with one core that the queries leave alone it kept 0.71–0.95× (median
 * 0.87; docs/BENCHMARKS.md, "Range queries"). */
static int query_threads(void)
{
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 2;
    return cores - 1 < 1 ? 1 : cores - 1 > WEB_QUERY_THREADS ? WEB_QUERY_THREADS : cores - 1;
}

int web_queries_start(struct web *w, const char *store_uri, int nice, char *errstr,
                      size_t n)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->qcv, NULL);
    pthread_cond_init(&w->qidle, &ca);
    pthread_cond_init(&w->qwatch, &ca);
    pthread_condattr_destroy(&ca);
    w->qinit = 1;
    w->query_nice = nice;
    w->qthreads_n = query_threads();
    for (int i = 0; i < w->qthreads_n; i++)
        if (!(w->qstores[i] = store_open(store_uri, errstr, n)))
            return -1;
    for (int i = 0; i < w->qthreads_n; i++) {
        struct qthread *q = malloc(sizeof(*q));
        if (q)
            *q = (struct qthread){w, i};
        if (!q || pthread_create(&w->qthreads[i], NULL, query_main, q)) {
            free(q);
            return sf_err(-1, errstr, n, "cannot start the query threads");
        }
        char name[24];      /* "sf-query-N": N < WEB_QUERY_THREADS, within 15 bytes */
        snprintf(name, sizeof(name), "sf-query-%d", i);
        pthread_setname_np(w->qthreads[i], name);
        w->qstarted++;
    }
    /* none for a store whose queries cannot be stopped (MySQL): its
     * requests keep their own answers */
    if (w->query_timeout_ms > 0 && store_can_interrupt(w->qstores[0])) {
        if (pthread_create(&w->qwatcher, NULL, watch_main, w))
            return sf_err(-1, errstr, n, "cannot start the query watchdog");
        pthread_setname_np(w->qwatcher, "sf-qwatch");
        w->qwatching = 1;
    }
    /* Each thread has its priority before the first request can come. */
    pthread_mutex_lock(&w->qmu);
    while (w->qready < w->qstarted)
        pthread_cond_wait(&w->qidle, &w->qmu);
    pthread_mutex_unlock(&w->qmu);
    return 0;
}

void web_close_queries(struct web *w)
{
    if (!w || !w->qinit)
        return;
    pthread_mutex_lock(&w->qmu);
    w->qclosed = 1;
    pthread_cond_signal(&w->qwatch);
    struct web_job *queued = w->qhead;
    w->qhead = w->qtail = NULL;
    w->qlen = 0;
    pthread_cond_broadcast(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    /* Waiting, not started: answered now. */
    while (queued) {
        struct web_job *j = queued;
        queued = j->next;
        web_error(j->r, MHD_HTTP_SERVICE_UNAVAILABLE,
                  "the server is shutting down; retry shortly");
        http_finish(j->r, j->status);
    }
    /* Running: let them finish, for WEB_QUERY_CANCEL_MS; then interrupt
     * them (a SQLite query then stops at its next step and is answered
     * with an error): an idle query thread on a machine kept busy by
     * others may otherwise need minutes for a query of a second, and a
     * supervisor gives a stop a few seconds. Then wait until libmicrohttpd
     * has sent every answer (the request freed with its job): stopping it
     * closes connections whose answers are still queued. A client that
     * does not read its answer is not waited for past WEB_QUERY_DRAIN_MS. */
    pthread_mutex_lock(&w->qmu);
    struct timespec ts;
    deadline_in(&ts, WEB_QUERY_CANCEL_MS);
    while (w->qbusy && pthread_cond_timedwait(&w->qidle, &w->qmu, &ts) == 0)
        ;
    if (w->qbusy) {
        log_warn("web: %d queries still running %d ms into the shutdown; interrupting "
                 "them (SQLite; MySQL's are waited for)", w->qbusy, WEB_QUERY_CANCEL_MS);
        for (int i = 0; i < w->qthreads_n; i++)
            store_interrupt(w->qstores[i]);
        while (w->qbusy)
            pthread_cond_wait(&w->qidle, &w->qmu);
    }
    deadline_in(&ts, WEB_QUERY_DRAIN_MS);
    while (w->qlive && pthread_cond_timedwait(&w->qidle, &w->qmu, &ts) == 0)
        ;
    if (w->qlive)
        log_warn("web: %zu query answers not sent in %d ms; closing them", w->qlive,
                 WEB_QUERY_DRAIN_MS);
    pthread_mutex_unlock(&w->qmu);
    for (int i = 0; i < w->qstarted; i++)
        pthread_join(w->qthreads[i], NULL);
    w->qstarted = 0;
    if (w->qwatching)
        pthread_join(w->qwatcher, NULL);
    w->qwatching = 0;
}

void web_queries_stop(struct web *w)
{
    if (!w->qinit)
        return;
    web_close_queries(w);
    for (int i = 0; i < w->qthreads_n; i++)
        store_close(w->qstores[i]);
    pthread_cond_destroy(&w->qcv);
    pthread_cond_destroy(&w->qidle);
    pthread_cond_destroy(&w->qwatch);
    pthread_mutex_destroy(&w->qmu);
    w->qinit = 0;
}

/* ---- the routes that run here ----------------------------------------- */

enum http_result web_q_query(struct http_req *r)
{
    return web_pooled(r, web_api_query);
}

enum http_result web_q_orders(struct http_req *r)
{
    return web_pooled(r, web_api_orders);
}

enum http_result web_q_sales_minute(struct http_req *r)
{
    return web_pooled(r, web_api_sales_minute);
}

/* /api/sales without a range reads the few rows of `sales` (the live
 * dashboard's most frequent read): here, on this thread, unniced; with
 * from or to, a sum over orders and rollups: a query thread. */
enum http_result web_q_sales(struct http_req *r)
{
    struct MHD_Connection *c = http_mhd_conn(r);
    if (c && (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from") ||
              MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to")))
        return web_pooled(r, web_api_sales);
    return web_api_sales(r);
}

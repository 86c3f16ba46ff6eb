/*
 * ops — the endpoints monitoring systems poll: GET /healthz is in web.c;
 * here GET /readyz (is this process able to do its job right now?) and
 * GET /metrics (Prometheus text exposition, core/metrics.c).
 *
 * Readiness checks what this process has: the log is open and, for Kafka,
 * not known to be unreachable (ingesting processes), the store answers a query (processes with a store), and the
 * processor in this process is within --ready-lag records of the log end
 * and making progress: not ready after READY_MAX_FAILURES store failures in
 * a row (every commit failing: a full disk, a read-only or unreachable
 * server), nor while records it has polled have waited READY_STALL_S
 * without a commit (a server that hangs, a lock held by a stopped writer),
 * however small the lag. The JSON body names each check and, for a failing
 * one, what is wrong — never a store's own error, which may name its URI,
 * user or files ("store unavailable"; the error goes to the log).
 */
#include "broker/broker.h"
#include "core/metrics.h"
#include "http/http.h"
#include "store/cassandra.h"
#include "store/store.h"
#include "web/web_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define READY_MAX_FAILURES 3    /* store failures in a row: not ready */
#define READY_STALL_S 30        /* records in hand this long uncommitted: not ready */
#define READY_REUSE_MS 1000     /* a store check this recent answers for others */

/* The store check runs at most one query at a time, so that a store that
 * hangs (a stopped server) holds at most one HTTP worker, not every worker
 * a monitoring system's probes reach: a probe that finds a check running
 * reuses the last result if it is at most READY_REUSE_MS old, and else
 * answers "store unavailable" (a check that has not come back within that
 * time is itself the sign). */
static struct {
    pthread_mutex_t run;        /* held by the one probe querying the store */
    pthread_mutex_t mu;         /* guards the fields below */
    int have, rc;
    int64_t at_ms;              /* when the last check ended (monotonic) */
    char err[512];
} store_check = {.run = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER};

/* The store answers a query: 0, or -1 with err. lock (may be NULL) is held
 * around the query (the dashboard's connection is not shared otherwise). */
static int check_store(struct store *st, pthread_mutex_t *lock, char *err, size_t en)
{
    int rc;
    if (pthread_mutex_trylock(&store_check.run) != 0) {
        pthread_mutex_lock(&store_check.mu);
        int fresh = store_check.have && sf_mono_ms() - store_check.at_ms <= READY_REUSE_MS;
        rc = fresh ? store_check.rc : -1;
        snprintf(err, en, "%s", fresh ? store_check.err
                                      : "the store has not answered the last check yet");
        pthread_mutex_unlock(&store_check.mu);
        return rc;
    }
    struct sales_row *rows = NULL;
    size_t n = 0;
    if (lock)
        pthread_mutex_lock(lock);
    rc = store_sales(st, &rows, &n, err, en);
    if (lock)
        pthread_mutex_unlock(lock);
    free(rows);
    pthread_mutex_lock(&store_check.mu);
    store_check.have = 1;
    store_check.rc = rc;
    store_check.at_ms = sf_mono_ms();
    snprintf(store_check.err, sizeof(store_check.err), "%s", rc ? err : "");
    pthread_mutex_unlock(&store_check.mu);
    pthread_mutex_unlock(&store_check.run);
    return rc;
}

enum http_result web_readyz(struct http_req *r)
{
    const struct http_ctx *ctx = r->ctx;
    struct sf_buf b;
    char err[512];
    int ready = 1;

    sf_buf_init(&b, 8192);
    SF_BUF_LIT(&b, "{\"checks\":{");
    if (ctx->broker) {
        /* Kafka with every broker down, or the embedded log's writes
         * failing: each POST would get 503 or 507. */
        int down = broker_unavailable(ctx->broker);
        sf_buf_printf(&b, "\"log\":\"%s\"", down == 2 ? "writes failing"
                                             : down ? "broker unavailable" : "ok");
        ready &= !down;
    }
    /* The dashboard's store, or (`process`) a handle of its own. */
    struct store *st = ctx->web ? ctx->web->store : ctx->ready_store;
    if (st) {
        int rc = check_store(st, ctx->web ? &ctx->web->mu : NULL, err, sizeof(err));
        /* The detail is for the log: this route is open to anyone. */
        if (rc)
            log_error("GET /readyz: %s", err);
        sf_buf_printf(&b, "%s\"store\":", ctx->broker ? "," : "");
        sf_buf_json_str(&b, rc ? "store unavailable" : "ok");
        ready &= rc == 0;
    }
    if (ctx->ready_lag > 0) {
        int64_t lag = metrics_total_lag();
        struct metrics_proc_health h;
        metrics_proc_health(&h);
        int ok = lag >= 0 && lag <= ctx->ready_lag &&
                 h.failures_in_row < READY_MAX_FAILURES &&
                 h.stalled_ms < READY_STALL_S * 1000;
        if (h.failures_in_row >= READY_MAX_FAILURES)
            /* The store's error, which may name its URI, user or files, is
             * in the processor's log lines, not on this open route. */
            snprintf(err, sizeof(err), "%" PRId64 " commits failed in a row (not ready at "
                     "%d); the store's error is in the log", h.failures_in_row,
                     READY_MAX_FAILURES);
        else if (h.stalled_ms >= READY_STALL_S * 1000)
            snprintf(err, sizeof(err), "no commit for %" PRId64 " s while records wait "
                     "(not ready at %d s)%s", h.stalled_ms / 1000, READY_STALL_S,
                     h.failures_in_row ? "; the store's error is in the log" : "");
        else if (lag < 0)
            snprintf(err, sizeof(err), "no position committed yet");
        else
            snprintf(err, sizeof(err), "lag %" PRId64 " records (limit %" PRId64 ")",
                     lag, ctx->ready_lag);
        sf_buf_printf(&b, "%s\"processor\":",
                      ctx->broker || ctx->web || ctx->ready_store ? "," : "");
        sf_buf_json_str(&b, ok ? "ok" : err);
        if (ok)
            sf_buf_printf(&b, ",\"processor_lag\":%" PRId64, lag);
        ready &= ok;
    }
    /* The Cassandra raw store of this process's processor (--raw-store). */
    int raw = cassandra_ready(err, sizeof(err));
    if (raw >= 0) {
        sf_buf_printf(&b, "%s\"raw_store\":", b.len > 11 ? "," : "");
        sf_buf_json_str(&b, raw ? "ok" : err);
        ready &= raw;
    }
    sf_buf_printf(&b, "},\"ready\":%s}", ready ? "true" : "false");
    enum http_result rc = http_reply_json(r, ready ? MHD_HTTP_OK
                                                        : MHD_HTTP_SERVICE_UNAVAILABLE,
                                         b.data ? b.data : "{}");
    sf_buf_free(&b);
    return rc;
}

enum http_result web_metrics(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, 4u << 20);
    metrics_render(&b);
    web_queries_metrics(r->ctx->web, &b);
    cassandra_metrics(&b);
    enum http_result rc = http_reply(r, MHD_HTTP_OK,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                    b.data ? b.data : "", b.len);
    sf_buf_free(&b);
    return rc;
}

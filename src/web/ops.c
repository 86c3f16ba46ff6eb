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
#include "core/metrics.h"
#include "ingest/http.h"
#include "store/store.h"
#include "web/web_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define READY_MAX_FAILURES 3    /* store failures in a row: not ready */
#define READY_STALL_S 30        /* records in hand this long uncommitted: not ready */

enum MHD_Result web_readyz(struct http_req *r)
{
    const struct http_ctx *ctx = r->ctx;
    struct sf_buf b;
    char err[512];
    int ready = 1;

    sf_buf_init(&b, 8192);
    sf_buf_append(&b, "{\"checks\":{", 11);
    if (ctx->broker) {
        /* Kafka with every broker down: each POST would get 503. */
        int down = broker_unavailable(ctx->broker);
        sf_buf_printf(&b, "\"log\":\"%s\"", down ? "broker unavailable" : "ok");
        ready &= !down;
    }
    if (ctx->web) {
        struct sales_row *rows = NULL;
        size_t n = 0;
        pthread_mutex_lock(&ctx->web->mu);
        int rc = store_sales(ctx->web->store, &rows, &n, err, sizeof(err));
        pthread_mutex_unlock(&ctx->web->mu);
        free(rows);
        /* The detail is for the log: this route is open to anyone. */
        if (rc)
            log_error("GET /readyz: %s", err);
        sf_buf_printf(&b, "%s\"store\":", ctx->broker ? "," : "");
        sf_buf_json_str(&b, rc ? "store unavailable" : "ok");
        ready &= rc == 0;
    }
    if (!ctx->web && ctx->ready_store) {
        static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
        struct sales_row *rows = NULL;
        size_t n = 0;
        pthread_mutex_lock(&ready_mu);
        int rc = store_sales(ctx->ready_store, &rows, &n, err, sizeof(err));
        pthread_mutex_unlock(&ready_mu);
        free(rows);
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
    sf_buf_printf(&b, "},\"ready\":%s}", ready ? "true" : "false");
    enum MHD_Result rc = http_reply_json(r, ready ? MHD_HTTP_OK
                                                        : MHD_HTTP_SERVICE_UNAVAILABLE,
                                         b.data ? b.data : "{}");
    sf_buf_free(&b);
    return rc;
}

enum MHD_Result web_metrics(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, 4u << 20);
    metrics_render(&b);
    enum MHD_Result rc = http_reply(r, MHD_HTTP_OK,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                    b.data ? b.data : "", b.len);
    sf_buf_free(&b);
    return rc;
}

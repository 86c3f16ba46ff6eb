/*
 * ops — the endpoints monitoring systems poll: GET /healthz is in web.c;
 * here GET /readyz (is this process able to do its job right now?) and
 * GET /metrics (Prometheus text exposition, core/metrics.c).
 *
 * Readiness checks what this process has: the log is open (ingesting
 * processes), the store answers a query (processes with a store), and the
 * processor in this process is within --ready-lag records of the log end.
 * The JSON body names each check and, for a failing one, what is wrong.
 */
#include "core/metrics.h"
#include "ingest/http.h"
#include "store/store.h"
#include "web/web_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum MHD_Result web_readyz(struct http_req *r)
{
    const struct http_ctx *ctx = r->ctx;
    struct sf_buf b;
    char err[512];
    int ready = 1;

    sf_buf_init(&b, 8192);
    sf_buf_append(&b, "{\"checks\":{", 11);
    if (ctx->broker)
        sf_buf_printf(&b, "\"log\":\"ok\"");
    if (ctx->web) {
        struct sales_row *rows = NULL;
        size_t n = 0;
        pthread_mutex_lock(&ctx->web->mu);
        int rc = store_sales(ctx->web->store, &rows, &n, err, sizeof(err));
        pthread_mutex_unlock(&ctx->web->mu);
        free(rows);
        sf_buf_printf(&b, "%s\"store\":", ctx->broker ? "," : "");
        sf_buf_json_str(&b, rc ? err : "ok");
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
        sf_buf_printf(&b, "%s\"store\":", ctx->broker ? "," : "");
        sf_buf_json_str(&b, rc ? err : "ok");
        ready &= rc == 0;
    }
    if (ctx->ready_lag > 0) {
        int64_t lag = metrics_total_lag();
        int ok = lag >= 0 && lag <= ctx->ready_lag;
        if (lag < 0)
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

/*
 * web — GET / (the dashboard) and /explore with their assets, GET /healthz,
 * and the web layer's lifecycle (see web.h). The JSON API is in api.c and
 * query.c, the live stream in stream.c, the per-second history in
 * sampler.c.
 *
 * The assets are linked into the binary (assets.S), so the dashboard needs
 * no files at run time and the page loads nothing from any other host.
 * Queries go through the web layer's own store handle, serialized by a
 * mutex because the HTTP thread pool may call in parallel (SQLite's WAL
 * lets this reader work beside the processor's writer); the routes that
 * run on the query threads (qpool.c) use each thread's own handle.
 */
#include "web/web_int.h"
#include "broker/elog.h"
#include "core/coding.h"
#include "core/stats.h"
#include "http/http.h"
#include "http/mhd.h"

#include <stdlib.h>
#include <string.h>

extern const char sf_asset_index_html[], sf_asset_index_html_end[];
extern const char sf_asset_app_js[], sf_asset_app_js_end[];
extern const char sf_asset_style_css[], sf_asset_style_css_end[];
extern const char sf_asset_echarts_js[], sf_asset_echarts_js_end[];
extern const char sf_asset_explore_html[], sf_asset_explore_html_end[];
extern const char sf_asset_explore_js[], sf_asset_explore_js_end[];
extern const char sf_asset_query_js[], sf_asset_query_js_end[];

struct web *web_new(const char *store_uri, int query_nice, int64_t query_timeout_ms,
                    char *errstr, size_t n)
{
    struct web *w = calloc(1, sizeof(*w));
    if (!w) {
        sf_err(-1, errstr, n, "out of memory");
        return NULL;
    }
    w->store = store_open(store_uri, errstr, n);
    if (!w->store) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->query_timeout_ms = query_timeout_ms;
    if (web_queries_start(w, store_uri, query_nice, errstr, n) ||
        web_streams_start(w, errstr, n) || web_sampler_start(w, errstr, n)) {
        web_destroy(w);
        return NULL;
    }
    return w;
}

void web_attach(struct web *w, struct broker *b)
{
    struct elog_part_info *parts = NULL;
    int nparts = 0;
    char err[256];
    w->broker = b;
    w->nparts = broker_partition_count(b);
    /* The log's current ends; acks keep them current from here on. */
    if (elog_describe(b, &parts, &nparts, err, sizeof(err)) == 0) {
        for (int p = 0; p < nparts; p++)
            sf_stats_log_end(p, parts[p].end);
        elog_free_info(parts, nparts);
    }
    atomic_store(&w->attached, 1);
}

void web_on_commit(void *opaque, size_t inserted)
{
    struct web *w = opaque;
    atomic_store(&w->last_change_ms, sf_now_ms());
    atomic_fetch_add(&w->inserted, inserted);
    atomic_fetch_add(&w->commit_gen, 1);
    web_streams_kick(w);
}

void web_destroy(struct web *w)
{
    if (!w)
        return;
    web_sampler_stop(w);
    web_streams_stop(w);
    web_queries_stop(w);
    store_close(w->store);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static const struct asset {
    const char *path, *ctype, *start, *end;
} assets[] = {
    {"/", "text/html; charset=utf-8", sf_asset_index_html, sf_asset_index_html_end},
    {"/app.js", "text/javascript; charset=utf-8", sf_asset_app_js, sf_asset_app_js_end},
    {"/style.css", "text/css; charset=utf-8", sf_asset_style_css, sf_asset_style_css_end},
    {"/echarts.min.js", "text/javascript; charset=utf-8", sf_asset_echarts_js,
     sf_asset_echarts_js_end},
    {"/explore", "text/html; charset=utf-8", sf_asset_explore_html, sf_asset_explore_html_end},
    {"/explore.js", "text/javascript; charset=utf-8", sf_asset_explore_js, sf_asset_explore_js_end},
    {"/query.js", "text/javascript; charset=utf-8", sf_asset_query_js, sf_asset_query_js_end},
};

/* The assets gzip-compressed (level 9), made once, on the first request
 * that takes gzip; a form that failed or is no smaller stays NULL. */
static struct sf_buf gz_assets[SF_ARRAY_LEN(assets)];
static pthread_once_t gz_once = PTHREAD_ONCE_INIT;

static void gz_make(void)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(assets); i++) {
        size_t len = (size_t)(assets[i].end - assets[i].start);
        sf_buf_init(&gz_assets[i], len);
        if (coding_gzip(assets[i].start, len, 9, &gz_assets[i]))
            sf_buf_free(&gz_assets[i]);
    }
}

enum http_result web_get(struct http_req *r)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(assets); i++) {
        const struct asset *a = &assets[i];
        if (strcmp(r->url, a->path) != 0)
            continue;
        const char *body = a->start;
        size_t len = (size_t)(a->end - a->start);
        if (r->gzip_ok) {
            pthread_once(&gz_once, gz_make);
            if (!gz_assets[i].data)
                r->gzip_ok = 0;
            else
                body = gz_assets[i].data, len = gz_assets[i].len;
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            len, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return HTTP_CLOSE;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
        http_coding_headers(r, resp, r->gzip_ok);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        if (!strncmp(a->ctype, "text/html", 9)) {
            /* Everything a page uses comes from this server; no other
             * site may frame it. */
            MHD_add_response_header(resp, "Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; "
                                    "style-src 'self' 'unsafe-inline'; "
                                    "frame-ancestors 'none'; base-uri 'none'");
            MHD_add_response_header(resp, "X-Frame-Options", "DENY");  /* older browsers */
        }
        enum http_result rc = http_mhd_queue(r, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    return http_error(r, MHD_HTTP_NOT_FOUND, "Not Found");
}

enum http_result web_healthz(struct http_req *r)
{
    return http_reply_json(r, MHD_HTTP_OK, "{\"status\":\"ok\"}");
}

int web_add_routes(struct http_ctx *ctx)
{
    static const struct http_route routes[] = {
        /* web_q_*: on the query threads (qpool.c) */
        {"GET", "/api/sales", web_q_sales, 0, NULL},
        {"GET", "/api/sales/minute", web_q_sales_minute, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/api/sales/second", web_api_sales_second, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/api/orders", web_q_orders, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/api/pipeline", web_api_pipeline, 0, NULL},
        {"GET", "/api/query", web_q_query, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/api/charts", web_api_charts, HTTP_ROUTE_GZIP, NULL},
        /* Saving and removing charts: an admin key when read or admin keys
         * are set (the pipeline asks it of every write but ingestion). */
        {"POST", "/api/charts", web_api_chart_add, HTTP_BODY_JSON | HTTP_ROUTE_ADMIN, NULL},
        {"DELETE", "/api/charts/", web_api_chart_delete,
         HTTP_ROUTE_ADMIN | HTTP_ROUTE_PREFIX, NULL},
        {"GET", "/api/stream", web_api_stream, 0, NULL},
        {"GET", "/healthz", web_healthz, HTTP_ROUTE_OPEN, NULL},
        {"GET", "/readyz", web_readyz, HTTP_ROUTE_OPEN, NULL},
        {"GET", "/metrics", web_metrics, HTTP_ROUTE_GZIP | HTTP_ROUTE_OPEN, NULL},
        {"GET", "/", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/app.js", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/style.css", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/echarts.min.js", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/explore", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/explore.js", web_get, HTTP_ROUTE_GZIP, NULL},
        {"GET", "/query.js", web_get, HTTP_ROUTE_GZIP, NULL},
    };
    return http_add_routes(ctx, routes, SF_ARRAY_LEN(routes));
}

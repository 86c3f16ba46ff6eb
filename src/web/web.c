/*
 * web — GET / and its assets, GET /api/sales, GET /healthz.
 *
 * The assets are linked into the binary (assets.S), so the dashboard needs
 * no files at run time. Queries go through the web layer's own store handle,
 * serialized by a mutex because the HTTP thread pool may call in parallel.
 */
#include "web/web.h"
#include "core/money.h"
#include "ingest/http.h"
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const char sf_asset_index_html[], sf_asset_index_html_end[];
extern const char sf_asset_app_js[], sf_asset_app_js_end[];
extern const char sf_asset_style_css[], sf_asset_style_css_end[];
extern const char sf_asset_echarts_js[], sf_asset_echarts_js_end[];

struct web {
    struct store *store;
    pthread_mutex_t mu;
};

struct web *web_new(const char *store_uri, char *errstr, size_t n)
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
    return w;
}

void web_destroy(struct web *w)
{
    if (!w)
        return;
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
};

enum MHD_Result web_get(struct http_req *r)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(assets); i++) {
        const struct asset *a = &assets[i];
        if (strcmp(r->url, a->path) != 0)
            continue;
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            (size_t)(a->end - a->start), (void *)a->start, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    return http_error(r->conn, MHD_HTTP_NOT_FOUND, "Not Found");
}

enum MHD_Result web_api_sales(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct sales_row *rows = NULL;
    size_t n = 0;
    char err[512], amt[24];
    int64_t total = 0, count = 0, qty = 0;

    if (!w)
        return http_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "this server has no store to query");
    pthread_mutex_lock(&w->mu);
    int rc = store_sales(w->store, &rows, &n, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc) {
        log_error("GET /api/sales: %s", err);
        return http_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    }
    struct sf_buf b;
    sf_buf_init(&b, 64u << 20);
    sf_buf_append(&b, "{\"rows\":[", 9);
    for (size_t i = 0; i < n; i++) {
        sf_buf_append(&b, i ? ",{\"source\":" : "{\"source\":", i ? 11 : 10);
        sf_buf_json_str(&b, rows[i].source);
        sf_buf_append(&b, ",\"state\":", 9);
        sf_buf_json_str(&b, rows[i].state);
        sf_buf_printf(&b, ",\"total_sum_amount\":%s,\"order_count\":%lld,"
                      "\"quantity\":%lld,\"updated_at\":",
                      money_format(rows[i].total_cents, amt),
                      (long long)rows[i].order_count, (long long)rows[i].quantity);
        sf_buf_json_str(&b, rows[i].updated_at);
        sf_buf_append(&b, "}", 1);
        money_add(&total, rows[i].total_cents);
        count += rows[i].order_count;
        qty += rows[i].quantity;
    }
    sf_buf_printf(&b, "],\"total_sum_amount\":%s,\"order_count\":%lld,\"quantity\":%lld}",
                  money_format(total, amt), (long long)count, (long long)qty);
    free(rows);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        sf_buf_free(&b);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result qrc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return qrc;
}

enum MHD_Result web_healthz(struct http_req *r)
{
    return http_reply_json(r->conn, MHD_HTTP_OK, "{\"status\":\"ok\"}");
}

/*
 * routes — see routes.h. The handlers are in orderitem.c, v1orders.c and
 * openapi.c.
 */
#include "ingest/routes.h"
#include "ingest/ingest.h"

int ingest_add_routes(struct http_ctx *ctx)
{
    /* `serve` (no broker): the POSTs are refused before any body check,
     * with 404 (not 503: retrying never helps). */
    const char *off = ctx->broker ? NULL : "this server does not ingest orders";
    const struct http_route routes[] = {
        {"POST", "/orderitem", ingest_orderitem, HTTP_BODY_JSON | HTTP_ROUTE_AUTH, off},
        {"POST", "/v1/orders", ingest_v1_orders,
         HTTP_BODY_JSON_OR_NDJSON | HTTP_ROUTE_AUTH, off},
        {"GET", "/v1/quarantine", ingest_v1_quarantine, HTTP_ROUTE_AUTH | HTTP_ROUTE_GZIP,
         NULL},
        {"GET", "/openapi.json", ingest_openapi, HTTP_ROUTE_GZIP | HTTP_ROUTE_OPEN,
         NULL},
        {"GET", "/docs", ingest_docs, HTTP_ROUTE_GZIP | HTTP_ROUTE_OPEN, NULL},
    };
    return http_add_routes(ctx, routes, SF_ARRAY_LEN(routes));
}

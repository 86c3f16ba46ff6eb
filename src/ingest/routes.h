/*
 * routes — the ingestion layer's routes on the HTTP server (http.h):
 * POST /orderitem, POST /v1/orders, GET /v1/quarantine, and the API's
 * description, GET /openapi.json and GET /docs.
 */
#ifndef SF_INGEST_ROUTES_H
#define SF_INGEST_ROUTES_H

struct http_ctx;

/* Register them in ctx (ctx->broker set first: without one, the POSTs are
 * known but answer 404). 0, or -1 when the route table is full. */
int ingest_add_routes(struct http_ctx *ctx);

#endif

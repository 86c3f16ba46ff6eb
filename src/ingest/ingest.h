/*
 * ingest — the pipeline shared by POST /orderitem and POST /v1/orders
 * (v1orders.c): a request becomes a batch of rows; valid rows are checked
 * against the idempotency index and appended to the log; the request is
 * suspended until every appended row is acked, then answered.
 */
#ifndef SF_INGEST_H
#define SF_INGEST_H

#include <microhttpd.h>     /* MHD_HTTP_*: status codes and header names */

#include "http/http.h"

struct batch;

/* The route handlers (routes.c registers them). */
enum http_result ingest_orderitem(struct http_req *r);
enum http_result ingest_v1_orders(struct http_req *r);
enum http_result ingest_v1_quarantine(struct http_req *r);
enum http_result ingest_openapi(struct http_req *r);
enum http_result ingest_docs(struct http_req *r);

enum ingest_mode {
    INGEST_V1 = 0,          /* per-row results, quarantine */
    INGEST_ORDERITEM = 1,   /* the original endpoint's replies */
};

/* A batch of n rows for request r (rows start out invalid). NULL on OOM. */
struct batch *batch_new(struct http_req *r, enum ingest_mode mode, size_t n);
/* Row i: the order to fill, and its detail buffer for order_validate. */
struct order *batch_order(struct batch *b, size_t i);
struct sf_buf *batch_details(struct batch *b);
/* Mark row i valid, or invalid with detail entries [start, end) of
 * batch_details(b) (comma-separated items without brackets). */
void batch_row_ok(struct batch *b, size_t i);
void batch_row_bad(struct batch *b, size_t i, size_t start, size_t end);
/* Claim idempotency keys, append the valid rows and answer the request
 * (now, or from the last ack). Takes ownership of b (freed with r). */
enum http_result batch_submit(struct batch *b);

#endif

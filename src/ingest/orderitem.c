/*
 * orderitem — POST /orderitem, the original FastAPI endpoint.
 *
 * Validate and price the order exactly as before (a 422 with FastAPI's
 * detail list for any bad field; fields an order does not have are ignored,
 * as the original did, unless --strict-orderitem), then hand it to the shared pipeline
 * (ingest.h) as a batch of one: the connection is suspended and answered
 * 201 {"status":"success","message":"Stock entry created","order_id":…}
 * from the log's ack, which comes only after the order is durable. An
 * order_id sent before is answered with the same 201 and not appended
 * again. Anything that fails before the append leaves no trace in the log.
 */
#include "ingest/ingest.h"
#include "core/stats.h"

enum http_result ingest_orderitem(struct http_req *r)
{
    struct sf_buf detail;
    const struct http_ctx *ctx = r->ctx;

    if (!ctx->broker)
        return http_error(r, MHD_HTTP_NOT_FOUND,    /* not 503: retrying never helps */
                          "this server does not ingest orders");
    sf_buf_init(&detail, 64 * 1024);
    if (order_from_orderitem(r->body.data ? r->body.data : "", r->body.len, ctx->cat,
                             sf_now_ms(), !ctx->strict_orderitem, &r->order, &detail)) {
        sf_stats_add(&sf_stats.ingest_rejected, 1);
        enum http_result rc = http_reply_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                             detail.data);
        sf_buf_free(&detail);
        return rc;
    }
    sf_buf_free(&detail);

    struct batch *b = batch_new(r, INGEST_ORDERITEM, 1);
    if (!b)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    *batch_order(b, 0) = r->order;
    batch_row_ok(b, 0);
    return batch_submit(b);
}

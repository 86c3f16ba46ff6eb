/*
 * orderitem — POST /orderitem, the original FastAPI endpoint.
 *
 * Validate and price the order, suspend the connection, hand the encoded
 * order to the broker, and answer 201 from the broker's ack, which comes
 * only after the order is durable. Anything that fails before the append
 * leaves no trace in the log.
 */
#include "ingest/http.h"

#include <stdio.h>

static void on_ack(void *opaque, int err, int partition, int64_t offset)
{
    struct http_req *r = opaque;
    (void)partition, (void)offset;
    r->reply.len = 0;
    if (err == 0) {
        sf_buf_printf(&r->reply, "{\"status\":\"success\",\"message\":\"Stock entry "
                      "created\",\"order_id\":\"%s\"}", r->order.order_id);
        http_finish(r, MHD_HTTP_CREATED);
        return;
    }
    unsigned status = err == BROKER_ENOSPC || err == BROKER_EIO
                          ? MHD_HTTP_INSUFFICIENT_STORAGE
                          : MHD_HTTP_SERVICE_UNAVAILABLE;
    sf_buf_append(&r->reply, "{\"detail\":", 10);
    sf_buf_json_str(&r->reply, broker_strerror(err));
    sf_buf_append(&r->reply, "}", 1);
    http_finish(r, status);
}

enum MHD_Result ingest_orderitem(struct http_req *r)
{
    struct sf_buf detail, msg;
    const struct http_ctx *ctx = r->ctx;

    if (!ctx->broker)
        return http_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "this server does not ingest orders");
    sf_buf_init(&detail, 64 * 1024);
    if (order_from_body(r->body.data ? r->body.data : "", r->body.len, ctx->cat,
                        sf_now_ms(), &r->order, &detail)) {
        enum MHD_Result rc = http_reply_json(r->conn, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                             detail.data);
        sf_buf_free(&detail);
        return rc;
    }
    sf_buf_free(&detail);

    sf_buf_init(&msg, SF_ORDER_JSON_MAX);
    if (order_encode(&r->order, &msg)) {
        sf_buf_free(&msg);
        return http_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "cannot encode the order");
    }
    http_suspend(r);
    int rc = broker_produce(ctx->broker, r->order.customer_id, msg.data, msg.len,
                            on_ack, r);
    sf_buf_free(&msg);
    if (rc)
        on_ack(r, rc, -1, -1); /* no ack will come: finish it ourselves */
    return MHD_YES;
}

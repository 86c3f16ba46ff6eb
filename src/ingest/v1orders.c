/*
 * v1orders — POST /v1/orders, GET /v1/quarantine, and the ingestion
 * pipeline that POST /orderitem shares (ingest.h).
 *
 * A body is one JSON object, a JSON array of objects, or NDJSON (one object
 * per line, blank lines skipped). Each object is a row. Request-level
 * problems (not JSON at all, wrong top-level type, no rows, too many rows)
 * get one {"detail":[…]} answer and touch nothing. Otherwise every row is
 * validated on its own: bad rows are written to the quarantine (durably,
 * before the answer) and reported; good rows are appended.
 *
 * Appending: rows that carry an order_id are first claimed in the
 * idempotency index (dedupe.h). A new key is appended; a key already in the
 * log is answered at once ("duplicate":true); a key whose first append is
 * still in flight — in another request or earlier in this one — waits for
 * that append's outcome instead of appending again. The new rows go to the
 * log in one produce_batch() call (all or none: a full queue is a 503 with
 * Retry-After for the whole request), and the request is suspended.
 *
 * Completion: the batch counts what it still waits for (acks and waits,
 * plus one held by the submitting thread). Each ack or wake-up, on the log
 * writer's thread, records its row's outcome and counts down; whoever
 * reaches zero resumes the connection, and the reply is built on an HTTP
 * thread (on_resume), not on the writer, which must get back to the disk.
 *
 * Memory: a reply names every row, but only the first REPLY_DETAIL_ROWS
 * rejected rows (and REPLY_DETAIL_BYTES of their details) carry their
 * details; later ones carry one short entry pointing to GET
 * /v1/quarantine, which holds them. So a reply is at most ~1 MiB plus
 * REPLY_ROW_MAX per row. A batch of more than one row reserves that (and
 * its rows) in the reply budget (http.h) before anything is done, or is
 * answered 503; once its reply is queued, the batch, the body and the
 * reply buffer are freed and only the reply's size stays reserved until
 * the client has read it (or gone).
 *
 * Status: 201 when every row was accepted (appended or a duplicate), 207
 * when some were, 422 when none were and some were invalid, 503/507 when
 * none were and the log refused (full queue, shutting down / disk error).
 */
#include "ingest/ingest.h"
#include "core/stats.h"
#include "ingest/dedupe.h"
#include "http/mhd.h"
#include "ingest/quarantine.h"

#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_DETAIL_ROWS 1000
#define REPLY_DETAIL_BYTES ((size_t)1 << 20)
#define REPLY_ROW_MAX 192               /* a row's entry besides its details */

enum row_state { ROW_BAD = 0, ROW_NEW, ROW_WAIT, ROW_OK, ROW_DUP, ROW_FAIL };

struct row {
    struct order o;
    atomic_int state;               /* a waiter's is set on the writer thread */
    int err;                        /* BROKER_E* for ROW_FAIL */
    size_t det_start, det_end;      /* ROW_BAD: its entries in b->details */
    int brief;                      /* ROW_BAD: its reply omits the details */
    struct dedupe_entry *de;        /* ROW_NEW with a client key */
    struct dedupe_waiter w;         /* ROW_WAIT */
    struct batch *b;
};

struct batch {
    struct http_req *r;
    enum ingest_mode mode;
    atomic_size_t pending;
    size_t n;
    struct row *rows;
    struct sf_buf details;
    size_t nbad;                    /* rows found bad so far */
    size_t kept;                    /* bytes of details the reply shows */
    size_t kept_end;                /* where the last row it shows ends */
    size_t qdone;                   /* rows before this one are quarantined */
};

static void batch_free(void *p)
{
    struct batch *b = p;
    if (!b)
        return;
    sf_buf_free(&b->details);
    free(b->rows);
    free(b);
}

struct batch *batch_new(struct http_req *r, enum ingest_mode mode, size_t n)
{
    struct batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->rows = calloc(n ? n : 1, sizeof(*b->rows));
    if (!b->rows) {
        free(b);
        return NULL;
    }
    /* Before anything is done: what the reply and the rows may hold. */
    if (n > 1 && http_reply_reserve(r, ((size_t)64 << 10) + REPLY_DETAIL_BYTES +
                                           n * (REPLY_ROW_MAX + sizeof(struct row)))) {
        free(b->rows);
        free(b);
        return NULL;
    }
    b->r = r;
    b->mode = mode;
    b->n = n;
    /* Bounded by the rows: at most a few KiB of messages per bad row. */
    sf_buf_init(&b->details, 4096 + n * 8192);
    for (size_t i = 0; i < n; i++)
        b->rows[i].b = b;
    r->state = b;
    r->state_free = batch_free;
    return b;
}

struct order *batch_order(struct batch *b, size_t i) { return &b->rows[i].o; }
struct sf_buf *batch_details(struct batch *b) { return &b->details; }

void batch_row_ok(struct batch *b, size_t i)
{
    b->rows[i].state = ROW_NEW;
}

void batch_row_bad(struct batch *b, size_t i, size_t start, size_t end)
{
    sf_stats_add(&sf_stats.ingest_rejected, 1);
    b->rows[i].state = ROW_BAD;
    b->rows[i].det_start = start;
    b->rows[i].det_end = end;
    /* The reply shows the details of the first bad rows only (a prefix). */
    b->rows[i].brief = b->nbad >= REPLY_DETAIL_ROWS || b->kept >= REPLY_DETAIL_BYTES;
    b->nbad++;
    if (!b->rows[i].brief) {
        b->kept += end - start;
        b->kept_end = end;
    }
}

/* ---- replies ------------------------------------------------------------ */

static unsigned fail_status(int err)
{
    return err == BROKER_ENOSPC || err == BROKER_EIO || err == BROKER_EUNSURE
               ? MHD_HTTP_INSUFFICIENT_STORAGE : MHD_HTTP_SERVICE_UNAVAILABLE;
}

/* Build the reply of a finished batch into r->reply; returns the status. */
static unsigned build_reply(struct batch *b)
{
    struct sf_buf *out = &b->r->reply;
    size_t accepted = 0;
    int fail_err = 0;
    out->len = 0;
    /* At most REPLY_ROW_MAX bytes per row besides its detail entries. */
    out->limit = ((size_t)64 << 10) + b->n * (REPLY_ROW_MAX + 64) +
                 (b->details.len < 2 * REPLY_DETAIL_BYTES ? b->details.len
                                                          : 2 * REPLY_DETAIL_BYTES);

    for (size_t i = 0; i < b->n; i++) {
        int s = b->rows[i].state;
        accepted += s == ROW_OK || s == ROW_DUP;
        if (s == ROW_FAIL && !fail_err)
            fail_err = b->rows[i].err;
    }
    if (b->mode == INGEST_ORDERITEM) {
        struct row *rw = &b->rows[0];
        if (rw->state == ROW_OK || rw->state == ROW_DUP) {
            static const char ok[] = "{\"status\":\"success\",\"message\":"
                                     "\"Stock entry created\",\"order_id\":";
            sf_buf_append(out, ok, sizeof(ok) - 1);
            sf_buf_json_str(out, rw->o.order_id);
            SF_BUF_LIT(out, "}");
            return MHD_HTTP_CREATED;
        }
        SF_BUF_LIT(out, "{\"detail\":");
        sf_buf_json_str(out, broker_strerror(rw->err));
        SF_BUF_LIT(out, "}");
        return fail_status(rw->err);
    }

    sf_buf_printf(out, "{\"accepted\":%zu,\"rejected\":%zu,\"results\":[",
                  accepted, b->n - accepted);
    for (size_t i = 0; i < b->n; i++) {
        struct row *rw = &b->rows[i];
        sf_buf_append(out, i ? ",{\"index\":" : "{\"index\":", i ? 10 : 9);
        sf_buf_put_u64(out, i);
        SF_BUF_LIT(out, ",");
        switch ((int)atomic_load(&rw->state)) {
        case ROW_OK:
        case ROW_DUP:
            SF_BUF_LIT(out, "\"order_id\":");
            sf_buf_json_str(out, rw->o.order_id);
            if (rw->state == ROW_DUP)
                SF_BUF_LIT(out, ",\"duplicate\":true");
            break;
        case ROW_BAD:
            if (!rw->brief) {
                SF_BUF_LIT(out, "\"detail\":[");
                sf_buf_append(out, b->details.data + rw->det_start,
                              rw->det_end - rw->det_start);
                SF_BUF_LIT(out, "]");
                break;
            }
            static const char omit1[] = "\"detail\":[{\"loc\":[\"body\",";
            sf_buf_append(out, omit1, sizeof(omit1) - 1);
            sf_buf_put_u64(out, i);
            static const char omit2[] =
                "],\"msg\":\"Invalid; its details are in GET /v1/quarantine\","
                "\"type\":\"detail_omitted\"}]";
            sf_buf_append(out, omit2, sizeof(omit2) - 1);
            break;
        default:
            sf_buf_printf(out, "\"detail\":[{\"loc\":[\"body\",%zu],\"msg\":", i);
            sf_buf_json_str(out, broker_strerror(rw->err));
            sf_buf_printf(out, ",\"type\":\"%s\"}]",
                          fail_status(rw->err) == MHD_HTTP_SERVICE_UNAVAILABLE
                              ? "unavailable" : "storage_error");
            break;
        }
        SF_BUF_LIT(out, "}");
    }
    SF_BUF_LIT(out, "]}");
    if (accepted == b->n)
        return MHD_HTTP_CREATED;
    if (accepted)
        return MHD_HTTP_MULTI_STATUS;
    if (fail_err)
        return fail_status(fail_err);
    return MHD_HTTP_UNPROCESSABLE_CONTENT;
}

static enum http_result reply_now(struct batch *b)
{
    struct http_req *r = b->r;
    unsigned status = build_reply(b);
    enum http_result rc = http_reply_json(r, status, r->reply.data);
    /* Queued (copied): only the reply's size stays reserved. */
    http_reply_keep(r, r->reply.len + 1024);
    http_req_shed(r);
    return rc;
}

static enum http_result on_resume(struct http_req *r)
{
    return reply_now(r->state);
}

static void count_down(struct batch *b)
{
    if (atomic_fetch_sub(&b->pending, 1) == 1)
        http_finish(b->r, 0);
}

/* Log writer thread: row appended (err 0) or not. */
static void on_ack(void *opaque, int err, int partition, int64_t offset)
{
    struct row *rw = opaque;
    if (!err)
        sf_stats_appended(partition, offset);   /* dashboard: ingest, lag */
    rw->err = err;
    rw->state = err ? ROW_FAIL : ROW_OK;
    dedupe_complete(rw->b->r->ctx->dedupe, rw->de, err);
    count_down(rw->b);
}

/* The first append of this row's key finished. */
static void on_wait_done(struct dedupe_waiter *w, int err)
{
    struct row *rw = (struct row *)((char *)w - offsetof(struct row, w));
    rw->err = err;
    rw->state = err ? ROW_FAIL : ROW_DUP;
    count_down(rw->b);
}

/* ---- submit ------------------------------------------------------------- */

/* Quarantine the bad rows of [b->qdone, to). */
static void quarantine_rows(struct batch *b, const char *const *raw,
                            const size_t *raw_len, size_t to)
{
    size_t from = b->qdone;
    b->qdone = to;
    struct quarantine *q = b->r->ctx->quarantine;
    size_t nbad = 0, k = 0;
    char err[256];
    if (!q || b->mode != INGEST_V1)
        return;
    for (size_t i = from; i < to; i++)
        nbad += b->rows[i].state == ROW_BAD;
    if (!nbad)
        return;
    struct quarantine_row *qr = calloc(nbad, sizeof(*qr));
    struct sf_buf arrays;
    sf_buf_init(&arrays, b->details.len + 2 * nbad + 16);
    size_t k0 = 0;
    size_t *offs = calloc(nbad, sizeof(*offs));
    if (!qr || !offs)
        goto out;
    for (size_t i = from; i < to; i++) {
        struct row *rw = &b->rows[i];
        if (rw->state != ROW_BAD)
            continue;
        offs[k] = arrays.len;
        SF_BUF_LIT(&arrays, "[");
        sf_buf_append(&arrays, b->details.data + rw->det_start,
                      rw->det_end - rw->det_start);
        SF_BUF_LIT(&arrays, "]");
        qr[k].index = (long)i;
        qr[k].raw = raw ? raw[i] : NULL;
        qr[k].raw_full = raw && raw[i] ? raw_len[i] : 0;
        qr[k].raw_len = qr[k].raw_full < QUARANTINE_RAW_MAX ? qr[k].raw_full
                                                            : QUARANTINE_RAW_MAX;
        qr[k].detail_len = arrays.len - offs[k];
        k++;
        /* In pieces of about REPLY_DETAIL_BYTES: not a second copy of
         * every row's details at once. */
        if (arrays.len < REPLY_DETAIL_BYTES && k < nbad)
            continue;
        for (size_t j = k0; j < k; j++)
            qr[j].detail = arrays.data + offs[j];
        if (quarantine_add(q, b->r->url, qr + k0, k - k0, sf_now_ms(), err, sizeof(err)))
            log_error("quarantine: %s", err);
        arrays.len = 0;
        k0 = k;
    }
out:
    sf_buf_free(&arrays);
    free(offs);
    free(qr);
}

/* Rows 0..i are validated (and their raw texts known): once the details
 * the reply will not show pass REPLY_DETAIL_BYTES, quarantine those rows
 * now and drop their details, so that a batch of many bad rows holds at
 * most about twice that many bytes of details, not all of them. */
static void batch_spill(struct batch *b, const char **raw, const size_t *raw_len,
                        size_t i, int owned)
{
    if (b->details.len - b->kept_end < REPLY_DETAIL_BYTES)
        return;
    size_t from = b->qdone;
    quarantine_rows(b, raw, raw_len, i + 1);
    for (size_t j = from; owned && j <= i; j++) {   /* raw texts we made */
        free((char *)raw[j]);
        raw[j] = NULL;
    }
    b->details.len = b->kept_end;   /* the brief rows' details follow it */
}

/* raw/raw_len: each row's text for the quarantine (may be NULL). */
static enum http_result submit(struct batch *b, const char *const *raw,
                              const size_t *raw_len)
{
    struct http_req *r = b->r;
    const struct http_ctx *ctx = r->ctx;
    struct dedupe *dd = ctx->dedupe;
    int64_t now = sf_now_ms();
    size_t nnew = 0;

    quarantine_rows(b, raw, raw_len, b->n);
    atomic_store(&b->pending, 1);
    for (size_t i = 0; i < b->n; i++) {
        struct row *rw = &b->rows[i];
        if (rw->state != ROW_NEW)
            continue;
        if (dd && rw->o.client_id) {
            rw->w.done = on_wait_done;
            atomic_fetch_add(&b->pending, 1);
            /* Before the claim: once the waiter is registered, the first
             * append's ack may run on_wait_done() at once, and its outcome
             * must not be overwritten with ROW_WAIT. */
            rw->state = ROW_WAIT;
            enum dedupe_result d = dedupe_claim(dd, rw->o.order_id, now, &rw->w, &rw->de);
            if (d == DEDUPE_WAIT)
                continue;
            atomic_fetch_sub(&b->pending, 1);
            if (d == DEDUPE_DONE) {
                rw->state = ROW_DUP;
                continue;
            }
            rw->state = ROW_NEW;
        }
        nnew++;
    }

    if (nnew) {
        struct broker_msg *msgs = calloc(nnew, sizeof(*msgs));
        size_t *off = calloc(nnew, sizeof(*off));
        struct sf_buf enc;
        size_t k = 0;
        int rc = 0;
        sf_buf_init(&enc, nnew * SF_ORDER_JSON_MAX);
        if (!msgs || !off)
            rc = BROKER_EFULL;
        for (size_t i = 0; i < b->n && !rc; i++) {
            struct row *rw = &b->rows[i];
            if (rw->state != ROW_NEW)
                continue;
            off[k] = enc.len;
            if (order_encode(&rw->o, b->r->ctx->cat, &enc))
                rc = BROKER_ETOOBIG;
            msgs[k].key = rw->o.customer_id;
            msgs[k].len = enc.len - off[k];
            msgs[k].opaque = rw;
            k++;
        }
        for (size_t j = 0; j < k && !rc; j++)
            msgs[j].value = enc.data + off[j];
        atomic_fetch_add(&b->pending, nnew);
        if (!rc)
            rc = broker_produce_batch(ctx->broker, msgs, nnew, on_ack);
        sf_buf_free(&enc);
        free(off);
        free(msgs);
        if (rc) /* no ack will come: fail them (and their waiters) here */
            for (size_t i = 0; i < b->n; i++)
                if (b->rows[i].state == ROW_NEW)
                    on_ack(&b->rows[i], rc, -1, -1);
    }

    /* Everything already settled (nothing appended, or the acks beat us):
     * answer from this thread. Otherwise the last ack resumes us. */
    if (atomic_load(&b->pending) == 1) {
        atomic_store(&b->pending, 0);
        return reply_now(b);
    }
    r->on_resume = on_resume;
    http_suspend(r);
    count_down(b);
    return HTTP_OK;
}

enum http_result batch_submit(struct batch *b)
{
    return submit(b, NULL, NULL);
}

/* ---- POST /v1/orders ---------------------------------------------------- */

/* batch_new failed: the reply budget is full, or memory ran out. */
static enum http_result batch_refused(struct http_req *r)
{
    if (r->reply_full)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "The server holds too many unread replies; retry "
                          "shortly (and read the replies)");
    return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
}

/* batch_new() with the raw[] and raw_len[] arrays of its n rows: 0, or -1
 * with nothing to free (a batch already made is r's, freed with it). */
static int batch_with_raw(struct http_req *r, size_t n, struct batch **b,
                          const char ***raw, size_t **raw_len)
{
    *b = batch_new(r, INGEST_V1, n);
    *raw = calloc(n, sizeof(**raw));
    *raw_len = calloc(n, sizeof(**raw_len));
    if (*b && *raw && *raw_len)
        return 0;
    free(*raw);
    free(*raw_len);
    return -1;
}

/* A request-level 422/413 with one detail entry. */
static enum http_result request_error(struct http_req *r, unsigned status,
                                     const char *type, const char *msg)
{
    struct sf_buf d;
    int n = 0;
    sf_buf_init(&d, 8192);
    SF_BUF_LIT(&d, "{\"detail\":[");
    order_detail_add(&d, &n, -1, NULL, type, msg);
    SF_BUF_LIT(&d, "]}");
    enum http_result rc = http_reply_json(r, status, d.data);
    sf_buf_free(&d);
    return rc;
}

static enum http_result too_many_rows(struct http_req *r, size_t n, size_t max)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "The request has %s%zu orders; at most %zu are "
             "accepted per request: split it", n > max ? "more than " : "",
             n > max ? max : n, max);
    return request_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_long", msg);
}

static enum http_result no_rows(struct http_req *r)
{
    return request_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "too_short",
                         "The request has no orders: send one order object, an "
                         "array of them, or one per line as NDJSON");
}

static enum http_result v1_ndjson(struct http_req *r, size_t max)
{
    const char *p = r->body.data ? r->body.data : "", *end = p + r->body.len;
    size_t n = 0;
    /* Count the rows first, so a too-big batch costs no parsing. */
    for (const char *s = p; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        const char *t = s;
        while (t < e && (*t == ' ' || *t == '\t' || *t == '\r'))
            t++;
        if (t < e && ++n > max)
            return too_many_rows(r, n, max);
        s = e + 1;
    }
    if (n == 0)
        return no_rows(r);
    struct batch *b;
    const char **raw;
    size_t *raw_len;
    if (batch_with_raw(r, n, &b, &raw, &raw_len))
        return batch_refused(r);
    int64_t now = sf_now_ms();
    size_t i = 0;
    for (const char *s = p; s < end && i < n;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        const char *t = s;
        while (t < e && (*t == ' ' || *t == '\t' || *t == '\r'))
            t++;
        if (t < e) {
            size_t len = (size_t)(e - s);
            if (len && s[len - 1] == '\r')
                len--;
            raw[i] = s;
            raw_len[i] = len;
            if (order_scan_whole(s, len, r->ctx->cat, now, &b->rows[i].o)) {
                batch_row_ok(b, i);
                i++;
                s = e + 1;
                continue;
            }
            size_t start = b->details.len;
            int nerr = 0;
            json_t *v = order_parse_json(s, len, (long)i, &b->details, &nerr);
            if (v && order_validate(v, r->ctx->cat, now, (long)i, &b->rows[i].o,
                                    &b->details, &nerr) == 0)
                batch_row_ok(b, i);
            else
                batch_row_bad(b, i, start, b->details.len);
            json_decref(v);
            batch_spill(b, raw, raw_len, i, 0);
            i++;
        }
        s = e + 1;
    }
    enum http_result rc = submit(b, raw, raw_len);
    free(raw);
    free(raw_len);
    return rc;
}

/* The fast path for a JSON body (see order_scan): an object or an array of
 * objects all in the plain form and valid. Returns the reply, or -1 (and
 * nothing done) for the general path to take the body. */
static int v1_json_fast(struct http_req *r, size_t max)
{
    const char *p = r->body.data, *end;
    if (!p)
        return -1;
    end = p + r->body.len; /* not before: NULL + 0 is undefined (fuzz_http) */
    p = order_scan_ws(p, end);
    int64_t now = sf_now_ms();
    if (p < end && *p == '{') {
        struct order o;
        if (!order_scan_whole(p, (size_t)(end - p), r->ctx->cat, now, &o))
            return -1;
        struct batch *b = batch_new(r, INGEST_V1, 1);
        if (!b)
            return batch_refused(r);
        b->rows[0].o = o;
        batch_row_ok(b, 0);
        return submit(b, NULL, NULL);
    }
    if (p >= end || *p != '[')
        return -1;
    /* Every object opens with a brace, so the braces bound the rows. */
    size_t cap = 0;
    for (const char *q = p; q < end && cap <= max; q++)
        cap += *q == '{';
    if (cap == 0 || cap > max)
        return -1;
    struct order *os = malloc(cap * sizeof(*os));
    size_t n = 0;
    if (!os)
        return -1;
    for (p++;;) {
        p = order_scan_ws(p, end);
        const char *next = n < cap ? order_scan(p, (size_t)(end - p), r->ctx->cat, now,
                                                &os[n]) : NULL;
        if (!next)
            goto general;
        n++;
        p = order_scan_ws(next, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']')
            break;
        goto general;
    }
    if (order_scan_ws(p + 1, end) != end)
        goto general;
    struct batch *b = batch_new(r, INGEST_V1, n);
    if (!b) {
        free(os);
        return batch_refused(r);
    }
    for (size_t i = 0; i < n; i++) {
        b->rows[i].o = os[i];
        batch_row_ok(b, i);
    }
    free(os);
    return submit(b, NULL, NULL);
general:
    free(os);
    return -1;
}

/* json_dump_callback sink: keeps the first QUARANTINE_RAW_MAX bytes (all
 * the quarantine can keep of a row) and counts the rest. */
struct raw_start {
    char buf[QUARANTINE_RAW_MAX];
    size_t len, total;
};

static int raw_start_cb(const char *p, size_t n, void *opaque)
{
    struct raw_start *c = opaque;
    size_t k = sizeof(c->buf) - c->len < n ? sizeof(c->buf) - c->len : n;
    memcpy(c->buf + c->len, p, k);
    c->len += k;
    c->total += n;
    return 0;
}

/* One element of a JSON array at p, parsed alone as order_parse_json
 * would (strict, duplicate keys rejected); *used: its bytes. */
static json_t *elem_parse(const char *p, const char *end, size_t *used)
{
    json_error_t e;
    json_t *v = json_loadb(p, (size_t)(end - p), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                                     JSON_DISABLE_EOF_CHECK, &e);
    *used = v && e.position > 0 ? (size_t)e.position : 0;
    if (v && !*used) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Re-encode the start of element v for the quarantine (NULL if none). */
static char *raw_of(json_t *v, size_t *total);

/* A JSON array, element by element: the whole parsed tree of a big array
 * of small objects takes many times its text (an array of 100,000 `{}`
 * took ~25 MB), one element little. A first pass checks that the body is
 * a well-formed array whose elements parse (and counts them); a body that
 * is not is left to the general path (-1), which answers as it always
 * did. The rows get exactly what the general path gives them. */
static int v1_json_stream(struct http_req *r, size_t max)
{
    const char *p = r->body.data, *end;
    size_t n = 0, used;
    if (!p)
        return -1;
    end = p + r->body.len;
    p = order_scan_ws(p, end);
    if (p >= end || *p != '[')
        return -1;
    const char *first = p + 1;
    for (const char *q = first;;) {
        json_t *v = elem_parse(q, end, &used);
        if (!v)
            return -1;
        json_decref(v);
        if (++n > max)
            return too_many_rows(r, n, max);
        q = order_scan_ws(q + used, end);
        if (q < end && *q == ',') {
            q++;
            continue;
        }
        if (q < end && *q == ']' && order_scan_ws(q + 1, end) == end)
            break;
        return -1;
    }
    struct batch *b;
    const char **raw;
    size_t *raw_len;
    if (batch_with_raw(r, n, &b, &raw, &raw_len))
        return batch_refused(r);
    int64_t now = sf_now_ms();
    const char *q = first;
    for (size_t i = 0; i < n; i++) {
        /* Once a parse failed (memory), where the next element starts is
         * unknown: the rest are not guessed at. */
        json_t *v = q ? elem_parse(q, end, &used) : NULL;
        q = v ? order_scan_ws(q + used, end) + 1 : NULL;   /* past the ',' */
        size_t start = b->details.len;
        int ne = 0;
        if (v && order_validate(v, r->ctx->cat, now, (long)i, &b->rows[i].o,
                                &b->details, &ne) == 0) {
            batch_row_ok(b, i);
            json_decref(v);
            continue;
        }
        if (!v)                 /* parsed in the first pass: only memory */
            order_detail_add(&b->details, &ne, (long)i, NULL, "internal_error",
                             "out of memory");
        batch_row_bad(b, i, start, b->details.len);
        raw[i] = v ? raw_of(v, &raw_len[i]) : NULL;
        json_decref(v);
        batch_spill(b, raw, raw_len, i, 1);
    }
    enum http_result rc = submit(b, raw, raw_len);
    for (size_t i = 0; i < n; i++)
        free((char *)raw[i]);
    free(raw);
    free(raw_len);
    return (int)rc;
}

static enum http_result v1_orders(struct http_req *r)
{
    const struct http_ctx *ctx = r->ctx;
    size_t max = ctx->max_batch ? ctx->max_batch : SF_MAX_BATCH_DEFAULT;
    if (!ctx->broker)
        return http_error(r, MHD_HTTP_NOT_FOUND,    /* not 503: retrying never helps */
                          "this server does not ingest orders");
    if (r->ndjson)
        return v1_ndjson(r, max);
    int fast = v1_json_fast(r, max);
    if (fast >= 0)
        return (enum http_result)fast;
    fast = v1_json_stream(r, max);
    if (fast >= 0)
        return (enum http_result)fast;

    struct sf_buf d;
    int nerr = 0;
    sf_buf_init(&d, 8192);
    SF_BUF_LIT(&d, "{\"detail\":[");
    json_t *root = order_parse_json(r->body.data ? r->body.data : "", r->body.len,
                                    -1, &d, &nerr);
    if (!root || !(json_is_object(root) || json_is_array(root))) {
        if (root)
            order_detail_add(&d, &nerr, -1, NULL, "model_attributes_type",
                             "Input should be an order object, an array of order "
                             "objects, or NDJSON (Content-Type: application/x-ndjson)");
        SF_BUF_LIT(&d, "]}");
        enum http_result rc = http_reply_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                             d.data);
        sf_buf_free(&d);
        json_decref(root);
        return rc;
    }
    sf_buf_free(&d);

    int is_array = json_is_array(root);
    size_t n = is_array ? json_array_size(root) : 1;
    if (n > max) {
        json_decref(root);
        return too_many_rows(r, n, max);
    }
    if (n == 0) {
        json_decref(root);
        return no_rows(r);
    }
    struct batch *b;
    const char **raw;
    size_t *raw_len;
    if (batch_with_raw(r, n, &b, &raw, &raw_len)) {
        json_decref(root);
        return batch_refused(r);
    }
    int64_t now = sf_now_ms();
    for (size_t i = 0; i < n; i++) {
        json_t *v = is_array ? json_array_get(root, i) : root;
        size_t start = b->details.len;
        int ne = 0;
        if (order_validate(v, ctx->cat, now, is_array ? (long)i : -1, &b->rows[i].o,
                           &b->details, &ne) == 0) {
            batch_row_ok(b, i);
            continue;
        }
        batch_row_bad(b, i, start, b->details.len);
        /* The row's text for the quarantine: the element as sent, re-encoded
         * (the whole body for a single object); of a long element only the
         * start the quarantine keeps is copied, with the full length. */
        if (!is_array) {
            raw[i] = r->body.data;
            raw_len[i] = r->body.len;
        } else {
            raw[i] = raw_of(v, &raw_len[i]);
        }
        batch_spill(b, raw, raw_len, i, is_array);
    }
    enum http_result rc = submit(b, raw, raw_len);
    if (is_array)
        for (size_t i = 0; i < n; i++)
            free((char *)raw[i]);
    free(raw);
    free(raw_len);
    json_decref(root);
    return rc;
}

/* A big batch gives what it held back to the system afterwards, not only
 * to malloc, so RSS follows what requests hold now. What they may hold at
 * once is bounded by the reply budget each batch reserves first
 * (http_reply_reserve), not by running big batches one at a time, which
 * kept them from sharing the log's group commit (3-4x fewer orders/s for
 * 2,000-order NDJSON batches). */
#define BIG_BODY ((size_t)1 << 20)

enum http_result ingest_v1_orders(struct http_req *r)
{
    size_t len = r->body.len;   /* v1_orders() frees the body */
    enum http_result rc = v1_orders(r);
    if (len > BIG_BODY)
        malloc_trim(0);
    return rc;
}

static char *raw_of(json_t *v, size_t *total)
{
    struct raw_start c = {.len = 0};
    char *txt = NULL;
    if (json_dump_callback(v, raw_start_cb, &c, JSON_COMPACT | JSON_ENCODE_ANY) == 0 &&
        (txt = malloc(c.len + 1))) {
        memcpy(txt, c.buf, c.len);
        txt[c.len] = '\0';
    }
    *total = txt ? c.total : 0;
    return txt;
}

/* ---- GET /v1/quarantine ------------------------------------------------- */

enum http_result ingest_v1_quarantine(struct http_req *r)
{
    const char *lim = MHD_lookup_connection_value(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND,
                                                  "limit");
    const char *bef = MHD_lookup_connection_value(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND,
                                                  "before");
    long limit = 100;
    uint64_t before = 0, next = 0;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || limit < 1 || limit > QUARANTINE_RECENT) {
            return http_reply_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                   "{\"detail\":[{\"loc\":[\"query\",\"limit\"],\"msg\":"
                                   "\"Input should be an integer from 1 to 1000\","
                                   "\"type\":\"int_parsing\"}]}");
        }
    }
    if (bef) {
        /* A cursor from an earlier answer's "next": digits only. */
        size_t n = strlen(bef);
        if (n == 0 || n > 19 || strspn(bef, "0123456789") != n) {
            return http_reply_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                   "{\"detail\":[{\"loc\":[\"query\",\"before\"],\"msg\":"
                                   "\"Input should be the before= value of an answer's "
                                   "next link\",\"type\":\"int_parsing\"}]}");
        }
        before = strtoull(bef, NULL, 10);
    }
    if (!r->ctx->quarantine)
        return http_reply_json(r, MHD_HTTP_OK,
                               "{\"count\":0,\"items\":[],\"truncated\":false}");
    /* The answer is at most QUARANTINE_LIST_MAX bytes: the items less room
     * for the fields around them; "next" pages on from there. */
    struct sf_buf out;
    sf_buf_init(&out, QUARANTINE_LIST_MAX);
    enum http_result rc;
    int err = quarantine_list(r->ctx->quarantine, (size_t)limit, before,
                              QUARANTINE_LIST_MAX - 256, &out, &next);
    if (!err && next)
        err = sf_buf_printf(&out, ",\"truncated\":true,\"next\":"
                            "\"/v1/quarantine?limit=%ld&before=%" PRIu64 "\"}", limit, next);
    else if (!err)
        err = SF_BUF_LIT(&out, ",\"truncated\":false}");
    if (err)
        rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                        "cannot list the quarantine");
    else
        rc = http_reply_json(r, MHD_HTTP_OK, out.data);
    sf_buf_free(&out);
    return rc;
}

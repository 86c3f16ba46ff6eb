/*
 * fuzz_order_json — libFuzzer harness for the ingest side's parse and
 * validation of one order object (src/core/order.c), as POST /orderitem
 * does it (order_from_body, with its 64 KiB detail buffer) and as
 * POST /v1/orders does it per row (order_parse_json + order_validate with
 * a row index, into a row's detail buffer of 4 KiB + 8 KiB).
 *
 * Input: byte 0 picks the path (bit 0: the /v1/orders row path; bits 1-7:
 * the row index, 127 meaning none); the rest is the body.
 *
 * Checks: the fast path in front of order_from_body (order_scan_whole)
 * builds exactly what the general parse and validation build, whenever it
 * takes an order; a rejected order's details are valid JSON of FastAPI's shape
 * (every entry has a loc starting with "body", a msg and a type) — this is
 * what the client gets as the 422 body; an accepted order is in range
 * (known customer, catalog source, quantity 1..1000000, an order_id of
 * printable ASCII), is priced, encodes within SF_ORDER_JSON_MAX, and the
 * log decoder reads back exactly the same order from its encoding.
 */
#include "core/order.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW INT64_C(1795923600123)

static struct catalog *cat;

static void check_entries(const json_t *arr, long index)
{
    size_t i;
    json_t *e;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        abort();
    json_array_foreach(arr, i, e) {
        json_t *loc = json_object_get(e, "loc");
        if (!json_is_array(loc) || json_array_size(loc) < 1 ||
            strcmp(json_string_value(json_array_get(loc, 0)) ?
                       json_string_value(json_array_get(loc, 0)) : "", "body") ||
            !json_is_string(json_object_get(e, "msg")) ||
            !json_is_string(json_object_get(e, "type")) || json_object_size(e) != 3)
            abort();
        if (index >= 0 && (json_array_size(loc) < 2 ||
                           json_integer_value(json_array_get(loc, 1)) != index))
            abort();
    }
}

static void check_order(const struct order *o)
{
    if (!catalog_state(cat, o->customer_id) || o->source < 0 ||
        (size_t)o->source >= catalog_source_count(cat) || o->quantity < SF_QUANTITY_MIN ||
        o->quantity > SF_QUANTITY_MAX || o->total_cents < 0)
        abort();
    size_t idl = strnlen(o->order_id, sizeof(o->order_id));
    if (idl == 0 || idl > SF_ORDER_ID_MAX)
        abort();
    for (size_t i = 0; i < idl; i++)
        if ((unsigned char)o->order_id[i] < 0x20 || (unsigned char)o->order_id[i] > 0x7e)
            abort();
    struct sf_buf enc;
    sf_buf_init(&enc, 4096);
    if (order_encode(o, cat, &enc) || enc.len > SF_ORDER_JSON_MAX)
        abort();
    /* What the log keeps must be valid JSON and decode to the same order. */
    json_error_t jerr;
    json_t *v = json_loadb(enc.data, enc.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        abort();
    json_decref(v);
    struct order back;
    int has_total;
    char err[256];
    if (order_decode(enc.data, enc.len, cat, &back, &has_total, err, sizeof(err)) ||
        !has_total || back.customer_id != o->customer_id || back.source != o->source ||
        back.quantity != o->quantity || back.total_cents != o->total_cents ||
        back.created_ms != o->created_ms || strcmp(back.order_id, o->order_id))
        abort();
    sf_buf_free(&enc);
}

/* order_scan_whole, the fast path in front of order_from_body, must build
 * exactly what order_parse_json + order_validate build (order.h). */
static void check_fast_path(const char *body, size_t len)
{
    struct order f, g;
    if (!order_scan_whole(body, len, cat, NOW, &f))
        return;
    struct sf_buf d;
    int ne = 0;
    sf_buf_init(&d, 64 * 1024);
    json_t *v = order_parse_json(body, len, -1, &d, &ne);
    if (!v || order_validate(v, cat, NOW, -1, &g, &d, &ne) != 0) {
        fprintf(stderr, "fast path took an order the validator rejects: %s\n",
                d.data ? d.data : "");
        abort();
    }
    if (f.customer_id != g.customer_id || f.source != g.source ||
        f.quantity != g.quantity || f.total_cents != g.total_cents ||
        f.created_ms != g.created_ms || f.client_id != g.client_id ||
        (g.client_id && strcmp(f.order_id, g.order_id)))
        abort();
    json_decref(v);
    sf_buf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!cat && !(cat = catalog_load(NULL, 30000, err, sizeof(err))))
        abort();
    if (size < 1)
        return 0;
    int v1 = data[0] & 1;
    long index = (data[0] >> 1) == 127 ? -1 : (long)(data[0] >> 1);
    size_t len = size - 1;
    char *body = malloc(len ? len : 1); /* exactly the body: ASan sees over-reads */
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    struct order o;
    struct sf_buf d;
    json_error_t jerr;
    if (!v1) {
        check_fast_path(body, len);
        sf_buf_init(&d, 64 * 1024);
        int rc = order_from_body(body, len, cat, NOW, &o, &d);
        if (rc == 0) {
            if (d.len)
                abort();
            check_order(&o);
        } else {
            json_t *r = json_loadb(d.data ? d.data : "", d.len, JSON_REJECT_DUPLICATES, &jerr);
            if (!r || json_object_size(r) != 1)
                abort(); /* the 422 body the client gets is not JSON */
            check_entries(json_object_get(r, "detail"), -1);
            json_decref(r);
        }
    } else {
        int nerr = 0;
        sf_buf_init(&d, 4096 + 8192);
        sf_buf_append(&d, "[", 1);
        json_t *v = order_parse_json(body, len, index, &d, &nerr);
        int rc = v ? order_validate(v, cat, NOW, index, &o, &d, &nerr) : -1;
        json_decref(v);
        sf_buf_append(&d, "]", 1);
        if (rc == 0) {
            if (nerr || d.len != 2)
                abort();
            check_order(&o);
        } else {
            json_t *r = json_loadb(d.data, d.len, JSON_REJECT_DUPLICATES, &jerr);
            /* Entries that do not fit the buffer are left out, counted. */
            if (!r || (size_t)nerr < json_array_size(r))
                abort(); /* the row's detail is not JSON */
            check_entries(r, index);
            json_decref(r);
        }
    }
    sf_buf_free(&d);
    free(body);
    return 0;
}

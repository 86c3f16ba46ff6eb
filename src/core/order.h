/*
 * order — the order model, its validation (FastAPI-compatible 422 details),
 * and its JSON codec on the wire and in the log.
 *
 * A log message is the original producer's JSON plus order_id:
 *   {"customer_id":3,"source":"Dine In","quantity":7,"total":2100.00,
 *    "created_at":"2026-11-29T03:40:00.123Z","order_id":"0193…"}
 */
#ifndef SF_ORDER_H
#define SF_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/util.h"
#include "core/uuid.h"

#define SF_QUANTITY_MIN 1
#define SF_QUANTITY_MAX 1000000
#define SF_ORDER_JSON_MAX 512   /* an encoded order never exceeds this */

struct order {
    char order_id[SF_UUID_STRLEN + 1];
    int64_t customer_id;
    int source;                 /* index into sf_sources */
    int64_t quantity;
    int64_t total_cents;
    int64_t created_ms;         /* event time, ms since the epoch, UTC */
};

/* Validate a POST /orderitem body and build the order: price it with the
 * catalog's unit price, stamp created_at = now_ms and a fresh UUIDv7.
 * Returns 0, or -1 with `detail` holding a complete FastAPI-shaped error
 * body {"detail":[{"loc":[…],"msg":"…","type":"…"}, …]} (one entry per bad
 * field; loc ["body"] for malformed JSON or a non-object). */
int order_from_body(const char *body, size_t len, const struct catalog *cat,
                    int64_t now_ms, struct order *out, struct sf_buf *detail);

/* Encode o as its log JSON into out (appends). Returns 0 or -1 (limit). */
int order_encode(const struct order *o, struct sf_buf *out);

/* Decode a log message. order_id may be absent (foreign producers): then
 * o->order_id is "" and the caller derives one. created_at accepts RFC 3339
 * and "%m/%d/%Y, %H:%M:%S"; total may be omitted (then 0 is returned in
 * *has_total and the caller prices it). Returns 0, or -1 with errstr. */
int order_decode(const char *json, size_t len, struct order *o, int *has_total,
                 char *errstr, size_t errstr_size);

/* A deterministic id for a message that carries none, from where it sits
 * in the log, so a replay produces the same rows. */
void order_derive_id(const char *topic, int partition, int64_t offset,
                     char out[SF_UUID_STRLEN + 1]);

#endif

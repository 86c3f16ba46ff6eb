/*
 * order — the order model, its validation (FastAPI-compatible 422 details),
 * and its JSON codec on the wire and in the log.
 *
 * A log message is the original producer's JSON plus order_id:
 *   {"customer_id":3,"source":"Dine In","quantity":7,"total":2100.00,
 *    "created_at":"2026-11-29T03:40:00.123Z","order_id":"0193…"}
 * When the client chose the order_id (an idempotency key), the encoder
 * writes it first instead of last: {"order_id":"…","customer_id":3,…}.
 * Every JSON reader sees the same object; ingest's start-up scan uses the
 * position to rebuild its index of client keys without parsing (dedupe.c).
 *
 * Fields a client may send, on every endpoint: customer_id, source,
 * quantity (required), order_id, created_at, unit_price (optional). Any
 * other field is rejected ("extra_forbidden"), so a typo such as
 * "quantiy" is an error instead of a silently missing value.
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
#define SF_ORDER_ID_MAX 64          /* client order_id: 1..64 printable ASCII */
#define SF_UNIT_PRICE_MAX_CENTS INT64_C(100000000000000) /* 1,000,000,000,000.00 */
#define SF_ORDER_JSON_MAX 512       /* an encoded order never exceeds this */
/* created_at, in UTC: 1970-01-01T00:00:00.000Z … 9999-12-31T23:59:59.999Z,
 * what the log's text form, SQLite's text and MySQL's DATETIME(3) hold. */
#define SF_TIME_MIN_MS INT64_C(0)
#define SF_TIME_MAX_MS INT64_C(253402300799999)

struct order {
    char order_id[SF_ORDER_ID_MAX + 1];
    int64_t customer_id;
    int source;                 /* index into the catalog's sources */
    int64_t quantity;
    int64_t total_cents;
    int64_t created_ms;         /* event time, ms since the epoch, UTC */
    int client_id;              /* 1: order_id is the client's key */
};

struct json_t;

/* Validate one order given as a parsed JSON value and build it: price it
 * (unit_price or the catalog's), stamp created_at (or now_ms) and the
 * client's order_id (or a fresh UUIDv7). On error, appends one
 * {"loc":[…],"msg":…,"type":…} entry per problem to d, comma-separated and
 * without brackets, counting them in *nerr; loc is ["body", field], or
 * ["body", index, field] when index >= 0. Returns 0 or -1. */
int order_validate(const struct json_t *v, const struct catalog *cat,
                   int64_t now_ms, long index, struct order *out,
                   struct sf_buf *d, int *nerr);

/* Append one detail entry (see order_validate); field may be NULL. */
void order_detail_add(struct sf_buf *d, int *nerr, long index,
                      const char *field, const char *type, const char *msg);

/* Parse `len` bytes as one JSON value the way every endpoint does (strict
 * RFC 8259, UTF-8, duplicate keys rejected). Returns the value (caller
 * json_decref()s it) or NULL with a "json_invalid" entry added to d. */
struct json_t *order_parse_json(const char *text, size_t len, long index,
                                struct sf_buf *d, int *nerr);

/* Validate a POST /orderitem body and build the order (order_parse_json +
 * order_validate). Returns 0, or -1 with `detail` holding a complete
 * FastAPI-shaped error body {"detail":[…]} (loc ["body"] for malformed JSON
 * or a non-object). */
int order_from_body(const char *body, size_t len, const struct catalog *cat,
                    int64_t now_ms, struct order *out, struct sf_buf *detail);
/* The same; with extra_ok, fields an order does not have are ignored, as
 * the original service (pydantic 1.10's default, extra = "ignore") did,
 * instead of refused ("extra_forbidden"). */
int order_from_orderitem(const char *body, size_t len, const struct catalog *cat,
                         int64_t now_ms, int extra_ok, struct order *out,
                         struct sf_buf *detail);

/* The fast path for one order object at text (order_scan.c): when it is in
 * the plain form clients usually send and valid, builds *out exactly as
 * order_parse_json + order_validate would and returns the first byte after
 * the object; otherwise NULL, and the caller takes the general path. */
const char *order_scan(const char *text, size_t len, const struct catalog *cat,
                       int64_t now_ms, struct order *out);
/* The scanner's pieces, shared with order_decode's fast path: a JSON
 * string of printable ASCII without escapes, and an unsigned number (see
 * order_scan.c). Each returns 1 and moves *p past the token, or 0. */
int order_scan_str(const char **p, const char *end, const char **s, size_t *n);
/* The first byte at or after p that is not JSON whitespace (or end). */
const char *order_scan_ws(const char *p, const char *end);
int order_scan_number(const char **p, const char *end, int cents, int max_digits,
                      int64_t *v);
/* order_scan for text that is that one object (and whitespace): 1 or 0. */
int order_scan_whole(const char *text, size_t len, const struct catalog *cat,
                     int64_t now_ms, struct order *out);

/* The one check of an event time, shared by ingest (order_validate,
 * order_scan) and the processor (order_decode): s is RFC 3339 or
 * "%m/%d/%Y, %H:%M:%S" (UTC), and the instant, once converted to UTC, lies
 * in [SF_TIME_MIN_MS, SF_TIME_MAX_MS] — so "1970-01-01T00:00:00+00:01" and
 * "9999-12-31T23:59:60Z" are refused, not wrapped. Returns 0 with *ms, or -1. */
int order_parse_time(const char *s, int64_t *ms);

/* Encode o as its log JSON into out (appends), its source named by cat
 * (NULL: the default sources). Returns 0 or -1 (limit, unknown source). */
int order_encode(const struct order *o, const struct catalog *cat, struct sf_buf *out);

/* Decode a log message. order_id may be absent (foreign producers): then
 * o->order_id is "" and the caller derives one. created_at accepts RFC 3339
 * and "%m/%d/%Y, %H:%M:%S"; total may be omitted (then 0 is returned in
 * *has_total and the caller prices it); the source must be one of cat's
 * (NULL: the default sources). Returns 0, or -1 with errstr. */
int order_decode(const char *json, size_t len, const struct catalog *cat,
                 struct order *o, int *has_total, char *errstr, size_t errstr_size);

/* order_decode without its fast path: always the general JSON parser.
 * For tests and the fuzzer, which check that both paths agree. */
int order_decode_general(const char *json, size_t len, const struct catalog *cat,
                         struct order *o, int *has_total, char *errstr,
                         size_t errstr_size);

/* A 64-bit hash of key (a NUL-terminated string, "" for none), a
 * message's timestamp and its bytes. */
uint64_t order_msg_hash(const char *key, int64_t timestamp_ms, const char *value,
                        size_t len);

/* A deterministic id for a message that carries none: a UUIDv8
 * "hhhhhhhh-pppp-8hhh-[89ab]hhh-oooooooooooo" of where it sits in the log
 * (partition p, offset o) and a 58-bit hash h of the log's key
 * ("TOPIC@IDENTITY"), the message's timestamp and its bytes. A replay, or
 * a re-delivery, produces the same id; another message at the same place —
 * in a topic deleted and re-created under the same name on the same
 * cluster — another one. */
void order_derive_id_msg(const char *key, int partition, int64_t offset,
                         int64_t timestamp_ms, const char *value, size_t len,
                         char out[SF_UUID_STRLEN + 1]);
/* The form before message hashes, "hhhhhhhh-pppp-8000-8000-oooooooooooo"
 * with h the topic key's 32-bit hash: ids stored by an older salesflow,
 * which the processor still recognizes. */
void order_derive_id(const char *topic, int partition, int64_t offset,
                     char out[SF_UUID_STRLEN + 1]);

#endif

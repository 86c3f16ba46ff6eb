/*
 * fuzz_v1_orders — libFuzzer harness for POST /v1/orders bodies: the JSON
 * array / single object parsing and the NDJSON line splitting of
 * src/ingest/v1orders.c, through the real server (fuzz/http_driver.h; no
 * API keys) so rows really go through validation, the idempotency index,
 * the quarantine and the embedded log, and the request is suspended and
 * resumed by the log's acks.
 *
 * Input: byte 0 is a mode (bit 0: Content-Type application/x-ndjson, else
 * application/json; bit 1: send the body chunked, in pieces of 1 + byte 0
 * / 16 bytes; bits 2-3: Content-Encoding — 0 none, 1 the body sent gzip-
 * compressed, 2 zstd-compressed, 3 the body sent as it is but labelled
 * gzip); the rest is the body.
 *
 * A compressed body must get the answer its plain form gets; one labelled
 * gzip that is not gzip gets 400 (or, should the fuzzer have made real
 * gzip, any answer at all, as the harness does not know what it holds).
 *
 * Checks: the answer is 201, 207, 413 or 422 (the log never refuses here)
 * with a JSON body; the rows the server saw are the rows the body has —
 * for NDJSON the lines holding anything but blanks (space, tab, CR), for
 * JSON the array's elements or the one object — so that a body of more
 * than 64 rows gets 413, none gets 422 "too_short", and otherwise
 * "results" lists every row once, in order, with accepted + rejected
 * equal to the row count and each row either an order_id or a detail.
 */
#include "http_driver.h"

#include "core/coding.h"

#include <jansson.h>
#include <zstd.h>

static struct fuzz_srv srv;
static char resp[1 << 20];
static char req[1 << 17];
static char packed[1 << 17];

/* Rows of an NDJSON body, as the API defines them. */
static long ndjson_rows(const char *p, size_t n)
{
    long rows = 0;
    int content = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '\n') {
            rows += content;
            content = 0;
        } else if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            content = 1;
        }
    }
    return rows;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 60000)
        return 0;
    int ndjson = data[0] & 1, chunked = data[0] & 2, coding = (data[0] >> 2) & 3;
    size_t piece = 1 + data[0] / 16;
    const char *plain = (const char *)data + 1, *body = plain;
    size_t plen = size - 1, blen = plen;
    if (coding == 1) {
        struct sf_buf z;
        sf_buf_init(&z, sizeof(packed));
        if (coding_gzip(plain, plen, 1, &z))
            abort();
        memcpy(packed, z.data, z.len);
        blen = z.len;
        sf_buf_free(&z);
        body = packed;
    } else if (coding == 2) {
        blen = ZSTD_compress(packed, sizeof(packed), plain, plen, 1);
        if (ZSTD_isError(blen))
            abort();
        body = packed;
    }
    int h = snprintf(req, sizeof(req), "POST /v1/orders HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                     "Content-Type: %s\r\n%s", ndjson ? "application/x-ndjson"
                                                    : "application/json",
                     coding == 2 ? "Content-Encoding: zstd\r\n" :
                     coding ? "Content-Encoding: gzip\r\n" : "");
    size_t len = (size_t)h;
    if (!chunked) {
        len += (size_t)snprintf(req + len, sizeof(req) - len,
                                "Content-Length: %zu\r\n\r\n", blen);
        memcpy(req + len, body, blen);
        len += blen;
    } else {
        len += (size_t)snprintf(req + len, sizeof(req) - len,
                                "Transfer-Encoding: chunked\r\n\r\n");
        for (size_t at = 0; at < blen; at += piece) {
            size_t k = blen - at < piece ? blen - at : piece;
            if (len + k + 32 > sizeof(req))
                return 0;
            len += (size_t)snprintf(req + len, sizeof(req) - len, "%zx\r\n", k);
            memcpy(req + len, body + at, k);
            len += k;
            memcpy(req + len, "\r\n", 2);
            len += 2;
        }
        memcpy(req + len, "0\r\n\r\n", 5);
        len += 5;
    }

    size_t n = fuzz_exchange(&srv, 0, (const uint8_t *)req, len, resp, sizeof(resp), 0);
    const char *rbody, *ctype;
    size_t rlen;
    int status = fuzz_parse_response(resp, n, &rbody, &rlen, &ctype);
    int gzip_magic = plen >= 2 && (uint8_t)plain[0] == 0x1f && (uint8_t)plain[1] == 0x8b;
    if (coding == 3 && !gzip_magic) {
        if (status != 400) {
            fprintf(stderr, "not gzip, status %d: %.*s\n", status,
                    (int)(n > 2000 ? 2000 : n), resp);
            abort();
        }
        return 0;
    }
    if (coding == 3)
        return 0;               /* what it decodes to is unknown here */
    if (status != 201 && status != 207 && status != 413 && status != 422) {
        fprintf(stderr, "status %d: %.*s\n", status, (int)(n > 2000 ? 2000 : n), resp);
        abort();
    }
    json_error_t jerr;
    json_t *r = rbody ? json_loadb(rbody, rlen, 0, &jerr) : NULL;
    if (!r) {
        fprintf(stderr, "status %d: answer is not JSON: %.*s\n", status,
                (int)(n > 2000 ? 2000 : n), resp);
        abort();
    }

    /* The rows the body holds. */
    long rows = -1;
    if (ndjson) {
        rows = ndjson_rows(plain, plen);
    } else {
        json_t *v = json_loadb(plain, plen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (json_is_array(v))
            rows = (long)json_array_size(v);
        else if (json_is_object(v))
            rows = 1;
        json_decref(v);
    }
    json_t *results = json_object_get(r, "results");
    if (rows > 64 && status != 413)
        abort();
    if (rows == 0 && (status != 422 || results))
        abort();
    if (rows < 0 && (status != 422 || results))
        abort(); /* not an object or array: one request-level 422 */
    if (rows >= 1 && rows <= 64) {
        if (!json_is_array(results) || (long)json_array_size(results) != rows)
            abort();
        json_int_t acc = json_integer_value(json_object_get(r, "accepted"));
        json_int_t rej = json_integer_value(json_object_get(r, "rejected"));
        json_int_t ok = 0;
        size_t i;
        json_t *e;
        json_array_foreach(results, i, e) {
            if (json_integer_value(json_object_get(e, "index")) != (json_int_t)i)
                abort();
            int has_id = json_is_string(json_object_get(e, "order_id"));
            int has_detail = json_is_array(json_object_get(e, "detail"));
            if (has_id == has_detail)
                abort();
            ok += has_id;
        }
        if (acc + rej != rows || acc != ok ||
            status != (acc == rows ? 201 : acc ? 207 : 422))
            abort();
    }
    json_decref(r);
    return 0;
}

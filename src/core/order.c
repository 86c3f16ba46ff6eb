/*
 * order — validation and JSON codec for orders.
 *
 * Validation mirrors what the original FastAPI/pydantic service accepted, so
 * old clients keep working: integers may come as JSON integers, as floats
 * with no fractional part, or as strings of digits (pydantic's lax mode).
 * Every bad field gets its own entry in the 422 "detail" list, with
 * pydantic's error type names, in model field order (customer_id, source,
 * quantity, order_id, created_at, unit_price), then unknown fields in body
 * order ("extra_forbidden", as a pydantic model with extra='forbid').
 *
 * Money: unit_price may be a JSON number or a decimal string; either way it
 * must be >= 0 with at most two decimals. A JSON number arrives as a double;
 * below 2^53 cents, a value with at most two decimals is within rounding
 * noise of an integer number of cents, and one with more is not (12.345 is
 * 1234.4999… cents), so the check is exact where it matters.
 */
#include "core/order.h"
#include "core/money.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_fields[] = {
    "customer_id", "source", "quantity", "order_id", "created_at", "unit_price",
};

/* Room an entry leaves in d for the caller's closing brackets. */
#define DETAIL_CLOSE_ROOM 8

void order_detail_add(struct sf_buf *d, int *n, long index, const char *field,
                      const char *type, const char *msg)
{
    /* All or nothing, and always room to close the list: an entry that
     * does not fit is left out (still counted: the order stays rejected)
     * and so is every later one, so the detail stays JSON (found by
     * fuzz/fuzz_order_json.c). */
    size_t start = d->len, limit = d->limit;
    int rc = 0;
    d->limit = limit > DETAIL_CLOSE_ROOM ? limit - DETAIL_CLOSE_ROOM : 0;
    rc |= sf_buf_append(d, *n ? "," : "", *n ? 1 : 0);
    rc |= SF_BUF_LIT(d, "{\"loc\":[\"body\"");
    if (index >= 0)
        rc |= sf_buf_printf(d, ",%ld", index);
    if (field) {
        rc |= SF_BUF_LIT(d, ",");
        rc |= sf_buf_json_str(d, field);
    }
    rc |= SF_BUF_LIT(d, "],\"msg\":");
    rc |= sf_buf_json_str(d, msg);
    rc |= SF_BUF_LIT(d, ",\"type\":");
    rc |= sf_buf_json_str(d, type);
    rc |= SF_BUF_LIT(d, "}");
    d->limit = limit;
    if (rc) {
        d->len = start;
        if (d->data)
            d->data[start] = '\0';
        if (d->limit > start + DETAIL_CLOSE_ROOM)
            d->limit = start + DETAIL_CLOSE_ROOM;
    }
    (*n)++;
}

/* pydantic-lax integer: returns 0 and *v, or -1 with *type and *msg set. */
static int lax_int(const json_t *v, int64_t *out, const char **type,
                   const char **msg)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d)) {
            *type = "int_from_float";
            *msg = "Input should be a valid integer, got a number with a "
                   "fractional part";
            return -1;
        }
        if (fabs(d) > 9.0e15) {
            *type = "int_parsing_size";
            *msg = "Unable to parse input as an integer, exceeded maximum size";
            return -1;
        }
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && errno == ERANGE) {
            *type = "int_parsing_size";
            *msg = "Unable to parse input string as an integer, exceeded maximum size";
            return -1;
        }
        if (*s && !errno && *end == '\0' && end != s && s[0] != ' ' &&
            json_string_length(v) == strlen(s)) {
            *out = x;
            return 0;
        }
        *type = "int_parsing";
        *msg = "Input should be a valid integer, unable to parse string as an "
               "integer";
        return -1;
    }
    *type = "int_type";
    *msg = "Input should be a valid integer";
    return -1;
}

/* unit_price as cents: returns 0, or -1 with *type and *msg. */
static int unit_price_of(const json_t *v, int64_t *cents, const char **type,
                         const char **msg)
{
    static const char too_big[] =
        "Input should be less than or equal to 1000000000000.00";
    *type = "decimal_max_places";
    *msg = "Decimal input should have no more than 2 decimal places";
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            goto negative;
        if (x > SF_UNIT_PRICE_MAX_CENTS / 100)
            goto big;
        *cents = (int64_t)x * 100;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d < 0)
            goto negative;
        double c = d * 100.0;
        if (c > (double)SF_UNIT_PRICE_MAX_CENTS)
            goto big;
        double r = nearbyint(c);
        if (fabs(c - r) > 1e-6)
            return -1;
        *cents = (int64_t)r;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *dot = strchr(s, '.');
        if (s[0] == '-' && money_parse(s + 1, cents) == 0)
            goto negative;
        if (dot && strspn(dot + 1, "0123456789") == strlen(dot + 1) &&
            strlen(dot + 1) > 2 && dot > s && strspn(s, "0123456789") == (size_t)(dot - s))
            return -1;
        if (json_string_length(v) != strlen(s) || money_parse(s, cents)) {
            *type = "decimal_parsing";
            *msg = "Input should be a valid decimal, e.g. \"300.00\"";
            return -1;
        }
        if (*cents > SF_UNIT_PRICE_MAX_CENTS)
            goto big;
        return 0;
    }
    *type = "decimal_type";
    *msg = "Decimal input should be a number or a string like \"300.00\"";
    return -1;
negative:
    *type = "greater_than_equal";
    *msg = "Input should be greater than or equal to 0";
    return -1;
big:
    *type = "less_than_equal";
    *msg = too_big;
    return -1;
}

/* Replace each byte of s that is not part of a valid UTF-8 sequence with
 * '?': jansson's error text quotes the input near the error and may stop
 * inside a sequence, and the detail must stay JSON (found by
 * fuzz/fuzz_order_json.c). */
static void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : *p >= 0xC2 && *p <= 0xDF ? 1
              : (*p & 0xF0) == 0xE0 ? 2 : *p >= 0xF0 && *p <= 0xF4 ? 3 : -1;
        int ok = n >= 0;
        for (int i = 1; ok && i <= n; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
                   (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90)))
            ok = 0;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

int order_parse_time(const char *s, int64_t *ms)
{
    int64_t t;
    if (sf_parse_time(s, &t) || t < SF_TIME_MIN_MS || t > SF_TIME_MAX_MS)
        return -1;
    *ms = t;
    return 0;
}

json_t *order_parse_json(const char *text, size_t len, long index,
                         struct sf_buf *d, int *nerr)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        char msg[320];
        if (len == 0)
            snprintf(msg, sizeof(msg), "JSON decode error: the body is empty; "
                     "send an order such as {\"customer_id\": 3, \"source\": "
                     "\"Dine In\", \"quantity\": 7}");
        else
            snprintf(msg, sizeof(msg), "JSON decode error: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        utf8_scrub(msg);
        order_detail_add(d, nerr, index, NULL, "json_invalid", msg);
    }
    return root;
}

/* The client's order_id v: a string of 1 to 64 printable ASCII
 * characters, kept in o; else a detail entry. */
static void validate_order_id(const json_t *v, long index, struct order *o,
                              struct sf_buf *d, int *nerr)
{
    const char *id = json_string_value(v);
    size_t len = id ? json_string_length(v) : 0;
    int printable = 1;
    for (size_t i = 0; id && i < len; i++)
        if ((unsigned char)id[i] < 0x20 || (unsigned char)id[i] > 0x7e)
            printable = 0;
    if (!id)
        order_detail_add(d, nerr, index, "order_id", "string_type",
                         "Input should be a valid string");
    else if (len == 0)
        order_detail_add(d, nerr, index, "order_id", "string_too_short",
                         "String should have at least 1 character");
    else if (len > SF_ORDER_ID_MAX)
        order_detail_add(d, nerr, index, "order_id", "string_too_long",
                         "String should have at most 64 characters");
    else if (!printable)
        order_detail_add(d, nerr, index, "order_id", "string_pattern_mismatch",
                         "String should contain only printable ASCII "
                         "characters (0x20-0x7E)");
    else {
        memcpy(o->order_id, id, len + 1);
        o->client_id = 1;
    }
}

/* A detail entry for each field of root an order does not have. */
static void validate_no_extra(const json_t *root, long index, struct sf_buf *d, int *nerr)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        size_t k = 0;
        while (k < SF_ARRAY_LEN(known_fields) && strcmp(key, known_fields[k]) != 0)
            k++;
        if (k < SF_ARRAY_LEN(known_fields))
            continue;
        order_detail_add(d, nerr, index, key, "extra_forbidden",
                         "Extra inputs are not permitted; an order has only "
                         "customer_id, source, quantity, order_id, created_at "
                         "and unit_price");
    }
}
static int validate(const json_t *root, const struct catalog *cat, int64_t now_ms,
                    long index, int extra_ok, struct order *o, struct sf_buf *d,
                    int *nerr);

int order_validate(const json_t *root, const struct catalog *cat, int64_t now_ms,
                   long index, struct order *o, struct sf_buf *d, int *nerr)
{
    return validate(root, cat, now_ms, index, 0, o, d, nerr);
}

/* order_validate; extra_ok: fields it does not know are ignored. */
static int validate(const json_t *root, const struct catalog *cat, int64_t now_ms,
                    long index, int extra_ok, struct order *o, struct sf_buf *d,
                    int *nerr)
{
    int n0 = *nerr;
    char msg[320];
    const char *type, *m;
    int64_t unit = catalog_unit_price(cat);

    memset(o, 0, sizeof(*o));
    if (!json_is_object(root)) {
        order_detail_add(d, nerr, index, NULL, "model_attributes_type",
                         "Input should be a valid dictionary or object to "
                         "extract fields from");
        return -1;
    }

    json_t *v = json_object_get(root, "customer_id");
    if (!v) {
        order_detail_add(d, nerr, index, "customer_id", "missing", "Field required");
    } else if (lax_int(v, &o->customer_id, &type, &m)) {
        order_detail_add(d, nerr, index, "customer_id", type, m);
    } else if (!catalog_state(cat, o->customer_id)) {
        snprintf(msg, sizeof(msg),
                 "Value error, unknown customer_id %" PRId64 ": not among the "
                 "%zu customers in %s", o->customer_id,
                 catalog_customer_count(cat), catalog_path(cat));
        order_detail_add(d, nerr, index, "customer_id", "value_error", msg);
    }

    v = json_object_get(root, "source");
    if (!v) {
        order_detail_add(d, nerr, index, "source", "missing", "Field required");
    } else if (!json_is_string(v)) {
        order_detail_add(d, nerr, index, "source", "string_type",
                         "Input should be a valid string");
    } else if (json_string_length(v) != strlen(json_string_value(v)) ||
               (o->source = catalog_source_index(cat, json_string_value(v))) < 0) {
        snprintf(msg, sizeof(msg), "Input should be %s", catalog_sources_text(cat));
        order_detail_add(d, nerr, index, "source", "literal_error", msg);
    }

    v = json_object_get(root, "quantity");
    if (!v) {
        order_detail_add(d, nerr, index, "quantity", "missing", "Field required");
    } else if (lax_int(v, &o->quantity, &type, &m)) {
        order_detail_add(d, nerr, index, "quantity", type, m);
    } else if (o->quantity < SF_QUANTITY_MIN) {
        order_detail_add(d, nerr, index, "quantity", "greater_than_equal",
                         "Input should be greater than or equal to 1");
    } else if (o->quantity > SF_QUANTITY_MAX) {
        order_detail_add(d, nerr, index, "quantity", "less_than_equal",
                         "Input should be less than or equal to 1000000");
    }

    v = json_object_get(root, "order_id");
    if (v)
        validate_order_id(v, index, o, d, nerr);

    o->created_ms = now_ms;
    v = json_object_get(root, "created_at");
    if (v) {
        if (!json_is_string(v))
            order_detail_add(d, nerr, index, "created_at", "datetime_type",
                             "Input should be a valid datetime: a string in RFC 3339 "
                             "or \"%m/%d/%Y, %H:%M:%S\"");
        else if (json_string_length(v) != strlen(json_string_value(v)) ||
                 order_parse_time(json_string_value(v), &o->created_ms))
            order_detail_add(d, nerr, index, "created_at", "datetime_parsing",
                             json_is_string(v) &&
                                     sf_time_bad_second_60(json_string_value(v))
                                 ? "Input should be a valid datetime: "
                                   SF_LEAP_SECOND_TEXT
                                 : "Input should be a valid datetime: RFC 3339 such as "
                                   "\"2026-11-29T03:40:00Z\" or \"11/29/2026, 03:40:00\" "
                                   "(UTC); in UTC from 1970-01-01T00:00:00Z to "
                                   "9999-12-31T23:59:59.999Z");
    }

    v = json_object_get(root, "unit_price");
    if (v && unit_price_of(v, &unit, &type, &m))
        order_detail_add(d, nerr, index, "unit_price", type, m);

    if (!extra_ok)
        validate_no_extra(root, index, d, nerr);

    if (*nerr == n0 && money_mul(o->quantity, unit, &o->total_cents))
        order_detail_add(d, nerr, index, "quantity", "value_error",
                         "Value error, quantity × unit price is too large");
    if (*nerr != n0)
        return -1;
    if (!o->client_id)
        uuid_v7(now_ms, o->order_id);
    return 0;
}

int order_from_body(const char *body, size_t len, const struct catalog *cat,
                    int64_t now_ms, struct order *o, struct sf_buf *d)
{
    return order_from_orderitem(body, len, cat, now_ms, 0, o, d);
}

int order_from_orderitem(const char *body, size_t len, const struct catalog *cat,
                         int64_t now_ms, int extra_ok, struct order *o, struct sf_buf *d)
{
    int n = 0;
    if (order_scan_whole(body, len, cat, now_ms, o))
        return 0;
    memset(o, 0, sizeof(*o));
    SF_BUF_LIT(d, "{\"detail\":[");
    json_t *root = order_parse_json(body, len, -1, d, &n);
    if (root)
        validate(root, cat, now_ms, -1, extra_ok, o, d, &n);
    json_decref(root);
    SF_BUF_LIT(d, "]}");
    if (n)
        return -1;
    d->len = 0;
    if (d->data)
        d->data[0] = '\0';
    return 0;
}

/* Append the decimal digits of v. */
static int put_i64(struct sf_buf *b, int64_t v)
{
    if (v < 0 && SF_BUF_LIT(b, "-"))
        return -1;
    return sf_buf_put_u64(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* Append cents as "2100.00" (no printf: this runs once per order). */
static int put_money(struct sf_buf *b, int64_t cents)
{
    char tmp[32], *p = tmp + sizeof(tmp);
    uint64_t u = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    *--p = (char)('0' + u % 10);
    *--p = (char)('0' + u / 10 % 10);
    *--p = '.';
    u /= 100;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (cents < 0)
        *--p = '-';
    return sf_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Append ms as RFC 3339 UTC with milliseconds; the text up to the second is
 * cached per thread, as consecutive orders mostly share it. */
static int put_time(struct sf_buf *b, int64_t ms)
{
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[32];
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - sec * 1000);
    if (sec != cached_sec) {
        sf_format_time(sec * 1000, cached);
        cached_sec = sec;
    }
    char t[24];
    memcpy(t, cached, 20); /* "2026-11-29T03:40:00." */
    t[20] = (char)('0' + frac / 100);
    t[21] = (char)('0' + frac / 10 % 10);
    t[22] = (char)('0' + frac % 10);
    t[23] = 'Z';
    return sf_buf_append(b, t, 24);
}

int order_encode(const struct order *o, const struct catalog *cat, struct sf_buf *out)
{
    const char *source = catalog_source(cat, o->source);
    int rc = 0;
    if (!source)
        return -1;
    size_t start = out->len;
    if (o->client_id) {
        rc |= SF_BUF_LIT(out, "{\"order_id\":");
        rc |= sf_buf_json_str(out, o->order_id);
        rc |= SF_BUF_LIT(out, ",\"customer_id\":");
    } else {
        rc |= SF_BUF_LIT(out, "{\"customer_id\":");
    }
    rc |= put_i64(out, o->customer_id);
    rc |= SF_BUF_LIT(out, ",\"source\":");
    rc |= sf_buf_json_str(out, source);
    rc |= SF_BUF_LIT(out, ",\"quantity\":");
    rc |= put_i64(out, o->quantity);
    rc |= SF_BUF_LIT(out, ",\"total\":");
    rc |= put_money(out, o->total_cents);
    rc |= SF_BUF_LIT(out, ",\"created_at\":\"");
    rc |= put_time(out, o->created_ms);
    if (o->client_id) {
        rc |= SF_BUF_LIT(out, "\"}");
    } else {
        rc |= SF_BUF_LIT(out, "\",\"order_id\":");
        rc |= sf_buf_json_str(out, o->order_id);
        rc |= SF_BUF_LIT(out, "}");
    }
    if (rc || out->len - start > SF_ORDER_JSON_MAX)
        return -1;
    return 0;
}

/*
 * The fast path of order_decode: a strict scanner for the flat objects our
 * own encoder writes (no whitespace, known keys once each, strings of
 * printable ASCII without escapes, plain integers, totals with at most two
 * decimals). It returns 1 with the same result the general path would give,
 * or 0 for anything else — including every error — and the general path
 * (jansson) then decides. fuzz/fuzz_order_decode.c checks the two agree.
 */
enum { K_CUST, K_SOURCE, K_QTY, K_TOTAL, K_CREATED, K_ID, K_COUNT };

static int decode_fast(const char *json, size_t len, const struct catalog *cat,
                       struct order *o, int *has_total)
{
    static const char *const keys[K_COUNT] = {"customer_id", "source", "quantity",
                                              "total", "created_at", "order_id"};
    const char *p = json, *end = json + len;
    int seen[K_COUNT] = {0};
    if (p >= end || *p++ != '{')
        return 0;
    for (;;) {
        const char *k, *sv = NULL;
        size_t kn, svn = 0;
        int key = -1;
        int64_t num = 0;
        if (!order_scan_str(&p, end, &k, &kn) || p >= end || *p++ != ':')
            return 0;
        for (int i = 0; i < K_COUNT; i++)
            if (strlen(keys[i]) == kn && !memcmp(keys[i], k, kn))
                key = i;
        if (key < 0 || seen[key]++)
            return 0;
        if (key == K_CUST || key == K_QTY || key == K_TOTAL) {
            if (!order_scan_number(&p, end, key == K_TOTAL, 16, &num) ||
                (key == K_TOTAL && num > SF_MONEY_MAX_CENTS))
                return 0;
        } else if (!order_scan_str(&p, end, &sv, &svn)) {
            return 0;
        }
        switch (key) {
        case K_CUST: o->customer_id = num; break;
        case K_QTY: o->quantity = num; break;
        case K_TOTAL: o->total_cents = num; break;
        case K_SOURCE: {
            char src[32];
            if (svn >= sizeof(src))
                return 0;
            memcpy(src, sv, svn);
            src[svn] = '\0';
            if ((o->source = catalog_source_index(cat, src)) < 0)
                return 0;
            break;
        }
        case K_CREATED: {
            char ts[64];
            if (svn >= sizeof(ts))
                return 0;
            memcpy(ts, sv, svn);
            ts[svn] = '\0';
            if (order_parse_time(ts, &o->created_ms))
                return 0;
            break;
        }
        case K_ID:
            if (svn == 0 || svn > SF_ORDER_ID_MAX)
                return 0;
            memcpy(o->order_id, sv, svn);
            o->order_id[svn] = '\0';
            break;
        }
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}' && p + 1 == end)
            break;
        return 0;
    }
    if (!seen[K_CUST] || !seen[K_SOURCE] || !seen[K_QTY] || !seen[K_CREATED])
        return 0;
    *has_total = seen[K_TOTAL];
    return 1;
}

int order_decode(const char *json, size_t len, const struct catalog *cat,
                 struct order *o, int *has_total, char *errstr, size_t errstr_size)
{
    memset(o, 0, sizeof(*o));
    *has_total = 0;
    if (decode_fast(json, len, cat, o, has_total))
        return 0;
    return order_decode_general(json, len, cat, o, has_total, errstr, errstr_size);
}

int order_decode_general(const char *json, size_t len, const struct catalog *cat,
                         struct order *o, int *has_total, char *errstr,
                         size_t errstr_size)
{
    json_error_t jerr;
    json_t *root;
    int rc = -1;
    json_t *v;

    memset(o, 0, sizeof(*o));
    *has_total = 0;
    root = json_loadb(json, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        sf_err(-1, errstr, errstr_size, "not a JSON object: %s",
               root ? "wrong type" : jerr.text);
        goto out;
    }
    v = json_object_get(root, "customer_id");
    if (!json_is_integer(v)) {
        sf_err(-1, errstr, errstr_size, "customer_id missing or not an integer");
        goto out;
    }
    o->customer_id = json_integer_value(v);
    v = json_object_get(root, "source");
    if (!json_is_string(v) ||
        (o->source = catalog_source_index(cat, json_string_value(v))) < 0) {
        sf_err(-1, errstr, errstr_size, "source missing or unknown");
        goto out;
    }
    v = json_object_get(root, "quantity");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        sf_err(-1, errstr, errstr_size, "quantity missing or not a non-negative integer");
        goto out;
    }
    o->quantity = json_integer_value(v);
    v = json_object_get(root, "total");
    if (json_is_integer(v)) {
        if (money_mul(json_integer_value(v), 100, &o->total_cents)) {
            sf_err(-1, errstr, errstr_size, "total out of range");
            goto out;
        }
        *has_total = 1;
    } else if (json_is_real(v)) {
        /* jansson hands out a double. An amount with at most two decimals
         * maps back to its exact cents by rounding while the cents stay
         * below 2^50 (the rounding error of x * 100 stays under half a
         * cent); larger decimal totals only decode exactly on the fast
         * path, from our own compact encoding. */
        double t = json_real_value(v) * 100.0;
        if (!(t >= 0 && t < 1125899906842624.0)) {
            sf_err(-1, errstr, errstr_size, "total %.2f cannot be decoded exactly "
                   "(a decimal total must be below 11258999068426.24 here)",
                   json_real_value(v));
            goto out;
        }
        o->total_cents = llround(t);
        *has_total = 1;
    } else if (v) {
        sf_err(-1, errstr, errstr_size, "total is not a number");
        goto out;
    }
    v = json_object_get(root, "created_at");
    if (!json_is_string(v) || order_parse_time(json_string_value(v), &o->created_ms)) {
        sf_err(-1, errstr, errstr_size, "created_at missing, not a timestamp, or "
               "outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59.999Z in UTC");
        goto out;
    }
    v = json_object_get(root, "order_id");
    if (v) {
        const char *id = json_string_value(v);
        if (!id || !*id || strlen(id) > SF_ORDER_ID_MAX) {
            sf_err(-1, errstr, errstr_size, "order_id must be a string of 1..64 characters");
            goto out;
        }
        snprintf(o->order_id, sizeof(o->order_id), "%s", id);
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void order_derive_id(const char *topic, int partition, int64_t offset,
                     char out[SF_UUID_STRLEN + 1])
{
    uint32_t h = 2166136261u; /* FNV-1a of the topic name */
    for (const unsigned char *p = (const unsigned char *)topic; *p; p++)
        h = (h ^ *p) * 16777619u;
    /* UUIDv8 layout: topic hash, partition, version 8, variant, offset. */
    snprintf(out, SF_UUID_STRLEN + 1, "%08x-%04x-8000-8000-%012" PRIx64, h,
             (unsigned)partition & 0xFFFF, (uint64_t)offset & UINT64_C(0xFFFFFFFFFFFF));
}

/* FNV-1a, 64 bits, continued from h over n bytes. */
static uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

uint64_t order_msg_hash(const char *key, int64_t timestamp_ms, const char *value,
                        size_t len)
{
    unsigned char ts[8];
    for (int i = 0; i < 8; i++)
        ts[i] = (unsigned char)((uint64_t)timestamp_ms >> (8 * i));
    uint64_t h = fnv64(UINT64_C(0xcbf29ce484222325), key, strlen(key) + 1);
    h = fnv64(fnv64(h, ts, sizeof(ts)), value, len);
    /* A finalizer (splitmix64's), so that every bit of h depends on all. */
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h;
}

void order_derive_id_msg(const char *key, int partition, int64_t offset,
                         int64_t timestamp_ms, const char *value, size_t len,
                         char out[SF_UUID_STRLEN + 1])
{
    uint64_t h = order_msg_hash(key, timestamp_ms, value, len);
    snprintf(out, SF_UUID_STRLEN + 1, "%08x-%04x-8%03x-%04x-%012" PRIx64,
             (unsigned)(h >> 32), (unsigned)partition & 0xFFFF,
             (unsigned)(h >> 20) & 0xFFF, 0x8000u | ((unsigned)h & 0x3FFF),
             (uint64_t)offset & UINT64_C(0xFFFFFFFFFFFF));
}

/*
 * order_scan — the ingest side's fast path: one pass over an order object
 * as clients usually send it, building the same struct order that
 * order_parse_json + order_validate build, without a JSON tree.
 *
 * It takes only the plain case: JSON whitespace anywhere between tokens;
 * keys among the six an order has, each at most once; customer_id and
 * quantity as unsigned integers without leading zeros (at most 15 digits);
 * source, order_id and created_at as strings of printable ASCII without
 * escapes; unit_price as an unsigned number with at most two decimals and
 * at most 7 integer digits (so that the general path's double carries it
 * exactly), no exponent. The values must then be valid
 * (known customer and source, quantity in range, parsable created_at,
 * order_id of 1-64 characters, a total that fits). Anything else —
 * including every error — returns 0 and the general path (jansson) decides
 * and words the error. fuzz/fuzz_order_json.c checks that whenever this
 * path accepts, the general path accepts with the same order.
 */
#include "core/money.h"
#include "core/order.h"

#include <string.h>

enum { F_CUST, F_SOURCE, F_QTY, F_ID, F_CREATED, F_PRICE, F_COUNT };

const char *order_scan_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string of printable ASCII without escapes; *p moves past it. */
int order_scan_str(const char **p, const char *end, const char **s, size_t *n)
{
    const char *q = *p;
    if (q >= end || *q != '"')
        return 0;
    const char *start = ++q;
    while (q < end && *q != '"') {
        if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
            return 0;
        q++;
    }
    if (q >= end)
        return 0;
    *s = start;
    *n = (size_t)(q - start);
    *p = q + 1;
    return 1;
}

/* An unsigned number: at most max_digits digits (no leading zero), and with
 * cents a fraction of one or two digits, no exponent; the value in units, or
 * in cents with cents set. */
int order_scan_number(const char **p, const char *end, int cents, int max_digits,
                      int64_t *v)
{
    const char *q = *p;
    int64_t x = 0;
    int nd = 0;
    if (q + 1 < end && q[0] == '0' && q[1] >= '0' && q[1] <= '9')
        return 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (++nd > max_digits)
            return 0;
        x = x * 10 + (*q - '0');
    }
    if (nd == 0)
        return 0;
    if (q < end && *q == '.') {
        if (!cents)
            return 0;
        int f = 0, fv = 0;
        for (q++; q < end && *q >= '0' && *q <= '9'; q++) {
            if (++f > 2)
                return 0;
            fv = fv * 10 + (*q - '0');
        }
        if (f == 0)
            return 0;
        x = x * 100 + (f == 1 ? fv * 10 : fv);
    } else if (cents) {
        x *= 100;
    }
    if (q < end && (*q == 'e' || *q == 'E'))
        return 0;
    *v = x;
    *p = q;
    return 1;
}

static int copy_z(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return 0;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

const char *order_scan(const char *text, size_t len, const struct catalog *cat,
                       int64_t now_ms, struct order *o)
{
    static const char *const keys[F_COUNT] = {"customer_id", "source", "quantity",
                                              "order_id", "created_at", "unit_price"};
    static const size_t key_len[F_COUNT] = {11, 6, 8, 8, 10, 10};
    const char *p = text, *end = text + len;
    int seen[F_COUNT] = {0};
    int64_t unit = catalog_unit_price(cat);

    memset(o, 0, sizeof(*o));
    o->created_ms = now_ms;
    p = order_scan_ws(p, end);
    if (p >= end || *p++ != '{')
        return NULL;
    p = order_scan_ws(p, end);
    for (;;) {
        const char *k, *s = NULL;
        size_t kn, sn = 0;
        int key = -1;
        int64_t num = 0;
        if (!order_scan_str(&p, end, &k, &kn))
            return NULL;
        for (int i = 0; i < F_COUNT && key < 0; i++)
            if (key_len[i] == kn && !memcmp(keys[i], k, kn))
                key = i;
        if (key < 0 || seen[key]++)
            return NULL;
        p = order_scan_ws(p, end);
        if (p >= end || *p++ != ':')
            return NULL;
        p = order_scan_ws(p, end);
        if (key == F_CUST || key == F_QTY || key == F_PRICE) {
            if (!order_scan_number(&p, end, key == F_PRICE, key == F_PRICE ? 7 : 15, &num))
                return NULL;
        } else if (!order_scan_str(&p, end, &s, &sn)) {
            return NULL;
        }
        char tmp[64];
        switch (key) {
        case F_CUST:
            if (!catalog_state(cat, num))
                return NULL;
            o->customer_id = num;
            break;
        case F_QTY:
            if (num < SF_QUANTITY_MIN || num > SF_QUANTITY_MAX)
                return NULL;
            o->quantity = num;
            break;
        case F_PRICE:
            unit = num;
            break;
        case F_SOURCE:
            if (!copy_z(tmp, sizeof(tmp), s, sn) ||
                (o->source = catalog_source_index(cat, tmp)) < 0)
                return NULL;
            break;
        case F_CREATED:
            if (!copy_z(tmp, sizeof(tmp), s, sn) || order_parse_time(tmp, &o->created_ms))
                return NULL;
            break;
        case F_ID:
            if (sn == 0 || !copy_z(o->order_id, sizeof(o->order_id), s, sn))
                return NULL;
            o->client_id = 1;
            break;
        }
        p = order_scan_ws(p, end);
        if (p < end && *p == ',') {
            p = order_scan_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            break;
        return NULL;
    }
    if (!seen[F_CUST] || !seen[F_SOURCE] || !seen[F_QTY] ||
        money_mul(o->quantity, unit, &o->total_cents))
        return NULL;
    if (!o->client_id)
        uuid_v7(now_ms, o->order_id);
    return p + 1;
}

int order_scan_whole(const char *text, size_t len, const struct catalog *cat,
                     int64_t now_ms, struct order *o)
{
    if (!text)
        return 0;
    const char *rest = order_scan(text, len, cat, now_ms, o);
    return rest && order_scan_ws(rest, text + len) == text + len;
}

/*
 * order — validation and JSON codec for orders.
 *
 * Validation mirrors what the original FastAPI/pydantic service accepted, so
 * old clients keep working: integers may come as JSON integers, as floats
 * with no fractional part, or as strings of digits (pydantic's lax mode);
 * extra fields are ignored. Every bad field gets its own entry in the 422
 * "detail" list, with pydantic's error type names.
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

/* Append one {"loc":["body",field],"msg":…,"type":…} item. */
static void detail_add(struct sf_buf *d, int *n, const char *field,
                       const char *type, const char *msg)
{
    sf_buf_append(d, *n ? "," : "", *n ? 1 : 0);
    sf_buf_append(d, "{\"loc\":[\"body\"", 14);
    if (field) {
        sf_buf_append(d, ",", 1);
        sf_buf_json_str(d, field);
    }
    sf_buf_append(d, "],\"msg\":", 8);
    sf_buf_json_str(d, msg);
    sf_buf_append(d, ",\"type\":", 8);
    sf_buf_json_str(d, type);
    sf_buf_append(d, "}", 1);
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
        if (d != floor(d) || fabs(d) > 9.0e15) {
            *type = "int_from_float";
            *msg = "Input should be a valid integer, got a number with a "
                   "fractional part";
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
        if (*s && !errno && *end == '\0' && end != s && s[0] != ' ') {
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

int order_from_body(const char *body, size_t len, const struct catalog *cat,
                    int64_t now_ms, struct order *o, struct sf_buf *d)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int n = 0;
    char msg[256];
    const char *type, *m;

    memset(o, 0, sizeof(*o));
    sf_buf_append(d, "{\"detail\":[", 11);
    if (!root) {
        snprintf(msg, sizeof(msg), "JSON decode error: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        detail_add(d, &n, NULL, "json_invalid", msg);
        goto done;
    }
    if (!json_is_object(root)) {
        detail_add(d, &n, NULL, "model_attributes_type",
                   "Input should be a valid dictionary or object to extract "
                   "fields from");
        goto done;
    }

    json_t *v = json_object_get(root, "customer_id");
    if (!v) {
        detail_add(d, &n, "customer_id", "missing", "Field required");
    } else if (lax_int(v, &o->customer_id, &type, &m)) {
        detail_add(d, &n, "customer_id", type, m);
    } else if (!catalog_state(cat, o->customer_id)) {
        snprintf(msg, sizeof(msg),
                 "Value error, unknown customer_id %" PRId64 ": not among the "
                 "%zu customers in %s", o->customer_id,
                 catalog_customer_count(cat), catalog_path(cat));
        detail_add(d, &n, "customer_id", "value_error", msg);
    }

    v = json_object_get(root, "source");
    if (!v) {
        detail_add(d, &n, "source", "missing", "Field required");
    } else if (!json_is_string(v)) {
        detail_add(d, &n, "source", "string_type", "Input should be a valid string");
    } else if ((o->source = catalog_source_index(json_string_value(v))) < 0) {
        detail_add(d, &n, "source", "literal_error",
                   "Input should be 'Dine In', 'Takeaway' or 'Home Delivery'");
    }

    v = json_object_get(root, "quantity");
    if (!v) {
        detail_add(d, &n, "quantity", "missing", "Field required");
    } else if (lax_int(v, &o->quantity, &type, &m)) {
        detail_add(d, &n, "quantity", type, m);
    } else if (o->quantity < SF_QUANTITY_MIN) {
        detail_add(d, &n, "quantity", "greater_than_equal",
                   "Input should be greater than or equal to 1");
    } else if (o->quantity > SF_QUANTITY_MAX) {
        detail_add(d, &n, "quantity", "less_than_equal",
                   "Input should be less than or equal to 1000000");
    }

    if (n == 0 && money_mul(o->quantity, catalog_unit_price(cat), &o->total_cents))
        detail_add(d, &n, "quantity", "value_error",
                   "Value error, quantity × unit price is too large");

done:
    json_decref(root);
    sf_buf_append(d, "]}", 2);
    if (n)
        return -1;
    d->len = 0;
    if (d->data)
        d->data[0] = '\0';
    o->created_ms = now_ms;
    uuid_v7(now_ms, o->order_id);
    return 0;
}

int order_encode(const struct order *o, struct sf_buf *out)
{
    char total[24], ts[32];
    return sf_buf_printf(out,
        "{\"customer_id\":%" PRId64 ",\"source\":\"%s\",\"quantity\":%" PRId64
        ",\"total\":%s,\"created_at\":\"%s\",\"order_id\":\"%s\"}",
        o->customer_id, sf_sources[o->source], o->quantity,
        money_format(o->total_cents, total), sf_format_time(o->created_ms, ts),
        o->order_id);
}

int order_decode(const char *json, size_t len, struct order *o, int *has_total,
                 char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    int rc = -1;
    json_t *v;

    memset(o, 0, sizeof(*o));
    *has_total = 0;
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
    if (!json_is_string(v) || (o->source = catalog_source_index(json_string_value(v))) < 0) {
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
        /* jansson hands out a double; an amount with at most two decimals
         * below 2^53/100 maps back to its exact cents by rounding. */
        double t = json_real_value(v) * 100.0;
        if (!(t >= 0 && t < 9.0e15)) {
            sf_err(-1, errstr, errstr_size, "total out of range");
            goto out;
        }
        o->total_cents = llround(t);
        *has_total = 1;
    } else if (v) {
        sf_err(-1, errstr, errstr_size, "total is not a number");
        goto out;
    }
    v = json_object_get(root, "created_at");
    if (!json_is_string(v) || sf_parse_time(json_string_value(v), &o->created_ms)) {
        sf_err(-1, errstr, errstr_size, "created_at missing or not a timestamp");
        goto out;
    }
    v = json_object_get(root, "order_id");
    if (v) {
        const char *id = json_string_value(v);
        if (!id || !*id || strlen(id) > SF_UUID_STRLEN) {
            sf_err(-1, errstr, errstr_size, "order_id must be a string of 1..36 characters");
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

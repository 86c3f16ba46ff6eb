/*
 * test_order — src/core/order: order_from_body's validation of a
 * POST /orderitem body (one case per rule, checking the status and every
 * entry of the FastAPI-shaped 422 detail: loc and type, in field order,
 * unknown fields last), pricing and stamping of a valid order including the
 * optional order_id / created_at / unit_price, the log codec (order_encode /
 * order_decode, including the original producer's messages) and
 * order_derive_id. Uses the built-in 17 customers at 300.00 a unit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "core/order.h"

#define PRICE 30000
#define NOW INT64_C(1795923600123) /* 2026-11-29T03:40:00.123Z */

static struct catalog *cat;

static int setup(void **state)
{
    char err[256];
    (void)state;
    cat = catalog_load(NULL, PRICE, err, sizeof(err));
    return cat ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    catalog_destroy(cat);
    return 0;
}

/* One expected detail entry: loc ["body", field] (field NULL: ["body"]). */
struct want {
    const char *field;
    const char *type;
};

/* A JSON string's text, or a marker that fails every comparison. */
static const char *jstr(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "(not a JSON string)";
}

/* Check that detail is {"detail":[…]} with exactly the wanted entries. */
static void check_detail(const char *body, const struct sf_buf *d,
                         const struct want *w, size_t n)
{
    json_error_t jerr;
    json_t *root = json_loadb(d->data, d->len, 0, &jerr);
    if (!root)
        fail_msg("detail for %s is not JSON (%s): %.*s", body, jerr.text,
                 (int)d->len, d->data);
    json_t *list = json_object_get(root, "detail");
    assert_true(json_is_array(list));
    if (json_array_size(list) != n)
        fail_msg("body %s: want %zu entries, got %s", body, n, d->data);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        json_t *loc = json_object_get(e, "loc");
        const char *msg = json_string_value(json_object_get(e, "msg"));
        const char *type = jstr(json_object_get(e, "type"));
        size_t want_loc = w[i].field ? 2 : 1;
        if (!json_is_array(loc) || json_array_size(loc) != want_loc)
            fail_msg("body %s: entry %zu has a bad loc: %s", body, i, d->data);
        assert_string_equal(jstr(json_array_get(loc, 0)), "body");
        if (w[i].field)
            assert_string_equal(jstr(json_array_get(loc, 1)), w[i].field);
        if (strcmp(type, w[i].type) != 0)
            fail_msg("body %s: entry %zu type %s, want %s", body, i, type, w[i].type);
        assert_true(msg && *msg);
    }
    json_decref(root);
}

static void expect_invalid_n(const char *body, size_t len, const struct want *w,
                             size_t n)
{
    struct sf_buf d;
    struct order o;
    sf_buf_init(&d, 64 * 1024);
    assert_int_equal(order_from_body(body, len, cat, NOW, &o, &d), -1);
    check_detail(body, &d, w, n);
    sf_buf_free(&d);
}

/* EXPECT_INVALID(body, {"field", "type"}, …): rejected with these entries. */
#define EXPECT_INVALID(body, ...)                                            \
    expect_invalid_n(body, strlen(body), (const struct want[]){__VA_ARGS__}, \
                     sizeof((const struct want[]){__VA_ARGS__}) / sizeof(struct want))

/* A test function checking that body is rejected with the given entries. */
#define REJECTS(name, body, ...)    \
    static void name(void **state) \
    {                               \
        (void)state;                \
        EXPECT_INVALID(body, __VA_ARGS__); \
    }

/* Accept body and return the order; the detail buffer stays empty. */
static struct order expect_valid(const char *body)
{
    struct sf_buf d;
    struct order o;
    sf_buf_init(&d, 64 * 1024);
    if (order_from_body(body, strlen(body), cat, NOW, &o, &d) != 0)
        fail_msg("body %s rejected: %s", body, d.data);
    assert_int_equal(d.len, 0);
    sf_buf_free(&d);
    return o;
}

/* ---- order_from_body: rejections, one rule each ---------------------- */

/* A body from its three field values, given as JSON text. */
#define BODY(cust, src, qty) \
    "{\"customer_id\":" cust ",\"source\":" src ",\"quantity\":" qty "}"
#define DINE "\"Dine In\""

REJECTS(missing_customer_id, "{\"source\":\"Dine In\",\"quantity\":7}",
        {"customer_id", "missing"})
REJECTS(missing_source, "{\"customer_id\":3,\"quantity\":7}", {"source", "missing"})
REJECTS(missing_quantity, "{\"customer_id\":3,\"source\":\"Dine In\"}",
        {"quantity", "missing"})
REJECTS(customer_id_non_numeric_string, BODY("\"three\"", DINE, "7"),
        {"customer_id", "int_parsing"})
REJECTS(customer_id_float_with_fraction, BODY("3.5", DINE, "7"),
        {"customer_id", "int_from_float"})
REJECTS(customer_id_bool, BODY("true", DINE, "7"), {"customer_id", "int_type"})
REJECTS(customer_id_null, BODY("null", DINE, "7"), {"customer_id", "int_type"})
REJECTS(customer_id_array, BODY("[3]", DINE, "7"), {"customer_id", "int_type"})
REJECTS(customer_id_unknown, BODY("99", DINE, "7"), {"customer_id", "value_error"})
REJECTS(customer_id_zero_unknown, BODY("0", DINE, "7"), {"customer_id", "value_error"})
REJECTS(source_wrong_literal, BODY("3", "\"Dine in\"", "7"), {"source", "literal_error"})
REJECTS(source_not_a_string, BODY("3", "1", "7"), {"source", "string_type"})
REJECTS(quantity_zero, BODY("3", DINE, "0"), {"quantity", "greater_than_equal"})
REJECTS(quantity_negative, BODY("3", DINE, "-5"), {"quantity", "greater_than_equal"})
REJECTS(quantity_above_max, BODY("3", DINE, "1000001"), {"quantity", "less_than_equal"})

/* Keys in reverse order in the body; entries still in model order. */
REJECTS(several_bad_fields_in_field_order,
        "{\"quantity\":0,\"source\":\"Pickup\",\"customer_id\":\"x\"}",
        {"customer_id", "int_parsing"}, {"source", "literal_error"},
        {"quantity", "greater_than_equal"})
REJECTS(empty_object_misses_every_field, "{}", {"customer_id", "missing"},
        {"source", "missing"}, {"quantity", "missing"})
REJECTS(malformed_json, "{\"customer_id\":3,", {NULL, "json_invalid"})
REJECTS(unquoted_keys, "{customer_id:3,source:\"Dine In\",quantity:7}",
        {NULL, "json_invalid"})

static void empty_body(void **state)
{
    (void)state;
    /* FastAPI itself answers an empty body with type "missing"; here we only
     * pin down the part both agree on: one entry at loc ["body"]. */
    struct sf_buf d;
    struct order o;
    json_error_t jerr;
    sf_buf_init(&d, 4096);
    assert_int_equal(order_from_body("", 0, cat, NOW, &o, &d), -1);
    json_t *root = json_loadb(d.data, d.len, 0, &jerr);
    assert_non_null(root);
    json_t *list = json_object_get(root, "detail");
    assert_int_equal(json_array_size(list), 1);
    json_t *loc = json_object_get(json_array_get(list, 0), "loc");
    assert_int_equal(json_array_size(loc), 1);
    assert_string_equal(jstr(json_array_get(loc, 0)), "body");
    json_decref(root);
    sf_buf_free(&d);
}

REJECTS(body_is_array, "[" BODY("3", DINE, "7") "]", {NULL, "model_attributes_type"})
REJECTS(body_is_string, "\"customer_id\"", {NULL, "model_attributes_type"})
REJECTS(body_is_number, "42", {NULL, "model_attributes_type"})
REJECTS(duplicate_keys_rejected,
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"quantity\":8}",
        {NULL, "json_invalid"})

/* ---- order_from_body: acceptance and what the order holds ----------- */

static void customer_id_digit_string_accepted(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY("\"3\"", DINE, "7"));
    assert_int_equal(o.customer_id, 3);
}

static void customer_id_whole_float_accepted(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY("3.0", DINE, "7"));
    assert_int_equal(o.customer_id, 3);
}

static void quantity_bounds_accepted(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY("17", "\"Takeaway\"", "1"));
    assert_int_equal(o.quantity, 1);
    assert_int_equal(o.total_cents, PRICE);
    o = expect_valid(BODY("1", "\"Home Delivery\"", "1000000"));
    assert_int_equal(o.quantity, 1000000);
    assert_int_equal(o.total_cents, INT64_C(30000000000));
}

/* A typo: the model's entry first, then each unknown key in body order. */
REJECTS(unknown_fields_rejected_after_model_fields,
        "{\"quantiy\":7,\"customer_id\":3,\"source\":\"Dine In\",\"total\":1}",
        {"quantity", "missing"}, {"quantiy", "extra_forbidden"},
        {"total", "extra_forbidden"})
REJECTS(optional_fields_in_model_order,
        "{\"unit_price\":-1,\"created_at\":\"now\",\"order_id\":\"\",\"quantity\":0,"
        "\"source\":\"x\",\"customer_id\":99,\"zz\":0}",
        {"customer_id", "value_error"}, {"source", "literal_error"},
        {"quantity", "greater_than_equal"}, {"order_id", "string_too_short"},
        {"created_at", "datetime_parsing"}, {"unit_price", "greater_than_equal"},
        {"zz", "extra_forbidden"})

/* The valid three-field body plus `extra` ("\"key\":value"). */
#define BODY_WITH(extra) \
    "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7," extra "}"
#define ID_64 "0123456789012345678901234567890123456789012345678901234567890123"

static void client_order_id_kept(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY_WITH("\"order_id\":\"pos-17/000123\""));
    assert_string_equal(o.order_id, "pos-17/000123");
    assert_int_equal(o.client_id, 1);
    o = expect_valid(BODY_WITH("\"order_id\":\"" ID_64 "\""));
    assert_string_equal(o.order_id, ID_64);
}

REJECTS(order_id_empty, BODY_WITH("\"order_id\":\"\""), {"order_id", "string_too_short"})
REJECTS(order_id_too_long, BODY_WITH("\"order_id\":\"" ID_64 "4\""),
        {"order_id", "string_too_long"})
REJECTS(order_id_control_char, BODY_WITH("\"order_id\":\"a\\tb\""),
        {"order_id", "string_pattern_mismatch"})
REJECTS(order_id_non_ascii, BODY_WITH("\"order_id\":\"caf\\u00e9\""),
        {"order_id", "string_pattern_mismatch"})
REJECTS(order_id_not_a_string, BODY_WITH("\"order_id\":7"), {"order_id", "string_type"})

static void client_created_at_used(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY_WITH("\"created_at\":\"2026-11-29T05:40:00.123+02:00\""));
    assert_int_equal(o.created_ms, NOW);
    o = expect_valid(BODY_WITH("\"created_at\":\"11/29/2026, 03:40:00\""));
    assert_int_equal(o.created_ms, NOW - 123);
}

REJECTS(created_at_unparsable, BODY_WITH("\"created_at\":\"2026-02-30T00:00:00Z\""),
        {"created_at", "datetime_parsing"})
REJECTS(created_at_not_a_string, BODY_WITH("\"created_at\":1795923600"),
        {"created_at", "datetime_type"})

static void client_unit_price_prices_the_order(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY_WITH("\"unit_price\":\"12.50\""));
    assert_int_equal(o.total_cents, 7 * 1250);
    o = expect_valid(BODY_WITH("\"unit_price\":12.5"));
    assert_int_equal(o.total_cents, 7 * 1250);
    o = expect_valid(BODY_WITH("\"unit_price\":0.07"));
    assert_int_equal(o.total_cents, 7 * 7);
    o = expect_valid(BODY_WITH("\"unit_price\":0"));
    assert_int_equal(o.total_cents, 0);
}

REJECTS(unit_price_string_too_many_decimals, BODY_WITH("\"unit_price\":\"1.234\""),
        {"unit_price", "decimal_max_places"})
REJECTS(unit_price_number_too_many_decimals, BODY_WITH("\"unit_price\":12.345"),
        {"unit_price", "decimal_max_places"})
REJECTS(unit_price_negative, BODY_WITH("\"unit_price\":-0.01"),
        {"unit_price", "greater_than_equal"})
REJECTS(unit_price_too_large, BODY_WITH("\"unit_price\":1000000000000.01"),
        {"unit_price", "less_than_equal"})
REJECTS(unit_price_not_a_decimal, BODY_WITH("\"unit_price\":\"12,50\""),
        {"unit_price", "decimal_parsing"})
REJECTS(unit_price_wrong_type, BODY_WITH("\"unit_price\":true"),
        {"unit_price", "decimal_type"})

static void valid_order_is_priced_and_stamped(void **state)
{
    (void)state;
    struct order o = expect_valid(BODY("3", DINE, "7"));
    assert_int_equal(o.customer_id, 3);
    assert_string_equal(catalog_source(cat, o.source), "Dine In");
    assert_int_equal(o.quantity, 7);
    assert_int_equal(o.total_cents, 210000);
    assert_int_equal(o.created_ms, NOW);
}

static void valid_order_gets_uuid_v7(void **state)
{
    (void)state;
    struct order a = expect_valid(BODY("3", DINE, "7"));
    struct order b = expect_valid(BODY("3", DINE, "7"));
    assert_true(uuid_valid(a.order_id));
    assert_int_equal(a.order_id[14], '7');
    assert_non_null(strchr("89ab", a.order_id[19]));
    assert_true(strcmp(a.order_id, b.order_id) < 0);
}

static void body_length_is_respected(void **state)
{
    (void)state;
    const char *body = BODY("3", DINE, "7") "GARBAGE";
    struct sf_buf d;
    struct order o;
    sf_buf_init(&d, 4096);
    assert_int_equal(order_from_body(body, strlen(body) - 7, cat, NOW, &o, &d), 0);
    assert_int_equal(o.quantity, 7);
    sf_buf_free(&d);
}

/* ---- codec ----------------------------------------------------------- */

#define ORDER(id, cust, src, qty, total, created, client)                  \
    {.order_id = id, .customer_id = cust, .source = src, .quantity = qty, \
     .total_cents = total, .created_ms = created, .client_id = client}

static void encode_decode_round_trip(void **state)
{
    (void)state;
    const struct order samples[] = {
        ORDER("0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", 3, 0, 7, 210000, NOW, 0),
        ORDER("client-key-1", 17, 2, 1000000, INT64_C(30000000000), 0, 1),
        /* 9999-12-31T23:59:59.999Z, and a key with JSON-escaped characters */
        ORDER("a\"b\\c", 1, 1, 1, 1, INT64_C(253402300799999), 1),
        ORDER("y", 12, 1, 3, 12345, NOW + 877, 0),
    };
    for (size_t i = 0; i < SF_ARRAY_LEN(samples); i++) {
        struct sf_buf b;
        struct order d;
        int has_total = -1;
        char err[128] = "";
        sf_buf_init(&b, SF_ORDER_JSON_MAX);
        assert_int_equal(order_encode(&samples[i], cat, &b), 0);
        if (order_decode(b.data, b.len, cat, &d, &has_total, err, sizeof(err)))
            fail_msg("decode of %s: %s", b.data, err);
        assert_int_equal(has_total, 1);
        assert_string_equal(d.order_id, samples[i].order_id);
        assert_int_equal(d.customer_id, samples[i].customer_id);
        assert_int_equal(d.source, samples[i].source);
        assert_int_equal(d.quantity, samples[i].quantity);
        assert_int_equal(d.total_cents, samples[i].total_cents);
        assert_int_equal(d.created_ms, samples[i].created_ms);
        sf_buf_free(&b);
    }
}

/* Whatever order_from_body accepts must come back from the log unchanged:
 * the processor reads the total the producer wrote. */
static void accepted_large_orders_decode_to_the_same_total(void **state)
{
    (void)state;
    const struct {
        int quantity;
        const char *unit_price;
    } cases[] = {{7, "999999999999.99"}, {37, "999999999999.99"}, {100, "1000000000000"}};
    for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
        char body[160], err[128] = "";
        struct sf_buf b;
        struct order d;
        int has_total;
        snprintf(body, sizeof(body), "{\"customer_id\":3,\"source\":\"Dine In\","
                 "\"quantity\":%d,\"unit_price\":\"%s\"}", cases[i].quantity,
                 cases[i].unit_price);
        struct order o = expect_valid(body);
        sf_buf_init(&b, SF_ORDER_JSON_MAX);
        assert_int_equal(order_encode(&o, cat, &b), 0);
        if (order_decode(b.data, b.len, cat, &d, &has_total, err, sizeof(err)))
            fail_msg("accepted %s, but its log message %s does not decode: %s",
                     body, b.data, err);
        if (d.total_cents != o.total_cents)
            fail_msg("accepted %s: total %" PRId64 " cents decodes as %" PRId64,
                     body, o.total_cents, d.total_cents);
        sf_buf_free(&b);
    }
}

static void encode_uses_the_original_field_names(void **state)
{
    (void)state;
    const struct order o = ORDER("0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", 3, 0, 7, 210000, NOW, 0);
    struct sf_buf b;
    json_error_t jerr;
    sf_buf_init(&b, SF_ORDER_JSON_MAX);
    assert_int_equal(order_encode(&o, cat, &b), 0);
    json_t *v = json_loadb(b.data, b.len, 0, &jerr);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 6);
    assert_int_equal(json_integer_value(json_object_get(v, "customer_id")), 3);
    assert_string_equal(jstr(json_object_get(v, "source")), "Dine In");
    assert_int_equal(json_integer_value(json_object_get(v, "quantity")), 7);
    assert_true(json_number_value(json_object_get(v, "total")) == 2100.0);
    assert_string_equal(jstr(json_object_get(v, "created_at")),
                        "2026-11-29T03:40:00.123Z");
    assert_string_equal(jstr(json_object_get(v, "order_id")), o.order_id);
    json_decref(v);
    sf_buf_free(&b);
}

static void encode_puts_a_client_key_first(void **state)
{
    (void)state;
    const struct order mine = ORDER("pos-1", 3, 0, 7, 210000, NOW, 1);
    const struct order ours =
        ORDER("0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", 3, 0, 7, 210000, NOW, 0);
    struct sf_buf b;
    sf_buf_init(&b, SF_ORDER_JSON_MAX);
    assert_int_equal(order_encode(&mine, cat, &b), 0);
    assert_memory_equal(b.data, "{\"order_id\":\"pos-1\",", 20);
    b.len = 0;
    assert_int_equal(order_encode(&ours, cat, &b), 0);
    assert_memory_equal(b.data, "{\"customer_id\":3,", 17);
    sf_buf_free(&b);
}

static void decode_original_producer_message(void **state)
{
    (void)state;
    /* What the original FastAPI service put on the topic: no order_id. */
    const char *m = "{\"customer_id\": 3, \"source\": \"Home Delivery\", \"quantity\": 7, "
                    "\"total\": 2100.0, \"created_at\": \"11/29/2026, 03:40:00\"}";
    struct order d;
    int has_total = -1;
    char err[128] = "";
    if (order_decode(m, strlen(m), cat, &d, &has_total, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(d.created_ms, NOW - 123);
    assert_int_equal(d.source, 2);
    assert_int_equal(d.total_cents, 210000);
    assert_int_equal(has_total, 1);
    assert_string_equal(d.order_id, "");
}

static void decode_never_returns_a_wrong_total(void **state)
{
    (void)state;
    /* Foreign producers' layout (Python's json.dumps), totals with cents that
     * a double cannot hold exactly: exact cents, or a refusal. */
    const struct {
        const char *total;
        int64_t cents;
    } cases[] = {{"36999999999999.63", INT64_C(3699999999999963)},
                 {"40000000000000.02", INT64_C(4000000000000002)},
                 {"89999999999990.01", INT64_C(8999999999999001)}};
    for (size_t i = 0; i < SF_ARRAY_LEN(cases); i++) {
        char m[256], err[128] = "";
        struct order d;
        int has_total;
        snprintf(m, sizeof(m), "{\"customer_id\": 3, \"source\": \"Dine In\", "
                 "\"quantity\": 1, \"total\": %s, \"created_at\": \"11/29/2026, "
                 "03:40:00\"}", cases[i].total);
        if (order_decode(m, strlen(m), cat, &d, &has_total, err, sizeof(err)) == 0 &&
            d.total_cents != cases[i].cents)
            fail_msg("total %s decoded as %" PRId64 " cents", cases[i].total,
                     d.total_cents);
    }
}

static void decode_without_total(void **state)
{
    (void)state;
    const char *m = "{\"customer_id\":3,\"source\":\"Takeaway\",\"quantity\":7,"
                    "\"created_at\":\"2026-11-29T03:40:00Z\",\"order_id\":\"k\"}";
    struct order d;
    int has_total = -1;
    char err[128] = "";
    if (order_decode(m, strlen(m), cat, &d, &has_total, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(has_total, 0);
    assert_int_equal(d.total_cents, 0);
    assert_string_equal(d.order_id, "k");
}

static void decode_integer_total(void **state)
{
    (void)state;
    const char *m = "{\"customer_id\":3,\"source\":\"Takeaway\",\"quantity\":7,"
                    "\"total\":2100,\"created_at\":\"2026-11-29T03:40:00Z\"}";
    struct order d;
    int has_total = -1;
    char err[128] = "";
    if (order_decode(m, strlen(m), cat, &d, &has_total, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(has_total, 1);
    assert_int_equal(d.total_cents, 210000);
}

/* order_decode must return -1 with a message for each of msgs. */
static void expect_undecodable(const char *const *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct order d;
        int has_total;
        char err[128] = "";
        if (order_decode(msgs[i], strlen(msgs[i]), cat, &d, &has_total, err, sizeof(err)) != -1)
            fail_msg("accepted %s", msgs[i]);
        assert_true(err[0] != '\0');
    }
}

static void decode_rejects_non_objects(void **state)
{
    (void)state;
    const char *const bad[] = {"", "[1,2]", "\"order\"", "42", "null", "{\"customer_id\":3,"};
    expect_undecodable(bad, SF_ARRAY_LEN(bad));
}

/* A log message from its field values, given as JSON text. */
#define LOGMSG(cust, src, qty, rest) \
    ("{\"customer_id\":" cust ",\"source\":" src ",\"quantity\":" qty rest "}")
#define TAKE "\"Takeaway\""
#define AT ",\"created_at\":\"2026-11-29T03:40:00Z\""

static void decode_rejects_missing_required_fields(void **state)
{
    (void)state;
    /* The full message minus one field at a time. */
    const char *const bad[] = {
        "{\"source\":\"Takeaway\",\"quantity\":7" AT "}",
        "{\"customer_id\":3,\"quantity\":7" AT "}",
        "{\"customer_id\":3,\"source\":\"Takeaway\"" AT "}",
        LOGMSG("3", TAKE, "7", ""),
    };
    expect_undecodable(bad, SF_ARRAY_LEN(bad));
}

static void decode_rejects_bad_field_values(void **state)
{
    (void)state;
    const char *const bad[] = {
        LOGMSG("\"3\"", TAKE, "7", AT),
        LOGMSG("3", "\"Pickup\"", "7", AT),
        LOGMSG("3", TAKE, "-7", AT),
        LOGMSG("3", TAKE, "7", ",\"total\":\"2100\"" AT),
        LOGMSG("3", TAKE, "7", ",\"total\":-1.5" AT),
        LOGMSG("3", TAKE, "7", ",\"created_at\":\"yesterday\""),
        LOGMSG("3", TAKE, "7", AT ",\"order_id\":\"\""),
        LOGMSG("3", TAKE, "7", AT ",\"order_id\":7"),
        LOGMSG("3", TAKE, "7", AT ",\"order_id\":\"" ID_64 "4\""),
    };
    expect_undecodable(bad, SF_ARRAY_LEN(bad));
}

/* One range for ingest and processor: the instant in UTC, 1970 … 9999. */
static void time_range_is_checked_in_utc(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(order_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(order_parse_time("1970-01-01T00:01:00+00:01", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(order_parse_time("9999-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, SF_TIME_MAX_MS);
    assert_int_equal(order_parse_time("12/31/9999, 23:59:59", &ms), 0);
    assert_int_equal(order_parse_time("1970-01-01T00:00:00+00:01", &ms), -1);
    assert_int_equal(order_parse_time("9999-12-31T23:59:59-00:01", &ms), -1);
    assert_int_equal(order_parse_time("9999-12-31T23:59:60Z", &ms), -1);
    assert_int_equal(order_parse_time("12/31/9999, 23:59:60", &ms), -1);
    /* the processor refuses what ingest refuses */
    struct order o;
    int has_total;
    char err[256];
    const char *wrapped = "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":1,"
                          "\"total\":300.00,\"created_at\":\"1970-01-01T00:00:00+00:01\"}";
    assert_int_equal(order_decode(wrapped, strlen(wrapped), cat, &o, &has_total, err,
                                  sizeof(err)), -1);
    assert_int_equal(order_decode_general(wrapped, strlen(wrapped), cat, &o, &has_total, err,
                                          sizeof(err)), -1);
}

static void derive_id_is_deterministic(void **state)
{
    (void)state;
    char a[SF_UUID_STRLEN + 1], b[SF_UUID_STRLEN + 1];
    order_derive_id("Order", 2, 12345, a);
    order_derive_id("Order", 2, 12345, b);
    assert_string_equal(a, b);
    assert_true(uuid_valid(a));
}

static void derive_id_differs_by_position(void **state)
{
    (void)state;
    char base[SF_UUID_STRLEN + 1], other[SF_UUID_STRLEN + 1];
    order_derive_id("Order", 2, 12345, base);
    order_derive_id("Order", 3, 12345, other);
    assert_string_not_equal(base, other);
    order_derive_id("Order", 2, 12346, other);
    assert_string_not_equal(base, other);
    order_derive_id("Orders", 2, 12345, other);
    assert_string_not_equal(base, other);
}

/* The id of a message without order_id: deterministic, a valid UUIDv8
 * with the partition and offset readable, and different for another
 * message at the same place (another timestamp, other bytes) or the same
 * message in another log. */
static void derive_id_msg(void **state)
{
    (void)state;
    const char *v = "{\"customer_id\": 3, \"source\": \"Dine In\", \"quantity\": 7}";
    char a[SF_UUID_STRLEN + 1], b[SF_UUID_STRLEN + 1];
    order_derive_id_msg("Order@kafka-x", 2, 12345, 1700000000000, v, strlen(v), a);
    order_derive_id_msg("Order@kafka-x", 2, 12345, 1700000000000, v, strlen(v), b);
    assert_string_equal(a, b);
    assert_true(uuid_valid(a));
    assert_int_equal(a[14], '8');                       /* version 8 */
    assert_non_null(strchr("89ab", a[19]));             /* RFC 9562 variant */
    assert_memory_equal(a + 9, "0002", 4);              /* the partition */
    assert_string_equal(a + 24, "000000003039");        /* the offset */
    order_derive_id_msg("Order@kafka-x", 2, 12345, 1700000000001, v, strlen(v), b);
    assert_string_not_equal(a, b);
    order_derive_id_msg("Order@kafka-x", 2, 12345, 1700000000000, v, strlen(v) - 1, b);
    assert_string_not_equal(a, b);
    order_derive_id_msg("Order@kafka-y", 2, 12345, 1700000000000, v, strlen(v), b);
    assert_string_not_equal(a, b);
    order_derive_id_msg("Order@kafka-x", 3, 12345, 1700000000000, v, strlen(v), b);
    assert_string_not_equal(a, b);
    /* Never the older form's fixed groups (…-8000-8000-…) by design of
     * the test's inputs; and the two forms differ. */
    order_derive_id("Order@kafka-x", 2, 12345, b);
    assert_string_not_equal(a, b);
}

/* order_scan (the ingest fast path) against order_parse_json +
 * order_validate: whenever the fast path takes a body it must build the same
 * order; it must take the plain bodies; and the rest it must leave alone. */
static int general(const char *body, struct order *o)
{
    struct sf_buf d;
    int n = 0, rc = -1;
    sf_buf_init(&d, 1 << 16);
    json_t *v = order_parse_json(body, strlen(body), -1, &d, &n);
    if (v)
        rc = order_validate(v, cat, NOW, -1, o, &d, &n);
    json_decref(v);
    sf_buf_free(&d);
    return rc;
}

static void same_order(const char *body, const struct order *a, const struct order *b)
{
    if (a->customer_id != b->customer_id || a->source != b->source ||
        a->quantity != b->quantity || a->total_cents != b->total_cents ||
        a->created_ms != b->created_ms || a->client_id != b->client_id ||
        (a->client_id && strcmp(a->order_id, b->order_id)))
        fail_msg("fast and general paths differ on %s", body);
}

static void scan_agrees_with_validation(void **state)
{
    static const char *const taken[] = {
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}",
        " {\"customer_id\": 3, \"source\": \"Takeaway\", \"quantity\": 1000000}\r\n",
        "{\"quantity\":1,\"source\":\"Home Delivery\",\"customer_id\":17}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":2,\"order_id\":\"k-1 {x}\"}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":2,"
        "\"created_at\":\"2026-11-29T03:40:00Z\"}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":2,"
        "\"created_at\":\"11/29/2026, 03:40:00\"}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":3,\"unit_price\":12.5}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":3,\"unit_price\":0.07}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":3,\"unit_price\":9999999.99}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":3,\"unit_price\":0}",
        "{\"customer_id\":1,\"source\":\"Dine In\",\"quantity\":3,\"order_id\":"
        "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
    };
    static const char *const left[] = {
        "", "{}", "[]", "{\"customer_id\":3,\"source\":\"Dine In\"}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7} x",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"quantity\":7}",
        "{\"customer_id\":99,\"source\":\"Dine In\",\"quantity\":7}",
        "{\"customer_id\":03,\"source\":\"Dine In\",\"quantity\":7}",
        "{\"customer_id\":-3,\"source\":\"Dine In\",\"quantity\":7}",
        "{\"customer_id\":3.0,\"source\":\"Dine In\",\"quantity\":7}",
        "{\"customer_id\":\"3\",\"source\":\"Dine In\",\"quantity\":7}",
        "{\"customer_id\":3,\"source\":\"Dine\\u0020In\",\"quantity\":7}",
        "{\"customer_id\":3,\"source\":\"dine in\",\"quantity\":7}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":0}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":1000001}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":1e2}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"order_id\":\"\"}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"order_id\":"
        "\"01234567890123456789012345678901234567890123456789012345678901234\"}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"created_at\":\"soon\"}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"unit_price\":1.234}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"unit_price\":\"1.00\"}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"unit_price\":-1}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"unit_price\":12345678}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"extra\":1}",
        "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7,\"note\":\"\xc3\xa9\"}",
    };
    struct order f, g;
    (void)state;
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        if (!order_scan_whole(taken[i], strlen(taken[i]), cat, NOW, &f))
            fail_msg("the fast path should take %s", taken[i]);
        assert_int_equal(general(taken[i], &g), 0);
        same_order(taken[i], &f, &g);
        if (!f.client_id)
            assert_true(uuid_valid(f.order_id));
    }
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
        if (order_scan_whole(left[i], strlen(left[i]), cat, NOW, &f))
            fail_msg("the fast path should leave %s to the general path", left[i]);
    /* A unit price the fast path takes is exactly the one jansson's double
     * gives the general path. */
    char body[160];
    uint64_t x = 88172645463325252u;
    for (int k = 0; k < 100000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;    /* xorshift: any cents below 10^9 */
        int64_t cents = k < 100 ? k : (int64_t)(x % 1000000000u);
        snprintf(body, sizeof(body), "{\"customer_id\":1,\"source\":\"Dine In\","
                 "\"quantity\":1,\"unit_price\":%" PRId64 ".%02d}", cents / 100,
                 (int)(cents % 100));
        assert_true(order_scan_whole(body, strlen(body), cat, NOW, &f));
        assert_int_equal(general(body, &g), 0);
        same_order(body, &f, &g);
        assert_int_equal(f.total_cents, cents);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_customer_id),
        cmocka_unit_test(missing_source),
        cmocka_unit_test(missing_quantity),
        cmocka_unit_test(customer_id_non_numeric_string),
        cmocka_unit_test(customer_id_float_with_fraction),
        cmocka_unit_test(customer_id_bool),
        cmocka_unit_test(customer_id_null),
        cmocka_unit_test(customer_id_array),
        cmocka_unit_test(customer_id_unknown),
        cmocka_unit_test(customer_id_zero_unknown),
        cmocka_unit_test(source_wrong_literal),
        cmocka_unit_test(source_not_a_string),
        cmocka_unit_test(quantity_zero),
        cmocka_unit_test(quantity_negative),
        cmocka_unit_test(quantity_above_max),
        cmocka_unit_test(several_bad_fields_in_field_order),
        cmocka_unit_test(empty_object_misses_every_field),
        cmocka_unit_test(malformed_json),
        cmocka_unit_test(unquoted_keys),
        cmocka_unit_test(empty_body),
        cmocka_unit_test(body_is_array),
        cmocka_unit_test(body_is_string),
        cmocka_unit_test(body_is_number),
        cmocka_unit_test(duplicate_keys_rejected),
        cmocka_unit_test(customer_id_digit_string_accepted),
        cmocka_unit_test(customer_id_whole_float_accepted),
        cmocka_unit_test(quantity_bounds_accepted),
        cmocka_unit_test(unknown_fields_rejected_after_model_fields),
        cmocka_unit_test(optional_fields_in_model_order),
        cmocka_unit_test(client_order_id_kept),
        cmocka_unit_test(order_id_empty),
        cmocka_unit_test(order_id_too_long),
        cmocka_unit_test(order_id_control_char),
        cmocka_unit_test(order_id_non_ascii),
        cmocka_unit_test(order_id_not_a_string),
        cmocka_unit_test(client_created_at_used),
        cmocka_unit_test(created_at_unparsable),
        cmocka_unit_test(created_at_not_a_string),
        cmocka_unit_test(client_unit_price_prices_the_order),
        cmocka_unit_test(unit_price_string_too_many_decimals),
        cmocka_unit_test(unit_price_number_too_many_decimals),
        cmocka_unit_test(unit_price_negative),
        cmocka_unit_test(unit_price_too_large),
        cmocka_unit_test(unit_price_not_a_decimal),
        cmocka_unit_test(unit_price_wrong_type),
        cmocka_unit_test(valid_order_is_priced_and_stamped),
        cmocka_unit_test(valid_order_gets_uuid_v7),
        cmocka_unit_test(body_length_is_respected),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(accepted_large_orders_decode_to_the_same_total),
        cmocka_unit_test(encode_uses_the_original_field_names),
        cmocka_unit_test(encode_puts_a_client_key_first),
        cmocka_unit_test(decode_original_producer_message),
        cmocka_unit_test(decode_never_returns_a_wrong_total),
        cmocka_unit_test(decode_without_total),
        cmocka_unit_test(decode_integer_total),
        cmocka_unit_test(decode_rejects_non_objects),
        cmocka_unit_test(decode_rejects_missing_required_fields),
        cmocka_unit_test(decode_rejects_bad_field_values),
        cmocka_unit_test(time_range_is_checked_in_utc),
        cmocka_unit_test(derive_id_is_deterministic),
        cmocka_unit_test(derive_id_msg),
        cmocka_unit_test(derive_id_differs_by_position),
        cmocka_unit_test(scan_agrees_with_validation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_util — src/core/util: the timestamp codecs (RFC 3339 and the original
 * producer's "%m/%d/%Y, %H:%M:%S", both ways), and the bounded sf_buf with
 * its JSON string escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "core/util.h"

/* 2026-11-29T03:40:00Z, from `date -u -d 2026-11-29T03:40:00Z +%s`. */
#define T0_MS INT64_C(1795923600000)

static void expect_time(const char *s, int64_t want)
{
    int64_t got = 0;
    assert_int_equal(sf_parse_time(s, &got), 0);
    assert_int_equal(got, want);
}

static void expect_bad_time(const char *s)
{
    int64_t got;
    assert_int_equal(sf_parse_time(s, &got), -1);
    assert_false(sf_time_bad_second_60(s));
}

/* A time but for seconds 60 away from a leap second: said so. */
static void expect_bad_leap(const char *s)
{
    int64_t got;
    assert_int_equal(sf_parse_time(s, &got), -2);
    assert_true(sf_time_bad_second_60(s));
}

static void parse_rfc3339_utc(void **state)
{
    (void)state;
    expect_time("2026-11-29T03:40:00Z", T0_MS);
    expect_time("1970-01-01T00:00:00Z", 0);
}

static void parse_rfc3339_fraction(void **state)
{
    (void)state;
    expect_time("2026-11-29T03:40:00.123Z", T0_MS + 123);
    expect_time("2026-11-29T03:40:00.5Z", T0_MS + 500);
    /* Digits past milliseconds are dropped, not rounded into the next ms. */
    expect_time("2026-11-29T03:40:00.123999Z", T0_MS + 123);
}

static void parse_rfc3339_offset(void **state)
{
    (void)state;
    /* 05:40 at +02:00 and 01:40 at -02:00 are both 03:40 UTC. */
    expect_time("2026-11-29T05:40:00+02:00", T0_MS);
    expect_time("2026-11-29T01:40:00-02:00", T0_MS);
    expect_time("2026-11-29T09:10:00.250+05:30", T0_MS + 250);
}

static void parse_original_producer_format(void **state)
{
    (void)state;
    expect_time("11/29/2026, 03:40:00", T0_MS);
}

static void parse_accepts_leap_day(void **state)
{
    (void)state;
    /* 2024-02-29T00:00:00Z = 1709164800 s. */
    expect_time("2024-02-29T00:00:00Z", INT64_C(1709164800000));
    expect_time("02/29/2024, 00:00:00", INT64_C(1709164800000));
}

/* Seconds 60: only a leap second (RFC 3339 5.7), 23:59:60 UTC on a month's
 * last day once the offset is applied; it stands for the next second. */
static void parse_leap_second_only_where_one_can_be(void **state)
{
    (void)state;
    /* 2027-01-01T00:00:00Z = 1798761600 s. */
    expect_time("2026-12-31T23:59:60Z", INT64_C(1798761600000));
    expect_time("2026-12-31T23:59:60.250Z", INT64_C(1798761600250));
    expect_time("2027-01-01T05:29:60+05:30", INT64_C(1798761600000));
    expect_time("2026-12-31T18:59:60-05:00", INT64_C(1798761600000));
    expect_time("12/31/2026, 23:59:60", INT64_C(1798761600000));
    expect_time("2026-06-30T23:59:60Z", INT64_C(1782864000000));
    expect_bad_leap("2026-12-31T23:58:60Z");
    expect_bad_leap("2026-12-30T23:59:60Z");
    expect_bad_leap("2026-11-29T03:40:60Z");
    expect_bad_leap("2026-12-31T23:59:60+05:30");
    expect_bad_leap("2027-01-01T05:29:60Z");
    expect_bad_leap("11/29/2026, 03:40:60");
    expect_bad_time("2026-12-31T23:59:61Z");
    /* refused for something else than the 60: said for what it is */
    expect_bad_time("2026-12-31T23:59:60+24:00");
    expect_bad_time("2026-12-31T23:59:60.Z");
    /* a leap second past 9999-12-31 parses; the range refuses it */
    expect_time("9999-12-31T23:59:60Z", INT64_C(253402300800000));
    /* the first instant, however it is written */
    expect_time("1969-12-31T23:59:60Z", 0);
    expect_time("1970-01-01T05:29:60+05:30", 0);
    expect_time("1969-12-31T20:00:00-04:00", 0);
}

static void parse_rejects_impossible_day(void **state)
{
    (void)state;
    expect_bad_time("2026-02-30T00:00:00Z");
    expect_bad_time("2026-02-29T00:00:00Z"); /* 2026 is no leap year */
    expect_bad_time("2026-04-31T00:00:00Z");
    expect_bad_time("02/30/2026, 00:00:00");
}

static void parse_rejects_thirteenth_month(void **state)
{
    (void)state;
    expect_bad_time("2026-13-01T00:00:00Z");
    expect_bad_time("13/01/2026, 00:00:00");
}

static void parse_rejects_bad_clock(void **state)
{
    (void)state;
    expect_bad_time("2026-11-29T24:00:00Z");
    expect_bad_time("2026-11-29T03:60:00Z");
    expect_bad_time("2026-11-29T03:40:00+24:00");
}

static void parse_rejects_garbage(void **state)
{
    (void)state;
    expect_bad_time("");
    expect_bad_time("hello");
    expect_bad_time("2026-11-29");
    expect_bad_time("2026/11/29T03:40:00Z");
    expect_bad_time("2026-11-29T03:40Z");
    expect_bad_time("2026-11-29T03:40:00.Z");
    expect_bad_time("11/29/26, 03:40:00");
}

static void parse_rejects_trailing_characters(void **state)
{
    (void)state;
    expect_bad_time("2026-11-29T03:40:00Zx");
    expect_bad_time("2026-11-29T03:40:00Z ");
    expect_bad_time("2026-11-29T03:40:00+02:00:00");
    expect_bad_time("11/29/2026, 03:40:00 ");
    expect_bad_time("11/29/2026, 03:40:00Z");
}

static void format_rfc3339_millis(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(sf_format_time(T0_MS + 7, out), "2026-11-29T03:40:00.007Z");
    assert_string_equal(sf_format_time(0, out), "1970-01-01T00:00:00.000Z");
}

static void format_before_epoch(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(sf_format_time(-1, out), "1969-12-31T23:59:59.999Z");
}

static void format_parse_round_trip(void **state)
{
    (void)state;
    const int64_t samples[] = {0, 1, 999, 1000, T0_MS, T0_MS + 123,
                               INT64_C(1709164799999), INT64_C(253402300799999)};
    for (size_t i = 0; i < SF_ARRAY_LEN(samples); i++) {
        char out[32];
        int64_t back = -1;
        assert_int_equal(sf_parse_time(sf_format_time(samples[i], out), &back), 0);
        assert_int_equal(back, samples[i]);
    }
}

static void buf_appends_up_to_limit(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 8);
    assert_int_equal(sf_buf_append(&b, "hello", 5), 0);
    assert_int_equal(sf_buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "helloabc", 8);
    assert_int_equal(b.data[8], '\0');
    sf_buf_free(&b);
}

static void buf_append_past_limit_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 8);
    assert_int_equal(sf_buf_append(&b, "hello", 5), 0);
    assert_int_equal(sf_buf_append(&b, "abcd", 4), -1);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    /* A length so large that len + n would wrap size_t. */
    assert_int_equal(sf_buf_append(&b, "x", SIZE_MAX), -1);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    sf_buf_free(&b);
}

static void buf_printf_past_limit_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct sf_buf b;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sf_buf_init(&b, 600);
    assert_int_equal(sf_buf_printf(&b, "%d-%s", 42, "ok"), 0);
    assert_int_equal(sf_buf_printf(&b, "%s", big + 450), 0); /* 549 bytes */
    assert_int_equal(b.len, 554);
    assert_int_equal(sf_buf_printf(&b, "%s", big + 900), -1); /* 99 more */
    assert_int_equal(b.len, 554);
    assert_memory_equal(b.data, "42-ok", 5);
    assert_int_equal(b.data[554], '\0');
    sf_buf_free(&b);
}

static void buf_grows_past_initial_capacity(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sf_buf_printf(&b, "%04d,", i), 0);
    assert_int_equal(b.len, 50000);
    assert_memory_equal(b.data + 5 * 9999, "9999,", 5);
    sf_buf_free(&b);
}

static void json_str_escapes(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 256);
    assert_int_equal(sf_buf_json_str(&b, "a\"b\\c\nd\x01\x1f" "e/\x7f"), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\\u0001\\u001fe/\x7f\"");
    sf_buf_free(&b);
}

/* JSON text is UTF-8 (RFC 8259 §8.1): a byte sequence that is not UTF-8
 * (from a query string, say) goes out as U+FFFD, one per bad byte; valid
 * sequences of every length go out as they came. */
static void json_str_invalid_utf8_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"caf\xc3\xa9", "caf\xc3\xa9"},                      /* é: 2 bytes */
        {"\xe2\x82\xac \xf0\x9f\x98\x80", "\xe2\x82\xac \xf0\x9f\x98\x80"}, /* €, 😀 */
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},                        /* never in UTF-8 */
        {"\xc3", "\xef\xbf\xbd"},                            /* cut short at the end */
        {"\xc3(", "\xef\xbf\xbd("},                          /* bad continuation */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},            /* overlong '/' */
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"\x80x", "\xef\xbf\xbdx"},                           /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sf_buf b;
        char want[64];
        sf_buf_init(&b, 256);
        assert_int_equal(sf_buf_json_str(&b, cases[i].in), 0);
        snprintf(want, sizeof(want), "\"%s\"", cases[i].out);
        assert_string_equal(b.data, want);
        json_error_t jerr;
        json_t *v = json_loads(b.data, JSON_DECODE_ANY, &jerr);
        assert_non_null(v);
        json_decref(v);
        sf_buf_free(&b);
    }
}

static void json_str_every_ascii_byte_decodes_back(void **state)
{
    (void)state;
    char in[128];
    struct sf_buf b;
    json_error_t jerr;
    for (int c = 1; c < 128; c++)
        in[c - 1] = (char)c;
    in[127] = '\0';
    sf_buf_init(&b, 4096);
    assert_int_equal(sf_buf_json_str(&b, in), 0);
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &jerr);
    assert_non_null(v);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), in);
    json_decref(v);
    sf_buf_free(&b);
}

static void json_str_keeps_utf8(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 256);
    assert_int_equal(sf_buf_json_str(&b, "caf\xc3\xa9 \xe2\x82\xac"), 0);
    assert_string_equal(b.data, "\"caf\xc3\xa9 \xe2\x82\xac\"");
    sf_buf_free(&b);
}

static void json_str_empty(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 256);
    assert_int_equal(sf_buf_json_str(&b, ""), 0);
    assert_string_equal(b.data, "\"\"");
    sf_buf_free(&b);
}

static void json_str_past_limit_fails(void **state)
{
    (void)state;
    struct sf_buf b;
    sf_buf_init(&b, 8);
    assert_int_equal(sf_buf_json_str(&b, "123456789"), -1);
    sf_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rfc3339_utc),
        cmocka_unit_test(parse_rfc3339_fraction),
        cmocka_unit_test(parse_rfc3339_offset),
        cmocka_unit_test(parse_original_producer_format),
        cmocka_unit_test(parse_accepts_leap_day),
        cmocka_unit_test(parse_leap_second_only_where_one_can_be),
        cmocka_unit_test(parse_rejects_impossible_day),
        cmocka_unit_test(parse_rejects_thirteenth_month),
        cmocka_unit_test(parse_rejects_bad_clock),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(parse_rejects_trailing_characters),
        cmocka_unit_test(format_rfc3339_millis),
        cmocka_unit_test(format_before_epoch),
        cmocka_unit_test(format_parse_round_trip),
        cmocka_unit_test(buf_appends_up_to_limit),
        cmocka_unit_test(buf_append_past_limit_leaves_buffer_unchanged),
        cmocka_unit_test(buf_printf_past_limit_leaves_buffer_unchanged),
        cmocka_unit_test(buf_grows_past_initial_capacity),
        cmocka_unit_test(json_str_escapes),
        cmocka_unit_test(json_str_invalid_utf8_replaced),
        cmocka_unit_test(json_str_every_ascii_byte_decodes_back),
        cmocka_unit_test(json_str_keeps_utf8),
        cmocka_unit_test(json_str_empty),
        cmocka_unit_test(json_str_past_limit_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

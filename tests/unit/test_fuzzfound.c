/*
 * test_fuzzfound — regression tests for bugs the libFuzzer harnesses in
 * fuzz/ found (docs/fuzzing.md lists each with its harness). Each case is
 * the smallest input that showed the bug, rebuilt by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/batch.h"
#include "broker/le.h"
#include "broker/segment.h"
#include "core/args.h"
#include "core/order.h"

#include <jansson.h>

#define TIME INT64_C(1795923600123)

/* A sealed batch of the given records (NUL-terminated strings) claiming
 * `count` records, built by hand so its framing can disagree with count. */
static size_t raw_batch(uint8_t *out, int64_t base, uint32_t count,
                        const char *const *recs, size_t n, size_t extra)
{
    size_t at = BATCH_HEADER;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)strlen(recs[i]);
        le_put32(out + at, l);
        memcpy(out + at + 4, recs[i], l);
        at += 4 + l;
    }
    memset(out + at, 'z', extra);
    at += extra;
    memcpy(out, BATCH_MAGIC, 4);
    out[4] = BATCH_VERSION;
    out[5] = out[6] = out[7] = 0;
    le_put32(out + 8, (uint32_t)at);
    le_put64(out + 16, (uint64_t)base);
    le_put32(out + 24, count);
    le_put32(out + 28, 0);
    le_put64(out + 32, (uint64_t)TIME);
    le_put32(out + 12, sf_crc32c(out + 16, at - 16));
    return at;
}

/* fuzz_batch: a batch with a valid CRC whose records do not fill it as
 * record_count says was accepted. Readers number records by record_count:
 * with fewer records than that, elog_poll never gets past the batch (it
 * waits for the missing records forever) and recovery counted offsets that
 * do not exist. Such a batch is corrupt. */
static void batch_with_fewer_records_than_count_is_corrupt(void **state)
{
    (void)state;
    static const char *const recs[] = {"{\"customer_id\":3}"};
    uint8_t buf[256];
    struct batch_info bi;
    size_t len = raw_batch(buf, 0, 2, recs, 1, 4); /* room for a 2nd length */
    assert_int_equal(batch_check(buf, len, &bi), BATCH_CORRUPT);
}

static void batch_with_more_records_than_count_is_corrupt(void **state)
{
    (void)state;
    static const char *const recs[] = {"{\"a\":1}", "{\"b\":2}"};
    uint8_t buf[256];
    struct batch_info bi;
    size_t len = raw_batch(buf, 0, 1, recs, 2, 0);
    assert_int_equal(batch_check(buf, len, &bi), BATCH_CORRUPT);
}

static void batch_with_bytes_after_its_records_is_corrupt(void **state)
{
    (void)state;
    static const char *const recs[] = {"{\"customer_id\":3}"};
    uint8_t buf[256];
    struct batch_info bi;
    size_t len = raw_batch(buf, 0, 1, recs, 1, 1); /* the fuzzer's input */
    assert_int_equal(batch_check(buf, len, &bi), BATCH_CORRUPT);
    /* The same batch without the stray byte is fine. */
    len = raw_batch(buf, 0, 1, recs, 1, 0);
    assert_int_equal(batch_check(buf, len, &bi), BATCH_OK);
    assert_int_equal(bi.count, 1);
}

/* Recovery sees such a batch as the damage it is, instead of counting two
 * records that are not there. */
static void recovery_stops_at_batch_with_wrong_count(void **state)
{
    (void)state;
    static const char *const recs[] = {"{\"customer_id\":3}"};
    uint8_t buf[512];
    char path[] = "/tmp/sf-fuzzfound-XXXXXX";
    char err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t a = raw_batch(buf, 0, 1, recs, 1, 0);
    size_t b = raw_batch(buf + a, 1, 2, recs, 1, 4);
    size_t c = raw_batch(buf + a + b, 3, 1, recs, 1, 0);
    assert_int_equal(write(fd, buf, a + b + c), (ssize_t)(a + b + c));
    close(fd);
    struct segment s;
    struct seg_damage dmg;
    assert_int_equal(seg_open(&s, path, 0, 0, 1, err, sizeof(err)), 0);
    assert_int_equal(seg_load(&s, 1, &dmg, err, sizeof(err)), 0);
    assert_true(dmg.found);
    assert_int_equal(dmg.at, a);
    assert_int_equal(s.end, 1);
    assert_int_equal(dmg.lost_records, 1); /* the good batch after it */
    seg_close(&s);
    unlink(path);
}

/* fuzz_config: a flag set from the config file pointed into the file's
 * parsed values, which args_parse freed before returning, so every string
 * flag taken from --config FILE (--data, --listen, --store, --kafka-opt…)
 * was a dangling pointer for the rest of the run. Here the freed memory is
 * handed out again and overwritten, as the running program would. */
static void config_file_values_outlive_args_parse(void **state)
{
    (void)state;
    char path[] = "/tmp/sf-fuzzfound-XXXXXX";
    static const char text[] = "SALESFLOW_LISTEN=127.0.0.1:9000\n"
                               "SALESFLOW_KAFKA_OPT=security.protocol=SSL\n";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    const char *listen = NULL, *kopt = NULL;
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "", opt_str, &listen},
        {"kafka-opt", "KEY=VALUE", "", opt_str, &kopt},
    };
    char *argv[] = {"--config", path, NULL};
    struct args a = {0};   /* kept by the caller for as long as the flags are used */
    assert_int_equal(args_parse(&a, "test", "", opts, 2, 2, argv, NULL, 0, NULL), ARGS_OK);
    unlink(path);
    char *reuse[16];
    for (int i = 0; i < 16; i++) {
        reuse[i] = malloc(i < 8 ? 16 : 24);
        memset(reuse[i], 'X', i < 8 ? 16 : 24);
    }
    assert_non_null(listen);
    assert_non_null(kopt);
    assert_string_equal(listen, "127.0.0.1:9000");
    assert_string_equal(kopt, "security.protocol=SSL");
    for (int i = 0; i < 16; i++)
        free(reuse[i]);
    args_free(&a);
}

/* fuzz_order_json: jansson's error message quotes the input near the
 * error and can stop inside a UTF-8 sequence (here after the 0xC2 of an
 * escaped U+0090); the 422 body carried that stray byte and was not valid
 * JSON (nor UTF-8) for the client. */
static void malformed_json_detail_is_valid_json(void **state)
{
    (void)state;
    static const char body[] = "{\"\\\xc2\x90\xb5\0\x10" "a\0\0ostrer#_i\\:\"";
    char err[256];
    struct catalog *cat = catalog_load(NULL, 30000, err, sizeof(err));
    assert_non_null(cat);
    struct sf_buf d;
    struct order o;
    sf_buf_init(&d, 64 * 1024);
    assert_int_equal(order_from_body(body, sizeof(body) - 1, cat, TIME, &o, &d), -1);
    json_error_t jerr;
    json_t *v = json_loadb(d.data, d.len, 0, &jerr);
    if (!v)
        fail_msg("422 body is not JSON (%s): %s", jerr.text, d.data);
    json_t *e = json_array_get(json_object_get(v, "detail"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "json_invalid");
    json_decref(v);
    sf_buf_free(&d);
    catalog_destroy(cat);
}

/* fuzz_order_json's oracle (the 422 body is JSON), on inputs built by
 * hand: the detail buffer (64 KiB for /orderitem; 4 KiB + 8 KiB a row for
 * /v1/orders) filled up mid-entry and the rest of the entries, then the
 * closing brackets, were silently dropped. 400 unknown fields (a 3.5 KB
 * body) or one very long field name gave a 422 that was not JSON. */
static void json_or_fail(const struct sf_buf *d)
{
    json_error_t jerr;
    json_t *v = json_loadb(d->data, d->len, 0, &jerr);
    if (!v)
        fail_msg("not JSON (%s) at byte %d of %zu: ...%.80s", jerr.text, jerr.position,
                 d->len, d->len > 80 ? d->data + d->len - 80 : d->data);
    json_decref(v);
}

static void many_unknown_fields_give_json_detail(void **state)
{
    (void)state;
    char err[256];
    struct catalog *cat = catalog_load(NULL, 30000, err, sizeof(err));
    struct sf_buf body, d;
    struct order o;
    sf_buf_init(&body, 1 << 20);
    sf_buf_append(&body, "{\"customer_id\":3", 16);
    for (int i = 0; i < 400; i++)
        sf_buf_printf(&body, ",\"k%d\":0", i);
    sf_buf_append(&body, "}", 1);
    sf_buf_init(&d, 64 * 1024);
    assert_int_equal(order_from_body(body.data, body.len, cat, TIME, &o, &d), -1);
    json_or_fail(&d);
    sf_buf_free(&d);

    /* One field name longer than the whole buffer. */
    body.len = 0;
    sf_buf_append(&body, "{\"", 2);
    for (int i = 0; i < 70000; i++)
        sf_buf_append(&body, "x", 1);
    sf_buf_append(&body, "\":1}", 4);
    sf_buf_init(&d, 64 * 1024);
    assert_int_equal(order_from_body(body.data, body.len, cat, TIME, &o, &d), -1);
    json_or_fail(&d);
    sf_buf_free(&d);
    sf_buf_free(&body);
    catalog_destroy(cat);
}

/* The /v1/orders way: rows' entries share one buffer; a row that fills it
 * must not leave half an entry, and later rows stay rejected. */
static void v1_rows_overflowing_detail_buffer_stay_json(void **state)
{
    (void)state;
    char err[256];
    struct catalog *cat = catalog_load(NULL, 30000, err, sizeof(err));
    struct sf_buf row, d;
    struct order o;
    sf_buf_init(&row, 1 << 20);
    sf_buf_append(&row, "{\"source\":\"Dine In\"", 19);
    for (int i = 0; i < 100; i++)
        sf_buf_printf(&row, ",\"field%d\":0", i);
    sf_buf_append(&row, "}", 1);
    sf_buf_init(&d, 4096 + 2 * 8192);
    sf_buf_append(&d, "[", 1);
    for (long i = 0; i < 2; i++) {
        int nerr = 0;
        if (i)
            sf_buf_append(&d, ",", 1);
        sf_buf_append(&d, "[", 1);
        json_t *v = order_parse_json(row.data, row.len, i, &d, &nerr);
        assert_non_null(v);
        assert_int_equal(order_validate(v, cat, TIME, i, &o, &d, &nerr), -1);
        assert_true(nerr > 0);
        json_decref(v);
        assert_int_equal(sf_buf_append(&d, "]", 1), 0);
    }
    assert_int_equal(sf_buf_append(&d, "]", 1), 0);
    json_or_fail(&d);
    sf_buf_free(&d);
    sf_buf_free(&row);
    catalog_destroy(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_with_fewer_records_than_count_is_corrupt),
        cmocka_unit_test(batch_with_more_records_than_count_is_corrupt),
        cmocka_unit_test(batch_with_bytes_after_its_records_is_corrupt),
        cmocka_unit_test(recovery_stops_at_batch_with_wrong_count),
        cmocka_unit_test(config_file_values_outlive_args_parse),
        cmocka_unit_test(malformed_json_detail_is_valid_json),
        cmocka_unit_test(many_unknown_fields_give_json_detail),
        cmocka_unit_test(v1_rows_overflowing_detail_buffer_stay_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

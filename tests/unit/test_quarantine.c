/*
 * test_quarantine — the quarantine module directly, as the processor uses
 * it (quarantine_record in src/main.c: one row of any bytes per call): a
 * long binary row is kept as a short prefix with its full length, the
 * files stay within twice max_bytes whatever the rows, lines of the older
 * format (64 KiB of raw, escaped) are still read back and shortened in
 * memory, and listings are capped by bytes with a cursor that pages
 * through every entry once.
 * Each test works in its own mkdtemp directory and removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/quarantine.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/sf-qt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static long file_size(const char *dir, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) ? -1 : (long)st.st_size;
}

/* The listing as JSON (closed), with its next cursor. */
static json_t *list(struct quarantine *q, size_t limit, uint64_t before, size_t max,
                    uint64_t *next)
{
    struct sf_buf b;
    sf_buf_init(&b, 64u << 20);
    assert_int_equal(quarantine_list(q, limit, before, max, &b, next), 0);
    assert_int_equal(sf_buf_append(&b, "}", 1), 0);
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &e);
    if (!j)
        fail_msg("not JSON: %s", e.text);
    sf_buf_free(&b);
    return j;
}

static const char DETAIL[] = "[{\"loc\":[\"log\",\"Order\",0,7],\"msg\":\"not a JSON "
                             "object\",\"type\":\"not_an_order\"}]";

static void long_binary_row_kept_short_with_length(void **state)
{
    struct fixture *f = *state;
    char err[256];
    size_t n = 1u << 20;
    char *raw = malloc(n);
    for (size_t i = 0; i < n; i++)
        raw[i] = (char)(i % 3 == 0 ? 0x01 : i % 3 == 1 ? 0xff : 'a');
    struct quarantine *q = quarantine_open(f->dir, 0, err, sizeof(err));
    assert_non_null(q);
    struct quarantine_row row = {.index = 7, .raw = raw, .raw_len = n,
                                 .detail = DETAIL, .detail_len = strlen(DETAIL)};
    assert_int_equal(quarantine_add(q, "log:Order/0", &row, 1, 0, err, sizeof(err)), 0);
    long size = file_size(f->dir, "quarantine.jsonl");
    assert_true(size > 0 && size <= QUARANTINE_LINE_MAX + 1);

    uint64_t next;
    json_t *j = list(q, 10, 0, QUARANTINE_LIST_MAX, &next);
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
    assert_int_equal(next, 0);
    assert_string_equal(json_string_value(json_object_get(it, "endpoint")), "log:Order/0");
    assert_int_equal(json_integer_value(json_object_get(it, "index")), 7);
    assert_int_equal(json_integer_value(json_object_get(it, "raw_length")), n);
    assert_true(json_is_true(json_object_get(it, "raw_truncated")));
    assert_true(json_is_true(json_object_get(it, "raw_lossy")));
    const char *kept = json_string_value(json_object_get(it, "raw"));
    assert_true(strlen(kept) > 100);
    assert_memory_equal(kept, "\x01\xef\xbf\xbd" "a\x01", 5);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(it, "detail"), 0), "type")),
                        "not_an_order");
    json_decref(j);
    quarantine_close(q);
    free(raw);
}

static void files_stay_within_twice_max(void **state)
{
    struct fixture *f = *state;
    char err[256], raw[20000];
    const uint64_t max = 20000;
    memset(raw, 0x02, sizeof(raw));
    struct quarantine *q = quarantine_open(f->dir, max, err, sizeof(err));
    assert_non_null(q);
    struct quarantine_row rows[30];
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < 30; i++)
            rows[i] = (struct quarantine_row){.index = (long)i, .raw = raw,
                                              .raw_len = 1000 * i, .detail = DETAIL,
                                              .detail_len = strlen(DETAIL)};
        assert_int_equal(quarantine_add(q, "/v1/orders", rows, 30, 0, err, sizeof(err)), 0);
        long a = file_size(f->dir, "quarantine.jsonl"),
             b = file_size(f->dir, "quarantine.1.jsonl");
        assert_true(a > 0 && (uint64_t)a <= max);
        assert_true(b <= (long)max);
    }
    /* Smaller than one full line: lines are shortened to fit. */
    quarantine_close(q);
    assert_non_null(q = quarantine_open(f->dir, 400, err, sizeof(err)));
    assert_int_equal(quarantine_add(q, "/v1/orders", rows, 30, 0, err, sizeof(err)), 0);
    assert_true(file_size(f->dir, "quarantine.jsonl") <= 400);
    assert_true(file_size(f->dir, "quarantine.1.jsonl") <= 400);
    quarantine_close(q);
}

static void old_format_lines_read_back(void **state)
{
    struct fixture *f = *state;
    char err[256], path[256];
    /* The old format: raw up to 64 KiB, each 0x01 written as \u0001. */
    snprintf(path, sizeof(path), "%s/quarantine.jsonl", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "{\"time\":\"2026-01-01T00:00:00.000Z\",\"endpoint\":\"/v1/orders\","
                "\"index\":1,\"detail\":[{\"loc\":[\"body\",1],\"msg\":\"m\","
                "\"type\":\"json_invalid\"}],\"raw\":\"");
    for (int i = 0; i < 65536; i++)
        fputs("\\u0001", fp);
    fprintf(fp, "\",\"raw_truncated\":false,\"raw_lossy\":false}\n");
    fprintf(fp, "{\"time\":\"2026-01-01T00:00:01.000Z\",\"endpoint\":\"/v1/orders\","
                "\"index\":2,\"detail\":[],\"raw\":\"{not json\",\"raw_truncated\":false,"
                "\"raw_lossy\":false}\n");
    fclose(fp);
    struct quarantine *q = quarantine_open(f->dir, 0, err, sizeof(err));
    assert_non_null(q);
    uint64_t next;
    json_t *j = list(q, 10, 0, QUARANTINE_LIST_MAX, &next);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *newest = json_array_get(items, 0), *big = json_array_get(items, 1);
    assert_string_equal(json_string_value(json_object_get(newest, "raw")), "{not json");
    assert_int_equal(json_integer_value(json_object_get(big, "index")), 1);
    assert_int_equal(json_integer_value(json_object_get(big, "raw_length")), 65536);
    assert_true(json_is_true(json_object_get(big, "raw_truncated")));
    size_t kept = json_string_length(json_object_get(big, "raw"));
    assert_true(kept > 0 && kept * 6 <= QUARANTINE_RAW_MAX);
    char *line = json_dumps(big, JSON_COMPACT);
    assert_true(strlen(line) <= QUARANTINE_LINE_MAX);
    free(line);
    json_decref(j);
    quarantine_close(q);
}

static void listing_pages_by_bytes(void **state)
{
    struct fixture *f = *state;
    char err[256], raw[3000];
    memset(raw, 'x', sizeof(raw));
    struct quarantine *q = quarantine_open(f->dir, 0, err, sizeof(err));
    assert_non_null(q);
    struct quarantine_row rows[50];
    for (size_t i = 0; i < 50; i++)
        rows[i] = (struct quarantine_row){.index = (long)i, .raw = raw,
                                          .raw_len = sizeof(raw), .detail = "[]",
                                          .detail_len = 2};
    assert_int_equal(quarantine_add(q, "/v1/orders", rows, 50, 0, err, sizeof(err)), 0);
    uint64_t before = 0, next;
    long want = 49;
    int pages = 0;
    do {
        json_t *j = list(q, 1000, before, 20000, &next);
        json_t *items = json_object_get(j, "items");
        size_t k = json_array_size(items);
        assert_true(k >= 1 && k < 10);
        assert_int_equal(json_integer_value(json_object_get(j, "count")), k);
        for (size_t i = 0; i < k; i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(items, i),
                                                                "index")), want--);
        json_decref(j);
        before = next;
        pages++;
    } while (next);
    assert_int_equal(want, -1);
    assert_true(pages > 5);
    /* A limit stops the list without a next page. */
    json_t *j = list(q, 2, 0, 20000, &next);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    assert_int_equal(next, 0);
    json_decref(j);
    quarantine_close(q);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(long_binary_row_kept_short_with_length),
        T(files_stay_within_twice_max),
        T(old_format_lines_read_back),
        T(listing_pages_by_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_uuid — src/core/uuid: UUIDv7 layout (timestamp, version, variant,
 * lowercase canonical text), strict monotonicity within one millisecond and
 * across a clock step back, uniqueness across threads, and uuid_valid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/uuid.h"

typedef char uuid_str[SF_UUID_STRLEN + 1];

/* The generator keeps state across calls; give every test a millisecond
 * well past anything an earlier test used. */
static int64_t fresh_ms(void)
{
    static int64_t next;
    if (!next)
        next = sf_now_ms();
    next += 1000000;
    return next;
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void v7_has_canonical_lowercase_form(void **state)
{
    (void)state;
    uuid_str id;
    uuid_v7(fresh_ms(), id);
    assert_int_equal(strlen(id), SF_UUID_STRLEN);
    for (int i = 0; i < SF_UUID_STRLEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(id[i], '-');
        else
            assert_true(is_lower_hex(id[i]));
    }
}

static void v7_sets_version_and_variant(void **state)
{
    (void)state;
    int64_t ms = fresh_ms();
    for (int i = 0; i < 1000; i++) {
        uuid_str id;
        uuid_v7(ms + i, id);
        assert_int_equal(id[14], '7');
        assert_non_null(strchr("89ab", id[19]));
    }
}

static void v7_starts_with_the_millisecond_timestamp(void **state)
{
    (void)state;
    int64_t ms = fresh_ms();
    uuid_str id;
    char want[16];
    uuid_v7(ms, id);
    snprintf(want, sizeof(want), "%012llx", (unsigned long long)ms);
    /* 48 bits: 8 hex digits, a dash, 4 more. */
    assert_memory_equal(id, want, 8);
    assert_memory_equal(id + 9, want + 8, 4);
}

static void v7_strictly_increasing_within_one_ms(void **state)
{
    (void)state;
    int64_t ms = fresh_ms();
    uuid_str prev, cur;
    uuid_v7(ms, prev);
    for (int i = 1; i < 100000; i++) {
        uuid_v7(ms, cur);
        if (strcmp(prev, cur) >= 0)
            fail_msg("call %d: %s is not after %s", i, cur, prev);
        assert_int_equal(cur[14], '7');
        memcpy(prev, cur, sizeof(cur));
    }
}

static void v7_increasing_when_clock_steps_back(void **state)
{
    (void)state;
    int64_t ms = fresh_ms();
    uuid_str a, b, c;
    uuid_v7(ms, a);
    uuid_v7(ms - 5000, b);
    uuid_v7(ms - 1, c);
    assert_true(strcmp(a, b) < 0);
    assert_true(strcmp(b, c) < 0);
}

#define THREADS 4
#define PER_THREAD 10000

static int64_t thread_ms;

static void *make_ids(void *arg)
{
    uuid_str *out = arg;
    int64_t ms = thread_ms;
    for (int i = 0; i < PER_THREAD; i++)
        uuid_v7(ms, out[i]);
    return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void v7_unique_across_threads(void **state)
{
    (void)state;
    uuid_str *ids = calloc(THREADS * PER_THREAD, sizeof(*ids));
    pthread_t th[THREADS];
    assert_non_null(ids);
    thread_ms = fresh_ms();
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, make_ids, ids + t * PER_THREAD), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    /* Each thread's own sequence is increasing, and no two ids are equal. */
    for (int t = 0; t < THREADS; t++)
        for (int i = 1; i < PER_THREAD; i++)
            assert_true(strcmp(ids[t * PER_THREAD + i - 1], ids[t * PER_THREAD + i]) < 0);
    qsort(ids, THREADS * PER_THREAD, sizeof(*ids), cmp_ids);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
}

static void valid_accepts_canonical_uuids(void **state)
{
    (void)state;
    uuid_str id;
    uuid_v7(fresh_ms(), id);
    assert_int_equal(uuid_valid(id), 1);
    assert_int_equal(uuid_valid("00000000-0000-0000-0000-000000000000"), 1);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716-446655440000"), 1);
    assert_int_equal(uuid_valid("550E8400-E29B-41D4-A716-446655440000"), 1);
}

static void valid_rejects_wrong_length(void **state)
{
    (void)state;
    assert_int_equal(uuid_valid(""), 0);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716-44665544000"), 0);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716-4466554400000"), 0);
    assert_int_equal(uuid_valid("550e8400e29b41d4a716446655440000"), 0);
}

static void valid_rejects_misplaced_dash(void **state)
{
    (void)state;
    assert_int_equal(uuid_valid("550e840-0e29b-41d4-a716-446655440000"), 0);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a7164-46655440000"), 0);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716+446655440000"), 0);
}

static void valid_rejects_non_hex(void **state)
{
    (void)state;
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716-44665544000g"), 0);
    assert_int_equal(uuid_valid("{50e8400-e29b-41d4-a716-44665544000}"), 0);
    assert_int_equal(uuid_valid("550e8400-e29b-41d4-a716-44665544 000"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v7_has_canonical_lowercase_form),
        cmocka_unit_test(v7_sets_version_and_variant),
        cmocka_unit_test(v7_starts_with_the_millisecond_timestamp),
        cmocka_unit_test(v7_strictly_increasing_within_one_ms),
        cmocka_unit_test(v7_increasing_when_clock_steps_back),
        cmocka_unit_test(v7_unique_across_threads),
        cmocka_unit_test(valid_accepts_canonical_uuids),
        cmocka_unit_test(valid_rejects_wrong_length),
        cmocka_unit_test(valid_rejects_misplaced_dash),
        cmocka_unit_test(valid_rejects_non_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

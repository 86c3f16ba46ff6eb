/*
 * test_stats — src/core/stats: the process-wide counters. The log end per
 * partition is a monotonic maximum (acks arrive out of order, from several
 * threads), unknown until first set, and partitions out of range are
 * ignored rather than written past the array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "core/stats.h"

static int reset(void **state)
{
    (void)state;
    memset(&sf_stats, 0, sizeof(sf_stats));
    return 0;
}

static void log_end_unknown_until_set(void **state)
{
    (void)state;
    assert_int_equal(sf_stats_log_end_of(0), -1);
    sf_stats_log_end(0, 0);             /* an empty partition: end 0, known */
    assert_int_equal(sf_stats_log_end_of(0), 0);
    assert_int_equal(sf_stats_log_end_of(1), -1);
    assert_int_equal(sf_stats.log_partitions, 1);
}

static void log_end_never_goes_down(void **state)
{
    (void)state;
    sf_stats_appended(2, 41);
    sf_stats_appended(2, 7);            /* an older ack, late */
    assert_int_equal(sf_stats_log_end_of(2), 42);
    sf_stats_log_end(2, 10);
    assert_int_equal(sf_stats_log_end_of(2), 42);
    assert_int_equal(sf_stats_get(&sf_stats.ingest_accepted), 2);
    assert_int_equal(sf_stats.log_partitions, 3);
}

static void out_of_range_partitions_are_ignored(void **state)
{
    (void)state;
    sf_stats_appended(-1, 5);
    sf_stats_appended(SF_STATS_PARTITIONS, 5);
    assert_int_equal(sf_stats_log_end_of(-1), -1);
    assert_int_equal(sf_stats_log_end_of(SF_STATS_PARTITIONS), -1);
    assert_int_equal(sf_stats.log_partitions, 0);
}

static void commit_counts_and_stamps(void **state)
{
    (void)state;
    sf_stats_commit(10);
    sf_stats_commit(0);
    assert_int_equal(sf_stats_get(&sf_stats.proc_commits), 2);
    assert_int_equal(sf_stats_get(&sf_stats.proc_inserted), 10);
    assert_true(sf_stats.proc_last_commit_ms > 0);
}

/* Four threads ack interleaved offsets of one partition at once. */
static void *acker(void *arg)
{
    int64_t first = (int64_t)(intptr_t)arg;
    for (int64_t off = first; off < 40000; off += 4)
        sf_stats_appended(5, off);
    return NULL;
}

static void concurrent_acks_keep_the_maximum(void **state)
{
    (void)state;
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, acker, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sf_stats_log_end_of(5), 40000);
    assert_int_equal(sf_stats_get(&sf_stats.ingest_accepted), 40000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(log_end_unknown_until_set, reset),
        cmocka_unit_test_setup(log_end_never_goes_down, reset),
        cmocka_unit_test_setup(out_of_range_partitions_are_ignored, reset),
        cmocka_unit_test_setup(commit_counts_and_stamps, reset),
        cmocka_unit_test_setup(concurrent_acks_keep_the_maximum, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

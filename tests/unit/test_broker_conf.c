/*
 * test_broker_conf — src/broker/broker.c: --kafka-opt settings belong to
 * the struct broker_conf they were given for. Two configurations in one
 * process (a command that opens two brokers, a test, a fuzzer) keep their
 * own settings: filling one never changes the other.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "broker/broker.h"

static void options_belong_to_their_config(void **state)
{
    (void)state;
    char err[256];
    struct broker_conf a = {0}, b = {0};
    assert_int_equal(broker_opt_kafka("acks=all", &a, err, sizeof(err)), 0);
    assert_int_equal(broker_opt_kafka("client.id=b", &b, err, sizeof(err)), 0);
    assert_int_equal(broker_opt_kafka("linger.ms=5", &b, err, sizeof(err)), 0);
    assert_int_equal(a.n_kafka_opts, 1);
    assert_string_equal(a.kafka_opts[0], "acks=all");
    assert_int_equal(b.n_kafka_opts, 2);
    assert_string_equal(b.kafka_opts[0], "client.id=b");
    assert_string_equal(b.kafka_opts[1], "linger.ms=5");
}

static void bad_and_too_many_options_refused(void **state)
{
    (void)state;
    char err[256];
    struct broker_conf c = {0};
    assert_int_not_equal(broker_opt_kafka("novalue", &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "key=value"));
    assert_int_not_equal(broker_opt_kafka("=x", &c, err, sizeof(err)), 0);
    assert_int_equal(c.n_kafka_opts, 0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(broker_opt_kafka("k=v", &c, err, sizeof(err)), 0);
    assert_int_not_equal(broker_opt_kafka("k=v", &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "at most 64"));
    assert_int_equal(c.n_kafka_opts, 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_belong_to_their_config),
        cmocka_unit_test(bad_and_too_many_options_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

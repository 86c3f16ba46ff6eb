/*
 * test_ratelimit — the limiter of failed keys (src/http/ratelimit.c) on
 * its own: which addresses count as one (IPv4, an IPv6 /64, IPv4-mapped
 * IPv6), the end of a refusal, and the fixed table under many addresses:
 * it never holds more than RL_CAPACITY, a refused address is not pushed out
 * by addresses that are not, and a table full of refused addresses still
 * refuses a new one. The e2e tests (tests/e2e/test_auth_limit.py) drive it
 * through the server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/util.h"
#include "http/ratelimit.h"

static struct sockaddr_in v4(uint32_t host_order)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(host_order)};
    return a;
}

static struct sockaddr_in6 v6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void fail_n(struct http_ratelimit *rl, const struct sockaddr *sa, int n)
{
    for (int i = 0; i < n; i++)
        ratelimit_fail(rl, sa, "GET", "/api/sales", RL_WRONG_KEY);
}

/* The gauge salesflow_auth_tracked_addresses, from the exposition. */
static long tracked(void)
{
    struct sf_buf b;
    sf_buf_init(&b, 1 << 20);
    metrics_render(&b);
    sf_buf_append(&b, "", 1);
    const char *p = strstr(b.data, "\nsalesflow_auth_tracked_addresses ");
    assert_non_null(p);
    long n = strtol(p + strlen("\nsalesflow_auth_tracked_addresses "), NULL, 10);
    sf_buf_free(&b);
    return n;
}

static void addresses_and_window(void **state)
{
    (void)state;
    char err[128];
    struct http_ratelimit *rl = ratelimit_new(3, 1000, err, sizeof(err));
    assert_non_null(rl);
    struct sockaddr_in a = v4(0x7f000002), b = v4(0x7f000003);
    assert_int_equal(ratelimit_wait(rl, SA(a), NULL, NULL), 0);
    fail_n(rl, SA(a), 2);
    assert_int_equal(ratelimit_wait(rl, SA(a), NULL, NULL), 0);    /* under the limit */
    fail_n(rl, SA(a), 1);
    int64_t w = ratelimit_wait(rl, SA(a), "GET", "/api/sales");
    assert_true(w > 0 && w <= 1000);
    assert_int_equal(ratelimit_wait(rl, SA(b), NULL, NULL), 0);    /* another address */
    assert_int_equal(ratelimit_wait(rl, NULL, NULL, NULL), 0);     /* unknown: never */

    /* IPv6: one /64 is one address; another /64 is another. */
    struct sockaddr_in6 x1 = v6("2001:db8:1:2::1"), x2 = v6("2001:db8:1:2:ffff::9"),
                        y = v6("2001:db8:1:3::1");
    fail_n(rl, SA(x1), 2);
    fail_n(rl, SA(x2), 1);
    assert_true(ratelimit_wait(rl, SA(x1), NULL, NULL) > 0);
    assert_true(ratelimit_wait(rl, SA(x2), NULL, NULL) > 0);
    assert_int_equal(ratelimit_wait(rl, SA(y), NULL, NULL), 0);
    /* An IPv4-mapped IPv6 address is its IPv4 address. */
    struct sockaddr_in6 m = v6("::ffff:127.0.0.2"), mb = v6("::ffff:127.0.0.3");
    assert_true(ratelimit_wait(rl, SA(m), NULL, NULL) > 0);
    assert_int_equal(ratelimit_wait(rl, SA(mb), NULL, NULL), 0);

    /* After the window, the address starts afresh. */
    usleep(1100 * 1000);
    assert_int_equal(ratelimit_wait(rl, SA(a), NULL, NULL), 0);
    fail_n(rl, SA(a), 2);
    assert_int_equal(ratelimit_wait(rl, SA(a), NULL, NULL), 0);
    ratelimit_destroy(rl);
    assert_int_equal(tracked(), 0);
}

static void table_is_bounded(void **state)
{
    (void)state;
    char err[128];
    struct http_ratelimit *rl = ratelimit_new(3, 600000, err, sizeof(err));
    assert_non_null(rl);
    struct sockaddr_in victim = v4(0x0a000001);
    fail_n(rl, SA(victim), 3);
    assert_true(ratelimit_wait(rl, SA(victim), NULL, NULL) > 0);
    /* Many addresses with one failure each: the table stays bounded, and
     * does not forget the refused address for them. */
    for (uint32_t i = 0; i < 5 * RL_CAPACITY; i++) {
        struct sockaddr_in o = v4(0x0b000000 + i);
        fail_n(rl, SA(o), 1);
    }
    assert_true(tracked() <= RL_CAPACITY);
    assert_true(tracked() > RL_CAPACITY / 2);
    assert_true(ratelimit_wait(rl, SA(victim), NULL, NULL) > 0);
    /* A table full of refused addresses still refuses a new one. */
    for (uint32_t i = 0; i < 2 * RL_CAPACITY; i++) {
        struct sockaddr_in o = v4(0x0c000000 + i);
        fail_n(rl, SA(o), 3);
    }
    assert_true(tracked() <= RL_CAPACITY);
    struct sockaddr_in late = v4(0x0d000001), other = v4(0x0d000002);
    fail_n(rl, SA(late), 3);
    assert_true(ratelimit_wait(rl, SA(late), NULL, NULL) > 0);
    assert_int_equal(ratelimit_wait(rl, SA(other), NULL, NULL), 0);
    ratelimit_destroy(rl);
    assert_int_equal(tracked(), 0);
}

int main(void)
{
    sf_log_setup("error", NULL);        /* the refusals' warnings: not here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_and_window),
        cmocka_unit_test(table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

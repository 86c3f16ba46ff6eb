/*
 * test_deltas — src/store/deltas.c: a batch's inserted orders folded into
 * one increment per (source, state) and per (minute, source, state), sorted
 * by key, checked against a plain count over the same rows: many distinct
 * keys (the hash table's probing and growth), rows not inserted left out,
 * and an empty batch; the quarter-hour rollup's increments folded from the
 * minute ones; and the customer rollups' increments per (hour or day,
 * customer_id, source) the same way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static const char *const states[] = {"CA", "NY", "TX", "unknown", "KY", "WA"};

/* n rows over `minutes` distinct minutes; every third row not inserted. */
static struct store_order *make_rows(size_t n, int minutes, unsigned char **ins)
{
    struct store_order *r = calloc(n, sizeof(*r));
    *ins = calloc(n, 1);
    assert_non_null(r);
    assert_non_null(*ins);
    for (size_t i = 0; i < n; i++) {
        r[i].o.source = (int)(i % 3);
        r[i].o.customer_id = (int64_t)(i % 17) + 1;
        snprintf(r[i].state, sizeof(r[i].state), "%s", states[(i / 3) % 6]);
        r[i].o.quantity = (int64_t)(i % 100) + 1;
        r[i].o.total_cents = r[i].o.quantity * 30000;
        r[i].o.created_ms = INT64_C(1796000000000) + (int64_t)(i % (size_t)minutes) * 60000;
        r[i].log_time_ms = INT64_C(1796000000000) + (int64_t)i;
        (*ins)[i] = i % 3 != 2;
    }
    return r;
}

/* Sum over the inserted rows matching (minute or NULL, source, state). */
static void expect_sum(const struct store_order *r, const unsigned char *ins, size_t n,
                       const struct sales_delta *d, int by_minute)
{
    int64_t total = 0, count = 0, qty = 0, latest = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        char ts[32];
        if (!ins[i] || r[i].o.source != d->source || strcmp(r[i].state, d->state) ||
            (by_minute && strncmp(sf_format_time(r[i].o.created_ms, ts), d->minute, 16)))
            continue;
        total += r[i].o.total_cents;
        count++;
        qty += r[i].o.quantity;
        if (r[i].log_time_ms > latest)
            latest = r[i].log_time_ms;
    }
    assert_true(count > 0);
    assert_int_equal(d->total_cents, total);
    assert_int_equal(d->count, count);
    assert_int_equal(d->quantity, qty);
    assert_int_equal(d->updated_ms, latest);
}

static int key_order(const struct sales_delta *a, const struct sales_delta *b,
                     int by_minute)
{
    int c = by_minute ? strcmp(a->minute, b->minute) : 0;
    if (!c)
        c = a->source - b->source;
    return c ? c : strcmp(a->state, b->state);
}

/* Every delta matches the plain sum over its key, the keys ascend (so each
 * is there once), and together they count every inserted row. */
static void check_deltas(const struct store_order *r, const unsigned char *ins, size_t n,
                         const struct sales_delta *d, size_t nd, int by_minute)
{
    int64_t count = 0;
    for (size_t i = 0; i < nd; i++) {
        expect_sum(r, ins, n, &d[i], by_minute);
        if (i)
            assert_true(key_order(&d[i - 1], &d[i], by_minute) < 0);
        count += d[i].count;
    }
    assert_int_equal(count, (int64_t)(n - n / 3));
}

static void check(size_t n, int minutes)
{
    unsigned char *ins;
    struct store_order *r = make_rows(n, minutes, &ins);
    struct sales_delta *ds, *dm;
    size_t nds, ndm;
    assert_int_equal(sales_deltas(r, ins, n, &ds, &nds, &dm, &ndm), 0);
    check_deltas(r, ins, n, ds, nds, 0);
    check_deltas(r, ins, n, dm, ndm, 1);
    free(ds);
    free(dm);
    free(r);
    free(ins);
}

/* Every customer delta (key_len 13: hours, 10: days) matches the plain
 * sum over its (bucket, customer_id, source), the keys ascend, and
 * together they count every inserted row. */
static void check_customer(const struct store_order *r, const unsigned char *ins,
                           size_t n, const struct sales_delta *d, size_t nd, int key_len)
{
    int64_t all = 0;
    for (size_t k = 0; k < nd; k++) {
        int64_t total = 0, count = 0, qty = 0;
        char key[17], ts[32];
        for (size_t i = 0; i < n; i++) {
            if (!ins[i] || r[i].o.source != d[k].source ||
                r[i].o.customer_id != d[k].customer_id)
                continue;
            snprintf(key, sizeof(key), "%.*s%s", key_len,
                     sf_format_time(r[i].o.created_ms, ts), key_len == 13 ? ":00" : "T00:00");
            if (strcmp(key, d[k].minute))
                continue;
            total += r[i].o.total_cents;
            count++;
            qty += r[i].o.quantity;
        }
        assert_true(count > 0);
        assert_int_equal(d[k].total_cents, total);
        assert_int_equal(d[k].count, count);
        assert_int_equal(d[k].quantity, qty);
        assert_string_equal(d[k].state, "");
        if (k) {
            int c = strcmp(d[k - 1].minute, d[k].minute);
            assert_true(c < 0 || (c == 0 && (d[k - 1].customer_id < d[k].customer_id ||
                                             (d[k - 1].customer_id == d[k].customer_id &&
                                              d[k - 1].source < d[k].source))));
        }
        all += count;
    }
    assert_int_equal(all, (int64_t)(n - n / 3));
}

static void customer_keys(void **state)
{
    (void)state;
    size_t n = 6000;
    unsigned char *ins;
    struct store_order *r = make_rows(n, 1500, &ins);  /* minutes over two days */
    struct sales_delta *dh, *dd;
    size_t ndh, ndd;
    assert_int_equal(sales_customer_deltas(r, ins, n, &dh, &ndh, &dd, &ndd), 0);
    assert_true(ndh > ndd);
    check_customer(r, ins, n, dh, ndh, 13);
    check_customer(r, ins, n, dd, ndd, 10);
    free(dh);
    free(dd);
    assert_int_equal(sales_customer_deltas(NULL, NULL, 0, &dh, &ndh, &dd, &ndd), 0);
    assert_int_equal(ndh + ndd, 0);
    free(dh);
    free(dd);
    free(r);
    free(ins);
}

static void few_keys(void **state)
{
    (void)state;
    check(3000, 2);
}

static void many_keys(void **state)
{
    (void)state;
    check(6000, 997);   /* thousands of (minute, source, state) keys */
}

static void one_row(void **state)
{
    (void)state;
    check(1, 1);
}

/* sales_rollup(SALES_ROLLUP_QUARTER): keys "…:00", ":15", ":30", ":45",
 * ascending, each the plain sum over the inserted rows of its quarter
 * hour, source and state. */
static void quarter_keys(void **state)
{
    (void)state;
    size_t n = 3000;
    unsigned char *ins;
    struct store_order *r = make_rows(n, 150, &ins);
    struct sales_delta *ds, *dm, *dq;
    size_t nds, ndm, ndq;
    int64_t count = 0;
    assert_int_equal(sales_deltas(r, ins, n, &ds, &nds, &dm, &ndm), 0);
    assert_int_equal(sales_rollup(dm, ndm, SALES_ROLLUP_QUARTER, &dq, &ndq), 0);
    assert_true(ndq > 10 && ndq < ndm);
    for (size_t k = 0; k < ndq; k++) {
        const struct sales_delta *d = &dq[k];
        int64_t total = 0, c = 0, qty = 0;
        assert_int_equal(strlen(d->minute), 16);
        assert_true(strstr(":00:15:30:45", d->minute + 13) != NULL);
        if (k)
            assert_true(key_order(&dq[k - 1], d, 1) < 0);
        for (size_t i = 0; i < n; i++) {
            char ts[32];
            sf_format_time(r[i].o.created_ms, ts);
            int m = (ts[14] - '0') * 10 + (ts[15] - '0');
            snprintf(ts + 14, sizeof(ts) - 14, "%02d", m / 15 * 15);
            if (!ins[i] || r[i].o.source != d->source || strcmp(r[i].state, d->state) ||
                strncmp(ts, d->minute, 16))
                continue;
            total += r[i].o.total_cents;
            c++;
            qty += r[i].o.quantity;
        }
        assert_true(c > 0);
        assert_int_equal(d->total_cents, total);
        assert_int_equal(d->count, c);
        assert_int_equal(d->quantity, qty);
        count += c;
    }
    assert_int_equal(count, (int64_t)(n - n / 3));
    free(ds);
    free(dm);
    free(dq);
    free(r);
    free(ins);
}

static void empty_batch(void **state)
{
    (void)state;
    struct sales_delta *ds, *dm;
    size_t nds = 9, ndm = 9;
    assert_int_equal(sales_deltas(NULL, NULL, 0, &ds, &nds, &dm, &ndm), 0);
    assert_int_equal(nds, 0);
    assert_int_equal(ndm, 0);
    free(ds);
    free(dm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(few_keys),
        cmocka_unit_test(many_keys),
        cmocka_unit_test(one_row),
        cmocka_unit_test(empty_batch),
        cmocka_unit_test(customer_keys),
        cmocka_unit_test(quarter_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

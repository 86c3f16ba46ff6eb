/*
 * test_store_contract — the store interface (src/store/store.h) keeps the
 * same promises on every backend: the same cases run against SQLite (a
 * temporary file) and MariaDB (a private mariadbd: tests/unit/
 * with_mariadb.py starts one and gives its URI in SALESFLOW_TEST_MYSQL_URI;
 * run without it, the binary runs itself through that wrapper).
 *
 *   apply       rows, aggregates and positions land together
 *   re-apply    the same batch again: nothing doubles, positions move
 *   positions   load_positions and positions() agree with what was stored
 *   rollback    a batch the store refuses leaves no row, aggregate or
 *               position of it behind
 *   filters     sales_minute and recent orders honour source and state
 *   query       store_query sums exactly over any range (edges inside a
 *               minute too), grouping and bucket; each rollup level agrees,
 *               the customer rollups too
 *   charts      saved charts: add, list, the limit, delete
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define TOPIC "Order@contract"
#define T0 INT64_C(1796000000000)   /* 2026-11-30T..., a fixed event time */

struct backend {
    const char *name;
    char uri[1024];
    struct store *st;
};

static char sqlite_dir[64];

static struct store_order row(const char *id, int64_t cust, int source, int64_t qty,
                              const char *state, int64_t minute)
{
    struct store_order r;
    memset(&r, 0, sizeof(r));
    snprintf(r.o.order_id, sizeof(r.o.order_id), "%s", id);
    r.o.customer_id = cust;
    r.o.source = source;
    snprintf(r.source, sizeof(r.source), "%s", catalog_source(NULL, source));
    r.o.quantity = qty;
    r.o.total_cents = qty * 30000;
    r.o.created_ms = T0 + minute * 60000;
    r.o.client_id = 1;
    snprintf(r.state, sizeof(r.state), "%s", state);
    r.log_time_ms = r.o.created_ms;
    return r;
}

/* Sum of the sales table: order count and cents. */
static void sales_sum(struct store *st, int64_t *count, int64_t *cents)
{
    char err[512];
    struct sales_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_sales(st, &rows, &n, err, sizeof(err)), 0);
    *count = *cents = 0;
    for (size_t i = 0; i < n; i++) {
        *count += rows[i].order_count;
        *cents += rows[i].total_cents;
    }
    free(rows);
}

static size_t orders_count(struct store *st, const struct store_filter *f)
{
    char err[512];
    struct order_row *rows = NULL;
    size_t n = 0;
    static const struct store_filter all;
    assert_int_equal(store_recent_orders(st, f ? f : &all, 1000, &rows, &n, err,
                                         sizeof(err)), 0);
    free(rows);
    return n;
}

static int64_t position_mark(struct store *st, int p, int64_t *mark)
{
    char err[512];
    int64_t next[4] = {0}, marks[4] = {0};
    assert_int_equal(store_load_positions(st, TOPIC, next, marks, 4, err, sizeof(err)), 0);
    *mark = marks[p];
    return next[p];
}

static int64_t position(struct store *st, int p)
{
    int64_t mark;
    return position_mark(st, p, &mark);
}

/* store_query over [from, to) (unranged when from < 0) grouped by `by`
 * and bucket: the number of groups, and the sums over them. */
static size_t query_sums(struct store *st, int64_t from, int64_t to, unsigned by,
                         int64_t bucket, int64_t *count, int64_t *cents, int64_t *qty)
{
    char err[512];
    struct store_filter f = {.ranged = from >= 0, .from_ms = from, .to_ms = to};
    struct store_query q = {.f = &f, .by = by, .bucket_ms = bucket};
    struct query_row *rows = NULL;
    size_t n = 0;
    if (store_query(st, &q, &rows, &n, err, sizeof(err)))
        fail_msg("store_query: %s", err);
    *count = *cents = *qty = 0;
    for (size_t i = 0; i < n; i++) {
        *count += rows[i].order_count;
        *cents += rows[i].total_cents;
        *qty += rows[i].quantity;
        if (i)  /* sorted by (bucket, customer, source, state), no key twice */
            assert_true(rows[i - 1].bucket_ms < rows[i].bucket_ms ||
                        rows[i - 1].customer_id < rows[i].customer_id ||
                        strcmp(rows[i - 1].source, rows[i].source) < 0 ||
                        strcmp(rows[i - 1].state, rows[i].state) < 0);
    }
    free(rows);
    return n;
}

static int cmp_customer_rows(const void *a, const void *b)
{
    const struct query_row *x = a, *y = b;
    if (x->customer_id != y->customer_id)
        return x->customer_id < y->customer_id ? -1 : 1;
    return strcmp(x->source, y->source);
}

/* Orders of the contract after its apply steps: c-1 (Dine In, NY, 2, T0),
 * c-2 (Takeaway, CA, 3, T0), c-3 (Takeaway, NY, 5, T0 + 1 min), c-4 (Home
 * Delivery, TX, 1, T0 + 2 min); T0 is 20 s into its minute. */
static void run_query(struct store *st)
{
    char err[512];
    int64_t c, cents, q;
    assert_int_equal(query_sums(st, -1, 0, STORE_BY_SOURCE, 0, &c, &cents, &q), 3);
    assert_int_equal(c, 4);
    assert_int_equal(q, 11);
    assert_int_equal(cents, 11 * 30000);
    assert_int_equal(query_sums(st, -1, 0, STORE_BY_CUSTOMER, 0, &c, &cents, &q), 4);
    assert_int_equal(query_sums(st, -1, 0, STORE_BY_STATE, STORE_MINUTE_MS, &c, &cents, &q),
                     4);    /* (M, CA), (M, NY), (M+1, NY), (M+2, TX) */
    assert_int_equal(query_sums(st, -1, 0, 0, STORE_HOUR_MS, &c, &cents, &q) >= 1, 1);
    assert_int_equal(c, 4);
    /* from inclusive, to exclusive, inside minutes */
    assert_int_equal(query_sums(st, T0 + 60000, T0 + 60001, 0, 0, &c, &cents, &q), 1);
    assert_int_equal(q, 5);
    assert_int_equal(query_sums(st, T0 + 1, T0 + 120000, 0, 0, &c, &cents, &q), 1);
    assert_int_equal(q, 5);
    query_sums(st, T0 - 20000, T0 + 100000, STORE_BY_SOURCE, 0, &c, &cents, &q);
    assert_int_equal(c, 3);
    assert_int_equal(q, 10);
    query_sums(st, T0, T0, 0, 0, &c, &cents, &q);
    assert_int_equal(c, 0);
    /* every level alone over a range of whole days agrees with orders */
    int64_t day = T0 - T0 % STORE_DAY_MS;
    struct store_filter all = {0};
    struct store_query sq = {.f = &all, .by = STORE_BY_SOURCE | STORE_BY_STATE};
    for (int level = STORE_LEVEL_ORDERS; level <= STORE_LEVEL_DAY; level++) {
        struct query_row *rows = NULL;
        size_t n = 0;
        int64_t lc = 0, lq = 0;
        if (store_query_part(st, &sq, level, day, day + STORE_DAY_MS, &rows, &n, err,
                             sizeof(err)))
            fail_msg("level %d: %s", level, err);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++) {
            lc += rows[i].order_count;
            lq += rows[i].quantity;
        }
        free(rows);
        assert_int_equal(lc, 4);
        assert_int_equal(lq, 11);
    }
    /* grouped by customer: the customer rollups (hour, day) agree with
     * orders group by group; no rollup holds customers per minute */
    struct store_query cq = {.f = &all, .by = STORE_BY_CUSTOMER | STORE_BY_SOURCE};
    struct query_row *want = NULL, *rows = NULL;
    size_t nw = 0, n = 0;
    if (store_query_part(st, &cq, STORE_LEVEL_ORDERS, day, day + STORE_DAY_MS, &want, &nw,
                         err, sizeof(err)))
        fail_msg("orders by customer: %s", err);
    assert_int_equal(nw, 4);
    qsort(want, nw, sizeof(*want), cmp_customer_rows);
    for (int level = STORE_LEVEL_HOUR; level <= STORE_LEVEL_DAY; level++) {
        int64_t from = level == STORE_LEVEL_DAY ? day : T0 - T0 % STORE_HOUR_MS;
        if (store_query_part(st, &cq, level, from, from + (level == STORE_LEVEL_DAY ?
                             STORE_DAY_MS : STORE_HOUR_MS), &rows, &n, err, sizeof(err)))
            fail_msg("level %d by customer: %s", level, err);
        assert_int_equal(n, nw);
        qsort(rows, n, sizeof(*rows), cmp_customer_rows);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(rows[i].customer_id, want[i].customer_id);
            assert_string_equal(rows[i].source, want[i].source);
            assert_string_equal(rows[i].state, "");
            assert_int_equal(rows[i].order_count, want[i].order_count);
            assert_int_equal(rows[i].total_cents, want[i].total_cents);
            assert_int_equal(rows[i].quantity, want[i].quantity);
        }
        free(rows);
        rows = NULL;
    }
    free(want);
    assert_int_equal(store_query_part(st, &cq, STORE_LEVEL_MINUTE, day, day + STORE_DAY_MS,
                                      &rows, &n, err, sizeof(err)), -1);
}

static void run_charts(struct store *st)
{
    char err[512];
    int64_t id = 0, first = 0;
    struct store_chart *ch = NULL;
    size_t n = 0;
    assert_int_equal(store_charts(st, &ch, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free(ch);
    for (int i = 0; i < STORE_CHARTS_MAX; i++) {
        char name[32];
        snprintf(name, sizeof(name), "chart %d", i);
        assert_int_equal(store_chart_add(st, name, "{\"metric\":\"orders\"}", &id, err,
                                         sizeof(err)), 0);
        if (!i)
            first = id;
    }
    assert_int_equal(store_chart_add(st, "one more", "{}", &id, err, sizeof(err)), 1);
    assert_int_equal(store_charts(st, &ch, &n, err, sizeof(err)), 0);
    assert_int_equal(n, STORE_CHARTS_MAX);
    assert_true(ch[0].id == first);
    assert_string_equal(ch[0].name, "chart 0");
    assert_string_equal(ch[0].definition, "{\"metric\":\"orders\"}");
    assert_true(ch[0].created[0] != '\0');
    free(ch);
    assert_int_equal(store_chart_delete(st, first, err, sizeof(err)), 1);
    assert_int_equal(store_chart_delete(st, first, err, sizeof(err)), 0);
    assert_int_equal(store_chart_add(st, "one more", "{}", &id, err, sizeof(err)), 0);
}

static void run_contract(struct backend *be)
{
    char err[1024];
    size_t ins = 99;
    struct store *st = be->st;
    struct store_order rows[3] = {
        row("c-1", 1, 0, 2, "NY", 0),
        row("c-2", 2, 1, 3, "CA", 0),
        row("c-3", 3, 1, 5, "NY", 1),
    };
    int64_t next[2] = {3, -1}, mark[2] = {INT64_MAX, 7}, m;
    int64_t count, cents;      /* sources: 0 Dine In, 1 Takeaway, 2 Home Delivery */

    /* apply */
    assert_int_equal(store_apply(st, TOPIC, rows, 3, next, mark, 2, &ins, err, sizeof(err)),
                     0);
    assert_int_equal(ins, 3);
    assert_int_equal(position_mark(st, 0, &m), 3);
    assert_true(m == INT64_MAX);    /* the mark is kept beside the position */
    sales_sum(st, &count, &cents);
    assert_int_equal(count, 3);
    assert_int_equal(cents, (2 + 3 + 5) * 30000);
    assert_int_equal(orders_count(st, NULL), 3);

    /* re-apply the same batch: nothing doubles, the position moves on */
    next[0] = 4;
    mark[0] = 5;
    assert_int_equal(store_apply(st, TOPIC, rows, 3, next, mark, 2, &ins, err, sizeof(err)),
                     0);
    assert_int_equal(ins, 0);
    assert_int_equal(position_mark(st, 0, &m), 4);
    assert_int_equal(m, 5);
    sales_sum(st, &count, &cents);
    assert_int_equal(count, 3);
    assert_int_equal(cents, (2 + 3 + 5) * 30000);
    assert_int_equal(orders_count(st, NULL), 3);

    /* positions: partition 1 was never given one (-1) */
    assert_int_equal(position(st, 0), 4);
    assert_int_equal(position(st, 1), 0);
    struct store_position *pos = NULL;
    size_t npos = 0;
    assert_int_equal(store_positions(st, TOPIC, &pos, &npos, err, sizeof(err)), 0);
    assert_int_equal(npos, 1);
    assert_int_equal(pos[0].partition, 0);
    assert_int_equal(pos[0].next_offset, 4);
    free(pos);

    /* rollback: a new valid row with one the store cannot hold (a total
     * past what the aggregates or the column take) */
    struct store_order bad[2] = {
        row("c-4", 4, 2, 1, "TX", 2),
        row("c-5", 5, 1, 1, "CA", 0),
    };
    bad[1].o.total_cents = INT64_MAX - 1;
    next[0] = 6;
    next[1] = 7;
    assert_int_not_equal(store_apply(st, TOPIC, bad, 2, next, NULL, 2, &ins, err,
                                     sizeof(err)), 0);
    assert_true(err[0] != '\0');
    assert_int_equal(orders_count(st, NULL), 3);
    sales_sum(st, &count, &cents);
    assert_int_equal(count, 3);
    assert_int_equal(position(st, 0), 4);
    assert_int_equal(position(st, 1), 0);
    /* and the store still takes the good row alone */
    next[0] = 5;
    next[1] = -1;
    assert_int_equal(store_apply(st, TOPIC, bad, 1, next, NULL, 2, &ins, err, sizeof(err)), 0);
    assert_int_equal(ins, 1);
    assert_int_equal(position_mark(st, 0, &m), 5);
    assert_int_equal(m, 0);         /* no mark given: none kept */

    /* filters */
    struct store_filter f = {.sources = {"Takeaway"}, .nsources = 1};
    assert_int_equal(orders_count(st, &f), 2);
    struct store_filter g = {.states = {"NY"}, .nstates = 1};
    assert_int_equal(orders_count(st, &g), 2);
    struct store_filter h = {.sources = {"Takeaway"}, .nsources = 1,
                             .states = {"NY"}, .nstates = 1};
    assert_int_equal(orders_count(st, &h), 1);
    struct minute_row *mr = NULL;
    size_t nm = 0;
    assert_int_equal(store_sales_minute(st, &f, "2000-01-01T00:00", "2099-12-31T23:59",
                                        &mr, &nm, err, sizeof(err)), 0);
    int64_t mcount = 0;
    for (size_t i = 0; i < nm; i++) {
        assert_string_equal(mr[i].source, "Takeaway");
        mcount += mr[i].order_count;
    }
    free(mr);
    assert_int_equal(mcount, 2);

    run_query(st);
    run_charts(st);
}

static void sqlite_contract(void **state)
{
    (void)state;
    char err[1024];
    struct backend be = {.name = "sqlite"};
    snprintf(be.uri, sizeof(be.uri), "sqlite:%s/sales.db", sqlite_dir);
    be.st = store_open(be.uri, err, sizeof(err));
    if (!be.st)
        fail_msg("%s: %s", be.uri, err);
    run_contract(&be);
    store_close(be.st);
}

static void mysql_contract(void **state)
{
    (void)state;
    char err[1024];
    const char *uri = getenv("SALESFLOW_TEST_MYSQL_URI");
    if (!uri) {
        const char *why = getenv("SALESFLOW_TEST_MYSQL_SKIP");
        fprintf(stderr, "mysql_contract: skipped: %s\n", why ? why : "no server");
        skip();
    }
    struct backend be = {.name = "mysql"};
    snprintf(be.uri, sizeof(be.uri), "%s", uri);
    be.st = store_open(be.uri, err, sizeof(err));
    if (!be.st)
        fail_msg("%s: %s", be.uri, err);
    run_contract(&be);
    store_close(be.st);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* Started without a server: run again under the wrapper that starts
     * one (from the repository's root, as make test runs). */
    if (!getenv("SALESFLOW_TEST_MYSQL_WRAPPED") &&
        access("tests/unit/with_mariadb.py", R_OK) == 0) {
        execlp("python3", "python3", "tests/unit/with_mariadb.py", argv[0], (char *)NULL);
        perror("python3");
        return 1;
    }
    snprintf(sqlite_dir, sizeof(sqlite_dir), "/tmp/sf-contract-XXXXXX");
    if (!mkdtemp(sqlite_dir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite_contract),
        cmocka_unit_test(mysql_contract),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sqlite_dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}

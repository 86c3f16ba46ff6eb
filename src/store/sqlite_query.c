/*
 * sqlite_query — the SQLite store's range queries and saved charts.
 *
 * query: sums over one table — orders_data (index on created_ms), a rollup
 * (sales_minute, sales_quarter, sales_hour, sales_day) or, grouped by customer, a customer
 * rollup (sales_customer_hour, sales_customer_day) — grouped by the asked
 * columns; over orders_data a time bucket is created_ms rounded down to a
 * multiple of its length (every stored time is from 1970 on, so never
 * negative), over a rollup a prefix of its key. Every
 * value from a request is a bound parameter; the SQL text is built only
 * from fixed pieces chosen by flags.
 *
 * Saved charts live in salesflow_charts (created with the schema in
 * sqlite.c); adding one is a single INSERT … SELECT that counts the table
 * in the same statement, so two servers cannot pass the limit together.
 */
#include "store/sqlite_int.h"
#include "core/order.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int db_fail(sqlite3 *db, const char *what, char *errstr, size_t n)
{
    return sf_err(-1, errstr, n, "sqlite %s: %s: %s", sqlite3_db_filename(db, "main"),
                  what, sqlite3_errmsg(db));
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* "YYYY-MM-DDTHH:MM" of ms (a rollup key), or "~" (after every key) for the
 * end of time. */
static void rollup_key(int64_t ms, char out[32])
{
    if (ms > SF_TIME_MAX_MS) {
        snprintf(out, 32, "~");
        return;
    }
    sf_format_time(ms, out);
    out[16] = '\0';
}

/* A bucket as the rollups give it: "YYYY-MM-DD", "…THH" or "…THH:MM". */
static int64_t bucket_of_text(const char *t)
{
    char ts[40];
    int64_t ms = 0;
    size_t bl = strlen(t);
    snprintf(ts, sizeof(ts), "%s%s", t, bl == 10 ? "T00:00:00Z" : bl == 13 ? ":00:00Z"
                                                                         : ":00Z");
    return sf_parse_time(ts, &ms) ? -1 : ms;
}

int sqlite_query(sqlite3 *db, const struct store_query *q, int level, int64_t from_ms,
                 int64_t to_ms, struct query_row **rows, size_t *n, char *errstr,
                 size_t en)
{
    static const char *const table[] = {"orders_data", "sales_minute", "sales_quarter",
                                        "sales_hour", "sales_day"};
    static const char *const cust_table[] = {"", "", "", "sales_customer_hour",
                                             "sales_customer_day"};
    static const char *const col[] = {"created_ms", "minute", "quarter", "hour", "day"};
    const struct store_filter *f = q->f;
    char sql[1536], bucket[64], fk[32], tk[32];
    sqlite3_stmt *st = NULL;
    struct query_row *r = NULL;
    size_t cap = 0, k = 0;
    int rc, i = 1, rollup = level != STORE_LEVEL_ORDERS;
    /* By customer, an hour or a day comes from the customer rollups (which
     * have no state: store_query asks them only without one). */
    int by_cust = (q->by & STORE_BY_CUSTOMER) != 0;
    if (level < 0 || level > STORE_LEVEL_DAY)
        return sf_err(-1, errstr, en, "sqlite: query: no such table");
    if (by_cust && rollup && (level < STORE_LEVEL_HOUR || q->by & STORE_BY_STATE ||
                              (f && f->nstates)))
        return sf_err(-1, errstr, en, "sqlite: no rollup holds customers per minute, "
                      "per quarter hour or per state");

    if (!q->bucket_ms)
        snprintf(bucket, sizeof(bucket), "0");
    else if (!rollup)
        snprintf(bucket, sizeof(bucket), "created_ms - created_ms %% ?");
    else
        snprintf(bucket, sizeof(bucket), "substr(%s, 1, %d)", col[level],
                 q->bucket_ms < STORE_HOUR_MS ? 16 : q->bucket_ms == STORE_HOUR_MS ? 13
                                                                                : 10);
    snprintf(sql, sizeof(sql), "SELECT %s, %s, %s, %s, %s, %s,"
             " sum(quantity) FROM %s WHERE %s >= ? AND %s < ?", bucket,
             by_cust ? "customer_id" : "0", q->by & STORE_BY_SOURCE ? "source" : "''",
             q->by & STORE_BY_STATE ? "state" : "''",
             q->no_total ? "0" : "sum(total_cents)",
             rollup ? "sum(order_count)" : "count(*)",
             by_cust && rollup ? cust_table[level] : table[level], col[level], col[level]);
    store_filter_sql(sql, sizeof(sql), f);
    strncat(sql, " GROUP BY 1, 2, 3, 4", sizeof(sql) - strlen(sql) - 1);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, rollup ? "reading the rollups" : "reading orders", errstr, en);
    if (q->bucket_ms && !rollup)
        sqlite3_bind_int64(st, i++, q->bucket_ms);
    if (rollup) {
        rollup_key(from_ms, fk);
        rollup_key(to_ms, tk);
        sqlite3_bind_text(st, i++, fk, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, i++, tk, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_int64(st, i++, from_ms);
        sqlite3_bind_int64(st, i++, to_ms);
    }
    for (size_t j = 0; f && j < f->nsources; j++)
        sqlite3_bind_text(st, i++, f->sources[j], -1, SQLITE_STATIC);
    for (size_t j = 0; f && j < f->nstates; j++)
        sqlite3_bind_text(st, i++, f->states[j], -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct query_row *nr = realloc(r, nc * sizeof(*r));
            if (!nr) {
                rc = SQLITE_NOMEM;
                break;
            }
            r = nr;
            cap = nc;
        }
        struct query_row *x = &r[k++];
        memset(x, 0, sizeof(*x));
        if (rollup && q->bucket_ms)
            x->bucket_ms = bucket_of_text((const char *)sqlite3_column_text(st, 0));
        else
            x->bucket_ms = sqlite3_column_int64(st, 0);
        x->customer_id = sqlite3_column_int64(st, 1);
        copy_text(x->source, sizeof(x->source), st, 2);
        copy_text(x->state, sizeof(x->state), st, 3);
        x->total_cents = sqlite3_column_int64(st, 4);
        x->order_count = sqlite3_column_int64(st, 5);
        x->quantity = sqlite3_column_int64(st, 6);
    }
    /* sum() of integers fails rather than round: a group past int64. */
    int overflow = rc == SQLITE_ERROR && !strcmp(sqlite3_errmsg(db), "integer overflow");
    sqlite3_finalize(st);
    if (overflow) {
        free(r);
        return sf_err(STORE_E_OVERFLOW, errstr, en, "a sum passes the largest integer");
    }
    if (rc != SQLITE_DONE) {
        free(r);
        return rc == SQLITE_NOMEM ? sf_err(-1, errstr, en, "out of memory")
                                  : db_fail(db, rollup ? "reading the rollups"
                                                       : "reading orders", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

/* ---- the rollups' tables -------------------------------------------------- */

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    int found = -1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                           " AND name = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return found;
}

/* A rollup table: its name, its CREATE, and the INSERT that fills it from
 * the tables it sums. */
struct rollup_table {
    const char *name, *create, *fill;
};

/* How many of the n tables t are missing, or -1 on a failed read. */
static int missing_tables(sqlite3 *db, const struct rollup_table *t, size_t n)
{
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        int e = table_exists(db, t[i].name);
        if (e < 0)
            return -1;
        missing += !e;
    }
    return missing;
}

/* The start of a setup of the n tables t: 0 when none is missing (nothing
 * written: a read-only open works), 1 inside BEGIN IMMEDIATE, -1 with
 * errstr. */
static int setup_begin(sqlite3 *db, const struct rollup_table *t, size_t n,
                       const char *what, char *errstr, size_t en)
{
    int missing = missing_tables(db, t, n);
    if (missing < 0)
        return db_fail(db, "reading the schema", errstr, en);
    if (!missing)
        return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, what, errstr, en);
    return 1;
}

/* 1 if table has no row (a new database: nothing to build from, so no log
 * line), else 0. */
static int table_empty(sqlite3 *db, const char *table)
{
    char sql[96];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "SELECT 1 FROM %s LIMIT 1", table);
    int empty = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return empty;
}

/* The end of a setup transaction: COMMIT when ok, else (or when COMMIT
 * fails) ROLLBACK with errstr saying what. 0 or -1. */
static int setup_end(sqlite3 *db, int ok, const char *what, char *errstr, size_t en)
{
    if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    db_fail(db, what, errstr, en);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* sales_quarter, sales_hour and sales_day: keyed like sales_minute
 * ("YYYY-MM-DDTHH:MM", the quarter hour's, the hour's or the day's first
 * minute). A database from before them (sales_quarter is newer than the
 * other two) gets the missing ones built from sales_minute (which holds
 * the same orders' sums) in one transaction, once, with a log line per
 * table (none for a new, empty database): a crash in the middle leaves
 * the database as it was, to be done again at the next open. A second
 * process opening it meanwhile waits for the lock and then finds them. */
int sqlite_rollups_setup(sqlite3 *db, char *errstr, size_t en)
{
    static const struct rollup_table t[] = {
        {"sales_quarter",
         "CREATE TABLE sales_quarter (quarter TEXT NOT NULL, source TEXT NOT NULL,"
         " state TEXT NOT NULL, total_cents INTEGER NOT NULL, order_count INTEGER NOT NULL,"
         " quantity INTEGER NOT NULL, PRIMARY KEY (quarter, source, state)) WITHOUT ROWID",
         "INSERT INTO sales_quarter SELECT printf('%s%02d', substr(minute, 1, 14),"
         " CAST(substr(minute, 15, 2) AS INTEGER) / 15 * 15), source, state,"
         " sum(total_cents), sum(order_count), sum(quantity) FROM sales_minute"
         " GROUP BY 1, 2, 3"},
        {"sales_hour",
         "CREATE TABLE sales_hour (hour TEXT NOT NULL, source TEXT NOT NULL,"
         " state TEXT NOT NULL, total_cents INTEGER NOT NULL, order_count INTEGER NOT NULL,"
         " quantity INTEGER NOT NULL, PRIMARY KEY (hour, source, state)) WITHOUT ROWID",
         "INSERT INTO sales_hour SELECT substr(minute, 1, 13) || ':00', source, state,"
         " sum(total_cents), sum(order_count), sum(quantity) FROM sales_minute"
         " GROUP BY 1, 2, 3"},
        {"sales_day",
         "CREATE TABLE sales_day (day TEXT NOT NULL, source TEXT NOT NULL,"
         " state TEXT NOT NULL, total_cents INTEGER NOT NULL, order_count INTEGER NOT NULL,"
         " quantity INTEGER NOT NULL, PRIMARY KEY (day, source, state)) WITHOUT ROWID",
         "INSERT INTO sales_day SELECT substr(minute, 1, 10) || 'T00:00', source, state,"
         " sum(total_cents), sum(order_count), sum(quantity) FROM sales_minute"
         " GROUP BY 1, 2, 3"},
    };
    const char *what = "adding the quarter-hour, hour and day rollups";
    int e = setup_begin(db, t, SF_ARRAY_LEN(t), what, errstr, en);
    if (e <= 0)
        return e;   /* usually 0: nothing missing, nothing written */
    int quiet = table_empty(db, "sales_minute");
    for (size_t i = 0; i < SF_ARRAY_LEN(t) && e >= 0; i++) {
        e = table_exists(db, t[i].name);
        if (e == 0) {
            if (!quiet)     /* a new database has nothing to build from */
                log_info("sqlite %s: building %s from sales_minute",
                         sqlite3_db_filename(db, "main"), t[i].name);
            if (sqlite3_exec(db, t[i].create, NULL, NULL, NULL) != SQLITE_OK ||
                sqlite3_exec(db, t[i].fill, NULL, NULL, NULL) != SQLITE_OK)
                e = -1;
        }
    }
    return setup_end(db, e >= 0, what, errstr, en);
}

/* sales_customer_hour and sales_customer_day: per (hour or day, customer,
 * source), keyed like the other rollups, with no state (per state, customer
 * and source they would hold almost a row per order). A database from
 * before them gets them built from orders_data in one transaction, once,
 * with a log line (none for a database without orders); a second process
 * opening it meanwhile waits for the lock and then finds them. */
int sqlite_customer_rollups_setup(sqlite3 *db, char *errstr, size_t en)
{
    static const struct rollup_table t[] = {
        {"sales_customer_hour",
         "CREATE TABLE sales_customer_hour (hour TEXT NOT NULL, customer_id INTEGER NOT NULL,"
         " source TEXT NOT NULL, total_cents INTEGER NOT NULL, order_count INTEGER NOT NULL,"
         " quantity INTEGER NOT NULL, PRIMARY KEY (hour, customer_id, source)) WITHOUT ROWID",
         "INSERT INTO sales_customer_hour SELECT strftime('%Y-%m-%dT%H:00', created_ms / 1000,"
         " 'unixepoch'), customer_id, source, sum(total_cents), count(*), sum(quantity)"
         " FROM orders_data GROUP BY 1, 2, 3"},
        {"sales_customer_day",
         "CREATE TABLE sales_customer_day (day TEXT NOT NULL, customer_id INTEGER NOT NULL,"
         " source TEXT NOT NULL, total_cents INTEGER NOT NULL, order_count INTEGER NOT NULL,"
         " quantity INTEGER NOT NULL, PRIMARY KEY (day, customer_id, source)) WITHOUT ROWID",
         "INSERT INTO sales_customer_day SELECT substr(hour, 1, 10) || 'T00:00', customer_id,"
         " source, sum(total_cents), sum(order_count), sum(quantity) FROM sales_customer_hour"
         " GROUP BY 1, 2, 3"},
    };
    const char *what = "adding the customer rollups";
    int e = setup_begin(db, t, SF_ARRAY_LEN(t), what, errstr, en);
    if (e <= 0)
        return e;   /* usually 0: nothing missing, nothing written */
    /* Again under the lock (another process may have built them), and both
     * at once: the day table is built from the hour table. */
    e = missing_tables(db, t, SF_ARRAY_LEN(t));
    if (e > 0) {
        if (!table_empty(db, "orders_data"))
            log_info("sqlite %s: building sales_customer_hour, sales_customer_day from "
                     "orders", sqlite3_db_filename(db, "main"));
        /* Both anew (one of them alone could be left from a hand's DROP). */
        if (sqlite3_exec(db, "DROP TABLE IF EXISTS sales_customer_hour;"
                         " DROP TABLE IF EXISTS sales_customer_day", NULL, NULL,
                         NULL) != SQLITE_OK)
            e = -1;
        for (size_t i = 0; i < SF_ARRAY_LEN(t) && e >= 0; i++)
            if (sqlite3_exec(db, t[i].create, NULL, NULL, NULL) != SQLITE_OK ||
                sqlite3_exec(db, t[i].fill, NULL, NULL, NULL) != SQLITE_OK)
                e = -1;
    }
    return setup_end(db, e >= 0, what, errstr, en);
}

/* ---- saved charts ------------------------------------------------------ */

int sqlite_charts(sqlite3 *db, struct store_chart **rows, size_t *n, char *errstr,
                  size_t en)
{
    sqlite3_stmt *st;
    struct store_chart *r = NULL;
    size_t k = 0;
    int rc;
    if (sqlite3_prepare_v2(db, "SELECT id, name, definition, created FROM"
                           " salesflow_charts ORDER BY id LIMIT ?", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, "reading salesflow_charts", errstr, en);
    /* Never more than the limit is stored; read no more than that either. */
    sqlite3_bind_int(st, 1, STORE_CHARTS_MAX);
    if (!(r = calloc(STORE_CHARTS_MAX, sizeof(*r)))) {
        sqlite3_finalize(st);
        return sf_err(-1, errstr, en, "out of memory");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < STORE_CHARTS_MAX) {
        struct store_chart *x = &r[k++];
        x->id = sqlite3_column_int64(st, 0);
        copy_text(x->name, sizeof(x->name), st, 1);
        copy_text(x->definition, sizeof(x->definition), st, 2);
        x->def_too_long = sqlite3_column_bytes(st, 2) > STORE_CHART_DEF_MAX;
        copy_text(x->created, sizeof(x->created), st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(r);
        return db_fail(db, "reading salesflow_charts", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

int sqlite_chart_add(sqlite3 *db, const char *name, const char *def, int64_t *id,
                     char *errstr, size_t en)
{
    sqlite3_stmt *st;
    char now[32];
    if (sqlite3_prepare_v2(db, "INSERT INTO salesflow_charts (name, definition, created)"
                           " SELECT ?, ?, ? WHERE (SELECT count(*) FROM"
                           " salesflow_charts) < ?", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, "saving a chart", errstr, en);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, def, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sf_format_time(sf_now_ms(), now), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, STORE_CHARTS_MAX);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(db, "saving a chart", errstr, en);
    if (sqlite3_changes(db) == 0)
        return 1;
    *id = sqlite3_last_insert_rowid(db);
    return 0;
}

int sqlite_chart_delete(sqlite3 *db, int64_t id, char *errstr, size_t en)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM salesflow_charts WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, "removing a chart", errstr, en);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(db, "removing a chart", errstr, en);
    return sqlite3_changes(db) > 0;
}

/*
 * sqlite_query — the SQLite store's range queries and saved charts.
 *
 * query: sums over orders_data (index on created_ms) grouped by the asked
 * columns; a time bucket is created_ms rounded down to a multiple of its
 * length (every stored time is from 1970 on, so never negative). Every
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

int sqlite_query(sqlite3 *db, const struct store_query *q, struct query_row **rows,
                 size_t *n, char *errstr, size_t en)
{
    const struct store_filter *f = q->f;
    char sql[1536];
    sqlite3_stmt *st = NULL;
    struct query_row *r = NULL;
    size_t cap = 0, k = 0;
    int rc, i = 1;

    snprintf(sql, sizeof(sql), "SELECT %s, %s, %s, %s, sum(total_cents), count(*),"
             " sum(quantity) FROM orders_data WHERE created_ms >= ? AND created_ms < ?",
             q->bucket_ms ? "created_ms - created_ms % ?" : "0",
             q->by & STORE_BY_CUSTOMER ? "customer_id" : "0",
             q->by & STORE_BY_SOURCE ? "source" : "''",
             q->by & STORE_BY_STATE ? "state" : "''");
    store_filter_sql(sql, sizeof(sql), f);
    strncat(sql, " GROUP BY 1, 2, 3, 4", sizeof(sql) - strlen(sql) - 1);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, "reading orders", errstr, en);
    if (q->bucket_ms)
        sqlite3_bind_int64(st, i++, q->bucket_ms);
    sqlite3_bind_int64(st, i++, f && f->ranged ? f->from_ms : SF_TIME_MIN_MS);
    sqlite3_bind_int64(st, i++, f && f->ranged ? f->to_ms : SF_TIME_MAX_MS + 1);
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
        x->bucket_ms = sqlite3_column_int64(st, 0);
        x->customer_id = sqlite3_column_int64(st, 1);
        copy_text(x->source, sizeof(x->source), st, 2);
        copy_text(x->state, sizeof(x->state), st, 3);
        x->total_cents = sqlite3_column_int64(st, 4);
        x->order_count = sqlite3_column_int64(st, 5);
        x->quantity = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(r);
        return rc == SQLITE_NOMEM ? sf_err(-1, errstr, en, "out of memory")
                                  : db_fail(db, "reading orders", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
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

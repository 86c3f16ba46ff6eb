/*
 * sqlite_int.h — what sqlite.c and sqlite_compact.c share: the compact
 * orders layout (orders_data + the orders view) and its id codec.
 */
#ifndef SF_STORE_SQLITE_INT_H
#define SF_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The orders_data table, the orders view over it, its created_ms index. */
extern const char sqlite_orders_table[], sqlite_orders_view[], sqlite_orders_index[];
/* SQL of the order_id text of an orders_data row (column id). */
extern const char sqlite_uuid_text_sql[];

/* Canonical lowercase UUID text (36 chars) → 16 bytes: 0, else -1. */
int sqlite_uuid_pack(const char *id, size_t len, unsigned char out[16]);
void sqlite_uuid_unpack(const unsigned char in[16], char out[37]);
/* Bind an order_id as orders_data stores it (buf: room for the BLOB, which
 * must live until the statement is stepped). */
int sqlite_bind_id(sqlite3_stmt *st, int col, const char *id, unsigned char buf[16]);
/* An orders_data id column as order_id text into out (size n). */
void sqlite_column_id(sqlite3_stmt *st, int col, char *out, size_t n);

/* Inside its own transaction: migrate an orders table of the layout before
 * orders_data (with progress on the log), and make what is missing of
 * orders_data, the orders view and the index. 0, or -1 with errstr (the
 * database left as it was). */
int sqlite_orders_setup(sqlite3 *db, char *errstr, size_t n);

/* sqlite_query.c: store_ops query, charts, chart_add, chart_delete on db. */
int sqlite_query(sqlite3 *db, const struct store_query *q, int level, int64_t from_ms,
                 int64_t to_ms, struct query_row **rows, size_t *n, char *errstr,
                 size_t en);
/* Make sales_quarter, sales_hour and sales_day, built from sales_minute
 * when they are new (one transaction). 0, or -1 with errstr (nothing changed). */
int sqlite_rollups_setup(sqlite3 *db, char *errstr, size_t en);
/* Make sales_customer_hour and sales_customer_day, built from orders_data
 * when they are new (one transaction). 0, or -1 with errstr (nothing
 * changed). */
int sqlite_customer_rollups_setup(sqlite3 *db, char *errstr, size_t en);
int sqlite_charts(sqlite3 *db, struct store_chart **rows, size_t *n, char *errstr,
                  size_t en);
int sqlite_chart_add(sqlite3 *db, const char *name, const char *def, int64_t *id,
                     char *errstr, size_t en);
int sqlite_chart_delete(sqlite3 *db, int64_t id, char *errstr, size_t en);

#endif

/*
 * sqlite_compact — the compact layout of SQLite's orders, and the in-place
 * migration to it from the layout before it.
 *
 * Rows live in orders_data: the order_id as a 16-byte BLOB when it is a
 * UUID in canonical lowercase text (every id ingest assigns, and most
 * clients'), else as the client's text itself; created_at as integer ms
 * since the epoch. That halves the row (about 45 bytes instead of 85), and
 * the index on created_ms is half as big again as the one on text times:
 * fewer and cheaper B-tree pages to write per order. A view named orders
 * shows the original columns (uuid as the order_id text, total, created_at
 * as RFC 3339 text, total_cents, …) to plain SQL, with only SQLite's own
 * functions, so the sqlite3 shell and any reader see what they saw before.
 * The packing is a bijection onto canonical lowercase UUID text, and a
 * BLOB never equals a TEXT, so the key stays unique exactly where the text
 * key was.
 *
 * Migration: a database whose orders is still a table (written by a
 * salesflow before this layout) is converted when opened, in one
 * transaction: every row copied into orders_data (progress on the log every
 * 2 s), the old table and its index dropped, the view and the new index
 * made. Killed half-way, the transaction rolls back and the old table is
 * untouched; the next open starts the migration again.
 */
#include "store/sqlite_int.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A hex digit's value plus one, by byte; 0 for every other byte. Lowercase
 * only: the BLOB form is for canonical lowercase text, so that unpacking
 * gives back the very text that was packed. */
static const unsigned char hex1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13,
    ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int sqlite_uuid_pack(const char *id, size_t len, unsigned char out[16])
{
    /* Where each byte's two digits start in the 36-character text. */
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16,
                                         19, 21, 24, 26, 28, 30, 32, 34};
    const unsigned char *t = (const unsigned char *)id;
    if (len != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-')
        return -1;
    unsigned bad = 0;
    for (int k = 0; k < 16; k++) {
        unsigned hi = hex1[t[at[k]]], lo = hex1[t[at[k] + 1]];
        bad |= (hi - 1) | (lo - 1);     /* a 0 turns into all ones */
        out[k] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    return bad > 15 ? -1 : 0;
}

void sqlite_uuid_unpack(const unsigned char in[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[in[i] >> 4];
        out[k++] = hex[in[i] & 15];
    }
    out[k] = '\0';
}

int sqlite_bind_id(sqlite3_stmt *st, int col, const char *id, unsigned char buf[16])
{
    size_t len = strlen(id);
    if (sqlite_uuid_pack(id, len, buf) == 0)
        return sqlite3_bind_blob(st, col, buf, 16, SQLITE_STATIC);
    return sqlite3_bind_text(st, col, id, (int)len, SQLITE_STATIC);
}

void sqlite_column_id(sqlite3_stmt *st, int col, char *out, size_t n)
{
    if (sqlite3_column_type(st, col) == SQLITE_BLOB && sqlite3_column_bytes(st, col) == 16 &&
        n >= 37) {
        sqlite_uuid_unpack(sqlite3_column_blob(st, col), out);
        return;
    }
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* The view's uuid: the BLOB as canonical lowercase text, or the text. */
#define UUID_TEXT \
    "CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' ||" \
    " substr(hex(id), 9, 4) || '-' || substr(hex(id), 13, 4) || '-' ||" \
    " substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END"

const char sqlite_uuid_text_sql[] = UUID_TEXT;

const char sqlite_orders_table[] =
    "CREATE TABLE IF NOT EXISTS orders_data ("
    " id PRIMARY KEY,"      /* no type: a BLOB stays a BLOB, a TEXT a TEXT */
    " customer_id INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " total_cents INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " state TEXT NOT NULL"
    ") WITHOUT ROWID";

const char sqlite_orders_view[] =
    "CREATE VIEW IF NOT EXISTS orders AS SELECT " UUID_TEXT " AS uuid,"
    " customer_id, source, quantity, total_cents,"
    " printf('%d.%02d', total_cents / 100, total_cents % 100) AS total,"
    " strftime('%Y-%m-%dT%H:%M:%fZ', created_ms / 1000.0, 'unixepoch') AS created_at,"
    " state FROM orders_data";

const char sqlite_orders_index[] =
    "CREATE INDEX IF NOT EXISTS orders_data_created ON orders_data (created_ms)";

static int fail(sqlite3 *db, const char *what, char *errstr, size_t n)
{
    return sf_err(-1, errstr, n, "sqlite %s: %s: %s", sqlite3_db_filename(db, "main"),
                  what, sqlite3_errmsg(db));
}

/* 1 if orders is a table (the layout before orders_data), 0 if not, -1. */
static int old_layout(sqlite3 *db, char *errstr, size_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'orders'", -1, &st, NULL) != SQLITE_OK)
        return fail(db, "reading the schema", errstr, n);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(db, "reading the schema", errstr, n);
    return rc == SQLITE_ROW;
}

/* Copy every row of the old orders table into orders_data. */
static int copy_rows(sqlite3 *db, int64_t total, char *errstr, size_t n)
{
    const char *path = sqlite3_db_filename(db, "main");
    sqlite3_stmt *rd = NULL, *wr = NULL;
    unsigned char buf[16];
    int64_t done = 0, t0 = sf_mono_ms(), last = t0;
    int rc = -1, r;
    if (sqlite3_prepare_v2(db, "SELECT uuid, customer_id, source, quantity, total_cents,"
                           " created_at, state FROM orders", -1, &rd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO orders_data VALUES (?,?,?,?,?,?,?)",
                           -1, &wr, NULL) != SQLITE_OK) {
        fail(db, "migrating orders", errstr, n);
        goto cleanup;
    }
    while ((r = sqlite3_step(rd)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(rd, 0);
        const char *at = (const char *)sqlite3_column_text(rd, 5);
        int64_t ms;
        if (!id || !at || sf_parse_time(at, &ms)) {
            sf_err(-1, errstr, n, "sqlite %s: migrating orders: order %s has a created_at "
                   "that is not a time (\"%s\"); the database is left as it was", path,
                   id ? id : "(null)", at ? at : "(null)");
            goto cleanup;
        }
        sqlite_bind_id(wr, 1, id, buf);
        for (int c = 1; c < 5; c++)
            sqlite3_bind_value(wr, c + 1, sqlite3_column_value(rd, c));
        sqlite3_bind_int64(wr, 6, ms);
        sqlite3_bind_value(wr, 7, sqlite3_column_value(rd, 6));
        r = sqlite3_step(wr);
        sqlite3_reset(wr);
        if (r != SQLITE_DONE) {
            fail(db, "migrating orders", errstr, n);
            goto cleanup;
        }
        if (++done % 4096 == 0 && sf_mono_ms() - last >= 2000) {
            log_info("sqlite %s: migrating orders to the compact layout: %" PRId64
                     " of %" PRId64 " rows", path, done, total);
            last = sf_mono_ms();
        }
    }
    if (r != SQLITE_DONE) {
        fail(db, "migrating orders", errstr, n);
        goto cleanup;
    }
    log_info("sqlite %s: migrated %" PRId64 " orders to the compact layout in %.1f s",
             path, done, (double)(sf_mono_ms() - t0) / 1000.0);
    rc = 0;
cleanup:
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    return rc;
}

int sqlite_orders_setup(sqlite3 *db, char *errstr, size_t n)
{
    sqlite3_stmt *st = NULL;
    int64_t total = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, "creating the schema", errstr, n);
    int old = old_layout(db, errstr, n);
    if (old < 0)
        goto rollback;
    if (old) {
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM orders", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            fail(db, "migrating orders", errstr, n);
            goto rollback;
        }
        total = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);   /* an open statement would lock the table */
        st = NULL;
        log_info("sqlite %s: migrating %" PRId64 " orders to the compact layout (one "
                 "transaction: interrupted, it starts again at the next open)",
                 sqlite3_db_filename(db, "main"), total);
    }
    /* The table first: the view can only take the name orders once the
     * old table has gone. */
    if (old && (sqlite3_exec(db, sqlite_orders_table, NULL, NULL, NULL) != SQLITE_OK ||
                copy_rows(db, total, errstr, n) ||
                (sqlite3_exec(db, "DROP INDEX IF EXISTS orders_created_at;"
                              " DROP TABLE orders", NULL, NULL, NULL) != SQLITE_OK &&
                 fail(db, "migrating orders", errstr, n))))
        goto rollback;
    if (sqlite3_exec(db, sqlite_orders_table, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, sqlite_orders_view, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, sqlite_orders_index, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(db, "creating the schema", errstr, n);
        goto rollback;
    }
    sqlite3_finalize(st);
    return 0;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

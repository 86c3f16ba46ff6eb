/*
 * sqlite_insert — the reference for the replay benchmark: how fast this
 * machine's SQLite takes plain prepared INSERT OR IGNOREs of rows shaped
 * like `orders` (36-char text uuid key, WITHOUT ROWID, WAL,
 * synchronous=NORMAL), 50,000 rows per transaction — the same table and
 * batch size `salesflow replay` uses, with no decoding or aggregation.
 *
 * With "ceiling": the most this SQLite can take of such rows at all — a
 * rowid table with no key and no index, journal and sync off, an exclusive
 * lock, a 256 MiB cache, every row in one transaction. Nothing that keeps
 * rows unique or findable, so no real store can be this fast.
 *
 *   build/bench/sqlite_insert DB_PATH [ROWS [ceiling]]
 */
#include "core/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sqlite_insert DB_PATH [ROWS [ceiling]]\n");
        return 2;
    }
    long rows = argc > 2 ? atol(argv[2]) : 1000000;
    int ceiling = argc > 3 && strcmp(argv[3], "ceiling") == 0;
    long per_tx = ceiling ? rows : 50000;
    sqlite3 *db;
    sqlite3_stmt *st;
    char id[64];
    unlink(argv[1]);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
        sqlite3_exec(db, ceiling
                     ? "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                       "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-262144;"
                       "CREATE TABLE orders (uuid TEXT, customer_id INTEGER, source TEXT,"
                       " quantity INTEGER, total_cents INTEGER, created_at TEXT,"
                       " state TEXT)"
                     : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                       "CREATE TABLE orders (uuid TEXT PRIMARY KEY, customer_id INTEGER"
                       " NOT NULL, source TEXT NOT NULL, quantity INTEGER NOT NULL,"
                       " total_cents INTEGER NOT NULL, created_at TEXT NOT NULL,"
                       " state TEXT NOT NULL) WITHOUT ROWID", NULL, NULL, NULL) ||
        sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,?,?)",
                           -1, &st, NULL)) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    int64_t t0 = sf_mono_ms();
    for (long i = 0; i < rows;) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (long k = 0; k < per_tx && i < rows; k++, i++) {
            snprintf(id, sizeof(id), "01a22564-1c7c-7005-936a-%012ld", i);
            sqlite3_bind_text(st, 1, id, 36, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, i % 17 + 1);
            sqlite3_bind_text(st, 3, "Dine In", -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, i % 100 + 1);
            sqlite3_bind_int64(st, 5, (i % 100 + 1) * 30000);
            sqlite3_bind_text(st, 6, "2026-11-29T03:40:47.612Z", 24, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, "CA", 2, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    printf("%s of %ld rows into orders: %.2f s (%.0f rows/s)\n",
           ceiling ? "ceiling: INSERT with no key, index or journal"
                   : "reference: plain INSERT", rows, secs, (double)rows / secs);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

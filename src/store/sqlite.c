/*
 * sqlite — the default serving store, one SQLite file in WAL mode.
 *
 * Money is stored as integer cents (total_cents, total_sum_cents) so that
 * sums are exact; the original column names total and total_sum_amount
 * show the same value as decimal text ("2100.00"): a generated column of
 * sales, a column of the orders view. Orders are stored compactly in
 * orders_data (binary uuid, integer times; sqlite_compact.c), which the
 * view orders shows with the original columns.
 *
 * WAL lets the web layer read through its own handle while the processor
 * writes. synchronous=NORMAL may lose the last commits on power loss, but
 * never splits one: rows and log positions roll back together, and the
 * processor re-reads those orders from the log, so nothing is lost.
 */
#include "store/store.h"
#include "core/util.h"
#include "store/sqlite_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000   /* the writer's wait for a lock */

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *ins_order, *up_sales, *up_minute, *up_pos;
    sqlite3_stmt *get_sales, *get_minute;   /* a row's totals, for overflow */
    sqlite3_stmt *up_rollup[2];             /* sales_hour, sales_day */
    sqlite3_stmt *up_quarter;               /* sales_quarter */
    sqlite3_stmt *up_cust[2];               /* sales_customer_hour, _day */
    sqlite3_stmt *get_cust_day;             /* a row's totals, for overflow */
    enum store_error_kind kind;  /* of the last failed apply() */
    int rebuilding;             /* inside rebuild_begin()'s transaction */
    sqlite3_stmt *old_state;    /* rebuild: the state a stored order had, from
                                 * temp.rebuild_state (NULL: none stored) */
    int cache_size;             /* PRAGMA cache_size to restore after it */
    int rollback_journal;       /* the rebuild runs in journal_mode=DELETE */
    int64_t wal_tried_ms;       /* last reset_wal() that found readers */
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS sales ("
    " sales_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " source TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " total_sum_cents INTEGER NOT NULL,"
    " total_sum_amount TEXT GENERATED ALWAYS AS"
    "  (printf('%d.%02d', total_sum_cents / 100, total_sum_cents % 100)) VIRTUAL,"
    " order_count INTEGER NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " UNIQUE (source, state));"
    "CREATE TABLE IF NOT EXISTS sales_minute ("
    " minute TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " total_cents INTEGER NOT NULL,"
    " order_count INTEGER NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " PRIMARY KEY (minute, source, state)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS salesflow_offsets ("
    " topic TEXT NOT NULL,"
    " partition INTEGER NOT NULL,"
    " next_offset INTEGER NOT NULL,"
    " last_mark INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (topic, partition)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS salesflow_charts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL,"
    " definition TEXT NOT NULL,"
    " created TEXT NOT NULL);";

/* Databases from before marks get the column (0: no mark, the position is
 * checked the older way). Adding a column with a constant default does not
 * rewrite the table. */
static int add_mark_column(sqlite3 *db)
{
    sqlite3_stmt *st;
    int have = 0, rc;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('salesflow_offsets')"
                           " WHERE name = 'last_mark'", -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    have = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (have)
        return 0;
    return sqlite3_exec(db, "ALTER TABLE salesflow_offsets ADD COLUMN"
                        " last_mark INTEGER NOT NULL DEFAULT 0", NULL, NULL, NULL) ==
                   SQLITE_OK ? 0 : -1;
}

/* WAL mode and the schema, at open. Going into WAL mode needs the file to
 * itself for a moment, and SQLite answers "busy" at once, without waiting,
 * while another connection holds a write lock (a replay rebuilding through
 * a rollback journal): so this waits here, up to BUSY_TIMEOUT_MS. 0 or -1. */
static int open_schema(sqlite3 *db, char *errstr, size_t n)
{
    const char *path = sqlite3_db_filename(db, "main");
    int64_t until = sf_mono_ms() + BUSY_TIMEOUT_MS;
    for (;;) {
        if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
                         NULL, NULL) == SQLITE_OK &&
            sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK && !add_mark_column(db))
            return 0;
        if ((sqlite3_errcode(db) & 0xff) != SQLITE_BUSY)
            return sf_err(-1, errstr, n, "sqlite %s: creating the schema: %s", path,
                          sqlite3_errmsg(db));
        if (sf_mono_ms() >= until)
            return sf_err(-1, errstr, n, "sqlite %s: still locked by another process after "
                          "%d s (a salesflow replay rebuilding it, or a client holding a "
                          "transaction open); start again when it is done", path,
                          BUSY_TIMEOUT_MS / 1000);
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

static int fail(struct sqlite_store *s, const char *what, char *errstr, size_t n)
{
    return sf_err(-1, errstr, n, "sqlite %s: %s: %s", sqlite3_db_filename(s->db, "main"),
                  what, sqlite3_errmsg(s->db));
}

static void sqlite_close(struct store *b)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    if (!s)
        return;
    sqlite3_finalize(s->ins_order);
    sqlite3_finalize(s->up_sales);
    sqlite3_finalize(s->up_minute);
    sqlite3_finalize(s->up_pos);
    sqlite3_finalize(s->get_sales);
    sqlite3_finalize(s->get_minute);
    sqlite3_finalize(s->up_rollup[0]);
    sqlite3_finalize(s->up_rollup[1]);
    sqlite3_finalize(s->up_quarter);
    sqlite3_finalize(s->up_cust[0]);
    sqlite3_finalize(s->up_cust[1]);
    sqlite3_finalize(s->get_cust_day);
    sqlite3_finalize(s->old_state);
    sqlite3_close(s->db);
    free(s);
}

/* A rebuild is one transaction: the old rows go, the index on created_at
 * is dropped and built again at the end in one sorted pass (much cheaper
 * than keeping it up to date row by row), and a larger page cache keeps the
 * pages being filled in memory. */
#define REBUILD_CACHE_KIB 131072
#define POOL_PAGE 4096          /* the page size of the databases made here */

static int rebuild_process;     /* store_expect_rebuild() was called */

void store_expect_rebuild(void)
{
    rebuild_process = 1;
}

/* A process that rebuilds (salesflow replay) fills a page cache of
 * REBUILD_CACHE_KIB. Page by page from malloc, that is one page fault per
 * 4 KiB and a TLB miss on most B-tree steps; from one region the kernel may
 * back with huge pages (MADV_HUGEPAGE: honoured when transparent huge pages
 * are "always" or "madvise", as Debian's default), it is a few hundred faults
 * and far fewer misses. The region is only address space until touched;
 * pages past it come from malloc as before. */
static void page_cache_pool(void)
{
    int hdr = 0;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK)
        return;
    int sz = (POOL_PAGE + hdr + 7) & ~7;
    int lines = REBUILD_CACHE_KIB / (POOL_PAGE / 1024);
    size_t bytes = (size_t)sz * (size_t)lines;
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;
    (void)madvise(mem, bytes, MADV_HUGEPAGE);
    if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, mem, sz, lines) != SQLITE_OK)
        munmap(mem, bytes);
}

/* SQLite counts every allocation under a global mutex by default; nothing
 * here reads those counts, and the lock and the count cost about 3 % of a
 * replay. Set once, before SQLite's first use in the process (after it,
 * sqlite3_config refuses and the default stays). */
static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rebuild_process)
        page_cache_pool();
}

static int sqlite_open(struct store **out, const char *path, char *errstr, size_t n)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sqlite_configure);
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return sf_err(-1, errstr, n, "out of memory");
    s->base.ops = &sqlite_store_ops;
    /* SQLite would create the file 0644 less the umask, and gives its -wal
     * and -shm the main file's mode: create it 0600 first, so all three are
     * the owner's alone (an empty file is an empty database). Only when it
     * does not exist (O_EXCL): closing a descriptor of a file drops every
     * POSIX lock this process holds on it, so opening and closing an
     * existing database here would pull the locks from under another
     * connection of the same process (run's processor, when the dashboard
     * opens its own). */
    if (*path && strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sf_err(-1, errstr, n, "cannot open SQLite database %s: %s", path,
               s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (open_schema(s->db, errstr, n))
        goto fail;
    if (sqlite_orders_setup(s->db, errstr, n) || sqlite_rollups_setup(s->db, errstr, n) ||
        sqlite_customer_rollups_setup(s->db, errstr, n))
        goto fail;
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO orders_data (id, customer_id, source, quantity,"
        " total_cents, created_ms, state) VALUES (?,?,?,?,?,?,?)",
        "INSERT INTO sales (source, state, total_sum_cents, order_count, quantity,"
        " updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT (source, state) DO UPDATE"
        " SET total_sum_cents = total_sum_cents + excluded.total_sum_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity,"
        " updated_at = max(updated_at, excluded.updated_at)",
        "INSERT INTO sales_minute (minute, source, state, total_cents, order_count,"
        " quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (minute, source, state) DO"
        " UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
        "INSERT INTO salesflow_offsets (topic, partition, next_offset, last_mark)"
        " VALUES (?,?,?,?) ON CONFLICT (topic, partition) DO UPDATE"
        " SET next_offset = excluded.next_offset, last_mark = excluded.last_mark",
        "SELECT total_sum_cents, order_count, quantity FROM sales"
        " WHERE source = ? AND state = ?",
        "SELECT total_cents, order_count, quantity FROM sales_minute"
        " WHERE minute = ? AND source = ? AND state = ?",
        "INSERT INTO sales_hour (hour, source, state, total_cents, order_count,"
        " quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (hour, source, state) DO"
        " UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
        "INSERT INTO sales_day (day, source, state, total_cents, order_count,"
        " quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (day, source, state) DO"
        " UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
        "INSERT INTO sales_customer_hour (hour, customer_id, source, total_cents,"
        " order_count, quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (hour, customer_id,"
        " source) DO UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
        "INSERT INTO sales_customer_day (day, customer_id, source, total_cents,"
        " order_count, quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (day, customer_id,"
        " source) DO UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
        "SELECT total_cents, order_count, quantity FROM sales_customer_day"
        " WHERE day = ? AND customer_id = ? AND source = ?",
        "INSERT INTO sales_quarter (quarter, source, state, total_cents, order_count,"
        " quantity) VALUES (?,?,?,?,?,?) ON CONFLICT (quarter, source, state) DO"
        " UPDATE SET total_cents = total_cents + excluded.total_cents,"
        " order_count = order_count + excluded.order_count,"
        " quantity = quantity + excluded.quantity",
    };
    sqlite3_stmt **st[] = {&s->ins_order, &s->up_sales, &s->up_minute, &s->up_pos,
                           &s->get_sales, &s->get_minute, &s->up_rollup[0],
                           &s->up_rollup[1], &s->up_cust[0], &s->up_cust[1],
                           &s->get_cust_day, &s->up_quarter};
    for (size_t i = 0; i < SF_ARRAY_LEN(sql); i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, st[i], NULL) != SQLITE_OK) {
            fail(s, "preparing statements", errstr, n);
            goto fail;
        }
    }
    *out = &s->base;
    return 0;
fail:
    sqlite_close(&s->base);
    return -1;
}

static int sqlite_load_positions(struct store *b, const char *topic, int64_t *next,
                                 int64_t *mark, int nparts, char *errstr, size_t n)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    sqlite3_stmt *st;
    for (int i = 0; i < nparts; i++) {
        next[i] = 0;
        if (mark)
            mark[i] = 0;
    }
    if (sqlite3_prepare_v2(s->db, "SELECT partition, next_offset, last_mark FROM"
                           " salesflow_offsets WHERE topic = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(s, "reading log positions", errstr, n);
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int p = sqlite3_column_int(st, 0);
        if (p >= 0 && p < nparts) {
            next[p] = sqlite3_column_int64(st, 1);
            if (mark)
                mark[p] = sqlite3_column_int64(st, 2);
        } else
            log_warn("store has a position for partition %d of %s, which has "
                     "only %d partitions; ignored", p, topic, nparts);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "reading log positions", errstr, n);
}

static int sqlite_has_orders(struct store *b, const char *const *ids, int n,
                             char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    sqlite3_stmt *st;
    unsigned char key[16];
    int found = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM orders_data WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(s, "looking up orders", errstr, en);
    for (int i = 0; i < n && found >= 0; i++) {
        sqlite_bind_id(st, 1, ids[i], key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            found++;
        else if (rc != SQLITE_DONE)
            found = -1;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return found >= 0 ? found : fail(s, "looking up orders", errstr, en);
}

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* SQLite turns an integer sum past 2^63 - 1 into a REAL: an aggregate
 * would go wrong silently. The batch's own sums first (all its orders'
 * totals, counts and quantities fit, so no key's delta overflows), then
 * each key's row plus its delta (st: get_sales or get_minute, its key
 * bound from column 1 on). Returns 0, 1 (would overflow: errstr says
 * where) or -1 (a failed read: errstr). */
static int would_overflow(struct sqlite_store *s, sqlite3_stmt *st, const char *table,
                          const struct sales_delta *d, char *errstr, size_t en)
{
    int64_t have[3], add[3] = {d->total_cents, d->count, d->quantity}, sum;
    int r = sqlite3_step(st);
    for (int c = 0; r == SQLITE_ROW && c < 3; c++)
        have[c] = sqlite3_column_int64(st, c);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (r == SQLITE_DONE)
        return 0;
    if (r != SQLITE_ROW)
        return fail(s, "reading the aggregates", errstr, en);
    for (int c = 0; c < 3; c++)
        if (__builtin_add_overflow(have[c], add[c], &sum)) {
            if (st == s->get_cust_day)
                sf_err(-1, errstr, en, "%s (%s, customer %" PRId64 ", %s) would pass the "
                       "largest integer SQLite holds (%" PRId64 ") in its %s", table,
                       d->minute, d->customer_id, d->source_name, INT64_MAX,
                       c == 0 ? "amount (cents)" : c == 1 ? "order count" : "quantity");
            else
                sf_err(-1, errstr, en, "%s (%s, %s%s%s) would pass the largest integer "
                       "SQLite holds (%" PRId64 ") in its %s", table, d->source_name,
                       d->state, st == s->get_minute ? ", " : "",
                       st == s->get_minute ? d->minute : "", INT64_MAX,
                       c == 0 ? "amount (cents)" : c == 1 ? "order count" : "quantity");
            return 1;
        }
    return 0;
}

/* Replay keeps the state an order was stored with (the customer may have
 * moved since); the catalog's is only for orders new to the store. *own:
 * a copy of rows with those states (NULL when there is nothing to look
 * up). 0 or -1. */
static int stored_states(struct sqlite_store *s, const struct store_order *rows,
                         size_t n, struct store_order **own, char *errstr, size_t en)
{
    unsigned char idb[16];
    *own = NULL;
    if (!s->rebuilding || !s->old_state || !n)
        return 0;
    if (!(*own = malloc(n * sizeof(**own))))
        return sf_err(-1, errstr, en, "out of memory");
    memcpy(*own, rows, n * sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        struct store_order *o = &(*own)[i];
        sqlite_bind_id(s->old_state, 1, o->o.order_id, idb);
        int r = sqlite3_step(s->old_state);
        if (r == SQLITE_ROW)
            snprintf(o->state, sizeof(o->state), "%s",
                     (const char *)sqlite3_column_text(s->old_state, 0));
        sqlite3_reset(s->old_state);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            return fail(s, "looking up the state of stored orders", errstr, en);
    }
    return 0;
}

/* Insert the rows into orders_data; ins[i]: row i was new. 0 or -1. */
static int insert_rows(struct sqlite_store *s, const struct store_order *rows, size_t n,
                       unsigned char *ins, size_t *added, char *errstr, size_t en)
{
    sqlite3_stmt *st = s->ins_order;
    unsigned char idb[16];
    for (size_t i = 0; i < n; i++) {
        const struct order *o = &rows[i].o;
        sqlite_bind_id(st, 1, o->order_id, idb);
        sqlite3_bind_int64(st, 2, o->customer_id);
        sqlite3_bind_text(st, 3, rows[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, o->quantity);
        sqlite3_bind_int64(st, 5, o->total_cents);
        sqlite3_bind_int64(st, 6, o->created_ms);
        sqlite3_bind_text(st, 7, rows[i].state, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
            return fail(s, "inserting into orders", errstr, en);
        ins[i] = sqlite3_changes(s->db) == 1;
        *added += ins[i];
    }
    return 0;
}

/* 0 if neither the batch's own sums nor any aggregate row plus its delta
 * would pass INT64_MAX; 1 if one would (errstr says where); -1 on a failed
 * read. Of the customer rollups only sales_customer_day is read: an hour's
 * row never holds more than its day's (nothing is negative), while a day's
 * row may hold more than any one row of sales (a customer's orders may
 * carry several states). */
static int check_overflow(struct sqlite_store *s, const struct store_order *rows,
                          const unsigned char *ins, size_t n,
                          const struct sales_delta *ds, size_t nds,
                          const struct sales_delta *dm, size_t ndm,
                          const struct sales_delta *dcd, size_t ndcd,
                          char *errstr, size_t en)
{
    int64_t sum[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        int64_t t[3] = {rows[i].o.total_cents, 1, rows[i].o.quantity};
        for (int c = 0; ins[i] && c < 3; c++)
            if (__builtin_add_overflow(sum[c], t[c], &sum[c])) {
                sf_err(-1, errstr, en, "the batch's orders add up past the largest "
                       "integer SQLite holds (%" PRId64 ")", INT64_MAX);
                return 1;
            }
    }
    for (size_t i = 0; i < nds + ndm; i++) {
        const struct sales_delta *d = i < nds ? &ds[i] : &dm[i - nds];
        sqlite3_stmt *st = i < nds ? s->get_sales : s->get_minute;
        int k = 1;
        if (i >= nds)
            sqlite3_bind_text(st, k++, d->minute, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, k++, d->source_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, k, d->state, -1, SQLITE_STATIC);
        int r = would_overflow(s, st, i < nds ? "sales" : "sales_minute", d, errstr, en);
        if (r)
            return r;
    }
    for (size_t i = 0; i < ndcd; i++) {
        sqlite3_stmt *st = s->get_cust_day;
        sqlite3_bind_text(st, 1, dcd[i].minute, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dcd[i].customer_id);
        sqlite3_bind_text(st, 3, dcd[i].source_name, -1, SQLITE_STATIC);
        int r = would_overflow(s, st, "sales_customer_day", &dcd[i], errstr, en);
        if (r)
            return r;
    }
    return 0;
}

/* Store next[p] (and mark[p], or 0) for every p with next[p] >= 0. */
static int write_positions(struct sqlite_store *s, const char *topic, const int64_t *next,
                           const int64_t *mark, int nparts, char *errstr, size_t en)
{
    for (int p = 0; p < nparts; p++) {
        if (next[p] < 0)
            continue;
        sqlite3_stmt *st = s->up_pos;
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, p);
        sqlite3_bind_int64(st, 3, next[p]);
        sqlite3_bind_int64(st, 4, mark ? mark[p] : 0);
        if (step_reset(st))
            return fail(s, "storing log positions", errstr, en);
    }
    return 0;
}

/* Add the deltas to sales and sales_minute. 0 or -1. */
static int update_aggregates(struct sqlite_store *s, const struct sales_delta *ds,
                             size_t nds, const struct sales_delta *dm, size_t ndm,
                             char *errstr, size_t en)
{
    char now[32];
    for (size_t i = 0; i < nds; i++) {
        sqlite3_stmt *st = s->up_sales;
        sqlite3_bind_text(st, 1, ds[i].source_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, ds[i].state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ds[i].total_cents);
        sqlite3_bind_int64(st, 4, ds[i].count);
        sqlite3_bind_int64(st, 5, ds[i].quantity);
        sqlite3_bind_text(st, 6, sf_format_time(ds[i].updated_ms, now), -1,
                          SQLITE_TRANSIENT);
        if (step_reset(st))
            return fail(s, "updating sales", errstr, en);
    }
    for (size_t i = 0; i < ndm; i++) {
        sqlite3_stmt *st = s->up_minute;
        sqlite3_bind_text(st, 1, dm[i].minute, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, dm[i].source_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, dm[i].state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, dm[i].total_cents);
        sqlite3_bind_int64(st, 5, dm[i].count);
        sqlite3_bind_int64(st, 6, dm[i].quantity);
        if (step_reset(st))
            return fail(s, "updating sales_minute", errstr, en);
    }
    return 0;
}

/* The quarter-hour, hour and day rollups of the batch's minute deltas,
 * each folded per key from them (a few keys a batch, not one per order).
 * No overflow check of their own: a row of sales_day (or sales_hour,
 * sales_quarter) never holds more than
 * the row of sales for its (source, state), which check_overflow checked
 * (every amount, count and quantity is non-negative). 0 or -1. */
static int update_rollups(struct sqlite_store *s, const struct sales_delta *dm,
                          size_t ndm, char *errstr, size_t en)
{
    static const int key_len[3] = {SALES_ROLLUP_QUARTER, 13, 10};
    static const char *const what[3] = {"updating sales_quarter", "updating sales_hour",
                                        "updating sales_day"};
    sqlite3_stmt *up[3] = {s->up_quarter, s->up_rollup[0], s->up_rollup[1]};
    for (int t = 0; t < 3; t++) {
        struct sales_delta *d = NULL;
        size_t nd = 0;
        if (sales_rollup(dm, ndm, key_len[t], &d, &nd))
            return sf_err(-1, errstr, en, "out of memory");
        for (size_t i = 0; i < nd; i++) {
            sqlite3_stmt *st = up[t];
            sqlite3_bind_text(st, 1, d[i].minute, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, d[i].source_name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, d[i].state, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, d[i].total_cents);
            sqlite3_bind_int64(st, 5, d[i].count);
            sqlite3_bind_int64(st, 6, d[i].quantity);
            if (step_reset(st)) {
                free(d);
                return fail(s, what[t], errstr, en);
            }
        }
        free(d);
    }
    return 0;
}

/* SQLite starts its WAL over only at a moment when no reader uses it; its
 * automatic checkpoints (passive, every 1,000 pages) copy pages into the
 * database but never wait for such a moment. Readers that overlap without
 * a gap (dashboards, scripts polling sales.db) leave none, and the WAL
 * then grows for as long as they read: 5 GB in 5 minutes at 5,000
 * orders/s. So past WAL_RESET_BYTES the writer checkpoints and truncates
 * it, waiting at most WAL_RESET_WAIT_MS for the readers of the moment to
 * finish (new readers read the database file meanwhile); when they do not,
 * it tries again WAL_RETRY_MS later rather than hold up every commit. */
#define WAL_RESET_BYTES (16 << 20)
#define WAL_RESET_WAIT_MS 200
#define WAL_RETRY_MS 2000

static void reset_wal(struct sqlite_store *s)
{
    const char *db = sqlite3_db_filename(s->db, "main");
    char wal[4096];
    struct stat st;
    if (!db || !*db || snprintf(wal, sizeof(wal), "%s-wal", db) >= (int)sizeof(wal) ||
        stat(wal, &st) != 0 || st.st_size < WAL_RESET_BYTES ||
        (s->wal_tried_ms && sf_mono_ms() - s->wal_tried_ms < WAL_RETRY_MS))
        return;
    sqlite3_busy_timeout(s->db, WAL_RESET_WAIT_MS);
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    s->wal_tried_ms = rc == SQLITE_OK ? 0 : sf_mono_ms();
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("sqlite %s: resetting the write-ahead log (%lld bytes): %s", db,
                 (long long)st.st_size, sqlite3_errmsg(s->db));
}

/* The customer rollups: the hour deltas, then the day deltas (dc[0], dc[1],
 * from sales_customer_deltas). 0 or -1. */
static int update_customer_rollups(struct sqlite_store *s, struct sales_delta *const dc[2],
                                   const size_t ndc[2], char *errstr, size_t en)
{
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < ndc[t]; i++) {
            const struct sales_delta *d = &dc[t][i];
            sqlite3_stmt *st = s->up_cust[t];
            sqlite3_bind_text(st, 1, d->minute, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, d->customer_id);
            sqlite3_bind_text(st, 3, d->source_name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, d->total_cents);
            sqlite3_bind_int64(st, 5, d->count);
            sqlite3_bind_int64(st, 6, d->quantity);
            if (step_reset(st))
                return fail(s, t ? "updating sales_customer_day"
                                 : "updating sales_customer_hour", errstr, en);
        }
    }
    return 0;
}

static int sqlite_apply(struct store *b, const char *topic,
                        const struct store_order *rows, size_t n,
                        const int64_t *next, const int64_t *mark, int nparts,
                        size_t *inserted, char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    unsigned char *ins = calloc(n ? n : 1, 1);
    struct sales_delta *ds = NULL, *dm = NULL, *dc[2] = {NULL, NULL};
    struct store_order *own = NULL;
    size_t nds = 0, ndm = 0, ndc[2] = {0, 0}, added = 0;
    int rc = -1, r;

    s->kind = STORE_ERR_TRANSIENT;
    if (!ins)
        return sf_err(-1, errstr, en, "out of memory");
    if (stored_states(s, rows, n, &own, errstr, en))
        goto out;
    if (own)
        rows = own;
    /* In a rebuild, a savepoint: a batch the store refuses is undone on its
     * own, and the rebuild goes on without it (replay takes it apart). */
    if (sqlite3_exec(s->db, s->rebuilding ? "SAVEPOINT sf_apply" : "BEGIN IMMEDIATE", NULL,
                     NULL, NULL) != SQLITE_OK) {
        fail(s, "BEGIN", errstr, en);
        goto out;
    }
    if (insert_rows(s, rows, n, ins, &added, errstr, en))
        goto rollback;
    if (sales_deltas(rows, ins, n, &ds, &nds, &dm, &ndm) ||
        sales_customer_deltas(rows, ins, n, &dc[0], &ndc[0], &dc[1], &ndc[1])) {
        sf_err(-1, errstr, en, "out of memory");
        goto rollback;
    }
    if ((r = check_overflow(s, rows, ins, n, ds, nds, dm, ndm, dc[1], ndc[1], errstr,
                            en))) {
        if (r > 0)
            s->kind = STORE_ERR_DATA;
        goto rollback;
    }
    if (update_aggregates(s, ds, nds, dm, ndm, errstr, en) ||
        update_rollups(s, dm, ndm, errstr, en) ||
        update_customer_rollups(s, dc, ndc, errstr, en) ||
        write_positions(s, topic, next, mark, nparts, errstr, en))
        goto rollback;
    if (sqlite3_exec(s->db, s->rebuilding ? "RELEASE sf_apply" : "COMMIT", NULL, NULL,
                     NULL) != SQLITE_OK) {
        fail(s, "COMMIT", errstr, en);
        goto rollback;
    }
    *inserted = added;
    rc = 0;
    if (!s->rebuilding)
        reset_wal(s);
    goto out;
rollback:
    sqlite3_exec(s->db, s->rebuilding ? "ROLLBACK TO sf_apply; RELEASE sf_apply" : "ROLLBACK",
                 NULL, NULL, NULL);
out:
    free(ins);
    free(own);
    free(ds);
    free(dm);
    free(dc[0]);
    free(dc[1]);
    return rc;
}

/* Empty the serving tables inside an open transaction. */
static int empty_tables(struct sqlite_store *s, const char *topic, char *errstr, size_t en)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_exec(s->db, "DELETE FROM orders_data; DELETE FROM sales; DELETE FROM sales_minute;"
                     " DELETE FROM sales_quarter; DELETE FROM sales_hour; DELETE FROM sales_day;"
                     " DELETE FROM sales_customer_hour; DELETE FROM sales_customer_day;"
                     " DELETE FROM sqlite_sequence WHERE name = 'sales'",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM salesflow_offsets WHERE topic = ?", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = fail(s, "emptying the serving tables", errstr, en);
    sqlite3_finalize(st);
    return rc;
}

/* The state of every stored order, kept aside (temp.rebuild_state) before a
 * rebuild empties orders, for apply() to use. 0 or -1. */
static int keep_states(struct sqlite_store *s, char *errstr, size_t en)
{
    sqlite3_finalize(s->old_state);
    s->old_state = NULL;
    if (sqlite3_exec(s->db, "DROP TABLE IF EXISTS temp.rebuild_state;"
                     " CREATE TEMP TABLE rebuild_state (id PRIMARY KEY,"
                     " state TEXT NOT NULL) WITHOUT ROWID;"
                     " INSERT INTO temp.rebuild_state SELECT id, state FROM orders_data",
                     NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "keeping the states of stored orders", errstr, en);
    if (sqlite3_changes(s->db) > 0 &&
        sqlite3_prepare_v2(s->db, "SELECT state FROM temp.rebuild_state WHERE id = ?",
                           -1, &s->old_state, NULL) != SQLITE_OK)
        return fail(s, "keeping the states of stored orders", errstr, en);
    return 0;
}

static void drop_states(struct sqlite_store *s)
{
    sqlite3_finalize(s->old_state);
    s->old_state = NULL;
    sqlite3_exec(s->db, "DROP TABLE IF EXISTS temp.rebuild_state", NULL, NULL, NULL);
}


/* In WAL mode every page of a rebuild is written twice: into the WAL at the
 * commit, then into the database by the checkpoint. With a rollback journal
 * a page is written once into the database; into a database without
 * orders (new, or emptied) it journals next to nothing (SQLite journals
 * neither the pages past the file's old end nor those that were free).
 * So a rebuild into such a database switches to journal_mode=DELETE, when
 * it can: leaving WAL mode needs the database to itself (a `serve` holding
 * it open keeps the rebuild in WAL mode, reading the old tables meanwhile),
 * with synchronous=FULL, which a rollback journal needs to survive a power
 * loss. Killed half-way, the journal left behind rolls the database back
 * at its next read-write open; rebuild_end() goes back to WAL mode, as
 * every open does. */
static void rebuild_journal(struct sqlite_store *s)
{
    sqlite3_stmt *q;
    s->rollback_journal = 0;
    /* Only into a database without orders: a journal left by a kill is
     * rolled back by the next read-write open, and until then a read-only
     * reader of the file cannot read it at all (it would have to write to
     * roll it back). */
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM orders_data LIMIT 1", -1, &q, NULL) !=
        SQLITE_OK)
        return;
    int empty = sqlite3_step(q) == SQLITE_DONE;
    sqlite3_finalize(q);
    if (!empty)
        return;
    sqlite3_busy_timeout(s->db, 0);
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=DELETE", -1, &q, NULL) == SQLITE_OK) {
        s->rollback_journal = sqlite3_step(q) == SQLITE_ROW &&
                              sqlite3_column_text(q, 0) &&
                              strcmp((const char *)sqlite3_column_text(q, 0), "delete") == 0;
        sqlite3_finalize(q);
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (s->rollback_journal)
        sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
}

static void rebuild_journal_end(struct sqlite_store *s)
{
    if (!s->rollback_journal)
        return;
    s->rollback_journal = 0;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL,
                     NULL, NULL) != SQLITE_OK)
        log_warn("sqlite %s: going back to WAL mode after the rebuild: %s (the next "
                 "open does it)", sqlite3_db_filename(s->db, "main"), sqlite3_errmsg(s->db));
}

static int sqlite_rebuild_begin(struct store *b, const char *topic, char *errstr,
                                size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    char pragma[64];
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "PRAGMA cache_size", -1, &q, NULL) != SQLITE_OK)
        return fail(s, "starting the rebuild", errstr, en);
    s->cache_size = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -2000;
    sqlite3_finalize(q);
    rebuild_journal(s);
    snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%d", REBUILD_CACHE_KIB);
    /* With a rollback journal, a reader that came after the start would
     * hold up the commit (which must wait for every read lock to go) until
     * the rebuild gave up: so the rebuild takes the file exclusively at
     * once, and such a reader is told it is locked instead (there was
     * nothing to read). In WAL mode readers never hold up a commit. */
    if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, s->rollback_journal ? "BEGIN EXCLUSIVE" : "BEGIN IMMEDIATE",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "starting the rebuild", errstr, en);
        rebuild_journal_end(s);
        return -1;
    }
    if (keep_states(s, errstr, en) || empty_tables(s, topic, errstr, en) ||
        (sqlite3_exec(s->db, "DROP INDEX IF EXISTS orders_data_created", NULL, NULL,
                      NULL) != SQLITE_OK &&
         fail(s, "starting the rebuild", errstr, en))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        drop_states(s);
        rebuild_journal_end(s);
        return -1;
    }
    s->rebuilding = 1;
    return 0;
}

static int sqlite_rebuild_end(struct store *b, int commit, char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    int rc = 0;
    if (!s->rebuilding)
        return 0;
    s->rebuilding = 0;
    if (commit && (sqlite3_exec(s->db, sqlite_orders_index, NULL, NULL, NULL) != SQLITE_OK ||
                   sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK))
        rc = fail(s, "committing the rebuild", errstr, en);
    if (!commit || rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    drop_states(s);
    rebuild_journal_end(s);
    char pragma[64];
    snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=%d", s->cache_size);
    sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
    return rc;
}

static int sqlite_sales(struct store *b, struct sales_row **rows, size_t *n,
                        char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    sqlite3_stmt *st;
    size_t cap = 16, k = 0;
    struct sales_row *r = malloc(cap * sizeof(*r));
    if (!r)
        return sf_err(-1, errstr, en, "out of memory");
    if (sqlite3_prepare_v2(s->db,
                           "SELECT source, state, total_sum_cents, order_count,"
                           " quantity, updated_at FROM sales"
                           " ORDER BY total_sum_cents DESC, source, state",
                           -1, &st, NULL) != SQLITE_OK) {
        free(r);
        return fail(s, "reading sales", errstr, en);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            struct sales_row *nr = realloc(r, (cap *= 2) * sizeof(*r));
            if (!nr) {
                rc = SQLITE_NOMEM;
                break;
            }
            r = nr;
        }
        struct sales_row *x = &r[k++];
        snprintf(x->source, sizeof(x->source), "%s", sqlite3_column_text(st, 0));
        snprintf(x->state, sizeof(x->state), "%s", sqlite3_column_text(st, 1));
        x->total_cents = sqlite3_column_int64(st, 2);
        x->order_count = sqlite3_column_int64(st, 3);
        x->quantity = sqlite3_column_int64(st, 4);
        snprintf(x->updated_at, sizeof(x->updated_at), "%s", sqlite3_column_text(st, 5));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(r);
        return fail(s, "reading sales", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

/* ---- dashboard queries ---------------------------------------------- */

/* Bind f's values from parameter index *i on. */
static void filter_bind(sqlite3_stmt *st, int *i, const struct store_filter *f)
{
    for (size_t k = 0; f && k < f->nsources; k++)
        sqlite3_bind_text(st, (*i)++, f->sources[k], -1, SQLITE_STATIC);
    for (size_t k = 0; f && k < f->nstates; k++)
        sqlite3_bind_text(st, (*i)++, f->states[k], -1, SQLITE_STATIC);
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Grow *rows (element size sz) so that index k fits; -1 on OOM. */
static int grow(void **rows, size_t *cap, size_t k, size_t sz)
{
    if (k < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*rows, nc * sz);
    if (!p)
        return -1;
    *rows = p;
    *cap = nc;
    return 0;
}

static int sqlite_sales_minute(struct store *b, const struct store_filter *f,
                               const char *from, const char *to,
                               struct minute_row **rows, size_t *n, char *errstr,
                               size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    char sql[1024] = "SELECT minute, source, sum(total_cents), sum(order_count),"
                     " sum(quantity) FROM sales_minute WHERE minute >= ? AND minute < ?";
    sqlite3_stmt *st;
    store_filter_sql(sql, sizeof(sql), f);
    strncat(sql, " GROUP BY minute, source ORDER BY minute, source",
            sizeof(sql) - strlen(sql) - 1);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, "reading sales_minute", errstr, en);
    int i = 1;
    sqlite3_bind_text(st, i++, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, to, -1, SQLITE_STATIC);
    filter_bind(st, &i, f);
    struct minute_row *r = NULL;
    size_t cap = 0, k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&r, &cap, k, sizeof(*r))) {
            rc = SQLITE_NOMEM;
            break;
        }
        struct minute_row *x = &r[k++];
        copy_col(x->minute, sizeof(x->minute), st, 0);
        copy_col(x->source, sizeof(x->source), st, 1);
        x->total_cents = sqlite3_column_int64(st, 2);
        x->order_count = sqlite3_column_int64(st, 3);
        x->quantity = sqlite3_column_int64(st, 4);
    }
    /* sum() of integers fails rather than round: a minute's states of one
     * source past int64 (each row of them fits). */
    int overflow = rc == SQLITE_ERROR && !strcmp(sqlite3_errmsg(s->db), "integer overflow");
    sqlite3_finalize(st);
    if (overflow) {
        free(r);
        return sf_err(STORE_E_OVERFLOW, errstr, en, "a sum passes the largest integer");
    }
    if (rc != SQLITE_DONE) {
        free(r);
        return rc == SQLITE_NOMEM ? sf_err(-1, errstr, en, "out of memory")
                                  : fail(s, "reading sales_minute", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

static int sqlite_recent_orders(struct store *b, const struct store_filter *f,
                                size_t limit, struct order_row **rows, size_t *n,
                                char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    char sql[1536] = "SELECT id, customer_id, source, quantity, total_cents,"
                     " created_ms, state FROM orders_data WHERE created_ms <= ?";
    sqlite3_stmt *st;
    char ts[32];
    if (f && f->ranged)
        strncat(sql, " AND created_ms >= ? AND created_ms < ?",
                sizeof(sql) - strlen(sql) - 1);
    store_filter_sql(sql, sizeof(sql), f);
    /* Ties of created_ms by the order_id text, as before the compact
     * layout (SQLite sorts only each tie, walking the index for the rest). */
    snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
             " ORDER BY created_ms DESC, %s DESC LIMIT ?", sqlite_uuid_text_sql);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, "reading orders", errstr, en);
    int i = 1;
    sqlite3_bind_int64(st, i++, store_filter_has_end(f) ? SF_TIME_MAX_MS : sf_now_ms());
    if (f && f->ranged) {
        sqlite3_bind_int64(st, i++, f->from_ms);
        sqlite3_bind_int64(st, i++, f->to_ms);
    }
    filter_bind(st, &i, f);
    sqlite3_bind_int64(st, i, (sqlite3_int64)limit);
    struct order_row *r = NULL;
    size_t cap = 0, k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&r, &cap, k, sizeof(*r))) {
            rc = SQLITE_NOMEM;
            break;
        }
        struct order_row *x = &r[k++];
        sqlite_column_id(st, 0, x->order_id, sizeof(x->order_id));
        x->customer_id = sqlite3_column_int64(st, 1);
        copy_col(x->source, sizeof(x->source), st, 2);
        x->quantity = sqlite3_column_int64(st, 3);
        x->total_cents = sqlite3_column_int64(st, 4);
        snprintf(x->created_at, sizeof(x->created_at), "%s",
                 sf_format_time(sqlite3_column_int64(st, 5), ts));
        copy_col(x->state, sizeof(x->state), st, 6);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(r);
        return rc == SQLITE_NOMEM ? sf_err(-1, errstr, en, "out of memory")
                                  : fail(s, "reading orders", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

static int sqlite_positions(struct store *b, const char *topic,
                            struct store_position **rows, size_t *n,
                            char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    sqlite3_stmt *st;
    /* A bare topic name: every identity of it (see store.h). */
    if (sqlite3_prepare_v2(s->db, "SELECT partition, next_offset FROM"
                           " salesflow_offsets WHERE topic = ?1 OR (instr(?1, '@') = 0"
                           " AND substr(topic, 1, length(?1) + 1) = ?1 || '@')"
                           " ORDER BY partition", -1, &st, NULL) != SQLITE_OK)
        return fail(s, "reading log positions", errstr, en);
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
    struct store_position *r = NULL;
    size_t cap = 0, k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&r, &cap, k, sizeof(*r))) {
            rc = SQLITE_NOMEM;
            break;
        }
        r[k].partition = sqlite3_column_int(st, 0);
        r[k].next_offset = sqlite3_column_int64(st, 1);
        k++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(r);
        return rc == SQLITE_NOMEM ? sf_err(-1, errstr, en, "out of memory")
                                  : fail(s, "reading log positions", errstr, en);
    }
    *rows = r;
    *n = k;
    return 0;
}

static int sqlite_adopt_positions(struct store *b, const char *topic, const char *key,
                                  char *errstr, size_t en)
{
    struct sqlite_store *s = (struct sqlite_store *)b;
    sqlite3_stmt *st = NULL;
    int rc = -1, have = 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "BEGIN", errstr, en);
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM salesflow_offsets WHERE topic = ?",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto fail;
    have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (!have) {
        if (sqlite3_prepare_v2(s->db, "UPDATE salesflow_offsets SET topic = ?"
                               " WHERE topic = ?", -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
        rc = sqlite3_changes(s->db);
        sqlite3_finalize(st);
        st = NULL;
    } else {
        rc = 0;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return rc;
fail:
    fail(s, "taking over positions stored without identity", errstr, en);
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int sqlite_query_op(struct store *b, const struct store_query *q, int level,
                           int64_t from_ms, int64_t to_ms, struct query_row **rows,
                           size_t *n, char *errstr, size_t en)
{
    return sqlite_query(((struct sqlite_store *)b)->db, q, level, from_ms, to_ms, rows, n,
                        errstr, en);
}
static int sqlite_charts_op(struct store *b, struct store_chart **rows, size_t *n,
                            char *errstr, size_t en)
{
    return sqlite_charts(((struct sqlite_store *)b)->db, rows, n, errstr, en);
}
static int sqlite_chart_add_op(struct store *b, const char *name, const char *def,
                               int64_t *id, char *errstr, size_t en)
{
    return sqlite_chart_add(((struct sqlite_store *)b)->db, name, def, id, errstr, en);
}
static int sqlite_chart_delete_op(struct store *b, int64_t id, char *errstr, size_t en)
{
    return sqlite_chart_delete(((struct sqlite_store *)b)->db, id, errstr, en);
}

static void sqlite_interrupt_op(struct store *b)
{
    sqlite3_interrupt(((struct sqlite_store *)b)->db);
}

static enum store_error_kind sqlite_error_kind(struct store *b)
{
    return ((struct sqlite_store *)b)->kind;
}

const struct store_ops sqlite_store_ops = {
    .error_kind = sqlite_error_kind,
    .adopt_positions = sqlite_adopt_positions,
    .scheme = "sqlite",
    .open = sqlite_open,
    .load_positions = sqlite_load_positions,
    .has_orders = sqlite_has_orders,
    .apply = sqlite_apply,
    .rebuild_begin = sqlite_rebuild_begin,
    .rebuild_end = sqlite_rebuild_end,
    .sales = sqlite_sales,
    .sales_minute = sqlite_sales_minute,
    .recent_orders = sqlite_recent_orders,
    .positions = sqlite_positions,
    .close = sqlite_close,
    .query = sqlite_query_op,
    .charts = sqlite_charts_op,
    .chart_add = sqlite_chart_add_op,
    .chart_delete = sqlite_chart_delete_op,
    .interrupt = sqlite_interrupt_op,
};

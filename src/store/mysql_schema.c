/*
 * mysql_schema — the MySQL store's tables: versioned migrations and the
 * check that existing tables can hold what salesflow writes.
 *
 * salesflow_schema holds one row per applied migration (version,
 * description, applied_at). Opening reads MAX(version): equal to the
 * current version, nothing else happens (a read-only user can open).
 * Lower: under GET_LOCK('salesflow_schema:DB') — so processes starting
 * together migrate once — the version is read again, existing tables of
 * the names a migration creates are checked (one that does not fit stops
 * everything before anything is created or changed), then each missing
 * migration runs (CREATE TABLE IF NOT EXISTS …, so a migration cut short by
 * a crash simply runs again) and records its row. Higher: refused, this
 * salesflow is too old for the database.
 *
 * The shape check runs on every open, so a later ALTER TABLE that breaks
 * what salesflow relies on is caught too: each needed column with a
 * compatible type (integers, DECIMAL(≥18,2) for money, VARCHAR wide
 * enough, DATETIME), sales_id AUTO_INCREMENT, the unique key each upsert
 * relies on, and no other unique key (it would make an upsert hit the wrong
 * row, or an insert fail on a key salesflow cannot look up).
 */
#include "store/mysql_int.h"
#include "core/util.h"

#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 7
#define LOCK_WAIT_S "30"

/* Migration 1: the original sales_db and salesflow's own tables.
 * - Source, state and uuid compare byte-wise (utf8mb4_bin), as the program
 *   does: "CA" and "ca" stay apart as in SQLite, and the fixed key order of
 *   the aggregate upserts is the same order everywhere.
 * - state VARCHAR(2) is the original column; see mysql.c for "unknown".
 * - sales_id is BIGINT: InnoDB spends an auto-increment value on every
 *   upserted row, even one that only updates, so an INT would run out
 *   after ~2·10⁹ upserts.
 * - orders_created_at serves the dashboard's latest orders. */
static const char *const migration1[] = {
    "CREATE TABLE IF NOT EXISTS orders ("
    " uuid VARCHAR(36) NOT NULL,"
    " customer_id BIGINT NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " created_at DATETIME(3) NOT NULL,"
    " state VARCHAR(2) NOT NULL,"
    " PRIMARY KEY (uuid),"
    " KEY orders_created_at (created_at)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS sales ("
    " sales_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,"
    " source VARCHAR(100) NOT NULL,"
    " state VARCHAR(2) NOT NULL,"
    " total_sum_amount DECIMAL(18,2) NOT NULL DEFAULT 0,"
    " order_count BIGINT NOT NULL DEFAULT 0,"
    " quantity BIGINT NOT NULL DEFAULT 0,"
    " updated_at DATETIME(3) NOT NULL,"
    " PRIMARY KEY (sales_id),"
    " UNIQUE KEY sales_source_state (source, state)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS sales_minute ("
    " minute DATETIME NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " state VARCHAR(2) NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " PRIMARY KEY (minute, source, state)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS salesflow_offsets ("
    " topic VARCHAR(255) NOT NULL,"
    " `partition` INT NOT NULL,"
    " next_offset BIGINT NOT NULL,"
    " last_mark BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (topic, `partition`)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    NULL,
};

/* Migration 2: orders.uuid holds every order_id the API accepts (1..64
 * characters; it was VARCHAR(36), a UUID's length) and compares byte for
 * byte, trailing spaces included. utf8mb4_bin is a PAD SPACE collation on
 * MariaDB (every version) and MySQL alike: under it "P-7" and "P-7 " are
 * one key, and the second order was taken for a duplicate of the first.
 * The NO PAD binary collation is utf8mb4_nopad_bin on MariaDB (10.2+) and
 * utf8mb4_0900_bin on MySQL 8; a server with neither gets VARBINARY(64).
 * Rows are kept (ALTER TABLE … MODIFY; InnoDB rebuilds the table, which
 * takes a while on a large one). Running it again changes nothing. */
static const struct sql_text q_nopad = {
    "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN"
    " ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') ORDER BY COLLATION_NAME DESC LIMIT 1",
    NULL, NULL};

static int first_col(void *opaque, char **col, unsigned ncols);

static int migration2(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    char coll[64] = "", sql[256];
    if (sfmy_query_str(s, &q_nopad, NULL, 0, first_col, coll, what, errstr, n))
        return -1;
    if (coll[0])
        snprintf(sql, sizeof(sql), "ALTER TABLE orders MODIFY uuid VARCHAR(64)"
                 " CHARACTER SET utf8mb4 COLLATE %s NOT NULL", coll);
    else
        snprintf(sql, sizeof(sql), "ALTER TABLE orders MODIFY uuid VARBINARY(64) NOT NULL");
    return sfmy_exec(s, sql, what, errstr, n);
}

/* Migration 3: saved charts (GET/POST/DELETE /api/charts). definition is
 * the chart's JSON (at most 4096 bytes, STORE_CHART_DEF_MAX); name at most
 * 200 characters. */
static const char *const migration3[] = {
    "CREATE TABLE IF NOT EXISTS salesflow_charts ("
    " id BIGINT NOT NULL AUTO_INCREMENT,"
    " name VARCHAR(200) NOT NULL,"
    " definition VARCHAR(4096) NOT NULL,"
    " created DATETIME(3) NOT NULL,"
    " PRIMARY KEY (id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    NULL,
};

/* Migration 4: the hour and day rollups, keyed like sales_minute (the
 * hour's or day's first minute), filled from sales_minute — the same
 * orders' sums — in one transaction that first empties them, so that a
 * migration cut short runs again from the start. Other salesflow
 * processes of this version wait for the schema lock meanwhile. */
static const char *const migration4[] = {
    "CREATE TABLE IF NOT EXISTS sales_hour ("
    " hour DATETIME NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " state VARCHAR(2) NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " PRIMARY KEY (hour, source, state)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS sales_day ("
    " day DATETIME NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " state VARCHAR(2) NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " PRIMARY KEY (day, source, state)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    NULL,
};

/* The statements of sql (NULL-ended) in one transaction: all or nothing. */
static int in_one_transaction(struct mysql_store *s, const char *const *sql, const char *what,
                              char *errstr, size_t n)
{
    int rc = sfmy_exec(s, "START TRANSACTION", what, errstr, n);
    for (; !rc && *sql; sql++)
        rc = sfmy_exec(s, *sql, what, errstr, n);
    if (rc || (mysql_commit(s->db) && sfmy_db_fail(s, "COMMIT", errstr, n))) {
        if (s->db)
            mysql_rollback(s->db);
        return -1;
    }
    return 0;
}

static int migration4_fill(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    static const char *const sql[] = {
        "DELETE FROM sales_hour",
        "DELETE FROM sales_day",
        "INSERT INTO sales_hour (hour, source, state, total, order_count, quantity)"
        " SELECT DATE_FORMAT(minute, '%Y-%m-%d %H:00:00'), source, state, SUM(total),"
        " SUM(order_count), SUM(quantity) FROM sales_minute GROUP BY 1, 2, 3",
        "INSERT INTO sales_day (day, source, state, total, order_count, quantity)"
        " SELECT DATE_FORMAT(minute, '%Y-%m-%d 00:00:00'), source, state, SUM(total),"
        " SUM(order_count), SUM(quantity) FROM sales_minute GROUP BY 1, 2, 3",
        NULL};
    return in_one_transaction(s, sql, what, errstr, n);
}

/* Migration 5: salesflow_offsets.last_mark, which record a position
 * follows (see processor.c), 0 for the positions stored before it. Run
 * again after a kill between the ALTER and its record, it finds the column
 * and changes nothing. */
static const struct sql_text q_has_mark = {
    "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
    " AND TABLE_NAME = 'salesflow_offsets' AND COLUMN_NAME = 'last_mark'", NULL, NULL};

static int migration5(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    char have[64] = "";
    if (sfmy_query_str(s, &q_has_mark, NULL, 0, first_col, have, what, errstr, n))
        return -1;
    if (atoi(have) > 0)
        return 0;
    return sfmy_exec(s, "ALTER TABLE salesflow_offsets ADD COLUMN last_mark BIGINT"
                     " NOT NULL DEFAULT 0", what, errstr, n);
}

/* Migration 6: the customer rollups, per (hour or day, customer_id,
 * source), no state (per state as well they would hold almost a row per
 * order), filled from orders in one transaction that first empties them,
 * so that a migration cut short (the tables made, the fill rolled back or
 * never begun, the version not recorded) runs again from the start. */
static const char *const migration6[] = {
    "CREATE TABLE IF NOT EXISTS sales_customer_hour ("
    " hour DATETIME NOT NULL,"
    " customer_id BIGINT NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " PRIMARY KEY (hour, customer_id, source)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS sales_customer_day ("
    " day DATETIME NOT NULL,"
    " customer_id BIGINT NOT NULL,"
    " source VARCHAR(100) NOT NULL,"
    " total DECIMAL(18,2) NOT NULL,"
    " order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL,"
    " PRIMARY KEY (day, customer_id, source)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    NULL,
};

static int migration6_fill(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    static const char *const sql[] = {
        "DELETE FROM sales_customer_hour",
        "DELETE FROM sales_customer_day",
        "INSERT INTO sales_customer_hour (hour, customer_id, source, total, order_count,"
        " quantity) SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:00:00'), customer_id, source,"
        " SUM(total), COUNT(*), SUM(quantity) FROM orders GROUP BY 1, 2, 3",
        "INSERT INTO sales_customer_day (day, customer_id, source, total, order_count,"
        " quantity) SELECT DATE_FORMAT(hour, '%Y-%m-%d 00:00:00'), customer_id, source,"
        " SUM(total), SUM(order_count), SUM(quantity) FROM sales_customer_hour"
        " GROUP BY 1, 2, 3",
        NULL};
    return in_one_transaction(s, sql, what, errstr, n);
}

/* Migration 7: the quarter-hour rollup, keyed like sales_minute (the
 * quarter hour's first minute). Made LIKE sales_minute, so its state
 * column is as wide as the one the orders' states already fit (an
 * operator may have widened it), then its time column renamed; filled
 * from sales_minute in one transaction that first empties it. A run cut
 * short anywhere (the table made but not renamed, renamed but not filled,
 * filled but the version not recorded) runs again from where it is. */
static const struct sql_text q_quarter_unrenamed = {
    "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
    " AND TABLE_NAME = 'sales_quarter' AND COLUMN_NAME = 'minute'", NULL, NULL};

static int migration7(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    char have[64] = "";
    if (sfmy_exec(s, "CREATE TABLE IF NOT EXISTS sales_quarter LIKE sales_minute", what,
                  errstr, n) ||
        sfmy_query_str(s, &q_quarter_unrenamed, NULL, 0, first_col, have, what, errstr, n))
        return -1;
    if (atoi(have) > 0 &&
        sfmy_exec(s, "ALTER TABLE sales_quarter CHANGE minute quarter DATETIME NOT NULL",
                  what, errstr, n))
        return -1;
    static const char *const sql[] = {
        "DELETE FROM sales_quarter",
        "INSERT INTO sales_quarter (quarter, source, state, total, order_count, quantity)"
        " SELECT minute - INTERVAL MINUTE(minute) % 15 MINUTE, source, state, SUM(total),"
        " SUM(order_count), SUM(quantity) FROM sales_minute GROUP BY 1, 2, 3",
        NULL};
    return in_one_transaction(s, sql, what, errstr, n);
}

static const struct migration {
    int version;
    const char *description;
    const char *const *sql;     /* statements, or NULL and … */
    int (*run)(struct mysql_store *s, const char *what, char *errstr, size_t n);
} migrations[] = {
    {1, "orders, sales, sales_minute, salesflow_offsets", migration1, NULL},
    {2, "orders.uuid: 64 characters, compared byte for byte", NULL, migration2},
    {3, "salesflow_charts (saved charts)", migration3, NULL},
    {4, "sales_hour, sales_day (rollups, filled from sales_minute)", migration4,
     migration4_fill},
    {5, "salesflow_offsets.last_mark", NULL, migration5},
    {6, "sales_customer_hour, sales_customer_day (rollups by customer, filled from orders)",
     migration6, migration6_fill},
    {7, "sales_quarter (quarter-hour rollup, filled from sales_minute)", NULL, migration7},
};

static const char create_schema_table[] =
    "CREATE TABLE IF NOT EXISTS salesflow_schema ("
    " version INT NOT NULL,"
    " description VARCHAR(200) NOT NULL,"
    " applied_at DATETIME(3) NOT NULL,"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

static const struct sql_text q_version = {
    "SELECT COALESCE(MAX(version), 0) FROM salesflow_schema", NULL, NULL};
static const struct sql_text q_lock = {"SELECT GET_LOCK(?, " LOCK_WAIT_S ")", NULL, NULL};
static const struct sql_text q_unlock = {"SELECT RELEASE_LOCK(?)", NULL, NULL};
static const struct sql_text q_record = {
    "INSERT INTO salesflow_schema (version, description, applied_at)"
    " VALUES (?, ?, UTC_TIMESTAMP(3))", NULL, NULL};
static const struct sql_text q_columns = {
    "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE,"
    " CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, EXTRA, COLLATION_NAME"
    " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND"
    " TABLE_NAME IN ('orders', 'sales', 'sales_minute', 'salesflow_offsets',"
    " 'salesflow_charts', 'sales_hour', 'sales_day', 'sales_customer_hour',"
    " 'sales_customer_day', 'sales_quarter')", NULL, NULL};
static const struct sql_text q_keys = {
    "SELECT TABLE_NAME, INDEX_NAME,"
    " GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',')"
    " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND"
    " NON_UNIQUE = 0 AND"
    " TABLE_NAME IN ('orders', 'sales', 'sales_minute', 'salesflow_offsets',"
    " 'salesflow_charts', 'sales_hour', 'sales_day', 'sales_customer_hour',"
    " 'sales_customer_day', 'sales_quarter') GROUP BY TABLE_NAME, INDEX_NAME",
    NULL, NULL};

/* --- the shape check ----------------------------------------------------- */

/* C_KEY: the order_id key, byte-wise (migration 2): VARCHAR with a NO PAD
 * binary collation, or VARBINARY, of min_len or more. */
enum col_type { C_INT, C_DEC2, C_STR, C_TIME, C_KEY };

struct col_req {
    const char *name;
    enum col_type type;
    unsigned min_len;           /* C_STR: at least this many characters */
    int added_by;               /* the migration that adds it (0: there from 1) */
};

static const struct col_req orders_cols[] = {
    {"uuid", C_KEY, SF_ORDER_ID_MAX, 0}, {"customer_id", C_INT, 0, 0},
    {"source", C_STR, 13, 0}, {"quantity", C_INT, 0, 0}, {"total", C_DEC2, 0, 0},
    {"created_at", C_TIME, 0, 0}, {"state", C_STR, 2, 0},
};
static const struct col_req sales_cols[] = {
    {"sales_id", C_INT, 0, 0}, {"source", C_STR, 13, 0}, {"state", C_STR, 2, 0},
    {"total_sum_amount", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0},
    {"quantity", C_INT, 0, 0}, {"updated_at", C_TIME, 0, 0},
};
static const struct col_req minute_cols[] = {
    {"minute", C_TIME, 0, 0}, {"source", C_STR, 13, 0}, {"state", C_STR, 2, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req offsets_cols[] = {
    {"topic", C_STR, 64, 0}, {"partition", C_INT, 0, 0}, {"next_offset", C_INT, 0, 0},
    {"last_mark", C_INT, 0, 5},
};

static const struct col_req quarter_cols[] = {
    {"quarter", C_TIME, 0, 0}, {"source", C_STR, 13, 0}, {"state", C_STR, 2, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req hour_cols[] = {
    {"hour", C_TIME, 0, 0}, {"source", C_STR, 13, 0}, {"state", C_STR, 2, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req day_cols[] = {
    {"day", C_TIME, 0, 0}, {"source", C_STR, 13, 0}, {"state", C_STR, 2, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req cust_hour_cols[] = {
    {"hour", C_TIME, 0, 0}, {"customer_id", C_INT, 0, 0}, {"source", C_STR, 13, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req cust_day_cols[] = {
    {"day", C_TIME, 0, 0}, {"customer_id", C_INT, 0, 0}, {"source", C_STR, 13, 0},
    {"total", C_DEC2, 0, 0}, {"order_count", C_INT, 0, 0}, {"quantity", C_INT, 0, 0},
};
static const struct col_req charts_cols[] = {
    {"id", C_INT, 0, 0}, {"name", C_STR, 200, 0}, {"definition", C_STR, 4096, 0},
    {"created", C_TIME, 0, 0},
};

static const struct table_req {
    const char *name;
    const struct col_req *cols;
    size_t ncols;
    const char *key;            /* the unique key the writes rely on */
    const char *key_text;       /* the same, for messages */
    const char *autoinc;        /* a column that must be AUTO_INCREMENT */
} tables[] = {
    {"orders", orders_cols, SF_ARRAY_LEN(orders_cols), "uuid", "uuid", NULL},
    {"sales", sales_cols, SF_ARRAY_LEN(sales_cols), "source,state", "source, state",
     "sales_id"},
    {"sales_minute", minute_cols, SF_ARRAY_LEN(minute_cols), "minute,source,state",
     "minute, source, state", NULL},
    {"salesflow_offsets", offsets_cols, SF_ARRAY_LEN(offsets_cols), "topic,partition",
     "topic, partition", NULL},
    {"salesflow_charts", charts_cols, SF_ARRAY_LEN(charts_cols), "id", "id", "id"},
    {"sales_hour", hour_cols, SF_ARRAY_LEN(hour_cols), "hour,source,state",
     "hour, source, state", NULL},
    {"sales_day", day_cols, SF_ARRAY_LEN(day_cols), "day,source,state",
     "day, source, state", NULL},
    {"sales_customer_hour", cust_hour_cols, SF_ARRAY_LEN(cust_hour_cols),
     "hour,customer_id,source", "hour, customer_id, source", NULL},
    {"sales_customer_day", cust_day_cols, SF_ARRAY_LEN(cust_day_cols),
     "day,customer_id,source", "day, customer_id, source", NULL},
    {"sales_quarter", quarter_cols, SF_ARRAY_LEN(quarter_cols), "quarter,source,state",
     "quarter, source, state", NULL},
};

struct shape {
    const struct table_req *t;
    int exists, has_key;
    unsigned char found[8];
    char problems[1024];
};

struct shape_ctx {
    struct shape sh[SF_ARRAY_LEN(tables)];
    unsigned state_width;
    int before_migrating;       /* C_KEY: any string (migration 2 fixes it) */
};

/* A collation that compares byte for byte without padding: MariaDB's
 * *_nopad_bin, MySQL 8's *_0900_bin. */
static int nopad_binary(const char *coll)
{
    size_t l = coll ? strlen(coll) : 0;
    return (l > 10 && strcmp(coll + l - 10, "_nopad_bin") == 0) ||
           (l > 9 && strcmp(coll + l - 9, "_0900_bin") == 0);
}

static void add_problem(struct shape *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_problem(struct shape *sh, const char *fmt, ...)
{
    size_t l = strlen(sh->problems);
    if (l + 3 >= sizeof(sh->problems))
        return;
    if (l)
        l += (size_t)snprintf(sh->problems + l, sizeof(sh->problems) - l, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->problems + l, sizeof(sh->problems) - l, fmt, ap);
    va_end(ap);
}

static struct shape *shape_of(struct shape_ctx *c, const char *table)
{
    for (size_t i = 0; table && i < SF_ARRAY_LEN(tables); i++)
        if (strcmp(c->sh[i].t->name, table) == 0)
            return &c->sh[i];
    return NULL;
}

/* One row of q_columns. */
static int on_column(void *opaque, char **col, unsigned ncols)
{
    struct shape_ctx *c = opaque;
    struct shape *sh = shape_of(c, col[0]);
    if (!sh || ncols < 9 || !col[1] || !col[2])
        return 0;
    sh->exists = 1;
    for (size_t i = 0; i < sh->t->ncols; i++) {
        const struct col_req *r = &sh->t->cols[i];
        if (strcmp(r->name, col[1]) != 0)
            continue;
        sh->found[i] = 1;
        const char *dt = col[2], *ct = col[3] ? col[3] : dt;
        unsigned long clen = col[4] ? strtoul(col[4], NULL, 10) : 0;
        unsigned long prec = col[5] ? strtoul(col[5], NULL, 10) : 0;
        unsigned long scale = col[6] ? strtoul(col[6], NULL, 10) : 0;
        switch (r->type) {
        case C_INT:
            if (strcmp(dt, "int") && strcmp(dt, "bigint"))
                add_problem(sh, "%s is %s, needs INT or BIGINT", r->name, ct);
            break;
        case C_DEC2:
            if (strcmp(dt, "decimal") || scale != 2 || prec < 18)
                add_problem(sh, "%s is %s, needs DECIMAL(18,2) (exact money, 2 decimals)",
                            r->name, ct);
            break;
        case C_STR:
            if ((strcmp(dt, "varchar") && strcmp(dt, "char")) || clen < r->min_len)
                add_problem(sh, "%s is %s, needs VARCHAR(%u) or wider", r->name, ct,
                            r->min_len);
            else if (strcmp(r->name, "state") == 0 && clen < c->state_width)
                c->state_width = (unsigned)clen;
            break;
        case C_TIME:
            if (strcmp(dt, "datetime") && strcmp(dt, "timestamp"))
                add_problem(sh, "%s is %s, needs DATETIME", r->name, ct);
            break;
        case C_KEY: {
            int ok;
            if (c->before_migrating)
                ok = !strcmp(dt, "varchar") || !strcmp(dt, "char") ||
                     !strcmp(dt, "varbinary");
            else
                ok = clen >= r->min_len &&
                     (!strcmp(dt, "varbinary") ||
                      (!strcmp(dt, "varchar") && nopad_binary(col[8])));
            if (!ok)
                add_problem(sh, "%s is %s%s%s, needs VARCHAR(%u) with a NO PAD binary "
                            "collation (utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin) or "
                            "VARBINARY(%u): order_ids have up to %u characters and "
                            "compare byte for byte", r->name, ct, col[8] ? " " : "",
                            col[8] ? col[8] : "", r->min_len, r->min_len, r->min_len);
            break;
        }
        }
        if (sh->t->autoinc && strcmp(r->name, sh->t->autoinc) == 0 &&
            (!col[7] || !strstr(col[7], "auto_increment")))
            add_problem(sh, "%s is not AUTO_INCREMENT", r->name);
    }
    return 0;
}

/* One unique index of q_keys: table, index name, "col,col". */
static int on_key(void *opaque, char **col, unsigned ncols)
{
    struct shape_ctx *c = opaque;
    struct shape *sh = shape_of(c, col[0]);
    if (!sh || ncols < 3 || !col[1] || !col[2])
        return 0;
    if (strcmp(col[2], sh->t->key) == 0)
        sh->has_key = 1;
    else if (!(sh->t->autoinc && strcmp(col[2], sh->t->autoinc) == 0))
        add_problem(sh, "unexpected unique key %s on (%s)", col[1], col[2]);
    return 0;
}

int sfmy_check_shape(struct mysql_store *s, int require_all, char *errstr, size_t n)
{
    struct shape_ctx *c = calloc(1, sizeof(*c));
    char *msg = malloc(4096);
    size_t ml = 0;
    int rc = -1;
    if (!c || !msg) {
        sfmy_plain_fail(s, errstr, n, "out of memory");
        goto out;
    }
    c->state_width = 255;
    c->before_migrating = !require_all;
    for (size_t i = 0; i < SF_ARRAY_LEN(tables); i++)
        c->sh[i].t = &tables[i];
    if (sfmy_query_str(s, &q_columns, NULL, 0, on_column, c,
                       "reading the table definitions", errstr, n) ||
        sfmy_query_str(s, &q_keys, NULL, 0, on_key, c, "reading the table keys",
                       errstr, n))
        goto out;
    msg[0] = '\0';
    for (size_t i = 0; i < SF_ARRAY_LEN(tables); i++) {
        struct shape *sh = &c->sh[i];
        /* Perhaps half made by migration 7 (not yet renamed), which goes on
         * from there: checked once it has run. */
        if (!require_all && strcmp(sh->t->name, "sales_quarter") == 0)
            continue;
        if (!sh->exists) {
            if (!require_all)
                continue;
            add_problem(sh, "missing");
        } else {
            char missing[512] = "";
            for (size_t k = 0; k < sh->t->ncols; k++)
                if (!sh->found[k] && (require_all || !sh->t->cols[k].added_by))
                    snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
                             "%s%s", missing[0] ? ", " : "", sh->t->cols[k].name);
            if (missing[0])
                add_problem(sh, "missing columns %s", missing);
            if (!sh->has_key)
                add_problem(sh, "no unique key on (%s)", sh->t->key_text);
        }
        if (sh->problems[0] && ml < 4096)
            ml += (size_t)snprintf(msg + ml, 4096 - ml, "%stable %s: %s", ml ? "; " : "",
                                   sh->t->name, sh->problems);
    }
    if (msg[0]) {
        s->last_errno = 0;
        sf_err(-1, errstr, n, "mysql store %s: existing tables do not fit salesflow "
               "(no data was changed; rename or alter them, or use another database): %s",
               s->where, msg);
        goto out;
    }
    s->state_width = c->state_width;
    rc = 0;
out:
    free(c);
    free(msg);
    return rc;
}

/* --- migrations ---------------------------------------------------------- */

static int first_col(void *opaque, char **col, unsigned ncols)
{
    snprintf(opaque, 64, "%s", ncols && col[0] ? col[0] : "");
    return 0;
}

static int schema_version(struct mysql_store *s, int *version, char *errstr, size_t n)
{
    char v[64] = "";
    if (sfmy_query_str(s, &q_version, NULL, 0, first_col, v, "reading salesflow_schema",
                       errstr, n)) {
        if (s->last_errno != ER_NO_SUCH_TABLE)
            return -1;
        *version = 0;
        return 0;
    }
    *version = atoi(v);
    return 0;
}

static int run_migrations(struct mysql_store *s, int version, char *errstr, size_t n)
{
    if (version > SCHEMA_VERSION) {
        char m[160];
        snprintf(m, sizeof(m), "the database has schema version %d, newer than this "
                 "salesflow knows (%d); upgrade salesflow", version, SCHEMA_VERSION);
        return sfmy_plain_fail(s, errstr, n, m);
    }
    if (version < SCHEMA_VERSION && sfmy_check_shape(s, 0, errstr, n))
        return -1;
    for (size_t i = 0; i < SF_ARRAY_LEN(migrations); i++) {
        const struct migration *m = &migrations[i];
        char what[64], ver[16];
        if (m->version <= version)
            continue;
        snprintf(what, sizeof(what), "schema migration %d", m->version);
        if (sfmy_exec(s, create_schema_table, what, errstr, n))
            return -1;
        for (const char *const *q = m->sql; q && *q; q++)
            if (sfmy_exec(s, *q, what, errstr, n))
                return -1;
        if (m->run && m->run(s, what, errstr, n))
            return -1;
        snprintf(ver, sizeof(ver), "%d", m->version);
        const char *rp[] = {ver, m->description};
        if (sfmy_query_str(s, &q_record, rp, 2, NULL, NULL, what, errstr, n))
            return -1;
        log_info("mysql store %s: schema migrated to version %d (%s)", s->where,
                 m->version, m->description);
    }
    return 0;
}

int sfmy_migrate(struct mysql_store *s, char *errstr, size_t n)
{
    char lockname[65], got[64] = "";
    int version, rc;
    if (schema_version(s, &version, errstr, n))
        return -1;
    if (version != SCHEMA_VERSION) {
        snprintf(lockname, sizeof(lockname), "salesflow_schema:%s", s->dbname);
        const char *lp[] = {lockname};
        if (sfmy_query_str(s, &q_lock, lp, 1, first_col, got, "locking the schema",
                           errstr, n))
            return -1;
        if (strcmp(got, "1") != 0)
            return sfmy_plain_fail(s, errstr, n, "another process has held the schema "
                                   "lock (migrating?) for more than " LOCK_WAIT_S " s");
        rc = schema_version(s, &version, errstr, n) ? -1
                                                    : run_migrations(s, version, errstr, n);
        unsigned saved = s->last_errno;
        char tmp[256];
        sfmy_query_str(s, &q_unlock, lp, 1, NULL, NULL, "unlocking the schema", tmp,
                       sizeof(tmp));
        s->last_errno = saved;
        if (rc && version > 0 && version < SCHEMA_VERSION &&
            sfmy_is_privilege_error(saved)) {
            /* A reader (serve with a SELECT-only user) of a database that a
             * writer has not migrated yet: it reads what is there; writes
             * are refused (check_writable). */
            snprintf(s->outdated, sizeof(s->outdated), "the database has schema version "
                     "%d, older than this salesflow's (%d), and this user cannot migrate "
                     "it: %.600s", version, SCHEMA_VERSION, errstr);
            log_warn("mysql store %s: %s; reading what version %d holds until salesflow "
                     "run or process (a user with CREATE and ALTER) migrates it",
                     s->where, s->outdated, version);
            s->schema_version = version;
            return sfmy_check_shape(s, 0, errstr, n);
        }
        if (rc)
            return -1;
    }
    s->schema_version = SCHEMA_VERSION;
    return sfmy_check_shape(s, 1, errstr, n);
}

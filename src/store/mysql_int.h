/*
 * mysql_int — internals shared by the MySQL store's three files, not for
 * any other module:
 *   mysql.c         the store_ops: open, apply, the reads, reset, close
 *   mysql_conn.c    the URI, connecting, error messages, the prepared
 *                   statement cache and a generic row-reading query
 *   mysql_schema.c  versioned migrations and the table shape check
 * The design (exactly once, retries, states, privileges) is described at
 * the top of mysql.c.
 */
#ifndef SF_STORE_MYSQL_INT_H
#define SF_STORE_MYSQL_INT_H

#include "store/store.h"

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#define SFMY_STMT_CACHE 32      /* prepared statements kept per connection */
#define SFMY_MAX_COLS 10        /* columns of a generic query */
#define SFMY_COL_BUF 4608       /* bytes per column of a generic query: a saved
                                 * chart's definition fits */
#define SFMY_LOCK_WAIT_S "5"    /* innodb_lock_wait_timeout of every session */
#define SFMY_CUSTOMER_ROLLUPS 6 /* the schema version that adds
                                 * sales_customer_hour and _day */
#define SFMY_QUARTER_ROLLUP 7   /* the schema version that adds sales_quarter */
#define SFMY_IDLE_TXN_S "10"    /* MariaDB: end a session idle this long inside
                                 * a transaction (mysql_conn.c) */

/* A statement text: head + rows × group joined by ',' + tail (group NULL:
 * head + tail, rows 1). Its address is its identity in the cache. */
struct sql_text {
    const char *head, *group, *tail;
};

struct stmt_slot {
    const void *key;
    unsigned variant;
    MYSQL_STMT *st;
    uint64_t used;
};

struct mysql_store {
    struct store base;
    MYSQL *db;                  /* NULL while disconnected */
    char *user, *password, *host, *dbname, *socket;
    unsigned port;
    char where[1024];           /* the URI with the password masked */
    unsigned state_width;       /* narrowest `state` column */
    unsigned last_errno;        /* server/client error of the last failure */
    char last_msg[512];         /* and its message */
    char write_err[768];        /* why this handle cannot write, or "" */
    char outdated[768];         /* why the schema is older than this build's
                                 * (a reader could not migrate it), or "" */
    int schema_version;         /* the database's, once opened */
    struct stmt_slot cache[SFMY_STMT_CACHE];
    uint64_t tick;
    MYSQL_BIND *bind;           /* parameters of the multi-row statements */
    int keep_states;            /* replay: stored orders keep the state in
                                 * salesflow_replay_state (mysql.c, reset) */
};

/* --- errors (mysql_conn.c) --- */
int sfmy_is_conn_error(unsigned e);
int sfmy_is_txn_retry(unsigned e);
int sfmy_is_privilege_error(unsigned e);
/* A value in the statement can never be stored as it is (too long, out of
 * range, not a valid string): STORE_ERR_DATA. */
int sfmy_is_data_error(unsigned e);
/* Fill errstr with "mysql store URI: what: msg (hint)"; remember code and
 * msg in s. Returns -1. */
int sfmy_report(struct mysql_store *s, unsigned code, const char *msg,
                const char *what, char *errstr, size_t n);
int sfmy_db_fail(struct mysql_store *s, const char *what, char *errstr, size_t n);
int sfmy_stmt_fail(struct mysql_store *s, MYSQL_STMT *st, const char *what,
                   char *errstr, size_t n);
/* A failure that is not the server's (last_errno 0: never retried). */
int sfmy_plain_fail(struct mysql_store *s, char *errstr, size_t n, const char *msg);

/* --- connection (mysql_conn.c) --- */
/* Parse "//…" (the URI after "mysql:") into s; fills s->where first. */
int sfmy_parse_uri(struct mysql_store *s, const char *where, char *errstr, size_t n);
int sfmy_connect(struct mysql_store *s, char *errstr, size_t n);
void sfmy_disconnect(struct mysql_store *s);
/* A statement without values (session setup, DDL, transaction control). */
int sfmy_exec(struct mysql_store *s, const char *sql, const char *what,
              char *errstr, size_t n);

/* --- statements (mysql_conn.c) --- */
/* The prepared statement for sql with `rows` groups, from the cache. */
MYSQL_STMT *sfmy_stmt(struct mysql_store *s, const struct sql_text *sql,
                      unsigned rows, char *errstr, size_t n);
/* The same for a text built by the caller, cached under (key, variant). */
MYSQL_STMT *sfmy_stmt_text(struct mysql_store *s, const void *key, unsigned variant,
                           const char *text, char *errstr, size_t n);

void sfmy_bind_str(MYSQL_BIND *b, const char *v);
void sfmy_bind_i64(MYSQL_BIND *b, const int64_t *v);
void sfmy_bind_time(MYSQL_BIND *b, const MYSQL_TIME *t);
/* ms since the epoch (UTC) → DATETIME(3) */
void sfmy_time(int64_t ms, MYSQL_TIME *t);

/* Execute st with params (NULL if none) and call fn for each row with the
 * columns as text (NULL for SQL NULL). fn returning non-zero stops the
 * calls; that value is returned once the result is drained. */
typedef int (*sfmy_row_fn)(void *opaque, char **col, unsigned ncols);
int sfmy_query(struct mysql_store *s, MYSQL_STMT *st, MYSQL_BIND *params,
               sfmy_row_fn fn, void *opaque, const char *what, char *errstr, size_t n);
/* sfmy_query on sql (no groups) with up to 4 string parameters. */
int sfmy_query_str(struct mysql_store *s, const struct sql_text *sql,
                   const char *const *params, unsigned nparams, sfmy_row_fn fn,
                   void *opaque, const char *what, char *errstr, size_t n);

/* --- schema (mysql_schema.c) --- */
/* Bring the schema to the current version (a no-op SELECT when it is),
 * then check every table's shape and set s->state_width. */
int sfmy_migrate(struct mysql_store *s, char *errstr, size_t n);
/* Re-read the shape (after someone may have widened a column). */
int sfmy_check_shape(struct mysql_store *s, int require_all, char *errstr, size_t n);

#endif

/*
 * mysql_conn — the MySQL store's plumbing: the URI, connecting and the
 * session settings, one-line error messages, the per-connection cache of
 * prepared statements, and a generic query that hands rows over as text.
 *
 * URI: mysql://[user[:password]@]host[:port]/database[?socket=PATH]. The
 * userinfo ends at the last '@', so a password may contain '@'; other
 * reserved characters are %-encoded. Without a password in the URI,
 * SALESFLOW_MYSQL_PASSWORD is used (the URI, like any flag, wins). Messages
 * name the store by s->where, the URI with the password masked.
 *
 * Session: utf8mb4, strict SQL mode (a value that does not fit is an error,
 * never silently truncated), UTC, READ COMMITTED (see mysql.c), autocommit
 * on outside apply()'s explicit transactions, so that reads never hold a
 * transaction (and metadata locks) open. No auto-reconnect: a lost
 * connection is reported, and the caller reconnects and retries whole.
 */
#include "store/mysql_int.h"
#include "core/args.h"
#include "core/util.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- errors -------------------------------------------------------------- */

int sfmy_is_conn_error(unsigned e)
{
    return (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR) || e == ER_SERVER_SHUTDOWN ||
           e == ER_CONNECTION_KILLED || e == ER_QUERY_INTERRUPTED ||
           e == ER_CON_COUNT_ERROR || e == ER_OPTION_PREVENTS_STATEMENT ||
           e == 1836 /* ER_READ_ONLY_MODE */ || e == 4031 /* MySQL: idle timeout */;
}

/* Errors after which the same transaction may well succeed. */
int sfmy_is_txn_retry(unsigned e)
{
    return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT || e == ER_CHECKREAD ||
           e == ER_TABLE_DEF_CHANGED || e == ER_NEED_REPREPARE;
}

/* Errors that say a value in the statement can never be stored as it is:
 * the same rows fail the same way on every attempt. Not among them: a
 * missing default or NULL in a NOT NULL column (a table altered by hand;
 * every row would fail) and the state width (mysql.c; fixed by widening
 * the columns, without a restart). */
int sfmy_is_data_error(unsigned e)
{
    return e == ER_WARN_DATA_OUT_OF_RANGE || e == WARN_DATA_TRUNCATED ||
           e == ER_TRUNCATED_WRONG_VALUE || e == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD ||
           e == ER_DATA_TOO_LONG || e == ER_INVALID_CHARACTER_STRING ||
           e == ER_DIVISION_BY_ZERO || e == ER_DATETIME_FUNCTION_OVERFLOW ||
           e == ER_CANNOT_CONVERT_CHARACTER;
}

int sfmy_is_privilege_error(unsigned e)
{
    return e == ER_TABLEACCESS_DENIED_ERROR || e == ER_COLUMNACCESS_DENIED_ERROR ||
           e == ER_DBACCESS_DENIED_ERROR || e == ER_SPECIFIC_ACCESS_DENIED_ERROR ||
           e == ER_PROCACCESS_DENIED_ERROR;
}

int sfmy_report(struct mysql_store *s, unsigned code, const char *msg,
                const char *what, char *errstr, size_t n)
{
    const char *hint = "";
    s->last_errno = code;
    if (msg != s->last_msg)
        snprintf(s->last_msg, sizeof(s->last_msg), "%s", msg);
    if (sfmy_is_privilege_error(code))
        hint = " (missing privileges: salesflow needs SELECT, INSERT, UPDATE, DELETE "
               "for replay, and CREATE, ALTER, INDEX to create or migrate its tables, "
               "on the database)";
    else if (code == ER_ACCESS_DENIED_ERROR || code == ER_ACCESS_DENIED_NO_PASSWORD_ERROR)
        hint = " (wrong user or password; the password comes from the URI or "
               "SALESFLOW_MYSQL_PASSWORD)";
    else if (code == ER_BAD_DB_ERROR)
        hint = " (the database does not exist; create it with CREATE DATABASE, "
               "salesflow creates only its tables)";
    else if (code == ER_LOCK_DEADLOCK)
        hint = " (deadlock with a concurrent writer; the batch is retried)";
    return sf_err(-1, errstr, n, "mysql store %s: %s: %s%s", s->where, what, msg, hint);
}

int sfmy_db_fail(struct mysql_store *s, const char *what, char *errstr, size_t n)
{
    return sfmy_report(s, mysql_errno(s->db), mysql_error(s->db), what, errstr, n);
}

int sfmy_stmt_fail(struct mysql_store *s, MYSQL_STMT *st, const char *what,
                   char *errstr, size_t n)
{
    return sfmy_report(s, mysql_stmt_errno(st), mysql_stmt_error(st), what, errstr, n);
}

int sfmy_plain_fail(struct mysql_store *s, char *errstr, size_t n, const char *msg)
{
    s->last_errno = 0;
    return sf_err(-1, errstr, n, "mysql store %s: %s", s->where, msg);
}

/* --- the URI ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode p[0..len) into a new string; NULL on a bad escape (or
 * %00) or out of memory. */
static char *pct_decode(const char *p, size_t len)
{
    char *out = malloc(len + 1), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '%') {
            *w++ = p[i];
            continue;
        }
        int hi = i + 1 < len ? hexval((unsigned char)p[i + 1]) : -1;
        int lo = i + 2 < len ? hexval((unsigned char)p[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *w++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *w = '\0';
    return out;
}

static int uri_error(struct mysql_store *s, char *errstr, size_t n, const char *what)
{
    s->last_errno = 0;
    return sf_err(-1, errstr, n, "mysql store URI \"%s\": %s (expected "
                  "mysql://user[:password]@host[:port]/database[?socket=PATH])",
                  s->where, what);
}

int sfmy_parse_uri(struct mysql_store *s, const char *where, char *errstr, size_t n)
{
    size_t wl = strlen(where) + 7;
    char *full = malloc(wl);
    if (!full)
        return sf_err(-1, errstr, n, "out of memory");
    memcpy(full, "mysql:", 6);
    memcpy(full + 6, where, wl - 6);
    store_uri_redact(full, s->where, sizeof(s->where));
    memset(full, 0, wl);
    free(full);

    if (strncmp(where, "//", 2) != 0)
        return uri_error(s, errstr, n, "missing \"//\" after \"mysql:\"");
    const char *p = where + 2;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ulen && !(s->user = pct_decode(p, ulen)))
            return uri_error(s, errstr, n, "bad %-escape in the user name");
        if (colon && !(s->password = pct_decode(colon + 1, (size_t)(at - colon - 1))))
            return uri_error(s, errstr, n, "bad %-escape in the password");
        p = at + 1;
    }
    const char *hend;
    if (*p == '[') {            /* [IPv6] */
        hend = strchr(p, ']');
        if (!hend)
            return uri_error(s, errstr, n, "unterminated [IPv6] host");
        if (!(s->host = pct_decode(p + 1, (size_t)(hend - p - 1))))
            return uri_error(s, errstr, n, "out of memory");
        hend++;
    } else {
        hend = p + strcspn(p, ":/?");
        if (!(s->host = pct_decode(p, (size_t)(hend - p))))
            return uri_error(s, errstr, n, "bad %-escape in the host");
    }
    if (!*s->host)
        return uri_error(s, errstr, n, "missing host");
    p = hend;
    s->port = 3306;
    if (*p == ':') {
        char *end;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > 65535 || (*end && *end != '/' && *end != '?'))
            return uri_error(s, errstr, n, "bad port (1..65535)");
        s->port = (unsigned)v;
        p = end;
    }
    if (*p != '/' || p[1] == '\0' || p[1] == '?')
        return uri_error(s, errstr, n, "missing database name");
    p++;
    size_t dlen = strcspn(p, "?");
    if (!(s->dbname = pct_decode(p, dlen)) || !*s->dbname || strchr(s->dbname, '/'))
        return uri_error(s, errstr, n, "bad database name");
    p += dlen;
    if (*p == '?') {
        p++;
        while (*p) {
            size_t plen = strcspn(p, "&");
            if (plen > 7 && strncmp(p, "socket=", 7) == 0) {
                free(s->socket);
                if (!(s->socket = pct_decode(p + 7, plen - 7)) || !*s->socket)
                    return uri_error(s, errstr, n, "bad socket path");
            } else if (plen) {
                char what[96];
                int nl = (int)strcspn(p, "=&");
                snprintf(what, sizeof(what), "unknown parameter \"%.*s\" (supported: socket)",
                         nl < 32 ? nl : 32, p);
                return uri_error(s, errstr, n, what);
            }
            p += plen;
            if (*p == '&')
                p++;
        }
    }
    if (!s->password) {
        /* SALESFLOW_MYSQL_PASSWORD, from the environment or the config
         * file, read by the command's option parser (core/args.h). */
        const char *pw = args_mysql_password();
        if (pw && !(s->password = strdup(pw)))
            return uri_error(s, errstr, n, "out of memory");
    }
    return 0;
}

/* --- connection ---------------------------------------------------------- */

void sfmy_disconnect(struct mysql_store *s)
{
    for (size_t i = 0; i < SFMY_STMT_CACHE; i++) {
        if (s->cache[i].st)
            mysql_stmt_close(s->cache[i].st);
        memset(&s->cache[i], 0, sizeof(s->cache[i]));
    }
    if (s->db)
        mysql_close(s->db);
    s->db = NULL;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static void library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

int sfmy_exec(struct mysql_store *s, const char *sql, const char *what,
              char *errstr, size_t n)
{
    if (mysql_real_query(s->db, sql, (unsigned long)strlen(sql)))
        return sfmy_db_fail(s, what, errstr, n);
    return 0;
}

int sfmy_connect(struct mysql_store *s, char *errstr, size_t n)
{
    unsigned connect_timeout = 5, io_timeout = 60, no = 0;
    pthread_once(&library_once, library_init);
    if (!(s->db = mysql_init(NULL)))
        return sfmy_plain_fail(s, errstr, n, "out of memory");
    mysql_optionsv(s->db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(s->db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(s->db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(s->db, MYSQL_OPT_LOCAL_INFILE, &no);
    mysql_optionsv(s->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(s->db, s->host, s->user, s->password, s->dbname, s->port,
                            s->socket, 0)) {
        char what[160];
        snprintf(what, sizeof(what), "cannot connect as %.100s",
                 s->user ? s->user : "(the login name)");
        sfmy_db_fail(s, what, errstr, n);
        mysql_close(s->db);
        s->db = NULL;
        return -1;
    }
    /* Lock waits are short (SFMY_LOCK_WAIT_S): a writer that holds a row
     * another needs (a paused processor) costs the others a retry, not a
     * stall; apply() retries a lock wait timeout like a deadlock. */
    if (sfmy_exec(s, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
                  "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',"
                  " time_zone = '+00:00', innodb_lock_wait_timeout = " SFMY_LOCK_WAIT_S,
                  "setting up the session", errstr, n) ||
        sfmy_exec(s, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                  "setting up the session", errstr, n)) {
        sfmy_disconnect(s);
        return -1;
    }
    if (mysql_autocommit(s->db, 1)) {
        sfmy_db_fail(s, "setting up the session", errstr, n);
        sfmy_disconnect(s);
        return -1;
    }
    /* A process stopped (SIGSTOP, a debugger, a VM pause) inside apply()'s
     * transaction would hold its row locks on sales until it resumes, and
     * every other writer needs those rows. apply() sends its statements
     * back to back, so a transaction idle for SFMY_IDLE_TXN_S is one whose
     * client is not running: MariaDB (10.3+) then ends the connection,
     * which rolls the transaction back and frees the locks; the client, if
     * it ever resumes, finds the connection gone and retries the batch.
     * MySQL has no such setting (ER_UNKNOWN_SYSTEM_VARIABLE): there the
     * locks stay until the server's wait_timeout (docs/mysql.md). */
    static const char idle[] = "SET SESSION idle_transaction_timeout = " SFMY_IDLE_TXN_S;
    if (mysql_real_query(s->db, idle, (unsigned long)strlen(idle)) &&
        mysql_errno(s->db) != ER_UNKNOWN_SYSTEM_VARIABLE) {
        sfmy_db_fail(s, "setting up the session", errstr, n);
        sfmy_disconnect(s);
        return -1;
    }
    return 0;
}

/* --- statements ---------------------------------------------------------- */

MYSQL_STMT *sfmy_stmt_text(struct mysql_store *s, const void *key, unsigned variant,
                           const char *text, char *errstr, size_t n)
{
    struct stmt_slot *victim = &s->cache[0];
    for (size_t i = 0; i < SFMY_STMT_CACHE; i++) {
        struct stmt_slot *c = &s->cache[i];
        if (c->st && c->key == key && c->variant == variant) {
            c->used = ++s->tick;
            return c->st;
        }
        if (!c->st || (victim->st && c->used < victim->used))
            victim = c;
    }
    MYSQL_STMT *st = mysql_stmt_init(s->db);
    if (!st) {
        sfmy_db_fail(s, "preparing a statement", errstr, n);
        return NULL;
    }
    if (mysql_stmt_prepare(st, text, (unsigned long)strlen(text))) {
        char what[128];
        snprintf(what, sizeof(what), "preparing \"%.80s…\"", text);
        sfmy_stmt_fail(s, st, what, errstr, n);
        mysql_stmt_close(st);
        return NULL;
    }
    if (victim->st)
        mysql_stmt_close(victim->st);
    victim->key = key;
    victim->variant = variant;
    victim->st = st;
    victim->used = ++s->tick;
    return st;
}

MYSQL_STMT *sfmy_stmt(struct mysql_store *s, const struct sql_text *sql, unsigned rows,
                      char *errstr, size_t n)
{
    for (size_t i = 0; i < SFMY_STMT_CACHE; i++) {
        struct stmt_slot *c = &s->cache[i];
        if (c->st && c->key == sql && c->variant == rows) {
            c->used = ++s->tick;
            return c->st;
        }
    }
    size_t hl = strlen(sql->head), gl = sql->group ? strlen(sql->group) : 0;
    size_t tl = sql->tail ? strlen(sql->tail) : 0;
    char *text = malloc(hl + (size_t)rows * (gl + 1) + tl + 1), *w = text;
    if (!text) {
        sfmy_plain_fail(s, errstr, n, "out of memory");
        return NULL;
    }
    memcpy(w, sql->head, hl);
    w += hl;
    for (unsigned r = 0; sql->group && r < rows; r++) {
        if (r)
            *w++ = ',';
        memcpy(w, sql->group, gl);
        w += gl;
    }
    memcpy(w, sql->tail ? sql->tail : "", tl);
    w[tl] = '\0';
    MYSQL_STMT *st = sfmy_stmt_text(s, sql, rows, text, errstr, n);
    free(text);
    return st;
}

void sfmy_bind_str(MYSQL_BIND *b, const char *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)v;
    b->buffer_length = (unsigned long)strlen(v);
}

void sfmy_bind_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

void sfmy_bind_time(MYSQL_BIND *b, const MYSQL_TIME *t)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_DATETIME;
    b->buffer = (void *)t;
}

void sfmy_time(int64_t ms, MYSQL_TIME *t)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    memset(t, 0, sizeof(*t));
    t->year = (unsigned)(tm.tm_year + 1900);
    t->month = (unsigned)tm.tm_mon + 1;
    t->day = (unsigned)tm.tm_mday;
    t->hour = (unsigned)tm.tm_hour;
    t->minute = (unsigned)tm.tm_min;
    t->second = (unsigned)tm.tm_sec;
    t->second_part = (unsigned long)(ms - (int64_t)secs * 1000) * 1000;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

int sfmy_query(struct mysql_store *s, MYSQL_STMT *st, MYSQL_BIND *params,
               sfmy_row_fn fn, void *opaque, const char *what, char *errstr, size_t n)
{
    MYSQL_BIND rb[SFMY_MAX_COLS];
    unsigned long len[SFMY_MAX_COLS];
    my_bool isnull[SFMY_MAX_COLS], trunc[SFMY_MAX_COLS];
    char (*buf)[SFMY_COL_BUF] = NULL;
    int rc = -1, stop = 0, frc;

    if ((params && mysql_stmt_bind_param(st, params)) || mysql_stmt_execute(st))
        return sfmy_stmt_fail(s, st, what, errstr, n);
    unsigned ncols = mysql_stmt_field_count(st);
    if (ncols == 0)
        return 0;
    if (ncols > SFMY_MAX_COLS || !(buf = malloc(SFMY_MAX_COLS * sizeof(*buf)))) {
        sfmy_plain_fail(s, errstr, n, ncols > SFMY_MAX_COLS ? "too many columns"
                                                            : "out of memory");
        goto out;
    }
    memset(rb, 0, sizeof(rb));
    for (unsigned i = 0; i < ncols; i++) {
        rb[i].buffer_type = MYSQL_TYPE_STRING;
        rb[i].buffer = buf[i];
        rb[i].buffer_length = SFMY_COL_BUF - 1;
        rb[i].length = &len[i];
        rb[i].is_null = &isnull[i];
        rb[i].error = &trunc[i];
    }
    if (mysql_stmt_bind_result(st, rb) || mysql_stmt_store_result(st)) {
        sfmy_stmt_fail(s, st, what, errstr, n);
        goto out;
    }
    while ((frc = mysql_stmt_fetch(st)) == 0 || frc == MYSQL_DATA_TRUNCATED) {
        char *cols[SFMY_MAX_COLS];
        for (unsigned i = 0; i < ncols; i++) {
            buf[i][len[i] < SFMY_COL_BUF - 1 ? len[i] : SFMY_COL_BUF - 1] = '\0';
            cols[i] = isnull[i] ? NULL : buf[i];
        }
        if (!stop && fn)
            stop = fn(opaque, cols, ncols);
    }
    if (frc != MYSQL_NO_DATA) {
        sfmy_stmt_fail(s, st, what, errstr, n);
        goto out;
    }
    rc = stop;
out:
    mysql_stmt_free_result(st);
    free(buf);
    return rc;
}

int sfmy_query_str(struct mysql_store *s, const struct sql_text *sql,
                   const char *const *params, unsigned nparams, sfmy_row_fn fn,
                   void *opaque, const char *what, char *errstr, size_t n)
{
    MYSQL_BIND pb[4];
    MYSQL_STMT *st = sfmy_stmt(s, sql, 1, errstr, n);
    if (!st)
        return -1;
    if (nparams > SF_ARRAY_LEN(pb))
        return sfmy_plain_fail(s, errstr, n, "too many parameters");
    for (unsigned i = 0; i < nparams; i++)
        sfmy_bind_str(&pb[i], params[i]);
    return sfmy_query(s, st, nparams ? pb : NULL, fn, opaque, what, errstr, n);
}

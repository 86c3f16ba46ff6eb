/*
 * mysql — MySQL or MariaDB as the serving store (mysql://…), through MariaDB
 * Connector/C. The tables are the original sales_db's: `sales` keeps the
 * original columns (sales_id, source, state, total_sum_amount) so Superset
 * or Grafana charts built on it keep working, plus orders, sales_minute and
 * salesflow_offsets (created and versioned by mysql_schema.c; the URI,
 * connection and statement cache are in mysql_conn.c).
 *
 * Money: DECIMAL(18,2) columns, sent as exact decimal text ("2100.00",
 * money_format) and read back as text (money_parse); no floats anywhere.
 *
 * Exactly once: apply() is one READ COMMITTED transaction:
 *   1. orders — the batch's distinct order_ids, sorted, in multi-row plain
 *      INSERTs (not INSERT IGNORE): if a statement succeeds, every row in it
 *      is ours. A duplicate key (a row committed earlier, by us before a
 *      crash or by a concurrent processor) fails just that statement; we
 *      then SELECT which of its ids exist (READ COMMITTED sees the latest
 *      commits) and insert the rest. A row another transaction is still
 *      inserting makes our INSERT wait for it and then fail or succeed with
 *      it, so two processors with overlapping batches never both count one
 *      order. Sorting the ids makes every writer take those row locks in one
 *      order.
 *   2. sales, sales_minute, sales_quarter, sales_hour, sales_day, sales_customer_hour,
 *      sales_customer_day — the deltas of exactly the rows inserted in step
 *      1, as multi-row INSERT … ON DUPLICATE KEY UPDATE x = x + VALUES(x), in
 *      the fixed key order sales_deltas() (and sales_rollup(),
 *      sales_customer_deltas()) produce, so concurrent writers take row
 *      locks in one order.
 *   3. salesflow_offsets — the new log positions; then COMMIT.
 * A deadlock, lock wait timeout, lost connection or server restart rolls
 * the whole transaction back (the server does it when the connection
 * dies) and apply() retries it from step 1, reconnecting with backoff. If
 * that still fails after a few seconds, apply() returns the error, the
 * processor retries the same batch later, and the next call reconnects
 * first. A COMMIT whose reply was lost is harmless: the retry finds every
 * row present and adds nothing.
 *
 * States: the original `sales.state` is VARCHAR(2). A state that fits the
 * state columns is stored as is; the processor's "unknown" (a customer
 * missing from the catalog) becomes "??" when it does not fit; any other
 * state too long for the columns fails the batch with a message saying how
 * to widen them (merging different states into one row would be silent
 * corruption). The width is read from the tables, and read again when a
 * state does not fit, so widening them needs no restart.
 *
 * Privileges: opening needs SELECT (and CREATE while migrating). A handle
 * without INSERT or UPDATE still serves reads (a read-only dashboard
 * user); its load_positions() and apply() fail with the privilege error,
 * which stops a processor at start.
 *
 * Every statement with values is a prepared statement; multi-row statements
 * are prepared per row count and cached per connection.
 */
#include "store/mysql_int.h"
#include "core/money.h"
#include "core/util.h"

#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORDERS_CHUNK 1024       /* most rows per INSERT INTO orders (7 values) */
#define UPSERT_CHUNK 1024       /* most rows per aggregate upsert (6 values) */
#define EXACT_BELOW 64          /* smaller INSERTs are prepared for their size */
#define APPLY_ATTEMPTS 8        /* transaction attempts inside one apply() */
#define UNKNOWN_STATE "??"      /* "unknown" where the state columns are narrow */

static const struct sql_text ins_orders = {
    "INSERT INTO orders (uuid, customer_id, source, quantity, total, created_at,"
    " state) VALUES ", "(?,?,?,?,?,?,?)", ""};
static const struct sql_text sel_uuids = {
    "SELECT uuid FROM orders WHERE uuid IN (", "?", ")"};
static const struct sql_text sel_states = {
    "SELECT uuid, state FROM salesflow_replay_state WHERE uuid IN (", "?", ")"};
/* updated_at: the latest log time folded in (as in SQLite), so a replay
 * reproduces the table exactly; COALESCE for hand-made nullable columns. */
static const struct sql_text up_sales = {
    "INSERT INTO sales (source, state, total_sum_amount, order_count, quantity,"
    " updated_at) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE"
    " total_sum_amount = total_sum_amount + VALUES(total_sum_amount),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity),"
    " updated_at = GREATEST(COALESCE(updated_at, VALUES(updated_at)), VALUES(updated_at))"};
static const struct sql_text up_minute = {
    "INSERT INTO sales_minute (minute, source, state, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_quarter = {
    "INSERT INTO sales_quarter (quarter, source, state, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_hour = {
    "INSERT INTO sales_hour (hour, source, state, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_day = {
    "INSERT INTO sales_day (day, source, state, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_cust_hour = {
    "INSERT INTO sales_customer_hour (hour, customer_id, source, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_cust_day = {
    "INSERT INTO sales_customer_day (day, customer_id, source, total, order_count,"
    " quantity) VALUES ", "(?,?,?,?,?,?)",
    " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
    " order_count = order_count + VALUES(order_count),"
    " quantity = quantity + VALUES(quantity)"};
static const struct sql_text up_pos = {
    "INSERT INTO salesflow_offsets (topic, `partition`, next_offset, last_mark) VALUES ",
    "(?,?,?,?)", " ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset),"
    " last_mark = VALUES(last_mark)"};
static const struct sql_text q_positions = {
    "SELECT `partition`, next_offset, last_mark FROM salesflow_offsets WHERE topic = ?"
    " ORDER BY `partition`", NULL, NULL};
/* positions() of a bare topic name: every identity of it (see store.h). */
static const struct sql_text q_positions_any = {
    "SELECT `partition`, next_offset FROM salesflow_offsets WHERE topic = ?"
    " OR LEFT(topic, CHAR_LENGTH(?) + 1) = CONCAT(?, '@') ORDER BY `partition`",
    NULL, NULL};
static const struct sql_text q_adopt_have = {
    "SELECT COUNT(*) FROM salesflow_offsets WHERE topic = ? OR topic = ? FOR UPDATE",
    NULL, NULL};
static const struct sql_text q_adopt_key = {
    "SELECT COUNT(*) FROM salesflow_offsets WHERE topic = ?", NULL, NULL};
static const struct sql_text q_has_order = {
    "SELECT COUNT(*) FROM orders WHERE uuid = ?", NULL, NULL};
static const struct sql_text q_adopt = {
    "UPDATE salesflow_offsets SET topic = ? WHERE topic = ?", NULL, NULL};
static const struct sql_text q_sales = {
    "SELECT source, state, total_sum_amount, order_count, quantity, updated_at"
    " FROM sales ORDER BY total_sum_amount DESC, source, state", NULL, NULL};
/* Keys for the dashboard queries, whose text depends on the filter. */
static const char q_minute_key[] = "sales_minute", q_recent_key[] = "recent_orders",
                  q_query_key[] = "query";
static const struct sql_text q_charts = {
    "SELECT id, name, definition, DATE_FORMAT(created, '%Y-%m-%d %H:%i:%s.%f')"
    " FROM salesflow_charts ORDER BY id LIMIT 100", NULL, NULL};
static const struct sql_text q_chart_add = {
    "INSERT INTO salesflow_charts (name, definition, created)"
    " SELECT ?, ?, UTC_TIMESTAMP(3) FROM DUAL"
    " WHERE (SELECT COUNT(*) FROM salesflow_charts) < ?", NULL, NULL};
static const struct sql_text q_chart_del = {
    "DELETE FROM salesflow_charts WHERE id = ?", NULL, NULL};

/* --- open / close -------------------------------------------------------- */

static void mysql_store_close(struct store *b)
{
    struct mysql_store *s = (struct mysql_store *)b;
    if (!s)
        return;
    sfmy_disconnect(s);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s->user);
    free(s->host);
    free(s->dbname);
    free(s->socket);
    free(s->bind);
    free(s);
}

/* Prepare the write statements once: the server checks privileges here, so
 * a user without INSERT or UPDATE is found at open, not at the first batch. */
static int check_writable(struct mysql_store *s, char *errstr, size_t n)
{
    const struct sql_text *w[] = {&ins_orders, &up_sales, &up_minute, &up_quarter, &up_hour,
                                  &up_day, &up_cust_hour, &up_cust_day, &up_pos};
    s->write_err[0] = '\0';
    if (s->outdated[0]) {
        snprintf(s->write_err, sizeof(s->write_err), "cannot write: %.700s", s->outdated);
        return 0;
    }
    for (size_t i = 0; i < SF_ARRAY_LEN(w); i++) {
        if (sfmy_stmt(s, w[i], 1, errstr, n))
            continue;
        if (!sfmy_is_privilege_error(s->last_errno))
            return -1;
        /* Reads still work: a read-only user may serve the dashboard. */
        sfmy_report(s, s->last_errno, s->last_msg, "cannot write", s->write_err,
                    sizeof(s->write_err));
        log_info("mysql store %s: no INSERT/UPDATE privilege, so reads only", s->where);
        return 0;
    }
    return 0;
}

static int mysql_store_open(struct store **out, const char *where, char *errstr, size_t n)
{
    struct mysql_store *s = calloc(1, sizeof(*s));
    if (!s)
        return sf_err(-1, errstr, n, "out of memory");
    s->base.ops = &mysql_store_ops;
    s->state_width = 2;
    if (!(s->bind = malloc(ORDERS_CHUNK * 7 * sizeof(*s->bind)))) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    if (sfmy_parse_uri(s, where, errstr, n) || sfmy_connect(s, errstr, n) ||
        sfmy_migrate(s, errstr, n) || check_writable(s, errstr, n))
        goto fail;
    *out = &s->base;
    return 0;
fail:
    mysql_store_close(&s->base);
    return -1;
}

/* Run op; after a lost connection, reconnect and run it once more. */
static int with_reconnect(struct mysql_store *s,
                          int (*op)(struct mysql_store *, void *, char *, size_t),
                          void *arg, char *errstr, size_t n)
{
    for (int attempt = 0;; attempt++) {
        int rc = s->db ? 0 : sfmy_connect(s, errstr, n);
        if (rc == 0 && (rc = op(s, arg, errstr, n)) == 0)
            return 0;
        if (!sfmy_is_conn_error(s->last_errno) || attempt == 1)
            return rc;
        sfmy_disconnect(s);
    }
}

/* --- load_positions ------------------------------------------------------ */

struct pos_ctx {
    const char *topic;
    int64_t *next, *mark;
    int nparts;
    struct store_position *rows;    /* positions(): all of them */
    size_t n, cap;
};

static int on_position(void *opaque, char **col, unsigned ncols)
{
    struct pos_ctx *c = opaque;
    if (ncols < 2 || !col[0] || !col[1])
        return 0;
    int p = atoi(col[0]);
    int64_t next = strtoll(col[1], NULL, 10);
    if (!c->next) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            struct store_position *r = realloc(c->rows, cap * sizeof(*r));
            if (!r)
                return -2;
            c->rows = r;
            c->cap = cap;
        }
        c->rows[c->n].partition = p;
        c->rows[c->n++].next_offset = next;
    } else if (p >= 0 && p < c->nparts) {
        c->next[p] = next;
        if (c->mark)
            c->mark[p] = ncols > 2 && col[2] ? strtoll(col[2], NULL, 10) : 0;
    } else {
        log_warn("store has a position for partition %d of %s, which has only %d "
                 "partitions; ignored", p, c->topic, c->nparts);
    }
    return 0;
}

static int positions_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct pos_ctx *c = arg;
    const char *params[] = {c->topic, c->topic, c->topic};
    for (int i = 0; c->next && i < c->nparts; i++) {
        c->next[i] = 0;
        if (c->mark)
            c->mark[i] = 0;
    }
    c->n = 0;
    int any = !c->next && !strchr(c->topic, '@');
    int rc = sfmy_query_str(s, any ? &q_positions_any : &q_positions, params,
                            any ? 3 : 1, on_position, c, "reading log positions",
                            errstr, n);
    return rc == -2 ? sfmy_plain_fail(s, errstr, n, "out of memory") : rc;
}

static int mysql_load_positions(struct store *b, const char *topic, int64_t *next,
                                int64_t *mark, int nparts, char *errstr, size_t n)
{
    struct mysql_store *s = (struct mysql_store *)b;
    struct pos_ctx c = {.topic = topic, .next = next, .mark = mark, .nparts = nparts};
    /* Only a processor asks for positions: a handle that cannot write
     * stops it here, at start, with the reason. */
    if (s->write_err[0])
        return sf_err(-1, errstr, n, "%s", s->write_err);
    return with_reconnect(s, positions_once, &c, errstr, n);
}

static int mysql_positions(struct store *b, const char *topic,
                           struct store_position **rows, size_t *n, char *errstr,
                           size_t en)
{
    struct mysql_store *s = (struct mysql_store *)b;
    struct pos_ctx c = {.topic = topic};
    if (with_reconnect(s, positions_once, &c, errstr, en)) {
        free(c.rows);
        return -1;
    }
    *rows = c.rows;
    *n = c.n;
    return 0;
}

/* A transaction of several statements failed: roll it back (unless the
 * connection is gone, when the server already did) and keep the failure's
 * error number for error_kind() and the retry loop. Returns -1. */
static int rollback_failed(struct mysql_store *s)
{
    if (s->db && !sfmy_is_conn_error(s->last_errno)) {
        unsigned e = s->last_errno;
        mysql_rollback(s->db);
        s->last_errno = e;
    }
    return -1;
}

/* --- adopt_positions ----------------------------------------------------- */

struct adopt_ctx {
    const char *topic, *key;
    int moved;
};

static int count_col(void *opaque, char **col, unsigned ncols)
{
    *(long *)opaque = ncols && col[0] ? atol(col[0]) : 0;
    return 0;
}

struct has_ctx {
    const char *const *ids;
    int n, found;
};

static int has_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct has_ctx *c = arg;
    c->found = 0;
    for (int i = 0; i < c->n; i++) {
        long k = 0;
        if (sfmy_query_str(s, &q_has_order, &c->ids[i], 1, count_col, &k,
                           "looking up orders", errstr, n))
            return -1;
        c->found += k > 0;
    }
    return 0;
}

static int mysql_has_orders(struct store *b, const char *const *ids, int n, char *errstr,
                            size_t en)
{
    struct has_ctx c = {.ids = ids, .n = n};
    if (with_reconnect((struct mysql_store *)b, has_once, &c, errstr, en))
        return -1;
    return c.found;
}

static int adopt_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct adopt_ctx *c = arg;
    const char *both[] = {c->topic, c->key}, *key[] = {c->key}, *upd[] = {c->key, c->topic};
    long all = 0, have = 0;
    c->moved = 0;
    /* FOR UPDATE: members of a group starting together take them over once. */
    if (sfmy_exec(s, "START TRANSACTION", "taking over positions", errstr, n) ||
        sfmy_query_str(s, &q_adopt_have, both, 2, count_col, &all,
                       "taking over positions", errstr, n) ||
        sfmy_query_str(s, &q_adopt_key, key, 1, count_col, &have,
                       "taking over positions", errstr, n) ||
        (have == 0 && all > 0 &&
         sfmy_query_str(s, &q_adopt, upd, 2, NULL, NULL, "taking over positions",
                        errstr, n)) ||
        (mysql_commit(s->db) && sfmy_db_fail(s, "COMMIT", errstr, n))) {
        return rollback_failed(s);
    }
    c->moved = have == 0 ? (int)all : 0;
    return 0;
}

static int mysql_adopt_positions(struct store *b, const char *topic, const char *key,
                                 char *errstr, size_t n)
{
    struct mysql_store *s = (struct mysql_store *)b;
    struct adopt_ctx c = {.topic = topic, .key = key};
    if (s->write_err[0])
        return sf_err(-1, errstr, n, "%s", s->write_err);
    if (with_reconnect(s, adopt_once, &c, errstr, n))
        return -1;
    return c.moved;
}

/* --- apply --------------------------------------------------------------- */

/* order_ids compare byte for byte, as orders.uuid does since schema
 * version 2 (a NO PAD binary collation, or VARBINARY; mysql_schema.c):
 * "P-7" and "P-7 " are two orders. */
static int key_cmp(const char *a, const char *b)
{
    return strcmp(a, b);
}

struct idref {
    const char *id;
    size_t i;                   /* index into the batch */
};

static int cmp_idref(const void *a, const void *b)
{
    const struct idref *x = a, *y = b;
    int c = key_cmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Everything apply() derives from its rows once, reused by every attempt. */
struct batch {
    const struct store_order *rows;
    struct store_order *mapped;     /* rows with states fitted, or NULL */
    size_t n;
    struct idref *uniq;             /* distinct ids, sorted, first occurrence */
    size_t nu;
    struct idref *want;             /* scratch for one chunk */
    MYSQL_TIME *created;
    char (*total)[24];
    unsigned char *ins;             /* row i was inserted by this attempt */
};

static void batch_free(struct batch *b)
{
    free(b->mapped);
    free(b->uniq);
    free(b->want);
    free(b->created);
    free(b->total);
    free(b->ins);
}

static int batch_init(struct mysql_store *s, struct batch *b,
                      const struct store_order *rows, size_t n, char *errstr, size_t en)
{
    size_t m = n ? n : 1;
    memset(b, 0, sizeof(*b));
    b->rows = rows;
    b->n = n;
    b->uniq = malloc(m * sizeof(*b->uniq));
    b->want = malloc((m < ORDERS_CHUNK ? m : ORDERS_CHUNK) * sizeof(*b->want));
    b->created = malloc(m * sizeof(*b->created));
    b->total = malloc(m * sizeof(*b->total));
    b->ins = calloc(m, 1);
    if (!b->uniq || !b->want || !b->created || !b->total || !b->ins)
        return sfmy_plain_fail(s, errstr, en, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *st = rows[i].state;
        if (strlen(st) <= s->state_width)
            continue;
        if (strcmp(st, "unknown") != 0 || strlen(UNKNOWN_STATE) > s->state_width) {
            char m2[384];
            snprintf(m2, sizeof(m2), "state \"%s\" of customer %" PRId64 " is longer than "
                     "the state columns (%u characters); widen them: ALTER TABLE sales "
                     "MODIFY state VARCHAR(32) NOT NULL (and orders, sales_minute, "
                     "sales_quarter, sales_hour, sales_day)",
                     st, rows[i].o.customer_id, s->state_width);
            return sfmy_plain_fail(s, errstr, en, m2);
        }
        if (!b->mapped) {
            if (!(b->mapped = malloc(n * sizeof(*b->mapped))))
                return sfmy_plain_fail(s, errstr, en, "out of memory");
            memcpy(b->mapped, rows, n * sizeof(*rows));
            b->rows = b->mapped;
        }
        snprintf(b->mapped[i].state, sizeof(b->mapped[i].state), "%s", UNKNOWN_STATE);
    }
    for (size_t i = 0; i < n; i++) {
        b->uniq[i].id = b->rows[i].o.order_id;
        b->uniq[i].i = i;
        sfmy_time(b->rows[i].o.created_ms, &b->created[i]);
        money_format(b->rows[i].o.total_cents, b->total[i]);
    }
    qsort(b->uniq, n, sizeof(*b->uniq), cmp_idref);
    for (size_t i = 0; i < n; i++)
        if (b->nu == 0 || key_cmp(b->uniq[b->nu - 1].id, b->uniq[i].id) != 0)
            b->uniq[b->nu++] = b->uniq[i];
    return 0;
}

/* Which of want[0..k) exist in orders: remove them from want. */
static int drop_existing(struct mysql_store *s, struct batch *b, size_t *k,
                         char *errstr, size_t en)
{
    MYSQL_STMT *st = sfmy_stmt(s, &sel_uuids, (unsigned)*k, errstr, en);
    MYSQL_BIND rb;
    char id[SF_UUID_STRLEN * 4 + 8];
    unsigned long len = 0;
    my_bool isnull = 0, trunc = 0;
    unsigned char *present = NULL;
    int rc = -1, frc;
    if (!st)
        return -1;
    for (size_t j = 0; j < *k; j++)
        sfmy_bind_str(&s->bind[j], b->want[j].id);
    if (mysql_stmt_bind_param(st, s->bind) || mysql_stmt_execute(st))
        return sfmy_stmt_fail(s, st, "looking up existing orders", errstr, en);
    memset(&rb, 0, sizeof(rb));
    rb.buffer_type = MYSQL_TYPE_STRING;
    rb.buffer = id;
    rb.buffer_length = sizeof(id) - 1;
    rb.length = &len;
    rb.is_null = &isnull;
    rb.error = &trunc;
    if (!(present = calloc(*k, 1))) {
        sfmy_plain_fail(s, errstr, en, "out of memory");
        goto out;
    }
    if (mysql_stmt_bind_result(st, &rb)) {
        sfmy_stmt_fail(s, st, "looking up existing orders", errstr, en);
        goto out;
    }
    while ((frc = mysql_stmt_fetch(st)) == 0 || frc == MYSQL_DATA_TRUNCATED) {
        id[len < sizeof(id) - 1 ? len : sizeof(id) - 1] = '\0';
        struct idref key = {id, 0};
        /* want is sorted by key; find any entry with an equal key */
        size_t lo = 0, hi = *k;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (key_cmp(b->want[mid].id, key.id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < *k && key_cmp(b->want[lo].id, key.id) == 0)
            present[lo] = 1;
    }
    if (frc != MYSQL_NO_DATA) {
        sfmy_stmt_fail(s, st, "looking up existing orders", errstr, en);
        goto out;
    }
    size_t w = 0;
    for (size_t j = 0; j < *k; j++)
        if (!present[j])
            b->want[w++] = b->want[j];
    *k = w;
    rc = 0;
out:
    mysql_stmt_free_result(st);
    free(present);
    return rc;
}

/* Insert the orders uniq[0..k); mark the ones this transaction inserted. */
static int insert_orders(struct mysql_store *s, struct batch *b, const struct idref *ids,
                         size_t k, char *errstr, size_t en)
{
    memcpy(b->want, ids, k * sizeof(*ids));
    for (int tries = 0; k > 0; tries++) {
        MYSQL_STMT *st = sfmy_stmt(s, &ins_orders, (unsigned)k, errstr, en);
        if (!st)
            return -1;
        for (size_t j = 0; j < k; j++) {
            size_t i = b->want[j].i;
            const struct store_order *r = &b->rows[i];
            MYSQL_BIND *p = &s->bind[j * 7];
            sfmy_bind_str(&p[0], r->o.order_id);
            sfmy_bind_i64(&p[1], &r->o.customer_id);
            sfmy_bind_str(&p[2], r->source);
            sfmy_bind_i64(&p[3], &r->o.quantity);
            sfmy_bind_str(&p[4], b->total[i]);
            sfmy_bind_time(&p[5], &b->created[i]);
            sfmy_bind_str(&p[6], r->state);
        }
        if (mysql_stmt_bind_param(st, s->bind))
            return sfmy_stmt_fail(s, st, "inserting into orders", errstr, en);
        if (mysql_stmt_execute(st) == 0) {
            for (size_t j = 0; j < k; j++)
                b->ins[b->want[j].i] = 1;
            return 0;
        }
        if (mysql_stmt_errno(st) != ER_DUP_ENTRY || tries >= 8)
            return sfmy_stmt_fail(s, st, "inserting into orders", errstr, en);
        /* Some are there already (committed before, by us or another
         * processor): insert only the others. */
        if (drop_existing(s, b, &k, errstr, en))
            return -1;
    }
    return 0;
}

/* Rows in the next INSERT INTO orders of r remaining: whole powers of two
 * down to EXACT_BELOW, then the exact rest, so that the few statement sizes
 * stay prepared instead of a new one being prepared for every batch. */
static size_t orders_chunk(size_t r)
{
    size_t k = ORDERS_CHUNK;
    if (r < EXACT_BELOW)
        return r;
    while (k > r)
        k /= 2;
    return k;
}

/* An upsert of k rows is sent as a power of two of rows: the last row again
 * with zero increments (a no-op), for the same reason. */
static size_t upsert_rows(size_t k)
{
    size_t p = 1;
    while (p < k)
        p *= 2;
    return p;
}

static const int64_t zero;

static int upsert_sales(struct mysql_store *s, const struct sales_delta *d, size_t nd,
                        char (*amt)[24], MYSQL_TIME *tm, char *errstr, size_t en)
{
    for (size_t off = 0; off < nd; off += UPSERT_CHUNK) {
        size_t k = nd - off < UPSERT_CHUNK ? nd - off : UPSERT_CHUNK;
        size_t padded = upsert_rows(k);
        MYSQL_STMT *st = sfmy_stmt(s, &up_sales, (unsigned)padded, errstr, en);
        if (!st)
            return -1;
        for (size_t j = 0; j < padded; j++) {
            size_t i = off + (j < k ? j : k - 1);
            const struct sales_delta *x = &d[i];
            MYSQL_BIND *p = &s->bind[j * 6];
            if (j < k)
                sfmy_time(x->updated_ms, &tm[i]);
            sfmy_bind_str(&p[0], x->source_name);
            sfmy_bind_str(&p[1], x->state);
            sfmy_bind_str(&p[2], j < k ? money_format(x->total_cents, amt[i]) : "0.00");
            sfmy_bind_i64(&p[3], j < k ? &x->count : &zero);
            sfmy_bind_i64(&p[4], j < k ? &x->quantity : &zero);
            sfmy_bind_time(&p[5], &tm[i]);
        }
        if (mysql_stmt_bind_param(st, s->bind) || mysql_stmt_execute(st))
            return sfmy_stmt_fail(s, st, "updating sales", errstr, en);
    }
    return 0;
}

/* sql: up_minute, up_quarter, up_hour or up_day (the deltas' keys
 * "YYYY-MM-DDTHH:MM"),
 * or with customer != 0 up_cust_hour or up_cust_day (customer_id in place
 * of state, before source). */
static int upsert_minute(struct mysql_store *s, const struct sql_text *sql,
                         const char *what, const struct sales_delta *d, size_t nd,
                         int customer, char (*amt)[24], MYSQL_TIME *tm, char *errstr,
                         size_t en)
{
    for (size_t off = 0; off < nd; off += UPSERT_CHUNK) {
        size_t k = nd - off < UPSERT_CHUNK ? nd - off : UPSERT_CHUNK;
        size_t padded = upsert_rows(k);
        MYSQL_STMT *st = sfmy_stmt(s, sql, (unsigned)padded, errstr, en);
        if (!st)
            return -1;
        for (size_t j = 0; j < padded; j++) {
            size_t i = off + (j < k ? j : k - 1);
            const struct sales_delta *x = &d[i];
            MYSQL_TIME *t = &tm[i];
            if (j < k) {
                unsigned y = 0, mo = 0, dd = 0, h = 0, mi = 0;
                sscanf(x->minute, "%4u-%2u-%2uT%2u:%2u", &y, &mo, &dd, &h, &mi);
                memset(t, 0, sizeof(*t));
                t->year = y;
                t->month = mo;
                t->day = dd;
                t->hour = h;
                t->minute = mi;
                t->time_type = MYSQL_TIMESTAMP_DATETIME;
            }
            MYSQL_BIND *p = &s->bind[j * 6];
            sfmy_bind_time(&p[0], t);
            if (customer) {
                sfmy_bind_i64(&p[1], &x->customer_id);
                sfmy_bind_str(&p[2], x->source_name);
            } else {
                sfmy_bind_str(&p[1], x->source_name);
                sfmy_bind_str(&p[2], x->state);
            }
            sfmy_bind_str(&p[3], j < k ? money_format(x->total_cents, amt[i]) : "0.00");
            sfmy_bind_i64(&p[4], j < k ? &x->count : &zero);
            sfmy_bind_i64(&p[5], j < k ? &x->quantity : &zero);
        }
        if (mysql_stmt_bind_param(st, s->bind) || mysql_stmt_execute(st))
            return sfmy_stmt_fail(s, st, what, errstr, en);
    }
    return 0;
}

static int write_positions(struct mysql_store *s, const char *topic, const int64_t *next,
                           const int64_t *mark, int nparts, char *errstr, size_t en)
{
    size_t np = (size_t)(nparts > 0 ? nparts : 1);
    int64_t *part = malloc(2 * np * sizeof(*part)), *marks = part ? part + np : NULL;
    int rc = 0;
    if (!part)
        return sfmy_plain_fail(s, errstr, en, "out of memory");
    for (int p = 0; p < nparts && rc == 0;) {
        unsigned k = 0;
        for (; p < nparts && k < UPSERT_CHUNK; p++) {
            if (next[p] < 0)
                continue;
            part[p] = p;
            marks[p] = mark ? mark[p] : 0;
            MYSQL_BIND *b = &s->bind[k * 4];
            sfmy_bind_str(&b[0], topic);
            sfmy_bind_i64(&b[1], &part[p]);
            sfmy_bind_i64(&b[2], &next[p]);
            sfmy_bind_i64(&b[3], &marks[p]);
            k++;
        }
        if (k == 0)
            break;
        MYSQL_STMT *st = sfmy_stmt(s, &up_pos, k, errstr, en);
        if (!st)
            rc = -1;
        else if (mysql_stmt_bind_param(st, s->bind) || mysql_stmt_execute(st))
            rc = sfmy_stmt_fail(s, st, "storing log positions", errstr, en);
    }
    free(part);
    return rc;
}

/* One chunk's answers from salesflow_replay_state: give the batch's row
 * with that id the state it was stored with. */
struct states_ctx {
    struct batch *b;
    const struct idref *ids;    /* the chunk, sorted by key */
    size_t k;
    unsigned width;
};

static int on_state(void *opaque, char **col, unsigned ncols)
{
    struct states_ctx *c = opaque;
    if (ncols < 2 || !col[0] || !col[1] || strlen(col[1]) > c->width)
        return 0;
    size_t lo = 0, hi = c->k;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (key_cmp(c->ids[mid].id, col[0]) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->k && key_cmp(c->ids[lo].id, col[0]) == 0) {
        struct store_order *r = &c->b->mapped[c->ids[lo].i];
        snprintf(r->state, sizeof(r->state), "%s", col[1]);
    }
    return 0;
}

/* Replay: the orders of the batch the store had before the replay emptied
 * it keep the state they were stored with (the customer may have moved
 * since); the catalog's state is for orders new to the store. */
static int stored_states(struct mysql_store *s, struct batch *b, char *errstr, size_t en)
{
    if (!b->mapped) {
        if (!(b->mapped = malloc((b->n ? b->n : 1) * sizeof(*b->mapped))))
            return sfmy_plain_fail(s, errstr, en, "out of memory");
        memcpy(b->mapped, b->rows, b->n * sizeof(*b->rows));
        b->rows = b->mapped;
    }
    for (size_t off = 0, k; off < b->nu; off += k) {
        k = orders_chunk(b->nu - off);
        struct states_ctx c = {b, b->uniq + off, k, s->state_width};
        MYSQL_STMT *st = sfmy_stmt(s, &sel_states, (unsigned)k, errstr, en);
        if (!st)
            return -1;
        for (size_t j = 0; j < k; j++)
            sfmy_bind_str(&s->bind[j], c.ids[j].id);
        if (sfmy_query(s, st, s->bind, on_state, &c,
                       "reading the states of stored orders", errstr, en))
            return -1;
    }
    return 0;
}

/* Test hook: with SALESFLOW_TEST_STOP_IN_TXN=N in the environment, the
 * process stops itself (SIGSTOP) inside its Nth transaction that inserts
 * orders, after the aggregate updates and before COMMIT, with the row locks
 * on sales held: tests/e2e/test_kafka_members.py shows that such a paused
 * member does not stall the others. Unset (always, outside tests): nothing. */
static void test_stop_in_txn(const struct batch *b)
{
    static _Atomic long seen;
    const char *env = getenv("SALESFLOW_TEST_STOP_IN_TXN");
    size_t added = 0;
    if (!env || !*env)
        return;
    for (size_t i = 0; i < b->n; i++)
        added += b->ins[i];
    if (added && atomic_fetch_add(&seen, 1) + 1 == atol(env)) {
        log_warn("SALESFLOW_TEST_STOP_IN_TXN: stopping inside a transaction");
        raise(SIGSTOP);
    }
}

/* The sums of the orders this attempt inserted (amounts, counts,
 * quantities) must fit int64 before they are folded into deltas: past it a
 * delta would wrap round to an amount that may well fit the columns,
 * silently wrong. Past it the batch fails as the server fails a value out
 * of range (a data error), so the processor takes it apart and stores or
 * quarantines its orders one part at a time (a single order always fits
 * here; the server then says which column it would take out of range).
 * 0 or -1. */
static int batch_sums_fit(struct mysql_store *s, const struct batch *b, char *errstr,
                          size_t en)
{
    int64_t sum[3] = {0, 0, 0};
    for (size_t i = 0; i < b->n; i++) {
        int64_t t[3] = {b->rows[i].o.total_cents, 1, b->rows[i].o.quantity};
        for (int c = 0; b->ins[i] && c < 3; c++)
            if (__builtin_add_overflow(sum[c], t[c], &sum[c]))
                return sfmy_report(s, ER_WARN_DATA_OUT_OF_RANGE, "the batch's orders add "
                                   "up past the largest integer (92,233,720,368,547,758.07 "
                                   "of amounts)", "adding up the batch", errstr, en);
    }
    return 0;
}

/* One attempt: the whole batch in one transaction. Leaves it open on
 * failure; the caller rolls back. */
static int apply_once(struct mysql_store *s, struct batch *b, const char *topic,
                      const int64_t *next, const int64_t *mark, int nparts, size_t *added,
                      char *errstr, size_t en)
{
    struct sales_delta *ds = NULL, *dm = NULL, *dq = NULL, *dh = NULL, *dd = NULL,
                       *dch = NULL, *dcd = NULL;
    size_t nds = 0, ndm = 0, ndq = 0, ndh = 0, ndd = 0, ndch = 0, ndcd = 0;
    char (*amt)[24] = NULL;
    MYSQL_TIME *tm = NULL;
    int rc = -1;

    memset(b->ins, 0, b->n ? b->n : 1);
    if (sfmy_exec(s, "START TRANSACTION", "starting a transaction", errstr, en))
        return -1;
    if (s->keep_states && stored_states(s, b, errstr, en))
        goto out;
    for (size_t off = 0, k; off < b->nu; off += k) {
        k = orders_chunk(b->nu - off);
        if (insert_orders(s, b, b->uniq + off, k, errstr, en))
            goto out;
    }
    if (batch_sums_fit(s, b, errstr, en))
        goto out;
    if (sales_deltas(b->rows, b->ins, b->n, &ds, &nds, &dm, &ndm) ||
        sales_rollup(dm, ndm, SALES_ROLLUP_QUARTER, &dq, &ndq) ||
        sales_rollup(dm, ndm, 13, &dh, &ndh) || sales_rollup(dm, ndm, 10, &dd, &ndd) ||
        sales_customer_deltas(b->rows, b->ins, b->n, &dch, &ndch, &dcd, &ndcd) ||
        !(amt = malloc((nds + ndm + ndq + ndh + ndd + ndch + ndcd + 1) * sizeof(*amt))) ||
        !(tm = malloc((nds + ndm + ndq + ndh + ndd + ndch + ndcd + 1) * sizeof(*tm)))) {
        sfmy_plain_fail(s, errstr, en, "out of memory");
        goto out;
    }
    size_t oq = nds + ndm, oh = oq + ndq, od = oh + ndh, o = od + ndd;
    /* Tables in a fixed order (sales, minute, quarter, hour, day, customer
     * hour, customer day), keys sorted in each: concurrent processors take
     * row locks in the same order. */
    if (upsert_sales(s, ds, nds, amt, tm, errstr, en) ||
        upsert_minute(s, &up_minute, "updating sales_minute", dm, ndm, 0, amt + nds,
                      tm + nds, errstr, en) ||
        upsert_minute(s, &up_quarter, "updating sales_quarter", dq, ndq, 0, amt + oq,
                      tm + oq, errstr, en) ||
        upsert_minute(s, &up_hour, "updating sales_hour", dh, ndh, 0, amt + oh, tm + oh,
                      errstr, en) ||
        upsert_minute(s, &up_day, "updating sales_day", dd, ndd, 0, amt + od, tm + od,
                      errstr, en) ||
        upsert_minute(s, &up_cust_hour, "updating sales_customer_hour", dch, ndch, 1,
                      amt + o, tm + o, errstr, en) ||
        upsert_minute(s, &up_cust_day, "updating sales_customer_day", dcd, ndcd, 1,
                      amt + o + ndch, tm + o + ndch, errstr, en) ||
        write_positions(s, topic, next, mark, nparts, errstr, en))
        goto out;
    test_stop_in_txn(b);
    if (mysql_commit(s->db)) {
        sfmy_db_fail(s, "COMMIT", errstr, en);
        goto out;
    }
    *added = 0;
    for (size_t i = 0; i < b->n; i++)
        *added += b->ins[i];
    rc = 0;
out:
    free(ds);
    free(dm);
    free(dq);
    free(dh);
    free(dd);
    free(dch);
    free(dcd);
    free(amt);
    free(tm);
    return rc;
}

/* 1 if a state in rows fits neither the state columns nor the "unknown"
 * mapping. */
static int needs_wider_state(const struct mysql_store *s, const struct store_order *rows,
                             size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(rows[i].state) > s->state_width &&
            (strcmp(rows[i].state, "unknown") != 0 ||
             strlen(UNKNOWN_STATE) > s->state_width))
            return 1;
    return 0;
}

static int mysql_apply(struct store *bs, const char *topic, const struct store_order *rows,
                       size_t n, const int64_t *next, const int64_t *mark, int nparts,
                       size_t *inserted, char *errstr, size_t en)
{
    struct mysql_store *s = (struct mysql_store *)bs;
    struct batch b;
    int rc = -1, backoff = 50;

    s->last_errno = 0;          /* error_kind() describes this call */
    if (s->write_err[0]) {
        sf_err(-1, errstr, en, "%s", s->write_err);
        return -1;
    }
    if (needs_wider_state(s, rows, n) && s->db) {
        /* Perhaps someone widened the columns since we looked. */
        char tmp[256];
        sfmy_check_shape(s, 1, tmp, sizeof(tmp));
    }
    if (batch_init(s, &b, rows, n, errstr, en))
        goto out;
    for (int attempt = 1;; attempt++) {
        s->last_errno = 0;
        rc = s->db ? 0 : sfmy_connect(s, errstr, en);
        if (rc == 0 && (rc = apply_once(s, &b, topic, next, mark, nparts, inserted,
                                        errstr, en)) == 0) {
            if (attempt > 1)
                log_info("mysql store %s: batch of %zu orders applied after %d attempts",
                         s->where, n, attempt);
            break;
        }
        unsigned e = s->last_errno;
        if (s->db && !sfmy_is_conn_error(e) && mysql_rollback(s->db))
            e = mysql_errno(s->db) ? mysql_errno(s->db) : CR_SERVER_LOST;
        if (sfmy_is_conn_error(e))
            sfmy_disconnect(s);  /* the server rolls back what it had */
        if (!(sfmy_is_conn_error(e) || sfmy_is_txn_retry(e)) || attempt >= APPLY_ATTEMPTS)
            break;
        if (sfmy_is_txn_retry(e))
            log_warn("%s; retrying the batch", errstr);
        else if (attempt == 1)
            log_warn("%s; reconnecting", errstr);
        /* Deadlocks: a short random pause so the two writers part ways. */
        sf_pause_ms(sfmy_is_txn_retry(e) ? 5 + (int)((uintptr_t)&b ^ (uintptr_t)sf_mono_ms()) % 50
                                 : backoff);
        backoff = backoff < 1000 ? backoff * 2 : 1000;
    }
out:
    batch_free(&b);
    return rc;
}

static enum store_error_kind mysql_error_kind(struct store *b)
{
    struct mysql_store *s = (struct mysql_store *)b;
    return sfmy_is_data_error(s->last_errno) ? STORE_ERR_DATA : STORE_ERR_TRANSIENT;
}

/* --- reset --------------------------------------------------------------- */

static const struct sql_text del_positions = {
    "DELETE FROM salesflow_offsets WHERE topic = ?", NULL, NULL};

/* One transaction of DELETEs, not TRUNCATE: TRUNCATE commits on its own
 * and needs the DROP privilege. sales_id keeps counting (resetting
 * AUTO_INCREMENT is DDL, which would commit the transaction).
 *
 * Before the rows go, the state each order was stored with is copied to
 * salesflow_replay_state (created here once, so replay needs CREATE the
 * first time), where apply() finds it during the replay; rebuild_end()
 * empties it after a replay that completed. INSERT IGNORE: a replay that
 * stopped half-way left the states the store had before it, which the
 * half-filled orders no longer fully hold. */
static int reset_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    const char *params[] = {arg};
    if (sfmy_exec(s, "CREATE TABLE IF NOT EXISTS salesflow_replay_state ("
                  "uuid VARBINARY(255) NOT NULL PRIMARY KEY,"
                  " state VARCHAR(64) NOT NULL) ENGINE=InnoDB",
                  "creating salesflow_replay_state", errstr, n) ||
        sfmy_exec(s, "START TRANSACTION", "emptying the serving tables", errstr, n) ||
        sfmy_exec(s, "INSERT IGNORE INTO salesflow_replay_state (uuid, state)"
                  " SELECT uuid, state FROM orders",
                  "keeping the states of stored orders", errstr, n) ||
        sfmy_exec(s, "DELETE FROM orders", "emptying orders", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales", "emptying sales", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_minute", "emptying sales_minute", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_quarter", "emptying sales_quarter", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_hour", "emptying sales_hour", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_day", "emptying sales_day", errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_customer_hour", "emptying sales_customer_hour",
                  errstr, n) ||
        sfmy_exec(s, "DELETE FROM sales_customer_day", "emptying sales_customer_day",
                  errstr, n) ||
        sfmy_query_str(s, &del_positions, params, 1, NULL, NULL,
                       "emptying salesflow_offsets", errstr, n) ||
        (mysql_commit(s->db) && sfmy_db_fail(s, "COMMIT", errstr, n))) {
        return rollback_failed(s);
    }
    return 0;
}

static int mysql_reset(struct store *b, const char *topic, char *errstr, size_t n)
{
    struct mysql_store *s = (struct mysql_store *)b;
    if (s->write_err[0])
        return sf_err(-1, errstr, n, "%s", s->write_err);
    int rc = with_reconnect(s, reset_once, (void *)topic, errstr, n);
    s->keep_states = rc == 0;
    return rc;
}

static int forget_states_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    (void)arg;
    return sfmy_exec(s, "DELETE FROM salesflow_replay_state",
                     "emptying salesflow_replay_state", errstr, n);
}

/* The end of a replay (reset() then batches): once it completed, the kept
 * states are not needed any more. After a failed one they stay for the
 * next attempt. */
static int mysql_rebuild_end(struct store *b, int commit, char *errstr, size_t n)
{
    struct mysql_store *s = (struct mysql_store *)b;
    int rc = 0;
    if (commit && s->keep_states)
        rc = with_reconnect(s, forget_states_once, NULL, errstr, n);
    s->keep_states = 0;
    return rc;
}

/* --- reads --------------------------------------------------------------- */

/* "2026-11-29 03:31:54.708…" → "2026-11-29T03:31:54.708Z", as SQLite has it */
static void rfc3339(char *out, size_t n, const char *dt)
{
    snprintf(out, n, "%.23sZ", dt ? dt : "");
    if (strlen(out) > 10 && out[10] == ' ')
        out[10] = 'T';
}

struct rows_ctx {
    void *rows;
    size_t n, cap, size;
    int bad;
    int overflow;       /* a SUM past int64 cents (query) */
};

static void *next_row(struct rows_ctx *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        void *r = realloc(c->rows, cap * c->size);
        if (!r)
            return NULL;
        c->rows = r;
        c->cap = cap;
    }
    void *x = (char *)c->rows + c->n++ * c->size;
    memset(x, 0, c->size);
    return x;
}

static int64_t to_i64(const char *v)
{
    return v ? strtoll(v, NULL, 10) : 0;
}

static void to_cents(struct rows_ctx *c, const char *v, int64_t *out)
{
    if (!v || money_parse(v, out))
        c->bad = 1;
}

/* sales: source, state, total_sum_amount, order_count, quantity, updated_at */
static int on_sales(void *opaque, char **col, unsigned ncols)
{
    struct rows_ctx *c = opaque;
    struct sales_row *x;
    if (ncols < 6)
        return 0;
    if (!(x = next_row(c)))
        return -2;
    snprintf(x->source, sizeof(x->source), "%s", col[0] ? col[0] : "");
    snprintf(x->state, sizeof(x->state), "%s", col[1] ? col[1] : "");
    to_cents(c, col[2], &x->total_cents);
    x->order_count = to_i64(col[3]);
    x->quantity = to_i64(col[4]);
    if (col[5])
        rfc3339(x->updated_at, sizeof(x->updated_at), col[5]);
    return 0;
}

static int sum_cents(const char *v, int64_t *out);

/* minute (formatted), source, SUM(total), SUM(order_count), SUM(quantity) */
static int on_minute(void *opaque, char **col, unsigned ncols)
{
    struct rows_ctx *c = opaque;
    struct minute_row *x;
    if (ncols < 5)
        return 0;
    if (!(x = next_row(c)))
        return -2;
    snprintf(x->minute, sizeof(x->minute), "%s", col[0] ? col[0] : "");
    snprintf(x->source, sizeof(x->source), "%s", col[1] ? col[1] : "");
    /* a SUM over states: past one amount's limit, perhaps past int64 */
    int e = col[2] ? sum_cents(col[2], &x->total_cents) : -1;
    c->bad |= e < 0;
    c->overflow |= e > 0;
    x->order_count = to_i64(col[3]);
    x->quantity = to_i64(col[4]);
    return 0;
}

/* uuid, customer_id, source, quantity, total, created_at, state */
static int on_order(void *opaque, char **col, unsigned ncols)
{
    struct rows_ctx *c = opaque;
    struct order_row *x;
    if (ncols < 7)
        return 0;
    if (!(x = next_row(c)))
        return -2;
    snprintf(x->order_id, sizeof(x->order_id), "%s", col[0] ? col[0] : "");
    x->customer_id = to_i64(col[1]);
    snprintf(x->source, sizeof(x->source), "%s", col[2] ? col[2] : "");
    x->quantity = to_i64(col[3]);
    to_cents(c, col[4], &x->total_cents);
    rfc3339(x->created_at, sizeof(x->created_at), col[5]);
    snprintf(x->state, sizeof(x->state), "%s", col[6] ? col[6] : "");
    return 0;
}

/* A read: a statement, its parameters, where the rows go. */
struct read {
    const struct sql_text *sql;         /* a fixed statement, or … */
    const void *key;                    /* … a built one: cache key, */
    unsigned variant;                   /* its variant and */
    const char *text;                   /* its text */
    MYSQL_BIND *params;
    sfmy_row_fn fn;
    struct rows_ctx c;
    const char *what;
};

static int read_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct read *r = arg;
    MYSQL_STMT *st = r->sql ? sfmy_stmt(s, r->sql, 1, errstr, n)
                            : sfmy_stmt_text(s, r->key, r->variant, r->text, errstr, n);
    if (!st)
        return -1;
    r->c.n = 0;
    r->c.bad = 0;
    r->c.overflow = 0;
    int rc = sfmy_query(s, st, r->params, r->fn, &r->c, r->what, errstr, n);
    if (rc == -2)
        return sfmy_plain_fail(s, errstr, n, "out of memory");
    if (rc == 0 && r->c.overflow) {
        sfmy_plain_fail(s, errstr, n, "a sum passes the largest integer");
        return STORE_E_OVERFLOW;
    }
    if (rc == 0 && r->c.bad) {
        char m[128];
        snprintf(m, sizeof(m), "%s: an amount is not a non-negative decimal with at most "
                 "2 decimals", r->what);
        return sfmy_plain_fail(s, errstr, n, m);
    }
    return rc;
}

static int run_read(struct mysql_store *s, struct read *r, void **rows, size_t *n,
                    char *errstr, size_t en)
{
    int rc = with_reconnect(s, read_once, r, errstr, en);
    if (rc) {
        free(r->c.rows);
        return rc == STORE_E_OVERFLOW ? rc : -1;
    }
    *rows = r->c.rows;
    *n = r->c.n;
    return 0;
}

static int mysql_sales(struct store *b, struct sales_row **rows, size_t *n,
                       char *errstr, size_t en)
{
    struct read r = {.sql = &q_sales, .fn = on_sales, .what = "reading sales",
                     .c = {.size = sizeof(**rows)}};
    return run_read((struct mysql_store *)b, &r, (void **)rows, n, errstr, en);
}

/* Append f's clause to sql (store_filter_sql), bind its values from
 * params[*k] on; the variant (which IN lists, how long) goes to *variant. */
static void add_filter(char *sql, size_t size, const struct store_filter *f,
                       MYSQL_BIND *params, unsigned *k, unsigned *variant)
{
    size_t cnt[2] = {f ? f->nsources : 0, f ? f->nstates : 0};
    const char *const *val[2] = {f ? f->sources : NULL, f ? f->states : NULL};
    store_filter_sql(sql, size, f);
    *variant = 0;
    for (int c = 0; c < 2; c++) {
        if (cnt[c] > STORE_FILTER_MAX)
            cnt[c] = STORE_FILTER_MAX;
        *variant = *variant * (STORE_FILTER_MAX + 1) + (unsigned)cnt[c];
        for (size_t i = 0; i < cnt[c]; i++)
            sfmy_bind_str(&params[(*k)++], val[c][i]);
    }
}

/* "YYYY-MM-DDTHH:MM" → DATETIME; -1 if it is not that. */
static int parse_minute(const char *m, MYSQL_TIME *t)
{
    unsigned y, mo, d, h, mi;
    char tail;
    memset(t, 0, sizeof(*t));
    if (!m || sscanf(m, "%4u-%2u-%2uT%2u:%2u%c", &y, &mo, &d, &h, &mi, &tail) != 5)
        return -1;
    t->year = y;
    t->month = mo;
    t->day = d;
    t->hour = h;
    t->minute = mi;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    return 0;
}

static int mysql_sales_minute(struct store *b, const struct store_filter *f,
                              const char *from, const char *to, struct minute_row **rows,
                              size_t *n, char *errstr, size_t en)
{
    struct mysql_store *s = (struct mysql_store *)b;
    MYSQL_BIND params[2 + 2 * STORE_FILTER_MAX];
    MYSQL_TIME tf, tt;
    char sql[1024] = "SELECT DATE_FORMAT(minute, '%Y-%m-%dT%H:%i'), source, SUM(total),"
                     " SUM(order_count), SUM(quantity) FROM sales_minute"
                     " WHERE minute >= ? AND minute < ?";
    unsigned k = 2, variant;
    if (parse_minute(from, &tf) || parse_minute(to, &tt))
        return sfmy_plain_fail(s, errstr, en, "sales_minute: the range must be "
                               "\"YYYY-MM-DDTHH:MM\"");
    sfmy_bind_time(&params[0], &tf);
    sfmy_bind_time(&params[1], &tt);
    add_filter(sql, sizeof(sql), f, params, &k, &variant);
    strncat(sql, " GROUP BY minute, source ORDER BY minute, source",
            sizeof(sql) - strlen(sql) - 1);
    struct read r = {.key = q_minute_key, .variant = variant, .text = sql,
                     .params = params, .fn = on_minute, .what = "reading sales_minute",
                     .c = {.size = sizeof(**rows)}};
    return run_read(s, &r, (void **)rows, n, errstr, en);
}

static int mysql_recent_orders(struct store *b, const struct store_filter *f,
                               size_t limit, struct order_row **rows, size_t *n,
                               char *errstr, size_t en)
{
    struct mysql_store *s = (struct mysql_store *)b;
    MYSQL_BIND params[3 + 2 * STORE_FILTER_MAX];
    int64_t lim = (int64_t)(limit < 100000 ? limit : 100000);
    MYSQL_TIME tf, tt;
    char sql[1024];
    unsigned k = 0, variant;
    snprintf(sql, sizeof(sql), "SELECT uuid, customer_id, source, quantity, total,"
             " DATE_FORMAT(created_at, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), state FROM orders"
             " WHERE %s", store_filter_has_end(f) ? "TRUE" : "created_at <= UTC_TIMESTAMP(3)");
    if (f && f->ranged) {
        /* DATETIME(3) holds whole ms: < to is <= to - 1 ms, which also
         * stays within DATETIME's range for to = year 10000. */
        strncat(sql, " AND created_at >= ? AND created_at <= ?",
                sizeof(sql) - strlen(sql) - 1);
        sfmy_time(f->from_ms, &tf);
        sfmy_time(f->to_ms - 1, &tt);
        sfmy_bind_time(&params[k++], &tf);
        sfmy_bind_time(&params[k++], &tt);
    }
    add_filter(sql, sizeof(sql), f, params, &k, &variant);
    if (f && f->ranged)
        variant += (store_filter_has_end(f) ? 2 : 1) * (STORE_FILTER_MAX + 1) *
                   (STORE_FILTER_MAX + 1);
    strncat(sql, " ORDER BY created_at DESC, uuid DESC LIMIT ?",
            sizeof(sql) - strlen(sql) - 1);
    sfmy_bind_i64(&params[k], &lim);
    struct read r = {.key = q_recent_key, .variant = variant, .text = sql,
                     .params = params, .fn = on_order, .what = "reading orders",
                     .c = {.size = sizeof(**rows)}};
    return run_read(s, &r, (void **)rows, n, errstr, en);
}

/* --- range queries -------------------------------------------------------- */

/* A SUM of DECIMAL(18,2) amounts ("12345.67", up to 38 digits) as cents:
 * 0, -1 when it is no such number, 1 when it passes int64. One stored
 * amount is at most 999,999,999,999,999,999 cents (money_parse), a sum of
 * them up to what int64 holds, as on SQLite. */
static int sum_cents(const char *v, int64_t *out)
{
    int64_t c = 0;
    int digits = 0, frac = -1;
    for (const char *p = v; *p; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || frac == 2)
            return -1;
        if (__builtin_mul_overflow(c, 10, &c) || __builtin_add_overflow(c, *p - '0', &c))
            return 1;
        digits++;
        frac += frac >= 0;
    }
    if (!digits || frac == 0)
        return -1;
    for (frac = frac < 0 ? 0 : frac; frac < 2; frac++)
        if (__builtin_mul_overflow(c, 10, &c))
            return 1;
    *out = c;
    return 0;
}

/* bucket ("YYYY-MM-DD", "…THH" or "…THH:MM", or ""), customer_id, source,
 * state, SUM(total), COUNT(*), SUM(quantity) */
static int on_query(void *opaque, char **col, unsigned ncols)
{
    struct rows_ctx *c = opaque;
    struct query_row *x;
    char ts[40];
    if (ncols < 7)
        return 0;
    if (!(x = next_row(c)))
        return -2;
    size_t bl = col[0] ? strlen(col[0]) : 0;
    if (bl) {
        snprintf(ts, sizeof(ts), "%s%s", col[0],
                 bl == 10 ? "T00:00:00Z" : bl == 13 ? ":00:00Z" : ":00Z");
        if (sf_parse_time(ts, &x->bucket_ms))
            c->bad = 1;
    }
    x->customer_id = to_i64(col[1]);
    snprintf(x->source, sizeof(x->source), "%s", col[2] ? col[2] : "");
    snprintf(x->state, sizeof(x->state), "%s", col[3] ? col[3] : "");
    int e = col[4] ? sum_cents(col[4], &x->total_cents) : -1;
    c->bad |= e < 0;
    c->overflow |= e > 0;
    x->order_count = to_i64(col[5]);
    x->quantity = to_i64(col[6]);
    return 0;
}

static int mysql_query_op(struct store *b, const struct store_query *q, int level,
                          int64_t from_ms, int64_t to_ms, struct query_row **rows,
                          size_t *n, char *errstr, size_t en)
{
    struct mysql_store *s = (struct mysql_store *)b;
    const struct store_filter *f = q->f;
    static const char *const table[] = {"orders", "sales_minute", "sales_quarter",
                                        "sales_hour", "sales_day"};
    static const char *const cust_table[] = {"", "", "", "sales_customer_hour",
                                             "sales_customer_day"};
    static const char *const col[] = {"created_at", "minute", "quarter", "hour", "day"};
    static const char *const fmt[] = {"", "%Y-%m-%dT%H:%i", "%Y-%m-%dT%H", "%Y-%m-%d"};
    MYSQL_BIND params[2 + 2 * STORE_FILTER_MAX];
    MYSQL_TIME tf, tt;
    char sql[1536], bucket[80];
    int rollup = level != STORE_LEVEL_ORDERS;
    /* Quarter-hour buckets (store_query's pieces only) by their minutes,
     * which store_query counts in the bucket that holds them. */
    unsigned k = 0, variant, bi = q->bucket_ms < STORE_HOUR_MS && q->bucket_ms ? 1
                                 : q->bucket_ms == STORE_HOUR_MS ? 2
                                 : q->bucket_ms == STORE_DAY_MS ? 3 : 0;
    if (level < 0 || level > STORE_LEVEL_DAY)
        return sfmy_plain_fail(s, errstr, en, "query: no such table");
    /* By customer, an hour or a day comes from the customer rollups (which
     * have no state: store_query asks them only without one); a database
     * whose schema predates them (a reader that cannot migrate it) answers
     * from orders. */
    int by_cust = (q->by & STORE_BY_CUSTOMER) != 0;
    if (by_cust && rollup && (level < STORE_LEVEL_HOUR || q->by & STORE_BY_STATE ||
                              (f && f->nstates)))
        return sfmy_plain_fail(s, errstr, en, "query: no rollup holds customers per "
                               "minute, per quarter hour or per state");
    /* A reader of a database from before sales_quarter: its minutes. */
    if (level == STORE_LEVEL_QUARTER && s->schema_version < SFMY_QUARTER_ROLLUP)
        level = STORE_LEVEL_MINUTE;
    if (by_cust && rollup && s->schema_version < SFMY_CUSTOMER_ROLLUPS) {
        level = STORE_LEVEL_ORDERS;
        rollup = 0;
    }
    if (bi)
        snprintf(bucket, sizeof(bucket), "DATE_FORMAT(%s, '%s')", col[level], fmt[bi]);
    else
        snprintf(bucket, sizeof(bucket), "''");
    /* DATETIME(3) holds whole ms: < to is <= to - 1 ms, which stays within
     * DATETIME's range for to = year 10000. */
    snprintf(sql, sizeof(sql), "SELECT %s, %s, %s, %s, %s, %s, SUM(quantity)"
             " FROM %s WHERE %s >= ? AND %s <= ?", bucket,
             by_cust ? "customer_id" : "0", q->by & STORE_BY_SOURCE ? "source" : "''",
             q->by & STORE_BY_STATE ? "state" : "''", q->no_total ? "0" : "SUM(total)",
             rollup ? "SUM(order_count)" : "COUNT(*)",
             by_cust && rollup ? cust_table[level] : table[level], col[level], col[level]);
    sfmy_time(from_ms, &tf);
    sfmy_time(to_ms - 1, &tt);
    sfmy_bind_time(&params[k++], &tf);
    sfmy_bind_time(&params[k++], &tt);
    add_filter(sql, sizeof(sql), f, params, &k, &variant);
    strncat(sql, " GROUP BY 1, 2, 3, 4", sizeof(sql) - strlen(sql) - 1);
    variant += (STORE_FILTER_MAX + 1) * (STORE_FILTER_MAX + 1) *
               ((q->by & 7) + 8 * bi + 32 * (unsigned)level + 256 * (q->no_total != 0));
    struct read r = {.key = q_query_key, .variant = variant, .text = sql,
                     .params = params, .fn = on_query,
                     .what = rollup ? "reading the rollups" : "reading orders",
                     .c = {.size = sizeof(**rows)}};
    return run_read(s, &r, (void **)rows, n, errstr, en);
}

/* --- saved charts ----------------------------------------------------------- */

/* id, name, definition, created */
static int on_chart(void *opaque, char **col, unsigned ncols)
{
    struct rows_ctx *c = opaque;
    struct store_chart *x;
    if (ncols < 4)
        return 0;
    if (!(x = next_row(c)))
        return -2;
    x->id = to_i64(col[0]);
    snprintf(x->name, sizeof(x->name), "%s", col[1] ? col[1] : "");
    snprintf(x->definition, sizeof(x->definition), "%s", col[2] ? col[2] : "");
    x->def_too_long = col[2] && strlen(col[2]) > STORE_CHART_DEF_MAX;
    rfc3339(x->created, sizeof(x->created), col[3]);
    return 0;
}

static int mysql_charts(struct store *b, struct store_chart **rows, size_t *n,
                        char *errstr, size_t en)
{
    struct read r = {.sql = &q_charts, .fn = on_chart, .what = "reading salesflow_charts",
                     .c = {.size = sizeof(**rows)}};
    return run_read((struct mysql_store *)b, &r, (void **)rows, n, errstr, en);
}

struct chart_write {
    const char *name, *def;
    int64_t id, limit;
    int rc;
};

static int chart_add_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct chart_write *w = arg;
    MYSQL_BIND p[3];
    MYSQL_STMT *st = sfmy_stmt(s, &q_chart_add, 1, errstr, n);
    if (!st)
        return -1;
    sfmy_bind_str(&p[0], w->name);
    sfmy_bind_str(&p[1], w->def);
    sfmy_bind_i64(&p[2], &w->limit);
    if (sfmy_query(s, st, p, NULL, NULL, "saving a chart", errstr, n))
        return -1;
    w->rc = mysql_stmt_affected_rows(st) == 1 ? 0 : 1;
    w->id = (int64_t)mysql_stmt_insert_id(st);
    return 0;
}

static int mysql_chart_add(struct store *b, const char *name, const char *def,
                           int64_t *id, char *errstr, size_t en)
{
    struct chart_write w = {.name = name, .def = def, .limit = STORE_CHARTS_MAX};
    if (with_reconnect((struct mysql_store *)b, chart_add_once, &w, errstr, en))
        return -1;
    *id = w.id;
    return w.rc;
}

static int chart_del_once(struct mysql_store *s, void *arg, char *errstr, size_t n)
{
    struct chart_write *w = arg;
    MYSQL_BIND p[1];
    MYSQL_STMT *st = sfmy_stmt(s, &q_chart_del, 1, errstr, n);
    if (!st)
        return -1;
    sfmy_bind_i64(&p[0], &w->id);
    if (sfmy_query(s, st, p, NULL, NULL, "removing a chart", errstr, n))
        return -1;
    w->rc = mysql_stmt_affected_rows(st) > 0;
    return 0;
}

static int mysql_chart_delete(struct store *b, int64_t id, char *errstr, size_t en)
{
    struct chart_write w = {.id = id};
    if (with_reconnect((struct mysql_store *)b, chart_del_once, &w, errstr, en))
        return -1;
    return w.rc;
}

const struct store_ops mysql_store_ops = {
    .scheme = "mysql",
    .open = mysql_store_open,
    .load_positions = mysql_load_positions,
    .has_orders = mysql_has_orders,
    .adopt_positions = mysql_adopt_positions,
    .apply = mysql_apply,
    .reset = mysql_reset,
    .rebuild_end = mysql_rebuild_end,
    .sales = mysql_sales,
    .sales_minute = mysql_sales_minute,
    .recent_orders = mysql_recent_orders,
    .query = mysql_query_op,
    .charts = mysql_charts,
    .chart_add = mysql_chart_add,
    .chart_delete = mysql_chart_delete,
    .positions = mysql_positions,
    .close = mysql_store_close,
    .error_kind = mysql_error_kind,
};

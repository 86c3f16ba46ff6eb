/*
 * store — the serving database: raw orders, the sales aggregates and the
 * processor's log positions, behind one interface (SQLite now; MySQL later).
 *
 * Each backend provides one const struct store_ops and embeds struct store
 * as the first member of its handle; store_open() picks it by URI scheme.
 * A handle is used by one thread at a time (callers that share one lock).
 *
 * Exactly once: apply() writes a batch of orders, the aggregate deltas of
 * the rows it actually inserted, and the new log positions in one
 * transaction. Rows are keyed by order_id, so re-applying a batch after a
 * crash inserts nothing and adds nothing.
 */
#ifndef SF_STORE_H
#define SF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/order.h"
#include "core/util.h"

struct store_order {
    struct order o;
    char source[SF_SOURCE_MAX]; /* o.source's name, from the catalog that
                                 * decoded it: what the stores write */
    char state[SF_STATE_MAX];
    int64_t log_time_ms;    /* when the log took it: drives updated_at, so a
                             * replay reproduces the live tables exactly */
};

struct sales_row {
    char source[16];
    char state[SF_STATE_MAX];
    int64_t total_cents;
    int64_t order_count;
    int64_t quantity;
    char updated_at[32];
};

/* Dashboard queries (optional ops below). A filter with no sources and no
 * states matches every row; otherwise a row must match one of the given
 * sources (if any) and one of the given states (if any). */
#define STORE_FILTER_MAX 32
struct store_filter {
    const char *sources[STORE_FILTER_MAX];
    size_t nsources;
    const char *states[STORE_FILTER_MAX];
    size_t nstates;
    /* ranged: only orders with from_ms <= created_at < to_ms (recent_orders
     * and query; sales_minute takes its own minute range). */
    int ranged;
    int64_t from_ms, to_ms;
};

/* recent_orders lists orders up to now (one dated years ahead would stay on
 * top for years) unless the range has an end: then the range asked for. */
static inline int store_filter_has_end(const struct store_filter *f)
{
    return f && f->ranged && f->to_ms <= SF_TIME_MAX_MS;
}

/* query(): sums over orders matching f (and its range), grouped by the
 * columns in `by` and, with bucket_ms (60000, 3600000 or 86400000; 0:
 * none; 900000, quarter hours, only as store_query plans pieces), by the
 * UTC minute, hour or day created_at falls in; with
 * offset_ms (whole minutes, |offset| < 1 day; 0: UTC), by the minute, hour
 * or day of the clock that many ms ahead of UTC (+05:30: 19800000), whose
 * buckets start at k * bucket_ms - offset_ms. */
enum { STORE_BY_SOURCE = 1, STORE_BY_STATE = 2, STORE_BY_CUSTOMER = 4 };
struct store_query {
    const struct store_filter *f;
    unsigned by;
    int64_t bucket_ms;
    int64_t offset_ms;
    int no_total;       /* totals not asked (0): orders or quantity only */
};

/* store_query's and the query op's return when a sum passes what int64
 * cents hold (92,233,720,368,547,758.07): the answer cannot be given. */
#define STORE_E_OVERFLOW (-2)

/* The tables a query can read, finest first; a rollup's length in ms. */
enum { STORE_LEVEL_ORDERS, STORE_LEVEL_MINUTE, STORE_LEVEL_QUARTER, STORE_LEVEL_HOUR,
       STORE_LEVEL_DAY };
#define STORE_MINUTE_MS INT64_C(60000)
#define STORE_QUARTER_MS INT64_C(900000)
#define STORE_HOUR_MS INT64_C(3600000)
#define STORE_DAY_MS INT64_C(86400000)

struct query_row;
struct store;
/* The groups of q over the orders created in q->f's range (all of them
 * when it is not ranged), with every group's sums exact: the range is cut
 * into the longest whole days, then whole hours, then whole quarter
 * hours, then whole minutes it holds, each read from its rollup
 * (sales_day, sales_hour, sales_quarter, sales_minute),
 * and the edges that split a minute from orders; a grouping by customer
 * reads whole days and hours from the customer rollups (sales_customer_day,
 * sales_customer_hour) and the rest from orders, or orders only when it
 * also groups or filters by state (those rollups have no state); a time
 * bucket uses no rollup coarser than itself. With an offset that does
 * not fall on a rollup's edges (+05:30 and day buckets: no day of
 * sales_day is one local day), the store's ops are asked only for units
 * that lie in one bucket: per bucket of a bounded range (whole hours from
 * the hour rollups, the bucket's edges finer), or else the rollup whose
 * units the offset keeps whole (sales_quarter for +05:30 and +05:45,
 * sales_minute for an offset off the quarter hour), each unit then
 * counted in the bucket that holds it.
 * The pieces' groups are merged. Rows sorted by (bucket, customer,
 * source, state); *rows malloc()ed, owned by the caller. 0, -1, or
 * STORE_E_OVERFLOW (errstr says so) when a group's sum passes int64. */
int store_query(struct store *s, const struct store_query *q,
                struct query_row **rows, size_t *n, char *errstr, size_t errstr_size);

/* One group of a query: the columns not grouped by are zero / "". */
struct query_row {
    int64_t bucket_ms;      /* the bucket's start (ms since the epoch) */
    int64_t customer_id;
    char source[16];
    char state[SF_STATE_MAX];
    int64_t total_cents, order_count, quantity;
};

/* A saved chart (salesflow_charts). definition is the JSON text as it was
 * stored: the caller validates it before showing it. */
#define STORE_CHART_NAME_MAX 800        /* bytes: 200 characters of UTF-8 */
#define STORE_CHART_DEF_MAX 4096
#define STORE_CHARTS_MAX 100
struct store_chart {
    int64_t id;
    char name[STORE_CHART_NAME_MAX + 1];
    char definition[STORE_CHART_DEF_MAX + 1];
    int def_too_long;       /* stored longer than STORE_CHART_DEF_MAX: cut */
    char created[32];       /* RFC 3339 UTC */
};

/* One minute of sales_minute for one source, summed over the filter's
 * states. */
struct minute_row {
    char minute[17];        /* "YYYY-MM-DDTHH:MM" (UTC) */
    char source[16];
    int64_t total_cents, order_count, quantity;
};

/* One row of orders, as stored. */
struct order_row {
    char order_id[65];
    int64_t customer_id;
    char source[16];
    int64_t quantity;
    int64_t total_cents;
    char created_at[32];
    char state[SF_STATE_MAX];
};

struct store_position {
    int partition;
    int64_t next_offset;
};

/* Positions are stored per log: the "topic" handed to load_positions,
 * apply, reset, rebuild_begin and positions is the position key
 * "TOPIC@IDENTITY" of broker_position_key() (salesflow_offsets.topic holds
 * it as is), so that two logs sharing one store — an embedded log and a
 * Kafka topic, or a topic and its re-created successor — never read each
 * other's offsets. positions() alone also takes a bare topic name: then it
 * returns the rows of every identity of that topic (the dashboard of
 * `serve`, which has no broker). */

struct store;

/* Why the last apply() failed (store_ops.error_kind). */
enum store_error_kind {
    /* The same batch may well succeed later: the server is away, a lock
     * wait or deadlock, read-only, a disk full, a column to be widened.
     * Retried as it is, forever; never skipped. */
    STORE_ERR_TRANSIENT = 0,
    /* A value in the batch can never be stored as it is (too long for its
     * column, out of range, not a valid string): the same rows fail the
     * same way every time. Which row is not said; the processor finds it
     * by applying parts of the batch. */
    STORE_ERR_DATA,
};

struct store_ops {
    const char *scheme;
    int (*open)(struct store **out, const char *where, char *errstr,
                size_t errstr_size);
    /* Fill next[0..nparts) with the stored next offset per partition of
     * topic (0 where none is stored) and, unless mark is NULL,
     * mark[0..nparts) with the mark stored beside it (0: none). */
    int (*load_positions)(struct store *s, const char *topic, int64_t *next,
                          int64_t *mark, int nparts, char *errstr,
                          size_t errstr_size);
    /* In one transaction: insert rows (ignoring order_ids already present),
     * add the inserted ones to the aggregates, and store next[p] for every
     * p with next[p] >= 0, with mark[p] beside it (0 when mark is NULL: a
     * mark tells which record the position follows, see
     * processor_record_mark). *inserted gets the number of new rows. */
    int (*apply)(struct store *s, const char *topic,
                 const struct store_order *rows, size_t n,
                 const int64_t *next, const int64_t *mark, int nparts,
                 size_t *inserted, char *errstr, size_t errstr_size);
    /* For `salesflow replay`, one of two ways. reset(): empty orders, sales,
     * the rollups (sales_minute, sales_quarter, sales_hour, sales_day,
     * sales_customer_hour,
     * sales_customer_day) and topic's
     * positions in one transaction; apply() then
     * commits batch by batch. Or rebuild_begin(): empty them the same way
     * but leave the transaction open, so that the apply() calls that follow
     * join it instead of committing each batch; rebuild_end() then commits
     * everything at once (commit != 0) or rolls it all back. Readers see
     * the old tables until the commit, and a replay that stops half-way
     * leaves them as they were. A backend sets reset or rebuild_begin and
     * rebuild_end. */
    int (*reset)(struct store *s, const char *topic, char *errstr,
                 size_t errstr_size);
    int (*rebuild_begin)(struct store *s, const char *topic, char *errstr,
                         size_t errstr_size);
    int (*rebuild_end)(struct store *s, int commit, char *errstr,
                       size_t errstr_size);
    /* All rows of `sales`, largest amount first; *rows is malloc()ed and
     * owned by the caller. */
    int (*sales)(struct store *s, struct sales_row **rows, size_t *n,
                 char *errstr, size_t errstr_size);
    /* Optional (NULL: the backend cannot answer; callers get an error).
     * sales_minute: sales_minute rows with from <= minute < to ("YYYY-MM-
     * DDTHH:MM") matching f, summed per (minute, source), ordered by minute
     * then source (STORE_E_OVERFLOW when such a sum passes int64 cents).
     * recent_orders: up to limit orders matching f, newest
     * created_at first, leaving out those dated after now (a future-dated
     * order would otherwise stay on top until its time). positions: every stored position of topic, by
     * partition. Each *rows is malloc()ed and owned by the caller. */
    int (*sales_minute)(struct store *s, const struct store_filter *f,
                        const char *from, const char *to,
                        struct minute_row **rows, size_t *n, char *errstr,
                        size_t errstr_size);
    int (*recent_orders)(struct store *s, const struct store_filter *f,
                         size_t limit, struct order_row **rows, size_t *n,
                         char *errstr, size_t errstr_size);
    int (*positions)(struct store *s, const char *topic,
                     struct store_position **rows, size_t *n, char *errstr,
                     size_t errstr_size);
    /* Upgrade from before broker identities: in one transaction, if key
     * ("TOPIC@IDENTITY", see broker_position_key) has no position yet, the
     * positions stored under the bare topic name become key's. Returns the
     * number of positions taken over (0: none), or -1 with errstr. */
    int (*adopt_positions)(struct store *s, const char *topic, const char *key,
                           char *errstr, size_t errstr_size);
    void (*close)(struct store *s);
    /* Optional: how many of ids[0..n) orders holds (n at most 16). Returns
     * that count, or -1 with errstr. */
    int (*has_orders)(struct store *s, const char *const *ids, int n, char *errstr,
                      size_t errstr_size);
    /* Optional (NULL: every failure is transient): the kind of the last
     * failed apply(). */
    enum store_error_kind (*error_kind)(struct store *s);
    /* Optional: the groups of q (see struct store_query) over the orders
     * created in [from_ms, to_ms) (q->f's own range is not used), read
     * from one table: level STORE_LEVEL_ORDERS (orders), _MINUTE, _QUARTER,
     * _HOUR or _DAY (sales_minute, sales_quarter, sales_hour, sales_day;
     * then from_ms and to_ms
     * are multiples of the level's length (to_ms may be SF_TIME_MAX_MS +
     * 1) and q has no bucket finer than the level). With STORE_BY_CUSTOMER
     * at _HOUR or _DAY (never with STORE_BY_STATE or a state filter): the
     * customer rollups (sales_customer_hour, sales_customer_day), or
     * orders where the database has none yet; at _MINUTE or _QUARTER: an
     * error.
     * Rows in no particular order; *rows is malloc()ed and owned by the
     * caller. store_query() below plans the pieces. */
    int (*query)(struct store *s, const struct store_query *q, int level,
                 int64_t from_ms, int64_t to_ms, struct query_row **rows,
                 size_t *n, char *errstr, size_t errstr_size);
    /* Optional: saved charts. charts: every one, by id. chart_add: store
     * one unless STORE_CHARTS_MAX are stored already (in one statement);
     * returns 0 with *id, 1 when full, or -1 with errstr. chart_delete:
     * returns 1 (deleted), 0 (no such id) or -1 with errstr. */
    int (*charts)(struct store *s, struct store_chart **rows, size_t *n,
                  char *errstr, size_t errstr_size);
    int (*chart_add)(struct store *s, const char *name, const char *definition,
                     int64_t *id, char *errstr, size_t errstr_size);
    int (*chart_delete)(struct store *s, int64_t id, char *errstr,
                        size_t errstr_size);
    /* Optional, callable from another thread while s is in use: make the
     * query running on s (if any) stop soon with an error. */
    void (*interrupt)(struct store *s);
};

struct store {
    const struct store_ops *ops;
};

/* Open the store named by uri ("sqlite:PATH" or
 * "mysql://user[:password]@host[:port]/db[?socket=PATH]"). NULL with errstr
 * on error; errstr never contains a password. */
/* Called by a process that will rebuild a store (salesflow replay) before
 * it opens one: SQLite's page cache then comes from one region that the
 * kernel may back with huge pages. */
void store_expect_rebuild(void);
struct store *store_open(const char *uri, char *errstr, size_t errstr_size);

/* Both backends' queries: append " AND source IN (?,…) AND state IN
 * (?,…)" for f to sql (size n); the values are bound sources first, then
 * states, in order. */
void store_filter_sql(char *sql, size_t n, const struct store_filter *f);

/* Copy uri into out (size n) with the password of a "scheme://user:pass@…"
 * URI replaced by "***", for log lines and messages. Returns out. */
char *store_uri_redact(const char *uri, char *out, size_t n);

static inline int store_can_interrupt(const struct store *s)
{
    return s && s->ops->interrupt;
}
static inline void store_interrupt(struct store *s)
{
    if (s && s->ops->interrupt)
        s->ops->interrupt(s);
}
static inline int store_has_orders(struct store *s, const char *const *ids, int n,
                                   char *e, size_t en)
{
    return s->ops->has_orders ? s->ops->has_orders(s, ids, n, e, en) : -1;
}
static inline int store_load_positions(struct store *s, const char *topic,
                                       int64_t *next, int64_t *mark, int nparts,
                                       char *e, size_t en)
{
    return s->ops->load_positions(s, topic, next, mark, nparts, e, en);
}
static inline int store_apply(struct store *s, const char *topic,
                              const struct store_order *rows, size_t n,
                              const int64_t *next, const int64_t *mark, int nparts,
                              size_t *inserted, char *e, size_t en)
{
    return s->ops->apply(s, topic, rows, n, next, mark, nparts, inserted, e, en);
}
/* replay's start and end: the backend's rebuild_begin/rebuild_end when it
 * has them, else reset() and nothing. */
static inline int store_rebuild_begin(struct store *s, const char *topic,
                                      char *e, size_t en)
{
    if (s->ops->rebuild_begin)
        return s->ops->rebuild_begin(s, topic, e, en);
    return s->ops->reset(s, topic, e, en);
}
static inline int store_rebuild_end(struct store *s, int commit, char *e,
                                    size_t en)
{
    return s->ops->rebuild_end ? s->ops->rebuild_end(s, commit, e, en) : 0;
}
static inline int store_sales(struct store *s, struct sales_row **rows,
                              size_t *n, char *e, size_t en)
{
    return s->ops->sales(s, rows, n, e, en);
}
/* The optional dashboard ops: -1 with a message naming the backend when it
 * does not provide them. */
static inline int store_unsupported(struct store *s, const char *what,
                                    char *e, size_t en)
{
    return sf_err(-1, e, en, "the %s store does not support %s queries yet",
                  s->ops->scheme, what);
}
static inline int store_sales_minute(struct store *s, const struct store_filter *f,
                                     const char *from, const char *to,
                                     struct minute_row **rows, size_t *n,
                                     char *e, size_t en)
{
    if (!s->ops->sales_minute)
        return store_unsupported(s, "per-minute sales", e, en);
    return s->ops->sales_minute(s, f, from, to, rows, n, e, en);
}
static inline int store_recent_orders(struct store *s, const struct store_filter *f,
                                      size_t limit, struct order_row **rows,
                                      size_t *n, char *e, size_t en)
{
    if (!s->ops->recent_orders)
        return store_unsupported(s, "latest-orders", e, en);
    return s->ops->recent_orders(s, f, limit, rows, n, e, en);
}
static inline int store_positions(struct store *s, const char *topic,
                                  struct store_position **rows, size_t *n,
                                  char *e, size_t en)
{
    if (!s->ops->positions)
        return store_unsupported(s, "log-position", e, en);
    return s->ops->positions(s, topic, rows, n, e, en);
}
static inline int store_query_part(struct store *s, const struct store_query *q,
                                   int level, int64_t from_ms, int64_t to_ms,
                                   struct query_row **rows, size_t *n, char *e,
                                   size_t en)
{
    if (!s->ops->query)
        return store_unsupported(s, "range", e, en);
    return s->ops->query(s, q, level, from_ms, to_ms, rows, n, e, en);
}
static inline int store_charts(struct store *s, struct store_chart **rows,
                               size_t *n, char *e, size_t en)
{
    if (!s->ops->charts)
        return store_unsupported(s, "saved-chart", e, en);
    return s->ops->charts(s, rows, n, e, en);
}
static inline int store_chart_add(struct store *s, const char *name,
                                  const char *def, int64_t *id, char *e,
                                  size_t en)
{
    if (!s->ops->chart_add)
        return store_unsupported(s, "saved-chart", e, en);
    return s->ops->chart_add(s, name, def, id, e, en);
}
static inline int store_chart_delete(struct store *s, int64_t id, char *e,
                                     size_t en)
{
    if (!s->ops->chart_delete)
        return store_unsupported(s, "saved-chart", e, en);
    return s->ops->chart_delete(s, id, e, en);
}
static inline enum store_error_kind store_error_kind(struct store *s)
{
    return s->ops->error_kind ? s->ops->error_kind(s) : STORE_ERR_TRANSIENT;
}
static inline int store_adopt_positions(struct store *s, const char *topic,
                                        const char *key, char *e, size_t en)
{
    if (!s->ops->adopt_positions)
        return 0;
    return s->ops->adopt_positions(s, topic, key, e, en);
}
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

/* Sort key helpers shared by backends: aggregate deltas are applied in
 * (source, state), (minute, source, state) and (bucket, customer_id,
 * source) order so that concurrent writers always take row locks in the
 * same order. */
struct sales_delta {
    char minute[17];        /* "YYYY-MM-DDTHH:MM" */
    int64_t customer_id;    /* the customer rollups' (else 0): sorted after
                             * minute, before source */
    int source;             /* the rows' o.source (the sort key) */
    const char *source_name; /* and its name, pointing into the rows */
    const char *state;
    int64_t total_cents, count, quantity;
    int64_t updated_ms;     /* latest log_time_ms folded in */
};
/* Fold the inserted rows into deltas per (source, state) and per (minute,
 * source, state), sorted by key. Both arrays are malloc()ed; the source
 * names and states point into rows. Returns 0 or -1 (out of memory). */
int sales_deltas(const struct store_order *rows, const unsigned char *inserted,
                 size_t n, struct sales_delta **by_state, size_t *n_state,
                 struct sales_delta **by_minute, size_t *n_minute);

/* The rollups: fold by_minute (from sales_deltas) into deltas per quarter
 * hour (key_len SALES_ROLLUP_QUARTER: keys "YYYY-MM-DDTHH:00", ":15", ":30"
 * or ":45"), per (hour, source, state) (key_len 13: keys
 * "YYYY-MM-DDTHH:00") or per (day, source, state) (key_len 10:
 * "YYYY-MM-DDT00:00"), sorted by key. *out is
 * malloc()ed (never NULL); the states point where by_minute's do. 0 or -1
 * (out of memory). */
#define SALES_ROLLUP_QUARTER 15
int sales_rollup(const struct sales_delta *by_minute, size_t n, int key_len,
                 struct sales_delta **out, size_t *n_out);

/* The customer rollups: fold the inserted rows into deltas per (hour,
 * customer_id, source) (keys "YYYY-MM-DDTHH:00") and per (day,
 * customer_id, source) ("YYYY-MM-DDT00:00"), state "", each sorted by key
 * (bucket, customer_id, source). Both arrays malloc()ed (never NULL). 0 or
 * -1 (out of memory). */
int sales_customer_deltas(const struct store_order *rows, const unsigned char *inserted,
                          size_t n, struct sales_delta **by_hour, size_t *n_hour,
                          struct sales_delta **by_day, size_t *n_day);

extern const struct store_ops sqlite_store_ops;
extern const struct store_ops mysql_store_ops;

#endif

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

struct store_order {
    struct order o;
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

struct store;

struct store_ops {
    const char *scheme;
    int (*open)(struct store **out, const char *where, char *errstr,
                size_t errstr_size);
    /* Fill next[0..nparts) with the stored next offset per partition of
     * topic (0 where none is stored). */
    int (*load_positions)(struct store *s, const char *topic, int64_t *next,
                          int nparts, char *errstr, size_t errstr_size);
    /* In one transaction: insert rows (ignoring order_ids already present),
     * add the inserted ones to the aggregates, and store next[p] for every
     * p with next[p] >= 0. *inserted gets the number of new rows. */
    int (*apply)(struct store *s, const char *topic,
                 const struct store_order *rows, size_t n,
                 const int64_t *next, int nparts, size_t *inserted,
                 char *errstr, size_t errstr_size);
    /* Empty orders, sales, sales_minute and topic's positions, in one
     * transaction (for `salesflow replay`). */
    int (*reset)(struct store *s, const char *topic, char *errstr,
                 size_t errstr_size);
    /* All rows of `sales`, largest amount first; *rows is malloc()ed and
     * owned by the caller. */
    int (*sales)(struct store *s, struct sales_row **rows, size_t *n,
                 char *errstr, size_t errstr_size);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
};

/* Open the store named by uri ("sqlite:PATH"). NULL with errstr on error. */
struct store *store_open(const char *uri, char *errstr, size_t errstr_size);

static inline int store_load_positions(struct store *s, const char *topic,
                                       int64_t *next, int nparts, char *e,
                                       size_t en)
{
    return s->ops->load_positions(s, topic, next, nparts, e, en);
}
static inline int store_apply(struct store *s, const char *topic,
                              const struct store_order *rows, size_t n,
                              const int64_t *next, int nparts,
                              size_t *inserted, char *e, size_t en)
{
    return s->ops->apply(s, topic, rows, n, next, nparts, inserted, e, en);
}
static inline int store_reset(struct store *s, const char *topic, char *e,
                              size_t en)
{
    return s->ops->reset(s, topic, e, en);
}
static inline int store_sales(struct store *s, struct sales_row **rows,
                              size_t *n, char *e, size_t en)
{
    return s->ops->sales(s, rows, n, e, en);
}
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

/* Sort key helpers shared by backends: aggregate deltas are applied in
 * (source, state) and (minute, source, state) order so that concurrent
 * writers always take row locks in the same order. */
struct sales_delta {
    char minute[17];        /* "YYYY-MM-DDTHH:MM" */
    int source;
    const char *state;
    int64_t total_cents, count, quantity;
    int64_t updated_ms;     /* latest log_time_ms folded in */
};
/* Fold the inserted rows into deltas per (source, state) and per (minute,
 * source, state), sorted by key. Both arrays are malloc()ed; the states
 * point into rows. Returns 0 or -1 (out of memory). */
int sales_deltas(const struct store_order *rows, const unsigned char *inserted,
                 size_t n, struct sales_delta **by_state, size_t *n_state,
                 struct sales_delta **by_minute, size_t *n_minute);

extern const struct store_ops sqlite_store_ops;

#endif

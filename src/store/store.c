/*
 * store — backend selection by URI scheme, the filter SQL both backends
 * share, and the range query planner (store_query): which of orders and
 * the rollups answer each piece of a range exactly.
 */
#include "store/store.h"
#include "core/order.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct store_ops *const backends[] = {&sqlite_store_ops,
                                                    &mysql_store_ops};

struct store *store_open(const char *uri, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(backends); i++) {
        const char *rest = sf_uri_rest(uri, backends[i]->scheme);
        if (rest) {
            struct store *s = NULL;
            if (backends[i]->open(&s, rest, errstr, errstr_size))
                return NULL;
            return s;
        }
    }
    char shown[1024];
    sf_err(-1, errstr, errstr_size,
           "store URI \"%s\": unknown scheme (supported: sqlite:PATH, "
           "mysql://user[:password]@host[:port]/database[?socket=PATH])",
           store_uri_redact(uri, shown, sizeof(shown)));
    return NULL;
}

void store_filter_sql(char *sql, size_t n, const struct store_filter *f)
{
    size_t len = strlen(sql);
    const char *col[2] = {"source", "state"};
    size_t cnt[2] = {f ? f->nsources : 0, f ? f->nstates : 0};
    for (int k = 0; k < 2; k++) {
        if (!cnt[k])
            continue;
        len += (size_t)snprintf(sql + len, len < n ? n - len : 0, " AND %s IN (", col[k]);
        for (size_t i = 0; i < cnt[k] && i < STORE_FILTER_MAX && len < n; i++)
            len += (size_t)snprintf(sql + len, n - len, i ? ",?" : "?");
        if (len < n)
            len += (size_t)snprintf(sql + len, n - len, ")");
    }
}

char *store_uri_redact(const char *uri, char *out, size_t n)
{
    /* The userinfo ends at the last '@' (a password may contain '@'); mask
     * from the first ':' in it (from the first ':' at all in a URI without
     * "//"). Masking too much is harmless, too little is not. */
    const char *at = strrchr(uri, '@'), *start = strstr(uri, "//");
    start = start && at && start < at ? start + 2 : uri;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (n == 0)
        return out;
    if (!colon)
        snprintf(out, n, "%s", uri);
    else
        snprintf(out, n, "%.*s:***%s", (int)(colon - uri), uri, at);
    return out;
}

/* ---- range queries ---------------------------------------------------- */

struct plan {
    struct store *s;
    const struct store_query *q;
    int customer;       /* the customer rollups: day → hour → orders */
    struct query_row *rows;
    size_t n;
    int rc;             /* a failed piece's return (STORE_E_OVERFLOW or -1) */
    char *errstr;
    size_t en;
};

static const int64_t level_ms[] = {0, STORE_MINUTE_MS, STORE_QUARTER_MS, STORE_HOUR_MS,
                                   STORE_DAY_MS};

static int plan_part(struct plan *p, int level, int64_t from, int64_t to)
{
    struct query_row *r = NULL;
    size_t k = 0;
    int rc = store_query_part(p->s, p->q, level, from, to, &r, &k, p->errstr, p->en);
    if (rc) {
        p->rc = rc;
        return -1;
    }
    if (!k) {
        free(r);
        return 0;
    }
    struct query_row *all = realloc(p->rows, (p->n + k) * sizeof(*all));
    if (!all) {
        free(r);
        return sf_err(-1, p->errstr, p->en, "out of memory");
    }
    memcpy(all + p->n, r, k * sizeof(*r));
    p->rows = all;
    p->n += k;
    free(r);
    return 0;
}

/* [from, to) from the coarsest table at or below level that fits: its
 * whole units in the middle, the edges one level finer (the customer
 * rollups have no minutes: an hour's edges come from orders). */
static int plan_range(struct plan *p, int level, int64_t from, int64_t to)
{
    if (from >= to)
        return 0;
    if (level == STORE_LEVEL_ORDERS)
        return plan_part(p, level, from, to);
    int finer = p->customer && level == STORE_LEVEL_HOUR ? STORE_LEVEL_ORDERS : level - 1;
    int64_t len = level_ms[level];
    int64_t a = (from + len - 1) / len * len, b = to / len * len;
    if (to == SF_TIME_MAX_MS + 1)   /* the end of time: a whole day, hour, minute */
        b = to;
    if (a >= b)
        return plan_range(p, finer, from, to);
    return plan_part(p, level, a, b) || plan_range(p, finer, from, a) ||
           plan_range(p, finer, b, to);
}

/* The start of the bucket of length len holding t, buckets starting at
 * k * len - off (floor division: t + off may be below a multiple). */
static int64_t bucket_start(int64_t t, int64_t len, int64_t off)
{
    int64_t x = t + off, r = x % len;
    return x - (r < 0 ? r + len : r) - off;
}

/* The coarsest table a query with time buckets of bucket_ms may read. */
static int top_level(const struct store_query *q, int64_t bucket_ms, int customer)
{
    const struct store_filter *f = q->f;
    int top = STORE_LEVEL_DAY;
    /* By customer: the customer rollups, which have no state, unless the
     * query groups or filters by state (then orders, all of it). */
    if (customer && (q->by & STORE_BY_STATE || (f && f->nstates)))
        return STORE_LEVEL_ORDERS;
    while (bucket_ms && top > STORE_LEVEL_MINUTE && level_ms[top] > bucket_ms)
        top--;
    /* The customer rollups have no minutes or quarter hours. */
    return customer && top < STORE_LEVEL_HOUR ? STORE_LEVEL_ORDERS : top;
}

/* Day buckets of an offset off the hour (+05:30), a bounded range of few
 * of them: each bucket planned as a range of its own, asked without time
 * buckets (its whole hours from the hour rollups, its edges finer), its
 * rows then given the bucket's start. */
#define PLAN_BUCKETS_MAX 400
static int plan_buckets(struct plan *p, int64_t from, int64_t to, int64_t off)
{
    const struct store_query *q = p->q;
    struct store_query whole = *q;
    int64_t len = q->bucket_ms;
    int top = top_level(q, len, p->customer), rc = 0;
    whole.bucket_ms = 0;
    whole.offset_ms = 0;
    p->q = &whole;
    for (int64_t b = bucket_start(from, len, off); b < to && !rc; b += len) {
        size_t first = p->n;
        rc = plan_range(p, top, b > from ? b : from, b + len < to ? b + len : to);
        for (size_t i = first; i < p->n; i++)
            p->rows[i].bucket_ms = b;
    }
    p->q = q;
    return rc;
}

/* Any other offset: the units of the rollup whose edges the offset keeps
 * (hours for +09:00 and day buckets, quarter hours for +05:30 and +05:45,
 * else minutes), each unit then counted in the bucket that holds it. */
static int plan_units(struct plan *p, int64_t from, int64_t to, int64_t off)
{
    const struct store_query *q = p->q;
    struct store_query unit = *q;
    unit.offset_ms = 0;
    unit.bucket_ms = !(off % STORE_HOUR_MS)      ? STORE_HOUR_MS
                     : !(off % STORE_QUARTER_MS) ? STORE_QUARTER_MS
                                                 : STORE_MINUTE_MS;
    p->q = &unit;
    int rc = plan_range(p, top_level(&unit, unit.bucket_ms, p->customer), from, to);
    p->q = q;
    for (size_t i = 0; i < p->n; i++)
        p->rows[i].bucket_ms = bucket_start(p->rows[i].bucket_ms, q->bucket_ms, off);
    return rc;
}

static int cmp_group(const void *x, const void *y)
{
    const struct query_row *a = x, *b = y;
    if (a->bucket_ms != b->bucket_ms)
        return a->bucket_ms < b->bucket_ms ? -1 : 1;
    if (a->customer_id != b->customer_id)
        return a->customer_id < b->customer_id ? -1 : 1;
    int c = strcmp(a->source, b->source);
    return c ? c : strcmp(a->state, b->state);
}

int store_query(struct store *s, const struct store_query *q, struct query_row **rows,
                size_t *n, char *errstr, size_t en)
{
    struct plan p = {.s = s, .q = q, .errstr = errstr, .en = en};
    const struct store_filter *f = q->f;
    int64_t from = f && f->ranged ? f->from_ms : SF_TIME_MIN_MS;
    int64_t to = f && f->ranged ? f->to_ms : SF_TIME_MAX_MS + 1;
    /* The offset as it moves the bucket edges (0 for minute buckets). */
    int64_t len = q->bucket_ms, off = len ? q->offset_ms % len : 0;
    int rc;
    p.customer = (q->by & STORE_BY_CUSTOMER) != 0;
    if (from < SF_TIME_MIN_MS)
        from = SF_TIME_MIN_MS;
    if (to > SF_TIME_MAX_MS + 1)
        to = SF_TIME_MAX_MS + 1;
    if (!off)
        rc = plan_range(&p, top_level(q, len, p.customer), from, to);
    else if (len == STORE_DAY_MS && off % STORE_HOUR_MS && to > from &&
             (bucket_start(to - 1, len, off) - bucket_start(from, len, off)) / len <
                 PLAN_BUCKETS_MAX)
        rc = plan_buckets(&p, from, to, off);
    else
        rc = plan_units(&p, from, to, off);
    if (rc) {
        free(p.rows);
        return p.rc == STORE_E_OVERFLOW ? STORE_E_OVERFLOW : -1;
    }
    /* Merge the pieces' groups: equal keys are adjacent once sorted. */
    size_t k = 0;
    if (p.n)
        qsort(p.rows, p.n, sizeof(*p.rows), cmp_group);
    for (size_t i = 0; i < p.n; i++) {
        if (k && !cmp_group(&p.rows[k - 1], &p.rows[i])) {
            struct query_row *t = &p.rows[k - 1];
            if (__builtin_add_overflow(t->total_cents, p.rows[i].total_cents,
                                       &t->total_cents) ||
                __builtin_add_overflow(t->order_count, p.rows[i].order_count,
                                       &t->order_count) ||
                __builtin_add_overflow(t->quantity, p.rows[i].quantity, &t->quantity)) {
                free(p.rows);
                return sf_err(STORE_E_OVERFLOW, errstr, en, "a sum passes the largest "
                              "integer");
            }
            continue;
        }
        p.rows[k++] = p.rows[i];
    }
    *rows = p.rows;
    *n = k;
    return 0;
}

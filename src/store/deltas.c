/*
 * deltas — fold a batch's newly inserted orders into aggregate increments,
 * one per key, sorted by key: per (source, state), per (minute, source,
 * state) and its quarter hours, hours and days, and per (hour, customer,
 * source) and its
 * days. Shared by every store backend so that all of them apply
 * increments in the same, fixed key order.
 */
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_state(const void *a, const void *b)
{
    const struct sales_delta *x = a, *y = b;
    if (x->source != y->source)
        return x->source - y->source;
    return strcmp(x->state, y->state);
}

/* (minute, customer_id, source, state): customer_id is 0 in every delta
 * but the customer rollups', whose state is "". */
static int cmp_minute(const void *a, const void *b)
{
    const struct sales_delta *x = a, *y = b;
    int c = strcmp(x->minute, y->minute);
    if (c)
        return c;
    if (x->customer_id != y->customer_id)
        return x->customer_id < y->customer_id ? -1 : 1;
    return cmp_state(a, b);
}

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t hash_key(const struct sales_delta *d, int by_minute)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ (uint64_t)(unsigned)d->source;
    if (by_minute) {
        h = hash_bytes(h, d->minute, 16);
        h = (h ^ (uint64_t)d->customer_id) * UINT64_C(0x100000001b3);
    }
    return hash_bytes(h, d->state, strlen(d->state));
}

/* A growing set of deltas with equal keys merged, through a hash table of
 * their indexes (a batch has few distinct keys). */
struct fold {
    struct sales_delta *d;
    size_t n, cap;
    uint32_t *slot;     /* index + 1; 0: empty */
    size_t nslot;
    int by_minute;
    int (*cmp)(const void *, const void *);
};

static int fold_rehash(struct fold *f)
{
    size_t ns = f->nslot ? f->nslot * 2 : 64;
    uint32_t *slot = calloc(ns, sizeof(*slot));
    if (!slot)
        return -1;
    for (size_t i = 0; i < f->n; i++) {
        size_t h = (size_t)hash_key(&f->d[i], f->by_minute) & (ns - 1);
        while (slot[h])
            h = (h + 1) & (ns - 1);
        slot[h] = (uint32_t)(i + 1);
    }
    free(f->slot);
    f->slot = slot;
    f->nslot = ns;
    return 0;
}

static int fold_add(struct fold *f, const struct sales_delta *x)
{
    if (2 * (f->n + 1) > f->nslot && fold_rehash(f))
        return -1;
    size_t h = (size_t)hash_key(x, f->by_minute) & (f->nslot - 1);
    while (f->slot[h] && f->cmp(&f->d[f->slot[h] - 1], x) != 0)
        h = (h + 1) & (f->nslot - 1);
    if (f->slot[h]) {
        struct sales_delta *t = &f->d[f->slot[h] - 1];
        /* Wrapping, never undefined: the stores check the batch's own sums
         * (none of which may pass int64) before they use a delta. */
        (void)__builtin_add_overflow(t->total_cents, x->total_cents, &t->total_cents);
        (void)__builtin_add_overflow(t->count, x->count, &t->count);
        (void)__builtin_add_overflow(t->quantity, x->quantity, &t->quantity);
        if (x->updated_ms > t->updated_ms)
            t->updated_ms = x->updated_ms;
        return 0;
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        struct sales_delta *nd = realloc(f->d, nc * sizeof(*nd));
        if (!nd)
            return -1;
        f->d = nd;
        f->cap = nc;
    }
    f->d[f->n] = *x;
    f->slot[h] = (uint32_t)++f->n;
    return 0;
}

int sales_deltas(const struct store_order *rows, const unsigned char *inserted,
                 size_t n, struct sales_delta **by_state, size_t *n_state,
                 struct sales_delta **by_minute, size_t *n_minute)
{
    struct fold fs = {.cmp = cmp_state}, fm = {.by_minute = 1, .cmp = cmp_minute};
    int64_t lo = 1, hi = 0;     /* the minute in `minute`: [lo, hi) ms */
    char minute[17] = "", ts[32];
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!inserted[i])
            continue;
        int64_t ms = rows[i].o.created_ms;
        if (ms < lo || ms >= hi) {
            /* Orders of a batch mostly share their minute: format it once. */
            memcpy(minute, sf_format_time(ms, ts), 16);
            lo = ms - ((ms % 60000) + 60000) % 60000;
            hi = lo + 60000;
        }
        struct sales_delta d = {.source = rows[i].o.source,
                                .source_name = rows[i].source, .state = rows[i].state,
                                .total_cents = rows[i].o.total_cents, .count = 1,
                                .quantity = rows[i].o.quantity,
                                .updated_ms = rows[i].log_time_ms};
        memcpy(d.minute, minute, 17);
        rc = fold_add(&fs, &d) || fold_add(&fm, &d);
    }
    free(fs.slot);
    free(fm.slot);
    if (rc) {
        free(fs.d);
        free(fm.d);
        return -1;
    }
    /* Never NULL, as before: callers free() and index them. */
    if ((!fs.d && !(fs.d = malloc(sizeof(*fs.d)))) ||
        (!fm.d && !(fm.d = malloc(sizeof(*fm.d))))) {
        free(fs.d);
        free(fm.d);
        return -1;
    }
    qsort(fs.d, fs.n, sizeof(*fs.d), cmp_state);
    qsort(fm.d, fm.n, sizeof(*fm.d), cmp_minute);
    *n_state = fs.n;
    *n_minute = fm.n;
    *by_state = fs.d;
    *by_minute = fm.d;
    return 0;
}

int sales_rollup(const struct sales_delta *by_minute, size_t n, int key_len,
                 struct sales_delta **out, size_t *n_out)
{
    struct fold f = {.by_minute = 1, .cmp = cmp_minute};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct sales_delta d = by_minute[i];
        if (key_len == SALES_ROLLUP_QUARTER) {
            /* "YYYY-MM-DDTHH:MM" → "…THH:00", ":15", ":30" or ":45" */
            int q = ((d.minute[14] - '0') * 10 + (d.minute[15] - '0')) / 15 * 15;
            d.minute[14] = (char)('0' + q / 10);
            d.minute[15] = (char)('0' + q % 10);
        } else {
            /* "YYYY-MM-DDTHH:MM" → "YYYY-MM-DDTHH:00" or "YYYY-MM-DDT00:00" */
            memcpy(d.minute + key_len, key_len == 10 ? "T00:00" : ":00",
                   16 - (size_t)key_len);
        }
        d.minute[16] = '\0';
        rc = fold_add(&f, &d);
    }
    free(f.slot);
    if (rc || (!f.d && !(f.d = malloc(sizeof(*f.d))))) {
        free(f.d);
        return -1;
    }
    qsort(f.d, f.n, sizeof(*f.d), cmp_minute);
    *out = f.d;
    *n_out = f.n;
    return 0;
}

int sales_customer_deltas(const struct store_order *rows, const unsigned char *inserted,
                          size_t n, struct sales_delta **by_hour, size_t *n_hour,
                          struct sales_delta **by_day, size_t *n_day)
{
    struct fold f = {.by_minute = 1, .cmp = cmp_minute};
    int64_t lo = 1, hi = 0;     /* the hour in `hour`: [lo, hi) ms */
    char hour[17] = "", ts[32];
    int rc = 0;
    *by_hour = *by_day = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!inserted[i])
            continue;
        int64_t ms = rows[i].o.created_ms;
        if (ms < lo || ms >= hi) {
            memcpy(hour, sf_format_time(ms, ts), 13);
            memcpy(hour + 13, ":00", 4);
            lo = ms - ((ms % STORE_HOUR_MS) + STORE_HOUR_MS) % STORE_HOUR_MS;
            hi = lo + STORE_HOUR_MS;
        }
        struct sales_delta d = {.source = rows[i].o.source, .customer_id = rows[i].o.customer_id,
                                .source_name = rows[i].source, .state = "",
                                .total_cents = rows[i].o.total_cents, .count = 1,
                                .quantity = rows[i].o.quantity,
                                .updated_ms = rows[i].log_time_ms};
        memcpy(d.minute, hour, 17);
        rc = fold_add(&f, &d);
    }
    free(f.slot);
    if (rc || (!f.d && !(f.d = malloc(sizeof(*f.d))))) {
        free(f.d);
        return -1;
    }
    qsort(f.d, f.n, sizeof(*f.d), cmp_minute);
    if (sales_rollup(f.d, f.n, 10, by_day, n_day)) {
        free(f.d);
        return -1;
    }
    *by_hour = f.d;
    *n_hour = f.n;
    return 0;
}

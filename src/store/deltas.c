/*
 * deltas — fold a batch's newly inserted orders into aggregate increments,
 * one per key, sorted by key. Shared by every store backend so that all of them apply
 * increments in the same, fixed key order.
 */
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static int cmp_state(const void *a, const void *b)
{
    const struct sales_delta *x = a, *y = b;
    if (x->source != y->source)
        return x->source - y->source;
    return strcmp(x->state, y->state);
}

static int cmp_minute(const void *a, const void *b)
{
    const struct sales_delta *x = a, *y = b;
    int c = strcmp(x->minute, y->minute);
    return c ? c : cmp_state(a, b);
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
    if (by_minute)
        h = hash_bytes(h, d->minute, 16);
    return hash_bytes(h, d->state, strlen(d->state));
}

/* Merge the entries of d[0..n) with equal keys (cmp), through a hash table
 * of their indexes (a batch has few distinct keys), then sort what is left
 * by key; returns the new length. */
static ssize_t fold(struct sales_delta *d, size_t n, int by_minute,
                    int (*cmp)(const void *, const void *))
{
    size_t cap = 16, w = 0;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = calloc(cap, sizeof(*slot));   /* index + 1; 0: empty */
    if (!slot)
        return -1;
    for (size_t r = 0; r < n; r++) {
        size_t h = (size_t)hash_key(&d[r], by_minute) & (cap - 1);
        while (slot[h] && cmp(&d[slot[h] - 1], &d[r]) != 0)
            h = (h + 1) & (cap - 1);
        if (!slot[h]) {
            d[w] = d[r];
            slot[h] = (uint32_t)++w;
            continue;
        }
        struct sales_delta *t = &d[slot[h] - 1];
        t->total_cents += d[r].total_cents;
        t->count += d[r].count;
        t->quantity += d[r].quantity;
        if (d[r].updated_ms > t->updated_ms)
            t->updated_ms = d[r].updated_ms;
    }
    free(slot);
    qsort(d, w, sizeof(*d), cmp);
    return (ssize_t)w;
}

int sales_deltas(const struct store_order *rows, const unsigned char *inserted,
                 size_t n, struct sales_delta **by_state, size_t *n_state,
                 struct sales_delta **by_minute, size_t *n_minute)
{
    struct sales_delta *a = malloc((n ? n : 1) * sizeof(*a));
    struct sales_delta *m = malloc((n ? n : 1) * sizeof(*m));
    size_t k = 0;
    if (!a || !m) {
        free(a);
        free(m);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!inserted[i])
            continue;
        char ts[32];
        struct sales_delta *d = &a[k];
        d->source = rows[i].o.source;
        d->state = rows[i].state;
        d->total_cents = rows[i].o.total_cents;
        d->count = 1;
        d->quantity = rows[i].o.quantity;
        d->updated_ms = rows[i].log_time_ms;
        memcpy(d->minute, sf_format_time(rows[i].o.created_ms, ts), 16);
        d->minute[16] = '\0';
        m[k] = *d;
        k++;
    }
    ssize_t ns = fold(a, k, 0, cmp_state), nm = ns < 0 ? -1 : fold(m, k, 1, cmp_minute);
    if (nm < 0) {
        free(a);
        free(m);
        return -1;
    }
    *n_state = (size_t)ns;
    *n_minute = (size_t)nm;
    *by_state = a;
    *by_minute = m;
    return 0;
}

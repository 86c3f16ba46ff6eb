/*
 * deltas — fold a batch's newly inserted orders into aggregate increments,
 * sorted by key. Shared by every store backend so that all of them apply
 * increments in the same, fixed key order.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

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

/* Sort d[0..n) with cmp and merge equal keys; returns the new length. */
static size_t fold(struct sales_delta *d, size_t n,
                   int (*cmp)(const void *, const void *))
{
    if (n == 0)
        return 0;
    qsort(d, n, sizeof(*d), cmp);
    size_t w = 0;
    for (size_t r = 1; r < n; r++) {
        if (cmp(&d[w], &d[r]) == 0) {
            d[w].total_cents += d[r].total_cents;
            d[w].count += d[r].count;
            d[w].quantity += d[r].quantity;
            if (d[r].updated_ms > d[w].updated_ms)
                d[w].updated_ms = d[r].updated_ms;
        } else {
            d[++w] = d[r];
        }
    }
    return w + 1;
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
    *n_state = fold(a, k, cmp_state);
    *n_minute = fold(m, k, cmp_minute);
    *by_state = a;
    *by_minute = m;
    return 0;
}

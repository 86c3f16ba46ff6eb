/*
 * dedupe — a chained hash table of ids plus a FIFO in insertion order.
 *
 * One mutex guards everything; the critical sections are a hash lookup or
 * insert. Entries enter the FIFO when claimed; expiry and the max_keys
 * bound pop from its head, which holds the oldest entries. An in-flight
 * entry at the head stops expiry until it completes (an ack is at most one
 * fsync away), which keeps the code simple and the bound soft by at most
 * the number of appends in flight.
 */
#include "ingest/dedupe.h"
#include "core/order.h"
#include "core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dedupe_entry {
    struct dedupe_entry *hnext;         /* hash chain */
    struct dedupe_entry *fnext;         /* FIFO, oldest first */
    struct dedupe_waiter *waiters;
    int64_t time_ms;
    uint32_t hash;
    int inflight;
    char id[];
};

struct dedupe {
    pthread_mutex_t mu;
    struct dedupe_entry **buckets;
    size_t nbuckets, count, max_keys;
    struct dedupe_entry *head, *tail;
    int64_t window_ms;
    int warned_full;
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h ^ (h >> 15);
}

struct dedupe *dedupe_new(int64_t window_ms, size_t max_keys, char *errstr,
                          size_t errstr_size)
{
    struct dedupe *d = calloc(1, sizeof(*d));
    if (d) {
        d->nbuckets = 1024;
        d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
    }
    if (!d || !d->buckets) {
        free(d);
        sf_err(-1, errstr, errstr_size, "out of memory for the idempotency index");
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->window_ms = window_ms;
    d->max_keys = max_keys ? max_keys : 1;
    return d;
}

void dedupe_destroy(struct dedupe *d)
{
    if (!d)
        return;
    struct dedupe_entry *e = d->head;
    while (e) {
        struct dedupe_entry *next = e->fnext;
        free(e);
        e = next;
    }
    free(d->buckets);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static struct dedupe_entry **slot_of(struct dedupe *d, const char *id, uint32_t h)
{
    struct dedupe_entry **p = &d->buckets[h & (d->nbuckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->id, id) != 0))
        p = &(*p)->hnext;
    return p;
}

static void unlink_hash(struct dedupe *d, struct dedupe_entry *e)
{
    struct dedupe_entry **p = slot_of(d, e->id, e->hash);
    if (*p == e)
        *p = e->hnext;
}

static void grow(struct dedupe *d)
{
    size_t n = d->nbuckets * 2;
    struct dedupe_entry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct dedupe_entry *e = d->buckets[i];
        while (e) {
            struct dedupe_entry *next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = nb;
    d->nbuckets = n;
}

/* Drop done entries from the FIFO head that are past the window, or while
 * over max_keys. Forgotten (failed) entries are already out of the hash and
 * are freed here too. Caller holds mu. */
static void expire(struct dedupe *d, int64_t now_ms)
{
    while (d->head && !d->head->inflight) {
        struct dedupe_entry *e = d->head;
        int forgotten = e->hash == 0 && e->id[0] == '\0';
        int old = e->time_ms < now_ms - d->window_ms;
        if (!forgotten && !old && d->count < d->max_keys)
            break;
        if (!forgotten && !old && !d->warned_full) {
            d->warned_full = 1;
            log_warn("idempotency index full (%zu keys): forgetting the oldest "
                     "keys before their window ends; raise --dedupe-max", d->max_keys);
        }
        d->head = e->fnext;
        if (!d->head)
            d->tail = NULL;
        if (!forgotten) {
            unlink_hash(d, e);
            d->count--;
        }
        free(e);
    }
}

static struct dedupe_entry *insert(struct dedupe *d, const char *id, uint32_t h,
                                   int64_t time_ms, int inflight,
                                   struct dedupe_entry **slot)
{
    size_t len = strlen(id);
    struct dedupe_entry *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    memcpy(e->id, id, len + 1);
    e->hash = h ? h : 1;
    e->hnext = NULL;
    e->fnext = NULL;
    e->waiters = NULL;
    e->time_ms = time_ms;
    e->inflight = inflight;
    if (h != e->hash)
        slot = slot_of(d, id, e->hash);
    *slot = e;
    if (d->tail)
        d->tail->fnext = e;
    else
        d->head = e;
    d->tail = e;
    if (++d->count > d->nbuckets)
        grow(d);
    return e;
}

enum dedupe_result dedupe_claim(struct dedupe *d, const char *id, int64_t now_ms,
                                struct dedupe_waiter *w,
                                struct dedupe_entry **entry)
{
    uint32_t h = hash_id(id);
    if (!h)
        h = 1;
    enum dedupe_result r;
    pthread_mutex_lock(&d->mu);
    expire(d, now_ms);
    struct dedupe_entry **slot = slot_of(d, id, h);
    if (*slot) {
        if ((*slot)->inflight) {
            w->next = (*slot)->waiters;
            (*slot)->waiters = w;
            r = DEDUPE_WAIT;
        } else {
            r = DEDUPE_DONE;
        }
        *entry = NULL;
    } else {
        /* Out of memory: append without an index entry rather than fail. */
        *entry = insert(d, id, h, now_ms, 1, slot);
        r = DEDUPE_NEW;
    }
    pthread_mutex_unlock(&d->mu);
    return r;
}

void dedupe_complete(struct dedupe *d, struct dedupe_entry *e, int err)
{
    if (!e)
        return;
    pthread_mutex_lock(&d->mu);
    struct dedupe_waiter *w = e->waiters;
    e->waiters = NULL;
    e->inflight = 0;
    if (err) {
        /* Forget it: out of the hash now; the FIFO frees it later. */
        unlink_hash(d, e);
        d->count--;
        e->hash = 0;
        e->id[0] = '\0';
    }
    pthread_mutex_unlock(&d->mu);
    while (w) {
        struct dedupe_waiter *next = w->next;
        w->done(w, err);
        w = next;
    }
}

size_t dedupe_count(struct dedupe *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

struct rebuild {
    struct dedupe *d;
    long learned;
};

/* A record written with a client key starts {"order_id":"…" (order.h). */
static int learn(void *opaque, const struct broker_record *r)
{
    static const char prefix[] = "{\"order_id\":\"";
    struct rebuild *rb = opaque;
    char id[SF_ORDER_ID_MAX + 1];
    size_t n = 0, i = sizeof(prefix) - 1;
    if (r->len < i || memcmp(r->value, prefix, i) != 0)
        return 0;
    for (; i < r->len && r->value[i] != '"'; i++) {
        char c = r->value[i];
        if (c == '\\') {
            if (++i >= r->len)
                return 0;
            c = r->value[i];
            if (c != '"' && c != '\\' && c != '/')
                return 0; /* not something our encoder writes */
        }
        if (n == SF_ORDER_ID_MAX)
            return 0;
        id[n++] = c;
    }
    if (i >= r->len || n == 0)
        return 0;
    id[n] = '\0';
    uint32_t h = hash_id(id);
    if (!h)
        h = 1;
    struct dedupe *d = rb->d;
    pthread_mutex_lock(&d->mu);
    struct dedupe_entry **slot = slot_of(d, id, h);
    if (!*slot && insert(d, id, h, r->timestamp_ms, 0, slot))
        rb->learned++;
    expire(d, r->timestamp_ms);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

long dedupe_rebuild(struct dedupe *d, struct broker *b, char *errstr,
                    size_t errstr_size)
{
    struct rebuild rb = {.d = d};
    if (!b->ops->scan) {
        log_warn("this broker cannot scan its log: retries of an order_id sent "
                 "before this start will not be recognised");
        return 0;
    }
    int rc = broker_scan(b, sf_now_ms() - d->window_ms, learn, &rb, errstr,
                         errstr_size);
    if (rc < 0)
        return -1;
    return rb.learned;
}

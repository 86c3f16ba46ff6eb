/*
 * processor — the stream processor loop (see processor.h).
 *
 * Exactly once: the positions stored with each batch are where the next
 * run starts, and rows are keyed by order_id, so a batch that was applied
 * and then re-read after a crash adds nothing. A store error rolls the
 * batch back; the processor retries the same records with a growing pause
 * and never skips ahead. A record that is not an order at all goes to the
 * quarantine sink (conf.on_reject, else the log) and its position still
 * advances, so one bad message from a foreign producer cannot stop the
 * pipeline. So does a message without an order_id (a foreign producer's:
 * ours always carry one, and were validated at the door) that the door
 * would have refused with a 422 — an unknown customer, quantity 0: it
 * gets the door's own validation (order_validate) and message.
 *
 * Orders the store can never hold. The store says how an apply() failed
 * (store_error_kind): transient (server away, lock wait, deadlock,
 * read-only, disk full) is retried as above, forever. A data error (a
 * value too long or out of range for its column) fails the same rows the
 * same way every time; after DATA_ATTEMPTS of them the batch is taken
 * apart: its first half is applied, then its second, each with the
 * positions just past its own records, halving again whatever fails with
 * a data error, down to the one order the store refuses. That order goes
 * to the quarantine with its position and the store's message, and a
 * commit of positions alone moves past it. Every part is its own
 * transaction that either stores its orders and positions or nothing, and
 * parts are committed in log order, so each order is stored or
 * quarantined once, and a crash in the middle resumes after the last part
 * committed. Transient errors during this are retried like any other.
 *
 * Small batches linger: after a batch of less than a quarter of batch_max
 * the processor waits LINGER_MS before it polls again, so that a steady
 * stream of single orders is committed a few hundred orders at a time and
 * not a handful (a transaction's fixed cost — SQLite's commit, the
 * positions, the rollups — was most of the processor's CPU under single
 * orders: ~300 µs a commit against ~3 µs an order). An order arriving
 * while the processor waits in poll() is still taken at once; one arriving
 * just after a small commit waits up to LINGER_MS more. A full batch
 * (the processor behind) never waits.
 *
 * Health: every commit, failure and the age of the records in hand go to
 * metrics_proc_*(), which GET /readyz and /metrics read (web/ops.c).
 *
 * Consumer groups (Kafka): when the broker takes an assign callback, the
 * processor owns only the partitions the group gives it. On assignment it
 * loads their positions from the store (retrying while the store fails)
 * and seeks there; on revocation it forgets them. Both happen inside
 * broker_poll(), between batches: the batch in hand always comes from one
 * poll, and the broker drops records of partitions revoked during that
 * poll, so a batch never carries a partition this processor no longer
 * owns. Should the group still move a partition while a batch is being
 * applied (this process stalled past the group's timeouts), the other
 * owner re-reads from the stored position and the order_id keys absorb
 * the overlap.
 */
#include "process/processor.h"
#include "core/metrics.h"
#include "core/money.h"
#include "core/stats.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DATA_ATTEMPTS 3     /* data errors of a whole batch before it is taken apart */

struct processor {
    struct broker *b;
    struct store *s;
    const struct catalog *cat;
    struct processor_conf conf;
    const char *topic;          /* the topic's name, for messages */
    char key[SF_POSITION_KEY_MAX + 1]; /* positions and derived ids are keyed
                                 * by it: "TOPIC@IDENTITY" of the broker */
    int grouped;                /* partitions come and go with a group */
    int nparts;
    int64_t *committed;         /* next offset per partition, as stored;
                                 * -1: not owned (grouped) */
    int64_t *next;              /* per batch: new positions, -1 = unchanged */
    int64_t *mark;              /* per batch: processor_record_mark of the record just
                                 * before each new position */
    int64_t last_retain_ms;
    atomic_int stop;
    pthread_t thread;
};

/* Pause ms, in slices, returning early once asked to stop: a stop waits for
 * no retry pause or yield (a failing store's pauses grow to 5 s). */
#define NAP_SLICE_MS 50
static void nap(struct processor *p, int64_t ms)
{
    for (int64_t left = ms; left > 0 && !atomic_load(&p->stop); left -= NAP_SLICE_MS)
        sf_pause_ms(left < NAP_SLICE_MS ? (int)left : NAP_SLICE_MS);
}

int processor_decode(const struct broker_record *rec, const struct catalog *cat,
                     struct store_order *out, char *errstr, size_t n)
{
    return processor_decode_topic(rec, SF_TOPIC_DEFAULT, cat, out, errstr, n);
}

/* A foreign producer's order: what the door checks of its customer,
 * source and quantity, by the door's own validator (order_validate), so
 * the message is the 422's. Returns 0, or -1 with "field: message; …". */
static int validate_foreign(const struct order *o, const struct catalog *cat,
                            char *errstr, size_t n)
{
    struct sf_buf d;
    struct order tmp;
    int nerr = 0;
    json_t *root = json_pack("{sIsssI}", "customer_id", (json_int_t)o->customer_id,
                             "source", catalog_source(cat, o->source), "quantity",
                             (json_int_t)o->quantity);
    if (!root)
        return sf_err(-1, errstr, n, "out of memory validating an order");
    sf_buf_init(&d, 16384);
    sf_buf_append(&d, "[", 1);
    order_validate(root, cat, 0, -1, &tmp, &d, &nerr);
    sf_buf_append(&d, "]", 1);
    json_decref(root);
    if (nerr == 0) {
        sf_buf_free(&d);
        return 0;
    }
    /* [{"loc":["body",field],"msg":…,"type":…}, …] → "field: msg; …" */
    json_t *list = d.data ? json_loadb(d.data, d.len, 0, NULL) : NULL, *e;
    size_t i, used = 0;
    errstr[0] = '\0';
    json_array_foreach(list, i, e) {
        json_t *loc = json_object_get(e, "loc");
        const char *field = json_string_value(json_array_get(loc, json_array_size(loc) - 1));
        const char *msg = json_string_value(json_object_get(e, "msg"));
        if (used < n)
            used += (size_t)snprintf(errstr + used, n - used, "%s%s: %s", i ? "; " : "",
                                     field ? field : "order", msg ? msg : "invalid");
    }
    if (!errstr[0])
        snprintf(errstr, n, "not a valid order");
    json_decref(list);
    sf_buf_free(&d);
    return -1;
}

int processor_decode_topic(const struct broker_record *rec, const char *topic,
                           const struct catalog *cat, struct store_order *out,
                           char *errstr, size_t n)
{
    int has_total;
    if (order_decode(rec->value, rec->len, cat, &out->o, &has_total, errstr, n))
        return -1;
    /* The name now: the stores write it, whatever a reload adds later. */
    snprintf(out->source, sizeof(out->source), "%s", catalog_source(cat, out->o.source));
    if (!out->o.order_id[0]) {
        if (validate_foreign(&out->o, cat, errstr, n))
            return -1;
        order_derive_id_msg(topic, rec->partition, rec->offset, rec->timestamp_ms,
                            rec->value, rec->len, out->o.order_id);
    }
    if (!has_total &&
        money_mul(out->o.quantity, catalog_unit_price(cat), &out->o.total_cents))
        return sf_err(-1, errstr, n, "total out of range");
    out->log_time_ms = rec->timestamp_ms;
    const char *st = catalog_state(cat, out->o.customer_id);
    snprintf(out->state, sizeof(out->state), "%s", st ? st : "unknown");
    return 0;
}

/* Make room for partition numbers below n (a Kafka topic can grow). */
static void grow(struct processor *p, int n)
{
    if (n <= p->nparts)
        return;
    int64_t *c = realloc(p->committed, (size_t)n * sizeof(*c));
    if (c)
        p->committed = c;
    int64_t *x = c ? realloc(p->next, (size_t)n * sizeof(*x)) : NULL;
    if (x)
        p->next = x;
    int64_t *m = x ? realloc(p->mark, (size_t)n * sizeof(*m)) : NULL;
    if (!m) {
        log_error("processor: out of memory for %d partitions", n);
        abort();
    }
    p->mark = m;
    for (int i = p->nparts; i < n; i++)
        p->committed[i] = p->grouped ? -1 : 0;
    p->nparts = n;
}

/* A stored position past the partition's end does not describe this
 * topic (see check_positions): read the partition from its start. Not
 * stored here; the first commit stores it. */
static void check_assigned(struct processor *p, const int *parts, int n, int64_t *pos)
{
    int64_t *end = calloc((size_t)p->nparts + 1, sizeof(*end));
    if (end && broker_end_offsets(p->b, end, p->nparts) == 0) {
        for (int i = 0; i < n; i++) {
            int q = parts[i];
            if (pos[q] <= end[q])
                continue;
            log_warn("processor: the store's position for %s partition %d is %" PRId64
                     " but the partition ends at %" PRId64 " (a re-created topic?); "
                     "reading it again from its start", p->topic, q, pos[q], end[q]);
            pos[q] = 0;
        }
    }
    free(end);
}

/* A position is stored with the mark of the record just before it: 41
 * bits of a hash of that record's timestamp and bytes, above the low 20
 * bits of the position itself (so never 0). The same record read again has
 * the same mark; another one at that offset (a topic deleted and re-created
 * under the same name) almost surely another. A mark whose low bits are
 * not its position's was left behind by a salesflow that stores positions
 * without marks (run beside this one in a group, or rolled back to): it
 * tells nothing. */
#define MARK_POS_BITS 20
#define MARK_POS_MASK ((INT64_C(1) << MARK_POS_BITS) - 1)

int64_t processor_record_mark(const struct broker_record *r)
{
    uint64_t h = order_msg_hash("", r->timestamp_ms, r->value, r->len) >> 23;
    h |= UINT64_C(1) << 40;     /* 41 bits, the top one set */
    return (int64_t)(h << MARK_POS_BITS) | ((r->offset + 1) & MARK_POS_MASK);
}

/* The mark stored with position pos, if it belongs to it; else 0. */
static int64_t mark_of(int64_t mark, int64_t pos)
{
    return (mark & MARK_POS_MASK) == (pos & MARK_POS_MASK) ? mark : 0;
}

/* Verifying stored positions against the topic (verify_positions). */
#define VERIFY_DEPTH 256        /* records read before each position */
#define VERIFY_ORDERS 3         /* the last orders among them that are checked */

struct verify {
    struct processor *p;
    int nparts;
    const int64_t *pos;         /* the stored positions */
    int64_t *seen;              /* per partition: the mark of the record at
                                 * pos - 1, 0 until read */
    /* Per partition: the order_ids of the last VERIFY_ORDERS messages that
     * carry one, ring-buffered. */
    char (*ids)[VERIFY_ORDERS][SF_ORDER_ID_MAX + 1];
    int *orders;                /* such messages read per partition */
};

/* Only messages with their own order_id count: whether one is stored
 * depends on nothing but the message (an ingest acknowledged it), while a
 * foreign message's depends on the catalog of the day (a customer added
 * since makes one that was quarantined an order now). */
static int verify_record(void *opaque, const struct broker_record *r)
{
    struct verify *v = opaque;
    struct store_order o;
    char err[256], derived[SF_UUID_STRLEN + 1];
    if (r->partition < 0 || r->partition >= v->nparts)
        return 0;
    if (r->offset == v->pos[r->partition] - 1)
        v->seen[r->partition] = processor_record_mark(r);
    if (processor_decode_topic(r, v->p->key, v->p->cat, &o, err, sizeof(err)))
        return 0;               /* not an order: not in the store either way */
    int q = r->partition;
    order_derive_id_msg(v->p->key, q, r->offset, r->timestamp_ms, r->value, r->len, derived);
    if (strcmp(derived, o.o.order_id) == 0)
        return 0;               /* a foreign message */
    snprintf(v->ids[q][v->orders[q]++ % VERIFY_ORDERS], SF_ORDER_ID_MAX + 1, "%s",
             o.o.order_id);
    return 0;
}

/* A stored position inside the partition may still belong to another
 * topic of the same name on the same cluster (deleted and re-created:
 * librdkafka 2.0 does not report topic ids). Where the store has the mark
 * of the record before the position, that record tells: another mark, and
 * the position is not this topic's. Where it has none (stored before
 * marks) or the record is gone (retention), the orders before the position
 * tell: if the last few of them that carry their own order_id are all
 * unknown to the store, the position is not this topic's. Either way the
 * partition is then read from its start (what the store has keeps; nothing
 * is stored twice). A read that fails (a leader election, a broker away)
 * is tried again until it succeeds: an unchecked position is never used.
 * Returns 0, or -1 when asked to stop first. */
static int verify_positions(struct processor *p, const int *parts, int n, int64_t *pos,
                            const int64_t *mark)
{
    struct verify v = {.p = p, .nparts = p->nparts, .pos = pos};
    int *vp = calloc((size_t)n + 1, sizeof(*vp));
    int64_t *from = calloc((size_t)n + 1, sizeof(*from)), *to = calloc((size_t)n + 1,
                                                                        sizeof(*to));
    v.ids = calloc((size_t)p->nparts, sizeof(*v.ids));
    v.orders = calloc((size_t)p->nparts, sizeof(*v.orders));
    v.seen = calloc((size_t)p->nparts, sizeof(*v.seen));
    char err[512];
    int m = 0;
    for (int i = 0; vp && from && to && i < n; i++)
        if (pos[parts[i]] > 0) {
            vp[m] = parts[i];
            to[m] = pos[parts[i]];
            from[m] = to[m] > VERIFY_DEPTH ? to[m] - VERIFY_DEPTH : 0;
            m++;
        }
    if (!v.ids || !v.orders || !v.seen || !vp || !from || !to) {
        log_warn("processor: out of memory verifying the stored positions; not verified");
        m = 0;
    }
    int rc = 1, backoff = 500;
    while (m) {
        memset(v.orders, 0, (size_t)p->nparts * sizeof(*v.orders));
        memset(v.seen, 0, (size_t)p->nparts * sizeof(*v.seen));
        rc = broker_read_ranges(p->b, vp, from, to, m, verify_record, &v, err, sizeof(err));
        if (rc >= 0)
            break;
        log_warn("processor: cannot read the records before the stored positions of %s "
                 "to check them (%s); will retry", p->topic, err);
        metrics_proc_failed(err);
        if (atomic_load(&p->stop))
            break;
        nap(p, backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
    if (rc >= 0 && backoff > 500)
        metrics_proc_recovered();
    for (int i = 0; rc == 0 && i < m; i++) {
        int q = vp[i], k = v.orders[q] < VERIFY_ORDERS ? v.orders[q] : VERIFY_ORDERS;
        int64_t want = mark_of(mark[q], pos[q]);
        if (mark[q] && !want)
            log_warn("processor: the store's position for %s partition %d was stored by "
                     "a salesflow without marks (an older one in the group?); checking "
                     "it by the orders before it", p->topic, q);
        if (want && v.seen[q]) {
            if (v.seen[q] == want)
                continue;       /* the record the store committed after */
            log_warn("processor: the store's position for %s partition %d is %" PRId64
                     " but the last record before it is not the one it was stored "
                     "after: the topic was deleted and re-created (or the store is "
                     "another topic's); reading the partition again from its start",
                     p->topic, q, pos[q]);
            pos[q] = 0;
            continue;
        }
        if (!k)
            continue;           /* no order just before it: nothing to tell */
        const char *ids[VERIFY_ORDERS];
        for (int j = 0; j < k; j++)
            ids[j] = v.ids[q][j];
        int found = store_has_orders(p->s, ids, k, err, sizeof(err));
        if (found < 0) {
            log_warn("processor: cannot check the stored position of %s partition %d "
                     "(%s); taken as it is", p->topic, q, err);
        } else if (found == 0) {
            log_warn("processor: the store's position for %s partition %d is %" PRId64
                     " but none of the last %d orders before it is in the store: the "
                     "topic was deleted and re-created (or the store is another "
                     "topic's); reading the partition again from its start",
                     p->topic, q, pos[q], k);
            pos[q] = 0;
        }
    }
    free(vp);
    free(from);
    free(to);
    free(v.ids);
    free(v.orders);
    free(v.seen);
    return rc < 0 ? -1 : 0;
}

/* The group gave us parts (seek them to the stored positions) or took
 * them away. Runs inside broker_poll() on the processor thread. */
static void on_assign(void *opaque, const int *parts, int n, int assigned)
{
    struct processor *p = opaque;
    char err[512], list[1024] = "";
    int64_t *pos = NULL;
    size_t used = 0;
    int max = -1, backoff = 100;
    for (int i = 0; i < n; i++)
        max = parts[i] > max ? parts[i] : max;
    grow(p, max + 1);
    if (!assigned) {
        for (int i = 0; i < n; i++)
            p->committed[parts[i]] = -1;
        metrics_proc_forget(parts, n);
        return;
    }
    if (!(pos = calloc(2 * (size_t)p->nparts, sizeof(*pos)))) {
        log_error("processor: out of memory loading positions");
        abort();
    }
    int64_t *mark = pos + p->nparts;
    while (store_load_positions(p->s, p->key, pos, mark, p->nparts, err, sizeof(err))) {
        log_error("processor: loading the positions of %s, will retry: %s", p->topic, err);
        metrics_proc_failed(err);
        if (atomic_load(&p->stop))
            goto out; /* stopping: nothing will be applied */
        nap(p, backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
    if (backoff > 100)
        metrics_proc_recovered();
    check_assigned(p, parts, n, pos);
    if (verify_positions(p, parts, n, pos, mark))
        goto out; /* stopping: nothing will be applied */
    for (int i = 0; i < n; i++) {
        int q = parts[i];
        if (broker_seek(p->b, q, pos[q]))
            log_error("processor: cannot seek %s partition %d to %" PRId64, p->topic,
                      q, pos[q]);
        p->committed[q] = pos[q];
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%d@%" PRId64,
                                     i ? " " : "", q, pos[q]);
    }
    log_info("processor: reading %s partition@offset %s", p->topic, list);
    /* The gauges show the stored positions of what this member owns. */
    for (int i = 0; i < p->nparts; i++)
        p->next[i] = -1;
    for (int i = 0; i < n; i++)
        p->next[parts[i]] = pos[parts[i]];
    metrics_proc_positions(p->next, p->nparts);
out:
    free(pos);
}

/* A record that is not an order: quarantine it (or log it) and move on. */
static void reject(struct processor *p, const struct broker_record *r, const char *why)
{
    if (p->conf.on_reject)
        p->conf.on_reject(p->conf.opaque, p->topic, r, why);
    else
        log_warn("processor: skipping %s partition %d offset %" PRId64
                 ": not an order: %s", p->topic, r->partition, r->offset, why);
}

/* Let the broker drop what retention allows, at most once a second. */
static void maybe_retain(struct processor *p)
{
    if (sf_mono_ms() - p->last_retain_ms < 1000)
        return;
    broker_retain(p->b, p->committed, p->nparts);
    p->last_retain_ms = sf_mono_ms();
}

/* The batch in hand: the records of one poll, the orders decoded from them
 * and, for each order, the index of its record. */
struct batch {
    const struct broker_record *recs;
    size_t nrecs;
    struct store_order *rows;
    size_t *rec_of;
    size_t n;
};

/* p->next = the positions just past records [0, end) of b (-1 for a
 * partition with none there), p->mark their last records' marks. A poll
 * gives each partition's records in offset order, so the last one seen is
 * the furthest. */
static void positions_upto(struct processor *p, const struct batch *b, size_t end)
{
    for (int i = 0; i < p->nparts; i++)
        p->next[i] = -1;
    for (size_t i = end; i-- > 0;) {
        const struct broker_record *r = &b->recs[i];
        if (p->next[r->partition] < 0) {
            p->next[r->partition] = r->offset + 1;
            p->mark[r->partition] = processor_record_mark(r);
        }
    }
}

/* A commit of p->next went through. */
static void committed(struct processor *p, size_t inserted, int64_t us)
{
    metrics_observe(SF_HIST_COMMIT, us);
    metrics_proc_commit_ok();
    sf_stats_commit(inserted);
    metrics_proc_positions(p->next, p->nparts);
    for (int i = 0; i < p->nparts; i++)
        if (p->next[i] >= 0)
            p->committed[i] = p->next[i];
    if (p->conf.on_commit)
        p->conf.on_commit(p->conf.opaque, inserted);
}

static int commit_range(struct processor *p, const struct batch *b, size_t lo, size_t hi,
                        int isolating);

/* Order i of b can never be stored (why: the store's message): quarantine
 * its record, then commit the positions past it. */
static int unstorable(struct processor *p, const struct batch *b, size_t i, const char *why)
{
    const struct broker_record *r = &b->recs[b->rec_of[i]];
    char reason[640];
    snprintf(reason, sizeof(reason), "the store cannot hold this order: %s", why);
    log_error("processor: order %s (%s partition %d offset %" PRId64 ") can never be "
              "stored: %s; quarantined, moving on", b->rows[i].o.order_id, p->topic,
              r->partition, r->offset, why);
    metrics_proc_unstorable();
    if (p->conf.on_reject)
        p->conf.on_reject(p->conf.opaque, p->topic, r, reason);
    return commit_range(p, b, i + 1, i + 1, 1);
}

/* Apply orders [lo, hi) of b with the positions past their records (and
 * past the records that are not orders up to the next order). Transient
 * failures are retried with a growing pause, forever. Data failures: after
 * DATA_ATTEMPTS (at the first one when isolating: the range is known to
 * hold an order the store refuses) the range is applied as two halves, one
 * after the other, down to the order that cannot be stored (see the top of
 * this file). Returns 0 once all of [lo, hi) is committed or quarantined,
 * -1 when asked to stop first (what is not committed is read again by the
 * next run). */
static int commit_range(struct processor *p, const struct batch *b, size_t lo, size_t hi,
                        int isolating)
{
    size_t end = hi < b->n ? b->rec_of[hi] : b->nrecs, inserted;
    int backoff = 100, data_failures = 0;
    char err[512];
    for (;;) {
        int64_t t0 = sf_mono_us();
        positions_upto(p, b, end);
        if (store_apply(p->s, p->key, b->rows + lo, hi - lo, p->next, p->mark, p->nparts,
                        &inserted, err, sizeof(err)) == 0) {
            committed(p, inserted, sf_mono_us() - t0);
            return 0;
        }
        metrics_store_error();
        metrics_proc_failed(err);
        if (hi > lo && store_error_kind(p->s) == STORE_ERR_DATA &&
            (isolating || ++data_failures >= DATA_ATTEMPTS)) {
            if (hi - lo == 1)
                return unstorable(p, b, lo, err);
            size_t mid = lo + (hi - lo) / 2;
            log_warn("processor: the store refuses a value among %zu orders (%s); "
                     "applying them in two parts to find it", hi - lo, err);
            if (commit_range(p, b, lo, mid, 1))
                return -1;
            return commit_range(p, b, mid, hi, 1);
        }
        log_error("processor: applying %zu orders failed, will retry: %s", hi - lo, err);
        if (atomic_load(&p->stop))
            return -1; /* not committed: the next run reads them again */
        nap(p, backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
        metrics_store_retry();
    }
}

#define LINGER_MS 5

/* Ingest first (processor_conf.share). In `run` the processor shares the
 * cores and the disk with the HTTP loops and the log. When orders arrive
 * faster than the processor can store them even with both to itself, it
 * falls behind whatever it does, and every moment it takes makes the
 * clients wait longer. So while it is behind (a full quarter of
 * batch_max or more in one poll) and the log has grown over the last
 * YIELD_WINDOW_US by more than YIELD_OVER times what the processor stores
 * in that time at its measured pace, it gives the cores back: after a
 * batch that took it T, it pauses T × (100 − share) / share (at most
 * YIELD_MAX_US), keeping at most share % of the time while the burst
 * lasts. Once arrivals fall below its pace it runs at full speed again
 * and catches up. A load it can follow never makes it yield, so freshness
 * at such loads does not change. Its pace: orders per µs of its thread's
 * CPU time over its full batches (not of the wall clock, which other
 * programs on the machine would stretch, making a load it can follow look
 * too fast for it), halved in weight every few seconds of work so that it
 * follows the store's growth. */
#define YIELD_WINDOW_US 100000
#define YIELD_OVER 1.25
#define YIELD_MAX_US 1000000
#define YIELD_PACE_US 2000000   /* work after which the pace's weights halve */

struct yield {
    int64_t t0_us, end0;        /* the window's start, the log's end then */
    int64_t work_us, work_n;    /* full batches: CPU time spent, orders stored */
    int over;                   /* the last whole window's verdict */
};

static int64_t log_end(struct processor *p)
{
    int64_t *end = calloc((size_t)p->nparts + 1, sizeof(*end)), sum = -1;
    if (end && broker_end_offsets(p->b, end, p->nparts) == 0)
        for (int i = sum = 0; i < p->nparts; i++)
            sum += end[i];
    free(end);
    return sum;
}

/* 1 while the last window's arrivals outpaced the processor. */
static int outpaced(struct processor *p, struct yield *y, int64_t now)
{
    if (y->t0_us && now - y->t0_us < YIELD_WINDOW_US)
        return y->over;
    int64_t end = log_end(p);
    double could = y->work_us > 0 ? (double)(now - y->t0_us) * y->work_n / y->work_us : 0;
    y->over = y->t0_us && end >= 0 && y->end0 >= 0 && could > 0 &&
              (double)(end - y->end0) > could * YIELD_OVER;
    y->t0_us = now;
    y->end0 = end;
    return y->over;
}

/* The calling thread's CPU time, µs. */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* After a batch of got records polled at start_us (the thread's CPU time
 * then: cpu_us): yield to ingest if the processor is behind and outpaced,
 * else linger after a small batch. */
static void pace(struct processor *p, struct yield *y, int64_t start_us, int64_t cpu_us,
                 size_t got)
{
    int share = p->conf.share, behind = got >= p->conf.batch_max / 4;
    int64_t now = sf_mono_us();
    if (behind) {
        y->work_us += thread_cpu_us() - cpu_us;
        y->work_n += (int64_t)got;
        if (y->work_us > YIELD_PACE_US) {
            y->work_us /= 2;
            y->work_n /= 2;
        }
    }
    if (behind && share > 0 && share < 100 && outpaced(p, y, now)) {
        int64_t pause = (now - start_us) * (100 - share) / share;
        int64_t ms = (pause < YIELD_MAX_US ? pause : YIELD_MAX_US) / 1000;
        metrics_proc_yielded(ms * 1000);    /* what is slept: whole ms */
        nap(p, ms);
    } else if (!behind && !atomic_load(&p->stop)) {
        sf_pause_ms(LINGER_MS);
    }
}

static void lower_priority(int by)
{
    if (sf_lower_thread_priority(by))
        log_warn("processor: cannot lower its CPU priority: %s", strerror(errno));
}

static void *processor_main(void *arg)
{
    struct processor *p = arg;
    size_t max = p->conf.batch_max;
    struct broker_record *recs = malloc(max * sizeof(*recs));
    struct store_order *rows = malloc(max * sizeof(*rows));
    size_t *rec_of = malloc(max * sizeof(*rec_of));
    char err[512];
    struct yield y = {0};

    lower_priority(p->conf.nice);
    if (!recs || !rows || !rec_of) {
        log_error("processor: out of memory; not processing");
        goto out;
    }
    while (!atomic_load(&p->stop)) {
        int got = broker_poll(p->b, recs, max, 200, err, sizeof(err));
        if (got < 0) {
            log_error("processor: reading the log: %s", err);
            nap(p, 1000);
            continue;
        }
        if (got == 0) {
            maybe_retain(p);
            continue;
        }
        if (atomic_load(&p->stop))
            break;  /* perhaps not seeked (a stop inside on_assign): read again
                     * by the next run */
        int64_t start_us = sf_mono_us(), cpu_us = thread_cpu_us();
        metrics_proc_pending(sf_mono_ms());
        size_t n = 0;
        for (int i = 0; i < got; i++)
            grow(p, recs[i].partition + 1);
        for (int i = 0; i < got; i++) {
            if (processor_decode_topic(&recs[i], p->key, p->cat, &rows[n], err,
                                       sizeof(err))) {
                reject(p, &recs[i], err);
                continue;
            }
            rec_of[n++] = (size_t)i;
        }
        struct batch b = {recs, (size_t)got, rows, rec_of, n};
        if (commit_range(p, &b, 0, n, 0))
            goto out;
        metrics_proc_pending(0);
        maybe_retain(p);
        pace(p, &y, start_us, cpu_us, (size_t)got);
    }
out:
    metrics_proc_pending(0);
    free(recs);
    free(rows);
    free(rec_of);
    return NULL;
}

/* A stored position past the end of the log does not describe this log:
 * the log was made anew (or lost an unsynced tail, with --fsync never) and
 * the store kept the positions of the old one, or another log writes the
 * same store. Starting there would skip every record up to it, so the
 * partition is read again from its start instead (rows keyed by order_id
 * absorb what the store already has) and the corrected positions are stored
 * at once. */
static int check_positions(struct processor *p, int64_t *pos, char *errstr, size_t n)
{
    int64_t *end = calloc(2 * (size_t)p->nparts + 1, sizeof(*end));
    int64_t *fix = end ? end + p->nparts : NULL; /* the moved ones; -1: kept */
    int moved = 0, rc = 0;
    if (!end)
        return sf_err(-1, errstr, n, "out of memory");
    if (broker_end_offsets(p->b, end, p->nparts) == 0) {
        for (int i = 0; i < p->nparts; i++) {
            fix[i] = -1;
            if (pos[i] <= end[i])
                continue;
            log_warn("processor: the store's position for %s partition %d is %" PRId64
                     " but the log ends at %" PRId64 " (a new log, a lost tail, or "
                     "another log writing the same store); reading the partition "
                     "again from its start", p->topic, i, pos[i], end[i]);
            pos[i] = fix[i] = 0;
            moved = 1;
        }
    }
    size_t none;
    if (moved)
        rc = store_apply(p->s, p->key, NULL, 0, fix, NULL, p->nparts, &none, errstr, n);
    free(end);
    return rc;
}

/* Upgrade from before broker identities: positions stored under the bare
 * topic name are taken over by a broker that may have written them (an
 * embedded log that got its identity at this upgrade, or a Kafka topic of
 * that name) if none lies past the partition's end; otherwise they are
 * left alone and this broker starts from its beginning. */
static int adopt_legacy(struct processor *p, int legacy, char *errstr, size_t n)
{
    int64_t *old = calloc((size_t)p->nparts + 1, sizeof(*old));
    int64_t *end = calloc((size_t)p->nparts + 1, sizeof(*end));
    int rc = 0, any = 0, fits = 1;
    if (!old || !end) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto out;
    }
    if (!strcmp(p->key, p->topic) ||
        (rc = store_load_positions(p->s, p->topic, old, NULL, p->nparts, errstr, n)))
        goto out;
    for (int i = 0; i < p->nparts; i++)
        any |= old[i] > 0;
    if (!any)
        goto out;
    if (broker_end_offsets(p->b, end, p->nparts) != 0)
        fits = 0;
    for (int i = 0; fits && i < p->nparts; i++)
        fits = old[i] <= end[i];
    if (!legacy || !fits) {
        log_warn("processor: the store holds positions of %s without a broker identity "
                 "(from a salesflow before identities) that do not fit this %s; left "
                 "alone: only positions stored under %s count (none: read from the "
                 "beginning)", p->topic,
                 legacy ? "topic (past its end, or its end unknown)" : "new log",
                 p->key);
        goto out;
    }
    int moved = store_adopt_positions(p->s, p->topic, p->key, errstr, n);
    if (moved < 0)
        rc = -1;
    else if (moved > 0)
        log_warn("processor: upgrade: %d positions of %s stored without a broker identity "
                 "are now %s's (they fit its partitions); from now on positions are "
                 "keyed by it", moved, p->topic, p->key);
out:
    free(old);
    free(end);
    return rc;
}

struct processor *processor_start(struct broker *b, struct store *s,
                                  const struct catalog *cat,
                                  const struct processor_conf *conf,
                                  char *errstr, size_t n)
{
    struct processor *p = calloc(1, sizeof(*p));
    int64_t *pos = NULL;
    if (!p) {
        sf_err(-1, errstr, n, "out of memory");
        return NULL;
    }
    p->b = b;
    p->s = s;
    p->cat = cat;
    p->conf = *conf;
    if (!p->conf.batch_max)
        p->conf.batch_max = 5000;
    p->topic = broker_topic(b);
    p->nparts = broker_partition_count(b);
    int legacy = 0;
    if (broker_position_key(b, p->key, sizeof(p->key), &legacy, errstr, n)) {
        free(p);
        return NULL;
    }
    pos = calloc((size_t)p->nparts + 1, sizeof(*pos));
    p->committed = calloc((size_t)p->nparts + 1, sizeof(*p->committed));
    p->next = calloc((size_t)p->nparts + 1, sizeof(*p->next));
    p->mark = calloc((size_t)p->nparts + 1, sizeof(*p->mark));
    if (!pos || !p->committed || !p->next || !p->mark) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    if (adopt_legacy(p, legacy, errstr, n))
        goto fail;
    if (broker_set_assign_cb(b, on_assign, p) == 0) {
        /* The group decides; positions are loaded on assignment. */
        p->grouped = 1;
        for (int i = 0; i < p->nparts; i++)
            p->committed[i] = -1;
        goto start;
    }
    if (store_load_positions(s, p->key, pos, NULL, p->nparts, errstr, n) ||
        check_positions(p, pos, errstr, n))
        goto fail;
    for (int i = 0; i < p->nparts; i++) {
        if (broker_seek(b, i, pos[i])) {
            sf_err(-1, errstr, n, "cannot seek partition %d to %" PRId64, i, pos[i]);
            goto fail;
        }
    }
    memcpy(p->committed, pos, (size_t)p->nparts * sizeof(*pos));
    metrics_proc_positions(pos, p->nparts);
    broker_retain(b, p->committed, p->nparts);
start:
    p->last_retain_ms = sf_mono_ms();
    if (pthread_create(&p->thread, NULL, processor_main, p)) {
        sf_err(-1, errstr, n, "cannot start the processor thread");
        goto fail;
    }
    pthread_setname_np(p->thread, "processor");
    free(pos);
    return p;
fail:
    if (p->grouped)
        broker_set_assign_cb(b, NULL, NULL);
    free(pos);
    free(p->committed);
    free(p->next);
    free(p->mark);
    free(p);
    return NULL;
}

void processor_stop(struct processor *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    if (p->grouped)
        broker_set_assign_cb(p->b, NULL, NULL);
    free(p->committed);
    free(p->next);
    free(p->mark);
    free(p);
}

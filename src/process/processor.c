/*
 * processor — the stream processor loop (see processor.h).
 *
 * Exactly once: the positions stored with each batch are where the next
 * run starts, and rows are keyed by order_id, so a batch that was applied
 * and then re-read after a crash adds nothing. A store error rolls the
 * batch back; the processor retries the same records with a growing pause
 * and never skips ahead. A record that is not an order at all is logged and
 * skipped (its position still advances), so one bad message from a foreign
 * producer cannot stop the pipeline.
 */
#include "process/processor.h"
#include "core/money.h"
#include "core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct processor {
    struct broker *b;
    struct store *s;
    const struct catalog *cat;
    struct processor_conf conf;
    int nparts;
    int64_t *committed;         /* next offset per partition, as stored */
    int64_t last_retain_ms;
    atomic_int stop;
    pthread_t thread;
};

int processor_decode(const struct broker_record *rec, const struct catalog *cat,
                     struct store_order *out, char *errstr, size_t n)
{
    int has_total;
    if (order_decode(rec->value, rec->len, &out->o, &has_total, errstr, n))
        return -1;
    if (!out->o.order_id[0])
        order_derive_id(SF_TOPIC_DEFAULT, rec->partition, rec->offset, out->o.order_id);
    if (!has_total &&
        money_mul(out->o.quantity, catalog_unit_price(cat), &out->o.total_cents))
        return sf_err(-1, errstr, n, "total out of range");
    out->log_time_ms = rec->timestamp_ms;
    const char *st = catalog_state(cat, out->o.customer_id);
    snprintf(out->state, sizeof(out->state), "%s", st ? st : "unknown");
    return 0;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Let the broker drop what retention allows, at most once a second. */
static void maybe_retain(struct processor *p)
{
    if (sf_mono_ms() - p->last_retain_ms < 1000)
        return;
    broker_retain(p->b, p->committed, p->nparts);
    p->last_retain_ms = sf_mono_ms();
}

static void *processor_main(void *arg)
{
    struct processor *p = arg;
    size_t max = p->conf.batch_max;
    struct broker_record *recs = malloc(max * sizeof(*recs));
    struct store_order *rows = malloc(max * sizeof(*rows));
    int64_t *next = malloc((size_t)p->nparts * sizeof(*next));
    char err[512];

    if (!recs || !rows || !next) {
        log_error("processor: out of memory; not processing");
        goto out;
    }
    while (!atomic_load(&p->stop)) {
        int got = broker_poll(p->b, recs, max, 200, err, sizeof(err));
        if (got < 0) {
            log_error("processor: reading the log: %s", err);
            pause_ms(1000);
            continue;
        }
        if (got == 0) {
            maybe_retain(p);
            continue;
        }
        size_t n = 0;
        for (int i = 0; i < p->nparts; i++)
            next[i] = -1;
        for (int i = 0; i < got; i++) {
            next[recs[i].partition] = recs[i].offset + 1;
            if (processor_decode(&recs[i], p->cat, &rows[n], err, sizeof(err))) {
                log_warn("processor: skipping partition %d offset %" PRId64
                         ": not an order: %s", recs[i].partition, recs[i].offset, err);
                continue;
            }
            n++;
        }
        int backoff = 100;
        size_t inserted;
        while (store_apply(p->s, SF_TOPIC_DEFAULT, rows, n, next, p->nparts,
                           &inserted, err, sizeof(err))) {
            log_error("processor: applying %zu orders failed, will retry: %s", n, err);
            if (atomic_load(&p->stop))
                goto out; /* not committed: the next run reads them again */
            pause_ms(backoff);
            backoff = backoff < 5000 ? backoff * 2 : 5000;
        }
        for (int i = 0; i < p->nparts; i++)
            if (next[i] >= 0)
                p->committed[i] = next[i];
        if (p->conf.on_commit)
            p->conf.on_commit(p->conf.opaque, inserted);
        maybe_retain(p);
    }
out:
    free(recs);
    free(rows);
    free(next);
    return NULL;
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
    p->nparts = broker_partition_count(b);
    pos = calloc((size_t)p->nparts, sizeof(*pos));
    p->committed = calloc((size_t)p->nparts, sizeof(*p->committed));
    if (!pos || !p->committed) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    if (store_load_positions(s, SF_TOPIC_DEFAULT, pos, p->nparts, errstr, n))
        goto fail;
    for (int i = 0; i < p->nparts; i++) {
        if (broker_seek(b, i, pos[i])) {
            sf_err(-1, errstr, n, "cannot seek partition %d to %" PRId64, i, pos[i]);
            goto fail;
        }
    }
    memcpy(p->committed, pos, (size_t)p->nparts * sizeof(*pos));
    p->last_retain_ms = sf_mono_ms();
    broker_retain(b, p->committed, p->nparts);
    if (pthread_create(&p->thread, NULL, processor_main, p)) {
        sf_err(-1, errstr, n, "cannot start the processor thread");
        goto fail;
    }
    free(pos);
    return p;
fail:
    free(pos);
    free(p->committed);
    free(p);
    return NULL;
}

void processor_stop(struct processor *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    free(p->committed);
    free(p);
}

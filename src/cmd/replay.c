/*
 * replay — `salesflow replay`: rebuild the serving tables from the start of
 * the embedded log.
 *
 * It takes the log's writer lock (so no server is appending or processing
 * meanwhile), empties orders, sales, sales_minute and the log positions,
 * then runs every record through the same decode and apply path as the live
 * processor, in large batches. Since rows carry the log's append time and
 * ids come from the log, the result equals what the live run produced.
 * Progress goes to stderr: a bar on a terminal, a line every 2 s otherwise.
 *
 * A rebuild must not destroy rows it cannot recreate: before it empties
 * anything, replay compares the log with the store. If some partition no
 * longer starts at offset 0 (retention removed its first segments) or
 * lacks offsets a log repair cut, or the log holds fewer records than the store has orders
 * (the sum of sales.order_count, which the processor keeps equal to the
 * rows of orders), and the store is not empty, it refuses with those
 * numbers; --force rebuilds anyway, from what the log still holds. It
 * refuses the same way when the store holds positions of another log
 * (another identity of the topic or of the embedded log's): a rebuild
 * refills from one log only, so the other log's orders would be lost. A
 * Kafka topic is checked like the embedded log (first retained offsets,
 * record count), after the scan, before the rebuild commits.
 *
 * --broker kafka://HOSTS/TOPIC rebuilds from a Kafka topic instead: every
 * partition from its first retained offset up to its end as of the start
 * (broker_scan), through the same decode and apply path. Kafka has no
 * writer lock: stop every `salesflow process` of the topic first.
 */
#include "broker/elog.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/util.h"
#include "process/processor.h"
#include "store/cassandra.h"
#include "store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_BATCH 50000
/* A --raw-store write that fails is tried again this many times (pauses
 * growing to 5 s) before replay gives up. */
#define REPLAY_RAW_RETRIES 8

/* Apply rows [0, n) with the positions next/mark. An order the store
 * refuses as data (STORE_ERR_DATA: a sum past what its column holds) does
 * not stop the rebuild: the rows are applied in halves down to that order,
 * which is left out with a line on stderr, as the processor leaves it out
 * (it quarantined it when it met it). *inserted and *left_out grow. 0, or
 * -1 with errstr. */
static int replay_apply(struct store *st, const char *topic, const struct store_order *rows,
                        size_t n, const int64_t *next, const int64_t *mark, int np,
                        size_t *inserted, int64_t *left_out, char *errstr, size_t en)
{
    size_t ins;
    if (store_apply(st, topic, rows, n, next, mark, np, &ins, errstr, en) == 0) {
        *inserted += ins;
        return 0;
    }
    if (!n || store_error_kind(st) != STORE_ERR_DATA)
        return -1;
    if (n == 1) {
        fprintf(stderr, "\nsalesflow replay: order %s cannot be stored, left out: %s\n",
                rows[0].o.order_id, errstr);
        (*left_out)++;
        return replay_apply(st, topic, rows, 0, next, mark, np, inserted, left_out, errstr,
                            en);
    }
    return replay_apply(st, topic, rows, n / 2, next, mark, np, inserted, left_out, errstr,
                        en) ||
           replay_apply(st, topic, rows + n / 2, n - n / 2, next, mark, np, inserted,
                        left_out, errstr, en);
}

/* ", N left out" for the summary line when N > 0, else "". */
static const char *left_out_note(int64_t n, char *buf, size_t size)
{
    if (n <= 0)
        return "";
    snprintf(buf, size, ", %" PRId64 " left out", n);
    return buf;
}

/* Replay from a broker that can only scan (Kafka). */
struct scan_replay {
    const struct catalog *cat;
    struct store *st;
    const char *topic;
    struct store_order *rows;
    size_t n, inserted;
    int64_t left_out;
    int64_t *next, *first;     /* first: the first offset scanned (-1: none) */
    int64_t *mark;             /* the marks of the records before next */
    int np;
    int64_t done, skipped, t0, last;
    char err[1024];
};

static int scan_flush(struct scan_replay *k)
{
    if (replay_apply(k->st, k->topic, k->rows, k->n, k->next, k->mark, k->np, &k->inserted,
                     &k->left_out, k->err, sizeof(k->err)))
        return -1;
    k->n = 0;
    for (int i = 0; i < k->np; i++)
        k->next[i] = -1;
    if (sf_mono_ms() - k->last >= 2000) {
        double secs = (double)(sf_mono_ms() - k->t0) / 1000.0;
        fprintf(stderr, "replay: %" PRId64 " records, %.0f/s\n", k->done,
                secs > 0 ? (double)k->done / secs : 0.0);
        k->last = sf_mono_ms();
    }
    return 0;
}

static int scan_record(void *opaque, const struct broker_record *r)
{
    struct scan_replay *k = opaque;
    if (r->partition < 0 || r->partition >= k->np)
        return 0; /* a partition added since the start: not in this replay */
    k->next[r->partition] = r->offset + 1;
    k->mark[r->partition] = processor_record_mark(r);
    if (k->first[r->partition] < 0)
        k->first[r->partition] = r->offset;
    if (processor_decode_topic(r, k->topic, k->cat, &k->rows[k->n], k->err,
                               sizeof(k->err)) == 0)
        k->n++;
    else
        k->skipped++;
    k->done++;
    return k->done % REPLAY_BATCH == 0 ? scan_flush(k) : 0;
}

static int store_order_count(struct store *st, int64_t *count, char *err, size_t en);
static int store_has_other_logs(struct broker *b, struct store *st, const char *key,
                                int64_t *orders);

/* After the scan of a Kafka topic: 1 (with the message on stderr) if the
 * topic no longer holds everything the store has — a partition whose first
 * retained offset is above 0 (retention, deleted records), or fewer records
 * than the store has orders — else 0. */
static int topic_lost_history(struct broker *b, const struct scan_replay *k,
                              int64_t orders)
{
    int64_t *end = calloc((size_t)(k->np > 0 ? k->np : 1), sizeof(*end));
    int cut = 0, known = end && broker_end_offsets(b, end, k->np) == 0;
    for (int i = 0; i < k->np; i++)
        cut |= k->first[i] > 0 || (k->first[i] < 0 && known && end[i] > 0);
    if (!cut && k->done >= orders) {
        free(end);
        return 0;
    }
    fprintf(stderr, "salesflow replay: refusing to rebuild: the topic %s no longer "
            "holds everything the store has.\n", broker_topic(b));
    for (int i = 0; i < k->np; i++) {
        if (k->first[i] > 0)
            fprintf(stderr, "  partition %d starts at offset %" PRId64 " (offsets 0..%"
                    PRId64 " were removed)\n", i, k->first[i], k->first[i] - 1);
        else if (k->first[i] < 0 && known && end[i] > 0)
            fprintf(stderr, "  partition %d holds none of offsets 0..%" PRId64
                    " (removed)\n", i, end[i] - 1);
    }
    fprintf(stderr, "  the topic holds %" PRId64 " records; the store has %" PRId64
            " orders\n"
            "A replay empties the store and refills it from the topic, so it would "
            "keep at most %" PRId64 " orders. The store is left as it is. To "
            "rebuild from what the topic holds anyway, run replay again with "
            "--force.\n", k->done, orders, k->done < orders ? k->done : orders);
    free(end);
    return 1;
}

/* The end of a rebuild: commit it, saying so first on a terminal (building
 * the index of a large table takes a moment). */
static int replay_commit(struct store *st, char *err, size_t en)
{
    if (isatty(2))
        fprintf(stderr, "replay: committing\n");
    return store_rebuild_end(st, 1, err, en);
}

static int replay_scan(struct broker *b, struct store *st, const struct catalog *cat,
                       struct store_order *rows, const char *store_uri, int force)
{
    char key[SF_POSITION_KEY_MAX + 1];
    int64_t orders = 0;
    struct scan_replay k = {.cat = cat, .st = st, .topic = key, .rows = rows,
                            .np = broker_partition_count(b), .t0 = sf_mono_ms()};
    k.last = k.t0;
    if (broker_position_key(b, key, sizeof(key), NULL, k.err, sizeof(k.err))) {
        fprintf(stderr, "salesflow replay: %s\n", k.err);
        return 1;
    }
    if (!force && store_has_other_logs(b, st, key, &orders))
        return 1;
    size_t np = (size_t)(k.np > 0 ? k.np : 1);
    k.next = malloc(3 * np * sizeof(*k.next));
    k.first = k.next ? k.next + np : NULL;
    k.mark = k.next ? k.next + 2 * np : NULL;
    for (int i = 0; k.next && i < k.np; i++)
        k.next[i] = k.first[i] = -1;
    if (!k.next || !k.first || store_rebuild_begin(st, k.topic, k.err, sizeof(k.err))) {
        fprintf(stderr, "salesflow replay: %s\n", k.next ? k.err : "out of memory");
        free(k.next);
        return 1;
    }
    /* The topic must cover the store, as the embedded log must (the check
     * comes after the scan, which is the only count Kafka gives; the
     * rebuild is still open and is rolled back). */
    int refused = 0;
    if (broker_scan(b, 0, scan_record, &k, k.err, sizeof(k.err)) || scan_flush(&k) ||
        (!force && orders > 0 && (refused = topic_lost_history(b, &k, orders))) ||
        replay_commit(st, k.err, sizeof(k.err))) {
        if (!refused)
            fprintf(stderr, "salesflow replay: %s\n", k.err);
        store_rebuild_end(st, 0, k.err, sizeof(k.err));
        free(k.next);
        return 1;
    }
    double secs = (double)(sf_mono_ms() - k.t0) / 1000.0;
    char shown[1024], note[64];   /* never print a password */
    printf("replayed %" PRId64 " records of %s into %s: %zu orders, %" PRId64
           " duplicates, %" PRId64 " not orders%s, in %.2f s (%.0f records/s)\n", k.done,
           broker_topic(b), store_uri_redact(store_uri, shown, sizeof(shown)), k.inserted,
           k.done - k.skipped - (int64_t)k.inserted - k.left_out, k.skipped,
           left_out_note(k.left_out, note, sizeof(note)), secs,
           secs > 0 ? (double)k.done / secs : 0.0);
    free(k.next);
    return 0;
}

/* Orders the store holds, as sales counts them (one cheap query). */
static int store_order_count(struct store *st, int64_t *count, char *err, size_t en)
{
    struct sales_row *rows = NULL;
    size_t n = 0;
    if (store_sales(st, &rows, &n, err, en))
        return -1;
    *count = 0;
    for (size_t i = 0; i < n; i++)
        *count += rows[i].order_count;
    free(rows);
    return 0;
}

/* Refuse (1, with the message on stderr) a rebuild that would leave the
 * store with less than it has: the log lost its start, or holds fewer
 * records than the store has orders. 0: the log covers the store. */
static int log_lost_history(struct store *st, const struct elog_part_info *pi, int np,
                            int64_t total)
{
    char err[1024];
    int64_t orders;
    int cut = 0;
    if (store_order_count(st, &orders, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: counting the store's orders: %s\n", err);
        return 1;
    }
    for (int i = 0; i < np; i++)
        cut |= pi[i].start > 0 || pi[i].records < pi[i].end - pi[i].start;
    if (orders == 0 || (!cut && total >= orders))
        return 0;   /* an empty store loses nothing */
    fprintf(stderr, "salesflow replay: refusing to rebuild: the log no longer holds "
            "everything the store has.\n");
    for (int i = 0; i < np; i++) {
        if (pi[i].start > 0)
            fprintf(stderr, "  partition %d starts at offset %" PRId64 " (offsets 0.."
                    "%" PRId64 " were removed by retention or cut by a repair)\n", i,
                    pi[i].start, pi[i].start - 1);
        if (pi[i].records < pi[i].end - pi[i].start)
            fprintf(stderr, "  partition %d lacks %" PRId64 " of offsets %" PRId64 "..%"
                    PRId64 " (cut by log repair)\n", i,
                    pi[i].end - pi[i].start - pi[i].records, pi[i].start, pi[i].end - 1);
    }
    fprintf(stderr, "  the log holds %" PRId64 " records; the store has %" PRId64
            " orders\n"
            "A replay empties the store and refills it from the log, so it would "
            "keep at most %" PRId64 " orders. The store is left as it is. To "
            "rebuild from what the log holds anyway, run replay again with "
            "--force.\n", total, orders, total < orders ? total : orders);
    return 1;
}

/* Positions the store holds of topic under any key but key (every
 * identity of it, and the bare name), added to *count. */
static int count_other_positions(struct store *st, const char *topic, const char *key,
                                 int64_t *count, char *err, size_t en)
{
    struct store_position *all = NULL, *mine = NULL;
    size_t nall = 0, nmine = 0;
    int rc = -1;
    if (store_positions(st, topic, &all, &nall, err, en) ||
        store_positions(st, key, &mine, &nmine, err, en))
        goto cleanup;
    *count += (int64_t)nall - (int64_t)(strcmp(topic, key) ? nmine : nall);
    rc = 0;
cleanup:
    free(all);
    free(mine);
    return rc;
}

/* Refuse (1, with the message on stderr) a rebuild of b into a store that
 * holds orders of another log: positions under another identity of b's
 * topic or of the embedded log's topic (a log made anew while the store was
 * kept; an embedded log and a Kafka topic feeding one store). The rebuild
 * empties every order, but refills only b's. *orders: the store's orders. */
static int store_has_other_logs(struct broker *b, struct store *st, const char *key,
                                int64_t *orders)
{
    char err[1024];
    int legacy = 0;
    int64_t other = 0;
    const char *topic = broker_topic(b);
    if (store_order_count(st, orders, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: counting the store's orders: %s\n", err);
        return 1;
    }
    if (*orders == 0)
        return 0;   /* an empty store loses nothing */
    if (b->ops->identity)
        b->ops->identity(b, &legacy);
    /* Positions a salesflow from before identities stored under the bare
     * topic name may be this log's: take them over as run and process do. */
    if ((legacy && store_adopt_positions(st, topic, key, err, sizeof(err)) < 0) ||
        count_other_positions(st, topic, key, &other, err, sizeof(err)) ||
        (strcmp(topic, SF_TOPIC_DEFAULT) &&
         count_other_positions(st, SF_TOPIC_DEFAULT, key, &other, err, sizeof(err)))) {
        fprintf(stderr, "salesflow replay: reading the store's positions: %s\n", err);
        return 1;
    }
    if (other == 0)
        return 0;
    fprintf(stderr, "salesflow replay: refusing to rebuild: the store has %" PRId64
            " orders and holds %" PRId64 " partition positions of another log than %s "
            "(another identity: a log made anew while the store was kept, or an "
            "embedded log and a Kafka topic feeding the same store).\n"
            "A replay empties the store and refills it from %s only, so the orders "
            "that came from the other log would be lost. The store is left as it is. "
            "To rebuild from this log anyway, run replay again with --force.\n",
            *orders, other, key, key);
    return 1;
}

/* The embedded log's replay reads and decodes the next batch on a thread
 * of its own while the store applies the one before: two batches in turn,
 * each filled by the reader and emptied by the applier. Decoding is about a
 * sixth of a replay's CPU; on a machine with a core to spare it then costs
 * no time. */
struct feed_batch {
    struct store_order *rows;
    size_t n;
    int got;                    /* records read, orders or not */
    int64_t skipped;            /* of them, not orders */
    int64_t *next, *mark;       /* per partition: -1 / 0 when untouched */
    int full;                   /* filled, not yet applied */
};

struct feed {
    struct broker *b;
    const struct catalog *cat;
    const char *key;
    int np;
    struct broker_record *recs;
    struct feed_batch batch[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;                   /* the reader has stopped (end, error or stop) */
    int stop;                   /* the applier asks it to */
    int failed;                 /* the reader stopped on err */
    char err[1024];
};

/* Read and decode one batch into fb: the records read (0 at the end), or
 * -1 with f->err. */
static int feed_fill(struct feed *f, struct feed_batch *fb)
{
    struct broker_record *recs = f->recs;
    int got = broker_poll(f->b, recs, REPLAY_BATCH, 0, f->err, sizeof(f->err));
    if (got <= 0)
        return got;
    fb->n = 0;
    fb->got = got;
    fb->skipped = 0;
    for (int i = 0; i < f->np; i++)
        fb->next[i] = -1, fb->mark[i] = 0;
    for (int i = got; i-- > 0;)     /* the marks of each partition's last */
        if (!fb->mark[recs[i].partition])
            fb->mark[recs[i].partition] = processor_record_mark(&recs[i]);
    for (int i = 0; i < got; i++) {
        fb->next[recs[i].partition] = recs[i].offset + 1;
        char why[256];
        if (processor_decode_topic(&recs[i], f->key, f->cat, &fb->rows[fb->n], why,
                                   sizeof(why)) == 0)
            fb->n++;
        else
            fb->skipped++;
    }
    return got;
}

static void *feed_reader(void *arg)
{
    struct feed *f = arg;
    for (int k = 0;; k ^= 1) {
        struct feed_batch *fb = &f->batch[k];
        pthread_mutex_lock(&f->mu);
        while (fb->full && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        int got = stop ? 0 : feed_fill(f, fb);
        pthread_mutex_lock(&f->mu);
        if (got > 0)
            fb->full = 1;
        else
            f->done = 1, f->failed = got < 0;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (got <= 0)
            return NULL;
    }
}

/* The next filled batch, in turn k (NULL: the reader is done, f->failed
 * saying whether on an error). */
static struct feed_batch *feed_take(struct feed *f, int k)
{
    struct feed_batch *fb = &f->batch[k];
    pthread_mutex_lock(&f->mu);
    while (!fb->full && !f->done)
        pthread_cond_wait(&f->cv, &f->mu);
    int full = fb->full;
    pthread_mutex_unlock(&f->mu);
    return full ? fb : NULL;
}

static void feed_give_back(struct feed *f, struct feed_batch *fb)
{
    pthread_mutex_lock(&f->mu);
    fb->full = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int feed_init(struct feed *f, struct broker *b, const struct catalog *cat,
                     const char *key, int np)
{
    memset(f, 0, sizeof(*f));
    f->b = b, f->cat = cat, f->key = key, f->np = np > 0 ? np : 1;
    f->recs = malloc(REPLAY_BATCH * sizeof(*f->recs));
    int ok = f->recs != NULL;
    for (int k = 0; k < 2; k++) {
        struct feed_batch *fb = &f->batch[k];
        fb->rows = malloc(REPLAY_BATCH * sizeof(*fb->rows));
        fb->next = malloc(2 * (size_t)f->np * sizeof(*fb->next));
        fb->mark = fb->next ? fb->next + f->np : NULL;
        ok = ok && fb->rows && fb->next;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return ok ? 0 : -1;
}

static void feed_free(struct feed *f)
{
    free(f->recs);
    for (int k = 0; k < 2; k++) {
        free(f->batch[k].rows);
        free(f->batch[k].next);
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* Replay the embedded log b (np partitions, total records) into st:
 * rebuild_begin() has been called; this ends the rebuild either way
 * (committed on success). 0, or 1 with the message on stderr. */
static int replay_log(struct broker *b, struct store *st, const struct catalog *cat,
                      const char *key, int np, int64_t total, const char *store_uri)
{
    char err[1024];
    struct feed f;
    pthread_t reader;
    int64_t done = 0, skipped = 0, left_out = 0;
    size_t inserted = 0;
    int status = 1, tty = isatty(2), started = 0;
    int64_t t0 = sf_mono_ms(), last = t0;
    if (feed_init(&f, b, cat, key, np)) {
        fprintf(stderr, "salesflow replay: out of memory\n");
        goto out;
    }
    if (pthread_create(&reader, NULL, feed_reader, &f) != 0) {
        fprintf(stderr, "salesflow replay: cannot start the log reader\n");
        goto out;
    }
    started = 1;
    struct feed_batch *fb;
    for (int k = 0; (fb = feed_take(&f, k)); k ^= 1) {
        if (replay_apply(st, key, fb->rows, fb->n, fb->next, fb->mark, f.np, &inserted,
                         &left_out, err, sizeof(err))) {
            fprintf(stderr, "\nsalesflow replay: %s\n", err);
            goto out;
        }
        done += fb->got;
        skipped += fb->skipped;
        feed_give_back(&f, fb);
        if (tty || sf_mono_ms() - last >= 2000) {
            sf_progress("replay", "records", tty, done, total, t0, 0);
            last = sf_mono_ms();
        }
    }
    if (f.failed) {
        fprintf(stderr, "\nsalesflow replay: %s\n", f.err);
        goto out;
    }
    sf_progress("replay", "records", tty, done, total, t0, 1);
    if (replay_commit(st, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    char shown[1024], note[64];   /* never print a password */
    printf("replayed %" PRId64 " records into %s: %zu orders, %" PRId64 " duplicates, %"
           PRId64 " not orders%s, in %.2f s (%.0f records/s)\n", done,
           store_uri_redact(store_uri, shown, sizeof(shown)), inserted,
           done - skipped - (int64_t)inserted - left_out, skipped,
           left_out_note(left_out, note, sizeof(note)), secs,
           secs > 0 ? (double)done / secs : 0.0);
    status = 0;
out:
    if (started) {
        pthread_mutex_lock(&f.mu);
        f.stop = 1;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        pthread_join(reader, NULL);
    }
    if (status)
        store_rebuild_end(st, 0, err, sizeof(err));
    feed_free(&f);
    return status;
}

/* cmd_replay's work once its arguments are read: 0, or 1 (message on
 * stderr). */
static int replay_run(const char *data, const char *store_uri, const char *customers,
                      const char *sources, const char *broker_arg, const char *raw_store,
                      const char *raw_password, int64_t unit_price, int force,
                      struct broker_conf *bc)
{
    char err[1024], uri[4200], suri[4200], key[SF_POSITION_KEY_MAX + 1];
    struct catalog *cat = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct elog_part_info *pi = NULL;
    int np = 0, status = 1;
    int64_t total = 0, orders;

    snprintf(uri, sizeof(uri), "file:%s/log", data);
    if (broker_arg)
        snprintf(uri, sizeof(uri), "%s", broker_arg);
    if (!store_uri) {
        snprintf(suri, sizeof(suri), "sqlite:%s/sales.db", data);
        store_uri = suri;
    }
    store_expect_rebuild();
    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
        (sources && catalog_set_sources(cat, sources, err, sizeof(err))) ||
        !(b = broker_open(uri, bc, err, sizeof(err))) ||
        (strncmp(uri, "file:", 5) == 0 &&
         (elog_describe(b, &pi, &np, err, sizeof(err)) ||
          broker_position_key(b, key, sizeof(key), NULL, err, sizeof(err)))) ||
        !(st = store_open(store_uri, err, sizeof(err)))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    if (raw_store && !(st = cassandra_wrap(st, raw_store, raw_password,
                                           REPLAY_RAW_RETRIES, err, sizeof(err)))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        status = 2;
        goto out;
    }
    if (strncmp(uri, "file:", 5) != 0) {
        struct store_order *rows = malloc(REPLAY_BATCH * sizeof(*rows));
        if (!rows)
            fprintf(stderr, "salesflow replay: out of memory\n");
        else
            status = replay_scan(b, st, cat, rows, store_uri, force);
        free(rows);
        goto out;
    }
    for (int i = 0; i < np; i++) {
        total += pi[i].records;
        broker_seek(b, i, pi[i].start);
    }
    if (!force && (store_has_other_logs(b, st, key, &orders) ||
                   log_lost_history(st, pi, np, total)))
        goto out;
    if (store_rebuild_begin(st, key, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    status = replay_log(b, st, cat, key, np, total, store_uri);
out:
    elog_free_info(pi, np);
    store_close(st);
    broker_close(b);
    catalog_destroy(cat);
    return status;
}

/* --kafka-opt key=value, repeatable. */
int cmd_replay(struct args *a, int argc, char **argv)
{
    const char *data = NULL, *store_uri = NULL;
    const char *customers = NULL, *broker_arg = NULL, *raw_store = NULL, *sources = NULL;
    int64_t unit_price = 0;
    int force = 0;
    struct broker_conf bc = {.role = BROKER_ROLE_CONSUME};
    const struct opt opts[] = {
        {"broker", "URI", "replay from this broker instead of DIR/log, e.g. "
         "kafka://127.0.0.1:9092/Order (stop every `salesflow process` first)",
         opt_str, &broker_arg},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"data", "DIR", "data directory holding log/ (default {" SF_DEFAULT_DATA "})",
         opt_str, &data},
        {"store", "URI", "store to rebuild (default sqlite:DIR/sales.db)", opt_str,
         &store_uri},
        {"raw-store", "URI", "also write every raw order again to this Cassandra "
         "(cassandra://…/KEYSPACE, as for run and process)", opt_raw_store_uri,
         &raw_store},
        {"customers", "FILE", "customers CSV (default " SF_DEFAULT_CUSTOMERS ", else "
         "the built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price for messages that carry no total (default {"
         SF_DEFAULT_UNIT_PRICE "})", opt_money, &unit_price},
        {"sources", "LIST", "known sources, comma-separated, as the log was written with "
         "(default \"{" SF_DEFAULT_SOURCES "}\")", opt_sources, &sources},
        {"force", NULL, "rebuild even when the log no longer holds everything the "
         "store has (its start removed by retention or a repair, or the store holds "
         "orders of another log): the store keeps only what the log holds",
         opt_switch, &force},
    };
    int rc = args_parse(a, "replay", "Rebuild the serving tables from the start of the "
                        "log. Stop the server that uses the log first.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    return replay_run(data, store_uri, customers, sources, broker_arg, raw_store,
                      a->cassandra_password, unit_price, force,
                      &bc);
}

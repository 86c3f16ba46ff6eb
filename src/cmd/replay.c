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
 * numbers; --force rebuilds anyway, from what the log still holds.
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
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_BATCH 50000

/* Replay from a broker that can only scan (Kafka). */
struct scan_replay {
    const struct catalog *cat;
    struct store *st;
    const char *topic;
    struct store_order *rows;
    size_t n, inserted;
    int64_t *next;
    int np;
    int64_t done, skipped, t0, last;
    char err[1024];
};

static int scan_flush(struct scan_replay *k)
{
    size_t ins;
    if (store_apply(k->st, k->topic, k->rows, k->n, k->next, k->np, &ins, k->err,
                    sizeof(k->err)))
        return -1;
    k->inserted += ins;
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
    if (processor_decode_topic(r, k->topic, k->cat, &k->rows[k->n], k->err,
                               sizeof(k->err)) == 0)
        k->n++;
    else
        k->skipped++;
    k->done++;
    return k->done % REPLAY_BATCH == 0 ? scan_flush(k) : 0;
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
                       struct store_order *rows, const char *store_uri)
{
    char key[SF_POSITION_KEY_MAX + 1];
    struct scan_replay k = {.cat = cat, .st = st, .topic = key, .rows = rows,
                            .np = broker_partition_count(b), .t0 = sf_mono_ms()};
    k.last = k.t0;
    if (broker_position_key(b, key, sizeof(key), NULL, k.err, sizeof(k.err))) {
        fprintf(stderr, "salesflow replay: %s\n", k.err);
        return 1;
    }
    k.next = malloc((size_t)(k.np > 0 ? k.np : 1) * sizeof(*k.next));
    for (int i = 0; k.next && i < k.np; i++)
        k.next[i] = -1;
    if (!k.next || store_rebuild_begin(st, k.topic, k.err, sizeof(k.err))) {
        fprintf(stderr, "salesflow replay: %s\n", k.next ? k.err : "out of memory");
        free(k.next);
        return 1;
    }
    if (broker_scan(b, 0, scan_record, &k, k.err, sizeof(k.err)) || scan_flush(&k) ||
        replay_commit(st, k.err, sizeof(k.err))) {
        fprintf(stderr, "salesflow replay: %s\n", k.err);
        store_rebuild_end(st, 0, k.err, sizeof(k.err));
        free(k.next);
        return 1;
    }
    double secs = (double)(sf_mono_ms() - k.t0) / 1000.0;
    char shown[1024];   /* never print a password */
    printf("replayed %" PRId64 " records of %s into %s: %zu orders, %" PRId64
           " duplicates, %" PRId64 " not orders, in %.2f s (%.0f records/s)\n", k.done,
           broker_topic(b), store_uri_redact(store_uri, shown, sizeof(shown)), k.inserted, k.done - k.skipped - (int64_t)k.inserted,
           k.skipped, secs, secs > 0 ? (double)k.done / secs : 0.0);
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

/* --kafka-opt key=value, repeatable. */
int cmd_replay(int argc, char **argv)
{
    const char *data = NULL, *store_uri = NULL;
    const char *customers = NULL, *broker_arg = NULL;
    int64_t unit_price = SF_DEFAULT_UNIT_PRICE_CENTS;
    int force = 0;
    struct broker_conf bc = {.role = BROKER_ROLE_CONSUME};
    const struct opt opts[] = {
        {"broker", "URI", "replay from this broker instead of DIR/log, e.g. "
         "kafka://127.0.0.1:9092/Order (stop every `salesflow process` first)",
         opt_str, &broker_arg},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"data", "DIR", "data directory holding log/ (default ./salesflow-data)",
         opt_str, &data},
        {"store", "URI", "store to rebuild (default sqlite:DIR/sales.db)", opt_str,
         &store_uri},
        {"customers", "FILE", "customers CSV (default data/customers.csv, else the "
         "built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price for messages that carry no total (default "
         "300.00)", opt_money, &unit_price},
        {"force", NULL, "rebuild even when the log no longer holds everything the "
         "store has (its start removed by retention or a repair): the store keeps "
         "only what the log holds", opt_switch, &force},
    };
    int rc = args_parse("replay", "Rebuild the serving tables from the start of the "
                        "log. Stop the server that uses the log first.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!data)
        data = "./salesflow-data";
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    char err[1024], uri[4200], suri[4200], key[SF_POSITION_KEY_MAX + 1];
    struct catalog *cat = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct broker_record *recs = malloc(REPLAY_BATCH * sizeof(*recs));
    struct store_order *rows = malloc(REPLAY_BATCH * sizeof(*rows));
    struct elog_part_info *pi = NULL;
    int np = 0, status = 1, rebuilding = 0;
    int64_t *next = NULL, total = 0, done = 0, skipped = 0;
    size_t inserted = 0;

    snprintf(uri, sizeof(uri), "file:%s/log", data);
    if (broker_arg)
        snprintf(uri, sizeof(uri), "%s", broker_arg);
    if (!store_uri) {
        snprintf(suri, sizeof(suri), "sqlite:%s/sales.db", data);
        store_uri = suri;
    }
    if (!recs || !rows) {
        fprintf(stderr, "salesflow replay: out of memory\n");
        goto out;
    }
    if (strncmp(uri, "file:", 5) != 0) {
        if (!(cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
            !(b = broker_open(uri, &bc, err, sizeof(err))) ||
            !(st = store_open(store_uri, err, sizeof(err)))) {
            fprintf(stderr, "salesflow replay: %s\n", err);
            goto out;
        }
        status = replay_scan(b, st, cat, rows, store_uri);
        goto out;
    }
    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
        !(b = broker_open(uri, &bc, err, sizeof(err))) ||
        elog_describe(b, &pi, &np, err, sizeof(err)) ||
        broker_position_key(b, key, sizeof(key), NULL, err, sizeof(err)) ||
        !(st = store_open(store_uri, err, sizeof(err)))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    next = malloc((size_t)np * sizeof(*next));
    for (int i = 0; next && i < np; i++) {
        total += pi[i].records;
        broker_seek(b, i, pi[i].start);
    }
    if (next && !force && log_lost_history(st, pi, np, total))
        goto out;
    if (!next || store_rebuild_begin(st, key, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: %s\n", next ? err : "out of memory");
        goto out;
    }
    rebuilding = 1;
    int tty = isatty(2);
    int64_t t0 = sf_mono_ms(), last = t0;
    for (;;) {
        int got = broker_poll(b, recs, REPLAY_BATCH, 0, err, sizeof(err));
        if (got < 0) {
            fprintf(stderr, "\nsalesflow replay: %s\n", err);
            goto out;
        }
        if (got == 0)
            break;
        size_t n = 0, ins;
        for (int i = 0; i < np; i++)
            next[i] = -1;
        for (int i = 0; i < got; i++) {
            next[recs[i].partition] = recs[i].offset + 1;
            if (processor_decode_topic(&recs[i], key, cat, &rows[n], err, sizeof(err)) == 0)
                n++;
            else
                skipped++;
        }
        if (store_apply(st, key, rows, n, next, np, &ins, err, sizeof(err))) {
            fprintf(stderr, "\nsalesflow replay: %s\n", err);
            goto out;
        }
        inserted += ins;
        done += got;
        if (tty || sf_mono_ms() - last >= 2000) {
            sf_progress("replay", "records", tty, done, total, t0, 0);
            last = sf_mono_ms();
        }
    }
    sf_progress("replay", "records", tty, done, total, t0, 1);
    rebuilding = 0;
    if (replay_commit(st, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    char shown[1024];   /* never print a password */
    printf("replayed %" PRId64 " records into %s: %zu orders, %" PRId64 " duplicates, %"
           PRId64 " not orders, in %.2f s (%.0f records/s)\n", done,
           store_uri_redact(store_uri, shown, sizeof(shown)), inserted,
           done - skipped - (int64_t)inserted, skipped, secs,
           secs > 0 ? (double)done / secs : 0.0);
    status = 0;
out:
    if (rebuilding)
        store_rebuild_end(st, 0, err, sizeof(err));
    free(recs);
    free(rows);
    free(next);
    elog_free_info(pi, np);
    store_close(st);
    broker_close(b);
    catalog_destroy(cat);
    return status;
}

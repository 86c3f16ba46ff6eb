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

static void progress(int tty, int64_t done, int64_t total, int64_t t0, int final)
{
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (tty) {
        char bar[41];
        int fill = pct * 40 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, ' ', (size_t)(40 - fill));
        bar[40] = '\0';
        fprintf(stderr, "\rreplay [%s] %3d%% %" PRId64 "/%" PRId64 " records, %.0f/s",
                bar, pct, done, total, rate);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "replay: %d%% %" PRId64 "/%" PRId64 " records, %.0f/s\n", pct,
                done, total, rate);
    }
}

int cmd_replay(int argc, char **argv)
{
    const char *data = NULL, *store_uri = NULL;
    const char *customers = NULL;
    int64_t unit_price = SF_DEFAULT_UNIT_PRICE_CENTS;
    const struct opt opts[] = {
        {"data", "DIR", "data directory holding log/ (default ./salesflow-data)",
         opt_str, &data},
        {"store", "URI", "store to rebuild (default sqlite:DIR/sales.db)", opt_str,
         &store_uri},
        {"customers", "FILE", "customers CSV (default data/customers.csv, else the "
         "built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price for messages that carry no total (default "
         "300.00)", opt_money, &unit_price},
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

    char err[1024], uri[4200], suri[4200];
    struct catalog *cat = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct broker_record *recs = malloc(REPLAY_BATCH * sizeof(*recs));
    struct store_order *rows = malloc(REPLAY_BATCH * sizeof(*rows));
    struct elog_part_info *pi = NULL;
    int np = 0, status = 1;
    int64_t *next = NULL, total = 0, done = 0, skipped = 0;
    size_t inserted = 0;

    snprintf(uri, sizeof(uri), "file:%s/log", data);
    if (!store_uri) {
        snprintf(suri, sizeof(suri), "sqlite:%s/sales.db", data);
        store_uri = suri;
    }
    struct broker_conf bc = {0};
    if (!recs || !rows) {
        fprintf(stderr, "salesflow replay: out of memory\n");
        goto out;
    }
    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
        !(b = broker_open(uri, &bc, err, sizeof(err))) ||
        elog_describe(b, &pi, &np, err, sizeof(err)) ||
        !(st = store_open(store_uri, err, sizeof(err)))) {
        fprintf(stderr, "salesflow replay: %s\n", err);
        goto out;
    }
    next = malloc((size_t)np * sizeof(*next));
    for (int i = 0; next && i < np; i++) {
        total += pi[i].end - pi[i].start;
        broker_seek(b, i, pi[i].start);
    }
    if (!next || store_reset(st, SF_TOPIC_DEFAULT, err, sizeof(err))) {
        fprintf(stderr, "salesflow replay: %s\n", next ? err : "out of memory");
        goto out;
    }
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
            if (processor_decode(&recs[i], cat, &rows[n], err, sizeof(err)) == 0)
                n++;
            else
                skipped++;
        }
        if (store_apply(st, SF_TOPIC_DEFAULT, rows, n, next, np, &ins, err, sizeof(err))) {
            fprintf(stderr, "\nsalesflow replay: %s\n", err);
            goto out;
        }
        inserted += ins;
        done += got;
        if (tty || sf_mono_ms() - last >= 2000) {
            progress(tty, done, total, t0, 0);
            last = sf_mono_ms();
        }
    }
    progress(tty, done, total, t0, 1);
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    printf("replayed %" PRId64 " records into %s: %zu orders, %" PRId64 " duplicates, %"
           PRId64 " not orders, in %.2f s (%.0f records/s)\n", done, store_uri, inserted,
           done - skipped - (int64_t)inserted, skipped, secs,
           secs > 0 ? (double)done / secs : 0.0);
    status = 0;
out:
    free(recs);
    free(rows);
    free(next);
    elog_free_info(pi, np);
    store_close(st);
    broker_close(b);
    catalog_destroy(cat);
    return status;
}

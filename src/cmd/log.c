/*
 * log — `salesflow log stat|tail|dump|repair`: inspect the embedded log.
 *
 * stat, tail and dump open the log read-only (no lock, nothing repaired),
 * so they work beside a running server; --follow keeps reading what the
 * server appends. Records print as one JSON object per line, the way
 * `kcat -C -J` does: {"topic","partition","offset","ts","value"}.
 * repair takes the writer's lock, checks every batch, says what cutting at
 * the first damage loses, and with --yes cuts there; new records then
 * continue after the highest offset the partition had reached or a store
 * recorded (--store, else DIR/sales.db), never reusing one (elog_repair).
 */
#include "broker/elog.h"
#include "core/args.h"
#include "core/util.h"
#include "store/store.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int open_log(const char *data, struct broker **b, char *err, size_t n)
{
    char uri[4200];
    struct broker_conf bc = {.readonly = 1};
    snprintf(uri, sizeof(uri), "file:%s/log", data);
    *b = broker_open(uri, &bc, err, n);
    return *b ? 0 : -1;
}

static int stat_log(struct broker *b, const char *data, const char *store_uri)
{
    struct elog_part_info *pi;
    int np;
    char err[1024], ts[32], sbuf[4200];
    if (elog_describe(b, &pi, &np, err, sizeof(err))) {
        fprintf(stderr, "salesflow log stat: %s\n", err);
        return 1;
    }
    int64_t *pos = calloc((size_t)np, sizeof(*pos));
    struct store *st = NULL;
    if (!store_uri) {
        snprintf(sbuf, sizeof(sbuf), "%s/sales.db", data);
        if (access(sbuf, R_OK) == 0) {
            snprintf(sbuf, sizeof(sbuf), "sqlite:%s/sales.db", data);
            store_uri = sbuf;
        }
    }
    /* The positions of this log, by its identity: another log (or Kafka)
     * writing the same store has its own. */
    char key[SF_POSITION_KEY_MAX + 1];
    if (store_uri && pos) {
        st = store_open(store_uri, err, sizeof(err));
        if (!st || broker_position_key(b, key, sizeof(key), NULL, err, sizeof(err)) ||
            store_load_positions(st, key, pos, NULL, np, err, sizeof(err))) {
            fprintf(stderr, "salesflow log stat: consumer positions: %s\n", err);
            store_close(st);
            st = NULL;
        }
    }
    printf("log %s/log: topic %s, %d partitions\n", data, SF_TOPIC_DEFAULT, np);
    int64_t total = 0, lag = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < np; i++) {
        printf("partition %d: offsets %" PRId64 "..%" PRId64 " (%" PRId64 " records), "
               "%zu segment%s, %" PRIu64 " bytes", i, pi[i].start, pi[i].end,
               pi[i].records, pi[i].nsegs, pi[i].nsegs == 1 ? "" : "s",
               pi[i].bytes);
        if (st)
            printf(", processed to %" PRId64 " (lag %" PRId64 ")", pos[i],
                   pi[i].end - pos[i]);
        printf("\n");
        for (size_t k = 0; k < pi[i].nsegs; k++) {
            struct elog_seg_info *s = &pi[i].segs[k];
            printf("  %s  offsets %" PRId64 "..%" PRId64 "  %" PRIu64 " bytes  last "
                   "append %s\n", s->path, s->base, s->end, s->bytes,
                   s->last_time_ms ? sf_format_time(s->last_time_ms, ts) : "-");
        }
        total += pi[i].records;
        bytes += pi[i].bytes;
        lag += st ? pi[i].end - pos[i] : 0;
    }
    printf("total: %" PRId64 " records, %" PRIu64 " bytes", total, bytes);
    if (st)
        printf(", %" PRId64 " not yet processed", lag);
    printf("\n");
    store_close(st);
    free(pos);
    elog_free_info(pi, np);
    return 0;
}

static void print_record(const struct broker_record *r)
{
    char ts[32];
    printf("{\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64 ",\"ts\":\"%s\","
           "\"value\":%.*s}\n", SF_TOPIC_DEFAULT, r->partition, r->offset,
           sf_format_time(r->timestamp_ms, ts), (int)r->len, r->value);
}

/* Print records from the consumer positions already set; with follow, keep
 * waiting for more until interrupted. */
static int print_from(struct broker *b, int partition, int follow)
{
    struct broker_record recs[1024];
    char err[1024];
    for (;;) {
        int got = broker_poll(b, recs, SF_ARRAY_LEN(recs), follow ? 500 : 0,
                              err, sizeof(err));
        if (got < 0) {
            fprintf(stderr, "salesflow log: %s\n", err);
            return 1;
        }
        for (int i = 0; i < got; i++)
            if (partition < 0 || recs[i].partition == partition)
                print_record(&recs[i]);
        fflush(stdout);
        if (stop || (got == 0 && !follow))
            return 0;
    }
}

/* Partitions whose store positions repair reads (the log's own limit). */
#define REPAIR_MAX_PARTS 1024

/* The positions a store recorded for the log, so that repair numbers new
 * records after them: --store, else DATA/sales.db if it exists, else none
 * (said on stdout: then only the log's own remains tell how far it went). */
static int repair_positions(const char *data, const char *store_uri, int64_t *passed,
                            char *err, size_t en)
{
    char sbuf[4200], shown[1024];
    if (!store_uri) {
        snprintf(sbuf, sizeof(sbuf), "%s/sales.db", data);
        if (access(sbuf, F_OK) != 0) {
            printf("no store given (--store) and no %s: numbering new records after "
                   "what the log itself shows\n", sbuf);
            return 0;
        }
        snprintf(sbuf, sizeof(sbuf), "sqlite:%s/sales.db", data);
        store_uri = sbuf;
    }
    /* The log's own positions (keyed by its identity) and any a store kept
     * from before identities under the bare topic name: the higher counts. */
    char key[SF_POSITION_KEY_MAX + 1], ldir[4200];
    int64_t legacy[REPAIR_MAX_PARTS];
    snprintf(ldir, sizeof(ldir), "%s/log", data);
    if (elog_dir_position_key(ldir, key, sizeof(key), err, en))
        return -1;
    struct store *st = store_open(store_uri, err, en);
    if (!st)
        return -1;
    int rc = store_load_positions(st, key, passed, NULL, REPAIR_MAX_PARTS, err, en);
    if (rc == 0 && strcmp(key, SF_TOPIC_DEFAULT) != 0 &&
        (rc = store_load_positions(st, SF_TOPIC_DEFAULT, legacy, NULL, REPAIR_MAX_PARTS, err,
                                   en)) == 0)
        for (int i = 0; i < REPAIR_MAX_PARTS; i++)
            if (legacy[i] > passed[i])
                passed[i] = legacy[i];
    store_close(st);
    if (rc == 0)
        printf("store %s: read its log positions\n",
               store_uri_redact(store_uri, shown, sizeof(shown)));
    return rc;
}

int cmd_log(struct args *a, int argc, char **argv)
{
    const char *data = NULL, *store_uri = NULL, *pos[1];
    int64_t partition = -1, from = 0, lines = 0;
    int follow = 0, yes = 0;
    size_t npos = 0;
    const struct opt opts[] = {
        {"data", "DIR", "data directory holding log/ (default {" SF_DEFAULT_DATA "})",
         opt_str, &data},
        {"partition", "N", "only this partition (tail, dump)", opt_int64, &partition},
        {"from", "OFFSET", "dump: start at this offset in every partition", opt_int64, &from},
        {"lines", "N", "tail: records per partition (default {10})", opt_int64, &lines},
        {"follow", NULL, "tail, dump: keep printing new records", opt_switch, &follow},
        {"store", "URI", "stat, repair: where consumer positions are (default "
         "sqlite:DIR/sales.db if present)", opt_str, &store_uri},
        {"yes", NULL, "repair: really cut the log at the first damage", opt_switch, &yes},
    };
    int rc = args_parse(a, "log", "Inspect the embedded log.\n\n"
                        "  salesflow log stat    partitions, offsets, segments, positions\n"
                        "  salesflow log tail    the last --lines records per partition\n"
                        "  salesflow log dump    every record from --from, as JSON lines\n"
                        "  salesflow log repair  find damage; cut it off with --yes",
                        opts, SF_ARRAY_LEN(opts), argc, argv, pos, 1, &npos);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    const char *sub = npos ? pos[0] : NULL;
    if (!sub || (strcmp(sub, "stat") && strcmp(sub, "tail") && strcmp(sub, "dump") &&
                 strcmp(sub, "repair"))) {
        fprintf(stderr, "salesflow log: expected stat, tail, dump or repair%s%s\n",
                sub ? ", got " : "", sub ? sub : "");
        return 2;
    }
    char err[1024], dir[4200];
    if (!strcmp(sub, "repair")) {
        snprintf(dir, sizeof(dir), "%s/log", data);
        int64_t *passed = calloc(REPAIR_MAX_PARTS, sizeof(*passed));
        if (!passed || repair_positions(data, store_uri, passed, err, sizeof(err))) {
            fprintf(stderr, "salesflow log repair: %s\n", passed ? err : "out of memory");
            free(passed);
            return 1;
        }
        int damaged = elog_repair(dir, yes, passed, REPAIR_MAX_PARTS, stdout, err,
                                  sizeof(err));
        free(passed);
        if (damaged < 0) {
            fprintf(stderr, "salesflow log repair: %s\n", err);
            return 1;
        }
        return damaged && !yes ? 1 : 0;
    }
    struct broker *b;
    if (open_log(data, &b, err, sizeof(err))) {
        fprintf(stderr, "salesflow log %s: %s\n", sub, err);
        return 1;
    }
    int np = broker_partition_count(b);
    if (partition >= np) {
        fprintf(stderr, "salesflow log: --partition %" PRId64 ": the log has %d "
                "partitions\n", partition, np);
        broker_close(b);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!strcmp(sub, "stat")) {
        rc = stat_log(b, data, store_uri);
    } else {
        struct elog_part_info *pi;
        int n2;
        if (elog_describe(b, &pi, &n2, err, sizeof(err))) {
            fprintf(stderr, "salesflow log: %s\n", err);
            broker_close(b);
            return 1;
        }
        for (int i = 0; i < np; i++) {
            int64_t at = !strcmp(sub, "tail") ? pi[i].end - lines : from;
            if (at < pi[i].start)
                at = pi[i].start;
            broker_seek(b, i, (partition < 0 || partition == i) ? at : pi[i].end);
        }
        elog_free_info(pi, n2);
        rc = print_from(b, (int)partition, follow);
    }
    broker_close(b);
    return rc;
}

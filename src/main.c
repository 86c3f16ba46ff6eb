/*
 * salesflow — command dispatch and the all-in-one `run` command.
 *
 * `run` wires the layers together in one process: the HTTP server (ingest
 * + dashboard) appends to the embedded log under DATA/log; the processor
 * thread reads the log into the SQLite store DATA/sales.db; the dashboard
 * reads the store through its own handle. Shutdown on SIGINT/SIGTERM drains
 * in order: stop accepting, ack every queued order, stop HTTP, stop the
 * processor after its current batch, close the log and the store.
 *
 * `ingest` and `process` run those layers on their own, against a shared
 * broker (Kafka: --broker kafka://HOSTS/TOPIC): `ingest` is `run` without
 * the processor, the store and the dashboard; `process` is the processor
 * alone, one member of a consumer group (--group) when the broker has
 * groups. A record the processor cannot read as an order goes to the
 * quarantine file DATA/quarantine/quarantine.jsonl, like rejected HTTP rows.
 */
#include "broker/broker.h"
#include "broker/elog.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/util.h"
#include "ingest/auth.h"
#include "ingest/dedupe.h"
#include "ingest/http.h"
#include "ingest/quarantine.h"
#include "process/processor.h"
#include "store/cassandra.h"
#include "store/store.h"
#include "web/web.h"

#include <curl/curlver.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SF_VERSION "0.1.0"

int cmd_gen(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_replay(int argc, char **argv);

/* --fsync always|interval:MS|never */
static int opt_fsync(const char *val, void *dst, char *err, size_t n)
{
    struct broker_conf *bc = dst;
    char *end;
    if (!strcmp(val, "always")) {
        bc->fsync = BROKER_FSYNC_ALWAYS;
    } else if (!strcmp(val, "never")) {
        bc->fsync = BROKER_FSYNC_NEVER;
    } else if (!strncmp(val, "interval:", 9) && (bc->fsync_interval_ms =
               (int)strtol(val + 9, &end, 10)) > 0 && *end == '\0') {
        bc->fsync = BROKER_FSYNC_INTERVAL;
    } else {
        snprintf(err, n, "expected always, interval:MS (e.g. interval:100) or never, "
                 "got \"%s\"", val);
        return -1;
    }
    return 0;
}

/* --api-key KEY, repeatable. */
struct key_list {
    const char *v[64];
    size_t n;
};

static int opt_key(const char *val, void *dst, char *err, size_t n)
{
    struct key_list *k = dst;
    if (!*val || k->n == SF_ARRAY_LEN(k->v)) {
        snprintf(err, n, "must not be empty; at most 64 keys (use --api-key-file)");
        return -1;
    }
    size_t len = strlen(val), i = 0;
    while (i < len && (unsigned char)val[i] > 0x20 && (unsigned char)val[i] < 0x7f)
        i++;
    if (i < len || len > AUTH_KEY_MAX) {
        snprintf(err, n, "a key must be 1..%d visible ASCII characters (no spaces)",
                 AUTH_KEY_MAX);
        return -1;
    }
    k->v[k->n++] = val;
    return 0;
}

/* --api-keys K1,K2: checked here so a bad key is a bad value (exit 2,
 * naming the flag, environment variable or FILE:LINE). */
static int opt_key_list(const char *val, void *dst, char *err, size_t n)
{
    if (auth_check_list(val, err, n))
        return -1;
    *(const char **)dst = val;
    return 0;
}

/* Fill bc's Kafka fields; a kafka:// broker's consumer joins group. */
static void kafka_conf(struct broker_conf *bc, const char *group, int create_topic)
{
    bc->group = group ? group : "salesflow";
    bc->create_topic = create_topic;
}

/* The processor's quarantine sink: a log record that is not an order is
 * kept with its position and the reason, like a rejected HTTP row. */
static void quarantine_record(void *opaque, const char *topic,
                              const struct broker_record *r, const char *reason)
{
    struct quarantine *q = opaque;
    char endpoint[300], err[512];
    struct sf_buf d;
    sf_buf_init(&d, 8192);
    sf_buf_append(&d, "[{\"loc\":[\"log\",", 15);
    sf_buf_json_str(&d, topic);
    sf_buf_printf(&d, ",%d,%" PRId64 "],\"msg\":", r->partition, r->offset);
    sf_buf_json_str(&d, reason);
    sf_buf_printf(&d, ",\"type\":\"not_an_order\"}]");
    snprintf(endpoint, sizeof(endpoint), "log:%s/%d", topic, r->partition);
    struct quarantine_row row = {.index = (long)r->offset, .raw = r->value,
                                 .raw_len = r->len, .detail = d.data ? d.data : "[]",
                                 .detail_len = d.data ? d.len : 2};
    log_warn("processor: %s partition %d offset %" PRId64 " is not an order (%s): "
             "quarantined, moving on", topic, r->partition, r->offset, reason);
    if (quarantine_add(q, endpoint, &row, 1, sf_now_ms(), err, sizeof(err)))
        log_error("quarantine: %s", err);
    sf_buf_free(&d);
}

/* The processor's hooks in `run`: records that are not orders go to the
 * quarantine, commits wake the dashboard's live streams (web.h). */
struct run_hooks {
    struct quarantine *qt;
    struct web *w;
};

static void run_reject(void *opaque, const char *topic, const struct broker_record *r,
                       const char *reason)
{
    quarantine_record(((struct run_hooks *)opaque)->qt, topic, r, reason);
}

static void run_commit(void *opaque, size_t inserted)
{
    web_on_commit(((struct run_hooks *)opaque)->w, inserted);
}

/* --sources "Dine In,Takeaway,Home Delivery" */
/* --max-body: 1 byte to the server's body budget (a larger body could
 * never be held: it would get 503 "retry shortly" forever). */
static int opt_max_body(const char *val, void *dst, char *err, size_t n)
{
    uint64_t v = 0;
    if (opt_bytes(val, &v, err, n))
        return -1;
    if (v == 0 || v > SF_BODY_BUDGET) {
        snprintf(err, n, "expected a size from 1 to %zuM (the bodies all connections may "
                 "hold at once), got \"%s\"", SF_BODY_BUDGET >> 20, val);
        return -1;
    }
    *(uint64_t *)dst = v;
    return 0;
}

static int opt_sources(const char *val, void *dst, char *err, size_t n)
{
    (void)dst;
    return catalog_set_sources(val, err, n);
}

/* Block the stop signals (and SIGHUP when the command reloads on it) before
 * any thread starts, so that only main's sigwait() sees them; ignore SIGPIPE
 * from clients that went away. */
static void block_signals(sigset_t *sigs, int with_hup)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    if (with_hup)
        sigaddset(sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP: re-read the customers, the API key file and SALESFLOW_API_KEYS
 * of the config file; keep serving. */
static void reload(struct catalog *cat, struct auth *auth)
{
    char err[1024];
    if (catalog_reload(cat, err, sizeof(err)))
        log_error("SIGHUP: customers not reloaded, keeping the %zu loaded: %s",
                  catalog_customer_count(cat), err);
    else
        log_info("SIGHUP: %zu customers reloaded from %s",
                 catalog_customer_count(cat), catalog_path(cat));
    if (auth_enabled(auth)) {
        /* SALESFLOW_API_KEYS from the config file (as docs/deploy.md keeps
         * it) is re-read too; flag and environment values cannot change. */
        char *list = NULL, where[1100], why[512];
        int r = args_reread("api-keys", &list, where, sizeof(where), err, sizeof(err));
        if (r > 0 && auth_set_list(auth, list, why, sizeof(why)))
            snprintf(err, sizeof(err), "%.500s: --api-keys: %.400s", where, why), r = -1;
        if (r >= 0 && auth_reload(auth, err, sizeof(err)))
            r = -1;
        if (r < 0)
            log_error("SIGHUP: API keys not reloaded, keeping the old ones: %s", err);
        else
            log_info("SIGHUP: %zu API keys in force", auth_key_count(auth));
        free(list);
    }
}

/* `run` (everything) or, with ingest_only, `ingest` (HTTP ingestion only). */
static int run_layers(int ingest_only, int argc, char **argv)
{
    const char *listen = NULL, *data = NULL, *customers = NULL, *store_arg = NULL;
    const char *broker_arg = NULL, *group = NULL, *allowed_hosts = NULL;
    const char *raw_store = NULL;
    int create_topic = 0, strict_orderitem = 0;
    int64_t unit_price = SF_DEFAULT_UNIT_PRICE_CENTS;
    int partitions = 0, threads = 2, max_batch = SF_MAX_BATCH_DEFAULT;
    int header_timeout = 10, body_timeout = 30, max_conns = 10000;
    int64_t dedupe_window = 24 * 3600 * 1000LL, dedupe_max = 1000000;
    int64_t ready_lag = 100000;
    uint64_t max_body = SF_MAX_BODY_DEFAULT, quarantine_max = 64u << 20;
    const char *key_file = NULL, *list_keys = NULL;
    struct key_list keys = {{0}, 0};
    struct broker_conf bc = {.create = 1};
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default 127.0.0.1:8080)", opt_listen, &listen},
        {"allowed-hosts", "LIST", "Host names served besides the --listen host, "
         "comma-separated, * for any (default: localhost names on loopback, else any)",
         opt_str, &allowed_hosts},
        {"data", "DIR", "data directory: DIR/log, DIR/sales.db (default ./salesflow-data)",
         opt_str, &data},
        {"customers", "FILE", "customers CSV with header customer_id,state "
         "(default data/customers.csv, else the built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price of one unit (default 300.00)", opt_money, &unit_price},
        {"partitions", "N", "partitions of a new log (default 4; fixed once created)",
         opt_int, &partitions},
        {"store", "URI", "serving store (default sqlite:DIR/sales.db)", opt_store_uri,
         &store_arg},
        {"raw-store", "URI", "also write every raw order to Cassandra: cassandra://"
         "[USER@]HOST[:PORT][,…]/KEYSPACE[?table=order_table&consistency=LOCAL_QUORUM]"
         " (password: SALESFLOW_CASSANDRA_PASSWORD)", opt_raw_store_uri, &raw_store},
        {"fsync", "MODE", "always (default): 201 after fdatasync; interval:MS; never",
         opt_fsync, &bc},
        {"segment-bytes", "SIZE", "roll log segments at this size (default 64M)",
         opt_bytes, &bc.segment_bytes},
        {"retention", "AGE", "drop processed log segments older than AGE, e.g. 7d "
         "(default: keep)", opt_duration, &bc.retention_ms},
        {"retention-bytes", "SIZE", "keep at most SIZE of processed log per partition "
         "(default: no limit)", opt_bytes, &bc.retention_bytes},
        {"ready-lag", "N", "GET /readyz fails while the processor is more than N "
         "records behind the log (default 100000)", opt_int64, &ready_lag},
        {"threads", "N", "HTTP worker threads (default 2)", opt_int, &threads},
        {"max-body", "SIZE", "largest POST /v1/orders body, as sent and decoded (default "
         "16M, at most 512M)", opt_max_body, &max_body},
        {"max-batch", "N", "most orders in one POST /v1/orders (default 100000)",
         opt_int, &max_batch},
        {"strict-orderitem", NULL, "POST /orderitem refuses fields an order does not "
         "have (422), as /v1/orders does; by default they are ignored, as the original "
         "service did", opt_switch, &strict_orderitem},
        {"api-key", "KEY", "require Authorization: Bearer KEY for ingestion; repeatable",
         opt_key, &keys},
        {"api-keys", "K1,K2", "the same for a comma-separated list of keys (e.g. "
         "SALESFLOW_API_KEYS in the config file)", opt_key_list, &list_keys},
        {"api-key-file", "FILE", "API keys, one per line; re-read on SIGHUP", opt_str,
         &key_file},
        {"dedupe-window", "AGE", "remember client order_ids this long (default 24h)",
         opt_duration, &dedupe_window},
        {"dedupe-max", "N", "remember at most N order_ids (default 1000000)", opt_int64,
         &dedupe_max},
        {"sources", "LIST", "accepted sources, comma-separated (default "
         "\"Dine In,Takeaway,Home Delivery\")", opt_sources, NULL},
        {"quarantine-max", "SIZE", "rotate DIR/quarantine/quarantine.jsonl at this size "
         "(default 64M)", opt_bytes, &quarantine_max},
        {"header-timeout", "SECS", "close connections whose headers take longer "
         "(default 10)", opt_int, &header_timeout},
        {"body-timeout", "SECS", "close connections whose body takes longer (default 30)",
         opt_int, &body_timeout},
        {"max-connections", "N", "open HTTP connections at most (default 10000)", opt_int,
         &max_conns},
        {"broker", "URI", "file:DIR (embedded log, default file:DATA/log) or "
         "kafka://HOST:PORT[,HOST:PORT…]/TOPIC", opt_broker_uri, &broker_arg},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"create-topic", "PARTITIONS", "create a missing Kafka topic with this many "
         "partitions", opt_int, &create_topic},
        {"group", "NAME", "Kafka consumer group of the processor (default salesflow)",
         opt_str, &group},
    };
    /* `ingest` takes the same flags less those of the layers it lacks. */
    struct opt sel[SF_ARRAY_LEN(opts)];
    size_t nsel = 0;
    for (size_t i = 0; i < SF_ARRAY_LEN(opts); i++)
        if (!ingest_only || (strcmp(opts[i].name, "store") && strcmp(opts[i].name, "group") &&
                             strcmp(opts[i].name, "raw-store")))
            sel[nsel++] = opts[i];
    int rc = ingest_only
        ? args_parse("ingest", "HTTP ingestion only: validate and price orders and "
                     "append them to --broker (201 once it has them durably).",
                     sel, nsel, argc, argv, NULL, 0, NULL)
        : args_parse("run", "Run everything in one process: HTTP ingestion, the "
                     "embedded log, the processor and the dashboard.",
                     sel, nsel, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!listen)
        listen = "127.0.0.1:8080";
    if (!data)
        data = "./salesflow-data";
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    char err[1024], logdir[4096], store_uri[4200], broker_uri[4200], qdir[4200];
    struct catalog *cat = NULL;
    struct auth *auth = NULL;
    struct dedupe *dd = NULL;
    struct quarantine *qt = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct web *w = NULL;
    struct processor *proc = NULL;
    struct http_server *srv = NULL;
    int status = 1;

    sigset_t sigs;
    block_signals(&sigs, 1);

    if ((rc = sf_mkdirs(data))) {
        log_error("cannot create data directory %s: %s", data, strerror(-rc));
        goto out;
    }
    snprintf(logdir, sizeof(logdir), "%s/log", data);
    snprintf(broker_uri, sizeof(broker_uri), "file:%s", logdir);
    if (broker_arg)
        snprintf(broker_uri, sizeof(broker_uri), "%s", broker_arg);
    kafka_conf(&bc, group, create_topic);
    bc.role = ingest_only ? BROKER_ROLE_PRODUCE : BROKER_ROLE_BOTH;
    if (store_arg)
        snprintf(store_uri, sizeof(store_uri), "%s", store_arg);
    else
        snprintf(store_uri, sizeof(store_uri), "sqlite:%s/sales.db", data);

    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    if (!(auth = auth_new(keys.v, keys.n, list_keys, key_file, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    snprintf(qdir, sizeof(qdir), "%s/quarantine", data);
    if (!(qt = quarantine_open(qdir, quarantine_max, err, sizeof(err))) ||
        !(dd = dedupe_new(dedupe_window, (size_t)dedupe_max, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    bc.partitions = partitions;
    /* Room for two of the largest batches: one request never waits forever
     * for a queue that cannot hold it. */
    if (!bc.queue_max || bc.queue_max < 2 * (size_t)max_batch)
        bc.queue_max = 2 * (size_t)max_batch > 65536 ? 2 * (size_t)max_batch : 65536;
    if (!(b = broker_open(broker_uri, &bc, err, sizeof(err))) ||
        (!ingest_only && !(st = store_open(store_uri, err, sizeof(err)))) ||
        (!ingest_only && !(w = web_new(store_uri, err, sizeof(err))))) {
        log_error("%s", err);
        goto out;
    }
    if (raw_store && !(st = cassandra_wrap(st, raw_store, args_cassandra_password(), 0,
                                           err, sizeof(err)))) {
        log_error("%s", err);
        status = 2;
        goto out;
    }
    struct run_hooks hooks = {.qt = qt, .w = w};
    struct processor_conf pc = {.on_reject = run_reject, .on_commit = run_commit,
                                .opaque = &hooks};
    if (w)
        web_attach(w, b);
    if (!ingest_only && !(proc = processor_start(b, st, cat, &pc, err, sizeof(err)))) {
        log_error("processor: %s", err);
        goto out;
    }
    long learned = dedupe_rebuild(dd, b, err, sizeof(err));
    if (learned < 0) {
        log_error("rebuilding the idempotency index from %s: %s", broker_uri, err);
        goto out;
    }
    struct http_ctx hc = {.broker = b, .cat = cat, .web = w,
                          .max_body = (size_t)max_body, .max_batch = (size_t)max_batch,
                          .strict_orderitem = strict_orderitem,
                          .dedupe = dd, .quarantine = qt, .auth = auth,
                          .header_timeout_s = header_timeout,
                          .body_timeout_s = body_timeout,
                          .max_connections = (unsigned)max_conns,
                          .allowed_hosts = allowed_hosts,
                          .ready_lag = ingest_only ? 0 : (ready_lag ? ready_lag : 1)};
    if (!(srv = http_start(listen, &hc, threads, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    log_info("salesflow %s %s listening on http://%s (data %s, broker %s, %d partitions, "
             "%zu customers from %s, %ld order_ids remembered, API keys %s)",
             SF_VERSION, ingest_only ? "ingest" : "run", listen, data, broker_uri,
             broker_partition_count(b),
             catalog_customer_count(cat), catalog_path(cat), learned,
             auth_enabled(auth) ? "required" : "off");

    int sig;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        reload(cat, auth);
    log_info("%s: shutting down", strsignal(sig));
    status = 0;
out:
    http_quiesce(srv);
    if (b)
        broker_flush(b);    /* every queued order is acked before HTTP stops */
    if (elog_failed(b))
        status = 1;         /* an fdatasync failed: exit 1 for the supervisor */
    web_close_streams(w);   /* no suspended stream may outlive the server */
    http_stop(srv);
    processor_stop(proc);
    broker_close(b);
    web_destroy(w);
    store_close(st);
    dedupe_destroy(dd);
    quarantine_close(qt);
    auth_destroy(auth);
    catalog_destroy(cat);
    return status;
}

static int cmd_run(int argc, char **argv)
{
    return run_layers(0, argc, argv);
}

static int cmd_ingest(int argc, char **argv)
{
    return run_layers(1, argc, argv);
}

/* `process`: the processor alone, --broker → --store. */
static int cmd_process(int argc, char **argv)
{
    const char *data = NULL, *customers = NULL, *store_arg = NULL, *broker_uri = NULL;
    const char *group = NULL, *listen = NULL, *allowed_hosts = NULL;
    const char *raw_store = NULL;
    int64_t unit_price = SF_DEFAULT_UNIT_PRICE_CENTS;
    uint64_t quarantine_max = 64u << 20;
    int64_t ready_lag = 100000;
    int create_topic = 0;
    struct broker_conf bc = {.role = BROKER_ROLE_CONSUME};
    const struct opt opts[] = {
        {"broker", "URI", "where orders are read: kafka://HOST:PORT[,HOST:PORT…]/TOPIC "
         "or file:DIR (required)", opt_broker_uri, &broker_uri},
        {"listen", "HOST:PORT", "serve GET /healthz, /readyz and /metrics here "
         "(default: no HTTP)", opt_listen, &listen},
        {"allowed-hosts", "LIST", "Host names served besides the --listen host, "
         "comma-separated, * for any (default: localhost names on loopback, else any)",
         opt_str, &allowed_hosts},
        {"ready-lag", "N", "GET /readyz fails while the processor is more than N "
         "records behind the log end (default 100000)", opt_int64, &ready_lag},
        {"store", "URI", "serving store (default sqlite:DATA/sales.db)", opt_store_uri,
         &store_arg},
        {"raw-store", "URI", "also write every raw order to Cassandra: cassandra://"
         "[USER@]HOST[:PORT][,…]/KEYSPACE[?table=order_table&consistency=LOCAL_QUORUM]"
         " (password: SALESFLOW_CASSANDRA_PASSWORD)", opt_raw_store_uri, &raw_store},
        {"group", "NAME", "Kafka consumer group; processes in one group split the "
         "partitions (default salesflow)", opt_str, &group},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"create-topic", "PARTITIONS", "create a missing Kafka topic with this many "
         "partitions", opt_int, &create_topic},
        {"data", "DIR", "data directory: DIR/quarantine for messages that are not orders "
         "(default ./salesflow-data)", opt_str, &data},
        {"customers", "FILE", "customers CSV with header customer_id,state "
         "(default data/customers.csv, else the built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price for messages that carry no total (default 300.00)",
         opt_money, &unit_price},
        {"quarantine-max", "SIZE", "rotate DIR/quarantine/quarantine.jsonl at this size "
         "(default 64M)", opt_bytes, &quarantine_max},
    };
    int rc = args_parse("process", "Read orders from --broker into the serving tables of "
                        "--store. Several processes with the same --group share a "
                        "Kafka topic's partitions.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!broker_uri) {
        fprintf(stderr, "salesflow process: --broker is required (e.g. --broker "
                "kafka://127.0.0.1:9092/Order)\n");
        return 2;
    }
    if (!data)
        data = "./salesflow-data";
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    char err[1024], store_uri[4200], qdir[4200], shown[1024];
    struct catalog *cat = NULL;
    struct quarantine *qt = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct processor *proc = NULL;
    struct store *rst = NULL;  /* /readyz's */
    struct http_server *srv = NULL;
    int status = 1;
    sigset_t sigs;
    block_signals(&sigs, 1);

    if (store_arg)
        snprintf(store_uri, sizeof(store_uri), "%s", store_arg);
    else
        snprintf(store_uri, sizeof(store_uri), "sqlite:%s/sales.db", data);
    snprintf(qdir, sizeof(qdir), "%s/quarantine", data);
    kafka_conf(&bc, group, create_topic);
    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
        !(qt = quarantine_open(qdir, quarantine_max, err, sizeof(err))) ||
        !(b = broker_open(broker_uri, &bc, err, sizeof(err))) ||
        !(st = store_open(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    if (raw_store && !(st = cassandra_wrap(st, raw_store, args_cassandra_password(), 0,
                                           err, sizeof(err)))) {
        log_error("%s", err);
        status = 2;
        goto out;
    }
    struct processor_conf pc = {.on_reject = quarantine_record, .opaque = qt};
    if (!(proc = processor_start(b, st, cat, &pc, err, sizeof(err)))) {
        log_error("processor: %s", err);
        goto out;
    }
    /* Monitoring only: /healthz, /readyz (lag), /metrics. */
    struct http_ctx hc = {.cat = cat, .ready_lag = ready_lag ? ready_lag : 1,
                          .allowed_hosts = allowed_hosts};
    /* /readyz asks the store through a handle of its own: the processor's
     * is its thread's alone. */
    if (listen && !(rst = store_open(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    hc.ready_store = rst;
    if (listen && !(srv = http_start(listen, &hc, 2, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    log_info("salesflow %s process: %s (%d partitions, group %s) into %s", SF_VERSION,
             broker_uri, broker_partition_count(b), bc.group,
             store_uri_redact(store_uri, shown, sizeof(shown)));
    int sig;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        reload(cat, NULL);  /* a processor has no API keys */
    log_info("%s: shutting down", strsignal(sig));
    status = 0;
out:
    http_stop(srv);
    store_close(rst);
    processor_stop(proc);
    broker_close(b);
    store_close(st);
    quarantine_close(qt);
    catalog_destroy(cat);
    return status;
}

static int cmd_serve(int argc, char **argv)
{
    const char *listen = NULL, *store_uri = NULL, *allowed_hosts = NULL;
    int threads = 2;
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default 127.0.0.1:8080)", opt_listen, &listen},
        {"allowed-hosts", "LIST", "Host names served besides the --listen host, "
         "comma-separated, * for any (default: localhost names on loopback, else any)",
         opt_str, &allowed_hosts},
        {"store", "URI", "serving store to read, e.g. sqlite:salesflow-data/sales.db "
         "(required)", opt_store_uri, &store_uri},
        {"threads", "N", "HTTP worker threads (default 2)", opt_int, &threads},
    };
    int rc = args_parse("serve", "Serve the dashboard and the query API over a store.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!store_uri) {
        fprintf(stderr, "salesflow serve: --store is required "
                "(e.g. --store sqlite:salesflow-data/sales.db)\n");
        return 2;
    }
    if (!listen)
        listen = "127.0.0.1:8080";

    char err[1024];
    struct web *w = NULL;
    struct http_server *srv = NULL;
    int status = 1;
    sigset_t sigs;
    block_signals(&sigs, 0);

    /* serve only reads: a SQLite path that does not exist is a typo or a
     * store not made yet, never a reason to create an empty one. */
    if (!strncmp(store_uri, "sqlite:", 7) && access(store_uri + 7, F_OK) != 0) {
        log_error("no SQLite store at %s (%s): serve reads a store and does not "
                  "create one; check the path, or let `salesflow run` or "
                  "`salesflow process --store %s` create it first", store_uri + 7,
                  strerror(errno), store_uri);
        goto out;
    }
    if (!(w = web_new(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    struct http_ctx hc = {.web = w, .allowed_hosts = allowed_hosts};
    if (!(srv = http_start(listen, &hc, threads, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    char shown[1024];   /* never log a password */
    log_info("salesflow %s serving %s on http://%s", SF_VERSION,
             store_uri_redact(store_uri, shown, sizeof(shown)), listen);
    int sig;
    sigwait(&sigs, &sig);
    log_info("%s: shutting down", strsignal(sig));
    status = 0;
out:
    web_close_streams(w);   /* no suspended stream may outlive the server */
    http_stop(srv);
    web_destroy(w);
    return status;
}

static int cmd_version(int argc, char **argv)
{
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: salesflow version\n\nPrint the version of salesflow and of "
               "the libraries it is linked with.\nIt takes no options and reads no "
               "configuration.\n");
        return 0;
    }
    if (argc) {
        fprintf(stderr, "salesflow version: takes no arguments (see --help)\n");
        return 2;
    }
    printf("salesflow %s\nlibmicrohttpd %s\nsqlite %s\njansson %s\nlibcurl %s\n"
           "librdkafka %s\n",
           SF_VERSION, MHD_get_version(), sqlite3_libversion(), jansson_version_str(),
           LIBCURL_VERSION, broker_kafka_version());
    return 0;
}

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "everything in one process: ingest + embedded log + process + web"},
    {"ingest", cmd_ingest, "HTTP ingestion only, into --broker (e.g. Kafka)"},
    {"process", cmd_process, "--broker → --store; processes in one --group share a topic"},
    {"log", cmd_log, "inspect the embedded log: stat, tail, dump, repair"},
    {"replay", cmd_replay, "rebuild the serving tables from the log"},
    {"serve", cmd_serve, "dashboard and query API over --store"},
    {"gen", cmd_gen, "load generator: random valid orders to --url"},
    {"version", cmd_version, "version and linked library versions"},
    {"config", NULL, "print a command's effective configuration: config CMD [flags]"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: salesflow COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'salesflow COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(0, NULL);
    int shift = 1;
    if (!strcmp(argv[1], "config")) {
        /* `salesflow config CMD [flags]`: CMD parses its flags, environment
         * and config file as usual, prints the result and stops. */
        if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "config")) {
            fprintf(argc < 3 ? stderr : stdout, "usage: salesflow config COMMAND "
                    "[flags]: show where each setting of COMMAND comes from\n");
            return argc < 3 ? 2 : 0;
        }
        if (!strcmp(argv[2], "version")) {
            /* Nothing to show: version has no flags and reads no file. */
            printf("# salesflow version: no configuration (it takes no flags and "
                   "reads no config file)\n");
            return 0;
        }
        args_describe_mode();
        shift = 2;
    }
    for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++)
        if (commands[i].fn && !strcmp(argv[shift], commands[i].name))
            return commands[i].fn(argc - shift - 1, argv + shift + 1);
    fprintf(stderr, "salesflow: unknown command \"%s\" (see salesflow --help)\n",
            argv[shift]);
    return 2;
}

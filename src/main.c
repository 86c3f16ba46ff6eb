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
#include "app.h"
#include "broker/broker.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/util.h"
#include "http/auth.h"
#include "ingest/dedupe.h"
#include "ingest/routes.h"
#include "http/http.h"
#include "http/session.h"
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SF_VERSION "0.1.0"
#define SF_DEFAULT_LISTEN "127.0.0.1:8080"   /* run, ingest, serve */
#define SF_DEFAULT_GROUP "salesflow"         /* the processor's Kafka group */

int cmd_gen(struct args *a, int argc, char **argv);
int cmd_log(struct args *a, int argc, char **argv);
int cmd_replay(struct args *a, int argc, char **argv);

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
        snprintf(err, n, "must not be empty, and at most 64 are taken (put more in a "
                 "key file)");
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

/* The read and admin keys of run and serve (docs/operations.md, "Access"):
 * the same three kinds of sources as the API keys. */
struct scope_flags {
    struct key_list read, admin;
    const char *read_list, *read_file, *admin_list, *admin_file;
    int64_t session_ttl;
    struct fail_limit {
        unsigned max;
        int64_t window_ms;
    } fail_limit;
};

/* --auth-fail-limit N/AGE: 1 to a million failures, within 1s to a day. */
static int opt_fail_limit(const char *val, void *dst, char *err, size_t n)
{
    struct fail_limit *fl = dst;
    char *end;
    errno = 0;
    unsigned long max = strtoul(val, &end, 10);
    int64_t ms = 0;
    /* digits on both sides of the /: strtoul would skip a leading space
     * and take a sign, where a trailing space was refused */
    if (val[0] < '0' || val[0] > '9' || *end != '/' || end[1] < '0' || end[1] > '9' ||
        errno || max < 1 || max > 1000000 ||
        opt_duration(end + 1, &ms, err, n) || ms < 1000 || ms > INT64_C(86400000)) {
        snprintf(err, n, "expected N/AGE: 1 to 1000000 failed keys within 1s to 1d "
                 "(e.g. 10/1m), got \"%s\"", val);
        return -1;
    }
    fl->max = (unsigned)max;
    fl->window_ms = ms;
    return 0;
}

/* --session-ttl: a duration from a second (a cookie's Max-Age) to a year
 * (a session's expiry is now plus it, in milliseconds). */
#define SESSION_TTL_MAX_MS (INT64_C(366) * 86400 * 1000)
static int opt_session_ttl(const char *val, void *dst, char *err, size_t n)
{
    if (opt_duration(val, dst, err, n))
        return -1;
    if (*(int64_t *)dst >= 1000 && *(int64_t *)dst <= SESSION_TTL_MAX_MS)
        return 0;
    snprintf(err, n, "expected 1s to 366d, got \"%s\"", val);
    return -1;
}

#define SCOPE_OPTS(sf)                                                                  \
    {"read-key", "KEY", "require Authorization: Bearer KEY (or a sign-in with it) to "   \
     "see the dashboard and /api/*; repeatable", opt_key, &(sf)->read},                \
    {"read-keys", "K1,K2", "the same for a comma-separated list of keys (e.g. "          \
     "SALESFLOW_READ_KEYS in the config file)", opt_key_list, &(sf)->read_list},       \
    {"read-key-file", "FILE", "read keys, one per line; re-read on SIGHUP", opt_str,     \
     &(sf)->read_file},                                                                 \
    {"admin-key", "KEY", "a key that reads and may also change saved things (every "    \
     "write but ingestion); repeatable", opt_key, &(sf)->admin},                       \
    {"admin-keys", "K1,K2", "the same for a comma-separated list of keys (e.g. "         \
     "SALESFLOW_ADMIN_KEYS in the config file)", opt_key_list, &(sf)->admin_list},     \
    {"admin-key-file", "FILE", "admin keys, one per line; re-read on SIGHUP", opt_str,   \
     &(sf)->admin_file},                                                                \
    {"session-ttl", "AGE", "a browser's sign-in lasts this long (default "               \
     SF_XSTR(SESSION_TTL_DEFAULT_HOURS) "h)",                                            \
     opt_session_ttl, &(sf)->session_ttl},                                              \
    AUTH_FAIL_OPT(sf)

/* Taken by ingest too (its API keys). */
#define AUTH_FAIL_OPT(sf)                                                               \
    {"auth-fail-limit", "LIMIT", "N/AGE: after N failed keys (sign-ins, bearer keys) "   \
     "from one client address within AGE, refuse every key from it (429) for AGE "     \
     "(default {10/1m})", opt_fail_limit, &(sf)->fail_limit}

/* The read and admin key sets into a (after a->auth, the ingest keys, if
 * any): 0, or the exit status (logged, never naming a key): 1 for a key
 * file that cannot be used, 2 for a key given in two scopes. */
static int open_scopes(struct app *a, const struct scope_flags *sf)
{
    char err[1024];
    if (!(a->read_auth = auth_new_named("read", sf->read.v, sf->read.n, sf->read_list,
                                        sf->read_file, err, sizeof(err))) ||
        !(a->admin_auth = auth_new_named("admin", sf->admin.v, sf->admin.n,
                                         sf->admin_list, sf->admin_file, err,
                                         sizeof(err)))) {
        log_error("%s", err);
        return 1;
    }
    const char *both = auth_shares_key(a->auth, a->read_auth)    ? "ingest and read"
                       : auth_shares_key(a->auth, a->admin_auth) ? "ingest and admin"
                       : auth_shares_key(a->read_auth, a->admin_auth) ? "read and admin"
                                                                      : NULL;
    if (both) {
        log_error("a key is given in more than one scope (%s): the scopes are disjoint "
                  "(an ingest key cannot read, a read key cannot change anything), so "
                  "give each scope keys of its own", both);
        return 2;
    }
    return 0;
}

/* "required", "admin only" or "off": for the start-up line. */
static const char *scopes_shown(const struct app *a)
{
    return auth_enabled(a->read_auth) ? "required"
           : auth_enabled(a->admin_auth) ? "for writes only" : "off";
}

/* Fill bc's Kafka fields; a kafka:// broker's consumer joins group. */
static void kafka_conf(struct broker_conf *bc, const char *group, int create_topic)
{
    bc->group = group ? group : SF_DEFAULT_GROUP;     /* ingest has no --group */
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

/* --segment-bytes: every segment keeps a file open, so segments of a few
 * bytes (one per write) ran the process out of descriptors within seconds. */
#define SEGMENT_MIN (16u << 10)
#define SEGMENT_HELP "roll log segments at this size (default " \
    SF_XSTR(BROKER_DEFAULT_SEGMENT_MB) "M, at least 16K)"
static int opt_segment_bytes(const char *val, void *dst, char *err, size_t n)
{
    uint64_t v = 0;
    if (opt_bytes(val, &v, err, n) || v < SEGMENT_MIN) {
        snprintf(err, n, "expected a size of at least 16K (each segment keeps a file "
                 "open), got \"%s\"", val);
        return -1;
    }
    *(uint64_t *)dst = v;
    return 0;
}

/* Checked here (a bad list exits 2); the catalog takes it once loaded. */

/* --processor-nice of run. */
#define PROCESSOR_NICE_HELP "the processor thread's CPU priority: N (0-19) below the " \
    "HTTP loops', or idle (only the cores nothing else wants; default {0})"
/* --processor-share of run. */
#define PROCESSOR_SHARE_HELP "while orders arrive faster than the processor can store " \
    "them, it takes at most PCT % of the time and catches up after the burst " \
    "(100: never yields; default {10})"
/* --query-nice of run and serve. */
#define QUERY_NICE_HELP "the query threads' CPU priority (/api/query, ranged " \
    "/api/sales, /api/orders, /api/sales/minute): idle (only the cores nothing " \
    "else wants) or N (0-19) below the HTTP loops' (default {idle})"

/* --query-timeout of run and serve. */
#define QUERY_TIMEOUT_HELP "stop a query running longer than AGE and answer 504 " \
    "(SQLite stores; 0: no limit; default {30s})"
/* The query threads' flags, of run and serve. */
#define QUERY_OPTS(nice, timeout)                                                  \
    {"query-nice", "N", QUERY_NICE_HELP, opt_nice_or_idle, nice},                  \
    {"query-timeout", "AGE", QUERY_TIMEOUT_HELP, opt_duration, timeout}

/* The HTTP server with every layer's routes: those of a layer this
 * command does not run answer 404 or 503. */
static struct http_server *serve_http(const char *listen, struct http_ctx *hc,
                                      int threads, char *errstr, size_t n)
{
    if (ingest_add_routes(hc) || web_add_routes(hc)) {
        sf_err(-1, errstr, n, "too many HTTP routes");
        return NULL;
    }
    return http_start(listen, hc, threads, errstr, n);
}

/* `ingest` takes run's flags less those of the layers it lacks (the
 * store, the processor, the dashboard and its keys). */
static int ingest_takes(const char *name)
{
    return strcmp(name, "store") && strcmp(name, "group") && strcmp(name, "raw-store") &&
           strcmp(name, "processor-nice") && strcmp(name, "processor-share") &&
           strcmp(name, "query-nice") && strcmp(name, "query-timeout") &&
           strncmp(name, "read-", 5) && strncmp(name, "admin-", 6) &&
           strcmp(name, "session-ttl");
}

/* The flags of `run` and `ingest`. */
struct run_flags {
    const char *listen, *data, *customers, *store_arg;
    const char *broker_arg, *group, *allowed_hosts, *raw_store;
    int create_topic, strict_orderitem;
    int64_t unit_price;
    int partitions, threads, max_batch, processor_nice, processor_share, query_nice;
    int header_timeout, body_timeout, max_conns;
    int64_t dedupe_window, dedupe_max;
    int64_t ready_lag, query_timeout;
    uint64_t max_body, quarantine_max;
    const char *key_file, *list_keys, *sources;
    struct key_list keys;
    struct scope_flags scopes;
    struct broker_conf bc;
};

/* Parse run's (or ingest's) flags into f: -1 to go on, else the exit
 * status (0 after --help, 2 for a bad flag). */
static int run_parse(struct args *a, int ingest_only, int argc, char **argv,
                     struct run_flags *f)
{
    /* Each default is declared once: in braces in the help text (args.h:
     * args_parse applies it, --help shows it), or as the layer's constant the
     * help text is built from (max-body, max-batch, partitions, segment-bytes). */
    *f = (struct run_flags){.max_batch = SF_MAX_BATCH_DEFAULT,
                            .max_body = SF_MAX_BODY_DEFAULT, .bc = {.create = 1}};
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default {" SF_DEFAULT_LISTEN "})",
         opt_listen, &f->listen},
        {"allowed-hosts", "LIST", "Host names served besides the --listen host, "
         "comma-separated, * for any (default: localhost names on loopback, else any)",
         opt_str, &f->allowed_hosts},
        {"data", "DIR", "data directory: DIR/log, DIR/sales.db (default {"
         SF_DEFAULT_DATA "})", opt_str, &f->data},
        {"customers", "FILE", "customers CSV with header customer_id,state "
         "(default " SF_DEFAULT_CUSTOMERS ", else the built-in 17)", opt_str,
         &f->customers},
        {"unit-price", "AMOUNT", "price of one unit (default {" SF_DEFAULT_UNIT_PRICE
         "})", opt_money, &f->unit_price},
        {"partitions", "N", "partitions of a new log (default "
         SF_XSTR(BROKER_DEFAULT_PARTITIONS) "; fixed once created)", opt_int,
         &f->partitions},
        {"store", "URI", "serving store (default sqlite:DIR/sales.db)", opt_store_uri,
         &f->store_arg},
        {"raw-store", "URI", "also write every raw order to Cassandra: cassandra://"
         "[USER@]HOST[:PORT][,…]/KEYSPACE[?table=order_table&consistency=LOCAL_QUORUM]"
         " (password: SALESFLOW_CASSANDRA_PASSWORD)", opt_raw_store_uri, &f->raw_store},
        {"fsync", "MODE", "{always} (default): 201 after fdatasync; interval:MS; never",
         opt_fsync, &f->bc},
        {"segment-bytes", "SIZE", SEGMENT_HELP, opt_segment_bytes, &f->bc.segment_bytes},
        {"retention", "AGE", "drop processed log segments older than AGE, e.g. 7d "
         "(default: keep)", opt_duration, &f->bc.retention_ms},
        {"retention-bytes", "SIZE", "keep at most SIZE of processed log per partition "
         "(default: no limit)", opt_bytes, &f->bc.retention_bytes},
        {"ready-lag", "N", "GET /readyz fails while the processor is more than N "
         "records behind the log (default {100000})", opt_int64, &f->ready_lag},
        {"threads", "N", "HTTP worker threads (default {2})", opt_int, &f->threads},
        {"processor-nice", "N", PROCESSOR_NICE_HELP, opt_nice_or_idle, &f->processor_nice},
        {"processor-share", "PCT", PROCESSOR_SHARE_HELP, opt_percent, &f->processor_share},
        QUERY_OPTS(&f->query_nice, &f->query_timeout),
        {"max-body", "SIZE", "largest POST /v1/orders body, as sent and decoded (default "
         SF_XSTR(SF_MAX_BODY_DEFAULT_MB) "M, at most " SF_XSTR(SF_BODY_BUDGET_MB) "M)",
         opt_max_body, &f->max_body},
        {"max-batch", "N", "most orders in one POST /v1/orders (default "
         SF_XSTR(SF_MAX_BATCH_DEFAULT) ")", opt_int, &f->max_batch},
        {"strict-orderitem", NULL, "POST /orderitem refuses fields an order does not "
         "have (422), as /v1/orders does; by default they are ignored, as the original "
         "service did", opt_switch, &f->strict_orderitem},
        {"api-key", "KEY", "require Authorization: Bearer KEY for ingestion; repeatable",
         opt_key, &f->keys},
        {"api-keys", "K1,K2", "the same for a comma-separated list of keys (e.g. "
         "SALESFLOW_API_KEYS in the config file)", opt_key_list, &f->list_keys},
        {"api-key-file", "FILE", "API keys, one per line; re-read on SIGHUP", opt_str,
         &f->key_file},
        SCOPE_OPTS(&f->scopes),
        {"dedupe-window", "AGE", "remember client order_ids this long (default {24h})",
         opt_duration, &f->dedupe_window},
        {"dedupe-max", "N", "remember at most N order_ids (default {1000000})",
         opt_int64, &f->dedupe_max},
        {"sources", "LIST", "accepted sources, comma-separated (default \"{"
         SF_DEFAULT_SOURCES "}\")", opt_sources, &f->sources},
        {"quarantine-max", "SIZE", "rotate DIR/quarantine/quarantine.jsonl at this "
         "size (default {64M})", opt_bytes, &f->quarantine_max},
        {"header-timeout", "SECS", "close connections whose headers take longer "
         "(default {10})", opt_int, &f->header_timeout},
        {"body-timeout", "SECS", "close connections whose body takes longer (default "
         "{30})", opt_int, &f->body_timeout},
        {"max-connections", "N", "open HTTP connections at most (default {10000})",
         opt_int, &f->max_conns},
        {"broker", "URI", "file:DIR (embedded log, default file:DATA/log) or "
         "kafka://HOST:PORT[,HOST:PORT…]/TOPIC", opt_broker_uri, &f->broker_arg},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &f->bc},
        {"create-topic", "PARTITIONS", "create a missing Kafka topic with this many "
         "partitions", opt_int, &f->create_topic},
        {"group", "NAME", "Kafka consumer group of the processor (default {"
         SF_DEFAULT_GROUP "})", opt_str, &f->group},
    };
    /* `ingest` takes the same flags less those of the layers it lacks. */
    struct opt sel[SF_ARRAY_LEN(opts)];
    size_t nsel = 0;
    for (size_t i = 0; i < SF_ARRAY_LEN(opts); i++)
        if (!ingest_only || ingest_takes(opts[i].name))
            sel[nsel++] = opts[i];
    int rc = ingest_only
        ? args_parse(a, "ingest", "HTTP ingestion only: validate and price orders and "
                     "append them to --broker (201 once it has them durably).",
                     sel, nsel, argc, argv, NULL, 0, NULL)
        : args_parse(a, "run", "Run everything in one process: HTTP ingestion, the "
                     "embedded log, the processor and the dashboard.",
                     sel, nsel, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!f->customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        f->customers = SF_DEFAULT_CUSTOMERS;
    return -1;
}

/* Open run's (or ingest's) parts into a, in order: the reference data and
 * API keys, the quarantine and idempotency index, the log, the store and
 * the dashboard, the processor, the HTTP server. 0, or the exit status (logged):
 * 2 for a --raw-store that cannot be used, else 1. */
static int run_open(struct app *a, struct run_flags *f, int ingest_only,
                    struct run_hooks *hooks, char *broker_uri, size_t broker_size,
                    long *learned, const char *raw_password)
{
    char err[1024], logdir[4096], store_uri[4200], qdir[4200];
    int rc;
    if ((rc = sf_mkdirs(f->data))) {
        log_error("cannot create data directory %s: %s", f->data, strerror(-rc));
        return 1;
    }
    if (app_path(logdir, sizeof(logdir), "log directory", "%s/log", f->data) ||
        app_path(broker_uri, broker_size, "--broker", "%s",
                 f->broker_arg ? f->broker_arg : "") ||
        (!f->broker_arg &&
         app_path(broker_uri, broker_size, "log directory", "file:%s", logdir)) ||
        app_path(store_uri, sizeof(store_uri), "--store", "%s",
                 f->store_arg ? f->store_arg : "") ||
        (!f->store_arg && app_path(store_uri, sizeof(store_uri), "store path",
                                   "sqlite:%s/sales.db", f->data)) ||
        app_path(qdir, sizeof(qdir), "quarantine directory", "%s/quarantine", f->data))
        return 1;
    struct broker_conf *bc = &f->bc;
    kafka_conf(bc, f->group, f->create_topic);
    bc->role = ingest_only ? BROKER_ROLE_PRODUCE : BROKER_ROLE_BOTH;

    if (!(a->cat = catalog_load(f->customers, f->unit_price, err, sizeof(err))) ||
        (f->sources && catalog_set_sources(a->cat, f->sources, err, sizeof(err))) ||
        !(a->auth = auth_new(f->keys.v, f->keys.n, f->list_keys, f->key_file, err,
                             sizeof(err)))) {
        log_error("%s", err);
        return 1;
    }
    if (!ingest_only && (rc = open_scopes(a, &f->scopes)))
        return rc;      /* logged */
    if (!(a->qt = quarantine_open(qdir, f->quarantine_max, err, sizeof(err))) ||
        !(a->dd = dedupe_new(f->dedupe_window, (size_t)f->dedupe_max, err, sizeof(err)))) {
        log_error("%s", err);
        return 1;
    }
    bc->partitions = f->partitions;
    /* Room for two of the largest batches: one request never waits forever
     * for a queue that cannot hold it. */
    size_t two = 2 * (size_t)f->max_batch;
    if (!bc->queue_max || bc->queue_max < two)
        bc->queue_max = two > 65536 ? two : 65536;
    if (!(a->b = broker_open(broker_uri, bc, err, sizeof(err))) ||
        (!ingest_only && !(a->st = store_open(store_uri, err, sizeof(err)))) ||
        (!ingest_only && !(a->w = web_new(store_uri, f->query_nice, f->query_timeout, err,
                                          sizeof(err))))) {
        log_error("%s", err);
        return 1;
    }
    if (f->raw_store && !(a->st = cassandra_wrap(a->st, f->raw_store,
                                                 raw_password, 0, err,
                                                 sizeof(err)))) {
        log_error("%s", err);
        return 2;
    }
    a->flush_on_close = 1;
    *hooks = (struct run_hooks){.qt = a->qt, .w = a->w};
    struct processor_conf pc = {.on_reject = run_reject, .on_commit = run_commit,
                                .opaque = hooks, .nice = f->processor_nice,
                                .share = f->processor_share};
    if (a->w)
        web_attach(a->w, a->b);
    if (!ingest_only && !(a->proc = processor_start(a->b, a->st, a->cat, &pc, err,
                                                    sizeof(err)))) {
        log_error("processor: %s", err);
        return 1;
    }
    if ((*learned = dedupe_rebuild(a->dd, a->b, err, sizeof(err))) < 0) {
        log_error("rebuilding the idempotency index from %s: %s", broker_uri, err);
        return 1;
    }
    struct http_ctx hc = {.broker = a->b, .cat = a->cat, .web = a->w,
                          .max_body = (size_t)f->max_body,
                          .max_batch = (size_t)f->max_batch,
                          .strict_orderitem = f->strict_orderitem,
                          .dedupe = a->dd, .quarantine = a->qt, .auth = a->auth,
                          .read_auth = a->read_auth, .admin_auth = a->admin_auth,
                          .session_ttl_ms = f->scopes.session_ttl,
                          .auth_fail_max = f->scopes.fail_limit.max,
                          .auth_fail_window_ms = f->scopes.fail_limit.window_ms,
                          .header_timeout_s = f->header_timeout,
                          .body_timeout_s = f->body_timeout,
                          .max_connections = (unsigned)f->max_conns,
                          .allowed_hosts = f->allowed_hosts,
                          .ready_lag = ingest_only ? 0 : (f->ready_lag ? f->ready_lag : 1)};
    if (!(a->srv = serve_http(f->listen, &hc, f->threads, err, sizeof(err)))) {
        log_error("%s", err);
        return 1;
    }
    return 0;
}

/* `run` (everything) or, with ingest_only, `ingest` (HTTP ingestion only). */
static int run_layers(struct args *args, int ingest_only, int argc, char **argv)
{
    struct run_flags f;
    int rc = run_parse(args, ingest_only, argc, argv, &f);
    if (rc >= 0)
        return rc;
    struct app a;
    struct run_hooks hooks;
    char broker_uri[4200];
    long learned = 0;
    app_init(&a, ingest_only ? "ingest" : "run", args);
    int status = run_open(&a, &f, ingest_only, &hooks, broker_uri, sizeof(broker_uri),
                          &learned, args->cassandra_password);
    if (status == 0) {
        log_info("salesflow %s %s listening on http://%s (data %s, broker %s, %d "
                 "partitions, %zu customers from %s, %ld order_ids remembered, API "
                 "keys %s%s%s)", SF_VERSION, a.cmd, f.listen, f.data, broker_uri,
                 broker_partition_count(a.b), catalog_customer_count(a.cat),
                 catalog_path(a.cat), learned, auth_enabled(a.auth) ? "required" : "off",
                 ingest_only ? "" : ", read keys ", ingest_only ? "" : scopes_shown(&a));
        app_wait(&a);
    }
    if (app_close(&a))
        status = 1;         /* an fdatasync failed: exit 1 for the supervisor */
    return status;
}

static int cmd_run(struct args *args, int argc, char **argv)
{
    return run_layers(args, 0, argc, argv);
}

static int cmd_ingest(struct args *args, int argc, char **argv)
{
    return run_layers(args, 1, argc, argv);
}

/* `process --listen`: monitoring only, /healthz, /readyz (lag), /metrics.
 * 0, or -1 (logged). */
static int process_http(struct app *a, const char *listen, const char *store_uri,
                        const char *allowed_hosts, int64_t ready_lag)
{
    char err[1024];
    struct http_ctx hc = {.cat = a->cat, .ready_lag = ready_lag ? ready_lag : 1,
                          .allowed_hosts = allowed_hosts};
    /* /readyz asks the store through a handle of its own: the processor's
     * is its thread's alone. */
    if (!(a->ready_st = store_open(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        return -1;
    }
    hc.ready_store = a->ready_st;
    if (!(a->srv = serve_http(listen, &hc, 2, err, sizeof(err)))) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

/* `process`: the processor alone, --broker → --store. */
static int cmd_process(struct args *args, int argc, char **argv)
{
    const char *data = NULL, *customers = NULL, *store_arg = NULL, *broker_uri = NULL;
    const char *group = NULL, *listen = NULL, *allowed_hosts = NULL;
    const char *raw_store = NULL, *sources = NULL;
    int64_t unit_price = 0, ready_lag = 0;
    uint64_t quarantine_max = 0;
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
         "records behind the log end (default {100000})", opt_int64, &ready_lag},
        {"store", "URI", "serving store (default sqlite:DATA/sales.db)", opt_store_uri,
         &store_arg},
        {"raw-store", "URI", "also write every raw order to Cassandra: cassandra://"
         "[USER@]HOST[:PORT][,…]/KEYSPACE[?table=order_table&consistency=LOCAL_QUORUM]"
         " (password: SALESFLOW_CASSANDRA_PASSWORD)", opt_raw_store_uri, &raw_store},
        {"group", "NAME", "Kafka consumer group; processes in one group split the "
         "partitions (default {" SF_DEFAULT_GROUP "})", opt_str, &group},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"create-topic", "PARTITIONS", "create a missing Kafka topic with this many "
         "partitions", opt_int, &create_topic},
        {"data", "DIR", "data directory: DIR/quarantine for messages that are not "
         "orders (default {" SF_DEFAULT_DATA "})", opt_str, &data},
        {"customers", "FILE", "customers CSV with header customer_id,state "
         "(default " SF_DEFAULT_CUSTOMERS ", else the built-in 17)", opt_str,
         &customers},
        {"unit-price", "AMOUNT", "price for messages that carry no total (default {"
         SF_DEFAULT_UNIT_PRICE "})", opt_money, &unit_price},
        {"sources", "LIST", "known sources, comma-separated, as given to ingest (default "
         "\"{" SF_DEFAULT_SOURCES "}\"); an order of another source is quarantined",
         opt_sources, &sources},
        {"quarantine-max", "SIZE", "rotate DIR/quarantine/quarantine.jsonl at this "
         "size (default {64M})", opt_bytes, &quarantine_max},
    };
    int rc = args_parse(args, "process", "Read orders from --broker into the serving tables of "
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
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    char err[1024], store_uri[4200], qdir[4200], shown[1024];
    struct app a;
    int status = 1;
    app_init(&a, "process", args);  /* a processor has no API keys to reload */

    if (app_path(store_uri, sizeof(store_uri), "--store", "%s", store_arg ? store_arg : "") ||
        (!store_arg && app_path(store_uri, sizeof(store_uri), "store path",
                                "sqlite:%s/sales.db", data)) ||
        app_path(qdir, sizeof(qdir), "quarantine directory", "%s/quarantine", data))
        goto out;
    kafka_conf(&bc, group, create_topic);
    if (!(a.cat = catalog_load(customers, unit_price, err, sizeof(err))) ||
        (sources && catalog_set_sources(a.cat, sources, err, sizeof(err))) ||
        !(a.qt = quarantine_open(qdir, quarantine_max, err, sizeof(err))) ||
        !(a.b = broker_open(broker_uri, &bc, err, sizeof(err))) ||
        !(a.st = store_open(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    if (raw_store && !(a.st = cassandra_wrap(a.st, raw_store, args->cassandra_password,
                                             0, err, sizeof(err)))) {
        log_error("%s", err);
        status = 2;
        goto out;
    }
    struct processor_conf pc = {.on_reject = quarantine_record, .opaque = a.qt};
    if (!(a.proc = processor_start(a.b, a.st, a.cat, &pc, err, sizeof(err)))) {
        log_error("processor: %s", err);
        goto out;
    }
    if (listen && process_http(&a, listen, store_uri, allowed_hosts, ready_lag))
        goto out;
    log_info("salesflow %s process: %s (%d partitions, group %s) into %s", SF_VERSION,
             broker_uri, broker_partition_count(a.b), bc.group,
             store_uri_redact(store_uri, shown, sizeof(shown)));
    app_wait(&a);
    status = 0;
out:
    app_close(&a);
    return status;
}

static int cmd_serve(struct args *args, int argc, char **argv)
{
    const char *listen = NULL, *store_uri = NULL, *allowed_hosts = NULL;
    int threads = 0, query_nice = 0;
    int64_t query_timeout = 0;
    struct scope_flags sf = {0};
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default {" SF_DEFAULT_LISTEN "})",
         opt_listen, &listen},
        {"allowed-hosts", "LIST", "Host names served besides the --listen host, "
         "comma-separated, * for any (default: localhost names on loopback, else any)",
         opt_str, &allowed_hosts},
        {"store", "URI", "serving store to read, e.g. sqlite:salesflow-data/sales.db "
         "(required)", opt_store_uri, &store_uri},
        {"threads", "N", "HTTP worker threads (default {2})", opt_int, &threads},
        QUERY_OPTS(&query_nice, &query_timeout),
        SCOPE_OPTS(&sf),
    };
    int rc = args_parse(args, "serve", "Serve the dashboard and the query API over a store.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!store_uri) {
        fprintf(stderr, "salesflow serve: --store is required "
                "(e.g. --store sqlite:salesflow-data/sales.db)\n");
        return 2;
    }

    char err[1024];
    struct app a;
    int status = 1;
    app_init(&a, "serve", args);  /* SIGHUP: the read and admin keys */

    /* serve only reads: a SQLite path that does not exist is a typo or a
     * store not made yet, never a reason to create an empty one. */
    if (!strncmp(store_uri, "sqlite:", 7) && access(store_uri + 7, F_OK) != 0) {
        log_error("no SQLite store at %s (%s): serve reads a store and does not "
                  "create one; check the path, or let `salesflow run` or "
                  "`salesflow process --store %s` create it first", store_uri + 7,
                  strerror(errno), store_uri);
        goto out;
    }
    if ((status = open_scopes(&a, &sf)) != 0)
        goto out;
    status = 1;
    if (!(a.w = web_new(store_uri, query_nice, query_timeout, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    struct http_ctx hc = {.web = a.w, .allowed_hosts = allowed_hosts,
                          .read_auth = a.read_auth, .admin_auth = a.admin_auth,
                          .session_ttl_ms = sf.session_ttl,
                          .auth_fail_max = sf.fail_limit.max,
                          .auth_fail_window_ms = sf.fail_limit.window_ms};
    if (!(a.srv = serve_http(listen, &hc, threads, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    char shown[1024];   /* never log a password */
    log_info("salesflow %s serving %s on http://%s (read keys %s)", SF_VERSION,
             store_uri_redact(store_uri, shown, sizeof(shown)), listen, scopes_shown(&a));
    app_wait(&a);
    status = 0;
out:
    app_close(&a);
    return status;
}

static int cmd_version(struct args *args, int argc, char **argv)
{
    (void)args;
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
    int (*fn)(struct args *a, int argc, char **argv);
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
        return cmd_version(NULL, 0, NULL);
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
        shift = 2;
    }
    /* The command's parsed configuration, kept for its whole run (flags
     * from the config file point into it; SIGHUP re-reads the file). */
    struct args args = {.describe = shift == 2};
    for (size_t i = 0; i < SF_ARRAY_LEN(commands); i++) {
        if (commands[i].fn && !strcmp(argv[shift], commands[i].name)) {
            int rc = commands[i].fn(&args, argc - shift - 1, argv + shift + 1);
            args_free(&args);
            return rc;
        }
    }
    fprintf(stderr, "salesflow: unknown command \"%s\" (see salesflow --help)\n",
            argv[shift]);
    return 2;
}

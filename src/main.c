/*
 * salesflow — command dispatch and the all-in-one `run` command.
 *
 * `run` wires the layers together in one process: the HTTP server (ingest
 * + dashboard) appends to the embedded log under DATA/log; the processor
 * thread reads the log into the SQLite store DATA/sales.db; the dashboard
 * reads the store through its own handle. Shutdown on SIGINT/SIGTERM drains
 * in order: stop accepting, ack every queued order, stop HTTP, stop the
 * processor after its current batch, close the log and the store.
 */
#include "broker/broker.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/util.h"
#include "ingest/http.h"
#include "process/processor.h"
#include "store/store.h"
#include "web/web.h"

#include <curl/curlver.h>
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

static int cmd_run(int argc, char **argv)
{
    const char *listen = NULL, *data = NULL, *customers = NULL, *store_arg = NULL;
    int64_t unit_price = SF_DEFAULT_UNIT_PRICE_CENTS;
    int partitions = 0, threads = 2;
    struct broker_conf bc = {.create = 1};
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default 127.0.0.1:8080)", opt_str, &listen},
        {"data", "DIR", "data directory: DIR/log, DIR/sales.db (default ./salesflow-data)",
         opt_str, &data},
        {"customers", "FILE", "customers CSV with header customer_id,state "
         "(default data/customers.csv, else the built-in 17)", opt_str, &customers},
        {"unit-price", "AMOUNT", "price of one unit (default 300.00)", opt_money, &unit_price},
        {"partitions", "N", "partitions of a new log (default 4; fixed once created)",
         opt_int, &partitions},
        {"store", "URI", "serving store (default sqlite:DIR/sales.db)", opt_str, &store_arg},
        {"fsync", "MODE", "always (default): 201 after fdatasync; interval:MS; never",
         opt_fsync, &bc},
        {"segment-bytes", "SIZE", "roll log segments at this size (default 64M)",
         opt_bytes, &bc.segment_bytes},
        {"retention", "AGE", "drop processed log segments older than AGE, e.g. 7d "
         "(default: keep)", opt_duration, &bc.retention_ms},
        {"retention-bytes", "SIZE", "keep at most SIZE of processed log per partition "
         "(default: no limit)", opt_bytes, &bc.retention_bytes},
        {"threads", "N", "HTTP worker threads (default 2)", opt_int, &threads},
    };
    int rc = args_parse("run", "Run everything in one process: HTTP ingestion, the "
                        "embedded log, the processor and the dashboard.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!listen)
        listen = "127.0.0.1:8080";
    if (!data)
        data = "./salesflow-data";
    if (!customers && access(SF_DEFAULT_CUSTOMERS, R_OK) == 0)
        customers = SF_DEFAULT_CUSTOMERS;

    char err[1024], logdir[4096], store_uri[4200], broker_uri[4200];
    struct catalog *cat = NULL;
    struct broker *b = NULL;
    struct store *st = NULL;
    struct web *w = NULL;
    struct processor *proc = NULL;
    struct http_server *srv = NULL;
    int status = 1;

    /* Block the stop signals before any thread starts; main waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = sf_mkdirs(data))) {
        log_error("cannot create data directory %s: %s", data, strerror(-rc));
        goto out;
    }
    snprintf(logdir, sizeof(logdir), "%s/log", data);
    snprintf(broker_uri, sizeof(broker_uri), "file:%s", logdir);
    if (store_arg)
        snprintf(store_uri, sizeof(store_uri), "%s", store_arg);
    else
        snprintf(store_uri, sizeof(store_uri), "sqlite:%s/sales.db", data);

    if (!(cat = catalog_load(customers, unit_price, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    bc.partitions = partitions;
    if (!(b = broker_open(broker_uri, &bc, err, sizeof(err))) ||
        !(st = store_open(store_uri, err, sizeof(err))) ||
        !(w = web_new(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    struct processor_conf pc = {0};
    if (!(proc = processor_start(b, st, cat, &pc, err, sizeof(err)))) {
        log_error("processor: %s", err);
        goto out;
    }
    struct http_ctx hc = {.broker = b, .cat = cat, .web = w};
    if (!(srv = http_start(listen, &hc, threads, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    log_info("salesflow %s listening on http://%s (data %s, %d partitions, "
             "%zu customers from %s)", SF_VERSION, listen, data,
             broker_partition_count(b), catalog_customer_count(cat), catalog_path(cat));

    int sig;
    sigwait(&sigs, &sig);
    log_info("%s: shutting down", strsignal(sig));
    status = 0;
out:
    http_quiesce(srv);
    if (b)
        broker_flush(b);    /* every queued order is acked before HTTP stops */
    http_stop(srv);
    processor_stop(proc);
    broker_close(b);
    web_destroy(w);
    store_close(st);
    catalog_destroy(cat);
    return status;
}

static int cmd_serve(int argc, char **argv)
{
    const char *listen = NULL, *store_uri = NULL;
    int threads = 2;
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "HTTP address (default 127.0.0.1:8080)", opt_str, &listen},
        {"store", "URI", "serving store to read, e.g. sqlite:salesflow-data/sales.db "
         "(required)", opt_str, &store_uri},
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
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(w = web_new(store_uri, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    struct http_ctx hc = {.web = w};
    if (!(srv = http_start(listen, &hc, threads, err, sizeof(err)))) {
        log_error("%s", err);
        goto out;
    }
    log_info("salesflow %s serving %s on http://%s", SF_VERSION, store_uri, listen);
    int sig;
    sigwait(&sigs, &sig);
    log_info("%s: shutting down", strsignal(sig));
    status = 0;
out:
    http_stop(srv);
    web_destroy(w);
    return status;
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc) {
        fprintf(stderr, "salesflow version: takes no arguments\n");
        return 2;
    }
    printf("salesflow %s\nlibmicrohttpd %s\nsqlite %s\njansson %s\nlibcurl %s\n",
           SF_VERSION, MHD_get_version(), sqlite3_libversion(), jansson_version_str(),
           LIBCURL_VERSION);
    return 0;
}

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "everything in one process: ingest + embedded log + process + web"},
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

/*
 * gen — load generator: posts random valid orders to URL/orderitem with
 * the original producer's distribution (customer 1–17, one of the three
 * sources, quantity 1–100), from --concurrency threads each holding one
 * keep-alive connection, optionally paced to --rate orders/s in total.
 *
 * --acked FILE appends the order_id of every 201 (one per line, flushed per
 * line) so crash tests can check that each acknowledged order was stored.
 *
 * --broker URI skips HTTP and produces the same orders, priced and stamped
 * as ingest would, straight to a broker (e.g. kafka://HOST:PORT/Order);
 * an order counts as created when the broker acks it.
 *
 * --batch N posts N orders at a time to URL/v1/orders as NDJSON instead;
 * --gzip compresses every body (Content-Encoding: gzip).
 *
 * SIGINT/SIGTERM stop sending: requests in flight are abandoned (counted
 * as neither created nor failed), the summary line is printed, and the
 * exit status is 128 + the signal (130 for Ctrl-C), as a shell expects.
 */
#include "broker/broker.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/coding.h"
#include "core/order.h"
#include "core/util.h"
#include "http/auth.h"
#include "store/store.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The signal that stopped the run, 0 while running. */
static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    stop_sig = sig;
}

/* curl's progress callback: abandon a request in flight once stopped. */
static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return stop_sig != 0;
}

#define AUTH_HEADER_MAX (AUTH_KEY_MAX + 32)

struct gen {
    const char *url, *api_key;
    int rate, concurrency;
    int batch, gzip;            /* --batch N (0: /orderitem), --gzip */
    int64_t count, seed;
    FILE *acked;
    pthread_mutex_t acked_mu;
    atomic_llong next;          /* next order number to send */
    atomic_llong created, rejected, errors;
    atomic_int finished;        /* workers done */
    int64_t start_ms;
};

struct worker {
    struct gen *g;
    int id;
    pthread_t t;
    struct sf_buf resp;         /* the answer's body */
};

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64*: fast, and the same --seed gives the same orders. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct worker *w = ud;
    size_t n = sz * nm;
    size_t room = w->resp.limit - w->resp.len;
    sf_buf_append(&w->resp, p, n < room ? n : room);  /* the rest is cut */
    return n;
}

/* Order number i of this seed: customer 1–17, a source, quantity 1–100. */
static void pick(const struct gen *g, int64_t i, int *cust, int *src, int *qty)
{
    uint64_t s = (uint64_t)g->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1;
    rnd(&s);
    *cust = (int)(rnd(&s) % 17) + 1;
    *src = (int)(rnd(&s) % 3);
    *qty = (int)(rnd(&s) % 100) + 1;
}

static void pace(const struct gen *g, int64_t i)
{
    if (g->rate <= 0)
        return;
    int64_t due = g->start_ms + i * 1000 / g->rate, now = sf_mono_ms();
    if (due > now) {
        struct timespec ts = {(due - now) / 1000, ((due - now) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void *worker_run(void *arg);

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    worker_run(arg);
    atomic_fetch_add(&w->g->finished, 1);
    return NULL;
}

/* The body of the request for orders [i, i + n): one order (/orderitem),
 * or n lines of NDJSON (--batch), gzip-compressed with --gzip into z. */
static int build_body(const struct gen *g, int64_t i, int64_t n, struct sf_buf *b,
                      struct sf_buf *z)
{
    b->len = 0;
    for (int64_t k = 0; k < n; k++) {
        int cust, src, qty;
        pick(g, i + k, &cust, &src, &qty);
        if (sf_buf_printf(b, "{\"customer_id\": %d, \"source\": \"%s\", \"quantity\": %d}%s",
                          cust, catalog_source(NULL, src), qty, g->batch ? "\n" : ""))
            return -1;
    }
    z->len = 0;
    return g->gzip ? coding_gzip(b->data, b->len, 6, z) : 0;
}

/* Append the order_ids of a 201's answer (one, or a batch's results). */
static void write_acked(struct gen *g, const char *resp)
{
    pthread_mutex_lock(&g->acked_mu);
    for (const char *id = resp; (id = strstr(id, "\"order_id\":\""));) {
        id += 12;
        const char *end = strchr(id, '"');
        if (!end)
            break;
        fprintf(g->acked, "%.*s\n", (int)(end - id), id);
        id = end;
    }
    fflush(g->acked);
    pthread_mutex_unlock(&g->acked_mu);
}

static CURL *worker_curl(struct worker *w, struct curl_slist **hdr, char *shown,
                         size_t shown_size, char *errbuf)
{
    const struct gen *g = w->g;
    char url[2048];
    CURL *c = curl_easy_init();
    *hdr = curl_slist_append(NULL, g->batch ? "Content-Type: application/x-ndjson"
                                            : "Content-Type: application/json");
    if (g->gzip)
        *hdr = curl_slist_append(*hdr, "Content-Encoding: gzip");
    if (g->api_key) {
        char auth[AUTH_HEADER_MAX];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->api_key);
        *hdr = curl_slist_append(*hdr, auth);
    }
    if (!c)
        return NULL;
    snprintf(url, sizeof(url), "%s%s", g->url, g->batch ? "/v1/orders" : "/orderitem");
    store_uri_redact(url, shown, shown_size);   /* errors never show a password */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return c;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct gen *g = w->g;
    char shown[2048], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdr = NULL;
    struct sf_buf body, z;
    sf_buf_init(&body, (size_t)64 << 20);
    sf_buf_init(&z, (size_t)64 << 20);
    sf_buf_init(&w->resp, (size_t)64 << 20);
    CURL *c = worker_curl(w, &hdr, shown, sizeof(shown), errbuf);
    int64_t per = g->batch ? g->batch : 1;

    while (c && !stop_sig) {
        int64_t i = atomic_fetch_add(&g->next, per);
        if (g->count && i >= g->count)
            break;
        int64_t n = g->count && g->count - i < per ? g->count - i : per;
        pace(g, i);
        if (build_body(g, i, n, &body, &z)) {
            log_error("gen: out of memory");
            break;
        }
        const struct sf_buf *send = g->gzip ? &z : &body;
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)send->len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, send->data);
        w->resp.len = 0;
        if (w->resp.data)
            w->resp.data[0] = '\0';
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc == CURLE_ABORTED_BY_CALLBACK)
            break;      /* stopped by a signal: outcome unknown, not counted */
        if (rc != CURLE_OK) {
            atomic_fetch_add(&g->errors, n);
            if (atomic_load(&g->errors) <= 3 * per)
                log_error("gen: %s: %s", shown, errbuf[0] ? errbuf : curl_easy_strerror(rc));
            continue;
        }
        if (code != 201) {
            atomic_fetch_add(&g->rejected, n);
            if (atomic_load(&g->rejected) <= 3 * per)
                log_error("gen: HTTP %ld: %.500s", code, w->resp.data ? w->resp.data : "");
            continue;
        }
        atomic_fetch_add(&g->created, n);
        if (g->acked && w->resp.data)
            write_acked(g, w->resp.data);
    }
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    sf_buf_free(&body);
    sf_buf_free(&z);
    sf_buf_free(&w->resp);
    return NULL;
}

/* --broker: one order's ack. */
struct sent {
    struct gen *g;
    char id[SF_ORDER_ID_MAX + 1];
};

static void on_broker_ack(void *opaque, int err, int partition, int64_t offset)
{
    struct sent *m = opaque;
    struct gen *g = m->g;
    (void)partition;
    (void)offset;
    if (err) {
        if (atomic_fetch_add(&g->rejected, 1) < 3)
            log_error("gen: not stored: %s", broker_strerror(err));
    } else {
        atomic_fetch_add(&g->created, 1);
        if (g->acked) {
            pthread_mutex_lock(&g->acked_mu);
            fprintf(g->acked, "%s\n", m->id);
            fflush(g->acked);
            pthread_mutex_unlock(&g->acked_mu);
        }
    }
    free(m);
}

/* Produce the orders straight to the broker at uri. */
static void gen_broker(struct gen *g, const char *uri, struct broker_conf *bc)
{
    char err[1024];
    struct sf_buf enc;
    bc->role = BROKER_ROLE_PRODUCE;
    struct broker *b = broker_open(uri, bc, err, sizeof(err));
    if (!b) {
        log_error("gen: %s", err);
        atomic_fetch_add(&g->errors, 1);
        return;
    }
    sf_buf_init(&enc, SF_ORDER_JSON_MAX * 2);
    for (int64_t i = 0; (!g->count || i < g->count) && !stop_sig; i++) {
        int cust, src, qty;
        struct order o = {0};
        struct sent *m = malloc(sizeof(*m));
        pace(g, i);
        pick(g, i, &cust, &src, &qty);
        o.customer_id = cust;
        o.source = src;
        o.quantity = qty;
        o.total_cents = (int64_t)qty * SF_DEFAULT_UNIT_PRICE_CENTS;
        o.created_ms = sf_now_ms();
        uuid_v7(o.created_ms, o.order_id);
        enc.len = 0;
        if (!m || order_encode(&o, NULL, &enc)) {
            free(m);
            atomic_fetch_add(&g->errors, 1);
            continue;
        }
        m->g = g;
        memcpy(m->id, o.order_id, sizeof(m->id));
        int rc;
        while ((rc = broker_produce(b, cust, enc.data, enc.len, on_broker_ack, m)) ==
               BROKER_EFULL) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        if (rc) {
            if (atomic_fetch_add(&g->rejected, 1) < 3)
                log_error("gen: %s: %s", uri, broker_strerror(rc));
            free(m);
        }
    }
    broker_flush(b);    /* every ack is in */
    broker_close(b);
    sf_buf_free(&enc);
}

/* Progress toward --count counts requests answered either way; with no
 * count (run until stopped) it counts the orders created, and a failure is
 * never shown as an order. */
static void progress(struct gen *g, int tty, int final)
{
    long long created = atomic_load(&g->created);
    if (!g->count) {
        sf_progress("gen", "orders created", tty, created, 0, g->start_ms, final);
        return;
    }
    sf_progress("gen", "orders sent", tty, created + atomic_load(&g->rejected) +
                atomic_load(&g->errors), g->count, g->start_ms, final);
}

/* --api-key: one key as ingest takes it (visible ASCII, no spaces). */
static int opt_api_key(const char *val, void *dst, char *err, size_t n)
{
    size_t len = strlen(val);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)val[i] <= 0x20 || (unsigned char)val[i] > 0x7e)
            len = 0;
    if (len == 0 || len > AUTH_KEY_MAX) {
        snprintf(err, n, "an API key is 1..%d visible ASCII characters", AUTH_KEY_MAX);
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

/* Send the orders: from --concurrency workers over HTTP, or straight to
 * the broker, showing progress until all are done. */
static void gen_run(struct gen *g, const char *broker_uri, struct broker_conf *bc)
{
    struct worker *w = broker_uri ? NULL : calloc((size_t)g->concurrency, sizeof(*w));
    g->start_ms = sf_mono_ms();
    int started = 0;
    if (broker_uri)
        gen_broker(g, broker_uri, bc);
    for (int i = 0; w && i < g->concurrency; i++) {
        w[i].g = g;
        w[i].id = i;
        if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) == 0)
            started++;
    }
    /* Progress while the workers run: a bar on a terminal, a line every 2 s
     * otherwise (and none for short runs). */
    int tty = isatty(2);
    int64_t last = sf_mono_ms();
    while (started && atomic_load(&g->finished) < started) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        if (!tty && sf_mono_ms() - last < 2000)
            continue;
        last = sf_mono_ms();
        progress(g, tty, 0);
    }
    if (tty && started && sf_mono_ms() - g->start_ms >= 200)
        progress(g, tty, 1);
    for (int i = 0; i < started; i++)
        pthread_join(w[i].t, NULL);
    free(w);
}

int cmd_gen(struct args *a, int argc, char **argv)
{
    struct gen g = {0};
    const char *acked = NULL, *broker_uri = NULL;
    struct broker_conf bc = {.queue_max = 100000};
    int rate = 0;
    const struct opt opts[] = {
        {"url", "URL", "server base URL, e.g. http://127.0.0.1:8080 (required "
         "unless --broker)", opt_str, &g.url},
        {"api-key", "KEY", "send Authorization: Bearer KEY, for a server that requires "
         "API keys", opt_api_key, &g.api_key},
        {"broker", "URI", "produce straight to this broker instead, e.g. "
         "kafka://127.0.0.1:9092/Order", opt_broker_uri, &broker_uri},
        {"kafka-opt", "KEY=VALUE", "librdkafka setting for a kafka:// broker; repeatable",
         broker_opt_kafka, &bc},
        {"create-topic", "PARTITIONS", "create a missing Kafka topic with this many "
         "partitions", opt_int, &bc.create_topic},
        {"rate", "N", "orders per second in total (default: as fast as possible)", opt_int, &rate},
        {"count", "N", "orders to send; 0 = until interrupted (default {1000})",
         opt_int64, &g.count},
        {"seed", "S", "random seed: the same seed sends the same orders (default {0})",
         opt_int64, &g.seed},
        {"concurrency", "N", "parallel connections (default {4})",
         opt_int, &g.concurrency},
        {"acked", "FILE", "append the order_id of every 201 to FILE", opt_str, &acked},
        {"batch", "N", "post N orders at a time to URL/v1/orders as NDJSON (default: "
         "one at a time to URL/orderitem)", opt_int, &g.batch},
        {"gzip", NULL, "compress every request body (Content-Encoding: gzip)", opt_switch,
         &g.gzip},
    };
    int rc = args_parse(a, "gen", "Post random valid orders to URL/orderitem and report "
                        "how many got 201. Exit status 1 if any did not; 128+SIGNAL (130 for Ctrl-C) "
                        "when stopped by a signal, after the summary.",
                        opts, SF_ARRAY_LEN(opts), argc, argv, NULL, 0, NULL);
    if (rc)
        return rc == ARGS_HELP ? 0 : 2;
    if (!g.url && !broker_uri) {
        fprintf(stderr, "salesflow gen: --url is required (e.g. --url http://127.0.0.1:8080)\n");
        return 2;
    }
    if (g.batch < 0 || (g.batch && broker_uri)) {
        fprintf(stderr, "salesflow gen: --batch takes N >= 1, with --url only\n");
        return 2;
    }
    g.rate = rate;
    if (!g.url)
        g.url = broker_uri;
    size_t ul = strlen(g.url);
    char *url = strdup(g.url);
    while (ul && url[ul - 1] == '/')
        url[--ul] = '\0';
    g.url = url;
    if (acked && !(g.acked = fopen(acked, "a"))) {
        perror(acked);
        free(url);
        return 1;
    }
    pthread_mutex_init(&g.acked_mu, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    gen_run(&g, broker_uri, &bc);
    double secs = (double)(sf_mono_ms() - g.start_ms) / 1000.0;
    long long created = atomic_load(&g.created), rejected = atomic_load(&g.rejected),
              errors = atomic_load(&g.errors);
    printf("gen: %lld sent, %lld created (%s), %lld failed (%lld %s errors, "
           "%lld connection errors) in %.2f s, %.0f orders/s\n",
           created + rejected + errors, created, broker_uri ? "acked" : "201",
           rejected + errors, rejected, broker_uri ? "broker" : "HTTP", errors,
           secs, secs > 0 ? (double)(created + rejected + errors) / secs : 0.0);
    free(url);
    if (g.acked)
        fclose(g.acked);
    curl_global_cleanup();
    if (stop_sig)
        return 128 + stop_sig;
    return rejected + errors ? 1 : 0;
}

/*
 * kafka — the broker backend for a Kafka cluster, through librdkafka.
 *
 * URI: kafka://HOST:PORT[,HOST:PORT…]/TOPIC (topic default "Order"). One
 * handle holds up to two librdkafka clients, opened by broker_conf.role:
 *
 * Producer (ingest). Idempotent (enable.idempotence=true, acks=all), so a
 * delivery report without error means every in-sync replica has the
 * message, exactly once, in order per partition; that report is the ack,
 * and so the HTTP 201. The key is the decimal customer_id and the
 * partitioner murmur2_random, the partition Java and kafka-python
 * producers pick for the same key. A thread serves the delivery reports.
 * Back-pressure is ours, not librdkafka's: at most queue_max messages are
 * in flight, a produce_batch() either fits whole or gets BROKER_EFULL, and
 * librdkafka's own queue is sized above that so it never refuses half a
 * batch. When every broker is down (error callback ALL_BROKERS_DOWN,
 * confirmed by a metadata request that gets no answer within 1 s) new
 * produces fail at once with BROKER_EUNAVAIL (HTTP 503) instead of
 * queueing for message.timeout.ms; the thread probes the cluster twice a
 * second and lifts that as soon as a broker answers. Messages already
 * queued wait for their delivery report (at most message.timeout.ms,
 * 15 s by default); one that times out is acked BROKER_EUNAVAIL. If the
 * idempotent producer hits a fatal error it is rebuilt in place (its
 * pending messages fail, 503), so ingest recovers without a restart.
 *
 * Consumer (process). With a group (broker_conf.group) it subscribes to
 * the topic on the first poll(); the rebalance callback, which librdkafka
 * runs inside poll(), calls the processor's assign callback, which reads
 * its positions from the store and seek()s — those offsets go into the
 * assignment itself, so reading starts exactly there. Kafka's committed
 * offsets are never read: retain() commits asynchronously as a hint for
 * lag tools and ignores the result. Eager and cooperative rebalancing both
 * work (assign vs incremental_assign). Records of revoked partitions that
 * the current poll() had collected are dropped before it returns. Without
 * a group, seek() builds a manual assignment (every partition the caller
 * seeks), applied at the next poll().
 *
 * scan() (the idempotency index at ingest start, `salesflow replay`) uses
 * a short-lived consumer outside any group and reads every partition from
 * the first offset at or after since_ms up to its high watermark as of the
 * start; partitions interleave, each in offset order.
 *
 * --kafka-opt key=value settings are applied after our defaults, to both
 * clients ("producer.KEY=VALUE" / "consumer.KEY=VALUE": to one), so they
 * can tune anything (security, SASL, TLS, linger, compression, session
 * timeouts) — except enable.idempotence and acks, which the 201 guarantee
 * depends on. Our producer defaults differ from librdkafka's in
 * linger.ms=1 (a 201 waits for its batch), message.timeout.ms=15000 (an
 * HTTP client waits for its answer) and partitioner=murmur2_random; both
 * clients reconnect within 2 s (reconnect.backoff.max.ms=2000).
 *
 * At open the topic's metadata is fetched: a missing topic is an error
 * naming it and how to create it, or, with create_topic, it is created
 * through the admin API (CreateTopics, replication factor: the brokers'
 * default).
 */
#include "broker/broker.h"
#include "core/stats.h"
#include "core/util.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KAFKA_META_TIMEOUT_MS 10000
#define KAFKA_MSG_TIMEOUT_DEFAULT "15000"
#define KAFKA_QUEUE_DEFAULT 100000
#define KAFKA_RDK_QUEUE_MAX 10000000   /* librdkafka's queue.buffering.max.messages limit */
#define KAFKA_CLOSE_TIMEOUT_MS 10000    /* leaving the group at close, at most */
#define KAFKA_ENDS_EVERY_MS 1000        /* the lag thread's high watermark queries */
#define KAFKA_ENDS_TIMEOUT_MS 2000      /* one query, at most */

struct kafka_ack {
    broker_ack_cb cb;
    void *opaque;
};

struct kafka_broker {
    struct broker base;
    char hosts[1024];
    char topic[256];
    char group[256];            /* "" = no group */
    char **opts;                /* "key=value" copies */
    size_t nopts;
    int nparts;
    int64_t msg_timeout_ms;

    /* Producer. */
    pthread_rwlock_t plock;     /* write-held only to swap a dead producer */
    rd_kafka_t *prod;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    int producing;              /* this handle has a producer */
    int poller_started;
    atomic_int stop, closed, fatal;
    atomic_int suspect;         /* librdkafka says every broker is down */
    atomic_int down;            /* confirmed: produces fail fast (503) */
    atomic_long inflight;
    long queue_max;
    int64_t last_probe_ms;

    /* Consumer (used by the polling thread only). */
    rd_kafka_t *cons;
    int subscribed;
    rd_kafka_message_t **held;  /* records of the last poll() */
    size_t nheld, held_cap;
    broker_assign_cb acb;
    void *aopaque;
    rd_kafka_topic_partition_list_t *pending; /* being assigned (in the cb) */
    rd_kafka_topic_partition_list_t *manual;  /* group-less assignment */
    int manual_dirty;
    unsigned char *owned;       /* [owned_n]: 1 if assigned to us */
    int64_t *hinted;            /* [owned_n]: last offset committed as hint */
    int owned_n;
    int64_t ends_ms;            /* last copy of the high watermarks to stats */
    char ident[160];            /* "kafka-<cluster id>" (consumers), else "" */

    /* The lag thread: asks the partition leaders for the high watermarks
     * of the partitions this member owns (watch[], under ends_mu), so the
     * lag shows even while the processor is stuck on its store or a
     * partition delivers nothing. */
    pthread_mutex_t ends_mu;
    unsigned char watch[SF_STATS_PARTITIONS];
    pthread_t ends_thread;
    int ends_started;
    atomic_int ends_stop;

    /* Error-log rate limiting (any thread). */
    pthread_mutex_t log_mu;
    int last_err;
    int64_t last_err_ms;
};

static struct kafka_broker *kb_of(struct broker *b)
{
    return (struct kafka_broker *)b;
}

const char *broker_kafka_version(void)
{
    return rd_kafka_version_str();
}

/* ---- configuration ------------------------------------------------------ */

/* Parse "//HOSTS[/TOPIC]" (the URI after "kafka:"). */
static int parse_where(struct kafka_broker *kb, const char *where, char *errstr,
                       size_t n)
{
    if (strncmp(where, "//", 2) != 0)
        return sf_err(-1, errstr, n, "Kafka broker URI \"kafka:%s\": expected "
                      "kafka://HOST:PORT[,HOST:PORT…][/TOPIC]", where);
    const char *h = where + 2, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof(kb->hosts))
        return sf_err(-1, errstr, n, "Kafka broker URI \"kafka:%s\": no or too long "
                      "HOST:PORT list", where);
    memcpy(kb->hosts, h, hl);
    kb->hosts[hl] = '\0';
    const char *t = slash && slash[1] ? slash + 1 : SF_TOPIC_DEFAULT;
    size_t tl = strlen(t);
    if (tl > 249)
        return sf_err(-1, errstr, n, "Kafka topic name \"%s\" is longer than 249 "
                      "characters", t);
    for (size_t i = 0; i < tl; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return sf_err(-1, errstr, n, "Kafka topic name \"%s\": only letters, "
                          "digits, '.', '_' and '-' are allowed", t);
    }
    memcpy(kb->topic, t, tl + 1);
    return 0;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level <= 3)
        log_error("kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
    else if (level == 4)
        log_warn("kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
    else
        log_info("kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Log err unless the same error was logged in the last 10 s. */
static void log_limited(struct kafka_broker *kb, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_limited(struct kafka_broker *kb, int err, const char *fmt, ...)
{
    int64_t now = sf_mono_ms();
    pthread_mutex_lock(&kb->log_mu);
    int skip = err == kb->last_err && now - kb->last_err_ms < 10000;
    if (!skip) {
        kb->last_err = err;
        kb->last_err_ms = now;
    }
    pthread_mutex_unlock(&kb->log_mu);
    if (skip)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("%s", msg);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_broker *kb = opaque;
    int producer = rd_kafka_type(rk) == RD_KAFKA_PRODUCER;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        log_error("kafka %s: fatal error: %s", rd_kafka_name(rk), why);
        if (producer) {
            atomic_store(&kb->fatal, 1);
            atomic_store(&kb->down, 1);
        }
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && producer) {
        atomic_store(&kb->suspect, 1);  /* the delivery thread checks */
        return;
    }
    /* Connection failures are in librdkafka's own log lines already. */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE ||
        err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        return;
    log_limited(kb, err, "kafka %s: %s", rd_kafka_name(rk), reason);
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr,
                    size_t n)
{
    char e[512];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK)
        return sf_err(-1, errstr, n, "Kafka setting %s=%s: %s", k, v, e);
    return 0;
}

/* A configuration with our defaults, then the user's --kafka-opt. */
static rd_kafka_conf_t *make_conf(struct kafka_broker *kb, int consumer,
                                  const char *group, char *errstr, size_t n)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char qmax[32];
    long rdk_q = kb->queue_max * 2 + 1000;
    snprintf(qmax, sizeof(qmax), "%ld", rdk_q > KAFKA_RDK_QUEUE_MAX ? KAFKA_RDK_QUEUE_MAX
                                                                    : rdk_q);
    const char *defaults[][2] = {
        {"bootstrap.servers", kb->hosts},
        {"client.id", "salesflow"},
        {"log.connection.close", "false"},
        /* Back within 2 s of a broker's return, not librdkafka's 10 s. */
        {"reconnect.backoff.max.ms", "2000"},
    };
    /* Consumers never create topics by default; setting it explicitly only
     * makes librdkafka warn about old brokers. */
    const char *prod_defaults[][2] = {
        {"allow.auto.create.topics", "false"},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"partitioner", "murmur2_random"},
        {"message.timeout.ms", KAFKA_MSG_TIMEOUT_DEFAULT},
        {"queue.buffering.max.messages", qmax},
        /* A 201 waits for its batch: 1 ms beat librdkafka's 5 ms by 3.5x
         * in requests/s for single orders (bench/kafka.sh). */
        {"linger.ms", "1"},
    };
    const char *cons_defaults[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
    };
    rd_kafka_conf_set_log_cb(c, on_log);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_opaque(c, kb);
    for (size_t i = 0; i < SF_ARRAY_LEN(defaults); i++)
        if (conf_set(c, defaults[i][0], defaults[i][1], errstr, n))
            goto fail;
    for (size_t i = 0; !consumer && i < SF_ARRAY_LEN(prod_defaults); i++)
        if (conf_set(c, prod_defaults[i][0], prod_defaults[i][1], errstr, n))
            goto fail;
    for (size_t i = 0; consumer && i < SF_ARRAY_LEN(cons_defaults); i++)
        if (conf_set(c, cons_defaults[i][0], cons_defaults[i][1], errstr, n))
            goto fail;
    /* A consumer that only assigns still needs a group.id for librdkafka
     * 2.0 to (re)assign; it never joins or commits to it. */
    if (consumer && conf_set(c, "group.id", group ? group : "salesflow-reader", errstr, n))
        goto fail;
    for (size_t i = 0; i < kb->nopts; i++) {
        char k[256];
        const char *eq = strchr(kb->opts[i], '='), *v = eq + 1;
        snprintf(k, sizeof(k), "%.*s", (int)(eq - kb->opts[i]), kb->opts[i]);
        int rc = 0;
        if (!strcmp(k, "enable.idempotence") && strcmp(v, "true"))
            rc = sf_err(-1, errstr, n, "--kafka-opt %s=%s: salesflow needs "
                        "enable.idempotence=true for exactly-once ingestion", k, v);
        else if (!strcmp(k, "acks") && strcmp(v, "all") && strcmp(v, "-1"))
            rc = sf_err(-1, errstr, n, "--kafka-opt %s=%s: salesflow answers 201 only "
                        "once all in-sync replicas have an order (acks=all)", k, v);
        else if (!strcmp(k, "group.id") && consumer && group)
            rc = sf_err(-1, errstr, n, "--kafka-opt group.id=%s: use --group instead", v);
        /* Producer- or consumer-only settings go to the client they fit. */
        else if (!strcmp(k, "message.timeout.ms") || !strcmp(k, "delivery.timeout.ms")) {
            if (!consumer && !(rc = conf_set(c, k, v, errstr, n)))
                kb->msg_timeout_ms = atoll(v);
        } else if (!strncmp(k, "producer.", 9) || !strncmp(k, "consumer.", 9)) {
            if ((k[0] == 'c') == consumer)
                rc = conf_set(c, k + 9, v, errstr, n);
        } else
            rc = conf_set(c, k, v, errstr, n);
        if (rc)
            goto fail;
    }
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

/* ---- metadata and topic creation ---------------------------------------- */

static int create_topic(struct kafka_broker *kb, rd_kafka_t *rk, int parts,
                        char *errstr, size_t n)
{
    char e[512];
    int rc = -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(kb->topic, parts, -1, e, sizeof(e));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    if (!nt)
        return sf_err(-1, errstr, n, "creating Kafka topic %s: %s", kb->topic, e);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, KAFKA_META_TIMEOUT_MS, e, sizeof(e));
    rd_kafka_AdminOptions_set_request_timeout(ao, KAFKA_META_TIMEOUT_MS, e, sizeof(e));
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    ev = rd_kafka_queue_poll(q, KAFKA_META_TIMEOUT_MS + 5000);
    if (!ev) {
        sf_err(-1, errstr, n, "creating Kafka topic %s on %s: no answer (create it "
               "with your Kafka tools instead)", kb->topic, kb->hosts);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        sf_err(-1, errstr, n, "creating Kafka topic %s on %s: %s (create it with your "
               "Kafka tools instead)", kb->topic, kb->hosts, rd_kafka_event_error_string(ev));
        goto out;
    }
    size_t cnt;
    int existed = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        existed |= err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            sf_err(-1, errstr, n, "creating Kafka topic %s on %s: %s", kb->topic,
                   kb->hosts, rd_kafka_topic_result_error_string(res[i])
                   ? rd_kafka_topic_result_error_string(res[i]) : rd_kafka_err2str(err));
            goto out;
        }
    }
    if (!existed)
        log_info("kafka: created topic %s with %d partitions on %s", kb->topic, parts,
                 kb->hosts);
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* --create-topic: CreateTopics through a short-lived client of its own,
 * before any metadata request names the topic; one that exists already is
 * fine (check_topic then reads its partition count). */
static int create_first(struct kafka_broker *kb, int parts, char *errstr, size_t n)
{
    char e[512];
    rd_kafka_conf_t *c = make_conf(kb, 0, NULL, errstr, n);
    rd_kafka_t *rk;
    if (!c)
        return -1;
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e)))) {
        rd_kafka_conf_destroy(c);
        return sf_err(-1, errstr, n, "Kafka client for %s: %s", kb->hosts, e);
    }
    /* Brokers and controller only: this client knows no topic yet. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, KAFKA_META_TIMEOUT_MS);
    int rc = err ? sf_err(-1, errstr, n, "cannot reach Kafka at %s: %s", kb->hosts,
                          rd_kafka_err2str(err))
                 : create_topic(kb, rk, parts, errstr, n);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* Fill kb->nparts from the topic's metadata; 1 if the topic is missing. */
static int topic_partitions(struct kafka_broker *kb, rd_kafka_t *rk, char *errstr,
                            size_t n)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, kb->topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, KAFKA_META_TIMEOUT_MS);
    int rc = 0;
    rd_kafka_topic_destroy(t);
    if (err)
        return sf_err(-1, errstr, n, "cannot reach Kafka at %s: %s", kb->hosts,
                      rd_kafka_err2str(err));
    if (md->topic_cnt < 1 ||
        md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        (md->topics[0].err == 0 && md->topics[0].partition_cnt == 0)) {
        rc = 1;
    } else if (md->topics[0].err) {
        rc = sf_err(-1, errstr, n, "Kafka topic %s on %s: %s", kb->topic, kb->hosts,
                    rd_kafka_err2str(md->topics[0].err));
    } else {
        kb->nparts = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

static int check_topic(struct kafka_broker *kb, rd_kafka_t *rk, int create,
                       char *errstr, size_t n)
{
    int rc = topic_partitions(kb, rk, errstr, n);
    if (rc <= 0)
        return rc;
    if (create <= 0)
        return sf_err(-1, errstr, n, "Kafka topic %s does not exist on %s: create it, "
                      "e.g. kafka-topics.sh --bootstrap-server %s --create --topic %s "
                      "--partitions 6 --replication-factor 3, or pass --create-topic "
                      "PARTITIONS", kb->topic, kb->hosts, kb->hosts, kb->topic);
    if (create_topic(kb, rk, create, errstr, n))
        return -1;
    /* A new topic takes a moment to show up in every broker's metadata. */
    for (int i = 0; i < 50; i++) {
        if ((rc = topic_partitions(kb, rk, errstr, n)) <= 0)
            return rc;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return sf_err(-1, errstr, n, "Kafka topic %s was created on %s but does not show "
                  "up in its metadata", kb->topic, kb->hosts);
}

/* ---- producer ----------------------------------------------------------- */

static int map_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL: return BROKER_EFULL;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: return BROKER_ETOOBIG;
    case RD_KAFKA_RESP_ERR__DESTROY: return BROKER_ECLOSED;
    default: return BROKER_EUNAVAIL;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka_broker *kb = opaque;
    struct kafka_ack *a = m->_private;
    (void)rk;
    if (m->err)
        log_limited(kb, m->err, "kafka: an order to %s [%d] was not stored: %s",
                    kb->topic, (int)m->partition, rd_kafka_err2str(m->err));
    a->cb(a->opaque, m->err ? map_err(m->err) : 0, (int)m->partition, m->offset);
    free(a);
    atomic_fetch_sub(&kb->inflight, 1);
}

static int new_producer(struct kafka_broker *kb, char *errstr, size_t n)
{
    char e[512];
    rd_kafka_conf_t *c = make_conf(kb, 0, NULL, errstr, n);
    if (!c)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    if (!(kb->prod = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e)))) {
        rd_kafka_conf_destroy(c);
        return sf_err(-1, errstr, n, "Kafka producer for %s: %s", kb->hosts, e);
    }
    kb->rkt = rd_kafka_topic_new(kb->prod, kb->topic, NULL);
    return 0;
}

/* Replace a producer that hit a fatal error: its messages fail (503). */
static void rebuild_producer(struct kafka_broker *kb)
{
    char err[512];
    pthread_rwlock_wrlock(&kb->plock);
    rd_kafka_purge(kb->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(kb->prod, 5000);
    rd_kafka_poll(kb->prod, 0);
    rd_kafka_topic_destroy(kb->rkt);
    rd_kafka_destroy(kb->prod);
    kb->prod = NULL;
    kb->rkt = NULL;
    for (;;) {
        if (new_producer(kb, err, sizeof(err)) == 0)
            break;
        log_error("kafka: recreating the producer: %s; retrying", err);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    atomic_store(&kb->fatal, 0);
    pthread_rwlock_unlock(&kb->plock);
    log_info("kafka: producer recreated after a fatal error");
}

/* Does a broker answer a metadata request for the topic within 1 s? */
static int reachable(struct kafka_broker *kb)
{
    const struct rd_kafka_metadata *md = NULL;
    kb->last_probe_ms = sf_mono_ms();
    pthread_rwlock_rdlock(&kb->plock);
    rd_kafka_resp_err_t err = rd_kafka_metadata(kb->prod, 0, kb->rkt, &md, 1000);
    pthread_rwlock_unlock(&kb->plock);
    if (err)
        return 0;
    int ok = md->topic_cnt == 1 && md->topics[0].err == 0;
    rd_kafka_metadata_destroy(md);
    return ok;
}

/* The producer's thread: delivery reports, recovery from outages. Every
 * broker down (librdkafka also says so when brokers closed idle
 * connections) is confirmed with a metadata request before produces fail
 * fast; while down, the cluster is probed twice a second. */
static void *poller_main(void *arg)
{
    struct kafka_broker *kb = arg;
    while (!atomic_load(&kb->stop)) {
        pthread_rwlock_rdlock(&kb->plock);
        rd_kafka_poll(kb->prod, 100);
        pthread_rwlock_unlock(&kb->plock);
        if (atomic_load(&kb->fatal))
            rebuild_producer(kb);
        if (atomic_exchange(&kb->suspect, 0) && !atomic_load(&kb->down) &&
            !reachable(kb)) {
            atomic_store(&kb->down, 1);
            log_warn("kafka: no broker of %s is reachable: orders get 503 until one "
                     "is back", kb->hosts);
        }
        if (atomic_load(&kb->down) && sf_mono_ms() - kb->last_probe_ms >= 500 &&
            reachable(kb) && atomic_exchange(&kb->down, 0))
            log_info("kafka: %s reachable again: accepting orders", kb->hosts);
    }
    return NULL;
}

/* Reserve room for n messages, or say why not (no ack will follow). */
static int admit(struct kafka_broker *kb, size_t n)
{
    if (!kb->producing || atomic_load(&kb->closed))
        return BROKER_ECLOSED;
    if (atomic_load(&kb->down) || atomic_load(&kb->fatal))
        return BROKER_EUNAVAIL;
    if (atomic_fetch_add(&kb->inflight, (long)n) + (long)n > kb->queue_max) {
        atomic_fetch_sub(&kb->inflight, (long)n);
        return BROKER_EFULL;
    }
    return 0;
}

/* Queue one message (plock read-held, inflight already counted). */
static int produce_one(struct kafka_broker *kb, int64_t key, const char *value,
                       size_t len, broker_ack_cb cb, void *opaque)
{
    char kbuf[24];
    int kl = snprintf(kbuf, sizeof(kbuf), "%" PRId64, key);
    struct kafka_ack *a = malloc(sizeof(*a));
    if (!a)
        return BROKER_EFULL;
    a->cb = cb;
    a->opaque = opaque;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        kb->prod, RD_KAFKA_V_RKT(kb->rkt), RD_KAFKA_V_KEY(kbuf, (size_t)kl),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(a), RD_KAFKA_V_END);
    if (err) {
        free(a);
        return map_err(err);
    }
    return 0;
}

static int kafka_produce(struct broker *b, int64_t key, const char *value, size_t len,
                         broker_ack_cb cb, void *opaque)
{
    struct kafka_broker *kb = kb_of(b);
    int rc = admit(kb, 1);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&kb->plock);
    rc = produce_one(kb, key, value, len, cb, opaque);
    pthread_rwlock_unlock(&kb->plock);
    if (rc)
        atomic_fetch_sub(&kb->inflight, 1);
    return rc;
}

static int kafka_produce_batch(struct broker *b, const struct broker_msg *msgs,
                               size_t n, broker_ack_cb cb)
{
    struct kafka_broker *kb = kb_of(b);
    int rc = admit(kb, n);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&kb->plock);
    for (size_t i = 0; i < n; i++) {
        /* Room was reserved for all, so librdkafka's queue has it too; a
         * message it still refuses (too large) gets its failed ack here. */
        int err = produce_one(kb, msgs[i].key, msgs[i].value, msgs[i].len, cb,
                              msgs[i].opaque);
        if (err) {
            atomic_fetch_sub(&kb->inflight, 1);
            cb(msgs[i].opaque, err, -1, -1);
        }
    }
    pthread_rwlock_unlock(&kb->plock);
    return 0;
}

static void kafka_flush(struct broker *b)
{
    struct kafka_broker *kb = kb_of(b);
    if (!kb->producing)
        return;
    atomic_store(&kb->closed, 1);
    /* Every message gets its report within message.timeout.ms. */
    int64_t deadline = sf_mono_ms() + kb->msg_timeout_ms + 10000;
    while (atomic_load(&kb->inflight) > 0 && sf_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&kb->inflight) > 0)
        log_error("kafka: %ld orders still without a delivery report at shutdown",
                  atomic_load(&kb->inflight));
}

/* ---- consumer ----------------------------------------------------------- */

static void release_held(struct kafka_broker *kb)
{
    for (size_t i = 0; i < kb->nheld; i++)
        rd_kafka_message_destroy(kb->held[i]);
    kb->nheld = 0;
}

static int grow_owned(struct kafka_broker *kb, int p)
{
    if (p < kb->owned_n)
        return 0;
    int n = p + 1 > kb->nparts ? p + 1 : kb->nparts;
    unsigned char *o = realloc(kb->owned, (size_t)n);
    if (!o)
        return -1;
    kb->owned = o;
    int64_t *h = realloc(kb->hinted, (size_t)n * sizeof(*h));
    if (!h)
        return -1;
    kb->hinted = h;
    for (int i = kb->owned_n; i < n; i++) {
        kb->owned[i] = 0;
        kb->hinted[i] = -1;
    }
    kb->owned_n = n;
    return 0;
}

/* The partition numbers of our topic in list (malloc()ed), count in *n. */
static int *part_ids(struct kafka_broker *kb, const rd_kafka_topic_partition_list_t *l,
                     int *n)
{
    int *ids = malloc((size_t)(l->cnt ? l->cnt : 1) * sizeof(*ids));
    *n = 0;
    for (int i = 0; ids && i < l->cnt; i++)
        if (!strcmp(l->elems[i].topic, kb->topic))
            ids[(*n)++] = l->elems[i].partition;
    return ids;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kafka_broker *kb = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    int n;
    int *ids = part_ids(kb, parts, &n);
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t aerr = 0;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (kb->acb && ids && n) {
            kb->pending = parts;
            kb->acb(kb->aopaque, ids, n, 1);    /* seeks set the offsets */
            kb->pending = NULL;
        }
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        for (int i = 0; ids && i < n; i++)
            if (!grow_owned(kb, ids[i])) {
                kb->owned[ids[i]] = 1;
                kb->hinted[ids[i]] = -1;
            }
        pthread_mutex_lock(&kb->ends_mu);
        for (int i = 0; ids && i < n; i++)
            if (ids[i] >= 0 && ids[i] < SF_STATS_PARTITIONS)
                kb->watch[ids[i]] = 1;
        pthread_mutex_unlock(&kb->ends_mu);
        log_info("kafka: group %s assigned %d partition(s) of %s to this process",
                 kb->group, n, kb->topic);
    } else {
        /* Revoked or lost: nothing read from them may be applied now. */
        size_t k = 0;
        for (size_t i = 0; i < kb->nheld; i++) {
            int drop = 0;
            for (int j = 0; ids && j < n && !drop; j++)
                drop = kb->held[i]->partition == ids[j];
            if (drop)
                rd_kafka_message_destroy(kb->held[i]);
            else
                kb->held[k++] = kb->held[i];
        }
        kb->nheld = k;
        if (kb->acb && ids && n)
            kb->acb(kb->aopaque, ids, n, 0);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        for (int i = 0; ids && i < n; i++)
            if (ids[i] < kb->owned_n)
                kb->owned[ids[i]] = 0;
        /* Not ours any more: no log end (nor lag) exported for them. */
        pthread_mutex_lock(&kb->ends_mu);
        for (int i = 0; ids && i < n; i++)
            if (ids[i] >= 0 && ids[i] < SF_STATS_PARTITIONS) {
                kb->watch[ids[i]] = 0;
                sf_stats_log_end_forget(ids[i]);
            }
        pthread_mutex_unlock(&kb->ends_mu);
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            log_warn("kafka: group %s: rebalance error: %s", kb->group,
                     rd_kafka_err2str(err));
        log_info("kafka: group %s took %d partition(s) of %s from this process%s",
                 kb->group, n, kb->topic,
                 rd_kafka_assignment_lost(rk) ? " (lost)" : "");
    }
    if (e) {
        log_error("kafka: group %s: assignment failed: %s", kb->group,
                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    if (aerr)
        log_error("kafka: group %s: assignment failed: %s", kb->group,
                  rd_kafka_err2str(aerr));
    free(ids);
}

/* Commits are hints; a failed one (e.g. during a rebalance) is fine. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)err;
    (void)offsets;
    (void)opaque;
}

static rd_kafka_t *new_consumer(struct kafka_broker *kb, const char *group, int eof,
                                char *errstr, size_t n)
{
    char e[512];
    rd_kafka_conf_t *c = make_conf(kb, 1, group, errstr, n);
    if (!c)
        return NULL;
    if (eof && conf_set(c, "enable.partition.eof", "true", errstr, n)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    if (group)
        rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(c, on_commit);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        sf_err(-1, errstr, n, "Kafka consumer for %s: %s", kb->hosts, e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static int kafka_partition_count(struct broker *b)
{
    return kb_of(b)->nparts;
}

static const char *kafka_topic(struct broker *b)
{
    return kb_of(b)->topic;
}

static int kafka_set_assign_cb(struct broker *b, broker_assign_cb cb, void *opaque)
{
    struct kafka_broker *kb = kb_of(b);
    if (!kb->cons || !kb->group[0])
        return -1;
    kb->acb = cb;
    kb->aopaque = opaque;
    return 0;
}

static int kafka_seek(struct broker *b, int partition, int64_t offset)
{
    struct kafka_broker *kb = kb_of(b);
    if (!kb->cons || partition < 0)
        return -1;
    if (kb->pending) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(kb->pending, kb->topic, partition);
        if (!tp)
            return -1;
        tp->offset = offset;
        return 0;
    }
    if (kb->group[0]) {
        if (partition >= kb->owned_n || !kb->owned[partition])
            return -1;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, kb->topic, partition)->offset = offset;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(kb->cons, l, 5000);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            log_error("kafka: seeking %s [%d] to %" PRId64 ": %s", kb->topic, partition,
                      offset, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return -1;
        }
        return 0;
    }
    if (!kb->manual)
        kb->manual = rd_kafka_topic_partition_list_new(kb->nparts > 0 ? kb->nparts : 1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(kb->manual, kb->topic, partition);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(kb->manual, kb->topic, partition);
    tp->offset = offset;
    kb->manual_dirty = 1;
    return 0;
}

/* The processor's lag needs the log end: for the partitions this consumer
 * owns, the high watermarks librdkafka learnt from its last fetches (no
 * request is sent), at most four times a second. */
static void publish_ends(struct kafka_broker *kb)
{
    int64_t now = sf_mono_ms();
    if (now - kb->ends_ms < 250)
        return;
    kb->ends_ms = now;
    for (int p = 0; p < kb->owned_n; p++) {
        int64_t lo, hi;
        if (kb->owned[p] &&
            rd_kafka_get_watermark_offsets(kb->cons, kb->topic, p, &lo, &hi) == 0 &&
            hi >= 0)
            sf_stats_log_end(p, hi);
    }
}

/* The lag thread (see struct kafka_broker). A query that fails leaves the
 * last known end in place, so the lag never drops to 0 for want of an
 * answer. */
static void *ends_main(void *arg)
{
    struct kafka_broker *kb = arg;
    while (!atomic_load(&kb->ends_stop)) {
        int np = kb->nparts < SF_STATS_PARTITIONS ? kb->nparts : SF_STATS_PARTITIONS;
        for (int p = 0; p < np && !atomic_load(&kb->ends_stop); p++) {
            int64_t lo, hi;
            pthread_mutex_lock(&kb->ends_mu);
            int mine = kb->watch[p];
            pthread_mutex_unlock(&kb->ends_mu);
            if (!mine || rd_kafka_query_watermark_offsets(kb->cons, kb->topic, p, &lo, &hi,
                                                          KAFKA_ENDS_TIMEOUT_MS) ||
                hi < 0)
                continue;
            pthread_mutex_lock(&kb->ends_mu);
            if (kb->watch[p])
                sf_stats_log_end(p, hi);
            pthread_mutex_unlock(&kb->ends_mu);
        }
        for (int i = 0; i < KAFKA_ENDS_EVERY_MS / 100 && !atomic_load(&kb->ends_stop); i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* The current end of every partition, asked of the leaders (bounded). */
static int kafka_end_offsets(struct broker *b, int64_t *end, int nparts)
{
    struct kafka_broker *kb = kb_of(b);
    rd_kafka_t *rk = kb->cons ? kb->cons : kb->prod;
    for (int p = 0; p < nparts; p++) {
        int64_t lo, hi;
        if (p >= kb->nparts) {
            end[p] = 0;
            continue;
        }
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, kb->topic, p, &lo, &hi, KAFKA_ENDS_TIMEOUT_MS);
        if (err) {
            log_warn("kafka: %s [%d]: reading its end offset: %s", kb->topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
        end[p] = hi;
    }
    return 0;
}

static const char *kafka_identity(struct broker *b, int *legacy)
{
    struct kafka_broker *kb = kb_of(b);
    *legacy = 1;    /* positions of this topic's name from before identities may
                     * be this topic's: the processor checks they fit */
    return kb->ident[0] ? kb->ident : NULL;
}

static int kafka_poll(struct broker *b, struct broker_record *recs, size_t max,
                      int timeout_ms, char *errstr, size_t n)
{
    struct kafka_broker *kb = kb_of(b);
    if (!kb->cons)
        return sf_err(-1, errstr, n, "this Kafka handle does not consume");
    release_held(kb);
    if (max > kb->held_cap) {
        rd_kafka_message_t **h = realloc(kb->held, max * sizeof(*h));
        if (!h)
            return sf_err(-1, errstr, n, "out of memory");
        kb->held = h;
        kb->held_cap = max;
    }
    if (kb->group[0] && !kb->subscribed) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, kb->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(kb->cons, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
            return sf_err(-1, errstr, n, "subscribing to Kafka topic %s: %s", kb->topic,
                          rd_kafka_err2str(err));
        kb->subscribed = 1;
    } else if (!kb->group[0] && kb->manual_dirty) {
        rd_kafka_resp_err_t err = rd_kafka_assign(kb->cons, kb->manual);
        if (err)
            return sf_err(-1, errstr, n, "assigning Kafka topic %s: %s", kb->topic,
                          rd_kafka_err2str(err));
        kb->manual_dirty = 0;
    }
    int64_t deadline = sf_mono_ms() + timeout_ms;
    int wait = timeout_ms, failed = 0;
    while (kb->nheld < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(kb->cons, wait);
        if (!m) {
            int64_t left = deadline - sf_mono_ms();
            if (kb->nheld || left <= 0)
                break;
            wait = (int)left;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !kb->nheld && !failed) {
                failed = 1;
                sf_err(-1, errstr, n, "reading Kafka topic %s: %s", kb->topic,
                       rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            if (failed)
                break;
            continue;
        }
        kb->held[kb->nheld++] = m;
        wait = 0;   /* take what is already fetched, then return */
    }
    publish_ends(kb);
    if (failed && !kb->nheld)
        return -1;
    for (size_t i = 0; i < kb->nheld; i++) {
        rd_kafka_message_t *m = kb->held[i];
        recs[i].partition = (int)m->partition;
        recs[i].offset = m->offset;
        recs[i].timestamp_ms = rd_kafka_message_timestamp(m, NULL);
        if (recs[i].timestamp_ms < 0)
            recs[i].timestamp_ms = 0;
        recs[i].value = m->payload ? m->payload : "";
        recs[i].len = m->len;
    }
    return (int)kb->nheld;
}

static void kafka_retain(struct broker *b, const int64_t *committed, int nparts)
{
    struct kafka_broker *kb = kb_of(b);
    if (!kb->cons || !kb->group[0] || !kb->subscribed)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts && p < kb->owned_n; p++) {
        if (!kb->owned[p] || committed[p] < 0 || committed[p] == kb->hinted[p])
            continue;
        rd_kafka_topic_partition_list_add(l, kb->topic, p)->offset = committed[p];
        kb->hinted[p] = committed[p];
    }
    if (l->cnt)
        rd_kafka_commit(kb->cons, l, 1); /* a hint: the result is ignored */
    rd_kafka_topic_partition_list_destroy(l);
}

/* The timestamp of record `offset` of partition p (-1 if unreadable). */
static int64_t record_time(struct kafka_broker *kb, rd_kafka_t *rk, int p, int64_t offset)
{
    int64_t ts = -1, until = sf_mono_ms() + KAFKA_META_TIMEOUT_MS;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, kb->topic, p)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (!err && ts < 0 && sf_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            until = 0;
        else if (!m->err)
            ts = rd_kafka_message_timestamp(m, NULL);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return ts;
}

/* Where partition p's scan starts: the first offset at/after since_ms
 * (*start), up to the high watermark as of now (*hi). */
static int scan_range(struct kafka_broker *kb, rd_kafka_t *rk, int p, int64_t since_ms,
                      int64_t *start, int64_t *hi, char *errstr, size_t n)
{
    int64_t lo;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, kb->topic, p, &lo, hi, KAFKA_META_TIMEOUT_MS);
    if (err)
        return sf_err(-1, errstr, n, "Kafka %s [%d]: reading its offsets: %s", kb->topic,
                      p, rd_kafka_err2str(err));
    *start = lo;
    if (since_ms > 0 && *hi > lo) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, kb->topic, p)->offset = since_ms;
        err = rd_kafka_offsets_for_times(rk, l, KAFKA_META_TIMEOUT_MS);
        int64_t at = l->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
            return sf_err(-1, errstr, n, "Kafka %s [%d]: finding the offset of a time: %s",
                          kb->topic, p, rd_kafka_err2str(err));
        if (at >= 0)
            *start = at > lo ? at : lo;
        else /* nothing that new, unless the broker cannot look up times
              * (librdkafka's mock cluster): then the newest record tells */
            *start = record_time(kb, rk, p, *hi - 1) >= since_ms ? lo : *hi;
    }
    return 0;
}

/* Read partition p's records [from[p], to[p]) for every p < np with
 * from[p] < to[p], all at once, each in offset order, with rk (a consumer
 * of its own), calling fn for those appended at or after since_ms. A
 * partition that ends before to[p] ends its part; idle_ms without a
 * record is an error. */
static int read_ranges(struct kafka_broker *kb, rd_kafka_t *rk, int np, const int64_t *from,
                       const int64_t *to, int64_t since_ms, int idle_ms,
                       int (*fn)(void *, const struct broker_record *), void *opaque,
                       char *errstr, size_t n)
{
    int left = 0, rc = 0;
    unsigned char *done = calloc((size_t)np + 1, 1);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    if (!done) {
        rd_kafka_topic_partition_list_destroy(l);
        return sf_err(-1, errstr, n, "out of memory");
    }
    for (int p = 0; p < np; p++) {
        if (from[p] >= to[p]) {
            done[p] = 1;
            continue;
        }
        rd_kafka_topic_partition_list_add(l, kb->topic, p)->offset = from[p];
        left++;
    }
    rd_kafka_resp_err_t err = left ? rd_kafka_assign(rk, l) : 0;
    if (err)
        rc = sf_err(-1, errstr, n, "Kafka %s: %s", kb->topic, rd_kafka_err2str(err));
    int64_t idle_since = sf_mono_ms();
    while (left > 0 && !rc) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (sf_mono_ms() - idle_since > idle_ms)
                rc = sf_err(-1, errstr, n, "Kafka %s: no data for %d s while reading "
                            "%d partition(s)", kb->topic, idle_ms / 1000, left);
            continue;
        }
        idle_since = sf_mono_ms();
        int p = (int)m->partition;
        if (p < 0 || p >= np || done[p]) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            done[p] = 1;
            left--;
        } else if (m->err) {
            rc = sf_err(-1, errstr, n, "Kafka %s [%d]: %s", kb->topic, p,
                        rd_kafka_message_errstr(m));
        } else {
            struct broker_record r = {
                .partition = p, .offset = m->offset,
                .timestamp_ms = rd_kafka_message_timestamp(m, NULL),
                .value = m->payload ? m->payload : "", .len = m->len};
            if (r.timestamp_ms < 0)
                r.timestamp_ms = 0;
            if (m->offset < to[p] && r.timestamp_ms >= since_ms)
                rc = fn(opaque, &r);
            if (m->offset >= to[p] - 1) {
                done[p] = 1;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    free(done);
    return rc;
}

static void close_reader(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* All partitions at once, each in offset order, each up to its high
 * watermark as of the start. */
static int kafka_scan(struct broker *b, int64_t since_ms,
                      int (*fn)(void *, const struct broker_record *), void *opaque,
                      char *errstr, size_t n)
{
    struct kafka_broker *kb = kb_of(b);
    int np = kb->nparts, rc = 0;
    int64_t *start = calloc((size_t)np + 1, sizeof(*start));
    int64_t *hi = calloc((size_t)np + 1, sizeof(*hi));
    rd_kafka_t *rk = hi && start ? new_consumer(kb, NULL, 1, errstr, n) : NULL;
    if (!rk) {
        if (!hi || !start)
            sf_err(-1, errstr, n, "out of memory");
        rc = -1;
        goto out;
    }
    for (int p = 0; p < np && !rc; p++)
        rc = scan_range(kb, rk, p, since_ms, &start[p], &hi[p], errstr, n);
    if (!rc)
        rc = read_ranges(kb, rk, np, start, hi, since_ms, 30000, fn, opaque, errstr, n);
    close_reader(rk);
out:
    free(start);
    free(hi);
    return rc;
}

/* Records [from[i], to[i]) of partitions parts[i], with a consumer of its
 * own (not the group's). */
static int kafka_read_ranges(struct broker *b, const int *parts, const int64_t *from,
                             const int64_t *to, int n,
                             int (*fn)(void *, const struct broker_record *),
                             void *opaque, char *errstr, size_t en)
{
    struct kafka_broker *kb = kb_of(b);
    int np = 0;
    for (int i = 0; i < n; i++)
        np = parts[i] >= np ? parts[i] + 1 : np;
    int64_t *f = calloc((size_t)np + 1, sizeof(*f)), *t = calloc((size_t)np + 1, sizeof(*t));
    rd_kafka_t *rk = f && t ? new_consumer(kb, NULL, 1, errstr, en) : NULL;
    int rc = -1;
    if (rk) {
        for (int i = 0; i < n; i++)
            if (parts[i] >= 0)
                f[parts[i]] = from[i], t[parts[i]] = to[i];
        rc = read_ranges(kb, rk, np, f, t, 0, KAFKA_META_TIMEOUT_MS, fn, opaque, errstr,
                         en);
        close_reader(rk);
    } else if (!f || !t) {
        sf_err(-1, errstr, en, "out of memory");
    }
    free(f);
    free(t);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

/* Leave the group and close the consumer, within KAFKA_CLOSE_TIMEOUT_MS:
 * with the cluster gone, librdkafka's own close would wait for the group
 * coordinator for minutes. What is abandoned then — the LeaveGroup (the
 * group moves our partitions after session.timeout.ms instead) and the
 * last commit hint — is never needed for correctness: positions are in
 * the store. */
static void close_consumer(struct kafka_broker *kb)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(kb->cons);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(kb->cons, q);
    int64_t deadline = sf_mono_ms() + KAFKA_CLOSE_TIMEOUT_MS;
    int closed = 0;
    if (e) {
        log_warn("kafka: closing the consumer: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        while (!(closed = rd_kafka_consumer_closed(kb->cons)) && sf_mono_ms() < deadline)
            rd_kafka_queue_poll_callback(q, 100);
    }
    rd_kafka_queue_destroy(q);
    if (!closed)
        log_warn("kafka: the consumer did not close within %d s (is the cluster at %s "
                 "reachable?); abandoned: leaving group %s (its other members take over "
                 "this member's partitions after session.timeout.ms) and the last "
                 "commit hint; the positions in the store are complete",
                 KAFKA_CLOSE_TIMEOUT_MS / 1000, kb->hosts,
                 kb->group[0] ? kb->group : "-");
    rd_kafka_destroy_flags(kb->cons, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

static void kafka_close(struct broker *b)
{
    struct kafka_broker *kb = kb_of(b);
    if (kb->prod) {
        kafka_flush(b);
        atomic_store(&kb->stop, 1);
        if (kb->poller_started)
            pthread_join(kb->poller, NULL);
        rd_kafka_poll(kb->prod, 0);
        rd_kafka_topic_destroy(kb->rkt);
        rd_kafka_destroy(kb->prod);
    }
    if (kb->ends_started) {
        /* A watermark query to a cluster that is gone may not return for
         * minutes, whatever its timeout: then the thread, the consumer it
         * uses and this handle are left to the process's exit. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += KAFKA_ENDS_TIMEOUT_MS / 1000 + 2;
        atomic_store(&kb->ends_stop, 1);
        if (pthread_timedjoin_np(kb->ends_thread, NULL, &until)) {
            log_warn("kafka: a high watermark query to %s does not return (cluster "
                     "gone?); abandoned: it, and closing the consumer (group %s "
                     "reassigns this member's partitions after session.timeout.ms; the "
                     "positions in the store are complete)", kb->hosts, kb->group);
            pthread_detach(kb->ends_thread);
            return;
        }
    }
    if (kb->cons) {
        release_held(kb);
        kb->acb = NULL;
        close_consumer(kb);
        release_held(kb);
    }
    if (kb->manual)
        rd_kafka_topic_partition_list_destroy(kb->manual);
    for (size_t i = 0; i < kb->nopts; i++)
        free(kb->opts[i]);
    free(kb->opts);
    free(kb->held);
    free(kb->owned);
    free(kb->hinted);
    pthread_rwlock_destroy(&kb->plock);
    pthread_mutex_destroy(&kb->log_mu);
    pthread_mutex_destroy(&kb->ends_mu);
    free(kb);
}

static int kafka_open(struct broker **out, const char *where,
                      const struct broker_conf *conf, char *errstr, size_t n)
{
    struct kafka_broker *kb = calloc(1, sizeof(*kb));
    if (!kb)
        return sf_err(-1, errstr, n, "out of memory");
    kb->base.ops = &kafka_broker_ops;
    pthread_rwlock_init(&kb->plock, NULL);
    pthread_mutex_init(&kb->log_mu, NULL);
    pthread_mutex_init(&kb->ends_mu, NULL);
    kb->queue_max = conf->queue_max ? (long)conf->queue_max : KAFKA_QUEUE_DEFAULT;
    if (kb->queue_max > KAFKA_RDK_QUEUE_MAX / 2)
        kb->queue_max = KAFKA_RDK_QUEUE_MAX / 2;
    kb->msg_timeout_ms = atoll(KAFKA_MSG_TIMEOUT_DEFAULT);
    if (parse_where(kb, where, errstr, n))
        goto fail;
    if (conf->group && snprintf(kb->group, sizeof(kb->group), "%s", conf->group) >=
                       (int)sizeof(kb->group)) {
        sf_err(-1, errstr, n, "Kafka group name too long");
        goto fail;
    }
    kb->opts = calloc(conf->n_kafka_opts + 1, sizeof(*kb->opts));
    for (size_t i = 0; kb->opts && i < conf->n_kafka_opts; i++) {
        const char *o = conf->kafka_opts[i], *eq = strchr(o, '=');
        if (!eq || eq == o) {
            sf_err(-1, errstr, n, "--kafka-opt \"%s\": expected key=value", o);
            goto fail;
        }
        if (!(kb->opts[kb->nopts++] = strdup(o)))
            break;
    }
    if (!kb->opts || kb->nopts != conf->n_kafka_opts) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }

    int produce = conf->role != BROKER_ROLE_CONSUME;
    int consume = conf->role != BROKER_ROLE_PRODUCE;
    rd_kafka_t *meta = NULL;
    /* Before any client asks for the topic's metadata: a cluster that
     * creates topics on such a request would make it with its default
     * partition count. */
    if (conf->create_topic > 0 && create_first(kb, conf->create_topic, errstr, n))
        log_warn("%s; going on if the topic exists", errstr);
    if (produce) {
        if (new_producer(kb, errstr, n))
            goto fail;
        meta = kb->prod;
    }
    if (consume) {
        if (!(kb->cons = new_consumer(kb, kb->group[0] ? kb->group : NULL, 0, errstr, n)))
            goto fail;
        meta = meta ? meta : kb->cons;
    }
    if (check_topic(kb, meta, conf->create_topic, errstr, n))
        goto fail;
    if (conf->create_topic > 0 && kb->nparts != conf->create_topic)
        log_warn("kafka: topic %s has %d partitions, not the %d --create-topic asked "
                 "for (it existed already, or the cluster made it first)", kb->topic,
                 kb->nparts, conf->create_topic);
    else if (conf->create_topic > 0)
        log_info("kafka: topic %s has %d partitions", kb->topic, kb->nparts);
    if (consume) {
        char *cid = rd_kafka_clusterid(meta, KAFKA_META_TIMEOUT_MS);
        if (!cid) {
            sf_err(-1, errstr, n, "Kafka at %s did not tell its cluster id, which keys "
                   "the stored positions (Kafka 0.10.1 or later has one)", kb->hosts);
            goto fail;
        }
        snprintf(kb->ident, sizeof(kb->ident), "kafka-%.140s", cid);
        rd_kafka_mem_free(meta, cid);
        if (kb->group[0]) {
            if (pthread_create(&kb->ends_thread, NULL, ends_main, kb)) {
                sf_err(-1, errstr, n, "cannot start the Kafka lag thread");
                goto fail;
            }
            kb->ends_started = 1;
        }
    }
    if (produce) {
        if (pthread_create(&kb->poller, NULL, poller_main, kb)) {
            sf_err(-1, errstr, n, "cannot start the Kafka delivery thread");
            goto fail;
        }
        kb->poller_started = 1;
        kb->producing = 1;
    }
    if (grow_owned(kb, kb->nparts > 0 ? kb->nparts - 1 : 0)) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    *out = &kb->base;
    return 0;
fail:
    kafka_close(&kb->base);
    return -1;
}

static int kafka_unavailable(struct broker *b)
{
    struct kafka_broker *kb = (struct kafka_broker *)b;
    return atomic_load(&kb->down) || atomic_load(&kb->fatal);
}

const struct broker_ops kafka_broker_ops = {
    .scheme = "kafka",
    .open = kafka_open,
    .produce = kafka_produce,
    .produce_batch = kafka_produce_batch,
    .partition_count = kafka_partition_count,
    .seek = kafka_seek,
    .poll = kafka_poll,
    .scan = kafka_scan,
    .read_ranges = kafka_read_ranges,
    .retain = kafka_retain,
    .flush = kafka_flush,
    .close = kafka_close,
    .set_assign_cb = kafka_set_assign_cb,
    .topic = kafka_topic,
    .end_offsets = kafka_end_offsets,
    .identity = kafka_identity,
    .unavailable = kafka_unavailable,
};

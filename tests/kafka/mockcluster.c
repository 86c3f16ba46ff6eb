/*
 * mockcluster — a Kafka-protocol cluster for tests, without a Kafka server.
 *
 * Wraps librdkafka's mock cluster (<librdkafka/rdkafka_mock.h>): N brokers
 * (default 3) listening on real loopback TCP ports, speaking enough of the
 * Kafka protocol for producers, consumer groups, kcat and the admin
 * metadata calls. It creates topic Order with 6 partitions (replication
 * factor = brokers), prints the bootstrap list as the first line on stdout,
 * then reads commands on stdin, one per line, and answers each with one
 * line starting "ok" or "error". EOF (or "quit") destroys the cluster.
 *
 *   mockcluster [--brokers N] [--topic NAME] [--partitions N] [--no-topic]
 *
 * Commands (API keys and error codes by name or number, e.g. Produce or 0,
 * NOT_LEADER_FOR_PARTITION or 6, _TRANSPORT or -195):
 *   down ID|all            take a broker down: connections closed and refused
 *   up ID|all              bring it back
 *   errors API N ERR…      the next N requests of API (cluster-wide) fail with
 *                          the given errors in turn (one ERR repeats)
 *   clear API              drop the pushed errors of API
 *   rtt ID|all MS          add MS of latency to a broker's responses
 *   leader TOPIC PART ID   move a partition's leadership to broker ID
 *   create TOPIC PARTS     create a topic
 *   topic-error TOPIC ERR  answer metadata requests for TOPIC with ERR (the
 *                          mock creates unknown topics on any metadata
 *                          request, so this is how a test shows a client a
 *                          missing topic: topic-error T UNKNOWN_TOPIC_OR_PART)
 *   bootstraps             print the bootstrap list again
 *   quit
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; int16_t key; } apis[] = {
    {"Produce", 0}, {"Fetch", 1}, {"ListOffsets", 2}, {"Metadata", 3},
    {"OffsetCommit", 8}, {"OffsetFetch", 9}, {"FindCoordinator", 10},
    {"JoinGroup", 11}, {"Heartbeat", 12}, {"LeaveGroup", 13}, {"SyncGroup", 14},
    {"ApiVersions", 18}, {"InitProducerId", 22},
};

static int parse_api(const char *s, int16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (int16_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
        if (!strcasecmp(s, apis[i].name)) {
            *out = apis[i].key;
            return 0;
        }
    return -1;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *d;
    size_t n;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    rd_kafka_get_err_descs(&d, &n);
    for (size_t i = 0; i < n; i++)
        if (d[i].name && !strcasecmp(s, d[i].name)) {
            *out = d[i].code;
            return 0;
        }
    return -1;
}

/* Apply fn to broker "ID" or to every broker for "all". */
static int each_broker(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *id,
                       rd_kafka_resp_err_t (*fn)(rd_kafka_mock_cluster_t *, int32_t))
{
    if (!strcmp(id, "all")) {
        for (int i = 1; i <= nbrokers; i++)
            if (fn(mc, i))
                return -1;
        return 0;
    }
    return fn(mc, atoi(id)) ? -1 : 0;
}

static int rtt_ms;
static rd_kafka_resp_err_t set_rtt(rd_kafka_mock_cluster_t *mc, int32_t id)
{
    return rd_kafka_mock_broker_set_rtt(mc, id, rtt_ms);
}

int main(int argc, char **argv)
{
    int nbrokers = 3, parts = 6, topic = 1;
    const char *name = "Order";
    char errstr[512], line[4096];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            nbrokers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
            parts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--no-topic"))
            topic = 0;
        else {
            fprintf(stderr, "usage: mockcluster [--brokers N] [--topic NAME] "
                    "[--partitions N] [--no-topic]\n");
            return 2;
        }
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "mockcluster: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) {
        fprintf(stderr, "mockcluster: cannot create the mock cluster\n");
        return 1;
    }
    if (topic && rd_kafka_mock_topic_create(mc, name, parts, nbrokers)) {
        fprintf(stderr, "mockcluster: cannot create topic %s\n", name);
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    while (fgets(line, sizeof(line), stdin)) {
        char *w[64];
        int n = 0;
        for (char *t = strtok(line, " \t\r\n"); t && n < 64; t = strtok(NULL, " \t\r\n"))
            w[n++] = t;
        int rc = 0;
        int16_t api;
        if (n == 0)
            continue;
        if (!strcmp(w[0], "quit")) {
            break;
        } else if (!strcmp(w[0], "down") && n == 2) {
            rc = each_broker(mc, nbrokers, w[1], rd_kafka_mock_broker_set_down);
        } else if (!strcmp(w[0], "up") && n == 2) {
            rc = each_broker(mc, nbrokers, w[1], rd_kafka_mock_broker_set_up);
        } else if (!strcmp(w[0], "rtt") && n == 3) {
            rtt_ms = atoi(w[2]);
            rc = each_broker(mc, nbrokers, w[1], set_rtt);
        } else if (!strcmp(w[0], "errors") && n >= 4 && !parse_api(w[1], &api)) {
            size_t cnt = (size_t)atol(w[2]);
            rd_kafka_resp_err_t *errs = calloc(cnt ? cnt : 1, sizeof(*errs));
            for (size_t i = 0; errs && i < cnt && !rc; i++)
                rc = parse_err(w[3 + (i < (size_t)(n - 3) ? i : (size_t)(n - 4))], &errs[i]);
            if (errs && !rc)
                rd_kafka_mock_push_request_errors_array(mc, api, cnt, errs);
            rc = errs ? rc : -1;
            free(errs);
        } else if (!strcmp(w[0], "clear") && n == 2 && !parse_api(w[1], &api)) {
            rd_kafka_mock_clear_request_errors(mc, api);
        } else if (!strcmp(w[0], "leader") && n == 4) {
            rc = rd_kafka_mock_partition_set_leader(mc, w[1], atoi(w[2]), atoi(w[3])) ? -1 : 0;
        } else if (!strcmp(w[0], "create") && n == 3) {
            rc = rd_kafka_mock_topic_create(mc, w[1], atoi(w[2]), nbrokers) ? -1 : 0;
        } else if (!strcmp(w[0], "topic-error") && n == 3) {
            rd_kafka_resp_err_t err;
            if ((rc = parse_err(w[2], &err)) == 0)
                rd_kafka_mock_topic_set_error(mc, w[1], err);
        } else if (!strcmp(w[0], "bootstraps")) {
            printf("ok %s\n", rd_kafka_mock_cluster_bootstraps(mc));
            fflush(stdout);
            continue;
        } else {
            rc = -1;
        }
        printf(rc ? "error\n" : "ok\n");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

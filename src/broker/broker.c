/*
 * broker — backend selection by URI scheme and error texts.
 */
#include "broker/broker.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static const struct broker_ops *const backends[] = {&elog_broker_ops,
                                                     &kafka_broker_ops};

struct broker *broker_open(const char *uri, const struct broker_conf *conf,
                           char *errstr, size_t errstr_size)
{
    const char *colon = strchr(uri, ':');
    if (!colon) {
        sf_err(-1, errstr, errstr_size,
               "broker URI \"%s\" has no scheme: use file:DIR or "
               "kafka://HOST:PORT[,HOST:PORT…]/TOPIC", uri);
        return NULL;
    }
    size_t n = (size_t)(colon - uri);
    for (size_t i = 0; i < SF_ARRAY_LEN(backends); i++) {
        const char *rest = sf_uri_rest(uri, backends[i]->scheme);
        if (rest) {
            struct broker *b = NULL;
            if (backends[i]->open(&b, rest, conf, errstr, errstr_size))
                return NULL;
            return b;
        }
    }
    sf_err(-1, errstr, errstr_size,
           "broker URI \"%s\": unknown scheme \"%.*s\" (supported: file:DIR, "
           "kafka://HOST:PORT[,HOST:PORT…]/TOPIC)",
           uri, (int)n, uri);
    return NULL;
}

int broker_opt_kafka(const char *val, void *dst, char *errstr, size_t n)
{
    struct broker_conf *bc = dst;
    const char *eq = strchr(val, '=');
    if (!eq || eq == val || bc->n_kafka_opts == SF_ARRAY_LEN(bc->kafka_opts))
        return sf_err(-1, errstr, n, "expected a librdkafka setting key=value, e.g. "
                      "security.protocol=SSL (at most %zu), got \"%s\"",
                      SF_ARRAY_LEN(bc->kafka_opts), val);
    bc->kafka_opts[bc->n_kafka_opts++] = val;
    return 0;
}

int broker_position_key(struct broker *b, char *out, size_t out_size, int *legacy,
                        char *errstr, size_t n)
{
    int leg = 0;
    const char *id = b->ops->identity ? b->ops->identity(b, &leg) : NULL;
    const char *topic = broker_topic(b);
    int len = id ? snprintf(out, out_size, "%s@%s", topic, id)
                 : snprintf(out, out_size, "%s", topic);
    if (legacy)
        *legacy = leg;
    if (len < 0 || (size_t)len >= out_size || len > SF_POSITION_KEY_MAX)
        return sf_err(-1, errstr, n, "the position key of topic %s (\"%s@%s\") is "
                      "longer than %d characters: use a shorter topic name", topic,
                      topic, id ? id : "", SF_POSITION_KEY_MAX);
    return 0;
}

const char *broker_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case BROKER_EFULL: return "the append queue is full; retry shortly";
    case BROKER_ENOSPC: return "the log's disk is full; the order was not stored";
    case BROKER_EIO: return "writing the log failed; the order was not stored";
    case BROKER_EUNSURE: return "writing the log failed and could not be undone; the order "
                                "may be stored after all: send it again with the same "
                                "order_id (it is never stored twice)";
    case BROKER_ECLOSED: return "the server is shutting down";
    case BROKER_ETOOBIG: return "the message is too large for the log";
    case BROKER_EUNAVAIL: return "no Kafka broker takes writes right now; retry shortly";
    default: return "broker error";
    }
}

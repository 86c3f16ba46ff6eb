/*
 * broker — the interface between ingest/process and wherever orders are
 * kept durably: the embedded log (file:DIR) or Kafka
 * (kafka://host:port[,host:port…]/TOPIC, src/broker/kafka.c).
 *
 * Each backend provides one const struct broker_ops and embeds struct
 * broker as the first member of its own handle. Callers use the inline
 * wrappers below; broker_open() picks the backend from the URI scheme.
 *
 * Producing is asynchronous: produce() queues the message and returns at
 * once; the ack callback runs later, on a broker thread, once the message is
 * durable (or failed). Consuming is pull-based: seek() each partition, then
 * poll() batches of records. A broker whose partitions are shared by a group
 * of consumers (Kafka) also offers set_assign_cb(): then the consumer seeks
 * each partition when the group hands it over, instead of all at start.
 */
#ifndef SF_BROKER_H
#define SF_BROKER_H

#include <stddef.h>
#include <stdint.h>

#define SF_TOPIC_DEFAULT "Order"

/* Negative error codes a broker hands to acks and returns. */
enum {
    BROKER_EFULL = -1001,   /* queue full: retry later (HTTP 503) */
    BROKER_ENOSPC = -1002,  /* disk full (HTTP 507) */
    BROKER_EIO = -1003,     /* write or fsync failed (HTTP 507) */
    BROKER_ECLOSED = -1004, /* shutting down (HTTP 503) */
    BROKER_ETOOBIG = -1005, /* message larger than the broker accepts */
    BROKER_EUNAVAIL = -1006,/* no broker takes writes now (HTTP 503) */
    BROKER_EUNSURE = -1007, /* a write failed and could not be undone: the
                             * message may be kept after all (HTTP 507) */
};

/* Which halves of a broker handle to open (Kafka: a producer, a consumer). */
enum broker_role {
    BROKER_ROLE_BOTH = 0,
    BROKER_ROLE_PRODUCE = 1,
    BROKER_ROLE_CONSUME = 2,
};

enum broker_fsync {
    BROKER_FSYNC_ALWAYS = 0,    /* ack after fdatasync (default) */
    BROKER_FSYNC_INTERVAL,      /* ack after write; fdatasync every interval */
    BROKER_FSYNC_NEVER,         /* ack after write; the OS flushes when it likes */
};

#define BROKER_KAFKA_OPTS_MAX 64
#define BROKER_DEFAULT_PARTITIONS 4     /* of a new embedded log */
#define BROKER_DEFAULT_SEGMENT_MB 64    /* an embedded log's segment size */

struct broker_conf {
    int partitions;         /* embedded log: used when creating it; 0: the default */
    int create;             /* 1: create the log if missing; 0: must exist */
    int readonly;           /* 1: inspect only: no lock, no writer, no repair */
    size_t queue_max;       /* pending produce requests; 0 = default */
    uint64_t segment_bytes; /* roll a segment past this size; 0: the default */
    enum broker_fsync fsync;
    int fsync_interval_ms;
    int64_t retention_ms;   /* 0 = keep forever */
    uint64_t retention_bytes; /* per partition; 0 = no limit */
    /* Kafka only (the embedded log ignores these). */
    enum broker_role role;
    const char *group;      /* consumer group; NULL: no group, seek() assigns */
    /* "key=value" librdkafka settings (--kafka-opt), this config's own. */
    const char *kafka_opts[BROKER_KAFKA_OPTS_MAX];
    size_t n_kafka_opts;
    int create_topic;       /* > 0: create a missing topic, this many partitions */
};

/* One message of a produce_batch() call. */
struct broker_msg {
    int64_t key;            /* partition key (customer_id) */
    const char *value;
    size_t len;
    void *opaque;           /* handed to this message's ack */
};

struct broker_record {
    int partition;
    int64_t offset;
    int64_t timestamp_ms;   /* append time */
    const char *value;      /* owned by the broker until the next poll() */
    size_t len;
};

/* Called once per produced message, on a broker thread, after the message
 * is durable (err 0, with its partition and offset) or failed (err < 0). */
typedef void (*broker_ack_cb)(void *opaque, int err, int partition,
                              int64_t offset);

/* Called on the polling thread, from inside poll(), when the consumer group
 * hands partitions parts[0..n) to this consumer (assigned 1) or takes them
 * away (assigned 0). While it runs for assigned partitions, seek() on them
 * sets where reading starts (a partition not sought starts at its
 * beginning). Records of revoked partitions are never returned after the
 * revoke: a poll() that collected some drops them. */
typedef void (*broker_assign_cb)(void *opaque, const int *parts, int n,
                                 int assigned);

struct broker;

struct broker_ops {
    const char *scheme;     /* "file", "kafka" */
    /* Open the backend at `where` (the URI without "scheme:"). */
    int (*open)(struct broker **out, const char *where,
                const struct broker_conf *conf, char *errstr, size_t errstr_size);
    /* Queue value (copied) for the partition chosen from key. Returns 0 (the
     * ack will follow) or a negative BROKER_E* code (no ack will follow). */
    int (*produce)(struct broker *b, int64_t key, const char *value,
                   size_t len, broker_ack_cb cb, void *opaque);
    /* Queue n messages at once, all or none (BROKER_EFULL if the queue has
     * no room for all of them); one ack per message follows. */
    int (*produce_batch)(struct broker *b, const struct broker_msg *msgs,
                         size_t n, broker_ack_cb cb);
    int (*partition_count)(struct broker *b);
    /* Set the next offset the consumer reads from partition p. */
    int (*seek)(struct broker *b, int partition, int64_t offset);
    /* Fill up to max records, waiting up to timeout_ms for the first one.
     * Returns the count (0 on timeout) or a negative code with errstr. */
    int (*poll)(struct broker *b, struct broker_record *recs, size_t max,
                int timeout_ms, char *errstr, size_t errstr_size);
    /* Call fn for every durable record whose batch was appended at or after
     * since_ms, partition by partition in offset order (independent of the
     * consumer position; Kafka: partitions interleave, each in order). fn
     * returning non-zero stops the scan with that value. Returns 0, fn's
     * value, or a negative code with errstr. */
    int (*scan)(struct broker *b, int64_t since_ms,
                int (*fn)(void *opaque, const struct broker_record *r),
                void *opaque, char *errstr, size_t errstr_size);
    /* The processor's committed next offsets (one per partition, -1 where
     * unknown): the embedded log may now drop data before them that its
     * retention allows; Kafka commits them to the group as a hint for lag
     * tools (the store's positions stay authoritative). */
    void (*retain)(struct broker *b, const int64_t *committed, int nparts);
    /* Refuse new produces (BROKER_ECLOSED) and return once every queued
     * message has been written and acked. The consumer side keeps working. */
    void (*flush)(struct broker *b);
    /* Flush, then release everything. */
    void (*close)(struct broker *b);
    /* Optional: join a consumer group; see broker_assign_cb. cb NULL
     * unregisters. Returns 0, or -1 if this handle has no group (then the
     * caller seeks every partition itself). */
    int (*set_assign_cb)(struct broker *b, broker_assign_cb cb, void *opaque);
    /* Optional: the topic name positions and derived ids are keyed by
     * (NULL: SF_TOPIC_DEFAULT). */
    const char *(*topic)(struct broker *b);
    /* Optional: the current end (next offset to be written) of partitions
     * 0..nparts-1. Returns 0, or -1 if unknown (and always without ops). */
    int (*end_offsets)(struct broker *b, int64_t *end, int nparts);
    /* Optional: who this broker is, so that positions and derived ids of
     * two different logs never mix in one store: "log-<32 hex>" for the
     * embedded log (a random id made with its directory), "kafka-<cluster
     * id>" for Kafka. NULL: unknown (an embedded log from before identities,
     * opened read-only). *legacy is set to 1 when positions stored without
     * an identity (by a salesflow from before identities) may be this
     * broker's: see broker_position_key(). */
    const char *(*identity)(struct broker *b, int *legacy);
    /* Optional (Kafka): call fn for the records of partition parts[i] in
     * [from[i], to[i]) (less where the partition holds less), in offset
     * order per partition, read apart from the consumer group. Returns 0,
     * fn's non-zero value, or a negative code with errstr. */
    int (*read_ranges)(struct broker *b, const int *parts, const int64_t *from,
                       const int64_t *to, int n,
                       int (*fn)(void *, const struct broker_record *), void *opaque,
                       char *errstr, size_t errstr_size);
    /* Optional: 1 while new produces fail at once because the broker is
     * known to be unreachable (Kafka: every broker down, or a fatal
     * producer error being recovered): 1; the embedded log's writes
     * failing: 2; else 0. For /readyz. */
    int (*unavailable)(struct broker *b);
};

struct broker {
    const struct broker_ops *ops;
};

/* Flag setter (core/args.h) for --kafka-opt key=value, repeatable: dst is
 * the struct broker_conf whose kafka_opts it extends. The strings are kept
 * by reference (argv, the environment or the config file own them). */
int broker_opt_kafka(const char *val, void *dst, char *errstr, size_t errstr_size);

/* Open the broker named by uri ("file:DIR" or "kafka://HOSTS/TOPIC").
 * Returns NULL with errstr. */
struct broker *broker_open(const char *uri, const struct broker_conf *conf,
                           char *errstr, size_t errstr_size);

/* The key positions and derived order ids of b's topic are stored under:
 * "TOPIC@IDENTITY" (topic names cannot hold '@'), or the bare topic name
 * when the broker has no identity. *legacy (may be NULL) as for
 * broker_ops.identity. Returns 0, or -1 with errstr if the key does not fit
 * (SF_POSITION_KEY_MAX; a store's topic column holds 255 characters). */
#define SF_POSITION_KEY_MAX 255
int broker_position_key(struct broker *b, char *out, size_t out_size, int *legacy,
                        char *errstr, size_t errstr_size);

/* A human-readable text for a BROKER_E* code. */
const char *broker_strerror(int err);

static inline int broker_produce(struct broker *b, int64_t key, const char *v,
                                 size_t len, broker_ack_cb cb, void *opaque)
{
    return b->ops->produce(b, key, v, len, cb, opaque);
}
static inline int broker_produce_batch(struct broker *b,
                                       const struct broker_msg *msgs, size_t n,
                                       broker_ack_cb cb)
{
    return b->ops->produce_batch(b, msgs, n, cb);
}
static inline int broker_scan(struct broker *b, int64_t since_ms,
                              int (*fn)(void *, const struct broker_record *),
                              void *opaque, char *errstr, size_t errstr_size)
{
    return b->ops->scan(b, since_ms, fn, opaque, errstr, errstr_size);
}
static inline void broker_retain(struct broker *b, const int64_t *committed,
                                 int nparts)
{
    if (b->ops->retain)
        b->ops->retain(b, committed, nparts);
}
static inline int broker_partition_count(struct broker *b)
{
    return b->ops->partition_count(b);
}
static inline int broker_end_offsets(struct broker *b, int64_t *end, int nparts)
{
    return b->ops->end_offsets ? b->ops->end_offsets(b, end, nparts) : -1;
}
static inline int broker_seek(struct broker *b, int partition, int64_t offset)
{
    return b->ops->seek(b, partition, offset);
}
static inline int broker_poll(struct broker *b, struct broker_record *recs,
                              size_t max, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
    return b->ops->poll(b, recs, max, timeout_ms, errstr, errstr_size);
}
static inline int broker_set_assign_cb(struct broker *b, broker_assign_cb cb,
                                       void *opaque)
{
    return b->ops->set_assign_cb ? b->ops->set_assign_cb(b, cb, opaque) : -1;
}
static inline const char *broker_topic(struct broker *b)
{
    return b->ops->topic ? b->ops->topic(b) : SF_TOPIC_DEFAULT;
}
static inline int broker_read_ranges(struct broker *b, const int *parts,
                                     const int64_t *from, const int64_t *to, int n,
                                     int (*fn)(void *, const struct broker_record *),
                                     void *opaque, char *errstr, size_t errstr_size)
{
    /* 1: not a broker that can (the embedded log needs not: its identity
     * is its directory's). */
    return b->ops->read_ranges
               ? b->ops->read_ranges(b, parts, from, to, n, fn, opaque, errstr, errstr_size)
               : 1;
}
static inline int broker_unavailable(struct broker *b)
{
    return b->ops->unavailable ? b->ops->unavailable(b) : 0;
}
static inline void broker_flush(struct broker *b)
{
    b->ops->flush(b);
}
static inline void broker_close(struct broker *b)
{
    if (b)
        b->ops->close(b);
}

extern const struct broker_ops elog_broker_ops;
extern const struct broker_ops kafka_broker_ops;

/* The linked librdkafka's version text (for `salesflow version`). */
const char *broker_kafka_version(void);

#endif

/*
 * broker — the interface between ingest/process and wherever orders are
 * kept durably: the embedded log (file:DIR) or Kafka (kafka://…, later).
 *
 * Each backend provides one const struct broker_ops and embeds struct
 * broker as the first member of its own handle. Callers use the inline
 * wrappers below; broker_open() picks the backend from the URI scheme.
 *
 * Producing is asynchronous: produce() queues the message and returns at
 * once; the ack callback runs later, on a broker thread, once the message is
 * durable (or failed). Consuming is pull-based: seek() each partition, then
 * poll() batches of records.
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
};

enum broker_fsync {
    BROKER_FSYNC_ALWAYS = 0,    /* ack after fdatasync (default) */
    BROKER_FSYNC_INTERVAL,      /* ack after write; fdatasync every interval */
    BROKER_FSYNC_NEVER,         /* ack after write; the OS flushes when it likes */
};

struct broker_conf {
    int partitions;         /* embedded log: used when creating it; 0 = 4 */
    int create;             /* 1: create the log if missing; 0: must exist */
    int readonly;           /* 1: inspect only: no lock, no writer, no repair */
    size_t queue_max;       /* pending produce requests; 0 = default */
    uint64_t segment_bytes; /* roll a segment past this size; 0 = 64 MiB */
    enum broker_fsync fsync;
    int fsync_interval_ms;
    int64_t retention_ms;   /* 0 = keep forever */
    uint64_t retention_bytes; /* per partition; 0 = no limit */
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
     * consumer position). fn returning non-zero stops the scan with that
     * value. Returns 0, fn's value, or a negative code with errstr. */
    int (*scan)(struct broker *b, int64_t since_ms,
                int (*fn)(void *opaque, const struct broker_record *r),
                void *opaque, char *errstr, size_t errstr_size);
    /* The processor's committed next offsets (one per partition): the
     * broker may now drop data before them that its retention allows. */
    void (*retain)(struct broker *b, const int64_t *committed, int nparts);
    /* Refuse new produces (BROKER_ECLOSED) and return once every queued
     * message has been written and acked. The consumer side keeps working. */
    void (*flush)(struct broker *b);
    /* Flush, then release everything. */
    void (*close)(struct broker *b);
};

struct broker {
    const struct broker_ops *ops;
};

/* Open the broker named by uri ("file:DIR"). Returns NULL with errstr. */
struct broker *broker_open(const char *uri, const struct broker_conf *conf,
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

#endif

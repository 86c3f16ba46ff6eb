/*
 * processor — turns the log into serving tables.
 *
 * A thread that resumes from the log positions kept in the store, polls
 * batches of records, enriches each order with its customer's state, and
 * applies the batch (rows, aggregate deltas, new positions) to the store in
 * one transaction. After each commit it calls on_commit (e.g. to wake
 * dashboard clients).
 *
 * With a broker that shares partitions among a consumer group (Kafka), the
 * processor loads and seeks positions per partition as the group assigns
 * them, instead of all at start. A record that is not an order goes to
 * on_reject (the quarantine) and its position advances past it.
 */
#ifndef SF_PROCESSOR_H
#define SF_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "core/catalog.h"
#include "store/store.h"

struct processor;

struct processor_conf {
    size_t batch_max;                   /* records per transaction; 0 = 5000 */
    int nice;                           /* the thread's niceness above the process's */
    /* Ingest first: while the processor is behind and orders arrive faster
     * than it stores them, it keeps at most this percent of the time
     * (processor.c, "Ingest first"). 0 or 100: it never yields. */
    int share;
    void (*on_commit)(void *opaque, size_t inserted);
    void *opaque;
    /* A record that is not an order, with the reason; called on the
     * processor thread before the batch that moves past it is committed
     * (so after a crash it may be reported again). NULL: logged only. */
    void (*on_reject)(void *opaque, const char *topic,
                      const struct broker_record *rec, const char *reason);
};

/* Start the processor thread over b and s (borrowed; they must outlive it).
 * Returns NULL with errstr if the positions cannot be loaded. */
struct processor *processor_start(struct broker *b, struct store *s,
                                  const struct catalog *cat,
                                  const struct processor_conf *conf,
                                  char *errstr, size_t errstr_size);

/* Stop after the batch in hand is committed (or abandoned) and join. */
void processor_stop(struct processor *p);

/* Decode one log record into a store row: fills a derived order_id when the
 * message has none, prices it when it has no total, and looks up the state
 * ("unknown" for a customer not in the catalog). Returns 0 or -1 with errstr
 * for a message that is not an order. */
int processor_decode(const struct broker_record *rec, const struct catalog *cat,
                     struct store_order *out, char *errstr, size_t errstr_size);
/* The same for a record of topic (whose name goes into derived ids). */
int processor_decode_topic(const struct broker_record *rec, const char *topic,
                           const struct catalog *cat, struct store_order *out,
                           char *errstr, size_t errstr_size);

/* The mark stored beside a position: which record it follows (a hash of
 * the record's timestamp and bytes, never 0). See processor.c. */
int64_t processor_record_mark(const struct broker_record *r);

#endif

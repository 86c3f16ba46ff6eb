/*
 * dedupe — ingest's index of client order_ids (idempotency keys), so that a
 * retried order is answered with its first result and never appended twice.
 *
 * An id is in one of two states: in flight (claimed by the request that
 * appends it, waiting for the log's ack) or done (durable in the log). A
 * second request for an in-flight id does not append: it registers a waiter
 * and gets the first append's outcome. A failed append forgets the id, so a
 * retry appends again. Done ids are kept for the window (default 24 h) or
 * until max_keys is reached, whichever comes first (oldest go first).
 *
 * The embedded log is the source of truth: at start-up dedupe_rebuild()
 * scans the records appended within the window and re-learns every client
 * key (order.h: such records start with "order_id"), so retries across a
 * restart are still recognised.
 */
#ifndef SF_DEDUPE_H
#define SF_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

struct dedupe;
struct dedupe_entry;

/* A request row waiting for an in-flight id; done() runs once, on the
 * thread that completes the first append (err 0 or a BROKER_E* code). */
struct dedupe_waiter {
    struct dedupe_waiter *next;
    void (*done)(struct dedupe_waiter *w, int err);
};

enum dedupe_result {
    DEDUPE_NEW = 0,     /* claimed: append it, then dedupe_complete(*entry) */
    DEDUPE_DONE = 1,    /* appended before: answer with the first result */
    DEDUPE_WAIT = 2,    /* in flight: w->done() will follow */
};

/* window_ms: how long an id is remembered; max_keys: memory bound. */
struct dedupe *dedupe_new(int64_t window_ms, size_t max_keys, char *errstr,
                          size_t errstr_size);
void dedupe_destroy(struct dedupe *d);

/* Look id up at time now_ms and claim it if new (see enum). w is only used
 * (and must stay valid until done() runs) for DEDUPE_WAIT. */
enum dedupe_result dedupe_claim(struct dedupe *d, const char *id, int64_t now_ms,
                                struct dedupe_waiter *w,
                                struct dedupe_entry **entry);
/* The append of a claimed id finished: err 0 marks it done, an error
 * forgets it. Wakes every waiter with err (outside the index's lock). */
void dedupe_complete(struct dedupe *d, struct dedupe_entry *e, int err);

/* Re-learn the client keys appended to b within the window. Returns the
 * number learned, or -1 with errstr. A broker without scan() returns 0
 * and logs that retries across a restart will not be recognised. */
long dedupe_rebuild(struct dedupe *d, struct broker *b, char *errstr,
                    size_t errstr_size);

size_t dedupe_count(struct dedupe *d);

#endif

/*
 * cassandra — the optional raw-order sink: every raw order also goes into a
 * Cassandra table (the original pipeline's order_ks.order_table) through
 * the project's own CQL v4 client (cql.c). See cassandra.c.
 */
#ifndef SF_CASSANDRA_H
#define SF_CASSANDRA_H

#include <stddef.h>

#include "core/util.h"
#include "store/store.h"

/* Flag setter for --raw-store (const char **): checks the URI
 * cassandra://[USER@]HOST[:PORT][,HOST[:PORT]…]/KEYSPACE[?PARAMS] at parse
 * time, so that a typo exits 2 with one line. */
int opt_raw_store_uri(const char *val, void *dst, char *err, size_t n);

/* Wrap the serving store inner with the sink at uri: connect, check or
 * create the keyspace and table, prepare the insert. The returned store
 * forwards every op to inner; its apply() first writes the batch's rows to
 * Cassandra (retrying a failure `retries` times with a growing pause, 0:
 * not at all, the caller retries) and only then applies inner, so the
 * positions never move past rows Cassandra has not acknowledged. password
 * may be NULL (then SALESFLOW_CASSANDRA_PASSWORD from the environment).
 * Takes ownership of inner (closed on error too). NULL with errstr (never
 * holding the password) on error. */
struct store *cassandra_wrap(struct store *inner, const char *uri,
                             const char *password, int retries, char *errstr,
                             size_t errstr_size);

/* For GET /readyz: -1 if no sink is open; 1 if the sink is connected and
 * its last write succeeded; else 0 with why (no URI, no password). */
int cassandra_ready(char *why, size_t n);
/* For GET /metrics: the sink's lines (nothing when no sink is open). */
void cassandra_metrics(struct sf_buf *b);
/* For GET /api/pipeline: ",\"raw_store\":{…}" or nothing without a sink. */
void cassandra_pipeline_json(struct sf_buf *b);

#endif

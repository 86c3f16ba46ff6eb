/*
 * stats — process-wide counters that any module may bump from any thread
 * and that the dashboard (/api/pipeline) and /metrics read.
 *
 * Plain C11 atomics with relaxed ordering: a bump is one atomic add, never
 * takes a lock and never blocks, so the hot paths (log acks, validation, the
 * processor's commit) can afford it. Readers get each counter exactly but
 * not a consistent snapshot across counters; that is fine for monitoring.
 *
 * Who bumps what (keep this list current):
 *   ingest_accepted, log_end   ingest/v1orders.c on_ack (durable append)
 *   ingest_rejected            ingest/orderitem.c (422), ingest/v1orders.c
 *                              batch_row_bad (each invalid row)
 *   ingest_quarantined         ingest/quarantine.c quarantine_add
 *   proc_*                     sf_stats_commit(), called by the processor
 *                              after each commit (process/processor.c)
 */
#ifndef SF_STATS_H
#define SF_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SF_STATS_PARTITIONS 256     /* log_end is kept for partitions below */

struct sf_stats {
    _Atomic uint64_t ingest_accepted;     /* orders appended durably */
    _Atomic uint64_t ingest_rejected;     /* rows refused as invalid (422) */
    _Atomic uint64_t ingest_quarantined;  /* rows written to the quarantine */
    _Atomic uint64_t proc_commits;        /* processor transactions committed */
    _Atomic uint64_t proc_inserted;       /* new rows those commits inserted */
    _Atomic int64_t proc_last_commit_ms;  /* wall clock of the last commit; 0 */
    _Atomic int log_partitions;           /* highest partition seen + 1 */
    /* Per partition: 1 + the next offset after the last durable append,
     * 0 while unknown (use sf_stats_log_end_of). */
    _Atomic int64_t log_end[SF_STATS_PARTITIONS];
};

extern struct sf_stats sf_stats;

static inline void sf_stats_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline uint64_t sf_stats_get(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* A record at `offset` of `partition` is durable: raise that partition's
 * log end to offset + 1 (never lowers it). Partitions past
 * SF_STATS_PARTITIONS are ignored. */
void sf_stats_appended(int partition, int64_t offset);

/* Seed partition's log end (e.g. from the log at start-up). */
void sf_stats_log_end(int partition, int64_t next_offset);

/* Partition p is no longer this process's (a consumer group moved it):
 * its log end is unknown again (not exported) until seeded anew. */
void sf_stats_log_end_forget(int partition);

/* The log end of partition p, or -1 when not known. */
int64_t sf_stats_log_end_of(int partition);

/* The processor committed a transaction that inserted `inserted` rows. */
void sf_stats_commit(size_t inserted);

#endif

/*
 * stats — see stats.h. The log end is a monotonic maximum kept with a
 * compare-and-swap loop, so acks arriving out of order never lower it; it
 * is stored plus one so that the zeroed start means "not known".
 */
#include "core/stats.h"
#include "core/util.h"

struct sf_stats sf_stats;

void sf_stats_log_end(int partition, int64_t next_offset)
{
    if (partition < 0 || partition >= SF_STATS_PARTITIONS)
        return;
    _Atomic int64_t *end = &sf_stats.log_end[partition];
    int64_t cur = atomic_load_explicit(end, memory_order_relaxed);
    while (cur < next_offset + 1 &&
           !atomic_compare_exchange_weak_explicit(end, &cur, next_offset + 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    int n = atomic_load_explicit(&sf_stats.log_partitions, memory_order_relaxed);
    while (n < partition + 1 &&
           !atomic_compare_exchange_weak_explicit(&sf_stats.log_partitions, &n,
                                                  partition + 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void sf_stats_appended(int partition, int64_t offset)
{
    sf_stats_add(&sf_stats.ingest_accepted, 1);
    sf_stats_log_end(partition, offset + 1);
}

void sf_stats_log_end_forget(int partition)
{
    if (partition >= 0 && partition < SF_STATS_PARTITIONS)
        atomic_store_explicit(&sf_stats.log_end[partition], 0, memory_order_relaxed);
}

int64_t sf_stats_log_end_of(int partition)
{
    if (partition < 0 || partition >= SF_STATS_PARTITIONS)
        return -1;
    return atomic_load_explicit(&sf_stats.log_end[partition], memory_order_relaxed) - 1;
}

void sf_stats_commit(size_t inserted)
{
    sf_stats_add(&sf_stats.proc_commits, 1);
    sf_stats_add(&sf_stats.proc_inserted, inserted);
    atomic_store_explicit(&sf_stats.proc_last_commit_ms, sf_now_ms(),
                          memory_order_relaxed);
}

/*
 * metrics — Prometheus instruments beyond the plain counters of stats.h:
 * latency histograms, HTTP requests by route and status, processor
 * positions, store errors; and the text exposition of all of them for
 * GET /metrics.
 *
 * Like stats.h, every update is a relaxed atomic add: nothing here takes a
 * lock on a hot path. Rendering reads each value once (not a consistent
 * snapshot across series, which Prometheus does not need).
 */
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/util.h"

#define SF_HIST_BUCKETS 14

struct sf_hist {
    _Atomic uint64_t bucket[SF_HIST_BUCKETS + 1];   /* last: +Inf */
    _Atomic uint64_t sum_us;
};

enum sf_hist_id {
    SF_HIST_LOG_APPEND,     /* one writer group: build + write, seconds */
    SF_HIST_LOG_FSYNC,      /* one fdatasync */
    SF_HIST_COMMIT,         /* one processor store transaction */
    SF_HIST_COUNT
};

/* Record a duration in microseconds. */
void metrics_observe(enum sf_hist_id h, int64_t us);

/* One HTTP response: route is the path matched in the route table (or
 * "other"), status the HTTP code. */
void metrics_http(const char *route, unsigned status);

/* The processor committed positions next[0..n) (entries < 0 unchanged). */
void metrics_proc_positions(const int64_t *next, int n);
/* The consumer group took parts[0..n) away: their position and lag are no
 * longer exported. */
void metrics_proc_forget(const int *parts, int n);
void metrics_store_error(void);
void metrics_store_retry(void);

/* The processor's progress, for GET /readyz and /metrics. commit_ok: a
 * batch (or part of one) was committed — the run of failures ends and the
 * time is kept. failed: the store refused a commit (or the positions of
 * newly assigned partitions), with its message. recovered: the store works
 * again without a commit (positions loaded). pending: the records in hand
 * were polled at mono_ms (sf_mono_ms), 0 once they are all committed. */
void metrics_proc_commit_ok(void);
void metrics_proc_failed(const char *why);
void metrics_proc_recovered(void);
void metrics_proc_pending(int64_t mono_ms);
/* A record quarantined because the store can never hold it. */
void metrics_proc_unstorable(void);
/* The processor paused us to leave the cores and the disk to ingest
 * (processor_conf.share). */
void metrics_proc_yielded(int64_t us);
/* The embedded log's writer spent us on a group of appends. */
void metrics_log_busy(int64_t us);

struct metrics_proc_health {
    int64_t failures_in_row;    /* store failures since the last success */
    int64_t stalled_ms;         /* records in hand this long without a commit
                                 * (since they were polled or since the last
                                 * commit, whichever is later); 0: none */
    char last_error[256];       /* the last failure's message */
};
void metrics_proc_health(struct metrics_proc_health *h);
/* Adjust the number of connected SSE clients by delta. */
void metrics_sse_clients(int delta);

/* A refused key check (http/ratelimit.h): no key where one was expected
 * (an Authorization header that is not a bearer key, an empty sign-in), a
 * wrong key, or any key from an address over the limit (429). */
enum sf_auth_refusal { SF_AUTH_NO_KEY, SF_AUTH_WRONG_KEY, SF_AUTH_RATE_LIMITED,
                       SF_AUTH_REFUSALS };
void metrics_auth_refused(enum sf_auth_refusal why);
/* Adjust the number of client addresses the key limiter holds by delta. */
void metrics_auth_tracked(long delta);

/* Records in the log not yet committed by the processor, summed over the
 * partitions whose log end and position are known; -1 if none is known. */
int64_t metrics_total_lag(void);

/* Append the whole exposition (text format 0.0.4) to b. */
void metrics_render(struct sf_buf *b);

/* Monotonic microseconds, for timing what goes into a histogram. */
int64_t sf_mono_us(void);

#endif

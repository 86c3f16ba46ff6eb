/*
 * metrics — histograms, per-route HTTP counts and the Prometheus exposition
 * (see metrics.h). The route × status table is fixed-size: routes are
 * interned into a small array the first time they are seen (a lock only on
 * that first sighting), statuses map to a fixed list plus "other".
 */
#include "core/metrics.h"
#include "core/stats.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES 32

static const double bucket_le[SF_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
static const struct {
    const char *name, *help;
} hist_meta[SF_HIST_COUNT] = {
    {"salesflow_log_append_seconds", "Time to build and write one group of log batches."},
    {"salesflow_log_fsync_seconds", "Time of one fdatasync of a log segment."},
    {"salesflow_processor_commit_seconds", "Time of one processor store transaction."},
};
static struct sf_hist hists[SF_HIST_COUNT];

static const unsigned codes[] = {200, 201, 204, 207, 304, 400, 401, 404, 405, 408,
                                 413, 415, 422, 429, 431, 500, 503, 507};
#define NCODES (sizeof(codes) / sizeof(codes[0]))
static pthread_mutex_t route_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *routes[MAX_ROUTES];
static _Atomic int nroutes;
static _Atomic uint64_t http_count[MAX_ROUTES][NCODES + 1];

static _Atomic int64_t positions[SF_STATS_PARTITIONS];
static _Atomic int npositions;
static _Atomic uint64_t store_errors, store_retries;
static _Atomic int64_t proc_yielded_us, log_busy_us;
static _Atomic int64_t sse_clients;
static _Atomic uint64_t auth_refused[SF_AUTH_REFUSALS];
static _Atomic int64_t auth_tracked;
static int64_t start_time_s;

__attribute__((constructor)) static void metrics_start(void)
{
    start_time_s = sf_now_ms() / 1000;
}

int64_t sf_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void metrics_observe(enum sf_hist_id h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < SF_HIST_BUCKETS && (double)us / 1e6 > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&hists[h].bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hists[h].sum_us, (uint64_t)us, memory_order_relaxed);
}

static int route_index(const char *route)
{
    int n = atomic_load(&nroutes);
    for (int i = 0; i < n; i++)
        if (!strcmp(routes[i], route))
            return i;
    pthread_mutex_lock(&route_mu);
    n = atomic_load(&nroutes);
    int i;
    for (i = 0; i < n; i++)
        if (!strcmp(routes[i], route))
            break;
    if (i == n && n < MAX_ROUTES) {
        routes[n] = route;      /* route strings are static (the route table) */
        atomic_store(&nroutes, n + 1);
    }
    pthread_mutex_unlock(&route_mu);
    return i < MAX_ROUTES ? i : -1;
}

void metrics_http(const char *route, unsigned status)
{
    int r = route_index(route ? route : "other");
    if (r < 0)
        return;
    size_t c = 0;
    while (c < NCODES && codes[c] != status)
        c++;
    atomic_fetch_add_explicit(&http_count[r][c], 1, memory_order_relaxed);
}

void metrics_proc_positions(const int64_t *next, int n)
{
    for (int i = 0; i < n && i < SF_STATS_PARTITIONS; i++)
        if (next[i] >= 0)
            atomic_store_explicit(&positions[i], next[i] + 1, memory_order_relaxed);
    if (n > atomic_load(&npositions))
        atomic_store(&npositions, n < SF_STATS_PARTITIONS ? n : SF_STATS_PARTITIONS);
}

static _Atomic uint64_t proc_failures, proc_unstorable;
static _Atomic int64_t proc_in_row, proc_pending_ms, proc_ok_mono_ms, proc_ok_wall_ms;
static pthread_mutex_t proc_err_mu = PTHREAD_MUTEX_INITIALIZER;
static char proc_err[256];

void metrics_proc_commit_ok(void)
{
    atomic_store(&proc_in_row, 0);
    atomic_store(&proc_ok_mono_ms, sf_mono_ms());
    atomic_store(&proc_ok_wall_ms, sf_now_ms());
}

void metrics_proc_failed(const char *why)
{
    atomic_fetch_add(&proc_failures, 1);
    atomic_fetch_add(&proc_in_row, 1);
    pthread_mutex_lock(&proc_err_mu);
    snprintf(proc_err, sizeof(proc_err), "%s", why ? why : "");
    pthread_mutex_unlock(&proc_err_mu);
}

void metrics_proc_recovered(void) { atomic_store(&proc_in_row, 0); }
void metrics_proc_pending(int64_t mono_ms) { atomic_store(&proc_pending_ms, mono_ms); }
void metrics_proc_unstorable(void) { atomic_fetch_add(&proc_unstorable, 1); }

void metrics_proc_health(struct metrics_proc_health *h)
{
    int64_t since = atomic_load(&proc_pending_ms), ok = atomic_load(&proc_ok_mono_ms);
    h->failures_in_row = atomic_load(&proc_in_row);
    h->stalled_ms = since ? sf_mono_ms() - (ok > since ? ok : since) : 0;
    if (h->stalled_ms < 0)
        h->stalled_ms = 0;
    pthread_mutex_lock(&proc_err_mu);
    snprintf(h->last_error, sizeof(h->last_error), "%s", proc_err);
    pthread_mutex_unlock(&proc_err_mu);
}

void metrics_proc_forget(const int *parts, int n)
{
    for (int i = 0; i < n; i++)
        if (parts[i] >= 0 && parts[i] < SF_STATS_PARTITIONS)
            atomic_store_explicit(&positions[parts[i]], 0, memory_order_relaxed);
}

void metrics_store_error(void) { atomic_fetch_add(&store_errors, 1); }
void metrics_store_retry(void) { atomic_fetch_add(&store_retries, 1); }
void metrics_proc_yielded(int64_t us) { atomic_fetch_add(&proc_yielded_us, us); }
void metrics_log_busy(int64_t us)
{
    atomic_fetch_add_explicit(&log_busy_us, us, memory_order_relaxed);
}
void metrics_sse_clients(int delta) { atomic_fetch_add(&sse_clients, delta); }

int64_t metrics_total_lag(void)
{
    int64_t lag = -1;
    int npos = atomic_load(&npositions), np = atomic_load(&sf_stats.log_partitions);
    for (int p = 0; p < npos && p < np; p++) {
        int64_t v = atomic_load_explicit(&positions[p], memory_order_relaxed);
        int64_t end = sf_stats_log_end_of(p);
        if (v > 0 && end >= 0)
            lag = (lag < 0 ? 0 : lag) + (end > v - 1 ? end - (v - 1) : 0);
    }
    return lag;
}

static void header(struct sf_buf *b, const char *name, const char *type,
                   const char *help)
{
    sf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct sf_buf *b, const char *name, const char *help,
                    uint64_t v)
{
    header(b, name, "counter", help);
    sf_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A time in seconds, with decimals digits after the point. */
static void seconds(struct sf_buf *b, const char *name, const char *type,
                    const char *help, double v, int decimals)
{
    header(b, name, type, help);
    sf_buf_printf(b, "%s %.*f\n", name, decimals, v);
}

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

/* HTTP responses, orders, and the latency histograms. */
static void render_ingest(struct sf_buf *b)
{
    header(b, "salesflow_http_requests_total", "counter",
           "HTTP responses by route and status code.");
    int nr = atomic_load(&nroutes);
    for (int r = 0; r < nr; r++) {
        for (size_t c = 0; c <= NCODES; c++) {
            uint64_t v = atomic_load_explicit(&http_count[r][c], memory_order_relaxed);
            if (!v)
                continue;
            if (c < NCODES)
                sf_buf_printf(b, "salesflow_http_requests_total{route=\"%s\",code=\"%u\"}"
                              " %llu\n", routes[r], codes[c], (unsigned long long)v);
            else
                sf_buf_printf(b, "salesflow_http_requests_total{route=\"%s\",code="
                              "\"other\"} %llu\n", routes[r], (unsigned long long)v);
        }
    }
    counter(b, "salesflow_orders_accepted_total", "Orders appended durably to the log.",
            sf_stats_get(&sf_stats.ingest_accepted));
    counter(b, "salesflow_orders_rejected_total", "Orders refused as invalid (422).",
            sf_stats_get(&sf_stats.ingest_rejected));
    counter(b, "salesflow_orders_quarantined_total",
            "Rejected rows kept in the quarantine.",
            sf_stats_get(&sf_stats.ingest_quarantined));

    for (int h = 0; h < SF_HIST_COUNT; h++) {
        const char *name = hist_meta[h].name;
        uint64_t cum = 0;
        header(b, name, "histogram", hist_meta[h].help);
        for (int k = 0; k <= SF_HIST_BUCKETS; k++) {
            cum += atomic_load_explicit(&hists[h].bucket[k], memory_order_relaxed);
            if (k < SF_HIST_BUCKETS)
                sf_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[k],
                              (unsigned long long)cum);
            else
                sf_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                              (unsigned long long)cum);
        }
        sf_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
                      (double)atomic_load(&hists[h].sum_us) / 1e6, name,
                      (unsigned long long)cum);
    }
}

/* The log's end, the processor's positions, lag and health. */
static void render_processor(struct sf_buf *b)
{
    int np = atomic_load(&sf_stats.log_partitions);
    header(b, "salesflow_log_end_offset", "gauge",
           "Next offset after the last durable record, per partition.");
    for (int p = 0; p < np && p < SF_STATS_PARTITIONS; p++) {
        int64_t end = sf_stats_log_end_of(p);
        if (end >= 0)
            sf_buf_printf(b, "salesflow_log_end_offset{partition=\"%d\"} %lld\n", p,
                          (long long)end);
    }
    int npos = atomic_load(&npositions);
    header(b, "salesflow_processor_position", "gauge",
           "Next offset the processor will read, as committed in the store.");
    for (int p = 0; p < npos; p++) {
        int64_t v = atomic_load_explicit(&positions[p], memory_order_relaxed);
        if (v > 0)
            sf_buf_printf(b, "salesflow_processor_position{partition=\"%d\"} %lld\n", p,
                          (long long)(v - 1));
    }
    header(b, "salesflow_processor_lag", "gauge",
           "Records in the log not yet committed by the processor, per partition.");
    for (int p = 0; p < npos && p < np; p++) {
        int64_t v = atomic_load_explicit(&positions[p], memory_order_relaxed);
        int64_t end = sf_stats_log_end_of(p);
        if (v > 0 && end >= 0)
            sf_buf_printf(b, "salesflow_processor_lag{partition=\"%d\"} %lld\n", p,
                          (long long)(end > v - 1 ? end - (v - 1) : 0));
    }
    counter(b, "salesflow_processor_commits_total", "Processor store transactions.",
            sf_stats_get(&sf_stats.proc_commits));
    counter(b, "salesflow_store_errors_total", "Failed store transactions.",
            atomic_load(&store_errors));
    counter(b, "salesflow_processor_commit_failures_total",
            "Processor commits (and position loads) the store refused.",
            atomic_load(&proc_failures));
    struct metrics_proc_health h;
    metrics_proc_health(&h);
    header(b, "salesflow_processor_commit_failures_in_row", "gauge",
           "Processor store failures since its last success.");
    sf_buf_printf(b, "salesflow_processor_commit_failures_in_row %lld\n",
                  (long long)h.failures_in_row);
    seconds(b, "salesflow_processor_last_commit_timestamp_seconds", "gauge",
            "When the processor last committed, since the Unix epoch (0: not yet).",
            (double)atomic_load(&proc_ok_wall_ms) / 1e3, 3);
    seconds(b, "salesflow_processor_stalled_seconds", "gauge",
            "How long records polled by the processor have waited without a commit "
            "(0: none waiting).", (double)h.stalled_ms / 1e3, 3);
    counter(b, "salesflow_processor_unstorable_total",
            "Orders quarantined because the store can never hold them.",
            atomic_load(&proc_unstorable));
    counter(b, "salesflow_store_retries_total", "Store transactions retried.",
            atomic_load(&store_retries));
    seconds(b, "salesflow_processor_yielded_seconds_total", "counter",
            "Time the processor paused, while behind and outpaced by arrivals, to leave "
            "the cores and the disk to ingest (--processor-share).",
            (double)atomic_load(&proc_yielded_us) / 1e6, 6);
    seconds(b, "salesflow_log_writer_busy_seconds_total", "counter",
            "Time the embedded log's writer spent writing, syncing and acknowledging "
            "appends (near a second a second: it never waited for work).",
            (double)atomic_load(&log_busy_us) / 1e6, 6);
}

void metrics_auth_refused(enum sf_auth_refusal why)
{
    atomic_fetch_add_explicit(&auth_refused[why], 1, memory_order_relaxed);
}

void metrics_auth_tracked(long delta)
{
    atomic_fetch_add_explicit(&auth_tracked, delta, memory_order_relaxed);
}

/* Refused key checks, and the addresses the limiter holds. */
static void render_auth(struct sf_buf *b)
{
    static const char *const reason[SF_AUTH_REFUSALS] = {"no_key", "wrong_key",
                                                         "rate_limited"};
    header(b, "salesflow_auth_refused_total", "counter",
           "Requests refused for their key: no_key, an Authorization header with no "
           "bearer key or a sign-in with an empty key (no Authorization header at all "
           "is not counted); wrong_key, a wrong key; rate_limited, any key from an "
           "address over --auth-fail-limit (429).");
    for (int i = 0; i < SF_AUTH_REFUSALS; i++)
        sf_buf_printf(b, "salesflow_auth_refused_total{reason=\"%s\"} %llu\n", reason[i],
                      (unsigned long long)atomic_load(&auth_refused[i]));
    header(b, "salesflow_auth_tracked_addresses", "gauge",
           "Client addresses with recent failed keys held by the limiter (at most 8192).");
    sf_buf_printf(b, "salesflow_auth_tracked_addresses %lld\n",
                  (long long)atomic_load(&auth_tracked));
}

void metrics_render(struct sf_buf *b)
{
    render_ingest(b);
    render_processor(b);
    header(b, "salesflow_sse_clients", "gauge", "Connected /api/stream clients.");
    sf_buf_printf(b, "salesflow_sse_clients %lld\n", (long long)atomic_load(&sse_clients));
    render_auth(b);
    header(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    sf_buf_printf(b, "process_resident_memory_bytes %ld\n", rss_bytes());
    header(b, "process_open_fds", "gauge", "Number of open file descriptors.");
    sf_buf_printf(b, "process_open_fds %d\n", open_fds());
    header(b, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    sf_buf_printf(b, "process_start_time_seconds %lld\n", (long long)start_time_s);
}

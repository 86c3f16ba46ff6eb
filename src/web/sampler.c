/*
 * sampler — the dashboard's per-second history and, under `serve`, its
 * change detector.
 *
 * A thread reads the `sales` aggregates (one row per (source, state): a few
 * dozen rows) every 250 ms under `serve`, once a second under `run`, and
 * files what changed since the previous read into the current second of a
 * ring of WEB_RING_S seconds, per (source, state) key. Orders per second,
 * filtered by source and state, are then sums over that ring; the same
 * reads give the ingest rate (from sf_stats) for the pipeline panel. Under
 * `serve` the store is written by another process, so a change seen here is
 * what wakes the live streams; under `run` the processor's commit hook does
 * that sooner, and the sampler only keeps history.
 *
 * History is processing time (when the rows reached the store), not the
 * orders' own created_at, and starts when the server does. What one read
 * finds is spread over the seconds since the previous read, in proportion
 * to how much of each it covers (integer shares that add up exactly), so a
 * read that comes late (the store handle was busy with a query) does not
 * file two seconds' orders into one and leave a 0 beside it; the series
 * ends at the last second a read has fully covered. When the wall clock
 * steps back (a read lands in an earlier second than the last one), the
 * history and the ingest readings start again from that read: the seconds
 * before it would be labelled with times that now lie ahead, and the rates
 * would wait for the clock to catch up with the server's start. A step
 * forward leaves a stretch of empty seconds, as it should. A key table of
 * at most WEB_KEYS_MAX pairs (open addressing on the pair's hash) maps a
 * row to its slot; a store whose totals go down (a replay emptied it) only
 * resets the baseline.
 */
#include "web/web_int.h"
#include "core/money.h"
#include "core/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS (WEB_KEYS_MAX * 2)

static uint32_t key_hash(const char *source, const char *state)
{
    uint32_t h = 2166136261u;
    for (const char *p = source; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = state; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* Index of (source, state), adding it if new; -1 when the table is full. */
static long key_index(struct web *w, const char *source, const char *state)
{
    uint32_t h = key_hash(source, state) % SLOTS;
    for (;;) {
        uint32_t v = w->slots[h];
        if (!v)
            break;
        const struct web_key *k = &w->keys[v - 1];
        if (!strcmp(k->source, source) && !strcmp(k->state, state))
            return (long)(v - 1);
        h = (h + 1) % SLOTS;
    }
    if (w->nkeys == WEB_KEYS_MAX)
        return -1;
    struct web_key *k = &w->keys[w->nkeys];
    snprintf(k->source, sizeof(k->source), "%s", source);
    snprintf(k->state, sizeof(k->state), "%s", state);
    w->prev_count[w->nkeys] = 0;
    w->prev_cents[w->nkeys] = 0;
    w->slots[h] = (uint32_t)++w->nkeys;
    return (long)(w->nkeys - 1);
}

static struct web_second *second_slot(struct web *w, int64_t sec)
{
    struct web_second *s = &w->ring[sec % (WEB_RING_S + 1)];
    if (s->sec != sec) {
        s->sec = sec;
        s->n = 0;
    }
    return s;
}

static void add_delta(struct web_second *s, uint32_t key, int64_t count, int64_t cents)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->d[i].key == key) {
            s->d[i].count += count;
            s->d[i].cents += cents;
            return;
        }
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        struct web_delta *d = realloc(s->d, nc * sizeof(*d));
        if (!d)
            return;     /* history loses this second's detail; harmless */
        s->d = d;
        s->cap = nc;
    }
    s->d[s->n++] = (struct web_delta){key, count, cents};
}

/* File a change of (count, cents) for key k that happened somewhere in
 * (from_ms, to_ms] into the seconds of that interval, each its share. */
static void add_spread(struct web *w, uint32_t k, int64_t count, int64_t cents,
                       int64_t from_ms, int64_t to_ms)
{
    int64_t span = to_ms - from_ms;
    int64_t done_c = 0, done_m = 0;
    for (int64_t sec = from_ms / 1000; sec * 1000 < to_ms; sec++) {
        int64_t end = (sec + 1) * 1000 < to_ms ? (sec + 1) * 1000 : to_ms;
        /* Shares by cumulative rounding: they add up to the totals. The
         * money follows the orders (a second never holds money without an
         * order, nor orders without their money). */
        int64_t upto_c = end == to_ms ? count
                         : (int64_t)((double)count * (double)(end - from_ms) / (double)span + 0.5);
        int64_t upto_m = end == to_ms ? cents
                         : count ? (int64_t)((double)cents * (double)upto_c / (double)count + 0.5)
                                 : 0;
        if (upto_c != done_c || upto_m != done_m)
            add_delta(second_slot(w, sec), k, upto_c - done_c, upto_m - done_m);
        done_c = upto_c;
        done_m = upto_m;
    }
}

/* One read of the store. Returns 1 if anything changed. */
static int sample(struct web *w)
{
    struct sales_row *rows = NULL;
    size_t n = 0;
    char err[512];
    pthread_mutex_lock(&w->mu);
    int64_t read_ms = sf_now_ms();      /* the rows are as of about now */
    int rc = store_sales(w->store, &rows, &n, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc) {
        static int64_t last_log;
        if (sf_mono_ms() - last_log > 60000) {
            log_warn("web: reading sales for the live view: %s", err);
            last_log = sf_mono_ms();
        }
        return 0;
    }
    int changed = 0, reset = 0;
    pthread_mutex_lock(&w->rmu);
    if (w->have_baseline && read_ms / 1000 < w->last_read_ms / 1000) {
        log_warn("web: the wall clock went back %" PRId64 " s; the live per-second "
                 "history and rates start again", w->last_read_ms / 1000 - read_ms / 1000);
        for (size_t i = 0; i < SF_ARRAY_LEN(w->ring); i++) {
            w->ring[i].sec = 0;
            w->ring[i].n = 0;
        }
        for (size_t i = 0; i < SF_ARRAY_LEN(w->acc); i++)
            w->acc[i].ms = 0;
        w->first_sec = read_ms / 1000;
    }
    /* What changed since the last read happened between the two reads
     * (never spread over more than the ring holds, nor backwards). */
    int64_t from_ms = w->last_read_ms;
    if (from_ms < read_ms - (int64_t)WEB_RING_S * 1000)
        from_ms = read_ms - (int64_t)WEB_RING_S * 1000;
    if (from_ms >= read_ms)
        from_ms = read_ms - 1;
    w->last_read_ms = read_ms;
    struct web_acc *acc = &w->acc[w->nacc++ % SF_ARRAY_LEN(w->acc)];
    acc->ms = sf_now_ms();
    acc->accepted = sf_stats_get(&sf_stats.ingest_accepted);
    for (size_t i = 0; i < n; i++) {
        long k = key_index(w, rows[i].source, rows[i].state);
        if (k < 0)
            continue;
        int64_t dc = rows[i].order_count - w->prev_count[k];
        int64_t dm = rows[i].total_cents - w->prev_cents[k];
        if (dc < 0 || dm < 0)
            reset = 1;
        else if ((dc || dm) && w->have_baseline)
            add_spread(w, (uint32_t)k, dc, dm, from_ms, read_ms);
        changed |= dc || dm;
        w->prev_count[k] = rows[i].order_count;
        w->prev_cents[k] = rows[i].total_cents;
    }
    if (n < w->nkeys) {
        /* Pairs gone from the store (emptied for a replay). */
        size_t seen = 0;
        for (size_t k = 0; k < w->nkeys; k++)
            seen += w->prev_count[k] != 0;
        if (seen > n) {
            reset = 1;
            changed = 1;
        }
    }
    if (reset) {
        for (size_t k = 0; k < w->nkeys; k++)
            w->prev_count[k] = w->prev_cents[k] = 0;
        for (size_t i = 0; i < n; i++) {
            long k = key_index(w, rows[i].source, rows[i].state);
            if (k >= 0) {
                w->prev_count[k] = rows[i].order_count;
                w->prev_cents[k] = rows[i].total_cents;
            }
        }
    }
    if (!w->have_baseline) {
        w->have_baseline = 1;
        w->first_sec = read_ms / 1000;  /* history starts at this read */
        changed = 0;
    }
    pthread_mutex_unlock(&w->rmu);
    free(rows);
    return changed;
}

static void *sampler_main(void *arg)
{
    struct web *w = arg;
    int64_t last_sec = 0;
    pthread_mutex_lock(&w->rmu);
    while (!atomic_load(&w->stop)) {
        int attached = atomic_load(&w->attached);
        int64_t sec = sf_now_ms() / 1000;
        if (!attached || sec != last_sec) {
            last_sec = sec;
            pthread_mutex_unlock(&w->rmu);
            int changed = sample(w);
            if (changed && !attached) {
                atomic_store(&w->last_change_ms, sf_now_ms());
                atomic_fetch_add(&w->commit_gen, 1);
                web_streams_kick(w);
            }
            pthread_mutex_lock(&w->rmu);
            if (atomic_load(&w->stop))
                break;
        }
        /* Wake just after the next quarter second of the wall clock, so
         * that once-a-second reads land at the start of each second. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long q = ts.tv_nsec / 250000000L + 1;
        ts.tv_nsec = q * 250000000L + 5000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->rcv, &w->rmu, &ts);
    }
    pthread_mutex_unlock(&w->rmu);
    return NULL;
}

int web_sampler_start(struct web *w, char *errstr, size_t n)
{
    w->keys = calloc(WEB_KEYS_MAX, sizeof(*w->keys));
    w->prev_count = calloc(WEB_KEYS_MAX, sizeof(*w->prev_count));
    w->prev_cents = calloc(WEB_KEYS_MAX, sizeof(*w->prev_cents));
    w->slots = calloc(SLOTS, sizeof(*w->slots));
    if (!w->keys || !w->prev_count || !w->prev_cents || !w->slots)
        return sf_err(-1, errstr, n, "out of memory");
    pthread_mutex_init(&w->rmu, NULL);
    pthread_cond_init(&w->rcv, NULL);
    if (pthread_create(&w->sampler, NULL, sampler_main, w))
        return sf_err(-1, errstr, n, "cannot start the dashboard sampler thread");
    w->sampler_started = 1;
    return 0;
}

void web_sampler_stop(struct web *w)
{
    if (w->sampler_started) {
        atomic_store(&w->stop, 1);
        pthread_mutex_lock(&w->rmu);
        pthread_cond_broadcast(&w->rcv);
        pthread_mutex_unlock(&w->rmu);
        pthread_join(w->sampler, NULL);
        w->sampler_started = 0;
        pthread_cond_destroy(&w->rcv);
        pthread_mutex_destroy(&w->rmu);
    }
    for (size_t i = 0; i < SF_ARRAY_LEN(w->ring); i++)
        free(w->ring[i].d);
    free(w->keys);
    free(w->prev_count);
    free(w->prev_cents);
    free(w->slots);
}

int web_sampler_knows_source(struct web *w, const char *s)
{
    int found = 0;
    pthread_mutex_lock(&w->rmu);
    for (size_t k = 0; k < w->nkeys && !found; k++)
        found = !strcmp(w->keys[k].source, s);
    pthread_mutex_unlock(&w->rmu);
    return found;
}

static int key_matches(const struct web_key *k, const struct store_filter *f)
{
    int ok = !f || !f->nsources;
    for (size_t i = 0; f && i < f->nsources && !ok; i++)
        ok = !strcmp(k->source, f->sources[i]);
    if (!ok)
        return 0;
    ok = !f || !f->nstates;
    for (size_t i = 0; f && i < f->nstates && !ok; i++)
        ok = !strcmp(k->state, f->states[i]);
    return ok;
}

void web_sampler_series(struct web *w, const struct store_filter *f, int window,
                        struct sf_buf *b)
{
    int64_t now = sf_now_ms() / 1000;
    char ts[32], amt[24];
    int first = 1;
    unsigned char *match = NULL;
    SF_BUF_LIT(b, "[");
    pthread_mutex_lock(&w->rmu);
    if (w->nkeys)
        match = malloc(w->nkeys);
    for (size_t k = 0; match && k < w->nkeys; k++)
        match[k] = (unsigned char)key_matches(&w->keys[k], f);
    /* Up to the last second a read has covered to its end: a later one is
     * not complete yet. */
    int64_t end = w->last_read_ms / 1000 < now ? w->last_read_ms / 1000 : now;
    for (int64_t sec = end - window; sec < end; sec++) {
        if (!w->have_baseline || sec < w->first_sec)
            continue;
        int64_t count = 0, cents = 0;
        const struct web_second *s = &w->ring[sec % (WEB_RING_S + 1)];
        if (s->sec == sec) {
            for (size_t i = 0; match && i < s->n; i++) {
                if (s->d[i].key < w->nkeys && match[s->d[i].key]) {
                    count += s->d[i].count;
                    cents += s->d[i].cents;
                }
            }
        }
        sf_format_time(sec * 1000, ts);
        memcpy(ts + 19, "Z", 2);    /* whole seconds: "…T03:40:05Z" */
        sf_buf_printf(b, "%s{\"t\":\"%s\",\"orders\":%lld,\"total\":%s}",
                      first ? "" : ",", ts, (long long)count,
                      money_format(cents, amt));
        first = 0;
    }
    pthread_mutex_unlock(&w->rmu);
    free(match);
    SF_BUF_LIT(b, "]");
}

void web_sampler_rates(struct web *w, int secs, double *processed, double *accepted)
{
    int64_t now_ms = sf_now_ms(), now = now_ms / 1000;
    int64_t count = 0;
    *processed = *accepted = -1;
    pthread_mutex_lock(&w->rmu);
    /* A server younger than secs uses what it has, from 3 s on. */
    if (w->have_baseline && now - secs < w->first_sec)
        secs = (int)(now - w->first_sec);
    if (w->have_baseline && secs >= 3) {
        for (int64_t sec = now - secs; sec < now; sec++) {
            const struct web_second *s = &w->ring[sec % (WEB_RING_S + 1)];
            for (size_t i = 0; s->sec == sec && i < s->n; i++)
                count += s->d[i].count;
        }
        *processed = (double)count / secs;
    }
    /* Ingest: the counter now against the newest reading at least `secs`
     * old. */
    const struct web_acc *old = NULL;
    for (size_t i = 0; i < SF_ARRAY_LEN(w->acc); i++) {
        const struct web_acc *a = &w->acc[i];
        if (a->ms && now_ms - a->ms >= secs * 1000 && (!old || a->ms > old->ms))
            old = a;
    }
    if (old)
        *accepted = (double)(sf_stats_get(&sf_stats.ingest_accepted) - old->accepted) *
                    1000.0 / (double)(now_ms - old->ms);
    pthread_mutex_unlock(&w->rmu);
}

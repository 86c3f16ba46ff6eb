/*
 * ratelimit — see ratelimit.h. A fixed set-associative table: the address
 * picks a set (a 64-bit mix of its bytes and a random seed, so nobody can
 * aim at one set from outside), the set's RL_WAYS entries are scanned under
 * its mutex. busy_until, the latest end of any refusal, lets a request
 * with a key skip the table while nobody is refused; the thread resets it
 * to 0 once it has passed.
 *
 * An entry counts failures in a window that starts at its first failure;
 * the max-th failure refuses the address for window_ms from then on. Its
 * log state: log_until (no line for this address before then) and
 * unlogged (refusals since the last line, summed up by the thread once
 * log_until has passed).
 */
#include "http/ratelimit.h"
#include "core/metrics.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RL_LOG_PERIOD_MS 60000
#define RL_TICK_MS 1000

struct rl_addr {
    uint8_t b[16];              /* IPv4: 4 bytes; IPv6: the /64 prefix; rest 0 */
    uint8_t v6;
};

struct rl_entry {
    struct rl_addr a;
    uint8_t used;
    uint32_t fails;             /* in the window that started at window_start */
    uint32_t unlogged;          /* refusals not logged one by one */
    int64_t window_start, blocked_until, log_until, last_ms;    /* sf_mono_ms */
};

struct rl_set {
    pthread_mutex_t mu;
    struct rl_entry e[RL_WAYS];
};

struct http_ratelimit {
    unsigned max;
    int64_t window_ms;
    uint64_t seed;
    atomic_int_fast64_t busy_until; /* 0: nobody is refused */
    struct rl_set *sets;
    /* The log budget: lines in the current minute, and refusals whose line
     * did not fit (summed up once the minute is over). */
    pthread_mutex_t log_mu;
    int64_t log_period;
    unsigned log_lines;
    uint64_t log_dropped;
    /* The thread. */
    pthread_t th;
    int started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stop;
};

/* A summary line to write once the set's lock is released. */
struct rl_summary {
    struct rl_addr a;
    uint32_t n;
};

static int addr_key(const struct sockaddr *sa, struct rl_addr *k)
{
    memset(k, 0, sizeof(*k));
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        memcpy(k->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(k->b, a6->s6_addr + 12, 4);
        } else {
            memcpy(k->b, a6->s6_addr, 8);
            k->v6 = 1;
        }
        return 0;
    }
    return -1;
}

static int addr_eq(const struct rl_addr *x, const struct rl_addr *y)
{
    return x->v6 == y->v6 && !memcmp(x->b, y->b, sizeof(x->b));
}

static void addr_str(const struct rl_addr *k, char *out, size_t n)
{
    if (!k->v6) {
        inet_ntop(AF_INET, k->b, out, (socklen_t)n);
        return;
    }
    char tmp[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, k->b, tmp, sizeof(tmp));
    snprintf(out, n, "%s/64", tmp);
}

static struct rl_set *set_of(struct http_ratelimit *rl, const struct rl_addr *k)
{
    uint64_t x, y;
    memcpy(&x, k->b, 8);
    memcpy(&y, k->b + 8, 8);
    uint64_t h = (x ^ rl->seed) * UINT64_C(0x9E3779B97F4A7C15);
    h ^= (y + k->v6) + (h >> 29);
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 32;
    return &rl->sets[h % RL_SETS];
}

/* "60 s" or "1500 ms". */
static void dur_str(int64_t ms, char *out, size_t n)
{
    if (ms % 1000 == 0)
        snprintf(out, n, "%" PRId64 " s", ms / 1000);
    else
        snprintf(out, n, "%" PRId64 " ms", ms);
}

/* Room in the log budget for a line about `attempts` refusals: 1, or 0
 * (they are added to the dropped count). */
static int log_take(struct http_ratelimit *rl, int64_t now, uint64_t attempts)
{
    pthread_mutex_lock(&rl->log_mu);
    if (now - rl->log_period >= RL_LOG_PERIOD_MS && !rl->log_dropped) {
        rl->log_period = now;
        rl->log_lines = 0;
    }
    int ok = rl->log_lines < RL_LOG_LINES;
    if (ok)
        rl->log_lines++;
    else
        rl->log_dropped += attempts;
    pthread_mutex_unlock(&rl->log_mu);
    return ok;
}

static void log_summary(struct http_ratelimit *rl, const struct rl_summary *s, int64_t now)
{
    char addr[INET6_ADDRSTRLEN + 8];
    if (!log_take(rl, now, s->n))
        return;
    addr_str(&s->a, addr, sizeof(addr));
    log_warn("auth: %" PRIu32 " more refused from %s (wrong keys, or keys while it was "
             "limited), not logged one by one", s->n, addr);
}

/* Whose refusals went unlogged for the budget: one line, once the minute
 * they fell in is over. */
static void log_dropped(struct http_ratelimit *rl, int64_t now)
{
    uint64_t n = 0;
    pthread_mutex_lock(&rl->log_mu);
    if (rl->log_dropped && now - rl->log_period >= RL_LOG_PERIOD_MS) {
        n = rl->log_dropped;
        rl->log_dropped = 0;
        rl->log_period = now;
        rl->log_lines = 1;
    }
    pthread_mutex_unlock(&rl->log_mu);
    if (n)
        log_warn("auth: %" PRIu64 " more refused keys from various addresses, not "
                 "logged: at most %d lines about refused keys a minute", n, RL_LOG_LINES);
}

/* The entry of k in s (locked), or NULL. */
static struct rl_entry *find(struct rl_set *s, const struct rl_addr *k)
{
    for (int i = 0; i < RL_WAYS; i++)
        if (s->e[i].used && addr_eq(&s->e[i].a, k))
            return &s->e[i];
    return NULL;
}

/* A fresh entry for k in s (locked): a free one, or the one that matters
 * least, whose unlogged refusals go to *gone for a summary line. */
static struct rl_entry *take(struct rl_set *s, const struct rl_addr *k, int64_t now,
                             struct rl_summary *gone)
{
    struct rl_entry *v = NULL;
    for (int i = 0; i < RL_WAYS && !v; i++)
        if (!s->e[i].used)
            v = &s->e[i];
    if (v) {
        metrics_auth_tracked(1);
    } else {
        v = &s->e[0];
        for (int i = 1; i < RL_WAYS; i++) {
            struct rl_entry *e = &s->e[i];
            int eb = e->blocked_until > now, vb = v->blocked_until > now;
            if (eb != vb ? !eb : eb ? e->blocked_until < v->blocked_until
                                    : e->last_ms < v->last_ms)
                v = e;
        }
        if (v->unlogged)
            *gone = (struct rl_summary){.a = v->a, .n = v->unlogged};
    }
    memset(v, 0, sizeof(*v));
    v->a = *k;
    v->used = 1;
    return v;
}

int64_t ratelimit_wait(struct http_ratelimit *rl, const struct sockaddr *peer,
                       const char *method, const char *route)
{
    struct rl_addr k;
    if (!rl || !atomic_load_explicit(&rl->busy_until, memory_order_relaxed))
        return 0;
    int64_t now = sf_mono_ms();
    if (now >= atomic_load_explicit(&rl->busy_until, memory_order_relaxed) ||
        addr_key(peer, &k))
        return 0;
    struct rl_set *s = set_of(rl, &k);
    int line = 0;
    pthread_mutex_lock(&s->mu);
    struct rl_entry *e = find(s, &k);
    int64_t wait = e && e->blocked_until > now ? e->blocked_until - now : 0;
    if (wait && method) {
        line = now >= e->log_until;
        if (line)
            e->log_until = now + rl->window_ms;
        else
            e->unlogged++;
    }
    pthread_mutex_unlock(&s->mu);
    if (wait && method) {
        metrics_auth_refused(SF_AUTH_RATE_LIMITED);
        char addr[INET6_ADDRSTRLEN + 8];
        addr_str(&k, addr, sizeof(addr));
        if (line && log_take(rl, now, 1))
            log_warn("auth: refused %s %s from %s: too many failed keys (429, key not "
                     "checked)", method, route ? route : "other", addr);
    }
    return wait;
}

void ratelimit_fail(struct http_ratelimit *rl, const struct sockaddr *peer,
                    const char *method, const char *route, enum rl_reason why)
{
    struct rl_addr k;
    metrics_auth_refused(why == RL_NO_KEY ? SF_AUTH_NO_KEY : SF_AUTH_WRONG_KEY);
    if (!rl || addr_key(peer, &k))
        return;
    int64_t now = sf_mono_ms();
    struct rl_set *s = set_of(rl, &k);
    struct rl_summary gone = {.n = 0};
    pthread_mutex_lock(&s->mu);
    struct rl_entry *e = find(s, &k);
    if (!e)
        e = take(s, &k, now, &gone);
    if (e->blocked_until && e->blocked_until <= now)
        e->blocked_until = 0, e->fails = 0;
    if (!e->fails || now - e->window_start >= rl->window_ms) {
        e->fails = 0;
        e->window_start = now;
    }
    e->fails++;
    e->last_ms = now;
    int blocked = !e->blocked_until && e->fails >= rl->max;
    if (blocked)
        e->blocked_until = now + rl->window_ms;
    int line = now >= e->log_until;
    if (line)
        e->log_until = now + rl->window_ms;
    else
        e->unlogged++;
    pthread_mutex_unlock(&s->mu);
    if (blocked) {
        int_fast64_t cur = atomic_load(&rl->busy_until), until = now + rl->window_ms;
        while (cur < until && !atomic_compare_exchange_weak(&rl->busy_until, &cur, until))
            ;
    }
    if (gone.n)
        log_summary(rl, &gone, now);
    char addr[INET6_ADDRSTRLEN + 8], win[32];
    addr_str(&k, addr, sizeof(addr));
    dur_str(rl->window_ms, win, sizeof(win));
    if (line && log_take(rl, now, 1))
        log_warn("auth: refused %s %s from %s: %s", method, route ? route : "other", addr,
                 why == RL_NO_KEY ? "no key" : "wrong key");
    if (blocked && log_take(rl, now, 0))
        log_warn("auth: %s reached %u failed key checks within %s: every key from it "
                 "gets 429 for %s", addr, rl->max, win, win);
}

/* Once a second: the summaries of addresses whose log window is over,
 * forget the addresses that are done, reset busy_until once passed. With
 * all, sum up everything (at the end). */
static void sweep(struct http_ratelimit *rl, int all)
{
    int64_t now = sf_mono_ms();
    for (size_t i = 0; i < RL_SETS; i++) {
        struct rl_set *s = &rl->sets[i];
        struct rl_summary sum[RL_WAYS];
        int nsum = 0, freed = 0;
        pthread_mutex_lock(&s->mu);
        for (int w = 0; w < RL_WAYS; w++) {
            struct rl_entry *e = &s->e[w];
            if (!e->used)
                continue;
            if (e->unlogged && (all || now >= e->log_until)) {
                sum[nsum++] = (struct rl_summary){.a = e->a, .n = e->unlogged};
                e->unlogged = 0;
                e->log_until = now;
            } else if (!e->unlogged && e->blocked_until <= now && now >= e->log_until &&
                       now - e->window_start >= rl->window_ms) {
                e->used = 0;
                freed++;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (freed)
            metrics_auth_tracked(-freed);
        for (int j = 0; j < nsum; j++)
            log_summary(rl, &sum[j], now);
    }
    int_fast64_t busy = atomic_load(&rl->busy_until);
    if (busy && now >= busy)
        atomic_compare_exchange_strong(&rl->busy_until, &busy, 0);
    log_dropped(rl, all ? now + RL_LOG_PERIOD_MS : now);
}

static void *tick_main(void *arg)
{
    struct http_ratelimit *rl = arg;
    pthread_mutex_lock(&rl->stop_mu);
    while (!rl->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += RL_TICK_MS / 1000;
        pthread_cond_timedwait(&rl->stop_cv, &rl->stop_mu, &ts);
        if (rl->stop)
            break;
        pthread_mutex_unlock(&rl->stop_mu);
        sweep(rl, 0);
        pthread_mutex_lock(&rl->stop_mu);
    }
    pthread_mutex_unlock(&rl->stop_mu);
    return NULL;
}

struct http_ratelimit *ratelimit_new(unsigned max, int64_t window_ms, char *errstr,
                                     size_t errstr_size)
{
    struct http_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl || !(rl->sets = calloc(RL_SETS, sizeof(*rl->sets)))) {
        free(rl);
        sf_err(-1, errstr, errstr_size, "out of memory");
        return NULL;
    }
    rl->max = max ? max : RL_MAX_DEFAULT;
    rl->window_ms = window_ms > 0 ? window_ms : RL_WINDOW_DEFAULT_MS;
    if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) != (ssize_t)sizeof(rl->seed))
        rl->seed = (uint64_t)sf_now_ms() * UINT64_C(0x9E3779B97F4A7C15);
    atomic_init(&rl->busy_until, 0);
    for (size_t i = 0; i < RL_SETS; i++)
        pthread_mutex_init(&rl->sets[i].mu, NULL);
    pthread_mutex_init(&rl->log_mu, NULL);
    pthread_mutex_init(&rl->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rl->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    rl->log_period = sf_mono_ms();
    if (pthread_create(&rl->th, NULL, tick_main, rl)) {
        sf_err(-1, errstr, errstr_size, "cannot start the key limiter's thread");
        ratelimit_destroy(rl);
        return NULL;
    }
    rl->started = 1;
    pthread_setname_np(rl->th, "sf-authlimit");
    return rl;
}

void ratelimit_destroy(struct http_ratelimit *rl)
{
    if (!rl)
        return;
    if (rl->started) {
        pthread_mutex_lock(&rl->stop_mu);
        rl->stop = 1;
        pthread_cond_signal(&rl->stop_cv);
        pthread_mutex_unlock(&rl->stop_mu);
        pthread_join(rl->th, NULL);
        sweep(rl, 1);
    }
    size_t tracked = 0;
    for (size_t i = 0; i < RL_SETS; i++) {
        for (int w = 0; w < RL_WAYS; w++)
            tracked += rl->sets[i].e[w].used;
        pthread_mutex_destroy(&rl->sets[i].mu);
    }
    metrics_auth_tracked(-(long)tracked);
    pthread_mutex_destroy(&rl->log_mu);
    pthread_mutex_destroy(&rl->stop_mu);
    pthread_cond_destroy(&rl->stop_cv);
    free(rl->sets);
    free(rl);
}

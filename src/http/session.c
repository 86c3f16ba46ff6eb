/*
 * session — see session.h. One array behind a mutex: lookups scan the
 * selectors (8 bytes each, at most SESSIONS_MAX of them), which is cheap
 * next to a query, and expired sessions are dropped when met and whenever
 * a session is made.
 */
#include "http/session.h"
#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SEL_LEN 8
#define SECRET_LEN 24

struct sess {
    unsigned char sel[SEL_LEN], secret[SECRET_LEN];
    int64_t expires_ms;             /* sf_mono_ms() */
    unsigned char key[AUTH_KEY_MAX];
    size_t keylen;
};

struct http_sessions {
    pthread_mutex_t mu;
    struct sess *v;
    size_t n, cap;
    int64_t ttl_ms;
};

struct http_sessions *sessions_new(int64_t ttl_ms)
{
    struct http_sessions *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->ttl_ms = ttl_ms > 0 ? ttl_ms : SESSION_TTL_DEFAULT_MS;
    return s;
}

void sessions_destroy(struct http_sessions *s)
{
    if (!s)
        return;
    if (s->v)
        explicit_bzero(s->v, s->cap * sizeof(*s->v));
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int64_t sessions_ttl_ms(const struct http_sessions *s)
{
    return s ? s->ttl_ms : SESSION_TTL_DEFAULT_MS;
}

/* Drop session i (the last one takes its place). */
static void drop(struct http_sessions *s, size_t i)
{
    s->v[i] = s->v[--s->n];
    explicit_bzero(&s->v[s->n], sizeof(s->v[s->n]));
}

/* Room for one more session, under the lock: 0, or -1 out of memory. */
static int make_room(struct http_sessions *s, int64_t now)
{
    for (size_t i = 0; i < s->n;)
        if (s->v[i].expires_ms <= now)
            drop(s, i);
        else
            i++;
    if (s->n == SESSIONS_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < s->n; i++)
            if (s->v[i].expires_ms < s->v[oldest].expires_ms)
                oldest = i;
        drop(s, oldest);
    }
    if (s->n < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct sess *v = calloc(cap, sizeof(*v));
    if (!v)
        return -1;
    if (s->v) {
        memcpy(v, s->v, s->n * sizeof(*v));
        explicit_bzero(s->v, s->cap * sizeof(*s->v));
        free(s->v);
    }
    s->v = v;
    s->cap = cap;
    return 0;
}

int sessions_create(struct http_sessions *s, const unsigned char *key, size_t len,
                    char token[SESSION_TOKEN_LEN + 1])
{
    unsigned char rnd[SEL_LEN + SECRET_LEN];
    static const char hex[] = "0123456789abcdef";
    if (len == 0 || len > AUTH_KEY_MAX ||
        getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    pthread_mutex_lock(&s->mu);
    int64_t now = sf_mono_ms();
    if (make_room(s, now)) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    struct sess *e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->sel, rnd, SEL_LEN);
    memcpy(e->secret, rnd + SEL_LEN, SECRET_LEN);
    memcpy(e->key, key, len);
    e->keylen = len;
    e->expires_ms = now + s->ttl_ms;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        token[2 * i] = hex[rnd[i] >> 4];
        token[2 * i + 1] = hex[rnd[i] & 15];
    }
    token[SESSION_TOKEN_LEN] = '\0';
    explicit_bzero(rnd, sizeof(rnd));
    return 0;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Our cookie's token in a Cookie header ("a=b; salesflow_session=TOKEN")
 * as bytes: 0, or -1 when absent or malformed. */
static int cookie_token(const char *cookie, unsigned char out[SEL_LEN + SECRET_LEN])
{
    static const char name[] = SESSION_COOKIE "=";
    for (const char *p = cookie; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len == sizeof(name) - 1 + SESSION_TOKEN_LEN &&
            !strncmp(p, name, sizeof(name) - 1)) {
            const char *t = p + sizeof(name) - 1;
            for (size_t i = 0; i < SEL_LEN + SECRET_LEN; i++) {
                int hi = unhex(t[2 * i]), lo = unhex(t[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return -1;
                out[i] = (unsigned char)(hi << 4 | lo);
            }
            return 0;
        }
        p += len;
    }
    return -1;
}

/* The live session the cookie names, under the lock: its index, or -1. */
static long find(struct http_sessions *s, const unsigned char tok[SEL_LEN + SECRET_LEN])
{
    int64_t now = sf_mono_ms();
    for (size_t i = 0; i < s->n; i++) {
        if (memcmp(s->v[i].sel, tok, SEL_LEN) != 0)
            continue;
        unsigned diff = 0;
        for (size_t k = 0; k < SECRET_LEN; k++)
            diff |= (unsigned)(s->v[i].secret[k] ^ tok[SEL_LEN + k]);
        if (diff)
            return -1;
        if (s->v[i].expires_ms <= now) {
            drop(s, i);
            return -1;
        }
        return (long)i;
    }
    return -1;
}

size_t sessions_key(struct http_sessions *s, const char *cookie,
                    unsigned char key[AUTH_KEY_MAX])
{
    unsigned char tok[SEL_LEN + SECRET_LEN];
    size_t len = 0;
    memset(key, 0, AUTH_KEY_MAX);
    if (!s || cookie_token(cookie, tok))
        return 0;
    pthread_mutex_lock(&s->mu);
    long i = find(s, tok);
    if (i >= 0) {
        memcpy(key, s->v[i].key, AUTH_KEY_MAX);
        len = s->v[i].keylen;
    }
    pthread_mutex_unlock(&s->mu);
    return len;
}

void sessions_end(struct http_sessions *s, const char *cookie)
{
    unsigned char tok[SEL_LEN + SECRET_LEN];
    if (!s || cookie_token(cookie, tok))
        return;
    pthread_mutex_lock(&s->mu);
    long i = find(s, tok);
    if (i >= 0)
        drop(s, (size_t)i);
    pthread_mutex_unlock(&s->mu);
}

void sessions_prune(struct http_sessions *s,
                    int (*keep)(void *opaque, const unsigned char key[AUTH_KEY_MAX],
                                size_t len),
                    void *opaque)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n;)
        if (!keep(opaque, s->v[i].key, s->v[i].keylen))
            drop(s, i);
        else
            i++;
    pthread_mutex_unlock(&s->mu);
}

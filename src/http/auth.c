/*
 * auth — key list behind a read-write lock; constant-time comparison.
 *
 * auth_check compares the presented token with every configured key,
 * always over AUTH_KEY_MAX bytes and without stopping at a match, so the
 * time taken says nothing about which key matched or how much of one did.
 */
#include "http/auth.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct key {
    unsigned char k[AUTH_KEY_MAX];
    size_t len;
};

struct auth {
    pthread_rwlock_t lock;
    int enabled;
    char name[8];               /* "api", "read", "admin": for messages */
    struct key *fixed;          /* --api-key keys */
    size_t nfixed;
    struct key *list;           /* --api-keys (SALESFLOW_API_KEYS) keys */
    size_t nlist;
    struct key *file_keys;
    size_t nfile;
    char *file;
};

static int valid_key(const char *s, size_t len)
{
    if (len == 0 || len > AUTH_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int push(struct key **keys, size_t *n, const char *s, size_t len)
{
    if (*n >= AUTH_KEYS_MAX)
        return -1;
    struct key *nk = realloc(*keys, (*n + 1) * sizeof(**keys));
    if (!nk)
        return -1;
    *keys = nk;
    memset(&nk[*n], 0, sizeof(nk[*n]));
    memcpy(nk[*n].k, s, len);
    nk[*n].len = len;
    (*n)++;
    return 0;
}

/* A key file other users can read leaks its keys; one they can write lets
 * them add a key of their own, in force at the next SIGHUP. Said, not
 * refused, as for a config file holding a secret (args.c). */
static void check_mode(FILE *f, const char *what, const char *path)
{
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
        return;
    if (st.st_mode & S_IROTH)
        log_warn("%s key file %s can be read by every user: chmod 0600 %s (or 0640 "
                 "with a group of its own)", what, path, path);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        log_warn("%s key file %s can be changed by other users, who could add keys of "
                 "their own: chmod 0600 %s", what, path, path);
}

static int load_file(const char *name, const char *path, struct key **keys, size_t *n,
                     char *errstr, size_t errstr_size)
{
    const char *what = strcmp(name, "api") ? name : "API";
    FILE *f = fopen(path, "r");
    char line[AUTH_KEY_MAX + 64];
    size_t lineno = 0;
    *keys = NULL;
    *n = 0;
    if (!f)
        return sf_err(-1, errstr, errstr_size, "cannot open %s key file %s: %s",
                      what, path, strerror(errno));
    check_mode(f, what, path);
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n')
            goto bad;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                       line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++, len--;
        if (*s == '\0' || *s == '#')
            continue;
        if (!valid_key(s, len) || push(keys, n, s, len))
            goto bad;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(*keys);
        *keys = NULL;
        *n = 0;
        return sf_err(-1, errstr, errstr_size, "cannot read %s key file %s: %s", what,
                      path, strerror(e));
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    free(*keys);
    *keys = NULL;
    *n = 0;
    return sf_err(-1, errstr, errstr_size,
                  "%s:%zu: each %s key must be 1..%d visible ASCII characters "
                  "(at most %d keys)", path, lineno, what, AUTH_KEY_MAX, AUTH_KEYS_MAX);
}

/* Parse a comma-separated key list into *keys (NULL, 0 for none). */
static int parse_list(const char *list, struct key **keys, size_t *n,
                      char *errstr, size_t errstr_size)
{
    *keys = NULL;
    *n = 0;
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!valid_key(p, len) || push(keys, n, p, len)) {
            free(*keys);
            *keys = NULL;
            *n = 0;
            return sf_err(-1, errstr, errstr_size, "each key must be 1..%d visible "
                          "ASCII characters (no spaces), separated by single commas",
                          AUTH_KEY_MAX);
        }
        p = comma ? comma + 1 : p + len;
    }
    if (list && *list && *n == 0)
        return sf_err(-1, errstr, errstr_size, "no key in the list (give at least "
                      "one key, or leave the setting out)");
    return 0;
}

int auth_check_list(const char *list, char *errstr, size_t errstr_size)
{
    struct key *keys;
    size_t n;
    if (parse_list(list, &keys, &n, errstr, errstr_size))
        return -1;
    free(keys);
    return 0;
}

struct auth *auth_new(const char *const *keys, size_t n, const char *env,
                      const char *file, char *errstr, size_t errstr_size)
{
    return auth_new_named("api", keys, n, env, file, errstr, errstr_size);
}

struct auth *auth_new_named(const char *name, const char *const *keys, size_t n,
                            const char *env, const char *file, char *errstr,
                            size_t errstr_size)
{
    struct auth *a = calloc(1, sizeof(*a));
    char upper[sizeof(a->name)] = "";
    if (!a) {
        sf_err(-1, errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&a->lock, NULL);
    snprintf(a->name, sizeof(a->name), "%s", name);
    for (size_t i = 0; a->name[i]; i++)
        upper[i] = (char)(a->name[i] - 'a' + 'A'), upper[i + 1] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!valid_key(keys[i], strlen(keys[i])) ||
            push(&a->fixed, &a->nfixed, keys[i], strlen(keys[i]))) {
            sf_err(-1, errstr, errstr_size, "--%s-key #%zu: a key must be 1..%d "
                   "visible ASCII characters", a->name, i + 1, AUTH_KEY_MAX);
            goto fail;
        }
    }
    if (parse_list(env, &a->list, &a->nlist, errstr, errstr_size)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", errstr);
        sf_err(-1, errstr, errstr_size, "--%s-keys (SALESFLOW_%s_KEYS): %s", a->name,
               upper, why);
        goto fail;
    }
    if (file) {
        if (!(a->file = strdup(file)) ||
            load_file(a->name, file, &a->file_keys, &a->nfile, errstr, errstr_size))
            goto fail;
        /* At start an empty file is a mistake, not a policy: every request
         * it guards would be refused and nothing would say why. (A reload
         * that empties it is taken: that is how all keys are revoked.) */
        if (!a->nfile) {
            sf_err(-1, errstr, errstr_size, "--%s-key-file %s holds no keys: every "
                   "request that needs a %s key would be refused; put one key per "
                   "line (# starts a comment)", a->name, file, a->name);
            goto fail;
        }
    }
    a->enabled = n > 0 || (env && *env) || file;
    return a;
fail:
    auth_destroy(a);
    return NULL;
}

void auth_destroy(struct auth *a)
{
    if (!a)
        return;
    free(a->fixed);
    free(a->list);
    free(a->file_keys);
    free(a->file);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

int auth_enabled(const struct auth *a) { return a && a->enabled; }

static int in_keys(const struct key *k, const struct key *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].len == k->len && memcmp(v[i].k, k->k, k->len) == 0)
            return 1;
    return 0;
}

int auth_shares_key(struct auth *a, struct auth *b)
{
    int shared = 0;
    if (!a || !b)
        return 0;
    pthread_rwlock_rdlock(&a->lock);
    pthread_rwlock_rdlock(&b->lock);
    const struct key *const av[] = {a->fixed, a->list, a->file_keys};
    const size_t an[] = {a->nfixed, a->nlist, a->nfile};
    for (int s = 0; s < 3 && !shared; s++)
        for (size_t i = 0; i < an[s] && !shared; i++)
            shared = in_keys(&av[s][i], b->fixed, b->nfixed) ||
                     in_keys(&av[s][i], b->list, b->nlist) ||
                     in_keys(&av[s][i], b->file_keys, b->nfile);
    pthread_rwlock_unlock(&b->lock);
    pthread_rwlock_unlock(&a->lock);
    return shared;
}

/* 1 if tok equals k, in time independent of their contents. */
static unsigned key_eq(const struct key *k, const unsigned char *tok, size_t len)
{
    unsigned diff = (unsigned)(k->len ^ len);
    for (size_t i = 0; i < AUTH_KEY_MAX; i++)
        diff |= (unsigned)(k->k[i] ^ (i < len ? tok[i] : 0));
    return diff == 0;
}

long auth_bearer(const char *h, unsigned char tok[AUTH_KEY_MAX])
{
    memset(tok, 0, AUTH_KEY_MAX);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    while (len && h[len - 1] == ' ')
        len--;
    if (len > AUTH_KEY_MAX)
        return -1;
    memcpy(tok, h, len);
    return (long)len;
}

int auth_has(struct auth *a, const unsigned char tok[AUTH_KEY_MAX], size_t len)
{
    unsigned ok = 0;
    if (!a || !a->enabled)
        return 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->nfixed; i++)
        ok |= key_eq(&a->fixed[i], tok, len);
    for (size_t i = 0; i < a->nlist; i++)
        ok |= key_eq(&a->list[i], tok, len);
    for (size_t i = 0; i < a->nfile; i++)
        ok |= key_eq(&a->file_keys[i], tok, len);
    pthread_rwlock_unlock(&a->lock);
    return ok != 0;
}

int auth_check(struct auth *a, const char *h)
{
    unsigned char tok[AUTH_KEY_MAX];
    long len = auth_bearer(h, tok);
    if (len == 0)
        return -1;
    if (len < 0)
        return -2;
    return auth_has(a, tok, (size_t)len) ? 0 : -2;
}

int auth_reload(struct auth *a, char *errstr, size_t errstr_size)
{
    struct key *keys;
    size_t n;
    if (!a || !a->file)
        return 0;
    if (load_file(a->name, a->file, &keys, &n, errstr, errstr_size))
        return -1;
    pthread_rwlock_wrlock(&a->lock);
    struct key *old = a->file_keys;
    a->file_keys = keys;
    a->nfile = n;
    pthread_rwlock_unlock(&a->lock);
    free(old);
    return 0;
}

int auth_set_list(struct auth *a, const char *list, char *errstr, size_t errstr_size)
{
    struct key *keys;
    size_t n;
    if (!a)
        return 0;
    if (list && parse_list(list, &keys, &n, errstr, errstr_size))
        return -1;
    if (!list)
        keys = NULL, n = 0;
    pthread_rwlock_wrlock(&a->lock);
    struct key *old = a->list;
    a->list = keys;
    a->nlist = n;
    pthread_rwlock_unlock(&a->lock);
    free(old);
    return 0;
}

size_t auth_key_count(struct auth *a)
{
    if (!a)
        return 0;
    pthread_rwlock_rdlock(&a->lock);
    size_t n = a->nfixed + a->nlist + a->nfile;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

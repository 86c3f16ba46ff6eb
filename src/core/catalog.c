/*
 * catalog — customers CSV loader, lock-free lookups, reload, sources.
 *
 * Sources: a fixed array of names of which the first src_n are published.
 * Adding (under reload_mu) writes the new names and their text, then
 * stores the new count with release order; a reader loads the count with
 * acquire order and reads only names below it, which never change again.
 * The text for each count is made once and kept until catalog_destroy (the
 * list only grows, so there are at most SF_SOURCES_MAX + 1 of them).
 *
 * Customers are kept in an array sorted by id and looked up with bsearch;
 * the original deployment has 17, and a few hundred thousand still fit in
 * a few MiB. The array lives in a `struct table` that is never modified
 * once published: a reload builds a new table and swaps the pointer.
 *
 * Reclaiming the old table (see catalog.h): a reader bumps
 * readers[epoch & 1], loads the table pointer, looks up, and drops its
 * count. The reloader swaps the pointer, then twice flips the epoch and
 * waits for the counter of the old parity to drain. A reader that saw the
 * old table counted itself before the swap, in one of the two counters, so
 * once both have been seen at zero after the swap nobody holds it. New
 * readers meanwhile go to the other counter, so the wait always ends.
 */
#include "core/catalog.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sources of a NULL catalog: SF_DEFAULT_SOURCES. */
static const char *const default_sources[] = {"Dine In", "Takeaway", "Home Delivery"};
static const char default_sources_text[] = "'Dine In', 'Takeaway' or 'Home Delivery'";
#define SOURCES_TEXT_MAX (SF_SOURCES_MAX * (SF_SOURCE_MAX + 6) + 16)

struct customer {
    int64_t id;
    const char *state;      /* interned, owned by the catalog */
    size_t line;            /* in the file, for error messages */
};

struct table {
    struct customer *cust;
    size_t n;
};

/* Interned state strings: chunks that are only ever appended to. */
struct chunk {
    struct chunk *next;
    size_t used;
    char data[4096];
};

struct catalog {
    _Atomic(struct table *) cur;
    atomic_uint epoch;
    atomic_long readers[2];
    pthread_mutex_t reload_mu;  /* one reload (and interning) at a time */
    struct chunk *chunks;
    const char **interned;      /* open-addressing set of interned strings */
    size_t icap, icount;
    int builtin;
    int64_t unit_price;
    char path[1024];
    char src_names[SF_SOURCES_MAX][SF_SOURCE_MAX];
    atomic_size_t src_n;        /* names published (release/acquire) */
    char *src_text[SF_SOURCES_MAX + 1];     /* text of the first k, or NULL */
};

static int cmp_cust(const void *a, const void *b)
{
    const struct customer *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* By id, then by line, so a duplicate's first occurrence comes first. */
static int cmp_cust_line(const void *a, const void *b)
{
    const struct customer *x = a, *y = b;
    int c = cmp_cust(a, b);
    return c ? c : x->line < y->line ? -1 : x->line > y->line;
}

/* Strip trailing CR/LF and surrounding blanks in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
                 s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* The original deployment's 17 customers, for when no file is at hand. */
static const char builtin_csv[] =
    "customer_id,state\n1,CA\n2,CA\n3,CA\n4,TX\n5,TX\n6,NY\n7,NY\n8,NY\n"
    "9,KS\n10,KS\n11,KS\n12,KS\n13,KY\n14,KY\n15,KY\n16,KY\n17,KY\n";

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The interned copy of s (caller holds reload_mu), or NULL on OOM. */
static const char *intern(struct catalog *c, const char *s)
{
    if (c->icount * 2 >= c->icap) {
        size_t ncap = c->icap ? c->icap * 2 : 64;
        const char **ni = calloc(ncap, sizeof(*ni));
        if (!ni)
            return NULL;
        for (size_t i = 0; i < c->icap; i++) {
            if (!c->interned[i])
                continue;
            size_t j = hash_str(c->interned[i]) & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = c->interned[i];
        }
        free(c->interned);
        c->interned = ni;
        c->icap = ncap;
    }
    size_t j = hash_str(s) & (c->icap - 1);
    for (; c->interned[j]; j = (j + 1) & (c->icap - 1))
        if (strcmp(c->interned[j], s) == 0)
            return c->interned[j];
    size_t len = strlen(s) + 1;
    if (!c->chunks || c->chunks->used + len > sizeof(c->chunks->data)) {
        struct chunk *ch = malloc(sizeof(*ch));
        if (!ch)
            return NULL;
        ch->next = c->chunks;
        ch->used = 0;
        c->chunks = ch;
    }
    char *copy = c->chunks->data + c->chunks->used;
    memcpy(copy, s, len);
    c->chunks->used += len;
    c->interned[j] = copy;
    c->icount++;
    return copy;
}

static void table_free(struct table *t)
{
    if (t) {
        free(t->cust);
        free(t);
    }
}

/* Read c->path (or the built-in list) into a new table; caller holds
 * reload_mu. Returns 0 or -1 with errstr. */
/* A state must be 1..SF_STATE_MAX-1 characters that a state filter can
 * name: no comma (state=A,B lists two; the file is not quoted CSV, so a
 * quote is not one either) and no control character (refused in any
 * query). 0, or -1 with errstr naming the line. */
static int state_unfit(const char *state, char *errstr, size_t n, const char *path,
                       size_t lineno)
{
    if (*state == '\0' || strlen(state) >= SF_STATE_MAX)
        return sf_err(-1, errstr, n, "%s:%zu: state must be 1..%d characters", path,
                      lineno, SF_STATE_MAX - 1);
    for (const char *p = state; *p; p++)
        if (*p == ',' || *p == '"' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return sf_err(-1, errstr, n, "%s:%zu: state %.40s holds a comma, a quote or "
                          "a control character, which the state filters cannot name; the "
                          "file is plain customer_id,state lines, not quoted CSV", path,
                          lineno, state);
    return 0;
}

static int load_table(struct catalog *c, struct table **out, char *errstr,
                      size_t errstr_size)
{
    struct table *t = calloc(1, sizeof(*t));
    FILE *f = NULL;
    const char *path = c->path;
    char line[512];
    size_t cap = 0, lineno = 0;
    int rc = -1;

    if (!t)
        goto oom;
    f = c->builtin ? fmemopen((void *)builtin_csv, sizeof(builtin_csv) - 1, "r")
                   : fopen(path, "r");
    if (!f) {
        sf_err(-1, errstr, errstr_size, "cannot open customers file %s: %s",
               path, strerror(errno));
        goto cleanup;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (lineno == 1) {
            if (strcmp(s, "customer_id,state") != 0) {
                sf_err(-1, errstr, errstr_size,
                       "%s:1: expected the header \"customer_id,state\"", path);
                goto cleanup;
            }
            continue;
        }
        if (*s == '\0')
            continue;
        char *comma = strchr(s, ',');
        char *end;
        if (!comma) {
            sf_err(-1, errstr, errstr_size,
                   "%s:%zu: expected \"customer_id,state\"", path, lineno);
            goto cleanup;
        }
        *comma = '\0';
        char *state = trim(comma + 1);
        errno = 0;
        long long id = strtoll(trim(s), &end, 10);
        if (errno || *end || end == s || id < 1) {
            sf_err(-1, errstr, errstr_size,
                   "%s:%zu: customer_id must be a positive integer", path, lineno);
            goto cleanup;
        }
        if (state_unfit(state, errstr, errstr_size, path, lineno))
            goto cleanup;
        if (t->n == cap) {
            cap = cap ? cap * 2 : 64;
            struct customer *nc = realloc(t->cust, cap * sizeof(*nc));
            if (!nc)
                goto oom;
            t->cust = nc;
        }
        t->cust[t->n].id = id;
        t->cust[t->n].line = lineno;
        if (!(t->cust[t->n].state = intern(c, state)))
            goto oom;
        t->n++;
    }
    if (ferror(f)) {
        sf_err(-1, errstr, errstr_size, "reading %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (t->n == 0) {
        sf_err(-1, errstr, errstr_size, "%s: no customers", path);
        goto cleanup;
    }
    qsort(t->cust, t->n, sizeof(*t->cust), cmp_cust_line);
    for (size_t i = 1; i < t->n; i++) {
        if (t->cust[i].id == t->cust[i - 1].id) {
            sf_err(-1, errstr, errstr_size,
                   "%s:%zu: customer_id %lld listed twice (first on line %zu)", path,
                   t->cust[i].line, (long long)t->cust[i].id, t->cust[i - 1].line);
            goto cleanup;
        }
    }
    *out = t;
    t = NULL;
    rc = 0;
    goto cleanup;
oom:
    sf_err(-1, errstr, errstr_size, "out of memory loading customers from %s", path);
cleanup:
    if (f)
        fclose(f);
    table_free(t);
    return rc;
}

struct catalog *catalog_load(const char *path, int64_t unit_price_cents,
                             char *errstr, size_t errstr_size)
{
    struct catalog *c = calloc(1, sizeof(*c));
    struct table *t = NULL;
    if (!c) {
        sf_err(-1, errstr, errstr_size, "out of memory loading customers");
        return NULL;
    }
    pthread_mutex_init(&c->reload_mu, NULL);
    c->unit_price = unit_price_cents;
    c->builtin = path == NULL;
    if (path && strlen(path) >= sizeof(c->path)) {
        /* Never a shortened path: that names another file. */
        sf_err(-1, errstr, errstr_size, "customers file: the path is longer than %zu "
               "bytes: %.200s…", sizeof(c->path) - 1, path);
        catalog_destroy(c);
        return NULL;
    }
    snprintf(c->path, sizeof(c->path), "%s", path ? path : "(built-in customers)");
    if (catalog_set_sources(c, SF_DEFAULT_SOURCES, errstr, errstr_size) ||
        load_table(c, &t, errstr, errstr_size)) {
        catalog_destroy(c);
        return NULL;
    }
    atomic_store(&c->cur, t);
    return c;
}

int catalog_reload(struct catalog *c, char *errstr, size_t errstr_size)
{
    struct table *t = NULL;
    pthread_mutex_lock(&c->reload_mu);
    if (load_table(c, &t, errstr, errstr_size)) {
        pthread_mutex_unlock(&c->reload_mu);
        return -1;
    }
    struct table *old = atomic_exchange(&c->cur, t);
    for (int phase = 0; phase < 2; phase++) {
        unsigned e = atomic_fetch_add(&c->epoch, 1) & 1;
        while (atomic_load(&c->readers[e]) != 0)
            sched_yield();
    }
    table_free(old);
    pthread_mutex_unlock(&c->reload_mu);
    return 0;
}

void catalog_destroy(struct catalog *c)
{
    if (!c)
        return;
    table_free(atomic_load(&c->cur));
    while (c->chunks) {
        struct chunk *next = c->chunks->next;
        free(c->chunks);
        c->chunks = next;
    }
    free(c->interned);
    for (size_t i = 0; i <= SF_SOURCES_MAX; i++)
        free(c->src_text[i]);
    pthread_mutex_destroy(&c->reload_mu);
    free(c);
}

/* Enter/leave a read-side section; returns the table to use inside it. */
static const struct table *read_enter(const struct catalog *cc, unsigned *slot)
{
    struct catalog *c = (struct catalog *)cc; /* counters are not data */
    *slot = atomic_load(&c->epoch) & 1;
    atomic_fetch_add(&c->readers[*slot], 1);
    return atomic_load(&c->cur);
}

static void read_leave(const struct catalog *cc, unsigned slot)
{
    struct catalog *c = (struct catalog *)cc;
    atomic_fetch_sub(&c->readers[slot], 1);
}

const char *catalog_state(const struct catalog *c, int64_t customer_id)
{
    unsigned slot;
    const struct table *t = read_enter(c, &slot);
    struct customer key = {.id = customer_id};
    const struct customer *hit =
        bsearch(&key, t->cust, t->n, sizeof(*t->cust), cmp_cust);
    const char *state = hit ? hit->state : NULL;
    read_leave(c, slot);
    return state;
}

size_t catalog_customer_count(const struct catalog *c)
{
    unsigned slot;
    size_t n = read_enter(c, &slot)->n;
    read_leave(c, slot);
    return n;
}

const char *catalog_path(const struct catalog *c) { return c->path; }
int64_t catalog_unit_price(const struct catalog *c) { return c->unit_price; }

/* Split list into names[*n]: 0 or -1 with errstr. */
static int parse_sources(const char *list, char names[SF_SOURCES_MAX][SF_SOURCE_MAX],
                         size_t *count, char *errstr, size_t errstr_size)
{
    size_t n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len == 0 || len >= SF_SOURCE_MAX)
            return sf_err(-1, errstr, errstr_size,
                          "--sources \"%s\": each source must be 1..%d characters, "
                          "separated by commas", list, SF_SOURCE_MAX - 1);
        if (n == SF_SOURCES_MAX)
            return sf_err(-1, errstr, errstr_size, "--sources: at most %d sources",
                          SF_SOURCES_MAX);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e ||
                p[i] == '\'' || p[i] == '"' || p[i] == '\\')
                return sf_err(-1, errstr, errstr_size,
                              "--sources: \"%.*s\" has a character other than "
                              "printable ASCII (quotes and backslash excluded)",
                              (int)len, p);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], names[n]) == 0)
                return sf_err(-1, errstr, errstr_size,
                              "--sources: \"%s\" is listed twice", names[n]);
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *count = n;
    return 0;
}

/* "'A', 'B' or 'C'" for names[0..n), malloc'd; NULL when out of memory. */
static char *sources_text(char names[SF_SOURCES_MAX][SF_SOURCE_MAX], size_t n)
{
    char *text = malloc(SOURCES_TEXT_MAX);
    size_t at = 0;
    if (!text)
        return NULL;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, SOURCES_TEXT_MAX - at, "%s'%s'",
                               i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
    return text;
}

int catalog_check_sources(const char *list, char *errstr, size_t errstr_size)
{
    char names[SF_SOURCES_MAX][SF_SOURCE_MAX];
    size_t n;
    return parse_sources(list, names, &n, errstr, errstr_size);
}

int catalog_set_sources(struct catalog *c, const char *list, char *errstr,
                        size_t errstr_size)
{
    char names[SF_SOURCES_MAX][SF_SOURCE_MAX];
    size_t n;
    char *text;
    if (parse_sources(list, names, &n, errstr, errstr_size))
        return -1;
    if (!(text = sources_text(names, n)))
        return sf_err(-1, errstr, errstr_size, "out of memory setting the sources");
    for (size_t i = 0; i <= SF_SOURCES_MAX; i++) {
        free(c->src_text[i]);
        c->src_text[i] = NULL;
    }
    memcpy(c->src_names, names, sizeof(names));
    c->src_text[n] = text;
    atomic_store_explicit(&c->src_n, n, memory_order_release);
    return 0;
}

int catalog_add_sources(struct catalog *c, const char *list, char *errstr,
                        size_t errstr_size)
{
    char names[SF_SOURCES_MAX][SF_SOURCE_MAX];
    size_t n, cur;
    int rc = -1;
    pthread_mutex_lock(&c->reload_mu);
    cur = atomic_load_explicit(&c->src_n, memory_order_relaxed);
    if (parse_sources(list, names, &n, errstr, errstr_size))
        goto out;
    for (size_t i = 0; i < cur; i++) {
        if (i < n && !strcmp(names[i], c->src_names[i]))
            continue;
        size_t at = 0;
        while (at < n && strcmp(names[at], c->src_names[i]))
            at++;
        if (at == n)
            sf_err(-1, errstr, errstr_size, "--sources: \"%s\" is missing: a source "
                   "cannot be removed or renamed while salesflow runs (orders may "
                   "carry it); new sources go after the current ones (%s), and a "
                   "restart can drop one", c->src_names[i], c->src_text[cur]);
        else
            sf_err(-1, errstr, errstr_size, "--sources: \"%s\" moved from place %zu to "
                   "%zu: the current sources (%s) keep their order while salesflow "
                   "runs, new ones go after them", c->src_names[i], i + 1, at + 1,
                   c->src_text[cur]);
        goto out;
    }
    rc = 0;
    if (n == cur)
        goto out;
    if (!(c->src_text[n] = sources_text(names, n))) {
        rc = sf_err(-1, errstr, errstr_size, "out of memory adding sources");
        goto out;
    }
    memcpy(c->src_names[cur], names[cur], (n - cur) * sizeof(names[0]));
    atomic_store_explicit(&c->src_n, n, memory_order_release);
    rc = 1;
out:
    pthread_mutex_unlock(&c->reload_mu);
    return rc;
}

size_t catalog_source_count(const struct catalog *c)
{
    if (!c)
        return SF_ARRAY_LEN(default_sources);
    return atomic_load_explicit(&c->src_n, memory_order_acquire);
}

const char *catalog_source(const struct catalog *c, int i)
{
    if (i < 0 || (size_t)i >= catalog_source_count(c))
        return NULL;
    return c ? c->src_names[i] : default_sources[i];
}

int catalog_source_index(const struct catalog *c, const char *s)
{
    size_t n = catalog_source_count(c);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, c ? c->src_names[i] : default_sources[i]) == 0)
            return (int)i;
    return -1;
}

const char *catalog_sources_text(const struct catalog *c)
{
    return c ? c->src_text[catalog_source_count(c)] : default_sources_text;
}

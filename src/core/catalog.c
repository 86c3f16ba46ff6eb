/*
 * catalog — customers CSV loader and lookups.
 *
 * Customers are kept in an array sorted by id and looked up with bsearch;
 * the original deployment has 17, and a few hundred thousand still fit in
 * a few MiB.
 */
#include "core/catalog.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sf_sources[3] = {"Dine In", "Takeaway", "Home Delivery"};

struct customer {
    int64_t id;
    char state[SF_STATE_MAX];
};

struct catalog {
    struct customer *cust;
    size_t n;
    int64_t unit_price;
    char path[1024];
};

static int cmp_cust(const void *a, const void *b)
{
    const struct customer *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
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

struct catalog *catalog_load(const char *path, int64_t unit_price_cents,
                             char *errstr, size_t errstr_size)
{
    struct catalog *c = calloc(1, sizeof(*c));
    FILE *f = NULL;
    int builtin = path == NULL;
    char line[512];
    size_t cap = 0, lineno = 0;

    if (!c)
        goto oom;
    c->unit_price = unit_price_cents;
    if (builtin)
        path = "(built-in customers)";
    snprintf(c->path, sizeof(c->path), "%s", path);
    f = builtin ? fmemopen((void *)builtin_csv, sizeof(builtin_csv) - 1, "r")
                : fopen(path, "r");
    if (!f) {
        sf_err(-1, errstr, errstr_size, "cannot open customers file %s: %s",
               path, strerror(errno));
        goto fail;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (lineno == 1) {
            if (strcmp(s, "customer_id,state") != 0) {
                sf_err(-1, errstr, errstr_size,
                       "%s:1: expected the header \"customer_id,state\"", path);
                goto fail;
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
            goto fail;
        }
        *comma = '\0';
        char *state = trim(comma + 1);
        errno = 0;
        long long id = strtoll(trim(s), &end, 10);
        if (errno || *end || end == s || id < 1) {
            sf_err(-1, errstr, errstr_size,
                   "%s:%zu: customer_id must be a positive integer", path, lineno);
            goto fail;
        }
        if (*state == '\0' || strlen(state) >= SF_STATE_MAX) {
            sf_err(-1, errstr, errstr_size,
                   "%s:%zu: state must be 1..%d characters", path, lineno,
                   SF_STATE_MAX - 1);
            goto fail;
        }
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            struct customer *nc = realloc(c->cust, cap * sizeof(*nc));
            if (!nc)
                goto oom;
            c->cust = nc;
        }
        c->cust[c->n].id = id;
        snprintf(c->cust[c->n].state, SF_STATE_MAX, "%s", state);
        c->n++;
    }
    if (ferror(f)) {
        sf_err(-1, errstr, errstr_size, "reading %s: %s", path, strerror(errno));
        goto fail;
    }
    if (c->n == 0) {
        sf_err(-1, errstr, errstr_size, "%s: no customers", path);
        goto fail;
    }
    qsort(c->cust, c->n, sizeof(*c->cust), cmp_cust);
    for (size_t i = 1; i < c->n; i++) {
        if (c->cust[i].id == c->cust[i - 1].id) {
            sf_err(-1, errstr, errstr_size, "%s: customer_id %lld listed twice",
                   path, (long long)c->cust[i].id);
            goto fail;
        }
    }
    fclose(f);
    return c;

oom:
    sf_err(-1, errstr, errstr_size, "out of memory loading customers");
fail:
    if (f)
        fclose(f);
    catalog_destroy(c);
    return NULL;
}

void catalog_destroy(struct catalog *c)
{
    if (!c)
        return;
    free(c->cust);
    free(c);
}

const char *catalog_state(const struct catalog *c, int64_t customer_id)
{
    struct customer key = {.id = customer_id};
    const struct customer *hit =
        bsearch(&key, c->cust, c->n, sizeof(*c->cust), cmp_cust);
    return hit ? hit->state : NULL;
}

size_t catalog_customer_count(const struct catalog *c) { return c->n; }
const char *catalog_path(const struct catalog *c) { return c->path; }
int64_t catalog_unit_price(const struct catalog *c) { return c->unit_price; }

int catalog_source_index(const char *s)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(sf_sources); i++)
        if (strcmp(s, sf_sources[i]) == 0)
            return (int)i;
    return -1;
}

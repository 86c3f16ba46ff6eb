/*
 * store — backend selection by URI scheme.
 */
#include "store/store.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static const struct store_ops *const backends[] = {&sqlite_store_ops,
                                                    &mysql_store_ops};

struct store *store_open(const char *uri, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(backends); i++) {
        const char *rest = sf_uri_rest(uri, backends[i]->scheme);
        if (rest) {
            struct store *s = NULL;
            if (backends[i]->open(&s, rest, errstr, errstr_size))
                return NULL;
            return s;
        }
    }
    char shown[1024];
    sf_err(-1, errstr, errstr_size,
           "store URI \"%s\": unknown scheme (supported: sqlite:PATH, "
           "mysql://user[:password]@host[:port]/database[?socket=PATH])",
           store_uri_redact(uri, shown, sizeof(shown)));
    return NULL;
}

void store_filter_sql(char *sql, size_t n, const struct store_filter *f)
{
    size_t len = strlen(sql);
    const char *col[2] = {"source", "state"};
    size_t cnt[2] = {f ? f->nsources : 0, f ? f->nstates : 0};
    for (int k = 0; k < 2; k++) {
        if (!cnt[k])
            continue;
        len += (size_t)snprintf(sql + len, len < n ? n - len : 0, " AND %s IN (", col[k]);
        for (size_t i = 0; i < cnt[k] && i < STORE_FILTER_MAX && len < n; i++)
            len += (size_t)snprintf(sql + len, n - len, i ? ",?" : "?");
        if (len < n)
            len += (size_t)snprintf(sql + len, n - len, ")");
    }
}

char *store_uri_redact(const char *uri, char *out, size_t n)
{
    /* The userinfo ends at the last '@' (a password may contain '@'); mask
     * from the first ':' in it (from the first ':' at all in a URI without
     * "//"). Masking too much is harmless, too little is not. */
    const char *at = strrchr(uri, '@'), *start = strstr(uri, "//");
    start = start && at && start < at ? start + 2 : uri;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (n == 0)
        return out;
    if (!colon)
        snprintf(out, n, "%s", uri);
    else
        snprintf(out, n, "%.*s:***%s", (int)(colon - uri), uri, at);
    return out;
}

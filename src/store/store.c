/*
 * store — backend selection by URI scheme.
 */
#include "store/store.h"
#include "core/util.h"

#include <string.h>

static const struct store_ops *const backends[] = {&sqlite_store_ops};

struct store *store_open(const char *uri, char *errstr, size_t errstr_size)
{
    const char *colon = strchr(uri, ':');
    size_t n = colon ? (size_t)(colon - uri) : 0;
    for (size_t i = 0; colon && i < SF_ARRAY_LEN(backends); i++) {
        if (strlen(backends[i]->scheme) == n &&
            strncmp(uri, backends[i]->scheme, n) == 0) {
            struct store *s = NULL;
            if (backends[i]->open(&s, colon + 1, errstr, errstr_size))
                return NULL;
            return s;
        }
    }
    sf_err(-1, errstr, errstr_size,
           "store URI \"%s\": unknown scheme (supported: sqlite:PATH)", uri);
    return NULL;
}

/*
 * web — the dashboard (embedded page + ECharts) and its JSON query API,
 * read from the serving store through a handle of its own.
 */
#ifndef SF_WEB_H
#define SF_WEB_H

#include <stddef.h>

struct web;

/* Open the store at store_uri for reading. NULL with errstr on failure. */
struct web *web_new(const char *store_uri, char *errstr, size_t errstr_size);
void web_destroy(struct web *w);

#endif

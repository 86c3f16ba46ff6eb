/*
 * quarantine — durable keeping of rejected rows: the raw text as sent, the
 * validation errors, the time and the endpoint, so an operator can see what
 * a client got wrong and replay the rows once fixed.
 *
 * Storage: DIR/quarantine.jsonl, one JSON object per line, appended with
 * one write() and fdatasync() per request (before the request is answered).
 * When the file would pass max_bytes it is renamed to quarantine.1.jsonl
 * (replacing the previous one) and a new file is started, so the disk use
 * is at most twice max_bytes. The newest QUARANTINE_RECENT entries are also
 * kept in memory for GET /v1/quarantine.
 */
#ifndef SF_QUARANTINE_H
#define SF_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define QUARANTINE_RECENT 1000      /* GET /v1/quarantine?limit=N: N <= this */
#define QUARANTINE_RAW_MAX 65536    /* raw text kept per row; longer is cut */

struct quarantine;

struct quarantine_row {
    long index;                 /* row index in its request */
    const char *raw;            /* the row as sent (any bytes) */
    size_t raw_len;
    const char *detail;         /* JSON array text: [{"loc":…}, …] */
    size_t detail_len;
};

/* Open (creating DIR if needed). Reads back the tail of the current file
 * into the in-memory list. Returns NULL with errstr. */
struct quarantine *quarantine_open(const char *dir, uint64_t max_bytes,
                                   char *errstr, size_t errstr_size);
void quarantine_close(struct quarantine *q);

/* Append n rows of one request durably. Returns 0, or -1 with errstr (the
 * rows are still listed in memory). Thread-safe. */
int quarantine_add(struct quarantine *q, const char *endpoint,
                   const struct quarantine_row *rows, size_t n, int64_t now_ms,
                   char *errstr, size_t errstr_size);

/* {"count":k,"items":[…newest first…]} with at most limit entries. */
int quarantine_list(struct quarantine *q, size_t limit, struct sf_buf *out);

/* Append s[0..n) as a JSON string literal, replacing each invalid UTF-8
 * sequence with U+FFFD; returns 1 if any was replaced, -1 on limit. */
int json_str_lossy(struct sf_buf *b, const char *s, size_t n);

#endif

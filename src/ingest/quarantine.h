/*
 * quarantine — durable keeping of rejected rows: a prefix of the text as
 * sent with its full length, the validation errors, the time and the
 * endpoint, so an operator can see what a client got wrong and replay the
 * rows once fixed.
 *
 * Storage: DIR/quarantine.jsonl, one JSON object per line, appended with
 * write()s of bounded size and one fdatasync() per request (before the
 * request is answered). When the next line would take the file past
 * max_bytes it is renamed to quarantine.1.jsonl (replacing the previous one)
 * and a new file is started, so the disk use is at most twice max_bytes
 * whatever the rows are: a line is at most QUARANTINE_LINE_MAX bytes, and
 * cut further (raw text, then detail) when max_bytes is smaller than that.
 * The newest QUARANTINE_RECENT lines, at most QUARANTINE_MEM_MAX bytes of
 * them, are also kept in memory for GET /v1/quarantine.
 */
#ifndef SF_QUARANTINE_H
#define SF_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define QUARANTINE_RECENT 1000      /* GET /v1/quarantine?limit=N: N <= this */
#define QUARANTINE_RAW_MAX 4096     /* bytes of a row's JSON-escaped text kept */
#define QUARANTINE_DETAIL_MAX 4096  /* bytes of a row's detail array kept */
#define QUARANTINE_LINE_MAX 9216    /* longest line written (with the above) */
#define QUARANTINE_MEM_MAX ((size_t)8 << 20)   /* bytes of lines kept in memory */
#define QUARANTINE_LIST_MAX ((size_t)1 << 20)  /* bytes of one listing's items */

struct quarantine;

struct quarantine_row {
    long index;                 /* row index in its request */
    const char *raw;            /* the row as sent (any bytes), or its start */
    size_t raw_len;             /* bytes at raw (at most QUARANTINE_RAW_MAX
                                   of them are ever kept) */
    uint64_t raw_full;          /* the row's full length, if more than raw_len */
    const char *detail;         /* JSON array text: [{"loc":…}, …] */
    size_t detail_len;
};

/* Open (creating DIR if needed). Reads back the tail of the current file
 * into the in-memory list (lines of older, longer formats are shortened as
 * new ones are). Returns NULL with errstr. */
struct quarantine *quarantine_open(const char *dir, uint64_t max_bytes,
                                   char *errstr, size_t errstr_size);
void quarantine_close(struct quarantine *q);

/* Append n rows of one request durably. Returns 0, or -1 with errstr (the
 * rows are still listed in memory). Thread-safe. */
int quarantine_add(struct quarantine *q, const char *endpoint,
                   const struct quarantine_row *rows, size_t n, int64_t now_ms,
                   char *errstr, size_t errstr_size);

/* Append {"count":k,"items":[…newest first…] — without the closing brace,
 * for the caller's own fields — listing at most limit entries older than
 * the cursor `before` (0: from the newest), and no more than max_bytes of
 * them (at least one, if any). *next is the cursor to pass as `before` for
 * the rest when max_bytes cut the list short, else 0. Returns 0 or -1. */
int quarantine_list(struct quarantine *q, size_t limit, uint64_t before,
                    size_t max_bytes, struct sf_buf *out, uint64_t *next);

/* Append s[0..n) as a JSON string literal, replacing each invalid UTF-8
 * sequence with U+FFFD; returns 1 if any was replaced, -1 on limit. */
int json_str_lossy(struct sf_buf *b, const char *s, size_t n);

#endif

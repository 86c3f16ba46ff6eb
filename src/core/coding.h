/*
 * coding — HTTP content codings (RFC 9110 8.4): request bodies sent with
 * Content-Encoding gzip (zlib) or zstd (libzstd) are decoded before they
 * are parsed, and large answers are gzip-compressed for clients whose
 * Accept-Encoding takes it.
 *
 * Decoding never holds more than the caller lets it: the decoded bytes go
 * to a sink in pieces of at most CODING_CHUNK bytes, and the sink stops the
 * decoding (a limit, a memory budget) by returning non-zero. A body of
 * 1 MiB that would decode to 1 GiB therefore costs the limit, not a GiB.
 * zstd frames that ask for a window over 8 MiB (zstd --long, or levels
 * past 19) are refused instead of allocating it.
 */
#ifndef SF_CODING_H
#define SF_CODING_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

enum coding { CODING_IDENTITY = 0, CODING_GZIP, CODING_ZSTD };

#define CODING_CHUNK (64 * 1024)
#define CODING_ACCEPTED "gzip, zstd"   /* Accept-Encoding of a 415 */

/* A Content-Encoding field's value (OWS already trimmed) as one coding.
 * Returns 0 (*c set; "identity" or an empty value is CODING_IDENTITY), or
 * 415 with *msg saying why, for the value to follow: an unknown coding, or
 * several stacked ("gzip, zstd"), which salesflow does not undo. */
unsigned coding_parse(const char *value, enum coding *c, const char **msg);

/* Receives decoded bytes; returns 0 to go on, or the HTTP status to stop
 * with (413 past the limit, 503 over a budget). */
typedef unsigned (*coding_sink)(void *ctx, const char *p, size_t n);

/* Decode in[0..n) (coding c) into sink. Returns 0, the sink's status, or
 * 400 with msg filled (msgsz bytes) when the body is not what its coding
 * says: not gzip or zstd at all, truncated, corrupt, or followed by other
 * bytes. Several gzip members or zstd frames in a row are one body. */
unsigned coding_decode(enum coding c, const char *in, size_t n, coding_sink sink,
                       void *ctx, char *msg, size_t msgsz);

/* The decoded size a body declares, when it declares it for all of itself
 * (one zstd frame with its content size); -1 otherwise. Decoding checks it:
 * a frame whose content differs from what it declared is corrupt. */
int64_t coding_decoded_size(enum coding c, const char *in, size_t n);

/* Whether an Accept-Encoding value takes gzip (gzip or x-gzip, or "*",
 * with a q-value above 0). NULL: no. */
int coding_accepts_gzip(const char *accept_encoding);

/* gzip-compress in[0..n) into out (appended; out's limit applies) at
 * level (1..9). Returns 0, or -1 (out of memory, or past the limit). */
int coding_gzip(const char *in, size_t n, int level, struct sf_buf *out);

#endif

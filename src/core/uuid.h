/*
 * uuid — UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits, so
 * ids sort by creation time and index well.
 */
#ifndef SF_UUID_H
#define SF_UUID_H

#include <stdint.h>

#define SF_UUID_STRLEN 36

/* Write a new UUIDv7 for time ms as 36 lowercase chars + NUL into out.
 * Thread-safe. Within one process, ids are strictly increasing. */
void uuid_v7(int64_t ms, char out[SF_UUID_STRLEN + 1]);

/* 1 if s is a canonical 8-4-4-4-12 hex UUID (any version), else 0. */
int uuid_valid(const char *s);

#endif

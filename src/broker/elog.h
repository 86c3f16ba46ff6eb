/*
 * elog — the embedded log's own API beyond struct broker_ops: inspection
 * for `salesflow log stat` and damage repair for `salesflow log repair`.
 * Everything else goes through broker.h (scheme "file").
 */
#ifndef SF_ELOG_H
#define SF_ELOG_H

#include <stdint.h>
#include <stdio.h>

#include "broker/broker.h"

struct elog_seg_info {
    char path[4200];
    int64_t base, end;
    uint64_t bytes;
    int64_t last_time_ms;
};

struct elog_part_info {
    int64_t start, end;         /* first offset kept, next offset */
    int64_t records;            /* records held: end - start less the
                                 * offsets a log repair cut (.gap) */
    uint64_t bytes;
    size_t nsegs;
    struct elog_seg_info *segs; /* malloc()ed */
};

/* Describe every partition of an open embedded log. *parts is malloc()ed;
 * free it with elog_free_info. Returns 0 or -1 with errstr (not a file:). */
int elog_describe(struct broker *b, struct elog_part_info **parts, int *nparts,
                  char *errstr, size_t errstr_size);
void elog_free_info(struct elog_part_info *parts, int nparts);

/* 1 once an fdatasync of b (an embedded log) failed: b refuses every
 * append, and the process should exit non-zero (see elog.c); else 0. */
int elog_failed(struct broker *b);

/* fdatasync calls made by the writer since open (for benchmarks). */
uint64_t elog_fsync_count(struct broker *b);

/* Find damage in the log at dir (every batch of every segment is checked).
 * Prints what it finds to out. With apply, cuts each damaged partition at
 * the first bad batch and removes its later segments; new records of that
 * partition are then numbered from the highest offset it had reached (as
 * far as the cut batches and segments tell) or passed[p], the position a
 * store recorded (npassed entries, may be NULL), whichever is higher, so
 * no offset a store may have passed is used again. Returns the number of
 * damaged partitions found, or -1 with errstr. */
int elog_repair(const char *dir, int apply, const int64_t *passed, int npassed,
                FILE *out, char *errstr, size_t errstr_size);

/* The key a store keeps the positions of the log in dir under ("TOPIC@ID",
 * or "TOPIC" for a log without an identity), read from its meta file alone,
 * so that it works on a log too damaged to open (log repair). 0, or -1 with
 * errstr. */
int elog_dir_position_key(const char *dir, char *out, size_t out_size, char *errstr,
                          size_t errstr_size);

#endif

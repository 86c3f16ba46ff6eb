/*
 * batch — the embedded log's on-disk record batch (format version 1).
 *
 * All integers little-endian. A segment file is a sequence of batches:
 *
 *   off  size  field
 *     0     4  magic "SFLB"
 *     4     1  version (1)
 *     5     3  reserved, zero
 *     8     4  batch_len: whole batch in bytes, header included
 *    12     4  crc32c of bytes [16, batch_len)
 *    16     8  base_offset: offset of the first record
 *    24     4  record_count (>= 1)
 *    28     4  reserved, zero
 *    32     8  append time, ms since the epoch
 *    40        records: record_count × (u32 length, then that many bytes)
 *
 * A batch is written with one write() and counts only once complete with a
 * matching CRC, so a crash mid-write leaves a torn tail that recovery cuts.
 */
#ifndef SF_BATCH_H
#define SF_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define BATCH_MAGIC "SFLB"
#define BATCH_VERSION 1
#define BATCH_HEADER 40
#define BATCH_MAX (64u << 20)   /* no batch is larger than this */

enum batch_status {
    BATCH_OK = 0,
    BATCH_TORN = 1,     /* fewer bytes than the header or batch_len claims */
    BATCH_CORRUPT = 2,  /* bad magic, version, length, count or CRC */
};

struct batch_info {
    uint32_t len;       /* batch_len */
    int64_t base_offset;
    uint32_t count;
    int64_t time_ms;
};

/* Start a batch in buf (appends a header placeholder); returns its start. */
size_t batch_begin(struct sf_buf *buf);
/* Append one record to the batch being built. Returns 0 or -1 (limit). */
int batch_add(struct sf_buf *buf, const void *rec, uint32_t len);
/* Finish the batch started at `start`: fill the header, CRC included. */
void batch_finish(struct sf_buf *buf, size_t start, int64_t base_offset,
                  uint32_t count, int64_t time_ms);

/* Check the batch at p given `avail` readable bytes. On BATCH_OK fills bi. */
enum batch_status batch_check(const uint8_t *p, size_t avail,
                              struct batch_info *bi);

/* Iterate records of a checked batch: *pos starts at 0; returns 1 with
 * rec/len set, 0 at the end, -1 if the records don't fit the batch. */
int batch_next(const uint8_t *batch, const struct batch_info *bi,
               size_t *pos, const uint8_t **rec, uint32_t *len);

uint32_t sf_crc32c(const void *p, size_t n);

#endif

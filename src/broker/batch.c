/*
 * batch — encode, check and iterate the embedded log's record batches.
 * CRC32C comes from Intel's ISA-L (hardware-accelerated where available).
 */
#include "broker/batch.h"
#include "broker/le.h"

#include <isa-l/crc.h>
#include <string.h>

uint32_t sf_crc32c(const void *p, size_t n)
{
    /* crc32_iscsi takes an int length: feed large buffers in chunks. */
    uint32_t crc = 0xFFFFFFFFu;
    const unsigned char *c = p;
    while (n) {
        int k = n > (1u << 30) ? (1 << 30) : (int)n;
        crc = crc32_iscsi((unsigned char *)c, k, crc);
        c += k;
        n -= (size_t)k;
    }
    return ~crc;
}


size_t batch_begin(struct sf_buf *buf)
{
    static const uint8_t zero[BATCH_HEADER];
    size_t start = buf->len;
    sf_buf_append(buf, zero, sizeof(zero));
    return start;
}

int batch_add(struct sf_buf *buf, const void *rec, uint32_t len)
{
    uint8_t l[4];
    le_put32(l, len);
    size_t before = buf->len;
    if (sf_buf_append(buf, l, 4) || sf_buf_append(buf, rec, len)) {
        buf->len = before;
        return -1;
    }
    return 0;
}

void batch_finish(struct sf_buf *buf, size_t start, int64_t base_offset,
                  uint32_t count, int64_t time_ms)
{
    uint8_t *h = (uint8_t *)buf->data + start;
    uint32_t len = (uint32_t)(buf->len - start);
    memcpy(h, BATCH_MAGIC, 4);
    h[4] = BATCH_VERSION;
    h[5] = h[6] = h[7] = 0;
    le_put32(h + 8, len);
    le_put64(h + 16, (uint64_t)base_offset);
    le_put32(h + 24, count);
    le_put32(h + 28, 0);
    le_put64(h + 32, (uint64_t)time_ms);
    le_put32(h + 12, sf_crc32c(h + 16, len - 16));
}

enum batch_status batch_check(const uint8_t *p, size_t avail,
                              struct batch_info *bi)
{
    if (avail < BATCH_HEADER)
        return avail == 0 || memcmp(p, BATCH_MAGIC, avail < 4 ? avail : 4) == 0
                   ? BATCH_TORN : BATCH_CORRUPT;
    if (memcmp(p, BATCH_MAGIC, 4) != 0 || p[4] != BATCH_VERSION)
        return BATCH_CORRUPT;
    uint32_t len = le_get32(p + 8);
    uint32_t count = le_get32(p + 24);
    if (len < BATCH_HEADER + 4 || len > BATCH_MAX || count == 0 ||
        (uint64_t)count * 4 > len - BATCH_HEADER)
        return BATCH_CORRUPT;
    if (avail < len)
        return BATCH_TORN;
    if (sf_crc32c(p + 16, len - 16) != le_get32(p + 12))
        return BATCH_CORRUPT;
    /* Exactly record_count records filling the batch: readers number
     * records by the count (found by fuzz/fuzz_batch.c). */
    size_t at = BATCH_HEADER;
    for (uint32_t i = 0; i < count; i++) {
        if (len - at < 4 || le_get32(p + at) > len - at - 4)
            return BATCH_CORRUPT;
        at += 4 + (size_t)le_get32(p + at);
    }
    if (at != len)
        return BATCH_CORRUPT;
    bi->len = len;
    bi->base_offset = (int64_t)le_get64(p + 16);
    bi->count = count;
    bi->time_ms = (int64_t)le_get64(p + 32);
    return BATCH_OK;
}

int batch_next(const uint8_t *batch, const struct batch_info *bi,
               size_t *pos, const uint8_t **rec, uint32_t *len)
{
    size_t at = *pos ? *pos : BATCH_HEADER;
    if (at >= bi->len)
        return 0;
    if (bi->len - at < 4)
        return -1;
    uint32_t l = le_get32(batch + at);
    if (l > bi->len - at - 4)
        return -1;
    *rec = batch + at + 4;
    *len = l;
    *pos = at + 4 + l;
    return 1;
}

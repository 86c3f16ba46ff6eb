/*
 * fuzz_batch — libFuzzer harness for the embedded log's record batch codec
 * (src/broker/batch.c): batch_check and batch_next on arbitrary bytes.
 *
 * Byte 0 is a mode; the rest is a run of bytes read as a segment would be:
 * batch after batch, from the start. Mode bit 0 stamps a correct CRC32C
 * into the first batch's header before checking (when its length field
 * fits the input), so the fuzzer gets past the checksum and exercises what
 * a checksum cannot vouch for: length, count and record framing. Mode bit
 * 1 also builds a batch from the input's lines and checks it round-trips.
 *
 * Checks, for every batch batch_check accepts: its length is within what
 * was readable and at least a header plus one record length; batch_next
 * yields exactly record_count records, each inside the batch, which end
 * exactly at batch_len (the format: record_count x (u32 length, bytes)) —
 * readers count offsets by record_count, so a batch whose records do not
 * match it would desynchronise them. A TORN verdict means the bytes really
 * are fewer than the header or its batch_len.
 */
#include "broker/batch.h"
#include "broker/le.h"

#include <stdlib.h>
#include <string.h>

static void walk(const uint8_t *buf, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        struct batch_info bi;
        enum batch_status st = batch_check(buf + pos, size - pos, &bi);
        if (st == BATCH_TORN) {
            size_t avail = size - pos;
            if (avail >= BATCH_HEADER && le_get32(buf + pos + 8) <= avail)
                abort();
            return;
        }
        if (st != BATCH_OK)
            return;
        if (bi.len < BATCH_HEADER + 4 || bi.len > size - pos || bi.count == 0 ||
            bi.len != le_get32(buf + pos + 8))
            abort();
        size_t rpos = 0, prev = BATCH_HEADER;
        const uint8_t *rec;
        uint32_t rlen;
        uint32_t n = 0;
        int r;
        while ((r = batch_next(buf + pos, &bi, &rpos, &rec, &rlen)) == 1) {
            if (rec < buf + pos + BATCH_HEADER + 4 || rec + rlen > buf + pos + bi.len ||
                rpos != prev + 4 + rlen || rpos > bi.len)
                abort();
            prev = rpos;
            n++;
        }
        if (r != 0 || n != bi.count || prev != bi.len)
            abort(); /* records do not match record_count / batch_len */
        pos += bi.len;
    }
}

static void roundtrip(const uint8_t *data, size_t size)
{
    struct sf_buf b;
    sf_buf_init(&b, 1 << 20);
    size_t start = batch_begin(&b);
    uint32_t n = 0;
    const uint8_t *p = data, *end = data + size;
    while (p <= end && n < 1000) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = nl ? nl : end;
        if (batch_add(&b, p, (uint32_t)(e - p)))
            abort();
        n++;
        p = e + 1;
    }
    int64_t base = (int64_t)(size * 7919);
    batch_finish(&b, start, base, n, 1795923600123);
    struct batch_info bi;
    if (batch_check((const uint8_t *)b.data, b.len, &bi) != BATCH_OK ||
        bi.len != b.len || bi.count != n || bi.base_offset != base ||
        bi.time_ms != 1795923600123)
        abort();
    /* Every strict prefix is torn, never corrupt or OK. */
    for (size_t cut = 0; cut < b.len; cut += 1 + cut / 3)
        if (batch_check((const uint8_t *)b.data, cut, &bi) != BATCH_TORN)
            abort();
    batch_check((const uint8_t *)b.data, b.len, &bi);
    size_t rpos = 0;
    const uint8_t *rec;
    uint32_t rlen;
    p = data;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = nl ? nl : end;
        if (batch_next((const uint8_t *)b.data, &bi, &rpos, &rec, &rlen) != 1 ||
            rlen != (size_t)(e - p) || memcmp(rec, p, rlen))
            abort();
        p = e + 1;
    }
    if (batch_next((const uint8_t *)b.data, &bi, &rpos, &rec, &rlen) != 0)
        abort();
    sf_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size--;
    data++;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if ((mode & 1) && size >= BATCH_HEADER) {
        uint32_t len = le_get32(buf + 8);
        if (len >= 16 && len <= size)
            le_put32(buf + 12, sf_crc32c(buf + 16, len - 16));
    }
    walk(buf, size);
    free(buf);
    if (mode & 2)
        roundtrip(data, size);
    return 0;
}

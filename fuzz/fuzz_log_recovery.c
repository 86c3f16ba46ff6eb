/*
 * fuzz_log_recovery — libFuzzer harness for crash recovery of an embedded
 * log segment (src/broker/segment.c): seg_load's scan of a segment file
 * whose bytes are the fuzz input, the torn-tail cut that elog's open_part
 * makes, and the sparse index written and trusted afterwards.
 *
 * Input: byte 0 is a mode, the rest is file content. Mode bit 0: the file
 * starts with valid batches the harness builds from the content's first
 * line (one record per byte pair, so the fuzzer steers them) and the .index
 * stamped over them, as after a clean close; the rest of the content is the
 * tail appended since, which recovery must judge without re-reading what
 * the index vouches for. Otherwise the whole file is the content and there
 * is no index. Mode bit 1 adds the checks after the cut below (they cost
 * an index write and a reopen, so only part of the inputs pay for them).
 *
 * Checks (docs/log-format.md, "Recovery"): seg_load never fails on content;
 * what it keeps, [0, size), is a chain of complete batches with contiguous
 * offsets from the base, ending at `end`; anything after it is reported as
 * damage at exactly that byte and offset, and the batch there really is
 * bad; the damage is a torn tail exactly when no valid batch starts after
 * it, and otherwise counts the records of the valid chain that follows.
 * A torn tail is cut as open_part does; the cut file then loads clean with
 * the same end, from a scan and from a freshly written index alike, and
 * seg_find places every kept offset in the batch that holds it.
 */
#include "broker/batch.h"
#include "broker/le.h"
#include "broker/segment.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[128], logp[256], idxp[256];

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/sf-fuzz-recovery-%d", base, (int)getpid());
    mkdir(dir, 0755);
    seg_path(logp, sizeof(logp), dir, 0, ".log");
    seg_path(idxp, sizeof(idxp), dir, 0, ".index");
}

static void cleanup(void)
{
    unlink(logp);
    unlink(idxp);
    rmdir(dir);
}

/* Valid batches from spec: each pair of bytes (n, len) is a batch of
 * 1 + n % 3 records of len % 40 bytes. */
static void build_prefix(struct sf_buf *b, const uint8_t *spec, size_t n)
{
    int64_t off = 0;
    for (size_t i = 0; i + 1 < n && i < 64; i += 2) {
        uint32_t cnt = 1 + spec[i] % 3, rl = spec[i + 1] % 40;
        size_t start = batch_begin(b);
        for (uint32_t k = 0; k < cnt; k++)
            batch_add(b, "{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}", rl);
        batch_finish(b, start, off, cnt, 1795923600000 + (int64_t)i);
        off += cnt;
    }
}

/* The chain of valid batches from pos: records it holds. */
static int64_t chain_records(const uint8_t *m, size_t size, size_t pos)
{
    int64_t n = 0;
    struct batch_info bi;
    while (pos < size && batch_check(m + pos, size - pos, &bi) == BATCH_OK) {
        n += bi.count;
        pos += bi.len;
    }
    return n;
}

/* Check what seg_load kept and reported against the file's bytes m. */
static void check_load(const struct segment *s, const struct seg_damage *d,
                       const uint8_t *m, size_t size, int scanned_from_zero)
{
    if (s->size > size)
        abort();
    if (d->found != (s->size < size))
        abort();
    /* The kept bytes: complete batches, contiguous offsets. */
    size_t pos = 0;
    int64_t end = s->base, last_time = 0;
    while (pos < s->size) {
        struct batch_info bi;
        if (batch_check(m + pos, s->size - pos, &bi) != BATCH_OK ||
            bi.base_offset != end)
            abort();
        end += bi.count;
        last_time = bi.time_ms;
        pos += bi.len;
    }
    if (pos != s->size || end != s->end || last_time != s->last_time_ms)
        abort();
    if (!d->found)
        return;
    if (d->at != s->size || d->offset != s->end)
        abort();
    struct batch_info bi;
    if (batch_check(m + d->at, size - d->at, &bi) == BATCH_OK &&
        bi.base_offset == s->end)
        abort(); /* a good batch was called bad */
    if (!scanned_from_zero && d->at == 0)
        return;
    /* Torn exactly when no valid batch starts after the bad one. */
    size_t next = 0;
    for (size_t at = d->at + 1; at + BATCH_HEADER <= size && !next; at++)
        if (batch_check(m + at, size - at, &bi) == BATCH_OK)
            next = at;
    if (d->torn != !next)
        abort();
    if (next && d->lost_records != chain_records(m, size, next))
        abort();
}

static void check_find(const struct segment *s, const uint8_t *m)
{
    char err[512];
    int64_t step = (s->end - s->base) / 32 + 1;
    for (int64_t off = s->base; off < s->end; off += step) {
        uint64_t pos;
        struct batch_info bi;
        if (seg_find(s, off, &pos, err, sizeof(err)) ||
            batch_check(m + pos, s->size - pos, &bi) != BATCH_OK ||
            off < bi.base_offset || off >= bi.base_offset + (int64_t)bi.count)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    char err[512];
    if (!init) {
        setup();
        atexit(cleanup);
        init = 1;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    struct sf_buf file;
    sf_buf_init(&file, 1 << 20);
    size_t prefix = 0;
    if (mode & 1) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t speclen = nl ? (size_t)(nl - data) : size;
        build_prefix(&file, data, speclen);
        prefix = file.len;
        data += nl ? speclen + 1 : size;
        size -= nl ? speclen + 1 : size;
    }

    unlink(idxp);
    int fd = open(logp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    if (prefix && write(fd, file.data, prefix) != (ssize_t)prefix)
        abort();
    struct segment s;
    struct seg_damage d;
    if (prefix) {
        /* A clean close: load, stamp the index. */
        if (seg_open(&s, logp, 0, 0, 0, err, sizeof(err)) ||
            seg_load(&s, 0, &d, err, sizeof(err)) || d.found ||
            seg_write_index(&s, err, sizeof(err)))
            abort();
        seg_close(&s);
    }
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    sf_buf_append(&file, data, size);
    const uint8_t *m = (const uint8_t *)(file.data ? file.data : "");
    size_t fsize = file.len;

    /* Recovery as the log's open does it. */
    if (seg_open(&s, logp, 0, 0, 0, err, sizeof(err)) ||
        seg_load(&s, 0, &d, err, sizeof(err)))
        abort();
    if (s.size < prefix)
        abort(); /* the index vouched for these bytes */
    check_load(&s, &d, m, fsize, prefix == 0);
    if (d.found && d.torn) {
        if (seg_truncate(&s, d.at, err, sizeof(err)))
            abort();
        fsize = d.at;
        struct stat st;
        if (fstat(s.fd, &st) || (uint64_t)st.st_size != d.at)
            abort();
    }
    if ((!d.found || d.torn) && (mode & 2)) {
        check_find(&s, m);
        int64_t end = s.end;
        uint64_t kept = s.size;
        /* The cut (or clean) file: a full scan finds nothing, and the index
         * written now is trusted by the next load with the same result. */
        struct seg_damage d2;
        if (seg_load(&s, 1, &d2, err, sizeof(err)) || d2.found || s.end != end ||
            s.size != kept)
            abort();
        if (seg_write_index(&s, err, sizeof(err)))
            abort();
        seg_close(&s);
        if (seg_open(&s, logp, 0, 0, 1, err, sizeof(err)) ||
            seg_load(&s, 0, &d2, err, sizeof(err)) || d2.found || s.end != end ||
            s.size != kept)
            abort();
        check_load(&s, &d2, m, fsize, 1);
        check_find(&s, m);
    }
    seg_close(&s);
    sf_buf_free(&file);
    return 0;
}

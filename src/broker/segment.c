/*
 * segment — segment files, their sparse index, and crash recovery scans
 * (see segment.h for the formats).
 *
 * Recovery trusts what a clean close or a roll stamped: the .index file
 * records how many bytes of the .log it covers, so after a crash only the
 * bytes past that point (the tail written since) are checked batch by batch.
 * A bad batch with nothing valid after it is a torn write from the crash;
 * a bad batch followed by a valid one is damage, and is reported, not cut.
 */
#include "broker/segment.h"
#include "broker/batch.h"
#include "broker/le.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_MAGIC "SFLI"
#define IDX_VERSION 1
#define IDX_HEADER 48


void seg_path(char *out, size_t n, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* The .index path for a .log path. */
static void index_path(char *out, size_t n, const char *log_path)
{
    size_t l = strlen(log_path);
    snprintf(out, n, "%.*s.index", (int)(l > 4 ? l - 4 : l), log_path);
}

int seg_read(int fd, void *buf, size_t len, uint64_t at)
{
    char *c = buf;
    while (len) {
        ssize_t r = pread(fd, c, len, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        c += r;
        len -= (size_t)r;
        at += (uint64_t)r;
    }
    return 0;
}

int seg_open(struct segment *s, const char *path, int64_t base, int create,
             int readonly, char *errstr, size_t n)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->base = s->end = base;
    int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (create ? O_CREAT : 0);
    s->fd = open(path, flags, 0600);
    if (s->fd < 0)
        return sf_err(-1, errstr, n, "cannot open %s: %s", path, strerror(errno));
    return 0;
}

void seg_close(struct segment *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->idx);
    s->idx = NULL;
    s->nidx = s->cap = 0;
}

static int idx_push(struct segment *s, int64_t offset, uint64_t pos)
{
    if (s->nidx == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct seg_idx *ni = realloc(s->idx, cap * sizeof(*ni));
        if (!ni)
            return -1;
        s->idx = ni;
        s->cap = cap;
    }
    s->idx[s->nidx].offset = offset;
    s->idx[s->nidx].pos = pos;
    s->nidx++;
    s->last_idx_pos = pos;
    return 0;
}

int seg_index_add(struct segment *s, int64_t offset, uint64_t pos)
{
    if (s->nidx && pos - s->last_idx_pos < SEG_INDEX_INTERVAL)
        return 0;
    return idx_push(s, offset, pos);
}

/* Load a fresh-enough .index: returns the byte position up to which it
 * vouches for the .log (0 if there is no usable index). */
static uint64_t load_index(struct segment *s, uint64_t size)
{
    char ipath[sizeof(s->path) + 8];
    index_path(ipath, sizeof(ipath), s->path);
    int fd = open(ipath, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    uint8_t *buf = NULL;
    uint64_t covered = 0;
    if (fstat(fd, &st) || st.st_size < IDX_HEADER || st.st_size > (64 << 20))
        goto out;
    buf = malloc((size_t)st.st_size);
    if (!buf || seg_read(fd, buf, (size_t)st.st_size, 0))
        goto out;
    uint32_t count = le_get32(buf + 40);
    if (memcmp(buf, IDX_MAGIC, 4) || le_get32(buf + 4) != IDX_VERSION ||
        (int64_t)le_get64(buf + 8) != s->base ||
        (uint64_t)st.st_size != IDX_HEADER + (uint64_t)count * 16)
        goto out;
    uint32_t want = le_get32(buf + 44);
    le_put32(buf + 44, 0);
    if (sf_crc32c(buf, (size_t)st.st_size) != want)
        goto out;
    uint64_t cov = le_get64(buf + 24);
    if (cov > size || (count == 0 && cov != 0))
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        int64_t off = (int64_t)le_get64(buf + IDX_HEADER + 16 * i);
        uint64_t pos = le_get64(buf + IDX_HEADER + 16 * i + 8);
        if (pos >= cov || (i && (off <= s->idx[i - 1].offset ||
                                 pos <= s->idx[i - 1].pos)) ||
            (i == 0 && (off != s->base || pos != 0)) || idx_push(s, off, pos)) {
            s->nidx = 0;
            goto out;
        }
    }
    s->end = (int64_t)le_get64(buf + 16);
    s->last_time_ms = (int64_t)le_get64(buf + 32);
    covered = cov;
out:
    free(buf);
    close(fd);
    return covered;
}

/* Count the records of valid batches anywhere after a bad batch at pos:
 * 0 means nothing valid follows, so the bad bytes are a torn tail from a
 * crash (the writer never starts a batch before the previous one is on
 * disk). The bad batch's own length field may be the damaged part, so this
 * searches byte by byte for the next batch that checks out (magic, CRC). */
static int64_t records_after(const uint8_t *map, uint64_t size, uint64_t pos,
                             int64_t *max_end)
{
    int64_t lost = 0;
    for (uint64_t at = pos + 1; at + BATCH_HEADER <= size; at++) {
        const uint8_t *hit = memmem(map + at, size - at, BATCH_MAGIC, 4);
        struct batch_info bi;
        if (!hit)
            break;
        at = (uint64_t)(hit - map);
        if (batch_check(map + at, size - at, &bi) != BATCH_OK)
            continue;
        while (at < size && batch_check(map + at, size - at, &bi) == BATCH_OK) {
            lost += bi.count;
            if (bi.base_offset + (int64_t)bi.count > *max_end)
                *max_end = bi.base_offset + (int64_t)bi.count;
            at += bi.len;
        }
        return lost;
    }
    return 0;
}

int seg_load(struct segment *s, int verify_all, struct seg_damage *dmg,
             char *errstr, size_t n)
{
    struct stat st;
    memset(dmg, 0, sizeof(*dmg));
    s->nidx = 0;
    s->end = s->base;
    s->last_time_ms = 0;
    if (fstat(s->fd, &st))
        return sf_err(-1, errstr, n, "stat %s: %s", s->path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    uint64_t pos = verify_all ? 0 : load_index(s, size);
    if (pos == 0) {
        s->nidx = 0;
        s->end = s->base;
        s->last_time_ms = 0;
    }
    if (pos == size) {
        s->size = size;
        return 0;
    }
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, s->fd, 0);
    if (map == MAP_FAILED)
        return sf_err(-1, errstr, n, "mmap %s: %s", s->path, strerror(errno));
    while (pos < size) {
        struct batch_info bi;
        enum batch_status st2 = batch_check(map + pos, size - pos, &bi);
        if (st2 == BATCH_OK && bi.base_offset != s->end)
            st2 = BATCH_CORRUPT;
        if (st2 != BATCH_OK) {
            dmg->found = 1;
            dmg->at = pos;
            dmg->offset = s->end;
            dmg->lost_records = records_after(map, size, pos, &dmg->max_end);
            dmg->torn = dmg->lost_records == 0;
            break;
        }
        if (seg_index_add(s, bi.base_offset, pos)) {
            munmap((void *)map, size);
            return sf_err(-1, errstr, n, "out of memory indexing %s", s->path);
        }
        s->end += bi.count;
        s->last_time_ms = bi.time_ms;
        pos += bi.len;
    }
    munmap((void *)map, size);
    s->size = pos;
    return 0;
}

int64_t seg_extend(struct segment *s)
{
    struct stat st;
    int64_t before = s->end;
    if (fstat(s->fd, &st) || (uint64_t)st.st_size <= s->size)
        return 0;
    for (;;) {
        uint8_t hdr[BATCH_HEADER];
        if (s->size + BATCH_HEADER > (uint64_t)st.st_size ||
            seg_read(s->fd, hdr, sizeof(hdr), s->size))
            break;
        uint32_t len = le_get32(hdr + 8);
        if (len < BATCH_HEADER || len > BATCH_MAX || s->size + len > (uint64_t)st.st_size)
            break;
        uint8_t *b = malloc(len);
        struct batch_info bi;
        int ok = b && !seg_read(s->fd, b, len, s->size) &&
                 batch_check(b, len, &bi) == BATCH_OK && bi.base_offset == s->end;
        free(b);
        if (!ok || seg_index_add(s, bi.base_offset, s->size))
            break;
        s->size += len;
        s->end += bi.count;
        s->last_time_ms = bi.time_ms;
    }
    return s->end - before;
}

int seg_truncate(struct segment *s, uint64_t at, char *errstr, size_t n)
{
    if (ftruncate(s->fd, (off_t)at) || fdatasync(s->fd))
        return sf_err(-1, errstr, n, "truncating %s to %" PRIu64 " bytes: %s",
                      s->path, at, strerror(errno));
    while (s->nidx && s->idx[s->nidx - 1].pos >= at)
        s->nidx--;
    s->last_idx_pos = s->nidx ? s->idx[s->nidx - 1].pos : 0;
    s->size = at;
    return 0;
}

int seg_find(const struct segment *s, int64_t offset, uint64_t *pos,
             char *errstr, size_t n)
{
    size_t lo = 0, hi = s->nidx;
    if (!s->nidx || offset < s->base || offset >= s->end)
        return sf_err(-1, errstr, n, "%s: offset %" PRId64 " is not in this segment",
                      s->path, offset);
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->idx[mid].offset <= offset)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t at = s->idx[lo].pos;
    for (;;) {
        uint8_t h[BATCH_HEADER];
        int rc = seg_read(s->fd, h, sizeof(h), at);
        if (rc)
            return sf_err(-1, errstr, n, "reading %s at byte %" PRIu64 ": %s",
                          s->path, at, strerror(-rc));
        uint32_t len = le_get32(h + 8), count = le_get32(h + 24);
        int64_t base = (int64_t)le_get64(h + 16);
        if (memcmp(h, BATCH_MAGIC, 4) || len < BATCH_HEADER || at + len > s->size)
            return sf_err(-1, errstr, n, "%s: bad batch header at byte %" PRIu64
                          "; run `salesflow log repair`", s->path, at);
        if (offset < base + (int64_t)count) {
            *pos = at;
            return 0;
        }
        at += len;
    }
}

int seg_write_index(const struct segment *s, char *errstr, size_t n)
{
    char ipath[sizeof(s->path) + 8], tmp[sizeof(ipath) + 8];
    size_t len = IDX_HEADER + s->nidx * 16;
    uint8_t *buf = calloc(1, len);
    int fd = -1, rc = -1;
    if (!buf)
        return sf_err(-1, errstr, n, "out of memory");
    memcpy(buf, IDX_MAGIC, 4);
    le_put32(buf + 4, IDX_VERSION);
    le_put64(buf + 8, (uint64_t)s->base);
    le_put64(buf + 16, (uint64_t)s->end);
    le_put64(buf + 24, s->size);
    le_put64(buf + 32, (uint64_t)s->last_time_ms);
    le_put32(buf + 40, (uint32_t)s->nidx);
    for (size_t i = 0; i < s->nidx; i++) {
        le_put64(buf + IDX_HEADER + 16 * i, (uint64_t)s->idx[i].offset);
        le_put64(buf + IDX_HEADER + 16 * i + 8, s->idx[i].pos);
    }
    le_put32(buf + 44, sf_crc32c(buf, len));
    index_path(ipath, sizeof(ipath), s->path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", ipath);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fdatasync(fd) ||
        rename(tmp, ipath)) {
        sf_err(-1, errstr, n, "writing %s: %s", ipath, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

void seg_unlink(const char *log_path)
{
    char ipath[PATH_MAX + 80];
    index_path(ipath, sizeof(ipath), log_path);
    unlink(ipath);
    unlink(log_path);
}

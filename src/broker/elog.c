/*
 * elog — the embedded log: a durable, partitioned, single-node broker.
 *
 * Layout under DIR:
 *   meta                      "salesflow-log 1", topic and partition count
 *   .lock                     flock()ed by the one process that writes
 *   Order-P/00000000000000000000.log   batches of partition P (batch.h)
 *
 * Writing (group commit). produce() copies the message into a bounded
 * queue and signals the writer thread. The writer takes everything queued,
 * builds one batch per partition, writes each with one pwrite(), then
 * fdatasync()s every file it touched, and only then publishes the new end
 * offsets to consumers and runs the acks. While it waits for the disk, new
 * messages pile up in the queue and share the next write and fsync. A failed
 * write or fsync truncates the file back to where the group started, so no
 * partial record stays visible, and fails the acks of that partition.
 *
 * Reading. An in-memory index (base offset → file position, one entry per
 * batch, rebuilt by the scan at open) lets seek() find a batch by binary
 * search; poll() reads whole batches with pread() up to the published end,
 * so a consumer never sees a record that is not yet durable.
 *
 * Recovery. open() checks every batch of every partition (magic, length,
 * CRC32C, offset continuity). An incomplete or corrupt last batch is a torn
 * tail from a crash: it is cut off and logged. A corrupt batch followed by a
 * valid one is damage in the middle of the log: open fails and says where.
 */
#include "broker/batch.h"
#include "broker/broker.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ELOG_DEFAULT_PARTITIONS 4
#define ELOG_MAX_PARTITIONS 1024
#define ELOG_DEFAULT_QUEUE 65536
#define ELOG_READ_BUDGET (4u << 20)
#define ELOG_SEGMENT "00000000000000000000.log"

struct pending {
    int partition;
    uint32_t len;
    char *value;
    broker_ack_cb cb;
    void *opaque;
    int err;
    int64_t offset;
};

struct idx_ent {
    int64_t base;
    uint64_t pos;
};

struct part {
    int fd;
    char path[PATH_MAX + 64];
    int64_t end;            /* next offset; published (durable) end */
    uint64_t size;          /* bytes of complete batches */
    struct idx_ent *idx;
    size_t nidx, cap;
    int64_t cpos;           /* consumer: next offset to return */
    struct sf_buf wbuf;     /* writer: batch under construction */
    int touched;
};

struct elog {
    struct broker base;
    char dir[PATH_MAX];
    int nparts;
    struct part *parts;
    int lockfd;

    pthread_mutex_t mu;
    pthread_cond_t wake_writer, data_ready;
    struct pending *q;      /* ring of qmax entries */
    size_t qhead, qlen, qmax;
    int closing;            /* close(): writer drains and exits */
    int refusing;           /* flush()/close(): produce() refuses */
    int busy;               /* writer holds a group outside the lock */
    pthread_cond_t idle;    /* signalled when the queue is drained */
    pthread_t writer;
    int writer_started;

    struct sf_buf rbuf;     /* consumer: bytes behind the last poll */
    int rr;
};

/* ---- directory, meta file, recovery -------------------------------- */

static int write_meta(const char *path, int nparts, char *errstr, size_t n)
{
    FILE *f = fopen(path, "wx");
    if (!f)
        return sf_err(-1, errstr, n, "cannot create %s: %s", path, strerror(errno));
    fprintf(f, "salesflow-log 1\ntopic %s\npartitions %d\n", SF_TOPIC_DEFAULT, nparts);
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return sf_err(-1, errstr, n, "cannot write %s: %s", path, strerror(errno));
    }
    fclose(f);
    return 0;
}

static int read_meta(const char *path, int *nparts, char *errstr, size_t n)
{
    FILE *f = fopen(path, "r");
    char topic[64] = "";
    int version = 0;
    if (!f)
        return sf_err(-1, errstr, n, "cannot open %s: %s", path, strerror(errno));
    int ok = fscanf(f, "salesflow-log %d\ntopic %63s\npartitions %d", &version,
                    topic, nparts) == 3;
    fclose(f);
    if (!ok)
        return sf_err(-1, errstr, n, "%s is not a salesflow log meta file", path);
    if (version != 1)
        return sf_err(-1, errstr, n,
                      "%s: log format version %d, this salesflow reads version 1",
                      path, version);
    if (*nparts < 1 || *nparts > ELOG_MAX_PARTITIONS)
        return sf_err(-1, errstr, n, "%s: bad partition count %d", path, *nparts);
    return 0;
}

/* Refuse to run over files we did not write: a wrong --data is likelier
 * than a log with strangers in it. */
static int check_dir(const char *dir, int nparts, char *errstr, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return sf_err(-1, errstr, n, "cannot list %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        int p;
        char tail;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "meta") || !strcmp(e->d_name, ".lock"))
            continue;
        if (sscanf(e->d_name, SF_TOPIC_DEFAULT "-%d%c", &p, &tail) == 1 &&
            p >= 0 && p < nparts)
            continue;
        closedir(d);
        return sf_err(-1, errstr, n,
                      "%s/%s is not part of a salesflow log (expected meta and "
                      SF_TOPIC_DEFAULT "-0.." SF_TOPIC_DEFAULT "-%d); move it away "
                      "or point --data elsewhere", dir, e->d_name, nparts - 1);
    }
    closedir(d);
    return 0;
}

static int idx_push(struct part *p, int64_t base, uint64_t pos)
{
    if (p->nidx == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        struct idx_ent *ni = realloc(p->idx, cap * sizeof(*ni));
        if (!ni)
            return -1;
        p->idx = ni;
        p->cap = cap;
    }
    p->idx[p->nidx].base = base;
    p->idx[p->nidx].pos = pos;
    p->nidx++;
    return 0;
}

/* Scan a partition's segment, rebuild its index, cut a torn tail. */
static int recover_part(struct part *p, char *errstr, size_t n)
{
    struct stat st;
    if (fstat(p->fd, &st))
        return sf_err(-1, errstr, n, "stat %s: %s", p->path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size, pos = 0;
    const uint8_t *map = NULL;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, p->fd, 0);
        if (map == MAP_FAILED)
            return sf_err(-1, errstr, n, "mmap %s: %s", p->path, strerror(errno));
    }
    int rc = 0;
    while (pos < size) {
        struct batch_info bi;
        enum batch_status s = batch_check(map + pos, size - pos, &bi);
        if (s == BATCH_OK && bi.base_offset != p->end)
            s = BATCH_CORRUPT;
        if (s == BATCH_OK) {
            if (idx_push(p, bi.base_offset, pos)) {
                rc = sf_err(-1, errstr, n, "out of memory indexing %s", p->path);
                break;
            }
            p->end += bi.count;
            pos += bi.len;
            continue;
        }
        /* Damage in the middle: a valid batch right after the bad one. */
        if (s == BATCH_CORRUPT && size - pos >= BATCH_HEADER) {
            uint32_t len;
            memcpy(&len, map + pos + 8, 4); /* little-endian hosts only */
            struct batch_info next;
            if (len >= BATCH_HEADER && len < size - pos &&
                batch_check(map + pos + len, size - pos - len, &next) == BATCH_OK) {
                rc = sf_err(-1, errstr, n,
                            "%s: corrupt batch at byte %" PRIu64 " (offset %" PRId64
                            ") with valid data after it; the log is damaged. Copy "
                            "the file away, then truncate it at byte %" PRIu64
                            " to keep the %" PRId64 " records before it",
                            p->path, pos, p->end, pos, p->end);
                break;
            }
        }
        log_warn("log %s: cutting %s tail of %" PRIu64 " bytes at byte %" PRIu64
                 " (offset %" PRId64 ")", p->path,
                 s == BATCH_TORN ? "a torn" : "a corrupt", size - pos, pos, p->end);
        if (ftruncate(p->fd, (off_t)pos) || fdatasync(p->fd))
            rc = sf_err(-1, errstr, n, "truncating %s: %s", p->path, strerror(errno));
        break;
    }
    if (map)
        munmap((void *)map, size);
    p->size = pos;
    return rc;
}

static int open_part(struct elog *l, int i, char *errstr, size_t n)
{
    struct part *p = &l->parts[i];
    char pdir[PATH_MAX + 32];
    snprintf(pdir, sizeof(pdir), "%s/%s-%d", l->dir, SF_TOPIC_DEFAULT, i);
    int rc = sf_mkdirs(pdir);
    if (rc)
        return sf_err(-1, errstr, n, "cannot create %s: %s", pdir, strerror(-rc));
    snprintf(p->path, sizeof(p->path), "%s/" ELOG_SEGMENT, pdir);
    p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (p->fd < 0)
        return sf_err(-1, errstr, n, "cannot open %s: %s", p->path, strerror(errno));
    sf_buf_init(&p->wbuf, BATCH_MAX);
    return recover_part(p, errstr, n);
}

/* ---- writer ---------------------------------------------------------- */

static int err_of(int e)
{
    return e == ENOSPC || e == EDQUOT ? BROKER_ENOSPC : BROKER_EIO;
}

static int write_all(int fd, const char *buf, size_t len, uint64_t at)
{
    while (len) {
        ssize_t w = pwrite(fd, buf, len, (off_t)at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -ENOSPC;
        buf += w;
        len -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

static void write_group(struct elog *l, struct pending *g, size_t n)
{
    int64_t now = sf_now_ms();
    size_t *start = calloc((size_t)l->nparts, sizeof(*start));
    uint32_t *count = calloc((size_t)l->nparts, sizeof(*count));
    int *perr = calloc((size_t)l->nparts, sizeof(*perr));

    if (!start || !count || !perr) {
        for (size_t i = 0; i < n; i++)
            g[i].err = BROKER_EIO;
        goto acks;
    }
    for (size_t i = 0; i < n; i++) {
        struct part *p = &l->parts[g[i].partition];
        if (!p->touched) {
            p->touched = 1;
            p->wbuf.len = 0;
            start[g[i].partition] = batch_begin(&p->wbuf);
        }
        if (batch_add(&p->wbuf, g[i].value, g[i].len)) {
            g[i].err = BROKER_ETOOBIG;
            continue;
        }
        g[i].offset = p->end + count[g[i].partition]++;
    }
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        if (!p->touched || !count[i])
            continue;
        batch_finish(&p->wbuf, start[i], p->end, count[i], now);
        int rc = write_all(p->fd, p->wbuf.data, p->wbuf.len, p->size);
        if (rc) {
            log_error("log %s: write of %zu bytes at byte %" PRIu64 " failed: %s",
                      p->path, p->wbuf.len, p->size, strerror(-rc));
            perr[i] = err_of(-rc);
        }
    }
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        if (!p->touched || !count[i] || perr[i])
            continue;
        if (fdatasync(p->fd)) {
            log_error("log %s: fdatasync failed: %s", p->path, strerror(errno));
            perr[i] = err_of(errno);
        }
    }
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        if (!p->touched || !count[i])
            continue;
        if (perr[i] || idx_push(p, p->end, p->size)) {
            if (!perr[i])
                perr[i] = BROKER_EIO;
            /* Cut what may have reached the file so it is never served. */
            if (ftruncate(p->fd, (off_t)p->size))
                log_error("log %s: truncate to %" PRIu64 " failed: %s", p->path,
                          p->size, strerror(errno));
            continue;
        }
        p->size += p->wbuf.len;
        p->end += count[i];
    }
    pthread_cond_broadcast(&l->data_ready);
    pthread_mutex_unlock(&l->mu);

    for (size_t i = 0; i < n; i++)
        if (!g[i].err && perr[g[i].partition])
            g[i].err = perr[g[i].partition];
acks:
    for (int i = 0; i < l->nparts; i++)
        l->parts[i].touched = 0;
    for (size_t i = 0; i < n; i++) {
        g[i].cb(g[i].opaque, g[i].err, g[i].partition, g[i].err ? -1 : g[i].offset);
        free(g[i].value);
    }
    free(start);
    free(count);
    free(perr);
}

static void *writer_main(void *arg)
{
    struct elog *l = arg;
    struct pending *g = malloc(l->qmax * sizeof(*g));
    for (;;) {
        pthread_mutex_lock(&l->mu);
        l->busy = 0;
        if (l->qlen == 0)
            pthread_cond_broadcast(&l->idle);
        while (l->qlen == 0 && !l->closing)
            pthread_cond_wait(&l->wake_writer, &l->mu);
        if (l->qlen == 0) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        size_t n = 0;
        while (l->qlen) {
            g[n] = l->q[l->qhead];
            g[n].err = 0;
            n++;
            l->qhead = (l->qhead + 1) % l->qmax;
            l->qlen--;
        }
        l->busy = 1;
        pthread_mutex_unlock(&l->mu);
        write_group(l, g, n);
    }
    free(g);
    return NULL;
}

/* ---- broker_ops ------------------------------------------------------ */

static void elog_close(struct broker *b);

static int elog_open(struct broker **out, const char *dir,
                     const struct broker_conf *conf, char *errstr, size_t n)
{
    struct elog *l = calloc(1, sizeof(*l));
    char path[PATH_MAX + 16];
    struct stat st;
    int rc;

    if (!l)
        return sf_err(-1, errstr, n, "out of memory");
    l->base.ops = &elog_broker_ops;
    l->lockfd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->wake_writer, NULL);
    pthread_cond_init(&l->data_ready, NULL);
    pthread_cond_init(&l->idle, NULL);
    sf_buf_init(&l->rbuf, (size_t)BATCH_MAX + ELOG_READ_BUDGET);
    if (strlen(dir) == 0 || strlen(dir) >= sizeof(l->dir) - 64) {
        rc = sf_err(-1, errstr, n, "log directory \"%s\": bad path", dir);
        goto fail;
    }
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/meta", dir);
    if (stat(path, &st) != 0) {
        if (!conf->create) {
            rc = sf_err(-1, errstr, n, "no salesflow log at %s (%s missing)", dir, path);
            goto fail;
        }
        if ((rc = sf_mkdirs(dir))) {
            rc = sf_err(-1, errstr, n, "cannot create %s: %s", dir, strerror(-rc));
            goto fail;
        }
        l->nparts = conf->partitions > 0 ? conf->partitions : ELOG_DEFAULT_PARTITIONS;
        if ((rc = write_meta(path, l->nparts, errstr, n)))
            goto fail;
    } else {
        if ((rc = read_meta(path, &l->nparts, errstr, n)))
            goto fail;
        if (conf->partitions > 0 && conf->partitions != l->nparts) {
            rc = sf_err(-1, errstr, n,
                        "%s has %d partitions, fixed when it was created; "
                        "--partitions %d cannot change that", dir, l->nparts,
                        conf->partitions);
            goto fail;
        }
    }
    snprintf(path, sizeof(path), "%s/.lock", dir);
    l->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->lockfd < 0 || flock(l->lockfd, LOCK_EX | LOCK_NB)) {
        rc = sf_err(-1, errstr, n, "cannot lock %s: %s%s", path, strerror(errno),
                    errno == EWOULDBLOCK ? " (another salesflow uses this log)" : "");
        goto fail;
    }
    if ((rc = check_dir(dir, l->nparts, errstr, n)))
        goto fail;
    l->parts = calloc((size_t)l->nparts, sizeof(*l->parts));
    if (!l->parts) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    for (int i = 0; i < l->nparts; i++)
        l->parts[i].fd = -1;
    for (int i = 0; i < l->nparts; i++)
        if ((rc = open_part(l, i, errstr, n)))
            goto fail;
    l->qmax = conf->queue_max ? conf->queue_max : ELOG_DEFAULT_QUEUE;
    l->q = calloc(l->qmax, sizeof(*l->q));
    if (!l->q) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    if (pthread_create(&l->writer, NULL, writer_main, l)) {
        rc = sf_err(-1, errstr, n, "cannot start the log writer thread");
        goto fail;
    }
    l->writer_started = 1;
    *out = &l->base;
    return 0;
fail:
    elog_close(&l->base);
    return rc ? rc : -1;
}

static int elog_produce(struct broker *b, int64_t key, const char *value,
                        size_t len, broker_ack_cb cb, void *opaque)
{
    struct elog *l = (struct elog *)b;
    if (len > (1u << 20))
        return BROKER_ETOOBIG;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return BROKER_EFULL;
    memcpy(copy, value, len);
    int part = (int)((uint64_t)key % (uint64_t)l->nparts);

    pthread_mutex_lock(&l->mu);
    int rc = l->refusing ? BROKER_ECLOSED : l->qlen == l->qmax ? BROKER_EFULL : 0;
    if (rc == 0) {
        struct pending *p = &l->q[(l->qhead + l->qlen) % l->qmax];
        *p = (struct pending){.partition = part, .len = (uint32_t)len,
                              .value = copy, .cb = cb, .opaque = opaque};
        l->qlen++;
        pthread_cond_signal(&l->wake_writer);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc)
        free(copy);
    return rc;
}

static int elog_partition_count(struct broker *b)
{
    return ((struct elog *)b)->nparts;
}

static int elog_seek(struct broker *b, int partition, int64_t offset)
{
    struct elog *l = (struct elog *)b;
    if (partition < 0 || partition >= l->nparts || offset < 0)
        return -1;
    l->parts[partition].cpos = offset;
    return 0;
}

/* Position of the batch holding offset `off` (caller holds mu). */
static uint64_t find_pos(const struct part *p, int64_t off)
{
    size_t lo = 0, hi = p->nidx;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->idx[mid].base <= off)
            lo = mid;
        else
            hi = mid;
    }
    return p->nidx ? p->idx[lo].pos : 0;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t at)
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

static int elog_poll(struct broker *b, struct broker_record *recs, size_t max,
                     int timeout_ms, char *errstr, size_t n)
{
    struct elog *l = (struct elog *)b;
    int np = l->nparts;
    struct span { uint64_t pos, end; } *sp = calloc((size_t)np, sizeof(*sp));
    if (!sp)
        return sf_err(-1, errstr, n, "out of memory");

    pthread_mutex_lock(&l->mu);
    int64_t deadline = sf_mono_ms() + timeout_ms;
    for (;;) {
        int any = 0;
        for (int i = 0; i < np; i++)
            any |= l->parts[i].cpos < l->parts[i].end;
        if (any || l->closing)
            break;
        int64_t left = deadline - sf_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->data_ready, &l->mu, &ts);
    }
    for (int i = 0; i < np; i++) {
        struct part *p = &l->parts[i];
        if (p->cpos < p->end) {
            sp[i].pos = find_pos(p, p->cpos);
            sp[i].end = p->size;
        }
    }
    pthread_mutex_unlock(&l->mu);

    size_t got = 0;
    l->rbuf.len = 0;
    for (int k = 0; k < np && got < max; k++) {
        int i = (l->rr + k) % np;
        struct part *p = &l->parts[i];
        while (sp[i].pos < sp[i].end && got < max) {
            uint8_t hdr[BATCH_HEADER];
            int rc = read_exact(p->fd, hdr, sizeof(hdr), sp[i].pos);
            uint32_t blen;
            memcpy(&blen, hdr + 8, 4);
            if (rc == 0 && (blen < BATCH_HEADER || blen > sp[i].end - sp[i].pos))
                rc = -EIO;
            if (rc) {
                sf_err(-1, errstr, n, "reading %s at byte %" PRIu64 ": %s",
                       p->path, sp[i].pos, strerror(-rc));
                free(sp);
                return -1;
            }
            if (got && l->rbuf.len + blen > ELOG_READ_BUDGET)
                goto done; /* enough for one poll; records point into rbuf */
            size_t at = l->rbuf.len;
            if (l->rbuf.cap < at + blen + 1) {
                if (got)
                    goto done; /* growing would move earlier records */
                char *d = realloc(l->rbuf.data, at + blen + 1);
                if (!d) {
                    free(sp);
                    return sf_err(-1, errstr, n, "out of memory");
                }
                l->rbuf.data = d;
                l->rbuf.cap = at + blen + 1;
            }
            uint8_t *bp = (uint8_t *)l->rbuf.data + at;
            struct batch_info bi;
            if ((rc = read_exact(p->fd, bp, blen, sp[i].pos)) ||
                batch_check(bp, blen, &bi) != BATCH_OK) {
                sf_err(-1, errstr, n, "%s: unreadable batch at byte %" PRIu64 " (%s)",
                       p->path, sp[i].pos, rc ? strerror(-rc) : "checksum mismatch");
                free(sp);
                return -1;
            }
            l->rbuf.len += blen;
            size_t rpos = 0;
            const uint8_t *rec;
            uint32_t rlen;
            int64_t off = bi.base_offset;
            while (got < max && batch_next(bp, &bi, &rpos, &rec, &rlen) == 1) {
                if (off >= p->cpos) {
                    recs[got++] = (struct broker_record){
                        .partition = i, .offset = off, .timestamp_ms = bi.time_ms,
                        .value = (const char *)rec, .len = rlen};
                    p->cpos = off + 1;
                }
                off++;
            }
            if (p->cpos < bi.base_offset + (int64_t)bi.count)
                break; /* max reached inside this batch */
            sp[i].pos += blen;
        }
    }
done:
    l->rr = (l->rr + 1) % np;
    free(sp);
    return (int)got;
}

static void elog_flush(struct broker *b)
{
    struct elog *l = (struct elog *)b;
    pthread_mutex_lock(&l->mu);
    l->refusing = 1;
    while (l->writer_started && (l->qlen || l->busy))
        pthread_cond_wait(&l->idle, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

static void elog_close(struct broker *b)
{
    struct elog *l = (struct elog *)b;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->refusing = 1;
    l->closing = 1;
    pthread_cond_broadcast(&l->wake_writer);
    pthread_cond_broadcast(&l->data_ready);
    pthread_mutex_unlock(&l->mu);
    if (l->writer_started)
        pthread_join(l->writer, NULL);
    for (int i = 0; l->parts && i < l->nparts; i++) {
        if (l->parts[i].fd >= 0)
            close(l->parts[i].fd);
        free(l->parts[i].idx);
        sf_buf_free(&l->parts[i].wbuf);
    }
    free(l->parts);
    free(l->q);
    sf_buf_free(&l->rbuf);
    if (l->lockfd >= 0)
        close(l->lockfd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->wake_writer);
    pthread_cond_destroy(&l->data_ready);
    pthread_cond_destroy(&l->idle);
    free(l);
}

const struct broker_ops elog_broker_ops = {
    .scheme = "file",
    .open = elog_open,
    .produce = elog_produce,
    .partition_count = elog_partition_count,
    .seek = elog_seek,
    .poll = elog_poll,
    .flush = elog_flush,
    .close = elog_close,
};

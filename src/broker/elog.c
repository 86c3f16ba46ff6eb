/*
 * elog — the embedded log: a durable, partitioned, single-node broker.
 *
 * Layout under DIR:
 *   meta                     "salesflow-log 1", topic and partition count,
 *                            then "id <32 hex>": the log's identity, random,
 *                            made with the directory (a log from before
 *                            identities gets one at its first writable open,
 *                            marked "legacy 1": positions a store kept
 *                            without identity may be its own)
 *   .lock                    flock()ed by the one process that writes
 *   Order-P/<base>.log       segments of partition P (segment.h, batch.h)
 *   Order-P/<base>.index     their sparse offset indexes
 *   Order-P/<end>.gap        written by `log repair` or a torn-tail cut at
 *                            open: offsets from <end> up to the next
 *                            segment's base are not in the log
 *
 * Writing (group commit). produce() copies messages into a bounded queue
 * and signals the writer thread. The writer takes everything queued, builds
 * one batch per partition, writes each with one pwrite() to the partition's
 * active segment, then — with --fsync always — fdatasync()s every file it
 * touched (at the same time, from the writer and up to 3 helper threads),
 * and only then publishes the new end
 * offsets to readers and runs the acks. While it waits for the disk, new
 * messages pile up and share the next write and fsync. With interval:MS or
 * never, acks follow the write and the fsync comes on a timer or not at all. A failed write or fsync
 * truncates the file back to where the group started, so no partial record
 * stays visible, and fails that partition's acks (ENOSPC → disk full).
 *
 * A failed fdatasync is fatal (docs/operations.md, "Disk errors"; what
 * PostgreSQL decided after "fsyncgate"): the kernel may already have
 * dropped the dirty pages or marked them clean, so neither the page cache
 * nor a later fdatasync that succeeds says what the disk holds. The group's
 * range is cut and refused as above, every later append is refused with
 * BROKER_EIO, and the process is sent SIGTERM; `run` then drains and exits
 * 1 (elog_failed()) for its supervisor to restart it, and the restart
 * reads the log back from the disk and checks it. A failed pwrite is not:
 * it cut and refused its group, and the next group writes the same bytes
 * again and syncs them.
 *
 * Segments roll once the active one would pass segment_bytes: the old one
 * is sealed (its index written and fsync'd) and a new file named by its base
 * offset is created. Retention removes sealed segments that are older or
 * beyond the size budget, and only once the processor's committed position
 * has passed their end.
 *
 * Reading. poll() finds the segment and batch holding each partition's
 * consumer position (binary search, then the sparse index) and pread()s
 * whole batches up to the published end, so a consumer never sees a record
 * that is not yet durable.
 *
 * Recovery at open: see segment.c. A torn tail of the active segment is cut
 * and logged, and new records are numbered past any offset the cut batch
 * may have held (torn_tail_end: the same hole as repair leaves); damage
 * anywhere stops the open and names the file, the byte and `salesflow log
 * repair`.
 *
 * Repair never hands out an offset twice. Cutting a partition at offset C
 * forgets records a store may already have processed (its position can be
 * anything up to the old end), so new records must not reuse C..old end:
 * a store would take them for records it has passed. elog_repair()
 * (elog_repair.c) finds the old end (the batches after the damage, the cut
 * segments, and the positions of any store it was given), and when that
 * lies past C it starts an empty segment there and leaves C.gap beside
 * it. Open accepts exactly that hole between segments; a reader whose
 * position falls into it continues at the next segment.
 */
#include "broker/elog.h"
#include "broker/elog_int.h"
#include "broker/batch.h"
#include "broker/le.h"
#include "broker/segment.h"
#include "core/metrics.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ELOG_DEFAULT_PARTITIONS BROKER_DEFAULT_PARTITIONS
#define ELOG_MAX_PARTITIONS 1024
#define ELOG_DEFAULT_QUEUE 262144
#define ELOG_DEFAULT_SEGMENT ((unsigned long long)BROKER_DEFAULT_SEGMENT_MB << 20)
#define ELOG_READ_BUDGET (4u << 20)
#define ELOG_READ_MIN (1u << 20)   /* the read buffer's least size */
#define ELOG_MAX_MESSAGE (1u << 20)
#define ELOG_SYNCERS 3          /* helpers: up to 4 fdatasyncs at once */

struct pending {
    int partition;
    uint32_t len;
    const char *value;
    void *free_after;           /* block to free once this entry is acked */
    broker_ack_cb cb;
    void *opaque;
    int err;
    int64_t offset;
};

struct sync_job {
    int part, fd;
    const char *path;
    int err;                    /* errno of a failed fdatasync, else 0 */
};

struct part {
    char dir[PATH_MAX + 32];
    struct segment *segs;       /* ascending base; the last one is active */
    size_t nsegs, cap;
    int64_t end;                /* published end (readers see [start, end)) */
    int64_t cpos;               /* consumer: next offset to return */
    struct sf_buf wbuf;         /* writer: the batch under construction */
    size_t wstart;
    uint32_t wcount;
    int werr;
    int dirty;                  /* written but not yet fsync'd */
};

struct elog {
    struct broker base;
    char dir[PATH_MAX];
    struct broker_conf conf;
    int nparts;
    char id[40];                /* "log-<32 hex>"; "" = none (old, read-only) */
    int legacy;                 /* the id was added to a log from before ids */
    struct part *parts;
    int lockfd;

    pthread_mutex_t mu;
    pthread_cond_t wake_writer, data_ready, idle;
    struct pending *q;          /* ring of qmax entries */
    size_t qhead, qlen, qmax;
    int closing;                /* close(): the writer drains and exits */
    int refusing;               /* flush()/close(): produce() refuses */
    int busy;                   /* the writer holds a group outside the lock */
    int64_t last_sync_ms;
    _Atomic uint64_t fsyncs;
    _Atomic int failed;         /* an fdatasync failed: refuse everything */
    _Atomic int write_fails;    /* groups in a row whose write failed */
    pthread_t writer;
    int writer_started;

    struct sf_buf rbuf;         /* consumer: bytes behind the last poll */
    int rr;

    /* --fsync always: the files one group wrote are fdatasync'd at the same
     * time, by the writer and nsyncers helper threads, so that they share
     * the filesystem's journal commit instead of queueing for one each. */
    pthread_mutex_t smu;
    pthread_cond_t sgo, sdone;
    struct sync_job *sjob;      /* nparts entries */
    int sn, snext, sdone_n, sstop;
    uint64_t sgen;
    pthread_t syncers[ELOG_SYNCERS];
    int nsyncers;
};

/* ---- meta file and directory checks ---------------------------------- */

static int write_meta(const char *path, int nparts, const char *id, int legacy,
                      char *errstr, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return sf_err(-1, errstr, n, "cannot create %s: %s", path, strerror(e));
    }
    fprintf(f, "salesflow-log 1\ntopic %s\npartitions %d\n", SF_TOPIC_DEFAULT, nparts);
    if (id && id[0])
        fprintf(f, "id %s\n%s", id, legacy ? "legacy 1\n" : "");
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return sf_err(-1, errstr, n, "cannot write %s: %s", path, strerror(errno));
    }
    fclose(f);
    return 0;
}

int elog_read_meta(const char *path, int *nparts, struct elog *l, char *errstr,
                     size_t n)
{
    FILE *f = fopen(path, "r");
    char topic[64] = "", line[128];
    int version = 0;
    if (!f)
        return sf_err(-1, errstr, n, "cannot open %s: %s", path, strerror(errno));
    int ok = fscanf(f, "salesflow-log %d\ntopic %63s\npartitions %d", &version,
                    topic, nparts) == 3;
    /* Lines after the first three (older salesflows ignore them). */
    while (ok && l && fgets(line, sizeof(line), f)) {
        char v[40];
        int x;
        if (sscanf(line, "id %39s", v) == 1 && strncmp(v, "log-", 4) == 0)
            memcpy(l->id, v, sizeof(v));
        else if (sscanf(line, "legacy %d", &x) == 1)
            l->legacy = x == 1;
    }
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

/* A new random identity "log-<32 hex>". */
static int new_log_id(char out[40], char *errstr, size_t n)
{
    unsigned char r[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(r, 1, sizeof(r), f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof(r))
        return sf_err(-1, errstr, n, "cannot read /dev/urandom for the log's identity");
    memcpy(out, "log-", 4);
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 4 + 2 * i, 3, "%02x", r[i]);
    return 0;
}


/* A log from before identities gets one, marked legacy, the first time it
 * is opened for writing: meta is rewritten through a temporary file and a
 * rename, so a crash leaves the old meta or the new one. */
static int add_log_id(struct elog *l, const char *meta, char *errstr, size_t n)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s/.meta.new", l->dir);
    unlink(tmp);
    if (new_log_id(l->id, errstr, n))
        return -1;
    l->legacy = 1;
    if (write_meta(tmp, l->nparts, l->id, 1, errstr, n))
        return -1;
    if (rename(tmp, meta) || elog_fsync_dir(l->dir)) {
        int e = errno;
        unlink(tmp);
        return sf_err(-1, errstr, n, "cannot update %s: %s", meta, strerror(e));
    }
    log_info("log %s: identity %s added (positions a store kept without an identity "
             "are taken as this log's)", l->dir, l->id);
    return 0;
}

int elog_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
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
            !strcmp(e->d_name, "meta") || !strcmp(e->d_name, ".lock") ||
            !strcmp(e->d_name, ".meta.new"))
            continue;
        if (sscanf(e->d_name, SF_TOPIC_DEFAULT "-%d%c", &p, &tail) == 1 &&
            p >= 0 && p < nparts)
            continue;
        sf_err(-1, errstr, n,
               "%s/%s is not part of a salesflow log (expected meta and "
               SF_TOPIC_DEFAULT "-0.." SF_TOPIC_DEFAULT "-%d); move it away "
               "or point --data elsewhere", dir, e->d_name, nparts - 1);
        closedir(d); /* after the message: it frees e */
        return -1;
    }
    closedir(d);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Base offsets of the segments in a partition directory, sorted. Removes
 * leftover temporary index files; any other file is an error. */
int elog_list_segments(const char *dir, int readonly, int64_t **bases,
                         size_t *nb, char *errstr, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    *bases = NULL;
    *nb = 0;
    if (!d)
        return sf_err(-1, errstr, n, "cannot list %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        int digits = len > SEG_NAME_DIGITS &&
                     strspn(name, "0123456789") == SEG_NAME_DIGITS;
        const char *ext = name + SEG_NAME_DIGITS;
        if (digits && (!strcmp(ext, ".index") || !strcmp(ext, ".gap")))
            continue;
        if (digits && !strcmp(ext, ".index.tmp")) {
            if (!readonly) {
                char p[PATH_MAX + 300];
                snprintf(p, sizeof(p), "%s/%s", dir, name);
                unlink(p);
            }
            continue;
        }
        if (!digits || strcmp(ext, ".log")) {
            sf_err(-1, errstr, n, "%s/%s is not part of a salesflow log; move it "
                   "away", dir, name);
            closedir(d); /* after the message: it frees name */
            free(*bases);
            *bases = NULL;
            return -1;
        }
        if (*nb == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *nbp = realloc(*bases, cap * sizeof(*nbp));
            if (!nbp) {
                closedir(d);
                free(*bases);
                return sf_err(-1, errstr, n, "out of memory");
            }
            *bases = nbp;
        }
        (*bases)[(*nb)++] = strtoll(name, NULL, 10);
    }
    closedir(d);
    if (*nb)
        qsort(*bases, *nb, sizeof(**bases), cmp_i64);
    return 0;
}

static struct segment *push_seg(struct part *p)
{
    if (p->nsegs == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct segment *ns = realloc(p->segs, cap * sizeof(*ns));
        if (!ns)
            return NULL;
        p->segs = ns;
        p->cap = cap;
    }
    struct segment *s = &p->segs[p->nsegs];
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    return s;
}


/* The offset new records start at after cutting a torn tail of tail bytes
 * at dmg. A tail shorter than a batch header was never a whole batch, so
 * never published: its offset is reused. Otherwise the cut batch may have
 * been complete and read by a store before the damage (a flipped byte looks
 * like a torn write when nothing valid follows), so no offset it may have
 * held is handed out again: the end its header claims when the header still
 * reads (magic, its base offset, sane lengths), else an upper bound, one
 * record per 4 bytes of the tail (each record takes at least its length
 * field). A true torn write of an unacknowledged batch just skips offsets. */
static int64_t torn_tail_end(const struct segment *s, const struct seg_damage *dmg,
                             uint64_t tail)
{
    if (tail < BATCH_HEADER)
        return dmg->offset;
    int64_t claimed = elog_damaged_batch_end(s, dmg);
    if (claimed > dmg->offset)
        return claimed;
    return dmg->offset + (int64_t)((tail - BATCH_HEADER) / 4) + 1;
}

/* After open cut the active segment of partition i at offset cut: seal it,
 * leave cut.gap and start an empty segment at end, as `log repair` does. */
static int skip_past_torn_tail(struct part *p, int i, int64_t cut, int64_t end,
                               char *errstr, size_t n)
{
    char path[sizeof(p->dir) + 40];
    struct segment *old = &p->segs[p->nsegs - 1];
    if (seg_write_index(old, errstr, n) ||
        elog_write_gap_file(p->dir, i, cut, end, "recovery at open (a torn tail)", errstr, n))
        return -1;
    struct segment *s = push_seg(p);
    if (!s)
        return sf_err(-1, errstr, n, "out of memory");
    seg_path(path, sizeof(path), p->dir, end, ".log");
    if (seg_open(s, path, end, 1, 0, errstr, n))
        return -1;
    p->nsegs++;
    s->end = end;
    if (elog_fsync_dir(p->dir))
        return sf_err(-1, errstr, n, "fsync %s: %s", p->dir, strerror(errno));
    log_warn("log %s: new records are numbered from offset %" PRId64 " on: offsets %"
             PRId64 "..%" PRId64 " may have been read by a store and are not used "
             "again", p->dir, end, cut, end - 1);
    return 0;
}

static int open_part(struct elog *l, int i, char *errstr, size_t n)
{
    struct part *p = &l->parts[i];
    int64_t *bases = NULL;
    size_t nb = 0;
    int rc = -1, ro = l->conf.readonly;

    snprintf(p->dir, sizeof(p->dir), "%s/%s-%d", l->dir, SF_TOPIC_DEFAULT, i);
    sf_buf_init(&p->wbuf, BATCH_MAX);
    if (!ro && (rc = sf_mkdirs(p->dir)))
        return sf_err(-1, errstr, n, "cannot create %s: %s", p->dir, strerror(-rc));
    if (elog_list_segments(p->dir, ro, &bases, &nb, errstr, n))
        return -1;
    if (nb == 0 && ro)
        return sf_err(-1, errstr, n, "%s has no segments", p->dir);
    for (size_t k = 0; k < (nb ? nb : 1); k++) {
        char path[sizeof(p->dir) + 40];
        int64_t base = nb ? bases[k] : 0;
        struct segment *s = push_seg(p);
        struct seg_damage dmg;
        if (!s) {
            rc = sf_err(-1, errstr, n, "out of memory");
            goto out;
        }
        seg_path(path, sizeof(path), p->dir, base, ".log");
        if (seg_open(s, path, base, nb == 0, ro, errstr, n))
            goto out;
        p->nsegs++;
        if (seg_load(s, 0, &dmg, errstr, n))
            goto out;
        char gap[sizeof(p->dir) + 40];
        if (k > 0 && s->base > p->segs[k - 1].end) {
            seg_path(gap, sizeof(gap), p->dir, p->segs[k - 1].end, ".gap");
            if (access(gap, F_OK) == 0)
                log_info("log %s: offsets %" PRId64 "..%" PRId64 " were cut (by "
                         "`salesflow log repair` or a torn tail) and are not used "
                         "again", p->dir,
                         p->segs[k - 1].end, s->base - 1);
        }
        if (k > 0 && s->base != p->segs[k - 1].end &&
            !(s->base > p->segs[k - 1].end && access(gap, F_OK) == 0)) {
            rc = sf_err(-1, errstr, n, "%s starts at offset %" PRId64 " but the "
                        "segment before it ends at %" PRId64 "; records are missing",
                        s->path, s->base, p->segs[k - 1].end);
            goto out;
        }
        int last = k + 1 >= nb;
        if (dmg.found && (!dmg.torn || !last)) {
            rc = sf_err(-1, errstr, n, "%s: corrupt batch at byte %" PRIu64
                        " (offset %" PRId64 ") with %" PRId64 " records in valid "
                        "batches after it; the log is damaged. Run `salesflow log "
                        "repair --data DIR` to see what cutting it there loses",
                        s->path, dmg.at, dmg.offset, dmg.lost_records);
            goto out;
        }
        if (dmg.found && !ro) {
            struct stat st;
            fstat(s->fd, &st);
            uint64_t tail = (uint64_t)st.st_size - dmg.at;
            int64_t skip_to = torn_tail_end(s, &dmg, tail);
            log_warn("log %s: cutting a torn tail of %" PRIu64 " bytes at byte %"
                     PRIu64 " (offset %" PRId64 ")", s->path, tail, dmg.at, dmg.offset);
            if (seg_truncate(s, dmg.at, errstr, n))
                goto out;
            if (skip_to > dmg.offset && skip_past_torn_tail(p, i, dmg.offset, skip_to,
                                                            errstr, n))
                goto out;
        }
    }
    if (!ro && nb == 0)
        elog_fsync_dir(p->dir);
    p->end = p->segs[p->nsegs - 1].end;
    rc = 0;
out:
    free(bases);
    return rc;
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

/* call (fdatasync of a segment, fsync of a directory) failed on path with
 * errno e: from now on the log refuses
 * every append, and the process is asked to stop (see the top of this
 * file). The caller cuts and fails what was not synced. */
static void sync_failed(struct elog *l, const char *call, const char *path, int e)
{
    log_error("log %s: %s failed: %s; the page cache is not trusted after a failed "
              "sync: refusing every order from now on and exiting 1 for a restart "
              "that reads the log back from the disk", path, call, strerror(e));
    if (!atomic_exchange(&l->failed, 1))
        kill(getpid(), SIGTERM);
}

/* Seal the active segment and start a new one at the partition's end. */
static int roll(struct elog *l, struct part *p)
{
    char err[512], path[sizeof(p->dir) + 40];
    struct segment *old = &p->segs[p->nsegs - 1];
    if (fdatasync(old->fd)) {
        sync_failed(l, "fdatasync", old->path, errno);
        return BROKER_EIO;
    }
    if (seg_write_index(old, err, sizeof(err))) {
        log_error("log %s: sealing failed: %s", old->path, err);
        return BROKER_EIO;
    }
    int64_t base = old->end;
    struct segment ns;
    seg_path(path, sizeof(path), p->dir, base, ".log");
    if (seg_open(&ns, path, base, 1, 0, err, sizeof(err))) {
        log_error("log: %s", err);
        return err_of(errno);
    }
    /* Without its directory entry on disk, the new segment and every
     * record acknowledged in it could vanish in a crash. */
    if (elog_fsync_dir(p->dir)) {
        sync_failed(l, "fsync", p->dir, errno);
        seg_close(&ns);
        return BROKER_EIO;
    }
    pthread_mutex_lock(&l->mu);
    struct segment *s = push_seg(p);
    if (s) {
        *s = ns;
        p->nsegs++;
    }
    pthread_mutex_unlock(&l->mu);
    if (!s) {
        seg_close(&ns);
        return BROKER_EIO;
    }
    return 0;
}

static int fdatasync_counted(struct elog *l, int fd)
{
    int64_t t0 = sf_mono_us();
    l->fsyncs++;
    int rc = fdatasync(fd);
    metrics_observe(SF_HIST_LOG_FSYNC, sf_mono_us() - t0);
    return rc;
}

/* Run the jobs of the current round not yet taken (smu held). */
static void sync_jobs_run(struct elog *l)
{
    while (l->snext < l->sn) {
        struct sync_job *j = &l->sjob[l->snext++];
        pthread_mutex_unlock(&l->smu);
        j->err = fdatasync_counted(l, j->fd) ? errno : 0;
        pthread_mutex_lock(&l->smu);
        if (++l->sdone_n == l->sn)
            pthread_cond_signal(&l->sdone);
    }
}

static void *syncer_main(void *arg)
{
    struct elog *l = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&l->smu);
    for (;;) {
        while (l->sgen == seen && !l->sstop)
            pthread_cond_wait(&l->sgo, &l->smu);
        if (l->sstop)
            break;
        seen = l->sgen;
        sync_jobs_run(l);
    }
    pthread_mutex_unlock(&l->smu);
    return NULL;
}

/* fdatasync the n files of l->sjob, which bytes were written to: all at
 * once when there are several. (Small groups, as from single-order
 * clients, used to go one file after the other, while libmicrohttpd kept
 * both cores busy and waking the helpers cost as much as it saved; with
 * the HTTP fast path, the parallel syncs answer them 5-8 % faster too.) */
static void sync_jobs(struct elog *l, int n)
{
    if (n == 1 || !l->nsyncers) {
        for (int i = 0; i < n; i++)
            l->sjob[i].err = fdatasync_counted(l, l->sjob[i].fd) ? errno : 0;
        return;
    }
    pthread_mutex_lock(&l->smu);
    l->sn = n;
    l->snext = 0;
    l->sdone_n = 0;
    l->sgen++;
    pthread_cond_broadcast(&l->sgo);
    sync_jobs_run(l);
    while (l->sdone_n < l->sn)
        pthread_cond_wait(&l->sdone, &l->smu);
    pthread_mutex_unlock(&l->smu);
}

static void sync_dirty(struct elog *l)
{
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        /* Interval mode: these records were acknowledged already; what the
         * disk kept of them is for the restart's recovery to find out. */
        if (p->dirty && fdatasync_counted(l, p->segs[p->nsegs - 1].fd))
            sync_failed(l, "fdatasync", p->segs[p->nsegs - 1].path, errno);
        p->dirty = 0;
    }
    l->last_sync_ms = sf_mono_ms();
}

/* After a group: count it in write_fails when a partition's write failed,
 * start the count over when one went through (for /readyz). */
static void count_write_fails(struct elog *l)
{
    int failed = 0, wrote = 0;
    for (int i = 0; i < l->nparts; i++) {
        failed |= l->parts[i].wcount && l->parts[i].werr;
        wrote |= l->parts[i].wcount && !l->parts[i].werr;
    }
    if (failed)
        atomic_fetch_add(&l->write_fails, 1);
    else if (wrote)
        atomic_store(&l->write_fails, 0);
}

static void write_group(struct elog *l, struct pending *g, size_t n)
{
    int64_t now = sf_now_ms(), t0 = sf_mono_us();
    int sync_now = l->conf.fsync == BROKER_FSYNC_ALWAYS, nsync = 0;

    if (atomic_load(&l->failed)) {
        for (size_t i = 0; i < n; i++) {
            g[i].cb(g[i].opaque, BROKER_EIO, g[i].partition, -1);
            free(g[i].free_after);
        }
        return;
    }
    for (int i = 0; i < l->nparts; i++) {
        l->parts[i].wcount = 0;
        l->parts[i].werr = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct part *p = &l->parts[g[i].partition];
        if (p->wcount == 0) {
            p->wbuf.len = 0;
            p->wstart = batch_begin(&p->wbuf);
        }
        if (batch_add(&p->wbuf, g[i].value, g[i].len)) {
            g[i].err = BROKER_ETOOBIG;
            continue;
        }
        g[i].offset = p->end + p->wcount++;
    }
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        if (!p->wcount)
            continue;
        batch_finish(&p->wbuf, p->wstart, p->end, p->wcount, now);
        struct segment *s = &p->segs[p->nsegs - 1];
        if (s->size > 0 && s->size + p->wbuf.len > l->conf.segment_bytes) {
            if ((p->werr = roll(l, p)))
                continue;
            s = &p->segs[p->nsegs - 1];
        }
        int rc = write_all(s->fd, p->wbuf.data, p->wbuf.len, s->size);
        if (rc) {
            log_error("log %s: write of %zu bytes at byte %" PRIu64 " failed: %s",
                      s->path, p->wbuf.len, s->size, strerror(-rc));
            p->werr = err_of(-rc);
        } else if (sync_now) {
            l->sjob[nsync++] = (struct sync_job){.part = i, .fd = s->fd, .path = s->path};
        }
    }
    if (nsync) {
        sync_jobs(l, nsync);
        for (int k = 0; k < nsync; k++) {
            struct sync_job *j = &l->sjob[k];
            if (j->err) {
                sync_failed(l, "fdatasync", j->path, j->err);
                l->parts[j->part].werr = BROKER_EIO;
            }
        }
    }
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        if (!p->wcount)
            continue;
        struct segment *s = &p->segs[p->nsegs - 1];
        if (!p->werr && seg_index_add(s, p->end, s->size))
            p->werr = BROKER_EIO;
        if (p->werr) {
            /* Cut what may have reached the file so it is never served.
             * When even that fails, those bytes may pass their checks at
             * the next start and be kept: the answer must not say "not
             * stored" then. */
            if (ftruncate(s->fd, (off_t)s->size)) {
                log_error("log %s: truncate to %" PRIu64 " failed: %s", s->path,
                          s->size, strerror(errno));
                p->werr = BROKER_EUNSURE;
            }
            continue;
        }
        s->size += p->wbuf.len;
        s->end += p->wcount;
        s->last_time_ms = now;
        p->end += p->wcount;
        p->dirty = !sync_now;
    }
    count_write_fails(l);
    pthread_cond_broadcast(&l->data_ready);
    pthread_mutex_unlock(&l->mu);
    metrics_observe(SF_HIST_LOG_APPEND, sf_mono_us() - t0);

    if (l->conf.fsync == BROKER_FSYNC_INTERVAL &&
        sf_mono_ms() - l->last_sync_ms >= l->conf.fsync_interval_ms)
        sync_dirty(l);
    for (size_t i = 0; i < n; i++) {
        int err = g[i].err ? g[i].err : l->parts[g[i].partition].werr;
        g[i].cb(g[i].opaque, err, g[i].partition, err ? -1 : g[i].offset);
        free(g[i].free_after);
    }
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

static int any_dirty(const struct elog *l)
{
    for (int i = 0; i < l->nparts; i++)
        if (l->parts[i].dirty)
            return 1;
    return 0;
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
        while (l->qlen == 0 && !l->closing) {
            if (l->conf.fsync == BROKER_FSYNC_INTERVAL && any_dirty(l)) {
                int64_t left = l->last_sync_ms + l->conf.fsync_interval_ms - sf_mono_ms();
                if (left <= 0) {
                    pthread_mutex_unlock(&l->mu);
                    sync_dirty(l);
                    pthread_mutex_lock(&l->mu);
                    continue;
                }
                timed_wait(&l->wake_writer, &l->mu, left);
            } else {
                pthread_cond_wait(&l->wake_writer, &l->mu);
            }
        }
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
        int64_t t0 = sf_mono_us();
        if (g)
            write_group(l, g, n);
        metrics_log_busy(sf_mono_us() - t0);
    }
    if (l->conf.fsync != BROKER_FSYNC_NEVER)
        sync_dirty(l);
    free(g);
    return NULL;
}

/* ---- broker_ops: open, produce -------------------------------------- */

static void elog_close(struct broker *b);

/* The log's meta file: made (with the directory) for a new log, else read
 * and held to the --partitions asked for. 0 or an error. */
static int open_meta(struct elog *l, const char *dir, const struct broker_conf *conf,
                     char *errstr, size_t n)
{
    char path[PATH_MAX + 16];
    struct stat st;
    int rc;
    snprintf(path, sizeof(path), "%s/meta", dir);
    if (stat(path, &st) == 0) {
        if ((rc = elog_read_meta(path, &l->nparts, l, errstr, n)))
            return rc;
        if (conf->partitions > 0 && conf->partitions != l->nparts)
            return sf_err(-1, errstr, n, "%s has %d partitions, fixed when it was "
                          "created; --partitions %d cannot change that", dir, l->nparts,
                          conf->partitions);
        return 0;
    }
    if (!conf->create || conf->readonly)
        return sf_err(-1, errstr, n, "no salesflow log at %s (%s missing)", dir, path);
    if ((rc = sf_mkdirs(dir)))
        return sf_err(-1, errstr, n, "cannot create %s: %s", dir, strerror(-rc));
    l->nparts = conf->partitions > 0 ? conf->partitions : ELOG_DEFAULT_PARTITIONS;
    if ((rc = new_log_id(l->id, errstr, n)))
        return rc;
    return write_meta(path, l->nparts, l->id, 0, errstr, n);
}

static int elog_open(struct broker **out, const char *dir,
                     const struct broker_conf *conf, char *errstr, size_t n)
{
    struct elog *l = calloc(1, sizeof(*l));
    char path[PATH_MAX + 16];
    int rc = -1;

    if (!l)
        return sf_err(-1, errstr, n, "out of memory");
    l->base.ops = &elog_broker_ops;
    l->conf = *conf;
    if (!l->conf.segment_bytes)
        l->conf.segment_bytes = ELOG_DEFAULT_SEGMENT;
    if (l->conf.fsync == BROKER_FSYNC_INTERVAL && l->conf.fsync_interval_ms <= 0)
        l->conf.fsync_interval_ms = 1000;
    l->lockfd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->wake_writer, NULL);
    pthread_cond_init(&l->data_ready, NULL);
    pthread_cond_init(&l->idle, NULL);
    pthread_mutex_init(&l->smu, NULL);
    pthread_cond_init(&l->sgo, NULL);
    pthread_cond_init(&l->sdone, NULL);
    sf_buf_init(&l->rbuf, (size_t)BATCH_MAX + ELOG_READ_BUDGET);
    if (strlen(dir) == 0 || strlen(dir) >= sizeof(l->dir) - 64) {
        rc = sf_err(-1, errstr, n, "log directory \"%s\": bad path", dir);
        goto fail;
    }
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    if ((rc = open_meta(l, dir, conf, errstr, n)))
        goto fail;
    if (!conf->readonly) {
        snprintf(path, sizeof(path), "%s/.lock", dir);
        l->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (l->lockfd < 0 || flock(l->lockfd, LOCK_EX | LOCK_NB)) {
            rc = sf_err(-1, errstr, n, "cannot lock %s: %s%s", path, strerror(errno),
                        errno == EWOULDBLOCK ? " (another salesflow uses this log)" : "");
            goto fail;
        }
    }
    snprintf(path, sizeof(path), "%s/meta", dir);
    if (!conf->readonly && !l->id[0] && (rc = add_log_id(l, path, errstr, n)))
        goto fail;
    if ((rc = check_dir(dir, l->nparts, errstr, n)))
        goto fail;
    l->parts = calloc((size_t)l->nparts, sizeof(*l->parts));
    if (!l->parts) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    for (int i = 0; i < l->nparts; i++)
        if ((rc = open_part(l, i, errstr, n)))
            goto fail;
    if (conf->readonly) {
        *out = &l->base;
        return 0;
    }
    l->qmax = conf->queue_max ? conf->queue_max : ELOG_DEFAULT_QUEUE;
    l->q = calloc(l->qmax, sizeof(*l->q));
    if (!l->q) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    if (!(l->sjob = calloc((size_t)l->nparts, sizeof(*l->sjob)))) {
        rc = sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    /* Helpers only help where a group can touch several files. */
    while (l->conf.fsync == BROKER_FSYNC_ALWAYS && l->nsyncers < l->nparts - 1 &&
           l->nsyncers < ELOG_SYNCERS &&
           pthread_create(&l->syncers[l->nsyncers], NULL, syncer_main, l) == 0)
        l->nsyncers++;
    l->last_sync_ms = sf_mono_ms();
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

static int elog_produce_batch(struct broker *b, const struct broker_msg *msgs,
                              size_t n, broker_ack_cb cb)
{
    struct elog *l = (struct elog *)b;
    size_t total = 0;
    if (n == 0)
        return 0;
    if (!l->writer_started)
        return BROKER_ECLOSED;
    if (n > l->qmax)
        return BROKER_ETOOBIG; /* could never fit: retrying would not help */
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].len > ELOG_MAX_MESSAGE)
            return BROKER_ETOOBIG;
        total += msgs[i].len;
    }
    /* One block holds every value of the call; the last entry frees it. All
     * entries land in the same writer group because the writer always takes
     * the whole queue. */
    char *block = malloc(total ? total : 1);
    if (!block)
        return BROKER_EFULL;
    pthread_mutex_lock(&l->mu);
    int rc = l->refusing ? BROKER_ECLOSED : atomic_load(&l->failed) ? BROKER_EIO
             : l->qmax - l->qlen < n ? BROKER_EFULL : 0;
    if (rc == 0) {
        char *at = block;
        for (size_t i = 0; i < n; i++) {
            memcpy(at, msgs[i].value, msgs[i].len);
            struct pending *p = &l->q[(l->qhead + l->qlen) % l->qmax];
            *p = (struct pending){
                .partition = (int)((uint64_t)msgs[i].key % (uint64_t)l->nparts),
                .len = (uint32_t)msgs[i].len, .value = at,
                .free_after = i + 1 == n ? block : NULL, .cb = cb,
                .opaque = msgs[i].opaque};
            at += msgs[i].len;
            l->qlen++;
        }
        pthread_cond_signal(&l->wake_writer);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc)
        free(block);
    return rc;
}

static int elog_produce(struct broker *b, int64_t key, const char *value,
                        size_t len, broker_ack_cb cb, void *opaque)
{
    struct broker_msg m = {.key = key, .value = value, .len = len, .opaque = opaque};
    return elog_produce_batch(b, &m, 1, cb);
}

static int elog_partition_count(struct broker *b)
{
    return ((struct elog *)b)->nparts;
}

/* ---- reading --------------------------------------------------------- */

static int elog_seek(struct broker *b, int partition, int64_t offset)
{
    struct elog *l = (struct elog *)b;
    if (partition < 0 || partition >= l->nparts || offset < 0)
        return -1;
    l->parts[partition].cpos = offset;
    return 0;
}

static int elog_end_offsets(struct broker *b, int64_t *end, int nparts)
{
    struct elog *l = (struct elog *)b;
    if (nparts > l->nparts)
        return -1;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < nparts; i++)
        end[i] = l->parts[i].end;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* Index of the segment holding offset off (caller holds mu), or -1 if the
 * offset was removed by retention. */
static ssize_t seg_for(const struct part *p, int64_t off)
{
    if (!p->nsegs || off < p->segs[0].base)
        return -1;
    size_t lo = 0, hi = p->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->segs[mid].base <= off)
            lo = mid;
        else
            hi = mid;
    }
    return (ssize_t)lo;
}

/* Read the batch at pos of fd into rbuf (which must not move if records
 * already point into it: returns 1 to say "stop this poll" then). */
static int read_batch(struct elog *l, int fd, const char *path, uint64_t pos,
                      uint64_t limit, int have_records, struct batch_info *bi,
                      uint8_t **bp, char *errstr, size_t n)
{
    uint8_t hdr[BATCH_HEADER];
    uint32_t blen;
    int rc = seg_read(fd, hdr, sizeof(hdr), pos);
    blen = le_get32(hdr + 8);
    if (rc == 0 && (blen < BATCH_HEADER || blen > limit - pos))
        rc = -EIO;
    if (rc)
        return sf_err(-1, errstr, n, "reading %s at byte %" PRIu64 ": %s", path,
                      pos, strerror(-rc));
    size_t at = l->rbuf.len;
    if (have_records && at + blen > ELOG_READ_BUDGET)
        return 1;
    if (l->rbuf.cap < at + blen + 1) {
        if (have_records)
            return 1; /* growing would move earlier records */
        /* Room for many batches, not just this one: a buffer the size of
         * the first batch read made every later poll return one batch. */
        size_t cap = at + blen + 1 > ELOG_READ_MIN ? at + blen + 1 : ELOG_READ_MIN;
        char *d = realloc(l->rbuf.data, cap);
        if (!d)
            return sf_err(-1, errstr, n, "out of memory");
        l->rbuf.data = d;
        l->rbuf.cap = cap;
    }
    *bp = (uint8_t *)l->rbuf.data + at;
    /* A read that fails is the disk's error of the moment (the reader
     * tries again); only bytes that were read and do not check out are
     * damage for `log repair`. */
    if ((rc = seg_read(fd, *bp, blen, pos)))
        return sf_err(-1, errstr, n, "%s: reading the batch at byte %" PRIu64 " failed: %s "
                      "(an I/O error, not damage found in the log)", path, pos,
                      strerror(-rc));
    if (batch_check(*bp, blen, bi) != BATCH_OK)
        return sf_err(-1, errstr, n, "%s: unreadable batch at byte %" PRIu64
                      " (checksum mismatch); run `salesflow log repair`", path, pos);
    l->rbuf.len += blen;
    return 0;
}

/* Read-only followers: pick up what the writing process appended since,
 * including segments it rolled to. Returns how many records appeared. */
static int64_t refresh(struct elog *l)
{
    int64_t got = 0;
    char err[256];
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        struct segment *s = &p->segs[p->nsegs - 1];
        got += seg_extend(s);
        char path[sizeof(p->dir) + 40];
        seg_path(path, sizeof(path), p->dir, s->end, ".log");
        struct segment ns, *slot;
        struct seg_damage dmg;
        if (s->size && access(path, R_OK) == 0 &&
            seg_open(&ns, path, s->end, 0, 1, err, sizeof(err)) == 0) {
            if (seg_load(&ns, 1, &dmg, err, sizeof(err)) == 0 && (slot = push_seg(p))) {
                *slot = ns;
                p->nsegs++;
                got += ns.end - ns.base;
            } else {
                seg_close(&ns);
            }
        }
        p->end = p->segs[p->nsegs - 1].end;
    }
    return got;
}

/* Under l->mu: until a partition has a record past its read position, the
 * log closes, or timeout_ms pass. A read-only log (another process
 * appends) looks at the files again every 100 ms. */
static void wait_for_records(struct elog *l, int timeout_ms)
{
    int64_t deadline = sf_mono_ms() + timeout_ms;
    for (;;) {
        int any = 0;
        for (int i = 0; i < l->nparts; i++)
            any |= l->parts[i].cpos < l->parts[i].end;
        if (any || l->closing)
            return;
        int64_t left = deadline - sf_mono_ms();
        if (left <= 0)
            return;
        if (l->conf.readonly) {
            if (refresh(l) == 0)
                timed_wait(&l->data_ready, &l->mu, left < 100 ? left : 100);
            continue;
        }
        timed_wait(&l->data_ready, &l->mu, left);
    }
}

static int elog_poll(struct broker *b, struct broker_record *recs, size_t max,
                     int timeout_ms, char *errstr, size_t n)
{
    struct elog *l = (struct elog *)b;
    int np = l->nparts;
    struct span { int fd; uint64_t pos, end; int64_t seg_end; char *path; } *sp;
    sp = calloc((size_t)np, sizeof(*sp));
    if (!sp)
        return sf_err(-1, errstr, n, "out of memory");

    pthread_mutex_lock(&l->mu);
    wait_for_records(l, timeout_ms);
    int rc = 0;
    for (int i = 0; i < np && rc == 0; i++) {
        struct part *p = &l->parts[i];
        if (p->cpos >= p->end)
            continue;
        ssize_t k = seg_for(p, p->cpos);
        if (k < 0) {
            log_warn("log partition %d: offset %" PRId64 " was removed by retention;"
                     " continuing at %" PRId64, i, p->cpos, p->segs[0].base);
            p->cpos = p->segs[0].base;
            k = 0;
        }
        if (p->cpos >= p->segs[k].end && (size_t)k + 1 < p->nsegs) {
            /* In a hole log repair left: the next records come after it. */
            log_info("log partition %d: offsets %" PRId64 "..%" PRId64 " were cut "
                     "by log repair or a torn-tail cut; continuing at %" PRId64, i, p->segs[k].end,
                     p->segs[k + 1].base - 1, p->segs[k + 1].base);
            p->cpos = p->segs[++k].base;
        }
        struct segment *s = &p->segs[k];
        if (p->cpos >= s->end) {    /* past an empty active segment */
            continue;
        }
        sp[i].fd = s->fd;
        sp[i].end = s->size;
        sp[i].seg_end = s->end;
        sp[i].path = s->path;
        rc = seg_find(s, p->cpos, &sp[i].pos, errstr, n);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc) {
        free(sp);
        return -1;
    }

    size_t got = 0;
    l->rbuf.len = 0;
    for (int k = 0; k < np && got < max; k++) {
        int i = (l->rr + k) % np;
        struct part *p = &l->parts[i];
        while (sp[i].path && sp[i].pos < sp[i].end && got < max) {
            struct batch_info bi;
            uint8_t *bp = NULL;
            rc = read_batch(l, sp[i].fd, sp[i].path, sp[i].pos, sp[i].end, got > 0,
                            &bi, &bp, errstr, n);
            if (rc < 0) {
                free(sp);
                return -1;
            }
            if (rc > 0)
                goto done;
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
            sp[i].pos += bi.len;
        }
    }
done:
    l->rr = (l->rr + 1) % np;
    free(sp);
    return (int)got;
}

/* Read the whole batch at pos into *buf (grown as needed). */
static int load_batch(int fd, uint64_t pos, uint64_t limit, uint8_t **buf,
                      size_t *cap, struct batch_info *bi)
{
    uint8_t hdr[BATCH_HEADER];
    uint32_t blen;
    if (seg_read(fd, hdr, sizeof(hdr), pos))
        return -1;
    blen = le_get32(hdr + 8);
    if (blen < BATCH_HEADER || blen > limit - pos)
        return -1;
    if (*cap < blen) {
        uint8_t *d = realloc(*buf, blen);
        if (!d)
            return -1;
        *buf = d;
        *cap = blen;
    }
    if (seg_read(fd, *buf, blen, pos) || batch_check(*buf, blen, bi) != BATCH_OK)
        return -1;
    return 0;
}

static int elog_scan(struct broker *b, int64_t since_ms,
                     int (*fn)(void *, const struct broker_record *), void *opaque,
                     char *errstr, size_t n)
{
    struct elog *l = (struct elog *)b;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int i = 0; i < l->nparts && rc == 0; i++) {
        struct part *p = &l->parts[i];
        for (size_t k = 0; rc == 0; k++) {
            pthread_mutex_lock(&l->mu);
            if (k >= p->nsegs) {
                pthread_mutex_unlock(&l->mu);
                break;
            }
            struct segment *s = &p->segs[k];
            int fd = s->fd, skip = s->last_time_ms < since_ms;
            uint64_t size = s->size;
            char path[sizeof(s->path)];
            memcpy(path, s->path, sizeof(path));
            pthread_mutex_unlock(&l->mu);
            for (uint64_t pos = 0; !skip && pos < size && rc == 0;) {
                struct batch_info bi;
                if (load_batch(fd, pos, size, &buf, &cap, &bi)) {
                    rc = sf_err(-1, errstr, n, "%s: unreadable batch at byte %" PRIu64
                                "; run `salesflow log repair`", path, pos);
                    break;
                }
                size_t rpos = 0;
                const uint8_t *rec;
                uint32_t rlen;
                int64_t off = bi.base_offset;
                while (bi.time_ms >= since_ms && rc == 0 &&
                       batch_next(buf, &bi, &rpos, &rec, &rlen) == 1) {
                    struct broker_record r = {.partition = i, .offset = off++,
                                              .timestamp_ms = bi.time_ms,
                                              .value = (const char *)rec, .len = rlen};
                    rc = fn(opaque, &r);
                }
                pos += bi.len;
            }
        }
    }
    free(buf);
    return rc;
}

/* ---- retention, flush, close ----------------------------------------- */

static void elog_retain(struct broker *b, const int64_t *committed, int nparts)
{
    struct elog *l = (struct elog *)b;
    if ((!l->conf.retention_ms && !l->conf.retention_bytes) || !l->writer_started)
        return;
    int64_t now = sf_now_ms();
    for (int i = 0; i < l->nparts && i < nparts; i++) {
        struct part *p = &l->parts[i];
        for (;;) {
            pthread_mutex_lock(&l->mu);
            uint64_t total = 0;
            for (size_t k = 0; k < p->nsegs; k++)
                total += p->segs[k].size;
            struct segment *s = &p->segs[0];
            int old = l->conf.retention_ms && s->last_time_ms &&
                      s->last_time_ms < now - l->conf.retention_ms;
            int big = l->conf.retention_bytes && total > l->conf.retention_bytes;
            /* Never the active segment; never data the processor still needs. */
            if (p->nsegs < 2 || !(old || big) || committed[i] < s->end) {
                pthread_mutex_unlock(&l->mu);
                break;
            }
            struct segment gone = *s;
            memmove(&p->segs[0], &p->segs[1], (p->nsegs - 1) * sizeof(*s));
            p->nsegs--;
            pthread_mutex_unlock(&l->mu);
            log_info("log %s: removed by retention (%s; offsets %" PRId64 "..%" PRId64
                     ", %" PRIu64 " bytes)", gone.path, old ? "age" : "size",
                     gone.base, gone.end - 1, gone.size);
            seg_close(&gone);
            seg_unlink(gone.path);
        }
    }
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
    char err[512];
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->refusing = 1;
    l->closing = 1;
    pthread_cond_broadcast(&l->wake_writer);
    pthread_cond_broadcast(&l->data_ready);
    pthread_mutex_unlock(&l->mu);
    if (l->writer_started) {
        pthread_join(l->writer, NULL);
        /* A clean close stamps the active segments' indexes, so the next
         * start need not scan them. */
        for (int i = 0; i < l->nparts; i++) {
            struct part *p = &l->parts[i];
            if (p->nsegs && seg_write_index(&p->segs[p->nsegs - 1], err, sizeof(err)))
                log_warn("log: %s", err);
        }
    }
    pthread_mutex_lock(&l->smu);
    l->sstop = 1;
    pthread_cond_broadcast(&l->sgo);
    pthread_mutex_unlock(&l->smu);
    for (int i = 0; i < l->nsyncers; i++)
        pthread_join(l->syncers[i], NULL);
    free(l->sjob);
    for (int i = 0; l->parts && i < l->nparts; i++) {
        for (size_t k = 0; k < l->parts[i].nsegs; k++)
            seg_close(&l->parts[i].segs[k]);
        free(l->parts[i].segs);
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
    pthread_mutex_destroy(&l->smu);
    pthread_cond_destroy(&l->sgo);
    pthread_cond_destroy(&l->sdone);
    free(l);
}

/* ---- inspection and repair ------------------------------------------- */

int elog_describe(struct broker *b, struct elog_part_info **out, int *nparts,
                  char *errstr, size_t n)
{
    if (b->ops != &elog_broker_ops)
        return sf_err(-1, errstr, n, "not an embedded log");
    struct elog *l = (struct elog *)b;
    struct elog_part_info *pi = calloc((size_t)l->nparts, sizeof(*pi));
    if (!pi)
        return sf_err(-1, errstr, n, "out of memory");
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->nparts; i++) {
        struct part *p = &l->parts[i];
        pi[i].segs = calloc(p->nsegs, sizeof(*pi[i].segs));
        if (!pi[i].segs)
            continue;
        pi[i].nsegs = p->nsegs;
        pi[i].start = p->segs[0].base;
        pi[i].end = p->end;
        for (size_t k = 0; k < p->nsegs; k++) {
            pi[i].records += p->segs[k].end - p->segs[k].base;
            struct elog_seg_info *si = &pi[i].segs[k];
            snprintf(si->path, sizeof(si->path), "%s", p->segs[k].path);
            si->base = p->segs[k].base;
            si->end = p->segs[k].end;
            si->bytes = p->segs[k].size;
            si->last_time_ms = p->segs[k].last_time_ms;
            pi[i].bytes += si->bytes;
        }
    }
    pthread_mutex_unlock(&l->mu);
    *out = pi;
    *nparts = l->nparts;
    return 0;
}

int elog_failed(struct broker *b)
{
    return b && b->ops == &elog_broker_ops && atomic_load(&((struct elog *)b)->failed);
}

uint64_t elog_fsync_count(struct broker *b)
{
    return b->ops == &elog_broker_ops ? ((struct elog *)b)->fsyncs : 0;
}

void elog_free_info(struct elog_part_info *parts, int nparts)
{
    for (int i = 0; parts && i < nparts; i++)
        free(parts[i].segs);
    free(parts);
}

int elog_dir_position_key(const char *dir, char *out, size_t out_size, char *errstr,
                          size_t n)
{
    char path[PATH_MAX];
    int nparts;
    struct elog *l = calloc(1, sizeof(*l));
    if (!l)
        return sf_err(-1, errstr, n, "out of memory");
    snprintf(path, sizeof(path), "%s/meta", dir);
    int rc = elog_read_meta(path, &nparts, l, errstr, n);
    if (rc == 0) {
        int len = l->id[0] ? snprintf(out, out_size, "%s@%s", SF_TOPIC_DEFAULT, l->id)
                           : snprintf(out, out_size, "%s", SF_TOPIC_DEFAULT);
        if (len < 0 || (size_t)len >= out_size)
            rc = sf_err(-1, errstr, n, "the position key of %s is too long", dir);
    }
    free(l);
    return rc;
}

static const char *elog_identity(struct broker *b, int *legacy)
{
    struct elog *l = (struct elog *)b;
    *legacy = l->legacy || !l->id[0];
    return l->id[0] ? l->id : NULL;
}

/* For /readyz: 2 (writes failing) after ELOG_UNREADY_FAILS groups in a row
 * failed to be written, or once an fdatasync failed (everything is refused
 * until the restart); 0 otherwise. */
#define ELOG_UNREADY_FAILS 3

static int elog_unavailable(struct broker *b)
{
    struct elog *l = (struct elog *)b;
    return atomic_load(&l->failed) || atomic_load(&l->write_fails) >= ELOG_UNREADY_FAILS
               ? 2 : 0;
}

const struct broker_ops elog_broker_ops = {
    .identity = elog_identity,
    .scheme = "file",
    .open = elog_open,
    .produce = elog_produce,
    .produce_batch = elog_produce_batch,
    .partition_count = elog_partition_count,
    .seek = elog_seek,
    .end_offsets = elog_end_offsets,
    .poll = elog_poll,
    .scan = elog_scan,
    .retain = elog_retain,
    .flush = elog_flush,
    .close = elog_close,
    .unavailable = elog_unavailable,
};

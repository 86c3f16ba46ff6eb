/*
 * elog_repair — `salesflow log repair`: find the first damaged batch of each
 * partition of an embedded log that is not open, and with apply cut the
 * partition there (truncate that segment, remove the later ones).
 *
 * A cut must never hand out an offset twice: a store may have processed
 * records up to the old end, so when that lies past the cut (as the batches
 * after the damage, the cut segments, the damaged batch's own header or the
 * store's recorded positions tell) an empty segment starts at the old end
 * and <cut>.gap marks the hole, which elog.c accepts at open and readers
 * step over. The log's own open uses the same .gap for a torn tail.
 */
#include "broker/elog.h"
#include "broker/elog_int.h"
#include "broker/batch.h"
#include "broker/le.h"
#include "broker/segment.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* The end the damaged batch at dmg->at claimed, if its header still reads
 * as one that starts where the damage is (only its records are bad), else
 * 0: log repair numbers new records after it. */
int64_t elog_damaged_batch_end(const struct segment *s, const struct seg_damage *dmg)
{
    uint8_t hdr[BATCH_HEADER];
    if (seg_read(s->fd, hdr, sizeof(hdr), dmg->at) || memcmp(hdr, BATCH_MAGIC, 4))
        return 0;
    uint32_t blen = le_get32(hdr + 8), count = le_get32(hdr + 24);
    int64_t base = (int64_t)le_get64(hdr + 16);
    if (base != dmg->offset || count == 0 || blen > BATCH_MAX ||
        (uint64_t)count * 4 + BATCH_HEADER > blen)
        return 0;
    return base + (int64_t)count;
}

/* After cutting partition directory pdir at offset cut: if records were
 * numbered up to old_end > cut, start an empty segment at old_end and mark
 * the hole with cut.gap, so that no offset a store may have passed is
 * handed out again. */
int elog_write_gap_file(const char *pdir, int part, int64_t cut, int64_t old_end,
                          const char *by, char *errstr, size_t n)
{
    char path[PATH_MAX + 80], ts[32];
    seg_path(path, sizeof(path), pdir, cut, ".gap");
    int gfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = gfd < 0 ? NULL : fdopen(gfd, "w");
    if (!f) {
        int e = errno;
        if (gfd >= 0)
            close(gfd);
        return sf_err(-1, errstr, n, "cannot create %s: %s", path, strerror(e));
    }
    fprintf(f, "offsets %" PRId64 "..%" PRId64 " of partition %d were cut by "
            "salesflow %s at %s; they are never used again\n", cut,
            old_end - 1, part, by, sf_format_time(sf_now_ms(), ts));
    if (fflush(f) || fsync(fileno(f))) {
        fclose(f);
        return sf_err(-1, errstr, n, "cannot write %s: %s", path, strerror(errno));
    }
    fclose(f);
    return 0;
}

static int leave_gap(const char *pdir, int part, int64_t cut, int64_t old_end,
                     FILE *out, char *errstr, size_t n)
{
    char path[PATH_MAX + 80];
    struct segment s;
    if (elog_write_gap_file(pdir, part, cut, old_end, "log repair", errstr, n))
        return -1;
    seg_path(path, sizeof(path), pdir, old_end, ".log");
    if (seg_open(&s, path, old_end, 1, 0, errstr, n))
        return -1;
    seg_close(&s);
    if (elog_fsync_dir(pdir))
        return sf_err(-1, errstr, n, "fsync %s: %s", pdir, strerror(errno));
    fprintf(out, "partition %d: new records are numbered from offset %" PRId64
            " on: offsets %" PRId64 "..%" PRId64 " may have been processed by a "
            "store and are not used again\n", part, old_end, cut, old_end - 1);
    return 0;
}

/* Check (and with apply, cut) partition i of the log in dir, whose
 * records were numbered up to old_end at most (what a store passed).
 * Returns 1 when it was damaged, 0 when not, -1 with errstr. */
static int repair_part(const char *dir, int i, int apply, int64_t old_end, FILE *out,
                       char *errstr, size_t n)
{
    char path[PATH_MAX + 16];
    char pdir[PATH_MAX + 32];
    int64_t *bases = NULL;
    size_t nb = 0;
    snprintf(pdir, sizeof(pdir), "%s/%s-%d", dir, SF_TOPIC_DEFAULT, i);
    if (elog_list_segments(pdir, 1, &bases, &nb, errstr, n))
        return -1;
    int64_t expect = nb ? bases[0] : 0, lost = 0;
    int at_least = 0;   /* the damaged batch's count is unknown */
    int cut = -1;
    struct seg_damage dmg = {0};
    for (size_t k = 0; k < nb; k++) {
        struct segment s;
        seg_path(path, sizeof(path), pdir, bases[k], ".log");
        if (seg_open(&s, path, bases[k], 0, !apply, errstr, n)) {
            free(bases);
            return -1;
        }
        if (cut >= 0) {
            struct seg_damage d2;
            seg_load(&s, 1, &d2, errstr, n);
            lost += s.end - s.base;
            old_end = max64(old_end, max64(s.end, d2.max_end));
            seg_close(&s);
            if (apply) {
                seg_unlink(path);
                fprintf(out, "removed %s\n", path);
            }
            continue;
        }
        if (seg_load(&s, 1, &dmg, errstr, n)) {
            seg_close(&s);
            free(bases);
            return -1;
        }
        /* A segment the one before it does not lead to, and no hole a
         * previous repair left (cut.gap) explains it. */
        char gap[PATH_MAX + 80];
        seg_path(gap, sizeof(gap), pdir, expect, ".gap");
        int joined = 1;
        if (s.base != expect && !(s.base > expect && k > 0 && access(gap, F_OK) == 0)) {
            joined = 0;
            dmg.found = 1;
            dmg.at = 0;
            dmg.offset = expect;
            old_end = max64(old_end, s.base);
        }
        expect = s.end;
        if (dmg.found) {
            /* The damaged batch's own records are lost too, when its
             * header still says how many (else "at least"); even a torn
             * one's offsets are not used again, as at open. */
            int64_t claimed = joined ? elog_damaged_batch_end(&s, &dmg) : 0;
            cut = (int)k;
            lost += dmg.lost_records;
            if (!joined)            /* all of it goes: cut at byte 0 */
                lost += s.end - s.base;
            else if (claimed > dmg.offset)
                lost += claimed - dmg.offset;
            else
                at_least = 1;
            old_end = max64(old_end, max64(dmg.max_end, claimed));
            fprintf(out, "%s: %s at byte %" PRIu64 " (offset %" PRId64 ")\n",
                    path, dmg.torn ? "torn tail" : "corrupt batch", dmg.at,
                    dmg.offset);
            if (apply) {
                if (seg_truncate(&s, dmg.at, errstr, n)) {
                    seg_close(&s);
                    free(bases);
                    return -1;
                }
                char ip[PATH_MAX + 80];
                seg_path(ip, sizeof(ip), pdir, bases[k], ".index");
                unlink(ip);
                fprintf(out, "truncated %s to %" PRIu64 " bytes\n", path, dmg.at);
            }
        }
        seg_close(&s);
    }
    free(bases);
    if (cut < 0)
        return 0;
    fprintf(out, "partition %d: %s %s%" PRId64 " records from offset %" PRId64
            " on (counted from the batch headers that still check out)\n", i,
            apply ? "lost" : "cutting there loses", at_least ? "at least " : "",
            lost, dmg.offset);
    if (old_end > dmg.offset && !apply)
        fprintf(out, "partition %d: records were numbered up to offset %" PRId64
                "; new records will be numbered from there\n", i, old_end);
    if (old_end > dmg.offset && apply &&
        leave_gap(pdir, i, dmg.offset, old_end, out, errstr, n))
        return -1;
    return 1;
}

int elog_repair(const char *dir, int apply, const int64_t *passed, int npassed,
                FILE *out, char *errstr, size_t n)
{
    char path[PATH_MAX + 16];
    int nparts, damaged = 0, lockfd = -1, rc = -1;
    snprintf(path, sizeof(path), "%s/meta", dir);
    if (elog_read_meta(path, &nparts, NULL, errstr, n))
        return -1;
    snprintf(path, sizeof(path), "%s/.lock", dir);
    lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        sf_err(-1, errstr, n, "cannot lock %s: %s (stop the salesflow that uses "
               "this log first)", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < nparts; i++) {
        int r = repair_part(dir, i, apply, i < npassed && passed ? passed[i] : 0, out,
                            errstr, n);
        if (r < 0)
            goto out;
        damaged += r;
    }
    if (!damaged)
        fprintf(out, "no damage found in %s\n", dir);
    else if (!apply)
        fprintf(out, "run again with --yes to cut the log there\n");
    rc = damaged;
out:
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}


/*
 * elog_int — what elog.c (the embedded log) and elog_repair.c (`salesflow
 * log repair`) share; not for other modules, which use elog.h and broker.h.
 */
#ifndef SF_ELOG_INT_H
#define SF_ELOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/segment.h"

struct elog;

/* Read the log's meta file at path: the partition count into *nparts and,
 * when l is not NULL, its identity. 0, or -1 with errstr. */
int elog_read_meta(const char *path, int *nparts, struct elog *l, char *errstr,
                   size_t errstr_size);

/* fsync() a directory (after creating, renaming or removing in it): 0 or -1
 * with errno. */
int elog_fsync_dir(const char *dir);

/* Base offsets of the segments in a partition directory, sorted; *bases is
 * malloc()ed. Removes leftover temporary index files unless readonly; any
 * other file is an error. 0, or -1 with errstr. */
int elog_list_segments(const char *dir, int readonly, int64_t **bases, size_t *nb,
                       char *errstr, size_t errstr_size);

/* The end the damaged batch at dmg->at claimed, if its header still reads
 * as one that starts where the damage is (only its records are bad), else
 * 0. */
int64_t elog_damaged_batch_end(const struct segment *s, const struct seg_damage *dmg);

/* Write pdir/<cut>.gap: offsets cut..old_end-1 of partition part were cut
 * (by names who: log repair, or recovery at open) and are never used
 * again. fsync()ed. 0, or -1 with errstr. */
int elog_write_gap_file(const char *pdir, int part, int64_t cut, int64_t old_end,
                        const char *by, char *errstr, size_t errstr_size);

#endif

/*
 * segment — one file of a partition of the embedded log, plus its sparse
 * offset index.
 *
 *   Order-P/<base offset, 20 digits>.log     record batches (batch.h)
 *   Order-P/<base offset, 20 digits>.index   sparse index (below)
 *
 * The in-memory index has an entry for the first batch and then one every
 * SEG_INDEX_INTERVAL bytes; a lookup finds the entry at or before an offset
 * and walks batch headers forward from there.
 *
 * The .index file (format 1, little-endian) is written when a segment is
 * sealed (rolled) and when the log is closed cleanly:
 *
 *   0  4 magic "SFLI"      4  4 version (1)
 *   8  8 base offset      16  8 end offset (next after the last record)
 *  24  8 covered bytes    32  8 last append time, ms
 *  40  4 entry count      44  4 crc32c of bytes [0, 44) and the entries
 *  48    entries: count × (8 offset, 8 file position)
 *
 * An index whose covered bytes differ from the .log's size, or whose CRC
 * fails, is stale: the segment is scanned and the index rebuilt.
 */
#ifndef SF_SEGMENT_H
#define SF_SEGMENT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_INDEX_INTERVAL 4096
#define SEG_NAME_DIGITS 20

struct seg_idx {
    int64_t offset;
    uint64_t pos;
};

struct segment {
    int fd;
    char path[PATH_MAX + 64];   /* the .log file */
    int64_t base;               /* first offset */
    int64_t end;                /* next offset after the last complete batch */
    uint64_t size;              /* bytes of complete batches */
    int64_t last_time_ms;       /* append time of the last batch (0: empty) */
    struct seg_idx *idx;
    size_t nidx, cap;
    uint64_t last_idx_pos;
};

/* What a scan found wrong, for recovery and `log repair`. */
struct seg_damage {
    int found;
    int torn;                   /* incomplete last batch (a crash), not damage */
    uint64_t at;                /* byte position of the first bad batch */
    int64_t offset;             /* the offset it would have started at */
    int64_t lost_records;       /* records in valid-looking batches after it */
    int64_t max_end;            /* highest base_offset + count of those
                                 * batches (0: none), for log repair */
};

/* Open (or create, if create) the segment file at path with base offset
 * base. Does not read it; call seg_load. Returns 0 or -1 with errstr. */
int seg_open(struct segment *s, const char *path, int64_t base, int create,
             int readonly, char *errstr, size_t errstr_size);
void seg_close(struct segment *s);

/* Load the segment's index file if it is fresh; otherwise (or if
 * verify_all) scan the batches, from the last trusted index entry when one
 * exists. Damage found is described in *dmg (not cut). Returns 0 or -1. */
int seg_load(struct segment *s, int verify_all, struct seg_damage *dmg,
             char *errstr, size_t errstr_size);

/* Pick up complete batches appended to the file by another process since
 * the last load (read-only followers). Returns the number of new records. */
int64_t seg_extend(struct segment *s);

/* Cut the file back to byte `at` (dropping index entries past it) and
 * fdatasync. Returns 0 or -1 with errstr. */
int seg_truncate(struct segment *s, uint64_t at, char *errstr, size_t errstr_size);

/* Note a batch just appended at pos (caller updates size/end). */
int seg_index_add(struct segment *s, int64_t offset, uint64_t pos);

/* File position of the batch holding `offset` (base <= offset < end), found
 * through the sparse index and batch headers. Returns 0 or -1 with errstr. */
int seg_find(const struct segment *s, int64_t offset, uint64_t *pos,
             char *errstr, size_t errstr_size);

/* Write the .index file (and fsync it). Returns 0 or -1 with errstr. */
int seg_write_index(const struct segment *s, char *errstr, size_t errstr_size);

/* Remove the segment's files (it must be closed first). */
void seg_unlink(const char *log_path);

/* "DIR/00000000000000000042.log" for base 42 into out. */
void seg_path(char *out, size_t n, const char *dir, int64_t base, const char *ext);

/* pread exactly len bytes; 0 or -errno (-EIO on a short file). */
int seg_read(int fd, void *buf, size_t len, uint64_t at);

#endif

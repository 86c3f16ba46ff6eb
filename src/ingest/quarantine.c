/*
 * quarantine — append-only JSON Lines file with rotation, plus a ring of
 * the newest lines in memory.
 *
 * Each line: {"time":"…","endpoint":"/v1/orders","index":3,
 *             "detail":[…],"raw":"…","raw_truncated":false}
 * "raw" is the row's text; bytes that are not valid UTF-8 become U+FFFD so
 * that the line stays JSON ("raw_lossy":true says so).
 */
#include "ingest/quarantine.h"
#include "core/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_READ (4u << 20)    /* bytes read back at open */

struct quarantine {
    pthread_mutex_t mu;
    int fd;
    uint64_t size, max_bytes;
    char path[PATH_MAX], old_path[PATH_MAX];
    char *ring[QUARANTINE_RECENT];  /* newest at (head - 1) */
    size_t head, count;
};

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int json_str_lossy(struct sf_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int lossy = 0, rc = sf_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n && !rc) {
        size_t run = i;
        /* Copy runs of plain printable ASCII in one go. */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
               p[run] != '\\')
            run++;
        if (run > i) {
            rc = sf_buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = {'\\', (char)p[i]};
            rc = sf_buf_append(b, esc, 2);
            i++;
        } else if (p[i] < 0x20) {
            rc = sf_buf_printf(b, "\\u%04x", p[i]);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                rc = sf_buf_append(b, p + i, len);
                i += len;
            } else {
                rc = sf_buf_append(b, "\\ufffd", 6);
                lossy = 1;
                i++;
            }
        }
    }
    if (rc || sf_buf_append(b, "\"", 1))
        return -1;
    return lossy;
}

static void ring_push(struct quarantine *q, char *line)
{
    free(q->ring[q->head]);
    q->ring[q->head] = line;
    q->head = (q->head + 1) % QUARANTINE_RECENT;
    if (q->count < QUARANTINE_RECENT)
        q->count++;
}

/* Put the last lines of path (at most TAIL_READ bytes) into the ring. */
static void load_tail(struct quarantine *q, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) || st.st_size <= 0) {
        close(fd);
        return;
    }
    size_t len = (size_t)st.st_size > TAIL_READ ? TAIL_READ : (size_t)st.st_size;
    char *buf = malloc(len + 1);
    ssize_t got = buf ? pread(fd, buf, len, (off_t)((size_t)st.st_size - len)) : -1;
    close(fd);
    if (got <= 0) {
        free(buf);
        return;
    }
    buf[got] = '\0';
    char *p = buf;
    if ((size_t)st.st_size > len) { /* skip the partial first line */
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : buf + got;
    }
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break; /* a torn last line from a crash: not listed */
        *nl = '\0';
        if (*p == '{') {
            char *line = strdup(p);
            if (line)
                ring_push(q, line);
        }
        p = nl + 1;
    }
    free(buf);
}

struct quarantine *quarantine_open(const char *dir, uint64_t max_bytes,
                                   char *errstr, size_t errstr_size)
{
    struct quarantine *q = calloc(1, sizeof(*q));
    struct stat st;
    int rc;
    if (!q) {
        sf_err(-1, errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    q->fd = -1;
    q->max_bytes = max_bytes ? max_bytes : (64u << 20);
    if ((rc = sf_mkdirs(dir))) {
        sf_err(-1, errstr, errstr_size, "cannot create %s: %s", dir, strerror(-rc));
        goto fail;
    }
    snprintf(q->path, sizeof(q->path), "%s/quarantine.jsonl", dir);
    snprintf(q->old_path, sizeof(q->old_path), "%s/quarantine.1.jsonl", dir);
    load_tail(q, q->old_path);
    load_tail(q, q->path);
    q->fd = open(q->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (q->fd < 0 || fstat(q->fd, &st)) {
        sf_err(-1, errstr, errstr_size, "cannot open %s: %s", q->path, strerror(errno));
        goto fail;
    }
    q->size = (uint64_t)st.st_size;
    return q;
fail:
    quarantine_close(q);
    return NULL;
}

void quarantine_close(struct quarantine *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    for (size_t i = 0; i < QUARANTINE_RECENT; i++)
        free(q->ring[i]);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Rename the full file away and start a new one (caller holds mu). */
static int rotate(struct quarantine *q, char *errstr, size_t n)
{
    if (rename(q->path, q->old_path))
        return sf_err(-1, errstr, n, "cannot rotate %s: %s", q->path, strerror(errno));
    close(q->fd);
    q->fd = open(q->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (q->fd < 0)
        return sf_err(-1, errstr, n, "cannot open %s: %s", q->path, strerror(errno));
    q->size = 0;
    return 0;
}

int quarantine_add(struct quarantine *q, const char *endpoint,
                   const struct quarantine_row *rows, size_t n, int64_t now_ms,
                   char *errstr, size_t errstr_size)
{
    struct sf_buf all;
    char ts[32];
    int rc = 0;
    size_t *ends = calloc(n ? n : 1, sizeof(*ends));
    if (!ends)
        return sf_err(-1, errstr, errstr_size, "out of memory");
    sf_buf_init(&all, (size_t)1 << 31);
    sf_format_time(now_ms, ts);
    for (size_t i = 0; i < n; i++) {
        size_t raw_len = rows[i].raw_len;
        int cut = raw_len > QUARANTINE_RAW_MAX;
        if (cut)
            raw_len = QUARANTINE_RAW_MAX;
        sf_buf_printf(&all, "{\"time\":\"%s\",\"endpoint\":", ts);
        sf_buf_json_str(&all, endpoint);
        sf_buf_printf(&all, ",\"index\":%ld,\"detail\":", rows[i].index);
        sf_buf_append(&all, rows[i].detail, rows[i].detail_len);
        sf_buf_append(&all, ",\"raw\":", 7);
        int lossy = json_str_lossy(&all, rows[i].raw ? rows[i].raw : "", raw_len);
        sf_buf_printf(&all, ",\"raw_truncated\":%s,\"raw_lossy\":%s}\n",
                      cut ? "true" : "false", lossy == 1 ? "true" : "false");
        ends[i] = all.len;
    }
    pthread_mutex_lock(&q->mu);
    if (q->size && q->size + all.len > q->max_bytes &&
        rotate(q, errstr, errstr_size))
        rc = -1;
    if (rc == 0 && q->fd >= 0) {
        if (write_all(q->fd, all.data, all.len) || fdatasync(q->fd))
            rc = sf_err(-1, errstr, errstr_size, "writing %s: %s", q->path,
                        strerror(errno));
        else {
            q->size += all.len;
            sf_stats_add(&sf_stats.ingest_quarantined, n);
        }
    }
    for (size_t i = 0, start = 0; i < n; start = ends[i], i++) {
        char *line = strndup(all.data + start, ends[i] - start - 1);
        if (line)
            ring_push(q, line);
    }
    pthread_mutex_unlock(&q->mu);
    sf_buf_free(&all);
    free(ends);
    return rc;
}

int quarantine_list(struct quarantine *q, size_t limit, struct sf_buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    size_t k = limit < q->count ? limit : q->count;
    rc |= sf_buf_printf(out, "{\"count\":%zu,\"items\":[", k);
    for (size_t i = 0; i < k; i++) {
        size_t at = (q->head + QUARANTINE_RECENT - 1 - i) % QUARANTINE_RECENT;
        if (i)
            rc |= sf_buf_append(out, ",", 1);
        rc |= sf_buf_append(out, q->ring[at], strlen(q->ring[at]));
    }
    rc |= sf_buf_append(out, "]}", 2);
    pthread_mutex_unlock(&q->mu);
    return rc ? -1 : 0;
}

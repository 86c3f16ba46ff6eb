/*
 * quarantine — append-only JSON Lines file with rotation, plus a ring of
 * the newest lines in memory.
 *
 * Each line: {"time":"…","endpoint":"/v1/orders","index":3,
 *             "detail":[…],"raw":"…","raw_length":70000,
 *             "raw_truncated":true,"raw_lossy":false}
 * "raw" is the start of the row's text: as much of it as fits in
 * QUARANTINE_RAW_MAX bytes once escaped for JSON, cut between characters.
 * "raw_length" is the row's full length in bytes and "raw_truncated" says
 * that raw is only its start. Bytes that are not valid UTF-8 become U+FFFD
 * so that the line stays JSON ("raw_lossy":true says so). A detail longer
 * than QUARANTINE_DETAIL_MAX keeps its first entries that fit and the line
 * gets "detail_truncated":true.
 *
 * Bounds. A line is at most QUARANTINE_LINE_MAX bytes, so escaping (a 0x01
 * byte is six: \u0001) cannot multiply what a client sends. The file is
 * rotated before a line would take it past max_bytes; a line that would
 * not fit even in an empty file (max_bytes below QUARANTINE_LINE_MAX) is
 * shortened — raw first, then detail — and if even its fixed fields do not
 * fit, it is listed in memory only (logged once). A request's lines are
 * encoded one at a time and written in pieces of at most WRITE_CHUNK, with
 * one fdatasync at the end (and one before each rotation), so no buffer
 * holds a whole request's lines. The ring keeps the newest QUARANTINE_RECENT
 * lines and at most QUARANTINE_MEM_MAX bytes of them; each carries a
 * sequence number, the cursor of GET /v1/quarantine's pages.
 *
 * Older files (raw kept up to 64 KiB, no raw_length) are read as they are;
 * their lines longer than QUARANTINE_LINE_MAX are shortened in memory the
 * same way when read back at open.
 */
#include "ingest/quarantine.h"
#include "core/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_READ (4u << 20)        /* bytes read back at open */
#define WRITE_CHUNK (256u << 10)    /* bytes of lines buffered before a write() */
#define ENDPOINT_MAX 256            /* bytes of the escaped endpoint kept */

struct entry {
    char *line;                     /* without its newline */
    size_t len;
    uint64_t seq;                   /* 1, 2, … in the order they were added */
};

struct quarantine {
    pthread_mutex_t mu;
    int fd;
    uint64_t size, max_bytes, seq;
    char path[PATH_MAX], old_path[PATH_MAX];
    struct entry ring[QUARANTINE_RECENT];  /* newest at (head - 1) */
    size_t head, count, mem;        /* mem: bytes of the lines in ring */
    int warned;                     /* "too small for a row" logged */
};

/* One line's fields, before encoding. */
struct qline {
    const char *ts, *endpoint;
    long index;
    const char *detail;             /* JSON array text, or NULL */
    size_t detail_len;
    const char *raw;
    size_t raw_len;
    uint64_t raw_length;            /* the row's full length */
    int truncated, lossy;           /* already so (a line read back) */
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

/* Append the longest prefix of s[0..n) whose JSON-escaped text (quotes not
 * counted) is at most budget bytes, as a JSON string literal, cut between
 * characters. *used: the bytes of s taken. Returns 1 if an invalid UTF-8
 * sequence was replaced with U+FFFD, 0 if not, -1 on the buffer's limit. */
static int str_prefix(struct sf_buf *b, const char *s, size_t n, size_t budget,
                      size_t *used)
{
    const unsigned char *p = (const unsigned char *)s;
    int lossy = 0, rc = SF_BUF_LIT(b, "\"");
    size_t i = 0, left = budget;
    while (i < n && !rc) {
        size_t run = i;
        /* Copy runs of plain printable ASCII in one go. */
        while (run < n && run - i < left && p[run] >= 0x20 && p[run] < 0x80 &&
               p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            rc = sf_buf_append(b, p + i, run - i);
            left -= run - i;
            i = run;
            continue;
        }
        char esc[8];
        const void *src = esc;
        size_t olen, ilen = 1;
        int bad = 0;
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)p[i];
            olen = 2;
        } else if (p[i] < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
            olen = 6;
        } else if (p[i] < 0x80) {
            olen = 1;               /* plain, but no room left */
        } else if ((ilen = utf8_len(p + i, n - i)) != 0) {
            src = p + i;
            olen = ilen;
        } else {
            src = "\\ufffd";
            olen = 6, ilen = 1, bad = 1;
        }
        if (olen > left)
            break;
        rc = sf_buf_append(b, src, olen);
        left -= olen;
        i += ilen;
        lossy |= bad;
    }
    *used = i;
    if (rc || SF_BUF_LIT(b, "\""))
        return -1;
    return lossy;
}

int json_str_lossy(struct sf_buf *b, const char *s, size_t n)
{
    size_t used;
    return str_prefix(b, s, n, SIZE_MAX, &used);
}

/* Append the detail array d[0..n) if it is at most budget bytes, else the
 * first of its entries that fit (*cut = 1). */
static int put_detail(struct sf_buf *b, const char *d, size_t n, size_t budget,
                      int *cut)
{
    if (!d || n < 2) /* NULL or empty: an empty list */
        d = "[]", n = 2;
    if (n <= budget)
        return sf_buf_append(b, d, n);
    *cut = 1;
    json_t *arr = json_loadb(d, n, 0, NULL);
    size_t room = budget > 2 ? budget - 2 : 0, k = 0, i;
    json_t *v;
    int rc = SF_BUF_LIT(b, "[");
    if (json_is_array(arr)) {
        json_array_foreach(arr, i, v) {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t len = s ? strlen(s) + (k ? 1 : 0) : 0;
            int fits = s && len <= room;
            if (fits) {
                rc |= sf_buf_append(b, ",", k ? 1 : 0);
                rc |= sf_buf_append(b, s, strlen(s));
                room -= len;
                k++;
            }
            free(s);
            if (!fits)
                break;
        }
    }
    json_decref(arr);
    return rc | SF_BUF_LIT(b, "]");
}

/* Encode l as one line (no newline) into b, emptied first, with at most
 * raw_budget bytes of escaped raw text and detail_budget of detail. */
static int encode_line(struct sf_buf *b, const struct qline *l, size_t raw_budget,
                       size_t detail_budget)
{
    size_t used;
    int rc = 0, dcut = 0, lossy;
    b->len = 0;
    rc |= SF_BUF_LIT(b, "{\"time\":\"");
    rc |= sf_buf_append(b, l->ts, strlen(l->ts));
    rc |= SF_BUF_LIT(b, "\",\"endpoint\":");
    rc |= str_prefix(b, l->endpoint, strlen(l->endpoint), ENDPOINT_MAX, &used) < 0;
    rc |= sf_buf_printf(b, ",\"index\":%ld,\"detail\":", l->index);
    rc |= put_detail(b, l->detail, l->detail_len, detail_budget, &dcut);
    if (dcut)
        rc |= SF_BUF_LIT(b, ",\"detail_truncated\":true");
    rc |= SF_BUF_LIT(b, ",\"raw\":");
    lossy = str_prefix(b, l->raw ? l->raw : "", l->raw_len, raw_budget, &used);
    rc |= lossy < 0;
    rc |= sf_buf_printf(b, ",\"raw_length\":%" PRIu64 ",\"raw_truncated\":%s,"
                        "\"raw_lossy\":%s}", l->raw_length,
                        l->truncated || used < l->raw_len || l->raw_length > l->raw_len
                            ? "true" : "false",
                        l->lossy || lossy == 1 ? "true" : "false");
    return rc ? -1 : 0;
}

/* Encode l into b so that it and its newline fit in max bytes: with the
 * full budgets if they fit, else with less raw text, then less detail.
 * Returns 0 if it fits, 1 if even the shortest form does not (b holds that
 * form), -1 on error. */
static int encode_fit(struct sf_buf *b, const struct qline *l, uint64_t max)
{
    size_t raw = QUARANTINE_RAW_MAX, det = QUARANTINE_DETAIL_MAX;
    for (;;) {
        if (encode_line(b, l, raw, det))
            return -1;
        if (b->len + 1 <= max)
            return 0;
        size_t over = (size_t)(b->len + 1 - max);
        if (raw)
            raw = raw > over ? raw - over : 0;
        else if (det > 2)
            det = det > over + 2 ? det - over : 2;
        else
            return 1;
    }
}

static size_t ring_at(const struct quarantine *q, size_t i) /* i-th newest */
{
    return (q->head + QUARANTINE_RECENT - 1 - i) % QUARANTINE_RECENT;
}

static void ring_push(struct quarantine *q, const char *line, size_t len)
{
    char *copy = len <= QUARANTINE_MEM_MAX ? malloc(len + 1) : NULL;
    if (!copy)
        return;
    memcpy(copy, line, len);
    copy[len] = '\0';
    while (q->count &&
           (q->count == QUARANTINE_RECENT || q->mem + len > QUARANTINE_MEM_MAX)) {
        struct entry *old = &q->ring[ring_at(q, q->count - 1)];
        q->mem -= old->len;
        free(old->line);
        old->line = NULL;
        q->count--;
    }
    q->ring[q->head] = (struct entry){.line = copy, .len = len, .seq = ++q->seq};
    q->head = (q->head + 1) % QUARANTINE_RECENT;
    q->count++;
    q->mem += len;
}

/* A line read back at open: as it is, or shortened like a new one if it is
 * longer than new lines can be (an older version's). */
static void push_read_back(struct quarantine *q, const char *p, size_t len,
                           struct sf_buf *tmp)
{
    if (len <= QUARANTINE_LINE_MAX) {
        ring_push(q, p, len);
        return;
    }
    json_t *o = json_loadb(p, len, JSON_ALLOW_NUL, NULL);
    json_t *raw = json_object_get(o, "raw"), *rl = json_object_get(o, "raw_length");
    json_t *det = json_object_get(o, "detail");
    const char *ts = json_string_value(json_object_get(o, "time"));
    const char *ep = json_string_value(json_object_get(o, "endpoint"));
    char *dtext = det ? json_dumps(det, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    struct qline l = {
        .ts = ts ? ts : "", .endpoint = ep ? ep : "",
        .index = (long)json_integer_value(json_object_get(o, "index")),
        .detail = dtext, .detail_len = dtext ? strlen(dtext) : 0,
        .raw = json_string_value(raw), .raw_len = json_string_length(raw),
        .raw_length = json_is_integer(rl) ? (uint64_t)json_integer_value(rl)
                                          : json_string_length(raw),
        .truncated = json_is_true(json_object_get(o, "raw_truncated")),
        .lossy = json_is_true(json_object_get(o, "raw_lossy")),
    };
    if (json_is_object(o) &&
        encode_line(tmp, &l, QUARANTINE_RAW_MAX, QUARANTINE_DETAIL_MAX) == 0)
        ring_push(q, tmp->data, tmp->len);
    free(dtext);
    json_decref(o);
}

/* Put the last lines of path (at most TAIL_READ bytes) into the ring. */
static void load_tail(struct quarantine *q, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    struct sf_buf tmp;
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
    char *p = buf, *end = buf + got;
    if ((size_t)st.st_size > len) { /* skip the partial first line */
        char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    sf_buf_init(&tmp, 2 * QUARANTINE_LINE_MAX);
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a torn last line from a crash: not listed */
        if (*p == '{')
            push_read_back(q, p, (size_t)(nl - p), &tmp);
        p = nl + 1;
    }
    sf_buf_free(&tmp);
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
        free(q->ring[i].line);
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

/* Write the buffered lines, and fdatasync if sync (caller holds mu). */
static int flush(struct quarantine *q, struct sf_buf *pend, int sync, char *errstr,
                 size_t n)
{
    struct stat st;
    if (pend->len && write_all(q->fd, pend->data, pend->len)) {
        int e = errno;
        if (fstat(q->fd, &st) == 0) /* a part may be written */
            q->size = (uint64_t)st.st_size;
        return sf_err(-1, errstr, n, "writing %s: %s", q->path, strerror(e));
    }
    q->size += pend->len;
    pend->len = 0;
    if (sync && fdatasync(q->fd))
        return sf_err(-1, errstr, n, "writing %s: %s", q->path, strerror(errno));
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
    struct sf_buf line, pend;
    char ts[32];
    int rc = 0, disk, fit;
    size_t memonly = 0;
    sf_buf_init(&line, 2 * QUARANTINE_LINE_MAX);
    sf_buf_init(&pend, WRITE_CHUNK + QUARANTINE_LINE_MAX + 1);
    sf_format_time(now_ms, ts);
    pthread_mutex_lock(&q->mu);
    if (q->fd < 0) { /* a rotation could not open the new file: try again */
        struct stat st;
        q->fd = open(q->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (q->fd >= 0 && fstat(q->fd, &st) == 0)
            q->size = (uint64_t)st.st_size;
        else
            rc = sf_err(-1, errstr, errstr_size, "cannot open %s: %s", q->path,
                        strerror(errno));
    }
    disk = q->fd >= 0;
    for (size_t i = 0; i < n; i++) {
        struct qline l = {
            .ts = ts, .endpoint = endpoint ? endpoint : "", .index = rows[i].index,
            .detail = rows[i].detail, .detail_len = rows[i].detail_len,
            .raw = rows[i].raw, .raw_len = rows[i].raw ? rows[i].raw_len : 0,
        };
        l.raw_length = rows[i].raw_full > l.raw_len ? rows[i].raw_full : l.raw_len;
        if ((fit = encode_fit(&line, &l, q->max_bytes)) < 0) {
            rc = sf_err(-1, errstr, errstr_size, "out of memory");
            continue;
        }
        if (fit)
            memonly++;
        else if (disk) {
            if (q->size + pend.len && q->size + pend.len + line.len + 1 > q->max_bytes &&
                (flush(q, &pend, 1, errstr, errstr_size) ||
                 rotate(q, errstr, errstr_size)))
                rc = -1, disk = 0;
            else if (sf_buf_append(&pend, line.data, line.len) ||
                     SF_BUF_LIT(&pend, "\n"))
                rc = sf_err(-1, errstr, errstr_size, "out of memory");
            else if (pend.len >= WRITE_CHUNK && flush(q, &pend, 0, errstr, errstr_size))
                rc = -1, disk = 0;
        }
        /* Only the newest QUARANTINE_RECENT can stay in the ring. */
        if (n - i <= QUARANTINE_RECENT)
            ring_push(q, line.data, line.len);
    }
    if (disk && n > memonly && flush(q, &pend, 1, errstr, errstr_size))
        rc = -1;
    if (rc == 0)
        sf_stats_add(&sf_stats.ingest_quarantined, n);
    if (memonly && !q->warned) {
        q->warned = 1;
        log_warn("quarantine: --quarantine-max %" PRIu64 " is too small for even "
                 "a shortened row; such rows are listed in memory only, not kept "
                 "in %s", q->max_bytes, q->path);
    }
    pthread_mutex_unlock(&q->mu);
    sf_buf_free(&line);
    sf_buf_free(&pend);
    return rc;
}

int quarantine_list(struct quarantine *q, size_t limit, uint64_t before,
                    size_t max_bytes, struct sf_buf *out, uint64_t *next)
{
    int rc = 0;
    size_t first = 0, k = 0, bytes = 0;
    *next = 0;
    pthread_mutex_lock(&q->mu);
    while (before && first < q->count && q->ring[ring_at(q, first)].seq >= before)
        first++;
    /* How many fit: each item and its comma. */
    while (first + k < q->count && k < limit) {
        size_t len = q->ring[ring_at(q, first + k)].len + 1;
        if (k && bytes + len > max_bytes) {
            *next = q->ring[ring_at(q, first + k - 1)].seq;
            break;
        }
        bytes += len;
        k++;
    }
    rc |= sf_buf_printf(out, "{\"count\":%zu,\"items\":[", k);
    for (size_t i = 0; i < k; i++) {
        const struct entry *e = &q->ring[ring_at(q, first + i)];
        if (i)
            rc |= SF_BUF_LIT(out, ",");
        rc |= sf_buf_append(out, e->line, e->len);
    }
    rc |= SF_BUF_LIT(out, "]");
    pthread_mutex_unlock(&q->mu);
    return rc ? -1 : 0;
}

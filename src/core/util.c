/*
 * util — logging, clocks, timestamp codecs, bounded buffers, mkdir -p.
 *
 * Timestamps are kept as int64 milliseconds since the Unix epoch (UTC)
 * everywhere inside the program and turned into text only at the edges.
 */
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void sf_log(const char *level, const char *fmt, ...)
{
    char ts[32], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %-5s %s\n", sf_format_time(sf_now_ms(), ts), level, line);
}

int sf_err(int rc, char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int64_t sf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *sf_format_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* The modulos only bound the widths for the compiler's checks. */
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
             (unsigned)frac % 1000u);
    return out;
}

/* Read exactly n digits from *p into *v; advances *p. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static int valid_date(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
        mi > 59 || s > 60)
        return 0;
    if (d > mdays[mo - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return 0;
    return 1;
}

static int64_t to_ms(int y, int mo, int d, int h, int mi, int s, int msec)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000 + msec;
}

int sf_parse_time(const char *s, int64_t *ms)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, msec = 0;

    if (strlen(s) >= 20 && s[2] == '/') {
        /* The original producer's "%m/%d/%Y, %H:%M:%S". */
        if (digits(&p, 2, &mo) || *p++ != '/' || digits(&p, 2, &d) ||
            *p++ != '/' || digits(&p, 4, &y) || *p++ != ',' || *p++ != ' ' ||
            digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
            *p++ != ':' || digits(&p, 2, &sec) || *p)
            return -1;
        if (!valid_date(y, mo, d, h, mi, sec))
            return -1;
        *ms = to_ms(y, mo, d, h, mi, sec, 0);
        return 0;
    }
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
        *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
        *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        int n = 0, scale = 100;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                msec += (*p - '0') * scale;
            scale /= 10;
            n++;
            p++;
        }
        if (n == 0)
            return -1;
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        off_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p || !valid_date(y, mo, d, h, mi, sec))
        return -1;
    *ms = to_ms(y, mo, d, h, mi, sec, msec) - off_min * 60000;
    return 0;
}

void sf_buf_init(struct sf_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

static int reserve(struct sf_buf *b, size_t n)
{
    if (n > b->limit || b->len + n > b->limit)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sf_buf_append(struct sf_buf *b, const void *p, size_t n)
{
    if (reserve(b, n))
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sf_buf_printf(struct sf_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return sf_buf_append(b, small, (size_t)n);
    if (reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int sf_buf_json_str(struct sf_buf *b, const char *s)
{
    if (sf_buf_append(b, "\"", 1))
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            rc = sf_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            rc = sf_buf_printf(b, "\\u%04x", *p);
        } else {
            rc = sf_buf_append(b, p, 1);
        }
        if (rc)
            return -1;
    }
    return sf_buf_append(b, "\"", 1);
}

void sf_buf_free(struct sf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int sf_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return -errno;
    return 0;
}

/*
 * util — logging, clocks, timestamp codecs, bounded buffers, mkdir -p.
 *
 * Timestamps are kept as int64 milliseconds since the Unix epoch (UTC)
 * everywhere inside the program and turned into text only at the edges.
 */
#include "core/util.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static enum sf_log_level log_min = SF_LOG_INFO;
static int log_json;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int sf_log_setup(const char *level, const char *format)
{
    int lv = -1;
    for (int i = 0; level && i < 4; i++)
        if (!strcmp(level, level_names[i]))
            lv = i;
    if ((level && lv < 0) ||
        (format && strcmp(format, "logfmt") && strcmp(format, "json")))
        return -1;
    if (level)
        log_min = (enum sf_log_level)lv;
    if (format)
        log_json = !strcmp(format, "json");
    return 0;
}

void sf_log(enum sf_log_level level, const char *fmt, ...)
{
    char ts[32], msg[2048];
    struct sf_buf b;
    va_list ap;
    if (level < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sf_format_time(sf_now_ms(), ts);
    sf_buf_init(&b, sizeof(msg) * 7 + 128);
    if (log_json)
        sf_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                      level_names[level]);
    else
        sf_buf_printf(&b, "ts=%s level=%s msg=", ts, level_names[level]);
    sf_buf_json_str(&b, msg); /* a JSON string is also a valid logfmt value */
    sf_buf_append(&b, log_json ? "}\n" : "\n", log_json ? 2 : 1);
    if (b.data)
        fputs(b.data, stderr); /* one call per line: lines never interleave */
    sf_buf_free(&b);
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

const char *sf_uri_rest(const char *uri, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncmp(uri, scheme, n) == 0 && uri[n] == ':' ? uri + n + 1 : NULL;
}

void sf_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Write v as exactly n decimal digits at p. */
static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *sf_format_time(int64_t ms, char out[32])
{
    /* Called for every row the processor writes: digits by hand, no printf. */
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    unsigned frac = (unsigned)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    put_digits(out, (unsigned)(tm.tm_year + 1900) % 10000u, 4);
    out[4] = '-';
    put_digits(out + 5, (unsigned)tm.tm_mon + 1, 2);
    out[7] = '-';
    put_digits(out + 8, (unsigned)tm.tm_mday, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)tm.tm_hour, 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)tm.tm_min, 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)tm.tm_sec, 2);
    out[19] = '.';
    put_digits(out + 20, frac, 3);
    out[23] = 'Z';
    out[24] = '\0';
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
    /* 1969: a wall clock west of UTC (or a leap second) still in 1970 UTC;
     * callers judge the instant's range. */
    if (y < 1969 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
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

/* Seconds 60 is a leap second (RFC 3339 5.7): 23:59:60 UTC on a month's
 * last day, which timegm() turns into the next second, 00:00:00 of the
 * 1st. 1 if ms (a parsed :60, its milliseconds included) is such a second. */
static int leap_second_at(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    return gmtime_r(&t, &tm) && tm.tm_mday == 1 && tm.tm_hour == 0 && tm.tm_min == 0 &&
           tm.tm_sec == 0;
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
        return sec == 60 && !leap_second_at(*ms) ? -2 : 0;
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
    return sec == 60 && !leap_second_at(*ms) ? -2 : 0;
}

int sf_time_bad_second_60(const char *s)
{
    int64_t ms;
    return sf_parse_time(s, &ms) == -2;
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
    if (b->limit < SIZE_MAX && cap > b->limit + 1)
        cap = b->limit + 1;     /* never more than the limit allows */
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sf_buf_append_grow(struct sf_buf *b, const void *p, size_t n)
{
    if (reserve(b, n))
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sf_buf_put_u64(struct sf_buf *b, uint64_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return sf_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
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

/* The length of the well-formed UTF-8 sequence at p (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

int sf_buf_json_str(struct sf_buf *b, const char *s)
{
    if (SF_BUF_LIT(b, "\""))
        return -1;
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        /* A run of bytes that need no escape goes in with one append. */
        const unsigned char *run = p;
        for (size_t u;;) {
            if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
                p++;
            else if (*p >= 0x80 && (u = utf8_len(p)))
                p += u;
            else
                break;
        }
        if (p > run && sf_buf_append(b, run, (size_t)(p - run)))
            return -1;
        if (!*p)
            break;
        int rc;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            rc = sf_buf_append(b, esc, 2);
        } else if (*p >= 0x80) {
            rc = SF_BUF_LIT(b, "\xef\xbf\xbd");  /* not UTF-8: U+FFFD */
        } else {
            rc = sf_buf_printf(b, "\\u%04x", *p);
        }
        if (rc)
            return -1;
        p++;
    }
    return SF_BUF_LIT(b, "\"");
}

void sf_buf_free(struct sf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sf_progress(const char *what, const char *unit, int tty, int64_t done,
                 int64_t total, int64_t t0, int final)
{
    double secs = (double)(sf_mono_ms() - t0) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    int pct = total ? (int)(done * 100 / total) : 0;
    if (pct > 100)
        pct = 100;
    if (tty && total) {
        char bar[41];
        int fill = pct * 40 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, ' ', (size_t)(40 - fill));
        bar[40] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %s, %.0f/s%s", what, bar, pct,
                (long long)done, (long long)total, unit, rate, final ? "\n" : "");
    } else if (tty) {
        fprintf(stderr, "\r%s %lld %s, %.0f/s%s", what, (long long)done, unit, rate,
                final ? "\n" : "");
    } else if (total) {
        fprintf(stderr, "%s: %d%% %lld/%lld %s, %.0f/s\n", what, pct, (long long)done,
                (long long)total, unit, rate);
    } else {
        fprintf(stderr, "%s: %lld %s, %.0f/s\n", what, (long long)done, unit, rate);
    }
}

/* Directories made here are 0700: the data they hold (orders, the store,
 * rejected rows) is the owner's alone, whatever the umask. Existing ones
 * keep their mode. */
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
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST)
        return -errno;
    return 0;
}

int sf_lower_thread_priority(int by)
{
    if (by == SF_NICE_IDLE) {
        struct sched_param sp = {0};
        return sched_setscheduler((pid_t)syscall(SYS_gettid), SCHED_IDLE, &sp);
    }
    if (by <= 0)
        return 0;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    int to = (errno ? 0 : base) + by;
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), to > 19 ? 19 : to);
}

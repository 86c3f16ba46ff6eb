/*
 * util — small shared helpers: logging to stderr, clocks, timestamps and a
 * bounded growable byte buffer (the only buffer type fed from the network).
 */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>

#define SF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The text of a macro's value: SF_XSTR(SF_MAX_BATCH_DEFAULT) is "100000". */
#define SF_XSTR(x) SF_STR_(x)
#define SF_STR_(x) #x

enum sf_log_level { SF_LOG_DEBUG, SF_LOG_INFO, SF_LOG_WARN, SF_LOG_ERROR };

/* Log one event to stderr, one line each: logfmt by default
 *   ts=2026-11-29T03:40:00.123Z level=info msg="listening on …"
 * or JSON ({"ts":…,"level":…,"msg":…}) after sf_log_setup(…, 1). Lines
 * below the configured level are dropped. Thread-safe. */
void sf_log(enum sf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_debug(...) sf_log(SF_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  sf_log(SF_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  sf_log(SF_LOG_WARN, __VA_ARGS__)
#define log_error(...) sf_log(SF_LOG_ERROR, __VA_ARGS__)

/* Set the level ("debug", "info", "warn", "error") and the format ("logfmt"
 * or "json"); either may be NULL to keep it. Returns 0 or -1 if a name is
 * unknown. */
int sf_log_setup(const char *level, const char *format);

/* snprintf into errstr (may be NULL), returns rc; for `return sf_err(...)`. */
int sf_err(int rc, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int64_t sf_now_ms(void);        /* wall clock, ms since the epoch */
int64_t sf_mono_ms(void);       /* monotonic clock, ms */
/* The calling thread's CPU priority `by` below the process's (Linux keeps a
 * niceness per thread; lowering one needs no privilege), at most 19; or,
 * with by == SF_NICE_IDLE, the SCHED_IDLE policy: the thread runs only on
 * a core nothing else wants, and any other thread that wakes takes the
 * core from it at once. 0, or -1 with errno (nothing to do for by == 0). */
#define SF_NICE_IDLE (-1)
int sf_lower_thread_priority(int by);
void sf_pause_ms(int ms);       /* sleep ms milliseconds */
/* uri's part after "scheme:" when its scheme is scheme, else NULL (how
 * store_open and broker_open pick a backend). */
const char *sf_uri_rest(const char *uri, const char *scheme);

/* Format ms since the epoch as RFC 3339 UTC with milliseconds,
 * "2026-11-29T03:40:00.123Z" (24 chars + NUL); returns out. */
char *sf_format_time(int64_t ms, char out[32]);

/* Parse RFC 3339 ("2026-11-29T03:40:00Z", fraction and offset optional) or
 * the original producer's "%m/%d/%Y, %H:%M:%S" (taken as UTC) into ms since
 * the epoch. Seconds 60 only as a leap second: 23:59:60 UTC (the offset
 * applied) on a month's last day, taken as the next second, 00:00:00 of
 * the 1st. Returns 0; -2 if s is a time but for seconds 60 away from a leap
 * second; -1 if s is neither form. */
int sf_parse_time(const char *s, int64_t *ms);

/* 1 if s is refused only for seconds 60 away from a leap second (to say
 * so: a leap second past 9999-12-31 or a malformed offset is refused for
 * what it is). */
int sf_time_bad_second_60(const char *s);
#define SF_LEAP_SECOND_TEXT "seconds 60 only for a leap second: 23:59:60 UTC on a " \
    "month's last day"

/* A byte buffer that refuses to grow past `limit` bytes. */
struct sf_buf {
    char *data;
    size_t len, cap, limit;
};
void sf_buf_init(struct sf_buf *b, size_t limit);
/* Append n bytes; returns 0, or -1 if that would pass the limit or on OOM
 * (the buffer is unchanged then). Inline while the bytes fit (the common
 * case on hot paths: encoders append many short pieces). */
int sf_buf_append_grow(struct sf_buf *b, const void *p, size_t n);
static inline int sf_buf_append(struct sf_buf *b, const void *p, size_t n)
{
    if (!b->data || n >= b->cap - b->len || n > b->limit || b->len + n > b->limit)
        return sf_buf_append_grow(b, p, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
/* Append a string literal, its length counted by the compiler. */
#define SF_BUF_LIT(b, lit) sf_buf_append((b), (lit), sizeof(lit) - 1)
int sf_buf_printf(struct sf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append the decimal digits of v. */
int sf_buf_put_u64(struct sf_buf *b, uint64_t v);
/* Append s as a JSON string literal, with quotes. */
int sf_buf_json_str(struct sf_buf *b, const char *s);
void sf_buf_free(struct sf_buf *b);

/* Progress of long work on stderr: on a terminal (tty) a bar redrawn in
 * place ("replay [####    ]  45% 450000/1000000 records, 81234/s"), ended
 * with a newline when final; otherwise one plain line per call. t0 is the
 * sf_mono_ms() at the start. total 0 means unknown (no bar). */
void sf_progress(const char *what, const char *unit, int tty, int64_t done,
                 int64_t total, int64_t t0, int final);

/* mkdir -p; returns 0 or -errno. */
int sf_mkdirs(const char *path);

#endif

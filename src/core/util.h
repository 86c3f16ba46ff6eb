/*
 * util — small shared helpers: logging to stderr, clocks, timestamps and a
 * bounded growable byte buffer (the only buffer type fed from the network).
 */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define SF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Log a line "TIME LEVEL message" to stderr. */
void sf_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_info(...)  sf_log("info", __VA_ARGS__)
#define log_warn(...)  sf_log("warn", __VA_ARGS__)
#define log_error(...) sf_log("error", __VA_ARGS__)

/* snprintf into errstr (may be NULL), returns rc; for `return sf_err(...)`. */
int sf_err(int rc, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int64_t sf_now_ms(void);        /* wall clock, ms since the epoch */
int64_t sf_mono_ms(void);       /* monotonic clock, ms */

/* Format ms since the epoch as RFC 3339 UTC with milliseconds,
 * "2026-11-29T03:40:00.123Z" (24 chars + NUL); returns out. */
char *sf_format_time(int64_t ms, char out[32]);

/* Parse RFC 3339 ("2026-11-29T03:40:00Z", fraction and offset optional) or
 * the original producer's "%m/%d/%Y, %H:%M:%S" (taken as UTC) into ms since
 * the epoch. Returns 0, or -1 if s is neither. */
int sf_parse_time(const char *s, int64_t *ms);

/* A byte buffer that refuses to grow past `limit` bytes. */
struct sf_buf {
    char *data;
    size_t len, cap, limit;
};
void sf_buf_init(struct sf_buf *b, size_t limit);
/* Append n bytes; returns 0, or -1 if that would pass the limit or on OOM
 * (the buffer is unchanged then). */
int sf_buf_append(struct sf_buf *b, const void *p, size_t n);
int sf_buf_printf(struct sf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, with quotes. */
int sf_buf_json_str(struct sf_buf *b, const char *s);
void sf_buf_free(struct sf_buf *b);

/* mkdir -p; returns 0 or -errno. */
int sf_mkdirs(const char *path);

#endif

/*
 * coding — see coding.h. gzip through zlib's inflate/deflate with the gzip
 * wrapper (windowBits 16 + 15), zstd through libzstd's streaming decoder;
 * both decode into a fixed 64 KiB piece that the sink copies out.
 */
#include "core/coding.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZSTD_WINDOW_LOG_MAX 23  /* 8 MiB: every level up to 19 fits */

static int token_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

unsigned coding_parse(const char *value, enum coding *c, const char **msg)
{
    *c = CODING_IDENTITY;
    int n = 0;
    /* A list (RFC 9110 8.4): empty elements are ignored (5.6.1.2), and so
     * is identity, which is no coding at all. */
    for (const char *p = value; p && *p;) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *t = p, *te = e;
        while (t < te && (*t == ' ' || *t == '\t'))
            t++;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        size_t len = (size_t)(te - t);
        enum coding one = CODING_IDENTITY;
        if (token_is(t, len, "gzip") || token_is(t, len, "x-gzip"))
            one = CODING_GZIP;
        else if (token_is(t, len, "zstd"))
            one = CODING_ZSTD;
        else if (len && !token_is(t, len, "identity")) {
            *msg = "Unsupported Media Type: salesflow does not decode the "
                   "Content-Encoding";
            return 415;
        }
        if (one != CODING_IDENTITY && n++) {
            *msg = "Unsupported Media Type: the body is encoded more than once, as";
            return 415;
        }
        if (one != CODING_IDENTITY)
            *c = one;
        p = *e ? e + 1 : e;
    }
    return 0;
}

/* 400: the body is not what its Content-Encoding (name) says. */
static unsigned bad(char *msg, size_t msgsz, const char *name, const char *detail)
{
    snprintf(msg, msgsz,
             "the body is not valid %s (%s); it is labelled Content-Encoding: %s, so "
             "send it compressed with %s, or without that header when it is plain",
             name, detail, name, name);
    return 400;
}

static unsigned gunzip(const char *in, size_t n, coding_sink sink, void *ctx,
                       char *msg, size_t msgsz)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        snprintf(msg, msgsz, "out of memory");
        return 503;
    }
    char *out = malloc(CODING_CHUNK);
    unsigned st = out ? 0 : 503;
    int zrc = Z_OK;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    if (n > UINT32_MAX)
        st = bad(msg, msgsz, "gzip", "too large");
    while (!st) {
        zs.next_out = (Bytef *)out;
        zs.avail_out = CODING_CHUNK;
        zrc = inflate(&zs, Z_NO_FLUSH);
        size_t got = CODING_CHUNK - zs.avail_out;
        if (got && (st = sink(ctx, out, got)))
            break;
        if (zrc == Z_STREAM_END) {
            if (!zs.avail_in)
                break;
            /* Another member (RFC 1952 2.2), or bytes that are not one. */
            if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
                st = bad(msg, msgsz, "gzip", "other bytes follow the compressed stream");
                break;
            }
            inflateReset(&zs);
            continue;
        }
        if (zrc == Z_BUF_ERROR && !zs.avail_in) {
            st = bad(msg, msgsz, "gzip", "the stream is cut short");
            break;
        }
        if (zrc == Z_MEM_ERROR) {
            snprintf(msg, msgsz, "out of memory");
            st = 503;
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            st = bad(msg, msgsz, "gzip", zs.msg ? zs.msg : "corrupt data");
        }
    }
    inflateEnd(&zs);
    free(out);
    return st;
}

/* Every frame of in[0..n) is a zstd frame of today's format (RFC 8878) or
 * a skippable one: frames of the formats before zstd 1.0, which libzstd
 * still decodes, are refused, as their decoders do not honour the window
 * limit. 0, or 400 with msg (a frame that does not parse is left to the
 * decoder, which says why). */
static unsigned zstd_frames_current(const char *in, size_t n, char *msg, size_t msgsz)
{
    while (n >= 4) {
        uint32_t magic = (uint32_t)(unsigned char)in[0] |
                         (uint32_t)(unsigned char)in[1] << 8 |
                         (uint32_t)(unsigned char)in[2] << 16 |
                         (uint32_t)(unsigned char)in[3] << 24;
        if (magic >= 0xFD2FB51Eu && magic <= 0xFD2FB527u)
            return bad(msg, msgsz, "zstd", "a frame of an older zstd format, from "
                       "before zstd 1.0; compress with a current zstd");
        size_t len = ZSTD_findFrameCompressedSize(in, n);
        if (ZSTD_isError(len) || len == 0 || len > n)
            return 0;
        in += len;
        n -= len;
    }
    return 0;
}

/* One zstd decoder per thread, made once (it holds its window buffers;
 * making one per body cost more than decoding a batch of orders). */
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;

static void dctx_free(void *dc)
{
    ZSTD_freeDCtx(dc);
}

static void dctx_key_make(void)
{
    pthread_key_create(&dctx_key, dctx_free);
}

static ZSTD_DCtx *thread_dctx(void)
{
    pthread_once(&dctx_once, dctx_key_make);
    ZSTD_DCtx *dc = pthread_getspecific(dctx_key);
    if (dc) {
        ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
        return dc;
    }
    dc = ZSTD_createDCtx();
    if (dc && (ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax,
                                                   ZSTD_WINDOW_LOG_MAX)) ||
               pthread_setspecific(dctx_key, dc))) {
        ZSTD_freeDCtx(dc);
        dc = NULL;
    }
    return dc;
}

static unsigned unzstd(const char *in, size_t n, coding_sink sink, void *ctx,
                       char *msg, size_t msgsz)
{
    unsigned legacy = zstd_frames_current(in, n, msg, msgsz);
    if (legacy)
        return legacy;
    ZSTD_DCtx *dc = thread_dctx();
    char *out = malloc(CODING_CHUNK);
    unsigned st = 0;
    if (!dc || !out) {
        snprintf(msg, msgsz, "out of memory");
        st = 503;
    }
    ZSTD_inBuffer ib = {in, n, 0};
    size_t left = 1;            /* 0 once a frame is complete */
    if (n == 0 && !st)
        st = bad(msg, msgsz, "zstd", "the body is empty");
    while (!st && (ib.pos < ib.size || left)) {
        ZSTD_outBuffer ob = {out, CODING_CHUNK, 0};
        left = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(left)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(left);
            st = bad(msg, msgsz, "zstd",
                     e == ZSTD_error_frameParameter_windowTooLarge
                         ? "its frame asks for a window over 8 MiB (compress at a "
                           "level up to 19, without --long)"
                         : ZSTD_getErrorName(left));
            break;
        }
        if (ob.pos && (st = sink(ctx, out, ob.pos)))
            break;
        /* All input taken and all output flushed, yet the frame is open. */
        if (ib.pos == ib.size && left && ob.pos < ob.size) {
            st = bad(msg, msgsz, "zstd", "the frame is cut short");
            break;
        }
    }
    free(out);
    return st;
}

unsigned coding_decode(enum coding c, const char *in, size_t n, coding_sink sink,
                       void *ctx, char *msg, size_t msgsz)
{
    switch (c) {
    case CODING_GZIP:
        return gunzip(in, n, sink, ctx, msg, msgsz);
    case CODING_ZSTD:
        return unzstd(in, n, sink, ctx, msg, msgsz);
    default:
        return n ? sink(ctx, in, n) : 0;
    }
}

/* The q-value of one Accept-Encoding element's parameters: 1 unless
 * "q=0", "q=0.0"... (RFC 9110 12.4.2). */
static int q_positive(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            for (; p < end && *p != ';'; p++)
                if (*p >= '1' && *p <= '9')
                    return 1;
            return 0;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1;
}

int64_t coding_decoded_size(enum coding c, const char *in, size_t n)
{
    if (c != CODING_ZSTD)
        return -1;
    /* One frame, all of the body, with its content size (zstd's own tool
     * writes it when it knows the input's size). */
    size_t len = ZSTD_findFrameCompressedSize(in, n);
    if (ZSTD_isError(len) || len != n)
        return -1;
    unsigned long long sz = ZSTD_getFrameContentSize(in, n);
    return sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN ||
                   sz > INT64_MAX ? -1 : (int64_t)sz;
}

int coding_accepts_gzip(const char *ae)
{
    int star = 0, gzip = -1, xgzip = -1;
    while (ae && *ae) {
        const char *end = strchr(ae, ',');
        if (!end)
            end = ae + strlen(ae);
        const char *t = ae;
        while (t < end && (*t == ' ' || *t == '\t'))
            t++;
        const char *te = t;
        while (te < end && *te != ';' && *te != ' ' && *te != '\t')
            te++;
        int q = q_positive(te, end);
        if (token_is(t, (size_t)(te - t), "gzip"))
            gzip = q;
        else if (token_is(t, (size_t)(te - t), "x-gzip"))
            xgzip = q;
        else if (token_is(t, (size_t)(te - t), "*"))
            star = q;
        ae = *end ? end + 1 : end;
    }
    /* x-gzip is gzip's old alias: gzip's own q-value wins. */
    return gzip >= 0 ? gzip : xgzip >= 0 ? xgzip : star;
}

int coding_gzip(const char *in, size_t n, int level, struct sf_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (n > UINT32_MAX ||
        deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    char piece[16384];
    int rc = 0, zrc;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    do {
        zs.next_out = (Bytef *)piece;
        zs.avail_out = sizeof(piece);
        zrc = deflate(&zs, Z_FINISH);
        if (zrc == Z_STREAM_ERROR ||
            sf_buf_append(out, piece, sizeof(piece) - zs.avail_out)) {
            rc = -1;
            break;
        }
    } while (zrc != Z_STREAM_END);
    deflateEnd(&zs);
    return rc;
}

/*
 * fastparse — the HTTP fast path's request parser (fastpath.h): strict, so
 * that whatever it does not fully understand is left to libmicrohttpd.
 * The framing rules both transports share are in framing.c. On its own (no
 * server) for the unit test and fuzz_fastpath.
 */
#include "http/fastpath.h"
#include "core/coding.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first "\r\n\r\n" in buf[0, n), or NULL. (memchr for the LFs: glibc's
 * memmem sets up a search for every call, which costs more than these
 * few hundred bytes take to scan.) */
static char *head_end(char *buf, size_t n)
{
    char *p = buf, *end = buf + n;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        if (p - buf >= 3 && p[-1] == '\r' && p[-2] == '\n' && p[-3] == '\r')
            return p - 3;
        p++;
    }
    return NULL;
}

/* The request line [p, eol): 0 when it is "METHOD SP target SP
 * HTTP/1.0|1.1" (sets *http10, *target, *tlen); -1 when libmicrohttpd is
 * to judge it: another version (505 or 400 there; it reads the version
 * after the last space, as here), or spaces where one is due; else 400 for
 * a control character (libmicrohttpd hands those to mhd.c, which refuses
 * them too). */
static int request_line(const char *p, const char *eol, int *http10, const char **target,
                        size_t *tlen, const char **msg)
{
    const char *sp = memchr(p, ' ', (size_t)(eol - p)), *ver = eol;
    while (ver > p && ver[-1] != ' ')
        ver--;
    if (!sp || sp == p || ver - 1 == sp || eol - ver != 8 || strncmp(ver, "HTTP/1.", 7) ||
        (ver[7] != '0' && ver[7] != '1'))
        return -1;
    for (const char *t = p; t < ver; t++)
        if ((unsigned char)*t < 0x20 || *t == 0x7f) {
            *msg = *t == '\r' ? MSG_CR
                              : "Bad Request: a control character in the request line; "
                                "send METHOD SP target SP HTTP/1.1";
            return 400;
        }
    const char *t = sp + 1;
    for (const char *m = p; m < sp; m++)
        if (!is_tchar((unsigned char)*m))
            return -1;
    if (memchr(t, ' ', (size_t)(ver - 1 - t)) || t == ver - 1)
        return -1;
    /* libmicrohttpd keeps every query parameter in the connection's 32 KiB
     * pool and, past about 450 of them, fails to answer at all. */
    const char *qm = memchr(t, '?', (size_t)(ver - 1 - t));
    size_t params = 1;
    for (const char *c = qm; c && c < ver - 1; c++)
        params += *c == '&';
    if (qm && params > HTTP_QUERY_PARAMS_MAX) {
        *msg = "URI Too Long: the query holds more than " SF_XSTR(HTTP_QUERY_PARAMS_MAX)
               " parameters";
        return 414;
    }
    *http10 = ver[7] == '0';
    *target = t;
    *tlen = (size_t)(ver - 1 - t);
    return 0;
}

/* The first Content-Length line in [p, end) starts its value with digits
 * that make a number past 2^64 - 1: libmicrohttpd answers that 413 before
 * anything else is looked at (whatever follows the digits). */
static int length_overflows(const char *p, const char *end)
{
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if (eol - p >= 15 && strncasecmp(p, "content-length:", 15) == 0) {
            const char *v = p + 15;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            while (v < eol && *v == '0')
                v++;
            size_t digits = 0;
            while (v + digits < eol && v[digits] >= '0' && v[digits] <= '9')
                digits++;
            return digits > 20 || (digits == 20 && memcmp(v, "18446744073709551615", 20) > 0);
        }
        p = eol + 2;
    }
    return 0;
}

/* A NUL, a control character other than HTAB, CR and LF, or a LF not
 * after a CR in buf[0, n): 400 (and *msg), else 0. libmicrohttpd ends a
 * head at a line that is just a NUL and cuts a value at a NUL; a bare LF
 * is refused rather than read as a line's end (RFC 9112 2.2 lets a server
 * do either) so that no head is split in two ways. */
static unsigned head_bytes(const char *buf, size_t n, const char **msg)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch >= 0x20 && ch != 0x7f)
            continue;
        if (ch == '\n' && (i == 0 || buf[i - 1] != '\r')) {
            *msg = "Bad Request: a bare LF (not after a CR) in the request head; end "
                   "every line with CRLF (RFC 9112 2.2)";
            return 400;
        }
        if (ch == 0) {
            *msg = "Bad Request: a NUL byte in the request head";
            return 400;
        }
        if (ch != '\t' && ch != '\r' && ch != '\n') {
            *msg = "Bad Request: a control character in the request head";
            return 400;
        }
    }
    return 0;
}

/* BWS (RFC 9110 5.6.3). */
static const char *bws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *token(const char *p, const char *end)
{
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    return p;
}

/* A chunked body at [p, end) (RFC 9112 7.1): 1 when it is complete and
 * well-formed, 0 when what there is of it is well-formed, -1 (and *msg)
 * when it is not: a chunk line without CRLF, a size that is not hex, a
 * chunk extension that is not ;name[=token|quoted-string], chunk data not
 * followed by CRLF, a trailer line that is not a field line. libmicrohttpd
 * 0.9.75 takes a bare LF in these places and skips extensions unread: so
 * it is only ever handed a chunked body checked here. */
static int chunked_check(const char *p, const char *end, const char **msg)
{
    static const char *const bad = "Bad Request: a malformed chunked body (RFC 9112 7.1): "
                                   "send each chunk as HEX-SIZE CRLF data CRLF, then 0 CRLF "
                                   "CRLF";
    *msg = bad;
    for (;;) {
        const char *s = p, *q = p;
        uint64_t size = 0;
        while (q < end && isxdigit((unsigned char)*q)) {
            if (size >> 60)
                return -1;      /* past 2^64 */
            size = size * 16 + (uint64_t)(isdigit((unsigned char)*q)
                                              ? *q - '0'
                                              : (tolower((unsigned char)*q) - 'a' + 10));
            q++;
        }
        if (q == end)
            return 0;
        if (q == s || *q == ' ' || *q == '\t')
            return -1;          /* libmicrohttpd refuses BWS after the size */
        /* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted ) ] ) */
        for (;;) {
            const char *e = bws(q, end);
            if (e == end)
                return 0;
            if (*e != ';')
                break;
            e = bws(e + 1, end);
            const char *t = token(e, end);
            if (t == end)
                return 0;
            if (t == e)
                return -1;
            q = t;
            e = bws(t, end);
            if (e == end)
                return 0;
            if (*e != '=')
                continue;
            e = bws(e + 1, end);
            if (e == end)
                return 0;
            if (*e == '"') {
                for (e++; e < end && *e != '"'; e++) {
                    if (*e == '\\' && ++e == end)
                        return 0;
                    if ((unsigned char)*e < 0x20 && *e != '\t')
                        return -1;
                    if (*e == 0x7f)
                        return -1;
                }
                if (e == end)
                    return 0;
                q = e + 1;
            } else {
                t = token(e, end);
                if (t == end)
                    return 0;
                if (t == e)
                    return -1;
                q = t;
            }
        }
        q = bws(q, end);
        if (end - q < 2)
            return q < end && *q != '\r' ? -1 : 0;
        if (q[0] != '\r' || q[1] != '\n')
            return -1;
        p = q + 2;
        if (size == 0)
            break;
        if (size > (uint64_t)(end - p) || (uint64_t)(end - p) - size < 2)
            return 0;
        p += size;
        if (p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
    }
    /* The trailer section: field lines, then an empty line. */
    for (;;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *stop = eol ? eol : end;
        for (const char *c = p; c < stop; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return c + 1 == end && *c == '\r' ? 0 : -1;
        if (!eol)
            return 0;
        if (eol == p)
            return 1;
        const char *t = token(p, eol);
        if (t == p || t == eol || *t != ':')
            return -1;
        p = eol + 2;
    }
}

/* coding_decode's sink for small_coded: counts, and stops past FP_MAX. */
static unsigned count_small(void *ctx, const char *p, size_t n)
{
    size_t *got = ctx;
    (void)p;
    *got += n;
    return *got > FP_MAX ? 413 : 0;
}

/* A body compressed as `coding` says (one the server decodes) stays on the
 * fast path only if it decodes to at most FP_MAX bytes, as much as a plain
 * body it takes: the loops never decode more than that for a request, and
 * anything larger (or a bomb) is decoded on libmicrohttpd's workers. A
 * body that is not what it says stays too: it is answered 400, as
 * libmicrohttpd's path would. */
static int small_coded(const char *coding, const char *body, size_t len)
{
    enum coding c;
    const char *msg;
    char err[64];
    size_t got = 0;
    if (coding_parse(coding, &c, &msg))
        return 0;               /* 415, from the route: libmicrohttpd's */
    int64_t declared = coding_decoded_size(c, body, len);
    if (declared >= 0)
        return declared <= FP_MAX;
    return coding_decode(c, body, len, count_small, &got, err, sizeof(err)) != 413;
}

/* The header lines from p to the head's end (the empty line at end):
 * each through the framing rules (hc), the values the routes look at cut
 * out into q (NUL-ended in place). *other is set for a request that
 * libmicrohttpd is to serve, *coded for one with a Content-Encoding (but
 * identity). 0, or -1 with q->status and q->msg. */
static int header_fields(char *p, char *end, struct head_check *hc, struct fast_req *q,
                         int *other, int *coded)
{
    static const char *const names[] = {"authorization", "content-type",
                                        "content-length", "host", "origin",
                                        "content-encoding"};
    while (p < end + 2) {
        char *eol = memchr(p, '\r', (size_t)(end + 2 - p));
        if (*p == ' ' || *p == '\t') {
            q->status = 400;
            q->msg = MSG_FOLD;
            return -1;
        }
        char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon) {
            q->status = 400;
            q->msg = "Bad Request: a header line without a colon; send Name: value";
            return -1;
        }
        char *v = colon + 1, *ve = eol;
        size_t nlen = (size_t)(colon - p);
        if ((q->status = head_field(hc, p, nlen, v, (size_t)(ve - v), &q->msg)))
            return -1;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        int known = -1;
        for (int i = 0; i < (int)SF_ARRAY_LEN(names); i++)
            if (is_name(p, nlen, names[i]))
                known = i;
        if (known >= 0) {
            if (q->val[known] || ve - v > FP_VALUE_MAX)
                *other = 1;     /* given twice, or long: libmicrohttpd's */
            else
                q->val[known] = v;
            /* A compressed body stays here only if it decodes to no more
             * than a plain one the fast path takes (small_coded). */
            if (known == 5 && ve > v && !(ve - v == 8 && strncasecmp(v, "identity", 8) == 0))
                *coded = 1;
        } else if (is_name(p, nlen, "transfer-encoding") || is_name(p, nlen, "expect") ||
                   is_name(p, nlen, "upgrade")) {
            *other = 1;
        } else if (is_name(p, nlen, "connection")) {
            size_t vlen = (size_t)(ve - v);
            if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
                q->close = 1;
            else if (!(vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0))
                *other = 1;
        }
        if (known >= 0 && q->val[known] == v)
            *ve = '\0';
        p = eol + 2;
    }
    return 0;
}

int fastpath_parse(char *buf, size_t n, struct fast_req *q)
{
    char *end = head_end(buf, n < FP_HEAD_MAX ? n : FP_HEAD_MAX);
    memset(q, 0, sizeof(*q));
    /* Every byte of the head is checked before anything else, also while
     * it is incomplete: libmicrohttpd never reads a head that has not
     * passed here (it is only handed complete, checked heads). */
    if ((q->status = head_bytes(buf, end ? (size_t)(end + 4 - buf) : n, &q->msg)))
        return PARSE_BAD;
    if (!end) {
        q->hold = 1;
        if (n < FP_HEAD_MAX)
            return PARSE_MORE;
        if (!memchr(buf, '\n', FP_HEAD_MAX)) {
            q->status = 414;
            q->msg = "URI Too Long: the request line takes more than 16 KiB";
        } else {
            q->status = 431;
            q->msg = "Request Header Fields Too Large: the request line and headers "
                     "take more than 16 KiB";
        }
        return PARSE_BAD;
    }
    q->head_len = (size_t)(end + 4 - buf);
    /* The request line first, as libmicrohttpd judges it first; then a CR
     * alone anywhere is refused. */
    char *p = buf, *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
    struct head_check hc = {0};
    const char *target = NULL;
    size_t tlen = 0;
    int rl = request_line(p, eol, &hc.http10, &target, &tlen, &q->msg);
    if (rl > 0) {
        q->status = (unsigned)rl;
        return PARSE_BAD;
    }
    if (buf[0] == ' ' || buf[0] == '\t') {
        q->status = 400;
        q->msg = "Bad Request: the request line starts with a space or tab; send "
                 "METHOD SP target SP HTTP/1.1";
        return PARSE_BAD;
    }
    if (length_overflows(eol + 2, end + 2)) {
        q->status = 413;
        q->msg = "Content Too Large: the Content-Length is past 2^64 - 1";
        return PARSE_BAD;
    }
    for (char *c = buf; c < end + 4; c++)
        if (*c == '\r' && c[1] != '\n') {
            q->status = 400;
            q->msg = MSG_CR;
            return PARSE_BAD;
        }
    /* A request line libmicrohttpd is to judge (rl < 0): its head is
     * checked all the same; a missing Host is left to libmicrohttpd too (it
     * answers 505 for a version it does not serve). */
    if (rl < 0)
        hc.http10 = 1;
    int other = rl < 0 || hc.http10 || strncmp(p, "POST ", 5), coded = 0;
    if (!other) {
        static const char *const paths[] = {"/orderitem", "/v1/orders"};
        for (size_t i = 0; i < SF_ARRAY_LEN(paths); i++)
            if (tlen == strlen(paths[i]) && memcmp(target, paths[i], tlen) == 0)
                q->route = paths[i];
        other = !q->route;
    }
    if (header_fields(eol + 2, end, &hc, q, &other, &coded))
        return PARSE_BAD;
    if ((q->status = head_verdict(&hc, &q->msg)))
        return PARSE_BAD;
    if (hc.encodings) {         /* a lone "chunked": check the body */
        int ck = chunked_check(buf + q->head_len, buf + n, &q->msg);
        if (ck < 0) {
            q->status = 400;
            return PARSE_BAD;
        }
        q->msg = NULL;
        if (ck == 0 && n < FP_MAX) {
            q->hold = 1;
            return PARSE_MORE;
        }
        return PARSE_OTHER;
    }
    const char *cl = q->val[2];
    if (other || !cl || strlen(cl) > 9)
        return PARSE_OTHER;
    q->total = q->head_len + strtoul(cl, NULL, 10);
    if (q->total > FP_MAX)
        return PARSE_OTHER;
    if (q->total > n)
        return PARSE_MORE;
    if (coded && !small_coded(q->val[5], buf + q->head_len, q->total - q->head_len))
        return PARSE_OTHER;
    return PARSE_OK;
}

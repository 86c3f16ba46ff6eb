/*
 * fastparse — the HTTP fast path's request parser (fastpath.h): strict, so
 * that whatever it does not fully understand is left to libmicrohttpd.
 * On its own (no server) for the unit test and fuzz_fastpath.
 */
#include "ingest/fastpath.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-')
        return 1;
    return ch && strchr("!#$%&'*+.^_`|~", ch);
}

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

int fastpath_parse(char *buf, size_t n, struct fast_req *q)
{
    static const char *const paths[] = {"/orderitem", "/v1/orders"};
    static const char *const names[] = {"authorization", "content-type",
                                        "content-length"};
    char *end = head_end(buf, n < FP_HEAD_MAX ? n : FP_HEAD_MAX);
    if (!end)
        return n < FP_HEAD_MAX && !memchr(buf, '\0', n) ? PARSE_MORE : PARSE_OTHER;
    memset(q, 0, sizeof(*q));
    q->head_len = (size_t)(end + 4 - buf);
    char *p = buf;
    if (strncmp(p, "POST ", 5))
        return PARSE_OTHER;
    p += 5;
    for (size_t i = 0; i < SF_ARRAY_LEN(paths); i++) {
        size_t len = strlen(paths[i]);
        if (strncmp(p, paths[i], len) == 0 && strncmp(p + len, " HTTP/1.1\r\n", 11) == 0) {
            q->route = paths[i];
            p += len + 11;
        }
    }
    if (!q->route)
        return PARSE_OTHER;
    int hosts = 0;
    while (p < end + 2) {
        char *eol = memchr(p, '\r', (size_t)(end + 2 - p));
        if (eol[1] != '\n')
            return PARSE_OTHER;     /* a CR alone */
        char *colon = p;
        while (colon < eol && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':')
            return PARSE_OTHER;     /* folded, bare LF, bad name, no colon */
        char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (char *t = v; t < ve; t++)
            if ((unsigned char)*t < 0x20 && *t != '\t')
                return PARSE_OTHER;
        size_t nlen = (size_t)(colon - p);
        int known = -1;
        for (int i = 0; i < 3; i++)
            if (nlen == strlen(names[i]) && strncasecmp(p, names[i], nlen) == 0)
                known = i;
        if (known >= 0) {
            if (q->val[known] || ve - v > FP_VALUE_MAX)
                return PARSE_OTHER; /* given twice, or long: libmicrohttpd's */
            *ve = '\0';
            q->val[known] = v;
        } else if (nlen == 4 && strncasecmp(p, "host", 4) == 0) {
            hosts++;
        } else if ((nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) ||
                   (nlen == 6 && strncasecmp(p, "expect", 6) == 0) ||
                   (nlen == 7 && strncasecmp(p, "upgrade", 7) == 0)) {
            return PARSE_OTHER;
        } else if (nlen == 10 && strncasecmp(p, "connection", 10) == 0) {
            size_t vlen = (size_t)(ve - v);
            if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
                q->close = 1;
            else if (!(vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0))
                return PARSE_OTHER;
        }
        p = eol + 2;
    }
    const char *cl = q->val[2];
    if (hosts != 1 || !cl || !*cl || strlen(cl) > 9 || strspn(cl, "0123456789") != strlen(cl))
        return PARSE_OTHER;
    q->total = q->head_len + strtoul(cl, NULL, 10);
    if (q->total > FP_MAX)
        return PARSE_OTHER;
    return q->total <= n ? PARSE_OK : PARSE_MORE;
}

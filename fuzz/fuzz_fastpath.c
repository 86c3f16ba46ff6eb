/*
 * fuzz_fastpath — libFuzzer harness for the HTTP fast path's request
 * parser (src/http/fastpath.c: fastpath_parse), which reads every
 * request before anything else does and decides whether the fast path
 * serves it or libmicrohttpd gets the connection.
 *
 * Checks, besides ASan/UBSan: a refused request (PARSE_BAD) has status
 * 400, 413, 414, 431 or 501 and a message; a request handed to
 * libmicrohttpd (PARSE_OTHER) has a complete head free of NUL, control
 * characters (but HTAB), bare LF and field lines starting with ':'; a served request ends its head with an empty
 * line inside the input; its total (head + Content-Length) fits the input
 * and FP_MAX; its route is one of the two; every value it keeps lies in the
 * head, is NUL-ended there and holds no control character; Content-Length
 * is digits and agrees with total.
 */
#include "http/fastpath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char buf[FP_MAX];

static int inside(const char *v, size_t head_len)
{
    return v >= buf && v < buf + head_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size < sizeof(buf) ? size : sizeof(buf);
    struct fast_req q;
    memcpy(buf, data, n);
    int rc = fastpath_parse(buf, n, &q);
    if (rc == PARSE_MORE)
        return 0;
    if (rc == PARSE_OTHER) {    /* libmicrohttpd reads only a checked head */
        const char *end = memmem(data, n, "\r\n\r\n", 4);
        if (!end)
            abort();
        for (const char *p = (const char *)data; p < end + 4; p++) {
            unsigned char ch = (unsigned char)*p;
            if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f)
                abort();
            if (ch == '\n' && (p == (const char *)data || p[-1] != '\r'))
                abort();
            if (ch == '\n' && p + 1 < end + 2 && p[1] == ':')
                abort();
        }
        return 0;
    }
    if (rc == PARSE_BAD) {      /* refused: with a status and a reason */
        if ((q.status != 400 && q.status != 413 && q.status != 414 && q.status != 431 &&
             q.status != 501) || !q.msg || !*q.msg)
            abort();
        return 0;
    }
    if (rc != PARSE_OK)
        abort();
    if (q.head_len < 4 || q.head_len > n || q.total < q.head_len || q.total > n ||
        q.total > FP_MAX || memcmp(data + q.head_len - 4, "\r\n\r\n", 4))
        abort();
    if (!q.route || (strcmp(q.route, "/orderitem") && strcmp(q.route, "/v1/orders")))
        abort();
    for (int i = 0; i < 5; i++) {
        const char *v = q.val[i];
        if (!v)
            continue;
        if (!inside(v, q.head_len))
            abort();
        size_t len = strnlen(v, (size_t)(buf + q.head_len - v));
        if (v + len >= buf + q.head_len)
            abort(); /* not NUL-ended inside the head */
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)v[k] < 0x20 && v[k] != '\t')
                abort();
    }
    const char *cl = q.val[2];
    if (!cl || strspn(cl, "0123456789") != strlen(cl) ||
        q.total - q.head_len != strtoul(cl, NULL, 10))
        abort();
    return 0;
}

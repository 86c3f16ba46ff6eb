/*
 * fuzz_http — libFuzzer harness for a whole HTTP request through the
 * ingest server: the input is the raw bytes a client sends (request line,
 * headers, body; several pipelined requests are fine), on a real
 * connection to the real server (fuzz/http_driver.h: libmicrohttpd, the
 * access handler (src/http/mhd.c) and the request pipeline and route tables
 * (src/http/pipeline.c, src/ingest/routes.c, src/web/web.c), /orderitem and
 * /v1/orders appending to an embedded log, API keys on: send
 * "Authorization: Bearer fuzz-key-0123456789"; read and admin keys on too,
 * with the sign-in pages: "fuzz-read-key-0123", "fuzz-admin-key-012").
 *
 * The connection's write side is shut after the input, so the server
 * sees where it ends (see http_driver.h on what libmicrohttpd makes of
 * that for an order waiting for its ack; fuzz_v1_orders.c covers answers
 * that come from the ack).
 *
 * Checks: ASan/UBSan in every server thread; the server always answers or
 * closes (no hang: a suspended request must be resumed); what comes back
 * starts with an HTTP status line; a JSON answer with its whole body
 * present (not to a HEAD request) is valid JSON.
 *
 * Differential (issue 23: the same framing answers on both paths): the
 * same bytes also go to the fast path's parser (fastpath_parse, which
 * reads every request head before libmicrohttpd may: libmicrohttpd only
 * ever parses the first request of a connection, handed over by the fast
 * path). When it hands the request over (PARSE_OTHER), libmicrohttpd
 * answers exactly one response and closes (Connection: close: nothing
 * after the input's first request is answered). When it refuses the head
 * (400/501), libmicrohttpd answers the same status, except for what the
 * fast path refuses and libmicrohttpd 0.9.75 would have read in its own way
 * (mhd_blind; docs/api.md, Framing): a NUL, a control character or a bare
 * LF in the head, a field line with an empty name, an obs-fold it glues
 * without a trace, a malformed chunked body; 413/414/431 are the fast
 * path's own; and a request line libmicrohttpd would refuse first. When the fast path would serve the request itself,
 * libmicrohttpd must not refuse its head (400, 501, 505).
 */
#include "http_driver.h"
#include "http/fastpath.h"

#include <jansson.h>

static struct fuzz_srv srv;
static char resp[1 << 20];
static char peek[FP_MAX];

static int starts_ci(const uint8_t *p, const uint8_t *end, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(end - p) >= n && strncasecmp((const char *)p, name, n) == 0;
}

/* The head has what libmicrohttpd 0.9.75 reads without a trace: a line
 * starting with SP or HTAB after a field line whose name is not
 * Content-Length or Transfer-Encoding (glued to that name), or after any
 * field line when it holds only spaces and tabs (nothing to glue); or a
 * field line with an empty name (": x", taken as the head's end). */
static int mhd_blind(const uint8_t *d, size_t n)
{
    const uint8_t *end = memmem(d, n, "\r\n\r\n", 4);
    if (!end)
        return 1;               /* no CRLF CRLF: a bare LF ends it, or too long */
    for (const uint8_t *p = d; p < end + 4; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n') || *p == 0x7f ||
            (*p == '\n' && (p == d || p[-1] != '\r')))
            return 1;
    const uint8_t *prev = NULL, *line = d;
    for (int no = 0; line < end + 2; no++) {
        const uint8_t *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (no >= 1 && line[0] == ':')
            return 1;
        if (no >= 2 && (line[0] == ' ' || line[0] == '\t')) {
            size_t ws = strspn((const char *)line, " \t");
            if (line + ws >= eol || (!starts_ci(prev, line, "content-length") &&
                                     !starts_ci(prev, line, "transfer-encoding")))
                return 1;
        }
        prev = line;
        line = eol + 2;
    }
    return 0;
}

/* The request line is not "token SP target SP HTTP/1.0|1.1": the fast
 * path checks the rest of the head all the same and may refuse it for
 * something there (its answer is the one a client gets), where
 * libmicrohttpd would refuse the request line first (400, 505). */
static int odd_request_line(const uint8_t *d, size_t n)
{
    const uint8_t *eol = memmem(d, n, "\r\n", 2);
    if (!eol)
        return 1;
    size_t len = (size_t)(eol - d), m = 0;
    while (m < len && d[m] > 0x20 && d[m] < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", d[m]))
        m++;
    if (m == 0 || m >= len || d[m] != ' ' || len < m + 11)
        return 1;
    const uint8_t *ver = eol - 8;
    if (ver[-1] != ' ' || memcmp(ver, "HTTP/1.", 7) || (ver[7] != '0' && ver[7] != '1'))
        return 1;
    return ver - 1 == d + m || memchr(d + m + 1, ' ', (size_t)(ver - 1 - (d + m + 1))) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fast_req q;
    size_t m = size < sizeof(peek) ? size : sizeof(peek);
    memcpy(peek, data, m);
    int fast = fastpath_parse(peek, m, &q);
    size_t n = fuzz_exchange(&srv, 1, data, size, resp, sizeof(resp), 1);
    const char *body, *ctype;
    size_t blen;
    int status = n ? fuzz_parse_response(resp, n, &body, &blen, &ctype) : 0;
    if (fast == PARSE_BAD && status != (int)q.status && q.status != 413 &&
        q.status != 414 && q.status != 431 && !strstr(q.msg, "chunked body") &&
        !mhd_blind(data, size) && !odd_request_line(data, size)) {
        fprintf(stderr, "differential: the fast path answers %u (%s), libmicrohttpd "
                "%d: %.300s\n", q.status, q.msg, status, resp);
        abort();
    }
    if (fast == PARSE_OK && (status == 400 || status == 501 || status == 505)) {
        fprintf(stderr, "differential: the fast path serves it, libmicrohttpd "
                "answers %d: %.300s\n", status, resp);
        abort();
    }
    if (n == 0)
        return 0;
    if (status < 100 || status > 599)
        abort(); /* not an HTTP response */
    if (fast == PARSE_OTHER && status >= 200 && body && body + blen < resp + n) {
        fprintf(stderr, "differential: libmicrohttpd answered more than one request "
                "on a connection: %.600s\n", resp);
        abort();
    }
    if (body && ctype && !strncmp(ctype, "application/json", 16) &&
        !(size >= 4 && !memcmp(data, "HEAD", 4))) {
        json_error_t jerr;
        json_t *v = json_loadb(body, blen, 0, &jerr);
        if (!v) {
            fprintf(stderr, "status %d: body is not JSON (%s): %.*s\n", status,
                    jerr.text, (int)(blen > 2000 ? 2000 : blen), body);
            abort();
        }
        json_decref(v);
    }
    return 0;
}

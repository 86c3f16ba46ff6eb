/*
 * fuzz_http — libFuzzer harness for a whole HTTP request through the
 * ingest server: the input is the raw bytes a client sends (request line,
 * headers, body; several pipelined requests are fine), on a real
 * connection to the real server (fuzz/http_driver.h: libmicrohttpd, the
 * access handler and route table of src/ingest/http.c, /orderitem and
 * /v1/orders appending to an embedded log, API keys on: send
 * "Authorization: Bearer fuzz-key-0123456789").
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
 * reads the first request of every connection in salesflow). When it
 * refuses the head (400/501), libmicrohttpd — as on a connection handed to
 * it, where it parses every later request — must answer the first request
 * with the same status; when the fast path would serve the request itself,
 * libmicrohttpd must not refuse its head (400, 501, 505). The documented
 * exceptions (docs/api.md, Framing; mhd_blind): what libmicrohttpd 0.9.75
 * takes without leaving a trace in the fields it hands over.
 */
#include "http_driver.h"
#include "ingest/fastpath.h"

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
        return 0;
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
    if (fast == PARSE_BAD && status != (int)q.status && !mhd_blind(data, size)) {
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

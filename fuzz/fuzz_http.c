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
 */
#include "http_driver.h"

#include <jansson.h>

static struct fuzz_srv srv;
static char resp[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = fuzz_exchange(&srv, 1, data, size, resp, sizeof(resp), 1);
    if (n == 0)
        return 0;
    const char *body, *ctype;
    size_t blen;
    int status = fuzz_parse_response(resp, n, &body, &blen, &ctype);
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

/*
 * fastpath — the front of the HTTP server: its own epoll loops (one per
 * HTTP thread) accept every connection and serve the ingestion POSTs
 * (/orderitem, /v1/orders) themselves; everything else goes to
 * libmicrohttpd.
 *
 * Why: an order's answer waits for the fsync that makes it durable. With
 * libmicrohttpd that wait is a suspend and a resume of the connection per
 * request (an epoll_ctl each way, a wakeup of its thread per connection),
 * which cost more than the rest of the request together. Here a waiting
 * request just sits on its connection; the log writer queues finished
 * requests to their loop and wakes it once per group commit.
 *
 * The fast path reads with MSG_PEEK and takes a request off the socket
 * only when it has all of it and understands all of it: request line
 * "POST /orderitem|/v1/orders HTTP/1.1", one Host, one Content-Length, no
 * Transfer-Encoding, Expect, Upgrade or Content-Encoding (but identity), at
 * most 16 KiB of header and 64 KiB
 * in all. A request whose head breaks the framing rules (head_field) is
 * answered 400/501 here, whatever its route, and the connection closed. For anything else — another route or method, HTTP/1.0, a chunked
 * or large body, a request still incomplete after 100 ms — the connection
 * is handed to libmicrohttpd (the server's handoff) with that request still
 * unread, so libmicrohttpd answers it and every later one exactly as it
 * would have. Answers are the same bytes either way.
 */
#ifndef SF_HTTP_FASTPATH_H
#define SF_HTTP_FASTPATH_H

#include "http/framing.h"
#include "http/transport.h"

#include <sys/socket.h>

struct fastpath;
struct conntrack;

#define FP_MAX (64 * 1024)      /* a request (head and body) the fast path takes */
#define FP_HEAD_MAX (16 * 1024) /* its request line and headers */
#define FP_VALUE_MAX HTTP_VALUE_MAX /* a header value it keeps */

enum { PARSE_OK, PARSE_MORE, PARSE_OTHER, PARSE_BAD };

struct fast_req {
    const char *route;          /* "/orderitem" or "/v1/orders" */
    size_t head_len, total;     /* request line and headers; with the body */
    int close;                  /* Connection: close */
    /* Authorization, Content-Type, Content-Length, Host, Origin,
     * Content-Encoding */
    char *val[6];
    unsigned status;            /* PARSE_BAD: the answer (400, 501) */
    const char *msg;            /* and its message */
    int hold;                   /* PARSE_MORE: never hand it over incomplete
                                 * (its head, or its chunked body, is not
                                 * checked to the end yet) */
};

/* The request at buf[0..n): one the fast path serves (PARSE_OK, q filled),
 * one it cannot judge yet (PARSE_MORE), one for libmicrohttpd
 * (PARSE_OTHER), or one whose head breaks the framing rules (PARSE_BAD:
 * q->status and q->msg; answered, then the connection closed). The head
 * of every request is checked, whatever its route, before libmicrohttpd
 * may see it: a NUL, a control character or a bare LF anywhere in it is
 * 400, and so is a chunked body (as far as it fits in FP_MAX) that breaks
 * RFC 9112 7.1. A request line that is not "METHOD SP target SP
 * HTTP/1.0|1.1" is left to libmicrohttpd (it answers 400 or 505, see
 * docs/api.md) once the rest of its head passed. The values in q are cut
 * out of buf in place (NUL-ended). */
int fastpath_parse(char *buf, size_t n, struct fast_req *q);

/* Give an accepted connection, at a request boundary with its request
 * still unread, to the other transport (which closes fd on failure). */
typedef void (*fastpath_handoff)(void *arg, int fd, const struct sockaddr *addr,
                                 socklen_t addrlen);

/* Serve on listen_fd (listening, non-blocking) with `threads` loops,
 * through core's pipeline; connections it does not serve go to handoff. */
struct fastpath *fastpath_start(struct http_core *core, int listen_fd, int threads,
                                struct conntrack *ct, fastpath_handoff handoff,
                                void *handoff_arg, char *errstr, size_t errstr_size);
/* Stop accepting connections. */
void fastpath_quiesce(struct fastpath *fp);
/* Wait for the requests in flight, answer them, close every connection. */
void fastpath_stop(struct fastpath *fp);

#endif

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
 * Transfer-Encoding, Expect or Upgrade, at most 16 KiB of header and 64 KiB
 * in all. A request whose head breaks the framing rules (head_field) is
 * answered 400/501 here, whatever its route, and the connection closed. For anything else — another route or method, HTTP/1.0, a chunked
 * or large body, a request still incomplete after 100 ms — the connection
 * is handed to libmicrohttpd (MHD_add_connection) with that request still
 * unread, so libmicrohttpd answers it and every later one exactly as it
 * would have. Answers are the same bytes either way.
 */
#ifndef SF_FASTPATH_H
#define SF_FASTPATH_H

#include "ingest/http.h"

#include <sys/socket.h>

struct fastpath;
struct conntrack;

/* The headers the routes look at, NUL-terminated, or NULL when absent. */
struct http_head {
    const char *authorization;
    const char *content_type;
    const char *content_length;
    const char *host;
    const char *origin;
    const char *content_encoding;
    const char *accept_encoding;    /* NULL on the fast path (POSTs only) */
    int codings;                    /* Content-Encoding fields (2: stacked) */
};

/* Strict framing (RFC 9112), one set of rules for both paths: the fast
 * path feeds it the fields of the raw head it reads, http.c the fields
 * libmicrohttpd parsed (for requests on a connection it was handed). Each
 * field goes to head_field in order, then head_verdict judges the framing
 * (Content-Length, Transfer-Encoding, Host). Both return 0, or the status
 * to answer (400, or 501 for a transfer coding other than a lone
 * "chunked") with *msg, after which the connection is closed. */
struct head_check {
    int http10;                 /* HTTP/1.0: Host may be absent */
    unsigned hosts, lengths, encodings;
    unsigned codings;           /* Content-Encoding fields */
    int length_bad;             /* a Content-Length that is not 1*DIGIT */
    int coding_bad;             /* a Transfer-Encoding other than "chunked" */
};
unsigned head_field(struct head_check *hc, const char *name, size_t nlen,
                    const char *value, size_t vlen, const char **msg);
unsigned head_verdict(const struct head_check *hc, const char **msg);

#define FP_MAX (64 * 1024)      /* a request (head and body) the fast path takes */
#define FP_HEAD_MAX (16 * 1024) /* its request line and headers */
#define FP_VALUE_MAX 1024       /* a header value it keeps */

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

/* Serve on listen_fd (listening, non-blocking) with `threads` loops. */
struct fastpath *fastpath_start(struct http_server *s, int listen_fd, int threads,
                                struct conntrack *ct, char *errstr, size_t errstr_size);
/* Stop accepting connections. */
void fastpath_quiesce(struct fastpath *fp);
/* Wait for the requests in flight, answer them, close every connection. */
void fastpath_stop(struct fastpath *fp);

/* Queue r's response on its fast connection (HTTP thread). */
void fastpath_reply(struct http_req *r, unsigned status, const char *ctype,
                    const char *body, size_t len, const char *hname, const char *hval);
/* r was finished (http_finish): answer it on its loop (any thread). */
void fastpath_finish(struct http_req *r);

/* Provided by http.c, shared by both paths. */
struct http_req *http_req_new(struct http_server *s, const char *url);
/* Route by method and path, check the key, type and declared length. A reply
 * queued here ends the request; otherwise the handler is chosen. */
enum MHD_Result http_route(struct http_req *r, const char *url, const char *method,
                           const struct http_head *h);
/* Body bytes, within the route's limit and the server's budget. */
void http_body_take(struct http_req *r, const char *data, size_t n);
/* The whole body is in: answer 413/503, or run the handler. */
enum MHD_Result http_run(struct http_req *r);
/* A finished request is being resumed: queue its answer. */
enum MHD_Result http_resumed(struct http_req *r);
/* Count the answer (status 0: none) and free r. */
void http_req_free(struct http_req *r, unsigned status);
/* Hand an accepted connection to libmicrohttpd (which closes fd on failure). */
void http_handoff(struct http_server *s, int fd, const struct sockaddr *addr,
                  socklen_t addrlen);

#endif

/*
 * mhd — the libmicrohttpd transport (transport.h): every connection the
 * fast path does not serve is handed here, at a request boundary, and
 * libmicrohttpd reads it to its end. Its access handler feeds the request
 * pipeline; a suspended request is libmicrohttpd's suspend and resume.
 *
 * The dashboard's routes (web/) need more of libmicrohttpd than replies of
 * a copied buffer (a streamed body, static files without a copy, query
 * arguments): they run only here, never on the fast path, and reach the
 * connection through http_mhd_conn.
 */
#ifndef SF_HTTP_MHD_H
#define SF_HTTP_MHD_H

#include <microhttpd.h>
#include <sys/socket.h>

#include "http/transport.h"

struct http_mhd;
struct conntrack;

/* Start libmicrohttpd without a listening socket: `threads` threads over
 * epoll, or (poll set; the fuzz harnesses) one thread over poll(), which
 * notices a client's half-close. NULL + errstr. */
struct http_mhd *http_mhd_start(struct http_core *core, struct conntrack *ct,
                                unsigned threads, unsigned max_conns, int poll,
                                char *errstr, size_t errstr_size);
/* Take over an accepted connection: 0, or -1 with errno (fd closed). */
int http_mhd_adopt(struct http_mhd *m, int fd, const struct sockaddr *addr,
                   socklen_t addrlen);
/* The same, logging a failure: a fastpath_handoff, arg being the http_mhd. */
void http_mhd_add(void *arg, int fd, const struct sockaddr *addr, socklen_t addrlen);
void http_mhd_stop(struct http_mhd *m);

/* r's libmicrohttpd connection; NULL when r came over another transport. */
struct MHD_Connection *http_mhd_conn(const struct http_req *r);

/* Queue resp on a libmicrohttpd connection, as every answer libmicrohttpd
 * sends is queued: with X-Content-Type-Options: nosniff and Connection:
 * close. libmicrohttpd never parses a second request on a connection: only
 * first requests, whose head the fast path has checked (docs/api.md,
 * "Framing"). */
enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp);
/* Content-Encoding: gzip on resp when gz, and Vary: Accept-Encoding when
 * r's route may answer compressed (http_gzip_buf, http.h). */
void http_coding_headers(struct http_req *r, struct MHD_Response *resp, int gz);
/* http_queue on r's connection (HTTP_CLOSE when r is not libmicrohttpd's). */
enum http_result http_mhd_queue(struct http_req *r, unsigned status,
                                struct MHD_Response *resp);

#endif

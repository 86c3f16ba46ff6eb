/*
 * mhd — the libmicrohttpd transport; see mhd.h.
 *
 * MHD calls the access handler several times per request: once with the
 * headers (the pipeline picks the route and rejects bad method, type or
 * size early), then once per chunk of body (appended to a buffer within
 * the route's limit), then once with no data (the route's handler runs).
 * A suspended request is called once more after http_finish resumes it,
 * and then queues the reply the finisher prepared. The completion
 * callback frees the request.
 */
#include "http/mhd.h"
#include "http/conntrack.h"
#include "http/framing.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_mhd {
    struct MHD_Daemon *d;
    struct http_core *core;
};

enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp)
{
    if (MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
        return MHD_NO;
    return MHD_queue_response(conn, status, resp);
}

void http_coding_headers(struct http_req *r, struct MHD_Response *resp, int gz)
{
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (r->route_flags & HTTP_ROUTE_GZIP)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

/* The transport's reply: a response with a copy of body (gzip-compressed,
 * for a 200 the route and client take so). */
static enum http_result mhd_reply(struct http_req *r, unsigned status, const char *ctype,
                                  const char *body, size_t len, const char *hname,
                                  const char *hval)
{
    struct sf_buf z;
    sf_buf_init(&z, len);
    int gz = status == MHD_HTTP_OK && http_gzip_into(r, body, len, &z);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        gz ? z.len : len, gz ? z.data : (void *)body, MHD_RESPMEM_MUST_COPY);
    sf_buf_free(&z);
    if (!resp)
        return HTTP_CLOSE;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    http_coding_headers(r, resp, gz);
    if (hname && strcasecmp(hname, MHD_HTTP_HEADER_CONNECTION) != 0)
        MHD_add_response_header(resp, hname, hval);     /* http_queue closes */
    enum MHD_Result rc = http_queue(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc == MHD_YES ? HTTP_OK : HTTP_CLOSE;
}

static void mhd_suspend(struct http_req *r)
{
    MHD_suspend_connection(r->conn);
}

static void mhd_finish(struct http_req *r)
{
    MHD_resume_connection(r->conn);
}

static const struct http_transport mhd_transport = {
    .name = "libmicrohttpd",
    .reply = mhd_reply,
    .suspend = mhd_suspend,
    .finish = mhd_finish,
};

struct MHD_Connection *http_mhd_conn(const struct http_req *r)
{
    return r->tp == &mhd_transport ? r->conn : NULL;
}

enum http_result http_mhd_queue(struct http_req *r, unsigned status,
                                struct MHD_Response *resp)
{
    struct MHD_Connection *conn = http_mhd_conn(r);
    return conn && http_queue(conn, status, resp) == MHD_YES ? HTTP_OK : HTTP_CLOSE;
}

static enum MHD_Result mhd_result(enum http_result rc)
{
    return rc == HTTP_OK ? MHD_YES : MHD_NO;
}

/* libmicrohttpd's parsed fields, through the framing rules both paths
 * share (framing.h: head_field). */
struct field_walk {
    struct head_check hc;
    unsigned status;
    const char *msg;
};

static enum MHD_Result walk_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct field_walk *w = cls;
    (void)kind;
    if (!value)
        value = "";
    w->status = head_field(&w->hc, key, strlen(key), value, strlen(value), &w->msg);
    return w->status ? MHD_NO : MHD_YES;
}

/* libmicrohttpd decodes %HH in the path and the query before the handler
 * sees them: a decoded NUL would end the path there (/api/query%00x served
 * as /api/query, DELETE /api/charts/1%00x deleting chart 1). It becomes
 * 0x01 instead, a control character that on_headers refuses (400) as it
 * refuses any other in the request line. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    size_t n = MHD_http_unescape(s);
    for (size_t i = 0; i < n; i++)
        if (!s[i])
            s[i] = 0x01;
    return n;
}

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* A control character in the query (raw, or as libmicrohttpd decoded it):
 * refused like one in the rest of the request line. A decoded NUL (%00),
 * which would cut the value short (state=%00CA read as no filter at all),
 * arrives as 0x01 (unescape); the sizes are checked as well. */
static enum MHD_Result walk_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    struct field_walk *w = cls;
    (void)kind;
    if (!has_ctl(key) && !has_ctl(value) && strlen(key) == key_size &&
        (!value || strlen(value) == value_size))
        return MHD_YES;
    w->status = 400;
    w->msg = "Bad Request: a control character in the request line; send "
             "METHOD SP target SP HTTP/1.1";
    return MHD_NO;
}

/* The field `name`'s value without trailing whitespace (RFC 9110 5.5: OWS
 * around a value is not part of it; libmicrohttpd 0.9.75 strips it only
 * before the value, the fast path on both sides), copied to buf
 * (HTTP_VALUE_MAX + 1 bytes) when there is some; longer values as they are. */
static const char *trimmed(struct MHD_Connection *conn, const char *name, char *buf)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (!n || (v[n - 1] != ' ' && v[n - 1] != '\t') || n > HTTP_VALUE_MAX)
        return v;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static enum http_result on_headers(struct http_req *r, const char *url,
                                   const char *method, const char *version)
{
    /* The head libmicrohttpd parsed, through the rules the fast path
     * applies to the raw bytes (framing.h: head_field): a request framed
     * two ways, or unclearly, may be read differently by a proxy in front,
     * and the rest of a kept-alive connection would be parsed out of step.
     * Refuse it and close the connection (RFC 9112, 6.1 and 6.3). */
    struct field_walk w = {.hc.http10 = version && strcmp(version, "HTTP/1.0") == 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, walk_field, &w);
    if (!w.status)
        for (const char *u = url; *u; u++)
            if ((unsigned char)*u < 0x20 || *u == 0x7f) {
                w.status = 400;
                w.msg = "Bad Request: a control character in the request line; send "
                        "METHOD SP target SP HTTP/1.1";
                break;
            }
    if (!w.status)              /* the query, which url does not hold */
        MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, walk_arg, &w);
    for (const char *m = method; !w.status && *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f) {
            w.status = 400;
            w.msg = "Bad Request: a control character in the request line; send "
                    "METHOD SP target SP HTTP/1.1";
        }
    if (!w.status)
        w.status = head_verdict(&w.hc, &w.msg);
    if (w.status)
        return http_error_hdr(r, w.status, w.msg, MHD_HTTP_HEADER_CONNECTION, "close");
    char tb[8][HTTP_VALUE_MAX + 1];
    const union MHD_ConnectionInfo *peer =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct http_head h = {
        .authorization = trimmed(r->conn, MHD_HTTP_HEADER_AUTHORIZATION, tb[0]),
        .content_type = trimmed(r->conn, MHD_HTTP_HEADER_CONTENT_TYPE, tb[1]),
        .content_length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH),
        .host = trimmed(r->conn, MHD_HTTP_HEADER_HOST, tb[2]),
        .origin = trimmed(r->conn, MHD_HTTP_HEADER_ORIGIN, tb[3]),
        .content_encoding = trimmed(r->conn, MHD_HTTP_HEADER_CONTENT_ENCODING, tb[4]),
        .accept_encoding = trimmed(r->conn, MHD_HTTP_HEADER_ACCEPT_ENCODING, tb[5]),
        .accept = trimmed(r->conn, MHD_HTTP_HEADER_ACCEPT, tb[6]),
        .cookie = trimmed(r->conn, MHD_HTTP_HEADER_COOKIE, tb[7]),
        .codings = (int)w.hc.codings,
        .peer = peer ? peer->client_addr : NULL,
    };
    return http_route_request(r, url, method, &h);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version, const char *upload,
                                      size_t *upload_size, void **con_cls)
{
    struct http_mhd *m = cls;
    struct http_req *r = *con_cls;

    if (!r) {
        if (!(r = http_req_new(m->core, url, &mhd_transport, conn)))
            return MHD_NO;
        *con_cls = r;
        if (conntrack_headers_done(conn))
            return MHD_NO;      /* it was sent 408 or 503: close, serve nothing */
        enum http_result rc = on_headers(r, url, method, version);
        if (rc == HTTP_OK && r->too_big)
            return mhd_result(http_too_big(r));
        return mhd_result(rc);
    }
    if (*upload_size) {
        http_body_take(r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->suspended) {
        /* Resumed by http_finish: send what the finisher prepared. */
        if (!atomic_load(&r->finished))
            return MHD_YES;
        return mhd_result(http_resumed(r));
    }
    if (conntrack_body_done(conn))
        return MHD_NO;
    return mhd_result(http_run(r));
}

/* libmicrohttpd's own messages (a client that went away mid-request, a
 * failed accept, ...) go through our logger, so that every line of stderr
 * has the configured format. They are warnings: most are about a client,
 * the rest about resources. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (n)
        log_warn("http: %s", msg);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;
    (void)cls, (void)toe;
    conntrack_request_done(c);
    if (!r)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    http_req_free(r, ci ? ci->http_status : 0);
    *con_cls = NULL;
}

int http_mhd_adopt(struct http_mhd *m, int fd, const struct sockaddr *addr,
                   socklen_t addrlen)
{
    return MHD_add_connection(m->d, fd, addr, addrlen) == MHD_YES ? 0 : -1;
}

void http_mhd_add(void *arg, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    if (http_mhd_adopt(arg, fd, addr, addrlen))
        log_warn("http: cannot hand a connection to libmicrohttpd: %s", strerror(errno));
}

struct http_mhd *http_mhd_start(struct http_core *core, struct conntrack *ct,
                                unsigned threads, unsigned max_conns, int poll,
                                char *errstr, size_t n)
{
    struct http_mhd *m = calloc(1, sizeof(*m));
    if (!m) {
        sf_err(-1, errstr, n, "out of memory");
        return NULL;
    }
    m->core = core;
    /* No listening socket of its own: the fast path accepts every
     * connection and hands libmicrohttpd those it does not serve. */
    unsigned flags = poll ? MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME
                          : MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                                MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    errno = 0;
    m->d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, m,
                            /* First, or libmicrohttpd prints a warning itself. */
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_THREAD_POOL_SIZE, poll ? 1u : threads,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, m,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, max_conns,
                            MHD_OPTION_NOTIFY_CONNECTION, conntrack_notify, ct,
                            /* Request line + headers + read buffer: headers
                             * well over the 32 KiB pool get 431 from libmicrohttpd. */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_END);
    if (!m->d) {
        sf_err(-1, errstr, n, "%s", errno ? strerror(errno) : "libmicrohttpd failed to start");
        free(m);
        return NULL;
    }
    return m;
}

void http_mhd_stop(struct http_mhd *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->d);
    free(m);
}

/*
 * http — server setup, routing, body collection, suspend/resume plumbing.
 *
 * MHD calls the access handler several times per request: once with the
 * headers (we pick the route and reject bad method, type or size early),
 * then once per chunk of body (appended to a buffer capped at 1 MiB), then
 * once with no data (we run the route's handler). A suspended request is
 * called once more after http_finish resumes it, and then queues the reply
 * the finisher prepared. The completion callback frees the request.
 *
 * The fast path (fastpath.c) serves the ingestion POSTs it takes with the
 * same pieces: http_req_new, http_route, http_body_take, http_run,
 * http_resumed, http_req_free; replies go to whichever connection r has.
 */
#include "ingest/http.h"
#include "ingest/auth.h"
#include "ingest/conntrack.h"
#include "ingest/fastpath.h"
#include "core/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    struct http_ctx ctx;
    struct conntrack *ct;
    struct fastpath *fp;
    int listen_fd;
    char *hosts;                    /* ctx.allowed_hosts in force (http_start) */
};

/* Bytes of request bodies held in memory by all connections together; past
 * SF_BODY_BUDGET new body bytes get 503, so many big uploads at once cannot
 * exhaust memory. */
static atomic_size_t body_bytes;

/* The reply budget (http.h): a reply is held until its client reads it,
 * and per-row replies can be many times the size of their request, so
 * clients that send big batches and never read could otherwise hold
 * unbounded memory. Past it, new batches get 503 before anything is done. */
#define SF_REPLY_BUDGET ((size_t)32 << 20)
static atomic_size_t reply_bytes;

/* Connections libmicrohttpd may hold past --max-connections: the ones being
 * refused (see conntrack.h), for the moment until they are closed. */
#define SF_CONN_HEADROOM 64u

/* Route flags: the kind of body, and whether an API key is needed (when
 * keys are configured: the ingestion API; dashboard and queries are open). */
enum { BODY_NONE = 0, BODY_JSON = 1, BODY_JSON_OR_NDJSON = 2, BODY_MASK = 3,
       ROUTE_AUTH = 0x100, ROUTE_GZIP = 0x200 /* large answers: gzip if taken */ };

struct route {
    const char *method;
    const char *path;
    http_handler fn;
    int json_body;          /* BODY_* | ROUTE_AUTH */
};

static const struct route routes[] = {
    {"POST", "/orderitem", ingest_orderitem, BODY_JSON | ROUTE_AUTH},
    {"POST", "/v1/orders", ingest_v1_orders, BODY_JSON_OR_NDJSON | ROUTE_AUTH},
    {"GET", "/v1/quarantine", ingest_v1_quarantine, ROUTE_AUTH | ROUTE_GZIP},
    {"GET", "/openapi.json", ingest_openapi, ROUTE_GZIP},
    {"GET", "/docs", ingest_docs, ROUTE_GZIP},
    {"GET", "/api/sales", web_api_sales, 0},
    {"GET", "/api/sales/minute", web_api_sales_minute, ROUTE_GZIP},
    {"GET", "/api/sales/second", web_api_sales_second, ROUTE_GZIP},
    {"GET", "/api/orders", web_api_orders, ROUTE_GZIP},
    {"GET", "/api/pipeline", web_api_pipeline, 0},
    {"GET", "/api/stream", web_api_stream, 0},
    {"GET", "/healthz", web_healthz, 0},
    {"GET", "/readyz", web_readyz, 0},
    {"GET", "/metrics", web_metrics, ROUTE_GZIP},
    {"GET", "/", web_get, ROUTE_GZIP},
    {"GET", "/app.js", web_get, ROUTE_GZIP},
    {"GET", "/style.css", web_get, ROUTE_GZIP},
    {"GET", "/echarts.min.js", web_get, ROUTE_GZIP},
};

enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status,
                           struct MHD_Response *resp)
{
    if (MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
        return MHD_NO;
    return MHD_queue_response(conn, status, resp);
}

/* body's gzip form into z, when r takes it and it is worth it (z's limit:
 * no larger than body). Returns 1 if z holds it. */
static int gzip_into(struct http_req *r, const char *body, size_t len, struct sf_buf *z)
{
    return r->gzip_ok && len >= HTTP_GZIP_MIN && coding_gzip(body, len, 6, z) == 0;
}

int http_gzip_buf(struct http_req *r, struct sf_buf *b)
{
    struct sf_buf z;
    sf_buf_init(&z, b->len);
    if (!b->data || !gzip_into(r, b->data, b->len, &z)) {
        sf_buf_free(&z);
        return 0;
    }
    sf_buf_free(b);
    *b = z;
    return 1;
}

void http_coding_headers(struct http_req *r, struct MHD_Response *resp, int gz)
{
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (r->route_flags & ROUTE_GZIP)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

/* Queue a response on r's connection, with one extra header if hname. */
static enum MHD_Result reply_hdr(struct http_req *r, unsigned status, const char *ctype,
                                 const char *body, size_t len, const char *hname,
                                 const char *hval)
{
    if (r->fc) {
        fastpath_reply(r, status, ctype, body, len, hname, hval);
        return MHD_YES;
    }
    struct sf_buf z;
    sf_buf_init(&z, len);
    int gz = status == MHD_HTTP_OK && gzip_into(r, body, len, &z);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        gz ? z.len : len, gz ? z.data : (void *)body, MHD_RESPMEM_MUST_COPY);
    sf_buf_free(&z);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    http_coding_headers(r, resp, gz);
    if (hname && strcasecmp(hname, MHD_HTTP_HEADER_CONNECTION) != 0)
        MHD_add_response_header(resp, hname, hval);     /* http_queue closes */
    enum MHD_Result rc = http_queue(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result http_reply(struct http_req *r, unsigned status, const char *ctype,
                           const char *body, size_t len)
{
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        return reply_hdr(r, status, ctype, body, len, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    /* The log could not be written (disk full, I/O error): later, too. */
    if (status == MHD_HTTP_INSUFFICIENT_STORAGE)
        return reply_hdr(r, status, ctype, body, len, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    /* A client over its own share (of live streams): later, not at once. */
    if (status == MHD_HTTP_TOO_MANY_REQUESTS)
        return reply_hdr(r, status, ctype, body, len, MHD_HTTP_HEADER_RETRY_AFTER, "10");
    return reply_hdr(r, status, ctype, body, len, NULL, NULL);
}

enum MHD_Result http_reply_json(struct http_req *r, unsigned status, const char *json)
{
    return http_reply(r, status, "application/json", json, strlen(json));
}

/* {"detail": msg}, with one extra header if hname. */
static enum MHD_Result error_hdr(struct http_req *r, unsigned status, const char *msg,
                                 const char *hname, const char *hval)
{
    struct sf_buf b;
    sf_buf_init(&b, 4096);
    sf_buf_append(&b, "{\"detail\":", 10);
    sf_buf_json_str(&b, msg);
    sf_buf_append(&b, "}", 1);
    const char *body = b.data ? b.data : "{}";  /* out of memory: still answer */
    size_t len = b.data ? b.len : 2;
    enum MHD_Result rc =
        hname ? reply_hdr(r, status, "application/json", body, len, hname, hval)
              : http_reply(r, status, "application/json", body, len);
    sf_buf_free(&b);
    return rc;
}

enum MHD_Result http_error(struct http_req *r, unsigned status, const char *msg)
{
    return error_hdr(r, status, msg, NULL, NULL);
}

void http_suspend(struct http_req *r)
{
    r->suspended = 1;
    if (!r->fc)
        MHD_suspend_connection(r->conn);
}

void http_finish(struct http_req *r, unsigned status)
{
    r->status = status;
    atomic_store(&r->finished, 1);
    if (r->fc)
        fastpath_finish(r);
    else
        MHD_resume_connection(r->conn);
}

enum MHD_Result http_resumed(struct http_req *r)
{
    r->suspended = 0;
    if (r->on_resume)
        return r->on_resume(r);
    return http_reply_json(r, r->status, r->reply.data ? r->reply.data : "{}");
}

/* ct is `type` with optional parameters ("; charset=utf-8", OWS before
 * the ';' allowed as RFC 9110 8.3.1 does), any case. */
static int is_type(const char *ct, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    while (ct[n] == ' ' || ct[n] == '\t')
        n++;
    return ct[n] == '\0' || ct[n] == ';';
}

static int is_json_type(const char *ct)
{
    return is_type(ct, "application/json");
}

static int is_ndjson_type(const char *ct)
{
    return is_type(ct, "application/x-ndjson") || is_type(ct, "application/ndjson") ||
           is_type(ct, "application/jsonl") || is_type(ct, "application/x-jsonlines");
}

static enum MHD_Result too_big(struct http_req *r)
{
    char msg[160];
    size_t max = r->body_max;
    /* --max-body bounds the body as it is parsed: decoded, when encoded. */
    const char *dec = r->decoding ? " once decoded" : "";
    if (max % (1u << 20) == 0)
        snprintf(msg, sizeof(msg), "Request body is larger than %zu MiB%s; split it",
                 max >> 20, dec);
    else
        snprintf(msg, sizeof(msg), "Request body is larger than %zu bytes%s; split it",
                 max, dec);
    return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
}

/* 401 with the challenge; the message never echoes what was sent. */
static enum MHD_Result unauthorized(struct http_req *r, int why)
{
    return error_hdr(r, MHD_HTTP_UNAUTHORIZED,
                     why == -1 ? "Not authenticated: send the header Authorization: "
                                 "Bearer <API key>"
                               : "Invalid API key",
                     MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"salesflow\"");
}

/* libmicrohttpd's parsed fields, through the framing rules both paths
 * share (fastpath.h: head_field). */
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

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* A control character in the query (raw, or as libmicrohttpd decoded it):
 * refused like one in the rest of the request line. */
static enum MHD_Result walk_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct field_walk *w = cls;
    (void)kind;
    if (!has_ctl(key) && !has_ctl(value))
        return MHD_YES;
    w->status = 400;
    w->msg = "Bad Request: a control character in the request line; send "
             "METHOD SP target SP HTTP/1.1";
    return MHD_NO;
}

/* host ("name", "name:port", "[v6]" or "[v6]:port") is in the
 * comma-separated list (NULL or "*" in it: any); an entry with a port
 * must match with it, one without matches any port. */
static int host_allowed(const char *list, const char *host)
{
    if (!list)
        return 1;
    size_t n = strlen(host), name = n;
    const char *colon = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (colon) {
        if (host[0] == '[')
            colon++;
        name = (size_t)(colon - host);
        if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return 0;           /* not a port */
    }
    if (host[0] == '[' ? host[name - 1] != ']' : !!memchr(host, '[', name))
        return 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 1 && *p == '*')
            return 1;
        if (len && ((len == name && strncasecmp(p, host, name) == 0) ||
                    (len == n && strncasecmp(p, host, n) == 0)))
            return name > 0;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Origin ("scheme://host[:port]") is this server: the request's own Host,
 * or a host in the list. "null" (a sandboxed or file: page) is not. */
static int origin_allowed(const char *list, const char *origin, const char *host)
{
    const char *o = strstr(origin, "://");
    if (!o || !o[3] || strchr(o + 3, '/'))
        return 0;
    o += 3;
    if (host && strcasecmp(o, host) == 0)
        return 1;
    return host_allowed(list, o);
}

/* DNS rebinding and cross-site POSTs: refuse a Host this server is not,
 * and a POST from another origin. */
static int check_host(struct http_req *r, const char *method, const struct http_head *h,
                      enum MHD_Result *rc)
{
    const char *list = r->ctx->allowed_hosts;
    char msg[400];
    if (h->host && !host_allowed(list, h->host)) {
        snprintf(msg, sizeof(msg), "Misdirected Request: this server does not answer "
                 "to Host \"%.100s\"; name it with --allowed-hosts LIST "
                 "(comma-separated host names, * for any)", h->host);
        *rc = http_error(r, MHD_HTTP_MISDIRECTED_REQUEST, msg);
        return 1;
    }
    if (h->origin && strcmp(method, "POST") == 0 &&
        !origin_allowed(list, h->origin, h->host)) {
        snprintf(msg, sizeof(msg), "Forbidden: a POST from another site (Origin "
                 "\"%.100s\"); a page may post here only from this server's own "
                 "origin, or from a host named with --allowed-hosts", h->origin);
        *rc = http_error(r, MHD_HTTP_FORBIDDEN, msg);
        return 1;
    }
    return 0;
}

enum MHD_Result http_route(struct http_req *r, const char *url, const char *method,
                           const struct http_head *h)
{
    const struct route *hit = NULL;
    int path_known = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    enum MHD_Result hrc;
    if (check_host(r, method, h, &hrc))
        return hrc;
    for (size_t i = 0; i < SF_ARRAY_LEN(routes); i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        path_known = 1;
        if (strcmp(method, routes[i].method) == 0 ||
            (is_head && strcmp(routes[i].method, "GET") == 0))
            hit = &routes[i];
    }
    if (!path_known)
        return http_error(r, MHD_HTTP_NOT_FOUND, "Not Found");
    if (!hit)
        return http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
    r->handler = hit->fn;
    r->route = hit->path;
    r->route_flags = hit->json_body;
    r->gzip_ok = (hit->json_body & ROUTE_GZIP) && coding_accepts_gzip(h->accept_encoding);
    if (!r->ctx->broker && (hit->fn == ingest_orderitem || hit->fn == ingest_v1_orders))
        return http_error(r, MHD_HTTP_NOT_FOUND,    /* serve: before any body check */
                          "this server does not ingest orders");
    int body = hit->json_body & BODY_MASK;
    if ((hit->json_body & ROUTE_AUTH) && auth_enabled(r->ctx->auth)) {
        int why = auth_check(r->ctx->auth, h->authorization);
        if (why)
            return unauthorized(r, why);
    }
    if (!body)
        return MHD_YES;

    r->body_max = body == BODY_JSON_OR_NDJSON
                      ? (r->ctx->max_body ? r->ctx->max_body : SF_MAX_BODY_DEFAULT)
                      : SF_BODY_MAX;
    r->body.limit = r->body_max;
    const char *ct = h->content_type;
    if (ct && body == BODY_JSON_OR_NDJSON && is_ndjson_type(ct)) {
        r->ndjson = 1;
    } else if (!ct || !is_json_type(ct)) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Unsupported Media Type %s%.100s%s: send the "
                 "body as JSON with Content-Type: application/json%s",
                 ct ? "\"" : "(no Content-Type)", ct ? ct : "", ct ? "\"" : "",
                 body == BODY_JSON_OR_NDJSON
                     ? ", or as one JSON order per line with Content-Type: "
                       "application/x-ndjson" : "");
        return http_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    }
    const char *cmsg = "Unsupported Media Type: the body is encoded more than once "
                       "(several Content-Encoding fields)";
    if (h->codings > 1 || coding_parse(h->content_encoding, &r->coding, &cmsg)) {
        char msg[320];
        snprintf(msg, sizeof(msg), "%s%s%.60s%s; send the body compressed with one of "
                 "gzip or zstd, or with no Content-Encoding", cmsg,
                 h->codings > 1 ? "" : " \"", h->codings > 1 ? "" : h->content_encoding,
                 h->codings > 1 ? "" : "\"");
        /* RFC 9110 15.5.16: say which codings would have been taken. */
        return error_hdr(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg, "Accept-Encoding",
                         CODING_ACCEPTED);
    }
    if (h->content_length && strtoull(h->content_length, NULL, 10) > r->body_max)
        r->too_big = 1;
    return MHD_YES;
}

/* The field `name`'s value without trailing whitespace (RFC 9110 5.5: OWS
 * around a value is not part of it; libmicrohttpd 0.9.75 strips it only
 * before the value, the fast path on both sides), copied to buf
 * (FP_VALUE_MAX + 1 bytes) when there is some; longer values as they are. */
static const char *trimmed(struct MHD_Connection *conn, const char *name, char *buf)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (!n || (v[n - 1] != ' ' && v[n - 1] != '\t') || n > FP_VALUE_MAX)
        return v;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static enum MHD_Result on_headers(struct http_req *r, const char *url,
                                  const char *method, const char *version)
{
    /* The head libmicrohttpd parsed, through the rules the fast path
     * applies to the raw bytes (fastpath.h: head_field): a request framed
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
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, walk_arg, &w);
    for (const char *m = method; !w.status && *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f) {
            w.status = 400;
            w.msg = "Bad Request: a control character in the request line; send "
                    "METHOD SP target SP HTTP/1.1";
        }
    if (!w.status)
        w.status = head_verdict(&w.hc, &w.msg);
    if (w.status)
        return error_hdr(r, w.status, w.msg, MHD_HTTP_HEADER_CONNECTION, "close");
    char tb[6][FP_VALUE_MAX + 1];
    struct http_head h = {
        .authorization = trimmed(r->conn, MHD_HTTP_HEADER_AUTHORIZATION, tb[0]),
        .content_type = trimmed(r->conn, MHD_HTTP_HEADER_CONTENT_TYPE, tb[1]),
        .content_length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH),
        .host = trimmed(r->conn, MHD_HTTP_HEADER_HOST, tb[2]),
        .origin = trimmed(r->conn, MHD_HTTP_HEADER_ORIGIN, tb[3]),
        .content_encoding = trimmed(r->conn, MHD_HTTP_HEADER_CONTENT_ENCODING, tb[4]),
        .accept_encoding = trimmed(r->conn, MHD_HTTP_HEADER_ACCEPT_ENCODING, tb[5]),
        .codings = (int)w.hc.codings,
    };
    return http_route(r, url, method, &h);
}

struct http_req *http_req_new(struct http_server *s, const char *url)
{
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->url = url;
    r->ctx = &s->ctx;
    r->body_max = SF_BODY_MAX;
    sf_buf_init(&r->body, SF_BODY_MAX);
    sf_buf_init(&r->reply, 64 * 1024);
    return r;
}

void http_body_take(struct http_req *r, const char *data, size_t n)
{
    if (r->too_big || r->over_budget)
        return;
    if (atomic_fetch_add(&body_bytes, n) + n > SF_BODY_BUDGET) {
        atomic_fetch_sub(&body_bytes, n);
        r->over_budget = 1;
    } else if (sf_buf_append(&r->body, data, n)) {
        atomic_fetch_sub(&body_bytes, n);
        r->too_big = 1;
    } else {
        r->budget += n;
    }
}

/* coding_decode's sink: the decoded body, within the route's limit and the
 * server's budget, as http_body_take takes a plain one. */
static unsigned take_decoded(void *ctx, const char *p, size_t n)
{
    struct http_req *r = ctx;
    http_body_take(r, p, n);
    return r->too_big ? MHD_HTTP_CONTENT_TOO_LARGE
                      : r->over_budget ? MHD_HTTP_SERVICE_UNAVAILABLE : 0;
}

/* Replace r's encoded body by its decoded form (Content-Encoding). Returns
 * 0, or the status to answer (r->too_big / r->over_budget set for 413 and
 * 503, msg for 400). */
static unsigned decode_body(struct http_req *r, char *msg, size_t msgsz)
{
    struct sf_buf raw = r->body;
    size_t raw_budget = r->budget;
    r->decoding = 1;
    sf_buf_init(&r->body, r->body_max);
    r->budget = 0;
    unsigned st = coding_decode(r->coding, raw.data, raw.len, take_decoded, r, msg, msgsz);
    atomic_fetch_sub(&body_bytes, raw_budget);
    sf_buf_free(&raw);
    if (st == MHD_HTTP_SERVICE_UNAVAILABLE)
        r->over_budget = 1;     /* the budget, or memory: retry later */
    return st;
}

enum MHD_Result http_run(struct http_req *r)
{
    if (r->too_big)
        return too_big(r);
    char msg[400];
    unsigned st = !r->over_budget && r->coding ? decode_body(r, msg, sizeof(msg)) : 0;
    if (r->too_big)
        return too_big(r);
    if (r->over_budget)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "The server holds too many request bodies at once; retry "
                          "shortly");
    if (st)
        return http_error(r, st, msg);
    if (!r->handler)
        return MHD_NO;
    return r->handler(r);
}

int http_reply_reserve(struct http_req *r, size_t n)
{
    size_t cur = atomic_load(&reply_bytes);
    do {
        /* Alone, a batch may take more than the budget: --max-batch may
         * ask for that, and it is then served one at a time. */
        if (cur && cur + n > SF_REPLY_BUDGET) {
            r->reply_full = 1;
            return -1;
        }
    } while (!atomic_compare_exchange_weak(&reply_bytes, &cur, cur + n));
    r->reply_res += n;
    return 0;
}

void http_reply_keep(struct http_req *r, size_t n)
{
    if (n < r->reply_res) {
        atomic_fetch_sub(&reply_bytes, r->reply_res - n);
        r->reply_res = n;
    }
}

size_t http_reply_take(struct http_req *r)
{
    size_t n = r->reply_res;
    r->reply_res = 0;
    return n;
}

void http_reply_release(size_t n)
{
    atomic_fetch_sub(&reply_bytes, n);
}

void http_req_shed(struct http_req *r)
{
    if (r->state_free)
        r->state_free(r->state);
    r->state = NULL;
    r->state_free = NULL;
    atomic_fetch_sub(&body_bytes, r->budget);
    r->budget = 0;
    sf_buf_free(&r->body);
    sf_buf_free(&r->reply);
}

void http_req_free(struct http_req *r, unsigned status)
{
    if (status)
        metrics_http(r->route ? r->route : "other", status);
    if (r->state_free)
        r->state_free(r->state);
    atomic_fetch_sub(&body_bytes, r->budget);
    atomic_fetch_sub(&reply_bytes, r->reply_res);
    sf_buf_free(&r->body);
    sf_buf_free(&r->reply);
    free(r);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version, const char *upload,
                                      size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    if (!r) {
        if (!(r = http_req_new(s, url)))
            return MHD_NO;
        r->conn = conn;
        *con_cls = r;
        if (conntrack_headers_done(conn))
            return MHD_NO;      /* it was sent 408 or 503: close, serve nothing */
        enum MHD_Result rc = on_headers(r, url, method, version);
        if (rc == MHD_YES && r->too_big)
            return too_big(r);
        return rc;
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
        return http_resumed(r);
    }
    if (conntrack_body_done(conn))
        return MHD_NO;
    return http_run(r);
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

/* Parse "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
                        char *host, char *errstr, size_t n)
{
    const char *port;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= 256)
            goto bad;
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        host[end - listen - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= 256)
            goto bad;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        goto bad;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc)
        return sf_err(-1, errstr, n, "--listen %s: %s", listen, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
bad:
    return sf_err(-1, errstr, n, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8080",
                  listen);
}

void http_handoff(struct http_server *s, int fd, const struct sockaddr *addr,
                  socklen_t addrlen)
{
    if (MHD_add_connection(s->d, fd, addr, addrlen) != MHD_YES)
        log_warn("http: cannot hand a connection to libmicrohttpd: %s", strerror(errno));
}

/* The listening socket, non-blocking: -1 and errno on failure. */
static int listen_on(const struct sockaddr_storage *ss)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 1024)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* The Host names served (--allowed-hosts, see http.h): the listen
 * address's host always; then the list, or by default the loopback names
 * when listening on loopback, else any. NULL: out of memory. */
static char *allowed_hosts(const char *listen, const char *host,
                           const struct sockaddr_storage *ss, const char *list)
{
    char *out;
    int v6 = listen[0] == '[';
    if (!list && !is_loopback(ss))
        list = "*";
    if (asprintf(&out, "%s%s%s,%s", v6 ? "[" : "", host, v6 ? "]" : "",
                 list ? list : "localhost,127.0.0.1,[::1]") < 0)
        return NULL;
    return out;
}

struct http_server *http_start(const char *listen, const struct http_ctx *ctx,
                               int threads, char *errstr, size_t n)
{
    struct sockaddr_storage ss;
    char host[256];
    if (parse_listen(listen, &ss, host, errstr, n))
        return NULL;
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s || !(s->hosts = allowed_hosts(listen, host, &ss, ctx->allowed_hosts))) {
        free(s);
        sf_err(-1, errstr, n, "out of memory");
        return NULL;
    }
    s->ctx = *ctx;
    s->ctx.allowed_hosts = s->hosts;
    if ((s->listen_fd = listen_on(&ss)) < 0) {
        sf_err(-1, errstr, n, "cannot listen on %s: %s", listen, strerror(errno));
        free(s->hosts);
        free(s);
        return NULL;
    }
    unsigned max_conns = ctx->max_connections ? ctx->max_connections : 10000;
    if (!(s->ct = conntrack_new(ctx->header_timeout_s, ctx->body_timeout_s, max_conns,
                                errstr, n))) {
        close(s->listen_fd);
        free(s->hosts);
        free(s);
        return NULL;
    }
    /* conntrack refuses connections past max_conns (503, closed at once);
     * libmicrohttpd's limit is set above it so that it keeps taking them
     * to be refused instead of closing them unanswered. */
    unsigned mhd_conns = max_conns + SF_CONN_HEADROOM;
    /* Each connection is a descriptor: make room for them if we may. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < mhd_conns + 256u) {
        rl.rlim_cur = rl.rlim_max < mhd_conns + 256u ? rl.rlim_max : mhd_conns + 256u;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* No listening socket of its own: the fast path accepts every
     * connection and hands libmicrohttpd those it does not serve. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    unsigned nthreads = (unsigned)(threads > 0 ? threads : 2);
    errno = 0;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s,
                            /* First, or libmicrohttpd prints a warning itself. */
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_THREAD_POOL_SIZE, nthreads,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, mhd_conns,
                            MHD_OPTION_NOTIFY_CONNECTION, conntrack_notify, s->ct,
                            /* Request line + headers + read buffer: headers
                             * well over the 32 KiB pool get 431 from libmicrohttpd. */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                            MHD_OPTION_END);
    if (!s->d) {
        sf_err(-1, errstr, n, "cannot serve on %s: %s", listen,
               errno ? strerror(errno) : "libmicrohttpd failed to start");
        goto fail;
    }
    if (!(s->fp = fastpath_start(s, s->listen_fd, (int)nthreads, s->ct, errstr, n)))
        goto fail;
    return s;
fail:
    if (s->d)
        MHD_stop_daemon(s->d);
    conntrack_destroy(s->ct);
    close(s->listen_fd);
    free(s->hosts);
    free(s);
    return NULL;
}

void http_quiesce(struct http_server *s)
{
    if (s)
        fastpath_quiesce(s->fp);
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    fastpath_stop(s->fp);       /* first: it may still hand connections over */
    if (s->d)
        MHD_stop_daemon(s->d);
    conntrack_destroy(s->ct);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->hosts);
    free(s);
}

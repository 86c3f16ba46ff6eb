/*
 * pipeline — the HTTP request pipeline, whichever transport a request came
 * over (transport.h): Host and Origin checks, routing by method and path
 * through the table the layers registered, keys and their scopes (ingest,
 * read, admin; sign-in sessions), content type and
 * body limits, the body and reply budgets, replies and error bodies, and
 * suspend/finish of requests whose answer comes later.
 *
 * A transport calls, for each request: http_req_new, http_route_request
 * with the head, http_body_take with the body, http_run; a suspended
 * request comes back through http_resumed; http_req_free at the end.
 * Replies go to the request's transport (r->tp->reply), so the pipeline
 * and the handlers never know which one it is.
 */
#include "http/transport.h"
#include "http/auth.h"
#include "http/ratelimit.h"
#include "http/session.h"
#include "http/signin.h"
#include "core/metrics.h"

#include <microhttpd.h>     /* MHD_HTTP_* status and header names only */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int http_add_routes(struct http_ctx *ctx, const struct http_route *routes, size_t n)
{
    if (n > HTTP_ROUTES_MAX - ctx->nroutes)
        return -1;
    memcpy(ctx->routes + ctx->nroutes, routes, n * sizeof(*routes));
    ctx->nroutes += n;
    return 0;
}

/* ---- replies ---------------------------------------------------------- */

int http_gzip_into(struct http_req *r, const char *body, size_t len, struct sf_buf *z)
{
    return r->gzip_ok && len >= HTTP_GZIP_MIN && coding_gzip(body, len, 6, z) == 0;
}

int http_gzip_buf(struct http_req *r, struct sf_buf *b)
{
    struct sf_buf z;
    sf_buf_init(&z, b->len);
    if (!b->data || !http_gzip_into(r, b->data, b->len, &z)) {
        sf_buf_free(&z);
        return 0;
    }
    sf_buf_free(b);
    *b = z;
    return 1;
}

/* Queue a response on r's connection, with one extra header if hname. */
static enum http_result reply_hdr(struct http_req *r, unsigned status, const char *ctype,
                                  const char *body, size_t len, const char *hname,
                                  const char *hval)
{
    return r->tp->reply(r, status, ctype, body, len, hname, hval);
}

enum http_result http_reply(struct http_req *r, unsigned status, const char *ctype,
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

enum http_result http_reply_json(struct http_req *r, unsigned status, const char *json)
{
    return http_reply(r, status, "application/json", json, strlen(json));
}

/* {"detail": msg}, with one extra header if hname. */
enum http_result http_error_hdr(struct http_req *r, unsigned status, const char *msg,
                                const char *hname, const char *hval)
{
    struct sf_buf b;
    sf_buf_init(&b, 4096);
    SF_BUF_LIT(&b, "{\"detail\":");
    sf_buf_json_str(&b, msg);
    SF_BUF_LIT(&b, "}");
    const char *body = b.data ? b.data : "{}";  /* out of memory: still answer */
    size_t len = b.data ? b.len : 2;
    enum http_result rc =
        hname ? reply_hdr(r, status, "application/json", body, len, hname, hval)
              : http_reply(r, status, "application/json", body, len);
    sf_buf_free(&b);
    return rc;
}

enum http_result http_error(struct http_req *r, unsigned status, const char *msg)
{
    return http_error_hdr(r, status, msg, NULL, NULL);
}

void http_suspend(struct http_req *r)
{
    r->suspended = 1;
    r->tp->suspend(r);
}

void http_finish(struct http_req *r, unsigned status)
{
    r->status = status;
    atomic_store(&r->finished, 1);
    r->tp->finish(r);
}

enum http_result http_resumed(struct http_req *r)
{
    r->suspended = 0;
    if (r->on_resume)
        return r->on_resume(r);
    return http_reply_json(r, r->status, r->reply.data ? r->reply.data : "{}");
}

/* ---- routing and limits ----------------------------------------------- */

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

enum http_result http_too_big(struct http_req *r)
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
static enum http_result unauthorized(struct http_req *r, int why)
{
    return http_error_hdr(r, MHD_HTTP_UNAUTHORIZED,
                     why == -1 ? "Not authenticated: send the header Authorization: "
                                 "Bearer <API key>"
                               : "Invalid API key",
                     MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"salesflow\"");
}

/* 403: a key this server knows, of a scope the route does not take. */
static enum http_result forbidden(struct http_req *r, const char *msg)
{
    return http_error(r, MHD_HTTP_FORBIDDEN, msg);
}

int64_t http_limited_s(int64_t wait_ms)
{
    return (wait_ms + 999) / 1000;
}

/* A request that carries a key, from an address over the limit of failed
 * keys (ratelimit.h): 1 with 429 in *rc, whatever the key. Checked before
 * the key, so that a right key is refused too: guessing cannot go on. */
static int key_limited(struct http_req *r, const char *method, enum http_result *rc)
{
    int64_t wait = ratelimit_wait(r->core->limit, r->peer, method, r->route);
    if (!wait)
        return 0;
    char msg[300], secs[24];
    long long s = (long long)http_limited_s(wait);
    snprintf(secs, sizeof(secs), "%lld", s);
    snprintf(msg, sizeof(msg), "Too many failed keys from your address: every key from "
             "it is refused for %lld s more; then retry with a correct key", s);
    *rc = http_error_hdr(r, MHD_HTTP_TOO_MANY_REQUESTS, msg, MHD_HTTP_HEADER_RETRY_AFTER,
                         secs);
    return 1;
}

/* The Authorization header held no key (why -1: not a bearer key) or a
 * wrong one (-2): counted against the client's address, and logged. */
static void key_failed(struct http_req *r, const char *method, int why)
{
    ratelimit_fail(r->core->limit, r->peer, method, r->route,
                   why == -1 ? RL_NO_KEY : RL_WRONG_KEY);
}

/* The ingestion API (HTTP_ROUTE_AUTH) with API keys: 0 to go on, else 1
 * with the answer in *rc. A read or admin key gets 403, not 401: it is a
 * key, for something else. */
static int check_ingest_key(struct http_req *r, const char *method,
                            const struct http_head *h, enum http_result *rc)
{
    if (h->authorization && key_limited(r, method, rc))
        return 1;
    int why = auth_check(r->ctx->auth, h->authorization);
    if (!why)
        return 0;
    unsigned char tok[AUTH_KEY_MAX];
    long len = auth_bearer(h->authorization, tok);
    if (len > 0 && (auth_has(r->ctx->read_auth, tok, (size_t)len) |
                    auth_has(r->ctx->admin_auth, tok, (size_t)len))) {
        *rc = forbidden(r, "Forbidden: a read or admin key cannot use the ingestion "
                           "API; send an API (ingest) key");
    } else {
        if (h->authorization)
            key_failed(r, method, why);
        *rc = unauthorized(r, why);
    }
    explicit_bzero(tok, sizeof(tok));
    return 1;
}

/* 401 on a read or admin route: no key (why -1) or an unknown one. */
static enum http_result scope_unauthorized(struct http_req *r, int why)
{
    return http_error_hdr(r, MHD_HTTP_UNAUTHORIZED,
                          why == -1 ? "Not authenticated: send the header Authorization: "
                                      "Bearer <read or admin key>, or sign in at /signin"
                                    : "Invalid key",
                          MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"salesflow\"");
}

/* No key, or a session that ended: a browser asking for a page gets the
 * sign-in form, a tool the 401 JSON. */
static enum http_result not_signed_in(struct http_req *r, const char *method,
                                      const struct http_head *h)
{
    if (r->core->sessions && h->accept && strstr(h->accept, "text/html") &&
        (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
        r->handler = http_signin_refused;       /* runs as the route's handler */
        return HTTP_OK;
    }
    return scope_unauthorized(r, -1);
}

/* Read and admin scopes (http.h, route flags): 0 to go on, else 1 with the
 * answer (or, for a browser, the sign-in page as the handler) in *rc. The
 * key comes from the Authorization header if there is one, else from the
 * session cookie; either way it is checked against the keys in force. */
static int check_scope(struct http_req *r, const char *method, int flags,
                       const struct http_head *h, enum http_result *rc)
{
    const struct http_ctx *c = r->ctx;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    /* The ingestion API has its own keys (check_ingest_key); without them
     * its POSTs stay open as before, and its reads (the quarantine) read. */
    if ((flags & HTTP_ROUTE_OPEN) ||
        ((flags & HTTP_ROUTE_AUTH) && (auth_enabled(c->auth) || !get)))
        return 0;
    int write = (flags & HTTP_ROUTE_ADMIN) || !get;
    int reads_locked = auth_enabled(c->read_auth);
    if (!(write ? reads_locked || auth_enabled(c->admin_auth) : reads_locked))
        return 0;
    unsigned char tok[AUTH_KEY_MAX];
    long len;
    int from_cookie = !h->authorization;
    *rc = HTTP_OK;
    if (!from_cookie && key_limited(r, method, rc))
        return 1;
    if (from_cookie)
        len = (long)sessions_key(r->core->sessions, h->cookie, tok);
    else
        len = auth_bearer(h->authorization, tok);
    if (len <= 0) {
        if (!from_cookie)
            key_failed(r, method, len < 0 ? -2 : -1);
        *rc = len < 0 ? scope_unauthorized(r, -2) : not_signed_in(r, method, h);
        return 1;
    }
    int admin = auth_has(c->admin_auth, tok, (size_t)len);
    int read = admin | auth_has(c->read_auth, tok, (size_t)len);
    int ingest = !from_cookie && auth_has(c->auth, tok, (size_t)len);
    explicit_bzero(tok, sizeof(tok));
    if (write ? admin : read)
        return 0;
    if (!read && !ingest && !from_cookie) {
        key_failed(r, method, -2);
        *rc = scope_unauthorized(r, -2);
    } else if (read)
        *rc = forbidden(r, auth_enabled(c->admin_auth)
                               ? "Forbidden: a read key cannot change anything; use an "
                                 "admin key"
                               : "Forbidden: a read key cannot change anything, and this "
                                 "server has no admin key (--admin-key)");
    else if (ingest)
        *rc = forbidden(r, "Forbidden: an API (ingest) key can post orders but not "
                           "read; use a read key");
    else                    /* a session whose key was removed: as if signed out */
        *rc = not_signed_in(r, method, h);
    return 1;
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
 * or an origin of the list (http_ctx.origin_hosts: with the port of this
 * server, where a default names one). "null" (a sandboxed or file: page)
 * is not, nor another port of the same host (another origin). */
static int origin_allowed(const char *list, const char *origin, const char *host)
{
    const char *o = strstr(origin, "://");
    if (!o || !o[3] || strchr(o + 3, '/'))
        return 0;
    o += 3;
    if (host && strcasecmp(o, host) == 0)
        return 1;
    return list && host_allowed(list, o);
}

/* DNS rebinding and cross-site POSTs: refuse a Host this server is not,
 * and a POST from another origin. */
static int check_host(struct http_req *r, const char *method, const struct http_head *h,
                      enum http_result *rc)
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
    if (h->origin && (strcmp(method, "POST") == 0 || strcmp(method, "DELETE") == 0) &&
        !origin_allowed(r->ctx->origin_hosts, h->origin, h->host)) {
        snprintf(msg, sizeof(msg), "Forbidden: a POST from another site (Origin "
                 "\"%.100s\"); a page may post here only from this server's own "
                 "origin, or from a host named with --allowed-hosts", h->origin);
        *rc = http_error(r, MHD_HTTP_FORBIDDEN, msg);
        return 1;
    }
    return 0;
}

/* The body's Content-Encoding: one of those taken, or 415. */
static int check_coding(struct http_req *r, const struct http_head *h, enum http_result *rc)
{
    const char *cmsg = "Unsupported Media Type: the body is encoded more than once "
                       "(several Content-Encoding fields)";
    if (h->codings <= 1 && !coding_parse(h->content_encoding, &r->coding, &cmsg))
        return 0;
    char msg[320];
    snprintf(msg, sizeof(msg), "%s%s%.60s%s; send the body compressed with one of "
             "gzip or zstd, or with no Content-Encoding", cmsg,
             h->codings > 1 ? "" : " \"", h->codings > 1 ? "" : h->content_encoding,
             h->codings > 1 ? "" : "\"");
    /* RFC 9110 15.5.16: say which codings would have been taken. */
    *rc = http_error_hdr(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg, "Accept-Encoding",
                         CODING_ACCEPTED);
    return 1;
}

enum http_result http_route_request(struct http_req *r, const char *url,
                                    const char *method, const struct http_head *h)
{
    const struct http_route *hit = NULL;
    int path_known = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    enum http_result hrc;
    if (check_host(r, method, h, &hrc))
        return hrc;
    const struct http_route *routes = r->ctx->routes;
    for (size_t i = 0; i < r->ctx->nroutes; i++) {
        size_t plen = strlen(routes[i].path);
        if ((routes[i].flags & HTTP_ROUTE_PREFIX)
                ? strncmp(url, routes[i].path, plen) != 0 || !url[plen]
                : strcmp(url, routes[i].path) != 0)
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
    r->peer = h->peer;
    r->route_flags = hit->flags;
    r->gzip_ok = (hit->flags & HTTP_ROUTE_GZIP) && coding_accepts_gzip(h->accept_encoding);
    if (hit->off)       /* e.g. serve's ingestion routes: before any body check */
        return http_error(r, MHD_HTTP_NOT_FOUND, hit->off);
    int body = hit->flags & HTTP_BODY_MASK;
    if ((hit->flags & HTTP_ROUTE_AUTH) && auth_enabled(r->ctx->auth) &&
        check_ingest_key(r, method, h, &hrc))
        return hrc;
    if (check_scope(r, method, hit->flags, h, &hrc))
        return hrc;
    if (!body)
        return HTTP_OK;

    r->body_max = body == HTTP_BODY_JSON_OR_NDJSON
                      ? (r->ctx->max_body ? r->ctx->max_body : SF_MAX_BODY_DEFAULT)
                      : body == HTTP_BODY_FORM ? 8192 : SF_BODY_MAX;
    r->body.limit = r->body_max;
    const char *ct = h->content_type;
    if (body == HTTP_BODY_FORM) {
        if (!ct || !is_type(ct, "application/x-www-form-urlencoded"))
            return http_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Unsupported Media "
                              "Type: send the form as application/x-www-form-urlencoded");
    } else if (ct && body == HTTP_BODY_JSON_OR_NDJSON && is_ndjson_type(ct)) {
        r->ndjson = 1;
    } else if (!ct || !is_json_type(ct)) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Unsupported Media Type %s%.100s%s: send the "
                 "body as JSON with Content-Type: application/json%s",
                 ct ? "\"" : "(no Content-Type)", ct ? ct : "", ct ? "\"" : "",
                 body == HTTP_BODY_JSON_OR_NDJSON
                     ? ", or as one JSON order per line with Content-Type: "
                       "application/x-ndjson" : "");
        return http_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    }
    if (check_coding(r, h, &hrc))
        return hrc;
    if (h->content_length && strtoull(h->content_length, NULL, 10) > r->body_max)
        r->too_big = 1;
    return HTTP_OK;
}

/* ---- the request's life ------------------------------------------------ */

struct http_req *http_req_new(struct http_core *core, const char *url,
                              const struct http_transport *tp, void *conn)
{
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->tp = tp;
    r->conn = conn;
    r->core = core;
    r->url = url;
    r->ctx = &core->ctx;
    r->body_max = SF_BODY_MAX;
    sf_buf_init(&r->body, SF_BODY_MAX);
    sf_buf_init(&r->reply, 64 * 1024);
    return r;
}

void http_body_take(struct http_req *r, const char *data, size_t n)
{
    if (r->too_big || r->over_budget)
        return;
    if (atomic_fetch_add(&r->core->body_bytes, n) + n > HTTP_BODY_BUDGET) {
        atomic_fetch_sub(&r->core->body_bytes, n);
        r->over_budget = 1;
    } else if (sf_buf_append(&r->body, data, n)) {
        atomic_fetch_sub(&r->core->body_bytes, n);
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
    atomic_fetch_sub(&r->core->body_bytes, raw_budget);
    sf_buf_free(&raw);
    if (st == MHD_HTTP_SERVICE_UNAVAILABLE)
        r->over_budget = 1;     /* the budget, or memory: retry later */
    return st;
}

enum http_result http_run(struct http_req *r)
{
    if (r->too_big)
        return http_too_big(r);
    char msg[400];
    unsigned st = !r->over_budget && r->coding ? decode_body(r, msg, sizeof(msg)) : 0;
    if (r->too_big)
        return http_too_big(r);
    if (r->over_budget)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "The server holds too many request bodies at once; retry "
                          "shortly");
    if (st)
        return http_error(r, st, msg);
    if (!r->handler)
        return HTTP_CLOSE;
    return r->handler(r);
}

int http_reply_reserve(struct http_req *r, size_t n)
{
    size_t cur = atomic_load(&r->core->reply_bytes);
    do {
        /* Alone, a batch may take more than the budget: --max-batch may
         * ask for that, and it is then served one at a time. */
        if (cur && cur + n > HTTP_REPLY_BUDGET) {
            r->reply_full = 1;
            return -1;
        }
    } while (!atomic_compare_exchange_weak(&r->core->reply_bytes, &cur, cur + n));
    r->reply_res += n;
    return 0;
}

void http_reply_keep(struct http_req *r, size_t n)
{
    if (n < r->reply_res) {
        atomic_fetch_sub(&r->core->reply_bytes, r->reply_res - n);
        r->reply_res = n;
    }
}

size_t http_reply_take(struct http_req *r)
{
    size_t n = r->reply_res;
    r->reply_res = 0;
    return n;
}

void http_reply_release(struct http_core *core, size_t n)
{
    atomic_fetch_sub(&core->reply_bytes, n);
}

void http_req_shed(struct http_req *r)
{
    if (r->state_free)
        r->state_free(r->state);
    r->state = NULL;
    r->state_free = NULL;
    atomic_fetch_sub(&r->core->body_bytes, r->budget);
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
    atomic_fetch_sub(&r->core->body_bytes, r->budget);
    atomic_fetch_sub(&r->core->reply_bytes, r->reply_res);
    sf_buf_free(&r->body);
    sf_buf_free(&r->reply);
    free(r);
}

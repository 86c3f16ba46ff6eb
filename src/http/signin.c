/*
 * signin — see signin.h. The pages are built here from one template with
 * every value HTML-escaped; they load nothing (no script, no stylesheet
 * file), and their Content-Security-Policy says so.
 */
#include "http/signin.h"
#include "http/auth.h"
#include "http/mhd.h"
#include "http/ratelimit.h"
#include "http/session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NEXT_MAX 1024           /* the longest URL a sign-in comes back to */

static const char page_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>%s · salesflow</title><style>"
    "body{font:16px system-ui,sans-serif;background:#f4f5f7;color:#1d2129;margin:0;"
    "display:flex;justify-content:center;padding-top:12vh}"
    "form{background:#fff;padding:24px 28px;border-radius:8px;width:320px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:20px;margin:0 0 16px}"
    "label{display:block;margin-bottom:6px}input[type=password]{width:100%%;"
    "box-sizing:border-box;padding:8px;font:inherit}button{margin-top:14px;"
    "padding:8px 16px;font:inherit}.err{color:#b00020;margin:0 0 12px}"
    "@media (prefers-color-scheme:dark){body{background:#16181d;color:#e6e6e6}"
    "form{background:#22252b}}</style></head><body>\n";

static void html_escaped(struct sf_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': SF_BUF_LIT(b, "&amp;"); break;
        case '<': SF_BUF_LIT(b, "&lt;"); break;
        case '>': SF_BUF_LIT(b, "&gt;"); break;
        case '"': SF_BUF_LIT(b, "&quot;"); break;
        case '\'': SF_BUF_LIT(b, "&#39;"); break;
        default: sf_buf_append(b, s, 1);
        }
    }
}

/* The sign-in form; error: a line above it, or NULL. */
static void signin_page(struct sf_buf *b, const char *error, const char *next)
{
    sf_buf_printf(b, page_head, "Sign in");
    SF_BUF_LIT(b, "<form method=\"post\" action=\"/signin\"><h1>salesflow</h1>\n");
    if (error) {
        SF_BUF_LIT(b, "<p class=\"err\" role=\"alert\">");
        html_escaped(b, error);
        SF_BUF_LIT(b, "</p>\n");
    }
    SF_BUF_LIT(b, "<label for=\"key\">Key</label><input id=\"key\" name=\"key\" "
               "type=\"password\" autocomplete=\"current-password\" required autofocus>\n"
               "<input type=\"hidden\" name=\"next\" value=\"");
    html_escaped(b, next);
    SF_BUF_LIT(b, "\"><button type=\"submit\">Sign in</button></form></body></html>\n");
}

/* Queue an HTML page (or, with location, a 303 to it), with headers;
 * retry_after: a Retry-After value, or NULL. */
static enum http_result send_page(struct http_req *r, unsigned status,
                                  const struct sf_buf *b, const char *location,
                                  const char *cookie, int challenge,
                                  const char *retry_after)
{
    if (!http_mhd_conn(r))      /* not libmicrohttpd's: no page, just the status */
        return http_error(r, status, status == 401 ? "Not authenticated" : "See Other");
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        b->data ? b->len : 0, b->data ? b->data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return HTTP_CLOSE;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    if (challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"salesflow\"");
    if (retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    if (cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    enum http_result rc = http_mhd_queue(r, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* next is a path on this server ("/…", not "//…" or "/\…", visible ASCII). */
static int local_path(const char *next)
{
    size_t n = strlen(next);
    if (n == 0 || n > NEXT_MAX || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)next[i] <= 0x20 || (unsigned char)next[i] >= 0x7f)
            return 0;
    return 1;
}

struct query_walk {
    struct sf_buf *b;
    int n;
};

static void url_encoded(struct sf_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c)) {
            sf_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sf_buf_append(b, e, 3);
        }
    }
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct query_walk *w = cls;
    (void)kind;
    sf_buf_append(w->b, w->n++ ? "&" : "?", 1);
    url_encoded(w->b, key);
    if (value) {
        SF_BUF_LIT(w->b, "=");
        url_encoded(w->b, value);
    }
    return MHD_YES;
}

/* r's address is refused keys (ratelimit.h): the line for the form into
 * line, and the seconds left into secs (a Retry-After value); NULL when it
 * is not. count: r is a sign-in refused for it (counted and logged). */
static const char *limited_line(struct http_req *r, int count, char *line, size_t n,
                                char secs[24])
{
    int64_t wait = ratelimit_wait(r->core->limit, r->peer, count ? "POST" : NULL,
                                  count ? r->route : NULL);
    if (!wait)
        return NULL;
    long long s = (long long)http_limited_s(wait);
    snprintf(secs, 24, "%lld", s);
    snprintf(line, n, "Too many failed sign-ins from your address: every key from it is "
             "refused for %lld s more. Wait, then sign in with a correct key.", s);
    return line;
}

enum http_result http_signin_refused(struct http_req *r)
{
    char line[256], secs[24];
    struct sf_buf next, b;
    sf_buf_init(&next, NEXT_MAX + 1);
    sf_buf_init(&b, 16384);
    sf_buf_append(&next, r->url, strlen(r->url));
    struct query_walk w = {.b = &next};
    if (http_mhd_conn(r))
        MHD_get_connection_values(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND, add_arg, &w);
    sf_buf_append(&next, "", 1);
    signin_page(&b, limited_line(r, 0, line, sizeof(line), secs),
                next.data && local_path(next.data) ? next.data : "/");
    enum http_result rc = send_page(r, MHD_HTTP_UNAUTHORIZED, &b, NULL, NULL, 1, NULL);
    sf_buf_free(&next);
    sf_buf_free(&b);
    return rc;
}

static enum http_result signin_get(struct http_req *r)
{
    struct MHD_Connection *c = http_mhd_conn(r);
    const char *next = c ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "next")
                         : NULL;
    struct sf_buf b;
    char line[256], secs[24];
    sf_buf_init(&b, 16384);
    signin_page(&b, limited_line(r, 0, line, sizeof(line), secs),
                next && local_path(next) ? next : "/");
    enum http_result rc = send_page(r, MHD_HTTP_OK, &b, NULL, NULL, 0, NULL);
    sf_buf_free(&b);
    return rc;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of field `name` in a form body, percent-decoded into out
 * (size bytes): its length, or -1 when absent, too long or not text. */
static long form_field(const char *body, size_t len, const char *name, char *out,
                       size_t size)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end - i > nl && body[i + nl] == '=' && !memcmp(body + i, name, nl)) {
            size_t o = 0;
            for (size_t k = i + nl + 1; k < end; k++) {
                int c = (unsigned char)body[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = k + 2 < end ? hexval(body[k + 1]) : -1;
                    int lo = k + 2 < end ? hexval(body[k + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -1;
                    c = hi << 4 | lo;
                    k += 2;
                }
                if (c == 0 || o + 1 >= size)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return (long)o;
        }
        i = end + 1;
    }
    return -1;
}

/* The sign-in came through HTTPS: the page's origin, or a proxy, says so. */
static int over_https(struct MHD_Connection *c)
{
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
    const char *p = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    return (o && !strncasecmp(o, "https://", 8)) || (p && !strcasecmp(p, "https"));
}

static enum http_result signin_post(struct http_req *r)
{
    char key[AUTH_KEY_MAX + 2], next[NEXT_MAX + 2], token[SESSION_TOKEN_LEN + 1];
    char cookie[256], line[256], secs[24];
    unsigned char tok[AUTH_KEY_MAX];
    struct sf_buf b;
    const char *body = r->body.data ? r->body.data : "";
    if (form_field(body, r->body.len, "next", next, sizeof(next)) < 0 || !local_path(next))
        snprintf(next, sizeof(next), "/");
    /* An address over the limit of failed keys: refused before its key is
     * looked at, right or wrong (429, the form saying why). */
    if (limited_line(r, 1, line, sizeof(line), secs)) {
        sf_buf_init(&b, 16384);
        signin_page(&b, line, next);
        enum http_result rc = send_page(r, MHD_HTTP_TOO_MANY_REQUESTS, &b, NULL, NULL, 0,
                                        secs);
        sf_buf_free(&b);
        return rc;
    }
    long klen = form_field(body, r->body.len, "key", key, sizeof(key));
    memset(tok, 0, sizeof(tok));
    if (klen > 0 && klen <= AUTH_KEY_MAX)
        memcpy(tok, key, (size_t)klen);
    explicit_bzero(key, sizeof(key));
    int ok = klen > 0 && klen <= AUTH_KEY_MAX &&
             (auth_has(r->ctx->admin_auth, tok, (size_t)klen) |
              auth_has(r->ctx->read_auth, tok, (size_t)klen));
    sf_buf_init(&b, 16384);
    enum http_result rc;
    if (!ok) {
        /* Counted against the address, and logged (never the key). */
        ratelimit_fail(r->core->limit, r->peer, "POST", r->route,
                       klen > 0 ? RL_WRONG_KEY : RL_NO_KEY);
        signin_page(&b, "That key does not open this dashboard: give a read or admin "
                    "key.", next);
        rc = send_page(r, MHD_HTTP_UNAUTHORIZED, &b, NULL, NULL, 0, NULL);
    } else if (sessions_create(r->core->sessions, tok, (size_t)klen, token)) {
        rc = http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "Cannot start a session now (no randomness or memory); retry "
                        "shortly, or send the key as Authorization: Bearer KEY");
    } else {
        struct MHD_Connection *c = http_mhd_conn(r);
        snprintf(cookie, sizeof(cookie), SESSION_COOKIE "=%s; Max-Age=%" PRId64
                 "; Path=/; HttpOnly; SameSite=Strict%s", token,
                 sessions_ttl_ms(r->core->sessions) >= 2000
                     ? sessions_ttl_ms(r->core->sessions) / 1000 : 1,
                 c && over_https(c) ? "; Secure" : "");
        rc = send_page(r, MHD_HTTP_SEE_OTHER, &b, next, cookie, 0, NULL);
        explicit_bzero(cookie, sizeof(cookie));
        explicit_bzero(token, sizeof(token));
    }
    explicit_bzero(tok, sizeof(tok));
    sf_buf_free(&b);
    return rc;
}

static enum http_result signout_get(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, 16384);
    sf_buf_printf(&b, page_head, "Sign out");
    SF_BUF_LIT(&b, "<form method=\"post\" action=\"/signout\"><h1>salesflow</h1>\n"
               "<p>Sign out of the dashboard on this browser?</p>"
               "<button type=\"submit\">Sign out</button></form></body></html>\n");
    enum http_result rc = send_page(r, MHD_HTTP_OK, &b, NULL, NULL, 0, NULL);
    sf_buf_free(&b);
    return rc;
}

static enum http_result signout_post(struct http_req *r)
{
    struct MHD_Connection *c = http_mhd_conn(r);
    if (c)
        sessions_end(r->core->sessions,
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_COOKIE));
    struct sf_buf b;
    sf_buf_init(&b, 16);
    enum http_result rc = send_page(r, MHD_HTTP_SEE_OTHER, &b, "/signin",
                                    SESSION_COOKIE "=; Max-Age=0; Path=/; HttpOnly; "
                                    "SameSite=Strict", 0, NULL);
    sf_buf_free(&b);
    return rc;
}

int http_signin_add_routes(struct http_ctx *ctx)
{
    static const struct http_route routes[] = {
        {"GET", "/signin", signin_get, HTTP_ROUTE_OPEN, NULL},
        {"POST", "/signin", signin_post, HTTP_BODY_FORM | HTTP_ROUTE_OPEN, NULL},
        {"GET", "/signout", signout_get, HTTP_ROUTE_OPEN, NULL},
        {"POST", "/signout", signout_post, HTTP_ROUTE_OPEN, NULL},
    };
    return http_add_routes(ctx, routes, SF_ARRAY_LEN(routes));
}

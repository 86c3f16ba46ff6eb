/*
 * server — the HTTP server: the listening socket, connection tracking
 * (conntrack.h), and the two transports over one request pipeline: the
 * fast path accepts every connection and serves the ingestion POSTs, and
 * hands every other connection to the libmicrohttpd adapter through the
 * callback given here. The server owns the pipeline's state (http_core:
 * the handlers' context, the route table, the body and reply budgets).
 */
#include "http/http.h"
#include "http/auth.h"
#include "http/conntrack.h"
#include "http/fastpath.h"
#include "http/mhd.h"
#include "http/ratelimit.h"
#include "http/session.h"
#include "http/signin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct http_server {
    struct http_core core;
    struct http_mhd *mhd;
    struct conntrack *ct;
    struct fastpath *fp;
    int listen_fd;
    char *hosts;                    /* ctx.allowed_hosts in force (http_start) */
    char *origins;                  /* ctx.origin_hosts (http_start) */
};

/* Connections libmicrohttpd may hold past --max-connections: the ones being
 * refused (see conntrack.h), for the moment until they are closed. */
#define SF_CONN_HEADROOM 64u

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

/* The origins a POST may come from besides its Host (http.h): the listen
 * address with the port bound, the loopback names on that port when
 * listening on loopback with no list, or the list's names but "*". */
static char *origin_hosts(const char *host, int v6, int port, int loopback,
                          const char *list)
{
    struct sf_buf b;
    sf_buf_init(&b, 256);
    sf_buf_printf(&b, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (!list && loopback)
        sf_buf_printf(&b, ",localhost:%d,127.0.0.1:%d,[::1]:%d", port, port, port);
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, ",");
        if (len && !(len == 1 && *p == '*'))
            sf_buf_printf(&b, ",%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    return b.data;
}

/* Read and admin keys: the sign-in sessions and pages. Dashboard open to
 * more than this host: say so, once. 0, or -1 with errstr. */
static int scopes(struct http_server *s, const char *listen,
                  const struct sockaddr_storage *ss, char *errstr, size_t n)
{
    struct http_ctx *ctx = &s->core.ctx;
    if (ctx->web && !auth_enabled(ctx->read_auth) && !is_loopback(ss))
        log_warn("listening on %s beyond loopback with no read key: the dashboard, "
                 "/api/* and the live stream are open to anyone who can reach it; "
                 "set --read-key, --read-keys or --read-key-file", listen);
    if (!auth_enabled(ctx->read_auth) && !auth_enabled(ctx->admin_auth))
        return 0;
    if (http_signin_add_routes(ctx))
        return sf_err(-1, errstr, n, "too many HTTP routes");
    if (!(s->core.sessions = sessions_new(ctx->session_ttl_ms)))
        return sf_err(-1, errstr, n, "out of memory");
    return 0;
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
    s->core.ctx = *ctx;
    s->core.ctx.allowed_hosts = s->hosts;
    if ((s->listen_fd = listen_on(&ss)) < 0) {
        sf_err(-1, errstr, n, "cannot listen on %s: %s", listen, strerror(errno));
        free(s->hosts);
        free(s);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    int port = getsockname(s->listen_fd, (struct sockaddr *)&bound, &blen) == 0
                   ? ntohs(bound.ss_family == AF_INET6
                               ? ((struct sockaddr_in6 *)&bound)->sin6_port
                               : ((struct sockaddr_in *)&bound)->sin_port)
                   : 0;
    if (!(s->origins = origin_hosts(host, listen[0] == '[', port, is_loopback(&ss),
                                    ctx->allowed_hosts))) {
        sf_err(-1, errstr, n, "out of memory");
        goto fail;
    }
    s->core.ctx.origin_hosts = s->origins;
    if (scopes(s, listen, &ss, errstr, n))
        goto fail;
    /* Keys of any scope: failed ones are limited per client address. */
    if ((auth_enabled(ctx->auth) || auth_enabled(ctx->read_auth) ||
         auth_enabled(ctx->admin_auth)) &&
        !(s->core.limit = ratelimit_new(ctx->auth_fail_max, ctx->auth_fail_window_ms,
                                        errstr, n)))
        goto fail;
    unsigned max_conns = ctx->max_connections ? ctx->max_connections : 10000;
    if (!(s->ct = conntrack_new(ctx->header_timeout_s, ctx->body_timeout_s, max_conns,
                                errstr, n)))
        goto fail;
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
    unsigned nthreads = (unsigned)(threads > 0 ? threads : 2);
    char err[256];
    if (!(s->mhd = http_mhd_start(&s->core, s->ct, nthreads, mhd_conns, 0, err,
                                  sizeof(err)))) {
        sf_err(-1, errstr, n, "cannot serve on %s: %s", listen, err);
        goto fail;
    }
    if (!(s->fp = fastpath_start(&s->core, s->listen_fd, (int)nthreads, s->ct,
                                 http_mhd_add, s->mhd, errstr, n)))
        goto fail;
    return s;
fail:
    http_mhd_stop(s->mhd);
    ratelimit_destroy(s->core.limit);
    sessions_destroy(s->core.sessions);
    conntrack_destroy(s->ct);
    close(s->listen_fd);
    free(s->hosts);
    free(s->origins);
    free(s);
    return NULL;
}

static int key_in_force(void *opaque, const unsigned char key[AUTH_KEY_MAX], size_t len)
{
    struct http_ctx *ctx = opaque;
    return auth_has(ctx->read_auth, key, len) || auth_has(ctx->admin_auth, key, len);
}

void http_sessions_prune(struct http_server *s)
{
    if (s)
        sessions_prune(s->core.sessions, key_in_force, &s->core.ctx);
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
    http_mhd_stop(s->mhd);
    ratelimit_destroy(s->core.limit);
    sessions_destroy(s->core.sessions);
    conntrack_destroy(s->ct);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->hosts);
    free(s->origins);
    free(s);
}

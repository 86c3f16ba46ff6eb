/*
 * http_driver — the in-process server the HTTP harnesses drive
 * (fuzz_http.c, fuzz_v1_orders.c): the real server's libmicrohttpd
 * transport and request pipeline (src/http/mhd.c, pipeline.c: its access
 * handler, the routes ingest and web register, suspend/resume)
 * over a real embedded log in a temporary directory with --fsync never,
 * the idempotency index, the quarantine and API keys (with auth: also read
 * and admin keys, so the sign-in pages, the form and cookie parsers and
 * the scope checks run), with no dashboard store (those routes answer
 * 503). The daemon is started the way
 * http_start does it but without the fast path and with poll() instead of
 * epoll (http_mhd_start's poll mode): each input is sent as
 * raw bytes on a fresh socketpair handed to MHD_add_connection, the write
 * side is then shut, and the whole answer is read until the server closes
 * (libmicrohttpd's edge-triggered epoll mode does not notice a client's
 * half-close on an idle kept-alive connection; poll mode does).
 *
 * State stays bounded: the index keeps at most 1,000 keys, the quarantine
 * rotates at 1 MiB, and every 20,000 requests the server and the log are
 * closed, the directory removed and everything opened afresh.
 */
#ifndef SF_FUZZ_HTTP_DRIVER_H
#define SF_FUZZ_HTTP_DRIVER_H

#include "broker/broker.h"
#include "core/catalog.h"
#include "http/auth.h"
#include "ingest/dedupe.h"
#include "http/conntrack.h"
#include "http/http.h"
#include "http/mhd.h"
#include "http/session.h"
#include "http/signin.h"
#include "ingest/quarantine.h"
#include "ingest/routes.h"
#include "web/web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The dashboard's files (src/web/assets.S needs the npm install): small
 * stand-ins, laid out the same way (start and end symbols around them). */
__asm__(".section .rodata\n"
        ".global sf_asset_index_html\n.global sf_asset_index_html_end\n"
        "sf_asset_index_html: .ascii \"<!doctype html><title>salesflow</title>\"\n"
        "sf_asset_index_html_end: .byte 0\n"
        ".global sf_asset_app_js\n.global sf_asset_app_js_end\n"
        "sf_asset_app_js: .ascii \"//\"\nsf_asset_app_js_end: .byte 0\n"
        ".global sf_asset_style_css\n.global sf_asset_style_css_end\n"
        "sf_asset_style_css: .ascii \"body{}\"\nsf_asset_style_css_end: .byte 0\n"
        ".global sf_asset_echarts_js\n.global sf_asset_echarts_js_end\n"
        "sf_asset_echarts_js: .ascii \"//\"\nsf_asset_echarts_js_end: .byte 0\n"
        ".global sf_asset_explore_html\n.global sf_asset_explore_html_end\n"
        "sf_asset_explore_html: .ascii \"<!doctype html><title>Explore</title>\"\n"
        "sf_asset_explore_html_end: .byte 0\n"
        ".global sf_asset_explore_js\n.global sf_asset_explore_js_end\n"
        "sf_asset_explore_js: .ascii \"//\"\nsf_asset_explore_js_end: .byte 0\n"
        ".global sf_asset_query_js\n.global sf_asset_query_js_end\n"
        "sf_asset_query_js: .ascii \"//\"\nsf_asset_query_js_end: .byte 0\n"
        ".previous\n");

#define FUZZ_API_KEY "fuzz-key-0123456789"
#define FUZZ_READ_KEY "fuzz-read-key-0123"
#define FUZZ_ADMIN_KEY "fuzz-admin-key-012"
#define FUZZ_RESTART_EVERY 20000

struct fuzz_srv {
    char dir[128];
    struct catalog *cat;
    struct broker *b;
    struct dedupe *dd;
    struct quarantine *qt;
    struct auth *auth, *read_auth, *admin_auth;
    struct http_core core;
    struct conntrack *ct;
    struct http_mhd *srv;
    long served;
};

static void fuzz_die(const char *what, const char *err)
{
    fprintf(stderr, "http_driver: %s: %s\n", what, err);
    abort();
}

static void fuzz_rmtree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fuzz_die("rm -rf", dir);
}

static char fuzz_dir_at_exit[128];

static void fuzz_cleanup(void)
{
    if (fuzz_dir_at_exit[0])
        fuzz_rmtree(fuzz_dir_at_exit);
}

static void fuzz_srv_open(struct fuzz_srv *s, int with_auth)
{
    char err[512], path[256];
    static const char *const keys[] = {FUZZ_API_KEY};
    static const char *const rkeys[] = {FUZZ_READ_KEY}, *const akeys[] = {FUZZ_ADMIN_KEY};
    if (!s->dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(s->dir, sizeof(s->dir), "%s/sf-fuzz-http-%d", base, (int)getpid());
        fuzz_rmtree(s->dir);
        snprintf(fuzz_dir_at_exit, sizeof(fuzz_dir_at_exit), "%s", s->dir);
        atexit(fuzz_cleanup);
        if (!(s->cat = catalog_load(NULL, 30000, err, sizeof(err))))
            fuzz_die("catalog", err);
        if (!(s->auth = auth_new(keys, with_auth ? 1 : 0, NULL, NULL, err, sizeof(err))))
            fuzz_die("auth", err);
        if (!(s->read_auth = auth_new_named("read", rkeys, with_auth ? 1 : 0, NULL, NULL,
                                            err, sizeof(err))) ||
            !(s->admin_auth = auth_new_named("admin", akeys, with_auth ? 1 : 0, NULL,
                                             NULL, err, sizeof(err))))
            fuzz_die("auth", err);
        if (!(s->dd = dedupe_new(INT64_C(86400000), 1000, err, sizeof(err))))
            fuzz_die("dedupe", err);
    }
    mkdir(s->dir, 0755);
    snprintf(path, sizeof(path), "%s/quarantine", s->dir);
    if (!(s->qt = quarantine_open(path, 1 << 20, err, sizeof(err))))
        fuzz_die("quarantine", err);
    struct broker_conf bc = {.partitions = 2, .create = 1, .fsync = BROKER_FSYNC_NEVER,
                             .segment_bytes = 1 << 20, .queue_max = 65536};
    snprintf(path, sizeof(path), "file:%s/log", s->dir);
    if (!(s->b = broker_open(path, &bc, err, sizeof(err))))
        fuzz_die("log", err);
    struct http_ctx hc = {.broker = s->b, .cat = s->cat, .max_body = 256 * 1024,
                          .max_batch = 64, .dedupe = s->dd, .quarantine = s->qt,
                          .auth = s->auth, .header_timeout_s = 10, .body_timeout_s = 30,
                          .max_connections = 64, .read_auth = s->read_auth,
                          .admin_auth = s->admin_auth};
    if (ingest_add_routes(&hc) || web_add_routes(&hc) ||
        (with_auth && http_signin_add_routes(&hc)))
        fuzz_die("http", "too many routes");
    /* http_start's daemon, minus the listening socket, the fast path
     * (fuzz_fastpath has its parser) and epoll. */
    memset(&s->core, 0, sizeof(s->core));
    s->core.ctx = hc;
    if (with_auth && !(s->core.sessions = sessions_new(0)))
        fuzz_die("sessions", "out of memory");
    if (!(s->ct = conntrack_new(hc.header_timeout_s, hc.body_timeout_s,
                                hc.max_connections, err, sizeof(err))))
        fuzz_die("conntrack", err);
    if (!(s->srv = http_mhd_start(&s->core, s->ct, 1, hc.max_connections + 64u, 1, err,
                                  sizeof(err))))
        fuzz_die("MHD_start_daemon", err);
}

static void fuzz_srv_close(struct fuzz_srv *s)
{
    http_mhd_stop(s->srv);
    sessions_destroy(s->core.sessions);
    s->core.sessions = NULL;
    conntrack_destroy(s->ct);
    broker_close(s->b);
    quarantine_close(s->qt);
    fuzz_rmtree(s->dir);
    s->srv = NULL;
}

/* The first response in buf: status, and body (Content-Length bytes after
 * the header, if all of them arrived; else NULL). */
static int fuzz_parse_response(const char *buf, size_t n, const char **body,
                               size_t *body_len, const char **ctype)
{
    int status = 0;
    *body = NULL;
    *body_len = 0;
    *ctype = NULL;
    if (n < 12 || strncmp(buf, "HTTP/1.", 7) || sscanf(buf + 9, "%3d", &status) != 1)
        return 0;
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end)
        return status;
    long cl = -1;
    for (const char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
        if (!strncasecmp(h + 2, "Content-Length:", 15))
            cl = strtol(h + 17, NULL, 10);
        if (!strncasecmp(h + 2, "Content-Type:", 13))
            *ctype = h + 15;
    }
    const char *b = end + 4;
    if (cl >= 0 && (size_t)(buf + n - b) >= (size_t)cl) {
        *body = b;
        *body_len = (size_t)cl;
    }
    return status;
}

/* Send req[0..len) on a new connection; the answer goes to out (at most
 * cap - 1 bytes kept, NUL-terminated). Returns the bytes kept. With
 * half_close the write side is shut once everything is sent (for raw
 * input, so the server sees the end of it); without, it is one request,
 * and the exchange ends with its complete answer. Aborts if the server neither
 * answers nor closes within 10 s (a hang). Note: libmicrohttpd takes a
 * half-close that arrives before the answer is queued as the client going
 * away, so an order suspended until the log's ack gets no answer then. */
static size_t fuzz_exchange(struct fuzz_srv *s, int with_auth, const uint8_t *req,
                            size_t len, char *out, size_t cap, int half_close)
{
    if (!s->srv)
        fuzz_srv_open(s, with_auth);
    if (++s->served % FUZZ_RESTART_EVERY == 0) {
        fuzz_srv_close(s);
        fuzz_srv_open(s, with_auth);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        fuzz_die("socketpair", strerror(errno));
    if (http_mhd_adopt(s->srv, sv[1], (struct sockaddr *)&a, sizeof(a)))
        fuzz_die("MHD_add_connection", strerror(errno));
    int fd = sv[0];
    size_t sent = 0, got = 0;
    int wr_open = 1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (wr_open ? POLLOUT : 0)};
        int n = poll(&p, 1, 10000);
        if (n == 0) {
            fprintf(stderr, "http_driver: no answer after 10 s (%zu of %zu bytes sent, "
                    "%zu received)\n", sent, len, got);
            abort();
        }
        if (n < 0)
            continue;
        if (wr_open && (p.revents & POLLOUT)) {
            ssize_t w = sent < len ? send(fd, req + sent, len - sent,
                                          MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
            if (w > 0)
                sent += (size_t)w;
            if (sent == len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
                if (half_close)
                    shutdown(fd, SHUT_WR);
                wr_open = 0;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char tmp[16384];
            ssize_t r = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                break;
            if (r > 0) {
                size_t k = (size_t)r < cap - 1 - got ? (size_t)r : cap - 1 - got;
                memcpy(out + got, tmp, k);
                got += k;
                out[got] = '\0';
                /* One request: done once its whole answer is in (waiting for
                 * the close costs libmicrohttpd's lingering close). */
                const char *b, *ct;
                size_t bl;
                if (!half_close && fuzz_parse_response(out, got, &b, &bl, &ct) >= 200 && b)
                    break;
            }
        }
    }
    close(fd);
    out[got] = '\0';
    return got;
}

#endif

/*
 * test_access — the request pipeline's key scopes (src/http/pipeline.c,
 * check_scope) on a real server: http_start on a loopback port with a
 * route table of our own, so that the admin scope is checked on routes
 * that the product's tables do not have yet (a GET flagged
 * HTTP_ROUTE_ADMIN, a POST that is neither ingestion nor open), with
 * real key sets (src/http/auth.c) and real HTTP requests over a socket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/auth.h"
#include "http/http.h"

static enum http_result ok(struct http_req *r)
{
    return http_reply_json(r, 200, "{\"ok\":true}");
}

static const struct http_route routes[] = {
    {"GET", "/read", ok, 0, NULL},
    {"GET", "/admin", ok, HTTP_ROUTE_ADMIN, NULL},
    {"POST", "/write", ok, HTTP_BODY_JSON, NULL},
    {"GET", "/open", ok, HTTP_ROUTE_OPEN, NULL},
    {"POST", "/ingest", ok, HTTP_BODY_JSON | HTTP_ROUTE_AUTH, NULL},
    {"GET", "/quarantine", ok, HTTP_ROUTE_AUTH, NULL},
};

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

struct srv {
    struct http_server *s;
    struct auth *ingest, *read, *admin;
    int port;
};

/* A server whose read keys are read_key (NULL: none), admin keys
 * admin_key, API keys ingest_key. */
static void start3(struct srv *v, const char *read_key, const char *admin_key,
                   const char *ingest_key)
{
    char err[512], listen[64];
    memset(v, 0, sizeof(*v));
    v->ingest = auth_new(&ingest_key, ingest_key ? 1 : 0, NULL, NULL, err, sizeof(err));
    v->read = auth_new_named("read", &read_key, read_key ? 1 : 0, NULL, NULL, err,
                             sizeof(err));
    v->admin = auth_new_named("admin", &admin_key, admin_key ? 1 : 0, NULL, NULL, err,
                              sizeof(err));
    assert_non_null(v->ingest);
    assert_non_null(v->read);
    assert_non_null(v->admin);
    struct http_ctx hc = {.auth = v->ingest, .read_auth = v->read, .admin_auth = v->admin,
                          .header_timeout_s = 10, .body_timeout_s = 10,
                          .max_connections = 64};
    assert_int_equal(http_add_routes(&hc, routes, sizeof(routes) / sizeof(routes[0])), 0);
    v->port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", v->port);
    v->s = http_start(listen, &hc, 2, err, sizeof(err));
    if (!v->s)
        fail_msg("http_start: %s", err);
}

static void start(struct srv *v, const char *read_key, const char *admin_key)
{
    start3(v, read_key, admin_key, "ik");
}

static void stop(struct srv *v)
{
    http_stop(v->s);
    auth_destroy(v->ingest);
    auth_destroy(v->read);
    auth_destroy(v->admin);
}

/* The status of METHOD path with key as a bearer token (NULL: none). */
static int status(struct srv *v, const char *method, const char *path, const char *key,
                  char *body, size_t body_size)
{
    char req[512], resp[4096];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)v->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    int post = !strcmp(method, "POST");
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
                     "%sConnection: close\r\n\r\n%s", method, path,
                     key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "",
                     post ? "Content-Type: application/json\r\nContent-Length: 2\r\n" : "",
                     post ? "{}" : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof(resp) && (k = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    close(fd);
    int st = 0;
    assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &st), 1);
    const char *b = strstr(resp, "\r\n\r\n");
    if (body)
        snprintf(body, body_size, "%s", b ? b + 4 : "");
    return st;
}

#define ST(v, m, p, k) status(v, m, p, k, NULL, 0)

static void read_and_admin_keys(void **state)
{
    (void)state;
    struct srv v;
    char body[1024];
    start(&v, "rk", "ak");
    /* reads: a read or an admin key */
    assert_int_equal(ST(&v, "GET", "/read", NULL), 401);
    assert_int_equal(ST(&v, "GET", "/read", "nope"), 401);
    assert_int_equal(ST(&v, "GET", "/read", "rk"), 200);
    assert_int_equal(ST(&v, "GET", "/read", "ak"), 200);
    assert_int_equal(ST(&v, "GET", "/read", "ik"), 403);
    /* a route flagged HTTP_ROUTE_ADMIN: the admin key only */
    assert_int_equal(ST(&v, "GET", "/admin", NULL), 401);
    assert_int_equal(status(&v, "GET", "/admin", "rk", body, sizeof(body)), 403);
    assert_non_null(strstr(body, "\"detail\""));
    assert_null(strstr(body, "rk"));
    assert_int_equal(ST(&v, "GET", "/admin", "ik"), 403);
    assert_int_equal(ST(&v, "GET", "/admin", "ak"), 200);
    /* a write that is not ingestion: admin, whatever its flags say */
    assert_int_equal(ST(&v, "POST", "/write", NULL), 401);
    assert_int_equal(ST(&v, "POST", "/write", "rk"), 403);
    assert_int_equal(ST(&v, "POST", "/write", "ak"), 200);
    /* open routes and ingestion keep their own rules */
    assert_int_equal(ST(&v, "GET", "/open", NULL), 200);
    assert_int_equal(ST(&v, "POST", "/ingest", "ik"), 200);
    assert_int_equal(ST(&v, "POST", "/ingest", "rk"), 403);
    assert_int_equal(ST(&v, "POST", "/ingest", "ak"), 403);
    assert_int_equal(ST(&v, "POST", "/ingest", NULL), 401);
    assert_int_equal(ST(&v, "GET", "/quarantine", "ik"), 200);
    assert_int_equal(ST(&v, "GET", "/quarantine", "rk"), 403);
    stop(&v);
}

static void ingestion_without_api_keys(void **state)
{
    (void)state;
    struct srv v;
    start3(&v, "rk", "ak", NULL);
    /* its POSTs stay open, as before; its reads are reads */
    assert_int_equal(ST(&v, "POST", "/ingest", NULL), 200);
    assert_int_equal(ST(&v, "GET", "/quarantine", NULL), 401);
    assert_int_equal(ST(&v, "GET", "/quarantine", "rk"), 200);
    stop(&v);
}

static void admin_keys_only(void **state)
{
    (void)state;
    struct srv v;
    start(&v, NULL, "ak");
    /* reads stay open; writes need the admin key */
    assert_int_equal(ST(&v, "GET", "/read", NULL), 200);
    assert_int_equal(ST(&v, "GET", "/admin", NULL), 401);
    assert_int_equal(ST(&v, "POST", "/write", NULL), 401);
    assert_int_equal(ST(&v, "POST", "/write", "nope"), 401);
    assert_int_equal(ST(&v, "POST", "/write", "ak"), 200);
    stop(&v);
}

static void read_keys_only(void **state)
{
    (void)state;
    struct srv v;
    char body[1024];
    start(&v, "rk", NULL);
    /* no admin key: nobody writes, and the answer says why */
    assert_int_equal(status(&v, "POST", "/write", "rk", body, sizeof(body)), 403);
    assert_non_null(strstr(body, "--admin-key"));
    assert_int_equal(ST(&v, "GET", "/read", "rk"), 200);
    stop(&v);
}

static void no_keys(void **state)
{
    (void)state;
    struct srv v;
    start(&v, NULL, NULL);
    assert_int_equal(ST(&v, "GET", "/read", NULL), 200);
    assert_int_equal(ST(&v, "GET", "/admin", NULL), 200);
    assert_int_equal(ST(&v, "POST", "/write", NULL), 200);
    assert_int_equal(ST(&v, "GET", "/signin", NULL), 404);
    stop(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_and_admin_keys),
        cmocka_unit_test(admin_keys_only),
        cmocka_unit_test(read_keys_only),
        cmocka_unit_test(no_keys),
        cmocka_unit_test(ingestion_without_api_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_cql — src/store/cql.c's answer handling, with answers written into
 * a socket pair (cql_adopt_fd): a Rows result whose row count claims more
 * cells than its body holds is refused without sizing an allocation by it
 * (fuzz_cql finding: malloc of 3.4 GB); a Rows result is read cell by
 * cell; an ERROR becomes one sentence with its details; a BATCH run whose
 * one batch is answered with error code 0 (server error) fails (the e2e
 * fault test found it counted as written).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/cql.h"

struct out {
    uint8_t b[4096];
    size_t n;
};

static void put(struct out *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u16(struct out *o, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 2);
}
static void u32(struct out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    put(o, b, 4);
}
static void str(struct out *o, const char *s)
{
    u16(o, (unsigned)strlen(s));
    put(o, s, strlen(s));
}
/* A response frame around body. */
static void frame(struct out *o, int16_t stream, int op, const struct out *body)
{
    uint8_t h[5] = {0x84, 0, (uint8_t)((uint16_t)stream >> 8), (uint8_t)stream,
                    (uint8_t)op};
    put(o, h, 5);
    u32(o, (uint32_t)body->n);
    put(o, body->b, body->n);
}

/* A handle whose connection answers with the bytes of o (then EOF). */
static struct cql *answering(const struct out *o, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], o->b, o->n), (ssize_t)o->n);
    shutdown(sv[1], SHUT_WR);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    struct cql_conf conf = {.nhosts = 1, .request_timeout_ms = 2000};
    conf.hosts[0] = "127.0.0.1";
    conf.ports[0] = 1;
    struct cql *c = cql_new(&conf);
    assert_non_null(c);
    cql_adopt_fd(c, sv[0]);
    *peer = sv[1];
    return c;
}

static void rows_head(struct out *b, int ncols)
{
    u32(b, 2);                  /* Rows */
    u32(b, 0x0001);             /* Global_tables_spec */
    u32(b, (uint32_t)ncols);
    str(b, "system_schema");
    str(b, "columns");
    for (int i = 0; i < ncols; i++) {
        str(b, i ? "type" : "column_name");
        u16(b, 0x000D);
    }
}

static void rows_count_past_body_is_refused(void **state)
{
    (void)state;
    struct out body = {0}, o = {0};
    rows_head(&body, 2);
    u32(&body, 0x68000000);     /* rows: far more than the body holds */
    frame(&o, 1, CQL_OP_RESULT, &body);
    int peer;
    struct cql *c = answering(&o, &peer);
    struct cql_rows r;
    char err[512];
    assert_int_equal(cql_query(c, "SELECT", NULL, 0, CQL_ONE, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad Rows result"));
    cql_destroy(c);
    close(peer);
}

static void rows_are_read_cell_by_cell(void **state)
{
    (void)state;
    struct out body = {0}, o = {0};
    rows_head(&body, 2);
    u32(&body, 2);
    const char *cells[] = {"uuid", "uuid", "total", NULL};
    for (int i = 0; i < 4; i++) {
        if (cells[i]) {
            u32(&body, (uint32_t)strlen(cells[i]));
            put(&body, cells[i], strlen(cells[i]));
        } else {
            u32(&body, 0xFFFFFFFFu);    /* null */
        }
    }
    frame(&o, -1, CQL_OP_EVENT, &(struct out){.n = 0});  /* an event is skipped */
    frame(&o, 1, CQL_OP_RESULT, &body);
    int peer;
    struct cql *c = answering(&o, &peer);
    struct cql_rows r;
    char err[512];
    assert_int_equal(cql_query(c, "SELECT", NULL, 0, CQL_ONE, &r, err, sizeof(err)), 0);
    assert_int_equal(r.ncols, 2);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(r.cell_len[2], 5);
    assert_memory_equal(r.cell[2], "total", 5);
    assert_int_equal(r.cell_len[3], -1);
    cql_rows_free(&r);
    cql_destroy(c);
    close(peer);
}

static void error_becomes_one_sentence(void **state)
{
    (void)state;
    struct out body = {0}, o = {0};
    u32(&body, CQL_ERR_UNAVAILABLE);
    str(&body, "Cannot achieve consistency level");
    u16(&body, CQL_LOCAL_QUORUM);
    u32(&body, 2);
    u32(&body, 1);
    frame(&o, 1, CQL_OP_ERROR, &body);
    int peer;
    struct cql *c = answering(&o, &peer);
    char err[512];
    assert_int_equal(cql_query(c, "INSERT", NULL, 0, CQL_ONE, NULL, err, sizeof(err)), -1);
    assert_int_equal(cql_last_error(c), CQL_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "not enough replicas up"));
    assert_non_null(strstr(err, "consistency LOCAL_QUORUM needs 2, 1 alive"));
    cql_destroy(c);
    close(peer);
}

static void batch_with_code_0_error_fails(void **state)
{
    (void)state;
    struct out prep = {0}, v = {0}, e = {0}, o = {0};
    u32(&prep, 4);              /* Prepared */
    u16(&prep, 2);
    put(&prep, "id", 2);
    u32(&prep, 0);              /* metadata: flags, 1 column, no pk */
    u32(&prep, 1);
    u32(&prep, 0);
    str(&prep, "ks");
    str(&prep, "t");
    str(&prep, "a");
    u16(&prep, 0x0009);
    u32(&prep, 0x0004);         /* result metadata: No_metadata */
    u32(&prep, 0);
    u32(&v, 1);                 /* Void */
    u32(&e, CQL_ERR_SERVER);
    str(&e, "java.lang.RuntimeException");
    frame(&o, 1, CQL_OP_RESULT, &prep);
    frame(&o, 1, CQL_OP_RESULT, &v);    /* batch 0 */
    frame(&o, 2, CQL_OP_ERROR, &e);     /* batch 1 */
    frame(&o, 3, CQL_OP_RESULT, &v);    /* batch 2 */
    int peer, stmt, nbind;
    struct cql *c = answering(&o, &peer);
    char err[512];
    assert_int_equal(cql_prepare(c, "INSERT", &stmt, &nbind, err, sizeof(err)), 0);
    assert_int_equal(nbind, 1);
    struct cql_value vals[3] = {{.type = CQL_T_INT}, {.type = CQL_T_INT},
                                {.type = CQL_T_INT}};
    assert_int_equal(cql_batch_rows(c, stmt, vals, 1, 3, 1, CQL_ONE, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "RuntimeException"));
    cql_destroy(c);
    close(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_count_past_body_is_refused),
        cmocka_unit_test(rows_are_read_cell_by_cell),
        cmocka_unit_test(error_becomes_one_sentence),
        cmocka_unit_test(batch_with_code_0_error_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

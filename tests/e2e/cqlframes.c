/*
 * cqlframes — test-only: prints, one per line as "NAME HEX", every kind of
 * request frame src/store/cql.c sends, for fixed inputs that
 * tests/e2e/test_cql_frames.py encodes again with the DataStax Python
 * driver (python3-cassandra) and compares byte for byte. Built by that test
 * with the system C compiler from src/store/cql.c alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cql.h"

static void put(const char *name, int rc, uint8_t *p, size_t n)
{
    if (rc) {
        fprintf(stderr, "%s: encoding failed\n", name);
        exit(1);
    }
    printf("%s ", name);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
    free(p);
}

/* the encoder runs first, then its frame is printed */
#define PUT(name, call) do { int rc_ = (call); put(name, rc_, p, n); } while (0)

static void text(struct cql_value *v, const char *s)
{
    memset(v, 0, sizeof(*v));
    v->type = CQL_T_TEXT;
    v->s = s;
    v->len = strlen(s);
}

int main(void)
{
    uint8_t *p = NULL;
    size_t n = 0;
    static const uint8_t id[16] = {0x9f, 0x1c, 0x00, 0x7a, 0x10, 0x22, 0x33, 0x44,
                                   0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc};
    const char *ins = "INSERT INTO order_ks.order_table (uuid, customer_id, source, "
                      "quantity, total, created_at) VALUES (?, ?, ?, ?, ?, ?)";
    PUT("startup", cql_enc_startup(1, &p, &n));
    PUT("options", cql_enc_options(1, &p, &n));
    PUT("auth", cql_enc_auth_plain(1, "cassandra", "cassandra", &p, &n));
    PUT("auth_utf8", cql_enc_auth_plain(7, "k\xc3\xa4the", "p\xc3\xa4ss word:@/", &p, &n));
    PUT("query", cql_enc_query(1, "SELECT column_name, kind, type FROM "
                               "system_schema.columns WHERE keyspace_name = 'order_ks' "
                               "AND table_name = 'order_table'", NULL, 0, CQL_ONE,
                               &p, &n));
    PUT("query_ddl", cql_enc_query(1, "CREATE KEYSPACE IF NOT EXISTS order_ks WITH "
                                   "replication = {'class': 'SimpleStrategy', "
                                   "'replication_factor': 1}", NULL, 0, CQL_QUORUM,
                                   &p, &n));
    PUT("prepare", cql_enc_prepare(1, ins, &p, &n));

    /* rows: uuid, int, text, int, float|decimal, text */
    static const int64_t cents[] = {210000, 0, -1, 12345678901234LL, 128, -129, 1};
    static const char *src[] = {"Dine In", "Takeaway", "Home Delivery", "", "x",
                                "K\xc3\xa4se \xe2\x82\xac", "Dine In"};
    static const int32_t cust[] = {3, 17, -2147483647 - 1, 2147483647, 0, 1, 5};
    static const int32_t qty[] = {7, 1, 1000000, 2, 3, 4, 5};
    enum { NR = 7 };
    struct cql_value fv[NR * 6], dv[NR * 6];
    for (int r = 0; r < NR; r++) {
        struct cql_value *v = fv + r * 6;
        memset(v, 0, 6 * sizeof(*v));
        v[0].type = CQL_T_UUID;
        for (int k = 0; k < 16; k++)
            v[0].uuid[k] = (uint8_t)(r * 16 + k * 7);
        v[1].type = CQL_T_INT;
        v[1].i32 = cust[r];
        text(&v[2], src[r]);
        v[3].type = CQL_T_INT;
        v[3].i32 = qty[r];
        v[4].type = CQL_T_FLOAT;
        v[4].f = (float)((double)cents[r] / 100.0);
        text(&v[5], "2026-11-29T03:40:00.123Z");
        memcpy(dv + r * 6, v, 6 * sizeof(*v));
        dv[r * 6 + 4].type = CQL_T_DECIMAL;
        dv[r * 6 + 4].scale = 2;
        dv[r * 6 + 4].i64 = cents[r];
    }
    for (int r = 0; r < NR; r++) {
        char name[32];
        snprintf(name, sizeof(name), "execute_float_%d", r);
        PUT(name, cql_enc_execute(1, id, sizeof(id), fv + r * 6, 6, CQL_LOCAL_QUORUM,
                                  &p, &n));
        snprintf(name, sizeof(name), "execute_decimal_%d", r);
        PUT(name, cql_enc_execute(1, id, sizeof(id), dv + r * 6, 6, CQL_LOCAL_QUORUM,
                                  &p, &n));
    }
    PUT("batch_float", cql_enc_batch(5, id, sizeof(id), fv, 6, NR, CQL_LOCAL_QUORUM,
                                     &p, &n));
    PUT("batch_decimal", cql_enc_batch(64, id, sizeof(id), dv, 6, NR, CQL_QUORUM,
                                       &p, &n));
    PUT("batch_one", cql_enc_batch(2, id, sizeof(id), dv, 6, 1, CQL_ONE, &p, &n));
    return 0;
}

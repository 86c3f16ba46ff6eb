/*
 * cql_sink — the CQL client's own ceiling, without the processor or a
 * serving store: build/bench/cql_sink HOST PORT N [ROWS_PER_BATCH] writes
 * N raw-order rows (uuid, int, text, int, decimal, text) with one prepared
 * INSERT in unlogged BATCHes, CQL_WINDOW in flight, 5,000 rows per call as
 * the processor's batches, and prints rows/s and this process's CPU time.
 * Run against tests/e2e/cqlserver.py (bench/cassandra.py starts it).
 */
#include "store/cql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CALL_ROWS 5000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: cql_sink HOST PORT N [ROWS_PER_BATCH]\n");
        return 2;
    }
    long n = atol(argv[3]), per = argc > 4 ? atol(argv[4]) : 50;
    struct cql_conf conf = {.nhosts = 1};
    conf.hosts[0] = argv[1];
    conf.ports[0] = atoi(argv[2]);
    struct cql *c = cql_new(&conf);
    char err[512];
    int stmt;
    if (!c || cql_query(c, "CREATE KEYSPACE IF NOT EXISTS order_ks WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}", NULL, 0,
                        CQL_QUORUM, NULL, err, sizeof(err)) ||
        cql_query(c, "CREATE TABLE IF NOT EXISTS order_ks.order_table (uuid uuid PRIMARY "
                  "KEY, customer_id int, source text, quantity int, total decimal, "
                  "created_at text)", NULL, 0, CQL_QUORUM, NULL, err, sizeof(err)) ||
        cql_prepare(c, "INSERT INTO order_ks.order_table (uuid, customer_id, source, "
                    "quantity, total, created_at) VALUES (?, ?, ?, ?, ?, ?)", &stmt, NULL,
                    err, sizeof(err))) {
        fprintf(stderr, "cql_sink: %s\n", c ? err : "out of memory");
        return 1;
    }
    static struct cql_value v[CALL_ROWS * 6];
    double t0 = now_s();
    for (long done = 0; done < n;) {
        long k = n - done < CALL_ROWS ? n - done : CALL_ROWS;
        for (long r = 0; r < k; r++) {
            struct cql_value *x = v + r * 6;
            memset(x, 0, 6 * sizeof(*x));
            x[0].type = CQL_T_UUID;
            long id = done + r;
            memcpy(x[0].uuid, &id, sizeof(id));
            x[1].type = CQL_T_INT, x[1].i32 = (int32_t)(id % 17 + 1);
            x[2].type = CQL_T_TEXT, x[2].s = "Dine In", x[2].len = 7;
            x[3].type = CQL_T_INT, x[3].i32 = 7;
            x[4].type = CQL_T_DECIMAL, x[4].scale = 2, x[4].i64 = 210000;
            x[5].type = CQL_T_TEXT, x[5].s = "2026-11-29T03:40:00.123Z", x[5].len = 24;
        }
        if (cql_batch_rows(c, stmt, v, 6, (size_t)k, (size_t)per, CQL_ONE, err,
                           sizeof(err))) {
            fprintf(stderr, "cql_sink: %s\n", err);
            return 1;
        }
        done += k;
    }
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.0f rows/s %.3f s client_cpu_s %.3f\n", (double)n / secs, secs,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6);
    cql_destroy(c);
    return 0;
}

/*
 * fuzz_cql — libFuzzer harness for the CQL client's answer parsing
 * (src/store/cql.c): the input is what a server sends back, fed through a
 * socket pair to a handle that sends a QUERY (RESULT Rows parsing), a
 * PREPARE (RESULT Prepared and its metadata) and a pipelined BATCH run
 * (answers matched by stream id, ERROR bodies turned into text, UNPREPARED
 * re-preparation). Frame headers, lengths, flags (tracing, warnings,
 * custom payload), [string]s, [option] types and cell counts all come from
 * the input; nothing may read outside it, hang, or leak.
 */
#include "store/cql.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        return 0;
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    if (size && write(sv[1], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    shutdown(sv[1], SHUT_WR);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);

    struct cql_conf conf = {.nhosts = 1, .request_timeout_ms = 50};
    conf.hosts[0] = "127.0.0.1";
    conf.ports[0] = 1;      /* never dialled: a reconnect fails at once */
    struct cql *c = cql_new(&conf);
    if (!c) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    cql_adopt_fd(c, sv[0]);
    char err[512];
    struct cql_rows rows;
    if (cql_query(c, "SELECT", NULL, 0, CQL_ONE, &rows, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < rows.nrows * (size_t)rows.ncols; i++)
            if (rows.cell_len[i] > 0 && rows.cell[i][rows.cell_len[i] - 1] == 0xFF)
                err[0] = 0;     /* touch every cell's last byte */
        cql_rows_free(&rows);
    }
    int stmt, nbind;
    if (cql_prepare(c, "INSERT", &stmt, &nbind, err, sizeof(err)) == 0) {
        struct cql_value v[12] = {0};
        for (int i = 0; i < 12; i++)
            v[i].type = CQL_T_INT;
        cql_batch_rows(c, stmt, v, 2, 6, 1, CQL_ONE, err, sizeof(err));
    }
    cql_destroy(c);
    close(sv[1]);
    return 0;
}

/*
 * cql — a small client for the Cassandra native protocol, version 4
 * (doc/native_protocol_v4.spec in apache/cassandra), for the raw-order sink
 * (cassandra.c). It speaks only what the sink needs: OPTIONS, STARTUP,
 * PasswordAuthenticator (SASL PLAIN in AUTH_RESPONSE), QUERY, PREPARE,
 * EXECUTE and unlogged BATCH; no compression, no TLS, no events.
 *
 * One handle is one connection at a time to one of several contact points,
 * used by one thread. Requests are pipelined: cql_batch_rows() keeps up to
 * CQL_WINDOW BATCH frames in flight on separate stream ids and matches the
 * answers by stream id. Prepared statements are remembered by their text
 * and prepared again on every new connection and whenever a node answers
 * UNPREPARED. When a connection fails (I/O error, timeout, protocol error)
 * it is closed; the next call connects again, trying the contact points in
 * turn from the one after the failed one. Backoff between attempts is the
 * caller's (the processor retries a failed batch with a growing pause).
 *
 * The frame encoders (cql_enc_*) are exported so that a test can compare
 * every request byte for byte with the DataStax Python driver's encoding.
 * This file depends on nothing but libc.
 */
#ifndef SF_CQL_H
#define SF_CQL_H

#include <stddef.h>
#include <stdint.h>

#define CQL_MAX_HOSTS 16
#define CQL_WINDOW 64                  /* BATCH frames in flight at most */
#define CQL_FRAME_MAX (16u << 20)      /* largest answer taken (spec: 256 MB) */

/* Opcodes (spec section 2.4). */
enum {
    CQL_OP_ERROR = 0x00, CQL_OP_STARTUP = 0x01, CQL_OP_READY = 0x02,
    CQL_OP_AUTHENTICATE = 0x03, CQL_OP_OPTIONS = 0x05, CQL_OP_SUPPORTED = 0x06,
    CQL_OP_QUERY = 0x07, CQL_OP_RESULT = 0x08, CQL_OP_PREPARE = 0x09,
    CQL_OP_EXECUTE = 0x0A, CQL_OP_EVENT = 0x0C, CQL_OP_BATCH = 0x0D,
    CQL_OP_AUTH_CHALLENGE = 0x0E, CQL_OP_AUTH_RESPONSE = 0x0F,
    CQL_OP_AUTH_SUCCESS = 0x10,
};

/* Consistency levels (spec section 3, [consistency]). */
enum {
    CQL_ANY = 0, CQL_ONE = 1, CQL_TWO = 2, CQL_THREE = 3, CQL_QUORUM = 4,
    CQL_ALL = 5, CQL_LOCAL_QUORUM = 6, CQL_EACH_QUORUM = 7, CQL_LOCAL_ONE = 10,
};

/* Value types the sink binds (spec section 4.2.5.2 [option] ids). */
enum cql_type {
    CQL_T_NULL = 0, CQL_T_BIGINT = 0x02, CQL_T_DECIMAL = 0x06,
    CQL_T_DOUBLE = 0x07, CQL_T_FLOAT = 0x08, CQL_T_INT = 0x09,
    CQL_T_UUID = 0x0C, CQL_T_TEXT = 0x0D,
};

/* One bound value: type says which member is used. DECIMAL is
 * unscaled * 10^-scale (i64, scale); TEXT is s[0..len). */
struct cql_value {
    enum cql_type type;
    int32_t i32, scale;
    int64_t i64;
    float f;
    double d;
    const char *s;
    size_t len;
    uint8_t uuid[16];
};

/* Server error codes (spec section 9). */
enum {
    CQL_ERR_SERVER = 0x0000, CQL_ERR_PROTOCOL = 0x000A,
    CQL_ERR_BAD_CREDENTIALS = 0x0100, CQL_ERR_UNAVAILABLE = 0x1000,
    CQL_ERR_OVERLOADED = 0x1001, CQL_ERR_BOOTSTRAPPING = 0x1002,
    CQL_ERR_TRUNCATE = 0x1003, CQL_ERR_WRITE_TIMEOUT = 0x1100,
    CQL_ERR_READ_TIMEOUT = 0x1200, CQL_ERR_READ_FAILURE = 0x1300,
    CQL_ERR_FUNCTION_FAILURE = 0x1400, CQL_ERR_WRITE_FAILURE = 0x1500,
    CQL_ERR_SYNTAX = 0x2000, CQL_ERR_UNAUTHORIZED = 0x2100,
    CQL_ERR_INVALID = 0x2200, CQL_ERR_CONFIG = 0x2300,
    CQL_ERR_ALREADY_EXISTS = 0x2400, CQL_ERR_UNPREPARED = 0x2500,
    /* not from the server: */
    CQL_ERR_IO = -1,        /* cannot connect, connection lost, timeout */
    CQL_ERR_CLIENT = -2,    /* bad answer, out of memory, too large */
};

struct cql_conf {
    const char *hosts[CQL_MAX_HOSTS];
    int ports[CQL_MAX_HOSTS];
    int nhosts;
    const char *user;           /* NULL: no login */
    const char *password;
    int connect_timeout_ms;     /* 0: 5000 */
    int request_timeout_ms;     /* 0: 12000 */
};

/* The rows of a RESULT Rows: cells in row order, each a pointer into the
 * result's body and a length (-1: null). */
struct cql_rows {
    int ncols;
    size_t nrows;
    const uint8_t **cell;
    int32_t *cell_len;
    uint8_t *body;
};
void cql_rows_free(struct cql_rows *r);

struct cql;

/* A handle for conf (copied). Does not connect. NULL on out of memory. */
struct cql *cql_new(const struct cql_conf *conf);
void cql_destroy(struct cql *c);

/* Connect if not connected: each contact point in turn, OPTIONS, STARTUP,
 * login, prepare the remembered statements. 0, or -1 with errstr (the last
 * contact point's error, naming it). */
int cql_connect(struct cql *c, char *errstr, size_t errstr_size);
int cql_connected(const struct cql *c);
void cql_disconnect(struct cql *c);
/* For tests and fuzzing: take fd (a connected, non-blocking stream socket)
 * as the connection, as if the handshake had succeeded. */
void cql_adopt_fd(struct cql *c, int fd);

/* "HOST:PORT" of the connected (or last tried) contact point. */
const char *cql_peer(const struct cql *c);

/* The code of the last error (CQL_ERR_*), for callers that decide by kind. */
int cql_last_error(const struct cql *c);

/* QUERY q with values at consistency cl; rows (may be NULL) gets the rows
 * of a Rows result (freed by cql_rows_free), else ncols 0. */
int cql_query(struct cql *c, const char *q, const struct cql_value *v, int nv,
              int cl, struct cql_rows *rows, char *errstr, size_t errstr_size);

/* Remember and prepare q (connecting if needed); *stmt gets its handle.
 * *nbind (may be NULL) gets the number of bind markers. */
int cql_prepare(struct cql *c, const char *q, int *stmt, int *nbind,
                char *errstr, size_t errstr_size);

/* EXECUTE a prepared statement once. */
int cql_execute(struct cql *c, int stmt, const struct cql_value *v, int nv,
                int cl, char *errstr, size_t errstr_size);

/* Write nrows rows (v holds nrows * ncols values, row by row) with
 * prepared statement stmt, per_batch rows to one unlogged BATCH, up to
 * CQL_WINDOW batches in flight. Batches a node answers UNPREPARED are sent
 * again once prepared again. 0 once every batch succeeded; -1 with the
 * first error otherwise (some batches may have been applied: the caller
 * writes idempotently and retries all). */
int cql_batch_rows(struct cql *c, int stmt, const struct cql_value *v, int ncols,
                   size_t nrows, size_t per_batch, int cl, char *errstr,
                   size_t errstr_size);

/* Frame encoders (a complete frame: header + body) into a malloc()ed buffer
 * *out of *len bytes; 0, or -1 on out of memory. */
int cql_enc_startup(int16_t stream, uint8_t **out, size_t *len);
int cql_enc_options(int16_t stream, uint8_t **out, size_t *len);
int cql_enc_auth_plain(int16_t stream, const char *user, const char *password,
                       uint8_t **out, size_t *len);
int cql_enc_query(int16_t stream, const char *q, const struct cql_value *v,
                  int nv, int cl, uint8_t **out, size_t *len);
int cql_enc_prepare(int16_t stream, const char *q, uint8_t **out, size_t *len);
int cql_enc_execute(int16_t stream, const uint8_t *id, size_t idlen,
                    const struct cql_value *v, int nv, int cl, uint8_t **out,
                    size_t *len);
int cql_enc_batch(int16_t stream, const uint8_t *id, size_t idlen,
                  const struct cql_value *v, int ncols, size_t nrows, int cl,
                  uint8_t **out, size_t *len);

/* A consistency level's name ("LOCAL_QUORUM") to its code; -1 if unknown. */
int cql_consistency(const char *name);
const char *cql_consistency_name(int cl);

#endif

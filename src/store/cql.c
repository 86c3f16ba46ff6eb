/*
 * cql — the CQL native protocol v4 client (see cql.h for what it covers).
 *
 * Frames: a 9-byte header (version 0x04 for requests, 0x84 for responses;
 * flags; a signed 16-bit stream id; the opcode; a 32-bit body length) and
 * the body, all big-endian. Requests are encoded into a growable buffer
 * (struct wbuf) and written with one write per burst; answers are read
 * into a buffer that holds at least one whole frame (bodies over
 * CQL_FRAME_MAX are refused). Every wait is bounded by poll() with the
 * request timeout, so a silent server is a timeout, not a hang.
 *
 * Stream ids: single requests use stream 1; a pipelined BATCH run uses
 * streams 1..CQL_WINDOW, one per batch in flight, and matches each answer
 * to its batch by id. EVENT frames (stream -1) are skipped; a request's
 * timeout counts from its sending, whatever else arrives meanwhile.
 *
 * Errors: the server's ERROR body (code, message, and for the common
 * availability errors their details) becomes one sentence that says what
 * happened and what a person can do about it (err_text()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/cql.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STMTS 8
#define RBUF_INIT (64u << 10)

struct stmt {
    char *query;
    uint8_t id[256];
    size_t idlen;
    int nbind;
    int prepared;       /* on the current connection */
};

struct cql {
    struct cql_conf conf;
    char *hosts[CQL_MAX_HOSTS];
    char *user, *password;
    int cur;            /* contact point in use or to try first */
    int fd;
    char peer[300];
    uint8_t *rbuf;
    size_t rcap, rlen, roff;
    struct stmt st[MAX_STMTS];
    int nst;
    int last_err;
};

/* ---- encoding ---------------------------------------------------------- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
};

static void w_need(struct wbuf *w, size_t n)
{
    if (w->oom || w->len + n <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *p = realloc(w->p, cap);
    if (!p) {
        w->oom = 1;
        return;
    }
    w->p = p;
    w->cap = cap;
}
static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
    w_need(w, n);
    if (w->oom)
        return;
    if (n)
        memcpy(w->p + w->len, p, n);
    w->len += n;
}
static void w_u8(struct wbuf *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    w_bytes(w, &b, 1);
}
static void w_u16(struct wbuf *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 2);
}
static void w_u32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    w_bytes(w, b, 4);
}
static void w_u64(struct wbuf *w, uint64_t v)
{
    w_u32(w, (uint32_t)(v >> 32));
    w_u32(w, (uint32_t)v);
}
static void w_string(struct wbuf *w, const char *s)      /* [string] */
{
    size_t n = strlen(s);
    w_u16(w, (unsigned)n);
    w_bytes(w, s, n);
}
static void w_longstring(struct wbuf *w, const char *s)  /* [long string] */
{
    size_t n = strlen(s);
    w_u32(w, (uint32_t)n);
    w_bytes(w, s, n);
}
/* A frame header with a length to fill in by frame_end(); returns where
 * the frame starts. */
static size_t frame_begin(struct wbuf *w, int16_t stream, int op)
{
    size_t at = w->len;
    w_u8(w, 0x04);
    w_u8(w, 0);
    w_u16(w, (uint16_t)stream);
    w_u8(w, (unsigned)op);
    w_u32(w, 0);
    return at;
}
static void frame_end(struct wbuf *w, size_t at)
{
    if (w->oom)
        return;
    uint32_t n = (uint32_t)(w->len - at - 9);
    w->p[at + 5] = (uint8_t)(n >> 24);
    w->p[at + 6] = (uint8_t)(n >> 16);
    w->p[at + 7] = (uint8_t)(n >> 8);
    w->p[at + 8] = (uint8_t)n;
}

/* Minimal two's complement big-endian bytes of v (spec 6.23). */
static size_t varint(int64_t v, uint8_t out[8])
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    int i = 0;
    while (i < 7 && ((b[i] == 0x00 && !(b[i + 1] & 0x80)) ||
                     (b[i] == 0xFF && (b[i + 1] & 0x80))))
        i++;
    memcpy(out, b + i, (size_t)(8 - i));
    return (size_t)(8 - i);
}

/* One value as [bytes]. */
static void w_value(struct wbuf *w, const struct cql_value *v)
{
    uint32_t bits;
    uint64_t dbits;
    uint8_t vi[8];
    size_t n;
    switch (v->type) {
    case CQL_T_NULL:
        w_u32(w, 0xFFFFFFFFu);
        return;
    case CQL_T_INT:
        w_u32(w, 4);
        w_u32(w, (uint32_t)v->i32);
        return;
    case CQL_T_BIGINT:
        w_u32(w, 8);
        w_u64(w, (uint64_t)v->i64);
        return;
    case CQL_T_FLOAT:
        memcpy(&bits, &v->f, 4);
        w_u32(w, 4);
        w_u32(w, bits);
        return;
    case CQL_T_DOUBLE:
        memcpy(&dbits, &v->d, 8);
        w_u32(w, 8);
        w_u64(w, dbits);
        return;
    case CQL_T_DECIMAL:
        n = varint(v->i64, vi);
        w_u32(w, (uint32_t)(4 + n));
        w_u32(w, (uint32_t)v->scale);
        w_bytes(w, vi, n);
        return;
    case CQL_T_UUID:
        w_u32(w, 16);
        w_bytes(w, v->uuid, 16);
        return;
    case CQL_T_TEXT:
        w_u32(w, (uint32_t)v->len);
        w_bytes(w, v->s, v->len);
        return;
    }
}

/* <query_parameters> with values and no other flag (spec 4.1.4). */
static void w_params(struct wbuf *w, const struct cql_value *v, int nv, int cl)
{
    w_u16(w, (unsigned)cl);
    w_u8(w, nv > 0 ? 0x01 : 0x00);
    if (nv > 0) {
        w_u16(w, (unsigned)nv);
        for (int i = 0; i < nv; i++)
            w_value(w, &v[i]);
    }
}

static void enc_startup(struct wbuf *w, int16_t stream)
{
    size_t at = frame_begin(w, stream, CQL_OP_STARTUP);
    w_u16(w, 1);
    w_string(w, "CQL_VERSION");
    w_string(w, "3.0.0");
    frame_end(w, at);
}
static void enc_auth_plain(struct wbuf *w, int16_t stream, const char *user,
                           const char *pw)
{
    size_t at = frame_begin(w, stream, CQL_OP_AUTH_RESPONSE);
    size_t un = strlen(user), pn = strlen(pw);
    w_u32(w, (uint32_t)(2 + un + pn));
    w_u8(w, 0);
    w_bytes(w, user, un);
    w_u8(w, 0);
    w_bytes(w, pw, pn);
    frame_end(w, at);
}
static void enc_query(struct wbuf *w, int16_t stream, const char *q,
                      const struct cql_value *v, int nv, int cl)
{
    size_t at = frame_begin(w, stream, CQL_OP_QUERY);
    w_longstring(w, q);
    w_params(w, v, nv, cl);
    frame_end(w, at);
}
static void enc_prepare(struct wbuf *w, int16_t stream, const char *q)
{
    size_t at = frame_begin(w, stream, CQL_OP_PREPARE);
    w_longstring(w, q);
    frame_end(w, at);
}
static void enc_execute(struct wbuf *w, int16_t stream, const uint8_t *id,
                        size_t idlen, const struct cql_value *v, int nv, int cl)
{
    size_t at = frame_begin(w, stream, CQL_OP_EXECUTE);
    w_u16(w, (unsigned)idlen);
    w_bytes(w, id, idlen);
    w_params(w, v, nv, cl);
    frame_end(w, at);
}
/* An unlogged BATCH of nrows executions of one prepared statement. */
static void enc_batch(struct wbuf *w, int16_t stream, const uint8_t *id,
                      size_t idlen, const struct cql_value *v, int ncols,
                      size_t nrows, int cl)
{
    size_t at = frame_begin(w, stream, CQL_OP_BATCH);
    w_u8(w, 1);                         /* UNLOGGED */
    w_u16(w, (unsigned)nrows);
    for (size_t r = 0; r < nrows; r++) {
        w_u8(w, 1);                     /* a prepared statement id */
        w_u16(w, (unsigned)idlen);
        w_bytes(w, id, idlen);
        w_u16(w, (unsigned)ncols);
        for (int i = 0; i < ncols; i++)
            w_value(w, &v[r * (size_t)ncols + (size_t)i]);
    }
    w_u16(w, (unsigned)cl);
    w_u8(w, 0);                         /* no serial consistency, timestamp */
    frame_end(w, at);
}

static int enc_done(struct wbuf *w, uint8_t **out, size_t *len)
{
    if (w->oom) {
        free(w->p);
        return -1;
    }
    *out = w->p;
    *len = w->len;
    return 0;
}

int cql_enc_startup(int16_t stream, uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    enc_startup(&w, stream);
    return enc_done(&w, out, len);
}
int cql_enc_options(int16_t stream, uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    frame_end(&w, frame_begin(&w, stream, CQL_OP_OPTIONS));
    return enc_done(&w, out, len);
}
int cql_enc_auth_plain(int16_t stream, const char *user, const char *password,
                       uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    enc_auth_plain(&w, stream, user, password);
    return enc_done(&w, out, len);
}
int cql_enc_query(int16_t stream, const char *q, const struct cql_value *v,
                  int nv, int cl, uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    enc_query(&w, stream, q, v, nv, cl);
    return enc_done(&w, out, len);
}
int cql_enc_prepare(int16_t stream, const char *q, uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    enc_prepare(&w, stream, q);
    return enc_done(&w, out, len);
}
int cql_enc_execute(int16_t stream, const uint8_t *id, size_t idlen,
                    const struct cql_value *v, int nv, int cl, uint8_t **out,
                    size_t *len)
{
    struct wbuf w = {0};
    enc_execute(&w, stream, id, idlen, v, nv, cl);
    return enc_done(&w, out, len);
}
int cql_enc_batch(int16_t stream, const uint8_t *id, size_t idlen,
                  const struct cql_value *v, int ncols, size_t nrows, int cl,
                  uint8_t **out, size_t *len)
{
    struct wbuf w = {0};
    enc_batch(&w, stream, id, idlen, v, ncols, nrows, cl);
    return enc_done(&w, out, len);
}

static const struct {
    const char *name;
    int cl;
} cls[] = {
    {"ANY", CQL_ANY}, {"ONE", CQL_ONE}, {"TWO", CQL_TWO}, {"THREE", CQL_THREE},
    {"QUORUM", CQL_QUORUM}, {"ALL", CQL_ALL}, {"LOCAL_QUORUM", CQL_LOCAL_QUORUM},
    {"EACH_QUORUM", CQL_EACH_QUORUM}, {"LOCAL_ONE", CQL_LOCAL_ONE},
};

int cql_consistency(const char *name)
{
    for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++)
        if (!strcasecmp(name, cls[i].name))
            return cls[i].cl;
    return -1;
}
const char *cql_consistency_name(int cl)
{
    for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++)
        if (cls[i].cl == cl)
            return cls[i].name;
    return "?";
}

/* ---- decoding ---------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    size_t n, off;
    int bad;
};

static int r_need(struct rd *r, size_t n)
{
    if (r->bad || r->n - r->off < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}
static unsigned r_u16(struct rd *r)
{
    if (!r_need(r, 2))
        return 0;
    unsigned v = (unsigned)r->p[r->off] << 8 | r->p[r->off + 1];
    r->off += 2;
    return v;
}
static int32_t r_i32(struct rd *r)
{
    if (!r_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
                 (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
    r->off += 4;
    return (int32_t)v;
}
/* A [string] copied into out (cut to n - 1 bytes). */
static void r_string(struct rd *r, char *out, size_t n)
{
    unsigned len = r_u16(r);
    if (!r_need(r, len)) {
        if (n)
            out[0] = '\0';
        return;
    }
    if (n) {
        size_t k = len < n - 1 ? len : n - 1;
        memcpy(out, r->p + r->off, k);
        out[k] = '\0';
    }
    r->off += len;
}
static void r_skip(struct rd *r, size_t n)
{
    if (r_need(r, n))
        r->off += n;
}
/* Skip an [option] type (recursively for collections, UDTs and tuples). */
static void r_skip_option(struct rd *r, int depth)
{
    unsigned id = r_u16(r);
    if (depth > 16) {
        r->bad = 1;
        return;
    }
    switch (id) {
    case 0x0000:
        r_string(r, NULL, 0);
        break;
    case 0x0020: case 0x0022:
        r_skip_option(r, depth + 1);
        break;
    case 0x0021:
        r_skip_option(r, depth + 1);
        r_skip_option(r, depth + 1);
        break;
    case 0x0030: {
        r_string(r, NULL, 0);
        r_string(r, NULL, 0);
        unsigned n = r_u16(r);
        for (unsigned i = 0; i < n && !r->bad; i++) {
            r_string(r, NULL, 0);
            r_skip_option(r, depth + 1);
        }
        break;
    }
    case 0x0031: {
        unsigned n = r_u16(r);
        for (unsigned i = 0; i < n && !r->bad; i++)
            r_skip_option(r, depth + 1);
        break;
    }
    default:
        break;
    }
}
/* <metadata> of Rows / the <metadata> of Prepared (prepared: with pk
 * indexes). Returns the column count. */
static int r_metadata(struct rd *r, int prepared)
{
    int32_t flags = r_i32(r), ncols = r_i32(r);
    if (ncols < 0 || ncols > 4096) {
        r->bad = 1;
        return 0;
    }
    if (prepared) {
        int32_t pk = r_i32(r);
        if (pk < 0 || pk > 4096)
            r->bad = 1;
        else
            r_skip(r, 2u * (size_t)pk);
    }
    if (!prepared && (flags & 0x0002)) {            /* Has_more_pages */
        int32_t n = r_i32(r);
        if (n > 0)
            r_skip(r, (size_t)n);
    }
    if (!prepared && (flags & 0x0004))              /* No_metadata */
        return ncols;
    if (flags & 0x0001) {                           /* Global_tables_spec */
        r_string(r, NULL, 0);
        r_string(r, NULL, 0);
    }
    for (int i = 0; i < ncols && !r->bad; i++) {
        if (!(flags & 0x0001)) {
            r_string(r, NULL, 0);
            r_string(r, NULL, 0);
        }
        r_string(r, NULL, 0);
        r_skip_option(r, 0);
    }
    return ncols;
}

void cql_rows_free(struct cql_rows *r)
{
    if (!r)
        return;
    free(r->cell);
    free(r->cell_len);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- errors ------------------------------------------------------------ */

static int fail(struct cql *c, int code, char *e, size_t en, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(struct cql *c, int code, char *e, size_t en, const char *fmt, ...)
{
    c->last_err = code;
    if (e && en) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e, en, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The ERROR body as one sentence for a person; returns the code. */
static int err_text(struct cql *c, const uint8_t *body, size_t n, char *e, size_t en)
{
    struct rd r = {body, n, 0, 0};
    int32_t code = r_i32(&r);
    char msg[512], extra[256] = "";
    r_string(&r, msg, sizeof(msg));
    const char *what = "server error", *todo = "";
    switch (code) {
    case CQL_ERR_BAD_CREDENTIALS:
        what = "login refused";
        todo = "; check the user in the URI and SALESFLOW_CASSANDRA_PASSWORD";
        break;
    case CQL_ERR_UNAVAILABLE: {
        unsigned cl = r_u16(&r);
        int32_t req = r_i32(&r), alive = r_i32(&r);
        what = "not enough replicas up";
        if (!r.bad)
            snprintf(extra, sizeof(extra), " (consistency %s needs %d, %d alive)",
                     cql_consistency_name((int)cl), req, alive);
        todo = "; bring nodes back or lower ?consistency=";
        break;
    }
    case CQL_ERR_OVERLOADED:
        what = "node overloaded";
        todo = "; the batch is retried";
        break;
    case CQL_ERR_BOOTSTRAPPING:
        what = "node still bootstrapping";
        break;
    case CQL_ERR_WRITE_TIMEOUT: {
        unsigned cl = r_u16(&r);
        int32_t got = r_i32(&r), need = r_i32(&r);
        char wt[32];
        r_string(&r, wt, sizeof(wt));
        what = "write timeout";
        if (!r.bad)
            snprintf(extra, sizeof(extra), " (consistency %s, %d of %d replicas "
                     "acknowledged, write type %s)", cql_consistency_name((int)cl),
                     got, need, wt);
        todo = "; the batch is retried (the writes are idempotent)";
        break;
    }
    case CQL_ERR_WRITE_FAILURE:
        what = "write failure";
        break;
    case CQL_ERR_READ_TIMEOUT:
        what = "read timeout";
        break;
    case CQL_ERR_SYNTAX:
        what = "syntax error";
        break;
    case CQL_ERR_UNAUTHORIZED:
        what = "not permitted";
        todo = "; GRANT the permission to the user of the URI";
        break;
    case CQL_ERR_INVALID:
        what = "invalid request";
        break;
    case CQL_ERR_CONFIG:
        what = "configuration error";
        break;
    case CQL_ERR_ALREADY_EXISTS:
        what = "already exists";
        break;
    case CQL_ERR_UNPREPARED:
        what = "statement not prepared on this node";
        break;
    case CQL_ERR_PROTOCOL:
        what = "protocol error";
        todo = "; the server must speak CQL native protocol v4 (Cassandra 2.2 or later)";
        break;
    default:
        break;
    }
    fail(c, code, e, en, "%s: %s: %s%s%s", c->peer, what, msg, extra, todo);
    return code;
}

/* ---- I/O --------------------------------------------------------------- */

static int timeout_ms(const struct cql *c)
{
    return c->conf.request_timeout_ms > 0 ? c->conf.request_timeout_ms : 12000;
}

void cql_disconnect(struct cql *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = c->roff = 0;
    for (int i = 0; i < c->nst; i++)
        c->st[i].prepared = 0;
}

static int io_fail(struct cql *c, char *e, size_t en, const char *what, int err)
{
    cql_disconnect(c);
    /* the next connect starts with the contact point after this one */
    c->cur = (c->cur + 1) % (c->conf.nhosts > 0 ? c->conf.nhosts : 1);
    return fail(c, CQL_ERR_IO, e, en, "%s: %s%s%s", c->peer, what,
                err ? ": " : "", err ? strerror(err) : "");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(struct cql *c, const uint8_t *p, size_t n, char *e, size_t en)
{
    int64_t deadline = now_ms() + timeout_ms(c);
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return io_fail(c, e, en, "sending", errno);
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return io_fail(c, e, en, "sending timed out", 0);
        struct pollfd pf = {c->fd, POLLOUT, 0};
        poll(&pf, 1, (int)left);
    }
    return 0;
}

struct frame {
    int16_t stream;
    int op;
    const uint8_t *body;
    size_t len;
};

/* Read the next frame (its body stays valid until the next read), failing
 * at deadline (now_ms() time): the caller's one deadline for its request,
 * however many other frames (EVENTs, strays) come in the meantime. */
static int read_frame(struct cql *c, struct frame *f, int64_t deadline, char *e,
                      size_t en)
{
    for (;;) {
        size_t have = c->rlen - c->roff;
        if (have >= 9) {
            const uint8_t *h = c->rbuf + c->roff;
            uint32_t len = (uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 |
                           (uint32_t)h[7] << 8 | h[8];
            if (h[0] != 0x84) {
                cql_disconnect(c);
                return fail(c, CQL_ERR_CLIENT, e, en, "%s: answer with protocol "
                            "version byte 0x%02X, expected 0x84 (is this a CQL v4 "
                            "server?)", c->peer, h[0]);
            }
            if (h[1] & 0x01) {
                cql_disconnect(c);
                return fail(c, CQL_ERR_CLIENT, e, en, "%s: compressed frame, "
                            "but no compression was asked for", c->peer);
            }
            if (len > CQL_FRAME_MAX) {
                cql_disconnect(c);
                return fail(c, CQL_ERR_CLIENT, e, en, "%s: frame of %u bytes is "
                            "over the limit", c->peer, len);
            }
            if (have >= 9 + (size_t)len) {
                f->stream = (int16_t)((uint16_t)h[2] << 8 | h[3]);
                f->op = h[4];
                f->body = h + 9;
                f->len = len;
                size_t skip = 0;
                /* flags: tracing (uuid) and warnings ([string list]) and a
                 * custom payload precede the body; skip them. */
                struct rd r = {f->body, f->len, 0, 0};
                if (h[1] & 0x02)
                    r_skip(&r, 16);
                if (h[1] & 0x08) {
                    unsigned nw = r_u16(&r);
                    for (unsigned i = 0; i < nw && !r.bad; i++)
                        r_string(&r, NULL, 0);
                }
                if (h[1] & 0x04) {
                    unsigned np = r_u16(&r);
                    for (unsigned i = 0; i < np && !r.bad; i++) {
                        r_string(&r, NULL, 0);
                        int32_t bl = r_i32(&r);
                        if (bl > 0)
                            r_skip(&r, (size_t)bl);
                    }
                }
                skip = r.bad ? 0 : r.off;
                f->body += skip;
                f->len -= skip;
                c->roff += 9 + (size_t)len;
                return 0;
            }
            if (9 + (size_t)len > c->rcap - c->roff) {
                /* make room: move the partial frame to the front, grow */
                memmove(c->rbuf, c->rbuf + c->roff, have);
                c->rlen = have;
                c->roff = 0;
                if (9 + (size_t)len > c->rcap) {
                    uint8_t *p = realloc(c->rbuf, 9 + (size_t)len);
                    if (!p) {
                        cql_disconnect(c);
                        return fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
                    }
                    c->rbuf = p;
                    c->rcap = 9 + (size_t)len;
                }
            }
        } else if (c->roff && c->roff == c->rlen) {
            c->roff = c->rlen = 0;
        } else if (c->rcap - c->rlen < 9) {
            memmove(c->rbuf, c->rbuf + c->roff, have);
            c->rlen = have;
            c->roff = 0;
        }
        /* checked before every read, so that a stream of other frames
         * cannot hold it off */
        if (deadline - now_ms() <= 0)
            return io_fail(c, e, en, "no answer within the request timeout", 0);
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (k > 0) {
            c->rlen += (size_t)k;
            continue;
        }
        if (k == 0)
            return io_fail(c, e, en, "connection closed by the server", 0);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return io_fail(c, e, en, "receiving", errno);
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return io_fail(c, e, en, "no answer within the request timeout", 0);
        struct pollfd pf = {c->fd, POLLIN, 0};
        poll(&pf, 1, (int)left);
    }
}

/* The answer on stream (EVENTs and strays skipped), within the request
 * timeout from now. */
static int await(struct cql *c, int16_t stream, struct frame *f, char *e, size_t en)
{
    int64_t deadline = now_ms() + timeout_ms(c);
    for (;;) {
        if (read_frame(c, f, deadline, e, en))
            return -1;
        if (f->stream == stream)
            return 0;
    }
}

/* Send one request (in w) on stream 1 and read its answer; an ERROR answer
 * is -1 with its text. */
static int roundtrip(struct cql *c, struct wbuf *w, struct frame *f, char *e, size_t en)
{
    if (w->oom) {
        free(w->p);
        return fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
    }
    int rc = write_all(c, w->p, w->len, e, en);
    free(w->p);
    memset(w, 0, sizeof(*w));
    if (rc || await(c, 1, f, e, en))
        return -1;
    if (f->op == CQL_OP_ERROR) {
        err_text(c, f->body, f->len, e, en);
        return -1;
    }
    return 0;
}

/* ---- connecting -------------------------------------------------------- */

static int dial(struct cql *c, int h, char *e, size_t en)
{
    char port[16];
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", c->conf.ports[h]);
    snprintf(c->peer, sizeof(c->peer), "%s:%d", c->hosts[h], c->conf.ports[h]);
    int rc = getaddrinfo(c->hosts[h], port, &hints, &ai);
    if (rc)
        return fail(c, CQL_ERR_IO, e, en, "%s: cannot resolve the host: %s", c->peer,
                    gai_strerror(rc));
    int err = ECONNREFUSED;
    int tmo = c->conf.connect_timeout_ms > 0 ? c->conf.connect_timeout_ms : 5000;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        struct pollfd pf = {fd, POLLOUT, 0};
        int so = 0;
        socklen_t sl = sizeof(so);
        if (poll(&pf, 1, tmo) != 1) {
            err = ETIMEDOUT;
            close(fd);
            continue;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
        if (so) {
            err = so;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        freeaddrinfo(ai);
        return 0;
    }
    freeaddrinfo(ai);
    return fail(c, CQL_ERR_IO, e, en, "%s: cannot connect: %s", c->peer, strerror(err));
}

static int prepare_on(struct cql *c, struct stmt *s, char *e, size_t en)
{
    struct wbuf w = {0};
    struct frame f;
    enc_prepare(&w, 1, s->query);
    if (roundtrip(c, &w, &f, e, en))
        return -1;
    struct rd r = {f.body, f.len, 0, 0};
    if (f.op != CQL_OP_RESULT || r_i32(&r) != 4) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: PREPARE answered without a "
                    "Prepared result", c->peer);
    }
    unsigned idlen = r_u16(&r);
    if (!r_need(&r, idlen) || idlen > sizeof(s->id)) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: bad Prepared result", c->peer);
    }
    memcpy(s->id, r.p + r.off, idlen);
    s->idlen = idlen;
    r.off += idlen;
    s->nbind = r_metadata(&r, 1);
    if (r.bad) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: bad Prepared metadata", c->peer);
    }
    s->prepared = 1;
    return 0;
}

/* Handshake on a fresh connection. */
static int handshake(struct cql *c, char *e, size_t en)
{
    struct wbuf w = {0};
    struct frame f;
    frame_end(&w, frame_begin(&w, 1, CQL_OP_OPTIONS));
    if (roundtrip(c, &w, &f, e, en))
        return -1;
    if (f.op != CQL_OP_SUPPORTED) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: OPTIONS answered with opcode "
                    "0x%02X, not SUPPORTED", c->peer, f.op);
    }
    enc_startup(&w, 1);
    if (roundtrip(c, &w, &f, e, en))
        return -1;
    if (f.op == CQL_OP_AUTHENTICATE) {
        char cls_name[200];
        struct rd r = {f.body, f.len, 0, 0};
        r_string(&r, cls_name, sizeof(cls_name));
        if (!c->user)
            return fail(c, CQL_ERR_BAD_CREDENTIALS, e, en, "%s: the server requires a "
                        "login (%s): give cassandra://USER@HOST/… and the password in "
                        "SALESFLOW_CASSANDRA_PASSWORD", c->peer, cls_name);
        if (!c->password || !*c->password)
            return fail(c, CQL_ERR_BAD_CREDENTIALS, e, en, "%s: the server requires a "
                        "login (%s) and no password configured for user %s: set "
                        "SALESFLOW_CASSANDRA_PASSWORD or ?password_file=", c->peer,
                        cls_name, c->user);
        enc_auth_plain(&w, 1, c->user, c->password);
        if (roundtrip(c, &w, &f, e, en))
            return -1;
        if (f.op == CQL_OP_AUTH_CHALLENGE)
            return fail(c, CQL_ERR_CLIENT, e, en, "%s: the authenticator %s asks for "
                        "more than a user and password (SASL PLAIN); not supported",
                        c->peer, cls_name);
        if (f.op != CQL_OP_AUTH_SUCCESS) {
            cql_disconnect(c);
            return fail(c, CQL_ERR_CLIENT, e, en, "%s: login answered with opcode "
                        "0x%02X", c->peer, f.op);
        }
    } else if (f.op != CQL_OP_READY) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: STARTUP answered with opcode "
                    "0x%02X", c->peer, f.op);
    }
    for (int i = 0; i < c->nst; i++)
        if (prepare_on(c, &c->st[i], e, en))
            return -1;
    return 0;
}

int cql_connect(struct cql *c, char *e, size_t en)
{
    if (c->fd >= 0)
        return 0;
    int start = c->cur;
    for (int k = 0; k < c->conf.nhosts; k++) {
        int h = (start + k) % c->conf.nhosts;
        if (dial(c, h, e, en))
            continue;
        if (handshake(c, e, en) == 0) {
            c->cur = h;
            return 0;
        }
        int code = c->last_err;
        cql_disconnect(c);
        c->last_err = code;
        /* a refused login is the same on every node: say so at once */
        if (code == CQL_ERR_BAD_CREDENTIALS)
            return -1;
    }
    /* next time, start with the contact point after the first one tried */
    c->cur = (start + 1) % c->conf.nhosts;
    return -1;
}

void cql_adopt_fd(struct cql *c, int fd)
{
    cql_disconnect(c);
    c->fd = fd;
}

int cql_connected(const struct cql *c)
{
    return c->fd >= 0;
}
const char *cql_peer(const struct cql *c)
{
    return c->peer;
}
int cql_last_error(const struct cql *c)
{
    return c->last_err;
}

struct cql *cql_new(const struct cql_conf *conf)
{
    struct cql *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->conf = *conf;
    c->fd = -1;
    c->rcap = RBUF_INIT;
    c->rbuf = malloc(c->rcap);
    c->user = conf->user ? strdup(conf->user) : NULL;
    c->password = conf->password ? strdup(conf->password) : NULL;
    int ok = c->rbuf && (!conf->user || c->user) && (!conf->password || c->password);
    for (int i = 0; i < conf->nhosts; i++)
        ok &= (c->hosts[i] = strdup(conf->hosts[i])) != NULL;
    if (!ok) {
        cql_destroy(c);
        return NULL;
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", c->hosts[0], conf->ports[0]);
    return c;
}

void cql_destroy(struct cql *c)
{
    if (!c)
        return;
    cql_disconnect(c);
    for (int i = 0; i < CQL_MAX_HOSTS; i++)
        free(c->hosts[i]);
    for (int i = 0; i < c->nst; i++)
        free(c->st[i].query);
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c->user);
    free(c->rbuf);
    free(c);
}

/* ---- requests ---------------------------------------------------------- */

static int parse_rows(struct cql *c, const struct frame *f, struct cql_rows *rows,
                      char *e, size_t en)
{
    struct rd r = {f->body, f->len, 0, 0};
    int32_t kind = r_i32(&r);
    if (kind != 2)
        return 0;
    int ncols = r_metadata(&r, 0);
    int32_t nrows = r_i32(&r);
    size_t cells = (size_t)(nrows > 0 ? nrows : 0) * (size_t)ncols;
    /* every cell takes at least its 4-byte length: more cells than that
     * cannot be in the body (and must not size an allocation) */
    if (r.bad || nrows < 0 || cells > (f->len - r.off) / 4)
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: bad Rows result", c->peer);
    uint8_t *body = malloc(f->len ? f->len : 1);
    rows->cell = calloc(cells ? cells : 1, sizeof(*rows->cell));
    rows->cell_len = calloc(cells ? cells : 1, sizeof(*rows->cell_len));
    rows->body = body;
    if (!body || !rows->cell || !rows->cell_len) {
        cql_rows_free(rows);
        return fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
    }
    memcpy(body, f->body, f->len);
    for (size_t i = 0; i < cells; i++) {
        int32_t n = r_i32(&r);
        rows->cell_len[i] = n < 0 ? -1 : n;
        rows->cell[i] = body + r.off;
        if (n > 0)
            r_skip(&r, (size_t)n);
    }
    if (r.bad) {
        cql_rows_free(rows);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: truncated Rows result", c->peer);
    }
    rows->ncols = ncols;
    rows->nrows = (size_t)nrows;
    return 0;
}

int cql_query(struct cql *c, const char *q, const struct cql_value *v, int nv,
              int cl, struct cql_rows *rows, char *e, size_t en)
{
    struct wbuf w = {0};
    struct frame f;
    if (rows)
        memset(rows, 0, sizeof(*rows));
    if (cql_connect(c, e, en))
        return -1;
    enc_query(&w, 1, q, v, nv, cl);
    if (roundtrip(c, &w, &f, e, en))
        return -1;
    if (f.op != CQL_OP_RESULT) {
        cql_disconnect(c);
        return fail(c, CQL_ERR_CLIENT, e, en, "%s: QUERY answered with opcode 0x%02X",
                    c->peer, f.op);
    }
    return rows ? parse_rows(c, &f, rows, e, en) : 0;
}

int cql_prepare(struct cql *c, const char *q, int *stmt, int *nbind, char *e,
                size_t en)
{
    int i;
    for (i = 0; i < c->nst && strcmp(c->st[i].query, q); i++)
        ;
    if (i == c->nst) {
        if (c->nst == MAX_STMTS)
            return fail(c, CQL_ERR_CLIENT, e, en, "too many prepared statements");
        if (!(c->st[i].query = strdup(q)))
            return fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
        c->st[i].prepared = 0;
        c->nst++;
    }
    /* connecting prepares every remembered statement */
    if (cql_connect(c, e, en) || (!c->st[i].prepared && prepare_on(c, &c->st[i], e, en)))
        return -1;
    *stmt = i;
    if (nbind)
        *nbind = c->st[i].nbind;
    return 0;
}

int cql_execute(struct cql *c, int stmt, const struct cql_value *v, int nv, int cl,
                char *e, size_t en)
{
    struct stmt *s = &c->st[stmt];
    for (int attempt = 0;; attempt++) {
        struct wbuf w = {0};
        struct frame f;
        if (cql_connect(c, e, en) || (!s->prepared && prepare_on(c, s, e, en)))
            return -1;
        enc_execute(&w, 1, s->id, s->idlen, v, nv, cl);
        if (roundtrip(c, &w, &f, e, en) == 0)
            return 0;
        if (c->last_err != CQL_ERR_UNPREPARED || attempt)
            return -1;
        s->prepared = 0;
    }
}

/* Send batches from *next on until CQL_WINDOW are in flight: each on a
 * free stream id (slot[sid]: its batch, sent[sid]: its deadline), marked
 * in flight (2) in done. 0, or -1 (e). */
static int send_window(struct cql *c, const struct stmt *s, const struct cql_value *v,
                       int ncols, size_t nrows, size_t per_batch, int cl,
                       unsigned char *done, size_t nb, size_t *slot, size_t *next,
                       int64_t *sent, size_t *inflight, char *e, size_t en)
{
    struct wbuf w = {0};
    while (*inflight < CQL_WINDOW) {
        while (*next < nb && done[*next])
            (*next)++;
        if (*next == nb)
            break;
        int16_t sid = 0;
        for (int k = 1; k <= CQL_WINDOW && !sid; k++)
            if (slot[k] == (size_t)-1)
                sid = (int16_t)k;
        size_t lo = *next * per_batch;
        size_t n = nrows - lo < per_batch ? nrows - lo : per_batch;
        enc_batch(&w, sid, s->id, s->idlen, v + lo * (size_t)ncols, ncols, n, cl);
        slot[sid] = *next;
        sent[sid] = now_ms() + timeout_ms(c);
        done[*next] = 2;     /* in flight */
        (*inflight)++;
        (*next)++;
    }
    if (w.len) {
        if (w.oom) {
            free(w.p);
            fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
            return -1;
        }
        int wr = write_all(c, w.p, w.len, e, en);
        free(w.p);
        memset(&w, 0, sizeof(w));
        if (wr)
            return -1;
    }
    return 0;
}

int cql_batch_rows(struct cql *c, int stmt, const struct cql_value *v, int ncols,
                   size_t nrows, size_t per_batch, int cl, char *e, size_t en)
{
    struct stmt *s = &c->st[stmt];
    size_t nb = per_batch ? (nrows + per_batch - 1) / per_batch : 0;
    unsigned char *done = calloc(nb ? nb : 1, 1);
    size_t *slot = malloc(sizeof(size_t) * (CQL_WINDOW + 1));
    int64_t sent[CQL_WINDOW + 1];   /* each in-flight batch's deadline */
    int rc = -1, failed = 0, failed_code = 0;
    char err1[512] = "";
    if (!done || !slot) {
        fail(c, CQL_ERR_CLIENT, e, en, "out of memory");
        goto cleanup;
    }
    /* Round 0 sends every batch; a round after it sends only the batches a
     * node answered UNPREPARED (prepared again in between). */
    for (int round = 0; round < 3; round++) {
        int unprepared = 0;
        failed = 0;
        if (cql_connect(c, e, en) || (!s->prepared && prepare_on(c, s, e, en)))
            goto cleanup;
        size_t next = 0, inflight = 0;
        for (int k = 0; k <= CQL_WINDOW; k++)
            slot[k] = (size_t)-1;
        for (;;) {
            if (send_window(c, s, v, ncols, nrows, per_batch, cl, done, nb, slot, &next,
                            sent, &inflight, e, en))
                goto cleanup;
            if (!inflight)
                break;
            struct frame f;
            int64_t deadline = INT64_MAX;
            for (int k = 1; k <= CQL_WINDOW; k++)
                if (slot[k] != (size_t)-1 && sent[k] < deadline)
                    deadline = sent[k];
            if (read_frame(c, &f, deadline, e, en))
                goto cleanup;
            if (f.stream < 1 || f.stream > CQL_WINDOW || slot[f.stream] == (size_t)-1)
                continue;
            size_t b = slot[f.stream];
            slot[f.stream] = (size_t)-1;
            inflight--;
            if (f.op == CQL_OP_RESULT) {
                done[b] = 1;
                continue;
            }
            done[b] = 0;
            if (f.op != CQL_OP_ERROR) {
                cql_disconnect(c);
                fail(c, CQL_ERR_CLIENT, e, en, "%s: BATCH answered with opcode 0x%02X",
                     c->peer, f.op);
                goto cleanup;
            }
            int code = err_text(c, f.body, f.len, err1, sizeof(err1));
            if (code == CQL_ERR_UNPREPARED) {
                unprepared = 1;
                continue;
            }
            /* the first error is the one reported (code 0 is "server
             * error", so a flag, not the code, says there was one) */
            if (!failed++) {
                snprintf(e, en, "%s", err1);
                failed_code = code;
            }
            /* stop sending more; drain what is in flight */
            for (size_t k = 0; k < nb; k++)
                if (!done[k])
                    done[k] = 3;
        }
        if (failed) {
            c->last_err = failed_code;
            goto cleanup;
        }
        if (!unprepared) {
            rc = 0;
            goto cleanup;
        }
        s->prepared = 0;
        for (size_t k = 0; k < nb; k++)
            if (done[k] != 1)
                done[k] = 0;
    }
    fail(c, CQL_ERR_UNPREPARED, e, en, "%s: the statement stays unprepared after "
         "preparing it again", c->peer);
cleanup:
    free(done);
    free(slot);
    return rc;
}

/*
 * cassandra — the raw-order sink: `--raw-store cassandra://…` makes every
 * raw order also a row of a Cassandra table, the original pipeline's
 * order_ks.order_table (uuid uuid PRIMARY KEY, customer_id int, source
 * text, quantity int, total float, created_at text), which cqlsh and Spark
 * jobs read. The serving tables stay in SQLite or MySQL.
 *
 * How: cassandra_wrap() returns a store that forwards every op to the
 * serving store and whose apply() first writes the batch's rows to
 * Cassandra (prepared INSERTs in unlogged BATCHes, several in flight, see
 * cql.c) and only when Cassandra has acknowledged all of them applies the
 * serving store's transaction, which moves the log positions. A Cassandra
 * failure fails the apply: the processor retries the batch with a growing
 * pause and the positions stay. An INSERT of a row that is there already
 * overwrites it with the same values (the uuid comes from the order_id), so
 * a retried batch, or one written again after a crash between the two
 * steps, leaves every order exactly once.
 *
 * uuid: an order_id that is a canonical lower-case UUID (ingest's UUIDv7)
 * is that UUID; any other order_id (a client's idempotency key, a foreign
 * producer's derived id, a UUID with upper-case digits) becomes the name-based UUIDv5 of "salesflow:order_id:" +
 * order_id in the URL namespace (RFC 9562), the same for every run.
 *
 * Table: an existing table is used as it is when it has the six columns
 * with those types (total may be float, double or decimal; other non-key
 * columns are left null); otherwise start-up stops naming the columns that
 * do not fit. A missing keyspace and table are created (IF NOT EXISTS),
 * total then decimal, exact cents; the keyspace's replication comes from
 * the URI. The sink state (connected, rows, errors, last error) is kept
 * here for /readyz, /metrics and /api/pipeline: one sink per process.
 */
#include "store/cassandra.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/catalog.h"
#include "core/uuid.h"
#include "store/cql.h"

#define NAME_MAX_LEN 48         /* Cassandra's limit on keyspace/table names */
#define DEFAULT_PORT 9042
#define DEFAULT_BATCH 50        /* rows per BATCH: ~4.5 KB, under the 5 KB warning */
#define NCOLS 6

struct raw_uri {
    char user[128];
    char hosts[CQL_MAX_HOSTS][256];
    int ports[CQL_MAX_HOSTS];
    int nhosts;
    char keyspace[NAME_MAX_LEN + 1];
    char table[NAME_MAX_LEN + 1];
    int consistency;
    char replication[512];      /* the CQL map */
    int batch;
    char password_file[1024];
};

/* Copy s into out (size n), cut to n - 1 bytes. */
static void scopy(char *out, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (k >= n)
        k = n - 1;
    memcpy(out, s, k);
    out[k] = '\0';
}

/* ---- URI --------------------------------------------------------------- */

/* CQL's reserved keywords (Appendix A of the CQL reference), which cannot
 * be an unquoted name. */
static const char *const reserved[] = {
    "add", "allow", "alter", "and", "apply", "asc", "authorize", "batch", "begin",
    "by", "columnfamily", "create", "default", "delete", "desc", "describe", "drop",
    "entries", "execute", "from", "full", "grant", "if", "in", "index", "infinity",
    "insert", "into", "is", "keyspace", "limit", "materialized", "mbean", "mbeans",
    "modify", "nan", "norecursive", "not", "null", "of", "on", "or", "order",
    "primary", "rename", "replace", "revoke", "schema", "select", "set", "table",
    "to", "token", "truncate", "unlogged", "unset", "update", "use", "using", "view",
    "where", "with",
};

/* A keyspace or table name Cassandra keeps as written unquoted:
 * [a-z][a-z0-9_]{0,47}, not a reserved keyword. 0, or -1 with why. */
static int name_check(const char *what, const char *s, size_t n, char *why, size_t wn)
{
    int upper = 0;
    if (n == 0 || n > NAME_MAX_LEN || !isalpha((unsigned char)s[0]))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            goto bad;
        upper |= isupper((unsigned char)s[i]) != 0;
    }
    if (upper)
        return sf_err(-1, why, wn, "%s \"%.*s\" has upper case letters, which Cassandra "
                      "folds to lower case: write it in lower case", what, (int)n, s);
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strlen(reserved[i]) == n && !memcmp(reserved[i], s, n))
            return sf_err(-1, why, wn, "%s \"%.*s\" is a reserved CQL keyword: choose "
                          "another name", what, (int)n, s);
    return 0;
bad:
    return sf_err(-1, why, wn, "%s \"%.*s\" is not a Cassandra name (a lower-case "
                  "letter, then lower-case letters, digits or _, at most %d)", what,
                  (int)n, s, NAME_MAX_LEN);
}

/* replication=N (SimpleStrategy) or DC:N[,DC:N…] (NetworkTopologyStrategy). */
static int parse_replication(const char *v, size_t len, char *out, size_t n)
{
    char buf[400];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (strspn(buf, "0123456789") == len) {
        long rf = strtol(buf, NULL, 10);
        if (rf < 1 || rf > 99)
            return -1;
        snprintf(out, n, "{'class': 'SimpleStrategy', 'replication_factor': %ld}", rf);
        return 0;
    }
    size_t o = (size_t)snprintf(out, n, "{'class': 'NetworkTopologyStrategy'");
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        if (!colon || colon == t || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return -1;
        *colon = '\0';
        for (char *c = t; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
                return -1;
        long rf = strtol(colon + 1, NULL, 10);
        if (rf < 1 || rf > 99 || o >= n)
            return -1;
        o += (size_t)snprintf(out + o, n - o, ", '%s': %ld", t, rf);
    }
    if (o + 2 >= n)
        return -1;
    snprintf(out + o, n - o, "}");
    return 0;
}

#define URI_FORM "cassandra://[USER@]HOST[:PORT][,HOST[:PORT]…]/KEYSPACE[?PARAMS]"

/* The userinfo of uri as far as it may hold a password: everything between
 * "://" and the LAST '@' (a password may hold '@', '/', '?'), when that has
 * a ':' or '@', or a '/' (the '@' is past the host list); NULL when uri has no
 * such part. *end is that last '@'. */
static const char *ambiguous_userinfo(const char *uri, const char **end)
{
    const char *p = strstr(uri, "://"), *at = strrchr(uri, '@');
    p = p ? p + 3 : uri;
    if (!at || at < p)
        return NULL;
    *end = at;
    return strpbrk(p, ":@/") < at ? p : NULL;
}

/* uri with everything of a userinfo that may hold a password masked. */
static const char *shown_uri(const char *uri, char *out, size_t n)
{
    const char *at, *p = ambiguous_userinfo(uri, &at);
    if (p)
        snprintf(out, n, "%.*s***%s", (int)(p - uri), uri, at);
    else
        snprintf(out, n, "%s", uri);
    return out;
}

/* Parse uri into u; 0, or -1 with why (no "expected …" part). */
/* One "KEY=VALUE" parameter of the URI's query, p to end, into u. */
static int parse_param(const char *p, const char *end, struct raw_uri *u, char *why,
                       size_t n)
{
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq)
        return sf_err(-1, why, n, "parameter \"%.*s\" has no \"=\"", (int)(end - p), p);
    size_t kn = (size_t)(eq - p), vn = (size_t)(end - eq - 1);
    const char *v = eq + 1;
    char val[1024];
    if (vn >= sizeof(val))
        return sf_err(-1, why, n, "parameter \"%.*s\" is too long", (int)kn, p);
    memcpy(val, v, vn);
    val[vn] = '\0';
    if (kn == 5 && !strncmp(p, "table", 5)) {
        if (name_check("table", val, vn, why, n))
            return -1;
        scopy(u->table, sizeof(u->table), val);
    } else if (kn == 11 && !strncmp(p, "consistency", 11)) {
        if ((u->consistency = cql_consistency(val)) < 0)
            return sf_err(-1, why, n, "unknown consistency \"%s\" (ONE, TWO, THREE, "
                          "QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE, ANY)",
                          val);
    } else if (kn == 11 && !strncmp(p, "replication", 11)) {
        if (parse_replication(val, vn, u->replication, sizeof(u->replication)))
            return sf_err(-1, why, n, "bad replication \"%s\" (a replication factor "
                          "N, or DATACENTER:N[,DATACENTER:N…])", val);
    } else if (kn == 5 && !strncmp(p, "batch", 5)) {
        char *e;
        long b = strtol(val, &e, 10);
        if (!vn || *e || b < 1 || b > 1000)
            return sf_err(-1, why, n, "batch \"%s\" must be 1 to 1000 rows", val);
        u->batch = (int)b;
    } else if (kn == 13 && !strncmp(p, "password_file", 13)) {
        if (!vn)
            return sf_err(-1, why, n, "empty password_file");
        scopy(u->password_file, sizeof(u->password_file), val);
    } else {
        return sf_err(-1, why, n, "unknown parameter \"%.*s\" (known: table, "
                      "consistency, replication, batch, password_file)", (int)kn, p);
    }
    return 0;
}

static int parse_uri(const char *uri, struct raw_uri *u, char *why, size_t n)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->table, sizeof(u->table), "order_table");
    u->consistency = CQL_LOCAL_QUORUM;
    u->batch = DEFAULT_BATCH;
    snprintf(u->replication, sizeof(u->replication),
             "{'class': 'SimpleStrategy', 'replication_factor': 1}");
    if (strncmp(uri, "cassandra://", 12))
        return sf_err(-1, why, n, "the scheme must be cassandra://");
    const char *p = uri + 12, *last_at;
    /* a ':' or '@' before the last '@' (not one in a ?password_file= path):
     * a password, whose text no message may show */
    const char *ui = ambiguous_userinfo(uri, &last_at);
    if (ui && (memchr(ui, ':', (size_t)(last_at - ui)) ||
               memchr(ui, '@', (size_t)(last_at - ui))) &&
        !(strstr(uri, "password_file=") && strstr(uri, "password_file=") < last_at))
        return sf_err(-1, why, n, "a password does not go in the URI: put it in "
                      "SALESFLOW_CASSANDRA_PASSWORD or a file named by "
                      "?password_file=");
    const char *slash = strchr(p, '/');
    if (!slash)
        return sf_err(-1, why, n, "missing \"/KEYSPACE\" after the hosts");
    const char *at = memchr(p, '@', (size_t)(slash - p));
    if (at) {
        size_t ul = (size_t)(at - p);
        if (memchr(p, ':', ul))
            return sf_err(-1, why, n, "a password does not go in the URI: put it in "
                          "SALESFLOW_CASSANDRA_PASSWORD or a file named by "
                          "?password_file=");
        if (ul == 0 || ul >= sizeof(u->user))
            return sf_err(-1, why, n, "empty or too long user before \"@\"");
        memcpy(u->user, p, ul);
        p = at + 1;
    }
    if (p == slash)
        return sf_err(-1, why, n, "no host");
    while (p < slash) {
        const char *end = memchr(p, ',', (size_t)(slash - p));
        if (!end)
            end = slash;
        if (u->nhosts == CQL_MAX_HOSTS)
            return sf_err(-1, why, n, "more than %d hosts", CQL_MAX_HOSTS);
        const char *hs = p, *he, *port = NULL;
        if (*p == '[') {
            const char *rb = memchr(p, ']', (size_t)(end - p));
            if (!rb)
                return sf_err(-1, why, n, "unclosed \"[\" in an IPv6 host");
            hs = p + 1;
            he = rb;
            if (rb + 1 < end) {
                if (rb[1] != ':')
                    return sf_err(-1, why, n, "expected \":PORT\" after \"]\"");
                port = rb + 2;
            }
        } else {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            he = colon ? colon : end;
            port = colon ? colon + 1 : NULL;
        }
        if (he == hs || (size_t)(he - hs) >= sizeof(u->hosts[0]))
            return sf_err(-1, why, n, "empty host in the host list");
        memcpy(u->hosts[u->nhosts], hs, (size_t)(he - hs));
        u->ports[u->nhosts] = DEFAULT_PORT;
        if (port) {
            long v = 0;
            const char *q = port;
            for (; q < end && isdigit((unsigned char)*q) && v <= 65535; q++)
                v = v * 10 + (*q - '0');
            if (q == port || q != end || v < 1 || v > 65535)
                return sf_err(-1, why, n, "bad port \"%.*s\" (1 to 65535)",
                              (int)(end - port), port);
            u->ports[u->nhosts] = (int)v;
        }
        u->nhosts++;
        p = end < slash ? end + 1 : end;
        if (end < slash && p == slash)
            return sf_err(-1, why, n, "empty host after \",\"");
    }
    const char *ks = slash + 1, *qm = strchr(ks, '?');
    size_t kl = qm ? (size_t)(qm - ks) : strlen(ks);
    if (kl == 0)
        return sf_err(-1, why, n, "missing the keyspace after \"/\"");
    if (name_check("keyspace", ks, kl, why, n))
        return -1;
    memcpy(u->keyspace, ks, kl);
    for (p = qm ? qm + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if (parse_param(p, end, u, why, n))
            return -1;
        p = amp ? amp + 1 : end;
    }
    return 0;
}

int opt_raw_store_uri(const char *val, void *dst, char *err, size_t n)
{
    struct raw_uri u;
    char why[400], shown[512];
    if (parse_uri(val, &u, why, sizeof(why))) {
        snprintf(err, n, "raw store URI \"%s\": %s (expected " URI_FORM ")",
                 shown_uri(val, shown, sizeof(shown)), why);
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

/* ---- uuid -------------------------------------------------------------- */

/* SHA-1 (FIPS 180-4), for UUIDv5 only. */
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    uint8_t blk[64];
    uint64_t bits = (uint64_t)len * 8;
    size_t total = ((len + 8) / 64 + 1) * 64;
    for (size_t off = 0; off < total; off += 64) {
        for (size_t i = 0; i < 64; i++) {
            size_t k = off + i;
            blk[i] = k < len ? msg[k] : k == len ? 0x80 : 0;
        }
        if (off + 64 == total)
            for (int i = 0; i < 8; i++)
                blk[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
                   (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
        for (int i = 16; i < 80; i++) {
            uint32_t x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
            w[i] = x << 1 | x >> 31;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            uint32_t t = (a << 5 | a >> 27) + f + e + k + w[i];
            e = d;
            d = c;
            c = b << 30 | b >> 2;
            b = a;
            a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The row key of an order_id (see the top of this file). */
static void order_uuid(const char *order_id, uint8_t out[16])
{
    /* only the canonical lower-case form: "ABCDEF01-…" and "abcdef01-…" are
     * two orders, so the upper-case one gets its UUIDv5 */
    if (uuid_valid(order_id) && !strpbrk(order_id, "ABCDEF")) {
        for (int i = 0, k = 0; order_id[i]; i++)
            if (order_id[i] != '-') {
                out[k / 2] = (uint8_t)(k % 2 ? out[k / 2] | hexval(order_id[i])
                                             : hexval(order_id[i]) << 4);
                k++;
            }
        return;
    }
    /* NAMESPACE_URL 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */
    static const uint8_t ns[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    uint8_t buf[16 + 19 + SF_ORDER_ID_MAX + 1], md[20];
    size_t n = strlen(order_id);
    memcpy(buf, ns, 16);
    memcpy(buf + 16, "salesflow:order_id:", 19);
    memcpy(buf + 35, order_id, n);
    sha1(buf, 35 + n, md);
    memcpy(out, md, 16);
    out[6] = (uint8_t)((out[6] & 0x0F) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3F) | 0x80);
}

/* ---- the sink's state, for /readyz, /metrics, /api/pipeline ------------ */

static struct {
    atomic_int open, connected, failing;
    atomic_uint_fast64_t rows, batches, errors, retries;
    pthread_mutex_t mu;
    char last_error[512];
    int64_t last_error_ms;
    int64_t rate_t0, rate_rows0;    /* the pipeline rate's last sample */
    double rate;
} sink = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void sink_error(const char *msg)
{
    atomic_fetch_add(&sink.errors, 1);
    atomic_store(&sink.failing, 1);
    pthread_mutex_lock(&sink.mu);
    scopy(sink.last_error, sizeof(sink.last_error), msg);
    sink.last_error_ms = sf_now_ms();
    pthread_mutex_unlock(&sink.mu);
}

int cassandra_ready(char *why, size_t n)
{
    if (!atomic_load(&sink.open))
        return -1;
    if (!atomic_load(&sink.connected))
        return sf_err(0, why, n, "raw store (Cassandra) not connected; its error is "
                      "in the log");
    if (atomic_load(&sink.failing))
        return sf_err(0, why, n, "raw store (Cassandra) writes failing; its error is "
                      "in the log");
    return 1;
}

void cassandra_metrics(struct sf_buf *b)
{
    if (!atomic_load(&sink.open))
        return;
    sf_buf_printf(b,
        "# HELP salesflow_raw_store_connected 1 while the Cassandra raw store is connected.\n"
        "# TYPE salesflow_raw_store_connected gauge\n"
        "salesflow_raw_store_connected %d\n"
        "# HELP salesflow_raw_store_rows_total Raw orders Cassandra acknowledged.\n"
        "# TYPE salesflow_raw_store_rows_total counter\n"
        "salesflow_raw_store_rows_total %" PRIu64 "\n"
        "# HELP salesflow_raw_store_batches_total Batches of raw orders written.\n"
        "# TYPE salesflow_raw_store_batches_total counter\n"
        "salesflow_raw_store_batches_total %" PRIu64 "\n"
        "# HELP salesflow_raw_store_errors_total Failed writes to Cassandra.\n"
        "# TYPE salesflow_raw_store_errors_total counter\n"
        "salesflow_raw_store_errors_total %" PRIu64 "\n"
        "# HELP salesflow_raw_store_failing 1 while the last write to Cassandra failed.\n"
        "# TYPE salesflow_raw_store_failing gauge\n"
        "salesflow_raw_store_failing %d\n",
        atomic_load(&sink.connected), (uint64_t)atomic_load(&sink.rows),
        (uint64_t)atomic_load(&sink.batches), (uint64_t)atomic_load(&sink.errors),
        atomic_load(&sink.failing));
}

void cassandra_pipeline_json(struct sf_buf *b)
{
    if (!atomic_load(&sink.open))
        return;
    char ts[32];
    uint64_t rows = atomic_load(&sink.rows);
    pthread_mutex_lock(&sink.mu);
    int64_t now = sf_mono_ms();
    if (now - sink.rate_t0 >= 1000) {
        if (sink.rate_t0)
            sink.rate = (double)((int64_t)rows - sink.rate_rows0) * 1000.0 /
                        (double)(now - sink.rate_t0);
        sink.rate_t0 = now;
        sink.rate_rows0 = (int64_t)rows;
    }
    sf_buf_printf(b, ",\"raw_store\":{\"kind\":\"cassandra\",\"connected\":%s,"
                  "\"failing\":%s,\"rows\":%" PRIu64 ",\"errors\":%" PRIu64
                  ",\"rate_per_s\":%.1f,\"last_error_at\":",
                  atomic_load(&sink.connected) ? "true" : "false",
                  atomic_load(&sink.failing) ? "true" : "false", rows,
                  (uint64_t)atomic_load(&sink.errors), sink.rate);
    if (sink.last_error_ms)
        sf_buf_printf(b, "\"%s\"", sf_format_time(sink.last_error_ms, ts));
    else
        sf_buf_printf(b, "null");
    pthread_mutex_unlock(&sink.mu);
    sf_buf_printf(b, "}");
}

/* ---- the wrapping store ------------------------------------------------ */

struct raw_store {
    struct store base;          /* first: a struct store * is one of these */
    struct store *inner;
    struct raw_uri u;
    struct cql *c;
    int stmt;
    int total_type;             /* CQL_T_FLOAT, CQL_T_DOUBLE or CQL_T_DECIMAL */
    int retries;
    int last_from_sink;         /* the last apply failed in Cassandra */
    struct cql_value *vals;
    char (*times)[32];
    size_t cap;
    char insert[512];
};

static struct raw_store *RS(struct store *s)
{
    return (struct raw_store *)s;
}

/* The rows of a system_schema query's text cell. */
static void cell_text(const struct cql_rows *r, size_t row, int col, char *out, size_t n)
{
    size_t i = row * (size_t)r->ncols + (size_t)col;
    int32_t len = r->cell_len[i];
    if (len < 0)
        len = 0;
    if ((size_t)len >= n)
        len = (int32_t)n - 1;
    memcpy(out, r->cell[i], (size_t)len);
    out[len] = '\0';
}

static int read_columns(struct raw_store *rs, struct cql_rows *rows, char *e, size_t en)
{
    char q[400];
    snprintf(q, sizeof(q), "SELECT column_name, kind, type FROM system_schema.columns "
             "WHERE keyspace_name = '%s' AND table_name = '%s'", rs->u.keyspace,
             rs->u.table);
    return cql_query(rs->c, q, NULL, 0, CQL_ONE, rows, e, en);
}

/* The columns (read_columns) against what the sink writes: 0, or the
 * length of the differences written to bad. */
static size_t check_columns(struct raw_store *rs, const struct cql_rows *rows, char *bad,
                            size_t badsz)
{
    static const struct {
        const char *name, *types, *kind;
    } want[NCOLS] = {
        {"uuid", "uuid", "partition_key"}, {"customer_id", "int", "regular"},
        {"source", "text varchar", "regular"}, {"quantity", "int", "regular"},
        {"total", "float double decimal", "regular"}, {"created_at", "text varchar", "regular"},
    };
    size_t bl = 0;
    for (int k = 0; k < NCOLS; k++) {
        char name[128], kind[64], type[128];
        int found = 0;
        for (size_t i = 0; i < rows->nrows; i++) {
            cell_text(rows, i, 0, name, sizeof(name));
            if (strcmp(name, want[k].name))
                continue;
            found = 1;
            cell_text(rows, i, 1, kind, sizeof(kind));
            cell_text(rows, i, 2, type, sizeof(type));
            char padded[140];
            snprintf(padded, sizeof(padded), " %s ", type);
            char wanted[40];
            snprintf(wanted, sizeof(wanted), " %s ", want[k].types);
            if (!strstr(wanted, padded) || strcmp(kind, want[k].kind))
                bl += (size_t)snprintf(bad + bl, bl < badsz ? badsz - bl : 0,
                                       "%s%s is %s %s (expected %s %s)", bl ? "; " : "",
                                       name, type, kind, want[k].types, want[k].kind);
            else if (k == 4)
                rs->total_type = !strcmp(type, "float") ? CQL_T_FLOAT
                               : !strcmp(type, "double") ? CQL_T_DOUBLE : CQL_T_DECIMAL;
        }
        if (!found)
            bl += (size_t)snprintf(bad + bl, bl < badsz ? badsz - bl : 0,
                                   "%s%s is missing", bl ? "; " : "", want[k].name);
    }
    /* any other key column would need a value in every INSERT */
    for (size_t i = 0; i < rows->nrows; i++) {
        char name[128], kind[64];
        cell_text(rows, i, 0, name, sizeof(name));
        cell_text(rows, i, 1, kind, sizeof(kind));
        if (strcmp(kind, "regular") && strcmp(kind, "static") && strcmp(name, "uuid"))
            bl += (size_t)snprintf(bad + bl, bl < badsz ? badsz - bl : 0,
                                   "%sextra key column %s (%s)", bl ? "; " : "", name, kind);
    }
    return bl;
}

/* Check the keyspace and table, creating what is missing. */
static int schema(struct raw_store *rs, char *e, size_t en)
{
    struct cql_rows rows = {0};
    char q[1024], msg[600];
    int rc = -1;
    snprintf(q, sizeof(q), "SELECT keyspace_name FROM system_schema.keyspaces WHERE "
             "keyspace_name = '%s'", rs->u.keyspace);
    if (cql_query(rs->c, q, NULL, 0, CQL_ONE, &rows, msg, sizeof(msg))) {
        sf_err(-1, e, en, "reading system_schema.keyspaces: %s", msg);
        goto cleanup;
    }
    if (rows.nrows == 0) {
        snprintf(q, sizeof(q), "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s",
                 rs->u.keyspace, rs->u.replication);
        if (cql_query(rs->c, q, NULL, 0, CQL_QUORUM, NULL, msg, sizeof(msg))) {
            if (cql_last_error(rs->c) == CQL_ERR_UNAUTHORIZED)
                sf_err(-1, e, en, "keyspace %s does not exist and user %s may not create "
                       "it (%s); create it, or GRANT CREATE ON ALL KEYSPACES",
                       rs->u.keyspace, rs->u.user[0] ? rs->u.user : "(anonymous)", msg);
            else
                sf_err(-1, e, en, "creating keyspace %s: %s", rs->u.keyspace, msg);
            goto cleanup;
        }
        log_info("raw store: created keyspace %s with replication %s", rs->u.keyspace,
                 rs->u.replication);
    }
    cql_rows_free(&rows);
    if (read_columns(rs, &rows, msg, sizeof(msg))) {
        sf_err(-1, e, en, "reading system_schema.columns: %s", msg);
        goto cleanup;
    }
    if (rows.nrows == 0) {
        snprintf(q, sizeof(q), "CREATE TABLE IF NOT EXISTS %s.%s (uuid uuid PRIMARY KEY, "
                 "customer_id int, source text, quantity int, total decimal, "
                 "created_at text)", rs->u.keyspace, rs->u.table);
        if (cql_query(rs->c, q, NULL, 0, CQL_QUORUM, NULL, msg, sizeof(msg))) {
            sf_err(-1, e, en, "creating table %s.%s: %s", rs->u.keyspace, rs->u.table,
                   msg);
            goto cleanup;
        }
        log_info("raw store: created table %s.%s (total decimal)", rs->u.keyspace,
                 rs->u.table);
        cql_rows_free(&rows);
        if (read_columns(rs, &rows, msg, sizeof(msg))) {
            sf_err(-1, e, en, "reading system_schema.columns: %s", msg);
            goto cleanup;
        }
    }
    char bad[1024] = "";
    if (check_columns(rs, &rows, bad, sizeof(bad))) {
        sf_err(-1, e, en, "table %s.%s does not fit: %s; the sink needs uuid uuid PRIMARY "
               "KEY, customer_id int, source text, quantity int, total float|double|"
               "decimal, created_at text", rs->u.keyspace, rs->u.table, bad);
        goto cleanup;
    }
    rc = 0;
cleanup:
    cql_rows_free(&rows);
    return rc;
}

static int grow_vals(struct raw_store *rs, size_t n)
{
    if (n <= rs->cap)
        return 0;
    struct cql_value *v = realloc(rs->vals, n * NCOLS * sizeof(*v));
    if (!v)
        return -1;
    rs->vals = v;
    char (*t)[32] = realloc(rs->times, n * sizeof(*t));
    if (!t)
        return -1;
    rs->times = t;
    rs->cap = n;
    return 0;
}

/* Write rows to Cassandra: 0, or -1 with errstr. *data: a value that can
 * never be written (not worth retrying). */
static int sink_write(struct raw_store *rs, const struct store_order *rows, size_t n,
                      int *data, char *e, size_t en)
{
    *data = 0;
    if (n == 0)
        return 0;
    if (grow_vals(rs, n))
        return sf_err(-1, e, en, "raw store: out of memory");
    for (size_t r = 0; r < n; r++) {
        const struct order *o = &rows[r].o;
        struct cql_value *v = rs->vals + r * NCOLS;
        memset(v, 0, NCOLS * sizeof(*v));
        if (o->customer_id < INT32_MIN || o->customer_id > INT32_MAX ||
            o->quantity > INT32_MAX) {
            *data = 1;
            return sf_err(-1, e, en, "raw store: order %s: customer_id or quantity does "
                          "not fit Cassandra's int", o->order_id);
        }
        v[0].type = CQL_T_UUID;
        order_uuid(o->order_id, v[0].uuid);
        v[1].type = CQL_T_INT;
        v[1].i32 = (int32_t)o->customer_id;
        v[2].type = CQL_T_TEXT;
        v[2].s = rows[r].source;
        v[2].len = strlen(v[2].s);
        v[3].type = CQL_T_INT;
        v[3].i32 = (int32_t)o->quantity;
        v[4].type = (enum cql_type)rs->total_type;
        v[4].f = (float)((double)o->total_cents / 100.0);
        v[4].d = (double)o->total_cents / 100.0;
        v[4].i64 = o->total_cents;
        v[4].scale = 2;
        v[5].type = CQL_T_TEXT;
        v[5].s = sf_format_time(o->created_ms, rs->times[r]);
        v[5].len = strlen(v[5].s);
    }
    int backoff = 100;
    for (int attempt = 0;; attempt++) {
        char msg[600];
        int rc = cql_batch_rows(rs->c, rs->stmt, rs->vals, NCOLS, n, (size_t)rs->u.batch,
                                rs->u.consistency, msg, sizeof(msg));
        atomic_store(&sink.connected, cql_connected(rs->c));
        if (rc == 0) {
            atomic_fetch_add(&sink.rows, n);
            atomic_fetch_add(&sink.batches, (n + (size_t)rs->u.batch - 1) /
                                             (size_t)rs->u.batch);
            atomic_store(&sink.failing, 0);
            return 0;
        }
        sink_error(msg);
        if (attempt >= rs->retries)
            return sf_err(-1, e, en, "raw store (Cassandra): %s", msg);
        log_warn("raw store (Cassandra): %s; retrying in %d ms", msg, backoff);
        struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
}

static int rs_apply(struct store *s, const char *topic, const struct store_order *rows,
                    size_t n, const int64_t *next, const int64_t *mark, int nparts,
                    size_t *inserted, char *e, size_t en)
{
    struct raw_store *rs = RS(s);
    int data;
    rs->last_from_sink = 0;
    if (sink_write(rs, rows, n, &data, e, en)) {
        rs->last_from_sink = 1 + data;
        *inserted = 0;
        return -1;
    }
    return store_apply(rs->inner, topic, rows, n, next, mark, nparts, inserted, e, en);
}

static enum store_error_kind rs_error_kind(struct store *s)
{
    struct raw_store *rs = RS(s);
    if (rs->last_from_sink)
        return rs->last_from_sink == 2 ? STORE_ERR_DATA : STORE_ERR_TRANSIENT;
    return store_error_kind(rs->inner);
}

static int rs_load_positions(struct store *s, const char *topic, int64_t *next,
                             int64_t *mark, int nparts, char *e, size_t en)
{
    return store_load_positions(RS(s)->inner, topic, next, mark, nparts, e, en);
}
static int rs_reset(struct store *s, const char *topic, char *e, size_t en)
{
    return store_rebuild_begin(RS(s)->inner, topic, e, en);
}
static int rs_rebuild_end(struct store *s, int commit, char *e, size_t en)
{
    return store_rebuild_end(RS(s)->inner, commit, e, en);
}
static int rs_sales(struct store *s, struct sales_row **rows, size_t *n, char *e,
                    size_t en)
{
    return store_sales(RS(s)->inner, rows, n, e, en);
}
static int rs_sales_minute(struct store *s, const struct store_filter *f,
                           const char *from, const char *to, struct minute_row **rows,
                           size_t *n, char *e, size_t en)
{
    return store_sales_minute(RS(s)->inner, f, from, to, rows, n, e, en);
}
static int rs_recent_orders(struct store *s, const struct store_filter *f, size_t limit,
                            struct order_row **rows, size_t *n, char *e, size_t en)
{
    return store_recent_orders(RS(s)->inner, f, limit, rows, n, e, en);
}
static int rs_query(struct store *s, const struct store_query *q, int level,
                    int64_t from_ms, int64_t to_ms, struct query_row **rows, size_t *n,
                    char *e, size_t en)
{
    return store_query_part(RS(s)->inner, q, level, from_ms, to_ms, rows, n, e, en);
}
static int rs_charts(struct store *s, struct store_chart **rows, size_t *n, char *e,
                     size_t en)
{
    return store_charts(RS(s)->inner, rows, n, e, en);
}
static int rs_chart_add(struct store *s, const char *name, const char *def, int64_t *id,
                        char *e, size_t en)
{
    return store_chart_add(RS(s)->inner, name, def, id, e, en);
}
static int rs_chart_delete(struct store *s, int64_t id, char *e, size_t en)
{
    return store_chart_delete(RS(s)->inner, id, e, en);
}
static int rs_positions(struct store *s, const char *topic, struct store_position **rows,
                        size_t *n, char *e, size_t en)
{
    return store_positions(RS(s)->inner, topic, rows, n, e, en);
}
static int rs_adopt_positions(struct store *s, const char *topic, const char *key,
                              char *e, size_t en)
{
    return store_adopt_positions(RS(s)->inner, topic, key, e, en);
}

static int rs_has_orders(struct store *s, const char *const *ids, int n, char *e, size_t en)
{
    return store_has_orders(RS(s)->inner, ids, n, e, en);
}

static void rs_close(struct store *s)
{
    struct raw_store *rs = RS(s);
    if (!rs)
        return;
    store_close(rs->inner);
    cql_destroy(rs->c);
    free(rs->vals);
    free(rs->times);
    free(rs);
    atomic_store(&sink.open, 0);
    atomic_store(&sink.connected, 0);
}

/* Not chosen by store_open(): cassandra_wrap() builds it around a store. */
static const struct store_ops raw_store_ops = {
    .scheme = "cassandra+",
    .open = NULL,
    .load_positions = rs_load_positions,
    .apply = rs_apply,
    .reset = rs_reset,          /* the inner store's rebuild_begin or reset */
    .rebuild_end = rs_rebuild_end,
    .sales = rs_sales,
    .sales_minute = rs_sales_minute,
    .recent_orders = rs_recent_orders,
    .query = rs_query,
    .charts = rs_charts,
    .chart_add = rs_chart_add,
    .chart_delete = rs_chart_delete,
    .positions = rs_positions,
    .adopt_positions = rs_adopt_positions,
    .has_orders = rs_has_orders,
    .close = rs_close,
    .error_kind = rs_error_kind,
};

/* The password: given, else SALESFLOW_CASSANDRA_PASSWORD, else the file of
 * ?password_file= (its first line). */
static int password(const struct raw_uri *u, const char *given, char *out, size_t n,
                    char *e, size_t en)
{
    out[0] = '\0';
    const char *env = getenv("SALESFLOW_CASSANDRA_PASSWORD");
    if (given || (env && *env)) {
        snprintf(out, n, "%s", given ? given : env);
        return 0;
    }
    if (!u->password_file[0])
        return 0;
    FILE *f = fopen(u->password_file, "r");
    if (!f)
        return sf_err(-1, e, en, "raw store: cannot read the password file %s: %s",
                      u->password_file, strerror(errno));
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

struct store *cassandra_wrap(struct store *inner, const char *uri, const char *pw,
                             int retries, char *e, size_t en)
{
    struct raw_store *rs = calloc(1, sizeof(*rs));
    char why[400], secret[512];
    struct cql_conf conf = {0};
    if (!rs) {
        sf_err(-1, e, en, "out of memory");
        goto fail;
    }
    rs->base.ops = &raw_store_ops;
    rs->inner = inner;
    rs->retries = retries;
    if (parse_uri(uri, &rs->u, why, sizeof(why))) {
        sf_err(-1, e, en, "raw store URI \"%s\": %s", shown_uri(uri, secret, sizeof(secret)),
               why);
        goto fail;
    }
    if (password(&rs->u, pw, secret, sizeof(secret), e, en))
        goto fail;
    for (int i = 0; i < rs->u.nhosts; i++) {
        conf.hosts[i] = rs->u.hosts[i];
        conf.ports[i] = rs->u.ports[i];
    }
    conf.nhosts = rs->u.nhosts;
    conf.user = rs->u.user[0] ? rs->u.user : NULL;
    conf.password = secret;
    rs->c = cql_new(&conf);
    explicit_bzero(secret, sizeof(secret));
    if (!rs->c) {
        sf_err(-1, e, en, "out of memory");
        goto fail;
    }
    char msg[700];
    if (cql_connect(rs->c, msg, sizeof(msg))) {
        sf_err(-1, e, en, "raw store: cannot connect to Cassandra: %s", msg);
        goto fail;
    }
    if (schema(rs, msg, sizeof(msg))) {
        sf_err(-1, e, en, "raw store: %s", msg);
        goto fail;
    }
    snprintf(rs->insert, sizeof(rs->insert), "INSERT INTO %s.%s (uuid, customer_id, "
             "source, quantity, total, created_at) VALUES (?, ?, ?, ?, ?, ?)",
             rs->u.keyspace, rs->u.table);
    int nbind = 0;
    if (cql_prepare(rs->c, rs->insert, &rs->stmt, &nbind, msg, sizeof(msg))) {
        sf_err(-1, e, en, "raw store: preparing the INSERT: %s", msg);
        goto fail;
    }
    if (nbind != NCOLS) {
        sf_err(-1, e, en, "raw store: the prepared INSERT has %d bind markers, not %d",
               nbind, NCOLS);
        goto fail;
    }
    atomic_store(&sink.open, 1);
    atomic_store(&sink.connected, 1);
    atomic_store(&sink.failing, 0);
    log_info("raw store: writing raw orders to Cassandra %s.%s at %s (consistency %s, "
             "total as %s, %d rows per batch)", rs->u.keyspace, rs->u.table,
             cql_peer(rs->c), cql_consistency_name(rs->u.consistency),
             rs->total_type == CQL_T_FLOAT ? "float" :
             rs->total_type == CQL_T_DOUBLE ? "double" : "decimal", rs->u.batch);
    return &rs->base;
fail:
    if (rs) {
        cql_destroy(rs->c);
        free(rs);
    }
    store_close(inner);
    return NULL;
}

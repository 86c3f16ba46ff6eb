/*
 * query — questions of the user's own: GET /api/query and saved charts.
 *
 *   GET /api/query?metric=M&by=D,D&from=T&to=T&source=S&state=S&format=F
 *   GET /api/charts                 the saved charts
 *   POST /api/charts                {"name": …, "definition": {…}}
 *   DELETE /api/charts/{id}
 *
 * One validator (struct qspec, fed name/value pairs) serves both the query
 * string of /api/query and a chart's definition (a JSON object with the
 * same names, lists as arrays, plus "type"), so a saved chart is exactly a
 * query that /api/query would answer. Every value is checked against a
 * closed set (metrics, dimensions, formats, chart types, the known
 * sources and states) or parsed (times); what reaches the store is a
 * struct store_query whose strings the store binds as parameters. A bad
 * value is a 422 in FastAPI's shape naming the parameter:
 * {"detail":[{"loc":["query","metric"],"msg":"…","type":"…"}]}.
 *
 * Sums come from the store as integer cents per group; revenue and
 * avg_order (cents / orders, rounded half up to the cent) leave as
 * numbers with exactly two decimals, as everywhere in the API.
 */
#include "web/web_int.h"
#include "core/catalog.h"
#include "core/money.h"
#include "core/order.h"
#include "http/http.h"
#include "http/mhd.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_BUCKETS_MAX 10000
#define QUERY_ROWS_MAX 100000
#define QDIM_MAX 4

enum qdim { D_SOURCE, D_STATE, D_CUSTOMER, D_MINUTE, D_HOUR, D_DAY };
static const char *const dim_names[] = {"source", "state", "customer_id",
                                        "minute", "hour", "day"};
enum qmetric { M_REVENUE, M_ORDERS, M_QUANTITY, M_AVG };
static const char *const metric_names[] = {"revenue", "orders", "quantity", "avg_order"};
static const char *const chart_types[] = {"line", "bar", "stacked", "pie", "table",
                                          "number"};

struct qspec {
    struct web *w;
    const struct catalog *cat;      /* the sources (NULL in `serve`: the defaults) */
    const char *where;          /* "query" or "body" (the loc's first part) */
    int chart;                  /* a chart's definition: "type" is asked */
    int metric;                 /* -1: not given */
    enum qdim by[QDIM_MAX];
    int nby;
    int64_t bucket_ms;
    int64_t tz_ms;              /* tz: ms east of UTC (0: UTC) */
    unsigned seen;              /* single-valued names given */
    int csv, type;
    struct store_filter f;
    int has_from, has_to;
    char pool[4096];            /* copies of list values */
    size_t used;
    /* the first error */
    char err_loc[64], err_type[32], err_msg[400];
    /* the states the store knows (those in `sales`) */
    struct sales_row *states;
    size_t nstates;
};

enum { S_METRIC = 1, S_FROM = 2, S_TO = 4, S_FORMAT = 8, S_TYPE = 16, S_TZ = 32 };

static int qerr(struct qspec *q, const char *loc, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int qerr(struct qspec *q, const char *loc, const char *type, const char *fmt, ...)
{
    if (q->err_msg[0])
        return -1;
    snprintf(q->err_loc, sizeof(q->err_loc), "%s", loc);
    snprintf(q->err_type, sizeof(q->err_type), "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err_msg, sizeof(q->err_msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int has_ctl(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

static int pick(const char *v, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, names[i]))
            return (int)i;
    return -1;
}

static void list_text(char *out, size_t n, const char *const *names, size_t k)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? (i + 1 == k ? " or " : ", ")
                                : "", names[i]);
}

static int known_state(const struct qspec *q, const char *s)
{
    for (size_t i = 0; i < q->nstates; i++)
        if (!strcmp(q->states[i].state, s))
            return 1;
    return 0;
}

static int once(struct qspec *q, const char *name, unsigned bit)
{
    if (q->seen & bit)
        return qerr(q, name, "value_error", "%s is given more than once", name);
    q->seen |= bit;
    return 0;
}

/* by: comma-separated dimensions, added to q->by ("by=" adds none). */
static int add_by(struct qspec *q, const char *v)
{
    char item[32], names[128];
    for (const char *p = v; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(item, sizeof(item), "%.*s", (int)(len < 31 ? len : 31), p);
        int d = len < 31 ? pick(item, dim_names, SF_ARRAY_LEN(dim_names)) : -1;
        list_text(names, sizeof(names), dim_names, SF_ARRAY_LEN(dim_names));
        if (d < 0)
            return qerr(q, "by", "enum", "unknown dimension \"%.40s\": expected %s, "
                        "comma-separated", item, names);
        for (int i = 0; i < q->nby; i++) {
            if ((int)q->by[i] == d)
                return qerr(q, "by", "value_error", "%s is named twice", item);
            if (d >= D_MINUTE && q->by[i] >= D_MINUTE)
                return qerr(q, "by", "value_error", "at most one time bucket (minute, "
                            "hour or day) at a time");
        }
        if (q->nby == QDIM_MAX)
            return qerr(q, "by", "value_error", "at most %d dimensions", QDIM_MAX);
        q->by[q->nby++] = (enum qdim)d;
        if (d >= D_MINUTE)
            q->bucket_ms = d == D_MINUTE ? 60000 : d == D_HOUR ? 3600000 : 86400000;
        if (!e)
            break;
        p = e + 1;
        if (!*p)
            return qerr(q, "by", "value_error", "by ends with a comma");
    }
    return 0;
}

/* source/state: comma-separated, each known. */
static int add_list(struct qspec *q, const char *name, const char *v, int is_source)
{
    size_t len = strlen(v);
    if (!len)
        return 0;   /* "source=": no filter, as in the dashboard's API */
    if (q->used + len + 1 > sizeof(q->pool))
        return qerr(q, name, "value_error", "too many values");
    char *copy = q->pool + q->used;
    memcpy(copy, v, len + 1);
    q->used += len + 1;
    const char **list = is_source ? q->f.sources : q->f.states;
    size_t *count = is_source ? &q->f.nsources : &q->f.nstates;
    for (char *item = copy, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        if (*count == STORE_FILTER_MAX)
            return qerr(q, name, "value_error", "at most %d values", STORE_FILTER_MAX);
        if (is_source && catalog_source_index(q->cat, item) < 0 &&
            !web_sampler_knows_source(q->w, item))
            return qerr(q, name, "enum", "source \"%.40s\" is not known: expected %s",
                        item, catalog_sources_text(q->cat));
        if (!is_source && !known_state(q, item))
            return qerr(q, name, "enum", "state \"%.40s\" is not known: no order has "
                        "it (states are as stored, e.g. CA)", item);
        list[(*count)++] = item;
    }
    return 0;
}

/* tz: "Z" or "+HH:MM" / "-HH:MM" under 24 hours, into ms east of UTC; 0 or
 * -1 (q->err_*). */
static int add_tz(struct qspec *q, const char *v)
{
    const char *d = v + 1;
    int ok = (v[0] == '+' || v[0] == '-') && strlen(v) == 6 && d[2] == ':';
    for (int i = 0; ok && i < 5; i++)
        ok = i == 2 || (d[i] >= '0' && d[i] <= '9');
    int h = ok ? (d[0] - '0') * 10 + (d[1] - '0') : 0, m = ok ? (d[3] - '0') * 10 + (d[4] - '0') : 0;
    if (!strcmp(v, "Z") || !strcmp(v, "z")) {
        q->tz_ms = 0;
        return 0;
    }
    if (!ok || h > 23 || m > 59)
        return qerr(q, "tz", "value_error", "tz must be an offset from UTC for the hour and "
                    "day buckets: Z or +HH:MM / -HH:MM under 24 hours, such as +05:30 or "
                    "-03:30; got \"%.40s\"%s", v, v[0] == ' ' ? " (a + in a query string "
                    "must be sent as %2B, or it arrives as a space)" : "");
    q->tz_ms = (v[0] == '-' ? -1 : 1) * (int64_t)(h * 60 + m) * 60000;
    return 0;
}

/* One name=value of a query string or a definition. 0 or -1 (q->err_*). */
static int qspec_add(struct qspec *q, const char *name, const char *v)
{
    char names[128];
    if (has_ctl(name))
        return qerr(q, "", "value_error", "a parameter name contains a control "
                    "character");
    if (has_ctl(v))
        return qerr(q, name, "value_error", "%.40s contains a control character", name);
    if (!strcmp(name, "metric")) {
        if (once(q, name, S_METRIC))
            return -1;
        q->metric = pick(v, metric_names, SF_ARRAY_LEN(metric_names));
        list_text(names, sizeof(names), metric_names, SF_ARRAY_LEN(metric_names));
        if (q->metric < 0)
            return qerr(q, name, "enum", "unknown metric \"%.40s\": expected %s", v, names);
        return 0;
    }
    if (!strcmp(name, "by"))
        return add_by(q, v);
    if (!strcmp(name, "from") || !strcmp(name, "to")) {
        int from = name[0] == 'f';
        char msg[400];
        if (once(q, name, from ? S_FROM : S_TO))
            return -1;
        if (web_parse_when(name, v, sf_now_ms(), from ? &q->f.from_ms : &q->f.to_ms,
                           msg, sizeof(msg)))
            return qerr(q, name, "datetime_parsing", "%s", msg);
        *(from ? &q->has_from : &q->has_to) = 1;
        return 0;
    }
    if (!strcmp(name, "source") || !strcmp(name, "state"))
        return add_list(q, name, v, name[1] == 'o');
    if (!strcmp(name, "format")) {
        if (once(q, name, S_FORMAT))
            return -1;
        if (strcmp(v, "json") && strcmp(v, "csv"))
            return qerr(q, name, "enum", "format must be json or csv, got \"%.40s\"", v);
        q->csv = v[0] == 'c';
        return 0;
    }
    if (!q->chart && !strcmp(name, "tz"))
        return once(q, name, S_TZ) ? -1 : add_tz(q, v);
    if (q->chart && !strcmp(name, "type")) {
        if (once(q, name, S_TYPE))
            return -1;
        q->type = pick(v, chart_types, SF_ARRAY_LEN(chart_types));
        list_text(names, sizeof(names), chart_types, SF_ARRAY_LEN(chart_types));
        if (q->type < 0)
            return qerr(q, name, "enum", "unknown chart type \"%.40s\": expected %s", v,
                        names);
        return 0;
    }
    return qerr(q, name, "extra_forbidden", "unknown %s \"%.40s\": expected metric, by, "
                "from, to, source, state%s", q->chart ? "field" : "query parameter",
                name, q->chart ? " or type" : ", tz or format");
}

/* The start of the bucket of len holding t, buckets starting at k * len - off. */
static int64_t bucket_floor(int64_t t, int64_t len, int64_t off)
{
    int64_t x = t + off, r = x % len;
    return x - (r < 0 ? r + len : r) - off;
}

/* After every pair: what is required and what goes together. */
static int qspec_finish(struct qspec *q)
{
    char names[128], ts[32];
    if (q->err_msg[0])
        return -1;
    if (q->metric < 0) {
        list_text(names, sizeof(names), metric_names, SF_ARRAY_LEN(metric_names));
        return qerr(q, "metric", "missing", "Field required: metric, one of %s", names);
    }
    if (q->chart && !(q->seen & S_TYPE)) {
        list_text(names, sizeof(names), chart_types, SF_ARRAY_LEN(chart_types));
        return qerr(q, "type", "missing", "Field required: type, one of %s", names);
    }
    q->f.ranged = q->has_from || q->has_to;
    if (!q->has_from)
        q->f.from_ms = SF_TIME_MIN_MS;
    if (!q->has_to)
        q->f.to_ms = SF_TIME_MAX_MS + 1;
    if (q->f.from_ms > q->f.to_ms)
        return qerr(q, "from", "value_error", "from (%s) is after to",
                    sf_format_time(q->f.from_ms, ts));
    if (q->bucket_ms && q->has_from && q->has_to && q->f.to_ms > q->f.from_ms) {
        int64_t first = bucket_floor(q->f.from_ms, q->bucket_ms, q->tz_ms);
        int64_t last = bucket_floor(q->f.to_ms - 1, q->bucket_ms, q->tz_ms);
        if ((last - first) / q->bucket_ms + 1 > QUERY_BUCKETS_MAX)
            return qerr(q, "by", "value_error", "from and to span %" PRId64 " buckets; "
                        "at most %d: choose a coarser bucket or a shorter range",
                        (last - first) / q->bucket_ms + 1, QUERY_BUCKETS_MAX);
    }
    return 0;
}

/* The states in `sales` (for known_state); 0 or -1 with err. */
static int load_states(struct qspec *q, struct http_req *r, char *err, size_t en)
{
    int rc = store_sales(web_store_lock(r), &q->states, &q->nstates, err, en);
    web_store_unlock(r);
    return rc;
}

static void qspec_init(struct qspec *q, struct web *w, const struct catalog *cat,
                       const char *where, int chart)
{
    memset(q, 0, sizeof(*q));
    q->w = w;
    q->cat = cat;
    q->where = where;
    q->chart = chart;
    q->metric = -1;
    q->type = -1;
}

/* {"detail":[{"loc":[where, loc],"msg":…,"type":…}]} */
static enum http_result unprocessable(struct http_req *r, const char *where,
                                      const char *loc, const char *type, const char *msg)
{
    struct sf_buf b;
    sf_buf_init(&b, 1u << 16);
    SF_BUF_LIT(&b, "{\"detail\":[{\"loc\":[");
    sf_buf_json_str(&b, where);
    /* "definition.type" → "definition","type" */
    for (const char *p = loc; p && *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char part[64];
        snprintf(part, sizeof(part), "%.*s", (int)(len < 63 ? len : 63), p);
        SF_BUF_LIT(&b, ",");
        sf_buf_json_str(&b, part);
        p = dot ? dot + 1 : p + len;
    }
    SF_BUF_LIT(&b, "],\"msg\":");
    sf_buf_json_str(&b, msg);
    SF_BUF_LIT(&b, ",\"type\":");
    sf_buf_json_str(&b, type);
    SF_BUF_LIT(&b, "}]}");
    enum http_result rc = b.data ? web_reply_json(r, 422, b.data)
                                 : web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    sf_buf_free(&b);
    return rc;
}

static enum http_result qspec_reject(struct http_req *r, const struct qspec *q)
{
    return unprocessable(r, q->where, q->err_loc, q->err_type, q->err_msg);
}

static enum http_result store_failed(struct http_req *r, const char *what, const char *err)
{
    log_error("%s: %s", what, err);
    return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable");
}

/* ---- GET /api/query ----------------------------------------------------- */

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    if (web_empty_pair(key, value))
        return MHD_YES;
    return qspec_add(cls, key, value ? value : "") ? MHD_NO : MHD_YES;
}

static const enum qdim *sort_by;
static int sort_n;

static int cmp_rows(const void *a, const void *b)
{
    const struct query_row *x = a, *y = b;
    for (int i = 0; i < sort_n; i++) {
        int c = 0;
        switch (sort_by[i]) {
        case D_SOURCE: c = strcmp(x->source, y->source); break;
        case D_STATE: c = strcmp(x->state, y->state); break;
        case D_CUSTOMER:
            c = (x->customer_id > y->customer_id) - (x->customer_id < y->customer_id);
            break;
        default: c = (x->bucket_ms > y->bucket_ms) - (x->bucket_ms < y->bucket_ms); break;
        }
        if (c)
            return c;
    }
    return 0;
}

/* One value as JSON (csv = 0) or a CSV field. A field that a spreadsheet
 * would run as a formula (=, +, -, @, tab or CR first: a source or state
 * of the catalog's) gets a leading apostrophe, as OWASP advises for CSV
 * exports; numbers and times never start so. */
static void put_str(struct sf_buf *b, const char *s, int csv)
{
    if (!csv) {
        sf_buf_json_str(b, s);
        return;
    }
    int formula = s[0] && strchr("=+-@\t\r", s[0]) != NULL;
    if (!strpbrk(s, ",\"\r\n")) {
        if (formula)
            SF_BUF_LIT(b, "'");
        sf_buf_append(b, s, strlen(s));
        return;
    }
    SF_BUF_LIT(b, "\"");
    if (formula)
        SF_BUF_LIT(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            SF_BUF_LIT(b, "\"");
        sf_buf_append(b, p, 1);
    }
    SF_BUF_LIT(b, "\"");
}

static void put_row(struct sf_buf *b, const struct qspec *q, const struct query_row *x,
                    int csv)
{
    char ts[32], amt[24];
    if (!csv)
        SF_BUF_LIT(b, "[");
    for (int i = 0; i < q->nby; i++) {
        switch (q->by[i]) {
        case D_SOURCE: put_str(b, x->source, csv); break;
        case D_STATE: put_str(b, x->state, csv); break;
        case D_CUSTOMER: sf_buf_printf(b, "%" PRId64, x->customer_id); break;
        default:
            /* The offset's clock: 2026-12-07T00:00:00+05:30; a start that on
             * that clock is past 9999-12-31 (four digits of year) as the same
             * instant in UTC. */
            if (q->tz_ms && x->bucket_ms + q->tz_ms <= SF_TIME_MAX_MS) {
                int64_t a = q->tz_ms < 0 ? -q->tz_ms / 60000 : q->tz_ms / 60000;
                sf_buf_printf(b, csv ? "%.19s%c%02d:%02d" : "\"%.19s%c%02d:%02d\"",
                              sf_format_time(x->bucket_ms + q->tz_ms, ts),
                              q->tz_ms < 0 ? '-' : '+', (int)(a / 60), (int)(a % 60));
            } else {
                sf_buf_printf(b, csv ? "%.19sZ" : "\"%.19sZ\"",
                              sf_format_time(x->bucket_ms, ts));
            }
            break;
        }
        SF_BUF_LIT(b, ",");
    }
    switch (q->metric) {
    case M_REVENUE: sf_buf_printf(b, "%s", money_format(x->total_cents, amt)); break;
    case M_ORDERS: sf_buf_printf(b, "%" PRId64, x->order_count); break;
    case M_QUANTITY: sf_buf_printf(b, "%" PRId64, x->quantity); break;
    default:
        if (x->order_count > 0)
            sf_buf_printf(b, "%s", money_format((x->total_cents / x->order_count) +
                          (2 * (x->total_cents % x->order_count) >= x->order_count),
                          amt));
        else if (!csv)
            SF_BUF_LIT(b, "null");
        break;
    }
    if (csv)
        SF_BUF_LIT(b, "\r\n");
    else
        SF_BUF_LIT(b, "]");
}

static enum http_result reply_body(struct http_req *r, struct sf_buf *b, int csv)
{
    return csv ? web_reply_buf(r, b, "text/csv; charset=utf-8",
                               "attachment; filename=\"salesflow-query.csv\"")
               : web_reply_buf(r, b, "application/json", NULL);
}

/* Count the distinct buckets of sorted-by-anything rows (they are few). */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The number of buckets the answer holds (an open range is judged by
 * them, not by the span between its first and last: one order dated
 * decades ahead must not make "the last 7 days by day" too large).
 * SIZE_MAX when out of memory. */
static size_t distinct_buckets(const struct query_row *rows, size_t n, int64_t bucket_ms)
{
    if (!bucket_ms || !n)
        return n ? 1 : 0;
    int64_t *b = malloc(n * sizeof(*b));
    if (!b)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        b[i] = rows[i].bucket_ms;
    qsort(b, n, sizeof(*b), cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        k += b[i] != b[i - 1];
    free(b);
    return k;
}

enum http_result web_api_query(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct qspec *q = NULL;
    struct query_row *rows = NULL, zero = {0};
    size_t n = 0;
    char err[512];
    enum http_result res;

    if (!w)
        return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "this server has no store to query");
    if (!(q = malloc(sizeof(*q))))
        return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    qspec_init(q, w, r->ctx->cat, "query", 0);
    if (load_states(q, r, err, sizeof(err))) {
        res = store_failed(r, "GET /api/query", err);
        goto out;
    }
    web_args(r, query_arg, q);
    if (qspec_finish(q)) {
        res = qspec_reject(r, q);
        goto out;
    }
    unsigned by = 0;
    for (int i = 0; i < q->nby; i++)
        by |= q->by[i] == D_SOURCE ? STORE_BY_SOURCE : q->by[i] == D_STATE ? STORE_BY_STATE
              : q->by[i] == D_CUSTOMER ? STORE_BY_CUSTOMER : 0;
    struct store_query sq = {.f = &q->f, .by = by, .bucket_ms = q->bucket_ms,
                             .offset_ms = q->tz_ms,
                             .no_total = q->metric == M_ORDERS || q->metric == M_QUANTITY};
    int rc = store_query(web_store_lock(r), &sq, &rows, &n, err, sizeof(err));
    web_store_unlock(r);
    if (rc == STORE_E_OVERFLOW) {
        res = unprocessable(r, "query", NULL, "value_error", WEB_SUM_TOO_LARGE
                            ": group it (by=source,state) or narrow the range or filters");
        goto out;
    }
    if (rc) {
        res = store_failed(r, "GET /api/query", err);
        goto out;
    }
    if (q->bucket_ms && distinct_buckets(rows, n, q->bucket_ms) > QUERY_BUCKETS_MAX) {
        res = unprocessable(r, "query", "by", "value_error", "the answer holds more than "
                            "10000 buckets: give from and to, or choose a coarser bucket");
        goto out;
    }
    if (n > QUERY_ROWS_MAX) {
        res = unprocessable(r, "query", "by", "value_error", "the answer has more than "
                            "100000 rows: narrow the range or group by fewer dimensions");
        goto out;
    }
    /* qsort has no context argument: the sort order is set under a lock. */
    static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sort_mu);
    sort_by = q->by;
    sort_n = q->nby;
    if (n)      /* rows is NULL when there are none: qsort's argument must not be */
        qsort(rows, n, sizeof(*rows), cmp_rows);
    pthread_mutex_unlock(&sort_mu);

    struct sf_buf b;
    sf_buf_init(&b, 64u << 20);
    const struct query_row *all = n ? rows : &zero;
    size_t shown = n ? n : q->nby ? 0 : 1;  /* no group: one row, even of zeros */
    if (q->csv) {
        for (int i = 0; i < q->nby; i++)
            sf_buf_printf(&b, "%s,", dim_names[q->by[i]]);
        sf_buf_printf(&b, "%s\r\n", metric_names[q->metric]);
    } else {
        SF_BUF_LIT(&b, "{\"columns\":[");
        for (int i = 0; i < q->nby; i++)
            sf_buf_printf(&b, "\"%s\",", dim_names[q->by[i]]);
        sf_buf_printf(&b, "\"%s\"],\"rows\":[", metric_names[q->metric]);
    }
    for (size_t i = 0; i < shown; i++) {
        if (i && !q->csv)
            SF_BUF_LIT(&b, ",");
        put_row(&b, q, &all[i], q->csv);
    }
    if (!q->csv)
        SF_BUF_LIT(&b, "]}");
    res = reply_body(r, &b, q->csv);
out:
    free(rows);
    if (q)
        free(q->states);
    free(q);
    return res;
}

/* ---- saved charts -------------------------------------------------------- */

/* Validate a definition object with the query's rules: 0, or -1 (q->err_*).
 * q must be initialized with chart = 1 and its states loaded. strict (a
 * new chart): only the documented shape — metric, from, to, type as
 * strings, by, source, state as arrays of strings; else (a stored one) as
 * charts were saved before that was checked: a list may be a string, and
 * a format is let be. */
static int check_definition(struct qspec *q, const json_t *def, int strict)
{
    const char *key;
    json_t *v;
    if (!json_is_object(def))
        return qerr(q, "definition", "dict_type", "definition must be a JSON object");
    json_object_foreach((json_t *)def, key, v) {
        int list = !strcmp(key, "by") || !strcmp(key, "source") || !strcmp(key, "state");
        if (strict && !strcmp(key, "format"))
            return qerr(q, key, "extra_forbidden", "format is not part of a definition "
                        "(a saved chart's card downloads its CSV): expected metric, by, from, "
                        "to, source, state or type");
        if (strict && list && !json_is_array(v))
            return qerr(q, key, "list_type", "%s must be an array of strings, such as "
                        "%s", key, key[0] == 'b' ? "[\"day\", \"source\"]"
                                  : key[1] == 'o' ? "[\"Takeaway\"]" : "[\"CA\", \"TX\"]");
        if (json_is_string(v)) {
            if (strlen(json_string_value(v)) != json_string_length(v))
                return qerr(q, key, "value_error", "%.40s contains a NUL character", key);
            if (qspec_add(q, key, json_string_value(v)))
                return -1;
            continue;
        }
        if (json_is_array(v) && (!strcmp(key, "by") || !strcmp(key, "source") ||
                                 !strcmp(key, "state"))) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                    return qerr(q, key, "string_type", "%s: every item must be a string",
                                key);
                if (strlen(json_string_value(e)) != json_string_length(e))
                    return qerr(q, key, "value_error", "%s contains a NUL character", key);
                if (strchr(json_string_value(e), ','))
                    return qerr(q, key, "value_error", "%s: an item contains a comma", key);
                if (qspec_add(q, key, json_string_value(e)))
                    return -1;
            }
            continue;
        }
        static const char *const members[] = {"metric", "by", "from", "to", "source",
                                              "state", "type", "format"};
        if (pick(key, members, SF_ARRAY_LEN(members)) < 0)    /* whatever its value */
            return qspec_add(q, key, "");
        return qerr(q, key, "string_type", "%.40s must be a string%s", key,
                    list ? " or an array of strings" : "");
    }
    return qspec_finish(q);
}

static void chart_json(struct sf_buf *b, const struct store_chart *c, const char *def_ok,
                       const char *bad)
{
    sf_buf_printf(b, "{\"id\":%" PRId64 ",\"name\":", c->id);
    sf_buf_json_str(b, c->name);
    SF_BUF_LIT(b, ",\"created\":");
    sf_buf_json_str(b, c->created);
    SF_BUF_LIT(b, ",\"definition\":");
    if (def_ok)
        sf_buf_append(b, def_ok, strlen(def_ok));
    else
        SF_BUF_LIT(b, "null");
    if (bad) {
        SF_BUF_LIT(b, ",\"error\":");
        sf_buf_json_str(b, bad);
    }
    SF_BUF_LIT(b, "}");
}

enum http_result web_api_charts(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct store_chart *rows = NULL;
    struct qspec *q = NULL;
    size_t n = 0;
    char err[512];
    enum http_result res;
    if (!w)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "this server has no store to query");
    if (MHD_get_connection_values(http_mhd_conn(r), MHD_GET_ARGUMENT_KIND, NULL, NULL))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "/api/charts takes no query parameters");
    if (!(q = malloc(sizeof(*q))))
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    qspec_init(q, w, r->ctx->cat, "body", 1);
    pthread_mutex_lock(&w->mu);
    int rc = store_charts(w->store, &rows, &n, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc || load_states(q, r, err, sizeof(err))) {
        res = store_failed(r, "GET /api/charts", err);
        goto out;
    }
    struct sf_buf b;
    sf_buf_init(&b, 8u << 20);
    SF_BUF_LIT(&b, "{\"charts\":[");
    for (size_t i = 0; i < n; i++) {
        /* A stored definition that no longer parses or validates (edited
         * by hand, damaged) is listed with an error instead of breaking
         * the list: the dashboard skips it, and it can still be removed. */
        struct sales_row *states = q->states;
        size_t nstates = q->nstates;
        qspec_init(q, w, r->ctx->cat, "body", 1);
        q->states = states;
        q->nstates = nstates;
        json_error_t je;
        json_t *def = json_loads(rows[i].definition, JSON_REJECT_DUPLICATES, &je);
        const char *bad = NULL;
        char *text = NULL;
        if (rows[i].def_too_long)
            bad = "the stored definition is longer than 4096 bytes";
        else if (!def)
            bad = "the stored definition is not valid JSON";
        else if (check_definition(q, def, 0))
            bad = q->err_msg;
        else
            text = json_dumps(def, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (i)
            SF_BUF_LIT(&b, ",");
        chart_json(&b, &rows[i], text, bad);
        free(text);
        json_decref(def);
    }
    SF_BUF_LIT(&b, "]}");
    res = reply_body(r, &b, 0);
out:
    free(rows);
    if (q)
        free(q->states);
    free(q);
    return res;
}

/* Saved charts changed: open dashboards get a notice (as after a commit,
 * without counting one) and re-read the list. */
static void chart_notice(struct web *w)
{
    atomic_fetch_add(&w->commit_gen, 1);
    web_streams_kick(w);
}

/* What a name must not hold, or NULL: control characters (C0, DEL, C1),
 * the line and paragraph separators, and the bidirectional controls that
 * would make a name read other than it is stored. */
static const char *name_forbidden(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
        return "a control character";
    if (c == 0x2028 || c == 0x2029)
        return "a line or paragraph separator";
    if (c == 0x200e || c == 0x200f || c == 0x061c || (c >= 0x202a && c <= 0x202e) ||
        (c >= 0x2066 && c <= 0x2069))
        return "a bidirectional control";
    /* Invisible format characters; the joiners U+200C and U+200D are let
     * be (emoji sequences and some scripts need them). */
    if (c == 0x200b || (c >= 0x2060 && c <= 0x2064) || c == 0xfeff || c == 0x00ad)
        return "an invisible character";
    if (c >= 0xfff9 && c <= 0xfffb)
        return "an interlinear annotation character";
    if (c >= 0xe0000 && c <= 0xe007f)
        return "a tag character";
    return NULL;
}

/* A space character (Unicode White_Space, the controls aside). */
static int name_space(uint32_t c)
{
    return c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The name: a string of 1 to 200 characters, none of name_forbidden's.
 * NULL, or a message in msg. (jansson hands over valid UTF-8 only.) */
static const char *check_name(const json_t *v, char *msg, size_t n)
{
    if (!json_is_string(v))
        return "name must be a string";
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t chars = 0, spaces = 0, len = json_string_length(v);
    for (size_t i = 0; i < len; chars++) {
        uint32_t c = s[i];
        int k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (k > 1)
            c &= 0x3f >> (k - 1);
        for (int j = 1; j < k && i + (size_t)j < len; j++)
            c = c << 6 | (s[i + (size_t)j] & 0x3f);
        const char *what = name_forbidden(c);
        if (what) {
            snprintf(msg, n, "name must not contain U+%04X (%s), character %zu", (unsigned)c,
                     what, chars + 1);
            return msg;
        }
        spaces += name_space(c);
        i += (size_t)k;
    }
    if (chars == 0)
        return "name must not be empty";
    if (spaces == chars)
        return "name must not be only spaces";
    if (chars > 200)
        return "name has more than 200 characters";
    return NULL;
}

enum http_result web_api_chart_add(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct qspec *q = NULL;
    json_t *root = NULL;
    char *def_text = NULL, err[512];
    enum http_result res;
    json_error_t je;
    if (!w)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "this server has no store");
    /* \u0000 is let in, to be refused by name (a field can say which). */
    root = json_loadb(r->body.data ? r->body.data : "", r->body.len,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root || !json_is_object(root)) {
        snprintf(err, sizeof(err), "the body must be a JSON object {\"name\": …, "
                 "\"definition\": {…}}%s%s", root ? "" : ": ", root ? "" : je.text);
        res = unprocessable(r, "body", NULL, root ? "dict_type" : "json_invalid", err);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "name") && strcmp(key, "definition")) {
            res = unprocessable(r, "body", key, "extra_forbidden", "unknown field: "
                                "expected name and definition");
            goto out;
        }
    }
    char name_msg[160];
    const char *bad = check_name(json_object_get(root, "name"), name_msg, sizeof(name_msg));
    if (!json_object_get(root, "name"))
        bad = "Field required: name";
    if (bad) {
        res = unprocessable(r, "body", "name", "value_error", bad);
        goto out;
    }
    json_t *def = json_object_get(root, "definition");
    if (!def) {
        res = unprocessable(r, "body", "definition", "missing", "Field required: definition");
        goto out;
    }
    if (!(q = malloc(sizeof(*q)))) {
        res = http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        goto out;
    }
    qspec_init(q, w, r->ctx->cat, "body", 1);
    if (load_states(q, r, err, sizeof(err))) {
        res = store_failed(r, "POST /api/charts", err);
        goto out;
    }
    if (check_definition(q, def, 1)) {
        char loc[sizeof(q->err_loc)];
        if (strcmp(q->err_loc, "definition")) {     /* not the definition as a whole */
            snprintf(loc, sizeof(loc), "definition.%.40s", q->err_loc);
            snprintf(q->err_loc, sizeof(q->err_loc), "%s", loc);
        }
        res = qspec_reject(r, q);
        goto out;
    }
    def_text = json_dumps(def, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!def_text || strlen(def_text) > STORE_CHART_DEF_MAX) {
        res = unprocessable(r, "body", "definition", "value_error",
                            "definition is longer than 4096 bytes");
        goto out;
    }
    int64_t id = 0;
    pthread_mutex_lock(&w->mu);
    int rc = store_chart_add(w->store, json_string_value(json_object_get(root, "name")),
                             def_text, &id, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc < 0) {
        res = store_failed(r, "POST /api/charts", err);
        goto out;
    }
    if (rc > 0) {
        res = unprocessable(r, "body", NULL, "value_error", "there are 100 saved charts "
                            "already, the most there may be: remove one first");
        goto out;
    }
    struct sf_buf b;
    sf_buf_init(&b, 1u << 16);
    sf_buf_printf(&b, "{\"id\":%" PRId64 ",\"name\":", id);
    sf_buf_json_str(&b, json_string_value(json_object_get(root, "name")));
    SF_BUF_LIT(&b, ",\"definition\":");
    sf_buf_append(&b, def_text, strlen(def_text));
    SF_BUF_LIT(&b, "}");
    res = b.data ? http_reply_json(r, MHD_HTTP_CREATED, b.data)
                 : http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    sf_buf_free(&b);
    if (res == HTTP_OK)
        chart_notice(w);
out:
    free(def_text);
    json_decref(root);
    if (q)
        free(q->states);
    free(q);
    return res;
}

enum http_result web_api_chart_delete(struct http_req *r)
{
    struct web *w = r->ctx->web;
    const char *idtext = r->url + strlen("/api/charts/");
    char *end, err[512], msg[128];
    if (!w)
        return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "this server has no store");
    /* Any id the store can hold, written as GET /api/charts lists it: a
     * damaged row with an id of 0 or below must be removable too. Out of
     * range is refused, never capped to another chart's id. */
    const char *digits = idtext + (idtext[0] == '-');
    errno = 0;
    long long id = strtoll(idtext, &end, 10);
    if (*digits < '0' || *digits > '9' || *end || errno == ERANGE ||
        (digits[0] == '0' && (digits[1] || digits != idtext)))
        return unprocessable(r, "path", "id", "int_parsing", "the chart id must be a "
                             "whole number from -9223372036854775808 to 9223372036854775807 "
                             "without leading zeros, as GET /api/charts lists them");
    pthread_mutex_lock(&w->mu);
    int rc = store_chart_delete(w->store, id, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return store_failed(r, "DELETE /api/charts", err);
    if (rc == 0) {
        snprintf(msg, sizeof(msg), "there is no saved chart %lld", id);
        return http_error(r, MHD_HTTP_NOT_FOUND, msg);
    }
    chart_notice(w);
    snprintf(msg, sizeof(msg), "{\"status\":\"deleted\",\"id\":%lld}", id);
    return http_reply_json(r, MHD_HTTP_OK, msg);
}

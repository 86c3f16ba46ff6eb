/*
 * api — the dashboard's JSON query API, one handler per chart:
 *
 *   GET /api/sales?source=&state=&from=&to=  the `sales` aggregates + totals
 *   GET /api/sales/minute?from=&to=&source=&state=   revenue per minute
 *   GET /api/sales/second?window=&source=&state=     orders per second
 *   GET /api/orders?limit=&source=&state=&from=&to=  the latest orders
 *   GET /api/pipeline                        ingest, processor, lag, streams
 *
 * With from or to, /api/sales sums the orders created in [from, to)
 * (store_query, from the rollups where they answer exactly) instead of
 * reading `sales`, and /api/orders lists only orders created in it;
 * without them both answer exactly as before.
 *
 * Query parameters are checked strictly: an unknown name, a repeated
 * single-valued one, an unknown source or a value out of range is a 400
 * {"detail": "…"} that says what was wrong and what is accepted, so a typo
 * never silently shows unfiltered numbers. source and state take several
 * values, repeated (source=A&source=B) or comma-separated (source=A,B).
 *
 * Money leaves as JSON numbers with exactly two decimals, formatted from
 * integer cents (money.c), so totals match the store to the cent.
 */
#include "web/web_int.h"
#include "broker/broker.h"
#include "core/catalog.h"
#include "core/money.h"
#include "core/order.h"
#include "core/stats.h"
#include "http/http.h"
#include "http/mhd.h"
#include "store/cassandra.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDERS_LIMIT_DEFAULT 20
#define ORDERS_LIMIT_MAX 500
#define MINUTE_SPAN_MAX_S (7 * 24 * 3600)
#define MINUTE_SPAN_DEFAULT_S 3600

/* ---- query parameters ------------------------------------------------- */

enum { P_SOURCE = 1, P_STATE = 2, P_FROM = 4, P_TO = 8, P_LIMIT = 16, P_WINDOW = 32 };
static const char *const param_names[] = {"source", "state", "from", "to", "limit",
                                          "window"};

struct params {
    struct web *w;
    const struct catalog *cat;      /* NULL in `serve`: the default sources */
    const char *endpoint;
    unsigned allowed, seen;
    struct store_filter f;
    const char *from, *to, *limit, *window;
    char pool[4096];                /* copies of list values, split at commas */
    size_t used;
    char err[400];
};

static int known_source(const struct params *p, const char *s)
{
    return catalog_source_index(p->cat, s) >= 0 || web_sampler_knows_source(p->w, s);
}

static int valid_state(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SF_STATE_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static void allowed_text(const struct params *p, char *out, size_t n)
{
    size_t len = 0;
    int k = 0, total = 0;
    for (size_t i = 0; i < SF_ARRAY_LEN(param_names); i++)
        total += (p->allowed >> i) & 1;
    out[0] = '\0';
    for (size_t i = 0; i < SF_ARRAY_LEN(param_names) && len < n; i++) {
        if (!((p->allowed >> i) & 1))
            continue;
        k++;
        len += (size_t)snprintf(out + len, n - len, "%s%s", k == 1 ? ""
                                : k == total ? " or " : ", ", param_names[i]);
    }
}

/* Split value at commas into the filter list (copies into p->pool). */
static int add_list(struct params *p, const char *name, const char *value,
                    const char **list, size_t *count, int is_source)
{
    size_t len = strlen(value);
    if (p->used + len + 1 > sizeof(p->pool)) {
        snprintf(p->err, sizeof(p->err), "%s: too many values", name);
        return -1;
    }
    char *copy = p->pool + p->used;
    memcpy(copy, value, len + 1);
    p->used += len + 1;
    for (char *item = copy, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        if (*count == STORE_FILTER_MAX) {
            snprintf(p->err, sizeof(p->err), "%s: at most %d values", name,
                     STORE_FILTER_MAX);
            return -1;
        }
        if (is_source && !known_source(p, item)) {
            snprintf(p->err, sizeof(p->err), "source \"%.40s\" is unknown: expected %s",
                     item, catalog_sources_text(p->cat));
            return -1;
        }
        if (!is_source && !valid_state(item)) {
            snprintf(p->err, sizeof(p->err), "state \"%.40s\" is not a state: expected "
                     "1 to %d printable characters, e.g. CA", item, SF_STATE_MAX - 1);
            return -1;
        }
        list[(*count)++] = item;
    }
    return 0;
}

/* An empty pair ("?&a=1", "a=1&&b=2", "?&") is no parameter at all, as a
 * trailing "&" already was (libmicrohttpd drops that one itself) and as
 * the original's framework reads it. */
int web_empty_pair(const char *key, const char *value)
{
    return !*key && (!value || !*value);
}

static enum MHD_Result param_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct params *p = cls;
    (void)kind;
    if (web_empty_pair(key, value))
        return MHD_YES;
    int idx = -1;
    for (size_t i = 0; i < SF_ARRAY_LEN(param_names); i++)
        if (!strcmp(key, param_names[i]) && ((p->allowed >> i) & 1))
            idx = (int)i;
    if (idx < 0) {
        char allowed[128];
        allowed_text(p, allowed, sizeof(allowed));
        if (p->allowed)
            snprintf(p->err, sizeof(p->err), "unknown query parameter \"%.40s\" for "
                     "%s: expected %s", key, p->endpoint, allowed);
        else
            snprintf(p->err, sizeof(p->err), "%s takes no query parameters",
                     p->endpoint);
        return MHD_NO;
    }
    unsigned bit = 1u << idx;
    if (!value)
        value = "";
    if (bit == P_SOURCE || bit == P_STATE) {
        p->seen |= bit;
        if (!*value)
            return MHD_YES;     /* "source=" means no filter */
        int rc = bit == P_SOURCE
                     ? add_list(p, key, value, p->f.sources, &p->f.nsources, 1)
                     : add_list(p, key, value, p->f.states, &p->f.nstates, 0);
        return rc ? MHD_NO : MHD_YES;
    }
    if (p->seen & bit) {
        snprintf(p->err, sizeof(p->err), "%s is given more than once", key);
        return MHD_NO;
    }
    p->seen |= bit;
    const char **dst = bit == P_FROM ? &p->from : bit == P_TO ? &p->to
                       : bit == P_LIMIT ? &p->limit : &p->window;
    *dst = value;
    return MHD_YES;
}

/* Read r's query into p; returns 0, or -1 with p->err set. */
static int parse_params(struct http_req *r, struct params *p, const char *endpoint,
                        unsigned allowed)
{
    memset(p, 0, sizeof(*p));
    p->w = r->ctx->web;
    p->cat = r->ctx->cat;
    p->endpoint = endpoint;
    p->allowed = allowed;
    web_args(r, param_iter, p);
    return p->err[0] ? -1 : 0;
}

/* A whole number in [lo, hi]; -1 with err when it is not. */
static int parse_int(const char *name, const char *v, long lo, long hi, long *out,
                     char *err, size_t n)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        snprintf(err, n, "%s must be a whole number from %ld to %ld, got \"%.40s\"",
                 name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* from/to: RFC 3339, "YYYY-MM-DDTHH:MM" (UTC), "now", or a time before
 * now: "-15m", "-90s", "-1h", "-1d". */
int web_parse_when(const char *name, const char *v, int64_t now_ms, int64_t *ms,
                   char *err, size_t n)
{
    char full[24];
    if (strlen(v) == 16 && v[10] == 'T' && v[13] == ':') {
        snprintf(full, sizeof(full), "%s:00Z", v);
        if (order_parse_time(full, ms) == 0)
            return 0;
    }
    if (!strcmp(v, "now")) {
        *ms = now_ms;
        return 0;
    }
    if (v[0] == '-' && v[1] >= '0' && v[1] <= '9') {
        char *end;
        long x = strtol(v + 1, &end, 10);
        int64_t unit = !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000
                       : !strcmp(end, "h") ? 3600000 : !strcmp(end, "d") ? 86400000 : 0;
        if (x >= 0 && x <= 366L * 24 * 3600 && unit &&
            now_ms - (int64_t)x * unit >= SF_TIME_MIN_MS) {
            *ms = now_ms - (int64_t)x * unit;
            return 0;
        }
    } else if (order_parse_time(v, ms) == 0) {
        return 0;   /* the range orders have: 1970 … 9999, in UTC */
    }
    /* A "+" of an offset sent unencoded in a query string arrives as a space. */
    const char *sp = strchr(v, ' ');
    snprintf(err, n, "%s must be an RFC 3339 time from 1970-01-01T00:00:00Z to "
             "9999-12-31T23:59:59Z (2026-11-29T03:40:00Z or 2026-11-29T05:40:00+02:00), \"now\", "
             "or a time before now such as -15m, -1h or -1d; got \"%.40s\"%s", name, v,
             sp && sp > v && sp[1] >= '0' && sp[1] <= '9'
                 ? " (a + in a query string must be sent as %2B, or it arrives as a space)"
                 : sf_time_bad_second_60(v) ? " (" SF_LEAP_SECOND_TEXT ")" : "");
    return -1;
}

/* p's from/to into its filter's range ([from, to), either open); 0, or -1
 * with p->err. */
static int parse_range(struct params *p)
{
    int64_t now = sf_now_ms();
    char ts[32];
    if (!p->from && !p->to)
        return 0;
    p->f.ranged = 1;
    p->f.from_ms = SF_TIME_MIN_MS;
    p->f.to_ms = SF_TIME_MAX_MS + 1;
    if ((p->from && web_parse_when("from", p->from, now, &p->f.from_ms, p->err,
                                   sizeof(p->err))) ||
        (p->to && web_parse_when("to", p->to, now, &p->f.to_ms, p->err, sizeof(p->err))))
        return -1;
    if (p->f.from_ms > p->f.to_ms) {
        snprintf(p->err, sizeof(p->err), "from (%s) must not be after to",
                 sf_format_time(p->f.from_ms, ts));
        return -1;
    }
    return 0;
}

/* ---- replies ------------------------------------------------------------ */

static enum http_result bad_request(struct http_req *r, const char *msg)
{
    return web_error(r, MHD_HTTP_BAD_REQUEST, msg);
}

/* The detail (the store's URI with its password masked, a file path, the
 * server's error) is for the operator's log; these routes are open to
 * anyone, so the answer names nothing. */
static enum http_result store_failed(struct http_req *r, const char *what, const char *err)
{
    log_error("GET %s: %s", what, err);
    return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable");
}

static enum http_result no_store(struct http_req *r)
{
    return web_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "this server has no store to query");
}

static int filter_has(const char *const *list, size_t n, const char *v)
{
    if (!n)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], v))
            return 1;
    return 0;
}

/* "filters":{"source":[…],"state":[…]} — what was applied. */
static void json_filters(struct sf_buf *b, const struct store_filter *f)
{
    SF_BUF_LIT(b, "\"filters\":{\"source\":[");
    for (size_t i = 0; i < f->nsources; i++) {
        if (i)
            SF_BUF_LIT(b, ",");
        sf_buf_json_str(b, f->sources[i]);
    }
    SF_BUF_LIT(b, "],\"state\":[");
    for (size_t i = 0; i < f->nstates; i++) {
        if (i)
            SF_BUF_LIT(b, ",");
        sf_buf_json_str(b, f->states[i]);
    }
    SF_BUF_LIT(b, "]}");
}

/* Sorted unique string list (small: sources and states). */
struct strset {
    char v[WEB_KEYS_MAX > 512 ? 512 : WEB_KEYS_MAX][SF_STATE_MAX];
    size_t n;
};

static void strset_add(struct strset *s, const char *v)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->v[i], v) < 0)
        i++;
    if ((i < s->n && !strcmp(s->v[i], v)) || s->n == SF_ARRAY_LEN(s->v))
        return;
    memmove(s->v[i + 1], s->v[i], (s->n - i) * sizeof(s->v[0]));
    snprintf(s->v[i], sizeof(s->v[i]), "%s", v);
    s->n++;
}

static void json_strset(struct sf_buf *b, const struct strset *s)
{
    SF_BUF_LIT(b, "[");
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            SF_BUF_LIT(b, ",");
        sf_buf_json_str(b, s->v[i]);
    }
    SF_BUF_LIT(b, "]");
}

/* ---- GET /api/sales ---------------------------------------------------- */

static int cmp_sales_row(const void *a, const void *b)
{
    const struct sales_row *x = a, *y = b;
    if (x->total_cents != y->total_cents)
        return x->total_cents > y->total_cents ? -1 : 1;
    int c = strcmp(x->source, y->source);
    return c ? c : strcmp(x->state, y->state);
}

/* A range: replace *rows (all of `sales`) by the sums of the orders in f's
 * range per (source, state), in the same order as `sales` is read; a
 * row's updated_at stays that of its `sales` row (when its numbers last
 * changed). The (source, state) pairs with no order in the range are left
 * out; every pair of `sales` stays in the source and state lists. */
static int ranged_sales(struct http_req *r, const struct store_filter *f,
                        struct sales_row **rows, size_t *n, char *err, size_t en)
{
    /* The source/state filters apply afterwards, as without a range. */
    struct store_filter all = {.ranged = 1, .from_ms = f->from_ms, .to_ms = f->to_ms};
    struct store_query q = {.f = &all, .by = STORE_BY_SOURCE | STORE_BY_STATE};
    struct query_row *qr = NULL;
    size_t nq = 0, k = 0;
    int rc = store_query(web_store_lock(r), &q, &qr, &nq, err, en);
    web_store_unlock(r);
    if (rc)
        return rc;
    struct sales_row *out = calloc(nq + *n + 1, sizeof(*out));
    if (!out) {
        free(qr);
        return sf_err(-1, err, en, "out of memory");
    }
    for (size_t i = 0; i < nq; i++) {
        struct sales_row *x = &out[k++];
        snprintf(x->source, sizeof(x->source), "%s", qr[i].source);
        snprintf(x->state, sizeof(x->state), "%s", qr[i].state);
        x->total_cents = qr[i].total_cents;
        x->order_count = qr[i].order_count;
        x->quantity = qr[i].quantity;
        for (size_t j = 0; j < *n; j++)
            if (!strcmp((*rows)[j].source, x->source) && !strcmp((*rows)[j].state, x->state))
                memcpy(x->updated_at, (*rows)[j].updated_at, sizeof(x->updated_at));
    }
    qsort(out, k, sizeof(*out), cmp_sales_row);
    /* The lists of sources and states come from every row of `sales`:
     * keep them, marked as not to be shown (order_count -1). */
    for (size_t j = 0; j < *n; j++) {
        out[k + j] = (*rows)[j];
        out[k + j].order_count = -1;
    }
    free(qr);
    free(*rows);
    *rows = out;
    *n = k + *n;
    return 0;
}

enum http_result web_api_sales(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct params p;
    struct sales_row *rows = NULL;
    size_t n = 0;
    char err[512], amt[24];
    int64_t total = 0, count = 0, qty = 0;
    int overflow = 0;
    const char *updated = NULL;

    if (!w)
        return no_store(r);
    if (parse_params(r, &p, "/api/sales", P_SOURCE | P_STATE | P_FROM | P_TO) ||
        parse_range(&p))
        return bad_request(r, p.err);
    int rc = store_sales(web_store_lock(r), &rows, &n, err, sizeof(err));
    web_store_unlock(r);
    if (rc)
        return store_failed(r, "/api/sales", err);
    if (p.f.ranged && (rc = ranged_sales(r, &p.f, &rows, &n, err, sizeof(err)))) {
        free(rows);
        return rc == STORE_E_OVERFLOW ? web_error(r, 422, WEB_SUM_TOO_LARGE ": filter it "
                                                  "by source or state, or narrow the range")
                                      : store_failed(r, "/api/sales", err);
    }

    struct strset *extra = calloc(1, sizeof(*extra)), *states = calloc(1, sizeof(*states));
    struct sf_buf b;
    sf_buf_init(&b, 64u << 20);
    SF_BUF_LIT(&b, "{\"rows\":[");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (extra && catalog_source_index(p.cat, rows[i].source) < 0)
            strset_add(extra, rows[i].source);
        if (states)
            strset_add(states, rows[i].state);
        if (rows[i].order_count < 0 ||     /* ranged: only for the lists */
            !filter_has(p.f.sources, p.f.nsources, rows[i].source) ||
            !filter_has(p.f.states, p.f.nstates, rows[i].state))
            continue;
        sf_buf_append(&b, shown ? ",{\"source\":" : "{\"source\":", shown ? 11 : 10);
        sf_buf_json_str(&b, rows[i].source);
        SF_BUF_LIT(&b, ",\"state\":");
        sf_buf_json_str(&b, rows[i].state);
        sf_buf_printf(&b, ",\"total_sum_amount\":%s,\"order_count\":%lld,"
                      "\"quantity\":%lld,\"updated_at\":",
                      money_format(rows[i].total_cents, amt),
                      (long long)rows[i].order_count, (long long)rows[i].quantity);
        sf_buf_json_str(&b, rows[i].updated_at);
        SF_BUF_LIT(&b, "}");
        overflow |= __builtin_add_overflow(total, rows[i].total_cents, &total);
        count += rows[i].order_count;
        qty += rows[i].quantity;
        if (!updated || strcmp(rows[i].updated_at, updated) > 0)
            updated = rows[i].updated_at;
        shown++;
    }
    sf_buf_printf(&b, "],\"total_sum_amount\":%s,\"order_count\":%lld,\"quantity\":%lld,"
                  "\"updated_at\":", money_format(total, amt), (long long)count,
                  (long long)qty);
    if (updated)
        sf_buf_json_str(&b, updated);
    else
        SF_BUF_LIT(&b, "null");
    /* Every source and state there is, unfiltered, for the filter lists. */
    SF_BUF_LIT(&b, ",\"sources\":[");
    for (size_t i = 0, ns = catalog_source_count(p.cat); i < ns; i++) {
        if (i)
            SF_BUF_LIT(&b, ",");
        sf_buf_json_str(&b, catalog_source(p.cat, (int)i));
    }
    for (size_t i = 0; extra && i < extra->n; i++) {
        SF_BUF_LIT(&b, ",");
        sf_buf_json_str(&b, extra->v[i]);
    }
    SF_BUF_LIT(&b, "],\"states\":");
    if (states)
        json_strset(&b, states);
    else
        SF_BUF_LIT(&b, "[]");
    SF_BUF_LIT(&b, ",");
    json_filters(&b, &p.f);
    SF_BUF_LIT(&b, "}");
    free(rows);
    free(extra);
    free(states);
    if (overflow) {
        sf_buf_free(&b);
        return web_error(r, 422, WEB_SUM_TOO_LARGE ": filter it by source or state");
    }
    return web_reply_buf(r, &b, "application/json", NULL);
}

/* ---- GET /api/sales/minute --------------------------------------------- */

static void minute_key(int64_t ms, char out[17])
{
    char ts[32];
    memcpy(out, sf_format_time(ms, ts), 16);
    out[16] = '\0';
}

enum http_result web_api_sales_minute(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct params p;
    char err[512], amt[24], ts[32];
    int64_t now = sf_now_ms(), from, to;

    if (!w)
        return no_store(r);
    if (parse_params(r, &p, "/api/sales/minute", P_SOURCE | P_STATE | P_FROM | P_TO))
        return bad_request(r, p.err);
    /* to: exclusive, rounded up to a whole minute (default: the end of the
     * current minute); from: rounded down (default: an hour before to). */
    if (p.to && web_parse_when("to", p.to, now, &to, p.err, sizeof(p.err)))
        return bad_request(r, p.err);
    if (!p.to)
        to = now;
    int64_t asked_to = to;
    to = (to + 59999) / 60000 * 60000;
    /* The last minute that has a "YYYY-MM-DDTHH:MM" key: rounding up past
     * it would name year 10000, printed as 0000. */
    if (to > SF_TIME_MAX_MS + 1 - 60000)
        to = SF_TIME_MAX_MS + 1 - 60000;
    if (p.from && web_parse_when("from", p.from, now, &from, p.err, sizeof(p.err)))
        return bad_request(r, p.err);
    if (!p.from)
        from = to - MINUTE_SPAN_DEFAULT_S * 1000LL;
    if (from < 0)       /* the default, an hour before a to in 1970 */
        from = 0;
    /* The range as given is judged before it widens to whole minutes: its
     * order (30 s after 10 s of one minute is not a range), its span (-7d
     * is 7 days, off the minute). */
    if (p.from && from >= asked_to) {
        char ts2[32];
        snprintf(p.err, sizeof(p.err), "from (%s) must be before to (%s)",
                 sf_format_time(from, ts), sf_format_time(asked_to, ts2));
        return bad_request(r, p.err);
    }
    int64_t asked = asked_to - from;
    from = from / 60000 * 60000;
    if (from > to)      /* within the last minute of 9999, past the last key */
        from = to;
    if (asked > MINUTE_SPAN_MAX_S * 1000LL)
        return bad_request(r, "from and to are more than 7 days apart; ask for a "
                              "shorter range");

    char fk[17], tk[17];
    minute_key(from, fk);
    minute_key(to, tk);
    struct minute_row *rows = NULL;
    size_t n = 0;
    int rc = store_sales_minute(web_store_lock(r), &p.f, fk, tk, &rows, &n, err,
                                sizeof(err));
    web_store_unlock(r);
    if (rc == STORE_E_OVERFLOW)
        return web_error(r, 422, WEB_SUM_TOO_LARGE ": filter it by state");
    if (rc)
        return store_failed(r, "/api/sales/minute", err);

    struct sf_buf b;
    int64_t total = 0, count = 0, qty = 0;
    int overflow = 0;
    struct strset *sources = calloc(1, sizeof(*sources));
    sf_buf_init(&b, 256u << 20);
    sf_buf_printf(&b, "{\"from\":\"%.16s:00Z\",", sf_format_time(from, ts));
    sf_buf_printf(&b, "\"to\":\"%.16s:00Z\",\"step_s\":60,\"rows\":[",
                  sf_format_time(to, ts));
    for (size_t i = 0; i < n; i++) {
        if (i)
            SF_BUF_LIT(&b, ",");
        sf_buf_printf(&b, "{\"minute\":\"%s:00Z\",\"source\":", rows[i].minute);
        sf_buf_json_str(&b, rows[i].source);
        sf_buf_printf(&b, ",\"total\":%s,\"order_count\":%lld,\"quantity\":%lld}",
                      money_format(rows[i].total_cents, amt),
                      (long long)rows[i].order_count, (long long)rows[i].quantity);
        overflow |= __builtin_add_overflow(total, rows[i].total_cents, &total);
        count += rows[i].order_count;
        qty += rows[i].quantity;
        if (sources)
            strset_add(sources, rows[i].source);
    }
    sf_buf_printf(&b, "],\"total\":%s,\"order_count\":%lld,\"quantity\":%lld,\"sources\":",
                  money_format(total, amt), (long long)count, (long long)qty);
    if (sources)
        json_strset(&b, sources);
    else
        SF_BUF_LIT(&b, "[]");
    SF_BUF_LIT(&b, ",");
    json_filters(&b, &p.f);
    SF_BUF_LIT(&b, "}");
    free(rows);
    free(sources);
    if (overflow) {
        sf_buf_free(&b);
        return web_error(r, 422, WEB_SUM_TOO_LARGE ": filter it by source or state, or "
                         "narrow the range");
    }
    return web_reply_buf(r, &b, "application/json", NULL);
}

/* ---- GET /api/sales/second --------------------------------------------- */

enum http_result web_api_sales_second(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct params p;
    long window = WEB_RING_S;
    if (!w)
        return no_store(r);
    if (parse_params(r, &p, "/api/sales/second", P_SOURCE | P_STATE | P_WINDOW))
        return bad_request(r, p.err);
    if (p.window && parse_int("window", p.window, 10, WEB_RING_S, &window, p.err,
                              sizeof(p.err)))
        return bad_request(r, p.err);
    struct sf_buf b;
    sf_buf_init(&b, 1u << 20);
    sf_buf_printf(&b, "{\"step_s\":1,\"window_s\":%ld,\"points\":", window);
    web_sampler_series(w, &p.f, (int)window, &b);
    SF_BUF_LIT(&b, ",");
    json_filters(&b, &p.f);
    SF_BUF_LIT(&b, "}");
    return web_reply_buf(r, &b, "application/json", NULL);
}

/* ---- GET /api/orders ---------------------------------------------------- */

enum http_result web_api_orders(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct params p;
    long limit = ORDERS_LIMIT_DEFAULT;
    char err[512], amt[24];
    if (!w)
        return no_store(r);
    if (parse_params(r, &p, "/api/orders", P_SOURCE | P_STATE | P_LIMIT | P_FROM | P_TO) ||
        parse_range(&p))
        return bad_request(r, p.err);
    if (p.limit && parse_int("limit", p.limit, 1, ORDERS_LIMIT_MAX, &limit, p.err,
                             sizeof(p.err)))
        return bad_request(r, p.err);
    struct order_row *rows = NULL;
    size_t n = 0;
    int rc = store_recent_orders(web_store_lock(r), &p.f, (size_t)limit, &rows, &n, err,
                                 sizeof(err));
    web_store_unlock(r);
    if (rc)
        return store_failed(r, "/api/orders", err);
    struct sf_buf b;
    sf_buf_init(&b, 4u << 20);
    sf_buf_printf(&b, "{\"limit\":%ld,\"orders\":[", limit);
    for (size_t i = 0; i < n; i++) {
        sf_buf_append(&b, i ? ",{\"order_id\":" : "{\"order_id\":", i ? 13 : 12);
        sf_buf_json_str(&b, rows[i].order_id);
        sf_buf_printf(&b, ",\"customer_id\":%lld,\"source\":", (long long)rows[i].customer_id);
        sf_buf_json_str(&b, rows[i].source);
        SF_BUF_LIT(&b, ",\"state\":");
        sf_buf_json_str(&b, rows[i].state);
        sf_buf_printf(&b, ",\"quantity\":%lld,\"total\":%s,\"created_at\":",
                      (long long)rows[i].quantity, money_format(rows[i].total_cents, amt));
        sf_buf_json_str(&b, rows[i].created_at);
        SF_BUF_LIT(&b, "}");
    }
    SF_BUF_LIT(&b, "],");
    json_filters(&b, &p.f);
    SF_BUF_LIT(&b, "}");
    free(rows);
    return web_reply_buf(r, &b, "application/json", NULL);
}

/* ---- GET /api/pipeline ------------------------------------------------- */

static void json_rate(struct sf_buf *b, double v)
{
    if (v < 0)
        SF_BUF_LIT(b, "null");
    else
        sf_buf_printf(b, "%.1f", v);
}

/* ,"partitions":[…],"lag":N of GET /api/pipeline: the log's end (this
 * process's log only) against the position the store holds. */
static void json_partitions(struct sf_buf *b, struct web *w, int attached,
                            const struct store_position *pos, size_t npos)
{
    int nparts = attached ? w->nparts : 0;
    for (size_t i = 0; i < npos; i++)
        if (pos[i].partition + 1 > nparts)
            nparts = pos[i].partition + 1;
    if (nparts > SF_STATS_PARTITIONS)
        nparts = SF_STATS_PARTITIONS;
    int64_t lag_total = 0;
    int lag_known = attached;
    SF_BUF_LIT(b, ",\"partitions\":[");
    for (int part = 0; part < nparts; part++) {
        int64_t committed = 0;
        for (size_t i = 0; i < npos; i++)
            if (pos[i].partition == part)
                committed = pos[i].next_offset;
        int64_t end = attached ? sf_stats_log_end_of(part) : -1;
        sf_buf_printf(b, "%s{\"partition\":%d,\"committed\":%" PRId64 ",\"log_end\":",
                      part ? "," : "", part, committed);
        if (end >= 0) {
            int64_t lag = end > committed ? end - committed : 0;
            sf_buf_printf(b, "%" PRId64 ",\"lag\":%" PRId64 "}", end, lag);
            lag_total += lag;
        } else {
            SF_BUF_LIT(b, "null,\"lag\":null}");
            lag_known = 0;
        }
    }
    SF_BUF_LIT(b, "],\"lag\":");
    if (lag_known)
        sf_buf_printf(b, "%" PRId64, lag_total);
    else
        SF_BUF_LIT(b, "null");
}

enum http_result web_api_pipeline(struct http_req *r)
{
    struct web *w = r->ctx->web;
    struct params p;
    char err[512], ts[32];
    if (!w)
        return no_store(r);
    if (parse_params(r, &p, "/api/pipeline", 0))
        return bad_request(r, p.err);
    struct store_position *pos = NULL;
    size_t npos = 0;
    pthread_mutex_lock(&w->mu);
    int rc = store_positions(w->store, SF_TOPIC_DEFAULT, &pos, &npos, err, sizeof(err));
    pthread_mutex_unlock(&w->mu);
    if (rc) {
        log_warn("GET /api/pipeline: %s", err);
        npos = 0;
    }
    int attached = atomic_load(&w->attached);
    double processed, accepted;
    web_sampler_rates(w, 10, &processed, &accepted);

    struct sf_buf b;
    sf_buf_init(&b, 1u << 20);
    sf_buf_printf(&b, "{\"mode\":\"%s\",\"now\":\"%s\",\"ingest\":",
                  attached ? "run" : "serve", sf_format_time(sf_now_ms(), ts));
    if (attached) {
        sf_buf_printf(&b, "{\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
                      ",\"quarantined\":%" PRIu64 ",\"rate_per_s\":",
                      sf_stats_get(&sf_stats.ingest_accepted),
                      sf_stats_get(&sf_stats.ingest_rejected),
                      sf_stats_get(&sf_stats.ingest_quarantined));
        json_rate(&b, accepted);
        SF_BUF_LIT(&b, "}");
    } else {
        SF_BUF_LIT(&b, "null");
    }

    SF_BUF_LIT(&b, ",\"processor\":{\"commits\":");
    int64_t last = atomic_load(&w->last_change_ms);
    if (attached)
        sf_buf_printf(&b, "%" PRIu64 ",\"orders_inserted\":%" PRIu64,
                      sf_stats_get(&sf_stats.proc_commits),
                      sf_stats_get(&sf_stats.proc_inserted));
    else
        SF_BUF_LIT(&b, "null,\"orders_inserted\":null");
    SF_BUF_LIT(&b, ",\"last_commit_at\":");
    if (last)
        sf_buf_printf(&b, "\"%s\"", sf_format_time(last, ts));
    else
        SF_BUF_LIT(&b, "null");
    SF_BUF_LIT(&b, ",\"rate_per_s\":");
    json_rate(&b, processed);

    json_partitions(&b, w, attached, pos, npos);
    free(pos);

    pthread_mutex_lock(&w->smu);
    int clients = w->nclients;
    uint64_t notices = w->notices;
    pthread_mutex_unlock(&w->smu);
    sf_buf_printf(&b, "},\"stream\":{\"clients\":%d,\"max_clients\":%d,\"notices\":%"
                  PRIu64 ",\"seq\":%" PRIu64 ",\"coalesce_ms\":%d}", clients,
                  WEB_STREAMS_MAX, notices, (uint64_t)atomic_load(&w->published),
                  WEB_COALESCE_MS);
    cassandra_pipeline_json(&b);    /* ,"raw_store":{…} with a --raw-store */
    SF_BUF_LIT(&b, "}");
    return web_reply_buf(r, &b, "application/json", NULL);
}

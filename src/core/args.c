/*
 * args — see args.h. Flags beat everything else; unknown flags and bad
 * values are one-line errors with exit status 2 (the caller's job).
 */
#include "core/args.h"
#include "core/catalog.h"
#include "core/config.h"
#include "core/money.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int opt_str(const char *val, void *dst, char *err, size_t n)
{
    if (!*val) {
        snprintf(err, n, "must not be empty");
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

/* Numbers on the command line are digits from the first character:
 * strtoll() alone would also take " 5" and "+3". */
static int starts_with_digit(const char *val)
{
    return *val >= '0' && *val <= '9';
}

int opt_int64(const char *val, void *dst, char *err, size_t n)
{
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno || !starts_with_digit(val) || *end || v < 0) {
        snprintf(err, n, "expected a non-negative integer, got \"%s\"", val);
        return -1;
    }
    *(int64_t *)dst = v;
    return 0;
}

/* A whole number from lo to hi into the int at dst; what names its kind
 * in the message ("an integer"). */
static int int_in(const char *val, void *dst, int64_t lo, int64_t hi, const char *what,
                  char *err, size_t n)
{
    int64_t v;
    if (opt_int64(val, &v, err, n) || v < lo || v > hi) {
        snprintf(err, n, "expected %s from %lld to %lld, got \"%s\"", what, (long long)lo,
                 (long long)hi, val);
        return -1;
    }
    *(int *)dst = (int)v;
    return 0;
}

int opt_int(const char *val, void *dst, char *err, size_t n)
{
    return int_in(val, dst, 1, 1000000000, "an integer", err, n);
}

int opt_nice(const char *val, void *dst, char *err, size_t n)
{
    return int_in(val, dst, 0, 19, "a niceness", err, n);
}

int opt_percent(const char *val, void *dst, char *err, size_t n)
{
    return int_in(val, dst, 1, 100, "a percentage", err, n);
}

int opt_nice_or_idle(const char *val, void *dst, char *err, size_t n)
{
    if (!strcmp(val, "idle")) {
        *(int *)dst = SF_NICE_IDLE;
        return 0;
    }
    if (opt_nice(val, dst, err, n)) {
        snprintf(err, n, "expected idle or a niceness from 0 to 19, got \"%s\"", val);
        return -1;
    }
    return 0;
}

int opt_sources(const char *val, void *dst, char *err, size_t n)
{
    if (catalog_check_sources(val, err, n))
        return -1;
    *(const char **)dst = val;
    return 0;
}

int opt_money(const char *val, void *dst, char *err, size_t n)
{
    int64_t c;
    if (money_parse(val, &c) || c <= 0) {
        snprintf(err, n, "expected a positive amount with at most two decimals, "
                 "e.g. 300.00, got \"%s\"", val);
        return -1;
    }
    *(int64_t *)dst = c;
    return 0;
}

int opt_duration(const char *val, void *dst, char *err, size_t n)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!errno && starts_with_digit(val) && v >= 0) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcmp(end, units[i].unit) == 0 && v <= INT64_MAX / units[i].ms) {
                *(int64_t *)dst = v * units[i].ms;
                return 0;
            }
        }
    }
    snprintf(err, n, "expected a duration such as 500ms, 30s, 15m, 12h or 7d, got "
             "\"%s\"", val);
    return -1;
}

int opt_bytes(const char *val, void *dst, char *err, size_t n)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    unsigned shift = 0;
    if (!errno && starts_with_digit(val)) {
        if (*end == 'K' || *end == 'k')
            shift = 10, end++;
        else if (*end == 'M' || *end == 'm')
            shift = 20, end++;
        else if (*end == 'G' || *end == 'g')
            shift = 30, end++;
        else if (*end == 'T' || *end == 't')
            shift = 40, end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end == '\0' && v <= (UINT64_MAX >> shift)) {
            *(uint64_t *)dst = (uint64_t)v << shift;
            return 0;
        }
    }
    snprintf(err, n, "expected a size such as 4096, 64K, 64M or 2G, got \"%s\"", val);
    return -1;
}

int opt_listen(const char *val, void *dst, char *err, size_t n)
{
    const char *port;
    if (val[0] == '[') {
        const char *end = strchr(val, ']');
        port = end && end > val + 1 && end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strrchr(val, ':');
        port = colon ? colon + 1 : NULL;
    }
    char *end = NULL;
    long p = port && *port >= '0' && *port <= '9' ? strtol(port, &end, 10) : -1;
    if (p < 0 || p > 65535 || *end) {
        snprintf(err, n, "expected HOST:PORT with a port from 0 to 65535, e.g. "
                 "127.0.0.1:8080 or [::1]:8080, got \"%s\"", val);
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

/* A URI as it may be shown: a password in its userinfo (up to the last '@',
 * from the first ':' after "//", or after the scheme without "//") masked,
 * as store_uri_redact() does. */
static const char *uri_shown(const char *uri, char *out, size_t n)
{
    const char *at = strrchr(uri, '@'), *start = strstr(uri, "//");
    start = start && at && start < at ? start + 2 : uri;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (!colon)
        snprintf(out, n, "%s", uri);
    else
        snprintf(out, n, "%.*s:***%s", (int)(colon - uri), uri, at);
    return out;
}

#define STORE_FORMS "sqlite:PATH, mysql://user[:password]@host[:port]/database" \
                    "[?socket=PATH]"
#define BROKER_FORMS "file:DIR, kafka://HOST:PORT[,HOST:PORT…]/TOPIC"

/* A port "1".."65535", all digits, of length len. */
static int port_ok(const char *p, size_t len)
{
    unsigned long v = 0;
    if (len == 0 || len > 5)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* Every '%' of s[0..len) starts a %XX escape. */
static int escapes_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' && (i + 2 >= len ||
                            !isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2])))
            return 0;
    return 1;
}

/* The part of a mysql:// URI after "mysql://", as store/mysql_conn.c reads
 * it; NULL if fine, else what is wrong. */
static const char *mysql_problem(const char *p, char *why, size_t n)
{
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (!escapes_ok(p, ulen))
            return "bad %-escape in the user name";
        if (colon && !escapes_ok(colon + 1, (size_t)(at - colon - 1)))
            return "bad %-escape in the password";
        p = at + 1;
    }
    const char *hend;
    if (*p == '[') {
        if (!(hend = strchr(p, ']')))
            return "unterminated [IPv6] host";
        if (hend == p + 1)
            return "missing host";
        hend++;
    } else {
        hend = p + strcspn(p, ":/?");
        if (hend == p)
            return "missing host";
        if (!escapes_ok(p, (size_t)(hend - p)))
            return "bad %-escape in the host";
    }
    p = hend;
    if (*p == ':') {
        size_t plen = strcspn(p + 1, "/?");
        if (!port_ok(p + 1, plen))
            return "bad port (1..65535)";
        p += 1 + plen;
    }
    if (*p != '/' || p[1] == '\0' || p[1] == '?')
        return "missing database name";
    p++;
    size_t dlen = strcspn(p, "?");
    if (!escapes_ok(p, dlen) || memchr(p, '/', dlen))
        return "bad database name";
    p += dlen;
    if (*p == '?') {
        for (p++; *p;) {
            size_t plen = strcspn(p, "&");
            if (plen == 7 && !strncmp(p, "socket=", 7))
                return "bad socket path";
            if (plen && (plen <= 7 || strncmp(p, "socket=", 7))) {
                int nl = (int)strcspn(p, "=&");
                snprintf(why, n, "unknown parameter \"%.*s\" (supported: socket)",
                         nl < 32 ? nl : 32, p);
                return why;
            }
            if (plen && !escapes_ok(p + 7, plen - 7))
                return "bad socket path";
            p += plen;
            if (*p == '&')
                p++;
        }
    }
    return NULL;
}

/* The part of a kafka:// URI after "kafka://": HOST[:PORT] entries
 * separated by commas, then an optional /TOPIC. NULL if fine. */
static const char *kafka_problem(const char *p, char *why, size_t n)
{
    size_t hl = strcspn(p, "/");
    if (hl == 0)
        return "missing host (no HOST:PORT before the topic)";
    for (const char *h = p; h <= p + hl;) {
        size_t el = strcspn(h, ",/");
        if (h + el > p + hl)
            el = (size_t)(p + hl - h);
        const char *port = NULL;
        size_t host_len = el;
        if (el && *h == '[') {
            const char *close = memchr(h, ']', el);
            if (!close)
                return "unterminated [IPv6] host";
            host_len = (size_t)(close - h) + 1;
            if (host_len < el && close[1] != ':')
                return "expected :PORT after an [IPv6] host";
            port = host_len < el ? close + 2 : NULL;
        } else {
            const char *colon = memchr(h, ':', el);
            if (colon && !memchr(colon + 1, ':', (size_t)(h + el - colon - 1))) {
                host_len = (size_t)(colon - h);
                port = colon + 1;
            }
        }
        if (host_len == 0)
            return "empty host in the HOST:PORT list";
        if (port && !port_ok(port, (size_t)(h + el - port))) {
            snprintf(why, n, "bad port \"%.*s\" (1..65535)",
                     (int)(h + el - port) > 16 ? 16 : (int)(h + el - port), port);
            return why;
        }
        h += el + 1;
    }
    const char *t = p[hl] == '/' ? p + hl + 1 : "";
    if (strlen(t) > 249)
        return "topic name longer than 249 characters";
    for (; *t; t++)
        if (!isalnum((unsigned char)*t) && *t != '.' && *t != '_' && *t != '-')
            return "bad topic name (only letters, digits, '.', '_' and '-')";
    return NULL;
}

int opt_store_uri(const char *val, void *dst, char *err, size_t n)
{
    char shown[512];    /* never print a password */
    uri_shown(val, shown, sizeof(shown));
    if (!strncmp(val, "mysql:", 6) && strncmp(val, "mysql://", 8)) {
        snprintf(err, n, "mysql store URI \"%s\": missing \"//\" after \"mysql:\" "
                 "(expected mysql://user[:password]@host[:port]/database"
                 "[?socket=PATH])", shown);
        return -1;
    }
    if (!strcmp(val, "sqlite:")) {
        snprintf(err, n, "store URI \"sqlite:\": missing the database path (e.g. "
                 "sqlite:salesflow-data/sales.db)");
        return -1;
    }
    if (strncmp(val, "sqlite:", 7) && strncmp(val, "mysql://", 8)) {
        snprintf(err, n, "store URI \"%s\": unknown scheme (supported: " STORE_FORMS
                 ")", shown);
        return -1;
    }
    char buf[96];
    const char *why = strncmp(val, "mysql://", 8) ? NULL :
                      mysql_problem(val + 8, buf, sizeof(buf));
    if (why) {
        snprintf(err, n, "mysql store URI \"%s\": %s (expected mysql://user[:password]"
                 "@host[:port]/database[?socket=PATH])", shown, why);
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

int opt_broker_uri(const char *val, void *dst, char *err, size_t n)
{
    char shown[512];
    uri_shown(val, shown, sizeof(shown));
    size_t scheme = strcspn(val, ":");
    if (!val[scheme]) {
        snprintf(err, n, "broker URI \"%s\" has no scheme: use file:DIR or "
                 "kafka://HOST:PORT[,HOST:PORT…]/TOPIC", shown);
        return -1;
    }
    if (!strncmp(val, "kafka:", 6) && strncmp(val, "kafka://", 8)) {
        snprintf(err, n, "broker URI \"%s\": missing \"//\" after \"kafka:\" "
                 "(expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC)", shown);
        return -1;
    }
    if (!strcmp(val, "file:")) {
        snprintf(err, n, "broker URI \"file:\": missing the log directory (e.g. "
                 "file:salesflow-data/log)");
        return -1;
    }
    if (strncmp(val, "file:", 5) && strncmp(val, "kafka://", 8)) {
        snprintf(err, n, "broker URI \"%s\": unknown scheme \"%.*s\" (supported: "
                 BROKER_FORMS ")", shown, (int)scheme, val);
        return -1;
    }
    char buf[64];
    const char *why = strncmp(val, "kafka://", 8) ? NULL :
                      kafka_problem(val + 8, buf, sizeof(buf));
    if (why) {
        snprintf(err, n, "broker URI \"%s\": %s (expected kafka://HOST:PORT"
                 "[,HOST:PORT…]/TOPIC)", shown, why);
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

int opt_switch(const char *val, void *dst, char *err, size_t n)
{
    (void)val, (void)err, (void)n;
    *(int *)dst = 1;
    return 0;
}

/* Every setting of every command (flags, and the settings that are never
 * flags, below): a config file may hold keys for several commands, so a
 * key is known if any command takes it. tests/e2e checks
 * this list against each command's --help. */
static const char *const all_flags[] = {
    "acked", "api-key", "broker", "concurrency", "count", "create-topic",
    "customers", "data", "dedupe-window", "follow", "from", "fsync", "group",
    "kafka-opt", "lines", "listen", "max-batch", "max-body", "partition",
    "partitions", "rate", "ready-lag", "retention", "retention-bytes", "seed",
    "segment-bytes", "sources", "store", "threads", "unit-price", "url", "yes",
    "log-level", "log-format", "header-timeout", "body-timeout",
    "max-connections", "api-key-file", "dedupe-max", "quarantine-max",
    "api-keys", "mysql-password", "force", "allowed-hosts", "strict-orderitem",
    "batch", "gzip", "raw-store", "cassandra-password",
    "read-key", "read-keys", "read-key-file", "admin-key", "admin-keys",
    "admin-key-file", "session-ttl", "processor-nice", "processor-share", "query-nice",
    "query-timeout",
    "auth-fail-limit",
};
/* Settings taken from the environment or the config file only, never from
 * the command line, where every user could read them in ps: giving one as
 * a flag is an error that says where to put it instead. */
static const char *const no_flag[] = {"mysql-password", "cassandra-password"};

static int is_no_flag(const char *name)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(no_flag); i++)
        if (!strcmp(name, no_flag[i]))
            return 1;
    return 0;
}

/* The password of the process's mysql:// --store, for store/mysql_conn.c,
 * which reads it when it opens a handle of that store (the processor's,
 * the dashboard's, /readyz's, replay's): a process runs one command with
 * one --store, so this is one value per process, set by that command's
 * args_parse (a->mysql_password) before any store is opened. Passing it
 * through store_open instead would change every backend's open for the
 * one that needs it. */
static const char *store_mysql_password;

/* The options of the parse in progress, for known_key. */
struct known_ctx {
    const struct opt *opts;
    size_t nopts;
};

static int known_key(const char *key, const void *arg)
{
    const struct known_ctx *k = arg;
    char env[96];
    for (size_t i = 0; i < SF_ARRAY_LEN(all_flags); i++) {
        config_env_name(all_flags[i], env, sizeof(env));
        if (!strcmp(key, env))
            return 1;
    }
    for (size_t i = 0; k && i < k->nopts; i++) {
        config_env_name(k->opts[i].name, env, sizeof(env));
        if (!strcmp(key, env))
            return 1;
    }
    return 0;
}

int args_known_flag(const char *name)
{
    for (size_t i = 0; i < SF_ARRAY_LEN(all_flags); i++)
        if (!strcmp(name, all_flags[i]))
            return 1;
    return 0;
}

/* The default declared in o's help ("{VALUE}", args.h) into buf: 1, or 0
 * when there is none. */
static int default_of(const struct opt *o, char *buf, size_t n)
{
    const char *open = strchr(o->help, '{');
    const char *close = open ? strchr(open, '}') : NULL;
    if (!close)
        return 0;
    snprintf(buf, n, "%.*s", (int)(close - open - 1), open + 1);
    return 1;
}

/* The help of o as shown: without the braces around its default. */
static const char *help_of(const struct opt *o, char *buf, size_t n)
{
    const char *open = strchr(o->help, '{');
    const char *close = open ? strchr(open, '}') : NULL;
    if (!close)
        return o->help;
    snprintf(buf, n, "%.*s%.*s%s", (int)(open - o->help), o->help,
             (int)(close - open - 1), open + 1, close + 1);
    return buf;
}

static void usage(const char *cmd, const char *summary, const struct opt *opts,
                  size_t nopts)
{
    printf("usage: salesflow %s [options]\n\n%s\n\noptions:\n", cmd, summary);
    for (size_t i = 0; i < nopts; i++) {
        char left[64], help[512];
        if (is_no_flag(opts[i].name))
            continue;
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
                 opts[i].metavar ? " " : "", opts[i].metavar ? opts[i].metavar : "");
        printf("  %-26s %s\n", left, help_of(&opts[i], help, sizeof(help)));
    }
    printf("  %-26s %s\n", "--config FILE", "KEY=VALUE defaults (default ./"
           SF_CONFIG_DEFAULT " if present)");
    printf("  %-26s %s\n", "--help", "show this help and exit");
    printf("\nEvery flag can also come from the environment as SALESFLOW_<FLAG> "
           "(e.g. SALESFLOW_LISTEN)\nor from the config file; flags win over the "
           "environment, which wins over the file.\n");
    int header = 0;
    for (size_t i = 0; i < nopts; i++) {
        char env[96], help[512];
        if (!is_no_flag(opts[i].name))
            continue;
        if (!header++)
            printf("\nfrom the environment or the config file only (never a flag):\n");
        config_env_name(opts[i].name, env, sizeof(env));
        printf("  %-26s %s\n", env, help_of(&opts[i], help, sizeof(help)));
    }
}

/* Apply one value from the environment or the config file. */
static int apply(const char *cmd, const struct opt *o, const char *val,
                 const char *where)
{
    char err[256];
    if (!o->metavar) {
        if (!strcasecmp(val, "0") || !strcasecmp(val, "false") ||
            !strcasecmp(val, "no") || !strcasecmp(val, "off") || !*val)
            return 0;
        if (strcasecmp(val, "1") && strcasecmp(val, "true") && strcasecmp(val, "yes") &&
            strcasecmp(val, "on")) {
            fprintf(stderr, "salesflow %s: %s: --%s is a switch: use 1 or 0, got "
                    "\"%s\"\n", cmd, where, o->name, val);
            return -1;
        }
    }
    if (o->set(val, o->dst, err, sizeof(err))) {
        fprintf(stderr, "salesflow %s: %s: --%s: %s\n", cmd, where, o->name, err);
        return -1;
    }
    return 0;
}

/* The command line: flags into their targets (set[k], src[k] "flag"),
 * positional arguments, --config's path. ARGS_OK, ARGS_HELP or ARGS_BAD. */
static int parse_flags(const char *cmd, const char *summary, const struct opt *opts,
                       size_t nopts, int argc, char **argv, const char **positional,
                       size_t max_pos, size_t *npos, unsigned char *set,
                       char (*src)[160], const char **config_path)
{
    char err[256];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(cmd, summary, opts, nopts);
            return ARGS_HELP;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (positional && *npos < max_pos) {
                positional[(*npos)++] = a;
                continue;
            }
            fprintf(stderr, "salesflow %s: unexpected argument \"%s\" (see --help)\n",
                    cmd, a);
            return ARGS_BAD;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (eq)
                *config_path = eq + 1;
            else if (i + 1 < argc)
                *config_path = argv[++i];
            else {
                fprintf(stderr, "salesflow %s: --config needs a value FILE\n", cmd);
                return ARGS_BAD;
            }
            continue;
        }
        const struct opt *o = NULL;
        for (size_t k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "salesflow %s: unknown flag --%.*s (see --help)\n",
                    cmd, (int)len, name);
            return ARGS_BAD;
        }
        if (is_no_flag(o->name)) {
            char env[96];
            config_env_name(o->name, env, sizeof(env));
            fprintf(stderr, "salesflow %s: --%s is not taken on the command line, "
                    "where ps shows it to every user: set %s in the environment or "
                    "the --config file\n", cmd, o->name, env);
            return ARGS_BAD;
        }
        const char *val = NULL;
        if (o->metavar) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "salesflow %s: --%s needs a value %s\n", cmd,
                        o->name, o->metavar);
                return ARGS_BAD;
            }
        } else if (eq) {
            fprintf(stderr, "salesflow %s: --%s takes no value\n", cmd, o->name);
            return ARGS_BAD;
        }
        if (o->set(val, o->dst, err, sizeof(err))) {
            fprintf(stderr, "salesflow %s: --%s: %s\n", cmd, o->name, err);
            return ARGS_BAD;
        }
        size_t k = (size_t)(o - opts);
        set[k] = 1;
        snprintf(src[k], sizeof(src[k]), "flag");
    }
    return ARGS_OK;
}

/* A setting given twice in the file is a mistake, not "last wins"
 * (unless the flag is repeatable, e.g. --kafka-opt): 0, or -1. */
static int check_repeats(const char *cmd, const struct opt *opts, size_t nopts,
                         const struct config_file *cf)
{
    for (size_t k = 0; k < nopts; k++) {
        char env[96];
        int first = 0;
        if (strstr(opts[k].help, "repeatable"))
            continue;
        config_env_name(opts[k].name, env, sizeof(env));
        for (size_t e = 0; e < cf->n; e++) {
            if (strcmp(cf->e[e].key, env))
                continue;
            if (first) {
                fprintf(stderr, "salesflow %s: %s:%d: %s is already set on line %d "
                        "(give each setting once)\n", cmd, cf->path, cf->e[e].line, env,
                        first);
                return -1;
            }
            first = cf->e[e].line;
        }
    }
    return 0;
}

/* The environment, then the config file, for what flags left out:
 * 0, or -1. *secret_in_file: a secret came from the file. */
static int apply_env_and_file(const char *cmd, const struct opt *opts, size_t nopts,
                              const struct config_file *cf, const unsigned char *set,
                              char (*src)[160], int *secret_in_file)
{
    for (size_t k = 0; k < nopts; k++) {
        char env[96], where[1200];
        if (set[k])
            continue;
        config_env_name(opts[k].name, env, sizeof(env));
        const char *v = getenv(env);
        if (v) {
            snprintf(where, sizeof(where), "environment %s", env);
            if (apply(cmd, &opts[k], v, where))
                return -1;
            snprintf(src[k], sizeof(src[k]), "env %s", env);
            continue;
        }
        for (size_t e = 0; e < cf->n; e++) {
            if (strcmp(cf->e[e].key, env))
                continue;
            snprintf(where, sizeof(where), "%s:%d", cf->path, cf->e[e].line);
            if (apply(cmd, &opts[k], cf->e[e].value, where))
                return -1;
            /* a secret: what `salesflow config` masks (a key file's path is not) */
            size_t nl = strlen(opts[k].name);
            char shown[512];
            if (!(nl > 5 && !strcmp(opts[k].name + nl - 5, "-file")) &&
                strcmp(config_mask(opts[k].name, cf->e[e].value, shown, sizeof(shown)),
                       cf->e[e].value))
                *secret_in_file = 1;
            snprintf(src[k], sizeof(src[k]), "%.150s", where);
        }
    }
    return 0;
}

/* The declared default of every flag nothing else set, from copies kept
 * in a->defaults (string flags point into them): 0, or -1. */
static int apply_defaults(struct args *a, const char *cmd, const struct opt *opts,
                          size_t nopts, char (*src)[160])
{
    char err[256], val[256];
    size_t need = 1, used = 0;
    for (size_t k = 0; k < nopts; k++)
        if (!src[k][0] && default_of(&opts[k], val, sizeof(val)))
            need += strlen(val) + 1;
    char *pool = malloc(need);
    if (!pool) {
        fprintf(stderr, "salesflow %s: out of memory\n", cmd);
        return -1;
    }
    for (size_t k = 0; k < nopts; k++) {
        if (src[k][0] || !default_of(&opts[k], val, sizeof(val)))
            continue;
        char *v = memcpy(pool + used, val, strlen(val) + 1);
        used += strlen(val) + 1;
        if (opts[k].set(v, opts[k].dst, err, sizeof(err))) {
            fprintf(stderr, "salesflow %s: the default of --%s: %s\n", cmd, opts[k].name,
                    err);
            free(pool);
            return -1;
        }
    }
    free(a->defaults);
    a->defaults = pool;
    return 0;
}

/* `salesflow config CMD …`: show what the command would use. */
static void describe_config(const char *cmd, const struct opt *opts, size_t nopts,
                            int argc, char **argv, char (*src)[160],
                            const struct config_file *cf)
{
    printf("# salesflow %s: effective configuration\n", cmd);
    for (size_t k = 0; k < nopts; k++) {
        char env[96], shown[512];
        int printed = 0;
        config_env_name(opts[k].name, env, sizeof(env));
        /* Every value a repeatable flag got, in order. */
        if (src[k][0] && !strcmp(src[k], "flag")) {
            size_t l = strlen(opts[k].name);
            for (int i = 0; i < argc; i++) {
                const char *a = argv[i], *v = NULL;
                if (strncmp(a, "--", 2) || strncmp(a + 2, opts[k].name, l))
                    continue;
                if (a[2 + l] == '=')
                    v = a + 3 + l;
                else if (a[2 + l] == '\0')
                    v = opts[k].metavar ? (i + 1 < argc ? argv[i + 1] : "") : "1";
                if (v && ++printed)
                    printf("%s=%s\t# from flag\n", env,
                           config_mask(opts[k].name, v, shown, sizeof(shown)));
            }
        } else if (src[k][0] && !strncmp(src[k], "env ", 4)) {
            printed = printf("%s=%s\t# from %s\n", env,
                             config_mask(opts[k].name, getenv(env), shown,
                                         sizeof(shown)), src[k]);
        } else if (src[k][0]) {
            for (size_t e = 0; e < cf->n; e++)
                if (!strcmp(cf->e[e].key, env) && ++printed)
                    printf("%s=%s\t# from %s:%d\n", env,
                           config_mask(opts[k].name, cf->e[e].value, shown,
                                       sizeof(shown)), cf->path, cf->e[e].line);
        }
        char help[512];
        if (!printed)
            printf("# %s unset: %s\n", env, help_of(&opts[k], help, sizeof(help)));
    }
}

static int parse(struct args *a, const char *cmd, const char *summary,
                 const struct opt *opts, size_t nopts, int argc, char **argv,
                 const char **positional, size_t max_pos, size_t *npos)
{
    const struct known_ctx kc = {opts, nopts};
    char err[256];
    const char *config_path = NULL;
    unsigned char *set = calloc(nopts ? nopts : 1, 1);
    char (*src)[160] = calloc(nopts ? nopts : 1, sizeof(*src));
    int rc = ARGS_BAD;
    if (!set || !src) {
        fprintf(stderr, "salesflow %s: out of memory\n", cmd);
        goto out;
    }
    if (npos)
        *npos = 0;
    rc = parse_flags(cmd, summary, opts, nopts, argc, argv, positional, max_pos, npos,
                     set, src, &config_path);
    if (rc != ARGS_OK)
        goto out;
    rc = ARGS_BAD;

    /* Then the environment, then the config file, for what flags left out. */
    struct config_file cf;
    if (config_load(&cf, config_path, known_key, &kc, err, sizeof(err))) {
        fprintf(stderr, "salesflow %s: %s\n", cmd, err);
        goto out;
    }
    int secret_in_file = 0;
    if (check_repeats(cmd, opts, nopts, &cf) ||
        apply_env_and_file(cmd, opts, nopts, &cf, set, src, &secret_in_file) ||
        apply_defaults(a, cmd, opts, nopts, src))
        goto out_cf;
    rc = ARGS_OK;
    if (secret_in_file && cf.others_read)
        log_warn("config file %s holds a secret (API keys or a password) and every "
                 "user can read it: chmod 0640 %s", cf.path, cf.path);
    if (a->describe) {
        describe_config(cmd, opts, nopts, argc, argv, src, &cf);
        rc = ARGS_HELP;
    }
out_cf:
    if (rc == ARGS_OK) {
        a->n_from_file = 0;
        for (size_t k = 0; k < nopts; k++)
            if (src[k][0] && strcmp(src[k], "flag") && strncmp(src[k], "env ", 4) &&
                a->n_from_file < SF_ARRAY_LEN(a->from_file))
                a->from_file[a->n_from_file++] = opts[k].name;
        config_free(&a->cf);
        a->cf = cf;
    } else {
        config_free(&cf);
    }
out:
    free(set);
    free(src);
    return rc;
}

static int set_log_level(const char *val, void *dst, char *err, size_t n)
{
    (void)dst;
    if (sf_log_setup(val, NULL) == 0)
        return 0;
    snprintf(err, n, "expected debug, info, warn or error, got \"%s\"", val);
    return -1;
}

static int set_log_format(const char *val, void *dst, char *err, size_t n)
{
    (void)dst;
    if (sf_log_setup(NULL, val) == 0)
        return 0;
    snprintf(err, n, "expected logfmt or json, got \"%s\"", val);
    return -1;
}

int args_reread(const struct args *a, const char *name, char **val, char *where,
                size_t where_size, char *err, size_t n)
{
    int found = 0;
    *val = NULL;
    if (where_size)
        where[0] = '\0';
    for (size_t i = 0; i < a->n_from_file; i++)
        found |= !strcmp(a->from_file[i], name);
    if (!found)
        return 0;
    return args_file_value(a, name, val, where, where_size, err, n);
}

int args_file_value(const struct args *a, const char *name, char **val, char *where,
                    size_t where_size, char *err, size_t n)
{
    struct config_file cf;
    char env[96];
    *val = NULL;
    if (where_size)
        where[0] = '\0';
    if (!a->cf.path[0])
        return 0;
    /* the parse's table is gone; all_flags knows every key */
    if (config_load(&cf, a->cf.path, known_key, NULL, err, n))
        return -1;
    config_env_name(name, env, sizeof(env));
    for (size_t e = 0; e < cf.n; e++) {
        if (strcmp(cf.e[e].key, env))
            continue;
        free(*val);
        if (!(*val = strdup(cf.e[e].value))) {
            config_free(&cf);
            return sf_err(-1, err, n, "out of memory");
        }
        snprintf(where, where_size, "%s:%d", cf.path, cf.e[e].line);
    }
    if (!*val)
        snprintf(where, where_size, "%s", cf.path);
    config_free(&cf);
    return 1;
}

const char *args_mysql_password(void)
{
    return store_mysql_password;
}

void args_free(struct args *a)
{
    config_free(&a->cf);
    a->n_from_file = 0;
    free(a->defaults);
    a->defaults = NULL;
}

int args_parse(struct args *a, const char *cmd, const char *summary,
               const struct opt *opts, size_t nopts, int argc, char **argv,
               const char **positional, size_t max_pos, size_t *npos)
{
    /* Every command also takes the logging flags. */
    static const struct opt common[] = {
        {"log-level", "LEVEL", "debug, info (default), warn or error", set_log_level,
         NULL},
        {"log-format", "FORMAT", "logfmt (default) or json, one line per event on "
         "stderr", set_log_format, NULL},
    };
    /* Every command with a --store takes the password of a mysql:// store
     * whose URI leaves it out (the store reads args_mysql_password()). */
    const struct opt with_store[] = {
        {"mysql-password", "PASSWORD", "password for a mysql:// --store whose URI "
         "has none", opt_str, &a->mysql_password},
    };
    /* And with a --raw-store, the password of its cassandra:// login. */
    const struct opt with_raw[] = {
        {"cassandra-password", "PASSWORD", "password of the --raw-store user",
         opt_str, &a->cassandra_password},
    };
    int has_store = 0, has_raw = 0;
    for (size_t i = 0; i < nopts; i++) {
        has_store |= !strcmp(opts[i].name, "store");
        has_raw |= !strcmp(opts[i].name, "raw-store");
    }
    size_t n = nopts + SF_ARRAY_LEN(common) + (has_store ? SF_ARRAY_LEN(with_store) : 0) +
               (has_raw ? SF_ARRAY_LEN(with_raw) : 0);
    struct opt *all = malloc(n * sizeof(*all));
    if (!all) {
        fprintf(stderr, "salesflow %s: out of memory\n", cmd);
        return ARGS_BAD;
    }
    memcpy(all, opts, nopts * sizeof(*opts));
    memcpy(all + nopts, common, sizeof(common));
    if (has_store)
        memcpy(all + nopts + SF_ARRAY_LEN(common), with_store, sizeof(with_store));
    if (has_raw)
        memcpy(all + n - SF_ARRAY_LEN(with_raw), with_raw, sizeof(with_raw));
    a->mysql_password = NULL;
    a->cassandra_password = NULL;
    int rc = parse(a, cmd, summary, all, n, argc, argv, positional, max_pos, npos);
    free(all);
    store_mysql_password = a->mysql_password;
    return rc;
}

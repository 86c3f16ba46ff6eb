/*
 * args — see args.h. Flags beat everything else; unknown flags and bad
 * values are one-line errors with exit status 2 (the caller's job).
 */
#include "core/args.h"
#include "core/money.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int opt_str(const char *val, void *dst, char *err, size_t n)
{
    if (!*val) {
        snprintf(err, n, "must not be empty");
        return -1;
    }
    *(const char **)dst = val;
    return 0;
}

int opt_int64(const char *val, void *dst, char *err, size_t n)
{
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno || !*val || *end || v < 0) {
        snprintf(err, n, "expected a non-negative integer, got \"%s\"", val);
        return -1;
    }
    *(int64_t *)dst = v;
    return 0;
}

int opt_int(const char *val, void *dst, char *err, size_t n)
{
    int64_t v;
    if (opt_int64(val, &v, err, n) || v < 1 || v > 1000000000) {
        snprintf(err, n, "expected an integer from 1 to 1000000000, got \"%s\"", val);
        return -1;
    }
    *(int *)dst = (int)v;
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
    if (!errno && end != val && v >= 0) {
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
    if (!errno && end != val && val[0] != '-') {
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

int opt_switch(const char *val, void *dst, char *err, size_t n)
{
    (void)val, (void)err, (void)n;
    *(int *)dst = 1;
    return 0;
}

static void usage(const char *cmd, const char *summary, const struct opt *opts,
                  size_t nopts)
{
    printf("usage: salesflow %s [options]\n\n%s\n\noptions:\n", cmd, summary);
    for (size_t i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
                 opts[i].metavar ? " " : "", opts[i].metavar ? opts[i].metavar : "");
        printf("  %-26s %s\n", left, opts[i].help);
    }
    printf("  %-26s %s\n", "--help", "show this help and exit");
}

int args_parse(const char *cmd, const char *summary, const struct opt *opts,
               size_t nopts, int argc, char **argv, const char **positional,
               size_t max_pos, size_t *npos)
{
    char err[256];
    if (npos)
        *npos = 0;
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
        const struct opt *o = NULL;
        for (size_t k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "salesflow %s: unknown flag --%.*s (see --help)\n",
                    cmd, (int)len, name);
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
    }
    return ARGS_OK;
}

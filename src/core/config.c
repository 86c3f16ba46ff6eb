/*
 * config — environment and config-file layers under the command line (see
 * config.h), and secret masking for `salesflow config`.
 */
#include "core/config.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void config_env_name(const char *flag, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "SALESFLOW_");
    for (const char *p = flag; *p && k + 1 < n; p++)
        out[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[k < n ? k : n - 1] = '\0';
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' ||
                 s[l - 1] == '\n'))
        s[--l] = '\0';
    return s;
}

/* After a closing quote: nothing, or blanks and a "# comment". */
static int quote_tail_ok(char *t)
{
    char *r = trim(t);
    return !*r || (*r == '#' && r > t);
}

/* Unquote a value in place; returns NULL with *why on a bad quote. */
static char *unquote(char *v, const char **why)
{
    *why = "unterminated quote";
    if (*v == '\'') {
        char *end = strchr(v + 1, '\'');
        if (!end)
            return NULL;
        if (!quote_tail_ok(end + 1)) {
            *why = "text after the closing quote (quote the whole value)";
            return NULL;
        }
        *end = '\0';
        return v + 1;
    }
    if (*v == '"') {
        char *w = v, *r = v + 1;
        for (; *r && *r != '"'; r++) {
            if (*r == '\\' && r[1]) {
                r++;
                *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r;
            } else {
                *w++ = *r;
            }
        }
        if (*r != '"')
            return NULL;
        if (!quote_tail_ok(r + 1)) {
            *why = "text after the closing quote (quote the whole value)";
            return NULL;
        }
        *w = '\0';
        return v;
    }
    char *hash = strstr(v, " #");
    if (hash)
        *hash = '\0';
    return trim(v);
}

int config_load(struct config_file *cf, const char *path,
                int (*known)(const char *key, const void *arg), const void *arg,
                char *errstr, size_t n)
{
    char line[4096];
    int explicit = path != NULL, lineno = 0, rc = -1;
    memset(cf, 0, sizeof(*cf));
    if (!path)
        path = getenv("SALESFLOW_CONFIG"), explicit = path != NULL;
    if (!path)
        path = SF_CONFIG_DEFAULT;
    /* SIGHUP re-reads cf->path: never a shortened one (another file). */
    if (strlen(path) >= sizeof(cf->path))
        return sf_err(-1, errstr, n, "config file: the path is longer than %zu bytes: "
                      "%.200s…", sizeof(cf->path) - 1, path);
    snprintf(cf->path, sizeof(cf->path), "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!explicit && errno == ENOENT)
            return 0;
        return sf_err(-1, errstr, n, "cannot read config file %s: %s", path,
                      strerror(errno));
    }
    /* fopen() opens a directory for reading and fgets() then reads nothing:
     * `--config /etc/salesflow/` must not pass as an empty file. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t l = strlen(path);
        while (l > 1 && path[l - 1] == '/')
            l--;
        fclose(f);
        return sf_err(-1, errstr, n, "config file %s is a directory (give the "
                      "file, e.g. %.*s/salesflow.env)", path, (int)l, path);
    }
    cf->others_read = fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH);
    cf->e = calloc(SF_CONFIG_MAX_ENTRIES, sizeof(*cf->e));
    if (!cf->e) {
        sf_err(-1, errstr, n, "out of memory");
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            sf_err(-1, errstr, n, "%s:%d: line longer than %zu characters", path,
                   lineno, sizeof(line) - 2);
            goto out;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (!strncmp(s, "export ", 7))
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            sf_err(-1, errstr, n, "%s:%d: expected KEY=VALUE", path, lineno);
            goto out;
        }
        *eq = '\0';
        const char *why;
        char *key = trim(s), *val = unquote(trim(eq + 1), &why);
        if (!val) {
            sf_err(-1, errstr, n, "%s:%d: %s: %s", path, lineno, key, why);
            goto out;
        }
        if (!strcmp(key, "SALESFLOW_CONFIG")) {
            sf_err(-1, errstr, n, "%s:%d: SALESFLOW_CONFIG names the config file and "
                   "cannot be set inside one (use --config FILE)", path, lineno);
            goto out;
        }
        if (!known(key, arg)) {
            sf_err(-1, errstr, n, "%s:%d: unknown key %s (keys are SALESFLOW_ and a "
                   "flag name, e.g. SALESFLOW_LISTEN)", path, lineno, key);
            goto out;
        }
        if (cf->n == SF_CONFIG_MAX_ENTRIES || strlen(key) >= sizeof(cf->e[0].key)) {
            sf_err(-1, errstr, n, "%s:%d: too many entries or key too long", path,
                   lineno);
            goto out;
        }
        struct config_entry *e = &cf->e[cf->n];
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->value = strdup(val);
        e->line = lineno;
        if (!e->value) {
            sf_err(-1, errstr, n, "out of memory");
            goto out;
        }
        cf->n++;
    }
    if (ferror(f)) {
        sf_err(-1, errstr, n, "cannot read config file %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    fclose(f);
    if (rc)
        config_free(cf);
    return rc;
}

void config_free(struct config_file *cf)
{
    for (size_t i = 0; cf->e && i < cf->n; i++)
        free(cf->e[i].value);
    free(cf->e);
    cf->e = NULL;
    cf->n = 0;
}

static int secret_word(const char *s)
{
    static const char *const words[] = {"key", "secret", "password", "passwd", "token"};
    char low[128];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = '\0';
    for (size_t k = 0; k < SF_ARRAY_LEN(words); k++)
        if (strstr(low, words[k]))
            return 1;
    return 0;
}

char *config_mask(const char *flag, const char *value, char *out, size_t n)
{
    if (secret_word(flag)) {
        snprintf(out, n, "***");
        return out;
    }
    const char *eq = strchr(value, '=');
    if (eq && !strstr(value, "://")) {
        char k[128];
        snprintf(k, sizeof(k), "%.*s", (int)(eq - value), value);
        /* sasl.oauthbearer.config, sasl.jaas.config: they carry secrets */
        if (secret_word(k) || (!strncasecmp(k, "sasl.", 5) && strstr(k, "config"))) {
            snprintf(out, n, "%s=***", k);
            return out;
        }
    }
    const char *scheme = strstr(value, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at) {
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - value), value, at);
        return out;
    }
    snprintf(out, n, "%s", value);
    return out;
}

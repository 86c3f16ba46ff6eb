/*
 * config — where a flag's value comes from when the command line leaves it
 * out: the environment (SALESFLOW_<FLAG>, dashes as underscores), then a
 * config file of KEY=VALUE lines (--config FILE, or SALESFLOW_CONFIG, or
 * ./salesflow.env when present). Flags beat the environment, which beats
 * the file. args_parse() applies this for every command.
 *
 * File syntax: one KEY=VALUE per line; blank lines and lines starting with #
 * are ignored; an optional "export " prefix; VALUE may be wrapped in single
 * quotes (taken literally) or double quotes (\" \\ \n \t escapes); unquoted
 * values end at " #" (a trailing comment) and are trimmed. Keys are the
 * environment names, e.g. SALESFLOW_LISTEN=127.0.0.1:9000. A key that is no
 * setting of any command (see known()), or SALESFLOW_CONFIG, is an error
 * naming the file and line.
 */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stddef.h>

#define SF_CONFIG_DEFAULT "salesflow.env"
#define SF_CONFIG_MAX_ENTRIES 512

struct config_entry {
    char key[64];               /* SALESFLOW_… */
    char *value;
    int line;
};

struct config_file {
    char path[1024];
    struct config_entry *e;
    size_t n;
    int others_read;        /* mode & 0004: any user may read the file */
};

/* Load path (explicit: it must exist) or, with path NULL, SALESFLOW_CONFIG
 * or ./salesflow.env if present (absent: an empty config, returns 0).
 * Checks every key with known(key, arg) (non-zero: known). Returns 0, or -1
 * with errstr "FILE:LINE: …". */
int config_load(struct config_file *cf, const char *path,
                int (*known)(const char *key, const void *arg), const void *arg,
                char *errstr, size_t errstr_size);
void config_free(struct config_file *cf);

/* "listen-addr" → "SALESFLOW_LISTEN_ADDR" into out. */
void config_env_name(const char *flag, char *out, size_t n);

/* Mask secrets for printing: a value whose flag name mentions key, secret,
 * password or token becomes "***"; a URI's "user:password@" becomes
 * "user:***@"; "k=v" with a secret-looking k masks v. Returns out. */
char *config_mask(const char *flag, const char *value, char *out, size_t n);

#endif

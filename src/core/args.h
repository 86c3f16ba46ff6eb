/*
 * args — a small table-driven command-line flag parser shared by every
 * subcommand: "--name value" or "--name=value", --help, and one-line errors.
 * Flags left out are taken from the environment, then a config file
 * (core/config.h); --config FILE is accepted by every command.
 */
#ifndef SF_ARGS_H
#define SF_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* A flag's default is declared once, in its help text, in braces:
 * "HTTP address (default {127.0.0.1:8080})". args_parse gives the braced
 * value to set() when no flag, environment variable or config file line
 * set the flag, and --help shows the text without the braces. A default
 * that is not a value (e.g. "(default: keep)") is written without braces
 * and is the code's. */
struct opt {
    const char *name;       /* without the leading "--" */
    const char *metavar;    /* NULL: a boolean switch */
    const char *help;       /* with its default in braces, if any */
    /* Parse val into dst; return 0, or -1 after writing why into err. */
    int (*set)(const char *val, void *dst, char *err, size_t errlen);
    void *dst;
};

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_BAD = 2 };

/* --data of the commands that take one. */
#define SF_DEFAULT_DATA "./salesflow-data"

/* What parsing a command's flags leaves behind, owned by the caller (main,
 * for as long as the command runs): flags set from the config file point
 * into cf's values. Start from {0} (or {.describe = 1}); args_free. */
struct args {
    /* In: `salesflow config CMD [flags]`: args_parse prints the effective
     * configuration (value and source of every flag, secrets masked) and
     * returns ARGS_HELP, so the command exits without running. */
    int describe;
    /* Out, from the last successful args_parse: */
    struct config_file cf;          /* the config file read (none: empty) */
    const char *from_file[64];      /* the flags taken from it */
    size_t n_from_file;
    char *defaults;                 /* the defaults flags were given point here */
    /* SALESFLOW_MYSQL_PASSWORD / SALESFLOW_CASSANDRA_PASSWORD from the
     * environment or the config file (never a flag: ps would show it), for
     * a mysql:// --store whose URI has none and a --raw-store login; NULL
     * if unset. */
    const char *mysql_password;
    const char *cassandra_password;
};

/* Parse argv[0..argc) (flags only, no positionals unless `positional` is
 * non-NULL, which then receives up to max_pos of them) into the flags'
 * targets and a. Prints --help to stdout, or one line "salesflow CMD: …"
 * to stderr on a bad flag or value. */
int args_parse(struct args *a, const char *cmd, const char *summary,
               const struct opt *opts, size_t nopts, int argc, char **argv,
               const char **positional, size_t max_pos, size_t *npos);
/* Free what a holds (the flags from its config file then dangle). */
void args_free(struct args *a);

/* The MySQL password of the process's mysql:// --store: a->mysql_password
 * of the command's last args_parse (see args.c for why this one value is
 * process-wide); NULL if unset. */
const char *args_mysql_password(void);

/* SIGHUP: if the parse that filled a took flag `name` from the config file,
 * read that file again and return 1 with *val its value there now (malloc'd,
 * NULL if the key is gone) and `where` "FILE:LINE"; 0 if the flag came from
 * elsewhere (nothing to re-read); -1 with err if the file cannot be read. */
/* The same for any flag: the config file's value of `name` now (1, *val
 * NULL if unset), whether or not the parse took it from there; 0 without a
 * config file. */
int args_file_value(const struct args *a, const char *name, char **val, char *where,
                    size_t where_size, char *err, size_t n);
int args_reread(const struct args *a, const char *name, char **val, char *where,
                size_t where_size, char *err, size_t n);

/* 1 if name is a flag of some command (the list config files are checked
 * against). */
int args_known_flag(const char *name);

/* Setters: string (const char **), positive int (int *), non-negative
 * int64 (int64_t *), money amount to cents (int64_t *), switch (int *). */
int opt_str(const char *val, void *dst, char *err, size_t n);
int opt_int(const char *val, void *dst, char *err, size_t n);
/* 0..19: how far below the process a thread's CPU priority goes. */
int opt_nice(const char *val, void *dst, char *err, size_t n);
/* opt_nice, or "idle": SF_NICE_IDLE (util.h). */
int opt_nice_or_idle(const char *val, void *dst, char *err, size_t n);
int opt_int64(const char *val, void *dst, char *err, size_t n);
int opt_money(const char *val, void *dst, char *err, size_t n);
/* A comma-separated list of sources (catalog_check_sources); *dst = val. */
int opt_sources(const char *val, void *dst, char *err, size_t n);
/* "500ms", "30s", "15m", "12h", "7d" → milliseconds (int64_t *). */
/* A whole percentage, 1 to 100. */
int opt_percent(const char *val, void *dst, char *err, size_t n);
int opt_duration(const char *val, void *dst, char *err, size_t n);
/* "4096", "64K", "64M", "2G" (powers of 1024) → bytes (uint64_t *). */
int opt_bytes(const char *val, void *dst, char *err, size_t n);
int opt_switch(const char *val, void *dst, char *err, size_t n);
/* Checked at parse time so a typo exits 2 before anything starts (const
 * char **): HOST:PORT or [V6]:PORT, port 0..65535 (the host is resolved
 * when listening); a store URI sqlite:… or mysql://…; a broker URI file:…
 * or kafka://…. */
int opt_listen(const char *val, void *dst, char *err, size_t n);
int opt_store_uri(const char *val, void *dst, char *err, size_t n);
int opt_broker_uri(const char *val, void *dst, char *err, size_t n);

#endif

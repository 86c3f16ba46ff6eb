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

struct opt {
    const char *name;       /* without the leading "--" */
    const char *metavar;    /* NULL: a boolean switch */
    const char *help;
    /* Parse val into dst; return 0, or -1 after writing why into err. */
    int (*set)(const char *val, void *dst, char *err, size_t errlen);
    void *dst;
};

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_BAD = 2 };

/* Parse argv[0..argc) (flags only, no positionals unless `positional` is
 * non-NULL, which then receives up to max_pos of them). Prints --help to
 * stdout, or one line "salesflow CMD: …" to stderr on a bad flag or value. */
int args_parse(const char *cmd, const char *summary, const struct opt *opts,
               size_t nopts, int argc, char **argv, const char **positional,
               size_t max_pos, size_t *npos);

/* Make the next args_parse print the effective configuration (value and
 * source of every flag, secrets masked) and return ARGS_HELP, so the
 * command exits without running: `salesflow config CMD [flags]`. */
void args_describe_mode(void);

/* The MySQL password of the command's mysql:// store when its URI has none:
 * SALESFLOW_MYSQL_PASSWORD from the environment or the config file, as read
 * by the last args_parse (never a flag: ps would show it); NULL if unset. */
const char *args_mysql_password(void);
/* The same for the password of a --raw-store cassandra:// login:
 * SALESFLOW_CASSANDRA_PASSWORD; NULL if unset. */
const char *args_cassandra_password(void);

/* SIGHUP: if the last args_parse took flag `name` from the config file,
 * read that file again and return 1 with *val its value there now (malloc'd,
 * NULL if the key is gone) and `where` "FILE:LINE"; 0 if the flag came from
 * elsewhere (nothing to re-read); -1 with err if the file cannot be read. */
int args_reread(const char *name, char **val, char *where, size_t where_size,
                char *err, size_t n);

/* 1 if name is a flag of some command (the list config files are checked
 * against). */
int args_known_flag(const char *name);

/* Setters: string (const char **), positive int (int *), non-negative
 * int64 (int64_t *), money amount to cents (int64_t *), switch (int *). */
int opt_str(const char *val, void *dst, char *err, size_t n);
int opt_int(const char *val, void *dst, char *err, size_t n);
int opt_int64(const char *val, void *dst, char *err, size_t n);
int opt_money(const char *val, void *dst, char *err, size_t n);
/* "500ms", "30s", "15m", "12h", "7d" → milliseconds (int64_t *). */
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

/*
 * app — the application object the commands share (run, ingest, process,
 * serve): the parts a command opened, in one place, so that they are
 * opened in the order the layers need, and closed once, in reverse.
 *
 * A command fills the parts it uses (any may stay NULL), waits in
 * app_wait for a stop signal (SIGHUP reloads the catalog and the API, read
 * and admin keys meanwhile, when asked), then app_close drains and closes: stop accepting
 * connections, ack every queued order (with ingestion), end the live
 * streams, stop HTTP, stop the processor after its current batch, close
 * the log, the dashboard and the stores, then the reference data.
 */
#ifndef SF_APP_H
#define SF_APP_H

#include <signal.h>
#include <stddef.h>

struct catalog;
struct auth;
struct dedupe;
struct quarantine;
struct broker;
struct store;
struct web;
struct processor;
struct http_server;
struct args;

struct app {
    const char *cmd;            /* "run", "ingest", ... for messages */
    struct catalog *cat;
    struct auth *auth;
    struct auth *read_auth, *admin_auth;    /* run and serve */
    struct dedupe *dd;
    struct quarantine *qt;
    struct broker *b;
    struct store *st;           /* the processor's */
    struct store *ready_st;     /* /readyz's own handle (`process`) */
    struct web *w;
    struct processor *proc;
    struct http_server *srv;
    int flush_on_close;         /* the server ingests into b: ack first */
    const struct args *args;    /* the command's flags (reload: NULL) */
    int closed;
    sigset_t sigs;
};

/* Start: block the stop signals (and SIGHUP when args is given: a reload
 * re-reads the settings args took from the config file) before any thread
 * starts, so that only app_wait sees them; ignore SIGPIPE. */
void app_init(struct app *a, const char *cmd, const struct args *args);
/* Wait for SIGINT or SIGTERM (reloading on SIGHUP); logs it. */
void app_wait(struct app *a);
/* Close everything opened, in reverse order; once (later calls do nothing).
 * Returns 1 when the log failed an fdatasync (elog_failed: the command
 * exits 1 for its supervisor), else 0. */
int app_close(struct app *a);

/* snprintf into buf a path or URI; a result that does not fit is an error
 * (logged, naming what), never truncated: 0 or -1. */
int app_path(char *buf, size_t size, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/*
 * app — see app.h.
 */
#include "app.h"
#include "broker/broker.h"
#include "broker/elog.h"
#include "core/args.h"
#include "core/catalog.h"
#include "core/config.h"
#include "core/util.h"
#include "http/auth.h"
#include "http/http.h"
#include "ingest/dedupe.h"
#include "ingest/quarantine.h"
#include "process/processor.h"
#include "store/store.h"
#include "web/web.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void app_init(struct app *a, const char *cmd, const struct args *args)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->args = args;
    sigemptyset(&a->sigs);
    sigaddset(&a->sigs, SIGINT);
    sigaddset(&a->sigs, SIGTERM);
    if (args)
        sigaddset(&a->sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &a->sigs, NULL);
    signal(SIGPIPE, SIG_IGN);   /* clients that went away */
}

/* SIGHUP: SALESFLOW_SOURCES of the config file, when --sources came from
 * there (a flag or environment value cannot change; nothing is logged
 * then). Sources may only be added after the current ones: an order's
 * source is an index into the list (catalog.h). */
static void reload_sources(const struct args *args, struct catalog *cat)
{
    char err[1024], where[1100], why[768], *list = NULL;
    int r = args_reread(args, "sources", &list, where, sizeof(where), err, sizeof(err));
    if (r > 0) {
        /* The key gone from the file: the default list. */
        r = catalog_add_sources(cat, list ? list : SF_DEFAULT_SOURCES, why, sizeof(why));
        if (r < 0)
            snprintf(err, sizeof(err), "%.300s: %.700s", where, why);
    }
    if (r < 0)
        log_error("SIGHUP: sources not reloaded, keeping %s: %s",
                  catalog_sources_text(cat), err);
    else if (r > 0)
        log_info("SIGHUP: sources now %s (%zu, from %s)", catalog_sources_text(cat),
                 catalog_source_count(cat), where);
    else if (list || where[0])
        log_info("SIGHUP: sources unchanged: %s", catalog_sources_text(cat));
    free(list);
}

/* SIGHUP with no keys of a kind in force (flag "api-keys", …): keys of
 * that kind can only be asked for from a start on, so if the config file
 * has them now, say that a restart is needed rather than leave the routes
 * open in silence. */
static void keys_need_restart(const struct args *args, const char *flag, const char *what)
{
    char err[512], where[1100], env[96], *list = NULL;
    if (args_file_value(args, flag, &list, where, sizeof(where), err, sizeof(err)) > 0 &&
        list && list[strspn(list, " ,")]) {
        config_env_name(flag, env, sizeof(env));
        log_error("SIGHUP: %s sets %s (%s keys), but salesflow started without %s keys: "
                  "restart salesflow to require them; until then they are not asked for",
                  where, env, what, what);
    }
    free(list);
}

/* SIGHUP: re-read the customers, the sources, the API key file and
 * SALESFLOW_API_KEYS of the config file; keep serving. */
static void reload(const struct args *args, struct catalog *cat, struct auth *auth)
{
    char err[1024];
    if (catalog_reload(cat, err, sizeof(err)))
        log_error("SIGHUP: customers not reloaded, keeping the %zu loaded: %s",
                  catalog_customer_count(cat), err);
    else
        log_info("SIGHUP: %zu customers reloaded from %s",
                 catalog_customer_count(cat), catalog_path(cat));
    reload_sources(args, cat);
    if (auth_enabled(auth)) {
        /* SALESFLOW_API_KEYS from the config file (as docs/deploy.md keeps
         * it) is re-read too; flag and environment values cannot change. */
        char *list = NULL, where[1100], why[512];
        int r = args_reread(args, "api-keys", &list, where, sizeof(where), err, sizeof(err));
        if (r > 0 && auth_set_list(auth, list, why, sizeof(why)))
            snprintf(err, sizeof(err), "%.500s: --api-keys: %.400s", where, why), r = -1;
        if (r >= 0 && auth_reload(auth, err, sizeof(err)))
            r = -1;
        if (r < 0)
            log_error("SIGHUP: API keys not reloaded, keeping the old ones: %s", err);
        else
            log_info("SIGHUP: %zu API keys in force", auth_key_count(auth));
        free(list);
    } else if (auth) {  /* a command that takes orders over HTTP */
        keys_need_restart(args, "api-keys", "API");
    }
}

/* SIGHUP for the read or admin keys (run, serve), as reload does for the
 * API keys: the key file, and the list (list_flag, e.g. "read-keys") when
 * it came from the config file. what names the set in the log. */
static void reload_keys(const struct args *args, struct auth *auth, const char *list_flag,
                        const char *what)
{
    char err[1024], where[1100], why[512];
    char *list = NULL;
    if (!auth_enabled(auth)) {
        if (auth)       /* run and serve, which serve the dashboard */
            keys_need_restart(args, list_flag, what);
        return;
    }
    int r = args_reread(args, list_flag, &list, where, sizeof(where), err, sizeof(err));
    if (r > 0 && auth_set_list(auth, list, why, sizeof(why)))
        snprintf(err, sizeof(err), "%.500s: --%s: %.400s", where, list_flag, why), r = -1;
    if (r >= 0 && auth_reload(auth, err, sizeof(err)))
        r = -1;
    if (r < 0)
        log_error("SIGHUP: %s keys not reloaded, keeping the old ones: %s", what, err);
    else
        log_info("SIGHUP: %zu %s keys in force", auth_key_count(auth), what);
    free(list);
}

void app_wait(struct app *a)
{
    int sig;
    while (sigwait(&a->sigs, &sig) == 0 && sig == SIGHUP) {
        if (a->cat)     /* serve has none */
            reload(a->args, a->cat, a->auth);
        reload_keys(a->args, a->read_auth, "read-keys", "read");
        reload_keys(a->args, a->admin_auth, "admin-keys", "admin");
        http_sessions_prune(a->srv);    /* a key put back later ends them all the same */
    }
    log_info("%s: shutting down", strsignal(sig));
}

int app_close(struct app *a)
{
    if (a->closed)
        return 0;
    a->closed = 1;
    http_quiesce(a->srv);
    if (a->b && a->flush_on_close)
        broker_flush(a->b);     /* every queued order is acked before HTTP stops */
    int failed = elog_failed(a->b);
    web_close_queries(a->w);    /* nor a suspended query request */
    web_close_streams(a->w);    /* no suspended stream may outlive the server */
    http_stop(a->srv);
    store_close(a->ready_st);
    processor_stop(a->proc);
    broker_close(a->b);
    web_destroy(a->w);
    store_close(a->st);
    dedupe_destroy(a->dd);
    quarantine_close(a->qt);
    auth_destroy(a->auth);
    auth_destroy(a->read_auth);
    auth_destroy(a->admin_auth);
    catalog_destroy(a->cat);
    return failed;
}

int app_path(char *buf, size_t size, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < size)
        return 0;
    log_error("the %s would be %d bytes long, more than the %zu this build takes: use "
              "a shorter path", what, n, size - 1);
    return -1;
}

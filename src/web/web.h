/*
 * web — the dashboard (embedded page + ECharts), its JSON query API and the
 * live-update stream (SSE), read from the serving store through a handle of
 * its own.
 *
 * Lifecycle: web_new() opens the store and starts two small threads (the
 * SSE dispatcher and the sampler) and the query threads, each with a store
 * handle of its own; `run` then calls web_attach() with its log and hands
 * web_on_commit to the processor. Before the HTTP server stops,
 * web_close_queries() answers or finishes every query request and
 * web_close_streams() ends every open stream (libmicrohttpd must not be
 * stopped with suspended connections); web_destroy() comes after
 * http_stop().
 */
#ifndef SF_WEB_H
#define SF_WEB_H

#include <stddef.h>

struct web;
struct broker;
struct http_ctx;

/* Register the web layer's routes (the dashboard's pages, GET /api/...,
 * /healthz, /readyz, /metrics) in ctx; they answer 503 while ctx has no
 * web. 0, or -1 when the route table is full. */
int web_add_routes(struct http_ctx *ctx);

/* Open the store at store_uri for reading; the query threads run
 * query_nice (0-19, or SF_NICE_IDLE) below the process's CPU priority, and
 * a query running longer than query_timeout_ms (0: no limit) is stopped
 * (SQLite) and answered 504. NULL with errstr on failure. */
struct web *web_new(const char *store_uri, int query_nice, int64_t query_timeout_ms,
                    char *errstr, size_t errstr_size);

/* This process also ingests into b and runs the processor (`run`): change
 * notices come from web_on_commit instead of polling the store, and the
 * pipeline panel shows the log's end per partition. b is borrowed and must
 * outlive w. Call before the processor and the HTTP server start. */
void web_attach(struct web *w, struct broker *b);

/* processor_conf.on_commit: opaque is the struct web. Never blocks: bumps
 * counters and signals the dispatcher, which coalesces notices. */
void web_on_commit(void *opaque, size_t inserted);

/* End every live stream and refuse new ones; returns once they are closed
 * (or after 3 s). Call before http_stop(). NULL is a no-op. */
void web_close_streams(struct web *w);

/* Refuse new query requests (503), answer the waiting ones 503 and let
 * the running ones finish; returns once every one is answered. Call
 * before http_stop(). NULL is a no-op. */
void web_close_queries(struct web *w);

void web_destroy(struct web *w);

#endif

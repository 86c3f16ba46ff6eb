/*
 * session — the sign-in sessions of browsers (the dashboard with a read
 * key set): a random token in a cookie, held here in memory with the key
 * that signed in and an absolute expiry. The cookie never holds the key.
 *
 * A token is 32 bytes from getrandom as 64 hex digits: an 8-byte selector
 * that finds the session and a 24-byte secret compared in constant time,
 * so the time a lookup takes says nothing about the secret. The key is
 * kept (not its scope) so that every request checks it against the keys in
 * force: a key removed by a SIGHUP reload ends its sessions at once (and
 * for good: sessions_prune), and a key that moved from admin to read keys
 * reads only. At most
 * SESSIONS_MAX sessions live at once; a new one past that replaces the
 * one closest to its expiry. Sessions do not survive a restart.
 */
#ifndef SF_HTTP_SESSION_H
#define SF_HTTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "http/auth.h"

#define SESSION_COOKIE "salesflow_session"
#define SESSION_TOKEN_LEN 64            /* hex digits */
#define SESSIONS_MAX 10000
#define SESSION_TTL_DEFAULT_HOURS 12    /* --session-ttl's help shows it */
#define SESSION_TTL_DEFAULT_MS ((int64_t)SESSION_TTL_DEFAULT_HOURS * 3600 * 1000)

struct http_sessions;

/* A store whose sessions last ttl_ms (<= 0: 12 hours). NULL: out of memory. */
struct http_sessions *sessions_new(int64_t ttl_ms);
void sessions_destroy(struct http_sessions *s);
int64_t sessions_ttl_ms(const struct http_sessions *s);

/* A new session for key (len bytes): its token into token (NUL-terminated).
 * 0, or -1 (no randomness from the kernel, out of memory). Thread-safe. */
int sessions_create(struct http_sessions *s, const unsigned char *key, size_t len,
                    char token[SESSION_TOKEN_LEN + 1]);
/* The key of the live session named by a Cookie header (may be NULL) into
 * key (AUTH_KEY_MAX bytes, zero-padded): its length, or 0 when there is
 * none (no cookie, unknown token, expired). Thread-safe. */
size_t sessions_key(struct http_sessions *s, const char *cookie,
                    unsigned char key[AUTH_KEY_MAX]);
/* End the session named by the Cookie header, if any. */
void sessions_end(struct http_sessions *s, const char *cookie);
/* End every session whose key keep() says is no longer in force (after a
 * reload of the keys): the key put back later does not bring them back. */
void sessions_prune(struct http_sessions *s,
                    int (*keep)(void *opaque, const unsigned char key[AUTH_KEY_MAX],
                                size_t len),
                    void *opaque);

#endif

/*
 * auth — bearer keys: one struct auth per scope. The ingest keys (the API
 * keys of the ingestion endpoints) are described here; the read keys
 * (--read-key, --read-keys / SALESFLOW_READ_KEYS, --read-key-file) and the
 * admin keys (--admin-key, ...) come from the same kinds of sources and
 * follow the same rules (auth_new_named). Which routes take which scope,
 * and the sign-in sessions, are the pipeline's (pipeline.c, session.h).
 *
 * Keys come from --api-key (repeatable), --api-keys (comma-separated;
 * SALESFLOW_API_KEYS in the environment or config file) and --api-key-file
 * (one per line, '#' comments); the key file is re-read on SIGHUP
 * (auth_reload), and so is SALESFLOW_API_KEYS when it came from the config
 * file (main.c re-reads the file and calls auth_set_list). Auth is on when any source was given at
 * start, even if a reload leaves no keys (then every request gets 401).
 * Comparison is constant-time in the key contents, and keys never appear
 * in logs or error messages.
 */
#ifndef SF_AUTH_H
#define SF_AUTH_H

#include <stddef.h>

#define AUTH_KEY_MAX 256        /* a key is 1..256 visible ASCII bytes */
#define AUTH_KEYS_MAX 1024

struct auth;

/* keys: n --api-key values; env: the --api-keys comma-separated list or NULL; file: path or
 * NULL. Returns NULL with errstr (naming the source, never the key). */
struct auth *auth_new(const char *const *keys, size_t n, const char *env,
                      const char *file, char *errstr, size_t errstr_size);
/* The same for the keys of scope `name` ("api", "read" or "admin"): messages
 * name --NAME-key, --NAME-keys (SALESFLOW_NAME_KEYS) and "NAME key file". */
struct auth *auth_new_named(const char *name, const char *const *keys, size_t n,
                            const char *list, const char *file, char *errstr,
                            size_t errstr_size);
void auth_destroy(struct auth *a);

/* 1 if requests need a key. */
int auth_enabled(const struct auth *a);
/* Check an Authorization header value (may be NULL): 0 ok, -1 missing or
 * not "Bearer …", -2 unknown key. Thread-safe. */
int auth_check(struct auth *a, const char *authorization);
/* The token of an Authorization header "Bearer TOKEN" (any case, spaces
 * around TOKEN dropped) into tok (AUTH_KEY_MAX bytes, zero-padded):
 * its length, 0 when missing or not a bearer token, -1 when too long. */
long auth_bearer(const char *authorization, unsigned char tok[AUTH_KEY_MAX]);
/* 1 if tok (zero-padded to AUTH_KEY_MAX, len bytes) is one of a's keys, in
 * time independent of the keys' contents; 0 otherwise (or a NULL or
 * disabled). Thread-safe. */
int auth_has(struct auth *a, const unsigned char tok[AUTH_KEY_MAX], size_t len);
/* Re-read the key file (flag and env keys stay). On error the old keys
 * stay and -1 is returned with errstr. */
int auth_reload(struct auth *a, char *errstr, size_t errstr_size);
/* Replace the --api-keys list (NULL: none) atomically; on a bad list the old
 * keys stay and -1 is returned with errstr (never naming a key). */
int auth_set_list(struct auth *a, const char *list, char *errstr, size_t errstr_size);
/* 0 if list is a valid --api-keys value: comma-separated keys, at least one. */
int auth_check_list(const char *list, char *errstr, size_t errstr_size);
size_t auth_key_count(struct auth *a);
/* 1 if a key of a is also one of b's (the scopes must stay disjoint). */
int auth_shares_key(struct auth *a, struct auth *b);

#endif

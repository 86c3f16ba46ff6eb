/*
 * auth — bearer API keys for the ingestion endpoints.
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
void auth_destroy(struct auth *a);

/* 1 if requests need a key. */
int auth_enabled(const struct auth *a);
/* Check an Authorization header value (may be NULL): 0 ok, -1 missing or
 * not "Bearer …", -2 unknown key. Thread-safe. */
int auth_check(struct auth *a, const char *authorization);
/* Re-read the key file (flag and env keys stay). On error the old keys
 * stay and -1 is returned with errstr. */
int auth_reload(struct auth *a, char *errstr, size_t errstr_size);
/* Replace the --api-keys list (NULL: none) atomically; on a bad list the old
 * keys stay and -1 is returned with errstr (never naming a key). */
int auth_set_list(struct auth *a, const char *list, char *errstr, size_t errstr_size);
/* 0 if list is a valid --api-keys value: comma-separated keys, at least one. */
int auth_check_list(const char *list, char *errstr, size_t errstr_size);
size_t auth_key_count(struct auth *a);

#endif

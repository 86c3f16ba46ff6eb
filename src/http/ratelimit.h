/*
 * ratelimit — failed key checks, per client address: after max failures
 * within a window, every request from that address that carries a key is
 * refused (429) for a window, right key or wrong, so that a key cannot be
 * guessed faster than max per window from one address. An address is an
 * IPv4 address, or the /64 prefix of an IPv6 one (one host's share of a
 * network); an IPv4-mapped IPv6 address is its IPv4 address. The address
 * is the TCP peer's: salesflow reads no X-Forwarded-For (behind a proxy,
 * every client has the proxy's address).
 *
 * A failure is a POST /signin whose key opens nothing, or an Authorization
 * header that is no key of any scope (pipeline.c). A request without any
 * key is no guess and does not count; nor does a key of another scope
 * (403), nor a session cookie.
 *
 * Refusals are logged, one warning line per address per window at most
 * ("auth: refused METHOD ROUTE from ADDR: wrong key"), and once the window
 * is over one line "auth: N more refused from ADDR" for the rest; never the
 * key. All of these lines together are at most RL_LOG_LINES a minute, the
 * rest summed in one line. A thread of the limiter's own writes the
 * summaries (once a second) and forgets the addresses that are done.
 *
 * Memory is fixed at start: RL_SETS × RL_WAYS addresses (8192), a set
 * chosen by a keyed hash of the address, each set behind its own mutex. A
 * new address in a full set takes the place of the one that matters least
 * (not refused, least recently failed; else the refusal that ends first):
 * an attacker with many addresses can make the table forget some, never
 * refuse anyone else. A request with a key takes no lock while no address
 * is refused (one atomic load), and a set's lock for a few compares while
 * some are.
 */
#ifndef SF_HTTP_RATELIMIT_H
#define SF_HTTP_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RL_SETS 1024
#define RL_WAYS 8
#define RL_CAPACITY (RL_SETS * RL_WAYS)
#define RL_LOG_LINES 60                 /* per minute, all addresses together */
#define RL_MAX_DEFAULT 10
#define RL_WINDOW_DEFAULT_MS 60000

enum rl_reason { RL_NO_KEY, RL_WRONG_KEY };

struct http_ratelimit;

/* A limiter of max failures per window_ms (<= 0: the defaults), with its
 * thread. NULL + errstr. */
struct http_ratelimit *ratelimit_new(unsigned max, int64_t window_ms, char *errstr,
                                     size_t errstr_size);
/* Stop the thread, log what is still to be summed up, free. */
void ratelimit_destroy(struct http_ratelimit *rl);

/* Milliseconds for which keys from peer are still refused, or 0 (also for
 * a NULL rl or peer). With method and route, the caller refuses a request
 * for it: counted and logged as refused. Thread-safe. */
int64_t ratelimit_wait(struct http_ratelimit *rl, const struct sockaddr *peer,
                       const char *method, const char *route);
/* A failed key check from peer on METHOD ROUTE: counted, logged, and the
 * address refused once it reaches the limit. Thread-safe. */
void ratelimit_fail(struct http_ratelimit *rl, const struct sockaddr *peer,
                    const char *method, const char *route, enum rl_reason why);

#endif

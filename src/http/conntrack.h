/*
 * conntrack — read deadlines for HTTP connections, against slow clients
 * (slowloris) that would otherwise hold a connection forever by sending a
 * byte now and then, which resets libmicrohttpd's idle timeout.
 *
 * Every connection has a phase and a deadline: HEADERS (from accept, or
 * from the end of the previous request on a kept-alive connection, until
 * the last header line: header_timeout), BODY (until the whole body is in:
 * body_timeout) and WORK (the handler has the request; no deadline — an
 * order waiting for its fsync is the server's business, not the client's).
 * A reaper thread checks every 200 ms; a connection past its deadline gets
 * "408 Request Timeout" (unless it is an idle kept-alive connection, which
 * is just closed) and is shut down, which makes libmicrohttpd close it.
 *
 * It also enforces the connection cap: a connection accepted while
 * max_conns are open gets "503 Service Unavailable" and is shut down at
 * once. (libmicrohttpd's own limit, set a little higher, would instead stop
 * accepting and leave new clients waiting in the listen backlog, with no
 * answer, until a slot frees.)
 */
#ifndef SF_CONNTRACK_H
#define SF_CONNTRACK_H

#include <microhttpd.h>
#include <stdint.h>

struct conntrack;

struct conntrack *conntrack_new(int header_timeout_s, int body_timeout_s,
                                unsigned max_conns, char *errstr, size_t errstr_size);
void conntrack_destroy(struct conntrack *t);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the conntrack. */
void conntrack_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* Phase changes, called from the access handler and completion callback.
 * headers_done and body_done return -1 when the connection was already
 * cut (timed out, or refused at the cap): its request must not be served,
 * since the client was told otherwise. */
int conntrack_headers_done(struct MHD_Connection *c);
int conntrack_body_done(struct MHD_Connection *c);
void conntrack_request_done(struct MHD_Connection *c);

/* The fast path's connections (fastpath.h), which libmicrohttpd does not
 * see, count against the same cap. admit: 0, or -1 when at the cap (the
 * caller refuses the connection with conntrack_refuse). */
int conntrack_admit(struct conntrack *t);
void conntrack_release(struct conntrack *t);
/* Send the 408 for a request not received in time. */
void conntrack_send_timeout(int fd);
/* Send the 503 for a connection past the cap, and shut it down. */
void conntrack_refuse(int fd);
/* The idle limit between requests, in ms; count one such close. */
int64_t conntrack_idle_ms(const struct conntrack *t);
void conntrack_count_timeout(struct conntrack *t);

/* Connections closed for being too slow, since start. */
unsigned long conntrack_timeouts(struct conntrack *t);

#endif

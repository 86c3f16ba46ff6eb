/*
 * framing — the framing rules (RFC 9112) both HTTP transports apply to a
 * request's head, in one place: the fast path feeds them the fields of the
 * raw head it reads (fastparse.c), the libmicrohttpd adapter the fields
 * libmicrohttpd parsed (mhd.c), so a request is framed the same way
 * whichever transport reads it.
 *
 * libmicrohttpd 0.9.75 hands its adapter the parsed field list only, in
 * which a space before the colon shows as a name ending in a space, a bare
 * CR as a CR in a value, and an obs-fold as the continuation glued to the
 * field's name ("Content-Length48"). So head_field rejects names that are
 * not tokens, values holding control characters, and names that extend
 * Content-Length or Transfer-Encoding.
 */
#ifndef SF_HTTP_FRAMING_H
#define SF_HTTP_FRAMING_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define HTTP_VALUE_MAX 1024     /* a header value a transport keeps */

#define MSG_FOLD "Bad Request: a header line starts with a space or tab (obs-fold, " \
                 "RFC 9112 5.2); send every header field on one line"
#define MSG_CR "Bad Request: a CR not followed by LF in the request head (RFC 9112 2.2)"

/* Each field goes to head_field in order, then head_verdict judges the
 * framing (Content-Length, Transfer-Encoding, Host). Both return 0, or the
 * status to answer (400, or 501 for a transfer coding other than a lone
 * "chunked") with *msg, after which the connection is closed. */
struct head_check {
    int http10;                 /* HTTP/1.0: Host may be absent */
    unsigned hosts, lengths, encodings;
    unsigned codings;           /* Content-Encoding fields */
    unsigned auths, cookies, origins;   /* Authorization, Cookie, Origin fields */
    int length_bad;             /* a Content-Length that is not 1*DIGIT */
    int coding_bad;             /* a Transfer-Encoding other than "chunked" */
};
unsigned head_field(struct head_check *hc, const char *name, size_t nlen,
                    const char *value, size_t vlen, const char **msg);
unsigned head_verdict(const struct head_check *hc, const char **msg);

/* A token character (RFC 9110 5.6.2). */
static inline int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-')
        return 1;
    return ch && strchr("!#$%&'*+.^_`|~", ch);
}

/* name[0..nlen) is want, any case. */
static inline int is_name(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

#endif

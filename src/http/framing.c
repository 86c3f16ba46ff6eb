/*
 * framing — see framing.h.
 */
#include "http/framing.h"

static int has_prefix(const char *name, size_t nlen, const char *want)
{
    size_t n = strlen(want);
    return nlen > n && strncasecmp(name, want, n) == 0;
}

unsigned head_field(struct head_check *hc, const char *name, size_t nlen,
                    const char *v, size_t vlen, const char **msg)
{
    if (nlen == 0) {
        *msg = "Bad Request: a header line without a field name (or without a colon)";
        return 400;
    }
    if (name[0] == ' ' || name[0] == '\t') {
        *msg = MSG_FOLD;
        return 400;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (is_tchar((unsigned char)name[i]))
            continue;
        if (name[i] == ' ' || name[i] == '\t')
            *msg = "Bad Request: whitespace between a header field name and the colon "
                   "(RFC 9112 5.1)";
        else if (name[i] == '\r')
            *msg = MSG_CR;
        else
            *msg = "Bad Request: a header field name holds a character other than "
                   "letters, digits and !#$%&'*+-.^_`|~ (or a line has no colon)";
        return 400;
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '\r') {
            *msg = MSG_CR;
            return 400;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            *msg = "Bad Request: a control character in a header field value";
            return 400;
        }
    }
    if (has_prefix(name, nlen, "content-length") ||
        has_prefix(name, nlen, "transfer-encoding")) {
        *msg = MSG_FOLD;            /* libmicrohttpd's trace of a folded line */
        return 400;
    }
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    if (is_name(name, nlen, "content-length")) {
        /* Digits to the line's end: libmicrohttpd 0.9.75 refuses a
         * Content-Length with whitespace after it, so both paths do (RFC
         * 9112 would allow it). */
        hc->lengths++;
        size_t k = 0;
        while (k < vlen && v[k] >= '0' && v[k] <= '9')
            k++;
        if (k == 0 || k != vlen)
            hc->length_bad = 1;     /* a huge one is 413, from the route */
    } else if (is_name(name, nlen, "transfer-encoding")) {
        /* Exactly "chunked", any case, nothing after it: libmicrohttpd
         * 0.9.75 reads "chunked " (a space after it) to the connection's
         * end. */
        hc->encodings++;
        if (!(vlen == 7 && strncasecmp(v, "chunked", 7) == 0))
            hc->coding_bad = 1;
    } else if (is_name(name, nlen, "host")) {
        hc->hosts++;
    } else if (is_name(name, nlen, "content-encoding")) {
        hc->codings++;
    } else if (is_name(name, nlen, "authorization")) {
        hc->auths++;
    } else if (is_name(name, nlen, "cookie")) {
        hc->cookies++;
    } else if (is_name(name, nlen, "origin")) {
        hc->origins++;
    }
    return 0;
}

unsigned head_verdict(const struct head_check *hc, const char **msg)
{
    if (hc->encodings > 1) {
        *msg = "Bad Request: Transfer-Encoding given more than once";
        return 400;
    }
    if (hc->encodings && hc->lengths) {
        *msg = "Bad Request: the body is framed twice (Transfer-Encoding with "
               "Content-Length); send one of them";
        return 400;
    }
    if (hc->coding_bad) {
        *msg = "Not Implemented: the only transfer coding accepted is a lone "
               "\"Transfer-Encoding: chunked\"; or send the body with Content-Length";
        return 501;
    }
    if (hc->lengths > 1) {
        *msg = "Bad Request: the body is framed twice (Content-Length given twice)";
        return 400;
    }
    if (hc->length_bad) {
        *msg = "Bad Request: Content-Length must be a decimal number of bytes";
        return 400;
    }
    if (hc->hosts > 1) {
        *msg = "Bad Request: Host given more than once";
        return 400;
    }
    /* Fields whose value decides who is asking: with two, a proxy in front
     * may check one while we use the other (RFC 9110 11.6.2 and RFC 6454
     * 7 allow one; RFC 6265 5.4 and RFC 9113 8.2.3 one Cookie line). */
    if (hc->auths > 1) {
        *msg = "Bad Request: Authorization given more than once";
        return 400;
    }
    if (hc->cookies > 1) {
        *msg = "Bad Request: Cookie given more than once; send the cookies in "
               "one field, separated by \"; \"";
        return 400;
    }
    if (hc->origins > 1) {
        *msg = "Bad Request: Origin given more than once";
        return 400;
    }
    if (!hc->hosts && !hc->http10) {
        *msg = "Bad Request: an HTTP/1.1 request needs a Host header";
        return 400;
    }
    return 0;
}

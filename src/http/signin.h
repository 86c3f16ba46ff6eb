/*
 * signin — the sign-in pages of a server with read or admin keys: GET
 * /signin (a form), POST /signin (check the key, start a session, set its
 * cookie), GET /signout (a page with a button), POST /signout (end the
 * session, clear the cookie), and the page a browser gets instead of a 401
 * JSON body when it asks for a page without a key (http_signin_refused).
 *
 * Plain HTML forms, no script. The cookie is HttpOnly, SameSite=Strict,
 * Path=/, Max-Age the session's lifetime, and Secure when the sign-in came
 * through HTTPS (an Origin of https://… or X-Forwarded-Proto: https from a
 * proxy in front). Cross-site forms are refused by the pipeline's Origin
 * check before any key is looked at (403), and SameSite=Strict keeps the
 * cookie off every request another site starts.
 */
#ifndef SF_HTTP_SIGNIN_H
#define SF_HTTP_SIGNIN_H

#include "http/http.h"

/* Add the four routes to ctx: 0, or -1 when the table is full. */
int http_signin_add_routes(struct http_ctx *ctx);
/* Answer r (a GET of a page, with no or a bad key) 401 with the sign-in
 * form, which comes back to r's URL once signed in. */
enum http_result http_signin_refused(struct http_req *r);

#endif

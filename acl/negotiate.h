/*
 * negotiate.h - Negotiate (Kerberos) proxy authentication, RFC 4559:
 * "Proxy-Authorization: Negotiate <base64 GSS token>" checked with MIT
 * krb5's GSS-API against the proxy's service key in a keytab (no KDC
 * round trip). The client's SPNEGO or raw Kerberos token must complete in
 * one leg (Kerberos does; NTLM inside SPNEGO would not, and MIT krb5 has
 * no NTLM).
 *
 * acl_negotiate_accept() may block (the keytab, the replay cache on disk):
 * the daemon calls it on its worker pool (squidlike/workq.h), never on the
 * event loop. It only reads the struct, so any number of threads may call
 * it at once on one struct. No sockets, no event loop here.
 */
#ifndef ACL_NEGOTIATE_H
#define ACL_NEGOTIATE_H

#include <stddef.h>

#include "acl/auth.h"
#include "squidlike/buf.h"

struct acl_negotiate;

/* Decoded tokens are at most this long (Active Directory tickets carry
 * the user's groups in their PAC: tens of KiB for users in many groups). */
#define ACL_NEGOTIATE_TOKEN_MAX (64 * 1024)

/*
 * keytab: a path or a krb5 keytab name ("FILE:/path"); NULL: the
 * environment's KRB5_KTNAME. principal: the service principal tickets
 * must be for ("HTTP/proxy.corp.example", realm optional: the default
 * realm of krb5.conf), "*" for any key in the keytab. strip_realm: the
 * user is "alice" rather than "alice@CORP.EXAMPLE". The keytab is opened
 * and its key for the principal looked up now, so that a missing or
 * unreadable keytab, or one without that key, is an error at load (err
 * names the file). NULL with err on failure.
 */
struct acl_negotiate *acl_negotiate_new(const char *keytab, const char *principal,
                                        int strip_realm, char *err, size_t errlen);
void acl_negotiate_free(struct acl_negotiate *n);

/* The keytab's name and the principal, as used (for logs and pages). */
const char *acl_negotiate_keytab(const struct acl_negotiate *n);
const char *acl_negotiate_principal(const struct acl_negotiate *n);

/*
 * Is value a Negotiate credential? 1 with the token decoded into tok (cap
 * bytes) and its length in *len; 0 when it is another scheme; -1 when it
 * is Negotiate but malformed (no token, bad base64, longer than
 * ACL_NEGOTIATE_TOKEN_MAX or than cap).
 */
int acl_negotiate_token(struct sl_view value, unsigned char *tok, size_t cap,
                        size_t *len);

/*
 * Verify one token (blocking; thread-safe). ACL_AUTH_OK with the client
 * principal in user (userlen bytes; realm kept or stripped as configured);
 * ACL_AUTH_BAD with why (whylen bytes) saying what failed, in the
 * library's words made printable (no quote, no backslash, no control
 * byte: it goes into a log line).
 */
enum acl_auth_result acl_negotiate_accept(const struct acl_negotiate *n,
                                          const unsigned char *tok, size_t len,
                                          char *user, size_t userlen,
                                          char *why, size_t whylen);

#endif

/*
 * auth.h - Basic proxy authentication against an htpasswd-style file of
 * crypt(3) hashes (yescrypt "$y$", SHA-512 "$6$", bcrypt "$2b$", as
 * libxcrypt supports them), with a bounded cache of verified credentials
 * so that hashing does not cost every request. No sockets, no event loop;
 * the file is read when the users are (re)loaded. Time is passed in.
 */
#ifndef ACL_AUTH_H
#define ACL_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "acl/b64.h"
#include "squidlike/buf.h"

struct acl_auth;

/* Bad lines of the file are reported and skipped. */
typedef void (*acl_auth_warn_cb)(void *data, const char *file, unsigned line,
                                 const char *why);

/*
 * Load "user:hash" lines (comments #, blank lines ignored; lines whose hash
 * is not a crypt(3) hash libxcrypt knows are reported and skipped; plain
 * text passwords are refused). cache_size entries of verified credentials
 * are kept for ttl seconds. Returns NULL with err.
 */
struct acl_auth *acl_auth_load(const char *path, size_t cache_size, time_t ttl,
                               acl_auth_warn_cb warn, void *warn_data,
                               char *err, size_t errlen);
void acl_auth_free(struct acl_auth *a);

enum acl_auth_result {
    ACL_AUTH_OK = 0,
    ACL_AUTH_NONE,              /* no credentials, or not Basic */
    ACL_AUTH_BAD,               /* wrong user or password, or malformed */
    ACL_AUTH_BUSY               /* not cached, and the hash budget is spent */
};

/*
 * A slow hash (yescrypt: ~20 ms) on the event loop for every wrong password
 * would let anyone who knows a user name stall the proxy. Before each hash
 * that is not a cached success, take(data) is asked; 0 means "no hash now"
 * and the check answers ACL_AUTH_BUSY. The daemon passes a token bucket.
 */
void acl_auth_set_budget(struct acl_auth *a, int (*take)(void *), void *data);

/*
 * Check a Proxy-Authorization value ("Basic base64(user:password)").
 * On OK, user (size at least 256) receives the user name. On BAD it
 * receives the name the client sent, non-printable bytes as '?', for the
 * log only (empty when none could be decoded). A cached
 * success is answered without hashing; failures are not cached (so a
 * changed password works at once) but cost a hash each.
 */
enum acl_auth_result acl_auth_check(struct acl_auth *a, struct sl_view value,
                                    time_t now, char *user, size_t userlen);

size_t acl_auth_users(const struct acl_auth *a);

/* acl_b64_decode: acl/b64.h */

#endif

/*
 * conf_gw_jwt.c - reverse.gateway.jwt: the keys bearer tokens are
 * verified with (PEM files, HMAC secret files, a JWKS file: all read
 * again at each reload, so rotating a key is a SIGHUP) and the claims they
 * must carry (acl/jwt.h). The key set and the cache of verified tokens
 * belong to the snapshot: a reload starts both afresh, so a token
 * verified with a key since removed is never let in from the cache. The
 * cache is made here, before the workers fork: each then writes its own
 * copy of it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "acl/jwt.h"
#include "squidlike/conf_int.h"

/* The whole of a small file into a new buffer (NUL after it). */
static char *slurp(struct ctx *x, const config_setting_t *s, const char *path,
                   size_t max, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        cf_fail(x, s, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        cf_fail(x, s, "%s: %s", path, !S_ISREG(st.st_mode) ? "not a regular file"
                : "too large");
        goto fail;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        cf_fail(x, s, "out of memory");
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cf_fail(x, s, "%s: %s", path, n < 0 ? strerror(errno) : "shorter than it was");
            goto fail;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

/* Secrets do not linger in freed memory. */
static void wipe_free(char *buf, size_t len)
{
    OPENSSL_cleanse(buf, len);
    free(buf);
}

static struct acl_jwt_keys *keys(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_gateway *gw = &x->c->reverse.gw;

    if (gw->jwt_keys == NULL && (gw->jwt_keys = acl_jwt_keys_new()) == NULL)
        cf_fail(x, s, "out of memory");
    return gw->jwt_keys;
}

/* conf-entries: keys */
static int jwt_key(struct ctx *x, const config_setting_t *g)
{
    const config_setting_t *s, *pem = NULL, *secret = NULL;
    const char *k, *kid = NULL, *path;
    char err[256], *buf;
    size_t len;
    int i, n, rc;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each jwt.keys entry must be a group ({ kid = \"k1\"; "
                       "pem = \"key.pem\"; } or { kid = \"h1\"; secret_file = \"h.key\"; })");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "kid") == 0) {
            if ((kid = cf_get_string(x, s)) == NULL)
                return -1;
        } else if (strcmp(k, "pem") == 0) {
            pem = s;
        } else if (strcmp(k, "secret_file") == 0) {
            secret = s;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a jwt.keys entry (expected one "
                           "of: kid, pem, secret_file)", k);
        }
    }
    if ((pem == NULL) == (secret == NULL))
        return cf_fail(x, g, "a jwt.keys entry has one of 'pem' and 'secret_file'");
    s = pem ? pem : secret;
    if ((path = cf_get_string(x, s)) == NULL || (buf = slurp(x, s, path, 64 * 1024, &len)) == NULL)
        return -1;
    if (keys(x, s) == NULL) {
        free(buf);
        return -1;
    }
    rc = pem ? acl_jwt_keys_add_pem(x->c->reverse.gw.jwt_keys, kid, buf, len, err, sizeof(err))
             : acl_jwt_keys_add_secret(x->c->reverse.gw.jwt_keys, kid, buf, len, err,
                                       sizeof(err));
    wipe_free(buf, len);
    return rc < 0 ? cf_fail(x, s, "%s: %s", path, err) : 0;
}

static int jwt_claims(struct ctx *x, const config_setting_t *s, char ***out, size_t *n)
{
    int i, m = cf_get_list(x, s, 16, "strings");
    const char *v;

    if (m < 0)
        return -1;
    for (i = 0; i < (int)*n; i++)
        free((*out)[i]);
    free(*out);
    *n = 0;
    if ((*out = calloc((size_t)m + 1, sizeof(char *))) == NULL)
        return cf_fail(x, s, "out of memory");
    for (i = 0; i < m; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if ((v = cf_get_string(x, e)) == NULL)
            return -1;
        if (v[0] == '\0' || strlen(v) >= SL_GW_NAME_MAX)
            return cf_fail(x, e, "bad claim name %s", cf_describe(x, e));
        if (((*out)[i] = strdup(v)) == NULL)
            return cf_fail(x, e, "out of memory");
        *n = (size_t)i + 1;
    }
    return 0;
}

/* conf-entries: jwt */
int cf_gw_jwt(struct ctx *x, const config_setting_t *g)
{
    struct sl_conf_gateway *gw = &x->c->reverse.gw;
    const config_setting_t *s;
    const char *k, *v;
    char err[256], *buf;
    long long ms;
    size_t len;
    int i, n, j, m;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'jwt' must be a group");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "keys") == 0) {
            if ((m = cf_get_list(x, s, ACL_JWT_MAX_KEYS, "groups")) < 0)
                return -1;
            for (j = 0; j < m; j++)
                if (jwt_key(x, config_setting_get_elem(s, (unsigned)j)) < 0)
                    return -1;
        } else if (strcmp(k, "jwks") == 0) {
            if ((v = cf_get_string(x, s)) == NULL ||
                (buf = slurp(x, s, v, ACL_JWKS_MAX_LEN, &len)) == NULL)
                return -1;
            free(gw->jwks_file);
            gw->jwks_file = strdup(v);
            if (keys(x, s) == NULL ||
                acl_jwt_keys_add_jwks(gw->jwt_keys, buf, len, err, sizeof(err)) < 0) {
                wipe_free(buf, len);
                return gw->jwt_keys ? cf_fail(x, s, "%s: %s", v, err) : -1;
            }
            wipe_free(buf, len);
        } else if (strcmp(k, "algorithms") == 0) {
            if ((m = cf_get_list(x, s, 16, "strings")) < 0)
                return -1;
            gw->jwt_algs = 0;
            for (j = 0; j < m; j++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
                unsigned a;
                if ((v = cf_get_string(x, e)) == NULL)
                    return -1;
                if ((a = acl_jwt_alg_parse(v)) == 0)
                    return cf_fail(x, e, "unknown algorithm \"%s\" (one of HS256 HS384 "
                                   "HS512 RS256 RS384 RS512 PS256 ES256 ES384 EdDSA; "
                                   "never none)", v);
                gw->jwt_algs |= a;
            }
            if (gw->jwt_algs == 0)
                return cf_fail(x, s, "'algorithms' is empty");
        } else if (strcmp(k, "issuer") == 0 || strcmp(k, "audience") == 0) {
            char **f = k[0] == 'i' ? &gw->jwt_issuer : &gw->jwt_audience;
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            free(*f);
            if ((*f = strdup(v)) == NULL)
                return cf_fail(x, s, "out of memory");
        } else if (strcmp(k, "clock_skew") == 0) {
            if (cf_gw_duration0(x, s, &ms) < 0)
                return -1;
            if (ms < 0 || ms > 10 * MS_M)
                return cf_fail(x, s, "'clock_skew' is out of range (0s to 10m)");
            gw->jwt_skew_s = ms / 1000;
        } else if (strcmp(k, "require") == 0) {
            if (jwt_claims(x, s, &gw->jwt_require, &gw->n_jwt_require) < 0)
                return -1;
        } else if (strcmp(k, "consumer_claim") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (v[0] == '\0' || strlen(v) >= sizeof(gw->jwt_consumer_claim))
                return cf_fail(x, s, "'consumer_claim' must be 1 to %d bytes",
                               (int)sizeof(gw->jwt_consumer_claim) - 1);
            snprintf(gw->jwt_consumer_claim, sizeof(gw->jwt_consumer_claim), "%s", v);
        } else if (strcmp(k, "cache_size") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 0 ||
                config_setting_get_int64(s) > ACL_JWT_CACHE_MAX)
                return cf_fail(x, s, "'cache_size' must be 0 to %u", ACL_JWT_CACHE_MAX);
            gw->jwt_cache_size = (size_t)config_setting_get_int64(s);
        } else {
            return cf_fail(x, s, "unknown setting '%s' in 'jwt' (expected one of: keys, "
                           "jwks, algorithms, issuer, audience, clock_skew, require, "
                           "consumer_claim, cache_size)", k);
        }
    }
    if (gw->jwt_keys == NULL || acl_jwt_keys_count(gw->jwt_keys) == 0)
        return cf_fail(x, g, "'jwt' has no keys (jwt.keys or a jwks file with keys)");
    if (gw->jwt_cache_size > 0 &&
        (gw->jwt_cache = acl_jwt_cache_new(gw->jwt_cache_size, gw->jwt_skew_s)) == NULL)
        return cf_fail(x, g, "out of memory (jwt.cache_size)");
    return 0;
}

int cf_gw_jwt_defaults(struct sl_conf_gateway *gw)
{
    static const char *const exp[] = { "exp" };

    gw->jwt_algs = ACL_JWT_ALGS_ALL;
    if ((gw->jwt_require = calloc(2, sizeof(char *))) == NULL ||
        (gw->jwt_require[0] = strdup(exp[0])) == NULL)
        return -1;
    gw->n_jwt_require = 1;
    return 0;
}

void cf_gw_jwt_free(struct sl_conf_gateway *gw)
{
    size_t i;

    acl_jwt_keys_free(gw->jwt_keys);
    acl_jwt_cache_free(gw->jwt_cache);
    free(gw->jwks_file);
    free(gw->jwt_issuer);
    free(gw->jwt_audience);
    for (i = 0; i < gw->n_jwt_require; i++)
        free(gw->jwt_require[i]);
    free(gw->jwt_require);
}

/*
 * conf_tls.c - HTTPS for reverse mode (conf.h: struct sl_conf_tls):
 *
 *   reverse: {
 *     tls_listen = [ "0.0.0.0:443" ];
 *     tls: {
 *       certificates = ( { cert = "/etc/ssl/www.pem"; key = "/etc/ssl/www.key"; },
 *                        { cert = "/etc/ssl/www-ec.pem"; key = "/etc/ssl/www-ec.key"; } );
 *       min_protocol = "TLSv1.2";
 *     };
 *   };
 *
 * The files are read once the group is walked (cf_tls_finish): a
 * certificate that cannot be used fails the load with the FILE:LINE of its
 * entry, and at a reload the running snapshot keeps serving.
 */
#include "config.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/conf_int.h"
#include "squidlike/tls.h"

/* Mozilla's "intermediate" TLS 1.2 list (ECDHE only: no DH parameters to
 * ship); TLS 1.3 keeps OpenSSL's suites. */
#define DEFAULT_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void where(struct ctx *x, const config_setting_t *s, char *buf, size_t n)
{
    const char *f = config_setting_source_file(s);

    snprintf(buf, n, "%s:%u", f ? f : x->path, config_setting_source_line(s));
}

static const char *e_tls_listen(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return sl_conf_parse_listen(v, &x->c->reverse.tls_listen[i], &why) < 0 ? why : NULL;
}

int cf_k_reverse_tls_listen(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_LISTEN, "address", e_tls_listen);

    x->tls_listen = s;
    x->c->reverse.n_tls_listen = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

static int file_string(struct ctx *x, const config_setting_t *s, char **field)
{
    const char *v = cf_get_string(x, s);

    if (v == NULL)
        return -1;
    if (v[0] == '\0')
        return cf_fail(x, s, "'%s' must name a file", cf_sname(s));
    free(*field);
    if ((*field = strdup(v)) == NULL)
        return cf_fail(x, s, "out of memory");
    return 0;
}

/* conf-entries: certificates */
static int one_cert(struct ctx *x, const config_setting_t *g, struct sl_conf_cert *c)
{
    const config_setting_t *s;
    const char *k;
    int i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "each certificates entry must be a group ({ cert = "
                       "\"www.pem\"; key = \"www.key\"; })");
    where(x, g, c->where, sizeof(c->where));
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "cert") == 0) {
            if (file_string(x, s, &c->cert) < 0)
                return -1;
        } else if (strcmp(k, "key") == 0) {
            if (file_string(x, s, &c->key) < 0)
                return -1;
        } else if (strcmp(k, "ocsp") == 0) {
            if (file_string(x, s, &c->ocsp) < 0)
                return -1;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in a certificates entry "
                           "(expected one of: cert, key, ocsp)", k);
        }
    }
    if (c->cert == NULL)
        return cf_fail(x, g, "certificates entry without 'cert'");
    if (c->key == NULL)
        return cf_fail(x, g, "certificates entry without 'key'");
    return 0;
}

static int certificates(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_tls *t = &x->c->reverse.tls;
    int i, n = cf_get_list(x, s, SL_CONF_MAX_CERTS, "groups");

    if (n < 0)
        return -1;
    if (t->n_certs > 0)
        return cf_fail(x, s, "a second 'certificates' list");
    for (i = 0; i < n; i++) {
        t->n_certs = (size_t)i + 1;
        if (one_cert(x, config_setting_get_elem(s, (unsigned)i), &t->certs[i]) < 0)
            return -1;
    }
    return 0;
}

static const char *e_ticket(struct ctx *x, const char *v, size_t i)
{
    struct sl_conf_tls *t = &x->c->reverse.tls;

    if (v[0] == '\0')
        return "an empty file name";
    if ((t->ticket_key_files[i] = strdup(v)) == NULL)
        return "out of memory";
    t->n_ticket_key_files = i + 1;
    return NULL;
}

static int duration(struct ctx *x, const config_setting_t *s, int64_t *ms,
                    long long lo, long long hi)
{
    long long v;

    if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
        return -1;
    if (v < lo || v > hi)
        return cf_fail(x, s, "'%s' must be between %llds and %llds", cf_sname(s),
                       lo / 1000, hi / 1000);
    *ms = v;
    return 0;
}

int cf_k_reverse_tls(struct ctx *x, const config_setting_t *g)
{
    struct sl_conf_tls *t = &x->c->reverse.tls;
    const config_setting_t *s;
    const char *k, *v;
    int i, n;

    if (!config_setting_is_group(g))
        return cf_fail(x, g, "'tls' must be a group (tls: { certificates = ( ... ); };)");
    n = config_setting_length(g);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        k = config_setting_name(s);
        if (strcmp(k, "certificates") == 0) {
            if (certificates(x, s) < 0)
                return -1;
        } else if (strcmp(k, "min_protocol") == 0) {
            if ((v = cf_get_string(x, s)) == NULL)
                return -1;
            if (strcmp(v, "TLSv1.2") == 0)
                t->min_version = TLS1_2_VERSION;
            else if (strcmp(v, "TLSv1.3") == 0)
                t->min_version = TLS1_3_VERSION;
            else
                return cf_fail(x, s, "'min_protocol' must be \"TLSv1.2\" or \"TLSv1.3\" "
                               "(older versions are not offered)");
        } else if (strcmp(k, "ciphers") == 0) {
            if (cf_set_string(x, s, &t->ciphers, NULL) < 0)
                return -1;
        } else if (strcmp(k, "ciphersuites") == 0) {
            if (cf_set_string(x, s, &t->ciphersuites, NULL) < 0)
                return -1;
        } else if (strcmp(k, "session_tickets") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cf_fail(x, s, "'session_tickets' must be true or false");
            t->session_tickets = config_setting_get_bool(s);
        } else if (strcmp(k, "ticket_key_files") == 0) {
            if (t->n_ticket_key_files > 0)
                return cf_fail(x, s, "a second 'ticket_key_files' list");
            where(x, s, t->ticket_where, sizeof(t->ticket_where));
            if (cf_each_string(x, s, SL_CONF_MAX_TICKET_KEYS, "file", e_ticket) < 0)
                return -1;
        } else if (strcmp(k, "ticket_key_lifetime") == 0) {
            if (duration(x, s, &t->ticket_key_lifetime, MS_M, DURATION_MAX_MS) < 0)
                return -1;
        } else if (strcmp(k, "session_cache") == 0) {
            if (!cf_is_int(s) || config_setting_get_int64(s) < 0 ||
                config_setting_get_int64(s) > 10 * 1000 * 1000)
                return cf_fail(x, s, "'session_cache' must be a number of sessions, "
                               "0 to 10000000");
            t->session_cache = (size_t)config_setting_get_int64(s);
        } else if (strcmp(k, "session_timeout") == 0) {
            if (duration(x, s, &t->session_timeout, MS_S, MS_D) < 0)
                return -1;
        } else if (strcmp(k, "handshake_timeout") == 0) {
            if (duration(x, s, &t->handshake_timeout, 100, 10 * MS_M) < 0)
                return -1;
        } else {
            return cf_fail(x, s, "unknown setting '%s' in group 'reverse.tls' (expected "
                           "one of: certificates, min_protocol, ciphers, ciphersuites, "
                           "session_tickets, ticket_key_files, ticket_key_lifetime, "
                           "session_cache, session_timeout, handshake_timeout)", k);
        }
    }
    return 0;
}

int cf_tls_finish(struct ctx *x)
{
    struct sl_conf_reverse *r = &x->c->reverse;
    char err[512];

    if (r->n_tls_listen == 0)
        return 0;               /* certificates without a listener: unused */
    if (r->tls.n_certs == 0)    /* named at tls_listen's line */
        return cf_fail(x, x->tls_listen, "reverse.tls_listen is set but "
                       "reverse.tls.certificates is empty");
    if ((r->tls.rt = sl_tls_new(&r->tls, err, sizeof(err))) == NULL) {
        cf_seterr(x, "%s", err);
        return -1;
    }
    return 0;
}

int cf_tls_defaults(struct sl_conf_tls *t)
{
    t->min_version = TLS1_2_VERSION;
    t->session_tickets = 1;
    t->ticket_key_lifetime = 12 * MS_H;
    t->session_cache = 20000;
    t->session_timeout = MS_H;
    t->handshake_timeout = 10 * MS_S;
    return (t->ciphers = strdup(DEFAULT_CIPHERS)) == NULL ? -1 : 0;
}

void cf_tls_free(struct sl_conf_tls *t)
{
    size_t i;

    sl_tls_free(t->rt);
    for (i = 0; i < t->n_certs; i++) {
        free(t->certs[i].cert);
        free(t->certs[i].key);
        free(t->certs[i].ocsp);
    }
    for (i = 0; i < t->n_ticket_key_files; i++)
        free(t->ticket_key_files[i]);
    free(t->ciphers);
    free(t->ciphersuites);
}

/*
 * tls.c - TLS termination: contexts, SNI, session tickets (see tls.h).
 * The record I/O is in tls_io.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "squidlike/chars.h"
#include "squidlike/conf.h"
#include "squidlike/hash.h"
#include "squidlike/shared.h"
#include "squidlike/tls.h"

#define MAX_NAMES_PER_CERT 100  /* SANs looked at per certificate */
#define MAX_OCSP (64 * 1024)
#define TICKET_KEY_FILE_LEN SL_TLS_TICKET_KEY_LEN

struct ticket_key {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
};

struct cert {
    const struct sl_conf_cert *conf;
    X509 *x509;                 /* its leaf (a reference) */
    char names[512];            /* for the status page */
    int64_t not_after;
    const char *key_type;
    uint64_t set;               /* its names, as a set (names_set) */
    unsigned char *ocsp;        /* DER to staple */
    long ocsp_len;
    size_t ctx;                 /* index in t->ctxs */
};

struct name {
    char *name;                 /* lowercase; "*.suffix" for wildcards */
    size_t ctx;
};

struct sl_tls {
    SSL_CTX *ctxs[SL_CONF_MAX_CERTS];   /* [0]: the default certificate's */
    size_t nctx;
    struct cert certs[SL_CONF_MAX_CERTS];
    size_t ncerts;
    struct name *names;
    size_t nnames;
    struct ticket_key file_keys[SL_CONF_MAX_TICKET_KEYS];
    size_t nfile_keys;
    int64_t key_lifetime;       /* s */
};

/*
 * Keys no file gives are derived from one secret (sl_tls_set_ticket_secret:
 * the workers' shared one), per period of key_lifetime: period e =
 * floor(unix time / lifetime) has the key HKDF-Expand(secret, info(e)),
 * so every worker holds the same keys with no word between them. [0]:
 * period e, encrypts; [1], [2]: e-1, e-2, still decrypt (a ticket lives
 * two to three lifetimes); [3]: e+1, decrypts only, for the few ms at a
 * period's end when another worker's clock read already passed it.
 * Cached per process for the period (and lifetime) they were made for.
 */
#define GEN_KEYS 4
static struct ticket_key gen_keys[GEN_KEYS];
static int64_t gen_epoch = -1, gen_lifetime;
static unsigned char own_secret[SL_TLS_TICKET_SECRET_LEN];
static const unsigned char *gen_secret;  /* NULL: own_secret, made at first use */
/* The handshake counters: this worker's slot's (sl_tls_set_shared), and
 * read as the sum of every slot; before that, this process's own. */
static struct sl_wtls own_stats;
static struct sl_wtls *stats = &own_stats;
static const struct sl_shared *stats_sh;
static int ex_index = -1;       /* SSL_CTX ex data: its struct sl_tls */

/* ------------------------------------------------------------ names */

int sl_tls_name_match(const char *p, const char *h)
{
    const char *dot;

    if (p[0] == '*' && p[1] == '.') {
        dot = strchr(h, '.');
        /* One whole label, not empty, and never the bare suffix. */
        return dot != NULL && dot != h && strcasecmp(dot + 1, p + 2) == 0;
    }
    return strcasecmp(p, h) == 0;
}

/* Name n (lowercase already: names_add) now selects context ctx, unless
 * an earlier certificate has it. */
static int add_name(struct sl_tls *t, const char *n, size_t ctx)
{
    struct name *nn;
    size_t i;

    for (i = 0; i < t->nnames; i++)
        if (strcmp(t->names[i].name, n) == 0)
            return 0;           /* the first certificate that has it wins */
    nn = realloc(t->names, (t->nnames + 1) * sizeof(*nn));
    if (nn == NULL)
        return -1;
    t->names = nn;
    if ((nn[t->nnames].name = strdup(n)) == NULL)
        return -1;
    nn[t->nnames].ctx = ctx;
    t->nnames++;
    return 0;
}

/* The DNS names of a certificate, lowercase, in its order (as set, they
 * decide which certificates share a context: names_set). */
struct names {
    char *v[MAX_NAMES_PER_CERT];
    size_t n;
};

static void names_free(struct names *nl)
{
    while (nl->n > 0)
        free(nl->v[--nl->n]);
}

static int names_add(struct names *nl, const char *d, size_t len)
{
    size_t i;

    if (len == 0 || len > 253 || memchr(d, '\0', len) || memchr(d, ',', len) ||
        nl->n == MAX_NAMES_PER_CERT)
        return 0;               /* not a name (or past the 100 we look at) */
    if ((nl->v[nl->n] = strndup(d, len)) == NULL)
        return -1;
    for (i = 0; i < len; i++)
        nl->v[nl->n][i] = (char)sl_lower((unsigned char)nl->v[nl->n][i]);
    nl->n++;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* x's DNS subjectAltNames, or its commonName when it has none. */
static int cert_names(X509 *x, struct names *nl)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, rc = 0;

    for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && rc == 0; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

        if (g->type == GEN_DNS && ASN1_STRING_length(g->d.dNSName) > 0)
            rc = names_add(nl, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
                           (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    if (rc == 0 && nl->n == 0) {
        char cn[256];
        int len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
                                            cn, sizeof(cn));
        if (len > 0)
            rc = names_add(nl, cn, (size_t)len);
    }
    return rc;
}

/* For the status pages: the names joined, cut with "..." to fit. */
static void names_text(const struct names *nl, char *buf, size_t n)
{
    size_t used = 0, i, k;

    buf[0] = '\0';
    for (i = 0; i < nl->n; i++) {
        k = strlen(nl->v[i]);
        if (used + k + 5 > n) {
            snprintf(buf + used, n - used, "%s...", used ? "," : "");
            return;
        }
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "", nl->v[i]);
    }
}

/* A hash of the names as a set: the same whatever their order. */
static uint64_t names_set(const struct names *nl)
{
    char *v[MAX_NAMES_PER_CERT];
    uint64_t h = SL_FNV64_INIT;
    size_t i;
    const char *p;

    memcpy(v, nl->v, nl->n * sizeof(v[0]));
    qsort(v, nl->n, sizeof(v[0]), cmp_name);
    for (i = 0; i < nl->n; i++) {
        for (p = v[i]; *p; p++)
            h = sl_fnv64_step(h, (unsigned char)*p);
        h = sl_fnv64_step(h, ',');
    }
    return h;
}

/* ------------------------------------------------------------ tickets */

static int key_from_file(const char *path, struct ticket_key *k, char *err, size_t errlen)
{
    unsigned char b[TICKET_KEY_FILE_LEN + 1];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (n != TICKET_KEY_FILE_LEN) {
        snprintf(err, errlen, "%s: a ticket key file holds exactly %d random bytes "
                 "(openssl rand 80 > FILE), this one %s%zu", path, TICKET_KEY_FILE_LEN,
                 n > TICKET_KEY_FILE_LEN ? "more than " : "", n > TICKET_KEY_FILE_LEN ?
                 (size_t)TICKET_KEY_FILE_LEN : n);
        return -1;
    }
    memcpy(k->name, b, 16);
    memcpy(k->hmac, b + 16, 32);
    memcpy(k->aes, b + 48, 32);
    OPENSSL_cleanse(b, sizeof(b));
    return 0;
}

void sl_tls_set_ticket_secret(const unsigned char *secret)
{
    gen_secret = secret;
    gen_epoch = -1;
}

int sl_tls_ticket_derive(const unsigned char *secret, int64_t lifetime, int64_t epoch,
                         unsigned char out[SL_TLS_TICKET_KEY_LEN])
{
    unsigned char info[40];
    EVP_KDF *kdf;
    EVP_KDF_CTX *kc;
    OSSL_PARAM p[5];
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, rc, i;

    /* The secret is uniformly random already: it is the PRK, and only
     * the expand step is needed (RFC 5869 3.3). The lifetime is in the
     * info too: a reload that changes it never meets keys of the other. */
    memcpy(info, "squidlike ticket key v1\0", 24);
    for (i = 0; i < 8; i++) {
        info[24 + i] = (unsigned char)((uint64_t)lifetime >> (56 - 8 * i));
        info[32 + i] = (unsigned char)((uint64_t)epoch >> (56 - 8 * i));
    }
    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
        return -1;
    kc = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kc == NULL)
        return -1;
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
                                             SL_TLS_TICKET_SECRET_LEN);
    p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
    p[4] = OSSL_PARAM_construct_end();
    rc = EVP_KDF_derive(kc, out, SL_TLS_TICKET_KEY_LEN, p) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(kc);
    return rc;
}

/* The generated keys of now's period (derived again when it changes). */
static int gen_keys_for(int64_t now, int64_t lifetime)
{
    static const int off[GEN_KEYS] = { 0, -1, -2, 1 };
    unsigned char b[SL_TLS_TICKET_KEY_LEN];
    int64_t e = now / lifetime;
    int i;

    if (e == gen_epoch && lifetime == gen_lifetime)
        return 0;
    if (gen_secret == NULL) {
        /* No shared secret (a tool, a test): this process's own. */
        if (RAND_bytes(own_secret, sizeof(own_secret)) != 1)
            return -1;
        gen_secret = own_secret;
    }
    for (i = 0; i < GEN_KEYS; i++) {
        if (sl_tls_ticket_derive(gen_secret, lifetime, e + off[i], b) < 0)
            return -1;
        memcpy(gen_keys[i].name, b, 16);
        memcpy(gen_keys[i].hmac, b + 16, 32);
        memcpy(gen_keys[i].aes, b + 48, 32);
    }
    OPENSSL_cleanse(b, sizeof(b));
    gen_epoch = e;
    gen_lifetime = lifetime;
    return 0;
}

static int set_keys(const struct ticket_key *k, unsigned char *iv,
                    EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM p[3];

    p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, 32);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(hctx, p) != 1)
        return -1;
    if (enc)
        return EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
    return EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: 1 ok, 2 ok but renew the ticket (made with an
 * older key), 0 no such key (full handshake), -1 error. */
static int ticket_cb(SSL *s, unsigned char *name, unsigned char *iv,
                     EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
    struct sl_tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_index);
    const struct ticket_key *keys;
    size_t n, i;

    if (t == NULL)
        return -1;
    if (t->nfile_keys > 0) {
        keys = t->file_keys;
        n = t->nfile_keys;
    } else {
        if (gen_keys_for((int64_t)time(NULL), t->key_lifetime) < 0)
            return -1;
        keys = gen_keys;
        n = GEN_KEYS;
    }
    if (enc) {
        if (RAND_bytes(iv, 16) != 1)
            return -1;
        memcpy(name, keys[0].name, 16);
        return set_keys(&keys[0], iv, ctx, hctx, 1) < 0 ? -1 : 1;
    }
    for (i = 0; i < n; i++)
        if (CRYPTO_memcmp(name, keys[i].name, 16) == 0)
            break;
    if (i == n)
        return 0;
    if (set_keys(&keys[i], iv, ctx, hctx, 0) < 0)
        return -1;
    /* An older key's ticket is renewed; a file's [1].. and the generated
     * [1], [2] are older, the generated [3] (the next period) is not. */
    return i == 0 || (keys == gen_keys && i == 3) ? 1 : 2;
}

/* ------------------------------------------------------------ SNI, ALPN, OCSP */

static int sni_cb(SSL *s, int *alert, void *arg)
{
    struct sl_tls *t = arg;
    const char *h = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    size_t i, best = 0;
    int found = 0;

    (void)alert;
    if (h == NULL)
        return SSL_TLSEXT_ERR_OK;   /* no SNI: the default certificate */
    for (i = 0; i < t->nnames; i++) {
        if (t->names[i].name[0] != '*' && strcasecmp(t->names[i].name, h) == 0) {
            best = i;
            found = 2;
            break;
        }
        if (!found && t->names[i].name[0] == '*' && sl_tls_name_match(t->names[i].name, h)) {
            best = i;
            found = 1;
        }
    }
    if (found && t->names[best].ctx != 0)
        SSL_set_SSL_CTX(s, t->ctxs[t->names[best].ctx]);
    /* An unknown name gets the default certificate (as nginx's default
     * server does): the client decides what a mismatch means. */
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";

    (void)s;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof(ours) - 1,
                              in, inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK;    /* go on without ALPN, as HTTP/1.1 */
}

static int ocsp_cb(SSL *s, void *arg)
{
    struct sl_tls *t = arg;
    X509 *x = SSL_get_certificate(s);
    unsigned char *copy;
    size_t i;

    for (i = 0; i < t->ncerts; i++) {
        if (t->certs[i].x509 != x || t->certs[i].ocsp == NULL)
            continue;
        if ((copy = OPENSSL_memdup(t->certs[i].ocsp, (size_t)t->certs[i].ocsp_len)) == NULL)
            return SSL_TLSEXT_ERR_NOACK;
        SSL_set_tlsext_status_ocsp_resp(s, copy, t->certs[i].ocsp_len);
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ------------------------------------------------------------ building */

/* Why OpenSSL could not use a file: the system's error when it had one
 * (No such file or directory, Permission denied), else its last reason;
 * the error queue is left empty. */
static const char *load_why(const char *dflt)
{
    unsigned long e, last = 0;
    const char *why;

    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e)) {
            ERR_clear_error();
            return strerror(ERR_GET_REASON(e));
        }
        last = e;
    }
    why = last ? ERR_reason_error_string(last) : NULL;
    return why ? why : dflt;
}

static void ssl_err(char *err, size_t errlen, const char *where, const char *what,
                    const char *file)
{
    snprintf(err, errlen, "%s: reverse.tls.certificates: %s %s: %s", where, what,
             file, load_why("unusable"));
}

static SSL_CTX *new_ctx(struct sl_tls *t, const struct sl_conf_tls *c,
                        char *err, size_t errlen)
{
    static const unsigned char sid_ctx[] = "squidlike";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, c->min_version);
    /* A client that closes without close_notify (most browsers, on an
     * idle connection) has ended the connection, not attacked it: HTTP's
     * own framing tells a cut response (nginx does the same). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                        SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* One read(2) per record, not a header then a body; what is read
     * beyond a record waits in OpenSSL's buffer (tls_io.c keeps the ready
     * flag while it does). */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (c->ciphers && SSL_CTX_set_cipher_list(ctx, c->ciphers) != 1) {
        snprintf(err, errlen, "reverse.tls.ciphers: no usable cipher in \"%s\"", c->ciphers);
        goto fail_ctx;
    }
    if (c->ciphersuites && SSL_CTX_set_ciphersuites(ctx, c->ciphersuites) != 1) {
        snprintf(err, errlen, "reverse.tls.ciphersuites: no usable suite in \"%s\"",
                 c->ciphersuites);
        goto fail_ctx;
    }
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_timeout(ctx, (long)(c->session_timeout / 1000));
    if (c->session_cache > 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, (long)c->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (c->session_tickets) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
        SSL_CTX_set_num_tickets(ctx, 1);
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, c->session_cache > 0 ? 1 : 0);
    }
    SSL_CTX_set_ex_data(ctx, ex_index, t);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, t);
    SSL_CTX_set_tlsext_status_cb(ctx, ocsp_cb);
    SSL_CTX_set_tlsext_status_arg(ctx, t);
    return ctx;
fail_ctx:
    SSL_CTX_free(ctx);
    return NULL;
fail:
    snprintf(err, errlen, "reverse.tls: cannot make a TLS context (out of memory)");
    return NULL;
}

static int64_t asn1_unix(const ASN1_TIME *a)
{
    struct tm tm;

    if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static int read_ocsp(struct cert *ce, char *err, size_t errlen)
{
    const char *path = ce->conf->ocsp;
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    const unsigned char *p;
    OCSP_RESPONSE *r;
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "%s: reverse.tls.certificates: ocsp %s: %s",
                 ce->conf->where, path, strerror(errno));
        return -1;
    }
    if ((b = malloc(MAX_OCSP + 1)) == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n = fread(b, 1, MAX_OCSP + 1, f);
    fclose(f);
    p = b;
    if (n == 0 || n > MAX_OCSP || (r = d2i_OCSP_RESPONSE(NULL, &p, (long)n)) == NULL) {
        snprintf(err, errlen, "%s: reverse.tls.certificates: ocsp %s: not a DER OCSP "
                 "response (of at most 64 KiB)", ce->conf->where, path);
        free(b);
        return -1;
    }
    OCSP_RESPONSE_free(r);
    ce->ocsp = b;
    ce->ocsp_len = (long)n;
    return 0;
}

/* Load certificate entry i into the context of the entries with the same
 * names (a new one when none has them). */
static int load_cert(struct sl_tls *t, const struct sl_conf_tls *c, size_t i,
                     char *err, size_t errlen)
{
    const struct sl_conf_cert *cc = &c->certs[i];
    struct cert *ce = &t->certs[t->ncerts];
    struct names nl = { { NULL }, 0 };
    SSL_CTX *ctx;
    X509 *x;
    size_t j, k;
    int id, rc = -1;

    /* Read the leaf alone first, to learn its names. */
    {
        FILE *f = fopen(cc->cert, "r");

        if (f == NULL) {
            snprintf(err, errlen, "%s: reverse.tls.certificates: cert %s: %s",
                     cc->where, cc->cert, strerror(errno));
            return -1;
        }
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (x == NULL) {
            ssl_err(err, errlen, cc->where, "cert", cc->cert);
            return -1;
        }
    }
    ce->conf = cc;
    if (cert_names(x, &nl) < 0) {
        X509_free(x);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    names_text(&nl, ce->names, sizeof(ce->names));
    ce->set = names_set(&nl);
    ce->not_after = asn1_unix(X509_get0_notAfter(x));
    id = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
    ce->key_type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" :
                   id == EVP_PKEY_ED25519 ? "ED25519" : "other";
    X509_free(x);
    if (nl.n == 0) {
        snprintf(err, errlen, "%s: reverse.tls.certificates: cert %s names no host "
                 "(no DNS subjectAltName, no commonName)", cc->where, cc->cert);
        goto out;
    }
    for (j = 0; j < t->ncerts; j++)
        if (t->certs[j].set == ce->set)
            break;
    if (j < t->ncerts) {
        ce->ctx = t->certs[j].ctx;
        for (k = 0; k < t->ncerts; k++)
            if (t->certs[k].ctx == ce->ctx && strcmp(t->certs[k].key_type, ce->key_type) == 0) {
                snprintf(err, errlen, "%s: reverse.tls.certificates: cert %s: a second %s "
                         "certificate for %s (one per key type)", cc->where, cc->cert,
                         ce->key_type, ce->names);
                goto out;
            }
    } else {
        if ((ctx = new_ctx(t, c, err, errlen)) == NULL)
            goto out;
        ce->ctx = t->nctx;
        t->ctxs[t->nctx++] = ctx;
    }
    ctx = t->ctxs[ce->ctx];
    if (SSL_CTX_use_certificate_chain_file(ctx, cc->cert) != 1) {
        ssl_err(err, errlen, cc->where, "cert", cc->cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cc->key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, cc->where, "key", cc->key);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: reverse.tls.certificates: key %s does not match "
                 "cert %s", cc->where, cc->key, cc->cert);
        ERR_clear_error();
        goto out;
    }
    ce->x509 = SSL_CTX_get0_certificate(ctx);
    if (cc->ocsp && read_ocsp(ce, err, errlen) < 0)
        goto out;
    t->ncerts++;
    for (j = 0; j < nl.n; j++)
        if (add_name(t, nl.v[j], ce->ctx) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    rc = 0;
out:
    names_free(&nl);
    return rc;
}

struct sl_tls *sl_tls_new(const struct sl_conf_tls *c, char *err, size_t errlen)
{
    struct sl_tls *t;
    size_t i;

    if (ex_index < 0 && (ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0) {
        snprintf(err, errlen, "reverse.tls: OpenSSL ex data: out of memory");
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        snprintf(err, errlen, "reverse.tls: out of memory");
        return NULL;
    }
    t->key_lifetime = c->ticket_key_lifetime / 1000;
    if (t->key_lifetime < 1)
        t->key_lifetime = 1;
    for (i = 0; i < c->n_ticket_key_files; i++) {
        char why[300];

        if (key_from_file(c->ticket_key_files[i], &t->file_keys[t->nfile_keys++],
                          why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: reverse.tls.ticket_key_files: %s",
                     c->ticket_where, why);
            goto fail;
        }
    }
    for (i = 0; i < c->n_certs; i++)
        if (load_cert(t, c, i, err, errlen) < 0)
            goto fail;
    if (t->nctx > 0) {
        SSL_CTX_set_tlsext_servername_callback(t->ctxs[0], sni_cb);
        SSL_CTX_set_tlsext_servername_arg(t->ctxs[0], t);
    }
    return t;
fail:
    sl_tls_free(t);
    return NULL;
}

void sl_tls_free(struct sl_tls *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nctx; i++)
        SSL_CTX_free(t->ctxs[i]);
    for (i = 0; i < t->ncerts; i++)
        free(t->certs[i].ocsp);
    for (i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    OPENSSL_cleanse(t->file_keys, sizeof(t->file_keys));
    free(t);
}

SSL *sl_tls_accept(struct sl_tls *t, int fd)
{
    SSL *s;

    if (t == NULL || t->nctx == 0 || (s = SSL_new(t->ctxs[0])) == NULL)
        return NULL;
    if (SSL_set_fd(s, fd) != 1) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_accept_state(s);
    return s;
}

/* Why loading a file failed, from OpenSSL's error queue (emptied): a
 * system error (a file missing or unreadable) in strerror's words, which
 * its last entry ("system lib") would hide, else that last reason. */
SSL_CTX *sl_tls_client_ctx(const char *ca, int verify, const char *cert,
                           const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        snprintf(err, errlen, "cannot make a TLS context (out of memory)");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                        SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            snprintf(err, errlen, "tls_ca %s: %s", ca ? ca : "(the system's)",
                     load_why("unusable"));
            goto fail;
        }
    }
    if (cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
                         SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_check_private_key(ctx) != 1)) {
        snprintf(err, errlen, "tls_cert %s / tls_key %s: %s", cert, key,
                 load_why("the key does not match"));
        goto fail;
    }
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *sl_tls_connect(SSL_CTX *ctx, int fd, const char *name)
{
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    SSL *s = SSL_new(ctx);

    if (s == NULL)
        return NULL;
    if (SSL_set_fd(s, fd) != 1)
        goto fail;
    SSL_set_connect_state(s);
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name) != 1)
            goto fail;
    } else if (name[0] != '\0') {
        if (SSL_set_tlsext_host_name(s, name) != 1 || SSL_set1_host(s, name) != 1)
            goto fail;
    }
    return s;
fail:
    ERR_clear_error();
    SSL_free(s);
    return NULL;
}

const char *sl_tls_verify_why(SSL *ssl)
{
    long v = SSL_get_verify_result(ssl);

    return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}

size_t sl_tls_ncerts(const struct sl_tls *t)
{
    return t ? t->ncerts : 0;
}

void sl_tls_cert(const struct sl_tls *t, size_t i, struct sl_tls_cert_info *out)
{
    out->file = t->certs[i].conf->cert;
    out->names = t->certs[i].names;
    out->not_after = t->certs[i].not_after;
    out->key_type = t->certs[i].key_type;
}

void sl_tls_set_shared(struct sl_shared *sh, int slot)
{
    sl_tls_set_ticket_secret(sh->ticket_secret);
    stats = &sh->slots[slot].tls;
    stats_sh = sh;
}

void sl_tls_get_stats(struct sl_tls_stats *st)
{
    size_t i;

    memset(st, 0, sizeof(*st));
    if (stats_sh == NULL) {
        st->handshakes = stats->handshakes;
        st->resumed = stats->resumed;
        st->failed = stats->failed;
        return;
    }
    /* Every slot ever used, live or not: counters never go back. */
    for (i = 0; i < stats_sh->nused && i < SL_SHARED_SLOTS; i++) {
        const struct sl_wtls *w = &stats_sh->slots[i].tls;

        st->handshakes += w->handshakes;
        st->resumed += w->resumed;
        st->failed += w->failed;
    }
}

void sl_tls_count(SSL *ssl, int ok)
{
    if (!ok) {
        stats->failed++;
        return;
    }
    stats->handshakes++;
    if (SSL_session_reused(ssl))
        stats->resumed++;
}

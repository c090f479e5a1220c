/*
 * check_tls.c - TLS contexts from certificate files (tls.h): certificate
 * names and SNI wildcards, what a certificate entry reports, and the
 * errors a bad entry gets (each naming the entry and the file). The
 * certificates are made here with OpenSSL, in a temporary directory.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "squidlike/conf.h"
#include "squidlike/tls.h"

static char dir[] = "/tmp/check_tls.XXXXXX";

static char *path(const char *name)
{
    static char buf[8][256];
    static int k;

    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

/* A self-signed certificate for san ("DNS:a.test,DNS:*.b.test", or NULL:
 * none, and no CN) of key type "EC" or "RSA", valid for days; written to
 * NAME.pem and NAME.key. */
static void make_cert(const char *name, const char *type, const char *san, int days)
{
    EVP_PKEY *k = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                          : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    char file[64];
    FILE *f;

    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
    X509_set_pubkey(x, k);
    if (san != NULL) {
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    snprintf(file, sizeof(file), "%s.pem", name);
    ck_assert_ptr_nonnull(f = fopen(path(file), "w"));
    PEM_write_X509(f, x);
    fclose(f);
    snprintf(file, sizeof(file), "%s.key", name);
    ck_assert_ptr_nonnull(f = fopen(path(file), "w"));
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static struct sl_conf_tls conf;

static void add_entry(const char *cert, const char *key, const char *where)
{
    struct sl_conf_cert *c = &conf.certs[conf.n_certs++];

    c->cert = strdup(path(cert));
    c->key = strdup(path(key));
    snprintf(c->where, sizeof(c->where), "%s", where);
}

static void reset(void)
{
    size_t i;

    for (i = 0; i < conf.n_certs; i++) {
        free(conf.certs[i].cert);
        free(conf.certs[i].key);
    }
    memset(&conf, 0, sizeof(conf));
    conf.min_version = TLS1_2_VERSION;
    conf.session_tickets = 1;
    conf.ticket_key_lifetime = 3600 * 1000;
    conf.session_timeout = 3600 * 1000;
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    make_cert("a", "EC", "DNS:a.test,DNS:*.b.test", 30);
    make_cert("a-rsa", "RSA", "DNS:a.test,DNS:*.b.test", 30);
    make_cert("a2", "EC", "DNS:a.test,DNS:*.b.test", 30);
    make_cert("a2-rev", "EC", "DNS:*.b.test,DNS:A.test", 30);
    make_cert("c", "RSA", "DNS:c.test", 90);
    make_cert("anon", "EC", NULL, 30);
    reset();
}

static void teardown(void)
{
    char cmd[300];

    reset();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(name_match)
{
    ck_assert(sl_tls_name_match("a.test", "a.test"));
    ck_assert(sl_tls_name_match("a.test", "A.Test"));
    ck_assert(!sl_tls_name_match("a.test", "b.a.test"));
    ck_assert(sl_tls_name_match("*.b.test", "x.b.test"));
    ck_assert(sl_tls_name_match("*.b.test", "X.B.TEST"));
    /* One whole label: never the bare suffix, never two labels. */
    ck_assert(!sl_tls_name_match("*.b.test", "b.test"));
    ck_assert(!sl_tls_name_match("*.b.test", "y.x.b.test"));
    ck_assert(!sl_tls_name_match("*.b.test", ".b.test"));
    ck_assert(!sl_tls_name_match("*.b.test", "xb.test"));
}
END_TEST

START_TEST(certificates_grouped_and_described)
{
    struct sl_tls_cert_info ci;
    char err[512] = "";
    struct sl_tls *t;
    int64_t now = (int64_t)time(NULL);

    add_entry("a.pem", "a.key", "x.conf:3");
    add_entry("a-rsa.pem", "a-rsa.key", "x.conf:4");
    add_entry("c.pem", "c.key", "x.conf:5");
    t = sl_tls_new(&conf, err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_eq(sl_tls_ncerts(t), 3);
    sl_tls_cert(t, 0, &ci);
    ck_assert_str_eq(ci.names, "a.test,*.b.test");
    ck_assert_str_eq(ci.key_type, "EC");
    ck_assert_int_ge(ci.not_after, now + 30 * 86400 - 600);
    ck_assert_int_le(ci.not_after, now + 30 * 86400 + 600);
    sl_tls_cert(t, 1, &ci);
    ck_assert_str_eq(ci.key_type, "RSA");
    sl_tls_cert(t, 2, &ci);
    ck_assert_str_eq(ci.names, "c.test");
    ck_assert_int_ge(ci.not_after, now + 90 * 86400 - 600);
    ck_assert(strstr(ci.file, "/c.pem") != NULL);
    sl_tls_free(t);
}
END_TEST

static void load_fails(const char *want1, const char *want2)
{
    char err[512] = "";
    struct sl_tls *t = sl_tls_new(&conf, err, sizeof(err));

    ck_assert_msg(t == NULL, "loaded, expected an error with \"%s\"", want1);
    ck_assert_msg(strstr(err, want1) != NULL, "error \"%s\" lacks \"%s\"", err, want1);
    ck_assert_msg(strstr(err, want2) != NULL, "error \"%s\" lacks \"%s\"", err, want2);
}

START_TEST(key_of_another_certificate)
{
    add_entry("a.pem", "c.key", "x.conf:7");
    load_fails("x.conf:7: ", "does not match");
}
END_TEST

START_TEST(missing_file)
{
    add_entry("nope.pem", "a.key", "x.conf:8");
    load_fails("x.conf:8: ", "nope.pem: No such file");
}
END_TEST

START_TEST(not_pem)
{
    FILE *f = fopen(path("junk.pem"), "w");

    ck_assert_ptr_nonnull(f);
    fputs("this is not a certificate\n", f);
    fclose(f);
    add_entry("junk.pem", "a.key", "x.conf:9");
    load_fails("x.conf:9: ", "junk.pem");
}
END_TEST

START_TEST(no_names)
{
    add_entry("anon.pem", "anon.key", "x.conf:10");
    load_fails("x.conf:10: ", "names no host");
}
END_TEST

START_TEST(two_of_one_key_type)
{
    add_entry("a.pem", "a.key", "x.conf:11");
    add_entry("a2.pem", "a2.key", "x.conf:12");
    load_fails("x.conf:12: ", "a second EC certificate");
}
END_TEST

START_TEST(names_are_a_set)
{
    /* The same names in another order and case: the same site, so a
     * second EC certificate for it is refused. */
    add_entry("a.pem", "a.key", "x.conf:11");
    add_entry("a2-rev.pem", "a2-rev.key", "x.conf:12");
    load_fails("x.conf:12: ", "a second EC certificate");
}
END_TEST

START_TEST(ticket_key_file_size)
{
    FILE *f = fopen(path("short.key"), "w");

    ck_assert_ptr_nonnull(f);
    fputs("0123456789", f);
    fclose(f);
    add_entry("a.pem", "a.key", "x.conf:13");
    conf.ticket_key_files[0] = strdup(path("short.key"));
    conf.n_ticket_key_files = 1;
    snprintf(conf.ticket_where, sizeof(conf.ticket_where), "x.conf:14");
    load_fails("x.conf:14: ", "exactly 80 random bytes");
    free(conf.ticket_key_files[0]);
}
END_TEST

/* Every worker derives the same ticket key from the shared secret and
 * the period, with no word between them: pinned to HKDF-Expand-SHA256
 * (RFC 5869) over a fixed info, so that workers of two builds (a binary
 * upgrade) agree too. */
START_TEST(ticket_key_derivation)
{
    static const char want[] =
        "ab3407791b517b1eef4fbf7aeb5ec4a11b76fb0b851326a723a8764ac5b623be"
        "69be147d640a6c25704463320e3b3f5b4601bc92c2136a701c95bddd7c48fcf1"
        "aaabec2758a8a4bc9aa01867eeb4e10e";
    unsigned char sec[SL_TLS_TICKET_SECRET_LEN], k[SL_TLS_TICKET_KEY_LEN];
    unsigned char k2[SL_TLS_TICKET_KEY_LEN];
    char hex[2 * SL_TLS_TICKET_KEY_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(sec); i++)
        sec[i] = (unsigned char)i;
    ck_assert_int_eq(sl_tls_ticket_derive(sec, 3600, 490000, k), 0);
    for (i = 0; i < sizeof(k); i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    ck_assert_str_eq(hex, want);
    /* the same again (no hidden state) */
    ck_assert_int_eq(sl_tls_ticket_derive(sec, 3600, 490000, k2), 0);
    ck_assert_mem_eq(k, k2, sizeof(k));
    /* the next period: another name and other keys */
    ck_assert_int_eq(sl_tls_ticket_derive(sec, 3600, 490001, k2), 0);
    ck_assert_int_ne(memcmp(k, k2, 16), 0);
    ck_assert_int_ne(memcmp(k + 16, k2 + 16, 64), 0);
    /* another lifetime, the same period number: other keys */
    ck_assert_int_eq(sl_tls_ticket_derive(sec, 60, 490000, k2), 0);
    ck_assert_int_ne(memcmp(k, k2, 16), 0);
    /* another secret (another master): other keys */
    sec[31] ^= 1;
    ck_assert_int_eq(sl_tls_ticket_derive(sec, 3600, 490000, k2), 0);
    ck_assert_int_ne(memcmp(k, k2, 16), 0);
    ck_assert_int_ne(memcmp(k + 16, k2 + 16, 64), 0);
}
END_TEST

START_TEST(bad_cipher_list)
{
    add_entry("a.pem", "a.key", "x.conf:15");
    conf.ciphers = (char *)"NO-SUCH-CIPHER";
    load_fails("reverse.tls.ciphers", "NO-SUCH-CIPHER");
    conf.ciphers = NULL;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, name_match);
    tcase_add_test(tc, certificates_grouped_and_described);
    tcase_add_test(tc, key_of_another_certificate);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, not_pem);
    tcase_add_test(tc, no_names);
    tcase_add_test(tc, two_of_one_key_type);
    tcase_add_test(tc, names_are_a_set);
    tcase_add_test(tc, ticket_key_file_size);
    tcase_add_test(tc, ticket_key_derivation);
    tcase_add_test(tc, bad_cipher_list);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

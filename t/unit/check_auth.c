/*
 * check_auth.c - Basic proxy authentication: the htpasswd file, the
 * Proxy-Authorization parser, verification with yescrypt / SHA-512 /
 * bcrypt, and the cache of verified credentials (observed through the
 * counters of acl/auth_int.h: a cache hit costs no crypt call).
 */
#include "config.h"

#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "acl/auth.h"
#include "acl/auth_int.h"

#define T0 ((time_t)1700000000)

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/check_auth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/htpasswd", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/*
 * Hash pw with a fresh salt of the scheme (count 0: libxcrypt's default
 * cost). Returns 0 with out filled, or -1 when this libxcrypt does not
 * support the scheme.
 */
static int make_hash(const char *prefix, unsigned long count, const char *pw,
                     char *out, size_t outlen)
{
    static struct crypt_data cd;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *h;

    if (crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)) == NULL) {
        ck_assert_msg(errno == EINVAL || errno == ENOSYS, "crypt_gensalt_rn(%s): %s",
                      prefix, strerror(errno));
        return -1;
    }
    h = crypt_rn(pw, setting, &cd, sizeof(cd));
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_lt(strlen(h), outlen);
    strcpy(out, h);
    return 0;
}

static char *hash_of(const char *prefix, const char *pw)
{
    static char out[4][CRYPT_OUTPUT_SIZE];
    static unsigned n;
    char *o = out[n++ % 4];

    ck_assert_int_eq(make_hash(prefix, 0, pw, o, CRYPT_OUTPUT_SIZE), 0);
    return o;
}

/* ---- warnings --------------------------------------------------------- */

struct warns {
    unsigned n;
    unsigned line[32];
    char why[32][256];
};

static void warn_cb(void *data, const char *file, unsigned line, const char *why)
{
    struct warns *w = data;

    ck_assert_str_eq(file, path);
    ck_assert_uint_lt(w->n, 32);
    w->line[w->n] = line;
    snprintf(w->why[w->n], sizeof(w->why[0]), "%s", why);
    w->n++;
}

static struct warns warns;

static struct acl_auth *load(size_t cache_size, time_t ttl)
{
    char err[256] = "";
    struct acl_auth *a;

    memset(&warns, 0, sizeof(warns));
    a = acl_auth_load(path, cache_size, ttl, warn_cb, &warns, err, sizeof(err));
    ck_assert_msg(a != NULL, "load: %s", err);
    return a;
}

static unsigned long hashes(const struct acl_auth *a)
{
    return acl_auth_stats(a)->hashes;
}

/* ---- headers ---------------------------------------------------------- */

static char header[2048];

/* "Basic " + base64 of n bytes of cred. */
static const char *basic_n(const char *scheme, const char *cred, size_t n)
{
    size_t sl = strlen(scheme);

    ck_assert_uint_lt(sl + 1 + (n + 2) / 3 * 4, sizeof(header));
    memcpy(header, scheme, sl);
    header[sl] = ' ';
    EVP_EncodeBlock((unsigned char *)header + sl + 1, (const unsigned char *)cred, (int)n);
    return header;
}

static const char *basic(const char *user, const char *pw)
{
    char cred[1024];

    snprintf(cred, sizeof(cred), "%s:%s", user, pw);
    return basic_n("Basic", cred, strlen(cred));
}

static char who[256];

static enum acl_auth_result check_at(struct acl_auth *a, const char *value, time_t now)
{
    struct sl_view v = { value, value ? strlen(value) : 0 };

    memset(who, 'x', sizeof(who));
    who[sizeof(who) - 1] = '\0';
    return acl_auth_check(a, v, now, who, sizeof(who));
}

static enum acl_auth_result check(struct acl_auth *a, const char *value)
{
    return check_at(a, value, T0);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- tests ------------------------------------------------------------ */

static const struct {
    const char *prefix, *name;
    unsigned long count;
} schemes[] = {
    { "$y$", "yescrypt", 0 },
    { "$6$", "SHA-512", 0 },
    { "$2b$", "bcrypt", 0 },
};

/* Right and wrong passwords, unknown users, for each scheme. */
START_TEST(t_scheme)
{
    char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE], file[1024];
    const char *prefix = schemes[_i].prefix;
    struct acl_auth *a;
    unsigned long n;
    double t;

    if (make_hash(prefix, schemes[_i].count, "correct horse", h1, sizeof(h1)) < 0) {
        fprintf(stderr, "check_auth: %s (\"%s\") skipped: this libxcrypt does not "
                "support it\n", schemes[_i].name, prefix);
        return;
    }
    ck_assert_int_eq(make_hash(prefix, schemes[_i].count, "pa:ss word", h2, sizeof(h2)), 0);
    snprintf(file, sizeof(file), "alice:%s\nbob:%s\n", h1, h2);
    write_file(file);
    a = load(16, 60);
    ck_assert_uint_eq(warns.n, 0);
    ck_assert_uint_eq(acl_auth_users(a), 2);

    n = hashes(a);
    t = now_ms();
    ck_assert_int_eq(check(a, basic("alice", "correct horse")), ACL_AUTH_OK);
    t = now_ms() - t;
    ck_assert_str_eq(who, "alice");
    ck_assert_uint_eq(hashes(a), n + 1);
    fprintf(stderr, "check_auth: one %s verification: %.2f ms\n", schemes[_i].name, t);

    /* password after the first ':' may hold more ':' */
    ck_assert_int_eq(check(a, basic("bob", "pa:ss word")), ACL_AUTH_OK);
    ck_assert_str_eq(who, "bob");

    n = hashes(a);
    ck_assert_int_eq(check(a, basic("alice", "correct horse!")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("alice", "")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("alice", "pa:ss word")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("Alice", "correct horse")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("bob", "pa")), ACL_AUTH_BAD);
    ck_assert_uint_eq(hashes(a), n + 5);
    ck_assert_str_eq(who, "bob");                   /* the name tried, for the log */
    ck_assert_int_eq(check(a, basic("ev\"il\x01\\", "pa")), ACL_AUTH_BAD);
    ck_assert_str_eq(who, "ev?il??");               /* the client's text, defused */
    ck_assert_int_eq(check(a, "Basic !!!!"), ACL_AUTH_BAD);
    ck_assert_str_eq(who, "");                      /* nothing decoded */

    /* an unknown user still costs one hash, as a known one does */
    n = hashes(a);
    t = now_ms();
    ck_assert_int_eq(check(a, basic("mallory", "correct horse")), ACL_AUTH_BAD);
    t = now_ms() - t;
    ck_assert_uint_eq(hashes(a), n + 1);
    fprintf(stderr, "check_auth: unknown user with %s users: %.2f ms\n",
            schemes[_i].name, t);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_scheme_case)
{
    struct acl_auth *a;
    char cred[] = "alice:pw";

    write_file("alice:");
    {
        FILE *f = fopen(path, "a");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", hash_of("$6$", "pw"));
        fclose(f);
    }
    a = load(0, 0);
    ck_assert_int_eq(check(a, basic_n("basic", cred, 8)), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic_n("BASIC", cred, 8)), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic_n("bAsIc", cred, 8)), ACL_AUTH_OK);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_none)
{
    struct acl_auth *a;
    char file[512];

    snprintf(file, sizeof(file), "alice:%s\n", hash_of("$6$", "pw"));
    write_file(file);
    a = load(16, 60);
    ck_assert_int_eq(check(a, NULL), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, ""), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, "Digest username=\"alice\", realm=\"x\""), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, "Bearer YWxpY2U6cHc="), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, "Basicx YWxpY2U6cHc="), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, "Basi YWxpY2U6cHc="), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, "Negotiate"), ACL_AUTH_NONE);
    ck_assert_int_eq(check(a, " Basic YWxpY2U6cHc="), ACL_AUTH_NONE);
    ck_assert_uint_eq(hashes(a), 0);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_malformed)
{
    static const char *bad[] = {
        "Basic",
        "Basic ",
        "Basic  YWxpY2U6cHc=",          /* two spaces */
        "Basic\tYWxpY2U6cHc=",
        "Basic YWxpY2U6cHc= ",          /* trailing space */
        "Basic YWxpY2U6cHc",            /* padding missing */
        "Basic YWxpY2U6cHc=x",
        "Basic YWxpY2U6cHc==",
        "Basic YWxp*2U6cHc=",
        "Basic YWxpY2U6cHd=",           /* unused bits set */
        "Basic YWxpY2U6cB==",           /* unused bits set */
        "Basic YQ==YWxpY2U6cHc=",       /* padding inside */
        "Basic ====",
        "Basic =",
        "Basic YWxpY2U6cHc=\r\n",
        "Basic YWxpY2U6-_8=",           /* base64url alphabet */
        "Basic YWxpY2VwdzE=",           /* "alicepw1": no colon */
        "Basic OnB3",                   /* ":pw": empty user */
        "Basic Og==",                   /* ":" */
    };
    struct acl_auth *a;
    char file[512], cred[600];
    size_t i;

    snprintf(file, sizeof(file), "alice:%s\n", hash_of("$6$", "pw"));
    write_file(file);
    a = load(16, 60);
    ck_assert_int_eq(check(a, "Basic YWxpY2U6cHc="), ACL_AUTH_OK);    /* alice:pw */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(check(a, bad[i]) == ACL_AUTH_BAD, "not BAD: '%s'", bad[i]);

    /* NUL inside: crypt would see "p" only */
    ck_assert_int_eq(check(a, basic_n("Basic", "alice:pw\0x", 10)), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic_n("Basic", "alice\0:pw", 9)), ACL_AUTH_BAD);
    /* a user name past 64 bytes cannot exist */
    memset(cred, 'u', 65);
    strcpy(cred + 65, ":pw");
    ck_assert_int_eq(check(a, basic_n("Basic", cred, strlen(cred))), ACL_AUTH_BAD);
    /* decoded past 512 bytes */
    memcpy(cred, "alice:", 6);
    memset(cred + 6, 'p', sizeof(cred) - 6);
    ck_assert_int_eq(check(a, basic_n("Basic", cred, 513)), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic_n("Basic", cred, 600)), ACL_AUTH_BAD);
    /* none of the above was worth a hash (the good one was) */
    ck_assert_uint_eq(hashes(a), 1);
    acl_auth_free(a);
}
END_TEST

/* The 512-byte bound is inclusive. */
START_TEST(t_longest)
{
    char pw[507], cred[600], file[1024];
    struct acl_auth *a;

    memset(pw, 'p', 506);
    pw[506] = '\0';
    snprintf(file, sizeof(file), "alice:%s\n", hash_of("$6$", pw));
    write_file(file);
    a = load(16, 60);
    snprintf(cred, sizeof(cred), "alice:%s", pw);
    ck_assert_uint_eq(strlen(cred), 512);
    ck_assert_int_eq(check(a, basic_n("Basic", cred, 512)), ACL_AUTH_OK);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_cache_hit)
{
    struct acl_auth *a;
    char file[512];
    double t;
    int i;

    snprintf(file, sizeof(file), "alice:%s\nbob:%s\n", hash_of("$y$", "pw"),
             hash_of("$y$", "pw2"));
    write_file(file);
    a = load(16, 60);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 1);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 1);

    t = now_ms();
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0 + 59), ACL_AUTH_OK);
        ck_assert_str_eq(who, "alice");
    }
    t = now_ms() - t;
    fprintf(stderr, "check_auth: 1000 cached checks: %.2f ms\n", t);
    ck_assert_uint_eq(hashes(a), 1);
    ck_assert_uint_eq(acl_auth_stats(a)->hits, 1000);

    /* the entry is for this password only, and for this user only */
    ck_assert_int_eq(check(a, basic("alice", "pw ")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("alice", "pW")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("bob", "pw")), ACL_AUTH_BAD);
    ck_assert_uint_eq(hashes(a), 4);
    /* failures are not cached: each costs a hash */
    ck_assert_int_eq(check(a, basic("bob", "pw")), ACL_AUTH_BAD);
    ck_assert_uint_eq(hashes(a), 5);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 1);
    /* the scheme's case does not change the entry */
    ck_assert_int_eq(check(a, basic_n("BASIC", "alice:pw", 8)), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 5);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_cache_expiry)
{
    struct acl_auth *a;
    char file[512];

    snprintf(file, sizeof(file), "alice:%s\n", hash_of("$6$", "pw"));
    write_file(file);
    a = load(16, 10);
    ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0), ACL_AUTH_OK);
    ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0 + 9), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 1);
    ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0 + 10), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 2);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 1);
    ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0 + 19), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 2);
    /* a clock that goes back does not stretch the entry */
    ck_assert_int_eq(check_at(a, basic("alice", "pw"), T0 + 5), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 3);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 1);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_cache_bound)
{
    struct acl_auth *a;
    char file[1024];

    snprintf(file, sizeof(file), "a:%s\nb:%s\nc:%s\n", hash_of("$6$", "pa"),
             hash_of("$6$", "pb"), hash_of("$6$", "pc"));
    write_file(file);
    a = load(2, 60);
    ck_assert_int_eq(check(a, basic("a", "pa")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("b", "pb")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("c", "pc")), ACL_AUTH_OK);      /* evicts a */
    ck_assert_uint_eq(hashes(a), 3);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 2);
    ck_assert_int_eq(check(a, basic("c", "pc")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("b", "pb")), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 3);
    ck_assert_int_eq(check(a, basic("a", "pa")), ACL_AUTH_OK);      /* evicts b */
    ck_assert_uint_eq(hashes(a), 4);
    ck_assert_int_eq(check(a, basic("c", "pc")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("a", "pa")), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 4);
    ck_assert_int_eq(check(a, basic("b", "pb")), ACL_AUTH_OK);      /* evicts c */
    ck_assert_uint_eq(hashes(a), 5);
    ck_assert_uint_eq(acl_auth_stats(a)->cached, 2);
    acl_auth_free(a);
}
END_TEST

/*
 * Many users through a small ring, against a plain model of the cache
 * (a FIFO of cap entries, each fresh for ttl seconds): the index on the
 * ring stays consistent through evictions and expiries.
 */
START_TEST(t_cache_model)
{
    enum { USERS = 6, CAP = 3, TTL = 4, STEPS = 300 };
    struct { int user; time_t when; int live; } q[CAP];
    unsigned qhead = 0, qcount = 0, k, j;
    unsigned long expect = 0, rnd = 12345;
    char file[4096], name[16], pw[16];
    struct acl_auth *a;
    time_t now = T0;
    size_t off = 0;
    int u;

    for (u = 0; u < USERS; u++) {
        snprintf(pw, sizeof(pw), "p%d", u);
        off += (size_t)snprintf(file + off, sizeof(file) - off, "u%d:%s\n", u,
                                hash_of("$2b$", pw));
    }
    write_file(file);
    a = load(CAP, TTL);
    for (k = 0; k < STEPS; k++) {
        int wrong, hit = 0;

        rnd = rnd * 6364136223846793005ul + 1442695040888963407ul;
        u = (int)((rnd >> 33) % USERS);
        wrong = (rnd >> 40) % 5 == 0;
        now += (time_t)((rnd >> 50) % 3 == 0);
        snprintf(name, sizeof(name), "u%d", u);
        snprintf(pw, sizeof(pw), wrong ? "x%d" : "p%d", u);

        /* the model */
        for (j = 0; j < qcount && !wrong; j++) {
            unsigned i = (qhead + j) % CAP;
            if (q[i].live && q[i].user == u) {
                if (now >= q[i].when && now - q[i].when < TTL)
                    hit = 1;
                else
                    q[i].live = 0;
                break;
            }
        }
        if (!hit) {
            expect++;
            if (!wrong) {
                while (qcount > 0 && (!q[qhead].live || qcount == CAP
                                      || now - q[qhead].when >= TTL)) {
                    qhead = (qhead + 1) % CAP;
                    qcount--;
                }
                q[(qhead + qcount) % CAP].user = u;
                q[(qhead + qcount) % CAP].when = now;
                q[(qhead + qcount) % CAP].live = 1;
                qcount++;
            }
        }

        ck_assert_int_eq(check_at(a, basic(name, pw), now),
                         wrong ? ACL_AUTH_BAD : ACL_AUTH_OK);
        ck_assert_msg(hashes(a) == expect, "step %u: %lu hashes, model %lu",
                      k, hashes(a), expect);
        ck_assert_uint_le(acl_auth_stats(a)->cached, CAP);
    }
    ck_assert_uint_gt(acl_auth_stats(a)->hits, STEPS / 4);
    fprintf(stderr, "check_auth: model: %lu hits, %lu hashes in %d steps\n",
            acl_auth_stats(a)->hits, hashes(a), STEPS);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_no_cache)
{
    struct acl_auth *a;
    char file[512];

    snprintf(file, sizeof(file), "alice:%s\n", hash_of("$6$", "pw"));
    write_file(file);
    a = load(0, 60);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 2);
    acl_auth_free(a);
    a = load(16, 0);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_OK);
    ck_assert_uint_eq(hashes(a), 2);
    acl_auth_free(a);
}
END_TEST

static int warned(unsigned line, const char *needle)
{
    unsigned i;

    for (i = 0; i < warns.n; i++)
        if (warns.line[i] == line && (needle == NULL || strstr(warns.why[i], needle)))
            return 1;
    return 0;
}

START_TEST(t_bad_lines)
{
    char file[4096], md5[CRYPT_OUTPUT_SIZE], longname[70];
    const char *y1 = hash_of("$y$", "first"), *y2 = hash_of("$y$", "second");
    const char *y3 = hash_of("$y$", "g");
    struct acl_auth *a;
    unsigned i;

    ck_assert_int_eq(make_hash("$1$", 0, "pw", md5, sizeof(md5)), 0);
    memset(longname, 'u', 65);
    longname[65] = '\0';
    snprintf(file, sizeof(file),
             "# users of the proxy\n"                           /* 1 */
             "\n"                                               /* 2 */
             "alice:%s\r\n"                                     /* 3 */
             "bob:secret\n"                                     /* 4 */
             "carol:%s\n"                                       /* 5 */
             "nocolonhere\n"                                    /* 6 */
             ":%s\n"                                            /* 7 */
             "%s:%s\n"                                          /* 8 */
             "ab\tc:%s\n"                                       /* 9 */
             "dave:abJnggxhB/yWI\n"                             /* 10 */
             "erin:$3$$8846f7eaee8fb117ad06bdd830b7586c\n"      /* 11 */
             "frank:$apr1$abcdefgh$0123456789abcdefghijkl\n"    /* 12 */
             "alice:%s\n"                                       /* 13 */
             "  \t \r\n"                                        /* 14 */
             "   # indented comment\n"                          /* 15 */
             "gina:%s  \n"                                      /* 16 */
             "hank:\n"                                          /* 17 */
             "ivan:%s extra\n"                                  /* 18 */
             "jo:%s:1000:1000::/home/jo:/bin/sh",               /* 19, no \n */
             y1, md5, y1, longname, y1, y1, y2, y3, y1, y1);
    write_file(file);
    a = load(16, 60);
    for (i = 0; i < warns.n; i++)
        fprintf(stderr, "check_auth: warning %s:%u: %s\n", path, warns.line[i], warns.why[i]);
    ck_assert(warned(4, "plain text"));
    ck_assert(warned(5, "MD5"));
    ck_assert(warned(6, "':'"));
    ck_assert(warned(7, "empty user"));
    ck_assert(warned(8, "longer than 64"));
    ck_assert(warned(9, "control character"));
    ck_assert(warned(10, "DES"));
    ck_assert(warned(11, "legacy"));
    ck_assert(warned(12, "not a crypt(3) hash"));
    ck_assert(warned(13, "line 3"));
    ck_assert(warned(17, "empty hash"));
    ck_assert(warned(18, NULL));
    ck_assert(warned(19, NULL));
    ck_assert_uint_eq(warns.n, 13);
    /* no hash ends up in a warning */
    for (i = 0; i < warns.n; i++)
        ck_assert_ptr_null(strstr(warns.why[i], "$y$"));

    ck_assert_uint_eq(acl_auth_users(a), 2);                /* alice, gina */
    ck_assert_int_eq(check(a, basic("alice", "second")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("alice", "first")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("gina", "g")), ACL_AUTH_OK);
    ck_assert_int_eq(check(a, basic("bob", "secret")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("carol", "pw")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, basic("ab\tc", "first")), ACL_AUTH_BAD);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_line_too_long)
{
    char *file = malloc(4000);
    struct acl_auth *a;
    int n;

    ck_assert_ptr_nonnull(file);
    n = snprintf(file, 4000, "alice:%s\nlong:", hash_of("$6$", "pw"));
    memset(file + n, 'x', 2000);
    strcpy(file + n + 2000, "\nbob:");
    strcat(file, hash_of("$6$", "pb"));
    strcat(file, "\n");
    write_file(file);
    free(file);
    a = load(16, 60);
    ck_assert_uint_eq(warns.n, 1);
    ck_assert_uint_eq(warns.line[0], 2);
    ck_assert_uint_eq(acl_auth_users(a), 2);
    ck_assert_int_eq(check(a, basic("bob", "pb")), ACL_AUTH_OK);
    acl_auth_free(a);
}
END_TEST

START_TEST(t_empty_file)
{
    struct acl_auth *a;

    write_file("# nobody yet\n");
    a = load(16, 60);
    ck_assert_uint_eq(acl_auth_users(a), 0);
    ck_assert_int_eq(check(a, basic("alice", "pw")), ACL_AUTH_BAD);
    ck_assert_int_eq(check(a, NULL), ACL_AUTH_NONE);
    acl_auth_free(a);
    acl_auth_free(NULL);
}
END_TEST

START_TEST(t_missing_file)
{
    char err[256] = "";
    struct acl_auth *a;

    a = acl_auth_load(path, 16, 60, warn_cb, &warns, err, sizeof(err));
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(err, path) != NULL, "err: %s", err);
    ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "err: %s", err);

    /* a directory is not a file */
    err[0] = '\0';
    a = acl_auth_load(dir, 16, 60, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(err, dir) != NULL, "err: %s", err);
}
END_TEST

/* No warning callback: bad lines are still skipped. */
START_TEST(t_no_warn_cb)
{
    char err[256];
    struct acl_auth *a;

    write_file("bob:secret\nnocolon\n");
    a = acl_auth_load(path, 16, 60, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(acl_auth_users(a), 0);
    acl_auth_free(a);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, t_scheme, 0, (int)(sizeof(schemes) / sizeof(schemes[0])));
    tcase_add_test(tc, t_scheme_case);
    tcase_add_test(tc, t_none);
    tcase_add_test(tc, t_malformed);
    tcase_add_test(tc, t_longest);
    tcase_add_test(tc, t_cache_hit);
    tcase_add_test(tc, t_cache_expiry);
    tcase_add_test(tc, t_cache_bound);
    tcase_add_test(tc, t_cache_model);
    tcase_add_test(tc, t_no_cache);
    tcase_add_test(tc, t_bad_lines);
    tcase_add_test(tc, t_line_too_long);
    tcase_add_test(tc, t_empty_file);
    tcase_add_test(tc, t_missing_file);
    tcase_add_test(tc, t_no_warn_cb);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

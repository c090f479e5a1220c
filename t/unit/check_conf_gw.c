/*
 * check_conf_gw.c - reverse.gateway and the gateway's route settings as
 * the loader reads them: consumers (inline and from consumers_file), the
 * index of keys, subjects and names, every refusal with its file and
 * line, query and cors, the jwt group's keys.
 */
#include "config.h"

#include <check.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/jwt.h"
#include "squidlike/conf.h"
#include "conf_fixture.h"
#include "squidlike/gw_index.h"

static char err[SL_CONF_ERR_MAX];

#define KEY_A "sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"
#define KEY_B "sha256:9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"

/* A reverse config whose gateway group is gw and first route's extras
 * are route (both text inside the groups). */
static struct sl_conf *load(const char *gw, const char *route)
{
    char text[8192];
    const char *p;

    snprintf(text, sizeof(text),
             "listen = [ \"127.0.0.1:3128\" ];\n"
             "reverse: {\n"
             "  listen = [ \"127.0.0.1:8080\" ];\n"
             "  pools = ( { name = \"api\"; backends = [ \"127.0.0.1:9\" ]; } );\n"
             "  rate_limits = ( { name = \"gold\"; key = \"client\"; rate = 5; } );\n"
             "  gateway: {\n%s\n  };\n"
             "  vhosts = ( { default = true; routes = (\n"
             "    { prefix = \"/v1/\"; pool = \"api\";\n%s\n    }\n"
             "  ); } );\n"
             "};\n", gw, route);
    p = write_file("t.conf", text);
    err[0] = '\0';
    return sl_conf_load(p, err, sizeof(err));
}

#define REFUSED(gw, route, what)                                              \
    do {                                                                    \
        struct sl_conf *c_ = load(gw, route);                               \
        ck_assert_msg(c_ == NULL, "accepted: %s", what);                    \
        ck_assert_msg(strstr(err, what) != NULL, "error \"%s\" lacks \"%s\"", err, what); \
    } while (0)

static const unsigned char *digest(const char *key)
{
    static unsigned char d[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)key, strlen(key), d);
    return d;
}

START_TEST(consumers_and_index)
{
    const struct sl_conf_consumer *cs;
    const struct sl_conf_rroute *r;
    struct sl_conf *c;

    write_file("more.conf", "consumers = ( { name = \"bob\"; jwt_subject = \"bob@x\";\n"
               "  api_keys = [ \"" KEY_B "\" ]; quotas = [ \"daily\" ]; } );\n");
    {
        char gw[1024];
        snprintf(gw, sizeof(gw),
                 "consumers = ( { name = \"alice\"; groups = [ \"partners\", \"eu\" ];\n"
                 "  api_keys = [ \"" KEY_A "\" ]; rate_limits = [ \"gold\" ]; } );\n"
                 "consumers_file = \"%s/more.conf\";\n"
                 "quotas = ( { name = \"daily\"; requests = 10; period = \"10s\"; } );\n"
                 "quota_file = \"%s/quota\";\n", tmpdir, tmpdir);
        c = load(gw, "name = \"users\"; auth = { methods = [ \"api_key\", \"jwt\" ];\n"
                 "  groups = [ \"partners\" ]; consumers = [ \"bob\" ]; };\n"
                 "query = { add = [ \"v=2\" ]; remove = [ \"debug\" ]; };\n");
    }
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->reverse.gw.n_consumers, 2);
    cs = sl_gw_by_key(c->reverse.gw.index, digest("alice-key"));
    ck_assert_ptr_nonnull(cs);
    ck_assert_str_eq(cs->name, "alice");
    ck_assert_uint_eq(cs->n_groups, 2);
    ck_assert_int_eq(cs->limits[0], 0);
    ck_assert_ptr_eq(sl_gw_by_key(c->reverse.gw.index, digest("bob-key")),
                     sl_gw_by_name(c->reverse.gw.index, "bob"));
    ck_assert_ptr_null(sl_gw_by_key(c->reverse.gw.index, digest("nobody")));
    ck_assert_ptr_eq(sl_gw_by_subject(c->reverse.gw.index, "bob@x", 5),
                     sl_gw_by_name(c->reverse.gw.index, "bob"));
    ck_assert_ptr_null(sl_gw_by_subject(c->reverse.gw.index, "bob", 3));
    ck_assert_ptr_nonnull(sl_gw_by_subject(c->reverse.gw.index, "alice", 5));
    cs = sl_gw_by_name(c->reverse.gw.index, "bob");
    ck_assert_uint_eq(cs->n_quotas, 1);
    ck_assert_int_eq(cs->quotas[0], 0);
    ck_assert_int_eq((int)c->reverse.gw.quotas[0].policy.period, ACL_QUOTA_FIXED);
    ck_assert_int_eq(c->reverse.gw.quotas[0].policy.period_s, 10);
    r = &c->reverse.vhosts[0].routes[0];
    ck_assert_str_eq(r->name, "users");
    ck_assert_uint_eq(r->auth.methods, SL_GW_AUTH_KEY | SL_GW_AUTH_JWT);
    /* the key's query parameter is always removed on a route that reads keys */
    ck_assert_uint_eq(r->query.n_remove, 2);
    ck_assert_str_eq(r->query.remove[0], "debug");
    ck_assert_str_eq(r->query.remove[1], "api_key");
    ck_assert_str_eq(r->query.add, "v=2");
    ck_assert_str_eq(c->reverse.gw.consumer_header, "X-Consumer-Id");
    ck_assert_str_eq(c->reverse.gw.api_key_header, "X-Api-Key");
    ck_assert_str_eq(r->drop[0], "X-Consumer-Id");
    ck_assert_str_eq(r->drop[1], "X-Consumer-Groups");
    ck_assert_ptr_null(r->drop[2]);
    sl_conf_unref(c);
}
END_TEST

START_TEST(refusals_name_the_line)
{
    write_file("dup.conf", "consumers = (\n  { name = \"alice\"; } );\n");
    REFUSED("consumers = ( { name = \"al ice\"; } );", "", "t.conf:7: bad consumer name");
    REFUSED("consumers = ( { name = \"a\"; api_keys = [ \"alice-key\" ]; } );", "",
            "store the key's SHA-256");
    REFUSED("consumers = ( { name = \"a\"; api_keys = [ \"sha256:zz\" ]; } );", "",
            "store the key's SHA-256");
    REFUSED("consumers = ( { name = \"a\"; },\n { name = \"a\"; } );", "",
            "t.conf:8: a second consumer named 'a'");
    REFUSED("consumers = ( { name = \"a\"; api_keys = [ \"" KEY_A "\" ]; },\n"
            " { name = \"b\"; api_keys = [ \"" KEY_A "\" ]; } );", "",
            "t.conf:8: consumers 'a' and 'b' have one API key");
    REFUSED("consumers = ( { name = \"a\"; jwt_subject = \"s\"; },\n"
            " { name = \"b\"; jwt_subject = \"s\"; } );", "", "one JWT subject");
    REFUSED("consumers = ( { name = \"a\"; rate_limits = [ \"silver\" ]; } );", "",
            "unknown rate limit 'silver'");
    REFUSED("consumers = ( { name = \"a\"; quotas = [ \"weekly\" ]; } );", "",
            "unknown quota 'weekly'");
    REFUSED("consumers = ( { name = \"a\"; } );",
            "auth = { methods = [ \"api_key\" ]; consumers = [ \"b\" ]; };",
            "t.conf:11: unknown consumer 'b'");
    REFUSED("consumers = ( { name = \"a\"; } );",
            "auth = { methods = [ \"api_key\" ]; groups = [ \"g\" ]; };",
            "no consumer is in group 'g'");
    REFUSED("consumers = ( { name = \"a\"; } );", "auth = { methods = [ \"basic\" ]; };",
            "unknown auth method \"basic\"");
    REFUSED("consumers = ( { name = \"a\"; } );", "auth = { anonymous = true; };",
            "'auth' without 'methods'");
    REFUSED("quotas = ( { name = \"q\"; requests = 5; period = \"week\"; } );", "",
            "'period'");
    REFUSED("consumers_file = \"/nonexistent/x.conf\";", "", "consumers_file");
    {
        char gw[256];
        snprintf(gw, sizeof(gw), "consumers = ( { name = \"alice\"; } );\n"
                 "consumers_file = \"%s/dup.conf\";", tmpdir);
        REFUSED(gw, "", "dup.conf:2: a second consumer named 'alice'");
    }
    REFUSED("api_key_header = \"X Key\";", "", "is not a field name");
    REFUSED("", "query = { add = [ \"a=1&b=2\" ]; };", "bad parameter");
    REFUSED("", "query = { remove = [ \"a=b\" ]; };", "bad parameter name");
    REFUSED("", "cors = { methods = [ \"GET\" ]; };", "'cors' without 'origins'");
    REFUSED("", "cors = { origins = [ \"https://a.example/path/\" ]; };", "bad origin");
    REFUSED("", "cors = { origins = [ \"*\" ]; credentials = true; };",
            "with credentials = true is refused");
    REFUSED("", "request_headers = { rename = [ \"X-A: Content-Length\" ]; };",
            "cannot be renamed");
    REFUSED("jwt: { algorithms = [ \"none\" ]; };", "", "unknown algorithm \"none\"");
    REFUSED("jwt: { issuer = \"x\"; };", "", "'jwt' has no keys");
}
END_TEST

/* A route's auth with no gateway at all is a mistake, not an open door. */
START_TEST(auth_needs_a_gateway)
{
    const char *p = write_file("t.conf",
        "listen = [ \"127.0.0.1:3128\" ];\n"
        "reverse: {\n"
        "  listen = [ \"127.0.0.1:8080\" ];\n"
        "  pools = ( { name = \"api\"; backends = [ \"127.0.0.1:9\" ]; } );\n"
        "  vhosts = ( { default = true; routes = ( { prefix = \"/\"; pool = \"api\";\n"
        "    auth = { methods = [ \"jwt\" ]; anonymous = true; }; } ); } );\n"
        "};\n");

    ck_assert_ptr_null(sl_conf_load(p, err, sizeof(err)));
    ck_assert_msg(strstr(err, "t.conf:6: a route with 'auth' needs a reverse.gateway") != NULL,
                  "%s", err);
}
END_TEST

/* Quota counts go beside the cache unless told where. */
START_TEST(quota_file_default)
{
    struct sl_conf *c = load("consumers = ( { name = \"a\"; quotas = [ \"q\" ]; } );\n"
                             "quotas = ( { name = \"q\"; requests = 5; } );", "");
    char want[512];

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_ptr_nonnull(c->cache.dir);
    snprintf(want, sizeof(want), "%s/quota", c->cache.dir);
    ck_assert_str_eq(c->reverse.gw.quota_file, want);
    ck_assert_int_eq((int)c->reverse.gw.quotas[0].policy.period, ACL_QUOTA_DAY);
    sl_conf_unref(c);
}
END_TEST

/* "" turns a source of API keys off; a route then never strips it. */
START_TEST(key_sources_off)
{
    struct sl_conf *c = load("consumers = ( { name = \"a\"; } );\n"
                             "api_key_header = \"\"; api_key_query = \"\";",
                             "auth = { methods = [ \"api_key\" ]; };");

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->reverse.gw.api_key_header, "");
    ck_assert_str_eq(c->reverse.gw.api_key_query, "");
    ck_assert_uint_eq(c->reverse.vhosts[0].routes[0].query.n_remove, 0);
    sl_conf_unref(c);
    REFUSED("consumer_header = \"\";", "", "must be a field name");
}
END_TEST

START_TEST(jwt_keys_loaded)
{
    char gw[1024];
    struct sl_conf *c;

    write_file("short.key", "too short");
    write_file("hs.key", "0123456789abcdef0123456789abcdef");
    write_file("jwks.json", "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"o1\","
               "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}");
    snprintf(gw, sizeof(gw), "jwt: { keys = ( { kid = \"h1\"; secret_file = \"%s/hs.key\"; } );\n"
             " jwks = \"%s/jwks.json\"; algorithms = [ \"HS256\", \"ES256\" ];\n"
             " clock_skew = \"5s\"; require = [ \"exp\", \"iat\" ]; cache_size = 16; };",
             tmpdir, tmpdir);
    c = load(gw, "");
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(acl_jwt_keys_count(c->reverse.gw.jwt_keys), 2);
    ck_assert_uint_eq(c->reverse.gw.jwt_algs, ACL_JWT_HS256 | ACL_JWT_ES256);
    ck_assert_int_eq(c->reverse.gw.jwt_skew_s, 5);
    sl_conf_unref(c);
    snprintf(gw, sizeof(gw), "jwt: { keys = ( { kid = \"h1\"; secret_file = \"%s/hs.key\"; } );\n"
             " clock_skew = \"0s\"; };", tmpdir);
    c = load(gw, "cors = { origins = [ \"*\" ]; max_age = 0; };");
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->reverse.gw.jwt_skew_s, 0);
    ck_assert_int_eq(c->reverse.vhosts[0].routes[0].cors->max_age_s, 0);
    sl_conf_unref(c);
    snprintf(gw, sizeof(gw), "jwt: { keys = ( { kid = \"h1\"; secret_file = \"%s/hs.key\"; } );\n"
             " clock_skew = \"5s\"; require = [ \"exp\", \"iat\" ]; cache_size = 16; };",
             tmpdir);
    c = load(gw, "");
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->reverse.gw.n_jwt_require, 2);
    ck_assert_ptr_nonnull(c->reverse.gw.jwt_cache);
    sl_conf_unref(c);
    snprintf(gw, sizeof(gw), "jwt: { keys = ( { kid = \"h1\"; secret_file = \"%s/short.key\"; } ); };",
             tmpdir);
    REFUSED(gw, "", "short.key");
    snprintf(gw, sizeof(gw), "jwt: { keys = ( { kid = \"h1\"; pem = \"%s/hs.key\"; } ); };", tmpdir);
    REFUSED(gw, "", "hs.key");
    REFUSED("jwt: { keys = ( { kid = \"h1\"; } ); };", "", "one of 'pem' and 'secret_file'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf_gw");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, consumers_and_index);
    tcase_add_test(tc, refusals_name_the_line);
    tcase_add_test(tc, auth_needs_a_gateway);
    tcase_add_test(tc, jwt_keys_loaded);
    tcase_add_test(tc, quota_file_default);
    tcase_add_test(tc, key_sources_off);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

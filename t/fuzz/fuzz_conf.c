/*
 * fuzz_conf.c - libFuzzer target for the configuration loader
 * (squidlike/conf.c and its parts conf_acl.c, conf_cache.c, conf_pac.c),
 * through sl_conf_load: libconfig's parser, every key's checks, the ACLs
 * and http_access, refresh_patterns, the PAC settings, deny_info and the
 * files a configuration names (block pages, ACL lists, blocklists, the
 * proxy auth file).
 *
 * The input is the text of a configuration. sl_conf_load reads a file:
 * the text is written to t.conf in a private directory (made once with
 * mkdtemp in $TMPDIR, else /dev/shm or /tmp, removed at exit), which is
 * the working directory of the run and holds small files at the paths
 * the sample configuration and the seeds name: etc/errors/blocked.html,
 * etc/blocklists/{ads,malware}/..., etc/lists/sni.txt, etc/passwd (the
 * run goes there and back: libFuzzer's own paths stay relative to where
 * it was started).
 * Inputs that name /dev, /proc or /sys are skipped (a list read from
 * /dev/zero is an admin's mistake, not a finding). Every run checks, and
 * abort()s when one breaks:
 *   - a load gives a snapshot holding one reference, or NULL and an
 *     error; an error in t.conf names its line ("t.conf:LINE: ..."), one
 *     that exists in the text;
 *   - a snapshot keeps its bounds (list counts within their arrays,
 *     durations within 7 days, sizes and limits non-zero where the
 *     daemon divides or allocates by them), its path, and allows CONNECT
 *     to each of its connect_ports; its access rules evaluate a request;
 *   - the same text loaded again, with an error buffer of 1 to 16 bytes,
 *     gives the same verdict and the first bytes of the same error,
 *     NUL-terminated in the buffer (no state kept between loads);
 * and ASan/UBSan/LeakSanitizer watch the loader, its error paths and
 * sl_conf_unref.
 *
 * Seeds: t/fuzz/corpus/conf/ (the shipped etc/squidlike.conf, it with
 * its commented examples on, and the files of t/unit/check_conf.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squidlike/conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define CONF_NAME "t.conf"
#define WEEK_MS (7LL * 24 * 3600 * 1000)

static char root[PATH_MAX];         /* the private directory */
static int root_fd = -1, home_fd = -1;  /* it, and where we were started */

/* The files the seeds name, relative to root. */
static const struct fixture {
    const char *path;               /* NULL: a directory */
    const char *text;
} fixtures[] = {
    { "etc", NULL },
    { "etc/errors", NULL },
    { "etc/errors/blocked.html", "<html><p>%U is blocked (%c, %r, %a) for %i at %T by %s</p></html>\n" },
    { "etc/blocklists", NULL },
    { "etc/blocklists/ads", NULL },
    { "etc/blocklists/ads/domains", "ads.example\n.tracker.example\n# a comment\nbad..name\n" },
    { "etc/blocklists/ads/urls", "ads.example/banner\nexample.com/ads/\n" },
    { "etc/blocklists/malware", NULL },
    { "etc/blocklists/malware/domains", "malware.example\n" },
    { "etc/blocklists/malware/expressions", "^http://[^/]*\\.evil/\n(unclosed\n" },
    { "etc/lists", NULL },
    { "etc/lists/sni.txt", "bad.example\n.evil.example\n# comment\n\n" },
    { "etc/lists/nets.txt", "10.0.0.0/8\n::1\nnot-a-net\n" },
    { "etc/passwd", "alice:$6$fuzzsalt$iDTMfLlIWXnU0u/ucN8Rvel1jyy/OslJpB.sv1b7aqQg/Na4Y9B47sFqgSiQ4wv/4SbFVVCnHAGIJVpklv8Rc.\n"
                    "bob:not-a-hash\n" },
};

/* root/rel into out (PATH_MAX bytes). */
static void path_in(char *out, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", root, rel);

    CHECK(n > 0 && n < PATH_MAX);
}

static void cleanup(void)
{
    size_t i = sizeof(fixtures) / sizeof(fixtures[0]);
    char p[PATH_MAX];

    if (root[0] == '\0')
        return;
    path_in(p, CONF_NAME);
    unlink(p);
    while (i-- > 0) {
        path_in(p, fixtures[i].path);
        if (fixtures[i].text)
            unlink(p);
        else
            rmdir(p);
    }
    rmdir(root);
}

static void write_all(const char *path, const void *p, size_t n)
{
    int fd;

    /* A new file rather than O_TRUNC: ext4 flushes a file truncated and
     * written again to the disk at close (auto_da_alloc). */
    CHECK(unlink(path) == 0 || errno == ENOENT);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        CHECK(w > 0);
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    CHECK(close(fd) == 0);
}

/*
 * LeakSanitizer, when the build has it: libconfig 1.5 (Debian 12) leaks
 * the strings its scanner made when a syntax error discards them (libconfig
 * issue #142, fixed in 1.7.3): a few bytes per refused file, not ours to
 * free. Only those allocation sites, inside libconfig's scanner, are
 * excused.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void quiet(const char *msg)
{
    (void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    size_t i;

    (void)argc;
    (void)argv;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
              && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    CHECK((size_t)snprintf(root, sizeof(root), "%s/fuzz_conf.XXXXXX", tmp)
          < sizeof(root));
    if (mkdtemp(root) == NULL) {
        perror("fuzz_conf: mkdtemp");
        exit(1);
    }
    atexit(cleanup);
    for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        char p[PATH_MAX];

        path_in(p, fixtures[i].path);
        if (fixtures[i].text)
            write_all(p, fixtures[i].text, strlen(fixtures[i].text));
        else
            CHECK(mkdir(p, 0700) == 0);
    }
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0 || home_fd < 0) {
        perror("fuzz_conf: open");
        exit(1);
    }
    sl_conf_set_warn(quiet);
    return 0;
}

static int names_special_files(const uint8_t *data, size_t size)
{
    static const char *const bad[] = { "/dev", "/proc", "/sys" };
    size_t i, n;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = strlen(bad[i]);
        if (size >= n && memmem(data, size, bad[i], n) != NULL)
            return 1;
    }
    return 0;
}

/* The error of a failed load: a message; a line of t.conf when it names
 * one. (Not always one line: messages quote the value as written, bytes
 * and all.) */
static void check_error(const char *err, const uint8_t *data, size_t size)
{
    size_t lines = 1, i;
    const char *p;
    char *end;
    long line;

    CHECK(err[0] != '\0');
    if (strncmp(err, CONF_NAME ":", strlen(CONF_NAME ":")) != 0)
        return;
    p = err + strlen(CONF_NAME ":");
    if (*p < '0' || *p > '9')
        return;                     /* "t.conf: what" - the whole file */
    errno = 0;
    line = strtol(p, &end, 10);
    CHECK(errno == 0 && *end == ':');
    for (i = 0; i < size; i++)
        lines += data[i] == '\n';
    CHECK(line >= 1 && (size_t)line <= lines);
}

static void check_snapshot(const struct sl_conf *c)
{
    const int64_t *t = &c->timeouts.client_idle;
    size_t i;

    CHECK(c->refs == 1);
    CHECK(c->path != NULL && strcmp(c->path, CONF_NAME) == 0);
    CHECK(c->n_listen <= SL_CONF_MAX_LISTEN);
    CHECK(c->dns.n_nameservers <= SL_CONF_MAX_NS);
    CHECK(c->access.n_allow_sources <= SL_CONF_MAX_NETS);
    CHECK(c->access.n_connect_ports <= SL_CONF_MAX_PORTS);
    CHECK(c->cache.n_purge_from <= SL_CONF_MAX_PURGE);
    CHECK(c->policy.n_deny_info <= SL_CONF_MAX_DENY_INFO);
    CHECK(c->pac.n_proxies <= SL_CONF_MAX_PAC);
    CHECK(c->pac.n_direct_domains <= SL_CONF_MAX_PAC);
    CHECK(c->pac.n_direct_networks <= SL_CONF_MAX_PAC);
    CHECK(c->manager.n_allow_sources <= SL_CONF_MAX_NETS);
    CHECK(c->manager.n_listen <= SL_CONF_MAX_LISTEN);
    for (i = 0; i < c->n_listen; i++)
        CHECK(memchr(c->listen[i].text, '\0', sizeof(c->listen[i].text)));
    for (i = 0; i < c->dns.n_nameservers; i++)
        CHECK(memchr(c->dns.nameservers[i], '\0', sizeof(c->dns.nameservers[i])));
    /* struct sl_conf_timeouts is eight int64_t milliseconds */
    for (i = 0; i < sizeof(c->timeouts) / sizeof(*t); i++)
        CHECK(t[i] >= 0 && t[i] <= WEEK_MS);
    CHECK(c->dns.timeout >= 0 && c->dns.timeout <= WEEK_MS);
    CHECK(c->dns.max_ttl >= 0 && c->dns.max_ttl <= WEEK_MS);
    CHECK(c->dns.negative_ttl >= 0 && c->dns.negative_ttl <= WEEK_MS);
    CHECK(c->pac.max_age >= 0 && c->pac.max_age <= WEEK_MS);
    CHECK(c->http.max_request_line > 0 && c->http.max_request_head > 0 &&
          c->http.max_response_head > 0 && c->http.max_headers > 0);
    CHECK(c->limits.max_connections > 0 && c->limits.buffer_size > 0);
    CHECK(c->policy.acls != NULL);
    for (i = 0; i < c->access.n_connect_ports; i++)
        CHECK(sl_conf_connect_port_ok(c, c->access.connect_ports[i]));
    for (i = 0; i < c->policy.n_deny_info; i++)
        CHECK(c->policy.deny_info[i].acl != NULL);
}

/* The loaded rules decide a plain request (or ask for a fact). */
static void check_rules(const struct sl_conf *c)
{
    struct sockaddr_in cli;
    struct acl_request r;
    struct acl_result res;
    enum acl_verdict v;

    memset(&cli, 0, sizeof(cli));
    cli.sin_family = AF_INET;
    cli.sin_addr.s_addr = htonl(0x7f000001);
    memset(&r, 0, sizeof(r));
    r.client = (const struct sockaddr *)&cli;
    r.host = "example.com";
    r.host_len = strlen(r.host);
    r.port = 80;
    r.method = "GET";
    r.url = "http://example.com/";
    r.url_len = strlen(r.url);
    r.path = "/";
    r.path_len = 1;
    r.conns = 1;
    r.now = 1704067200;
    v = acl_check(c->policy.acls, &r, &res);
    CHECK(v == ACL_ALLOW || v == ACL_DENY || v == ACL_NEED_DST ||
          v == ACL_NEED_SNI || v == ACL_NEED_AUTH);
    CHECK(res.rule >= -1 && (res.rule < 0 ||
                             (size_t)res.rule < acl_set_nrules(c->policy.acls)));
    CHECK(res.rule_text != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[PATH_MAX], err[SL_CONF_ERR_MAX], small[16];
    struct sl_conf *c, *c2;
    size_t smalllen = 1 + size % sizeof(small);

    if (names_special_files(data, size))
        return -1;
    path_in(path, CONF_NAME);
    write_all(path, data, size);
    /* Relative paths in a configuration resolve against the working
     * directory (conf.h): the fixtures'. */
    CHECK(fchdir(root_fd) == 0);

    memset(err, 'x', sizeof(err));
    c = sl_conf_load(CONF_NAME, err, sizeof(err));
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    if (c == NULL) {
        check_error(err, data, size);
    } else {
        check_snapshot(c);
        check_rules(c);
        CHECK(sl_conf_ref(c) == c && c->refs == 2);
        sl_conf_unref(c);
        CHECK(c->refs == 1);
    }

    /* Again, into a small buffer: the same verdict, the same error cut. */
    memset(small, 'x', sizeof(small));
    c2 = sl_conf_load(CONF_NAME, small, smalllen);
    CHECK((c2 == NULL) == (c == NULL));
    CHECK(memchr(small, '\0', smalllen) != NULL);
    for (size_t i = smalllen; i < sizeof(small); i++)
        CHECK(small[i] == 'x');
    if (c == NULL)
        CHECK(strncmp(small, err, smalllen - 1) == 0 &&
              strlen(small) == (strlen(err) < smalllen - 1 ? strlen(err)
                                                           : smalllen - 1));
    sl_conf_unref(c2);
    sl_conf_unref(c);
    CHECK(fchdir(home_fd) == 0);
    return 0;
}

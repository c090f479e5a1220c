/*
 * blbench.c - what the category blocklists cost: load time, memory, and
 * lookups per second once loaded (filters/blocklist.c and its bl_*.c).
 *
 * Build and run, from the top of the tree:
 *
 *   python3 t/bench/genlists.py /tmp/bl --domains 1000000 --urls 10000 \
 *       --expressions 1000 --categories 10
 *   gcc -O2 -I. -o /tmp/blbench t/bench/blbench.c filters/blocklist.c \
 *       filters/bl_*.c squidlike/buf.c \
 *       $(pkg-config --cflags --libs libpcre2-8)
 *   /tmp/blbench /tmp/bl [lookups]
 *
 * Add -DFLT_BL_MERGE_MAX=1 to the gcc line to measure expressions kept
 * apart instead of merged into alternations.
 *
 * Reports: the load time (monotonic clock) and peak RSS (VmHWM) of loading
 * the whole tree, the loader's counts against the ones genlists.py wrote
 * into DIR/README, and lookups per second for
 *   - domain hits (listed names and subdomains of them),
 *   - domain misses against the domains alone (a tree of symlinks to the
 *     "domains" files only, loaded a second time),
 *   - whole requests that match nothing (host + URL: domains, URL lists
 *     and every expression run) - what an allowed request pays,
 *   - URL-list hits.
 * Exits 1 when the counts differ from README or a hit set does not hit.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filters/blocklist.h"
#include "squidlike/buf.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#ifdef FLT_BL_MERGE_MAX
#define MERGE_NOTE "FLT_BL_MERGE_MAX=" STR(FLT_BL_MERGE_MAX)
#else
#define MERGE_NOTE "default FLT_BL_MERGE_MAX"
#endif

#define SAMPLES 20000               /* test strings per set */
#define STR_LIMIT (64u << 20)       /* bytes of test strings in all */

/* A set of test strings kept in one buffer: offsets of (host, url). */
struct sample {
    size_t host, host_len, url, url_len;
};

struct set {
    const char *name;
    struct sample *v;
    size_t n;
};

static struct sl_buf strs;          /* all test strings */
static unsigned bad_shown, bad_seen;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, good enough to pick names. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "VmXXX:" line of /proc/self/status, in KiB. */
static long vm_kib(const char *key)
{
    char line[256];
    size_t kl = strlen(key);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void warn_cb(void *data, const char *file, unsigned line,
                    const char *why)
{
    bad_seen++;
    if (bad_shown++ < 5)
        fprintf(stderr, "  bad line %s:%u: %s\n", file, line, why);
}

/* Append bytes to strs; returns their offset. */
static size_t put(const char *s, size_t n)
{
    size_t off;

    if (sl_buf_reserve(&strs, n, STR_LIMIT) != 0) {
        fprintf(stderr, "blbench: test strings exceed %u bytes\n", STR_LIMIT);
        exit(2);
    }
    off = (size_t)(strs.last - strs.start);
    memcpy(strs.last, s, n);
    strs.last += n;
    return off;
}

static void add(struct set *s, const char *host, const char *url)
{
    struct sample *x = &s->v[s->n++];

    x->host_len = strlen(host);
    x->host = put(host, x->host_len);
    x->url_len = url ? strlen(url) : 0;
    x->url = url ? put(url, x->url_len) : SIZE_MAX;
}

static void set_init(struct set *s, const char *name)
{
    s->name = name;
    s->n = 0;
    s->v = calloc(SAMPLES, sizeof(*s->v));
    if (s->v == NULL)
        exit(2);
}

static void rand_word(char *out, size_t n)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = letters[rnd() % 26];
    out[n] = '\0';
}

/* A clean host name as genlists.py writes them (not its bad lines). */
static int plain_name(const char *p)
{
    size_t label = 0, i;
    int alpha_last = 0;

    if (*p == '\0' || *p == '.' || *p == '-' || strchr(p, '.') == NULL
        || strstr(p, "..") != NULL || strlen(p) > 200)
        return 0;
    for (i = 0; p[i] != '\0'; i++) {
        char c = p[i];

        if (c == '.') {
            label = 0;
            alpha_last = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (++label > 63)
            return 0;
        if (c >= 'a' && c <= 'z')
            alpha_last = 1;
    }
    return alpha_last;
}

/*
 * One listed name per `every` lines of a domains file, normalised as the
 * loader does it (enough for the clean lines genlists.py writes).
 */
static void sample_domains(struct set *s, const char *path, unsigned every)
{
    char line[512], host[600];
    unsigned k = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return;
    while (s->n < SAMPLES && fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *e;

        if (k++ % every != 0)
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        for (e = p; *e && *e != '\n' && *e != '\r' && *e != ' ' && *e != '\t';
             e++)
            *e = (char)(*e >= 'A' && *e <= 'Z' ? *e + 32 : *e);
        *e = '\0';
        if (p[0] == '*' && p[1] == '.')
            p += 2;
        else if (p[0] == '.')
            p++;
        if (e > p && e[-1] == '.')
            e[-1] = '\0';
        if (!plain_name(p))
            continue;               /* a comment, or a deliberately bad line */
        /* Half exact, half a subdomain: both must hit. */
        snprintf(host, sizeof(host), "%s%s", rnd() % 2 ? "" : "x1.cdn.", p);
        add(s, host, NULL);
    }
    fclose(f);
}

static void sample_urls(struct set *s, const char *path)
{
    char line[4200], url[4300], host[300];
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return;
    while (s->n < SAMPLES && fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *e, *slash;

        line[strcspn(line, "\r\n")] = '\0';
        if (*p == '#' || *p == '\0' || strchr(p, ' ') || rnd() % 4 != 0)
            continue;
        if (strncmp(p, "http://", 7) == 0)
            p += 7;
        else if (strncmp(p, "https://", 8) == 0)
            p += 8;
        slash = strchr(p, '/');
        if (slash == NULL || slash == p)
            continue;
        for (e = p; e < slash; e++)
            *e = (char)(*e >= 'A' && *e <= 'Z' ? *e + 32 : *e);
        *slash = '\0';
        if (!plain_name(p) || strlen(p) >= sizeof(host)) {
            continue;               /* a deliberately bad line */
        }
        memcpy(host, p, strlen(p) + 1);
        *slash = '/';
        snprintf(url, sizeof(url), "%s/more?x=1", p);
        add(s, host, url);
    }
    fclose(f);
}

/* Random names under common TLDs, and URLs on them: nothing should hit. */
static void make_misses(struct set *hosts, struct set *reqs)
{
    static const char *const tlds[] = { "com", "net", "org", "de", "fr",
                                        "co.uk", "io" };
    static const char *const paths[] = {
        "/", "/index.html", "/news/2024/03/article-12345.html",
        "/static/js/app.min.js?v=3", "/search?q=weather+paris&lang=en",
        "/images/logo.png", "/api/v1/users/42/profile",
    };
    char w1[16], w2[16], host[64], url[256];
    size_t i;

    for (i = 0; i < SAMPLES; i++) {
        rand_word(w1, 5 + rnd() % 6);
        rand_word(w2, 3);
        snprintf(host, sizeof(host), "%s%s%s.%s", i % 3 ? "" : w2,
                 i % 3 ? "" : ".", w1, tlds[rnd() % 7]);
        add(hosts, host, NULL);
        snprintf(url, sizeof(url), "%s%s", host, paths[rnd() % 7]);
        add(reqs, host, url);
    }
}

/* Mirror dir with symlinks to the domains files only. */
static int domains_only_tree(const char *dir, char *tmp, size_t tmplen)
{
    DIR *d;
    struct dirent *de;
    char src[4096], dst[4096], abs[4096];

    if (realpath(dir, abs) == NULL)
        return -1;
    snprintf(tmp, tmplen, "/tmp/blbench.XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    d = opendir(abs);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(src, sizeof(src), "%s/%s/domains", abs,
                             de->d_name) >= sizeof(src)
            || stat(src, &st) != 0)
            continue;
        if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", tmp, de->d_name)
            >= sizeof(dst) || mkdir(dst, 0700) != 0)
            continue;
        if ((size_t)snprintf(dst, sizeof(dst), "%s/%s/domains", tmp,
                             de->d_name) >= sizeof(dst))
            continue;
        if (symlink(src, dst) != 0)
            continue;
    }
    closedir(d);
    return 0;
}

static void remove_tree(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *de;
    char p[4096];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s/domains", tmp, de->d_name)
            < sizeof(p))
            unlink(p);
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", tmp, de->d_name)
            < sizeof(p))
            rmdir(p);
    }
    closedir(d);
    rmdir(tmp);
}

/*
 * Run n lookups cycling over s; print the rate. Returns how many of them
 * matched.
 */
static size_t run(const struct flt_bl *bl, const struct set *s, size_t n,
                  const char *label)
{
    size_t i, hits = 0;
    double t0, t;

    if (s->n == 0) {
        printf("  %-42s (no samples)\n", label);
        return 0;
    }
    t0 = now();
    for (i = 0; i < n; i++) {
        const struct sample *x = &s->v[i % s->n];
        const char *url = x->url == SIZE_MAX ? NULL : strs.start + x->url;

        if (flt_bl_match(bl, NULL, strs.start + x->host, x->host_len, url,
                         x->url_len) >= 0)
            hits++;
    }
    t = now() - t0;
    printf("  %-42s %10.0f /s  %6.0f ns each  (%zu of %zu hit)\n", label,
           (double)n / t, t * 1e9 / (double)n, hits, n);
    return hits;
}

/* The value of key=N in DIR/README, or -1. */
static long expected(const char *dir, const char *key)
{
    char path[4096], line[256];
    size_t kl = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/README", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == '=')
            v = strtol(line + kl + 1, NULL, 10);
    fclose(f);
    return v;
}

static int check(const char *dir, const char *key, size_t got)
{
    long want = expected(dir, key);

    if (want < 0)
        return 0;
    printf("  %-12s %10zu  (README: %ld) %s\n", key, got, want,
           (size_t)want == got ? "ok" : "MISMATCH");
    return (size_t)want == got ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct flt_bl *bl, *dl = NULL;
    struct flt_bl_stats st;
    struct set dom_hits, misses, reqs, url_hits;
    char err[512], tmp[64], path[4096];
    const char *dir;
    size_t n = 1000000, i, h;
    long rss0;
    double t0, t1;
    int fail = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s LISTDIR [lookups]\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    if (argc == 3)
        n = strtoul(argv[2], NULL, 10);
    if (sl_buf_init(&strs, 1 << 20) != 0)
        return 2;

    rss0 = vm_kib("VmRSS");
    bl = flt_bl_new();
    t0 = now();
    if (bl == NULL || flt_bl_load_dir(bl, dir, NULL, 0, warn_cb, NULL, err,
                                      sizeof(err)) != 0) {
        fprintf(stderr, "blbench: %s\n", err);
        return 2;
    }
    t1 = now();
    flt_bl_get_stats(bl, &st);
    printf("load %s (%s)\n", dir, MERGE_NOTE);
    printf("  time         %10.3f s\n", t1 - t0);
    printf("  peak RSS     %10.1f MiB (VmHWM; %.1f MiB before loading)\n",
           vm_kib("VmHWM") / 1024.0, rss0 / 1024.0);
    printf("  RSS now      %10.1f MiB\n", vm_kib("VmRSS") / 1024.0);
    printf("  held         %10.1f MiB (flt_bl_get_stats)\n",
           st.bytes / 1048576.0);
    printf("  categories   %10zu\n", flt_bl_ncategories(bl));
    fail |= check(dir, "domains", st.domains);
    fail |= check(dir, "urls", st.urls);
    fail |= check(dir, "expressions", st.expressions);
    fail |= check(dir, "bad_lines", st.bad_lines);
    if (bad_seen != st.bad_lines) {
        printf("  warn callback saw %u bad lines, stats say %zu\n", bad_seen,
               st.bad_lines);
        fail = 1;
    }

    set_init(&dom_hits, "domain hits");
    set_init(&misses, "misses");
    set_init(&reqs, "requests");
    set_init(&url_hits, "url hits");
    for (i = 0; i < flt_bl_ncategories(bl); i++) {
        const char *cat = flt_bl_category_name(bl, (int)i);

        snprintf(path, sizeof(path), "%s/%s/domains", dir, cat);
        sample_domains(&dom_hits, path, 37);
        snprintf(path, sizeof(path), "%s/%s/urls", dir, cat);
        sample_urls(&url_hits, path);
    }
    make_misses(&misses, &reqs);

    printf("lookups (%zu each, every category wanted)\n", n);
    h = run(bl, &dom_hits, n, "domain hits (host only)");
    if (h != n) {
        printf("  ERROR: %zu domain hits missed\n", n - h);
        fail = 1;
    }
    if (domains_only_tree(dir, tmp, sizeof(tmp)) == 0) {
        dl = flt_bl_new();
        t0 = now();
        if (dl != NULL
            && flt_bl_load_dir(dl, tmp, NULL, 0, NULL, NULL, err,
                               sizeof(err)) == 0) {
            printf("  (domains-only list loaded in %.3f s)\n", now() - t0);
            run(dl, &misses, n, "domain misses (domains only)");
            run(dl, &dom_hits, n, "domain hits (domains only)");
        }
        flt_bl_free(dl);
        remove_tree(tmp);
    }
    run(bl, &misses, n, "misses, host only (+ exprs on host)");
    run(bl, &reqs, n / 10, "misses, host + URL (all three kinds)");
    h = run(bl, &url_hits, n, "URL-list hits");
    if (url_hits.n > 0 && h != n) {
        printf("  ERROR: %zu URL hits missed\n", n - h);
        fail = 1;
    }

    flt_bl_free(bl);
    free(dom_hits.v);
    free(misses.v);
    free(reqs.v);
    free(url_hits.v);
    sl_buf_free(&strs);
    return fail;
}

/*
 * fuzz_blocklist.c - libFuzzer target for the category blocklists
 * (filters/blocklist.c and its parts bl_names.c, bl_expr.c, bl_rq.c).
 *
 * The input is cut at NUL bytes into parts:
 *   0 1 2   a/domains, a/urls, a/expressions
 *   3 4 5   b/domains, b/urls, b/expressions (no "b" directory when the
 *           input has fewer than 3 NULs)
 *   6       probes: one request a line, "host", "host/path?query" or
 *           "scheme://host/path"
 *   7       option bits (first byte): 1 load the tree a second time into
 *           the same list (entries accumulate), 2 name the categories
 *           ("b", "a") instead of walking the directory, 4 first ask for
 *           a category that does not exist (must fail, and change nothing),
 *           8 byte 0x01 stands for a NUL in parts 0 to 6; the bytes after
 *           the first are one more request, raw (NULs included)
 * A part that is absent leaves its file absent (an empty list), an empty
 * part writes an empty file. The files go to a private directory made once
 * (mkdtemp in $TMPDIR, else /dev/shm or /tmp) and removed at exit.
 *
 * Every run loads the tree, then matches the probes, each line of the
 * lists used as a request, and fixed requests, with url and without (a
 * CONNECT), wanting every category and each one alone (and none, for
 * the first few). It abort()s
 * when an invariant breaks:
 *   - the load succeeds; the warnings name a list file and a line, and
 *     count as the stats' bad lines; stats.expressions is the number of
 *     expression lines that compile alone (PCRE2, caseless);
 *   - a match is -1 or a loaded category, -1 when no category is wanted,
 *     the wanted one when one is; every-category finds something exactly
 *     when one of the categories alone does, and says one of those; a
 *     second call gives the same answer;
 *   - a plain domain line ("Sub.Example.com.") blocks its name and the
 *     names below it; a plain URL line ("host/path") blocks that URL and
 *     longer ones;
 *   - expressions against a reference that runs every expression of a
 *     category alone (PCRE2 interpreter, small limits): when one matches,
 *     the category alone must match (the literal prefilter of bl_rq.c,
 *     the merged alternations and the gates may skip work, never a
 *     match); when the lists hold no domains and no URLs, a match of the
 *     category needs a reference match (or a reference over its limits);
 * and ASan/UBSan/LeakSanitizer watch the loader, the matcher and
 * flt_bl_free.
 *
 * make fuzz builds t/fuzz/fuzz_blocklist; seeds: t/fuzz/corpus/blocklist/
 * (make check replays them: t/fuzz/replay_blocklist); run with
 * -max_len=4096
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/blocklist.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define NPARTS 8
#define MAX_PROBES 10           /* list and probe lines used as requests */
#define FIXED_PER_RUN 2         /* of the fixed requests, a rotating few */
#define CHEAP_CHECKS 6          /* requests that also want none, match twice */
#define REF_MAX_EXPR 64         /* the reference skips bigger categories */
#define REF_MATCH_LIMIT 2000
#define REF_DEPTH_LIMIT 1000

static unsigned nprobes;            /* requests so far in this run */
static const char *const files[3] = { "domains", "urls", "expressions" };

static char root[PATH_MAX];         /* the private tree */
static pcre2_match_data *ref_md;
static pcre2_match_context *ref_mctx;

/* ---- the private directory ---- */

static void path_of(char *out, const char *cat, const char *file)
{
    int n;

    if (file != NULL)
        n = snprintf(out, PATH_MAX, "%s/%s/%s", root, cat, file);
    else
        n = snprintf(out, PATH_MAX, "%s/%s", root, cat);
    CHECK(n > 0 && n < PATH_MAX);
}

static void rm_category(const char *cat)
{
    char p[PATH_MAX];
    int k;

    for (k = 0; k < 3; k++) {
        path_of(p, cat, files[k]);
        CHECK(unlink(p) == 0 || errno == ENOENT);
    }
    path_of(p, cat, NULL);
    CHECK(rmdir(p) == 0 || errno == ENOENT);
}

static void cleanup(void)
{
    if (root[0] == '\0')
        return;
    rm_category("a");
    rm_category("b");
    rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;

    (void)argc;
    (void)argv;
    /* Every run writes the files: memory beats a disk. */
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
              && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    CHECK((size_t)snprintf(root, sizeof(root), "%s/fuzz_blocklist.XXXXXX",
                           tmp) < sizeof(root));
    if (mkdtemp(root) == NULL) {
        perror("fuzz_blocklist: mkdtemp");
        exit(1);
    }
    atexit(cleanup);
    ref_md = pcre2_match_data_create(1, NULL);
    ref_mctx = pcre2_match_context_create(NULL);
    CHECK(ref_md != NULL && ref_mctx != NULL);
    pcre2_set_match_limit(ref_mctx, REF_MATCH_LIMIT);
    pcre2_set_depth_limit(ref_mctx, REF_DEPTH_LIMIT);
    return 0;
}

static void write_file(const char *cat, const char *file, const uint8_t *p,
                       size_t n)
{
    char path[PATH_MAX];
    int fd;

    /* A new file rather than O_TRUNC: ext4 flushes a file truncated and
     * written again to the disk at close (auto_da_alloc). */
    path_of(path, cat, file);
    CHECK(unlink(path) == 0 || errno == ENOENT);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
    CHECK(close(fd) == 0);
}

/* ---- the input ---- */

struct part {
    const uint8_t *p;
    size_t n;
    int present;
};

struct line {
    const char *s;
    size_t n;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The lines of a part as the loader cuts them ('\n'), blanks trimmed;
 * comments and blank lines dropped when skip_comments. */
static size_t cut_lines(const struct part *pt, struct line *out, size_t max,
                        int skip_comments)
{
    const char *s, *end;
    size_t cnt = 0;

    if (!pt->present)
        return 0;
    s = (const char *)pt->p;
    end = s + pt->n;
    while (s < end && cnt < max) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        const char *b = s;

        while (e > b && is_blank(e[-1]))
            e--;
        while (b < e && is_blank(*b))
            b++;
        if (!skip_comments || (b < e && *b != '#')) {
            out[cnt].s = b;
            out[cnt].n = (size_t)(e - b);
            cnt++;
        }
        s = nl ? nl + 1 : end;
    }
    return cnt;
}

/*
 * A host name no rule of the loader can refuse or change, apart from
 * case and one trailing dot: labels of 1..63 [A-Za-z0-9_-] with a letter
 * or digit, a letter in the last one, 253 bytes at most. Its lowercase
 * form without the dot into out; 0 when it is not that plain.
 */
static size_t plain_host(const char *s, size_t n, char *out)
{
    size_t i, label = 0, alnum = 0, alpha = 0;

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        out[i] = c;
        if (c == '.') {
            if (label == 0 || alnum == 0)
                return 0;
            label = alnum = alpha = 0;
            continue;
        }
        if (c >= 'a' && c <= 'z')
            alpha++;
        else if (!((c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (c != '-' && c != '_')
            alnum++;
        if (++label > 63)
            return 0;
    }
    if (label == 0 || alnum == 0 || alpha == 0)
        return 0;
    out[n] = '\0';
    return n;
}

/* ---- the reference for expressions ---- */

struct ref_cat {
    pcre2_code *code[REF_MAX_EXPR];
    size_t n, compiled;
    int too_many;
};

static void ref_load(struct ref_cat *rc, const struct part *pt)
{
    struct line *l;
    size_t cnt, i;

    l = malloc((pt->n + 1) * sizeof(*l));
    CHECK(l != NULL);
    cnt = cut_lines(pt, l, pt->n + 1, 1);
    for (i = 0; i < cnt; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *c;

        /* Line 1 may start with a byte order mark, skipped by the
         * loader: the first line of a part gets its own treatment. */
        if (l[i].s == (const char *)pt->p && l[i].n >= 3
            && memcmp(l[i].s, "\xef\xbb\xbf", 3) == 0) {
            const char *s = l[i].s + 3;
            size_t n = l[i].n - 3;

            while (n > 0 && is_blank(*s)) {
                s++;
                n--;
            }
            if (n == 0 || *s == '#')
                continue;
            l[i].s = s;
            l[i].n = n;
        }
        c = pcre2_compile((PCRE2_SPTR)l[i].s, l[i].n, PCRE2_CASELESS, &ec,
                          &eo, NULL);
        if (c == NULL)
            continue;
        rc->compiled++;
        if (rc->n < REF_MAX_EXPR)
            rc->code[rc->n++] = c;
        else {
            rc->too_many = 1;
            pcre2_code_free(c);
        }
    }
    free(l);
}

static void ref_free(struct ref_cat *rc)
{
    while (rc->n > 0)
        pcre2_code_free(rc->code[--rc->n]);
}

/* 1 some expression matches, 0 none, -1 unknown (limits, too many). */
static int ref_match(const struct ref_cat *rc, const char *s, size_t n)
{
    size_t i;
    int unknown = rc->too_many, found = 0, r;

    /* All of them: the list merges expressions into alternations, where
     * an expensive one could use up the limits before a cheap one matches:
     * the answer is only known when every expression is cheap here. */
    for (i = 0; i < rc->n; i++) {
        r = pcre2_match(rc->code[i], (PCRE2_SPTR)s, n, 0, 0, ref_md,
                        ref_mctx);
        if (r >= 0)
            found = 1;
        else if (r != PCRE2_ERROR_NOMATCH)
            unknown = 1;
    }
    return unknown ? -1 : found;
}

/* ---- one run ---- */

struct run {
    struct flt_bl *bl;
    size_t ncat;
    int id[2];                      /* ids of "a" and "b" */
    struct ref_cat ref[2];
    int names_only_re;              /* no domains and no URLs loaded */
    size_t warnings;
};

static void on_warn(void *data, const char *file, unsigned line,
                    const char *why)
{
    struct run *r = data;
    size_t rl = strlen(root);

    CHECK(file != NULL && why != NULL && why[0] != '\0' && line >= 1);
    CHECK(strncmp(file, root, rl) == 0 && file[rl] == '/');
    r->warnings++;
}

static int match(const struct run *r, const struct flt_bl_set *want,
                 const char *host, size_t hn, const char *url, size_t un)
{
    int c = flt_bl_match(r->bl, want, host, hn, url, un);

    CHECK(c == -1 || (c >= 0 && (size_t)c < r->ncat));
    return c;
}

/*
 * One request: every category, each alone, none. must[k] > 0: category
 * k alone has to match (a plain list line); the reference adds its own.
 */
static void probe(const struct run *r, const char *host, size_t hn,
                  const char *url, size_t un, const int must[2])
{
    struct flt_bl_set none, one;
    int all, alone[2] = { -1, -1 }, k, any = 0;

    all = match(r, NULL, host, hn, url, un);
    if (nprobes++ < CHEAP_CHECKS) {
        memset(&none, 0, sizeof(none));
        CHECK(match(r, &none, host, hn, url, un) == -1);
        CHECK(match(r, NULL, host, hn, url, un) == all);    /* no state left */
    }
    for (k = 0; k < 2; k++) {
        const char *subj = url != NULL ? url : host;
        size_t sn = url != NULL ? un : hn;
        int ref;

        if (r->id[k] < 0)
            continue;
        memset(&one, 0, sizeof(one));
        one.bits[r->id[k] / 64] |= (uint64_t)1 << (r->id[k] % 64);
        alone[k] = match(r, &one, host, hn, url, un);
        CHECK(alone[k] == -1 || alone[k] == r->id[k]);
        if (must != NULL && must[k] > 0)
            CHECK(alone[k] == r->id[k]);
        ref = subj != NULL ? ref_match(&r->ref[k], subj, sn) : 0;
        if (ref == 1)
            CHECK(alone[k] == r->id[k]);
        if (r->names_only_re && ref == 0)
            CHECK(alone[k] == -1);
        any |= alone[k] >= 0;
    }
    CHECK((all >= 0) == any);
    CHECK(all == -1 || all == alone[0] || all == alone[1]);
}

/* A request line: its host (lowercase, the contract) and the line as url. */
static void probe_line(const struct run *r, const char *s, size_t n)
{
    char host[512];
    size_t i = 0, h, hn;
    const char *sep = memchr(s, '/', n);

    if (sep != NULL && sep > s && sep[-1] == ':' && (size_t)(sep - s) + 1 < n
        && sep[1] == '/')
        i = (size_t)(sep - s) + 2;
    for (h = i; h < n && s[h] != '/' && s[h] != '?'; h++)
        ;
    host[0] = '\0';            /* hn may be 0 (gcc cannot tell it is unread) */
    for (hn = 0; i < h && hn < sizeof(host); i++, hn++)
        host[hn] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    probe(r, host, hn, s, n, NULL);
    if (hn < n)         /* a scheme, a path: as a CONNECT too */
        probe(r, host, hn, NULL, 0, NULL);
}

static void probe_lists(const struct run *r, const struct part *parts,
                        size_t *budget)
{
    struct line l[MAX_PROBES];
    char host[256], sub[260];
    size_t cnt, i, hn, j;
    int k, must[2];

    for (k = 0; k < 2; k++) {
        if (r->id[k] < 0)
            continue;
        /* domains: the name and a name below it */
        cnt = cut_lines(&parts[3 * k], l, *budget, 1);
        *budget -= cnt;
        for (i = 0; i < cnt; i++) {
            hn = plain_host(l[i].s, l[i].n, host);
            must[0] = must[1] = 0;
            must[k] = hn > 0;
            if (hn == 0) {
                probe_line(r, l[i].s, l[i].n);
                continue;
            }
            probe(r, host, hn, host, hn, must);
            probe(r, host, hn, NULL, 0, must);
            sub[0] = 'x';
            sub[1] = '.';
            memcpy(sub + 2, host, hn);
            probe(r, sub, hn + 2, NULL, 0, must);
        }
        /* urls: the entry itself and a longer URL */
        cnt = cut_lines(&parts[3 * k + 1], l, *budget, 1);
        *budget -= cnt;
        for (i = 0; i < cnt; i++) {
            const char *s = l[i].s;
            char *u;

            for (j = 0; j < l[i].n && s[j] != '/' && s[j] != '?'; j++)
                ;
            hn = memchr(s, ':', l[i].n) == NULL ? plain_host(s, j, host) : 0;
            if (l[i].n - j > 4096)
                hn = 0;
            for (; hn > 0 && j < l[i].n; j++)
                if ((unsigned char)s[j] <= ' ' || s[j] == 0x7f)
                    hn = 0;
            if (hn == 0) {
                probe_line(r, s, l[i].n);
                continue;
            }
            must[0] = must[1] = 0;
            must[k] = 1;
            probe(r, host, hn, s, l[i].n, must);
            u = malloc(l[i].n + 3);
            CHECK(u != NULL);
            memcpy(u, s, l[i].n);
            memcpy(u + l[i].n, "x/y", 3);
            probe(r, host, hn, u, l[i].n + 3, must);
            free(u);
        }
        /* expressions: the pattern text as a URL */
        cnt = cut_lines(&parts[3 * k + 2], l, *budget, 1);
        *budget -= cnt;
        for (i = 0; i < cnt; i++)
            probe_line(r, l[i].s, l[i].n);
    }
}

static const char *const fixed[] = {
    "example.com", "www.example.com/index.html?q=1", "http://Example.COM/a",
    "[::1]:443", "[2001:db8::1]/x", "192.168.0.1", "192.168.0.1:8080/",
    "sub.sub.example.org./path", "localhost", "", "a", "xn--bcher-kva.example",
    "ads.tracker.net/banner/ads.js", "porn.example/sexy", "%2e%2e/../", "?",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names_ba[] = { "b", "a" };
    static const char *const names_bad[] = { "a", "no-such-category" };
    struct part parts[NPARTS];
    struct flt_bl_stats st, st2;
    struct run r;
    struct line l[MAX_PROBES];
    char err[256], dir_a[PATH_MAX], dir_b[PATH_MAX], big[600];
    uint8_t *copy = malloc(size ? size : 1);
    const uint8_t *p, *end, *z;
    unsigned opts;
    size_t i, np = 0, budget = MAX_PROBES, cnt, nfixed;
    int k, two;

    CHECK(copy != NULL);
    if (size > 0)
        memcpy(copy, data, size);
    p = copy;
    end = copy + size;
    memset(parts, 0, sizeof(parts));
    while (np < NPARTS) {
        z = memchr(p, 0, (size_t)(end - p));
        parts[np].p = p;
        parts[np].n = z ? (size_t)(z - p) : (size_t)(end - p);
        parts[np].present = 1;
        np++;
        if (z == NULL)
            break;
        p = z + 1;
    }
    two = np > 3;
    opts = parts[7].present && parts[7].n > 0 ? parts[7].p[0] : 0;
    if (opts & 8)
        for (i = 0; i < 7; i++) {
            uint8_t *q = copy + (parts[i].p - copy);
            size_t j;

            for (j = 0; j < parts[i].n; j++)
                if (q[j] == 1)
                    q[j] = 0;
        }

    /* the tree */
    path_of(dir_a, "a", NULL);
    path_of(dir_b, "b", NULL);
    CHECK(mkdir(dir_a, 0700) == 0 || errno == EEXIST);
    if (two)
        CHECK(mkdir(dir_b, 0700) == 0 || errno == EEXIST);
    else
        rm_category("b");
    for (k = 0; k < 2 * 3; k++) {
        const char *cat = k < 3 ? "a" : "b";
        char path[PATH_MAX];

        if (k >= 3 && !two)
            break;
        if (parts[k].present) {
            write_file(cat, files[k % 3], parts[k].p, parts[k].n);
        } else {
            path_of(path, cat, files[k % 3]);
            CHECK(unlink(path) == 0 || errno == ENOENT);
        }
    }

    /* load */
    memset(&r, 0, sizeof(r));
    nprobes = 0;
    r.bl = flt_bl_new();
    CHECK(r.bl != NULL);
    if (opts & 4) {
        err[0] = '\0';
        CHECK(flt_bl_load_dir(r.bl, root, names_bad, 2, on_warn, &r, err,
                              sizeof(err)) == -1);
        CHECK(err[0] != '\0');
        CHECK(flt_bl_ncategories(r.bl) == 0);
    }
    for (i = 0; i < ((opts & 1) ? 2u : 1u); i++) {
        int rc;

        if (opts & 2)
            rc = flt_bl_load_dir(r.bl, root, two ? names_ba : names_ba + 1,
                                 two ? 2 : 1, on_warn, &r, err, sizeof(err));
        else
            rc = flt_bl_load_dir(r.bl, root, NULL, 0, on_warn, &r, err,
                                 sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "fuzz_blocklist: load failed: %s\n", err);
            abort();
        }
        flt_bl_get_stats(r.bl, i == 0 ? &st : &st2);
    }
    r.ncat = flt_bl_ncategories(r.bl);
    CHECK(r.ncat == (two ? 2u : 1u));
    r.id[0] = flt_bl_category_id(r.bl, "a");
    r.id[1] = two ? flt_bl_category_id(r.bl, "b") : -1;
    CHECK(r.id[0] == ((opts & 2) && two ? 1 : 0));
    CHECK(!two || r.id[1] == ((opts & 2) ? 0 : 1));
    CHECK(strcmp(flt_bl_category_name(r.bl, r.id[0]), "a") == 0);
    CHECK(flt_bl_category_name(r.bl, (int)r.ncat) == NULL);
    CHECK(flt_bl_category_id(r.bl, "c") == -1);

    /* stats against the input and the reference */
    flt_bl_get_stats(r.bl, &st2);
    for (k = 0; k < (two ? 2 : 1); k++)
        ref_load(&r.ref[k], &parts[3 * k + 2]);
    CHECK(st2.bad_lines == r.warnings);
    CHECK(st2.bytes >= sizeof(void *));
    CHECK(st.expressions == r.ref[0].compiled + r.ref[1].compiled);
    if (opts & 1) {
        /* a second load of the same files: names dedupe, expressions add */
        CHECK(st2.domains == st.domains && st2.urls == st.urls);
        CHECK(st2.expressions == 2 * st.expressions);
        CHECK(st2.bad_lines == 2 * st.bad_lines);
    }
    r.names_only_re = st2.domains == 0 && st2.urls == 0;

    /* match */
    nfixed = sizeof(fixed) / sizeof(fixed[0]);
    for (i = 0; i < FIXED_PER_RUN; i++) {
        size_t f = (size + i * 5) % (nfixed + 1), j;

        if (f < nfixed) {
            probe_line(&r, fixed[f], strlen(fixed[f]));
            continue;
        }
        /* a host longer than any name: 300 labels "a." */
        memset(big, 'a', sizeof(big));
        for (j = 1; j < sizeof(big); j += 2)
            big[j] = '.';
        probe_line(&r, big, sizeof(big));
    }
    cnt = cut_lines(&parts[6], l, budget, 0);
    budget -= cnt;
    for (i = 0; i < cnt; i++)
        probe_line(&r, l[i].s, l[i].n);
    /* the whole probe part as one request, and the raw tail of part 7 */
    if (parts[6].present && parts[6].n > 0 && parts[6].n < 300)
        probe_line(&r, (const char *)parts[6].p, parts[6].n);
    if (parts[7].n > 1)
        probe_line(&r, (const char *)parts[7].p + 1, parts[7].n - 1);
    probe_lists(&r, parts, &budget);

    for (k = 0; k < 2; k++)
        ref_free(&r.ref[k]);
    flt_bl_free(r.bl);
    free(copy);
    return 0;
}

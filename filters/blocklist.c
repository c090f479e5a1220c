/*
 * blocklist.c - category blocklists in the UT1 / squidGuard layout (see
 * blocklist.h). Loading reads files; matching reads memory only.
 *
 * Layout in memory (sized for millions of names):
 *
 *   arena   one growable byte array holding every string: domain names and
 *           URL hosts as [len byte][bytes], URL paths as raw bytes. Offsets
 *           are 32-bit; offset 0 is a dummy byte so that 0 means "empty".
 *   dom     open-addressing hash table (linear probing, load <= 0.7) of
 *           8-byte slots { 24-bit hash tag | 8-bit category, arena offset }.
 *           A name in several categories has one slot per category, all
 *           pointing at the same arena record.
 *   urls    entries { host, path, category } sorted by (host, path,
 *           category); uhosts groups them per host, and utab hashes the
 *           host to its group. A request path is matched against a group
 *           by binary search (see url_search in bl_names.c), so a host
 *           with thousands of entries costs a few log2(n) steps, not n.
 *   res     compiled PCRE2 expressions (JIT), each tagged with its
 *           category; patterns of one file are merged into alternations of
 *           up to FLT_BL_MERGE_MAX patterns when that is safe
 *           (re_mergeable in bl_expr.c).
 *
 * Host names are hashed right to left (FNV-1a over the reversed bytes, then
 * a 64-bit finalizer), so one pass over "a.b.example.com" yields the hashes
 * of every label suffix: a.b.example.com, b.example.com, example.com, com.
 * A lookup is one probe sequence per label, whatever the size of the lists.
 *
 * Matching allocates nothing but shares one pcre2 match_data, match context
 * and JIT stack per list: calls on one struct flt_bl must not run
 * concurrently (the daemon runs one loop; a threaded caller needs one list
 * per thread).
 *
 * The module is four files, one concern each, sharing struct flt_bl
 * through bl_int.h: this one (the public API, reading list files,
 * categories and the directory walk), bl_names.c (arena, host names,
 * domains and URL lists: loading and lookups), bl_expr.c (expressions:
 * literal prefilter, PCRE2 compile, merge and match) and bl_rq.c (the
 * literals a pattern requires).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/blocklist.h"
#include "filters/bl_int.h"

#define BL_READ_BUF (64 * 1024) /* also the longest line read */

enum bl_kind { BL_DOMAINS, BL_URLS, BL_EXPRESSIONS };

static const char *const bl_files[] = { "domains", "urls", "expressions" };

/* State of one flt_bl_load_dir call. */
struct bl_load {
    flt_bl_warn_cb warn;
    void *warn_data;
    char *err;
    size_t errlen;
    char *buf;                  /* BL_READ_BUF bytes for the line reader */
};

struct bl_reader {
    int fd;
    char *buf;
    size_t pos, end;
    unsigned line;
    int eof, skipping;
};

/* --- small helpers ---------------------------------------------------- */

static int bl_fail(struct bl_load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bl_fail(struct bl_load *ld, const char *fmt, ...)
{
    va_list ap;

    if (ld->err != NULL && ld->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void bl_warn(struct flt_bl *bl, struct bl_load *ld, const char *file,
                    unsigned line, const char *why)
{
    bl->bad++;
    if (ld->warn != NULL)
        ld->warn(ld->warn_data, file, line, why);
}

static inline int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* --- reading files ---------------------------------------------------- */

/*
 * The next line of r without its '\n': 1 (line in *s, *n), 0 at the end,
 * -1 on a read error (errno), -2 when a line longer than the buffer was
 * skipped (its number in r->line).
 */
static int rd_line(struct bl_reader *r, char **s, size_t *n)
{
    for (;;) {
        char *p = r->buf + r->pos;
        char *nl = memchr(p, '\n', r->end - r->pos);
        ssize_t got;

        if (nl != NULL || (r->eof && (r->pos < r->end || r->skipping))) {
            size_t len = nl != NULL ? (size_t)(nl - p) : r->end - r->pos;

            r->pos += len + (nl != NULL);
            r->line++;
            if (r->skipping) {
                r->skipping = 0;
                return -2;
            }
            *s = p;
            *n = len;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, p, r->end - r->pos);
            r->end -= r->pos;
            r->pos = 0;
        }
        if (r->end == BL_READ_BUF) {
            r->skipping = 1;        /* no newline in a full buffer */
            r->end = 0;
        }
        got = read(r->fd, r->buf + r->end, BL_READ_BUF - r->end);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

/* Strip blanks and CR around s[0..*n); returns the new start. */
static char *trim(char *s, size_t *n)
{
    size_t len = *n;

    while (len > 0 && is_blank(s[len - 1]))
        len--;
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    *n = len;
    return s;
}

/*
 * A domains or urls line is one word, optionally followed by a comment.
 * Cuts *n to the word; returns 0 if something else follows.
 */
static int one_word(const char *s, size_t *n)
{
    size_t i, j;

    for (i = 0; i < *n && !is_blank(s[i]); i++)
        ;
    for (j = i; j < *n && is_blank(s[j]); j++)
        ;
    if (j < *n && s[j] != '#')
        return 0;
    *n = i;
    return 1;
}

/*
 * Load one list file of a category. A missing file is an empty list.
 * Returns 0, or -1 with the error in ld (unreadable file, no memory).
 */
static int load_file(struct flt_bl *bl, struct bl_load *ld, const char *path,
                     enum bl_kind kind, unsigned cat)
{
    struct bl_reader r;
    struct bl_pat *pats = NULL;
    size_t npats = 0, pats_cap = 0, tlen = 0, tcap = 0, n;
    char *text = NULL, *s, name[BL_NAME_MAX + 1];
    const char *why;
    struct stat st;
    int rc = 0, got;

    memset(&r, 0, sizeof(r));
    r.buf = ld->buf;
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
        if (errno == ENOENT)
            return 0;
        return bl_fail(ld, "%s: %s", path, strerror(errno));
    }
    /* Size the table for the file at once (~16 bytes a line) rather
     * than rehash a million names while they come in. */
    if (kind == BL_DOMAINS && fstat(r.fd, &st) == 0 && st.st_size > 0
        && bl_dom_reserve(bl, bl->ndom + (size_t)st.st_size / 16) != 0) {
        rc = -ENOMEM;
        goto done;
    }
    if (kind == BL_EXPRESSIONS && bl_re_state(bl) != 0) {
        rc = -ENOMEM;
        goto done;
    }

    while ((got = rd_line(&r, &s, &n)) != 0) {
        if (got == -1) {
            rc = bl_fail(ld, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (got == -2) {
            bl_warn(bl, ld, path, r.line, "line too long");
            continue;
        }
        if (r.line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
            s += 3;                 /* UTF-8 byte order mark */
            n -= 3;
        }
        s = trim(s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        why = NULL;
        if (kind != BL_EXPRESSIONS && !one_word(s, &n)) {
            bl_warn(bl, ld, path, r.line, "unexpected text after the entry");
            continue;
        }
        if (kind == BL_DOMAINS) {
            size_t k = bl_host_norm(s, n, name, &why);

            if (k == 0) {
                bl_warn(bl, ld, path, r.line, why);
                continue;
            }
            if (bl_dom_add(bl, name, k, cat) < 0) {
                rc = -ENOMEM;
                goto done;
            }
        } else if (kind == BL_URLS) {
            int k = bl_url_add(bl, s, n, cat, &why);

            if (k < 0) {
                rc = -ENOMEM;
                goto done;
            }
            if (k == 0)
                bl_warn(bl, ld, path, r.line, why);
        } else {
            char msg[160], emsg[120];
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *code;

            code = pcre2_compile((PCRE2_SPTR)s, n, PCRE2_CASELESS, &ec, &eo,
                                 NULL);
            if (code == NULL) {
                pcre2_get_error_message(ec, (PCRE2_UCHAR *)emsg, sizeof(emsg));
                snprintf(msg, sizeof(msg), "bad expression: %s at offset %zu",
                         emsg, (size_t)eo);
                bl_warn(bl, ld, path, r.line, msg);
                continue;
            }
            if (bl_pat_room(&pats, &pats_cap, npats, &text, &tcap, tlen + n)
                != 0) {
                pcre2_code_free(code);
                rc = -ENOMEM;
                goto done;
            }
            memcpy(text + tlen, s, n);
            pats[npats].off = tlen;
            pats[npats].len = n;
            pats[npats].code = code;
            npats++;
            tlen += n;
            bl->nexpr++;
        }
    }
    if (kind == BL_EXPRESSIONS)
        rc = bl_re_commit(bl, pats, npats, text, cat);

done:
    if (rc == -ENOMEM)
        rc = bl_fail(ld, "%s: out of memory", path);
    while (npats > 0)
        pcre2_code_free(pats[--npats].code);    /* NULL when kept */
    free(pats);
    free(text);
    close(r.fd);
    return rc;
}

/* --- categories ------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *dir, const char *name, int *err)
{
    char path[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name)
        >= sizeof(path)) {
        *err = ENAMETOOLONG;
        return 0;
    }
    if (stat(path, &st) != 0) {
        *err = errno;
        return 0;
    }
    *err = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    return S_ISDIR(st.st_mode);
}

static int valid_category(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

/*
 * The category names to load: the listed ones (checked, duplicates
 * dropped) or every subdirectory of dir, sorted. *out holds pointers into
 * names or strdup'd copies (*owned).
 */
static int pick_categories(struct bl_load *ld, const char *dir,
                           const char *const *names, size_t n,
                           char ***out, size_t *nout)
{
    char **v = NULL, **nv;
    size_t cnt = 0, cap = 0, i, j;
    DIR *d;
    struct dirent *de;
    int e;

    if (names != NULL) {
        v = calloc(n ? n : 1, sizeof(*v));
        if (v == NULL)
            return bl_fail(ld, "out of memory");
        for (i = 0; i < n; i++) {
            if (names[i] == NULL || !valid_category(names[i])) {
                free(v);
                return bl_fail(ld, "%s: bad category name \"%s\"", dir,
                               names[i] ? names[i] : "(null)");
            }
            if (!is_dir(dir, names[i], &e)) {
                free(v);
                return bl_fail(ld, "%s/%s: unknown category (%s)", dir,
                               names[i], strerror(e));
            }
            for (j = 0; j < cnt && strcmp(v[j], names[i]) != 0; j++)
                ;
            if (j == cnt)
                v[cnt++] = (char *)names[i];
        }
        *out = v;
        *nout = cnt;
        return 0;
    }

    d = opendir(dir);
    if (d == NULL)
        return bl_fail(ld, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (!valid_category(de->d_name) || !is_dir(dir, de->d_name, &e))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL)
                goto nomem;
            v = nv;
        }
        v[cnt] = strdup(de->d_name);
        if (v[cnt] == NULL)
            goto nomem;
        cnt++;
    }
    closedir(d);
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), name_cmp);
    *out = v;
    *nout = cnt;
    return 0;

nomem:
    closedir(d);
    while (cnt > 0)
        free(v[--cnt]);
    free(v);
    return bl_fail(ld, "out of memory");
}

/* --- public ----------------------------------------------------------- */

struct flt_bl *flt_bl_new(void)
{
    return calloc(1, sizeof(struct flt_bl));
}

void flt_bl_free(struct flt_bl *bl)
{
    size_t i;

    if (bl == NULL)
        return;
    for (i = 0; i < bl->ncat; i++)
        free(bl->names[i]);
    for (i = 0; i < bl->nres; i++)
        pcre2_code_free(bl->res[i].code);
    free(bl->res);
    pcre2_match_data_free(bl->md);
    pcre2_match_context_free(bl->mctx);
    pcre2_jit_stack_free(bl->jstack);
    free(bl->lits);
    free(bl->lit_text.p);
    for (i = 0; i < 3; i++)
        free(bl->ltab[i].head);
    free(bl->marks);
    free(bl->always);
    for (i = 0; i < 2; i++) {
        pcre2_code_free(bl->gate[i]);
        free(bl->gated[i]);
    }
    free(bl->gate_text.p);
    free(bl->dom);
    free(bl->urls);
    free(bl->uhosts);
    free(bl->utab);
    free(bl->arena.p);
    free(bl);
}

int flt_bl_load_dir(struct flt_bl *bl, const char *dir,
                    const char *const *names, size_t n,
                    flt_bl_warn_cb warn, void *warn_data,
                    char *err, size_t errlen)
{
    struct bl_load ld = { warn, warn_data, err, errlen, NULL };
    char **cats = NULL, path[PATH_MAX];
    unsigned ids[FLT_BL_MAX_CATEGORIES];
    size_t ncats = 0, fresh = 0, i, k;
    int rc = -1;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (bl == NULL || dir == NULL)
        return bl_fail(&ld, "no list or directory");
    if (pick_categories(&ld, dir, names, n, &cats, &ncats) != 0)
        return -1;
    for (i = 0; i < ncats; i++)
        if (flt_bl_category_id(bl, cats[i]) < 0)
            fresh++;
    if (bl->ncat + fresh > FLT_BL_MAX_CATEGORIES) {
        bl_fail(&ld, "%s: too many categories (at most %d)", dir,
                FLT_BL_MAX_CATEGORIES);
        goto out;
    }
    /* Ids follow the order of names, or of the sorted directory. */
    for (i = 0; i < ncats; i++) {
        int id = flt_bl_category_id(bl, cats[i]);

        if (id < 0) {
            bl->names[bl->ncat] = strdup(cats[i]);
            if (bl->names[bl->ncat] == NULL) {
                bl_fail(&ld, "out of memory");
                goto out;
            }
            id = (int)bl->ncat++;
        }
        ids[i] = (unsigned)id;
    }
    ld.buf = malloc(BL_READ_BUF);
    if (ld.buf == NULL) {
        bl_fail(&ld, "out of memory");
        goto out;
    }
    for (i = 0; i < ncats; i++)
        for (k = 0; k < 3; k++) {
            if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, cats[i],
                                 bl_files[k]) >= sizeof(path)) {
                bl_fail(&ld, "%s/%s: path too long", dir, cats[i]);
                goto out;
            }
            if (load_file(bl, &ld, path, (enum bl_kind)k, ids[i]) != 0)
                goto out;
        }
    if (bl_url_index(bl) != 0 || bl_lit_index(bl) != 0) {
        bl_fail(&ld, "%s: out of memory", dir);
        goto out;
    }
    bl_arena_shrink(&bl->arena);
    rc = 0;

out:
    free(ld.buf);
    if (names == NULL)
        for (i = 0; i < ncats; i++)
            free(cats[i]);
    free(cats);
    return rc;
}

int flt_bl_category_id(const struct flt_bl *bl, const char *name)
{
    size_t i;

    if (bl == NULL || name == NULL)
        return -1;
    for (i = 0; i < bl->ncat; i++)
        if (strcmp(bl->names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *flt_bl_category_name(const struct flt_bl *bl, int id)
{
    if (bl == NULL || id < 0 || (size_t)id >= bl->ncat)
        return NULL;
    return bl->names[id];
}

size_t flt_bl_ncategories(const struct flt_bl *bl)
{
    return bl ? bl->ncat : 0;
}

int flt_bl_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                 const char *host, size_t host_len,
                 const char *url, size_t url_len)
{
    struct flt_bl_set all;
    int c;

    if (bl == NULL)
        return -1;
    if (want == NULL) {                 /* NULL: every category */
        memset(&all, 0xff, sizeof(all));
        want = &all;
    }
    /* The order blocklist.h promises: domains, urls, then expressions. */
    c = bl_names_match(bl, want, host, host_len, url, url_len);
    if (c >= 0)
        return c;
    return bl_re_match(bl, want, host, host_len, url, url_len);
}

void flt_bl_get_stats(const struct flt_bl *bl, struct flt_bl_stats *st)
{
    size_t i;

    memset(st, 0, sizeof(*st));
    if (bl == NULL)
        return;
    st->domains = bl->ndom;
    st->urls = bl->nurls;
    st->expressions = bl->nexpr;
    st->bad_lines = bl->bad;
    st->bytes = sizeof(*bl) + bl->arena.cap + bl->re_bytes
                + (bl->dom ? (bl->dom_mask + 1) * sizeof(*bl->dom) : 0)
                + bl->urls_cap * sizeof(*bl->urls)
                + bl->nuhosts * sizeof(*bl->uhosts)
                + (bl->utab ? (bl->utab_mask + 1) * sizeof(*bl->utab) : 0)
                + bl->res_cap * sizeof(*bl->res)
                + bl->lits_cap * sizeof(*bl->lits) + bl->lit_text.cap
                + (bl->marks ? (bl->nres + 63) / 64 * sizeof(*bl->marks) * 4 : 0)
                + bl->gate_text.cap;
    for (i = 0; i < 2; i++) {
        size_t sz = 0, jsz = 0;

        if (bl->gate[i] == NULL)
            continue;
        pcre2_pattern_info(bl->gate[i], PCRE2_INFO_SIZE, &sz);
        pcre2_pattern_info(bl->gate[i], PCRE2_INFO_JITSIZE, &jsz);
        st->bytes += sz + jsz;
    }
    for (i = 0; i < 3; i++)
        st->bytes += bl->ltab[i].head
                     ? ((size_t)1 << bl->ltab[i].bits) * sizeof(uint32_t) : 0;
    for (i = 0; i < bl->ncat; i++)
        st->bytes += strlen(bl->names[i]) + 1;
}

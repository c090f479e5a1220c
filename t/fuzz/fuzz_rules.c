/*
 * fuzz_rules.c - libFuzzer target for the ACL definitions and http_access
 * rules (acl/rules.h: acl/rules.c, acl/match.c): definitions from values
 * and from list files, rules, their evaluation.
 *
 * The input is text, one command a line ('\n'):
 *   acl NAME TYPE [-i]      define NAME (acl_set_define); its values are
 *                           the lines after it, up to a line "." or the end
 *   file NAME TYPE [-i]     the same, the lines written to a list file
 *                           (acl_set_define_file: comments, blanks, CRLF)
 *   ext NAME TEXT           an external ACL: matches when the host holds TEXT
 *   http_access TEXT        a rule (acl_set_rule)
 *   req KEY=VALUE...        a request to evaluate, from a plain GET of
 *                           http://www.example.com/index.html changed by:
 *                           src= dst= more= (addresses, "none") host= port=
 *                           method= url= path= user= sni= conns= now=
 *                           hdr=Name:Value, and the words connect, tried
 *                           (auth_tried), known (sni_known), any (sni_any)
 * Other lines are ignored. Two sets are built: A as the lines say, and B
 * with every "acl" definition made from a list file of the same lines.
 *
 * Every run checks, and abort()s when one breaks:
 *   - a call that fails leaves an error message, NUL-terminated in its
 *     buffer; a list file's warnings name that file and one of its lines;
 *   - acl_set_nrules counts the rules accepted, acl_set_has the ACLs;
 *   - for every request (the input's and a few fixed ones), each also with
 *     no destination yet, with the server name peeked or not and with
 *     credentials tried or not: acl_check gives the verdict, the rule, the
 *     deciding ACL and note of a reference that evaluates the rules as
 *     rules.h says, term by term through acl_match_name; it asks only for
 *     a fact that is missing (NEED_DST without a destination, NEED_SNI for
 *     a CONNECT not peeked, NEED_AUTH without credentials tried); a second
 *     evaluation gives the same answer;
 *   - an ACL defined from plain values (no blanks at the ends, no comment,
 *     no "#" after a blank outside regex types) matches every request the
 *     same in A and in B, and B loads those lines without a warning;
 * and ASan/UBSan/LeakSanitizer watch the definitions, the matchers (PCRE2
 * with the set's limits) and acl_set_free.
 *
 * Seeds: t/fuzz/corpus/rules/ (the definitions and rules of
 * t/unit/check_rules.c, the sample configuration's policy).
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
#include <time.h>
#include <unistd.h>

#include "acl/rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MAX_LINES 512           /* of the input, read */
#define MAX_VALUES 64           /* per definition */
#define MAX_ACLS 64             /* defined by name, tracked */
#define MAX_RULES 64
#define MAX_TERMS 16            /* per rule, tracked (acl_set_rule: 64) */
#define MAX_REQS 16             /* of the input */
#define MAX_MORE 4              /* dst_more addresses */
#define MAX_HDRS 8
#define ERRLEN 256
#define MONDAY_NOON 1704110400  /* 2024-01-01 12:00 UTC */

static char list_path[PATH_MAX];    /* the list file, rewritten per use */

static void cleanup(void)
{
    if (list_path[0] != '\0')
        unlink(list_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    int fd;

    (void)argc;
    (void)argv;
    /* time ACLs use localtime_r: the same verdicts on every machine */
    setenv("TZ", "UTC", 1);
    tzset();
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
              && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    CHECK((size_t)snprintf(list_path, sizeof(list_path),
                           "%s/fuzz_rules.XXXXXX", tmp) < sizeof(list_path));
    fd = mkstemp(list_path);
    if (fd < 0) {
        perror("fuzz_rules: mkstemp");
        exit(1);
    }
    close(fd);
    atexit(cleanup);
    return 0;
}

/* ---- the input ---- */

struct line {
    const char *s;
    size_t n;
};

/* A NUL-terminated copy of a line, owned by the run. */
static char *dup_line(struct line l)
{
    char *s = malloc(l.n + 1);

    CHECK(s != NULL);
    memcpy(s, l.s, l.n);
    s[l.n] = '\0';
    return s;
}

/* Split s (modified) at blanks into at most max words. */
static size_t words(char *s, char **w, size_t max)
{
    size_t n = 0;
    char *save = NULL, *p;

    for (p = strtok_r(s, " \t\r", &save); p && n < max;
         p = strtok_r(NULL, " \t\r", &save))
        w[n++] = p;
    return n;
}

/* ---- what the run tracks ---- */

struct ext {                    /* an external ACL's data */
    char *text;                 /* matches hosts holding it */
    char note[80];              /* what it reports */
};

struct tracked {                /* an ACL name and what is known of it */
    char name[80];
    int ext;                    /* external: its note is one of ours */
    int same;                   /* A and B hold the same definitions of it */
    int defined;                /* A has it */
};

struct rule {
    int deny;
    size_t n;
    char names[MAX_TERMS][80];
    int neg[MAX_TERMS];
};

struct run {
    struct acl_set *a, *b;
    struct tracked acl[MAX_ACLS];
    size_t nacl;
    struct rule rules[MAX_RULES];
    size_t nrules;              /* accepted by A, tracked */
    size_t nrules_a;            /* accepted by A */
    int untracked_rules;        /* some rule is not in rules[] */
    const char *warn_file;      /* the list file being loaded */
    size_t warn_lines;          /* its line count */
    unsigned warnings;
};

static struct tracked *track(struct run *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nacl; i++)
        if (strcmp(r->acl[i].name, name) == 0)
            return &r->acl[i];
    if (r->nacl == MAX_ACLS || strlen(name) >= sizeof(r->acl[0].name))
        return NULL;
    memset(&r->acl[r->nacl], 0, sizeof(r->acl[0]));
    strcpy(r->acl[r->nacl].name, name);
    r->acl[r->nacl].same = 1;
    return &r->acl[r->nacl++];
}

static void on_warn(void *data, const char *file, unsigned line,
                    const char *why)
{
    struct run *r = data;

    CHECK(file != NULL && r->warn_file != NULL &&
          strcmp(file, r->warn_file) == 0);
    CHECK(line >= 1 && line <= r->warn_lines);
    CHECK(why != NULL && why[0] != '\0');
    r->warnings++;
}

/* A failure leaves a message, NUL-terminated in the buffer (filled with
 * 'x' before the call). */
static void check_err(int rc, const char *err)
{
    CHECK(rc == 0 || rc == -1);
    if (rc < 0)
        CHECK(memchr(err, '\0', ERRLEN) != NULL && err[0] != '\0');
}

static int is_regex_type(const char *type)
{
    return strcmp(type, "dstdom_regex") == 0 || strcmp(type, "url_regex") == 0 ||
           strcmp(type, "urlpath_regex") == 0 || strcmp(type, "browser") == 0 ||
           strcmp(type, "req_header") == 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Would a list file give back this value as it is (rules.c line_trim)? */
static int plain_value(const char *v, int regex)
{
    size_t n = strlen(v), i;

    if (n == 0 || blank(v[0]) || blank(v[n - 1]) || v[0] == '#')
        return 0;
    for (i = 1; !regex && i < n; i++)
        if (v[i] == '#' && blank(v[i - 1]))
            return 0;
    return 1;
}

/* Write n lines to the list file; returns its path. */
static const char *write_list(char *const *v, size_t n)
{
    FILE *f = fopen(list_path, "w");
    size_t i;

    CHECK(f != NULL);
    for (i = 0; i < n; i++)
        CHECK(fputs(v[i], f) >= 0 && fputc('\n', f) != EOF);
    CHECK(fclose(f) == 0);
    return list_path;
}

/* "acl" and "file": the header words, then the value lines. */
static void define(struct run *r, char **w, size_t nw, char **v, size_t n,
                   int from_file)
{
    char err[ERRLEN];
    const char *name, *type, *path;
    struct tracked *t;
    int icase, rc, rcb, plain = 1;
    unsigned warn_a;
    size_t i;

    if (nw < 3)
        return;
    name = w[1];
    type = w[2];
    icase = nw > 3 && strcmp(w[3], "-i") == 0;
    t = track(r, name);
    for (i = 0; i < n; i++)
        plain &= plain_value(v[i], is_regex_type(type));

    memset(err, 'x', sizeof(err));
    path = write_list(v, n);
    r->warn_file = path;
    r->warn_lines = n;
    r->warnings = 0;
    if (from_file) {
        rc = acl_set_define_file(r->a, name, type, icase, path, on_warn, r,
                                 err, sizeof(err));
    } else {
        rc = acl_set_define(r->a, name, type, icase, (const char *const *)v,
                            n, err, sizeof(err));
        CHECK(r->warnings == 0);
    }
    check_err(rc, err);
    warn_a = r->warnings;

    /* B: always from the list file */
    r->warnings = 0;
    memset(err, 'x', sizeof(err));
    rcb = acl_set_define_file(r->b, name, type, icase, path, on_warn, r, err,
                              sizeof(err));
    check_err(rcb, err);
    if (rc == 0)
        CHECK(acl_set_has(r->a, name) && acl_set_has_type(r->a, type));
    if (t == NULL)
        return;
    if (t->same && from_file) {
        /* the same file into the same ACL */
        CHECK(rcb == rc && r->warnings == warn_a);
    } else if (t->same && rc == 0 && plain) {
        /* plain values: the file gives them back as they are */
        CHECK(rcb == 0 && r->warnings == 0);
    } else if (rc != rcb || (rc == 0 && !plain)) {
        t->same = 0;            /* one of them has values the other lacks */
    }
    if (rc == 0)
        t->defined = 1;
}

static int ext_match(void *data, const struct acl_request *q,
                     const char **note)
{
    const struct ext *e = data;
    size_t n = strlen(e->text);

    if (q->host == NULL || n > q->host_len || memmem(q->host, q->host_len,
                                                     e->text, n) == NULL)
        return 0;
    *note = e->note;
    return 1;
}

static void ext_free(void *data)
{
    struct ext *e = data;

    free(e->text);
    free(e);
}

static void define_ext(struct run *r, char **w, size_t nw)
{
    char err[ERRLEN];
    struct tracked *t;
    struct ext *e;
    int rc[2], k;

    if (nw < 2)
        return;
    for (k = 0; k < 2; k++) {
        e = calloc(1, sizeof(*e));
        CHECK(e != NULL);
        e->text = strdup(nw > 2 ? w[2] : "");
        CHECK(e->text != NULL);
        snprintf(e->note, sizeof(e->note), "note of %s", w[1]);
        memset(err, 'x', sizeof(err));
        rc[k] = acl_set_define_external(k ? r->b : r->a, w[1], ext_match, e,
                                        ext_free, err, sizeof(err));
        check_err(rc[k], err);
        if (rc[k] < 0)
            ext_free(e);        /* a failed call leaves it to us */
    }
    t = track(r, w[1]);
    if (t == NULL) {
        /* an external the reference cannot see: its notes unknown */
        if (rc[0] == 0)
            r->untracked_rules = 1;
        return;
    }
    if (t->same)
        CHECK(rc[0] == rc[1]);  /* the same state, the same answer */
    if (rc[0] == 0) {
        t->defined = 1;
        t->ext = 1;
    }
}

static void add_rule(struct run *r, const char *text)
{
    char err[ERRLEN], *copy, *w[MAX_TERMS + 2];
    struct rule *ru;
    size_t n, i;
    int rc;

    memset(err, 'x', sizeof(err));
    rc = acl_set_rule(r->a, text, err, sizeof(err));
    check_err(rc, err);
    if (rc < 0)
        return;
    r->nrules_a++;
    copy = strdup(text);
    CHECK(copy != NULL);
    n = words(copy, w, MAX_TERMS + 2);
    CHECK(n >= 2);
    CHECK(strcmp(w[0], "allow") == 0 || strcmp(w[0], "deny") == 0);
    if (r->nrules == MAX_RULES || n > MAX_TERMS + 1 || r->untracked_rules) {
        r->untracked_rules = 1;
        free(copy);
        return;
    }
    ru = &r->rules[r->nrules];
    ru->deny = strcmp(w[0], "deny") == 0;
    ru->n = n - 1;
    for (i = 1; i < n; i++) {
        ru->neg[i - 1] = w[i][0] == '!';
        CHECK(strlen(w[i] + ru->neg[i - 1]) < sizeof(ru->names[0]));
        strcpy(ru->names[i - 1], w[i] + ru->neg[i - 1]);
        CHECK(acl_set_has(r->a, ru->names[i - 1]));
    }
    r->nrules++;
    free(copy);
}

/* ---- requests ---- */

struct req {
    struct acl_request q;
    struct sockaddr_storage cli, dst, more[MAX_MORE];
    const struct sockaddr *morep[MAX_MORE];
    struct sl_http_hdr hdrs[MAX_HDRS];
    struct sl_http_msg msg;
};

/* An address; "none" (or nothing that parses) leaves AF_UNSPEC. */
static void set_addr(struct sockaddr_storage *ss, const char *s)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
}

static void req_base(struct req *rq)
{
    struct acl_request *q = &rq->q;

    memset(rq, 0, sizeof(*rq));
    set_addr(&rq->cli, "192.168.1.10");
    set_addr(&rq->dst, "93.184.216.34");
    q->client = (struct sockaddr *)&rq->cli;
    q->dst = (struct sockaddr *)&rq->dst;
    q->host = "www.example.com";
    q->port = 80;
    q->method = "GET";
    q->url = "http://www.example.com/index.html";
    q->path = "/index.html";
    q->conns = 1;
    q->now = MONDAY_NOON;
    rq->msg.hdrs = rq->hdrs;
    rq->msg.max_hdrs = MAX_HDRS;
    q->req = &rq->msg;
}

/* Change the base request as the words say (they stay owned by the run). */
static void req_words(struct req *rq, char **w, size_t nw)
{
    struct acl_request *q = &rq->q;
    size_t i;
    char *v;

    for (i = 1; i < nw; i++) {
        v = strchr(w[i], '=');
        if (v != NULL)
            *v++ = '\0';
        if (strcmp(w[i], "connect") == 0) {
            q->is_connect = 1;
            q->method = "CONNECT";
        } else if (strcmp(w[i], "tried") == 0) {
            q->auth_tried = 1;
        } else if (strcmp(w[i], "known") == 0) {
            q->sni_known = 1;
        } else if (strcmp(w[i], "any") == 0) {
            q->sni_any = 1;
        } else if (v == NULL) {
            continue;
        } else if (strcmp(w[i], "src") == 0) {
            set_addr(&rq->cli, v);
            q->client = strcmp(v, "none") == 0 ? NULL : (struct sockaddr *)&rq->cli;
        } else if (strcmp(w[i], "dst") == 0) {
            set_addr(&rq->dst, v);
            q->dst = strcmp(v, "none") == 0 ? NULL : (struct sockaddr *)&rq->dst;
        } else if (strcmp(w[i], "more") == 0 && q->ndst_more < MAX_MORE) {
            set_addr(&rq->more[q->ndst_more], v);
            rq->morep[q->ndst_more] = (struct sockaddr *)&rq->more[q->ndst_more];
            q->ndst_more++;
            q->dst_more = rq->morep;
        } else if (strcmp(w[i], "host") == 0) {
            q->host = v;
        } else if (strcmp(w[i], "port") == 0) {
            q->port = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(w[i], "method") == 0) {
            q->method = v;
        } else if (strcmp(w[i], "url") == 0) {
            q->url = v;
        } else if (strcmp(w[i], "path") == 0) {
            q->path = v;
        } else if (strcmp(w[i], "user") == 0) {
            q->user = v;
        } else if (strcmp(w[i], "sni") == 0) {
            q->sni = v;
        } else if (strcmp(w[i], "conns") == 0) {
            q->conns = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(w[i], "now") == 0) {
            q->now = (time_t)strtoll(v, NULL, 10);
        } else if (strcmp(w[i], "hdr") == 0 && rq->msg.nhdrs < MAX_HDRS) {
            char *colon = strchr(v, ':');
            struct sl_http_hdr *h = &rq->hdrs[rq->msg.nhdrs++];

            h->name.base = v;
            h->name.len = colon ? (size_t)(colon - v) : strlen(v);
            h->value.base = colon ? colon + 1 : "";
            h->value.len = strlen(h->value.base);
        }
    }
}

static void req_lengths(struct acl_request *q)
{
    q->host_len = strlen(q->host);
    q->url_len = strlen(q->url);
    q->path_len = strlen(q->path);
}

/* The rules as rules.h says, through acl_match_name. */
static enum acl_verdict reference(const struct run *r, const struct acl_request *q,
                                  int *rule, const char **acl, const char **note)
{
    size_t i, k;
    int m;

    for (i = 0; i < r->nrules; i++) {
        const struct rule *ru = &r->rules[i];

        *note = NULL;
        for (k = 0; k < ru->n; k++) {
            m = acl_match_name(r->a, ru->names[k], q);
            CHECK(m == -1 || m == 0 || m == 1);
            *acl = ru->names[k];
            if (m < 0) {
                *rule = (int)i;
                return ACL_NEED_DST;    /* one of the needs: see probe() */
            }
            if (m == 1) {
                const struct tracked *t = NULL;
                size_t j;

                for (j = 0; j < r->nacl; j++)
                    if (strcmp(r->acl[j].name, ru->names[k]) == 0)
                        t = &r->acl[j];
                if (t != NULL && t->ext)
                    *note = "ext";      /* compared by content in probe() */
            }
            if (m == ru->neg[k])
                break;
        }
        if (k == ru->n) {
            *rule = (int)i;
            return ru->deny ? ACL_DENY : ACL_ALLOW;
        }
    }
    *rule = -1;
    *acl = NULL;
    *note = NULL;
    if (r->nrules == 0)
        return ACL_DENY;
    return r->rules[r->nrules - 1].deny ? ACL_ALLOW : ACL_DENY;
}

static void probe(const struct run *r, const struct acl_request *q)
{
    struct acl_result res, res2;
    const char *acl = NULL, *note = NULL;
    enum acl_verdict v, want;
    int rule, ma, mb;
    size_t i;

    memset(&res, 0, sizeof(res));
    v = acl_check(r->a, q, &res);
    CHECK(v == ACL_ALLOW || v == ACL_DENY || v == ACL_NEED_DST ||
          v == ACL_NEED_SNI || v == ACL_NEED_AUTH);
    CHECK(res.rule_text != NULL);
    CHECK(res.rule >= -1 && (res.rule < 0 || (size_t)res.rule < r->nrules_a));
    if (v == ACL_NEED_DST)
        CHECK(q->dst == NULL);
    if (v == ACL_NEED_SNI)
        CHECK(q->is_connect && !q->sni_known);
    if (v == ACL_NEED_AUTH)
        CHECK(!q->auth_tried && q->user == NULL);
    memset(&res2, 0, sizeof(res2));
    CHECK(acl_check(r->a, q, &res2) == v);
    CHECK(res2.rule == res.rule && res2.acl == res.acl && res2.note == res.note);
    CHECK(acl_check(r->a, q, NULL) == v);

    if (!r->untracked_rules) {
        want = reference(r, q, &rule, &acl, &note);
        CHECK(rule == res.rule);
        if (want == ACL_NEED_DST)
            CHECK(v == ACL_NEED_DST || v == ACL_NEED_SNI || v == ACL_NEED_AUTH);
        else
            CHECK(v == want);
        CHECK((acl == NULL) == (res.acl == NULL));
        CHECK(acl == NULL || strcmp(acl, res.acl) == 0);
        CHECK((note == NULL) == (res.note == NULL));
        CHECK(res.note == NULL || strncmp(res.note, "note of ", 8) == 0);
        if (rule < 0)
            CHECK(strcmp(res.rule_text, "(default)") == 0);
    }

    for (i = 0; i < r->nacl; i++) {
        if (!r->acl[i].same || !r->acl[i].defined)
            continue;
        ma = acl_match_name(r->a, r->acl[i].name, q);
        mb = acl_match_name(r->b, r->acl[i].name, q);
        CHECK(ma == mb);
        CHECK(acl_match_name(r->a, r->acl[i].name, q) == ma);
    }
}

/* The request, then with no destination, the peek flipped, credentials
 * tried (or not). */
static void probe_all(const struct run *r, struct req *rq)
{
    struct acl_request q = rq->q;

    req_lengths(&q);
    probe(r, &q);
    q.dst = NULL;
    q.ndst_more = 0;
    probe(r, &q);
    q = rq->q;
    req_lengths(&q);
    q.sni_known = !q.sni_known;
    probe(r, &q);
    q.auth_tried = !q.auth_tried;
    probe(r, &q);
}

static const char *const fixed_reqs[] = {
    "req",
    "req connect host=www.example.com port=443 url=www.example.com:443 path=",
    "req connect known sni=mail.example.org host=10.0.0.1 port=8443 url=10.0.0.1:8443 path= dst=10.0.0.1",
    "req src=::1 dst=::1 host=localhost url=http://localhost/ path=/ user=alice tried",
    "req method=POST port=8080 url=https://ads.example/a?b path=/a?b hdr=User-Agent:Mozilla/5.0 hdr=X-Test:1",
};

/* ---- the run ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct line lines[MAX_LINES];
    char *owned[MAX_LINES], *w[MAX_VALUES + 4], *vals[MAX_VALUES];
    struct req reqs[MAX_REQS];
    struct run *r = calloc(1, sizeof(*r));
    size_t nlines = 0, nreqs = 0, i, j, nw, nv;
    const char *p = (const char *)data, *end = p + size;

    CHECK(r != NULL);
    while (p < end && nlines < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        lines[nlines].s = p;
        lines[nlines].n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* NULs end a line early: the values are C strings */
        lines[nlines].n = strnlen(p, lines[nlines].n);
        nlines++;
        p = nl ? nl + 1 : end;
    }
    for (i = 0; i < nlines; i++)
        owned[i] = dup_line(lines[i]);

    r->a = acl_set_new();
    r->b = acl_set_new();
    CHECK(r->a != NULL && r->b != NULL);
    for (i = 0; i < nlines; i++) {
        char *cmd = strdup(owned[i]);

        CHECK(cmd != NULL);
        nw = words(owned[i], w, MAX_VALUES + 4);
        if (nw == 0) {
            free(cmd);
            continue;
        }
        if (strcmp(w[0], "acl") == 0 || strcmp(w[0], "file") == 0) {
            /* the value lines follow, up to "." */
            for (nv = 0, j = i + 1; j < nlines && nv < MAX_VALUES; j++, nv++) {
                if (strcmp(owned[j], ".") == 0)
                    break;
                vals[nv] = owned[j];
            }
            define(r, w, nw, vals, nv, w[0][0] == 'f');
            i = j;
        } else if (strcmp(w[0], "ext") == 0) {
            define_ext(r, w, nw);
        } else if (strcmp(w[0], "http_access") == 0) {
            add_rule(r, cmd + strspn(cmd, " \t\r") + strlen("http_access"));
        } else if (strcmp(w[0], "req") == 0 && nreqs < MAX_REQS) {
            req_base(&reqs[nreqs]);
            req_words(&reqs[nreqs], w, nw);
            nreqs++;
        }
        free(cmd);
    }
    CHECK(acl_set_nrules(r->a) == r->nrules_a);

    for (i = 0; i < nreqs; i++)
        probe_all(r, &reqs[i]);
    for (i = 0; i < sizeof(fixed_reqs) / sizeof(fixed_reqs[0]); i++) {
        char *s = strdup(fixed_reqs[i]);
        struct req rq;

        CHECK(s != NULL);
        nw = words(s, w, MAX_VALUES + 4);
        req_base(&rq);
        req_words(&rq, w, nw);
        probe_all(r, &rq);
        free(s);
    }

    acl_set_free(r->a);
    acl_set_free(r->b);
    for (i = 0; i < nlines; i++)
        free(owned[i]);
    free(r);
    return 0;
}

/*
 * match.c - the ACL types of rules.h: how each checks and stores its values
 * (config load: may allocate, may take time) and how it matches a request
 * (per request: no allocation, bounded work).
 *
 * Costs while matching: a domain list is one hash probe per label of the
 * host whatever its size; a regex list is a few alternations, JIT-compiled;
 * addresses, ports and time windows are short arrays scanned in order.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/group.h"
#include "acl/rules_int.h"
#include "squidlike/chars.h"
#include "squidlike/hash.h"

_Static_assert(ACL_NEED_DST > 1 && ACL_NEED_SNI > 1 && ACL_NEED_AUTH > 1 &&
               ACL_NEED_GROUP > 1,
               "a match result of 0 or 1 must not look like a NEED verdict");

#define ALL_DAYS 0x7fu
#define DAY_END (24 * 60)

/* ---- dstdom_regex, url_regex, urlpath_regex, browser ------------------ */

static int rx_add(struct acl *a, const char *const *v, size_t n, int icase,
                  char *why, size_t whylen)
{
    if (acl_rx_add(&a->u.rx, v, n, icase) < 0)
        return acl_why(why, whylen, "out of memory compiling regexes");
    return 0;
}

static void rx_free(struct acl *a)
{
    acl_rx_free(&a->u.rx);
}

static int dstdom_regex_match(const struct acl *a, const struct acl_request *r,
                              const char **note)
{
    return acl_rx_match(&a->u.rx, r->host, r->host_len);
}

static int url_regex_match(const struct acl *a, const struct acl_request *r,
                           const char **note)
{
    return acl_rx_match(&a->u.rx, r->url, r->url_len);
}

static int urlpath_regex_match(const struct acl *a,
                               const struct acl_request *r, const char **note)
{
    return acl_rx_match(&a->u.rx, r->path, r->path_len);
}

/* Any field line called name whose value matches l. */
static int fields_match(const struct sl_http_msg *m, const char *name,
                        const struct acl_rxlist *l)
{
    size_t i;

    for (i = 0; m && i < m->nhdrs; i++)
        if (sl_view_ieq(m->hdrs[i].name, name) &&
            acl_rx_match(l, m->hdrs[i].value.base, m->hdrs[i].value.len))
            return 1;
    return 0;
}

static int browser_match(const struct acl *a, const struct acl_request *r,
                         const char **note)
{
    return fields_match(r->req, "User-Agent", &a->u.rx);
}

/* ---- req_header: "Name regex" ----------------------------------------- */

/* Length of the field name; *re points at the regex after the blanks. */
static size_t hdr_split(const char *v, const char **re)
{
    size_t n = 0;

    while (sl_is_tchar(v[n]))
        n++;
    *re = v + n;
    while (sl_is_ows(**re))
        (*re)++;
    return (*re > v + n) ? n : 0;
}

static int hdr_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *re;

    if (hdr_split(v, &re) == 0 || *re == '\0')
        return acl_why(why, whylen,
                       "bad req_header \"%s\": want \"Header-Name regex\"", v);
    return acl_rx_check(re, icase, why, whylen);
}

static struct acl_hdr_rx *hdr_entry(struct acl *a, const char *name,
                                    size_t len)
{
    struct acl_hdr_rx *e;
    size_t i;

    for (i = 0; i < a->u.hdr.n; i++) {
        e = &a->u.hdr.v[i];
        if (strlen(e->name) == len && strncasecmp(e->name, name, len) == 0)
            return e;
    }
    e = realloc(a->u.hdr.v, (a->u.hdr.n + 1) * sizeof(*e));
    if (!e)
        return NULL;
    a->u.hdr.v = e;
    e = &e[a->u.hdr.n];
    memset(e, 0, sizeof(*e));
    e->name = strndup(name, len);
    if (!e->name)
        return NULL;
    a->u.hdr.n++;
    return e;
}

/* Values naming the same field are compiled together. */
static int hdr_add(struct acl *a, const char *const *v, size_t n, int icase,
                   char *why, size_t whylen)
{
    const char **re = malloc((n ? n : 1) * sizeof(*re));
    unsigned char *done = calloc(n ? n : 1, 1);
    size_t i, j, k, len;
    struct acl_hdr_rx *e;
    int rc = 0;

    for (i = 0; re && done && i < n && rc == 0; i++) {
        if (done[i])
            continue;
        len = hdr_split(v[i], &re[0]);
        for (k = 1, j = i + 1; j < n; j++) {
            if (!done[j] && hdr_split(v[j], &re[k]) == len &&
                strncasecmp(v[i], v[j], len) == 0) {
                done[j] = 1;
                k++;
            }
        }
        e = hdr_entry(a, v[i], len);
        rc = e ? acl_rx_add(&e->rx, re, k, icase) : -ENOMEM;
    }
    if (!re || !done)
        rc = -ENOMEM;
    free(re);
    free(done);
    return rc < 0 ? acl_why(why, whylen, "out of memory") : 0;
}

static int hdr_match(const struct acl *a, const struct acl_request *r,
                     const char **note)
{
    size_t i;

    for (i = 0; i < a->u.hdr.n; i++)
        if (fields_match(r->req, a->u.hdr.v[i].name, &a->u.hdr.v[i].rx))
            return 1;
    return 0;
}

static void hdr_free(struct acl *a)
{
    size_t i;

    for (i = 0; i < a->u.hdr.n; i++) {
        acl_rx_free(&a->u.hdr.v[i].rx);
        free(a->u.hdr.v[i].name);
    }
    free(a->u.hdr.v);
}

/* ---- src, dst ---------------------------------------------------------- */

static int net_check(const char *v, int icase, char *why, size_t whylen)
{
    struct acl_net net;
    const char *err;

    if (strcmp(v, "all") == 0 || acl_net_parse(v, &net, &err) == 0)
        return 0;
    return acl_why(why, whylen, "bad address \"%s\": %s", v, err);
}

static int net_add(struct acl *a, const char *const *v, size_t n, int icase,
                   char *why, size_t whylen)
{
    struct acl_net *nv = realloc(a->u.nets.v, (a->u.nets.n + n + 1) * sizeof(*nv));
    const char *err;
    size_t i;

    if (!nv)
        return acl_why(why, whylen, "out of memory");
    a->u.nets.v = nv;
    for (i = 0; i < n; i++) {
        if (strcmp(v[i], "all") == 0)
            a->u.nets.any = 1;
        else if (acl_net_parse(v[i], &nv[a->u.nets.n], &err) == 0)
            a->u.nets.n++;
    }
    return 0;
}

static int nets_match(const struct acl *a, const struct sockaddr *sa)
{
    return sa && (a->u.nets.any || acl_nets_match(a->u.nets.v, a->u.nets.n, sa));
}

static int src_match(const struct acl *a, const struct acl_request *r,
                     const char **note)
{
    return nets_match(a, r->client);
}

static int dst_match(const struct acl *a, const struct acl_request *r,
                     const char **note)
{
    size_t i;

    if (r->dst == NULL)
        return ACL_NEED_DST;
    /* Any address: the forward may connect to any of them (Squid's
     * meaning), so "deny dst" must see them all. */
    if (nets_match(a, r->dst))
        return 1;
    for (i = 0; i < r->ndst_more; i++)
        if (nets_match(a, r->dst_more[i]))
            return 1;
    return 0;
}

static void net_free(struct acl *a)
{
    free(a->u.nets.v);
}

/* ---- dstdomain, server_name -------------------------------------------- */

/* Rewrite the IPv6 literal in buf (SL_HTTP_HOST_MAX + 1 bytes) in its
 * canonical form ("2001:DB8:0::1" -> "2001:db8::1"); its length, 0 if bad. */
static size_t v6_canon(char *buf)
{
    unsigned char a[16];

    if (inet_pton(AF_INET6, buf, a) != 1 ||
        !inet_ntop(AF_INET6, a, buf, SL_HTTP_HOST_MAX + 1))
        return 0;
    return strlen(buf);
}

/*
 * Normalise a list entry into out (SL_HTTP_HOST_MAX + 1 bytes): lowercase,
 * no trailing dot, no brackets around an IPv6 literal; *suffix says it
 * began with a dot (which is dropped). Returns the length, or 0 when bad.
 */
static size_t dom_norm(const char *v, char *out, int *suffix)
{
    size_t len = strlen(v), i;

    *suffix = (*v == '.');
    v += *suffix;
    len -= (size_t)*suffix;
    if (len >= 2 && v[0] == '[' && v[len - 1] == ']') {
        v++;
        len -= 2;
    }
    if (len && v[len - 1] == '.')
        len--;
    if (len == 0 || len > SL_HTTP_HOST_MAX)
        return 0;
    for (i = 0; i < len; i++)
        out[i] = sl_lower(v[i]);
    out[len] = '\0';
    if (memchr(out, ':', len))
        return v6_canon(out);
    if (out[len - 1] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        char c = out[i];
        if (c == '.' ? (i == 0 || out[i - 1] == '.') : !sl_is_host_char(c))
            return 0;
    }
    return len;
}

static int dom_check(const char *v, int icase, char *why, size_t whylen)
{
    char buf[SL_HTTP_HOST_MAX + 1];
    int suffix;

    if (dom_norm(v, buf, &suffix) == 0)
        return acl_why(why, whylen, "bad domain \"%s\"", v);
    return 0;
}

static int dom_add(struct acl *a, const char *const *v, size_t n, int icase,
                   char *why, size_t whylen)
{
    char buf[SL_HTTP_HOST_MAX + 1];
    size_t i, len;
    int suffix;

    for (i = 0; i < n; i++) {
        len = dom_norm(v[i], buf, &suffix);
        if (len && acl_sset_add(suffix ? &a->u.dom.suffix : &a->u.dom.exact,
                                buf, len, 0) < 0)
            return acl_why(why, whylen, "out of memory");
    }
    return 0;
}

/*
 * Is host in the list? The host is hashed from its last byte backwards, so
 * at each label boundary the running hash is the hash of that suffix: one
 * pass, one probe per label. An IP literal only matches literally.
 */
static int dom_lookup(const struct acl *a, const char *host, size_t len)
{
    char buf[SL_HTTP_HOST_MAX + 1];
    uint32_t h = SL_FNV32_INIT;
    struct in_addr in;
    size_t i;
    int ip;

    if (!host)
        return 0;
    if (len && host[len - 1] == '.')
        len--;
    if (len == 0 || len > SL_HTTP_HOST_MAX)
        return 0;
    for (i = 0; i < len; i++)
        buf[i] = sl_lower(host[i]);
    buf[len] = '\0';
    if (memchr(buf, ':', len) && (len = v6_canon(buf)) == 0)
        return 0;
    ip = memchr(buf, ':', len) != NULL ||
         (sl_is_digit(buf[len - 1]) && inet_pton(AF_INET, buf, &in) == 1);
    for (i = len; i-- > 0;) {
        h = sl_fnv32_step(h, (unsigned char)buf[i]);
        if ((i == 0 || (!ip && buf[i - 1] == '.')) &&
            acl_sset_find(&a->u.dom.suffix, buf + i, len - i, h))
            return 1;
    }
    return acl_sset_find(&a->u.dom.exact, buf, len, h) != NULL;
}

static int dstdomain_match(const struct acl *a, const struct acl_request *r,
                           const char **note)
{
    return dom_lookup(a, r->host, r->host_len);
}

/* The SNI once the peek is done; the host when there was none, or for a
 * request that is not a tunnel. */
static int server_name_match(const struct acl *a, const struct acl_request *r,
                             const char **note)
{
    /* The CONNECT host or the SNI, either one: a listed host is refused
     * at once, before any peek, and no SNI a client makes up opens a
     * tunnel to a listed host; a listed SNI is refused whatever host the
     * CONNECT names. (Squid reads the SNI instead of the host, so a
     * client picks which one is checked.) */
    if (dom_lookup(a, r->host, r->host_len) || r->sni_any)
        return 1;
    if (r->is_connect && !r->sni_known)
        return ACL_NEED_SNI;
    if (r->sni_known && r->sni && *r->sni)
        return dom_lookup(a, r->sni, strlen(r->sni));
    return 0;
}

static void dom_free(struct acl *a)
{
    acl_sset_free(&a->u.dom.exact);
    acl_sset_free(&a->u.dom.suffix);
}

/* ---- port --------------------------------------------------------------- */

/* Decimal 0..65535 at *p, advancing it; -1 when there is none. */
static long port_num(const char **p)
{
    long v = 0;
    int n = 0;

    while (sl_is_digit(**p) && n < 6) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return (n == 0 || v > 65535) ? -1 : v;
}

static int port_parse(const char *v, struct acl_port_range *pr)
{
    long lo = port_num(&v), hi = lo;

    if (*v == '-') {
        v++;
        hi = port_num(&v);
    }
    if (lo < 0 || hi < lo || *v != '\0')
        return -1;
    pr->lo = (unsigned)lo;
    pr->hi = (unsigned)hi;
    return 0;
}

static int port_check(const char *v, int icase, char *why, size_t whylen)
{
    struct acl_port_range pr;

    if (port_parse(v, &pr) == 0)
        return 0;
    return acl_why(why, whylen, strchr(v, '-') ? "bad port range \"%s\""
                                               : "bad port \"%s\"", v);
}

static int port_add(struct acl *a, const char *const *v, size_t n, int icase,
                    char *why, size_t whylen)
{
    struct acl_port_range *nv = realloc(a->u.ports.v, (a->u.ports.n + n + 1) * sizeof(*nv));
    size_t i;

    if (!nv)
        return acl_why(why, whylen, "out of memory");
    a->u.ports.v = nv;
    for (i = 0; i < n; i++)
        if (port_parse(v[i], &nv[a->u.ports.n]) == 0)
            a->u.ports.n++;
    return 0;
}

static int port_match(const struct acl *a, const struct acl_request *r,
                      const char **note)
{
    size_t i;

    for (i = 0; i < a->u.ports.n; i++)
        if (r->port >= a->u.ports.v[i].lo && r->port <= a->u.ports.v[i].hi)
            return 1;
    return 0;
}

static void port_free(struct acl *a)
{
    free(a->u.ports.v);
}

/* ---- method, proto, proxy_auth: sets of words --------------------------- */

static int method_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *p = v;

    while (sl_is_tchar(*p))
        p++;
    return (p > v && *p == '\0') ? 0 : acl_why(why, whylen, "bad method \"%s\"", v);
}

static int proto_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *p = v;

    while (sl_is_scheme_char(*p, 0))
        p++;
    return (p > v && p - v < 16 && *p == '\0')
               ? 0 : acl_why(why, whylen, "bad proto \"%s\"", v);
}

static int user_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *p = v;

    while ((unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    return (p > v && *p == '\0') ? 0 : acl_why(why, whylen, "bad user name \"%s\"", v);
}

/* Add words; proto is stored lowercase, "REQUIRED" is a flag for users. */
static int words_add(struct acl *a, const char *const *v, size_t n, int icase,
                     char *why, size_t whylen)
{
    int is_proto = strcmp(a->type->name, "proto") == 0;
    int is_user = strcmp(a->type->name, "proxy_auth") == 0;
    char buf[32];
    size_t i, len;

    for (i = 0; i < n; i++) {
        const char *w = v[i];
        len = strlen(w);
        if (is_user && strcmp(w, "REQUIRED") == 0) {
            a->u.words.required = 1;
            continue;
        }
        if (is_proto && len < sizeof(buf)) {
            for (len = 0; w[len]; len++)
                buf[len] = sl_lower(w[len]);
            w = buf;
        }
        if (acl_sset_add(&a->u.words.set, w, len, 0) < 0)
            return acl_why(why, whylen, "out of memory");
    }
    return 0;
}

static int word_in(const struct acl *a, const char *w, size_t len)
{
    return acl_sset_find(&a->u.words.set, w, len, acl_hash(w, len)) != NULL;
}

static int method_match(const struct acl *a, const struct acl_request *r,
                        const char **note)
{
    return r->method && word_in(a, r->method, strlen(r->method));
}

/* "connect" for a tunnel, else the URL's scheme ("http" without one). */
static int proto_match(const struct acl *a, const struct acl_request *r,
                       const char **note)
{
    char buf[16];
    size_t i;

    if (r->is_connect)
        return word_in(a, "connect", 7);
    for (i = 0; r->url && i < r->url_len && i < sizeof(buf); i++) {
        if (r->url[i] == ':')
            return word_in(a, buf, i);
        buf[i] = sl_lower(r->url[i]);
    }
    return word_in(a, "http", 4);
}

static int user_match(const struct acl *a, const struct acl_request *r,
                      const char **note)
{
    if (!r->user)
        return r->auth_tried ? 0 : ACL_NEED_AUTH;
    return a->u.words.required || word_in(a, r->user, strlen(r->user));
}

static void words_free(struct acl *a)
{
    acl_sset_free(&a->u.words.set);
}

/* ---- time ---------------------------------------------------------------- */

/* "SMTWHFA" (and D for weekdays) into tm_wday bits; -1 on another letter. */
static int time_days(const char *t, size_t n, unsigned *days)
{
    static const char letters[] = "SMTWHFA";
    const char *p;
    size_t i;

    for (i = 0; i < n; i++) {
        if (t[i] == 'D')
            *days |= 0x3eu;
        else if (t[i] && (p = strchr(letters, t[i])) != NULL)
            *days |= 1u << (p - letters);
        else
            return -1;
    }
    return 0;
}

/* "H:MM" or "HH:MM"; max is the largest hour (24 only as 24:00). */
static int time_hm(const char **t, const char *end, unsigned *min)
{
    const char *p = *t;
    unsigned h = 0, n = 0;

    while (p < end && sl_is_digit(*p) && n < 2)
        h = h * 10 + (unsigned)(*p++ - '0'), n++;
    if (n == 0 || end - p < 3 || p[0] != ':' || !sl_is_digit(p[1]) ||
        !sl_is_digit(p[2]))
        return -1;
    *min = h * 60 + (unsigned)((p[1] - '0') * 10 + (p[2] - '0'));
    *t = p + 3;
    return (h > 24 || p[1] > '5' || *min > DAY_END) ? -1 : 0;
}

static int time_window(const char *t, size_t n, struct acl_time_spec *ts)
{
    const char *end = t + n;

    if (time_hm(&t, end, &ts->start) < 0 || ts->start >= DAY_END ||
        t == end || *t++ != '-' || time_hm(&t, end, &ts->end) < 0 || t != end)
        return -1;
    return 0;
}

/* Next blank-separated token of *p; its length, 0 at the end. */
static size_t next_token(const char **p)
{
    size_t n = 0;

    while (sl_is_ows(**p))
        (*p)++;
    while ((*p)[n] && !sl_is_ows((*p)[n]))
        n++;
    return n;
}

static int time_check(const char *v, int icase, char *why, size_t whylen)
{
    struct acl_time_spec ts;
    unsigned days = 0;
    size_t n;

    for (; (n = next_token(&v)) != 0; v += n) {
        if (sl_is_digit(*v) ? time_window(v, n, &ts) < 0 : time_days(v, n, &days) < 0)
            return acl_why(why, whylen, "bad time \"%.*s\"", (int)n, v);
    }
    return 0;
}

static int time_push(struct acl *a, unsigned days, unsigned start, unsigned end)
{
    struct acl_time_spec *nv = realloc(a->u.time.v, (a->u.time.n + 1) * sizeof(*nv));

    if (!nv)
        return -ENOMEM;
    a->u.time.v = nv;
    nv[a->u.time.n++] = (struct acl_time_spec){ days ? days : ALL_DAYS, start, end };
    return 0;
}

/* Squid reads the tokens as one stream: days gather until a window takes
 * them (no days: every day); days left at the end mean all day. */
static int time_add(struct acl *a, const char *const *v, size_t n, int icase,
                    char *why, size_t whylen)
{
    struct acl_time_spec ts;
    unsigned days = 0;
    const char *p;
    size_t i, len;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        for (p = v[i]; rc == 0 && (len = next_token(&p)) != 0; p += len) {
            if (!sl_is_digit(*p)) {
                (void)time_days(p, len, &days);
            } else if (time_window(p, len, &ts) == 0) {
                rc = time_push(a, days, ts.start, ts.end);
                days = 0;
            }
        }
    }
    if (rc == 0 && days)
        rc = time_push(a, days, 0, DAY_END);
    return rc < 0 ? acl_why(why, whylen, "out of memory") : 0;
}

/* Windows include both end minutes; one that ends before it starts runs
 * past midnight into the next day and belongs to the day it starts on. */
static int time_match(const struct acl *a, const struct acl_request *r,
                      const char **note)
{
    const struct acl_time_spec *ts;
    struct tm tm;
    unsigned m, today, yesterday;
    size_t i;

    if (!localtime_r(&r->now, &tm))
        return 0;
    m = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
    today = 1u << tm.tm_wday;
    yesterday = 1u << ((tm.tm_wday + 6) % 7);
    for (i = 0; i < a->u.time.n; i++) {
        ts = &a->u.time.v[i];
        if (ts->start <= ts->end
                ? (ts->days & today) && m >= ts->start && m <= ts->end
                : ((ts->days & today) && m >= ts->start) ||
                  ((ts->days & yesterday) && m <= ts->end))
            return 1;
    }
    return 0;
}

static void time_free(struct acl *a)
{
    free(a->u.time.v);
}

/* ---- ldap_group ------------------------------------------------------------- */

/* At most this many groups in one ldap_group ACL: one lookup asks for all
 * the groups it misses, and the answers must fit in the smallest cache. */
#define GROUPS_MAX 64

static int group_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *p;

    for (p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            break;
    if (*v == '\0' || *p != '\0' || p - v > ACL_GROUP_NAME_MAX)
        return acl_why(why, whylen, "bad group name \"%s\" (1 to %d bytes, no "
                       "control characters)", v, ACL_GROUP_NAME_MAX);
    return 0;
}

static int group_add(struct acl *a, const char *const *v, size_t n, int icase,
                     char *why, size_t whylen)
{
    char **nv;
    size_t i, j;

    if (a->u.groups.n + n > GROUPS_MAX)
        return acl_why(why, whylen, "more than %d groups in one ldap_group ACL",
                       GROUPS_MAX);
    nv = realloc(a->u.groups.v, (a->u.groups.n + n + 1) * sizeof(*nv));
    if (!nv)
        return acl_why(why, whylen, "out of memory");
    a->u.groups.v = nv;
    for (i = 0; i < n; i++) {
        for (j = 0; j < a->u.groups.n && strcmp(nv[j], v[i]) != 0; j++)
            ;
        if (j < a->u.groups.n)
            continue;           /* a duplicate: one lookup is enough */
        if ((nv[a->u.groups.n] = strdup(v[i])) == NULL)
            return acl_why(why, whylen, "out of memory");
        a->u.groups.n++;
    }
    return 0;
}

/* A member of any group: 1. Every answer "no": 0. Some answer missing:
 * ask for it (once; after the lookups, missing reads as unknown). */
static int group_match(const struct acl *a, const struct acl_request *r,
                       const char **note)
{
    int need = 0, unknown = 0;
    size_t i;

    if (!r->user)
        return r->auth_tried ? 0 : ACL_NEED_AUTH;
    if (!r->groups)
        return ACL_M_UNKNOWN;
    for (i = 0; i < a->u.groups.n; i++) {
        switch (acl_gcache_get(r->groups, r->user, a->u.groups.v[i], r->now)) {
        case ACL_GANS_MEMBER:
            return 1;
        case ACL_GANS_NOT:
            break;
        case ACL_GANS_ERROR:
            unknown = 1;
            break;
        default:
            need = 1;
            break;
        }
    }
    if (need && !r->groups_final)
        return ACL_NEED_GROUP;
    return (need || unknown) ? ACL_M_UNKNOWN : 0;
}

static void group_free(struct acl *a)
{
    size_t i;

    for (i = 0; i < a->u.groups.n; i++)
        free(a->u.groups.v[i]);
    free(a->u.groups.v);
}

int acl_set_groups(const struct acl_set *s, const char *name,
                   const char *const **v, size_t *n)
{
    const struct acl *a = acl_find(s, name);

    if (!a || a->type->match != group_match)
        return -1;
    *v = (const char *const *)a->u.groups.v;
    *n = a->u.groups.n;
    return 0;
}

/* ---- maxconn, all, external ----------------------------------------------- */

static int maxconn_check(const char *v, int icase, char *why, size_t whylen)
{
    const char *p = v;

    while (sl_is_digit(*p) && p - v < 9)
        p++;
    return (p > v && *p == '\0') ? 0 : acl_why(why, whylen, "bad maxconn \"%s\"", v);
}

static int maxconn_add(struct acl *a, const char *const *v, size_t n, int icase,
                       char *why, size_t whylen)
{
    a->u.maxconn.max = (unsigned)strtoul(v[0], NULL, 10);
    a->u.maxconn.set = 1;
    return 0;
}

static int maxconn_match(const struct acl *a, const struct acl_request *r,
                         const char **note)
{
    return r->conns > a->u.maxconn.max;
}

static int all_match(const struct acl *a, const struct acl_request *r,
                     const char **note)
{
    return 1;
}

static int external_match(const struct acl *a, const struct acl_request *r,
                          const char **note)
{
    const char *n = NULL;

    if (a->u.ext.match(a->u.ext.data, r, &n) <= 0)
        return 0;
    if (n)
        *note = n;
    return 1;
}

static void external_free(struct acl *a)
{
    if (a->u.ext.free_cb)
        a->u.ext.free_cb(a->u.ext.data);
}

const struct acl_type acl_type_external = {
    "external", ACL_TF_NOVALUES, NULL, NULL, external_match, external_free
};

static const struct acl_type types[] = {
    { "src", 0, net_check, net_add, src_match, net_free },
    { "dst", 0, net_check, net_add, dst_match, net_free },
    { "dstdomain", 0, dom_check, dom_add, dstdomain_match, dom_free },
    { "server_name", 0, dom_check, dom_add, server_name_match, dom_free },
    { "dstdom_regex", ACL_TF_REGEX, acl_rx_check, rx_add, dstdom_regex_match, rx_free },
    { "url_regex", ACL_TF_REGEX, acl_rx_check, rx_add, url_regex_match, rx_free },
    { "urlpath_regex", ACL_TF_REGEX, acl_rx_check, rx_add, urlpath_regex_match, rx_free },
    { "browser", ACL_TF_REGEX, acl_rx_check, rx_add, browser_match, rx_free },
    { "req_header", ACL_TF_REGEX, hdr_check, hdr_add, hdr_match, hdr_free },
    { "port", 0, port_check, port_add, port_match, port_free },
    { "method", 0, method_check, words_add, method_match, words_free },
    { "proto", 0, proto_check, words_add, proto_match, words_free },
    { "proxy_auth", 0, user_check, words_add, user_match, words_free },
    { "time", 0, time_check, time_add, time_match, time_free },
    { "ldap_group", 0, group_check, group_add, group_match, group_free },
    { "maxconn", ACL_TF_ONEVALUE, maxconn_check, maxconn_add, maxconn_match, NULL },
    { "all", ACL_TF_NOVALUES, NULL, NULL, all_match, NULL },
};

const struct acl_type *acl_type_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

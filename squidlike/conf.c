/*
 * conf.c - load squidlike.conf into an immutable, reference-counted
 * snapshot (see conf.h). The only file that touches libconfig.
 *
 * libconfig does the syntax; this file does the meaning. Every group has a
 * table of the keys it knows, so a misspelt setting is an error rather than
 * a silent default. Each key names a kind (size, count, duration, boolean,
 * group) or a parser of its own; the generic walker below applies it.
 * Errors read "FILE:LINE: what was wrong (what was expected)", with the
 * line of the offending setting (or list element), and stop the load.
 *
 * The defaults are the values of etc/squidlike.conf; t/unit/check_conf.c
 * checks that the two agree.
 *
 * Known libconfig 1.5 limitation: an integer literal beyond 32 bits
 * without an L suffix is truncated by the library before we see it
 * (3000000000 reads as a negative number). The string forms ("3G") have
 * no such problem and are what the sample config uses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "squidlike/chars.h"
#include "squidlike/conf_int.h"

/* ---------------------------------------------------------------- errors */

void __attribute__((format(printf, 2, 3)))
cf_seterr(struct ctx *x, const char *fmt, ...)
{
    va_list ap;

    if (x->err == NULL || x->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
}

/* Fill the error as "FILE:LINE: message" for setting s; returns -1. */
int __attribute__((format(printf, 3, 4)))
cf_fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
    const char *file = config_setting_source_file(s);
    va_list ap;
    int n;

    if (x->err == NULL || x->errlen == 0)
        return -1;
    n = snprintf(x->err, x->errlen, "%s:%u: ", file ? file : x->path,
                 (unsigned)config_setting_source_line(s));
    if (n < 0 || (size_t)n >= x->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A list element has no name of its own: use its list's. */
const char *cf_sname(const config_setting_t *s)
{
    const char *n = config_setting_name(s);

    if (n == NULL && config_setting_parent(s) != NULL)
        n = config_setting_name(config_setting_parent(s));
    return n ? n : "(root)";
}

/* What the user wrote, for "..., not X" in messages. */
const char *cf_describe(struct ctx *x, const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(x->what, sizeof(x->what), "%lld",
                 config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(x->what, sizeof(x->what), "%g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_STRING:
        snprintf(x->what, sizeof(x->what), "\"%s\"",
                 config_setting_get_string(s));
        break;
    case CONFIG_TYPE_BOOL:
        return config_setting_get_bool(s) ? "true" : "false";
    case CONFIG_TYPE_GROUP:
        return "a group";
    default:
        return "a list";
    }
    return x->what;
}

int cf_is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);

    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}


const struct unit cf_size_units[] = {
    { "G", GIB }, { "M", MIB }, { "K", KIB }, { "", 1 }
};
const struct unit cf_ms_units[] = {     /* no suffix: seconds */
    { "d", MS_D }, { "h", MS_H }, { "m", MS_M }, { "s", MS_S }, { "", MS_S },
    { "ms", 1 }
};

/* v in the largest unit that divides it: "16M", "2m", "300". */
static const char *fmt_unit(char *buf, size_t len, long long v,
                            const struct unit *u)
{
    while (u->mul > 1 && (v < u->mul || v % u->mul != 0))
        u++;
    snprintf(buf, len, "%lld%s", v / u->mul, u->suffix);
    return buf;
}

/* --------------------------------------------------------- value parsers */

/* Decimal digits at *sp into *out; no sign, no blanks, overflow = -1. */
static int parse_digits(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;

    if (!sl_is_digit(*s))
        return -1;
    for (; sl_is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *sp = s;
    *out = v;
    return 0;
}

/* Digits and one suffix of u[] (any case); > 0 and <= max, else -1. */
static int parse_unit(const char *s, const struct unit *u, uint64_t max,
                      uint64_t *out)
{
    uint64_t v;

    if (parse_digits(&s, &v) < 0)
        return -1;
    while (strcasecmp(s, u->suffix) != 0)
        if ((u++)->mul == 1)
            return -1;
    if (v == 0 || v > max / (uint64_t)u->mul)
        return -1;
    *out = v * (uint64_t)u->mul;
    return 0;
}

int sl_conf_parse_size(const char *s, size_t *out)
{
    uint64_t v;

    if (parse_unit(s, cf_size_units, SIZE_MAX, &v) < 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

int sl_conf_parse_duration(const char *s, int64_t *out_ms)
{
    uint64_t v;

    if (parse_unit(s, cf_ms_units, INT64_MAX, &v) < 0)
        return -1;
    *out_ms = (int64_t)v;
    return 0;
}

/* "1".."65535", digits only. */
static int parse_port(const char *s, uint16_t *port)
{
    uint64_t v;

    if (strlen(s) > 5 || parse_digits(&s, &v) < 0 || *s != '\0' ||
        v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Copy [s, s+n) into buf (NUL-terminated); -1 when it does not fit. */
static int copy_part(char *buf, size_t len, const char *s, size_t n)
{
    if (n >= len)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/*
 * Split "[V6]:PORT", "[V6]", "V4:PORT", "V4" or a bare "V6" into the
 * address (written to addr, in network order) and *port (NULL if none).
 * Returns the family, or -1 when the address part is not an IP address.
 */
static int split_hostport(const char *s, void *addr, const char **port)
{
    const char *colon = strchr(s, ':'), *rb = strchr(s, ']');
    char host[INET6_ADDRSTRLEN];

    *port = NULL;
    if (s[0] == '[') {
        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':') ||
            copy_part(host, sizeof(host), s + 1, (size_t)(rb - s - 1)) < 0)
            return -1;
        *port = rb[1] ? rb + 2 : NULL;
        return inet_pton(AF_INET6, host, addr) == 1 ? AF_INET6 : -1;
    }
    if (colon != NULL && strchr(colon + 1, ':') != NULL)
        return inet_pton(AF_INET6, s, addr) == 1 ? AF_INET6 : -1;
    if (colon != NULL) {
        *port = colon + 1;
        if (copy_part(host, sizeof(host), s, (size_t)(colon - s)) < 0)
            return -1;
        s = host;
    }
    return inet_pton(AF_INET, s, addr) == 1 ? AF_INET : -1;
}

int sl_conf_parse_listen(const char *s, struct sl_conf_listen *l,
                         const char **err)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&l->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
    unsigned char a[16] = { 0 };        /* in6addr_any */
    const char *p = s;
    uint16_t port;
    int fam = AF_INET6;

    memset(l, 0, sizeof(*l));
    *err = "expected ADDR:PORT, [V6]:PORT or PORT";
    if (copy_part(l->text, sizeof(l->text), s, strlen(s)) < 0)
        return -1;
    /* PORT alone means the IPv6 wildcard, in6addr_any (all zero): the
     * listener must clear IPV6_V6ONLY so this one socket takes IPv4
     * clients too, as ::ffff:a.b.c.d, which the acl module understands. */
    if (strspn(s, "0123456789") != strlen(s))
        fam = split_hostport(s, a, &p);
    if (fam < 0 || p == NULL)
        return -1;
    if (parse_port(p, &port) < 0) {
        *err = "bad port (expected 1 to 65535)";
        return -1;
    }
    if (fam == AF_INET) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, a, 4);
        l->addrlen = sizeof(*in);
    } else {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        memcpy(&in6->sin6_addr, a, 16);
        l->addrlen = sizeof(*in6);
    }
    return 0;
}

/* "IPv4", "IPv4:PORT", "[IPv6]:PORT" or a bare IPv6 address. */
static int check_nameserver(const char *s)
{
    unsigned char a[16];
    const char *p;
    uint16_t port;

    if (split_hostport(s, a, &p) < 0 || (s[0] == '[' && p == NULL))
        return -1;
    return p == NULL || parse_port(p, &port) == 0 ? 0 : -1;
}

/* ------------------------------------------------------ generic kinds */

/* A size or a duration: an integer times int_mul, or a string with a
 * suffix from units; > 0. */
int cf_get_scaled(struct ctx *x, const config_setting_t *s,
                      const struct unit *units, long long int_mul,
                      const char *expect, long long *v)
{
    long long n = cf_is_int(s) ? config_setting_get_int64(s) : 0;
    uint64_t u;

    if (n > 0 && n <= LLONG_MAX / int_mul) {
        *v = n * int_mul;
        return 0;
    }
    if (config_setting_type(s) == CONFIG_TYPE_STRING &&
        parse_unit(config_setting_get_string(s), units, LLONG_MAX, &u) == 0) {
        *v = (long long)u;
        return 0;
    }
    return cf_fail(x, s, "'%s' must be %s, not %s", cf_sname(s), expect,
                cf_describe(x, s));
}

static int check_range(struct ctx *x, const config_setting_t *s,
                       const struct key *k, long long v)
{
    char lo[32], hi[32], got[32];
    const struct unit *u = k->kind == K_DURATION ? cf_ms_units : cf_size_units;

    if (v >= k->min && v <= k->max)
        return 0;
    if (k->kind == K_COUNT)
        return cf_fail(x, s, "'%s' is out of range: %lld (expected %lld to %lld)",
                    k->name, v, k->min, k->max);
    return cf_fail(x, s, "'%s' is out of range: %s (expected %s to %s)", k->name,
                fmt_unit(got, sizeof(got), v, u),
                fmt_unit(lo, sizeof(lo), k->min, u),
                fmt_unit(hi, sizeof(hi), k->max, u));
}

const char *cf_get_string(struct ctx *x, const config_setting_t *s)
{
    const char *v;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        cf_fail(x, s, "'%s' must be a string, not %s", cf_sname(s), cf_describe(x, s));
        return NULL;
    }
    v = config_setting_get_string(s);
    if (*v == '\0') {
        cf_fail(x, s, "'%s' is empty (expected a non-empty string)", cf_sname(s));
        return NULL;
    }
    return v;
}

/* Replace *field by a copy of v, or by NULL when v equals off_word. */
int cf_set_string(struct ctx *x, const config_setting_t *s, char **field,
                      const char *off_word)
{
    const char *v = cf_get_string(x, s);
    char *copy = NULL;

    if (v == NULL)
        return -1;
    if (off_word == NULL || strcmp(v, off_word) != 0) {
        copy = strdup(v);
        if (copy == NULL)
            return cf_fail(x, s, "out of memory");
    }
    free(*field);
    *field = copy;
    return 0;
}

static int walk(struct ctx *x, const config_setting_t *g,
                const struct key *table, const char *group);
static int apply(struct ctx *x, const config_setting_t *s, const struct key *k)
{
    void *field = (char *)x->c + k->off;
    long long v;

    switch (k->kind) {
    case K_GROUP:
        if (!config_setting_is_group(s))
            return cf_fail(x, s, "'%s' must be a group (%s: { ... };), not %s",
                        k->name, k->name, cf_describe(x, s));
        return walk(x, s, k->sub, k->name);
    case K_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return cf_fail(x, s, "'%s' must be true or false, not %s", k->name,
                        cf_describe(x, s));
        *(int *)field = config_setting_get_bool(s);
        return 0;
    case K_STR:
        return cf_set_string(x, s, (char **)field, k->word);
    case K_COUNT:
        if (!cf_is_int(s))
            return cf_fail(x, s, "'%s' must be an integer, not %s", k->name,
                        cf_describe(x, s));
        v = config_setting_get_int64(s);
        break;
    case K_SIZE:
        if (cf_get_scaled(x, s, cf_size_units, 1, SIZE_MSG, &v) < 0)
            return -1;
        break;
    case K_DURATION:
        if (cf_get_scaled(x, s, cf_ms_units, 1000, DURATION_MSG, &v) < 0)
            return -1;
        break;
    default:
        return k->fn(x, s);
    }
    if (check_range(x, s, k, v) < 0)
        return -1;
    if (k->kind == K_DURATION)
        *(int64_t *)field = (int64_t)v;
    else
        *(size_t *)field = (size_t)v;
    return 0;
}

static int unknown(struct ctx *x, const config_setting_t *s,
                   const struct key *table, const char *group)
{
    char names[300];
    size_t n = 0;
    const struct key *k;

    names[0] = '\0';
    for (k = table; k->name != NULL && n < sizeof(names); k++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
                              n ? ", " : "", k->name);
    if (group == NULL)
        return cf_fail(x, s, "unknown setting '%s' (expected one of: %s)",
                    cf_sname(s), names);
    return cf_fail(x, s, "unknown setting '%s' in group '%s' "
                "(expected one of: %s)", cf_sname(s), group, names);
}

/* Apply every child of group g; an unknown name stops the load. */
static int walk(struct ctx *x, const config_setting_t *g,
                const struct key *table, const char *group)
{
    const config_setting_t *s;
    const struct key *k;
    int i, n = config_setting_length(g);

    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(g, (unsigned)i);
        for (k = table; k->name != NULL; k++)
            if (strcmp(k->name, cf_sname(s)) == 0)
                break;
        if (k->name == NULL)
            return unknown(x, s, table, group);
        if (apply(x, s, k) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------- special keys */

static int k_visible_hostname(struct ctx *x, const config_setting_t *s)
{
    const char *v = cf_get_string(x, s);

    if (v == NULL)
        return -1;
    if (strlen(v) > HOSTNAME_MAX ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-") != strlen(v))
        return cf_fail(x, s, "bad 'visible_hostname' %s (expected up to %d "
                    "letters, digits, dots and dashes)", cf_describe(x, s),
                    HOSTNAME_MAX);
    return cf_set_string(x, s, &x->c->visible_hostname, NULL);
}

/* Index of s's string in names[] (NULL-terminated), or -1 with an error. */
static int pick_name(struct ctx *x, const config_setting_t *s,
                     const char *const *names, const char *expect)
{
    const char *v = cf_get_string(x, s);
    int i;

    if (v == NULL)
        return -1;
    for (i = 0; names[i] != NULL; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return cf_fail(x, s, "bad '%s' %s (expected %s)", cf_sname(s), cf_describe(x, s),
                expect);
}

static int k_log_level(struct ctx *x, const config_setting_t *s)
{
    static const char *const names[] = { "error", "warn", "info", "debug",
                                         NULL };
    int i = pick_name(x, s, names, "error, warn, info or debug");

    if (i < 0)
        return -1;
    x->c->log_level = (enum sl_log_level)i;
    return 0;
}

static int k_access_log_format(struct ctx *x, const config_setting_t *s)
{
    /* In enum sl_log_format order. */
    static const char *const names[] = { "squid", "common", "combined",
                                         "json", NULL };
    int i = pick_name(x, s, names, "squid, common, combined or json");

    if (i < 0)
        return -1;
    x->c->access_log_format = (enum sl_log_format)i;
    return 0;
}

static int k_to_localhost(struct ctx *x, const config_setting_t *s)
{
    /* In enum acl_to_localhost order. */
    static const char *const names[] = { "local-clients", "deny", "allow",
                                         NULL };
    int i = pick_name(x, s, names, "local-clients, deny or allow");

    if (i < 0)
        return -1;
    x->c->access.to_localhost = (enum acl_to_localhost)i;
    return 0;
}

static int k_forwarded_for(struct ctx *x, const config_setting_t *s)
{
    const char *v = cf_get_string(x, s);

    if (v == NULL)
        return -1;
    if (flt_xff_parse(v, &x->c->http.forwarded_for) < 0)
        return cf_fail(x, s, "bad 'forwarded_for' %s (expected delete, on, off, "
                    "transparent or truncate)", cf_describe(x, s));
    return 0;
}

/* A list ([...] or (...)) of at most max entries; returns its length. */
int cf_get_list(struct ctx *x, const config_setting_t *s, size_t max,
                    const char *of)
{
    int n;

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return cf_fail(x, s, "'%s' must be a list of %s ([ ... ]), not %s",
                    cf_sname(s), of, cf_describe(x, s));
    n = config_setting_length(s);
    if ((size_t)n > max)
        return cf_fail(x, s, "too many entries in '%s': %d (expected at most %zu)",
                    cf_sname(s), n, max);
    return n;
}

int cf_each_string(struct ctx *x, const config_setting_t *s, size_t max,
                   const char *what, cf_elem_cb cb)
{
    const config_setting_t *e;
    const char *v, *why;
    int i, n = cf_get_list(x, s, max, "strings");

    for (i = 0; i < n; i++) {
        e = config_setting_get_elem(s, (unsigned)i);
        if ((v = cf_get_string(x, e)) == NULL)
            return -1;
        if ((why = cb(x, v, (size_t)i)) != NULL)
            return cf_fail(x, e, "bad %s %s in '%s': %s", what, cf_describe(x, e),
                        cf_sname(s), why);
    }
    return n;
}

static const char *e_listen(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    return sl_conf_parse_listen(v, &x->c->listen[i], &why) < 0 ? why : NULL;
}

static const char *e_nameserver(struct ctx *x, const char *v, size_t i)
{
    char *d = x->c->dns.nameservers[i];

    if (check_nameserver(v) < 0 ||
        copy_part(d, sizeof(x->c->dns.nameservers[i]), v, strlen(v)) < 0)
        return "expected \"IPv4\", \"IPv4:PORT\", \"IPv6\" or "
               "\"[IPv6]:PORT\"";
    return NULL;
}

static const char *e_net(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    if (acl_net_parse(v, &x->c->access.allow_sources[i], &why) == 0)
        return NULL;
    snprintf(x->why, sizeof(x->why), "%s (expected ADDR or ADDR/PREFIX)",
             why);
    return x->why;
}

static int k_listen(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_LISTEN, "address", e_listen);

    /* No forward proxy at all is fine for a reverse proxy alone: judged
     * once the reverse group is read (cf_reverse_finish). */
    if (n == 0)
        x->empty_listen = s;
    x->c->n_listen = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

static int k_nameservers(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_NS, "nameserver", e_nameserver);

    x->c->dns.n_nameservers = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

static int k_allow_sources(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_NETS, "network", e_net);

    x->c->access.n_allow_sources = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

static int k_connect_ports(struct ctx *x, const config_setting_t *s)
{
    struct sl_conf_access *a = &x->c->access;
    const config_setting_t *e;
    long long p;
    int i, n = cf_get_list(x, s, SL_CONF_MAX_PORTS, "ports");

    if (n < 0)
        return -1;
    for (i = 0; i < n; i++) {
        e = config_setting_get_elem(s, (unsigned)i);
        p = cf_is_int(e) ? config_setting_get_int64(e) : 0;
        if (p < 1 || p > 65535)
            return cf_fail(x, e, "bad port %s in 'connect_ports' (expected "
                        "1 to 65535)", cf_describe(x, e));
        a->connect_ports[i] = (uint16_t)p;
    }
    a->n_connect_ports = (size_t)n;
    return 0;
}

static const char *e_purge(struct ctx *x, const char *v, size_t i)
{
    const char *why;

    if (acl_net_parse(v, &x->c->cache.purge_from[i], &why) == 0)
        return NULL;
    snprintf(x->why, sizeof(x->why), "%s (expected ADDR or ADDR/PREFIX)",
             why);
    return x->why;
}

static int k_purge_from(struct ctx *x, const config_setting_t *s)
{
    int n = cf_each_string(x, s, SL_CONF_MAX_PURGE, "network", e_purge);

    x->c->cache.n_purge_from = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : 0;
}

/* ---------------------------------------------------------- the schema */

#define F(m) offsetof(struct sl_conf, m)
#define NUM(k, g, n, lo, hi) \
    { .name = #n, .kind = k, .off = F(g.n), .min = lo, .max = hi }
#define DUR(g, n) NUM(K_DURATION, g, n, 1, DURATION_MAX_MS)
#define BOOL(g, n) { .name = #n, .kind = K_BOOL, .off = F(g.n) }
#define STR(n, w) { .name = #n, .kind = K_STR, .off = F(n), .word = w }
#define FUNC(n) { .name = #n, .kind = K_FUNC, .fn = k_##n }
#define CFUNC(n) { .name = #n, .kind = K_FUNC, .fn = cf_k_##n }
#define GROUP(n) { .name = #n, .kind = K_GROUP, .sub = n##_keys }
#define END { .name = NULL }

static const struct key http_keys[] = {
    BOOL(http, via), FUNC(forwarded_for), BOOL(http, allow_trace),
    NUM(K_SIZE, http, max_request_line, 256, MIB),
    NUM(K_SIZE, http, max_request_head, KIB, 16 * MIB),
    NUM(K_SIZE, http, max_response_head, KIB, 16 * MIB),
    NUM(K_COUNT, http, max_headers, 8, 10000), END
};

static const struct key timeouts_keys[] = {
    DUR(timeouts, client_idle), DUR(timeouts, request_head),
    DUR(timeouts, connect), DUR(timeouts, origin_first_byte),
    DUR(timeouts, origin_idle), DUR(timeouts, pool_idle),
    DUR(timeouts, tunnel_idle), DUR(timeouts, shutdown), END
};

static const struct key pool_keys[] = {
    NUM(K_COUNT, pool, max_idle, 0, 100000),
    NUM(K_COUNT, pool, max_idle_per_host, 0, 100000), END
};

static const struct key dns_keys[] = {
    FUNC(nameservers), DUR(dns, timeout),
    NUM(K_COUNT, dns, cache_size, 0, 10 * 1000 * 1000),
    DUR(dns, max_ttl), DUR(dns, negative_ttl), BOOL(dns, ipv6), END
};

static const struct key access_keys[] = {
    FUNC(allow_sources), FUNC(connect_ports), FUNC(to_localhost), END
};

static const struct key cache_keys[] = {
    BOOL(cache, enabled),
    { .name = "dir", .kind = K_STR, .off = F(cache.dir), .word = NULL },
    NUM(K_SIZE, cache, size, MIB, (long long)1 << 50),
    NUM(K_SIZE, cache, max_object, 1, (long long)1 << 40),
    NUM(K_SIZE, cache, quick_abort_min, 0, (long long)1 << 40),
    NUM(K_SIZE, cache, quick_abort_max, 0, (long long)1 << 40),
    NUM(K_COUNT, cache, quick_abort_pct, 0, 100),
    FUNC(purge_from), CFUNC(refresh_patterns), END
};

static const struct key limits_keys[] = {
    NUM(K_COUNT, limits, max_connections, 1, 1000000),
    NUM(K_SIZE, limits, buffer_size, 4 * KIB, 16 * MIB),
    NUM(K_COUNT, limits, busy_poll_us, 0, 1000),
    NUM(K_SIZE, limits, client_bandwidth, 0, 10 * GIB), BOOL(limits, tunnel_splice), END
};

static const struct key pac_keys[] = {
    CFUNC(proxies), BOOL(pac, direct_plain_hostnames), CFUNC(direct_domains),
    CFUNC(direct_networks), BOOL(pac, direct_fallback), BOOL(pac, spread),
    NUM(K_DURATION, pac, max_age, MS_S, DURATION_MAX_MS), END
};

/* Named by hand: the keys share names with top-level and access keys. */
static const struct key manager_keys[] = {
    { .name = "allow_sources", .kind = K_FUNC, .fn = cf_k_manager_allow_sources },
    { .name = "listen", .kind = K_FUNC, .fn = cf_k_manager_listen }, END
};

#define RFUNC(n) { .name = #n, .kind = K_FUNC, .fn = cf_k_reverse_##n }
static const struct key reverse_keys[] = {
    RFUNC(listen), RFUNC(unknown_host), BOOL(reverse, preserve_host),
    RFUNC(http_access), BOOL(reverse, forwarded_for), BOOL(reverse, forwarded),
    BOOL(reverse, x_forwarded_proto), BOOL(reverse, x_forwarded_host),
    BOOL(reverse, request_id), RFUNC(trusted_proxies),
    RFUNC(hide_response_headers), BOOL(reverse, via), RFUNC(pools), RFUNC(vhosts),
    RFUNC(tls_listen), RFUNC(tls), RFUNC(compression), RFUNC(rate_limits), RFUNC(rate_limit_table),
    BOOL(reverse, rate_limit_headers), RFUNC(gateway), END
};

static const struct key top_keys[] = {
    FUNC(listen), FUNC(visible_hostname), STR(pid_file, "none"),
    STR(access_log, "none"), FUNC(access_log_format), STR(error_log, "stderr"),
    FUNC(log_level), GROUP(http), GROUP(timeouts), GROUP(pool), GROUP(dns),
    GROUP(access), GROUP(cache), GROUP(limits), CFUNC(acls), CFUNC(http_access),
    CFUNC(blocklists), CFUNC(auth), CFUNC(deny_info), CFUNC(block_page),
    CFUNC(header_access), GROUP(pac), GROUP(manager), GROUP(reverse), CFUNC(ldap),
    CFUNC(peers), CFUNC(peer_access), CFUNC(never_direct), CFUNC(always_direct),
    CFUNC(workers), CFUNC(worker_sockets), CFUNC(worker_sched_batch), END
};

/* ----------------------------------------------------- the snapshot */

/* The values of etc/squidlike.conf. Returns 0 or -1 (out of memory). */
static int set_defaults(struct sl_conf *c)
{
    static const char *const nets[] = { "127.0.0.0/8", "::1/128",
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7" };
    const char *why;
    size_t i;

    if (sl_conf_parse_listen("127.0.0.1:3128", &c->listen[0], &why) < 0)
        return -1;
    c->n_listen = 1;
    c->visible_hostname = strdup("squidlike");
    c->pid_file = strdup("var/run/squidlike.pid");
    c->access_log = strdup("var/log/access.log");
    c->error_log = strdup("var/log/error.log");
    c->log_level = SL_LOG_INFO;
    c->workers = cf_workers_auto();
    c->worker_sched_batch = -1;
    c->access_log_format = SL_LOG_FMT_SQUID;
    c->http = (struct sl_conf_http){ .via = 1,
        .forwarded_for = FLT_XFF_DELETE, .max_request_line = 8 * KIB,
        .max_request_head = 64 * KIB, .max_response_head = 64 * KIB,
        .max_headers = 128 };
    c->timeouts = (struct sl_conf_timeouts){ .client_idle = 2 * MS_M,
        .request_head = 30 * MS_S, .connect = 30 * MS_S,
        .origin_first_byte = 60 * MS_S, .origin_idle = 15 * MS_M,
        .pool_idle = 60 * MS_S, .tunnel_idle = 1 * MS_H,
        .shutdown = 30 * MS_S };
    c->pool = (struct sl_conf_pool){ .max_idle = 256,
                                     .max_idle_per_host = 16 };
    c->dns = (struct sl_conf_dns){ .n_nameservers = 0, .timeout = 5 * MS_S,
        .cache_size = 4096, .max_ttl = 6 * MS_H, .negative_ttl = 30 * MS_S,
        .ipv6 = 1 };
    for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
        if (acl_net_parse(nets[i], &c->access.allow_sources[i], &why) < 0)
            return -1;
    c->access.n_allow_sources = i;
    c->access.connect_ports[0] = 443;
    c->access.n_connect_ports = 1;
    c->access.to_localhost = ACL_TOLOCAL_LOCAL_CLIENTS;
    c->limits = (struct sl_conf_limits){ .tunnel_splice = 1, .max_connections = 4096,
                                         .buffer_size = 16 * KIB };
    if (cf_cache_defaults(&c->cache) < 0 || cf_pac_defaults(&c->pac) < 0 ||
        cf_reverse_defaults(&c->reverse) < 0)
        return -1;
    return c->visible_hostname && c->pid_file && c->access_log &&
           c->error_log ? 0 : -1;
}

/* Head limits must hold at least a request line. Blame the head setting
 * when it is in the file, else the request-line setting. */
static int check_http(struct ctx *x, const config_t *cf)
{
    static const char *const heads[] = { "max_request_head",
                                         "max_response_head" };
    const struct sl_conf_http *h = &x->c->http;
    size_t v[2] = { h->max_request_head, h->max_response_head };
    const config_setting_t *s;
    char path[64];
    int i;

    for (i = 0; i < 2; i++) {
        if (v[i] >= h->max_request_line)
            continue;
        snprintf(path, sizeof(path), "http.%s", heads[i]);
        s = config_lookup(cf, path);
        if (s == NULL)
            s = config_lookup(cf, "http.max_request_line");
        if (s == NULL)
            s = config_root_setting(cf);
        return cf_fail(x, s, "'%s' (%zu) is smaller than 'max_request_line' "
                    "(%zu) (expected at least max_request_line)", heads[i],
                    v[i], h->max_request_line);
    }
    return 0;
}

/* Can we read path? libconfig only says "file I/O error"; we want errno. */
static int check_readable(struct ctx *x)
{
    struct stat st;
    FILE *f = fopen(x->path, "r");
    int e = 0;

    if (f == NULL)
        e = errno;
    else if (fstat(fileno(f), &st) < 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = EISDIR;
    if (f != NULL)
        fclose(f);
    if (e != 0)
        cf_seterr(x, "%s: %s", x->path, strerror(e));
    return e ? -1 : 0;
}

/*
 * Every "@include" of path, and theirs, must name a regular file we can
 * read, before libconfig sees them: libconfig 1.5's scanner calls exit(2)
 * on an include it cannot scan (a directory, libconfig issue #292), which
 * would end a running daemon at a reload. Paths resolve as libconfig
 * resolves them (no include dir set: from the working directory); nesting
 * is bounded as libconfig bounds it.
 */
#define INCLUDE_DEPTH_MAX 10

static int check_includes(struct ctx *x, const char *path, int depth)
{
    char name[PATH_MAX], why[128], *line = NULL;
    FILE *f = fopen(path, "r");
    size_t cap = 0;
    struct stat st;
    int lineno = 0, rc = 0;
    ssize_t len;

    if (f == NULL)
        return 0;               /* libconfig says so, with the line */
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        const char *p = line, *q;
        size_t n;

        lineno++;
        /* A NUL is no character of a configuration: libconfig's scanner
         * would end a string at it ("etc\0..." names the directory etc,
         * and exit(2) again: found by fuzz_conf) */
        if (memchr(line, '\0', (size_t)len) != NULL) {
            cf_seterr(x, "%s:%d: a NUL byte (this is not a text file)", path, lineno);
            rc = -1;
            break;
        }
        while (sl_is_ows(*p))
            p++;
        if (strncmp(p, "@include", 8) != 0)
            continue;
        for (p += 8; sl_is_ows(*p); p++)
            ;
        if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
            continue;           /* not an include libconfig would take */
        n = (size_t)(q - p - 1);
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, p + 1, n);
        name[n] = '\0';
        if (depth >= INCLUDE_DEPTH_MAX)
            snprintf(why, sizeof(why), "includes nested too deep (at most %d)",
                     INCLUDE_DEPTH_MAX);
        else if (stat(name, &st) < 0 || access(name, R_OK) < 0)
            snprintf(why, sizeof(why), "%s", strerror(errno));
        else if (!S_ISREG(st.st_mode))
            snprintf(why, sizeof(why), "not a regular file");
        else {
            rc = check_includes(x, name, depth + 1);
            continue;
        }
        cf_seterr(x, "%s:%d: @include \"%s\": %s", path, lineno, name, why);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

struct sl_conf *sl_conf_load(const char *path, char *err, size_t errlen)
{
    struct ctx x = { .path = path, .err = err, .errlen = errlen };
    config_t cf;
    int ok = 0;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (check_readable(&x) < 0 || check_includes(&x, path, 0) < 0)
        return NULL;
    config_init(&cf);
    if (!config_read_file(&cf, path)) {
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
            cf_seterr(&x, "%s: %s", path, config_error_text(&cf));
        else
            cf_seterr(&x, "%s:%d: %s", config_error_file(&cf) ?
                   config_error_file(&cf) : path, config_error_line(&cf),
                   config_error_text(&cf));
        goto out;
    }
    x.c = calloc(1, sizeof(*x.c));
    if (x.c != NULL) {
        x.c->refs = 1;
        x.c->path = strdup(path);
    }
    if (x.c == NULL || x.c->path == NULL || set_defaults(x.c) < 0 ||
        cf_policy_init(x.c) < 0 || cf_ldap_defaults(&x.c->ldap) < 0) {
        cf_seterr(&x, "%s: out of memory", path);
        goto out;
    }
    ok = walk(&x, config_root_setting(&cf), top_keys, NULL) == 0 &&
         check_http(&x, &cf) == 0 && cf_policy_finish(&x) == 0 &&
         cf_reverse_finish(&x) == 0 && cf_tls_finish(&x) == 0 &&
         cf_limit_finish(&x) == 0 && cf_gw_finish(&x) == 0 &&
         cf_peer_finish(&x) == 0;
out:
    cf_policy_stash_free(&x);
    cf_reverse_stash_free(&x);
    cf_limit_stash_free(&x);
    cf_gw_stash_free(&x);
    config_destroy(&cf);
    if (!ok) {
        sl_conf_unref(x.c);
        x.c = NULL;
    }
    return x.c;
}

struct sl_conf *sl_conf_ref(struct sl_conf *c)
{
    if (c != NULL)
        c->refs++;
    return c;
}

void sl_conf_unref(struct sl_conf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    free(c->path);
    free(c->visible_hostname);
    free(c->pid_file);
    free(c->access_log);
    free(c->error_log);
    free(c->cache.dir);
    cache_refresh_free(c->cache.refresh);
    cf_policy_free(c);
    cf_pac_free(&c->pac);
    cf_reverse_free(&c->reverse);
    cf_ldap_free(&c->ldap);
    cf_peer_free(&c->peers);
    free(c);
}

int sl_conf_connect_port_ok(const struct sl_conf *c, unsigned port)
{
    size_t i;

    for (i = 0; i < c->access.n_connect_ports; i++)
        if (c->access.connect_ports[i] == port)
            return 1;
    return 0;
}

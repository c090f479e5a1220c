/*
 * pac.c - write FindProxyForURL from a struct flt_pac (see pac.h for the
 * decisions it makes and the spread hash). The output is old-fashioned
 * JavaScript (var, no arrow functions, Math.imul with a fallback) because
 * PAC engines range from V8 to JScript.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/pac.h"
#include "squidlike/chars.h"
#include "squidlike/hash.h"

#define DOMAIN_MAX 253

const char *flt_pac_check_domain(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || (n == 1 && s[0] == '.'))
        return "empty domain";
    if (n > DOMAIN_MAX)
        return "longer than 253 bytes";
    for (i = 0; i < n; i++) {
        if (!sl_is_host_char(s[i]))
            return "only letters, digits, '-', '_' and '.' may appear";
        if (s[i] == '.' && s[i + 1] == '.')
            return "empty label (\"..\")";
    }
    return NULL;
}

const char *flt_pac_check_proxy(const char *s)
{
    const char *p = s, *colon;
    char *end;
    long port;

    if (*p == '[') {
        for (p++; *p && *p != ']'; p++)
            if (!sl_is_hex(*p) && *p != ':' && *p != '.')
                return "bad character in the [IPv6] address";
        if (*p != ']' || p == s + 1)
            return "unterminated [IPv6] address";
        colon = p + 1;
        if (*colon != ':')
            return "missing :PORT";
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "missing :PORT";
        if (colon == s)
            return "missing host";
        if (colon - s > DOMAIN_MAX)
            return "host longer than 253 bytes";
        for (; p < colon; p++)
            if (!sl_is_host_char(*p))
                return "only letters, digits, '-', '_' and '.' may appear "
                       "in the host";
    }
    if (!sl_is_digit(colon[1]))
        return "bad port (expected 1 to 65535)";
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return "bad port (expected 1 to 65535)";
    return NULL;
}

int flt_pac_net_parse(const char *s, struct flt_pac_net *net, const char **why)
{
    char addr[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    struct in_addr in;
    long bits = 32;
    char *end;

    if (alen == 0 || alen >= sizeof(addr)) {
        *why = "expected an IPv4 A.B.C.D or A.B.C.D/N (PAC's isInNet "
               "has no IPv6)";
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, &in) != 1) {
        *why = "expected an IPv4 A.B.C.D or A.B.C.D/N (PAC's isInNet "
               "has no IPv6)";
        return -1;
    }
    if (slash != NULL) {
        bits = sl_is_digit(slash[1]) ? strtol(slash + 1, &end, 10) : -1;
        if (bits < 0 || bits > 32 || *end != '\0') {
            *why = "bad prefix length (expected /0 to /32)";
            return -1;
        }
    }
    net->mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    net->addr = ntohl(in.s_addr) & net->mask;
    return 0;
}

uint32_t flt_pac_hash(const char *host, size_t len)
{
    uint32_t h = SL_FNV32_INIT;
    size_t i;

    for (i = 0; i < len; i++)
        h = sl_fnv32_step(h, (unsigned char)sl_lower(host[i]));
    return h;
}

/* --- writing ------------------------------------------------------------ */

struct w {
    struct sl_buf *out;
    int rc;
};

static void put(struct w *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct w *w, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    if (w->rc < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        w->rc = -EINVAL;
    else if (sl_buf_append(w->out, tmp, (size_t)n) < 0)
        w->rc = -ENOSPC;
}

/* n bytes of s, lowercased, into a JS string literal (checked beforehand). */
static void put_lower(struct w *w, const char *s, size_t n)
{
    char tmp[DOMAIN_MAX + 3];
    size_t i;

    if (n > DOMAIN_MAX) {
        w->rc = -EINVAL;
        return;
    }
    for (i = 0; i < n; i++)
        tmp[i] = sl_lower(s[i]);
    tmp[n] = '\0';
    put(w, "\"%s\"", tmp);
}

static const char *const prelude =
    "// proxy.pac (also served as wpad.dat): written by squidlike from the\n"
    "// pac group of its configuration. Edit the configuration, not this.\n";

/* FNV-1a, the same as flt_pac_hash. */
static const char *const hash_fn =
    "function slImul(a, b) {\n"
    "  if (Math.imul) return Math.imul(a, b);\n"
    "  return ((a & 0xffff) * b + ((((a >>> 16) * b) & 0xffff) << 16)) | 0;\n"
    "}\n"
    "function slHash(s) {\n"
    "  var h = 0x811c9dc5;\n"
    "  for (var i = 0; i < s.length; i++)\n"
    "    h = slImul(h ^ (s.charCodeAt(i) & 0xff), 0x01000193) >>> 0;\n"
    "  return h;\n"
    "}\n";

/* The host part of a checked "host:port", without IPv6 brackets. */
static void proxy_host(const char *p, const char **h, size_t *n)
{
    if (*p == '[') {
        *h = p + 1;
        *n = (size_t)(strchr(p, ']') - p - 1);
    } else {
        *h = p;
        *n = (size_t)(strrchr(p, ':') - p);
    }
}

static void put_net(struct w *w, const struct flt_pac_net *n, int first)
{
    put(w, "%s      isInNet(ip, \"%u.%u.%u.%u\", \"%u.%u.%u.%u\")",
        first ? "" : " ||\n", n->addr >> 24, (n->addr >> 16) & 255,
        (n->addr >> 8) & 255, n->addr & 255, n->mask >> 24,
        (n->mask >> 16) & 255, (n->mask >> 8) & 255, n->mask & 255);
}

int flt_pac_write(struct sl_buf *out, const struct flt_pac *p)
{
    struct w w = { out, 0 };
    const char *h;
    size_t i, n;
    int spread = p->spread && p->n_proxies > 1;

    if (p->n_proxies == 0)
        return -EINVAL;
    for (i = 0; i < p->n_proxies; i++)
        if (flt_pac_check_proxy(p->proxies[i]) != NULL)
            return -EINVAL;
    for (i = 0; i < p->n_domains; i++)
        if (flt_pac_check_domain(p->domains[i]) != NULL)
            return -EINVAL;

    put(&w, "%s", prelude);
    if (spread)
        put(&w, "%s", hash_fn);
    put(&w, "function FindProxyForURL(url, host) {\n"
            "  var h = host.toLowerCase(), ip;\n");
    if (p->direct_plain)
        put(&w, "  if (isPlainHostName(h)) return \"DIRECT\";\n");
    for (i = 0; i < p->n_proxies; i++) {        /* the proxies themselves */
        proxy_host(p->proxies[i], &h, &n);
        put(&w, "  if (h == ");
        put_lower(&w, h, n);
        put(&w, ") return \"DIRECT\";\n");
    }
    for (i = 0; i < p->n_domains; i++) {
        h = p->domains[i];
        put(&w, "  if (h == ");
        put_lower(&w, h + (h[0] == '.'), strlen(h) - (h[0] == '.'));
        if (h[0] == '.') {
            put(&w, " || dnsDomainIs(h, ");
            put_lower(&w, h, strlen(h));
            put(&w, ")");
        }
        put(&w, ") return \"DIRECT\";\n");
    }
    if (p->n_nets > 0) {
        put(&w, "  ip = /^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(h) ? h "
                ": dnsResolve(h);\n  if (ip && (\n");
        for (i = 0; i < p->n_nets; i++)
            put_net(&w, &p->nets[i], i == 0);
        put(&w, "))\n    return \"DIRECT\";\n");
    }
    if (spread) {
        put(&w, "  var p = [");
        for (i = 0; i < p->n_proxies; i++)
            put(&w, "%s\"PROXY %s\"", i ? ", " : "", p->proxies[i]);
        put(&w, "];\n  var n = p.length, k = slHash(h) %% n, r = [];\n"
                "  for (var j = 0; j < n; j++) r.push(p[(k + j) %% n]);\n"
                "  return r.join(\"; \")%s;\n", p->direct_fallback ?
                " + \"; DIRECT\"" : "");
    } else {
        put(&w, "  return \"");
        for (i = 0; i < p->n_proxies; i++)
            put(&w, "%sPROXY %s", i ? "; " : "", p->proxies[i]);
        put(&w, "%s\";\n", p->direct_fallback ? "; DIRECT" : "");
    }
    put(&w, "}\n");
    return w.rc;
}

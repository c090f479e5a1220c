/*
 * json.c - a strict JSON parser into a caller's token array, and the
 * helpers that read its values (json.h). Recursive descent, bounded by
 * FLT_JSON_MAX_DEPTH, so the C stack it takes is bounded too.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "filters/json.h"

struct jp {
    const unsigned char *s;
    size_t len, pos;
    struct flt_json_tok *t;
    size_t max, n;
};

static void ws(struct jp *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                                p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int tok_new(struct jp *p, enum flt_json_type type)
{
    struct flt_json_tok *t;

    if (p->n == p->max)
        return -ENOSPC;
    t = &p->t[p->n];
    t->type = type;
    t->start = (uint32_t)p->pos;
    t->end = (uint32_t)p->pos;
    t->size = 0;
    t->next = (uint32_t)p->n + 1;
    return (int)p->n++;
}

static int hex4(const unsigned char *s, unsigned *v)
{
    unsigned i, c;

    *v = 0;
    for (i = 0; i < 4; i++) {
        c = s[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return -1;
        *v = *v << 4 | c;
    }
    return 0;
}

/* The length of the UTF-8 sequence at s[0, n) (s[0] >= 0x80), 0 when
 * it is not the shortest form of a scalar value (RFC 3629 4). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;              /* overlong */
    else if (c == 0xed)
        hi = 0x9f;              /* surrogates */
    else if (c == 0xf0)
        lo = 0x90;              /* overlong */
    else if (c == 0xf4)
        hi = 0x8f;              /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* A string at p->pos (its '"'); leaves pos after the closing quote. */
static int string_(struct jp *p)
{
    const unsigned char *s = p->s;
    unsigned cp, lo;
    size_t k;

    p->pos++;
    for (;;) {
        if (p->pos >= p->len)
            return -EINVAL;
        if (s[p->pos] == '"') {
            p->pos++;
            return 0;
        }
        if (s[p->pos] < 0x20)
            return -EINVAL;
        if (s[p->pos] >= 0x80) {
            k = utf8_len(s + p->pos, p->len - p->pos);
            if (k == 0)
                return -EINVAL;
            p->pos += k;
            continue;
        }
        if (s[p->pos] != '\\') {
            p->pos++;
            continue;
        }
        if (p->len - p->pos < 2)
            return -EINVAL;
        switch (s[p->pos + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p->pos += 2;
            continue;
        case 'u':
            break;
        default:
            return -EINVAL;
        }
        if (p->len - p->pos < 6 || hex4(s + p->pos + 2, &cp) < 0)
            return -EINVAL;
        p->pos += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return -EINVAL;     /* a low surrogate alone */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (p->len - p->pos < 6 || s[p->pos] != '\\' || s[p->pos + 1] != 'u' ||
                hex4(s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                return -EINVAL;
            p->pos += 6;
        }
    }
}

static int digits(struct jp *p)
{
    size_t from = p->pos;

    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos > from ? 0 : -EINVAL;
}

/* RFC 8259 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int number(struct jp *p)
{
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (digits(p) < 0)
        return -EINVAL;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (digits(p) < 0)
            return -EINVAL;
    }
    if (p->pos < p->len && (p->s[p->pos] | 0x20) == 'e') {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (digits(p) < 0)
            return -EINVAL;
    }
    return 0;
}

static int literal(struct jp *p, const char *word)
{
    size_t n = strlen(word);

    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return -EINVAL;
    p->pos += n;
    return 0;
}

/* One value at p->pos (whitespace skipped), inside depth containers. */
static int value(struct jp *p, unsigned depth)
{
    unsigned char c, close;
    int i, k, rc;

    if (p->pos >= p->len)
        return -EINVAL;
    c = p->s[p->pos];
    if (c == '{' || c == '[') {
        if (depth >= FLT_JSON_MAX_DEPTH)
            return -ELOOP;
        close = c == '{' ? '}' : ']';
        if ((i = tok_new(p, c == '{' ? FLT_JSON_OBJECT : FLT_JSON_ARRAY)) < 0)
            return i;
        p->pos++;
        ws(p);
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            goto done;
        }
        for (;;) {
            if (close == '}') {
                if (p->pos >= p->len || p->s[p->pos] != '"')
                    return -EINVAL;
                if ((k = tok_new(p, FLT_JSON_STRING)) < 0)
                    return k;
                if ((rc = string_(p)) < 0)
                    return rc;
                p->t[k].end = (uint32_t)p->pos;
                ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    return -EINVAL;
                p->pos++;
                ws(p);
            }
            if ((rc = value(p, depth + 1)) < 0)
                return rc;
            p->t[i].size++;
            ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                ws(p);
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                goto done;
            }
            return -EINVAL;
        }
    }
    if (c == '"')
        i = tok_new(p, FLT_JSON_STRING);
    else if (c == '-' || (c >= '0' && c <= '9'))
        i = tok_new(p, FLT_JSON_NUMBER);
    else if (c == 't')
        i = tok_new(p, FLT_JSON_TRUE);
    else if (c == 'f')
        i = tok_new(p, FLT_JSON_FALSE);
    else if (c == 'n')
        i = tok_new(p, FLT_JSON_NULL);
    else
        return -EINVAL;
    if (i < 0)
        return i;
    switch (p->t[i].type) {
    case FLT_JSON_STRING: rc = string_(p); break;
    case FLT_JSON_NUMBER: rc = number(p); break;
    case FLT_JSON_TRUE: rc = literal(p, "true"); break;
    case FLT_JSON_FALSE: rc = literal(p, "false"); break;
    default: rc = literal(p, "null"); break;
    }
    if (rc < 0)
        return rc;
done:
    p->t[i].end = (uint32_t)p->pos;
    p->t[i].next = (uint32_t)p->n;
    return 0;
}

int flt_json_parse(const char *text, size_t len, struct flt_json_tok *t, size_t max)
{
    struct jp p = { (const unsigned char *)text, len, 0, t, max, 0 };
    int rc;

    if (len > FLT_JSON_MAX_LEN)
        return -EINVAL;
    if (max > 0x7fffffff)
        p.max = 0x7fffffff;
    ws(&p);
    if ((rc = value(&p, 0)) < 0)
        return rc;
    ws(&p);
    if (p.pos != len)
        return -EINVAL;
    return (int)p.n;
}

/* ---- reading values ---- */

/* The unescaped bytes of a string token that the parser accepted, one at
 * a time. */
struct ucur {
    const unsigned char *s;
    size_t i, end;
    unsigned char buf[4];
    unsigned bn, bi;
};

static void ucur_init(struct ucur *c, const char *text, const struct flt_json_tok *t)
{
    c->s = (const unsigned char *)text;
    c->i = t->start + 1;
    c->end = t->end - 1;
    c->bn = c->bi = 0;
}

/* The next byte, -1 at the end. */
static int ucur_next(struct ucur *c)
{
    unsigned cp, lo;
    unsigned char e;

    if (c->bi < c->bn)
        return c->buf[c->bi++];
    if (c->i >= c->end)
        return -1;
    if (c->s[c->i] != '\\')
        return c->s[c->i++];
    e = c->s[c->i + 1];
    c->i += 2;
    switch (e) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return e;          /* " \ / */
    }
    hex4(c->s + c->i, &cp);
    c->i += 4;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        hex4(c->s + c->i + 2, &lo);
        c->i += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    c->bi = 1;
    if (cp < 0x80) {
        c->bn = 0;
        return (int)cp;
    }
    if (cp < 0x800) {
        c->buf[0] = (unsigned char)(0xc0 | cp >> 6);
        c->buf[1] = (unsigned char)(0x80 | (cp & 0x3f));
        c->bn = 2;
    } else if (cp < 0x10000) {
        c->buf[0] = (unsigned char)(0xe0 | cp >> 12);
        c->buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        c->buf[2] = (unsigned char)(0x80 | (cp & 0x3f));
        c->bn = 3;
    } else {
        c->buf[0] = (unsigned char)(0xf0 | cp >> 18);
        c->buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        c->buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        c->buf[3] = (unsigned char)(0x80 | (cp & 0x3f));
        c->bn = 4;
    }
    return c->buf[0];
}

int flt_json_eq(const char *text, const struct flt_json_tok *t, int i,
                const char *s, size_t n)
{
    struct ucur c;
    size_t k;
    int b;

    if (t[i].type != FLT_JSON_STRING)
        return 0;
    ucur_init(&c, text, &t[i]);
    for (k = 0; k < n; k++)
        if ((b = ucur_next(&c)) < 0 || (unsigned char)s[k] != b)
            return 0;
    return ucur_next(&c) < 0;
}

int flt_json_get(const char *text, const struct flt_json_tok *t, int obj, const char *key)
{
    size_t n = strlen(key);
    uint32_t m;
    int k, found = -ENOENT;

    if (t[obj].type != FLT_JSON_OBJECT)
        return -ENOENT;
    k = obj + 1;
    for (m = 0; m < t[obj].size; m++) {
        if (flt_json_eq(text, t, k, key, n)) {
            if (found >= 0)
                return -EEXIST;
            found = k + 1;
        }
        k = (int)t[k + 1].next;
    }
    return found;
}

long flt_json_string(const char *text, const struct flt_json_tok *t, int i,
                     char *out, size_t outlen)
{
    struct ucur c;
    size_t n = 0;
    int b;

    if (t[i].type != FLT_JSON_STRING)
        return -EINVAL;
    ucur_init(&c, text, &t[i]);
    while ((b = ucur_next(&c)) >= 0) {
        if (n + 1 >= outlen)
            return -ENOSPC;
        out[n++] = (char)b;
    }
    if (outlen == 0)
        return -ENOSPC;
    out[n] = '\0';
    return (long)n;
}

/*
 * The floor of a number token, exactly: its digits D (integer part then
 * fraction) with the decimal point after `point` of them (point = the
 * integer digits + the exponent; D is zero past its end).
 */
int flt_json_int(const char *text, const struct flt_json_tok *t, int i, int64_t *v)
{
    const char *p, *e, *ip, *fp = NULL;
    size_t nint, nfrac = 0, nd, k, first;
    int64_t exp = 0, point;
    uint64_t m = 0, lim;
    int neg = 0, eneg = 0, frac = 0;
    char d;

    if (t[i].type != FLT_JSON_NUMBER)
        return -EINVAL;
    p = text + t[i].start;
    e = text + t[i].end;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    ip = p;
    while (p < e && *p >= '0' && *p <= '9')
        p++;
    nint = (size_t)(p - ip);
    if (p < e && *p == '.') {
        fp = ++p;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
        nfrac = (size_t)(p - fp);
    }
    if (p < e) {                /* [eE][+-]?digits, clamped: it only has to
                                 * say "far beyond int64" */
        p++;
        if (*p == '-' || *p == '+')
            eneg = *p++ == '-';
        for (; p < e; p++)
            if (exp < ((int64_t)1 << 40))
                exp = exp * 10 + (*p - '0');
        if (eneg)
            exp = -exp;
    }
    nd = nint + nfrac;
#define DIGIT(k) ((k) < nint ? ip[k] : (k) < nd ? fp[(k) - nint] : '0')
    for (first = 0; first < nd && DIGIT(first) == '0'; first++)
        ;
    if (first == nd) {
        *v = 0;
        return 0;
    }
    point = (int64_t)nint + exp;
    if (point - (int64_t)first > 19)
        return -ERANGE;
    for (k = first; (int64_t)k < point; k++) {
        d = DIGIT(k);
        if (m > (UINT64_MAX - (uint64_t)(d - '0')) / 10)
            return -ERANGE;
        m = m * 10 + (uint64_t)(d - '0');
    }
    for (k = point > (int64_t)first ? (size_t)point : first; k < nd; k++)
        if (DIGIT(k) != '0') {
            frac = 1;
            break;
        }
#undef DIGIT
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (neg && frac) {
        if (m == UINT64_MAX)
            return -ERANGE;
        m++;
    }
    if (m > lim)
        return -ERANGE;
    *v = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

int flt_json_bool(const struct flt_json_tok *t, int i, int *v)
{
    if (t[i].type == FLT_JSON_TRUE)
        *v = 1;
    else if (t[i].type == FLT_JSON_FALSE)
        *v = 0;
    else
        return -EINVAL;
    return 0;
}

/*
 * targeted.c - targeted cache control (RFC 9213, see policy.h): the
 * Structured Field Dictionary parser (RFC 8941 3.2, 4.2) that reads
 * CDN-Cache-Control and Squidlike-Cache-Control, and the mapping of its
 * members onto struct cache_cc. Pure; split from policy.c.
 *
 * Why not cache_cc_parse: RFC 9213 2.1 makes targeted fields SF
 * Dictionaries with SF error handling, "differences in error handling
 * mean that using a Cache-Control parser rather than a Structured Fields
 * parser can introduce interoperability issues". Cache-Control forgives
 * and reads directive by directive; here one error voids the whole field,
 * which is then ignored ("max-age=60,, no-store", "Max-Age=60" and
 * "max-age=60 junk" are all errors, not half-read fields).
 *
 * No allocation and no copy: the field lines are read in place through a
 * cursor that joins them with ", " (RFC 8941 4.2: parsers "MUST combine
 * all field lines ... into one comma-separated field-value"), so a String
 * may span two lines exactly as in the joined value. Every step of every
 * loop consumes a byte or leaves the loop: the work is linear in the size
 * of the fields, whatever they hold.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cache/policy.h"
#include "squidlike/chars.h"

/* RFC 9111 1.2.2: delta-seconds too large to represent become 2^31. */
#define DELTA_MAX ((int64_t)1 << 31)
/* Keys are compared on their first KEY_MAX bytes; longer keys still parse
 * (RFC 8941 3.2 asks for at least 64) but match no directive. */
#define KEY_MAX 32

const char *const cache_target_list[2] = { CACHE_TARGETED_OWN,
                                           CACHE_TARGETED_CDN };

/* --- the joined field value, read in place ------------------------------- */

struct sf_in {
    const struct sl_http_msg *m;
    const char *name;
    size_t line;                /* index of the current field line */
    const char *p, *end;        /* what is left of it */
    unsigned joint;             /* bytes of the ", " joint still to read */
};

/* Go to the first non-empty line of in->name from index from on; with
 * joint, a ", " comes first. At the end, p == end: the input is over. */
static void in_line(struct sf_in *in, size_t from, unsigned joint)
{
    size_t i;

    for (i = from; i < in->m->nhdrs; i++) {
        const struct sl_http_hdr *h = &in->m->hdrs[i];

        if (h->value.len && sl_view_ieq(h->name, in->name)) {
            in->line = i;
            in->p = h->value.base;
            in->end = sl_view_end(h->value);
            in->joint = joint;
            return;
        }
    }
    in->line = in->m->nhdrs;
    in->joint = 0;
}

/* The next byte, or -1 at the end of the last line. */
static int in_peek(const struct sf_in *in)
{
    if (in->joint)
        return in->joint == 2 ? ',' : ' ';
    return in->p < in->end ? (unsigned char)*in->p : -1;
}

static void in_skip(struct sf_in *in)
{
    if (in->joint) {
        in->joint--;
        return;
    }
    if (in->p < in->end && ++in->p == in->end)
        in_line(in, in->line + 1, 2);
}

static void skip_sp(struct sf_in *in)
{
    while (in_peek(in) == ' ')
        in_skip(in);
}

static void skip_ows(struct sf_in *in)
{
    int c;

    while ((c = in_peek(in)) == ' ' || c == '\t')
        in_skip(in);
}

/* --- RFC 8941 4.2 parsing ------------------------------------------------ */

enum sf_type {
    SF_INTEGER, SF_DECIMAL, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOLEAN,
    SF_INNER_LIST
};

/* What a member's value is; only what the directives need is kept. */
struct sf_item {
    enum sf_type type;
    int64_t num;                /* SF_INTEGER */
    int boolean;                /* SF_BOOLEAN */
};

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_lcalpha(int c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(int c) { return is_lcalpha(c) || (c >= 'A' && c <= 'Z'); }

/* 4.2.3.3: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "."
 * / "*" ). The first KEY_MAX bytes go to key; *klen is the whole length. */
static int parse_key(struct sf_in *in, char *key, size_t *klen)
{
    int c = in_peek(in);
    size_t n = 0;

    if (!is_lcalpha(c) && c != '*')
        return -1;
    while (is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.'
           || c == '*') {
        if (n < KEY_MAX)
            key[n] = (char)c;
        n++;
        in_skip(in);
        c = in_peek(in);
    }
    *klen = n;
    return 0;
}

/* 4.2.4: ["-"] 1*15DIGIT, or ["-"] 1*12DIGIT "." 1*3DIGIT. */
static int parse_number(struct sf_in *in, struct sf_item *it)
{
    size_t ndig = 0, nfrac = 0;
    int64_t n = 0;
    int neg = 0, dec = 0, c;

    if (in_peek(in) == '-') {
        neg = 1;
        in_skip(in);
    }
    if (!is_digit(in_peek(in)))
        return -1;
    for (;;) {
        c = in_peek(in);
        if (is_digit(c)) {
            if (dec)
                nfrac++;
            else
                n = n * 10 + (c - '0');   /* at most 16 digits: no overflow */
            ndig++;
        } else if (c == '.' && !dec) {
            if (ndig > 12)
                return -1;
            dec = 1;
        } else {
            break;
        }
        in_skip(in);
        if (!dec && ndig > 15)
            return -1;
        if (dec && ndig + 1 > 16)     /* input_number counts the "." */
            return -1;
    }
    if (dec && (nfrac == 0 || nfrac > 3))
        return -1;
    it->type = dec ? SF_DECIMAL : SF_INTEGER;
    it->num = neg ? -n : n;
    return 0;
}

/* 4.2.5: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, printable
 * ASCII only. The content is not needed (no-cache="field names" is read as
 * plain no-cache), only its validity. */
static int parse_string(struct sf_in *in)
{
    int c;

    in_skip(in);                /* DQUOTE */
    for (;;) {
        if ((c = in_peek(in)) < 0)
            return -1;
        in_skip(in);
        if (c == '\\') {
            c = in_peek(in);
            if (c != '"' && c != '\\')
                return -1;
            in_skip(in);
        } else if (c == '"') {
            return 0;
        } else if (c < 0x20 || c > 0x7e) {
            return -1;
        }
    }
}

/* 4.2.6: ( ALPHA / "*" ) *( tchar / ":" / "/" ). */
static int parse_token(struct sf_in *in)
{
    int c;

    do
        in_skip(in);
    while ((c = in_peek(in)) >= 0 && (sl_is_tchar((char)c) || c == ':'
                                       || c == '/'));
    return 0;
}

/* 4.2.7: ":" *base64 ":" (the characters checked, the padding not). */
static int parse_bytes(struct sf_in *in)
{
    int c;

    in_skip(in);                /* ":" */
    for (;;) {
        if ((c = in_peek(in)) < 0)
            return -1;
        in_skip(in);
        if (c == ':')
            return 0;
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' && c != '=')
            return -1;
    }
}

/* 4.2.3.1 */
static int parse_bare_item(struct sf_in *in, struct sf_item *it)
{
    int c = in_peek(in);

    it->num = 0;
    it->boolean = 0;
    if (c == '-' || is_digit(c))
        return parse_number(in, it);
    if (c == '"') {
        it->type = SF_STRING;
        return parse_string(in);
    }
    if (c == '*' || is_alpha(c)) {
        it->type = SF_TOKEN;
        return parse_token(in);
    }
    if (c == ':') {
        it->type = SF_BYTES;
        return parse_bytes(in);
    }
    if (c == '?') {             /* 4.2.8: "?" ( "0" / "1" ) */
        in_skip(in);
        c = in_peek(in);
        if (c != '0' && c != '1')
            return -1;
        in_skip(in);
        it->type = SF_BOOLEAN;
        it->boolean = c == '1';
        return 0;
    }
    return -1;                  /* RFC 8941 has no other item type */
}

/* 4.2.3.2: *( ";" *SP key [ "=" bare-item ] ); parsed, then dropped (RFC
 * 9213 2.1: "Parameters received on cache directives are to be
 * ignored"). */
static int parse_params(struct sf_in *in)
{
    struct sf_item v;
    char key[KEY_MAX];
    size_t klen;

    while (in_peek(in) == ';') {
        in_skip(in);
        skip_sp(in);
        if (parse_key(in, key, &klen) < 0)
            return -1;
        if (in_peek(in) == '=') {
            in_skip(in);
            if (parse_bare_item(in, &v) < 0)
                return -1;
        }
    }
    return 0;
}

/* 4.2.1.2: "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters. */
static int parse_inner_list(struct sf_in *in, struct sf_item *it)
{
    struct sf_item v;
    int c;

    in_skip(in);                /* "(" */
    for (;;) {
        skip_sp(in);
        if (in_peek(in) == ')') {
            in_skip(in);
            it->type = SF_INNER_LIST;
            it->num = 0;
            it->boolean = 0;
            return parse_params(in);
        }
        if (parse_bare_item(in, &v) < 0 || parse_params(in) < 0)
            return -1;
        c = in_peek(in);
        if (c != ' ' && c != ')')
            return -1;
    }
}

/* --- members as directives ------------------------------------------------ */

static int key_is(const char *key, size_t klen, const char *name)
{
    size_t n = strlen(name);

    return klen == n && memcmp(key, name, n) == 0;
}

/* An Integer >= 0, saturated; anything else is bad (policy.h). */
static int64_t delta(const struct sf_item *v, int64_t bad)
{
    if (v->type != SF_INTEGER || v->num < 0)
        return bad;
    return v->num > DELTA_MAX ? DELTA_MAX : v->num;
}

/*
 * One dictionary member. Each assignment is the member's whole effect, so
 * that a key met again overwrites it (RFC 8941 4.2.2). The flags that
 * restrict are set by the key alone: presence cannot be overwritten away.
 */
static void apply(const char *key, size_t klen, const struct sf_item *v,
                  struct cache_cc *cc)
{
    int is_true = v->type == SF_BOOLEAN && v->boolean;

    if (key_is(key, klen, "max-age"))
        cc->max_age = delta(v, 0);      /* RFC 9111 4.2.1: invalid -> stale */
    else if (key_is(key, klen, "s-maxage"))
        cc->s_maxage = delta(v, 0);
    else if (key_is(key, klen, "stale-while-revalidate"))
        cc->stale_while_revalidate = delta(v, -1);
    else if (key_is(key, klen, "stale-if-error"))
        cc->stale_if_error = delta(v, -1);
    else if (key_is(key, klen, "no-store"))
        cc->no_store = 1;
    else if (key_is(key, klen, "no-cache"))
        cc->no_cache = 1;
    else if (key_is(key, klen, "private"))
        cc->private_ = 1;
    else if (key_is(key, klen, "must-revalidate"))
        cc->must_revalidate = 1;
    else if (key_is(key, klen, "proxy-revalidate"))
        cc->proxy_revalidate = 1;
    else if (key_is(key, klen, "no-transform"))
        cc->no_transform = 1;
    else if (key_is(key, klen, "public"))
        cc->public_ = (unsigned)is_true;
    else if (key_is(key, klen, "immutable"))
        cc->immutable = (unsigned)is_true;
    /* Unknown extensions and request-only directives: ignored (RFC 9213
     * 2.2, RFC 9111 5.2.3). */
}

/*
 * 4.2 and 4.2.2: the dictionary of every line of name, applied to cc as it
 * goes. Returns the number of members, 0 when there is no non-empty line,
 * -1 on the first error (cc is then half-filled: the caller discards it).
 */
static int parse_dict(const struct sl_http_msg *m, const char *name,
                      struct cache_cc *cc)
{
    struct sf_in in = { m, name, 0, NULL, NULL, 0 };
    struct sf_item v;
    char key[KEY_MAX];
    size_t klen;
    int n = 0;

    in_line(&in, 0, 0);
    skip_sp(&in);
    if (in_peek(&in) < 0)
        return 0;
    for (;;) {
        if (parse_key(&in, key, &klen) < 0)
            return -1;
        if (in_peek(&in) == '=') {
            in_skip(&in);
            if (in_peek(&in) == '(') {
                if (parse_inner_list(&in, &v) < 0)
                    return -1;
            } else if (parse_bare_item(&in, &v) < 0 || parse_params(&in) < 0) {
                return -1;
            }
        } else {
            v.type = SF_BOOLEAN;
            v.boolean = 1;
            v.num = 0;
            if (parse_params(&in) < 0)
                return -1;
        }
        apply(key, klen, &v, cc);
        if (n < INT32_MAX)
            n++;
        skip_ows(&in);
        if (in_peek(&in) < 0)
            return n;
        if (in_peek(&in) != ',')
            return -1;
        in_skip(&in);
        skip_ows(&in);
        if (in_peek(&in) < 0)
            return -1;          /* a trailing comma */
    }
}

int cache_cc_parse_targeted(const struct sl_http_msg *m,
                            const char *const *names, size_t n,
                            struct cache_cc *cc)
{
    struct cache_cc t;
    size_t i;

    for (i = 0; i < n; i++) {
        if (names[i] == NULL)
            continue;
        memset(&t, 0, sizeof(t));
        t.max_age = t.s_maxage = t.max_stale = t.min_fresh = -1;
        t.stale_while_revalidate = t.stale_if_error = -1;
        if (parse_dict(m, names[i], &t) <= 0)
            continue;           /* absent, empty or invalid: the next one */
        t.no_transform |= cc->no_transform;
        t.targeted = 1;
        *cc = t;
        return 1;
    }
    return 0;
}

int cache_targeted_hide(struct sl_view name)
{
    return sl_view_ieq(name, CACHE_TARGETED_OWN);
}

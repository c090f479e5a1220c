/*
 * encoding.c - content codings: Accept-Encoding (RFC 9110 12.5.3), the
 * coding a client gets, its cache-key form, and which responses we may
 * compress (encoding.h).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "filters/encoding.h"
#include "squidlike/chars.h"

static const struct {
    const char *name;
    unsigned bit;
} codings[] = {
    /* sorted by name: flt_ae_key writes them in this order */
    { "br", FLT_ENC_BR },
    { "compress", FLT_ENC_COMPRESS },
    { "deflate", FLT_ENC_DEFLATE },
    { "gzip", FLT_ENC_GZIP },
    { "zstd", FLT_ENC_ZSTD },
    { "x-compress", FLT_ENC_COMPRESS },     /* RFC 9110 8.4.1.1, 8.4.1.3 */
    { "x-gzip", FLT_ENC_GZIP },
};
#define NCODINGS (sizeof(codings) / sizeof(codings[0]))

static int bit_index(unsigned bit)
{
    int i;

    for (i = 0; i < FLT_ENC_N; i++)
        if (bit == 1u << i)
            return i;
    return -1;
}

unsigned flt_enc_bit(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NCODINGS; i++)
        if (strlen(codings[i].name) == len &&
            sl_view_ieq((struct sl_view){ name, len }, codings[i].name))
            return codings[i].bit;
    return 0;
}

const char *flt_enc_name(unsigned bit)
{
    size_t i;

    for (i = 0; i < NCODINGS; i++)
        if (codings[i].bit == bit)
            return codings[i].name;
    return NULL;
}

/* A qvalue (RFC 9110 12.4.2) into 0..1000, or -1. */
static int qvalue(struct sl_view v)
{
    int q, i, scale = 100;

    if (v.len == 0 || v.len > 5 || (v.base[0] != '0' && v.base[0] != '1'))
        return -1;
    q = (v.base[0] - '0') * 1000;
    if (v.len == 1)
        return q;
    if (v.base[1] != '.')
        return -1;
    for (i = 2; i < (int)v.len; i++, scale /= 10) {
        if (!sl_is_digit(v.base[i]))
            return -1;
        q += (v.base[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One element "coding *( OWS ";" OWS param )": its coding and weight
 * (1000 when no q; -1 when a q is not a qvalue). */
static void element(struct sl_view e, struct sl_view *name, int *q)
{
    const char *p = e.base, *end = e.base + e.len, *semi;

    semi = memchr(p, ';', e.len);
    *name = sl_view_trim(sl_view_from(p, semi ? semi : end));
    *q = 1000;
    while (semi) {
        struct sl_view param;
        p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        param = sl_view_trim(sl_view_from(p, semi ? semi : end));
        if (param.len >= 2 && sl_lower(param.base[0]) == 'q' && param.base[1] == '=') {
            *q = qvalue(sl_view_from(param.base + 2, param.base + param.len));
            return;
        }
    }
}

void flt_ae_parse(const struct sl_http_msg *req, struct flt_ae *ae)
{
    unsigned named = 0;
    int star = -1, i;
    size_t h;

    memset(ae, 0, sizeof(*ae));
    for (h = 0; h < req->nhdrs; h++) {
        const struct sl_http_hdr *f = &req->hdrs[h];
        const char *p = f->value.base;
        struct sl_view e, name;
        unsigned bit;
        int q;

        if (!sl_view_ieq(f->name, "Accept-Encoding"))
            continue;
        ae->present = 1;
        while (sl_list_next(&p, sl_view_end(f->value), &e)) {
            if (e.len == 0)
                continue;
            element(e, &name, &q);
            if (q < 0)
                q = 0;          /* not a weight: refused, never widened */
            if (name.len == 1 && name.base[0] == '*') {
                if (star < 0)
                    star = q;
                continue;
            }
            bit = flt_enc_bit(name.base, name.len);
            if (bit == 0 || (named & bit))
                continue;       /* unknown, or named already: the first counts */
            named |= bit;
            ae->q[bit_index(bit)] = (uint16_t)q;
        }
    }
    ae->star = star > 0;
    for (i = 0; i < FLT_ENC_N; i++) {
        if (!(named & (1u << i)) && star > 0)
            ae->q[i] = (uint16_t)star;
        if (ae->q[i] > 0)
            ae->accept |= 1u << i;
    }
}

unsigned flt_ae_choose(const struct flt_ae *ae, const unsigned *offer, size_t n)
{
    unsigned best = 0;
    int bestq = 0, i;
    size_t k;

    for (k = 0; k < n; k++) {
        if ((i = bit_index(offer[k])) < 0)
            continue;
        if (ae->q[i] > bestq) {
            bestq = ae->q[i];
            best = offer[k];
        }
    }
    return best;
}

int flt_ae_key(const struct flt_ae *ae, char *out, size_t n)
{
    size_t len = 0, i, l;

    if (!ae->present) {
        if (n < 2)
            return -1;
        memcpy(out, "-", 2);
        return 1;
    }
    for (i = 0; i < NCODINGS; i++) {
        /* x- aliases share the bit of the name before them: once each */
        if (!(ae->accept & codings[i].bit) || codings[i].name[0] == 'x')
            continue;
        l = strlen(codings[i].name);
        if (len + l + 2 > n)
            return -1;
        if (len)
            out[len++] = ',';
        memcpy(out + len, codings[i].name, l);
        len += l;
    }
    if (ae->star) {
        if (len + 3 > n)
            return -1;
        if (len)
            out[len++] = ',';
        out[len++] = '*';
    }
    if (len + 1 > n)
        return -1;
    out[len] = '\0';
    return (int)len;
}

/* The media type of a Content-Type value: up to ';', OWS trimmed. */
static struct sl_view media_type(struct sl_view v)
{
    const char *semi = memchr(v.base, ';', v.len);

    return sl_view_trim(semi ? sl_view_from(v.base, semi) : v);
}

static int type_listed(struct sl_view mt, char *const *types, size_t ntypes)
{
    size_t i, l;

    for (i = 0; i < ntypes; i++) {
        l = strlen(types[i]);
        if (l >= 2 && types[i][l - 1] == '*' && types[i][l - 2] == '/') {
            /* a whole type: its name and slash, then a subtype */
            if (mt.len > l - 1 && strncasecmp(mt.base, types[i], l - 1) == 0)
                return 1;
        } else if (sl_view_ieq(mt, types[i])) {
            return 1;
        }
    }
    return 0;
}

int flt_zip_compressible(const struct sl_http_msg *resp, char *const *types,
                         size_t ntypes, int64_t min_length)
{
    const struct sl_http_hdr *ct;
    size_t i;

    if (resp->status != 200 && resp->status != 403 && resp->status != 404)
        return 0;
    if (resp->content_length >= 0 && resp->content_length < min_length)
        return 0;
    for (i = 0; i < resp->nhdrs; i++) {
        const struct sl_http_hdr *f = &resp->hdrs[i];
        if (sl_view_ieq(f->name, "Content-Encoding") &&
            !sl_view_ieq(sl_view_trim(f->value), "identity"))
            return 0;           /* encoded already (or several lines) */
    }
    ct = sl_http_find(resp, "Content-Type");
    return ct != NULL && type_listed(media_type(ct->value), types, ntypes);
}

int flt_vary_has_ae(const struct sl_http_msg *m)
{
    size_t i;

    for (i = 0; i < m->nhdrs; i++) {
        const char *p;
        struct sl_view e;

        if (!sl_view_ieq(m->hdrs[i].name, "Vary"))
            continue;
        p = m->hdrs[i].value.base;
        while (sl_list_next(&p, sl_view_end(m->hdrs[i].value), &e))
            if (sl_view_ieq(e, "Accept-Encoding") || sl_view_ieq(e, "*"))
                return 1;
    }
    return 0;
}

/*
 * sni.c - the server name a TLS client asks for, read from the first bytes
 * of a CONNECT tunnel (see sni.h).
 *
 * The room is pure: no allocation, no state kept between calls, nothing
 * written but the caller's name buffer. The caller calls again with a
 * longer prefix after FLT_SNI_AGAIN and the whole prefix is parsed anew;
 * a ClientHello is a few hundred bytes, and at most FLT_SNI_MAX_HELLO bytes
 * are read per call.
 *
 * The bytes are hostile. One reader (struct sni_rd) hands out the
 * handshake message in order across its TLS records, checking each
 * record header as it reaches it; every length read from the hello is
 * checked against its container before anything inside is read. The walk
 * goes strictly forward and each check needs only the bytes before it,
 * so the answer for a prefix is final once it is not AGAIN:
 *
 *   prefix:  AGAIN ... AGAIN | NOT_TLS                   (first bad byte)
 *            AGAIN ... AGAIN | FOUND / NONE              (last hello byte)
 *
 * and bytes after the ClientHello (the rest of its record, later records)
 * are never looked at. FOUND and NONE need the whole ClientHello to be
 * well formed, not only the part up to server_name.
 *
 * Limits: the records carrying the ClientHello must lie within the first
 * FLT_SNI_MAX_HELLO input bytes (headers included), else NOT_TLS; this
 * is decided as early as the handshake length shows it, or once that many
 * bytes have arrived without a complete hello.
 *
 * Beyond the header's list, these are also NOT_TLS (malformed):
 *   - a record of length 0 or over 2^14, a non-handshake record before the
 *     ClientHello is complete (RFC 8446 5.1);
 *   - session_id over 32 bytes, no cipher suite or an odd-length list, no
 *     compression method, an extensions block not filling the rest of the
 *     message exactly;
 *   - two server_name extensions, or two host_name entries in one (RFC
 *     8446 4.2, RFC 6066 3): the proxy and the origin could each read a
 *     different one;
 *   - a server_name list that is empty or does not fill its extension;
 *   - a host name ending in '.' (RFC 6066 3: "without a trailing dot"), so
 *     "blocked.example." cannot slip past a name list as another name.
 *   - a host name that does not fit name[0..namelen) with its NUL (only
 *     possible when the caller passes less than the 256 bytes sni.h asks
 *     for, or NULL): refused, never truncated.
 * Entries of other name types are skipped with the u16 length every
 * deployed client uses.
 */
#include "config.h"

#include <stddef.h>

#include "filters/sni.h"
#include "squidlike/chars.h"

#define SNI_REC_HDR 5           /* type, version (2), length (2) */
#define SNI_HS_HDR 4            /* type, length (3) */
#define SNI_REC_MAX 16384       /* 2^14, RFC 8446 5.1 */
#define SNI_HOST_MAX 255
/* version, random, then the smallest legal vectors: an empty session id,
 * one cipher suite, one compression method: 2 + 32 + 1 + (2 + 2) + (1 + 1) */
#define SNI_HELLO_MIN 41

#define SNI_TRY(x) do { int rc_ = (x); if (rc_ != 0) return rc_; } while (0)

/*
 * The handshake stream: bytes p[pos..] of the current record, then the
 * next record's payload, and so on. Running out of input gives `more`:
 * AGAIN, or NOT_TLS when the limit of FLT_SNI_MAX_HELLO bytes is reached.
 */
struct sni_rd {
    const unsigned char *p;
    size_t len;                 /* input bytes we may look at */
    size_t pos;                 /* next input byte */
    size_t rec_left;            /* payload bytes left in the current record */
    int more;
};

static int tls_version_ok(unsigned char major, unsigned char minor)
{
    return major == 3 && minor >= 1 && minor <= 4;
}

/* Step over the record header at pos, checking each byte present. */
static int rd_record(struct sni_rd *r)
{
    const unsigned char *h;
    size_t have = r->len - r->pos;
    size_t rlen;

    if (have == 0)
        return r->more;                 /* p may be NULL when len is 0 */
    h = r->p + r->pos;
    if (h[0] != 22)
        return FLT_SNI_NOT_TLS;
    if (have >= 2 && h[1] != 3)
        return FLT_SNI_NOT_TLS;
    if (have >= 3 && !tls_version_ok(h[1], h[2]))
        return FLT_SNI_NOT_TLS;
    if (have >= 4 && h[3] > SNI_REC_MAX >> 8)
        return FLT_SNI_NOT_TLS;
    if (have < SNI_REC_HDR)
        return r->more;
    rlen = (size_t)h[3] << 8 | h[4];
    if (rlen == 0 || rlen > SNI_REC_MAX)
        return FLT_SNI_NOT_TLS;
    r->pos += SNI_REC_HDR;
    r->rec_left = rlen;
    return 0;
}

/*
 * Take the next n handshake bytes into out (NULL: skip them). Returns 0,
 * NOT_TLS for a bad record header on the way, or r->more.
 */
static int rd_get(struct sni_rd *r, unsigned char *out, size_t n)
{
    while (n > 0) {
        size_t k;

        if (r->rec_left == 0)
            SNI_TRY(rd_record(r));
        k = n < r->rec_left ? n : r->rec_left;
        if (k > r->len - r->pos)
            k = r->len - r->pos;
        if (k == 0)
            return r->more;
        if (out) {
            size_t i;

            for (i = 0; i < k; i++)
                *out++ = r->p[r->pos + i];
        }
        r->pos += k;
        r->rec_left -= k;
        n -= k;
    }
    return 0;
}

/* Take n bytes of a container with *left bytes left; longer: malformed. */
static int take(struct sni_rd *r, size_t *left, unsigned char *out, size_t n)
{
    if (n > *left)
        return FLT_SNI_NOT_TLS;
    *left -= n;
    return rd_get(r, out, n);
}

static int take_u8(struct sni_rd *r, size_t *left, size_t *v)
{
    unsigned char b;

    SNI_TRY(take(r, left, &b, 1));
    *v = b;
    return 0;
}

static int take_u16(struct sni_rd *r, size_t *left, size_t *v)
{
    unsigned char b[2];

    SNI_TRY(take(r, left, b, 2));
    *v = (size_t)b[0] << 8 | b[1];
    return 0;
}

/* A HostName of n bytes (already checked against its container), copied
 * lowercase into name as it is read so a bad byte is seen at once. */
static int take_host(struct sni_rd *r, size_t *left, size_t n, char *name,
                     size_t namelen)
{
    size_t i;

    if (n == 0 || n > SNI_HOST_MAX || n >= namelen)
        return FLT_SNI_NOT_TLS;
    for (i = 0; i < n; i++) {
        unsigned char c;

        SNI_TRY(take(r, left, &c, 1));
        if (!sl_is_host_char((char)c))
            return FLT_SNI_NOT_TLS;
        name[i] = sl_lower((char)c);
    }
    if (name[n - 1] == '.')
        return FLT_SNI_NOT_TLS;
    name[n] = '\0';
    return 0;
}

/*
 * The server_name extension body, elen bytes (RFC 6066 3):
 *   ServerName server_name_list<1..2^16-1>;  ServerName: u8 type, then for
 *   host_name (0) HostName opaque<1..2^16-1>.
 * Returns FOUND (name filled), NONE (no host_name entry) or an error.
 */
static int sni_ext(struct sni_rd *r, size_t elen, char *name, size_t namelen)
{
    size_t left = elen, list, type, n;
    int found = 0;

    SNI_TRY(take_u16(r, &left, &list));
    if (list == 0 || list != left)
        return FLT_SNI_NOT_TLS;
    while (left > 0) {
        SNI_TRY(take_u8(r, &left, &type));
        SNI_TRY(take_u16(r, &left, &n));
        if (n > left)
            return FLT_SNI_NOT_TLS;
        if (type != 0) {
            SNI_TRY(take(r, &left, NULL, n));
            continue;
        }
        if (found)
            return FLT_SNI_NOT_TLS;
        SNI_TRY(take_host(r, &left, n, name, namelen));
        found = 1;
    }
    return found ? FLT_SNI_FOUND : FLT_SNI_NONE;
}

/*
 * ClientHello body, RFC 8446 4.1.2 (the same layout as TLS 1.0-1.2):
 *   legacy_version (2), random (32), legacy_session_id<0..32>,
 *   cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
 *   [extensions<0..2^16-1>: type (2), extension_data<0..2^16-1>]
 */
static int hello_body(struct sni_rd *r, size_t left, char *name,
                      size_t namelen)
{
    unsigned char ver[2];
    size_t n, type;
    int rc = FLT_SNI_NONE, seen_sni = 0;

    SNI_TRY(take(r, &left, ver, 1));
    if (ver[0] != 3)
        return FLT_SNI_NOT_TLS;
    SNI_TRY(take(r, &left, ver + 1, 1));
    if (!tls_version_ok(ver[0], ver[1]))
        return FLT_SNI_NOT_TLS;
    SNI_TRY(take(r, &left, NULL, 32));
    SNI_TRY(take_u8(r, &left, &n));
    if (n > 32)
        return FLT_SNI_NOT_TLS;
    SNI_TRY(take(r, &left, NULL, n));
    SNI_TRY(take_u16(r, &left, &n));
    if (n < 2 || n % 2 != 0)
        return FLT_SNI_NOT_TLS;
    SNI_TRY(take(r, &left, NULL, n));
    SNI_TRY(take_u8(r, &left, &n));
    if (n < 1)
        return FLT_SNI_NOT_TLS;
    SNI_TRY(take(r, &left, NULL, n));
    if (left == 0)
        return FLT_SNI_NONE;            /* no extensions at all (TLS 1.0) */
    SNI_TRY(take_u16(r, &left, &n));
    if (n != left)
        return FLT_SNI_NOT_TLS;
    while (left > 0) {
        SNI_TRY(take_u16(r, &left, &type));
        SNI_TRY(take_u16(r, &left, &n));
        if (n > left)
            return FLT_SNI_NOT_TLS;
        if (type != 0) {
            SNI_TRY(take(r, &left, NULL, n));
            continue;
        }
        if (seen_sni)
            return FLT_SNI_NOT_TLS;
        seen_sni = 1;
        left -= n;
        rc = sni_ext(r, n, name, namelen);
        if (rc < 0)
            return rc;
    }
    return rc;
}

int flt_sni_parse(const unsigned char *p, size_t len, char *name,
                  size_t namelen)
{
    struct sni_rd r;
    unsigned char h[SNI_HS_HDR];
    size_t body;
    int rc;

    if (name == NULL)
        namelen = 0;                    /* any host_name is then NOT_TLS */
    if (namelen > 0)
        name[0] = '\0';
    r.p = p;
    r.pos = 0;
    r.rec_left = 0;
    r.len = len < FLT_SNI_MAX_HELLO ? len : FLT_SNI_MAX_HELLO;
    r.more = len < FLT_SNI_MAX_HELLO ? FLT_SNI_AGAIN : FLT_SNI_NOT_TLS;

    rc = rd_get(&r, h, 1);
    if (rc == 0 && h[0] != 1)           /* client_hello */
        rc = FLT_SNI_NOT_TLS;
    if (rc == 0)
        rc = rd_get(&r, h + 1, 3);
    if (rc == 0) {
        body = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        /* Too short for its fixed fields, or too long to fit
         * behind even one record header. */
        if (body < SNI_HELLO_MIN ||
            body > FLT_SNI_MAX_HELLO - SNI_REC_HDR - SNI_HS_HDR)
            rc = FLT_SNI_NOT_TLS;
        else
            rc = hello_body(&r, body, name, namelen);
    }
    if (rc != FLT_SNI_FOUND && namelen > 0)
        name[0] = '\0';
    return rc;
}

/*
 * chunk.c - the chunked transfer coding (see chunk.h): a strict decoder
 * that works in place, and the encoder that frames bodies again on their
 * way out.
 */
#include "config.h"

#include <string.h>

#include "squidlike/http.h"
#include "squidlike/chars.h"

/* --- decoding ---------------------------------------------------------- */

/*
 * Every line of the coding ends in CRLF (RFC 9112 7.1: no bare-LF leniency
 * here, unlike the head's). A peer that ends a chunk line with a bare LF
 * is refused: a next hop that reads such a line differently would see
 * another message boundary than we did (the "funky chunks" class of
 * request smuggling).
 *
 *   SIZE --hex--> SIZE --SP/HTAB--> SIZE_WS --';'--> EXT --CR--> SIZE_LF
 *     |  \___';'___________________________________/             |
 *     +--CR---------------------------------------------> SIZE_LF --LF--+
 *                                                                      v
 *           size > 0: DATA --left==0--> DATA_CR --CR--> DATA_LF --LF--> SIZE
 *           size = 0: TR_START --tchar--> TR_NAME --':'--> TR_VALUE --CR--> TR_LF
 *                       |   ^_____________________________________LF____/
 *                       +--CR--> END_LF --LF--> DONE
 */
enum {
    CK_SIZE = 0,    /* chunk-size hex digits (c->line counts them) */
    CK_SIZE_WS,     /* BWS after the size: only ';' may follow */
    CK_EXT,         /* chunk extensions, up to the line end */
    CK_SIZE_LF,     /* CR seen on the size line */
    CK_DATA,        /* c->left data bytes to go */
    CK_DATA_CR,     /* after data: CRLF */
    CK_DATA_LF,
    CK_TR_START,    /* start of a trailer line, or the final empty line */
    CK_TR_NAME,     /* the four trailer-line states stay together: */
    CK_TR_VALUE,    /* sl_chunk_feed tests for the range */
    CK_TR_LF,       /* CR seen at the end of a trailer line */
    CK_END_LF,      /* CR seen on the final empty line */
    CK_DONE,
    CK_ERROR
};

#define CK_SIZE_DIGITS_MAX 15
#define CK_LINE_MAX        4096
#define CK_TRAILERS_MAX    16384

void sl_chunk_init(struct sl_chunk *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE;
}

static int ck_fail(struct sl_chunk *c, const char *why)
{
    c->state = CK_ERROR;
    c->err = why;
    return -1;
}

static int ck_size_done(struct sl_chunk *c)
{
    c->line = 0;
    c->state = c->left ? CK_DATA : CK_TR_START;
    if (c->left == 0)
        c->last = 1;
    return 0;
}

/* One byte of a chunk-size line. */
static int ck_size_byte(struct sl_chunk *c, unsigned char ch)
{
    switch (c->state) {
    case CK_SIZE:
        if (sl_char_class[ch] & SL_C_HEX) {
            if (c->line == CK_SIZE_DIGITS_MAX)
                return ck_fail(c, "chunk size too long");
            c->left = c->left << 4 | (uint64_t)sl_hex_val(ch);
            c->line++;
            return 0;
        }
        if (c->line == 0)
            return ck_fail(c, "missing chunk size");
        if (ch == '\r') {
            c->state = CK_SIZE_LF;      /* the line end is not counted */
            return 0;
        }
        if (ch == '\n')
            return ck_fail(c, "bare LF in chunk size line");
        if (ch == ';')
            c->state = CK_EXT;
        else if (sl_is_ows((char)ch))
            c->state = CK_SIZE_WS;
        else
            return ck_fail(c, "bad chunk size");
        break;
    case CK_SIZE_WS:
        if (ch == ';')
            c->state = CK_EXT;
        else if (!sl_is_ows((char)ch))
            return ck_fail(c, "bad chunk size line");
        break;
    case CK_EXT:
        if (ch == '\r') {
            c->state = CK_SIZE_LF;
            return 0;
        }
        if (ch == '\n')
            return ck_fail(c, "bare LF in chunk extension");
        if (!(sl_char_class[ch] & SL_C_VCHAR))
            return ck_fail(c, "bad character in chunk extension");
        break;
    default: /* CK_SIZE_LF */
        if (ch != '\n')
            return ck_fail(c, "bare CR in chunk size line");
        return ck_size_done(c);
    }
    if (++c->line > CK_LINE_MAX)
        return ck_fail(c, "chunk size line too long");
    return 0;
}

/* One byte of the trailer section (validated like header fields). */
static int ck_trailer_byte(struct sl_chunk *c, unsigned char ch)
{
    if (++c->trailers > CK_TRAILERS_MAX)
        return ck_fail(c, "trailer section too large");
    switch (c->state) {
    case CK_TR_START:
        if (ch == '\r')
            c->state = CK_END_LF;
        else if (sl_char_class[ch] & SL_C_TCHAR)
            c->state = CK_TR_NAME;
        else if (ch == '\n')
            return ck_fail(c, "bare LF ending the chunked body");
        else
            return ck_fail(c, sl_is_ows((char)ch) ? "obs-fold in trailer"
                                               : "bad trailer field name");
        return 0;
    case CK_TR_NAME:
        if (ch == ':')
            c->state = CK_TR_VALUE;
        else if (!(sl_char_class[ch] & SL_C_TCHAR))
            return ck_fail(c, "bad trailer field name");
        return 0;
    case CK_TR_VALUE:
        if (ch == '\r')
            c->state = CK_TR_LF;
        else if (ch == '\n')
            return ck_fail(c, "bare LF in trailer section");
        else if (!(sl_char_class[ch] & SL_C_VCHAR))
            return ck_fail(c, "bad character in trailer");
        return 0;
    case CK_TR_LF:
        if (ch != '\n')
            return ck_fail(c, "bare CR in trailer");
        c->state = CK_TR_START;
        return 0;
    default: /* CK_END_LF */
        if (ch != '\n')
            return ck_fail(c, "bare CR after trailers");
        c->state = CK_DONE;
        return 0;
    }
}

/* One framing byte: anything but chunk data. */
static int ck_byte(struct sl_chunk *c, unsigned char ch)
{
    switch (c->state) {
    case CK_SIZE: case CK_SIZE_WS: case CK_EXT: case CK_SIZE_LF:
        return ck_size_byte(c, ch);
    case CK_DATA_CR:
        if (ch != '\r')
            return ck_fail(c, ch == '\n' ? "bare LF after chunk data"
                                         : "missing CRLF after chunk data");
        c->state = CK_DATA_LF;
        return 0;
    case CK_DATA_LF:
        if (ch != '\n')
            return ck_fail(c, "missing CRLF after chunk data");
        c->state = CK_SIZE;
        return 0;
    default:
        return ck_trailer_byte(c, ch);
    }
}

ssize_t sl_chunk_feed(struct sl_chunk *c, char *p, size_t len, int mode,
                      size_t *out)
{
    size_t i = 0, o = 0, n;
    unsigned char ch;
    int prev;

    *out = 0;
    c->tr_out = 0;
    if (c->state == CK_ERROR)
        return SL_HTTP_ERROR;
    while (i < len && c->state != CK_DONE) {
        if (c->state == CK_DATA) {
            /* The bulk of a body: one move per call, not per byte. */
            n = len - i < c->left ? len - i : (size_t)c->left;
            if (mode != SL_CHUNK_CHECK && o != i)
                memmove(p + o, p + i, n);
            o += n;
            i += n;
            c->left -= n;
            if (c->left == 0)
                c->state = CK_DATA_CR;
            continue;
        }
        prev = c->state;
        ch = (unsigned char)p[i];
        if (ck_byte(c, ch) < 0)
            return SL_HTTP_ERROR;
        i++;
        /* A byte of a trailer field line, which ck_byte has just accepted
         * (so its line ends in CRLF): kept, one for one, so never ahead of
         * the input. The empty line that ends the body is framing: not. */
        if (mode == SL_CHUNK_DATA_TRAILERS && prev >= CK_TR_START &&
            prev <= CK_TR_LF && !(prev == CK_TR_START && ch == '\r')) {
            p[o++] = (char)ch;
            c->tr_out++;
        }
    }
    if (c->state == CK_DONE)
        c->done = 1;
    *out = mode != SL_CHUNK_CHECK ? o : i;
    return (ssize_t)i;
}

/* --- encoding ---------------------------------------------------------- */

enum { OUT_PEND, OUT_DATA, OUT_POST, OUT_TR, OUT_END };

static const char crlf[] = "\r\n";

/* Framing that falls due goes after what is due already. */
static void enc_put(struct sl_chunk_enc *e, const char *s, size_t n)
{
    /* Pending at most: a cut CRLF (2) and a size line (16 hex + CRLF). */
    _Static_assert(sizeof(e->pend) >= 2 + 16 + 2, "sl_chunk_enc.pend");
    if (e->off > 0) {
        memmove(e->pend, e->pend + e->off, (size_t)(e->len - e->off));
        e->len = (unsigned char)(e->len - e->off);
        e->off = 0;
    }
    memcpy(e->pend + e->len, s, n);
    e->len = (unsigned char)(e->len + n);
}

static void out_add(struct sl_chunk_out *o, int kind, const char *p, size_t n)
{
    if (n == 0)
        return;
    o->iov[o->n].iov_base = (void *)p;
    o->iov[o->n].iov_len = n;
    o->kind[o->n++] = kind;
}

/* "%zx" CRLF into line (at least 18 bytes); returns its length. Once per
 * write of a body: cheaper than snprintf. */
static size_t size_line(char *line, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t k = 0, i;

    do {
        tmp[k++] = hex[n & 15];
        n >>= 4;
    } while (n);
    for (i = 0; i < k; i++)
        line[i] = tmp[k - 1 - i];
    line[k] = '\r';
    line[k + 1] = '\n';
    return k + 2;
}

int sl_chunk_enc_iov(struct sl_chunk_enc *e, const char *p, size_t data,
                     size_t tr, int last, int done, struct sl_chunk_out *o)
{
    char line[24];
    size_t dn, pn = 0;

    o->n = 0;
    o->set_last = 0;
    if (e->open == 0 && data > 0) {
        enc_put(e, line, size_line(line, data));
        e->open = data;
    } else if (e->open == 0 && last && !e->last) {
        enc_put(e, "0\r\n", 3);
        e->last = 1;
    }
    /* The open chunk was begun with data that was offered then, and data
     * offered is only taken away by being written: data >= open. */
    dn = e->open <= data ? (size_t)e->open : data;
    if (dn > 0) {
        memcpy(o->post, "\r\n0\r\n", 5);
        pn = 2;
        if (dn == data && last && !e->last) {
            pn = 5;                     /* and that was the last of it */
            o->set_last = 1;
        }
    }
    out_add(o, OUT_PEND, e->pend + e->off, (size_t)(e->len - e->off));
    out_add(o, OUT_DATA, p, dn);
    out_add(o, OUT_POST, o->post, pn);
    if (e->last || o->set_last) {
        out_add(o, OUT_TR, p + dn, tr);
        if (done && !e->end)
            out_add(o, OUT_END, crlf, 2);
    }
    return o->n;
}

void sl_chunk_enc_wrote(struct sl_chunk_enc *e, const struct sl_chunk_out *o,
                        size_t n, size_t *data_sent, size_t *tr_sent)
{
    size_t k, len;
    int i;

    *data_sent = *tr_sent = 0;
    for (i = 0; i < o->n; i++) {
        len = o->iov[i].iov_len;
        k = n < len ? n : len;
        n -= k;
        switch (o->kind[i]) {
        case OUT_PEND:
            e->off = (unsigned char)(e->off + k);
            break;
        case OUT_DATA:
            *data_sent = k;
            e->open -= k;
            break;
        case OUT_POST:
            /* Due now that the chunk's data is out: what the write cut
             * is the first thing to write next time. */
            enc_put(e, o->post + k, len - k);
            e->last |= o->set_last;
            break;
        case OUT_TR:
            *tr_sent = k;
            break;
        case OUT_END:
            enc_put(e, crlf + k, len - k);
            e->end = 1;
            break;
        }
        if (k < len)
            return;             /* the write stopped in this piece */
    }
}

int sl_chunk_enc_done(const struct sl_chunk_enc *e)
{
    return e->end && e->off == e->len;
}

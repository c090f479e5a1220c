/*
 * chunk.h - the chunked transfer coding (RFC 9112 section 7.1), both ways,
 * incremental. Pure: no allocation, no I/O. Included by http.h (its error
 * code is SL_HTTP_ERROR); include that one.
 *
 * The proxy never relays the chunk framing it received. A chunked body is
 * decoded in place as it streams past (sl_chunk_feed) and, where it goes
 * on chunked, framed again by us (sl_chunk_enc): sizes and CRLFs of our
 * own, no extensions. A next hop then reads the message boundaries we
 * read, whatever the sender's framing looked like.
 */
#ifndef SL_CHUNK_H
#define SL_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Decoding. sl_chunk_feed walks p[0..len). It stops at the end of the
 * chunked body (after the last chunk, trailer section and final CRLF) and
 * sets c->done; bytes after that belong to the next message and are not
 * consumed. Returns the number of bytes consumed, or SL_HTTP_ERROR (c->err
 * says why; the error sticks).
 *
 * Strict: every line of the coding (chunk-size line, the CRLF after chunk
 * data, trailer lines, the final empty line) must end in CRLF; a bare LF
 * is an error, as is a bare CR.
 *
 * mode SL_CHUNK_CHECK: nothing is modified and *out is set to the consumed
 * count (validation only).
 * mode SL_CHUNK_DATA: chunk data bytes are moved in place to the front of
 * p and *out is how many there are; framing, extensions and trailers are
 * dropped.
 * mode SL_CHUNK_DATA_TRAILERS: the same, and the trailer field lines
 * follow the data in p (each "name:value" CRLF as validated; not the empty
 * line that ends the body). c->tr_out says how many of the *out bytes of
 * this call are trailer bytes: always the last ones, since the trailer
 * section comes after the last chunk (c->last).
 * In the decoding modes the output never overtakes the input, so one
 * buffer serves both.
 *
 * Limits: chunk-size at most 15 hex digits (no overflow), chunk-size line
 * with extensions at most 4 KiB, trailer section at most 16 KiB.
 */
#define SL_CHUNK_CHECK          0
#define SL_CHUNK_DATA           1
#define SL_CHUNK_DATA_TRAILERS  2

struct sl_chunk {
    int state;
    uint64_t left;              /* data bytes left in the current chunk */
    size_t line;                /* bytes in the current size/trailer line */
    size_t trailers;            /* bytes of trailer section so far */
    size_t tr_out;              /* trailer bytes in the last call's output */
    unsigned last:1;            /* the last chunk (size 0) has been read */
    unsigned done:1;
    const char *err;
};

void sl_chunk_init(struct sl_chunk *c);
ssize_t sl_chunk_feed(struct sl_chunk *c, char *p, size_t len, int mode,
                      size_t *out);

/*
 * Encoding, for a writer that writes a prefix of what it is offered and
 * may stop anywhere (a non-blocking writev). The body's bytes stay in the
 * caller's buffer: data bytes, then - once the last chunk was decoded -
 * its trailer lines, as sl_chunk_feed(SL_CHUNK_DATA_TRAILERS) leaves them.
 *
 *     struct sl_chunk_enc e = { 0 };     (zeroed: a body not yet begun)
 *     struct sl_chunk_out o;
 *     n = sl_chunk_enc_iov(&e, p, data, tr, last, done, &o);
 *     w = writev(fd, o.iov, n);          (or after iovecs of one's own)
 *     sl_chunk_enc_wrote(&e, &o, w, &data_sent, &tr_sent);
 *     ... consume data_sent + tr_sent bytes at p ...
 *
 * Each chunk written is the data that was offered when it was begun, so its
 * size is known before its first byte and its CRLF can follow the data in
 * the same write: a chunk never waits for more data to be closed. Framing a
 * short write cut is kept in e and goes first next time. When last and all
 * data has been offered, "0" CRLF follows; then the trailer lines; once
 * done (the trailer section is complete) and all of it has been offered,
 * the final CRLF. At most SL_CHUNK_IOV iovecs are used.
 */
#define SL_CHUNK_IOV 5

struct sl_chunk_enc {
    char pend[32];              /* framing due before the next body byte */
    unsigned char off, len;     /* pend[off..len) */
    unsigned char last;         /* "0" CRLF is queued (in pend, or written) */
    unsigned char end;          /* the final CRLF is queued */
    uint64_t open;              /* data bytes the chunk begun still needs */
};

struct sl_chunk_out {           /* one offer; points into itself and e */
    struct iovec iov[SL_CHUNK_IOV];
    size_t len[SL_CHUNK_IOV];
    int n;
    int kind[SL_CHUNK_IOV];
    char post[5];               /* CRLF after the data (+ "0" CRLF) */
    unsigned char set_last;
};

/*
 * Offer: p holds data body bytes, then tr trailer bytes (tr > 0 only when
 * last). last: the last chunk has been decoded; done: the whole trailer
 * section too. Fills o and returns its iovec count (0: nothing to write).
 */
int sl_chunk_enc_iov(struct sl_chunk_enc *e, const char *p, size_t data,
                     size_t tr, int last, int done, struct sl_chunk_out *o);

/*
 * n bytes of o's iovecs (in order) were written. *data_sent / *tr_sent:
 * how many data and trailer bytes at p that covered; the caller drops them.
 */
void sl_chunk_enc_wrote(struct sl_chunk_enc *e, const struct sl_chunk_out *o,
                        size_t n, size_t *data_sent, size_t *tr_sent);

/* Has the whole body been written, final CRLF included? */
int sl_chunk_enc_done(const struct sl_chunk_enc *e);

#endif

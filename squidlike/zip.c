/*
 * zip.c - one compressed stream, gzip or Brotli (zip.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>

#include "filters/encoding.h"
#include "squidlike/zip.h"

/* Brotli's window at most 2^18 (its default, 2^22, would be 4 MiB of
 * ring buffer per response); gzip's is zlib's largest, 2^15. */
#define ZIP_BR_LGWIN_MAX 18
#define ZIP_BR_LGWIN_MIN BROTLI_MIN_WINDOW_BITS

struct sl_zip {
    unsigned coding;
    int done;
    z_stream gz;
    BrotliEncoderState *br;
};

/* The smallest window bits in [lo, hi] whose window holds size bytes. */
static int window_bits(int64_t size, int lo, int hi)
{
    int b = lo;

    if (size < 0)
        return hi;
    while (b < hi && ((int64_t)1 << b) < size)
        b++;
    return b;
}

struct sl_zip *sl_zip_new(unsigned coding, int level, int64_t size_hint)
{
    struct sl_zip *z = calloc(1, sizeof(*z));
    int wbits;

    if (z == NULL)
        return NULL;
    z->coding = coding;
    if (coding == FLT_ENC_GZIP) {
        /* zlib: window and hash shrink together for a small body (as
         * nginx's gzip does), 16 + bits asks for the gzip wrapper. */
        wbits = window_bits(size_hint, 9, MAX_WBITS);
        if (deflateInit2(&z->gz, level, Z_DEFLATED, 16 + wbits,
                         wbits - 7 < 1 ? 1 : wbits - 7 > 8 ? 8 : wbits - 7,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            goto fail;
        return z;
    }
    if (coding == FLT_ENC_BR) {
        z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (z->br == NULL)
            goto fail;
        BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY, (uint32_t)level);
        BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN, (uint32_t)
            window_bits(size_hint, ZIP_BR_LGWIN_MIN, ZIP_BR_LGWIN_MAX));
        if (size_hint > 0)
            BrotliEncoderSetParameter(z->br, BROTLI_PARAM_SIZE_HINT,
                                      size_hint > (1 << 30) ? 1u << 30
                                                            : (uint32_t)size_hint);
        return z;
    }
fail:
    free(z);
    return NULL;
}

static int run_gzip(struct sl_zip *z, const char *in, size_t inlen,
                    size_t *used, char *out, size_t outlen, size_t *made,
                    int finish)
{
    int rc;

    /* zlib counts in uInt: offer at most 1 GiB a call */
    if (inlen > (1u << 30))
        inlen = 1u << 30, finish = 0;
    if (outlen > (1u << 30))
        outlen = 1u << 30;
    z->gz.next_in = (Bytef *)(uintptr_t)in;
    z->gz.avail_in = (uInt)inlen;
    z->gz.next_out = (Bytef *)out;
    z->gz.avail_out = (uInt)outlen;
    rc = deflate(&z->gz, finish ? Z_FINISH : Z_NO_FLUSH);
    *used = inlen - z->gz.avail_in;
    *made = outlen - z->gz.avail_out;
    if (rc == Z_STREAM_END)
        return 1;
    /* Z_BUF_ERROR: no progress was possible (no room, nothing new) */
    return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : -1;
}

static int run_br(struct sl_zip *z, const char *in, size_t inlen,
                  size_t *used, char *out, size_t outlen, size_t *made,
                  int finish)
{
    const uint8_t *ni = (const uint8_t *)in;
    uint8_t *no = (uint8_t *)out;
    size_t ai = inlen, ao = outlen;

    if (!BrotliEncoderCompressStream(z->br, finish ? BROTLI_OPERATION_FINISH
                                                   : BROTLI_OPERATION_PROCESS,
                                     &ai, &ni, &ao, &no, NULL))
        return -1;
    *used = inlen - ai;
    *made = outlen - ao;
    return BrotliEncoderIsFinished(z->br) ? 1 : 0;
}

int sl_zip_run(struct sl_zip *z, const char *in, size_t inlen, size_t *used,
               char *out, size_t outlen, size_t *made, int finish)
{
    int rc;

    *used = *made = 0;
    if (z->done)
        return 1;
    rc = z->coding == FLT_ENC_GZIP
       ? run_gzip(z, in, inlen, used, out, outlen, made, finish)
       : run_br(z, in, inlen, used, out, outlen, made, finish);
    if (rc == 1)
        z->done = 1;
    return rc;
}

void sl_zip_free(struct sl_zip *z)
{
    if (z == NULL)
        return;
    if (z->coding == FLT_ENC_GZIP)
        deflateEnd(&z->gz);
    else if (z->br)
        BrotliEncoderDestroyInstance(z->br);
    free(z);
}

/*
 * zip.h - one compressed stream: gzip (zlib) or Brotli (libbrotlienc),
 * fed as a body arrives, written into whatever room the caller has. No
 * sockets, no loop: the client side (client_zip.c) moves the bytes.
 *
 * Memory is the coder's state and nothing else (no buffer of ours grows):
 * its window is sized down to a known body length, and at most 256 KiB
 * for gzip (window and hash) and about 1 MiB for Brotli at level 5 with
 * its 256 KiB window, whatever the body.
 */
#ifndef SL_ZIP_H
#define SL_ZIP_H

#include <stddef.h>
#include <stdint.h>

struct sl_zip;

/* A stream of coding (FLT_ENC_GZIP or FLT_ENC_BR, filters/encoding.h) at
 * level (gzip 1..9, Brotli 0..11) for a body of size_hint bytes (-1:
 * unknown). NULL when out of memory or the coding is not one of those. */
struct sl_zip *sl_zip_new(unsigned coding, int level, int64_t size_hint);

/*
 * Compress what it can of in[0..inlen) into out[0..outlen): *used input
 * bytes taken, *made output bytes written. finish: in holds the last of
 * the body (give the same rest again on the next call if not all of it
 * was used). Returns 1 when the stream is complete (its last byte is in
 * out), 0 when it wants more input or more room, -1 on a coder error.
 */
int sl_zip_run(struct sl_zip *z, const char *in, size_t inlen, size_t *used,
               char *out, size_t outlen, size_t *made, int finish);

void sl_zip_free(struct sl_zip *z);

#endif

/*
 * fuzz_sni.c - libFuzzer target for filters/sni.c.
 *
 * The input is the client's first bytes. Every run checks, and abort()s
 * when one breaks:
 *   - the answer is one of the four codes; FOUND leaves a name of 1..255
 *     bytes of [a-z0-9._-] not ending in '.', anything else leaves "";
 *   - it agrees with a naive reference written here: reassemble the
 *     handshake message from the records into a flat buffer (same record
 *     rules, same FLT_SNI_MAX_HELLO window) and parse that with plain
 *     index arithmetic. When the reference has the whole message both
 *     must say the same thing (and the same name); when a record header
 *     is bad first, the parser must say NOT_TLS; when the message is still
 *     incomplete, AGAIN or NOT_TLS (an error already visible);
 *   - prefixes: the answer for a prefix is final once it is not AGAIN -
 *     every prefix gives AGAIN or the whole input's answer (same name), and
 *     no AGAIN comes after a decided prefix (all prefixes of inputs up to
 *     FULL_PREFIXES bytes, a spread of them beyond);
 *   - records do not matter: a complete hello re-cut into records of
 *     another size (input-derived) gives the same answer when it still
 *     fits the window;
 * and ASan/UBSan see every read: libFuzzer's input is exactly size bytes,
 * and the parser writes into a 256-byte heap name buffer.
 *
 * make fuzz builds t/fuzz/fuzz_sni; seeds: t/fuzz/corpus/sni/ (real
 * ClientHellos from openssl and curl; make check replays them:
 * t/fuzz/replay_sni)
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define NAMELEN 256
#define FULL_PREFIXES 300
#define SAMPLES 48

/* ---- the naive reference ---- */

/* Flat ClientHello message m[0..n), complete. Same rules as sni.c. */
static int ref_hello_(const uint8_t *m, size_t n, char *name)
{
    size_t i = 4, end, e_end, x_end, l_end, t, l, j;
    int seen_ext = 0, seen_host = 0;

    name[0] = '\0';
    if (n < 4 || m[0] != 1)
        return FLT_SNI_NOT_TLS;
    end = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);
    if (end != n)
        return FLT_SNI_NOT_TLS;
    if (end - i < 2 || m[i] != 3 || m[i + 1] < 1 || m[i + 1] > 4)
        return FLT_SNI_NOT_TLS;
    i += 2;
    if (end - i < 32)
        return FLT_SNI_NOT_TLS;
    i += 32;
    if (end - i < 1 || m[i] > 32 || end - i - 1 < m[i])
        return FLT_SNI_NOT_TLS;
    i += 1 + m[i];
    if (end - i < 2)
        return FLT_SNI_NOT_TLS;
    l = (size_t)m[i] << 8 | m[i + 1];
    if (l < 2 || l % 2 || end - i - 2 < l)
        return FLT_SNI_NOT_TLS;
    i += 2 + l;
    if (end - i < 1 || m[i] < 1 || end - i - 1 < m[i])
        return FLT_SNI_NOT_TLS;
    i += 1 + m[i];
    if (i == end)
        return FLT_SNI_NONE;
    if (end - i < 2 || ((size_t)m[i] << 8 | m[i + 1]) != end - i - 2)
        return FLT_SNI_NOT_TLS;
    i += 2;
    while (i < end) {
        if (end - i < 4)
            return FLT_SNI_NOT_TLS;
        t = (size_t)m[i] << 8 | m[i + 1];
        l = (size_t)m[i + 2] << 8 | m[i + 3];
        i += 4;
        if (end - i < l)
            return FLT_SNI_NOT_TLS;
        e_end = i + l;
        if (t != 0) {
            i = e_end;
            continue;
        }
        if (seen_ext++)
            return FLT_SNI_NOT_TLS;
        if (l < 2 || ((size_t)m[i] << 8 | m[i + 1]) != l - 2 || l == 2)
            return FLT_SNI_NOT_TLS;
        for (x_end = e_end, i += 2; i < x_end; i = l_end) {
            if (x_end - i < 3)
                return FLT_SNI_NOT_TLS;
            t = m[i];
            l = (size_t)m[i + 1] << 8 | m[i + 2];
            i += 3;
            if (x_end - i < l)
                return FLT_SNI_NOT_TLS;
            l_end = i + l;
            if (t != 0)
                continue;
            if (seen_host++ || l == 0 || l > 255 || m[l_end - 1] == '.')
                return FLT_SNI_NOT_TLS;
            for (j = 0; j < l; j++) {
                uint8_t c = m[i + j];

                if (c >= 'A' && c <= 'Z')
                    c = (uint8_t)(c + 32);
                else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '-' || c == '_'))
                    return FLT_SNI_NOT_TLS;
                name[j] = (char)c;
            }
            name[l] = '\0';
        }
    }
    return seen_host ? FLT_SNI_FOUND : FLT_SNI_NONE;
}

static int ref_hello(const uint8_t *m, size_t n, char *name)
{
    int rc = ref_hello_(m, n, name);

    if (rc != FLT_SNI_FOUND)
        name[0] = '\0';
    return rc;
}

enum ref_state { REF_COMPLETE, REF_BAD_RECORD, REF_INCOMPLETE };

/* Reassemble the handshake message from records in the first
 * FLT_SNI_MAX_HELLO bytes into m (at least that big); *n its length. */
static enum ref_state ref_unwrap(const uint8_t *p, size_t size, uint8_t *m,
                                 size_t *n)
{
    size_t lim = size < FLT_SNI_MAX_HELLO ? size : FLT_SNI_MAX_HELLO;
    size_t i = 0, have = 0, need = 4, rl, k;

    while (have < need) {
        if (i < lim && p[i] != 22)
            return REF_BAD_RECORD;
        if (i + 1 < lim && p[i + 1] != 3)
            return REF_BAD_RECORD;
        if (i + 2 < lim && (p[i + 2] < 1 || p[i + 2] > 4))
            return REF_BAD_RECORD;
        if (i + 3 < lim && p[i + 3] > 0x40)
            return REF_BAD_RECORD;
        if (lim - i < 5)
            return REF_INCOMPLETE;
        rl = (size_t)p[i + 3] << 8 | p[i + 4];
        if (rl == 0 || rl > 16384)
            return REF_BAD_RECORD;
        i += 5;
        while (rl > 0 && have < need) {
            if (i == lim)
                return REF_INCOMPLETE;
            k = need - have;
            if (k > rl)
                k = rl;
            if (k > lim - i)
                k = lim - i;
            memcpy(m + have, p + i, k);
            have += k;
            i += k;
            rl -= k;
            if (have == 4 && need == 4) {
                need = 4 + ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]);
                if (need > FLT_SNI_MAX_HELLO)
                    return REF_INCOMPLETE;  /* can never fit */
            }
        }
    }
    *n = have;
    return REF_COMPLETE;
}

/* ---- helpers ---- */

/* Parse a heap copy of p[0..len) (libFuzzer's own buffer for the whole
 * input); check the name is well formed; copy it to out. */
static int run(const uint8_t *p, size_t len, size_t size, char *out)
{
    char *name = malloc(NAMELEN);
    uint8_t *copy = NULL;
    size_t n, i;
    int rc;

    CHECK(name != NULL);
    memset(name, 'X', NAMELEN);
    if (len < size) {
        copy = malloc(len ? len : 1);
        CHECK(copy != NULL);
        if (len)
            memcpy(copy, p, len);
        p = copy;
    }
    rc = flt_sni_parse(p, len, name, NAMELEN);
    CHECK(rc == FLT_SNI_FOUND || rc == FLT_SNI_NONE || rc == FLT_SNI_AGAIN ||
          rc == FLT_SNI_NOT_TLS);
    n = strnlen(name, NAMELEN);
    CHECK(n < NAMELEN);
    if (rc == FLT_SNI_FOUND) {
        CHECK(n >= 1 && n <= 255 && name[n - 1] != '.');
        for (i = 0; i < n; i++) {
            char c = name[i];

            CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_');
        }
    } else {
        CHECK(n == 0);
    }
    memcpy(out, name, n + 1);
    free(copy);
    free(name);
    return rc;
}

static void check_prefixes(const uint8_t *data, size_t size, int whole,
                           const char *whole_name)
{
    char name[NAMELEN];
    size_t i, k, step;
    int rc, decided = 0;
    uint32_t h = 2166136261u;

    for (i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    step = size <= FULL_PREFIXES ? 1 : size / SAMPLES;
    for (k = 0; k <= size; k += step) {
        /* jitter the sampled points, keep them increasing */
        i = k;
        if (step > 1) {
            h = h * 1103515245u + 12345u;
            i = k + (h >> 8) % step;
            if (i > size)
                i = size;
        }
        rc = run(data, i, size, name);
        if (rc == FLT_SNI_AGAIN) {
            CHECK(!decided);
            continue;
        }
        decided = 1;
        CHECK(rc == whole);
        CHECK(strcmp(name, whole_name) == 0);
    }
    if (size > 0) {
        rc = run(data, size - 1, size, name);
        CHECK(rc == FLT_SNI_AGAIN || (rc == whole &&
                                      strcmp(name, whole_name) == 0));
    }
}

/* The reassembled message m[0..n) in records of chunk bytes: same answer. */
static void check_rechunk(const uint8_t *m, size_t n, size_t chunk, int whole,
                          const char *whole_name)
{
    size_t recs = (n + chunk - 1) / chunk, w = n + 5 * recs, o = 0, i, k;
    uint8_t *wire;
    char name[NAMELEN];

    if (w > FLT_SNI_MAX_HELLO)
        return;
    wire = malloc(w);
    CHECK(wire != NULL);
    for (i = 0; i < n; i += k) {
        k = n - i < chunk ? n - i : chunk;
        wire[o++] = 22;
        wire[o++] = 3;
        wire[o++] = (uint8_t)(1 + i % 4);
        wire[o++] = (uint8_t)(k >> 8);
        wire[o++] = (uint8_t)k;
        memcpy(wire + o, m + i, k);
        o += k;
    }
    CHECK(o == w);
    CHECK(run(wire, w, w, name) == whole);
    CHECK(strcmp(name, whole_name) == 0);
    free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t m[FLT_SNI_MAX_HELLO];
    char name[NAMELEN], ref_name[NAMELEN];
    size_t n = 0;
    int rc, ref;

    rc = run(data, size, size, name);
    switch (ref_unwrap(data, size, m, &n)) {
    case REF_COMPLETE:
        ref = ref_hello(m, n, ref_name);
        CHECK(rc == ref);
        CHECK(strcmp(name, ref_name) == 0);
        if (rc != FLT_SNI_NOT_TLS) {
            check_rechunk(m, n, n, rc, name);
            check_rechunk(m, n, 1 + (size + data[size - 1]) % 300, rc, name);
        }
        break;
    case REF_BAD_RECORD:
        CHECK(rc == FLT_SNI_NOT_TLS);
        break;
    case REF_INCOMPLETE:
        CHECK(rc == FLT_SNI_NOT_TLS ||
              (rc == FLT_SNI_AGAIN && size < FLT_SNI_MAX_HELLO));
        break;
    }
    check_prefixes(data, size, rc, name);
    return 0;
}

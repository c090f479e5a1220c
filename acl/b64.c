/*
 * b64.c - strict base64 and base64url decoding (b64.h): one decoder, two
 * alphabets; the standard form's padding is checked, then dropped.
 */
#include "config.h"

#include "acl/b64.h"

static int digit(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Groups of 4 digits, the last of 2 or 3 whose unused bits are zero. */
static long decode(const char *s, size_t n, unsigned char *out, size_t outmax, int url)
{
    size_t i, o = 0, rem = n % 4;
    int v[4], k;

    if (rem == 1 || n / 4 * 3 + (rem ? rem - 1 : 0) > outmax)
        return -1;
    for (i = 0; i < n; i += 4) {
        size_t m = n - i < 4 ? n - i : 4;

        for (k = 0; k < (int)m; k++)
            if ((v[k] = digit((unsigned char)s[i + (size_t)k], url)) < 0)
                return -1;
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (m == 2) {
            if (v[1] & 0x0f)
                return -1;      /* non-canonical: unused bits set */
            break;
        }
        out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
        if (m == 3) {
            if (v[2] & 0x03)
                return -1;
            break;
        }
        out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
    }
    return (long)o;
}

long acl_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outmax)
{
    return decode(s, n, out, outmax, 1);
}

long acl_b64_decode(const char *s, size_t n, unsigned char *out, size_t outmax)
{
    size_t pad = 0;

    if (n % 4 != 0)
        return -1;
    if (n > 0 && s[n - 1] == '=')
        pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
    return decode(s, n - pad, out, outmax, 0);
}

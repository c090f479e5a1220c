/*
 * fuzz_logfmt.c - libFuzzer target for the access-log formatter
 * (squidlike/logfmt.c). Every string a client can choose comes from the
 * input (split at NUL bytes), in every format and into buffers of every
 * size, and each line must hold the writer's promises:
 *   - one line: it ends in '\n' and holds no other '\n', no '\r', no
 *     control byte and no DEL (they are all escaped);
 *   - it fits the buffer;
 *   - whole lines keep their shape: the squid format always has its ten
 *     space-separated fields, common and combined their 2 and 6 unescaped
 *     quotes, and a JSON line is one object.
 *
 * The input: the format (first byte, modulo 4), the buffer size (second
 * byte, x64 + 2), then the client's strings separated by NULs.
 *
 *   make fuzz && cp -r t/fuzz/corpus/logfmt /tmp/c &&
 *   t/fuzz/fuzz_logfmt -max_total_time=120 /tmp/c
 * (make check replays the seeds: t/fuzz/replay_logfmt)
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/logfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSTR 14

static size_t fields(const char *p, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        if (p[i] != ' ' && (i == 0 || p[i - 1] == ' '))
            k++;
    return k;
}

/* Quotes not preceded by an escaping backslash. */
static size_t quotes(const char *p, size_t n)
{
    size_t i, k = 0;
    int esc = 0;

    for (i = 0; i < n; i++) {
        if (esc)
            esc = 0;
        else if (p[i] == '\\')
            esc = 1;
        else if (p[i] == '"')
            k++;
    }
    return k;
}

static void check(const struct sl_log_access *a, size_t size, int whole)
{
    static char out[SL_LOGFMT_LINE_MAX];
    size_t n = sl_logfmt_access(a, out, size), i;

    if (n == 0 || n > size || out[n - 1] != '\n')
        abort();
    for (i = 0; i + 1 < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch < 0x20 || ch == 0x7f)
            abort();
    }
    if (!whole)
        return;
    switch (a->format) {
    case SL_LOG_FMT_SQUID:
        if (fields(out, n - 1) != 10)
            abort();
        break;
    case SL_LOG_FMT_COMMON:
        if (quotes(out, n - 1) != 2)
            abort();
        break;
    case SL_LOG_FMT_COMBINED:
        if (quotes(out, n - 1) != 6)
            abort();
        break;
    default:
        if (out[0] != '{' || out[n - 2] != '}')
            abort();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *s[NSTR];
    struct sl_log_access a;
    size_t i, at = 0, f;
    unsigned sz;

    if (size < 3)
        return 0;
    f = data[0] % 4;
    sz = 2 + (unsigned)data[1] * 64;
    buf = malloc(size - 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 2, size - 2);
    buf[size - 2] = '\0';
    for (i = 0; i < NSTR; i++) {
        s[i] = at < size - 2 ? buf + at : NULL;
        if (s[i] != NULL)
            at += strlen(s[i]) + 1;
    }
    memset(&a, 0, sizeof(a));
    a.format = (enum sl_log_format)f;
    a.time_ms = 1795800000123LL;
    a.elapsed_ms = (int64_t)data[1] * 1000;
    a.client = "10.0.0.1";
    a.code = s[0] && s[0][0] ? s[0] : "TCP_MISS";
    a.status = 200;
    a.bytes = 1234;
    a.method = s[1] && s[1][0] ? s[1] : "GET";
    a.url = s[2] ? s[2] : "http://a/";
    a.version = (data[1] & 1) ? "1.1" : NULL;
    a.user = s[3];
    a.hier = "HIER_DIRECT";
    a.peer = s[4];
    a.type = s[5];
    a.rule = s[6];
    a.category = s[7];
    a.cache_status = s[8];
    a.host = s[9];
    a.sni = s[10];
    a.referer = s[11];
    a.user_agent = s[11] ? s[11] + strlen(s[11]) / 2 : NULL;
    a.vhost = s[12];
    a.route = (int)data[1] - 128;
    a.backend = s[12] ? s[12] + strlen(s[12]) / 2 : NULL;
    a.request_id = s[13];
    check(&a, SL_LOGFMT_LINE_MAX, 1);
    check(&a, sz < SL_LOGFMT_LINE_MAX ? sz : SL_LOGFMT_LINE_MAX, 0);
    free(buf);
    return 0;
}

/*
 * fuzz_http.c - libFuzzer target for squidlike/http.c and chunk.c.
 *
 * The input is parsed as a request head, a response head (small and large
 * limits), a URL and an authority, and a chunked body (pass-through and
 * decode, whole, split at an input-derived point and byte by byte). Every
 * run checks invariants and abort()s when one breaks:
 *   - a head's length is within the input and the limits, its views lie
 *     inside it, it ends at the first blank line (checked against a naive
 *     scan), and every shorter prefix of it is SL_HTTP_AGAIN;
 *   - AGAIN only when the naive scan finds no end within the limits;
 *   - errors carry a reason and an allowed status;
 *   - URL parts are well formed (lowercase host, port 1..65535, a path that
 *     is safe to put in a request line);
 *   - the chunk codec consumes the same bytes however the input is split,
 *     decodes to at most what it consumed, and never touches the input in
 *     pass-through mode;
 *   - a body that decodes, framed again by the encoder and written in short
 *     pieces, has bare size lines and decodes to the same data and trailers.
 *
 * make fuzz builds t/fuzz/fuzz_http; seeds: t/fuzz/corpus/http/ (make check
 * replays them: t/fuzz/replay_http).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static int inside(struct sl_view v, const char *buf, size_t len)
{
    return v.len == 0 ||
           (v.base >= buf && v.len <= len && v.base - buf <= (ptrdiff_t)(len - v.len));
}

/*
 * Naive reference for the end of a head: skip up to 4 empty lines (requests
 * only), take the start line, then the first line that is "" or "\r".
 */
struct ref {
    size_t skip;            /* leading empty lines */
    int has_first;          /* the start line has its LF */
    size_t first;           /* its length without the line end */
    size_t end;             /* head length, 0 when there is no end yet */
};

static void ref_head(const char *b, size_t len, int is_req, struct ref *rf)
{
    size_t i = 0, n, s;

    memset(rf, 0, sizeof(*rf));
    for (n = 0; is_req && n < 4; n++) {
        if (i < len && b[i] == '\n')
            i++;
        else if (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n')
            i += 2;
        else
            break;
    }
    rf->skip = s = i;
    while (i < len && b[i] != '\n')
        i++;
    if (i == len)
        return;
    rf->has_first = 1;
    rf->first = i - s - (i > s && b[i - 1] == '\r');
    for (i++; i < len; ) {
        if (b[i] == '\n' || (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n')) {
            rf->end = i + 1 + (b[i] == '\r');
            return;
        }
        while (i < len && b[i] != '\n')
            i++;
        if (i == len)
            return;
        i++;
    }
}

static void check_head(const char *buf, size_t len,
                       const struct sl_http_limits *lim, size_t max_hdrs,
                       int is_req, size_t cut)
{
    struct sl_http_hdr hdrs[64];
    struct sl_http_msg m;
    struct ref rf;
    size_t i;
    ssize_t r, r2;
    int want;               /* 0: parse, or AGAIN, 414, 431 */

    memset(&m, 0, sizeof(m));
    m.hdrs = hdrs;
    m.max_hdrs = max_hdrs;
    r = is_req ? sl_http_parse_request(buf, len, lim, &m)
               : sl_http_parse_response(buf, len, lim, &m);
    ref_head(buf, len, is_req, &rf);
    if (!rf.has_first && len - rf.skip >= lim->line_max + 2)
        want = 414;
    else if (rf.has_first && rf.first > lim->line_max)
        want = 414;
    else if (rf.end != 0 && rf.end <= lim->head_max)
        want = 0;
    else if (rf.end != 0 || len >= lim->head_max)
        want = 431;
    else
        want = SL_HTTP_AGAIN;

    CHECK(r == SL_HTTP_AGAIN || r == SL_HTTP_ERROR || (r > 0 && (size_t)r <= len));
    /* A complete but bad request line is refused without waiting for the
     * rest of the head (HTTP/0.9 has none): ERROR where AGAIN was due. */
    if (is_req && want == SL_HTTP_AGAIN && rf.has_first && r == SL_HTTP_ERROR)
        CHECK(m.err != NULL && (m.err_status == 400 || m.err_status == 505));
    else
        CHECK((r == SL_HTTP_AGAIN) == (want == SL_HTTP_AGAIN));
    if (want == 414 || want == 431) {
        CHECK(r == SL_HTTP_ERROR);
        CHECK(m.err_status == (is_req ? want : 502));
    }
    if (r == SL_HTTP_AGAIN)
        return;
    if (r == SL_HTTP_ERROR) {
        CHECK(m.err != NULL);
        if (is_req)
            CHECK(m.err_status == 400 || m.err_status == 414 ||
                  m.err_status == 431 || m.err_status == 501 ||
                  m.err_status == 505);
        else
            CHECK(m.err_status == 502);
        return;
    }
    CHECK(want == 0);
    CHECK((size_t)r == rf.end);
    CHECK((size_t)r <= lim->head_max);
    CHECK(buf[r - 1] == '\n');
    CHECK(m.err == NULL);
    CHECK(m.nhdrs <= max_hdrs);
    CHECK(m.minor == 0 || m.minor == 1);
    CHECK(m.content_length >= -1 && m.content_length < INT64_C(1000000000000000));
    CHECK(!m.has_te || (m.chunked && m.content_length == -1 && m.minor == 1));
    CHECK(!m.chunked || m.has_te);
    if (is_req) {
        CHECK(m.method.len > 0 && m.target.len > 0);
        CHECK(inside(m.method, buf, (size_t)r) && inside(m.target, buf, (size_t)r));
        CHECK(m.host_count <= 1);
        for (i = 0; i < m.target.len; i++)
            CHECK((unsigned char)m.target.base[i] > 0x20 && m.target.base[i] != 0x7f);
    } else {
        CHECK(m.status >= 100 && m.status <= 999);
        CHECK(inside(m.reason, buf, (size_t)r));
    }
    CHECK(inside(m.host, buf, (size_t)r));
    CHECK(m.host.len == 0 || (unsigned char)m.host.base[0] > ' ');
    for (i = 0; i < m.nhdrs; i++) {
        struct sl_view v = hdrs[i].value;
        CHECK(hdrs[i].name.len > 0);
        CHECK(inside(hdrs[i].name, buf, (size_t)r) && inside(v, buf, (size_t)r));
        CHECK(hdrs[i].name.base[hdrs[i].name.len] == ':');
        CHECK(v.len == 0 || (v.base[0] != ' ' && v.base[0] != '\t' &&
                             v.base[v.len - 1] != ' ' && v.base[v.len - 1] != '\t'));
        CHECK(memchr(v.base, '\r', v.len) == NULL && memchr(v.base, '\n', v.len) == NULL);
        CHECK(v.len == 0 || memchr(v.base, '\0', v.len) == NULL);
    }
    CHECK(sl_http_find(&m, "Host") == NULL || m.host_count > 0);
    if (is_req) {
        enum sl_http_body b = sl_http_request_body(&m);
        CHECK(b == (m.chunked ? SL_HTTP_BODY_CHUNKED : m.content_length > 0
                    ? SL_HTTP_BODY_LENGTH : SL_HTTP_BODY_NONE));
    } else {
        enum sl_http_body b = sl_http_response_body(&m, 0);
        CHECK(sl_http_response_body(&m, 1) == SL_HTTP_BODY_NONE);
        if (m.status < 200 || m.status == 204 || m.status == 304)
            CHECK(b == SL_HTTP_BODY_NONE);
        else if (m.chunked)
            CHECK(b == SL_HTTP_BODY_CHUNKED);
        else if (m.content_length < 0)
            CHECK(b == SL_HTTP_BODY_CLOSE);
        else
            CHECK(b == (m.content_length ? SL_HTTP_BODY_LENGTH : SL_HTTP_BODY_NONE));
    }

    /* The head alone parses the same; any prefix of it is incomplete. */
    r2 = is_req ? sl_http_parse_request(buf, (size_t)r, lim, &m)
                : sl_http_parse_response(buf, (size_t)r, lim, &m);
    CHECK(r2 == r);
    cut %= (size_t)r;
    r2 = is_req ? sl_http_parse_request(buf, cut, lim, &m)
                : sl_http_parse_response(buf, cut, lim, &m);
    CHECK(r2 == SL_HTTP_AGAIN);
    r2 = is_req ? sl_http_parse_request(buf, (size_t)r - 1, lim, &m)
                : sl_http_parse_response(buf, (size_t)r - 1, lim, &m);
    CHECK(r2 == SL_HTTP_AGAIN);
}

static void check_url_parts(const struct sl_url *u, struct sl_view t, int is_url)
{
    size_t n = strnlen(u->host, sizeof(u->host)), i;

    CHECK(n > 0 && n <= SL_HTTP_HOST_MAX);
    for (i = 0; i < n; i++)
        CHECK(!(u->host[i] >= 'A' && u->host[i] <= 'Z') &&
              (unsigned char)u->host[i] > 0x20 && u->host[i] != '/' &&
              u->host[i] != '@' && u->host[i] != '#' && u->host[i] != 0x7f);
    CHECK(u->port >= 1 && u->port <= 65535);
    if (!is_url)
        return;
    CHECK(u->path.len > 0 && u->path.base[0] == '/');
    CHECK(u->path.len == 1 || inside(u->path, t.base, t.len));
    for (i = 0; i < u->path.len; i++)
        CHECK((unsigned char)u->path.base[i] > 0x20 && u->path.base[i] != 0x7f &&
              u->path.base[i] != '#');
}

static void check_target(struct sl_view t)
{
    struct sl_url u;
    const char *err = NULL;

    if (sl_http_parse_url(t, &u, &err) == 0)
        check_url_parts(&u, t, 1);
    else
        CHECK(err != NULL);
    err = NULL;
    if (sl_http_parse_authority(t, &u, &err) == 0)
        check_url_parts(&u, t, 0);
    else
        CHECK(err != NULL);
}

struct feed {
    ssize_t consumed;       /* or SL_HTTP_ERROR */
    size_t out;
    int done;
};

/*
 * Feed body[0..len) to a fresh codec in pieces cut at cuts[] (ascending),
 * decoding into dec (when decode). Returns the totals.
 */
static struct feed feed_pieces(const char *body, size_t len, int decode,
                               const size_t *cuts, size_t ncuts, char *dec)
{
    struct sl_chunk c;
    struct feed f = { 0, 0, 0 };
    size_t pos = 0, k;
    char *tmp = malloc(len ? len : 1);

    CHECK(tmp != NULL);
    memcpy(tmp, body, len);
    sl_chunk_init(&c);
    for (k = 0; k <= ncuts && !c.done; k++) {
        size_t stop = k < ncuts ? cuts[k] : len, out = (size_t)-1;
        ssize_t r;

        if (stop < pos)
            continue;
        r = sl_chunk_feed(&c, tmp + pos, stop - pos, decode, &out);
        if (r == SL_HTTP_ERROR) {
            CHECK(c.err != NULL && !c.done);
            f.consumed = SL_HTTP_ERROR;
            free(tmp);
            return f;
        }
        CHECK(r >= 0 && (size_t)r <= stop - pos);
        CHECK(c.done || (size_t)r == stop - pos);
        if (decode) {
            CHECK(out <= (size_t)r);
            memmove(dec + f.out, tmp + pos, out);
        } else {
            CHECK(out == (size_t)r);
            CHECK(memcmp(tmp + pos, body + pos, stop - pos) == 0);
        }
        f.out += out;
        pos += (size_t)r;
    }
    f.consumed = (ssize_t)pos;
    f.done = c.done;
    free(tmp);
    return f;
}

/*
 * A body that decodes is framed again by the encoder (chunk.h), offered a
 * few bytes more at a time and written in short pieces, both sized from
 * the input. What comes out must be bare size lines, and decode (strictly)
 * to the same data and trailer lines.
 */
static void check_reencode(const char *body, size_t len, size_t cut)
{
    struct sl_chunk c;
    struct sl_chunk_enc e;
    struct sl_chunk_out o;
    size_t out, tr, data, step = 1 + cut % 97, wmax = 1 + (cut / 97) % 29;
    size_t offered, outn = 0, cap, ds, ts, w, k, pos, i, guard = 0;
    char *dec = malloc(len + 1), *enc, *back;
    int n, j;
    ssize_t r;

    CHECK(dec != NULL);
    memcpy(dec, body, len);
    sl_chunk_init(&c);
    r = sl_chunk_feed(&c, dec, len, SL_CHUNK_DATA_TRAILERS, &out);
    if (r < 0 || !c.done) {
        free(dec);
        return;
    }
    tr = c.tr_out;
    data = out - tr;
    cap = out + 32 * (data / step + 4);
    enc = malloc(cap);
    back = malloc(cap);
    CHECK(enc != NULL && back != NULL);
    memset(&e, 0, sizeof(e));
    offered = 0;
    pos = 0;                    /* dec[pos..] not yet written */
    for (;;) {
        /* dec[pos..] as a flow holds it: offered data, then (once all
         * data is offered) the trailer lines still to write */
        int all = offered >= data;
        size_t have = pos < data ? (all ? data : offered) - pos : 0;
        size_t trn = all ? out - (pos > data ? pos : data) : 0;

        CHECK(++guard < 2 * cap + 100);
        n = sl_chunk_enc_iov(&e, dec + pos, have, trn, all, all, &o);
        CHECK(n >= 0 && n <= SL_CHUNK_IOV);
        if (n == 0) {
            if (all)
                break;
            offered += step;
            continue;
        }
        for (j = 0, w = 0; j < n && w < wmax; j++) {
            k = o.iov[j].iov_len < wmax - w ? o.iov[j].iov_len : wmax - w;
            CHECK(outn + k <= cap);
            memcpy(enc + outn, o.iov[j].iov_base, k);
            outn += k;
            w += k;
        }
        sl_chunk_enc_wrote(&e, &o, w, &ds, &ts);
        CHECK(ds <= have && (ts == 0 || ds == have));
        pos += ds + ts;
        if (offered < data)
            offered += step;
    }
    CHECK(sl_chunk_enc_done(&e) && pos == out);
    /* Size lines: hex digits and CRLF, nothing else. */
    for (i = 0;;) {
        size_t sz = 0, s0 = i;
        while (i < outn && ((enc[i] >= '0' && enc[i] <= '9') || (enc[i] >= 'a' && enc[i] <= 'f'))) {
            sz = sz * 16 + (size_t)(enc[i] <= '9' ? enc[i] - '0' : enc[i] - 'a' + 10);
            i++;
        }
        CHECK(i > s0 && i + 2 <= outn && enc[i] == '\r' && enc[i + 1] == '\n');
        i += 2;
        if (sz == 0)
            break;
        CHECK(i + sz + 2 <= outn);
        i += sz + 2;
    }
    memcpy(back, enc, outn);
    sl_chunk_init(&c);
    r = sl_chunk_feed(&c, back, outn, SL_CHUNK_DATA_TRAILERS, &k);
    CHECK(r == (ssize_t)outn && c.done && k == out && memcmp(back, dec, out) == 0);
    free(dec);
    free(enc);
    free(back);
}

static void check_chunked(const char *body, size_t len, size_t cut)
{
    char *dec1 = malloc(len + 1), *dec2 = malloc(len + 1);
    size_t split = len ? cut % (len + 1) : 0, i;
    size_t *bytes;
    struct feed pass, whole, two, one;

    CHECK(dec1 && dec2);
    pass = feed_pieces(body, len, 0, NULL, 0, NULL);
    whole = feed_pieces(body, len, 1, NULL, 0, dec1);
    two = feed_pieces(body, len, 1, &split, 1, dec2);
    CHECK(pass.consumed == whole.consumed && pass.done == whole.done);
    CHECK(two.consumed == whole.consumed && two.done == whole.done);
    if (whole.consumed >= 0) {
        CHECK(whole.out <= (size_t)whole.consumed);
        CHECK(two.out == whole.out && memcmp(dec1, dec2, whole.out) == 0);
        CHECK(!whole.done || (whole.consumed >= 3 && body[whole.consumed - 1] == '\n'));
        CHECK(whole.done || (size_t)whole.consumed == len);
    }
    pass = feed_pieces(body, len, 0, &split, 1, NULL);
    CHECK(pass.consumed == whole.consumed && pass.done == whole.done);

    /* Byte by byte (bounded: quadratic-free but many calls). */
    if (len <= 2048) {
        bytes = malloc((len ? len : 1) * sizeof(*bytes));
        CHECK(bytes != NULL);
        for (i = 0; i < len; i++)
            bytes[i] = i;
        one = feed_pieces(body, len, 1, bytes, len, dec2);
        CHECK(one.consumed == whole.consumed && one.done == whole.done);
        if (whole.consumed >= 0)
            CHECK(one.out == whole.out && memcmp(dec1, dec2, whole.out) == 0);
        free(bytes);
    }
    free(dec1);
    free(dec2);
    check_reencode(body, len, cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sl_http_limits small = { 48, 160 }, large = { 8192, 65536 };
    static const struct sl_http_limits odd = { 300, 100 };  /* line > head */
    char *buf = malloc(size ? size : 1);    /* exact size: no slack to hide in */
    struct sl_http_hdr hdrs[64];
    struct sl_http_msg m;
    size_t cut = 0, i;
    struct sl_view raw;

    CHECK(buf != NULL);
    memcpy(buf, data, size);
    for (i = 0; i < size && i < 8; i++)
        cut = cut * 131 + data[i];

    check_head(buf, size, &large, 64, 1, cut);
    check_head(buf, size, &small, 4, 1, cut);
    check_head(buf, size, &large, 64, 0, cut);
    check_head(buf, size, &small, 4, 0, cut);
    check_head(buf, size, &odd, 8, 1, cut);

    memset(&m, 0, sizeof(m));
    m.hdrs = hdrs;
    m.max_hdrs = 64;
    if (sl_http_parse_request(buf, size, &large, &m) > 0)
        check_target(m.target);
    raw.base = buf;
    raw.len = size < 8192 ? size : 8192;
    check_target(raw);

    check_chunked(buf, size, cut);
    CHECK(memcmp(buf, data, size) == 0);    /* nobody wrote to the input */
    free(buf);
    return 0;
}

#!/usr/bin/env python3
"""The request-smuggling surface, byte for byte: chunked bodies with a bare
LF refused before the origin sees them, chunked bodies re-framed by the
proxy both ways (no extension, our sizes, strict CRLF), HTTP/0.9 request
lines answered at once, Max-Forwards and TRACE (RFC 9110 7.6.2, 9.3.8),
and a host name with a trailing dot ("localhost.") through /etc/hosts.

The origins record the exact bytes they receive (ScriptedOrigin with
record=True): what matters here is what crosses the proxy, not what a
lenient parser makes of it."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, RawConn, Response, ScriptedOrigin  # noqa: E402

HEX_LINE = re.compile(rb"[0-9a-fA-F]{1,16}")
FIELD_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\r\n]*")


def dechunk_strict(b, what):
    """Parse the chunked body at the start of b the way we frame it: every
    size line hex digits only (no extension, no blank), every line ended by
    CRLF. Returns (data, sizes, trailers [(name, value)], rest)."""
    pos, data, sizes = 0, bytearray(), []
    while True:
        e = b.find(b"\r\n", pos)
        assert e >= 0, "%s: chunk-size line without CRLF at %d: %r" % (what, pos, b[pos:pos + 40])
        line = b[pos:e]
        assert HEX_LINE.fullmatch(line), "%s: chunk-size line %r is not bare hex" % (what, line[:60])
        n = int(line, 16)
        pos = e + 2
        if n == 0:
            break
        sizes.append(n)
        assert len(b) >= pos + n + 2, "%s: chunk of %d cut short" % (what, n)
        data += b[pos:pos + n]
        pos += n
        assert b[pos:pos + 2] == b"\r\n", "%s: %r after chunk data" % (what, b[pos:pos + 10])
        pos += 2
    trailers = []
    while True:
        e = b.find(b"\r\n", pos)
        assert e >= 0, "%s: trailer section without CRLF: %r" % (what, b[pos:pos + 60])
        line = b[pos:e]
        pos = e + 2
        if line == b"":
            break
        assert FIELD_LINE.fullmatch(line), "%s: trailer line %r" % (what, line[:80])
        k, _, v = line.decode("latin-1").partition(":")
        trailers.append((k, v.strip(" \t")))
    return bytes(data), sizes, trailers, b[pos:]


def split_head(raw, what):
    i = raw.find(b"\r\n\r\n")
    assert i >= 0, "%s: no complete head in %r" % (what, raw[:200])
    return raw[:i + 4], raw[i + 4:]


def chunked_head(url, extra=()):
    host = h.split_url(url)[3]
    lines = ["POST %s HTTP/1.1" % url, "Host: " + host, "Transfer-Encoding: chunked"]
    lines += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def expect_400_closed(c, why):
    r = c.recv_response()
    assert r.status == 400, "%s: %s" % (why, r.brief())
    assert c.closed(10), "%s: connection left open after the 400" % why
    return r


# --- 1. chunk framing strictness -------------------------------------------

BAD_BODIES = [
    (b"5\nhello\r\n0\r\n\r\n", "bare LF after a chunk size"),
    (b"2;\nxx\r\n0\r\n\r\n", "bare LF after a chunk extension"),
    (b"5\r\nhello\n0\r\n\r\n", "bare LF after chunk data"),
    (b"5\r\nhello\r\n0\r\nX-T: v\n\r\n", "bare LF after a trailer line"),
    (b"5\r\nhello\r\n0\r\n\n", "bare LF ending the trailer section"),
]


def test_bare_lf_chunked_request_refused_origin_sees_nothing():
    o = ScriptedOrigin(record=True)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/up" % o.port
        for body, why in BAD_BODIES:
            with RawConn(d.port, timeout=20) as c:
                c.send(chunked_head(url) + body)        # head and body in one write
                r = expect_400_closed(c, why)
                assert b"chunk" in r.body.lower() or b"trailer" in r.body.lower(), \
                    "%s: the 400 does not say why: %r" % (why, r.body[:300])
        _still_serves(d)
    # Nothing of those requests reached the origin: not a byte, not a connection
    # (the _still_serves origin is another one).
    assert o.connections == 0 and o.received_all() == b"", \
        "the origin was reached: %d connection(s), %r" % (o.connections, o.received_all()[:300])


def test_bare_lf_later_in_body_never_forwarded():
    """The head and a good first chunk have gone out when the bad bytes
    arrive: the client gets 400, the origin a truncated request and none
    of the malformed bytes."""
    o = ScriptedOrigin(record=True)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/late" % o.port
        with RawConn(d.port, timeout=20) as c:
            c.send(chunked_head(url) + b"5\r\nhello\r\n")
            h.wait_until(lambda: b"hello" in o.received(1), 10, what="the good chunk at the origin")
            c.send(b"5\nworld\r\n0\r\n\r\n")
            expect_400_closed(c, "bare LF in a later chunk")
        h.wait_until(lambda: o.open_connections() == 0, 10, what="the origin connection closed")
        raw = o.received(1)
        head, body = split_head(raw, "origin")
        assert body == b"5\r\nhello\r\n", "the origin received %r after the head" % body
        assert not o.requests[0].complete, "the origin took the truncated request as whole"
        _still_serves(d)


def test_bare_lf_chunked_response_502():
    """Strict for responses too: an origin's chunk lines ended by a bare LF
    are not guessed at (502), nothing of that body reaches the client."""
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\nhello\r\n0\r\n\r\n")
    o = ScriptedOrigin(lambda req: Response(raw=raw))
    with Daemon() as d:
        r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/lf" % o.port, timeout=20)
        assert r.status == 502, "bare LF in a chunked response: " + r.brief()
        assert b"hello" not in r.body, r.body[:300]


# --- 2. re-framing ----------------------------------------------------------

def test_chunked_request_reframed():
    o = ScriptedOrigin(record=True)
    # 60 one-byte chunks with extensions, a few bigger ones, a trailer.
    pieces = [bytes([65 + i % 26]) for i in range(60)] + [h.pattern_bytes(5000), b"xyz" * 333]
    body = b"".join(b"%x;ext=%d;q=\"a b\"\r\n" % (len(p), i) + p + b"\r\n"
                    for i, p in enumerate(pieces))
    body += b"0;last=1\r\nX-Trail: t1\r\n\r\n"
    data = b"".join(pieces)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/up" % o.port
        with RawConn(d.port, timeout=30) as c:
            c.send(chunked_head(url, [("Connection", "close")]) + body)
            r = c.recv_response("POST")
            assert r.status == 200, r.brief()
        o.wait_complete(1)
        raw = o.received(1)
        head, rest = split_head(raw, "origin")
        assert b"transfer-encoding: chunked\r\n" in head.lower(), head
        assert b"content-length" not in head.lower(), head
        got, sizes, trailers, after = dechunk_strict(rest, "request at the origin")
        assert got == data, "de-chunked body differs (%d bytes, want %d)" % (len(got), len(data))
        assert after == b"", "bytes after the body: %r" % after[:100]
        assert b";" not in rest.replace(data, b""), "an extension reached the origin"
        # Our sizes: the 60 one-byte chunks arrived in one write or a few, and
        # go out as one chunk per read, not as the client cut them.
        assert len(sizes) < len(pieces), "chunk sizes relayed as received: %r" % sizes[:20]
        assert trailers == [("X-Trail", "t1")], "trailers: %r" % trailers


def test_chunked_request_split_writes_reframed():
    """The body arriving in many small writes (every split point of the
    framing crossed): the origin still gets strict framing of our own and
    the same bytes."""
    o = ScriptedOrigin(record=True)
    pieces = [h.pattern_bytes(n) for n in (1, 300, 17, 4096, 2)]
    body = b"".join(b"%X ; e=1\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    with Daemon() as d:
        url = "http://127.0.0.1:%d/split" % o.port
        with RawConn(d.port, timeout=30) as c:
            c.send(chunked_head(url, [("Connection", "close")]))
            h.wait_until(lambda: len(o.requests) == 1, 10, what="the head at the origin")
            for i in range(0, len(body), 7):
                c.send(body[i:i + 7])
            r = c.recv_response("POST")
            assert r.status == 200, r.brief()
        o.wait_complete(1)
        head, rest = split_head(o.received(1), "origin")
        got, _, trailers, after = dechunk_strict(rest, "split request at the origin")
        assert got == b"".join(pieces) and after == b"" and trailers == []


def test_chunked_response_reframed_http11():
    pieces = [b"a", b"bc", h.pattern_bytes(70000), b"d" * 15, b"e"]
    o = ScriptedOrigin(lambda req: Response(200, list(pieces), chunked=True,
                                            chunk_ext=';name="v a";x',
                                            trailers=[("X-Sum", "abc123")]))
    with Daemon() as d:
        with RawConn(d.port, timeout=30) as c:
            c.send(h.build_request("GET", "http://127.0.0.1:%d/r" % o.port,
                                   [("TE", "trailers"), ("Connection", "close")]))
            raw = bytearray()
            c.rd.read_to_close(lambda b: raw.extend(b))
        head, rest = split_head(bytes(raw), "client")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert b"transfer-encoding: chunked\r\n" in head.lower(), head
        got, sizes, trailers, after = dechunk_strict(rest, "response at the client")
        assert got == b"".join(pieces), "body differs (%d bytes)" % len(got)
        assert after == b"", "bytes after the body: %r" % after[:100]
        assert trailers == [("X-Sum", "abc123")], "trailers: %r" % trailers


def test_reframed_both_ways_megabytes():
    """Megabytes in odd chunk sizes (1 byte to 30000) both ways at once:
    every byte and every CRLF in place at both ends. (Writes that stop
    inside our framing are the encoder's unit test, check_chunk.c, at
    every byte: a socket cannot be made to cut there on demand.)"""
    import random
    rnd = random.Random(9)

    def cut(data):
        out, i = [], 0
        while i < len(data):
            k = rnd.choice((1, 2, 3, 17, 100, 999, 4096, 8193, 30000))
            out.append(data[i:i + k])
            i += k
        return out
    down = os.urandom(3 * 1024 * 1024 + 5)
    up = os.urandom(2 * 1024 * 1024 + 3)
    o = ScriptedOrigin(lambda req: Response(200, cut(down), chunked=True, chunk_ext=";e=1"),
                       record=True, keep_body=0)
    body = b"".join(b"%x;x=%d\r\n" % (len(p), i) + p + b"\r\n" for i, p in enumerate(cut(up)))
    body += b"0\r\n\r\n"
    with Daemon() as d:
        url = "http://127.0.0.1:%d/both" % o.port
        with RawConn(d.port, timeout=60) as c:
            c.send(chunked_head(url, [("Connection", "close")]) + body)
            raw = bytearray()
            c.rd.read_to_close(lambda b: raw.extend(b))
        head, rest = split_head(bytes(raw), "client")
        assert head.startswith(b"HTTP/1.1 200 "), head[:200]
        got, _, _, after = dechunk_strict(rest, "response at the client")
        assert got == down and after == b"", "response differs (%d bytes)" % len(got)
        o.wait_complete(1)
        head, rest = split_head(o.received(1), "origin")
        got, _, _, after = dechunk_strict(rest, "request at the origin")
        assert got == up and after == b"", "request differs (%d bytes)" % len(got)


def test_pipelined_request_after_chunked_body():
    """A request right behind a chunked body, in the same write: the
    decoding in place must not eat into it."""
    o = ScriptedOrigin(record=True)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/" % o.port
        body = b"3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
        with RawConn(d.port, timeout=20) as c:
            c.send(chunked_head(url + "first") + body +
                   h.build_request("GET", url + "second", [("X-Next", "yes")]))
            r1 = c.recv_response("POST")
            r2 = c.recv_response("GET")
        assert r1.status == 200 and r1.body.startswith(b"POST /first\nlen=5 "), r1.brief()
        assert r2.status == 200 and r2.body.startswith(b"GET /second\nlen=0 "), r2.brief()
        assert o.requests[1].header("X-Next") == "yes", o.requests[1].headers
        head, rest = split_head(o.received(1), "origin")
        got, sizes, trailers, after = dechunk_strict(rest, "first request")
        assert got == b"abcde" and trailers == [("X-T", "1")], (got, trailers)
        assert after.startswith(b"GET /second HTTP/1.1\r\n"), after[:100]


# --- 3. HTTP/0.9 --------------------------------------------------------------

def test_http09_request_line_answered_at_once():
    o = ScriptedOrigin()
    # A long head timeout: a request line left waiting would show as a hang.
    with Daemon({"timeouts.request_head": "120s"}) as d:
        for line in (b"GET http://127.0.0.1:%d/x\r\n" % o.port, b"GET /x\r\n",
                     b"GET http://127.0.0.1:%d/x\n" % o.port):
            with RawConn(d.port, timeout=20) as c:
                t0 = time.monotonic()
                c.send(line)
                try:
                    r = c.recv_response()
                except OSError as e:
                    raise h.TestFailure("no answer to %r within 20 s: %s" % (line, e))
                assert r.status == 400, "%r: %s" % (line, r.brief())
                assert c.closed(10), "%r: connection left open" % line
                h.log("%r answered in %.3f s" % (line, time.monotonic() - t0))
    assert o.connections == 0, "an HTTP/0.9 request reached the origin"


# --- 4. Max-Forwards and TRACE ------------------------------------------------

def _opt(d, url, mf, method="OPTIONS", extra=()):
    hdrs = list(extra)
    if mf is not None:
        hdrs.append(("Max-Forwards", mf))
    return h.proxy_request(d, method, url, hdrs, timeout=20)


def test_max_forwards_zero_options_answered_by_proxy():
    o = ScriptedOrigin()
    with Daemon() as d:
        r = _opt(d, "http://127.0.0.1:%d/o" % o.port, "0")
        assert r.status == 200, r.brief()
        allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
        for m in ("GET", "HEAD", "POST", "OPTIONS"):
            assert m in allow, "Allow %r lacks %s" % (r.header("Allow"), m)
        assert "TRACE" not in allow, "TRACE allowed while http.allow_trace is off: %r" % allow
        assert r.header("Content-Length") == "0" and r.body == b"", r.brief()
        d.wait_access("OPTIONS http://127.0.0.1:%d/o" % o.port)
    assert o.connections == 0, "Max-Forwards: 0 OPTIONS reached the origin"


def test_max_forwards_zero_trace_echoes_without_credentials():
    o = ScriptedOrigin()
    with Daemon({"http.allow_trace": True}) as d:
        url = "http://127.0.0.1:%d/t?q=1" % o.port
        r = _opt(d, url, "0", "TRACE",
                 [("X-Probe", "p1"), ("Authorization", "Basic c2VjcmV0OnNlY3JldA=="),
                  ("Cookie", "session=supersecret"), ("Proxy-Authorization", "Basic cHJveHk6cHc=")])
        assert r.status == 200, r.brief()
        assert (r.header("Content-Type") or "").startswith("message/http"), r.headers
        assert int(r.header("Content-Length")) == len(r.body)
        echo = r.body.decode("latin-1")
        assert echo.startswith("TRACE %s HTTP/1.1\r\n" % url), echo[:200]
        assert "X-Probe: p1\r\n" in echo and "Max-Forwards: 0\r\n" in echo, echo
        assert echo.endswith("\r\n\r\n"), echo[-40:]
        for secret in ("c2VjcmV0", "supersecret", "cHJveHk", "Authorization", "Cookie"):
            assert secret not in echo, "TRACE echoed %s: %r" % (secret, echo)
        allow = _opt(d, url, "0")
        assert "TRACE" in (allow.header("Allow") or ""), allow.headers
    assert o.connections == 0, "Max-Forwards: 0 TRACE reached the origin"


def test_max_forwards_decremented():
    o = ScriptedOrigin()
    with Daemon({"http.allow_trace": True}) as d:
        base = "http://127.0.0.1:%d/" % o.port
        for method, mf, want in (("OPTIONS", "5", "4"), ("TRACE", "1", "0"),
                                 ("OPTIONS", "0010", "9"), ("GET", "5", "5"),
                                 ("OPTIONS", "99999999999999999999", None)):
            r = _opt(d, base + method.lower() + mf, mf, method)
            assert r.status == 200, "%s Max-Forwards %s: %s" % (method, mf, r.brief())
            got = o.last().header_all("Max-Forwards")
            if want is None:        # huge: forwarded lower, still a valid number
                assert len(got) == 1 and got[0].isdigit() and int(got[0]) < int(mf), got
            else:
                assert got == [want], "%s Max-Forwards %s arrived as %r" % (method, mf, got)
        _opt(d, base + "none", None)
        assert o.last().header_all("Max-Forwards") == [], "a Max-Forwards appeared"


def test_max_forwards_invalid_400():
    o = ScriptedOrigin()
    with Daemon({"http.allow_trace": True}) as d:
        url = "http://127.0.0.1:%d/bad" % o.port
        for method, mf in (("OPTIONS", "abc"), ("OPTIONS", "-1"), ("TRACE", "1, 2"),
                           ("OPTIONS", ""), ("OPTIONS", "0x1"), ("TRACE", "+3")):
            r = _opt(d, url, mf, method)
            assert r.status == 400, "%s Max-Forwards %r: %s" % (method, mf, r.brief())
            assert b"Max-Forwards" in r.body, r.body[:300]
        with RawConn(d.port, timeout=20) as c:
            c.send("OPTIONS %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nMax-Forwards: 3\r\n"
                   "Max-Forwards: 3\r\n\r\n" % (url, o.port))
            r = c.recv_response("OPTIONS")
            assert r.status == 400, "two Max-Forwards lines: " + r.brief()
    assert o.connections == 0, "a request with a bad Max-Forwards reached the origin"


def test_trace_refused_by_default():
    o = ScriptedOrigin()
    with Daemon() as d:
        url = "http://127.0.0.1:%d/t" % o.port
        for mf in (None, "0", "5"):
            r = _opt(d, url, mf, "TRACE")
            assert r.status == 403, "TRACE (Max-Forwards %s): %s" % (mf, r.brief())
            assert b"allow_trace" in r.body, "the 403 does not say why: %r" % r.body[:400]
    assert o.connections == 0, "TRACE reached the origin"


def test_max_forwards_after_access_control():
    """A client the rules deny learns nothing from Max-Forwards: 0."""
    o = ScriptedOrigin()
    with Daemon({"http_access": ["deny all"], "http.allow_trace": True}) as d:
        for method in ("OPTIONS", "TRACE"):
            r = _opt(d, "http://127.0.0.1:%d/" % o.port, "0", method,
                     [("X-Probe", "p")])
            assert r.status == 403, "%s: %s" % (method, r.brief())
            assert r.header("Allow") is None and b"X-Probe" not in r.body, r.brief()
    assert o.connections == 0


# --- 5. a trailing dot ----------------------------------------------------------

def test_localhost_dot_from_hosts_file():
    if "localhost" not in open("/etc/hosts").read().split():
        raise h.Skip("no localhost in /etc/hosts")
    o = ScriptedOrigin(lambda req: Response(200, b"dot " + req.target.encode()))
    dns = DnsStub({})
    with Daemon(dns=dns) as d:
        for host in ("localhost.", "LOCALHOST."):
            r = h.proxy_request(d, "GET", "http://%s:%d/dot" % (host, o.port), timeout=20)
            assert r.status == 200 and r.body == b"dot /dot", "%s: %s" % (host, r.brief())
            assert o.last().header("Host") == "%s:%d" % (host.lower(), o.port), o.last().headers
        assert dns.total() == 0, "the DNS stub was asked: %r" % dns.log


def _still_serves(d):
    o = ScriptedOrigin(lambda req: Response(200, b"alive"))
    r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/alive" % o.port, timeout=20)
    assert r.status == 200 and r.body == b"alive", "daemon no longer serves: " + r.brief()
    o.stop()


if __name__ == "__main__":
    h.run(globals())

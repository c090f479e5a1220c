#!/usr/bin/env python3
"""Errors the proxy reports itself: DNS failure / timeout, refused or
silent or broken origins (status, X-Squidlike-Error, HTML page, access log
code), and malformed requests (each answered with its status, after which
the daemon still serves)."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, ScriptedOrigin  # noqa: E402


def _assert_error_page(r, status, code, mention=None):
    assert r.status == status, "expected %d %s, got %s" % (status, code, r.brief())
    assert r.header("X-Squidlike-Error") == code, \
        "X-Squidlike-Error %r, expected %s" % (r.header("X-Squidlike-Error"), code)
    assert "text/html" in (r.header("Content-Type") or ""), r.headers
    assert r.body, "empty error page"
    if mention:
        assert mention.encode() in r.body, "error page does not mention %r: %r" % (mention, r.body[:500])


def test_unresolvable_name_503():
    dns = DnsStub({}, nxdomain={"gone.test"})
    with Daemon(dns=dns) as d:
        url = "http://gone.test/page"
        r = h.proxy_request(d, "GET", url)
        _assert_error_page(r, 503, "ERR_DNS_FAIL", mention="gone.test")
        a = d.wait_access(url)
        assert (a.code, a.status) == ("TCP_MISS", 503), a.raw
        # curl sees the same.
        res, resp = h.fetch(url, proxy=d)
        assert res.rc == 0 and resp.status == 503, res.err


def test_dns_timeout_504():
    dns = DnsStub({}, drop={"slow.test"})
    with Daemon({"dns.timeout": "1s"}, dns=dns) as d:
        t0 = time.monotonic()
        r = h.proxy_request(d, "GET", "http://slow.test/x", timeout=30)
        took = time.monotonic() - t0
        _assert_error_page(r, 504, "ERR_DNS_TIMEOUT", mention="slow.test")
        assert took < 15, "DNS timeout of 1s answered after %.1fs" % took
        assert dns.count("slow.test", "A") + dns.count("slow.test", "AAAA") >= 1
        a = d.wait_access("http://slow.test/x")
        assert (a.code, a.status) == ("TCP_MISS", 504), a.raw


def test_origin_refusing_502():
    port = h.free_port()
    with Daemon() as d:
        url = "http://127.0.0.1:%d/refused" % port
        r = h.proxy_request(d, "GET", url)
        _assert_error_page(r, 502, "ERR_CONNECT_FAIL")
        a = d.wait_access(url)
        assert (a.code, a.status) == ("TCP_MISS", 502), a.raw


def test_origin_never_answers_504():
    o = ScriptedOrigin(lambda req: Response(hang=True))
    with Daemon({"timeouts.origin_first_byte": "1s"}) as d:
        url = "http://127.0.0.1:%d/silent" % o.port
        t0 = time.monotonic()
        r = h.proxy_request(d, "GET", url, timeout=30)
        took = time.monotonic() - t0
        _assert_error_page(r, 504, "ERR_READ_TIMEOUT")
        assert took < 15, "origin_first_byte 1s answered after %.1fs" % took
        a = d.wait_access(url)
        assert (a.code, a.status) == ("TCP_MISS", 504), a.raw


def test_origin_garbage_502():
    o = ScriptedOrigin(lambda req: b"this is not HTTP at all\r\n\r\n")
    with Daemon() as d:
        url = "http://127.0.0.1:%d/garbage" % o.port
        r = h.proxy_request(d, "GET", url)
        _assert_error_page(r, 502, "ERR_INVALID_RESP")
        a = d.wait_access(url)
        assert (a.code, a.status) == ("TCP_MISS", 502), a.raw


def test_origin_closes_without_answer_502():
    o = ScriptedOrigin(lambda req: Response(no_response=True))
    with Daemon() as d:
        r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/gone" % o.port)
        assert r.status == 502, r.brief()
        assert r.header("X-Squidlike-Error"), r.headers


def test_request_head_timeout():
    with Daemon({"timeouts.request_head": "1s"}) as d:
        with h.RawConn(d.port) as c:
            c.send(b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Slow: ")
            t0 = time.monotonic()
            assert c.closed(15), "half-sent request head not timed out within 15 s"
            took = time.monotonic() - t0
            assert took >= 0.5, "closed after %.2fs" % took
            if c.rd.buf:
                assert c.rd.buf.startswith(b"HTTP/1.1 408") or c.rd.buf.startswith(b"HTTP/1.1 400"), \
                    bytes(c.rd.buf[:100])


# -- malformed requests, one shared daemon --------------------------------

class _Env:
    """One daemon and one origin for all the malformed-request cases."""

    def __init__(self):
        self.o = ScriptedOrigin()
        self.d = Daemon(name="shared")

    def stop(self):
        try:
            self.d.stop()
        finally:
            self.o.stop()


def _env():
    e = h.shared("env", _Env)
    return e.d, e.o


def _malformed(data, status, log_code=None):
    d, o = _env()
    hp = "127.0.0.1:%d" % o.port
    u = "http://%s/m" % hp
    data = data.replace(b"{u}", u.encode()).replace(b"{hp}", hp.encode())
    before = len(d.access_log_lines())
    n_origin = len(o.requests)
    with h.RawConn(d.port, timeout=15) as c:
        c.send(data)
        r = c.recv_response()
        assert r.status == status, "expected %d, got %s" % (status, r.brief())
    assert len(o.requests) == n_origin, "a malformed request reached the origin: %r" % o.last()
    if log_code:
        d.access_log_lines(lambda ls: any(log_code in ln for ln in ls[before:]), 10,
                           what="access log %s" % log_code)
    # The daemon still serves.
    ok = h.proxy_request(d, "GET", u + "?after")
    assert ok.status == 200, "after a malformed request: " + ok.brief()


def test_malformed_obs_fold():
    _malformed(b"GET {u} HTTP/1.1\r\nHost: {hp}\r\nX-Folded: a\r\n b\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_space_before_colon():
    _malformed(b"GET {u} HTTP/1.1\r\nHost: {hp}\r\nX-Test : 1\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_two_content_lengths():
    _malformed(b"POST {u} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: 3\r\n"
               b"Content-Length: 4\r\n\r\nabcd", 400, "NONE_NONE/400")


def test_malformed_content_length_and_chunked():
    _malformed(b"POST {u} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: 3\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_transfer_encoding_gzip():
    _malformed(b"POST {u} HTTP/1.1\r\nHost: {hp}\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "/501")


def test_malformed_bare_cr():
    _malformed(b"GET {u} HTTP/1.1\r\nHost: {hp}\r\nX-Test: a\rb\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_nul_in_header():
    _malformed(b"GET {u} HTTP/1.1\r\nHost: {hp}\r\nX-Test: a\x00b\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_request_line_too_long():
    _malformed(b"GET {u}?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: {hp}\r\n\r\n", 414, "/414")


def test_malformed_head_too_large():
    hdrs = b"".join(b"X-Big-%d: %s\r\n" % (i, b"b" * 2000) for i in range(40))
    _malformed(b"GET {u} HTTP/1.1\r\nHost: {hp}\r\n" + hdrs + b"\r\n", 431, "/431")


def test_malformed_http2_version():
    _malformed(b"GET http://x/ HTTP/2.0\r\nHost: x\r\n\r\n", 505, "/505")


def test_malformed_missing_host():
    _malformed(b"GET {u} HTTP/1.1\r\n\r\n", 400, "NONE_NONE/400")


def test_malformed_bad_chunk_size():
    d, o = _env()
    hp = "127.0.0.1:%d" % o.port
    with h.RawConn(d.port, timeout=15) as c:
        c.send(("POST http://%s/chunk HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\nabc\r\n0\r\n\r\n" % (hp, hp)).encode())
        try:
            r = c.recv_response()
        except h.ConnectionClosed:
            raise AssertionError("bad chunk size: connection closed without a 400")
        assert r.status == 400, r.brief()
    ok = h.proxy_request(d, "GET", "http://%s/after-chunk" % hp)
    assert ok.status == 200, ok.brief()


def test_garbage_then_normal_client():
    d, o = _env()
    out = h.raw(d.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n",
                timeout=15)
    assert out == b"" or out.startswith(b"HTTP/1.1 400"), out[:100]
    ok = h.proxy_request(d, "GET", "http://127.0.0.1:%d/after-garbage" % o.port)
    assert ok.status == 200, ok.brief()


if __name__ == "__main__":
    h.run(globals())

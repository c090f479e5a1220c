#!/usr/bin/env python3
"""Plain HTTP proxying: methods, bodies, what the origin receives (Host,
origin-form target, Via, no hop-by-hop fields, client-IP handling per
forwarded_for) and what the client receives."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, ScriptedOrigin  # noqa: E402


def _file(name, data):
    path = os.path.join(h.tmpdir(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _echo(req):
    """200 with the request's method, target and body digest, plus a few
    origin headers the client must see unchanged."""
    body = ("%s %s\nlen=%d sha256=%s\n" % (req.method, req.target, req.body_len,
                                            req.body_sha256)).encode()
    return Response(200, body, headers=[("Content-Type", "text/plain; charset=utf-8"),
                                        ("X-Origin", "scripted"),
                                        ("Cache-Control", "no-store")])


def test_get_ip_literal():
    o = ScriptedOrigin(_echo)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/path/x?q=1&r=%%20" % o.port
        r, resp = h.fetch(url, proxy=d)
        assert r.rc == 0, "curl failed: %s" % r.err
        assert resp.status == 200, resp.brief()
        assert resp.body.startswith(b"GET /path/x?q=1&r=%20\n"), resp.body
        assert resp.header("X-Origin") == "scripted", resp.headers
        assert resp.header("Content-Type") == "text/plain; charset=utf-8"
        req = o.last()
        assert req.method == "GET" and req.target == "/path/x?q=1&r=%20", req
        assert req.version in ("HTTP/1.1", "HTTP/1.0"), req.version
        assert req.header_all("Host") == ["127.0.0.1:%d" % o.port], req.headers
        assert h.via_ok(req.header("Via")), "origin saw Via %r" % req.header("Via")
        a = d.wait_access("GET", url)
        assert (a.code, a.status) == ("TCP_MISS", 200), a.raw
        assert a.client == "127.0.0.1", a.raw
        assert a.bytes >= len(resp.body), a.raw


def test_get_hostname_via_stub_dns():
    o = ScriptedOrigin(_echo)
    dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]}})
    with Daemon(dns=dns) as d:
        url = "http://origin.test:%d/hello" % o.port
        r, resp = h.fetch(url, proxy=d)
        assert r.rc == 0 and resp.status == 200, (r.err, resp and resp.brief())
        assert resp.body.startswith(b"GET /hello\n")
        req = o.last()
        assert req.target == "/hello" and req.header("Host") == "origin.test:%d" % o.port, req.headers
        assert dns.count("origin.test", "A") >= 1


def test_absolute_url_host_wins_over_host_header():
    # RFC 9112 3.2.2: the Host sent on is the one of the request target.
    o = ScriptedOrigin(_echo)
    with Daemon() as d:
        resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/h" % o.port,
                               headers=[("Host", "elsewhere.invalid")])
        assert resp.status == 200, resp.brief()
        assert o.last().header_all("Host") == ["127.0.0.1:%d" % o.port], o.last().headers


def test_head():
    def handler(req):
        return Response(200, b"x" * 5000, headers=[("X-Method", req.method)])
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        r, resp = h.fetch("http://127.0.0.1:%d/head" % o.port, "-I", proxy=d, timeout=20)
        assert r.rc == 0, r.err
        assert resp.status == 200 and resp.header("Content-Length") == "5000", resp.headers
        assert o.last().method == "HEAD"
        # On one connection: HEAD then GET; the HEAD carried no body.
        with h.RawConn(d.port) as c:
            url = "http://127.0.0.1:%d/x" % o.port
            r1 = c.request("HEAD", url)
            r2 = c.request("GET", url)
            assert r1.status == 200 and r1.body == b"" and r1.header("X-Method") == "HEAD"
            assert r2.status == 200 and r2.body == b"x" * 5000, r2.brief()


def test_post_content_length():
    o = ScriptedOrigin(_echo)
    data = os.urandom(200 * 1024 + 7)
    path = _file("post.bin", data)
    with Daemon() as d:
        r, resp = h.fetch("http://127.0.0.1:%d/post" % o.port, "--data-binary", "@" + path,
                          "-H", "Content-Type: application/octet-stream", proxy=d)
        assert r.rc == 0 and resp.status == 200, (r.err, resp and resp.brief())
        req = o.last()
        assert req.method == "POST" and req.target == "/post"
        assert req.body_len == len(data) and req.body_sha256 == h.sha256(data), req
        assert req.header("Content-Type") == "application/octet-stream"
        if not req.chunked:
            assert req.header("Content-Length") == str(len(data)), req.headers
        assert resp.body == b"POST /post\nlen=%d sha256=%s\n" % (len(data), h.sha256(data).encode())


def test_post_chunked():
    o = ScriptedOrigin(_echo)
    data = os.urandom(300 * 1024 + 1)
    path = _file("chunked.bin", data)
    with Daemon() as d:
        r, resp = h.fetch("http://127.0.0.1:%d/chunked" % o.port,
                          "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path, proxy=d)
        assert r.rc == 0 and resp.status == 200, (r.err, resp and resp.brief())
        req = o.last()
        assert req.method == "POST"
        assert req.body_len == len(data) and req.body_sha256 == h.sha256(data), req
        assert not (req.has_header("Content-Length") and req.has_header("Transfer-Encoding")), \
            "origin got both Content-Length and Transfer-Encoding: %r" % req.headers


def test_chunked_request_extensions_and_trailers():
    o = ScriptedOrigin(_echo)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/tr" % o.port
        body = (b"5;ext=1\r\nhello\r\n"
                b"6\r\n world\r\n"
                b"0\r\nX-Trailer: yes\r\n\r\n")
        resp = h.proxy_request(d, "POST", url, headers=[("Transfer-Encoding", "chunked")],
                               body=body)
        assert resp.status == 200, resp.brief()
        req = o.last()
        assert req.body == b"hello world", req.body


def test_put_and_delete():
    o = ScriptedOrigin(_echo)
    data = b"put body \x00\xff" * 1000
    path = _file("put.bin", data)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/res/1" % o.port
        r, resp = h.fetch(url, "-X", "PUT", "--data-binary", "@" + path, proxy=d)
        assert r.rc == 0 and resp.status == 200, r.err
        req = o.last()
        assert req.method == "PUT" and req.target == "/res/1"
        assert req.body_sha256 == h.sha256(data), req
        r, resp = h.fetch(url, "-X", "DELETE", proxy=d)
        assert r.rc == 0 and resp.status == 200, r.err
        req = o.last()
        assert req.method == "DELETE" and req.target == "/res/1" and req.body_len == 0
        assert resp.body.startswith(b"DELETE /res/1\n")


def test_other_methods():
    o = ScriptedOrigin(_echo)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/m" % o.port
        for method, body in (("OPTIONS", b""), ("PATCH", b'{"a":1}'), ("PROPFIND", b"")):
            resp = h.proxy_request(d, method, url, body=body)
            assert resp.status == 200, "%s: %s" % (method, resp.brief())
            assert o.last().method == method and o.last().body == body


def test_origin_status_and_headers_relayed():
    def handler(req):
        if req.target == "/created":
            return Response(201, b"made", reason="Created Fine",
                            headers=[("Location", "/res/9"), ("Set-Cookie", "a=1"),
                                     ("Set-Cookie", "b=2"), ("X-Empty", "")])
        return Response(404, b"<h1>nope</h1>", headers=[("Content-Type", "text/html")])
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        resp = h.proxy_request(d, "POST", "http://127.0.0.1:%d/created" % o.port, body=b"x")
        assert resp.status == 201 and resp.body == b"made", resp.brief()
        assert resp.header("Location") == "/res/9"
        assert resp.header_all("Set-Cookie") == ["a=1", "b=2"], resp.headers
        resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/missing" % o.port)
        assert resp.status == 404 and resp.body == b"<h1>nope</h1>", resp.brief()
        assert not resp.has_header("X-Squidlike-Error"), "origin 404 dressed as a proxy error"
        d.wait_access("TCP_MISS/404", "/missing")


def test_via_both_ways():
    o = ScriptedOrigin(_echo)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/via" % o.port
        resp = h.proxy_request(d, "GET", url)
        assert h.via_ok(o.last().header("Via")), o.last().headers
        assert h.via_ok(resp.header("Via")), "response Via: %r" % resp.header("Via")
        # An existing Via is kept and squidlike's element appended.
        resp = h.proxy_request(d, "GET", url, headers=[("Via", "1.0 upstream-cache")])
        via = o.last().header_all("Via")
        joined = ", ".join(via)
        assert joined.startswith("1.0 upstream-cache") and h.via_ok(joined), via


def test_via_disabled():
    o = ScriptedOrigin(_echo)
    with Daemon({"http.via": False}) as d:
        resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/novia" % o.port)
        assert resp.status == 200
        assert "squidlike" not in (o.last().header("Via") or ""), o.last().headers
        assert "squidlike" not in (resp.header("Via") or ""), resp.headers


def test_hop_by_hop_removed():
    def handler(req):
        return Response(200, b"ok", headers=[("Connection", "X-Origin-Hop"),
                                             ("X-Origin-Hop", "1"),
                                             ("Keep-Alive", "timeout=5"),
                                             ("Proxy-Authenticate", "Basic realm=x"),
                                             ("X-Kept", "yes")])
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/hop" % o.port, headers=[
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("Keep-Alive", "300"),
            ("Connection", "X-Hop, X-Hop2"),
            ("X-Hop", "1"),
            ("X-Hop2", "2"),
            ("TE", "trailers"),
            ("X-End-To-End", "kept"),
        ], close=False)
        assert resp.status == 200, resp.brief()
        req = o.last()
        names = set(req.header_names())
        for gone in ("proxy-connection", "proxy-authorization", "keep-alive", "x-hop", "x-hop2",
                     "te"):
            assert gone not in names, "origin saw %s: %r" % (gone, req.headers)
        conn = (req.header("Connection") or "").lower()
        assert "x-hop" not in conn, "origin saw Connection: %s" % conn
        assert req.header("X-End-To-End") == "kept", req.headers
        rnames = {k.lower() for k, _ in resp.headers}
        for gone in ("x-origin-hop", "keep-alive", "proxy-authenticate"):
            assert gone not in rnames, "client saw %s: %r" % (gone, resp.headers)
        assert resp.header("X-Kept") == "yes"


_CLIENT_IP_SENT = [("X-Forwarded-For", "203.0.113.7"),
                   ("Forwarded", "for=203.0.113.7;proto=http"),
                   ("X-Real-IP", "203.0.113.7"),
                   ("Client-IP", "203.0.113.7"),
                   ("True-Client-IP", "203.0.113.7")]


def _xff_case(mode, send_xff=True):
    o = ScriptedOrigin(_echo)
    over = {} if mode is None else {"http.forwarded_for": mode}
    with Daemon(over) as d:
        hdrs = _CLIENT_IP_SENT if send_xff else []
        resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/xff" % o.port, headers=hdrs)
        assert resp.status == 200, resp.brief()
        return o.last()


def test_forwarded_for_delete_is_default():
    for send in (True, False):
        req = _xff_case(None, send)
        for name in h.CLIENT_IP_HEADERS:
            assert not req.has_header(name), "origin saw %s under the default config: %r" % (
                name, req.headers)
    req = _xff_case("delete")
    for name in h.CLIENT_IP_HEADERS:
        assert not req.has_header(name), "origin saw %s with delete: %r" % (name, req.headers)


def test_forwarded_for_on():
    req = _xff_case("on")
    xff = ", ".join(req.header_all("X-Forwarded-For"))
    assert xff.replace(" ", "").endswith(",127.0.0.1") and xff.startswith("203.0.113.7"), xff
    req = _xff_case("on", send_xff=False)
    assert req.header_all("X-Forwarded-For") == ["127.0.0.1"], req.headers


def test_forwarded_for_off():
    req = _xff_case("off", send_xff=False)
    assert req.header_all("X-Forwarded-For") == ["unknown"], req.headers
    req = _xff_case("off")
    xff = ", ".join(req.header_all("X-Forwarded-For"))
    assert xff.endswith("unknown") and "127.0.0.1" not in xff, xff


def test_forwarded_for_truncate():
    req = _xff_case("truncate")
    assert req.header_all("X-Forwarded-For") == ["127.0.0.1"], req.headers


def test_forwarded_for_transparent():
    req = _xff_case("transparent")
    assert req.header_all("X-Forwarded-For") == ["203.0.113.7"], req.headers
    req = _xff_case("transparent", send_xff=False)
    assert not req.has_header("X-Forwarded-For"), req.headers


if __name__ == "__main__":
    h.run(globals())

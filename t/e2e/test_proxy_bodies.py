#!/usr/bin/env python3
"""Message framing through the proxy: Expect: 100-continue, HEAD / 204 /
304 / 1xx, chunked responses with extensions and trailers, HTTP/1.0
clients, close-delimited responses."""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402


def _file(name, data):
    path = os.path.join(h.tmpdir(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _still_serves(d):
    o = ScriptedOrigin(lambda req: Response(200, b"alive"))
    resp = h.proxy_request(d, "GET", "http://127.0.0.1:%d/alive" % o.port)
    assert resp.status == 200 and resp.body == b"alive", "daemon no longer serves: " + resp.brief()
    o.stop()


def test_expect_100_continue_2mb():
    o = ScriptedOrigin()
    data = os.urandom(2 * 1024 * 1024)
    path = _file("expect.bin", data)
    with Daemon() as d:
        t0 = time.monotonic()
        # curl waits up to 15 s for the 100 before sending the body anyway:
        # finishing well before that means the 100 came through.
        r, resp = h.fetch("http://127.0.0.1:%d/upload" % o.port, "--data-binary", "@" + path,
                          "-H", "Expect: 100-continue", "--expect100-timeout", "15",
                          proxy=d, timeout=60)
        took = time.monotonic() - t0
        assert r.rc == 0 and resp.status == 200, (r.err, resp and resp.brief())
        req = o.wait_complete(1)[0]
        assert req.body_len == len(data) and req.body_sha256 == h.sha256(data), req
        assert any(st == 100 for st, _ in resp.interim), \
            "client never got 100 Continue (took %.1fs): %r" % (took, [b.status for b in resp.blocks])
        assert took < 12, "upload took %.1fs: the 100 Continue did not come through" % took


def _expect_refused(status):
    """The origin answers `status` to the head without reading the body."""
    o = ScriptedOrigin(head_handler=lambda req: Response(status, b"refused %d" % status,
                                                          headers=[("WWW-Authenticate", "Basic")]
                                                          if status == 401 else []))
    with Daemon() as d:
        size = 2 * 1024 * 1024
        with h.RawConn(d.port, timeout=30) as c:
            c.send(h.build_request("POST", "http://127.0.0.1:%d/refuse" % o.port,
                                   [("Content-Length", str(size)),
                                    ("Expect", "100-continue")]))
            resp = c.recv_response(interim=True)
            if resp.status == 100:
                # The proxy said "go on" itself: send the body, then the final
                # answer must still be the origin's.
                c.send(os.urandom(size))
                resp = c.recv_response()
            assert resp.status == status, "expected %d, got %s" % (status, resp.brief())
            assert resp.body == b"refused %d" % status, resp.body
            if status == 401:
                assert resp.header("WWW-Authenticate") == "Basic"
        assert not o.requests[0].complete
        d.wait_access("/%d" % status, "POST")
        _still_serves(d)


def test_expect_origin_417():
    _expect_refused(417)


def test_expect_origin_final_401():
    _expect_refused(401)


def test_head_with_length_and_chunked_framing_has_no_body():
    def handler(req):
        if req.target == "/cl":
            return Response(200, b"y" * 1000)
        return Response(200, [b"abc"], chunked=True)
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        with h.RawConn(d.port) as c:
            base = "http://127.0.0.1:%d" % o.port
            r = c.request("HEAD", base + "/cl")
            assert r.status == 200 and r.header("Content-Length") == "1000" and r.body == b""
            r = c.request("HEAD", base + "/chunked")
            assert r.status == 200 and r.body == b"", r.brief()
            # Nothing stray on the connection: the next response is intact.
            r = c.request("GET", base + "/cl")
            assert r.status == 200 and r.body == b"y" * 1000, r.brief()
            r = c.request("GET", base + "/chunked")
            assert r.status == 200 and r.body == b"abc", r.brief()


def test_204_and_304_have_no_body():
    def handler(req):
        if req.target == "/204":
            return Response(204, headers=[("X-A", "1")])
        if req.target == "/304":
            return Response(304, headers=[("ETag", '"v1"')])
        return Response(200, b"after", headers=[("ETag", '"v1"')])
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            r = c.request("GET", base + "/204")
            assert r.status == 204 and r.body == b"" and r.header("X-A") == "1", r.brief()
            assert not r.chunked, "204 sent with chunked framing"
            r = c.request("GET", base + "/304", headers=[("If-None-Match", '"v1"')])
            assert r.status == 304 and r.body == b"" and r.header("ETag") == '"v1"', r.brief()
            assert o.last().header("If-None-Match") == '"v1"'
            r = c.request("GET", base + "/ok")
            assert r.status == 200 and r.body == b"after", r.brief()


def test_1xx_interim_then_final():
    def handler(req):
        if req.target == "/100":
            return Response(200, b"after an unsolicited 100", interim=[(100, [])])
        return Response(200, h.pattern_bytes(50000),
                        interim=[(103, [("Link", "</style.css>; rel=preload; as=style")])])
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            r = c.request("GET", base + "/103")
            assert r.status == 200 and r.body == h.pattern_bytes(50000), r.brief()
            for st, _ in r.interim:
                assert st in (100, 103), r.interim
            r = c.request("GET", base + "/100")
            assert r.status == 200 and r.body == b"after an unsolicited 100", r.brief()
        r, resp = h.fetch(base + "/103", proxy=d)
        assert r.rc == 0 and resp.status == 200 and resp.body == h.pattern_bytes(50000), r.err


def _chunked_origin(size, trailers=(("X-Checksum", "abc123"),)):
    rnd = random.Random(7)
    data = h.pattern_bytes(size)
    pieces, i = [], 0
    while i < len(data):
        k = rnd.choice((1, 2, 15, 16, 17, 255, 4096, 8191, 65536, 100000))
        pieces.append(data[i:i + k])
        i += k

    def handler(req):
        return Response(200, list(pieces), chunked=True, chunk_ext=";name=value",
                        trailers=list(trailers), headers=[("Content-Type", "application/x-test")])
    return ScriptedOrigin(handler), data


def test_chunked_response_with_trailers_http11():
    o, data = _chunked_origin(3 * 1024 * 1024 + 3)
    with Daemon() as d:
        with h.RawConn(d.port, timeout=60) as c:
            r = c.request("GET", "http://127.0.0.1:%d/chunked" % o.port,
                          headers=[("TE", "trailers")])
            assert r.status == 200, r.brief()
            assert r.chunked, "chunked response re-framed for an HTTP/1.1 client: %r" % r.headers
            assert len(r.body) == len(data) and r.body == data, "body differs (%d bytes)" % len(r.body)
            assert ("X-Checksum", "abc123") in r.trailers, "trailers lost: %r" % r.trailers
            assert r.header("Content-Type") == "application/x-test"
            # The connection is still usable afterwards.
            r = c.request("GET", "http://127.0.0.1:%d/again" % o.port)
            assert r.status == 200 and r.body == data


def test_chunked_response_to_http10_client():
    o, data = _chunked_origin(1024 * 1024)
    with Daemon() as d:
        url = "http://127.0.0.1:%d/c10" % o.port
        r, resp = h.fetch(url, "-0", proxy=d, timeout=60)
        assert r.rc == 0 and resp.status == 200, r.err
        assert resp.body == data, "curl -0 got %d bytes" % len(resp.body)
        with h.RawConn(d.port, timeout=60) as c:
            c.send(("GET %s HTTP/1.0\r\n\r\n" % url).encode())
            r = c.recv_response()
            assert r.status == 200, r.brief()
            assert "chunked" not in (r.header("Transfer-Encoding") or "").lower(), \
                "HTTP/1.0 client got a chunked body: %r" % r.headers
            assert r.body == data, "body differs (%d bytes)" % len(r.body)
            assert c.closed(10), "connection to an HTTP/1.0 client stayed open"


def test_close_delimited_response():
    size = 2 * 1024 * 1024 + 11
    data = h.pattern_bytes(size)

    def handler(req):
        if req.target == "/http10":
            return Response(raw=b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + data)
        return Response(200, list(h.pattern_body(size)), close_delimited=True)
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        for path in ("/close", "/http10"):
            url = "http://127.0.0.1:%d%s" % (o.port, path)
            r, resp = h.fetch(url, proxy=d, timeout=60)
            assert r.rc == 0 and resp.status == 200, (path, r.err)
            assert resp.body == data, "%s: got %d of %d bytes" % (path, len(resp.body), size)
            with h.RawConn(d.port, timeout=60) as c:
                r = c.request("GET", url)
                assert r.status == 200 and r.body == data, "%s: %d bytes" % (path, len(r.body))
            d.wait_access("TCP_MISS/200", path)


def test_large_chunked_request_and_response_stream():
    o, data = _chunked_origin(8 * 1024 * 1024)
    with Daemon() as d:
        up = os.urandom(5 * 1024 * 1024)
        path = _file("up.bin", up)
        r, resp = h.fetch("http://127.0.0.1:%d/both" % o.port, "-H", "Transfer-Encoding: chunked",
                          "--data-binary", "@" + path, proxy=d, timeout=120)
        assert r.rc == 0 and resp.status == 200, r.err
        assert resp.body == data, "response differs (%d bytes)" % len(resp.body)
        req = o.last()
        assert req.body_len == len(up) and req.body_sha256 == h.sha256(up), req


def test_http10_client_post():
    o = ScriptedOrigin()
    with Daemon() as d:
        body = b"form=1&x=" + b"z" * 10000
        url = "http://127.0.0.1:%d/p10" % o.port
        out = h.raw(d.port, ("POST %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n"
                             % (url, len(body))).encode() + body, timeout=20)
        assert out.startswith(b"HTTP/1.") and out.split(b" ", 2)[1] == b"200", out[:200]
        assert o.last().body == body


def test_zero_length_bodies():
    o = ScriptedOrigin(lambda req: Response(200, b""))
    with Daemon() as d:
        with h.RawConn(d.port) as c:
            url = "http://127.0.0.1:%d/empty" % o.port
            r = c.request("POST", url, headers=[("Content-Length", "0")])
            assert r.status == 200 and r.body == b"", r.brief()
            r = c.request("GET", url)
            assert r.status == 200 and r.body == b"", r.brief()
        assert o.requests[0].body_len == 0


if __name__ == "__main__":
    h.run(globals())

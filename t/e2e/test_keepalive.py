#!/usr/bin/env python3
"""Keep-alive on both sides: client connection reuse, pipelining, HTTP/1.0
clients, the origin connection pool (reuse, an origin that drops idle
connections, retry of idempotent requests), the client idle timeout."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402


def _path_echo(req, **kw):
    return Response(200, ("%s %s #%d.%d" % (req.method, req.target, req.conn_serial,
                                             req.index)).encode(), **kw)


def test_two_requests_on_one_client_connection():
    o = ScriptedOrigin(_path_echo)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            r1 = c.request("GET", base + "/one")
            r2 = c.request("GET", base + "/two")
            assert r1.status == 200 and r1.body.startswith(b"GET /one "), r1.brief()
            assert r2.status == 200 and r2.body.startswith(b"GET /two "), r2.brief()
            assert (r1.header("Connection") or "").lower() != "close"
        a, b = o.requests[-2:]
        assert a.conn_serial == b.conn_serial, \
            "the origin saw the two requests on connections %d and %d" % (a.conn_serial, b.conn_serial)
        assert o.connections == 1, "origin connections: %d" % o.connections


def test_origin_connection_reused_across_clients():
    o = ScriptedOrigin(_path_echo)
    with Daemon() as d:
        for i in range(3):
            r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/c%d" % (o.port, i))
            assert r.status == 200, r.brief()
        serials = [r.conn_serial for r in o.requests]
        assert len(set(serials)) == 1, "pooled connection not reused: serials %r" % serials


def test_pipelined_requests_answered_in_order():
    def handler(req):
        # The first answer is the slow one: a proxy answering out of order
        # would send /fast first.
        return _path_echo(req, delay=0.5 if req.target == "/slow" else 0)
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            c.send(h.build_request("GET", base + "/slow") + h.build_request("GET", base + "/fast")
                   + h.build_request("HEAD", base + "/head"))
            r1 = c.recv_response()
            r2 = c.recv_response()
            r3 = c.recv_response("HEAD")
            assert r1.body.startswith(b"GET /slow "), r1.brief()
            assert r2.body.startswith(b"GET /fast "), r2.brief()
            assert r3.status == 200 and r3.body == b"", r3.brief()
            r4 = c.request("GET", base + "/after")
            assert r4.body.startswith(b"GET /after "), r4.brief()


def test_http10_client_without_keepalive():
    o = ScriptedOrigin(_path_echo)
    with Daemon() as d:
        with h.RawConn(d.port) as c:
            c.send(("GET http://127.0.0.1:%d/ten HTTP/1.0\r\n\r\n" % o.port).encode())
            r = c.recv_response()
            assert r.status == 200 and r.body.startswith(b"GET /ten "), r.brief()
            assert c.closed(10), "the proxy kept an HTTP/1.0 connection open"


def test_connection_close_from_client():
    o = ScriptedOrigin(_path_echo)
    with Daemon() as d:
        with h.RawConn(d.port) as c:
            c.send(h.build_request("GET", "http://127.0.0.1:%d/bye" % o.port,
                                   [("Connection", "close")]))
            r = c.recv_response()
            assert r.status == 200, r.brief()
            assert c.closed(10), "connection still open after Connection: close"


def test_origin_closes_idle_pooled_connection():
    def handler(req):
        # Serve, then drop the connection shortly after without saying so.
        return _path_echo(req, close_silently_after=0.05)
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            r = c.request("GET", base + "/first")
            assert r.status == 200, r.brief()
            h.wait_until(lambda: o.open_connections() == 0, 10,
                         what="the origin to close its idle connection")
            r = c.request("GET", base + "/second")
            assert r.status == 200 and r.body.startswith(b"GET /second "), r.brief()
        assert o.connections == 2


def test_idempotent_request_retried_on_dead_reused_connection():
    # The pooled connection is still open when the proxy reuses it, and the
    # origin closes it on receipt of the request, without an answer: the
    # proxy must retry a GET once on a fresh connection.
    def handler(req):
        if req.index >= 1:
            return Response(no_response=True)
        return _path_echo(req)
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        r = h.proxy_request(d, "GET", base + "/a")
        assert r.status == 200, r.brief()
        r = h.proxy_request(d, "GET", base + "/b")
        assert r.status == 200 and r.body.startswith(b"GET /b "), \
            "GET on a dead pooled connection not retried: " + r.brief()
        seen = [(q.target, q.conn_serial, q.index) for q in o.requests]
        assert seen[-1][0] == "/b" and seen[-1][2] == 0, seen
        # A POST is not idempotent: never sent twice, whatever the outcome.
        r = h.proxy_request(d, "GET", base + "/c")
        assert r.status == 200, r.brief()
        r = h.proxy_request(d, "POST", base + "/post", body=b"once")
        posts = [q for q in o.requests if q.method == "POST"]
        assert len(posts) == 1, "POST sent %d times: %r" % (len(posts), o.requests)
        if r.status != 200:
            assert r.status in (502, 503, 504), r.brief()


def test_client_idle_timeout():
    o = ScriptedOrigin(_path_echo)
    with Daemon({"timeouts.client_idle": "1s"}) as d:
        with h.RawConn(d.port) as c:
            r = c.request("GET", "http://127.0.0.1:%d/idle" % o.port)
            assert r.status == 200, r.brief()
            t0 = time.monotonic()
            assert c.closed(15), "idle keep-alive connection still open after 15 s"
            took = time.monotonic() - t0
            assert took >= 0.5, "closed after %.2fs: no keep-alive at all?" % took
        # A connection that never sends a byte is closed too.
        with h.RawConn(d.port) as c:
            assert c.closed(20), "silent connection never closed within 20 s"
        # And the daemon still serves.
        r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/after" % o.port)
        assert r.status == 200


def test_many_sequential_requests_one_connection():
    o = ScriptedOrigin(_path_echo)
    with Daemon() as d:
        base = "http://127.0.0.1:%d" % o.port
        with h.RawConn(d.port) as c:
            for i in range(200):
                r = c.request("GET", base + "/n%d" % i)
                assert r.status == 200 and r.body.startswith(b"GET /n%d " % i), r.brief()
        assert o.connections == 1, "origin connections: %d" % o.connections


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""Resource bounds: limits.max_connections pauses accepting (the kernel's
backlog holds newcomers) and resumes as soon as a connection goes away;
a configured smaller request-head limit is enforced; a request that
already passed through us (Via) is not forwarded again."""

import os
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, RawConn, ScriptedOrigin  # noqa: E402


def test_max_connections_pauses_and_resumes_accept():
    origin = ScriptedOrigin()
    with Daemon({"limits.max_connections": 2}) as d:
        url = origin.url("/third")
        # Two clients take the two slots: each has sent half a request head,
        # so the daemon has accepted them and is waiting for the rest.
        a = RawConn(d.port)
        b = RawConn(d.port)
        a.send(b"GET " + url.encode() + b" HTTP/1.1\r\n")
        b.send(b"GET " + url.encode() + b" HTTP/1.1\r\n")
        h.wait_until(lambda: d.client_connections() >= 2, timeout=20,
                     what="two client connections accepted")
        c = RawConn(d.port)
        c.send(h.build_request("GET", url))
        # The third is not served while both slots are taken ...
        c.sock.settimeout(1.0)
        try:
            early = c.sock.recv(1)
        except socket.timeout:
            early = None
        assert early is None, "a third connection was served past max_connections=2"
        assert len(origin.requests) == 0
        # ... and is served once a slot frees up.
        a.close()
        c.sock.settimeout(20)
        r = c.recv_response("GET")
        assert r.status == 200, r.brief()
        assert len(origin.requests) == 1
        b.close()
        c.close()


def test_smaller_request_head_limit():
    origin = ScriptedOrigin()
    with Daemon({"http.max_request_head": "2K", "http.max_request_line": "1K"}) as d:
        url = origin.url("/big")
        r = h.proxy_request(d, "GET", url, headers=[("X-Pad", "a" * 3000)])
        assert r.status == 431, r.brief()
        assert r.header("X-Squidlike-Error") == "ERR_TOO_BIG"
        r = h.proxy_request(d, "GET", url, headers=[("X-Pad", "a" * 1000)])
        assert r.status == 200, r.brief()
        assert len(origin.requests) == 1


def test_forwarding_loop_detected():
    # A request that already went through a proxy named like us (two
    # proxies pointing at each other) is refused, not forwarded again.
    origin = ScriptedOrigin()
    with Daemon() as d:
        url = origin.url("/loop")
        r = h.proxy_request(d, "GET", url,
                            headers=[("Via", "1.1 other, 1.1 squidlike (squidlike/0.1.0)")])
        assert r.status == 403, r.brief()
        assert r.header("X-Squidlike-Error") == "ERR_FORWARD_LOOP"
        assert len(origin.requests) == 0
        # A Via naming other proxies only is fine.
        r = h.proxy_request(d, "GET", url, headers=[("Via", "1.1 squidlike-other")])
        assert r.status == 200, r.brief()


h.run(globals())

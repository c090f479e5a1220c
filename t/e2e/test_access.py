#!/usr/bin/env python3
"""Who may use the proxy and what they may reach: allow_sources (a client
bound to 127.0.0.2 as the light outsider, a client in a network namespace
as the real one) and the to_localhost guard."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, NetNs, Response, RoutedOrigin, ScriptedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")


def _denied(r, code):
    assert r.status == 403, "expected 403 %s, got %s" % (code, r.brief())
    assert r.header("X-Squidlike-Error") == code, \
        "X-Squidlike-Error %r, expected %s" % (r.header("X-Squidlike-Error"), code)


def test_source_not_allowed_light():
    o = ScriptedOrigin()
    with Daemon({"access.allow_sources": ["127.0.0.1/32"]}) as d:
        url = o.url("/a")
        r = h.proxy_request(d, "GET", url, bind="127.0.0.2")
        _denied(r, "ERR_ACCESS_DENIED")
        a = d.wait_access("TCP_DENIED/403")
        assert a.client == "127.0.0.2", a.raw
        res = h.curl("--interface", "127.0.0.2", "-o", "/dev/null", "-w", "%{http_code}", url,
                     proxy=d)
        assert res.out == b"403", (res.out, res.err)
        with h.RawConn(d.port, bind="127.0.0.2") as c:
            c.send("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
            r = c.recv_response("CONNECT")
            assert r.status == 403, "CONNECT from a denied source: " + r.brief()
        assert not o.requests, "a denied client's request reached the origin"
        r = h.proxy_request(d, "GET", url)
        assert r.status == 200, "allowed client refused: " + r.brief()


def test_to_localhost_deny():
    o = ScriptedOrigin()
    dns = DnsStub({"local.test": {"A": [("127.0.0.1", 60)]}})
    with Daemon({"access.to_localhost": "deny", "access.connect_ports": [o.port]}, dns=dns) as d:
        for url in (o.url("/lit"), "http://127.0.0.2:%d/other-loopback" % o.port,
                    "http://local.test:%d/by-name" % o.port):
            r = h.proxy_request(d, "GET", url, bind="127.0.0.2")
            _denied(r, "ERR_TO_LOCALHOST")
            r = h.proxy_request(d, "GET", url)
            _denied(r, "ERR_TO_LOCALHOST")
        if h.ipv6_loopback_ok():
            r = h.proxy_request(d, "GET", "http://[::1]:%d/v6" % o.port)
            _denied(r, "ERR_TO_LOCALHOST")
        with h.RawConn(d.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (o.port, o.port))
            r = c.recv_response("CONNECT")
            assert r.status == 403, "CONNECT to localhost under deny: " + r.brief()
        assert not o.requests, "origin on localhost reached under to_localhost deny: %r" % o.requests
        d.wait_access("TCP_DENIED/403", "/lit")


def test_to_localhost_default_allows_local_clients():
    o = ScriptedOrigin()
    with Daemon() as d:
        r = h.proxy_request(d, "GET", o.url("/from-127.0.0.2"), bind="127.0.0.2")
        assert r.status == 200, "client on 127.0.0.2 (this host) refused: " + r.brief()
        a = d.wait_access("/from-127.0.0.2")
        assert a.client == "127.0.0.2" and a.status == 200, a.raw


def _ns_server(ns, directory):
    """python3 -m http.server inside the namespace, on its address."""
    port = h.free_port()
    proc = h._Proc(["ip", "netns", "exec", ns.name, sys.executable, "-m", "http.server",
                    "--bind", ns.ns_addr, "--directory", directory, str(port)],
                   "ns-http-%d" % port)
    h.wait_until(lambda: not proc.alive() or h._can_connect(ns.ns_addr, port), 30,
                 what="http.server in the namespace")
    assert proc.alive(), "http.server in the namespace died:\n" + proc.output()
    return proc, port


def test_outsider_in_network_namespace_denied():
    with NetNs("198.51.100.4/30") as ns:
        o = ScriptedOrigin()
        outside = ScriptedOrigin(host=ns.host_addr)
        with Daemon(listen_host=ns.host_addr) as d:     # default allow_sources
            proxy = "%s:%d" % (ns.host_addr, d.port)
            for url in (o.url("/x"), outside.url("/y")):
                res, resp = h.fetch(url, proxy=proxy, netns=ns.name)
                assert res.rc == 0 and resp is not None, res.err
                assert resp.status == 403, "outsider got %s" % resp.brief()
                assert resp.header("X-Squidlike-Error") == "ERR_ACCESS_DENIED", resp.headers
            a = d.wait_access("TCP_DENIED/403")
            assert a.client == ns.ns_addr, a.raw
        assert not o.requests and not outside.requests, "an outsider's request was forwarded"


def test_outsider_allowed_but_not_to_this_host():
    with NetNs("198.51.100.4/30") as ns:
        o = ScriptedOrigin()                              # 127.0.0.1
        on_iface = ScriptedOrigin(host=ns.host_addr)      # this host's interface
        docroot = h.subdir("ns-docroot")
        with open(os.path.join(docroot, "f.txt"), "wb") as f:
            f.write(b"served from the namespace\n")
        srv, sport = _ns_server(ns, docroot)
        allow = ["127.0.0.0/8", "%s/%d" % (ns.ns_addr, 32)]
        with Daemon({"access.allow_sources": allow}, listen_host=ns.host_addr) as d:
            proxy = "%s:%d" % (ns.host_addr, d.port)
            for url in (o.url("/lo"), on_iface.url("/iface")):
                res, resp = h.fetch(url, proxy=proxy, netns=ns.name)
                assert res.rc == 0 and resp is not None, res.err
                assert resp.status == 403, "outsider reached %s: %s" % (url, resp.brief())
                assert resp.header("X-Squidlike-Error") == "ERR_TO_LOCALHOST", resp.headers
            # An origin that is not this host: allowed.
            res, resp = h.fetch("http://%s:%d/f.txt" % (ns.ns_addr, sport), proxy=proxy,
                                netns=ns.name)
            assert res.rc == 0 and resp.status == 200, (res.err, resp and resp.brief())
            assert resp.body == b"served from the namespace\n"
        assert not o.requests and not on_iface.requests
        with Daemon({"access.allow_sources": allow, "access.to_localhost": "allow"},
                    listen_host=ns.host_addr) as d:
            proxy = "%s:%d" % (ns.host_addr, d.port)
            res, resp = h.fetch(o.url("/lo-allowed"), proxy=proxy, netns=ns.name)
            assert res.rc == 0 and resp.status == 200, (res.err, resp and resp.brief())
        srv.kill()


def test_outsider_gets_nothing_of_this_host_through_the_cache():
    """to_localhost is decided before the cache: an outsider gets neither
    a stored copy of what a client on this host fetched from this host,
    nor a whole-object fetch of it started by a range (range_fetch, on by
    default for package files)."""
    with NetNs("198.51.100.4/30") as ns:
        secret = b"for this host only\n" * 100
        o = RoutedOrigin({"/stored": Response(200, secret, headers=[FRESH]),
                          "/pool/s/secret_1_all.deb": Response(200, secret)})
        allow = ["127.0.0.0/8", "%s/32" % ns.ns_addr, "%s/32" % ns.host_addr]
        with Daemon({"access.allow_sources": allow}, listen_host=ns.host_addr) as d:
            proxy = "%s:%d" % (ns.host_addr, d.port)
            # A client on this host may fetch from it, and it is stored.
            for _ in range(2):
                r = h.proxy_request(d, "GET", o.url("/stored"))
                assert r.status == 200 and r.body == secret, r.brief()
            assert h.cache_status_params(r).get("hit") is True
            res, resp = h.fetch(o.url("/stored"), proxy=proxy, netns=ns.name)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 403 and \
                resp.header("X-Squidlike-Error") == "ERR_TO_LOCALHOST", resp.brief()
            res, resp = h.fetch(o.url("/pool/s/secret_1_all.deb"), "-H", "Range: bytes=0-99",
                                proxy=proxy, netns=ns.name)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 403 and \
                resp.header("X-Squidlike-Error") == "ERR_TO_LOCALHOST", resp.brief()
        assert o.count("/stored") == 1 and o.count("/pool/s/secret_1_all.deb") == 0, \
            [q.target for q in o.requests]


def test_ipv6_client_allowed_by_default():
    if not h.ipv6_loopback_ok():
        raise h.Skip("IPv6 loopback unavailable")
    o = ScriptedOrigin()
    with Daemon(listen_host="::1") as d:
        with h.RawConn(d.port, host="::1") as c:
            r = c.request("GET", o.url("/v6client"), headers=[("Connection", "close")])
            assert r.status == 200, r.brief()
        a = d.wait_access("/v6client")
        assert a.client == "::1", a.raw


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""Asynchronous DNS through the stub server: TTL-respecting positive cache,
negative cache, max_ttl, AAAA-only names, several addresses tried in turn,
dns.ipv6 = false, /etc/hosts. Never touches the machine's resolver: the
daemon's nameservers are the stub."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, ScriptedOrigin  # noqa: E402


def _closing_origin(**kw):
    # No pooled origin connection: every request needs an address.
    return ScriptedOrigin(lambda req: Response(200, ("%s %s" % (req.method, req.target)).encode(),
                                               close=True), **kw)


def _get(d, url):
    r = h.proxy_request(d, "GET", url)
    assert r.status == 200, "%s -> %s" % (url, r.brief())
    return r


def _wait_past(t, what):
    """Poll (bounded) until the monotonic clock passes t."""
    h.wait_until(lambda: time.monotonic() >= t, timeout=max(0.0, t - time.monotonic()) + 5,
                 interval=0.05, what=what)


def test_positive_answers_cached_for_their_ttl():
    ttl = 2
    o1 = _closing_origin()
    # A second origin on another loopback address, same port: where the name
    # points after the TTL has run out.
    o2 = _closing_origin(host="127.0.0.2", port=o1.port) if h._port_bindable("127.0.0.2", o1.port) \
        else None
    dns = DnsStub({"ttl.test": {"A": [("127.0.0.1", ttl)]}})
    with Daemon(dns=dns) as d:
        url = "http://ttl.test:%d/" % o1.port
        _get(d, url + "1")
        t_query = dns.first_query_time("ttl.test", "A")
        assert t_query is not None, "no A query reached the stub"
        _get(d, url + "2")
        within = time.monotonic() - t_query < ttl - 0.3
        if within:
            assert dns.count("ttl.test", "A") == 1, \
                "second request within the TTL queried again (%d A queries)" % dns.count("ttl.test", "A")
        else:
            h.log("machine too slow to check the within-TTL case")
        if o2 is not None:
            dns.set("ttl.test", {"A": [("127.0.0.2", ttl)]})
        _wait_past(t_query + ttl + 1.0, "the TTL to run out")
        _get(d, url + "3")
        n = dns.count("ttl.test", "A")
        assert n == 2 if within else n >= 2, "after the TTL: %d A queries in all" % n
        if o2 is not None:
            assert o2.requests and o2.last().target == "/3", \
                "after the TTL the proxy still used the old address"


def test_max_ttl_caps_long_answers():
    o = _closing_origin()
    dns = DnsStub({"long.test": {"A": [("127.0.0.1", 86400)]}})
    with Daemon({"dns.max_ttl": "1s"}, dns=dns) as d:
        url = "http://long.test:%d/" % o.port
        _get(d, url)
        t_query = dns.first_query_time("long.test", "A")
        _wait_past(t_query + 2.5, "max_ttl to run out")
        _get(d, url)
        assert dns.count("long.test", "A") >= 2, "max_ttl not applied"


def test_nxdomain_cached():
    dns = DnsStub({}, nxdomain={"nx.test"})
    with Daemon({"dns.negative_ttl": "30s"}, dns=dns) as d:
        for i in range(2):
            r = h.proxy_request(d, "GET", "http://nx.test/%d" % i)
            assert r.status == 503, r.brief()
            assert r.header("X-Squidlike-Error") == "ERR_DNS_FAIL", r.headers
        assert dns.count("nx.test", "A") == 1, "NXDOMAIN not cached: %d A queries" % \
            dns.count("nx.test", "A")
        assert dns.count("nx.test", "AAAA") <= 1


def test_aaaa_only_name():
    if not h.ipv6_loopback_ok():
        raise h.Skip("IPv6 loopback unavailable")
    o = _closing_origin(family=socket.AF_INET6)
    dns = DnsStub({"v6.test": {"AAAA": [("::1", 60)]}})
    with Daemon(dns=dns) as d:
        r = _get(d, "http://v6.test:%d/six" % o.port)
        assert r.body == b"GET /six"
        assert o.last().header("Host") == "v6.test:%d" % o.port
        assert dns.count("v6.test", "AAAA") >= 1


def test_ipv6_literal_target():
    if not h.ipv6_loopback_ok():
        raise h.Skip("IPv6 loopback unavailable")
    o = _closing_origin(family=socket.AF_INET6)
    with Daemon() as d:
        r = _get(d, "http://[::1]:%d/lit" % o.port)
        assert r.body == b"GET /lit"
        assert o.last().header("Host") == "[::1]:%d" % o.port, o.last().headers


def test_each_address_tried_in_turn():
    o = _closing_origin()           # listens on 127.0.0.1 only
    assert h.port_is_closed(o.port, "127.0.0.2"), "127.0.0.2:%d unexpectedly open" % o.port
    dns = DnsStub({"multi.test": {"A": [("127.0.0.2", 60), ("127.0.0.1", 60)]},
                   "mixed.test": {"AAAA": [("::1", 60)], "A": [("127.0.0.1", 60)]}})
    with Daemon(dns=dns) as d:
        r = _get(d, "http://multi.test:%d/m" % o.port)
        assert r.body == b"GET /m"
        if h.ipv6_loopback_ok():
            assert h.port_is_closed(o.port, "::1")
        r = _get(d, "http://mixed.test:%d/x" % o.port)
        assert r.body == b"GET /x"


def test_ipv6_disabled_asks_only_a():
    o = _closing_origin()
    dns = DnsStub({"four.test": {"A": [("127.0.0.1", 60)], "AAAA": [("::1", 60)]}})
    with Daemon({"dns.ipv6": False}, dns=dns) as d:
        _get(d, "http://four.test:%d/" % o.port)
        assert dns.count("four.test", "A") >= 1
        assert dns.count("four.test", "AAAA") == 0, "AAAA asked with dns.ipv6 = false"


def test_etc_hosts_honoured():
    hosts = open("/etc/hosts").read().split()
    if "localhost" not in hosts:
        raise h.Skip("no localhost in /etc/hosts")
    o = _closing_origin()
    dns = DnsStub({})
    with Daemon(dns=dns) as d:
        r = _get(d, "http://localhost:%d/hosts" % o.port)
        assert r.body == b"GET /hosts"
        assert dns.count("localhost", "A") == 0, "localhost was asked from DNS"


if __name__ == "__main__":
    h.run(globals())

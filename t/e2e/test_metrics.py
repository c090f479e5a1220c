#!/usr/bin/env python3
"""The Prometheus page /metrics: the text exposition (format 0.0.4) is
well formed (HELP and TYPE for every family, histogram buckets cumulative
with +Inf equal to _count; `promtool check metrics` when promtool is
installed), the counters move by exactly what a known burst of traffic did
(a miss, a hit, an uncacheable miss, a policy block, our own pages), auth
failures are counted, and only the proxy host itself may read it."""

import base64
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, NetNs, Response, RoutedOrigin  # noqa: E402

CTYPE = "text/plain; version=0.0.4; charset=utf-8"
FRESH = ("Cache-Control", "max-age=3600")

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """A parsed exposition: samples[(name, frozenset(labels))] = value,
    types[family], helps[family]; parse() checks the format as it goes."""

    def __init__(self, text):
        self.text = text
        self.samples, self.types, self.helps, self.order = {}, {}, {}, []
        self.parse()

    @staticmethod
    def family_of(name, types):
        for suf in ("_bucket", "_sum", "_count"):
            base = name[:-len(suf)]
            if name.endswith(suf) and types.get(base) == "histogram":
                return base
        return name

    def parse(self):
        assert self.text.endswith("\n"), "exposition does not end with a newline"
        for n, line in enumerate(self.text.split("\n")[:-1], 1):
            assert line != "", "empty line %d" % n
            if line.startswith("# HELP "):
                name, _, text = line[7:].partition(" ")
                assert name not in self.helps, "second HELP for %s" % name
                assert text, "empty HELP for %s" % name
                self.helps[name] = text
                continue
            if line.startswith("# TYPE "):
                name, _, typ = line[7:].partition(" ")
                assert name not in self.types, "second TYPE for %s" % name
                assert name in self.helps, "TYPE before HELP for %s" % name
                assert typ in ("counter", "gauge", "histogram"), line
                assert not any(self.family_of(s, self.types) == name for s, _ in self.samples), \
                    "TYPE for %s after its samples" % name
                self.types[name] = typ
                self.order.append(name)
                continue
            assert not line.startswith("#"), "unexpected comment line %d: %r" % (n, line)
            m = SAMPLE_RE.match(line)
            assert m, "malformed sample line %d: %r" % (n, line)
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            fam = self.family_of(name, self.types)
            assert fam in self.types and fam in self.helps, "no HELP/TYPE for %s" % name
            assert fam == self.order[-1], "%s not grouped with its family" % name
            if self.types[fam] == "counter":
                assert fam.endswith("_total"), "counter %s without _total" % fam
            lab = frozenset(LABEL_RE.findall(labels))
            assert len(lab) == len(LABEL_RE.findall(labels)), "duplicate label: %r" % line
            key = (name, lab)
            assert key not in self.samples, "duplicate sample %r" % line
            self.samples[key] = float(value)

    def get(self, name, **labels):
        """A sample's value (0 when absent: counters appear when non-zero)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def check_histogram(self, fam, label):
        """Buckets cumulative, le increasing, +Inf == _count, per label value."""
        values = {dict(lab)[label] for (n, lab) in self.samples if n == fam + "_count"}
        assert values, "histogram %s has no series" % fam
        for v in values:
            bks = sorted(((float(dict(lab)["le"]), val) for (n, lab), val in self.samples.items()
                          if n == fam + "_bucket" and dict(lab).get(label) == v))
            assert bks and bks[-1][0] == float("inf"), "%s{%s}: no +Inf bucket" % (fam, v)
            counts = [c for _, c in bks]
            assert counts == sorted(counts), "%s{%s}: buckets not cumulative: %r" % (fam, v, bks)
            assert counts[-1] == self.get(fam + "_count", **{label: v}), \
                "%s{%s}: +Inf %r != _count" % (fam, v, counts[-1])
        return values


FAMILIES = {
    "squidlike_requests_total": "counter",
    "squidlike_client_bytes_total": "counter",
    "squidlike_cache_hits_total": "counter",
    "squidlike_cache_misses_total": "counter",
    "squidlike_denied_total": "counter",
    "squidlike_blocked_total": "counter",
    "squidlike_auth_failures_total": "counter",
    "squidlike_dns_lookups_total": "counter",
    "squidlike_dns_cache_hits_total": "counter",
    "squidlike_dns_queries_total": "counter",
    "squidlike_client_connections": "gauge",
    "squidlike_cache_bytes": "gauge",
    "squidlike_cache_objects": "gauge",
    "squidlike_uptime_seconds": "gauge",
    "squidlike_service_seconds": "histogram",
    "squidlike_origin_bytes_received_total": "counter",
    "squidlike_tunnels": "gauge",
    "squidlike_origin_connections": "gauge",
    "squidlike_dns_query_seconds": "histogram",
    "squidlike_accept_failures_total": "counter",
    "squidlike_accept_paused": "gauge",
    "squidlike_descriptors_exhausted": "gauge",
    "squidlike_busy_poll_waits_total": "counter",
    "squidlike_busy_poll_caught_total": "counter",
    "squidlike_busy_poll_seconds_total": "counter",
}


def promtool_check(text):
    if not shutil.which("promtool"):
        h.log("promtool not installed: `promtool check metrics` skipped")
        return
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, "promtool check metrics failed:\n%s%s" % (
        r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))


def synced(d, fn):
    """fn() (one request), then wait for its access-log line."""
    n = len(d.access_log_lines())
    r = fn()
    d.access_log_lines(lambda ls: len(ls) > n, what="the access-log line")
    return r


def scrape(d, method="GET", bind=None):
    r = synced(d, lambda: h.proxy_request(d, method, "/metrics", bind=bind))
    assert r.status == 200, r.brief()
    assert r.header("Content-Type") == CTYPE, r.header("Content-Type")
    assert r.header("Cache-Control") == "no-store", r.brief()
    if method == "HEAD":
        assert r.body == b"" and int(r.header("Content-Length")) > 0, r.brief()
        return None
    assert int(r.header("Content-Length")) == len(r.body), r.brief()
    return Metrics(r.body.decode("utf-8"))


def test_format_and_counts():
    # Connection: close so that /n needs the origin's address again: a DNS
    # cache hit, not a pooled connection.
    o = RoutedOrigin({"/c": Response(200, b"cacheable\n", headers=[FRESH, ("Connection", "close")]),
                      "/n": Response(200, b"not stored\n", headers=[("Cache-Control", "no-store")])})
    dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]}})
    conf = {"acls": [{"name": "bad", "type": "dstdomain", "values": [".blocked.test"]}],
            "http_access": ["deny bad", "allow all"]}
    with Daemon(conf, dns=dns) as d:
        base = "http://origin.test:%d" % o.port
        n0 = len(d.access_log_lines())
        m0 = scrape(d)
        r = synced(d, lambda: h.proxy_request(d, "GET", base + "/c"))
        assert r.status == 200 and r.body == b"cacheable\n", r.brief()
        r = synced(d, lambda: h.proxy_request(d, "GET", base + "/c"))
        assert r.status == 200 and o.count("/c") == 1, "second GET was not a hit"
        r = synced(d, lambda: h.proxy_request(d, "GET", base + "/n"))
        assert r.status == 200, r.brief()
        r = synced(d, lambda: h.proxy_request(d, "GET", "http://www.blocked.test/x"))
        assert r.status == 403, r.brief()
        scrape(d, "HEAD")
        m1 = scrape(d)
        lines = d.access_log_lines()[n0:n0 + 6]
        codes = [(a.code, a.method) for a in map(h.parse_access_line, lines)]
        assert codes == [("NONE", "GET"), ("TCP_MISS", "GET"), ("TCP_HIT", "GET"),
                         ("TCP_MISS", "GET"), ("TCP_DENIED", "GET"), ("NONE", "HEAD")], codes

    for m in (m0, m1):
        for fam, typ in FAMILIES.items():
            assert m.types.get(fam) == typ, "family %s: TYPE %r, expected %s" % (
                fam, m.types.get(fam), typ)
        assert m.check_histogram("squidlike_service_seconds", "kind") == {"hit", "miss", "other"}
        promtool_check(m.text)

    def delta(name, **labels):
        return m1.get(name, **labels) - m0.get(name, **labels)

    req = "squidlike_requests_total"
    want = {("TCP_MISS", "GET"): 2, ("TCP_HIT", "GET"): 1, ("TCP_DENIED", "GET"): 1,
            ("NONE", "GET"): 1, ("NONE", "HEAD"): 1}
    got = {(dict(lab)["code"], dict(lab)["method"]): v - m0.samples.get((n, lab), 0)
           for (n, lab), v in m1.samples.items() if n == req}
    got = {k: v for k, v in got.items() if v}
    assert got == want, "requests_total moved by %r, expected %r" % (got, want)
    assert m0.get(req, code="NONE", method="GET") == 0, "the first scrape counted itself"
    exact = [("squidlike_cache_hits_total", {}, 1), ("squidlike_cache_misses_total", {}, 2),
             ("squidlike_denied_total", {}, 1), ("squidlike_blocked_total", {"category": ""}, 1),
             ("squidlike_auth_failures_total", {}, 0),
             ("squidlike_client_bytes_total", {"direction": "in"}, 0),
             ("squidlike_service_seconds_count", {"kind": "hit"}, 1),
             ("squidlike_service_seconds_count", {"kind": "miss"}, 2),
             ("squidlike_service_seconds_count", {"kind": "other"}, 3),
             ("squidlike_dns_queries_total", {}, 1),
             ("squidlike_dns_query_seconds_count", {}, 1),
             ("squidlike_cache_objects", {}, 1),
             ("squidlike_accept_failures_total", {"reason": "process_fd_limit"}, 0)]
    bad = ["%s%r moved by %r, expected %r" % (n, lab, delta(n, **lab), w)
           for n, lab, w in exact if delta(n, **lab) != w]
    assert not bad, "\n  ".join(bad)
    # Bytes to clients: exactly what the access log says was sent.
    sent = sum(a.bytes for a in map(h.parse_access_line, lines))
    assert delta("squidlike_client_bytes_total", direction="out") == sent, \
        "bytes out moved by %r, access log says %d" % (
            delta("squidlike_client_bytes_total", direction="out"), sent)
    assert delta("squidlike_dns_lookups_total") >= 2, "lookups: %r" % delta(
        "squidlike_dns_lookups_total")
    assert delta("squidlike_dns_cache_hits_total", answer="positive") >= 1, \
        "the second name lookup was not a DNS cache hit"
    # From origins: the two misses' heads and bodies, at least.
    assert delta("squidlike_origin_bytes_received_total") >= len(b"cacheable\nnot stored\n") + 2 * len(b"HTTP/1.1 200 OK\r\n"), \
        "origin bytes moved by %r" % delta("squidlike_origin_bytes_received_total")
    assert m1.get("squidlike_cache_bytes") > 0, "stored object not in cache_bytes"
    assert m1.get("squidlike_client_connections") >= 1, "the scraping connection not counted"
    for reason in ("process_fd_limit", "system_fd_limit", "memory", "other"):
        key = ("squidlike_accept_failures_total", frozenset({"reason": reason}.items()))
        assert m1.samples.get(key) == 0, (reason, m1.samples.get(key))
    assert m1.get("squidlike_accept_paused") == 0 and m1.get("squidlike_descriptors_exhausted") == 0
    assert m1.get("squidlike_uptime_seconds") > m0.get("squidlike_uptime_seconds") >= 0
    s = m1.get("squidlike_service_seconds_sum", kind="miss")
    assert 0 <= s < 60, "miss service time sum %r" % s


def _burst(d, n):
    """n connections, each sending its request the moment it connects, so
    the proxy accepts a batch and finds their requests already waiting: a
    wait that ends at once, which is what lets busy polling start whatever
    the machine's wake-up latency (one client asking in turn may leave
    every gap longer than the window on a loaded machine)."""
    req = h.build_request("GET", "/metrics", [("Connection", "close")], b"", "HTTP/1.1")
    conns = []
    try:
        for _ in range(n):
            c = h.RawConn(d.port, host=d.listen_host, timeout=30.0)
            conns.append(c)
            c.send(req)
        for c in conns:
            r = c.recv_response("GET")
            assert r.status == 200, r.brief()
    finally:
        for c in conns:
            c.close()


def test_busy_poll_counted():
    # Off (the default): the loop never polls, whatever the traffic. On,
    # with the widest window: bursts of requests make it poll, and polling
    # finds events. Bursts are repeated, bounded in count and time, until
    # a poll has caught one; timing decides how soon, not whether.
    for us in (0, 1000):
        conf = {"limits": {"busy_poll_us": us}} if us else {}
        with Daemon(conf) as d:
            deadline = time.monotonic() + 60
            for rounds in range(1, 41):
                _burst(d, 16)
                m = scrape(d)
                if us == 0 and rounds == 5:
                    break
                if us and (m.get("squidlike_busy_poll_caught_total") > 0
                           or time.monotonic() > deadline):
                    break
        waits = m.get("squidlike_busy_poll_waits_total")
        caught = m.get("squidlike_busy_poll_caught_total")
        secs = m.get("squidlike_busy_poll_seconds_total")
        if us == 0:
            assert (waits, caught, secs) == (0, 0, 0), (waits, caught, secs)
            continue
        h.log("busy poll: %d bursts, %d waits polled, %d caught, %.6f s"
              % (rounds, waits, caught, secs))
        assert 0 < caught <= waits, (waits, caught)
        assert 0 <= secs <= waits * us / 1e6 + 1e-6, (waits, secs)


def test_auth_failure_counted():
    if not shutil.which("openssl"):
        raise h.Skip("openssl not installed (password hash)")
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=b"alice-pw",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    path = os.path.join(h.subdir("auth"), "passwd")
    with open(path, "w") as f:
        f.write("alice:%s\n" % r.stdout.decode().strip())
    conf = {"auth": {"file": path, "realm": "metrics"},
            "acls": [{"name": "authed", "type": "proxy_auth", "values": ["REQUIRED"]}],
            "http_access": ["allow authed", "deny all"]}
    o = RoutedOrigin({"/a": Response(200, b"a\n", headers=[("Cache-Control", "no-store")])})
    with Daemon(conf) as d:
        m0 = scrape(d)
        bad = "Basic " + base64.b64encode(b"alice:wrong").decode()
        r = synced(d, lambda: h.proxy_request(d, "GET", o.url("/a"),
                                              headers=[("Proxy-Authorization", bad)]))
        assert r.status == 407, r.brief()
        h.wait_until(lambda: "auth failure" in d.error_log(), 10, what="the auth failure line")
        m1 = scrape(d)
    got = m1.get("squidlike_auth_failures_total") - m0.get("squidlike_auth_failures_total")
    assert got == 1, "auth_failures_total moved by %r" % got


def test_only_the_proxy_host():
    # 127.0.0.2 is loopback: this host.
    with Daemon({"access.allow_sources": ["127.0.0.1/32"]}) as d:
        assert scrape(d, bind="127.0.0.2") is not None
    # A client in a network namespace (an address the proxy may serve) is
    # refused; the host reaching the proxy on its own interface address is not.
    with NetNs("198.51.100.8/30") as ns:
        allow = ["127.0.0.0/8", "%s/32" % ns.ns_addr]
        with Daemon({"access.allow_sources": allow}, listen_host=ns.host_addr) as d:
            url = "http://%s:%d/metrics" % (ns.host_addr, d.port)
            res, resp = h.fetch(url, netns=ns.name)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 403, "outsider got %s" % resp.brief()
            assert resp.header("X-Squidlike-Error") == "ERR_ACCESS_DENIED", resp.headers
            assert b"squidlike_" not in resp.body, resp.body[:200]
            a = d.wait_access("TCP_DENIED/403", "/metrics")
            assert a.client == ns.ns_addr, a.raw
            res, resp = h.fetch(url)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 200, "own address got %s" % resp.brief()
            assert resp.header("Content-Type") == CTYPE, resp.headers
            # The PAC is still for every allowed client.
            res, resp = h.fetch("http://%s:%d/proxy.pac" % (ns.host_addr, d.port), netns=ns.name)
            assert res.rc == 0 and resp is not None and resp.status == 200, res.err


if __name__ == "__main__":
    h.run(globals(), requires=("curl",))

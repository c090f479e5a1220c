#!/usr/bin/env python3
"""The status numbers /squidlike/status.json: valid JSON with the fields
and types the status page needs, counts and ratios that reflect a known
burst of traffic (a miss, a hit, a block), windows over the last 5 and 60
minutes taken from the sampler's ring (sampling every 100 ms here through
SQUIDLIKE_TEST_STATUS_INTERVAL_MS), the result of the last reload, and
only the proxy host itself may read it."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, NetNs, Response, RoutedOrigin  # noqa: E402

PATH = "/squidlike/status.json"
FRESH = ("Cache-Control", "max-age=3600")
NUM = (int, float)


def synced(d, fn):
    """fn() (one request), then wait for its access-log line."""
    n = len(d.access_log_lines())
    r = fn()
    d.access_log_lines(lambda ls: len(ls) > n, what="the access-log line")
    return r


def fetch(d, method="GET", bind=None):
    r = synced(d, lambda: h.proxy_request(d, method, PATH, bind=bind))
    assert r.status == 200, r.brief()
    assert r.header("Content-Type") == "application/json", r.header("Content-Type")
    assert r.header("Cache-Control") == "no-store", r.brief()
    if method == "HEAD":
        assert r.body == b"" and int(r.header("Content-Length")) > 0, r.brief()
        return None
    assert int(r.header("Content-Length")) == len(r.body), r.brief()
    return json.loads(r.body.decode("utf-8"))


def typed(doc, path, types, nullable=False):
    v = doc
    for k in path.split("."):
        assert isinstance(v, dict) and k in v, "no %s in %r" % (path, doc)
        v = v[k]
    if v is None and nullable:
        return v
    if types is bool:
        assert isinstance(v, bool), "%s: %r is not a boolean" % (path, v)
    else:
        assert isinstance(v, types) and not isinstance(v, bool), \
            "%s: %r is not %r" % (path, v, types)
    return v


def check_shape(s):
    assert typed(s, "version", str)
    assert typed(s, "pid", int) > 0
    assert typed(s, "uptime_seconds", NUM) >= 0
    assert typed(s, "config.generation", int) >= 1
    typed(s, "config.last_reload_time", int, nullable=True)
    typed(s, "config.last_reload_result", str, nullable=True)
    assert typed(s, "process.rss_bytes", int) > 0
    assert typed(s, "process.cpu_seconds", NUM) >= 0
    assert typed(s, "process.open_fds", int) > 2
    used = typed(s, "process.heap_used_bytes", int, nullable=True)  # null: not glibc
    free_ = typed(s, "process.heap_free_bytes", int, nullable=True)
    assert (used is None) == (free_ is None), (used, free_)
    assert used is None or (used > 0 and free_ >= 0), (used, free_)
    assert typed(s, "process.spare_buffer_bytes", int) >= 0
    assert typed(s, "connections.clients", int) >= 1
    for k in ("accepted", "tunnels"):
        typed(s, "connections." + k, int)
    # Accepting: not paused, no failure (test_limits.py runs out of
    # descriptors and sees these move).
    assert typed(s, "connections.accept_paused", bool) is False
    assert typed(s, "connections.accept_failing", dict, nullable=True) is None
    for k in ("process_fd_limit", "system_fd_limit", "memory", "other"):
        assert typed(s, "connections.accept_failures." + k, int) == 0
    for k in ("entries", "lookups", "hits", "negative_hits", "queries"):
        typed(s, "dns." + k, int)
    typed(s, "dns.hit_ratio", NUM, nullable=True)
    typed(s, "cache.enabled", bool)
    for k in ("bytes", "max_bytes", "objects", "evictions"):
        typed(s, "cache." + k, int)
    typed(s, "cache.fill_percent", NUM, nullable=True)
    for k in ("total", "hits", "misses", "errors", "blocked", "bytes_to_clients",
              "hit_bytes", "miss_bytes"):
        typed(s, "requests." + k, int)
    for w in ("since_start", "last_5m", "last_60m"):
        for k in ("seconds",):
            typed(s, "windows.%s.%s" % (w, k), NUM)
        for k in ("requests", "hits", "misses", "errors"):
            typed(s, "windows.%s.%s" % (w, k), int)
        for k in ("hit_ratio", "byte_hit_ratio", "requests_per_second", "error_rate"):
            typed(s, "windows.%s.%s" % (w, k), NUM, nullable=True)
    assert typed(s, "sample_interval_seconds", NUM) > 0
    assert 1 <= typed(s, "samples", int) <= 360


def test_counts_and_ratios():
    o = RoutedOrigin({"/c": Response(200, b"cacheable body\n", headers=[FRESH])})
    dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]}})
    conf = {"acls": [{"name": "bad", "type": "dstdomain", "values": [".blocked.test"]}],
            "http_access": ["deny bad", "allow all"]}
    with Daemon(conf, dns=dns, env={"SQUIDLIKE_TEST_STATUS_INTERVAL_MS": "100"}) as d:
        s0 = fetch(d)
        check_shape(s0)
        assert s0["requests"]["hits"] == 0 and s0["requests"]["misses"] == 0, s0
        for w in ("since_start", "last_5m", "last_60m"):
            assert s0["windows"][w]["hit_ratio"] is None, "no requests yet: %r" % s0["windows"]
            assert s0["windows"][w]["byte_hit_ratio"] is None, s0["windows"]
        assert s0["config"]["generation"] == 1 and s0["config"]["last_reload_result"] is None
        assert s0["sample_interval_seconds"] == 0.1, s0["sample_interval_seconds"]
        assert s0["pid"] == d.proc.pid, (s0["pid"], d.proc.pid)

        base = "http://origin.test:%d" % o.port
        r = synced(d, lambda: h.proxy_request(d, "GET", base + "/c"))
        assert r.status == 200, r.brief()
        r = synced(d, lambda: h.proxy_request(d, "GET", base + "/c"))
        assert r.status == 200 and o.count("/c") == 1, "second GET was not a hit"
        r = synced(d, lambda: h.proxy_request(d, "GET", "http://www.blocked.test/x"))
        assert r.status == 403, r.brief()
        fetch(d, "HEAD")
        s1 = fetch(d)
        check_shape(s1)
        lines = d.access_log_lines()
        hit_line = [a for a in map(h.parse_access_line, lines) if a.code == "TCP_HIT"]
        miss_line = [a for a in map(h.parse_access_line, lines) if a.code == "TCP_MISS"]
        assert len(hit_line) == 1 and len(miss_line) == 1, lines

        rq = s1["requests"]
        assert (rq["hits"], rq["misses"], rq["blocked"]) == (1, 1, 1), rq
        # s0, miss, hit, block, HEAD: five logged before this one
        assert rq["total"] == 5, rq
        assert rq["hit_bytes"] == hit_line[0].bytes, (rq, hit_line[0].raw)
        assert rq["miss_bytes"] == miss_line[0].bytes, (rq, miss_line[0].raw)
        ss = s1["windows"]["since_start"]
        assert ss["hit_ratio"] == rq["hits"] / (rq["hits"] + rq["misses"]) == 0.5, ss
        want = rq["hit_bytes"] / (rq["hit_bytes"] + rq["miss_bytes"])
        assert abs(ss["byte_hit_ratio"] - want) < 1e-6, (ss, want)
        assert ss["requests"] == 5 and ss["requests_per_second"] > 0, ss
        assert s1["cache"]["enabled"] is True and s1["cache"]["objects"] == 1, s1["cache"]
        assert s1["cache"]["bytes"] > 0 and 0 < s1["cache"]["fill_percent"] <= 100, s1["cache"]
        assert s1["dns"]["lookups"] >= 1 and s1["dns"]["entries"] >= 1, s1["dns"]
        assert s1["uptime_seconds"] >= s0["uptime_seconds"], (s0, s1)

        # The sampler runs (every 100 ms here) and the windows, shorter
        # than 5 minutes of history, reach back to the first sample (taken
        # at start): they count all the traffic.
        s2 = h.wait_until(lambda: (lambda s: s["samples"] >= 3 and s)(fetch(d)), 10,
                          what="the sampler to take samples")
        for w in ("last_5m", "last_60m"):
            win = s2["windows"][w]
            assert (win["hits"], win["misses"]) == (1, 1), (w, win)
        for w in ("last_5m", "last_60m"):
            win = s2["windows"][w]
            assert win["hit_ratio"] == 0.5, win
            assert 0 < win["seconds"] <= s2["uptime_seconds"] + 0.001, (win, s2["uptime_seconds"])
            assert win["requests_per_second"] > 0 and win["error_rate"] is not None, win

        # The history (what the page's graphs draw): a row per sample
        # interval, ending now, that adds up to the last hour's window.
        hist = s2["history"]
        assert hist["columns"] == ["seconds_ago", "seconds", "requests", "hits", "misses",
                                   "bytes_to_clients", "bytes_from_origins"], hist["columns"]
        rows = hist["rows"]
        assert len(rows) >= 2 and all(len(r) == 7 for r in rows), rows
        assert rows[-1][0] == 0, "the last row must end now: %r" % rows[-1]
        ago = [r[0] for r in rows]
        assert ago == sorted(ago, reverse=True), "rows not oldest first: %r" % ago
        win = s2["windows"]["last_60m"]
        sums = [sum(r[i] for r in rows) for i in range(2, 7)]
        want = [win["requests"], win["hits"], win["misses"], win["bytes_to_clients"],
                win["bytes_from_origins"]]
        assert sums == want, "history sums %r, last_60m %r" % (sums, want)
        assert abs(sum(r[1] for r in rows) - win["seconds"]) < 0.01 * len(rows), (rows, win)

        # A reload: the generation moves and the result is reported.
        assert d.reload() == "reloaded", d.last_reload_line
        s3 = fetch(d)
        assert s3["config"]["generation"] == 2, s3["config"]
        assert s3["config"]["last_reload_result"] == "ok", s3["config"]
        assert isinstance(s3["config"]["last_reload_time"], int), s3["config"]
        d.write_conf_text(d.conf_text() + '\nthis is = = "broken\\q";\n')
        assert d.reload() == "reload failed", d.last_reload_line
        s4 = fetch(d)
        assert s4["config"]["generation"] == 2, s4["config"]
        assert s4["config"]["last_reload_result"].startswith("failed: "), s4["config"]
        h.log("status.json after a failed reload:\n%s" % json.dumps(s4, indent=1))


def test_only_the_proxy_host():
    with NetNs("198.51.100.12/30") as ns:
        allow = ["127.0.0.0/8", "%s/32" % ns.ns_addr]
        with Daemon({"access.allow_sources": allow}, listen_host=ns.host_addr) as d:
            url = "http://%s:%d%s" % (ns.host_addr, d.port, PATH)
            res, resp = h.fetch(url, netns=ns.name)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 403, "outsider got %s" % resp.brief()
            assert b"uptime" not in resp.body, resp.body[:200]
            res, resp = h.fetch(url)
            assert res.rc == 0 and resp is not None, res.err
            assert resp.status == 200, "own address got %s" % resp.brief()
            json.loads(resp.body.decode("utf-8"))


if __name__ == "__main__":
    h.run(globals(), requires=("curl",))

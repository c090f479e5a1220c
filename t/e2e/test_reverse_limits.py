#!/usr/bin/env python3
"""Reverse mode's rate limits (issue 12): token buckets that stop a client
before it reaches the backends. A burst beyond the bucket gets 429 with
Retry-After and a body naming the limit, the backend sees exactly the
allowed requests, and a token comes back after the wait it announced; a
cache hit costs a token too; buckets by the client's address (127.0.0.2
apart from 127.0.0.3 at /32, together at /24; IPv6 addresses of one /64
together at /64, apart at /128, in a network namespace), by a field's
value (a request without it is not limited), by Host (however spelt),
by client+route, a vhost's limit and a route's both applying;
RateLimit-Policy / RateLimit fields counting down (none when the option
is off); buckets kept across a reload, a new table size or a renamed
limit starting afresh; /metrics and status.json counting every 429; the
config errors -k parse names with file:line; a table of 64 buckets
under 2,000 keys staying 64 buckets (evictions counted, every request
answered); the client behind a trusted proxy keyed by X-Forwarded-For;
and the concurrency limit per client address (the maxconn ACL in
reverse.http_access).

Timing: the exact counts use limits whose tokens come back once a minute
or slower, so that a slow machine cannot let a refill in; only the
refill test uses a short period, and asserts bounds that hold however
late the requests are."""

import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NetNs, Response, ScriptedOrigin  # noqa: E402
from test_metrics import Metrics, promtool_check  # noqa: E402
from test_reverse import rev_conf  # noqa: E402

RATELIMIT_FIELDS = ("RateLimit", "RateLimit-Policy")


def limit(name, key="client", rate=1, per="60s", burst=None, **kw):
    """One reverse.rate_limits entry (by default: 1 per minute)."""
    g = {"name": name, "key": key, "rate": rate, "per": per}
    if burst is not None:
        g["burst"] = burst
    g.update(kw)
    return g


def route(prefix, *limits):
    r = {"prefix": prefix, "pool": "app"}
    if limits:
        r["rate_limits"] = list(limits)
    return r


def vhost(name, routes, *limits):
    v = {"names": name if isinstance(name, list) else [name], "routes": routes}
    if limits:
        v["rate_limits"] = list(limits)
    return v


def backend():
    """A backend that names the path it got; nothing cacheable."""
    return ScriptedOrigin(lambda req: Response(200, b"ok " + req.target.encode(), headers=[
        ("Content-Type", "text/plain"), ("Cache-Control", "no-store")]), name="backend")


def site(port, o, vhosts, limits, **extra):
    return rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])}, vhosts,
                    rate_limits=limits, **extra)


def req(port, host, path, headers=(), bind=None, conn=None):
    """One request to the reverse listener: on conn (keep-alive), else on a
    fresh connection from bind (a source address)."""
    hdrs = [("Host", host)] + list(headers)
    if conn is not None:
        conn.send(h.build_request("GET", path, hdrs))
        return conn.recv_response()
    with h.RawConn(port, bind=bind) as c:
        c.send(h.build_request("GET", path, hdrs + [("Connection", "close")]))
        return c.recv_response()


def expect(port, host, path, want, **kw):
    """len(want) requests, one after the other: their statuses are want."""
    got = [req(port, host, path, **kw).status for _ in want]
    assert got == want, "%s %s %r: %r, expected %r" % (host, path, kw, got, want)


def refused(r, name):
    """r is the 429 of limit `name`: Retry-After whole seconds >= 1, a body
    naming the limit. Returns Retry-After."""
    assert r.status == 429, "expected 429 from %s, got %s" % (name, r.brief())
    ra = r.header("Retry-After")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, r.brief()
    assert ("(limit %s)" % name).encode() in r.body, r.brief()
    assert r.header("Cache-Control") == "no-store", r.brief()
    return int(ra)


def targets(o, prefix=""):
    """The paths the backend got (starting with prefix), in order."""
    return [q.target for q in list(o.requests) if q.target.startswith(prefix)]


def denied_lines(d, n):
    """Wait for n TCP_DENIED/429 lines in the access log (and no more)."""
    lines = d.access_log_lines(lambda ls: sum("TCP_DENIED/429" in ln for ln in ls) >= n,
                               what="%d TCP_DENIED/429 lines" % n)
    got = [ln for ln in lines if "TCP_DENIED/429" in ln]
    assert len(got) == n, got
    return got


def manager_page(d, path):
    """A manager page, through the forward listener (reverse ones do not
    serve them)."""
    r = h.proxy_request(d, "GET", path)
    assert r.status == 200, r.brief()
    return r.body.decode("utf-8")


# --- the bucket -----------------------------------------------------------------

def test_burst_refused_then_allowed_after_retry_after():
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/slow/", "slow"),
                                                route("/fast/", "fast")])],
                [limit("slow", rate=1, per="60s", burst=3),
                 # 2 a second, no burst: a token every 0.5 s after the last
                 limit("fast", rate=2, per="1s", burst=1)])
    with Daemon(conf) as d:
        # A quick run of 10: the first 3 pass, no token can come back
        # within a minute, so the 7 others are refused whatever the pace.
        t0 = time.monotonic()
        with h.RawConn(port) as c:
            rs = [req(port, "app.example", "/slow/%d" % i, conn=c) for i in range(10)]
        elapsed = time.monotonic() - t0
        assert [r.status for r in rs] == [200] * 3 + [429] * 7, [r.brief() for r in rs]
        assert [r.body for r in rs[:3]] == [b"ok /slow/%d" % i for i in range(3)]
        assert targets(o) == ["/slow/0", "/slow/1", "/slow/2"], targets(o)
        ras = [refused(r, "slow") for r in rs[3:]]
        # The next token is 60 s after the first request: Retry-After is
        # what is left of that minute, never more, never growing.
        assert all(int(60 - elapsed) <= ra <= 60 for ra in ras), (ras, elapsed)
        assert ras == sorted(ras, reverse=True), ras
        assert req(port, "app.example", "/slow/again").status == 429
        denied_lines(d, 8)

        # The refill: requests until the first refusal (a slow machine may
        # see a token come back in between: then it goes on), remembering
        # when the last allowed one was sent.
        with h.RawConn(port) as c:
            for i in range(50):
                t_ok = time.monotonic()
                r = req(port, "app.example", "/fast/a%d" % i, conn=c)
                if r.status != 200:
                    break
            assert refused(r, "fast") == 1 and i >= 1, (i, r.brief())
            box = {}

            def allowed():
                box["r"] = r2 = req(port, "app.example", "/fast/b", conn=c)
                if r2.status == 429:
                    assert refused(r2, "fast") == 1, r2.brief()
                return r2.status == 200
            h.wait_until(allowed, 20, interval=0.05, what="a token back on limit fast")
            t_again = time.monotonic()
        assert box["r"].body == b"ok /fast/b"
        # A token comes 0.5 s after the last one taken, never sooner.
        assert t_again - t_ok >= 0.45, t_again - t_ok
        assert targets(o, "/fast/") == ["/fast/a%d" % k for k in range(i)] + ["/fast/b"]


def test_cache_hit_costs_a_token_head_refused_too():
    """The limit comes before the cache: a hit takes a token too; a HEAD
    is refused as a GET is, and the connection stays open."""
    o = ScriptedOrigin(Response(200, b"cached", headers=[("Cache-Control", "max-age=600")]))
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "c")])], [limit("c", burst=2)])
    with Daemon(conf):
        with h.RawConn(port) as c:
            rs = [req(port, "app.example", "/same", conn=c) for _ in range(2)]
            assert [r.status for r in rs] == [200, 200] and rs[1].body == b"cached"
            assert h.cache_status_params(rs[1]).get("hit") is True, rs[1].headers
            refused(req(port, "app.example", "/same", conn=c), "c")
            c.send(h.build_request("HEAD", "/same", [("Host", "app.example")]))
            r = c.recv_response("HEAD")
            assert r.status == 429 and r.header("Retry-After") and r.body == b"", r.brief()
            # the connection stays: a request without a body was refused whole
            refused(req(port, "app.example", "/other", conn=c), "c")
        assert len(o.requests) == 1


def test_clients_apart_by_ipv4_prefix():
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/p32/", "p32"), route("/p24/", "p24")])],
                [limit("p32", burst=2, ipv4_prefix=32), limit("p24", burst=2, ipv4_prefix=24)])
    with Daemon(conf) as d:
        a = dict(bind="127.0.0.2")
        b = dict(bind="127.0.0.3")
        # /32: each address its own bucket
        expect(port, "app.example", "/p32/a", [200, 200, 429], **a)
        expect(port, "app.example", "/p32/b", [200, 200, 429], **b)
        expect(port, "app.example", "/p32/c", [200])      # 127.0.0.1
        # /24: one bucket for 127.0.0.0/24
        expect(port, "app.example", "/p24/a", [200], **a)
        expect(port, "app.example", "/p24/b", [200], **b)
        for kw in (a, b, {}):
            refused(req(port, "app.example", "/p24/x", **kw), "p24")
        assert targets(o) == ["/p32/a"] * 2 + ["/p32/b"] * 2 + ["/p32/c", "/p24/a", "/p24/b"]
        clients = sorted(h.parse_access_line(ln).client for ln in denied_lines(d, 5))
        assert clients == ["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"], \
            clients


# Clients in the namespace: one connection per path from address src,
# printing each status.
NS_CLIENT = r"""
import socket, sys
src, dst, port, host = sys.argv[1:5]
for path in sys.argv[5:]:
    s = socket.create_connection((dst, int(port)), timeout=20, source_address=(src, 0))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (path, host)).encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    print(data.split(b" ", 2)[1].decode())
"""

V6_NET = "2001:db8:5e44:"             # documentation addresses, a /48 on the link
V6_DAEMON = V6_NET + ":1"
V6_A, V6_B = V6_NET + ":a", V6_NET + ":b"   # one /64
V6_C = V6_NET + "1::c"                      # another /64


def ipv6_link():
    """A namespace joined by a veth pair, with the daemon's address on our
    side and three client addresses on its side (Skip when not root)."""
    ns = NetNs("198.51.100.44/30")
    steps = [["ip", "-6", "addr", "add", V6_DAEMON + "/48", "dev", ns.veth_host, "nodad"]]
    steps += [["ip", "netns", "exec", ns.name, "ip", "-6", "addr", "add", a + "/48",
               "dev", ns.veth_ns, "nodad"] for a in (V6_A, V6_B, V6_C)]
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, timeout=20, env=h.child_env())
        if r.returncode != 0:
            ns.close()
            raise h.Skip("no IPv6 on a veth pair: `%s`: %s"
                         % (" ".join(argv), r.stderr.decode(errors="replace").strip()))
    return ns


def test_ipv6_clients_grouped_by_prefix():
    ns = ipv6_link()
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/v64/", "v64"), route("/v128/", "v128")])],
                [limit("v64", burst=2), limit("v128", burst=2, ipv6_prefix=128)])
    conf["reverse"]["listen"] = ["[%s]:%d" % (V6_DAEMON, port)]

    def run(src, paths, want):
        r = ns.exec([sys.executable, "-c", NS_CLIENT, src, V6_DAEMON, str(port),
                     "app.example"] + paths, timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        got = [int(s) for s in r.stdout.decode().split()]
        assert got == want, "from %s %r: %r, expected %r" % (src, paths, got, want)
    with Daemon(conf) as d:
        # /128: two addresses, two buckets
        run(V6_A, ["/v128/a", "/v128/a", "/v128/a"], [200, 200, 429])
        run(V6_B, ["/v128/b", "/v128/b", "/v128/b"], [200, 200, 429])
        # /64 (the default): one bucket for the two, another for a
        # neighbour /64
        run(V6_A, ["/v64/a"], [200])
        run(V6_B, ["/v64/b", "/v64/b"], [200, 429])
        run(V6_A, ["/v64/a"], [429])
        run(V6_C, ["/v64/c", "/v64/c", "/v64/c"], [200, 200, 429])
        assert targets(o) == ["/v128/a"] * 2 + ["/v128/b"] * 2 + ["/v64/a", "/v64/b"] + \
            ["/v64/c"] * 2, targets(o)
        clients = sorted(h.parse_access_line(ln).client for ln in denied_lines(d, 5))
        assert clients == sorted([V6_A, V6_B, V6_B, V6_A, V6_C]), clients


# --- what a bucket is keyed by ----------------------------------------------------

def test_keys_header_client_route_and_both_levels():
    o = backend()
    port = h.free_port()
    conf = site(port, o, [
        vhost("keys.example", [route("/", "apikey")]),
        vhost("cr.example", [route("/r1/"), route("/r2/")], "cr"),
        vhost("both.example", [route("/loose/", "loose"), route("/tight/", "tight")], "site"),
        vhost(["host.example", "www.host.example"], [route("/", "perhost")]),
    ], [limit("apikey", key="header X-Api-Key", burst=2),
        limit("perhost", key="host", burst=2),
        limit("cr", key="client+route", burst=2),
        limit("site", burst=2), limit("loose", burst=5), limit("tight", burst=1)])
    with Daemon(conf):
        def key(k):
            return dict(headers=[("X-Api-Key", k)])
        # a field's value: one bucket per key, whoever sends it
        expect(port, "keys.example", "/k/A", [200, 200], **key("A"))
        refused(req(port, "keys.example", "/k/A", **key("A")), "apikey")
        refused(req(port, "keys.example", "/k/A", bind="127.0.0.2", **key("A")), "apikey")
        expect(port, "keys.example", "/k/B", [200, 200], **key("B"))
        # without the field (or empty) the limit does not apply
        expect(port, "keys.example", "/k/none", [200] * 6)
        expect(port, "keys.example", "/k/empty", [200] * 3, **key(""))

        # client+route: a bucket per client on each route of the vhost
        expect(port, "cr.example", "/r1/x", [200, 200, 429])
        expect(port, "cr.example", "/r2/x", [200, 200, 429])
        expect(port, "cr.example", "/r1/y", [200, 200], bind="127.0.0.2")

        # the vhost's limit and the route's both apply: the vhost's refuses
        # first on a loose route, the route's on a tight one (another
        # client: fresh buckets)
        expect(port, "both.example", "/loose/x", [200, 200])
        refused(req(port, "both.example", "/loose/x"), "site")
        expect(port, "both.example", "/tight/x", [200], bind="127.0.0.2")
        refused(req(port, "both.example", "/tight/x", bind="127.0.0.2"), "tight")
        refused(req(port, "both.example", "/tight/x", bind="127.0.0.2"), "tight")
        # all or nothing (nginx's limit_req): the two refusals took no token
        # of the vhost's limit, which has one left for this client
        expect(port, "both.example", "/loose/y", [200], bind="127.0.0.2")
        refused(req(port, "both.example", "/loose/y", bind="127.0.0.2"), "site")

        # the Host: one bucket per name however it is spelt (case, port,
        # a trailing dot: all the same site to the router), whoever asks
        expect(port, "host.example", "/h/x", [200, 200])
        for spelt in ("HOST.Example", "host.example:80", "host.example.", "host.example:8080",
                      "Host.Example.:1"):
            r = req(port, spelt, "/h/" + spelt, bind="127.0.0.3")
            assert r.status == 429, "Host %r: %s" % (spelt, r.brief())
            refused(r, "perhost")
        expect(port, "www.host.example", "/h/www", [200])

        want = ["/k/A"] * 2 + ["/k/B"] * 2 + ["/k/none"] * 6 + ["/k/empty"] * 3 + \
            ["/r1/x"] * 2 + ["/r2/x"] * 2 + ["/r1/y"] * 2 + ["/loose/x"] * 2 + ["/tight/x"] + ["/loose/y"] + \
            ["/h/x"] * 2 + ["/h/www"]
        assert targets(o) == want, targets(o)


def ratelimit_fields(r):
    return {k: r.header(k) for k in RATELIMIT_FIELDS if r.header(k) is not None}


def test_ratelimit_fields_and_without_them():
    o = backend()
    port = h.free_port()
    # hq: a token every 6 s, 3 at most; sitewide: the vhost's, looser (10)
    conf = site(port, o, [vhost("app.example", [route("/hq/", "hq"), route("/")], "sitewide")],
                [limit("hq", rate=10, per="60s", burst=3), limit("sitewide", rate=10, burst=10)],
                rate_limit_headers=True)
    with Daemon(conf) as d:
        r = req(port, "app.example", "/open")
        assert r.status == 200
        assert r.header("RateLimit-Policy") == '"sitewide";q=10;w=60', r.headers
        assert r.header("RateLimit") == '"sitewide";r=9;t=6', r.headers
        # The fields speak of the tightest limit met: hq from here on.
        t0 = time.monotonic()
        with h.RawConn(port) as c:
            rs = [req(port, "app.example", "/hq/%d" % i, conn=c) for i in range(4)]
        elapsed = time.monotonic() - t0
        assert [x.status for x in rs] == [200, 200, 200, 429], [x.brief() for x in rs]
        left, until = [], []
        for x in rs:
            assert x.header("RateLimit-Policy") == '"hq";q=10;w=60', x.headers
            v = x.header("RateLimit") or ""
            parts = dict(p.split("=") for p in v.split(";")[1:])
            assert v.startswith('"hq";') and set(parts) == {"r", "t"}, x.headers
            left.append(int(parts["r"]))
            until.append(int(parts["t"]))
        assert left == [2, 1, 0, 0], left
        # t: seconds until the bucket is full (k tokens taken: 6k s less
        # the time gone); on the 429, until a token is back: Retry-After
        for k in range(3):
            assert 6 * (k + 1) - elapsed <= until[k] <= 6 * (k + 1), (until, elapsed)
        assert until[3] == refused(rs[3], "hq") and until[3] <= 6, (until, rs[3].headers)

        # Off (a reload; the buckets stay): no fields, on a 200 or a 429
        d.write_conf({"reverse.rate_limit_headers": False})
        assert d.reload() == "reloaded", d.last_reload_line
        r = req(port, "app.example", "/open")
        assert r.status == 200 and not ratelimit_fields(r), r.headers
        r = req(port, "app.example", "/hq/late")
        refused(r, "hq")
        assert not ratelimit_fields(r), r.headers
        assert targets(o) == ["/open", "/hq/0", "/hq/1", "/hq/2", "/open"], targets(o)


def test_reload_keeps_buckets_new_table_or_name_does_not():
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "keep")])], [limit("keep", burst=2)],
                rate_limit_table=1024)
    with Daemon(conf, error_log_file=True) as d:
        expect(port, "app.example", "/a", [200, 200, 429])
        # the same config again: still refused
        assert d.reload() == "reloaded", d.last_reload_line
        refused(req(port, "app.example", "/b"), "keep")
        # a new table size: a new table, every bucket full
        d.write_conf({"reverse.rate_limit_table": 2048})
        assert d.reload() == "reloaded", d.last_reload_line
        expect(port, "app.example", "/c", [200, 200, 429])
        assert "rate limits: a table of 2048 buckets, the old one's counts forgotten" \
            in d.error_log()
        # a limit renamed is another limit, with buckets of its own
        lim = limit("keep2", burst=2)
        d.write_conf({"reverse.rate_limits": [lim],
                      "reverse.vhosts": [vhost("app.example", [route("/", "keep2")])],
                      "reverse.rate_limit_table": 2048})
        assert d.reload() == "reloaded", d.last_reload_line
        expect(port, "app.example", "/d", [200, 200, 429])
        assert targets(o) == ["/a", "/a", "/c", "/c", "/d", "/d"], targets(o)
        # the refusals counted across the reloads, per name
        m = Metrics(manager_page(d, "/metrics"))
        assert m.get("squidlike_rate_limited_total", limit="keep") == 3
        assert m.get("squidlike_rate_limited_total", limit="keep2") == 1


# --- workers ----------------------------------------------------------------------

def worker_requests(d, n=2, gen=None):
    """Requests served so far per worker index, once n workers (of
    generation gen) run and no other is left."""
    box = {}

    def up():
        rows = json.loads(manager_page(d, "/squidlike/status.json"))["workers"]["list"]
        box["r"] = {w["index"]: w["requests"] for w in rows}
        return len(rows) == n and all(w["state"] == "running" and
                                      (gen is None or w["generation"] == gen) for w in rows)
    h.wait_until(up, 30, what="%d workers of generation %s running" % (n, gen))
    return box["r"]


def master_reload(d, gen):
    """SIGHUP to the master; wait for generation gen to take over."""
    d.signal(signal.SIGHUP)
    h.wait_until(lambda: "reload: generation %d " % gen in d.error_log(), 30,
                 what="reload to generation %d" % gen)
    worker_requests(d, gen=gen)


def test_workers_share_the_buckets():
    """With 2 workers the buckets are one table in shared memory: a client
    gets its 5 requests a minute, not 5 per worker, however its fresh
    connections spread over the workers; the 429s are counted once,
    whichever worker renders /metrics; a reload (a new generation of
    workers) keeps the buckets when the table keeps its size, and a new
    size starts a new table."""
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "w")])],
                [limit("w", rate=5, per="60s", burst=5)], rate_limit_table=1024)
    conf["workers"] = 2
    with Daemon(conf, error_log_file=True) as d:
        before = worker_requests(d)
        got = [req(port, "app.example", "/w/%d" % i).status for i in range(40)]
        after = worker_requests(d)
        served = {i: after[i] - before[i] for i in after}
        # 40 connections over 2 SO_REUSEPORT sockets; the counts may take
        # one status.json request too: 2 or more is one of ours.
        assert all(n >= 2 for n in served.values()), served
        assert got == [200] * 5 + [429] * 35, (got, served)
        assert targets(o) == ["/w/%d" % i for i in range(5)], targets(o)
        for _ in range(4):      # /metrics from whichever worker takes it
            m = Metrics(manager_page(d, "/metrics"))
            assert m.get("squidlike_rate_limited_total", limit="w") == 35
        # a new generation, the same table: still refused, on both workers
        master_reload(d, 2)
        got = [req(port, "app.example", "/x/%d" % i).status for i in range(10)]
        assert got == [429] * 10, got
        # a new size: a new table, the bucket full again
        d.write_conf({"reverse.rate_limit_table": 2048})
        master_reload(d, 3)
        got = [req(port, "app.example", "/y/%d" % i).status for i in range(10)]
        assert got == [200] * 5 + [429] * 5, got
        m = Metrics(manager_page(d, "/metrics"))
        assert m.get("squidlike_rate_limited_total", limit="w") == 50


# --- for the operators ------------------------------------------------------------

def test_metrics_and_status_count_the_429s():
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/m1/", "m1"), route("/m2/", "m2"),
                                                route("/")])],
                [limit("m1", burst=1), limit("m2", burst=2)], rate_limit_table=1000)
    with Daemon(conf) as d:
        m = Metrics(manager_page(d, "/metrics"))
        assert m.types.get("squidlike_rate_limited_total") == "counter"
        assert not [k for k in m.samples if k[0] == "squidlike_rate_limited_total"]
        expect(port, "app.example", "/m1/", [200] + [429] * 3)
        expect(port, "app.example", "/m2/", [200, 200, 429, 429])
        expect(port, "app.example", "/free", [200] * 3)
        denied_lines(d, 5)
        text = manager_page(d, "/metrics")
        promtool_check(text)
        m = Metrics(text)
        for fam, typ in (("squidlike_rate_limited_total", "counter"),
                         ("squidlike_rate_limit_buckets", "gauge"),
                         ("squidlike_rate_limit_evictions_total", "counter")):
            assert m.types.get(fam) == typ, (fam, m.types.get(fam))
        rows = {dict(lab)["limit"]: v for (n, lab), v in m.samples.items()
                if n == "squidlike_rate_limited_total"}
        assert rows == {"m1": 3, "m2": 2}, rows
        assert m.get("squidlike_rate_limit_buckets") == 2      # one client, two limits
        assert m.get("squidlike_rate_limit_evictions_total") == 0
        doc = json.loads(manager_page(d, "/squidlike/status.json"))
        assert doc["rate_limits"] == {"buckets": 2, "capacity": 1024, "evictions": 0,
                                      "refused": {"m1": 3, "m2": 2}}, doc["rate_limits"]


CONF_OK = """reverse: {
  listen = [ "127.0.0.1:1" ];
  pools = ( { name = "app"; backends = [ "127.0.0.1:8080" ]; } );
  rate_limits = (
    { name = "per-client"; key = "client"; rate = 10; per = "1s"; burst = 20; },
    { name = "per-key"; key = "header X-Api-Key"; rate = 100; per = "1h"; }
  );
  vhosts = ( { names = [ "a.example" ]; rate_limits = [ "per-client" ];
    routes = ( { prefix = "/"; pool = "app"; rate_limits = [ "per-key" ]; } ); } );
};
"""


def test_config_errors_named():
    d = h.tmpdir()
    bad = [  # (replace, with, line, what the message says)
        ('[ "per-key" ]', '[ "nope" ]', 9, "unknown rate limit 'nope'"),
        ('[ "per-client" ]', '[ "gone" ]', 8, "unknown rate limit 'gone'"),
        ('key = "client"', 'key = "cookie"', 5, "'key' must be"),
        ('key = "client"', 'key = "client+client"', 5, "'key' must be"),
        ('key = "client"', 'key = "header "', 5, "'key' must be"),
        ('rate = 10;', 'rate = 0;', 5, "'rate' must be an integer, 1 to 1000000"),
        ('name = "per-key"', 'name = "per-client"', 6, "a second rate limit named per-client"),
        ('per = "1s"', 'per = "500ms"', 5, "'per' must be 1s to 1d"),
        ('burst = 20;', 'burst = 20; colour = 1;', 5, "colour"),
        ('"127.0.0.1:1" ];', '"127.0.0.1:1" ]; rate_limit_table = 10;', 2, "rate_limit_table"),
        # a bucket that would take 2,700 years to fill (its size in ns
        # past 64 bits: every request refused, for 185 years)
        ('rate = 10; per = "1s"; burst = 20;', 'rate = 1; per = "1d"; burst = 1000000;', 5,
         "rate limit per-client: a bucket must fill within 100 years"),
    ]
    for i, (old, new, line, what) in enumerate(bad):
        assert old in CONF_OK, old
        path = os.path.join(d, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(CONF_OK.replace(old, new, 1))
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (new, err)
        assert "%s:%d:" % (path, line) in err and what in err, (new, line, what, err)
    # as it is, and with a bucket of 100 years (the most)
    for i, text in enumerate((CONF_OK, CONF_OK.replace(
            'rate = 10; per = "1s"; burst = 20;', 'rate = 1; per = "1d"; burst = 36500;'))):
        path = os.path.join(d, "good%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr + p.stdout


def test_table_stays_bounded_under_many_keys():
    o = ScriptedOrigin(Response(200, b"ok", headers=[("Cache-Control", "no-store")]))
    port = h.free_port()
    nkeys, batch = 2000, 50
    # a token a day: no bucket is ever full again during the test, so
    # every new key takes a free slot or evicts one
    conf = site(port, o, [vhost("app.example", [route("/", "many")])],
                [limit("many", key="header X-Api-Key", rate=1, per="1d", burst=1)],
                rate_limit_table=64)
    with Daemon(conf) as d:
        got = []
        with h.RawConn(port) as c:
            # each key twice in a row, pipelined in batches: the first is
            # allowed (a new bucket is full), the second refused
            for start in range(0, nkeys, batch):
                keys = range(start, min(nkeys, start + batch))
                c.send(b"".join(h.build_request("GET", "/k", [
                    ("Host", "app.example"), ("X-Api-Key", "key-%05d" % k)])
                    for k in keys for _ in range(2)))
                got += [c.recv_response().status for _ in range(2 * len(keys))]
        assert len(got) == 2 * nkeys
        bad = [(i // 2, s) for i, s in enumerate(got) if s != (200, 429)[i % 2]]
        assert not bad, "key, status: %r" % bad[:20]
        assert d.alive()
        assert len(o.requests) == nkeys
        m = Metrics(manager_page(d, "/metrics"))
        used = m.get("squidlike_rate_limit_buckets")
        evicted = m.get("squidlike_rate_limit_evictions_total")
        h.log("table of 64: %d buckets, %d evictions" % (used, evicted))
        assert 0 < used <= 64 and evicted > 0, (used, evicted)
        assert used + evicted == nkeys, (used, evicted)
        assert m.get("squidlike_rate_limited_total", limit="many") == nkeys
        # still serving
        assert req(port, "app.example", "/after", headers=[("X-Api-Key", "fresh")]).status == 200




def test_client_behind_trusted_proxy_keyed_by_forwarded_for():
    """Behind a trusted proxy (reverse.trusted_proxies) a client key is the
    last X-Forwarded-For address that is not a trusted proxy, read from the
    right; what a client writes itself to the left is never read, and an
    untrusted peer's X-Forwarded-For is ignored."""
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "one")])], [limit("one", burst=1)],
                trusted_proxies=["127.0.0.1/32"])

    def st(xff, bind="127.0.0.1", lines=None):
        hdrs = [("X-Forwarded-For", v) for v in (lines or [xff])] if (xff or lines) else []
        return req(port, "app.example", "/x", headers=hdrs, bind=bind).status

    with Daemon(conf):
        assert st("203.0.113.5") == 200
        assert st("203.0.113.5") == 429
        assert st("203.0.113.6") == 200             # another client, its own bucket
        # a client's own entry on the left is not read: the proxy's last one is
        assert st("198.51.100.9, 203.0.113.5") == 429
        # trusted hops on the right are skipped (and IPv6 is read)
        assert st("203.0.113.7, 127.0.0.1") == 200
        assert st("2001:db8::7, 127.0.0.1") == 200
        assert st("[2001:db8::7]") == 429
        # several field lines: the last one's last entry
        assert st(None, lines=["203.0.113.10", "203.0.113.11"]) == 200
        assert st("203.0.113.11") == 429
        # not an address: the last trusted hop (the peer) is the key
        assert st("unknown") == 200
        assert st("garbage, 127.0.0.1") == 429
        assert st(None) == 429                      # no field: the peer itself
        # an untrusted peer: its own address, whatever it writes
        assert st("203.0.113.8", bind="127.0.0.3") == 200
        assert st("203.0.113.9", bind="127.0.0.3") == 429
    assert len(o.requests) == 7, [q.target for q in o.requests]

def test_concurrent_connections_per_client():
    """Reverse mode's per-client concurrency limit is the maxconn ACL in
    reverse.http_access: a client address holding 2 connections gets 403
    on a third (the backend never sees it), another address is not
    affected, and a new connection is allowed once one closes."""
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "none")])], [limit("none", rate=1000)],
                http_access=["deny toomany", "allow all"])
    conf["acls"] = [{"name": "toomany", "type": "maxconn", "values": ["2"]}]
    with Daemon(conf):
        held = []
        for i in range(2):
            c = h.RawConn(port, bind="127.0.0.3")
            held.append(c)
            r = req(port, "app.example", "/held%d" % i, conn=c)
            assert r.status == 200, r.brief()
        r = req(port, "app.example", "/third", bind="127.0.0.3")
        assert r.status == 403, r.brief()
        assert req(port, "app.example", "/other-ip", bind="127.0.0.4").status == 200
        held[0].close()
        h.wait_until(lambda: req(port, "app.example", "/later", bind="127.0.0.3").status == 200,
                     10, interval=0.05, what="a connection allowed after a close")
        held[1].close()
    assert "/third" not in targets(o), targets(o)
    assert "/held0" in targets(o) and "/other-ip" in targets(o)


def test_workers_count_a_clients_connections_together():
    """With 2 workers, maxconn counts a client's connections on every
    worker: with one held on each worker (placed by looking at which one
    accepted it), a third is refused wherever it lands - counted per
    worker, each would have had room for it."""
    o = backend()
    port = h.free_port()
    conf = site(port, o, [vhost("app.example", [route("/", "none")])], [limit("none", rate=1000)],
                http_access=["deny toomany", "allow all"])
    conf["acls"] = [{"name": "toomany", "type": "maxconn", "values": ["2"]}]
    conf["workers"] = 2
    with Daemon(conf) as d:
        held = {}
        for i in range(60):
            if len(held) == 2:
                break
            c = h.RawConn(port, bind="127.0.0.3")
            r = req(port, "app.example", "/held%d" % i, conn=c)
            assert r.status == 200, r.brief()
            box, local = [], c.sock.getsockname()[1]
            h.wait_until(lambda: box.append(h.worker_holding(d.proc.pid, port, local)) or box[-1], 10,
                         what="the worker holding the connection")
            if box[-1] in held:
                c.close()       # both on one worker: try again
                h.wait_until(lambda: h.worker_holding(d.proc.pid, port, local) is None, 10,
                             what="the worker to see the close")
            else:
                held[box[-1]] = c
        assert len(held) == 2, "could not place a connection on each worker"
        for i in range(6):      # fresh connections land on either worker
            r = req(port, "app.example", "/third%d" % i, bind="127.0.0.3")
            assert r.status == 403, r.brief()
        assert req(port, "app.example", "/other-ip", bind="127.0.0.4").status == 200
        c = held.popitem()[1]
        c.close()
        h.wait_until(lambda: req(port, "app.example", "/later", bind="127.0.0.3").status == 200,
                     10, interval=0.05, what="a connection allowed after a close")
        for c in held.values():
            c.close()
    assert not [t for t in targets(o) if t.startswith("/third")], targets(o)


if __name__ == "__main__":
    h.run(globals())

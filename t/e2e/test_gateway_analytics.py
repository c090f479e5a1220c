#!/usr/bin/env python3
"""The API gateway's analytics (issue 15, gateway-spec.md): after a known
mix of requests - 2xx, a backend's 500, 401s (bad and missing
credentials), 429s of a consumer-keyed limit - over 2 routes and 2
consumers plus anonymous callers, status.json's "apis" rows and /metrics'
squidlike_api_* families (promtool-clean) hold exactly what was sent per
route and per consumer: requests by class, limited, refused by auth, bytes
in (request bodies) and out (what the client got, as the access log counts
it), one latency observation per request. The JSON access log names each
request's consumer (or null), route and request id. analytics_top = 1
keeps one consumer label and sums the rest as "other"; with 2 workers the
numbers are the sums of both."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from test_gateway_auth import (HOST, call, conns_on_each_worker, consumer,  # noqa: E402
                               gw_site, route)
from test_metrics import Metrics, promtool_check  # noqa: E402
from test_reverse_ops import page  # noqa: E402

PENDING = {}

CLASSES = ("2xx", "3xx", "4xx", "5xx")


def pending(piece):
    if piece in PENDING and not os.environ.get("GW_ALL"):
        raise h.Skip("gateway piece not in main yet: %s (%s)" % (piece, PENDING[piece]))


def key(who):
    return [("X-Api-Key", "%s-key-0123456789" % who)]


def keyed(name, **kw):
    return consumer(name, api_keys=["%s-key-0123456789" % name], **kw)


def backend():
    """/…/boom: 500; the rest 200 with a body of a size of its own."""
    def handler(req):
        if req.target.endswith("/boom"):
            return Response(500, b"backend broke\n", headers=[("Cache-Control", "no-store")])
        return Response(200, b"x" * (100 + len(req.target)), headers=[
            ("Cache-Control", "no-store"), ("Content-Type", "text/plain")])
    return ScriptedOrigin(handler, name="backend")


def site(port, o, consumers=("alice", "bob"), **gw):
    g = {"consumers": [keyed(c) for c in consumers]}
    g.update(gw)
    routes = [route("/orders/", "orders", ["api_key"], anonymous=True,
                    rate_limits=["orders-rl"]),
              route("/users/", "users", ["api_key"], rate_limits=["users-rl"])]
    return gw_site(port, o, routes, g, top={"access_log_format": "json"}, rate_limits=[
        {"name": "orders-rl", "key": "consumer", "rate": 3, "per": "3600s", "burst": 3},
        {"name": "users-rl", "key": "consumer", "rate": 2, "per": "3600s", "burst": 2}])


# (path, who (None: anonymous, "bad": a wrong key), body, status, route, consumer)
MIX = (
    [("/orders/a%d" % i, "alice", b"o" * 50, 200, "orders", "alice") for i in range(3)] +
    [("/orders/a-over%d" % i, "alice", b"", 429, "orders", "alice") for i in range(2)] +
    [("/orders/b%d" % i, "bob", b"p" * 30, 200, "orders", "bob") for i in range(2)] +
    [("/orders/anon", None, b"q" * 7, 200, "orders", None),
     ("/orders/badkey", "bad", b"", 401, "orders", None),
     ("/users/a", "alice", b"", 200, "users", "alice"),
     ("/users/boom", "alice", b"", 500, "users", "alice"),
     ("/users/b0", "bob", b"r" * 11, 200, "users", "bob"),
     ("/users/b1", "bob", b"", 200, "users", "bob"),
     ("/users/b-over", "bob", b"", 429, "users", "bob"),
     ("/users/nocred", None, b"", 401, "users", None)])


def send(port, path, who, body, conn=None):
    hdrs = [] if who is None else [("X-Api-Key", "wrong-key")] if who == "bad" else key(who)
    method = "POST" if body else "GET"
    if conn is None:
        return call(port, path, hdrs, method=method, body=body)
    conn.send(h.build_request(method, path, [("Host", HOST)] + hdrs, body))
    return conn.recv_response(method)


def expected(mix, log_bytes):
    """{("routes"|"consumers", name): row} from the mix; bytes_out from the
    access log's bytes of each request (what the client got)."""
    rows = {}
    for (path, who, body, status, rname, cname), out in zip(mix, log_bytes):
        for kind, name in (("routes", rname), ("consumers", cname or "anonymous")):
            row = rows.setdefault((kind, name), dict(
                requests=0, limited=0, auth_refused=0, bytes_in=0, bytes_out=0,
                **{c: 0 for c in CLASSES}))
            row["requests"] += 1
            row["%dxx" % (status // 100)] += 1
            row["limited"] += status == 429
            row["auth_refused"] += status in (401, 403)
            row["bytes_in"] += len(body)
            row["bytes_out"] += out
    return rows


def mix_lines(d, n0, n):
    lines = d.access_log_lines(lambda ls: len(ls) >= n0 + n, what="the mix's log lines")
    return [json.loads(x) for x in lines[n0:]]


def check_numbers(d, rows, want_lat=True):
    """status.json's apis rows and /metrics' api families equal rows."""
    doc = json.loads(page(d, "/squidlike/status.json"))
    text = page(d, "/metrics")
    m = Metrics(text)
    promtool_check(text)
    apis = doc["apis"]
    bad = []
    for kind in ("routes", "consumers"):
        got = {x["name"]: x for x in apis[kind]}
        names = sorted(n for k, n in rows if k == kind)
        if sorted(got) != names:
            bad.append("status.json apis.%s names %r, expected %r" % (kind, sorted(got), names))
        for name in names:
            want, x = rows[(kind, name)], got.get(name, {})
            for f, v in want.items():
                if x.get(f) != v:
                    bad.append("status.json apis.%s[%s].%s = %r, expected %r"
                               % (kind, name, f, x.get(f), v))
            if want_lat and x:
                lat = [x.get("p50_ms"), x.get("p90_ms"), x.get("p99_ms")]
                if None in lat or not 0 <= lat[0] <= lat[1] <= lat[2] < 30000:
                    bad.append("status.json apis.%s[%s] latency %r" % (kind, name, lat))
        # /metrics
        pre, lab = ("squidlike_api_", "route") if kind == "routes" else \
            ("squidlike_api_consumer_", "consumer")
        for name in names:
            want = rows[(kind, name)]
            for c in CLASSES:
                v = m.get(pre + "requests_total", **{lab: name, "class": c})
                if v != want[c]:
                    bad.append("%srequests_total{%s=%s,class=%s} = %r, expected %r"
                               % (pre, lab, name, c, v, want[c]))
            for f, fam in (("limited", "limited_total"), ("auth_refused", "auth_refused_total")):
                v = m.get(pre + fam, **{lab: name})
                if v != want[f]:
                    bad.append("%s%s{%s} = %r, expected %r" % (pre, fam, name, v, want[f]))
            for f, dirn in (("bytes_in", "in"), ("bytes_out", "out")):
                v = m.get(pre + "bytes_total", **{lab: name, "direction": dirn})
                if v != want[f]:
                    bad.append("%sbytes_total{%s,%s} = %r, expected %r"
                               % (pre, name, dirn, v, want[f]))
            v = m.get(pre + "request_seconds_count", **{lab: name})
            if v != want["requests"]:
                bad.append("%srequest_seconds_count{%s} = %r, expected %r"
                           % (pre, name, v, want["requests"]))
        series = {dict(lb)[lab] for (n, lb) in m.samples if n == pre + "requests_total"}
        if series != set(names):
            bad.append("%srequests_total series %r, expected %r" % (pre, series, set(names)))
        for fam, typ in (("requests_total", "counter"), ("limited_total", "counter"),
                         ("auth_refused_total", "counter"), ("bytes_total", "counter"),
                         ("request_seconds", "histogram")):
            if m.types.get(pre + fam) != typ:
                bad.append("%s%s TYPE %r" % (pre, fam, m.types.get(pre + fam)))
        if not bad:
            m.check_histogram(pre + "request_seconds", lab)
    assert not bad, "\n  ".join(bad)
    return doc, m


def run_mix(port, d, o, conns=None):
    n0 = len(d.access_log_lines())
    for i, (path, who, body, status, _, _) in enumerate(MIX):
        r = send(port, path, who, body, conn=conns[i % 2] if conns else None)
        assert r.status == status, "%s %s: %s" % (path, who, r.brief())
    return mix_lines(d, n0, len(MIX))


def test_known_mix_counted_exactly():
    pending("analytics")
    o = backend()
    port = h.free_port()
    with Daemon(site(port, o)) as d:
        logs = run_mix(port, d, o)
        # the JSON access log: consumer, route, request id, request by request
        for (path, who, body, status, rname, cname), lg in zip(MIX, logs):
            assert lg["url"] == "http://%s%s" % (HOST, path) and lg["status"] == status, lg
            assert lg["consumer"] == cname and lg["route"] == rname, (path, lg)
            assert re.fullmatch(r"[0-9a-f]{32}", lg["request_id"] or ""), lg
        # the backend's view: what passed
        passed = [p for p, _, _, s, _, _ in MIX if s in (200, 500)]
        assert [q.target for q in o.requests] == passed, o.requests
        for q in o.requests:
            want = [c for p, _, _, _, _, c in MIX if p == q.target][0]
            assert q.header("X-Consumer-Id") == want, (q.target, q.headers)
        rows = expected(MIX, [lg["bytes"] for lg in logs])
        # the plan's own arithmetic, so that a wrong plan cannot pass
        assert rows[("routes", "orders")]["requests"] == 9 and \
            rows[("consumers", "alice")]["requests"] == 7 and \
            rows[("consumers", "anonymous")]["auth_refused"] == 2
        check_numbers(d, rows)
        # the status page: an APIs section naming each route and consumer
        html = page(d, "/squidlike/status")
        assert re.search(r">\s*APIs\s*<", html), "no APIs section on the status page"
        for name in ("orders", "users", "alice", "bob", "anonymous"):
            assert ">%s<" % name in html, name
        # a reload keeps the counters
        assert d.reload() == "reloaded", d.last_reload_line
        check_numbers(d, rows)


def test_analytics_top_other():
    """analytics_top = 1 with 3 consumers: the busiest keeps its label, the
    two others are summed under "other" in /metrics."""
    pending("analytics")
    o = backend()
    port = h.free_port()
    with Daemon(site(port, o, consumers=("alice", "bob", "carol"), analytics_top=1)) as d:
        n0 = len(d.access_log_lines())
        plan = [("alice", 5), ("bob", 3), ("carol", 2)]
        for who, n in plan:
            for i in range(n):
                path = "/orders/%s%d" % (who, i)
                want = 200 if i < 3 else 429
                r = send(port, path, who, b"")
                assert r.status == want, (path, r.brief())
        d.access_log_lines(lambda ls: len(ls) >= n0 + 10, what="the 10 log lines")
        text = page(d, "/metrics")
        promtool_check(text)
        m = Metrics(text)
        got = {}
        for (name, lab), v in m.samples.items():
            if name == "squidlike_api_consumer_requests_total" and v:    # 0s or none: alike
                lab = dict(lab)
                got[(lab["consumer"], lab["class"])] = v
        assert got == {("alice", "2xx"): 3, ("alice", "4xx"): 2,
                       ("other", "2xx"): 5}, got
        assert m.get("squidlike_api_consumer_limited_total", consumer="alice") == 2
        assert m.get("squidlike_api_consumer_limited_total", consumer="other") == 0
        assert m.get("squidlike_api_consumer_request_seconds_count", consumer="other") == 5
        for c in ("bob", "carol"):
            assert ('consumer="%s"' % c) not in text, c
        # the routes are not bounded by it
        assert m.get("squidlike_api_requests_total", route="orders", **{"class": "2xx"}) == 8


def test_two_workers_summed():
    """workers = 2, the mix sent over a connection held by each worker in
    turn: every number is the sum of both workers' (one worker's share
    would be about half)."""
    pending("analytics")
    o = backend()
    port = h.free_port()
    conf = site(port, o)
    conf["workers"] = 2
    with Daemon(conf) as d:
        # placed by anonymous requests on /orders/ (counted: added to the plan)
        conns, made = conns_on_each_worker(d, port, "/orders/place", [])
        lines = d.access_log_lines(lambda ls: len(ls) >= made, what="the placing requests' lines")
        places = [json.loads(x) for x in lines]
        assert len(places) == made and all(
            x["url"].startswith("http://%s/orders/place" % HOST) for x in places), places
        logs = run_mix(port, d, o, conns)
        plan = [("/orders/place", None, b"", 200, "orders", None)] * made + list(MIX)
        rows = expected(plan, [x["bytes"] for x in places] + [x["bytes"] for x in logs])
        check_numbers(d, rows)
        for c in conns:
            c.close()


if __name__ == "__main__":
    h.run(globals(), requires=("openssl",))

#!/usr/bin/env python3
"""Reverse mode (issue 11) seen by its operators: after a known burst of
traffic over three pools (two live backends and a dead one with health
checks on; a backend that answers 503 and is ejected after one failure;
a pool of one), /metrics (promtool), status.json and the HTML status page
report exactly what each backend and each route did: state and last check
(the dead one down with its connect error), requests, failures,
ejections, in-flight requests, the latency histogram (one observation per
response head, 5xx included) and requests per route, with a regex
route's pattern escaped on every page; the JSON access log names the
vhost, route, backend and request id of each request (the id the backend
received); Squid's format keeps HIER_DIRECT/<backend address>; a reload
keeps the counters; a forward-only proxy shows none of it."""

import html
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from test_metrics import Metrics, promtool_check  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402

# A regex route whose pattern holds every byte the pages escape; it takes
# /r/... requests.
REGEX = '^/(r|"<&>\\\\)/'
SHOWN = "~" + REGEX             # nginx's notation, as the pages show it


# The prefix routes' patterns, by (vhost, index): a default route name is
# the vhost's name and its pattern.
ROUTE_PATTERN = {("app.example", 1): "/api/", ("app.example", 2): "/flaky/",
                 ("app.example", 3): "/", ("other.example", 0): "/"}


def named(name, status=200):
    return ScriptedOrigin(lambda req: Response(status, name.encode(), headers=[
        ("Cache-Control", "no-store")]), name=name)


def be(o):
    return "127.0.0.1:%d" % (o if isinstance(o, int) else o.port)


def page(d, path):
    """A manager page through the forward listener, after its own log line
    (so that what follows in the access log is ours)."""
    n = len(d.access_log_lines())
    r = h.proxy_request(d, "GET", path)
    assert r.status == 200, r.brief()
    d.access_log_lines(lambda ls: len(ls) > n, what="the page's log line")
    return r.body.decode("utf-8")


def values(text):
    """{id: data-value} of the HTML page's elements carrying both."""
    return dict(re.findall(r'id="([a-z0-9_]+)" data-value="([^"]*)"', text))


def site_conf(port, a, b, dead, api, flaky, **extra):
    conf = rev_conf(port, {
        "app": ("round-robin", [be(a), be(b), be(dead)]),
        "api": ("round-robin", [be(api)]),
        "flaky": ("round-robin", [be(flaky)]),
    }, [
        {"names": ["app.example"],
         "routes": [{"regex": REGEX, "pool": "app"},
                    {"prefix": "/api/", "pool": "api"},
                    {"prefix": "/flaky/", "pool": "flaky"},
                    {"prefix": "/", "pool": "app"}]},
        {"names": ["other.example"], "routes": [{"prefix": "/", "pool": "api"}]},
    ])
    pools = conf["reverse"]["pools"]
    pools[0].update(health_path="/healthz", health_interval="200ms",
                    health_timeout="150ms", health_rise=1, health_fall=1,
                    eject_after=1, eject_time="60s")
    pools[1].update(eject_after=0)
    pools[2].update(eject_after=1, eject_time="60s", eject_max="60s")
    conf.update(extra)
    return conf


# (host, path, X-Request-Id sent or None, status, backend name or None,
#  route): the burst, in order. 14 requests to pool app (7 each on a and
#  b: round-robin over the two that are up), 5 to api, 2 to flaky (the
#  first gets its 503 and ejects it; the second still reaches it: a pool
#  whose every healthy backend is ejected ignores ejections, panic mode).
def burst(a, b, api, flaky):
    out = []
    for i in range(10):
        out.append(("app.example", "/r/%d" % i, "rid-r%d" % i if i % 2 else None,
                    200, None, ("app.example", 0)))
    for i in range(3):
        out.append(("app.example", "/api/%d" % i, None, 200, be(api), ("app.example", 1)))
    out.append(("app.example", "/flaky/1", "rid-flaky", 503, be(flaky), ("app.example", 2)))
    out.append(("app.example", "/flaky/2", None, 503, be(flaky), ("app.example", 2)))
    for i in range(4):
        out.append(("app.example", "/p/%d" % i, None, 200, None, ("app.example", 3)))
    for i in range(2):
        out.append(("other.example", "/o/%d" % i, None, 200, be(api), ("other.example", 0)))
    return out


def test_ops_pages_after_known_traffic():
    a, b, api = named("a"), named("b"), named("api")
    flaky = named("flaky", status=503)
    dead = h.free_port()
    port = h.free_port()
    conf = site_conf(port, a, b, dead, api, flaky, access_log_format="json")
    with Daemon(conf) as d:
        # Ready: the dead backend's check has failed (before that it
        # would still be chosen), the live ones' checks have passed.
        def ready():
            m = Metrics(page(d, "/metrics"))
            lab = lambda o: {"pool": "app", "backend": be(o)}  # noqa: E731
            return (m.get("squidlike_backend_healthy", **lab(dead)) == 0 and
                    m.get("squidlike_backend_checks_total", **lab(a)) >= 1 and
                    m.get("squidlike_backend_checks_total", **lab(b)) >= 1)
        h.wait_until(ready, 20, interval=0.1, what="the dead backend seen down")
        n0 = len(d.access_log_lines())
        plan = burst(a, b, api, flaky)
        for host, path, rid, status, _, _ in plan:
            hdrs = [("X-Request-Id", rid)] if rid else []
            r = get(port, host, path, headers=hdrs)
            assert r.status == status, "%s %s: %s" % (host, path, r.brief())
        # every request logged: its transaction (and its backend's in-flight
        # count) is over
        lines = d.access_log_lines(lambda ls: len(ls) >= n0 + len(plan),
                                   what="the burst's log lines")[n0:n0 + len(plan)]
        text = page(d, "/metrics")
        doc = json.loads(page(d, "/squidlike/status.json"))
        dash = page(d, "/squidlike/status")

        # --- the JSON access log ------------------------------------------
        got = {}
        for ln, (host, path, rid, status, backend, (vhost, route)) in zip(lines, plan):
            o = json.loads(ln)
            assert o["url"] == "http://%s%s" % (host, path) and o["status"] == status, ln
            assert (o["vhost"], o["route_index"]) == (vhost, route), ln
            # the route's name: its vhost's and its pattern (none configured)
            assert o["route"] == vhost + (SHOWN[1:] if route == 0 and vhost == "app.example"
                                          else ROUTE_PATTERN[(vhost, route)]), ln
            assert o["consumer"] is None, ln    # no route with auth
            if backend is None and status == 200:
                assert o["backend"] in (be(a), be(b)), ln
            else:
                assert o["backend"] == backend, ln
            got[path] = o
            if rid:
                assert o["request_id"] == rid, ln
            else:           # made for it (also when no backend took it)
                assert re.fullmatch(r"[0-9a-f]{32}", o["request_id"] or ""), ln
        # the id each backend received is the one logged, request by request
        for o in (a, b, api, flaky):
            for q in o.requests:
                if q.target == "/healthz":
                    continue
                lg = got[q.target]
                assert lg["backend"] == be(o), (q.target, lg)
                assert lg["request_id"] == q.header("X-Request-Id"), (q.target, lg, q.headers)
        served = [q.target for o in (a, b) for q in o.requests if q.target != "/healthz"]
        assert len(served) == 14 and len(api.requests) == 5 and len(flaky.requests) == 2, \
            (served, api.requests, flaky.requests)

        # --- /metrics ---------------------------------------------------------
        m = Metrics(text)
        promtool_check(text)
        types = {"squidlike_backend_up": "gauge", "squidlike_backend_healthy": "gauge",
                 "squidlike_backend_ejected": "gauge", "squidlike_backend_active": "gauge",
                 "squidlike_backend_requests_total": "counter",
                 "squidlike_backend_failures_total": "counter",
                 "squidlike_backend_ejections_total": "counter",
                 "squidlike_backend_checks_total": "counter",
                 "squidlike_backend_check_failures_total": "counter",
                 "squidlike_backend_latency_seconds": "histogram",
                 "squidlike_route_requests_total": "counter"}
        for fam, typ in types.items():
            assert m.types.get(fam) == typ, (fam, m.types.get(fam))
        want = {  # backend: (up, healthy, ejected, requests, failures, ejections, latency count)
            ("app", be(a)): (1, 1, 0, 7, 0, 0, 7),
            ("app", be(b)): (1, 1, 0, 7, 0, 0, 7),
            ("app", be(dead)): (0, 0, 0, 0, 0, 0, 0),
            ("api", be(api)): (1, 1, 0, 5, 0, 0, 5),
            ("flaky", be(flaky)): (0, 1, 1, 2, 2, 1, 2),     # 503s have a latency
        }
        fams = ("squidlike_backend_up", "squidlike_backend_healthy", "squidlike_backend_ejected",
                "squidlike_backend_requests_total", "squidlike_backend_failures_total",
                "squidlike_backend_ejections_total", "squidlike_backend_latency_seconds_count")
        bad = []
        for (pool, name), w in want.items():
            lab = {"pool": pool, "backend": name}
            for fam, v in zip(fams, w):
                if (fam, frozenset(lab.items())) not in m.samples or m.get(fam, **lab) != v:
                    bad.append("%s%r = %r, expected %r" % (fam, lab, m.samples.get(
                        (fam, frozenset(lab.items()))), v))
            if m.get("squidlike_backend_active", **lab) != 0:
                bad.append("active %r" % (lab,))
        assert not bad, "\n  ".join(bad)
        check_histograms(m, "squidlike_backend_latency_seconds", set(want))
        # checks: on pool app only; the dead one fails every one of its
        lab = {"pool": "app", "backend": be(dead)}
        checks = m.get("squidlike_backend_checks_total", **lab)
        assert checks >= 1 and m.get("squidlike_backend_check_failures_total", **lab) == checks
        assert m.get("squidlike_backend_check_failures_total", pool="app", backend=be(a)) == 0
        assert m.get("squidlike_backend_checks_total", pool="api", backend=be(api)) == 0
        routes = {(dict(lab)["vhost"], dict(lab)["route"], unescape(dict(lab)["pattern"]),
                   dict(lab)["pool"]): v
                  for (n, lab), v in m.samples.items() if n == "squidlike_route_requests_total"}
        assert routes == {("app.example", "0", SHOWN, "app"): 10,
                          ("app.example", "1", "/api/", "api"): 3,
                          ("app.example", "2", "/flaky/", "flaky"): 2,
                          ("app.example", "3", "/", "app"): 4,
                          ("other.example", "0", "/", "api"): 2}, routes
        # the label as written: \ and " escaped
        assert 'pattern="~^/(r|\\"<&>\\\\\\\\)/"' in text

        # --- status.json --------------------------------------------------------
        rv = doc["reverse"]
        assert [p["name"] for p in rv["pools"]] == ["app", "api", "flaky"], rv
        bes = {(p["name"], x["name"]): x for p in rv["pools"] for x in p["backends"]}
        for (pool, name), w in want.items():
            x = bes[(pool, name)]
            assert (x["requests"], x["failures"], x["ejections"], x["active"],
                    x["latency_ms"]["count"]) == (w[3], w[4], w[5], 0, w[6]), x
            assert x["healthy"] == bool(w[1]) and x["ejected"] == bool(w[2]), x
        dx = bes[("app", be(dead))]
        assert dx["state"] == "down" and dx["last_check"]["ok"] is False, dx
        assert dx["last_check"]["error"] == "connect: Connection refused", dx
        assert dx["check_failures"] == dx["checks"] >= 1, dx
        assert dx["latency_ms"] == {"count": 0, "p50": None, "p90": None, "p99": None}, dx
        for o in (a, b):
            x = bes[("app", be(o))]
            assert x["state"] == "up" and x["last_check"]["ok"] is True, x
            assert x["last_check"]["error"] is None and 0 <= x["last_check"]["seconds_ago"] < 30
            lat = x["latency_ms"]
            assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] < 10000, lat
        fx = bes[("flaky", be(flaky))]
        assert fx["state"] == "ejected" and fx["last_check"] is None, fx
        assert 0 < fx["ejected_seconds_left"] <= 60, fx
        assert abs(fx["ejected_until"] - fx["ejected_seconds_left"] - time.time()) < 30, fx
        assert bes[("api", be(api))]["state"] == "up"
        assert [(r["vhost"], r["route"], r["pattern"], r["pool"], r["requests"])
                for r in rv["routes"]] == [
            ("app.example", 0, SHOWN, "app", 10), ("app.example", 1, "/api/", "api", 3),
            ("app.example", 2, "/flaky/", "flaky", 2), ("app.example", 3, "/", "app", 4),
            ("other.example", 0, "/", "api", 2)], rv["routes"]

        # --- the HTML page ---------------------------------------------------------
        v = values(dash)
        assert "<h2>Backends</h2>" in dash and "<h2>Routes</h2>" in dash
        order = [("app", a), ("app", b), ("app", dead), ("api", api), ("flaky", flaky)]
        idx = {("app", a): "0_0", ("app", b): "0_1", ("app", dead): "0_2",
               ("api", api): "1_0", ("flaky", flaky): "2_0"}
        for pool, o in order:
            i = idx[(pool, o)]
            w = want[(pool, be(o))]
            row = re.search(r'<tr id="be_%s"><th>([^<]*)</th><th>([^<]*)</th>' % i, dash)
            assert row and row.groups() == (pool, be(o)), (i, row and row.groups())
            assert (v["be_%s_requests" % i], v["be_%s_failures" % i],
                    v["be_%s_ejections" % i], v["be_%s_active" % i]) == \
                (str(w[3]), str(w[4]), str(w[5]), "0"), i
        assert (v["be_0_0_state"], v["be_0_2_state"], v["be_1_0_state"], v["be_2_0_state"]) \
            == ("up", "down", "up", "ejected")
        assert (v["be_0_0_check"], v["be_0_2_check"], v["be_1_0_check"]) == ("ok", "failed", "off")
        assert "connect: Connection refused, " in dash
        assert float(v["be_0_0_p50"]) > 0 and v["be_0_2_p50"] == ""
        assert [v["route_0_%d" % i] for i in range(4)] + [v["route_1_0"]] == \
            ["10", "3", "2", "4", "2"]
        assert "<code>%s</code>" % html.escape(SHOWN, quote=True).replace("&#x27;", "&#39;") \
            in dash
        assert '"<&>' not in dash

        # --- a reload keeps what was counted -----------------------------------
        d.reload()
        m2 = Metrics(page(d, "/metrics"))
        for (pool, name), w in want.items():
            lab = {"pool": pool, "backend": name}
            assert m2.get("squidlike_backend_requests_total", **lab) == w[3], lab
            assert m2.get("squidlike_backend_latency_seconds_count", **lab) == w[6], lab
        assert m2.get("squidlike_route_requests_total", vhost="app.example", route="0",
                      pattern=SHOWN.replace("\\", "\\\\").replace('"', '\\"'),
                      pool="app") == 10


def unescape(label):
    """A label value as Metrics keeps it (escaped), as it was."""
    return re.sub(r"\\(.)", lambda x: "\n" if x.group(1) == "n" else x.group(1), label)


def check_histograms(m, fam, series):
    """Each (pool, backend) of series has its histogram: buckets by le
    increasing, cumulative, +Inf equal to _count; and no other series."""
    seen = set()
    for (n, lab), _ in m.samples.items():
        if n == fam + "_count":
            seen.add((dict(lab)["pool"], dict(lab)["backend"]))
    assert seen == series, (seen, series)
    for pool, name in series:
        bks = sorted((float(dict(lab)["le"]), v) for (n, lab), v in m.samples.items()
                     if n == fam + "_bucket" and dict(lab)["pool"] == pool and
                     dict(lab)["backend"] == name)
        counts = [c for _, c in bks]
        assert len(bks) == 19 and bks[-1][0] == float("inf"), bks
        assert counts == sorted(counts), bks
        assert counts[-1] == m.get(fam + "_count", pool=pool, backend=name), bks


def test_squid_format_names_the_backend_address():
    a = named("a")
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", [be(a)])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        r = get(port, "app.example", "/s")
        assert r.status == 200, r.brief()
        line = d.wait_access("/s")
        # Squid's %<a: the address, no port (as Squid logs a peer's); the
        # JSON format's "backend" has the port
        assert line.code == "TCP_MISS" and line.raw.split()[8] == "HIER_DIRECT/127.0.0.1", \
            line.raw
        assert ":%d" % a.port not in line.raw, line.raw


def test_absent_without_reverse():
    with Daemon() as d:
        text = page(d, "/metrics")
        assert "squidlike_backend_" not in text and "squidlike_route_" not in text
        promtool_check(text)
        doc = json.loads(page(d, "/squidlike/status.json"))
        assert "reverse" not in doc and "windows" in doc, sorted(doc)
        dash = page(d, "/squidlike/status")
        assert "Backends" not in dash and "Routes" not in dash and "</html>" in dash


if __name__ == "__main__":
    h.run(globals(), requires=())

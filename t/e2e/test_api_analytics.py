#!/usr/bin/env python3
"""Reverse mode's analytics per route (issue 15, gateway-spec "Analytics"),
on routes without auth: after a known mix of requests over named routes, a
route named by default (its vhost and pattern, escaped on every page) and
a rate-limited route, status.json's "apis", the squidlike_api_* families of
/metrics (promtool; histograms consistent) and the status page's APIs
section all say exactly what was sent: requests, classes 2xx to 5xx,
limited (429 by a rate limit), request body bytes in (Content-Length and
chunked, counted decoded), bytes out (what the access log says was sent),
latency counts; the JSON access log names each request's route (and no
consumer); a request no route took counts nowhere. With workers = 2 the
workers' tables add up, whichever worker renders the page, and a reload
that moves a route keeps its counters (by name). A forward proxy shows
none of it. (Consumers and auth: test_gateway_analytics.py.)"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from test_metrics import Metrics, promtool_check  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402
from test_reverse_limits import master_reload, worker_requests  # noqa: E402
import browser  # noqa: E402

CLASSES = ("2xx", "3xx", "4xx", "5xx")
# A regex route whose default name holds every byte the pages escape.
REGEX = '^/(x|"<&>\\\\)/'


def status_backend():
    """A backend answering the status a path asks for: /any/prefix/<status>/..."""
    def handler(req):
        st = int(re.search(r"/(\d{3})(/|$)", req.target).group(1))
        hdrs = [("Cache-Control", "no-store")]
        if 300 <= st < 400:
            hdrs.append(("Location", "/elsewhere"))
        return Response(st, b"x" * (st % 97), headers=hdrs)
    return ScriptedOrigin(handler, name="api-backend")


def be(o):
    return "127.0.0.1:%d" % o.port


def manager_page(d, path):
    """A manager page through the forward listener, once its own log line
    is written (what follows in the access log is ours)."""
    n = len(d.access_log_lines())
    r = h.proxy_request(d, "GET", path)
    assert r.status == 200, r.brief()
    d.access_log_lines(lambda ls: len(ls) > n, what="the page's log line")
    return r.body.decode("utf-8")


def site_conf(port, o, **extra):
    conf = rev_conf(port, {"api": ("round-robin", [be(o)])}, [
        {"names": ["app.example"], "routes": [
            {"prefix": "/v1/users/", "pool": "api", "name": "users-api"},
            {"prefix": "/v1/orders/", "pool": "api", "name": "orders",
             "rate_limits": ["tight"]},
            {"regex": REGEX, "pool": "api"},
            {"prefix": "/", "pool": "api"}]}],
        rate_limits=[{"name": "tight", "key": "client", "rate": 1, "per": "1h",
                      "burst": 2}])
    conf.update(access_log_format="json", **extra)
    return conf


CHUNKED_300 = b"12c\r\n" + b"c" * 300 + b"\r\n0\r\n\r\n"


# (path, method, body, extra headers, status seen, route name): the mix.
def plan():
    out = []
    for i in range(4):
        out.append(("/v1/users/200/%d" % i, "GET", b"", [], 200, "users-api"))
    out.append(("/v1/users/201/p", "POST", b"b" * 1000, [], 201, "users-api"))
    out.append(("/v1/users/201/c", "POST", CHUNKED_300, [("Transfer-Encoding", "chunked")],
                201, "users-api"))
    for i in range(2):
        out.append(("/v1/users/404/%d" % i, "GET", b"", [], 404, "users-api"))
    out.append(("/v1/users/503/0", "GET", b"", [], 503, "users-api"))
    # burst 2: the third and fourth are refused before the backend
    for i in range(4):
        out.append(("/v1/orders/302/%d" % i, "GET", b"", [], 302 if i < 2 else 429, "orders"))
    out.append(("/x/200/0", "GET", b"", [], 200, "app.example" + REGEX))
    for i in range(2):
        out.append(("/500/%d" % i, "GET", b"", [], 500, "app.example/"))
    return out


def send(port, p):
    path, method, body, hdrs, status, _ = p
    r = get(port, "app.example", path, headers=hdrs, method=method, body=body)
    assert r.status == status, "%s %s: %s" % (method, path, r.brief())


def logged(d, n0, plan_):
    """{path: JSON log entry} of plan_'s requests, once all are logged
    after line n0 (workers write their lines in their own order)."""
    box = {}

    def all_there(ls):
        box["o"] = {}
        for ln in ls[n0:]:
            o = json.loads(ln)
            if o["url"].startswith("http://app.example/"):
                box["o"][o["url"][len("http://app.example"):]] = o
        return all(p[0] in box["o"] for p in plan_)
    d.access_log_lines(all_there, what="the requests' log lines")
    return box["o"]


def expected(plan_, got):
    """{route name: counters} from the plan and its access-log entries
    (bytes out as logged: heads included)."""
    want = {}
    for p in plan_:
        o = got[p[0]]
        ln = json.dumps(o)
        assert o["status"] == p[4], (p, ln)
        assert o["route"] == p[5] and o["consumer"] is None, ln
        w = want.setdefault(p[5], dict({c: 0 for c in CLASSES}, requests=0, limited=0,
                                       auth_refused=0, bytes_in=0, bytes_out=0))
        w["requests"] += 1
        w["%dxx" % (p[4] // 100)] += 1
        w["limited"] += p[4] == 429
        w["bytes_in"] += {b"": 0, CHUNKED_300: 300}.get(p[2], len(p[2]))
        w["bytes_out"] += o["bytes"]
    return want


def check_pages(d, want):
    """status.json, /metrics and the HTML page against want."""
    text = manager_page(d, "/metrics")
    doc = json.loads(manager_page(d, "/squidlike/status.json"))
    dash = manager_page(d, "/squidlike/status")
    promtool_check(text)

    # status.json
    apis = doc["apis"]
    assert apis["consumers"] == [], apis["consumers"]
    rows = {r["name"]: r for r in apis["routes"]}
    assert [r["name"] for r in apis["routes"]] == sorted(want), apis["routes"]
    for name, w in want.items():
        r = rows[name]
        got = {k: r[k] for k in w}
        assert got == w, (name, got, w)
        assert r["none"] == 0, r
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] < 10000, r

    # /metrics: the same numbers
    m = Metrics(text)
    for fam, typ in (("squidlike_api_requests_total", "counter"),
                     ("squidlike_api_limited_total", "counter"),
                     ("squidlike_api_auth_refused_total", "counter"),
                     ("squidlike_api_bytes_total", "counter"),
                     ("squidlike_api_request_seconds", "histogram"),
                     ("squidlike_api_consumer_requests_total", "counter"),
                     ("squidlike_api_consumer_request_seconds", "histogram")):
        assert m.types.get(fam) == typ, (fam, m.types.get(fam))
    seen = {dict(lab)["route"] for (n, lab), _ in m.samples.items()
            if n.startswith("squidlike_api_") and "route" in dict(lab)}
    assert seen == {esc(name) for name in want}, seen
    assert not [k for k in m.samples if k[0].startswith("squidlike_api_consumer_")]
    for raw, w in want.items():
        name = esc(raw)
        for c in CLASSES:
            assert m.get("squidlike_api_requests_total", route=name, **{"class": c}) == w[c], \
                (name, c)
        assert m.get("squidlike_api_limited_total", route=name) == w["limited"], name
        assert m.get("squidlike_api_auth_refused_total", route=name) == 0, name
        assert m.get("squidlike_api_bytes_total", route=name, direction="in") == w["bytes_in"]
        assert m.get("squidlike_api_bytes_total", route=name, direction="out") == w["bytes_out"]
        fam = "squidlike_api_request_seconds"
        bks = sorted((float(dict(lab)["le"]), v) for (n, lab), v in m.samples.items()
                     if n == fam + "_bucket" and dict(lab)["route"] == name)
        counts = [v for _, v in bks]
        assert len(bks) == 19 and bks[-1][0] == float("inf"), bks
        assert counts == sorted(counts) and counts[-1] == w["requests"], bks
        assert m.get(fam + "_count", route=name) == w["requests"]
        assert 0 < m.get(fam + "_sum", route=name) < 10 * w["requests"]
    # a label as written: \ and " escaped
    if "app.example" + REGEX in want:
        assert 'route="app.example^/(x|\\"<&>\\\\\\\\)/"' in text

    # the HTML page: a row per route, in name order, the same numbers
    assert "<h2>APIs</h2>" in dash and "API consumers" not in dash
    vals = dict(re.findall(r'id="(api_route_[a-z0-9_]+)" data-value="([^"]*)"', dash))
    for i, name in enumerate(sorted(want)):
        w = want[name]
        row = re.search(r'<tr id="api_route_%d"><th>([^<]*)</th>' % i, dash)
        assert row and row.group(1) == h_escape(name), (i, row and row.group(1))
        for k in ("requests", "2xx", "3xx", "4xx", "5xx", "limited", "bytes_in", "bytes_out"):
            assert vals["api_route_%d_%s" % (i, k)] == str(w[k]), (name, k, vals)
        assert abs(float(vals["api_route_%d_5xx_rate" % i]) - w["5xx"] / w["requests"]) < 1e-6
    return doc, m


def esc(s):
    """A label value as /metrics writes it (and Metrics keeps it)."""
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def h_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def test_routes_count_what_was_sent():
    o = status_backend()
    port = h.free_port()
    with Daemon(site_conf(port, o)) as d:
        n0 = len(d.access_log_lines())
        # before any request: the families are there, no row yet
        doc = json.loads(manager_page(d, "/squidlike/status.json"))
        assert doc["apis"] == {"routes": [], "consumers": []}, doc["apis"]
        n0 = len(d.access_log_lines())
        pl = plan()
        for p in pl:
            send(port, p)
        # a Host no vhost takes (421), a bad request: no route, not counted
        r = get(port, "nobody.example", "/v1/users/200/x")
        assert r.status == 421, r.brief()
        got = logged(d, n0, pl)
        url = '"url":"http://nobody.example/v1/users/200/x"'
        ls = d.access_log_lines(lambda ls: any(url in ln for ln in ls[n0:]),
                                what="the 421's log line")
        lo = json.loads([ln for ln in ls[n0:] if url in ln][0])
        assert lo["status"] == 421 and lo["route"] is None, lo
        want = expected(pl, got)
        assert want["users-api"]["bytes_in"] == 1300 and want["orders"]["limited"] == 2, want
        # what the backend saw: the two POST bodies, not the refused orders
        assert sorted(q.body_len for q in o.requests if q.method == "POST") == [300, 1000]
        assert len([q for q in o.requests if "/v1/orders/" in q.target]) == 2
        check_pages(d, want)


def test_workers_add_up_and_a_reload_keeps_the_names():
    o = status_backend()
    port = h.free_port()
    conf = site_conf(port, o, workers=2)
    with Daemon(conf, error_log_file=True) as d:
        before = worker_requests(d)
        n0 = len(d.access_log_lines())
        pl = [("/v1/users/%d/%d" % ((200, 404, 500)[i % 3], i), "GET", b"", [],
               (200, 404, 500)[i % 3], "users-api") for i in range(30)]
        pl += [("/%d/%d" % ((200, 302)[i % 2], i), "GET", b"", [], (200, 302)[i % 2],
                "app.example/") for i in range(10)]
        for p in pl:
            send(port, p)       # a fresh connection each: spread by SO_REUSEPORT
        got = logged(d, n0, pl)
        after = worker_requests(d)
        served = {i: after[i] - before[i] for i in after}
        # each worker took some (2 or more: one status.json may be among them)
        assert len(served) == 2 and all(n >= 2 for n in served.values()), served
        want = expected(pl, got)
        for _ in range(4):      # whichever worker renders the pages: the sum
            check_pages(d, want)
        # a reload that puts a route before users-api (its index moves):
        # its row goes on by name, nothing counted twice
        routes = conf["reverse"]["vhosts"][0]["routes"]
        routes.insert(0, {"prefix": "/v2/", "pool": "api", "name": "v2"})
        d.write_conf({"reverse.vhosts": conf["reverse"]["vhosts"]})
        master_reload(d, 2)
        n1 = len(d.access_log_lines())
        more = [("/v1/users/200/r%d" % i, "GET", b"", [], 200, "users-api") for i in range(4)]
        more += [("/v2/201/%d" % i, "GET", b"", [], 201, "v2") for i in range(3)]
        for p in more:
            send(port, p)
        w2 = expected(more, logged(d, n1, more))
        for k, v in w2["users-api"].items():
            want["users-api"][k] += v
        want["v2"] = w2["v2"]
        doc, _ = check_pages(d, want)
        assert doc["apis"]["routes"][0]["name"] == "app.example/", doc["apis"]


def test_page_in_chromium():
    """The APIs section in a real browser: no console error (the page's
    CSP), the numbers in the DOM as status.json says."""
    try:
        browser.find_chromium()
    except browser.BrowserError as e:
        raise h.Skip(str(e))
    o = status_backend()
    port, mport = h.free_port(), h.free_port()
    with Daemon(site_conf(port, o, **{"manager.listen": ["127.0.0.1:%d" % mport]})) as d:
        n0 = len(d.access_log_lines())
        pl = [p for p in plan() if p[5] in ("users-api", "app.example" + REGEX)]
        for p in pl:
            send(port, p)
        logged(d, n0, pl)
        with browser.Browser() as b:
            dom, errors = b.load("http://127.0.0.1:%d/squidlike/status" % mport, timeout=60)
    assert errors == [], "console errors on the status page: %r" % errors
    assert "<h2>APIs</h2>" in dom, dom[:2000]
    vals = dict(re.findall(r'id="(api_route_[a-z0-9_]+)" data-value="([^"]*)"', dom))
    # rows in name order: the regex route's default name, then users-api
    assert (vals.get("api_route_0_requests"), vals.get("api_route_1_requests"),
            vals.get("api_route_1_4xx")) == ("1", "9", "2"), vals


def test_absent_on_a_forward_proxy():
    with Daemon() as d:
        text = manager_page(d, "/metrics")
        assert "squidlike_api_" not in text
        doc = json.loads(manager_page(d, "/squidlike/status.json"))
        assert "apis" not in doc and "windows" in doc, sorted(doc)
        dash = manager_page(d, "/squidlike/status")
        assert "APIs" not in dash and "</html>" in dash


if __name__ == "__main__":
    h.run(globals(), requires=())

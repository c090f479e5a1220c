#!/usr/bin/env python3
"""The operator's pages after a known burst of traffic (two misses, two
hits, a block by a blocklist category, a CONNECT tunnel): status.json and
/metrics report exactly those counts, the HTML dashboard /squidlike/status
shows the same numbers (read back from its data-value attributes, and in
headless Chromium: it loads without a console error and shows the hit
ratio status.json reports), a manager.listen port serves only these pages,
and manager.allow_sources admits a network that is not the proxy host."""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, NetNs, Response, RoutedOrigin, TcpServer, TlsOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def synced(d, fn, n_lines=1):
    """fn(), then wait for n_lines more access-log lines."""
    n = len(d.access_log_lines())
    r = fn()
    d.access_log_lines(lambda ls: len(ls) >= n + n_lines, what="the access-log line")
    return r


def get(port, path, netns=None, host="127.0.0.1"):
    """GET http://host:port/path (not through a proxy); the response."""
    r, resp = h.fetch("http://%s:%d%s" % (host, port, path), netns=netns)
    assert r.rc == 0 and resp is not None, "GET %s: %s" % (path, r.err)
    return resp


def status_json(d, port):
    resp = synced(d, lambda: get(port, "/squidlike/status.json"))
    assert resp.status == 200, resp.brief()
    return json.loads(resp.body.decode())


def metrics(d, port):
    resp = synced(d, lambda: get(port, "/metrics"))
    assert resp.status == 200, resp.brief()
    text = resp.body.decode()
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, "promtool: %s%s" % (r.stdout.decode(), r.stderr.decode())
    else:
        h.log("promtool not installed: `promtool check metrics` skipped")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def values(html):
    """{id: data-value} of every element carrying both."""
    return dict(re.findall(r'id="([a-z0-9_]+)" data-value="([^"]*)"', html))


def blocklist_dir():
    d = h.subdir("blocklists")
    os.makedirs(os.path.join(d, "ads"))
    with open(os.path.join(d, "ads", "domains"), "wb") as f:
        f.write(b"ads.test\n")
    return d


def traffic_daemon(tls, mport):
    o = RoutedOrigin({"/c": Response(200, b"c" * 1000, headers=[FRESH]),
                      "/n": Response(200, b"n" * 500, headers=[("Cache-Control", "no-store")])})
    dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]},
                   "tls.test": {"A": [("127.0.0.1", 60)]}})
    conf = {"blocklists": {"dir": blocklist_dir()},
            "acls": [{"name": "ads", "type": "category", "values": ["ads"]}],
            "http_access": ["deny ads", "allow all"],
            "access.connect_ports": [tls.port],
            "manager.listen": ["127.0.0.1:%d" % mport]}
    d = Daemon(conf, dns=dns, env={"SQUIDLIKE_TEST_STATUS_INTERVAL_MS": "100"})
    return o, d


def make_traffic(d, o, tls):
    base = "http://origin.test:%d" % o.port
    for path, want in (("/c", 200), ("/c", 200), ("/c", 200), ("/n", 200),
                       ("http://www.ads.test/x", 403)):
        url = path if path.startswith("http") else base + path
        r = synced(d, lambda: h.proxy_request(d, "GET", url))
        assert r.status == want, "%s: %s" % (url, r.brief())
    assert o.count("/c") == 1, "the repeated GETs were not hits"
    r, resp = synced(d, lambda: h.fetch("https://tls.test:%d/" % tls.port, "-k", "-p", proxy=d))
    assert r.rc == 0 and resp.body == tls.INDEX, r.err
    lines = [h.parse_access_line(x) for x in d.access_log_lines()]
    codes = sorted(a.code for a in lines)
    assert codes == ["TCP_DENIED", "TCP_HIT", "TCP_HIT", "TCP_MISS", "TCP_MISS",
                     "TCP_TUNNEL"], codes
    return lines


def test_counts_json_metrics_html():
    tls = TlsOrigin()
    mport = h.free_port()
    o, d = traffic_daemon(tls, mport)
    with d:
        lines = make_traffic(d, o, tls)
        s = status_json(d, mport)
        m = metrics(d, mport)
        page = synced(d, lambda: get(mport, "/squidlike/status"))
        s2 = status_json(d, mport)

    # status.json: exactly the traffic.
    rq = s["requests"]
    assert (rq["hits"], rq["misses"], rq["blocked"]) == (2, 2, 1), rq
    assert s["blocked_by_category"] == {"ads": 1}, s["blocked_by_category"]
    assert s["connections"]["tunnels"] == 1, s["connections"]
    assert s["connections"]["tunnels_open"] == 0, s["connections"]
    by_code = {}
    for a in lines:
        by_code.setdefault(a.code, []).append(a)
    assert rq["hit_bytes"] == sum(a.bytes for a in by_code["TCP_HIT"]), rq
    assert rq["miss_bytes"] == sum(a.bytes for a in by_code["TCP_MISS"]), rq
    top_req = {e["host"]: e["requests"] for e in s["top_domains"]["by_requests"]}
    assert top_req == {"origin.test": 4, "www.ads.test": 1, "tls.test": 1}, top_req
    assert s["top_domains"]["by_requests"][0]["host"] == "origin.test", s["top_domains"]
    top_bytes = {e["host"]: e["bytes"] for e in s["top_domains"]["by_bytes"]}
    host_of = lambda a: re.sub(r"^(?:https?://)?([^:/]+).*$", r"\1", a.url)  # noqa: E731
    want_bytes = {}
    for a in lines:
        want_bytes[host_of(a)] = want_bytes.get(host_of(a), 0) + a.bytes
    assert top_bytes == want_bytes, (top_bytes, want_bytes)
    ss = s["windows"]["since_start"]
    assert ss["hit_ratio"] == 0.5, ss
    svc = ss["service_ms"]
    assert (svc["hit"]["count"], svc["miss"]["count"]) == (2, 2), svc
    for k in ("hit", "miss"):
        assert 0 <= svc[k]["p50"] <= svc[k]["p95"] <= svc[k]["p99"], svc
    assert svc["dns"]["count"] == s["dns"]["queries"] >= 2, (svc, s["dns"])
    # Bytes from origins: both misses' responses and the tunnel's bytes
    # down; saved: what hits sent, give or take the header differences
    # between the origin's heads and ours.
    assert rq["bytes_from_origins"] >= 1000 + 500 + len(tls.INDEX), rq
    saved = ss["bandwidth_saved_bytes"]
    assert abs(saved - rq["hit_bytes"]) < 800, (saved, rq)

    # /metrics: the same counts.
    want = {'squidlike_requests_total{code="TCP_HIT",method="GET"}': 2,
            'squidlike_requests_total{code="TCP_MISS",method="GET"}': 2,
            'squidlike_requests_total{code="TCP_DENIED",method="GET"}': 1,
            'squidlike_requests_total{code="TCP_TUNNEL",method="CONNECT"}': 1,
            'squidlike_blocked_total{category="ads"}': 1,
            "squidlike_tunnels_total": 1,
            'squidlike_service_seconds_count{kind="hit"}': 2,
            'squidlike_service_seconds_count{kind="miss"}': 2,
            "squidlike_dns_query_seconds_count": s["dns"]["queries"],
            "squidlike_origin_bytes_received_total": rq["bytes_from_origins"],
            "squidlike_tunnels": 0}
    bad = ["%s = %r, expected %r" % (k, m.get(k), v) for k, v in want.items() if m.get(k) != v]
    assert not bad, "\n  ".join(bad)

    # The HTML page: its own headers, and the numbers of status.json
    # taken around it (no traffic but the pages in between).
    assert page.status == 200 and page.reason == "OK", page.brief()
    assert page.header("Content-Type") == "text/html; charset=utf-8", page.brief()
    assert page.header("Content-Security-Policy") == CSP, page.brief()
    assert page.header("Cache-Control") == "no-store", page.brief()
    html = page.body.decode()
    v = values(html)
    assert v["hit_ratio_since_start"] == "%.6f" % s["windows"]["since_start"]["hit_ratio"], v
    assert v["hit_ratio_since_start"] == "%.6f" % s2["windows"]["since_start"]["hit_ratio"], v
    assert v["svc_hit_count_since_start"] == "2" and v["svc_miss_count_since_start"] == "2", v
    assert int(v["bandwidth_saved_bytes_since_start"]) == saved, (v, saved)
    assert v["top_requests_0"] == "4" and ">origin.test<" in html, v
    assert v["blocked_0"] == "1" and ">ads<" in html, v
    assert v["cache_objects"] == str(s["cache"]["objects"]), v
    assert v["accepting"] == "yes" and v["accept_failures"] == "0", v
    for g in ("graph_hit_ratio", "graph_requests", "graph_bandwidth"):
        assert re.search(r'<svg id="%s"[^>]*>' % g, html), g
    assert "<script" not in html and "http://" not in html.split("<footer>")[0], \
        "the page must load nothing"


class _BadPage(http.server.BaseHTTPRequestHandler):
    """A page that breaks the dashboard's own CSP with an inline script:
    the control that shows the browser check can see an error at all."""

    def do_GET(self):
        body = b"<!DOCTYPE html><html><body><script>1</script></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_page_in_chromium():
    try:
        browser.find_chromium()
    except browser.BrowserError as e:
        raise h.Skip(str(e))
    bad = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadPage)
    threading.Thread(target=bad.serve_forever, daemon=True).start()
    h.register_cleanup("bad page server", bad.shutdown)
    with browser.Browser() as b:
        _, errors = b.load("http://127.0.0.1:%d/" % bad.server_address[1], timeout=60)
        assert errors, "the browser check saw no error on a page that breaks its CSP"
        h.log("control page errors: %r" % errors)

        tls = TlsOrigin()
        mport = h.free_port()
        o, d = traffic_daemon(tls, mport)
        with d:
            make_traffic(d, o, tls)
            s = status_json(d, mport)
            dom, errors = b.load("http://127.0.0.1:%d/squidlike/status" % mport, timeout=60)
            s2 = status_json(d, mport)
    assert errors == [], "console errors on the status page: %r" % errors
    v = values(dom)
    want = "%.6f" % s["windows"]["since_start"]["hit_ratio"]
    assert want == "%.6f" % s2["windows"]["since_start"]["hit_ratio"] == "0.500000", (s, s2)
    assert v.get("hit_ratio_since_start") == want, "DOM: %r, status.json: %s" % (
        v.get("hit_ratio_since_start"), want)
    shown = re.search(r'id="hit_ratio_since_start" data-value="[^"]*">([^<]*)<', dom)
    assert shown and shown.group(1) == "50.0%", shown and shown.group(0)
    for g in ("graph_hit_ratio", "graph_requests", "graph_bandwidth"):
        assert 'id="%s"' % g in dom, "graph %s not in the DOM" % g


def test_hostile_names_escaped():
    """A host name from a request cannot inject markup into the page."""
    dns = DnsStub({})
    with Daemon(dns=dns) as d:
        # The parser takes only what a host may contain; the nastiest name
        # that gets as far as the counters still must come out escaped.
        r = synced(d, lambda: h.proxy_request(d, "GET", "http://a&b.test/"))
        # The parser takes it; the stub DNS knows no such name.
        assert r.status == 503, r.brief()
        page = synced(d, lambda: h.proxy_request(d, "GET", "/squidlike/status"))
        assert page.status == 200, page.brief()
        html = page.body.decode()
        assert "a&b.test" not in html, "an unescaped & in the page"
        assert "a&amp;b.test" in html, "the name is not on the page"


def test_manager_listener_serves_only_pages():
    mport = h.free_port()
    with Daemon({"manager.listen": ["127.0.0.1:%d" % mport]}) as d:
        for path in ("/squidlike/status", "/squidlike/status.json", "/metrics", "/proxy.pac"):
            resp = get(mport, path)
            assert resp.status == 200, "%s: %s" % (path, resp.brief())
        r = h.proxy_request(mport, "GET", "http://origin.test/")
        assert r.status == 403 and b"own pages only" in r.body, r.brief()
        r = h.proxy_request(mport, "CONNECT", "origin.test:443")
        assert r.status == 403, r.brief()
        r = h.proxy_request(mport, "POST", "/metrics", body=b"x")
        assert r.status == 403, r.brief()
        resp = get(mport, "/nothing-here")
        assert resp.status == 403, resp.brief()
        # The proxy port still serves the pages too.
        assert h.proxy_request(d, "GET", "/squidlike/status").status == 200


def test_manager_allow_sources():
    with NetNs("198.51.100.16/30") as ns:
        allow = ["127.0.0.0/8", "%s/32" % ns.ns_addr]
        with Daemon({"access.allow_sources": allow}, listen_host=ns.host_addr) as d:
            resp = get(d.port, "/squidlike/status", netns=ns.name, host=ns.host_addr)
            assert resp.status == 403, "outsider got %s" % resp.brief()
        conf = {"access.allow_sources": allow, "manager.allow_sources": ["%s/32" % ns.ns_addr]}
        with Daemon(conf, listen_host=ns.host_addr) as d:
            for path in ("/squidlike/status", "/squidlike/status.json", "/metrics"):
                resp = get(d.port, path, netns=ns.name, host=ns.host_addr)
                assert resp.status == 200, "%s from an admin network: %s" % (path, resp.brief())


def test_pages_not_served_through_a_proxy():
    """A manager page asked with a Via (through some proxy, or through us:
    a client having us fetch our own address, whose peer would then be
    this host) is refused, whoever the peer."""
    with Daemon({"access.to_localhost": "allow"}) as d:
        r = h.proxy_request(d, "GET", "/squidlike/status.json", headers=[("Via", "1.1 other")])
        assert r.status == 403 and b"Via" in r.body, r.brief()
        r = h.proxy_request(d, "GET", "http://127.0.0.1:%d/squidlike/status.json" % d.port)
        assert r.status == 403, "a self-fetch of a manager page: %s" % r.brief()
        assert b"uptime" not in r.body, r.body[:200]
        # The PAC is for every user of the proxy: Via or not.
        r = h.proxy_request(d, "GET", "/proxy.pac", headers=[("Via", "1.1 other")])
        assert r.status == 200, r.brief()


def test_manager_port_when_full():
    """With max_connections taken by proxy clients, the manager port still
    answers (it has a few connections of its own beyond the limit)."""
    mport = h.free_port()
    with Daemon({"limits.max_connections": 2, "manager.listen": ["127.0.0.1:%d" % mport]}) as d:
        held = [h.RawConn(d.port, timeout=10) for _ in range(2)]
        for c in held:          # half a head: accepted (TCP_DEFER_ACCEPT), kept open
            c.send(b"GET http://origin.test/ HTTP/1.1\r\n")
        h.wait_until(lambda: d.client_connections() >= 2, 10,
                     what="the two proxy connections to be open")
        resp = get(mport, "/squidlike/status.json")
        assert resp.status == 200, resp.brief()
        assert json.loads(resp.body.decode())["connections"]["clients"] >= 3
        for c in held:
            c.close()


def test_background_revalidation_not_counted():
    """A stale-while-revalidate hit starts a revalidation of our own: it is
    logged (from "internal") but the pages count what clients asked."""
    def handler(req):
        return Response(200, b"swr body", headers=[
            ("Cache-Control", "max-age=0, stale-while-revalidate=600"), ("ETag", '"w"')])
    o = RoutedOrigin({"/swr": handler})
    with Daemon() as d:
        url = o.url("/swr")
        assert synced(d, lambda: h.proxy_request(d, "GET", url)).status == 200
        assert synced(d, lambda: h.proxy_request(d, "GET", url)).status == 200
        h.wait_until(lambda: any(a.client == "internal" for a in
                                 map(h.parse_access_line, d.access_log_lines())), 10,
                     what="the background revalidation's log line")
        lines = [h.parse_access_line(x) for x in d.access_log_lines()]
        clients = [a for a in lines if a.client != "internal"]
        s = status_json(d, d.port)
        rq = s["requests"]
        assert (rq["total"], rq["hits"], rq["misses"]) == (len(clients), 1, 1), (rq, lines)
        assert rq["bytes_to_clients"] == sum(a.bytes for a in clients), (rq, lines)
        top = {e["host"]: e["requests"] for e in s["top_domains"]["by_requests"]}
        assert top.get("127.0.0.1") == 2, top


def test_idle_tunnel_counted():
    """A tunnel that ends by its idle timeout still counts its bytes."""
    def hello(sock, serial):
        sock.sendall(b"hello from the origin\n")
        while sock.recv(65536):
            pass
    srv = TcpServer(hello)
    with Daemon({"access.connect_ports": [srv.port], "timeouts.tunnel_idle": "1s"}) as d:
        m0 = metrics(d, d.port)
        c = h.RawConn(d.port, timeout=30)
        c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (srv.port, srv.port))
        assert c.recv_response("CONNECT").status == 200
        c.send(b"ping")
        assert c.closed(15), "the idle tunnel was not closed"
        a = d.wait_access("CONNECT", "127.0.0.1:%d" % srv.port)
        m1 = metrics(d, d.port)
        moved = lambda k: m1.get(k, 0) - m0.get(k, 0)  # noqa: E731
        assert moved("squidlike_origin_bytes_received_total") == len(b"hello from the origin\n"), (m0, m1)
        # What the client got: our 200 and the origin's line, as logged;
        # besides it only the scrapes moved the counter.
        scrape = moved('squidlike_client_bytes_total{direction="out"}') - a.bytes
        assert a.bytes > len(b"hello from the origin\n") and 0 < scrape, (a.raw, m0, m1)
        assert moved('squidlike_client_bytes_total{direction="in"}') == 4, (m0, m1)


def test_pages_answer_our_names_only():
    """DNS rebinding: a page in an admin's browser names a host of its own
    that resolves to the proxy. Our pages answer only to our own names:
    an address, localhost, visible_hostname, the machine's host name."""
    with Daemon({"visible_hostname": "proxy1.corp.example"}) as d:
        ok = ["127.0.0.1:%d" % d.port, "127.0.0.1", "localhost:%d" % d.port,
              "PROXY1.corp.example:%d" % d.port, "proxy1.corp.example.", socket.gethostname()]
        for host in ok:
            r = h.proxy_request(d, "GET", "/squidlike/status.json", headers=[("Host", host)])
            assert r.status == 200, "Host %s: %s" % (host, r.brief())
        for host in ("evil.example", "evil.example:%d" % d.port, "proxy1.corp.example.evil"):
            for path in ("/squidlike/status", "/squidlike/status.json", "/metrics"):
                r = h.proxy_request(d, "GET", path, headers=[("Host", host)])
                assert r.status == 403 and b"Host" in r.body, "Host %s %s: %s" % (
                    host, path, r.brief())
        # The PAC is fetched by any name (wpad.<domain> is one).
        r = h.proxy_request(d, "GET", "/wpad.dat", headers=[("Host", "wpad.corp.example")])
        assert r.status == 200, r.brief()


if __name__ == "__main__":
    h.run(globals(), requires=("curl",))

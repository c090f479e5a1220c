#!/usr/bin/env python3
"""Parent proxies (peers, peer_access, never_direct, always_direct): a
squidlike in front of two squidlike parents and a real Squid parent, with
scripted origins and the DNS stub for every name. Per-domain routing,
CONNECT chained through a parent to a TLS origin, a parent down (failover
to the next, then direct), never_direct with every parent down (503), the
destinations spread over two parents by hashing (and each host always to
the same one), a parent's 407 (a 502 without its realm), no client address
at the parent or the origin, the parent's login and never the client's
own credentials, /metrics and status.json rows, -k parse errors."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, ScriptedOrigin, TlsOrigin  # noqa: E402

SQUID = "/usr/sbin/squid"
CLIENT_IP = "127.0.0.2"        # the client's address, that nobody upstream may learn


def _stub(names):
    return DnsStub({n: {"A": [("127.0.0.1", 300)]} for n in names})


def _parent(name, dns, extra=None):
    """A squidlike parent: its own visible_hostname (else the child's Via
    would look like a loop to it), origins on 127.0.0.1 allowed,
    X-Forwarded-For passed as it comes (so what the child sent reaches the
    origin as it was)."""
    o = {"visible_hostname": name, "access.to_localhost": "allow",
         "http.forwarded_for": "transparent", "cache.enabled": False}
    o.update(extra or {})
    return Daemon(o, dns=dns, name=name)


def _child(dns, peers, extra=None):
    o = {"visible_hostname": "child", "access.to_localhost": "allow",
         "cache.enabled": False, "peers": peers}
    o.update(extra or {})
    return Daemon(o, dns=dns, name="child")


def _peer(name, port, **kw):
    p = {"name": name, "address": "127.0.0.1:%d" % port}
    p.update(kw)
    return p


def _dead_port():
    """A port nobody listens on (connect: refused)."""
    return h.free_port()


class Squid:
    """A real Squid as a parent: its own config in a temp dir, no cache,
    names from a hosts file (its resolver would ask port 53), foreground."""

    def __init__(self, hosts):
        if not os.access(SQUID, os.X_OK):
            raise h.Skip("squid is not installed (debian-packages: squid)")
        self.dir = h.subdir("squid")
        # it drops to its own user (proxy): its directory must be its to
        # write, and the ones above it passable
        os.chmod(self.dir, 0o777)
        up = os.path.dirname(self.dir)
        while up.startswith(h.tmpdir()) and up != "/":
            os.chmod(up, os.stat(up).st_mode | 0o111)
            up = os.path.dirname(up)
        self.port = h.free_port()
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            for n in hosts:
                f.write("127.0.0.1 %s\n" % n)
        conf = os.path.join(self.dir, "squid.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "http_port 127.0.0.1:%d" % self.port,
                "visible_hostname squidparent",
                "pid_filename %s/squid.pid" % self.dir,
                "cache_log %s/cache.log" % self.dir,
                "access_log %s/access.log squid" % self.dir,
                "cache deny all",
                "cache_mem 4 MB",
                "hosts_file %s/hosts" % self.dir,
                "dns_nameservers 127.0.0.1",
                "forwarded_for transparent",
                "http_access allow all",
                "shutdown_lifetime 1 seconds",
                "coredump_dir %s" % self.dir,
                "",
            ]))
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([SQUID, "-N", "-f", conf], cwd=self.dir,
                                     stdout=self.err, stderr=self.err)
        h.register_cleanup("squid", self.stop)
        h.wait_until(lambda: h._can_connect("127.0.0.1", self.port) or
                     self.proc.poll() is not None, 60, what="squid listening")
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
                err = f.read()
            raise h.TestFailure("squid exited with %s: %s %s" % (
                self.proc.returncode, err[-2000:], self.cache_log()[-2000:]))

    def cache_log(self):
        try:
            with open(os.path.join(self.dir, "cache.log")) as f:
                return f.read()
        except OSError:
            return ""

    def access_lines(self):
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _get(d, url, headers=(), bind=CLIENT_IP):
    return h.proxy_request(d, "GET", url, headers=headers, bind=bind, timeout=60)


def _hier(d, url, method="GET"):
    a = h.access_entries(d, method, url, n=1, timeout=20)[-1]
    return a.hierarchy if hasattr(a, "hierarchy") else a.raw.split()[8]


def _log_has(d, url):
    return any(url in ln for ln in d.access_log_lines())


# --------------------------------------------------------------------------


def test_routing_per_domain():
    o = ScriptedOrigin(lambda req: Response(200, b"from origin " + req.header("Host").encode()))
    names = ["www.a.test", "www.s.test", "other.test"]
    dns = _stub(names)
    sq = Squid(names)
    with _parent("parent-a", dns) as pa:
        peers = [_peer("pa", pa.port), _peer("sq", sq.port)]
        with _child(dns, peers, {
                "acls": [{"name": "a_dom", "type": "dstdomain", "values": [".a.test"]},
                         {"name": "s_dom", "type": "dstdomain", "values": [".s.test"]}],
                "peer_access": ["pa allow a_dom", "sq allow s_dom"]}) as d:
            for n in names:
                url = "http://%s:%d/r" % (n, o.port)
                r = _get(d, url)
                assert r.status == 200 and r.body == ("from origin %s:%d" % (n, o.port)).encode(), \
                    "%s: %s" % (n, r.brief())
            ua = "http://www.a.test:%d/r" % o.port
            us = "http://www.s.test:%d/r" % o.port
            uo = "http://other.test:%d/r" % o.port
            assert h.access_entries(d, "GET", ua, n=1)[-1].raw.split()[8] == "FIRSTUP_PARENT/pa"
            assert h.access_entries(d, "GET", us, n=1)[-1].raw.split()[8] == "FIRSTUP_PARENT/sq"
            assert h.access_entries(d, "GET", uo, n=1)[-1].raw.split()[8].startswith("HIER_DIRECT/")
            # each parent saw its own domain only, in absolute form
            pa.wait_access("GET", ua)
            assert not _log_has(pa, us) and not _log_has(pa, uo), pa.access_log_lines()
            h.wait_until(lambda: any(us in ln for ln in sq.access_lines()), 20,
                         what="squid logged %s" % us)
            assert not any(ua in ln or uo in ln for ln in sq.access_lines()), sq.access_lines()
            # the origin: three requests, the two through parents with their Via
            assert len(o.requests) == 3, o.requests
            vias = {rq.header("Host").split(":")[0]: rq.header("Via") or "" for rq in o.requests}
            assert "parent-a" in vias["www.a.test"] and "child" in vias["www.a.test"], vias
            assert "squidparent" in vias["www.s.test"], vias
            assert "parent-a" not in vias["other.test"] and "squidparent" not in vias["other.test"]


def test_connect_chained_to_tls_origin():
    t = TlsOrigin()
    dns = _stub(["tls.test"])
    sq = Squid(["tls.test"])
    with _parent("parent-a", dns, {"access.connect_ports": [t.port]}) as pa:
        for via in ("pa", "sq"):
            port = pa.port if via == "pa" else sq.port
            with _child(dns, [_peer(via, port)], {"access.connect_ports": [t.port]}) as d:
                r, resp = h.fetch("https://tls.test:%d/" % t.port, "-k", "-p", proxy=d)
                assert r.rc == 0, "curl through the chained tunnel (%s): %s" % (via, r.err)
                assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
                # one 200 from us, nothing of the parent's answer
                assert resp.blocks[0].status == 200 and len(resp.blocks) == 2, \
                    [b.brief() for b in resp.blocks]
                a = d.wait_access("CONNECT", "tls.test:%d" % t.port, "TCP_TUNNEL/200")
                assert a.raw.split()[8] == "FIRSTUP_PARENT/%s" % via, a.raw
                assert a.bytes > len(t.INDEX), a.raw
        pa.wait_access("CONNECT", "tls.test:%d" % t.port, "TCP_TUNNEL/200")
        h.wait_until(lambda: any("CONNECT tls.test:%d" % t.port in ln for ln in sq.access_lines()),
                     20, what="squid logged the CONNECT")


def test_connect_chained_after_the_sni_peek():
    """A server_name rule makes the child answer 200 and peek at the
    ClientHello first: the chained CONNECT follows the peek (no second 200
    in the tunnel), and a refused name never reaches the parent."""
    t = TlsOrigin()
    dns = _stub(["tls.test", "blocked.test"])
    with _parent("parent-a", dns, {"access.connect_ports": [t.port]}) as pa:
        with _child(dns, [_peer("pa", pa.port)], {
                "access.connect_ports": [t.port],
                "acls": [{"name": "bad_sni", "type": "server_name", "values": ["blocked.test"]}],
                "http_access": ["deny CONNECT !SSL_ports", "deny bad_sni", "allow localnet",
                                "deny all"]}) as d:
            r, resp = h.fetch("https://tls.test:%d/" % t.port, "-k", "-p", proxy=d)
            assert r.rc == 0, "curl through the peeked, chained tunnel: %s" % r.err
            assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
            assert len(resp.blocks) == 2, [b.brief() for b in resp.blocks]
            a = d.wait_access("CONNECT", "tls.test:%d" % t.port, "TCP_TUNNEL/200")
            assert a.raw.split()[8] == "FIRSTUP_PARENT/pa", a.raw
            pa.wait_access("CONNECT", "tls.test:%d" % t.port, "TCP_TUNNEL/200")
            r = h.curl("-k", "-p", "-o", "/dev/null", "https://blocked.test:%d/" % t.port,
                       proxy=d)
            assert r.rc != 0, "a refused server name got through"
            d.wait_access("CONNECT", "blocked.test:%d" % t.port, "TCP_DENIED")
            assert not _log_has(pa, "blocked.test"), pa.access_log_lines()


def test_failover_then_direct():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    hosts = ["h%d.fail.test" % i for i in range(30)]
    dns = _stub(hosts)
    dead = _dead_port()
    with _parent("parent-b", dns) as pb:
        with _child(dns, [_peer("dead", dead, eject_time="60s"), _peer("pb", pb.port)]) as d:
            # each host's first choice is one or the other: some go to the
            # dead one first and fail over to pb; none reaches the client
            for n in hosts:
                r = _get(d, "http://%s:%d/x" % (n, o.port))
                assert r.status == 200 and r.body == b"ok", "%s: %s" % (n, r.brief())
            for n in hosts:
                hier = h.access_entries(d, "GET", "http://%s:%d/x" % (n, o.port), n=1)[-1].raw.split()[8]
                assert hier in ("CARP/pb", "FIRSTUP_PARENT/pb"), hier
            assert len(o.requests) == 30
            assert all("parent-b" in (rq.header("Via") or "") for rq in o.requests)
            m = h.fetch("http://127.0.0.1:%d/metrics" % d.port)[1].body.decode()
            assert 'squidlike_peer_failures_total{peer="dead"} 1\n' in m, \
                [ln for ln in m.splitlines() if "peer" in ln]
            assert 'squidlike_peer_ejections_total{peer="dead"} 1\n' in m
            assert 'squidlike_peer_up{peer="dead"} 0\n' in m
            assert 'squidlike_peer_up{peer="pb"} 1\n' in m
            assert 'squidlike_peer_requests_total{peer="pb"} 30\n' in m
            st = json.loads(h.fetch("http://127.0.0.1:%d/squidlike/status.json" % d.port)[1].body)
            rows = {p["name"]: p for p in st["peers"]}
            assert rows["dead"]["state"] == "ejected" and rows["dead"]["failures"] == 1, rows
            assert rows["pb"]["state"] == "up" and rows["pb"]["requests"] == 30, rows
            page = h.fetch("http://127.0.0.1:%d/squidlike/status" % d.port)[1].body.decode()
            assert re.search(r'id="peer_0_state" data-value="ejected"', page), page[-3000:]
            assert 'id="peer_1_requests" data-value="30"' in page
        # the second parent goes down too: direct
        pb.stop()
        with _child(dns, [_peer("dead", dead), _peer("pb", pb.port)]) as d:
            url = "http://h1.fail.test:%d/y" % o.port
            r = _get(d, url)
            assert r.status == 200 and r.body == b"ok", r.brief()
            assert h.access_entries(d, "GET", url, n=1)[-1].raw.split()[8].startswith("HIER_DIRECT/")
            assert "child" in o.requests[-1].header("Via") and "parent" not in o.requests[-1].header("Via")



def test_parent_closing_before_answering_fails_over():
    """A parent that takes the connection and the request, then closes
    without a word: an idempotent request goes to the next hop (counted
    against that parent), a POST is not sent twice."""
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    rude = ScriptedOrigin(lambda req: b"", name="rude-parent")     # closes at once
    dns = _stub(["rude.test"])
    with _child(dns, [_peer("rude", rude.port)]) as d:
        url = "http://rude.test:%d/get" % o.port
        r = _get(d, url)
        assert r.status == 200 and r.body == b"ok", r.brief()
        assert [q.target for q in rude.requests] == [url], rude.requests
        assert h.access_entries(d, "GET", url, n=1)[-1].raw.split()[8].startswith("HIER_DIRECT/")
        m = h.fetch("http://127.0.0.1:%d/metrics" % d.port)[1].body.decode()
        assert 'squidlike_peer_failures_total{peer="rude"} 1\n' in m, \
            [ln for ln in m.splitlines() if "peer" in ln]
    rude2 = ScriptedOrigin(lambda req: b"", name="rude-parent-2")
    with _child(dns, [_peer("rude", rude2.port)]) as d:
        with h.RawConn(d.port) as c:
            c.send(h.build_request("POST", "http://rude.test:%d/post" % o.port,
                                   [("Host", "rude.test")], b"once"))
            r = c.recv_response()
        assert r.status == 502, r.brief()
        assert len(rude2.requests) == 1 and not any(q.target.endswith("/post") for q in o.requests)

def test_never_direct_all_down_503():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    dns = _stub(["nd.test"])
    with _child(dns, [_peer("p1", _dead_port()), _peer("p2", _dead_port())],
                {"never_direct": ["allow all"]}) as d:
        url = "http://nd.test:%d/z" % o.port
        for _ in range(2):      # tried, then (ejected) tried anyway: no direct
            r = _get(d, url)
            assert r.status == 503, r.brief()
            body = r.body.decode()
            assert "ERR_CANNOT_FORWARD" in (r.header("X-Squidlike-Error") or ""), r.brief()
            assert "No parent proxy could take the request" in body, body
            assert "p1" in body and "p2" in body, body
        assert o.requests == [], "the origin was reached: %s" % o.requests
        a = h.access_entries(d, "GET", url, n=2)[-1]
        assert a.status == 503, a.raw
    # no parent may take it at all (peer_access): 503 at once
    with _child(dns, [_peer("p1", _dead_port())],
                {"never_direct": ["allow all"], "peer_access": ["p1 deny all"]}) as d:
        r = _get(d, "http://nd.test:%d/z" % o.port)
        assert r.status == 503 and "never_direct" in r.body.decode(), r.brief()
        assert o.requests == []


def test_hashing_spreads_destinations():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    hosts = ["s%03d.spread.test" % i for i in range(100)]
    dns = _stub(hosts)
    with _parent("parent-a", dns) as pa, _parent("parent-b", dns) as pb:
        with _child(dns, [_peer("pa", pa.port), _peer("pb", pb.port)]) as d:
            first = {}
            for rnd in range(2):
                for n in hosts:
                    url = "http://%s:%d/%d" % (n, o.port, rnd)
                    r = _get(d, url)
                    assert r.status == 200, r.brief()
                    hier = h.access_entries(d, "GET", url, n=1)[-1].raw.split()[8]
                    assert hier in ("CARP/pa", "CARP/pb"), hier
                    if rnd == 0:
                        first[n] = hier
                    else:
                        assert first[n] == hier, "%s went to %s, then %s" % (n, first[n], hier)
            share = sum(1 for v in first.values() if v == "CARP/pa")
            h.log("pa took %d of 100 hosts, pb %d" % (share, 100 - share))
            assert 25 <= share <= 75, "a lopsided split: pa %d of 100" % share
            # the parents agree with the child's log
            pa.access_log_lines(lambda ls: len(ls) >= 2 * share, 20)
            la = pa.access_log_lines()
            for n in hosts:
                at_a = any("http://%s:%d/0" % (n, o.port) in ln for ln in la)
                assert at_a == (first[n] == "CARP/pa"), n


def test_parent_407_is_502_without_realm():
    realm = "Secret-Parent-Realm"
    fake = ScriptedOrigin(lambda req: Response(
        407, b"<html>login at " + realm.encode() + b"</html>",
        headers=[("Proxy-Authenticate", 'Basic realm="%s"' % realm)]))
    dns = _stub(["p407.test"])
    with _child(dns, [_peer("fake", fake.port, login="us:wrong")],
                {"never_direct": ["allow all"]}) as d:
        r = _get(d, "http://p407.test/x")
        assert r.status == 502, r.brief()
        assert realm not in r.body.decode() and realm not in str(r.headers), r.brief()
        assert r.header("Proxy-Authenticate") is None, r.headers
        assert "ERR_PEER_AUTH" in (r.header("X-Squidlike-Error") or "")
        assert "refused this proxy's credentials" in r.body.decode()
        assert fake.requests[0].target == "http://p407.test/x", fake.requests[0]
        # CONNECT: the same 502
        c = h.RawConn(d.port, bind=CLIENT_IP, timeout=30)
        c.send("CONNECT p407.test:443 HTTP/1.1\r\nHost: p407.test:443\r\n\r\n")
        r = c.recv_response("CONNECT")
        assert r.status == 502 and realm not in r.body.decode(), r.brief()
        assert r.header("Proxy-Authenticate") is None
        c.close()
        assert fake.requests[-1].method == "CONNECT"


def test_no_client_address_upstream():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    dns = _stub(["noaddr.test"])
    spoof = [("X-Forwarded-For", CLIENT_IP), ("Forwarded", "for=%s" % CLIENT_IP),
             ("X-Real-IP", CLIENT_IP)]
    with _parent("parent-a", dns) as pa:
        with _child(dns, [_peer("pa", pa.port)]) as d:
            r = _get(d, "http://noaddr.test:%d/a" % o.port, headers=spoof)
            assert r.status == 200, r.brief()
            got = o.requests[-1]
            assert CLIENT_IP not in str(got.headers), got.headers
            assert "parent-a" in got.header("Via")
    # the headers the parent itself got
    fake = ScriptedOrigin(lambda req: Response(200, b"ok"))
    with _child(dns, [_peer("fake", fake.port)]) as d:
        r = _get(d, "http://noaddr.test/b", headers=spoof)
        assert r.status == 200, r.brief()
        got = fake.requests[-1]
        assert got.target == "http://noaddr.test/b", got.target
        assert CLIENT_IP not in str(got.headers), got.headers
        assert got.header("Host") == "noaddr.test"
    # unless the admin asks for it
    with _child(dns, [_peer("fake", fake.port)], {"http.forwarded_for": "on"}) as d:
        r = _get(d, "http://noaddr.test/c")
        assert r.status == 200 and fake.requests[-1].header("X-Forwarded-For") == CLIENT_IP


def test_login_reaches_parent_not_clients_credentials():
    fake = ScriptedOrigin(lambda req: Response(200, b"ok"))
    dns = _stub(["login.test"])
    mine = "Basic " + base64.b64encode(b"alice:client-secret").decode()
    with _child(dns, [_peer("fake", fake.port, login="squidlike:s3cret")]) as d:
        r = _get(d, "http://login.test/x", headers=[("Proxy-Authorization", mine)])
        assert r.status == 200, r.brief()
        got = fake.requests[-1]
        vals = [v for k, v in got.headers if k.lower() == "proxy-authorization"]
        assert vals == ["Basic " + base64.b64encode(b"squidlike:s3cret").decode()], got.headers
        assert "client-secret" not in str(got.headers) and "alice" not in str(got.headers)
        # a kept-alive connection to the parent is reused and still carries it
        r = _get(d, "http://login.test/y")
        got = fake.requests[-1]
        assert [v for k, v in got.headers if k.lower() == "proxy-authorization"] == vals
        assert got.conn_serial == fake.requests[-2].conn_serial, "parent connection not pooled"
        # CONNECT carries it too
        c = h.RawConn(d.port, timeout=30)
        c.send("CONNECT login.test:443 HTTP/1.1\r\nHost: login.test:443\r\n"
               "Proxy-Authorization: %s\r\n\r\n" % mine)
        h.wait_until(lambda: fake.requests[-1].method == "CONNECT", 20, what="CONNECT at the parent")
        got = fake.requests[-1]
        assert [v for k, v in got.headers if k.lower() == "proxy-authorization"] == vals
        assert got.target == "login.test:443"
        c.close()


def test_always_direct_and_pool_apart():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    fake = ScriptedOrigin(lambda req: Response(200, b"via fake"))
    dns = _stub(["ad.test", "intranet.test"])
    with _child(dns, [_peer("fake", fake.port)], {
            "acls": [{"name": "intra", "type": "dstdomain", "values": ["intranet.test"]}],
            "always_direct": ["allow intra"]}) as d:
        r = _get(d, "http://intranet.test:%d/" % o.port)
        assert r.status == 200 and r.body == b"ok", r.brief()
        r = _get(d, "http://ad.test:%d/" % o.port)
        assert r.body == b"via fake", r.brief()
        # to the origin's own host:port: a connection to the parent is not
        # taken for it (its own pool key)
        r = _get(d, "http://intranet.test:%d/2" % o.port)
        assert r.body == b"ok", r.brief()
        assert len(o.requests) == 2 and len(fake.requests) == 1


def test_tls_to_parent():
    t = TlsOrigin()         # nginx over TLS stands in for an HTTPS proxy: it
    dns = _stub(["tp.test"])    # answers "GET http://tp.test/" with its index
    o = ScriptedOrigin(lambda req: Response(200, b"direct"))
    good = _peer("tp", t.port, tls=True, tls_ca=t.cert, tls_name="localhost")
    with _child(dns, [good]) as d:
        r = _get(d, "http://tp.test:%d/" % o.port)
        assert r.status == 200 and r.body == t.INDEX, r.brief()
        assert h.access_entries(d, "GET", "http://tp.test:%d/" % o.port, n=1)[-1] \
            .raw.split()[8] == "FIRSTUP_PARENT/tp"
        assert o.requests == []
    # a certificate that does not name it: the parent failed, the origin answers
    bad = _peer("tp", t.port, tls=True, tls_ca=t.cert, tls_name="other.test")
    with _child(dns, [bad]) as d:
        r = _get(d, "http://tp.test:%d/" % o.port)
        assert r.status == 200 and r.body == b"direct", r.brief()
        h.wait_until(lambda: "TLS to parent" in d.output(), 20, what="the TLS failure logged")
        assert "parent tp (127.0.0.1:%d) failed: TLS" % t.port in d.output(), d.output()[-2000:]


def test_bodies_through_a_parent():
    """A POST body streamed through both proxies and a chunked response
    back, three times on one client connection, for two hosts."""
    def handler(req):
        return Response(200, req.body_sha256.encode() * 200, chunked=True, chunk_size=1000)
    o = ScriptedOrigin(handler)
    dns = _stub(["b1.test", "b2.test"])
    body = h.pattern_bytes(300 * 1024)
    with _parent("parent-a", dns) as pa:
        with _child(dns, [_peer("pa", pa.port)]) as d:
            with h.RawConn(d.port, timeout=60) as c:
                for n in ("b1.test", "b2.test", "b1.test"):
                    c.send(h.build_request("POST", "http://%s:%d/up" % (n, o.port),
                                           [("Content-Type", "application/octet-stream")], body))
                    r = c.recv_response("POST")
                    assert r.status == 200, r.brief()
                    assert r.body == h.sha256(body).encode() * 200, len(r.body)
            assert [rq.body_len for rq in o.requests] == [len(body)] * 3
            assert all(rq.body_sha256 == h.sha256(body) for rq in o.requests)
            pa.wait_access("POST", "http://b2.test:%d/up" % o.port)


def test_reload_changes_routes_keeps_state():
    o = ScriptedOrigin(lambda req: Response(200, b"ok"))
    fa = ScriptedOrigin(lambda req: Response(200, b"via a"), name="fake-a")
    fb = ScriptedOrigin(lambda req: Response(200, b"via b"), name="fake-b")
    hosts = ["rl%d.test" % i for i in range(10)]
    dns = _stub(hosts)
    dead = _dead_port()
    peers = [_peer("a", fa.port), _peer("b", fb.port), _peer("dead", dead, eject_time="60s")]
    with _child(dns, peers, {"peer_access": ["b deny all", "dead allow all"]}) as d:
        # a and dead may take them: the first host whose first choice is
        # dead ejects it (the names are fixed: the same ones every run)
        for n in hosts:
            r = _get(d, "http://%s/1" % n)
            assert r.body == b"via a", r.brief()
        d.write_conf({"peers": peers, "peer_access": ["a deny all", "dead deny all"]})
        assert d.reload() == "reloaded", d.last_reload_line
        r = _get(d, "http://rl0.test/2")
        assert r.body == b"via b", r.brief()
        st = json.loads(h.fetch("http://127.0.0.1:%d/squidlike/status.json" % d.port)[1].body)
        rows = {p["name"]: p for p in st["peers"]}
        # what was known of each parent is kept (by name)
        assert rows["a"]["requests"] == 10 and rows["b"]["requests"] == 1, rows
        assert rows["dead"]["failures"] == 1 and rows["dead"]["state"] == "ejected", rows


def test_parse_errors():
    d = Daemon(start=False)
    cases = [
        ({"peers": [{"name": "a"}]}, "has no 'address'"),
        ({"peers": [{"name": "a", "address": "p.test"}]}, "the port is required"),
        ({"peers": [{"name": "a", "address": "p.test:99999"}]}, "1 to 65535"),
        ({"peers": [{"name": "a", "address": "p.test:3128", "login": "nocolon"}]},
         "user:password"),
        ({"peers": [{"name": "a", "address": "p.test:3128"},
                    {"name": "a", "address": "q.test:3128"}]}, "two peers named 'a'"),
        ({"peers": [{"name": "a", "address": "p.test:3128", "colour": 1}]},
         "unknown setting 'colour'"),
        ({"peers": [{"name": "a", "address": "p.test:3128"}],
          "peer_access": ["b allow all"]}, "unknown peer 'b'"),
        ({"peers": [{"name": "a", "address": "p.test:3128"}],
          "peer_access": ["a allow nosuchacl"]}, "nosuchacl"),
        ({"never_direct": ["maybe all"]}, "never_direct"),
    ]
    for over, want in cases:
        d.write_conf(over)
        r = subprocess.run([d.binary, "-k", "parse", "-f", d.conf_path],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, "accepted: %s" % over
        assert want in r.stderr and re.search(r"squidlike\.conf:\d+:", r.stderr), \
            "%s: %s" % (want, r.stderr)


h.run(globals())

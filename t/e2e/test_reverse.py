#!/usr/bin/env python3
"""Reverse mode (issue 11): the daemon in front of the company's own
servers. Virtual hosts and routes (prefix, regex, rewrite, the default
vhost, unknown Hosts), balancing over real nginx backends (round-robin
spread, weights, least connections, consistent hashing and what moves when
a backend leaves), what the backends learn of the client (X-Forwarded-For,
Forwarded, X-Forwarded-Proto/-Host, X-Request-Id; spoofed fields from
untrusted clients replaced), what the clients learn of the backends
(Server and kin removed, error pages that name no backend), the cache in
front of the servers (its own key space, per-route cache off and TTL,
PURGE), a garbage-answering backend, and the config errors -k parse names."""

import collections
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NginxOrigin, Response, ScriptedOrigin  # noqa: E402


def rev_conf(port, pools, vhosts, **extra):
    """reverse: { ... } overrides for Daemon; pools {name: (balance,
    [backends], hash)} ; vhosts: list of dicts as in the config."""
    pl = []
    for name, spec in pools.items():
        balance, backends = spec[0], spec[1]
        g = {"name": name, "balance": balance, "backends": backends}
        if len(spec) > 2 and spec[2]:
            g["hash"] = spec[2]
        pl.append(g)
    r = {"listen": ["127.0.0.1:%d" % port], "pools": pl, "vhosts": vhosts}
    r.update(extra)
    return {"reverse": r}


def get(port, host, path, headers=(), method="GET", body=b"", conn=None):
    """One origin-form request to the reverse listener (a fresh connection
    unless conn)."""
    hdrs = ([("Host", host)] if host is not None else []) + list(headers)
    if conn is not None:
        conn.send(h.build_request(method, path, hdrs, body))
        return conn.recv_response(method)
    if "connection" not in {k.lower() for k, _ in hdrs}:
        hdrs.append(("Connection", "close"))
    with h.RawConn(port) as c:
        c.send(h.build_request(method, path, hdrs, body))
        return c.recv_response(method)


def echo(name):
    """A backend that says who it is and what it got."""
    def handler(req):
        return Response(200, ("%s %s %s host=%s" % (name, req.method, req.target,
                                                  req.header("Host"))).encode(),
                        headers=[("Content-Type", "text/plain"),
                                 ("Cache-Control", "no-store")])
    return handler


def nginx_backends(n):
    """n nginx backends, each serving /who (its name, no-store) and more."""
    out = []
    for i in range(n):
        name = "b%d" % i
        o = NginxOrigin(big_size=1, name="nginx-" + name,
                        files={"who": name.encode(), "item/x": b"x"},
                        server_conf="    add_header Cache-Control no-store;\n"
                                    "    add_header X-Powered-By PHP/5.1;\n")
        o.name = name
        out.append(o)
    return out


def counts_of(bodies, names):
    return {n: sum(1 for b in bodies if b == n.encode()) for n in names}


# --- routing ------------------------------------------------------------

def test_vhosts_routes_rewrite():
    www, api1, api2, other = (ScriptedOrigin(echo(n)) for n in ("www", "api1", "api2", "other"))
    port = h.free_port()
    be = lambda o: ["127.0.0.1:%d" % o.port]  # noqa: E731
    conf = rev_conf(port, {"www": ("round-robin", be(www)), "api1": ("round-robin", be(api1)),
                           "api2": ("round-robin", be(api2)),
                           "other": ("round-robin", be(other))}, [
        {"names": ["www.corp.example", "corp.example"],
         "routes": [{"prefix": "/api/v1/", "rewrite": "/", "pool": "api1"},
                    {"prefix": "/api/v2/", "rewrite": "/v2/", "pool": "api2"},
                    {"regex": "^/u/([0-9]+)$", "rewrite": "/users/$1", "pool": "api2"},
                    {"prefix": "/", "pool": "www"}]},
        {"names": ["*.apps.corp.example"],
         "routes": [{"prefix": "/only/", "pool": "other"}]},
    ], unknown_host=421)
    with Daemon(conf) as d:
        cases = [
            ("www.corp.example", "/index.html", 200, "www GET /index.html"),
            ("WWW.Corp.Example.:80", "/x?q=1", 200, "www GET /x?q=1"),
            ("corp.example", "/api/v1/users?id=3", 200, "api1 GET /users?id=3"),
            ("www.corp.example", "/api/v2/users", 200, "api2 GET /v2/users"),
            ("www.corp.example", "/u/42", 200, "api2 GET /users/42"),
            ("www.corp.example", "/u/42x", 200, "www GET /u/42x"),
            ("a.apps.corp.example", "/only/z", 200, "other GET /only/z"),
            ("a.b.apps.corp.example", "/only/z", 200, "other GET /only/z"),
            ("apps.corp.example", "/only/z", 421, None),        # not the bare suffix
            ("a.apps.corp.example", "/elsewhere", 404, None),   # vhost, no route
            ("evil.example", "/index.html", 421, None),
            ("www.corp.example@evil", "/", 421, None),
            ("", "/", 421, None),
        ]
        for host, path, status, want in cases:
            r = get(port, host, path)
            assert r.status == status, "%s %s: %s" % (host, path, r.brief())
            if want:
                assert r.body.decode().startswith(want + " "), (host, path, r.body)
            else:
                for o in (www, api1, api2, other):
                    assert str(o.port).encode() not in r.body, r.body
        # The backend got the client's Host (preserve_host, the default).
        assert api1.requests[-1].header("Host") == "corp.example"
        # absolute-form: the authority wins over Host (RFC 9112 3.2.2)
        with h.RawConn(port) as c:
            c.send(b"GET http://www.corp.example/api/v1/abs HTTP/1.1\r\n"
                   b"Host: evil.example\r\nConnection: close\r\n\r\n")
            r = c.recv_response()
        assert r.status == 200 and r.body.startswith(b"api1 GET /abs "), r.brief()
        # HTTP/1.1 without Host: 400; CONNECT: refused
        with h.RawConn(port) as c:
            c.send(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert c.recv_response().status == 400
        with h.RawConn(port) as c:
            c.send(b"CONNECT www.corp.example:443 HTTP/1.1\r\nHost: www.corp.example:443\r\n\r\n")
            assert c.recv_response("CONNECT").status == 405
        # The forward listener is not a way in: it is still a proxy (it
        # refuses an origin-form request), and the reverse listener is
        # not a proxy (no manager pages, no absolute URL to elsewhere).
        r = get(d.port, "www.corp.example", "/index.html")
        assert r.status == 400, r.brief()
        r = get(port, "www.corp.example", "/squidlike-status")
        assert r.status == 200 and r.body.startswith(b"www GET /squidlike-status"), r.brief()
        with h.RawConn(port) as c:
            c.send(("GET http://127.0.0.1:%d/secret HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Connection: close\r\n\r\n" % (www.port, www.port)).encode())
            assert c.recv_response().status == 421
        assert not any(q.target == "/secret" for q in www.requests)
        d.wait_access("GET http://www.corp.example/index.html")


def test_default_vhost_and_unknown_404():
    a, b = ScriptedOrigin(echo("a")), ScriptedOrigin(echo("b"))
    port = h.free_port()
    conf = rev_conf(port, {"a": ("round-robin", ["127.0.0.1:%d" % a.port]),
                           "b": ("round-robin", ["127.0.0.1:%d" % b.port])}, [
        {"names": ["a.example"], "routes": [{"prefix": "/", "pool": "a"}]},
        {"names": ["b.example"], "default": True, "routes": [{"prefix": "/", "pool": "b"}]},
    ])
    with Daemon(conf) as d:
        for host in ("a.example", "A.EXAMPLE:8080"):
            r = get(port, host, "/p")
            assert r.status == 200 and r.body.startswith(b"a GET /p "), (host, r.brief())
        for host in ("nobody.example", "a b", "[::1]", "a.example:x", '"quoted"'):
            r = get(port, host, "/p")
            assert r.status == 200 and r.body.startswith(b"b GET /p "), (host, r.brief())
        assert b.requests[-1].header("Forwarded") == \
            'for=127.0.0.1;proto=http;host="\\"quoted\\""', b.requests[-1].headers
        # a control character never gets this far: the parser's 400;
        # a Host longer than any name is refused, not cut to one
        assert get(port, "a.example\x01", "/p").status == 400
        assert get(port, "x" * 250 + ".a.example", "/p").status == 400
    conf["reverse"]["vhosts"][1].pop("default")
    conf["reverse"]["unknown_host"] = 404
    with Daemon(conf) as d:
        r = get(port, "nobody.example", "/p")
        assert r.status == 404, r.brief()
        d.wait_access("nobody.example")


# --- balancing over real nginx backends -----------------------------------

def test_round_robin_spread_and_weights():
    bs = nginx_backends(3)
    names = [o.name for o in bs]
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port for o in bs])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        bodies = []
        with h.RawConn(port) as c:
            for i in range(300):
                r = get(port, "app.example", "/who", conn=c)
                assert r.status == 200, r.brief()
                bodies.append(r.body)
        got = counts_of(bodies, names)
        h.log("round-robin over 3 nginx: %r" % got)
        assert all(abs(v - 100) <= 1 for v in got.values()), got
        # interleaved, not in runs: no backend twice in a row
        assert all(bodies[i] != bodies[i + 1] for i in range(299)), bodies[:12]
    conf["reverse"]["pools"][0]["backends"] = ["127.0.0.1:%d weight=%d" % (o.port, w)
                                               for o, w in zip(bs, (1, 2, 3))]
    with Daemon(conf) as d:
        bodies = [get(port, "app.example", "/who").body for _ in range(300)]
        got = counts_of(bodies, names)
        h.log("weights 1/2/3: %r" % got)
        assert got == {"b0": 50, "b1": 100, "b2": 150}, got


def test_least_conn_avoids_the_slow_backend():
    slow = ScriptedOrigin(lambda req: Response(200, b"slow", delay=1.5))
    fast = ScriptedOrigin(lambda req: Response(200, b"fast"))
    port = h.free_port()
    conf = rev_conf(port, {"app": ("least-conn", ["127.0.0.1:%d" % slow.port,
                                                  "127.0.0.1:%d" % fast.port])},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/", "pool": "app", "cache": False}]}])
    with Daemon(conf) as d:
        results = []
        lock = threading.Lock()

        def worker(n):
            for i in range(n):
                r = get(port, "app.example", "/w")
                with lock:
                    results.append(r.body)

        ts = [threading.Thread(target=worker, args=(10,)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert len(results) == 40, len(results)
        n_slow = results.count(b"slow")
        h.log("least-conn, 4 clients x 10: slow %d, fast %d" % (n_slow, 40 - n_slow))
        # Round-robin would give the slow one 20; while it holds a request
        # nothing else goes there, so it gets about one per 1.5 s per client
        # that finds it idle.
        assert 1 <= n_slow <= 8, n_slow


def test_consistent_hash_remaps_about_one_third():
    bs = nginx_backends(3)
    names = [o.name for o in bs]
    port = h.free_port()
    conf = rev_conf(port, {"app": ("hash", ["127.0.0.1:%d" % o.port for o in bs], "uri")},
                    [{"names": ["app.example"],
                      "routes": [{"regex": "^/k/[0-9]+$", "rewrite": "/who", "pool": "app"}]}])
    keys = ["/k/%d" % i for i in range(600)]
    with Daemon(conf) as d:
        with h.RawConn(port) as c:
            before = [get(port, "app.example", k, conn=c).body.decode() for k in keys]
        again = [get(port, "app.example", k).body.decode() for k in keys[:50]]
        assert again == before[:50], "the same URI went to another backend"
        share = {n: before.count(n) for n in names}
        h.log("hash by uri, 600 keys over 3: %r" % share)
        assert all(130 <= v <= 270 for v in share.values()), share
        # b1 leaves the pool (a reload): only its keys move.
        conf["reverse"]["pools"][0]["backends"] = ["127.0.0.1:%d" % o.port
                                                   for o in (bs[0], bs[2])]
        d.write_conf(conf)
        d.reload()
        with h.RawConn(port) as c:
            after = [get(port, "app.example", k, conn=c).body.decode() for k in keys]
        moved = sum(1 for x, y in zip(before, after) if x != y)
        wrongly = sum(1 for x, y in zip(before, after) if x != y and x != "b1")
        h.log("b1 removed: %d of 600 keys moved (b1 had %d), %d of the others moved"
              % (moved, share["b1"], wrongly))
        assert wrongly == 0, wrongly
        assert moved == share["b1"], (moved, share)
        assert "b1" not in after


def test_hash_by_header_and_client():
    bs = [ScriptedOrigin(echo("h%d" % i)) for i in range(3)]
    port = h.free_port()
    conf = rev_conf(port, {"byuser": ("hash", ["127.0.0.1:%d" % o.port for o in bs],
                                      "header X-User"),
                           "byclient": ("hash", ["127.0.0.1:%d" % o.port for o in bs],
                                        "client")},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/u/", "pool": "byuser", "cache": False},
                                 {"prefix": "/", "pool": "byclient", "cache": False}]}])
    with Daemon(conf) as d:
        owner = {}
        for rnd in range(2):
            for u in range(30):
                r = get(port, "app.example", "/u/%d-%d" % (u, rnd), [("X-User", "user%d" % u)])
                who = r.body.split()[0]
                assert owner.setdefault(u, who) == who, (u, owner[u], who)
        assert len(set(owner.values())) >= 2, owner      # 30 users spread
        whos = {get(port, "app.example", "/c%d" % i).body.split()[0] for i in range(20)}
        assert len(whos) == 1, whos       # one client address, one backend


# --- who learns what --------------------------------------------------------

def test_client_identity_for_backends():
    o = ScriptedOrigin(echo("o"))
    port = h.free_port()
    base = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app",
                                                            "cache": False}]}])
    with Daemon(base) as d:
        r = get(port, "app.example", "/id", [
            ("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"),
            ("X-Real-IP", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example")])
        assert r.status == 200
        q = o.requests[-1]
        assert q.header("X-Forwarded-For") == "127.0.0.1", q.headers
        assert q.header("Forwarded") == 'for=127.0.0.1;proto=http;host="app.example"', q.headers
        assert q.header("X-Real-IP") is None, q.headers
        assert q.header("X-Forwarded-Proto") == "http", q.headers
        assert q.header("X-Forwarded-Host") == "app.example", q.headers
        rid = q.header("X-Request-Id")
        assert rid and len(rid) == 32 and int(rid, 16) >= 0, q.headers
        get(port, "app.example", "/id2")
        assert o.requests[-1].header("X-Request-Id") not in (None, rid)
        get(port, "app.example", "/id3", [("X-Request-Id", "abc-123")])
        assert o.requests[-1].header("X-Request-Id") == "abc-123"
        assert len([v for k, v in o.requests[-1].headers if k.lower() == "x-request-id"]) == 1
    trusted = dict(base)
    trusted["reverse"] = dict(base["reverse"], trusted_proxies=["127.0.0.0/8"])
    with Daemon(trusted) as d:
        get(port, "app.example", "/t", [("X-Forwarded-For", "203.0.113.7"),
                                        ("X-Forwarded-Proto", "https")])
        q = o.requests[-1]
        assert q.header("X-Forwarded-For") == "203.0.113.7, 127.0.0.1", q.headers
        assert q.header("X-Forwarded-Proto") == "https", q.headers
    off = dict(base)
    off["reverse"] = dict(base["reverse"], forwarded_for=False, forwarded=False,
                          x_forwarded_proto=False, x_forwarded_host=False,
                          request_id=False, preserve_host=False)
    with Daemon(off) as d:
        get(port, "app.example", "/off", [("X-Forwarded-For", "6.6.6.6")])
        q = o.requests[-1]
        for f in ("X-Forwarded-For", "Forwarded", "X-Forwarded-Proto",
                  "X-Forwarded-Host", "X-Request-Id"):
            assert q.header(f) is None, (f, q.headers)
        assert q.header("Host") == "app", q.headers      # the pool's name


def test_backends_hidden_from_clients():
    o = ScriptedOrigin(lambda req: Response(200, b"page", headers=[
        ("Server", "Apache/2.2.3 (CentOS)"), ("X-Powered-By", "PHP/5.1"),
        ("X-Backend", "node-7"), ("Content-Type", "text/plain")]))
    port = h.free_port()
    dead = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port]),
                           "dead": ("round-robin", ["127.0.0.1:%d" % dead])},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/dead/", "pool": "dead"},
                                 {"prefix": "/", "pool": "app", "cache": False,
                                  "response_headers": {"remove": ["X-Backend"],
                                                       "add": ["X-Frame-Options: DENY"]},
                                  "request_headers": {"add": ["X-From-Edge: 1"],
                                                      "remove": ["Cookie"]}}]}])
    with Daemon(conf) as d:
        r = get(port, "app.example", "/p", [("Cookie", "s=1")])
        assert r.status == 200 and r.body == b"page"
        for f in ("Server", "X-Powered-By", "X-Backend"):
            assert r.header(f) is None, (f, r.headers)
        assert r.header("X-Frame-Options") == "DENY", r.headers
        assert r.header("Via") is None, r.headers       # reverse.via off
        q = o.requests[-1]
        assert q.header("X-From-Edge") == "1" and q.header("Cookie") is None, q.headers
        r = get(port, "app.example", "/dead/x")
        assert r.status == 502, r.brief()
        page = r.raw_head.decode("latin-1") + r.body.decode("latin-1")
        assert str(dead) not in page and "127.0.0.1" not in page, page
        d.wait_access("/dead/x")


def test_garbage_backend_502_connection_not_reused():
    calls = []

    def handler(req):
        calls.append(req.target)
        if req.target == "/bad":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"
        return Response(200, b"ok", headers=[("Cache-Control", "no-store")])
    o = ScriptedOrigin(handler)
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        assert get(port, "app.example", "/ok").status == 200
        r = get(port, "app.example", "/bad")
        assert r.status == 502, r.brief()
        r = get(port, "app.example", "/ok2")
        assert r.status == 200, r.brief()
        serial = {q.target: q.conn_serial for q in o.requests}
        assert serial["/ok2"] != serial["/bad"], serial


# --- the cache in front of the servers ---------------------------------------

def test_reverse_cache_hit_ttl_purge_and_key_space():
    n = {"c": 0}

    def handler(req):
        n["c"] += 1
        if req.target.startswith("/plain"):
            return Response(200, b"plain %d" % n["c"], headers=[("Content-Type", "text/plain")])
        return Response(200, b"v%d" % n["c"], headers=[("Cache-Control", "max-age=60"),
                                                       ("Content-Type", "text/plain")])
    o = ScriptedOrigin(handler)
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/nocache/", "pool": "app", "cache": False},
                                 {"prefix": "/plain", "pool": "app", "cache_ttl": 300},
                                 {"prefix": "/", "pool": "app"}]}])
    conf["cache.purge_from"] = ["127.0.0.1/32"]
    with Daemon(conf) as d:
        r1 = get(port, "app.example", "/page")
        r2 = get(port, "app.example", "/page")
        assert r1.body == r2.body == b"v1", (r1.body, r2.body)
        assert "hit" in (r2.header("Cache-Status") or ""), r2.headers
        assert len([q for q in o.requests if q.target == "/page"]) == 1
        # Another vhost name is another key; the forward side never sees
        # the reverse side's objects (the same URL through the proxy goes
        # to the origin it names: here nowhere, so 5xx).
        r = h.proxy_request(d, "GET", "http://app.example/page")
        assert r.status >= 500 and r.body != b"v1", r.brief()
        # no cache on the route
        a = get(port, "app.example", "/nocache/x").body
        b = get(port, "app.example", "/nocache/x").body
        assert a != b, (a, b)
        # cache_ttl: a response without freshness is kept 300 s
        p1 = get(port, "app.example", "/plain").body
        p2 = get(port, "app.example", "/plain")
        assert p2.body == p1 and "hit" in (p2.header("Cache-Status") or ""), p2.headers
        # PURGE from the admin network drops it
        r = get(port, "app.example", "/page", method="PURGE")
        assert r.status == 200, r.brief()
        r3 = get(port, "app.example", "/page")
        assert r3.body != b"v1" and r3.status == 200, r3.brief()


# --- configuration ------------------------------------------------------------

def test_config_errors_named():
    d = h.tmpdir()
    good = """reverse: {
  listen = [ "127.0.0.1:1" ];
  pools = ( { name = "app"; backends = [ "127.0.0.1:8080" ]; } );
  vhosts = ( { names = [ "a.example" ]; routes = ( { prefix = "/"; pool = "app"; } ); } );
};
"""
    bad = [
        (good.replace('pool = "app"; }', 'pool = "nope"; }'), 4, "unknown pool"),
        (good.replace('"127.0.0.1:8080"', '"127.0.0.1:8080 weight=0"'), 3, "weight"),
        (good.replace('"127.0.0.1:8080"', '"example.com"'), 3, "backend"),
        (good.replace('prefix = "/"', 'regex = "("'), 4, "regex"),
        (good.replace('names = [ "a.example" ]', 'names = [ "a b" ]'), 4, "name"),
        (good.replace('name = "app"', 'name = "a\\r\\nX: y"'), 3, "pool name"),
        (good.replace('vhosts = ( { names = [ "a.example" ]; routes = ( { prefix = "/"; '
                      'pool = "app"; } ); } );', ''), 0, "no reverse.vhosts"),
        (good.replace('listen =', 'lisen ='), 2, "lisen"),
    ]
    for i, (text, line, what) in enumerate(bad):
        path = os.path.join(d, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (what, err)
        want = "%s:%d:" % (path, line) if line else path
        assert want in err and what in err, (what, want, err)
    path = os.path.join(d, "good.conf")
    with open(path, "w") as f:
        f.write(good)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_shipped_example_runs():
    """etc/reverse.conf.example as shipped (its ports moved to free ones):
    both backends serve www, /api/v1/ is rewritten, X-Frame-Options added."""
    text = open(os.path.join(h.srcdir(), "etc", "reverse.conf.example")).read()
    inc = os.path.join(h.srcdir(), "etc", "squidlike.conf")
    bs = nginx_backends(2)
    port = h.free_port()
    text = text.replace('@include "etc/squidlike.conf"', '@include "%s"' % inc)
    text = text.replace('"127.0.0.1:8080"', '"127.0.0.1:%d"' % port)
    text = text.replace("127.0.0.1:8081", "127.0.0.1:%d" % bs[0].port)
    text = text.replace("127.0.0.1:8082", "127.0.0.1:%d" % bs[1].port)
    with Daemon(conf_text=text) as d:
        bodies = [get(port, "www.example.com", "/who") for _ in range(10)]
        assert all(r.status == 200 for r in bodies), [r.brief() for r in bodies]
        # Round-robin turns in each worker (the example runs the shipped
        # workers = "auto"): even per worker, so 4 to 6 of 10 overall.
        c = counts_of([r.body for r in bodies], ["b0", "b1"])
        assert c["b0"] + c["b1"] == 10 and 4 <= c["b0"] <= 6, c
        assert bodies[0].header("X-Frame-Options") == "SAMEORIGIN", bodies[0].headers
        assert bodies[0].header("X-Powered-By") is None, bodies[0].headers
        r = get(port, "other.example", "/api/v1/who")
        assert r.status == 200 and r.body in (b"b0", b"b1"), r.brief()
        assert r.header("X-Frame-Options") is None, r.headers


# --- WebSocket -------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(payload, mask=True, opcode=1):
    import struct
    n = len(payload)
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read(recv):
    """One frame from recv(n) (exactly n bytes): (opcode, payload)."""
    import struct
    b0, b1 = recv(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack(">H", recv(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv(8))[0]
    key = recv(4) if b1 & 0x80 else None
    data = recv(n)
    if key:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return b0 & 0x0f, data


def exact_reader(sock, buf=b""):
    state = {"buf": buf}

    def recv(n):
        while len(state["buf"]) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed after %d of %d bytes" % (len(state["buf"]), n))
            state["buf"] += chunk
        out, state["buf"] = state["buf"][:n], state["buf"][n:]
        return out
    return recv


def ws_echo_server():
    """A WebSocket server (RFC 6455): says "hello" first, then echoes every
    text/binary frame upper-cased, answers a close with a close."""
    import base64
    import hashlib
    heads = []

    def conn(sock, serial):
        sock.settimeout(20)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        heads.append(head.decode("latin-1"))
        key = [ln.split(":", 1)[1].strip() for ln in head.decode("latin-1").split("\r\n")
               if ln.lower().startswith("sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                      "Server: ws-secret/1\r\n\r\n" % acc).encode()
                     + ws_frame(b"hello", mask=False))
        recv = exact_reader(sock, rest)
        while True:
            op, data = ws_read(recv)
            if op == 8:
                sock.sendall(ws_frame(data, mask=False, opcode=8))
                return
            sock.sendall(ws_frame(data.upper(), mask=False, opcode=op))
    srv = h.TcpServer(conn, name="ws")
    srv.heads = heads
    return srv


def test_websocket_through_reverse():
    ws = ws_echo_server()
    port = h.free_port()
    conf = rev_conf(port, {"ws": ("round-robin", ["127.0.0.1:%d" % ws.port])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/ws", "pool": "ws"}]}])
    conf["timeouts.tunnel_idle"] = "2s"
    with Daemon(conf) as d:
        import base64
        key = base64.b64encode(os.urandom(16)).decode()
        with h.RawConn(port) as c:
            c.send(("GET /ws/chat HTTP/1.1\r\nHost: app.example\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            r = c.recv_response(head_only=True)
            assert r.status == 101, r.brief()
            assert (r.header("Upgrade") or "").lower() == "websocket", r.headers
            assert "upgrade" in (r.header("Connection") or "").lower(), r.headers
            assert r.header("Sec-WebSocket-Accept"), r.headers
            assert r.header("Server") is None, r.headers       # hidden as ever
            recv = exact_reader(c.sock, bytes(c.rd.buf))
            assert ws_read(recv) == (1, b"hello")               # server first
            for msg in (b"abc", b"x" * 70000, "h\u00e9".encode()):
                c.sock.sendall(ws_frame(msg))
                assert ws_read(recv) == (1, msg.upper()), msg[:20]
            c.sock.sendall(ws_frame(b"\x03\xe8", opcode=8))
            assert ws_read(recv)[0] == 8
        head = ws.heads[0]
        assert head.startswith("GET /ws/chat HTTP/1.1"), head
        assert "Upgrade: websocket" in head and "Connection: upgrade" in head, head
        assert "X-Forwarded-For: 127.0.0.1" in head, head
        d.wait_access("101 ", "/ws/chat")
        # An idle WebSocket is closed after tunnel_idle.
        with h.RawConn(port) as c:
            c.send(("GET /ws/idle HTTP/1.1\r\nHost: app.example\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            r = c.recv_response(head_only=True)
            assert r.status == 101
            assert c.closed(15), "idle upgraded connection still open"
        # The forward proxy passes a ws:// handshake on the same way.
        with h.RawConn(d.port) as c:
            c.send(("GET http://127.0.0.1:%d/fwd HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                    % (ws.port, ws.port, key)).encode())
            r = c.recv_response(head_only=True)
            assert r.status == 101, r.brief()
            recv = exact_reader(c.sock, bytes(c.rd.buf))
            assert ws_read(recv) == (1, b"hello")
            c.sock.sendall(ws_frame(b"fwd"))
            assert ws_read(recv) == (1, b"FWD")
        # A 101 nobody asked for is a bad response.
        rogue = ScriptedOrigin(lambda req: b"HTTP/1.1 101 Switching Protocols\r\n"
                               b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        conf["reverse"]["pools"][0]["backends"] = ["127.0.0.1:%d" % rogue.port]
        d.write_conf(conf)
        d.reload()
        r = get(port, "app.example", "/ws/plain")
        assert r.status == 502, r.brief()


def test_backends_by_name_follow_dns():
    p = h.free_port()
    one = ScriptedOrigin(echo("one"), host="127.0.0.1", port=p)
    two = ScriptedOrigin(echo("two"), host="127.0.0.2", port=p)
    other = ScriptedOrigin(echo("other"))
    dns = h.DnsStub({"app1.test": {"A": [("127.0.0.1", 1)]},
                     "other.test": {"A": [("127.0.0.1", 60)]}}, nxdomain={"gone.test"})
    port = h.free_port()
    conf = rev_conf(port, {"named": ("round-robin", ["app1.test:%d" % p]),
                           "mixed": ("round-robin", ["gone.test:%d" % p,
                                                     "other.test:%d" % other.port])},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/m/", "pool": "mixed", "cache": False},
                                 {"prefix": "/", "pool": "named", "cache": False}]}])
    conf["reverse"]["pools"][0].update(health_path="/hc", health_interval="300ms",
                                       health_timeout="200ms")
    with Daemon(conf, dns=dns) as d:
        with h.RawConn(port) as c:
            r = get(port, "app.example", "/a", conn=c)
            assert r.status == 200 and r.body.startswith(b"one GET /a "), r.brief()
            # (the health checks reach the same backend: find ours)
            q = [q for q in one.requests if q.target == "/a"][-1]
            assert q.header("Host") == "app.example", q.headers
            # The name moves: within its TTL (1 s) and a bit, requests follow
            # it, on the same client connection (a pooled connection to the
            # old address is not reused for the new one).
            dns.set("app1.test", {"A": [("127.0.0.2", 1)]})
            h.wait_until(lambda: get(port, "app.example", "/b", conn=c).body.startswith(b"two"),
                         15, interval=0.2, what="requests reaching the new address")
        h.wait_until(lambda: any(q.target == "/hc" for q in two.requests), 10,
                     what="health checks by name reaching the new address")
        assert dns.count("app1.test", "A") >= 2
        # A name that does not resolve: the request goes to the other backend.
        for i in range(4):
            r = get(port, "app.example", "/m/%d" % i)
            assert r.status == 200 and r.body.startswith(b"other"), r.brief()
    for bad in ("under_score.test:80", "a..b:80", "name:0", "name:http"):
        conf["reverse"]["pools"][0]["backends"] = [bad]
        path = os.path.join(h.tmpdir(), "bad.conf")
        with open(path, "w") as f:
            f.write(h.format_libconfig({"reverse": conf["reverse"]}))
        pr = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                            capture_output=True, text=True, timeout=30)
        assert pr.returncode != 0 and "bad backend" in pr.stderr, (bad, pr.stderr)


def test_reverse_collapsed_swr_and_reload_in_flight():
    n = {"slow": 0, "swr": 0}

    def handler(req):
        if req.target == "/slow":
            n["slow"] += 1
            return Response(200, b"slow body", delay=1.0,
                            headers=[("Cache-Control", "max-age=60")])
        if req.target == "/swr":
            n["swr"] += 1
            return Response(200, b"swr%d" % n["swr"], headers=[
                ("Cache-Control", "max-age=1, stale-while-revalidate=60")])
        if req.target == "/inflight":
            return Response(200, b"old pool", delay=2.0, headers=[("Cache-Control", "no-store")])
        return Response(200, b"old pool", headers=[("Cache-Control", "no-store")])
    old = ScriptedOrigin(handler)
    new = ScriptedOrigin(lambda req: Response(200, b"new pool",
                                              headers=[("Cache-Control", "no-store")]))
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % old.port])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        # Collapsed forwarding: five at once, one fetch.
        out = []
        ts = [threading.Thread(target=lambda: out.append(get(port, "app.example", "/slow")))
              for _ in range(5)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert len(out) == 5 and all(r.status == 200 and r.body == b"slow body" for r in out), \
            [r.brief() for r in out]
        assert n["slow"] == 1, n
        # stale-while-revalidate: the stale copy at once, a background
        # revalidation through the reverse pipeline refreshes it.
        assert get(port, "app.example", "/swr").body == b"swr1"
        h.wait_until(lambda: "stale" in (get(port, "app.example", "/swr")
                                         .header("Cache-Status") or "")
                     or n["swr"] >= 2, 10, interval=0.3, what="the copy going stale")
        h.wait_until(lambda: n["swr"] >= 2, 10, what="the background revalidation")
        h.wait_until(lambda: get(port, "app.example", "/swr").body == b"swr2", 10,
                     what="the refreshed copy served")
        # A reload moves the pool to another backend; the request in flight
        # finishes on the one it started with.
        res = {}
        t = threading.Thread(target=lambda: res.update(r=get(port, "app.example", "/inflight")))
        t.start()
        h.wait_until(lambda: any(q.target == "/inflight" for q in old.requests), 10,
                     what="the slow request at the old backend")
        conf["reverse"]["pools"][0]["backends"] = ["127.0.0.1:%d" % new.port]
        d.write_conf(conf)
        d.reload()
        r = get(port, "app.example", "/after")
        assert r.body == b"new pool", r.brief()
        t.join(30)
        assert res["r"].status == 200 and res["r"].body == b"old pool", res["r"].brief()


def test_route_timeouts_and_cache_key_query():
    def handler(req):
        if req.target.startswith("/slow"):
            return Response(200, b"late", delay=3.0, headers=[("Cache-Control", "no-store")])
        return Response(200, req.target.encode(), headers=[("Cache-Control", "max-age=60")])
    o = ScriptedOrigin(handler)
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])},
                    [{"names": ["app.example"],
                      "routes": [{"prefix": "/slow/quick", "pool": "app",
                                  "response_timeout": "500ms"},
                                 {"prefix": "/static/", "pool": "app", "cache_key_query": False},
                                 {"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        t0 = time.monotonic()
        r = get(port, "app.example", "/slow/quick")
        took = time.monotonic() - t0
        assert r.status == 504 and took < 2.5, (r.brief(), took)
        r = get(port, "app.example", "/slow/patient")
        assert r.status == 200 and r.body == b"late", r.brief()
        a = get(port, "app.example", "/static/app.js?utm=1")
        b = get(port, "app.example", "/static/app.js?utm=2")
        assert a.body == b.body == b"/static/app.js?utm=1", (a.body, b.body)
        assert "hit" in (b.header("Cache-Status") or ""), b.headers
        x = get(port, "app.example", "/page?v=1")
        y = get(port, "app.example", "/page?v=2")
        assert (x.body, y.body) == (b"/page?v=1", b"/page?v=2")


def test_targeted_cache_control():
    """RFC 9213: in front of the servers, Squidlike-Cache-Control then
    CDN-Cache-Control decide for this cache (Cache-Control and Expires are
    then ignored), the first passed on, ours removed; the forward proxy
    ignores both (they are not addressed to it)."""
    n = collections.Counter()

    def handler(req):
        n[req.target] += 1
        body = b"%s #%d" % (req.target.encode(), n[req.target])
        hdrs = {
            "/cdn": [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60")],
            "/cdn-nostore": [("Cache-Control", "public, max-age=600"),
                             ("CDN-Cache-Control", "no-store")],
            "/own": [("Cache-Control", "no-store"), ("CDN-Cache-Control", "no-store"),
                     ("Squidlike-Cache-Control", "max-age=60")],
            "/bad": [("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "max-age=60,,")],
        }[req.target]
        return Response(200, body, headers=hdrs)
    o = ScriptedOrigin(handler)
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % o.port])},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    with Daemon(conf) as d:
        for path, cached in (("/cdn", True), ("/cdn-nostore", False), ("/own", True),
                             ("/bad", True)):
            a = get(port, "app.example", path)
            b = get(port, "app.example", path)
            assert a.status == b.status == 200, (a.brief(), b.brief())
            assert (a.body == b.body) == cached, (path, a.body, b.body)
            assert b.header("Squidlike-Cache-Control") is None, b.headers
            assert a.header("Squidlike-Cache-Control") is None, a.headers
        assert get(port, "app.example", "/cdn").header("CDN-Cache-Control") == "max-age=60"
        # The forward proxy: Cache-Control rules (/cdn: no-store).
        url = "http://127.0.0.1:%d/cdn" % o.port
        x = h.proxy_request(d, "GET", url)
        y = h.proxy_request(d, "GET", url)
        assert x.body != y.body, (x.body, y.body)


def test_hostile_requests_cannot_poison_or_bypass():
    """What a client could try against the cache and the rules in front of
    the servers (found in review): forged forwarding fields on a
    revalidation, a Host with a bad port landing in a named site's cache,
    ejecting every backend with odd requests, backend fields coming back
    with a 304, an h2c upgrade, dot-segments past a route."""
    seen = []

    def handler(req):
        seen.append(req)
        if req.method == "FOO":
            return Response(501, b"no")
        if req.target == "/boom":
            return Response(503, b"down")
        if req.target == "/h2c":
            return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        if req.header("If-None-Match") == '"v1"':
            return Response(304, b"", headers=[("ETag", '"v1"'), ("Cache-Control", "max-age=1"),
                                               ("Server", "Leaky/1.0"), ("X-Powered-By", "PHP"),
                                               ("Set-Cookie", "sid=secret")])
        return Response(200, b"site " + req.header("Host", "").encode(),
                        headers=[("ETag", '"v1"'), ("Cache-Control", "max-age=1")])
    a, b = ScriptedOrigin(handler), ScriptedOrigin(handler)
    port = h.free_port()
    conf = rev_conf(port, {"app": ("round-robin", ["127.0.0.1:%d" % a.port,
                                                   "127.0.0.1:%d" % b.port]),
                           "other": ("round-robin", ["127.0.0.1:%d" % b.port])},
                    [{"names": ["a.example"],
                      "routes": [{"prefix": "/admin/", "pool": "other"},
                                 {"prefix": "/", "pool": "app"}]},
                     {"names": ["z.example"], "default": True,
                      "routes": [{"prefix": "/", "pool": "other"}]}])
    conf["reverse"]["pools"][0]["eject_after"] = 1
    with Daemon(conf) as d:
        # a revalidation carries our forwarding fields, never the client's
        assert get(port, "a.example", "/page").status == 200
        time.sleep(1.1)
        r = get(port, "a.example", "/page", [("Cache-Control", "no-cache"),
                                             ("X-Forwarded-Host", "evil.example"),
                                             ("Forwarded", "for=1.2.3.4;host=evil.example"),
                                             ("X-Real-IP", "1.2.3.4")])
        assert r.status == 200, r.brief()
        q = seen[-1]
        assert q.header("If-None-Match") == '"v1"', q.headers
        assert q.header("X-Forwarded-Host") == "a.example", q.headers
        assert "evil" not in str(q.headers) and q.header("X-Real-IP") is None, q.headers
        # ... and what the 304 brought stays hidden on every hit after
        r = get(port, "a.example", "/page")
        for f in ("Server", "X-Powered-By", "Set-Cookie"):
            assert r.header(f) is None, (f, r.headers)
        # a Host with a bad port goes to the default site and is cached as
        # that, never under the named site's key
        r = get(port, "a.example:x", "/other")
        assert r.body == b"site a.example:x", r.brief()
        r = get(port, "a.example", "/other")
        assert r.body == b"site a.example", r.brief()
        # dot-segments: refused, not routed past /admin/
        for path in ("/x/../admin/", "/%2e%2E/admin/", "/.", "/a/./b"):
            assert get(port, "a.example", path).status == 400, path
        assert get(port, "a.example", "/.well-known/x").status == 200
        assert get(port, "a.example", "/...").status == 200
        # odd methods (501) never eject; a pool whose backends all fail
        # (503) is not taken down by its ejections (panic mode)
        for i in range(6):
            assert get(port, "a.example", "/f%d" % i, method="FOO").status == 501
        got = {get(port, "a.example", "/n%d" % i).status for i in range(4)}
        assert got == {200}, got
        for i in range(4):
            get(port, "a.example", "/boom")
        assert "ejected" in d.error_log()
        n = len(seen)
        r = get(port, "a.example", "/boom")
        assert r.status == 503 and r.body == b"down", r.brief()    # the backend's
        assert len(seen) == n + 1
        # only WebSocket may switch protocols: an h2c upgrade is dropped
        with h.RawConn(port) as c:
            c.send(b"GET /h2c HTTP/1.1\r\nHost: a.example\r\nUpgrade: h2c\r\n"
                   b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAA\r\n\r\n")
            r = c.recv_response()
        assert r.status == 502, r.brief()
        assert seen[-1].header("Upgrade") is None, seen[-1].headers


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""Reverse mode (issue 11), keeping a site up while its backends fail:
a backend killed under load (retries on another backend, passive ejection:
no client sees a failure), active health checks taking a backend out and
bringing it back, a pool with nothing up (503 that names no backend, or a
stale copy where RFC 5861 allows), the circuit breaker (max_connections:
503 at once, no queue), retries (connect failure: any method; reset before
an answer: GET yes, POST never)."""

import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402


def named(name, **kw):
    return ScriptedOrigin(lambda req: Response(200, name.encode(), headers=[
        ("Cache-Control", "no-store")], **kw), name=name)


def pool_conf(port, backends, **pool):
    conf = rev_conf(port, {"app": ("round-robin", backends)},
                    [{"names": ["app.example"], "routes": [{"prefix": "/", "pool": "app"}]}])
    conf["reverse"]["pools"][0].update(pool)
    return conf


def test_backend_killed_under_load_no_client_fails():
    bs = [named("k%d" % i) for i in range(3)]
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % o.port for o in bs],
                     eject_after=1, eject_time="30s")
    with Daemon(conf) as d:
        stop = threading.Event()
        bad, done = [], [0]

        def load():
            with h.RawConn(port) as c:
                while not stop.is_set() and done[0] < 5000:
                    try:
                        r = get(port, "app.example", "/l", conn=c)
                    except Exception as e:   # noqa: BLE001
                        bad.append(repr(e))
                        return
                    done[0] += 1
                    if r.status != 200:
                        bad.append(r.brief())
        t = threading.Thread(target=load)
        t.start()
        h.wait_until(lambda: done[0] >= 200, 30, what="load running")
        bs[1].stop()                       # killed mid-load
        at_kill = done[0]
        h.wait_until(lambda: done[0] >= at_kill + 300, 60, what="load after the kill")
        stop.set()
        t.join(30)
        assert not bad, bad[:5]
        h.wait_until(lambda: "ejected" in d.error_log(), 10, what="the ejection logged")
        # The next 1,000 go to the two left, and none fails.
        got = [get(port, "app.example", "/n").body for _ in range(1000)]
        assert set(got) == {b"k0", b"k2"}, set(got)
        assert abs(got.count(b"k0") - got.count(b"k2")) <= 1


def test_health_checks_take_out_and_bring_back():
    a, b = named("a"), named("b")
    bport = b.port
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % bport],
                     health_path="/healthz", health_interval="200ms",
                     health_timeout="150ms", health_rise=2, health_fall=2,
                     eject_after=0)
    with Daemon(conf) as d:
        h.wait_until(lambda: any(q.target == "/healthz" for q in b.requests), 10,
                     what="a health check")
        q = next(q for q in b.requests if q.target == "/healthz")
        assert q.header("Host") == "app" and q.method == "GET", q.headers
        b.stop()
        h.wait_until(lambda: "is down" in d.error_log(), 15, what="b seen down")
        assert "127.0.0.1:%d" % bport in d.error_log()
        got = {get(port, "app.example", "/x").body for _ in range(20)}
        assert got == {b"a"}, got
        # b comes back on its port: two checks later it serves again.
        b2 = ScriptedOrigin(lambda req: Response(200, b"b2", headers=[
            ("Cache-Control", "no-store")]), port=bport, name="b2")
        h.wait_until(lambda: "is up" in d.error_log(), 15, what="b seen up")
        got = [get(port, "app.example", "/y").body for _ in range(20)]
        assert got.count(b"b2") == 10 and got.count(b"a") == 10, got
        # A check answered with a bad status counts as down.
        b2.handler = lambda req: Response(503 if req.target == "/healthz" else 200, b"b2")
        h.wait_until(lambda: d.error_log().count("is down") >= 2, 15,
                     what="b down on 503")
        assert "status 503" in d.error_log()


def test_nothing_up_503_or_stale():
    n = {"c": 0}

    def handler(req):
        if req.target == "/h":
            return Response(200, b"ok")
        n["c"] += 1
        return Response(200, b"fresh%d" % n["c"], headers=[
            ("Cache-Control", "max-age=1, stale-if-error=600"), ("ETag", '"v%d"' % n["c"])])
    o = ScriptedOrigin(handler)
    oport = o.port
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % oport], health_path="/h",
                     health_interval="200ms", health_timeout="100ms",
                     health_rise=1, health_fall=1)
    with Daemon(conf) as d:
        r = get(port, "app.example", "/page")
        assert r.status == 200 and r.body == b"fresh1", r.brief()
        o.stop()
        h.wait_until(lambda: "is down" in d.error_log(), 15, what="down")
        time.sleep(1.2)            # the stored copy goes stale (max-age=1)
        r = get(port, "app.example", "/page")
        assert r.status == 200 and r.body == b"fresh1", r.brief()
        r = get(port, "app.example", "/other")
        assert r.status == 503, r.brief()
        page = r.raw_head.decode("latin-1") + r.body.decode("latin-1")
        assert "no server is up" in page and str(oport) not in page, page
        assert "ERR_NO_BACKEND" in page


def test_circuit_breaker_503_at_once():
    slow = ScriptedOrigin(lambda req: Response(200, b"slow", delay=3.0,
                                               headers=[("Cache-Control", "no-store")]))
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % slow.port], max_connections=1)
    with Daemon(conf) as d:
        first = {}

        def one():
            first["r"] = get(port, "app.example", "/slow")
        t = threading.Thread(target=one)
        t.start()
        h.wait_until(lambda: len(slow.requests) >= 1, 10, what="the first request in")
        t0 = time.monotonic()
        r = get(port, "app.example", "/second")
        took = time.monotonic() - t0
        assert r.status == 503 and b"busy" in r.body, r.brief()
        assert took < 1.5, took
        t.join(20)
        assert first["r"].status == 200
        # the slot is free again
        assert get(port, "app.example", "/third").status == 200
        d.wait_access("/second")


def test_retries():
    dead = h.free_port()
    live = named("live")
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % dead, "127.0.0.1:%d" % live.port],
                     eject_after=0)
    with Daemon(conf) as d:
        # connect refused: retried on the other, any method (nothing sent)
        for i in range(6):
            r = get(port, "app.example", "/r%d" % i)
            assert r.status == 200 and r.body == b"live", r.brief()
        r = get(port, "app.example", "/post", method="POST", body=b"data")
        assert r.status == 200, r.brief()
        r = get(port, "app.example", "/post2", method="POST", body=b"data")
        assert r.status == 200, r.brief()

    # A backend that takes the request and resets without answering: a GET
    # goes to the other backend, a POST is never sent twice.
    seen = []

    def rst_conn(sock, serial):
        sock.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        seen.append(data.split(b"\r\n", 1)[0])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    rst = h.TcpServer(rst_conn)
    other = named("other")
    conf = pool_conf(port, ["127.0.0.1:%d" % rst.port, "127.0.0.1:%d" % other.port],
                     eject_after=0)
    with Daemon(conf) as d:
        gets = [get(port, "app.example", "/g%d" % i) for i in range(4)]
        assert all(r.status == 200 and r.body == b"other" for r in gets), \
            [r.brief() for r in gets]
        posts = [get(port, "app.example", "/p%d" % i, method="POST", body=b"x")
                 for i in range(4)]
        failed = [r for r in posts if r.status != 200]
        assert len(failed) == 2 and all(r.status == 502 for r in failed), \
            [r.brief() for r in posts]
        for r in failed:
            assert str(rst.port).encode() not in r.body
        sent = [x for x in seen if x.startswith(b"POST")]
        to_other = [q for q in other.requests if q.method == "POST"]
        assert len(sent) == 2 and len(to_other) == 2, (seen, other.requests)
        assert not set(x.split()[1] for x in sent) & set(q.target.encode() for q in to_other)


def test_queue_max_pending():
    """max_connections 1, max_pending 2: the first request holds the slot,
    two wait in the queue (served in turn as the slot frees), a fourth gets
    503 at once; a waiter whose pending_timeout runs out gets 503."""
    gates = {}
    lock = threading.Lock()

    def handler(req):
        with lock:
            g = gates.setdefault(req.target, threading.Event())
        g.wait(30)
        return Response(200, req.target.encode(), headers=[("Cache-Control", "no-store")])
    o = ScriptedOrigin(handler)
    for p in ("/a", "/b", "/c", "/late"):
        gates[p] = threading.Event()
        h.register_cleanup("gate " + p, gates[p].set)
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % o.port], max_connections=1, max_pending=2,
                     pending_timeout="20s")
    with Daemon(conf) as d:
        res = {}

        def one(p):
            res[p] = get(port, "app.example", p)
        ta = threading.Thread(target=one, args=("/a",))
        ta.start()
        h.wait_until(lambda: len(o.requests) >= 1, 10, what="/a at the backend")
        def pending():
            r = h.proxy_request(d, "GET", "/squidlike/status.json")
            return json.loads(r.body.decode())["reverse"]["pools"][0]["pending"]
        tb = threading.Thread(target=one, args=("/b",))
        tb.start()
        h.wait_until(lambda: pending() == 1, 10, what="/b in the queue")
        tc = threading.Thread(target=one, args=("/c",))
        tc.start()
        h.wait_until(lambda: pending() == 2, 10, what="/c in the queue")
        t0 = time.monotonic()
        r = get(port, "app.example", "/d")
        assert r.status == 503 and b"busy" in r.body, r.brief()
        assert time.monotonic() - t0 < 2
        assert [q.target for q in o.requests] == ["/a"], [q.target for q in o.requests]
        gates["/a"].set()
        h.wait_until(lambda: len(o.requests) >= 2, 10, what="a queued request let in")
        second = o.requests[1].target
        assert second in ("/b", "/c")
        gates["/b"].set()
        gates["/c"].set()
        for t in (ta, tb, tc):
            t.join(30)
        assert [res[p].status for p in ("/a", "/b", "/c")] == [200, 200, 200], \
            {p: r.brief() for p, r in res.items()}
        assert sorted(q.target for q in o.requests) == ["/a", "/b", "/c"]
    conf["reverse"]["pools"][0]["pending_timeout"] = "500ms"
    gates["/a2"] = threading.Event()
    h.register_cleanup("gate /a2", gates["/a2"].set)
    with Daemon(conf) as d:
        res = {}
        ta = threading.Thread(target=lambda: res.update(a=get(port, "app.example", "/a2")))
        ta.start()
        h.wait_until(lambda: any(q.target == "/a2" for q in o.requests), 10, what="/a2 in")
        t0 = time.monotonic()
        r = get(port, "app.example", "/late")
        took = time.monotonic() - t0
        assert r.status == 503 and 0.4 <= took < 3, (r.brief(), took)
        gates["/a2"].set()
        ta.join(30)
        assert res["a"].status == 200
        assert not any(q.target == "/late" for q in o.requests)


def worker_rows(d, n=2):
    """status.json's rows of the workers, once n run and no other is left."""
    box = {}

    def up():
        r = h.proxy_request(d, "GET", "/squidlike/status.json")
        rows = json.loads(r.body)["workers"]["list"] if r.status == 200 else []
        box["r"] = {w["index"]: w for w in rows}
        return len(rows) == n and all(w["state"] == "running" for w in rows)
    h.wait_until(up, 30, what="%d workers running" % n)
    return box["r"]


def test_workers_check_once_and_all_follow():
    """With 2 workers one of them checks (worker 0) and the other follows
    its verdicts in shared memory: the backend gets one worker's checks,
    not two; when the checks take it out, it is logged once and requests
    landing on both workers stop going to it; worker 0 killed -9, its
    replacement takes the checks over from where they were (the backend
    stays out, one worker's check rate) and brings it back for both."""
    a = named("a")
    b = ScriptedOrigin(lambda req: Response(200, b"b", headers=[("Cache-Control", "no-store")]),
                       name="b")
    port = h.free_port()
    conf = pool_conf(port, ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port],
                     health_path="/healthz", health_interval="200ms", health_timeout="200ms",
                     health_rise=1, health_fall=2, eject_after=0)
    conf["workers"] = 2

    def checks():
        return sum(q.target == "/healthz" for q in list(b.requests))

    def check_time(n):
        """Seconds the next n checks of b take. One checker waits 200 ms
        after each check: n checks take (n - 1) * 0.2 s at least, however
        fast the machine; two checkers would take half that."""
        h.wait_until(lambda: checks() >= 1, 15, what="a check of b")
        c0, t0 = checks(), time.monotonic()
        h.wait_until(lambda: checks() >= c0 + n, 30, what="%d checks of b" % n)
        return time.monotonic() - t0

    def spread(path, k=40):
        """k requests on fresh connections (they land on both workers):
        the bodies, and the requests each worker served."""
        before = {i: w["requests"] for i, w in worker_rows(d).items()}
        got = [get(port, "app.example", path).body for _ in range(k)]
        after = {i: w["requests"] for i, w in worker_rows(d).items()}
        served = {i: after[i] - before[i] for i in after}
        # the counts may take one status.json request: 2 or more is ours
        assert all(n >= 2 for n in served.values()), served
        return got

    with Daemon(conf, error_log_file=True) as d:
        worker_rows(d)
        took = check_time(15)
        h.log("15 checks of b in %.2f s (one checker: >= 2.8 s)" % took)
        assert took >= 2.6, "15 checks in %.2f s: more than one worker checks" % took
        assert set(spread("/up")) == {b"a", b"b"}

        b.handler = lambda req: Response(503 if req.target == "/healthz" else 200, b"b")
        h.wait_until(lambda: "is down" in d.error_log(), 15, what="b seen down")
        # every worker follows within half an interval: 10 in a row on a
        # (fresh connections, both workers) says they all have
        h.wait_until(lambda: all(get(port, "app.example", "/w").body == b"a"
                                 for _ in range(10)), 15, what="both workers see b down")
        assert set(spread("/down")) == {b"a"}
        assert d.error_log().count("is down") == 1, d.error_log()

        # worker 0 killed: its replacement checks, from where it was
        old = worker_rows(d)[0]["pid"]
        os.kill(old, 9)
        h.wait_until(lambda: all(w["pid"] != old for w in worker_rows(d).values()), 30,
                     what="worker 0 replaced")
        assert set(spread("/still-down")) == {b"a"}
        took = check_time(10)
        h.log("after worker 0 killed: 10 checks of b in %.2f s (one checker: >= 1.8 s)" % took)
        assert took >= 1.7, "10 checks in %.2f s: more than one worker checks" % took
        assert d.error_log().count("is down") == 1, d.error_log()
        b.handler = lambda req: Response(200, b"b", headers=[("Cache-Control", "no-store")])
        h.wait_until(lambda: "is up" in d.error_log(), 15, what="b seen up")
        h.wait_until(lambda: b"b" in {get(port, "app.example", "/v").body for _ in range(10)},
                     15, what="b serving again")
        assert set(spread("/back")) == {b"a", b"b"}
        assert d.error_log().count("is up") == 1, d.error_log()


if __name__ == "__main__":
    h.run(globals())

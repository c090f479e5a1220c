#!/usr/bin/env python3
"""Collapsed forwarding across worker processes (workers = 2): parallel
misses spread over both workers make one origin request and every client
gets the whole body; when the worker that fetches is killed mid-body,
the misses waiting in the other worker still get a correct answer (one
of them fetches it again) and nothing hangs; a stale-while-revalidate
object is revalidated once, not once per worker.

The clients' connections are placed on purpose: each is opened and
sends the first byte of its request (a listener defers the accept until
data comes), then is found in a worker's file table (/proc), until each
worker holds its share. Which worker leads is up to the race; which
clients wait in the other worker is then known."""

import hashlib
import json
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
PER_WORKER = 4


def children(d):
    """The master's children (the workers)."""
    try:
        with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def workers(d, n=2):
    """The master's children (the workers), once there are n."""
    h.wait_until(lambda: len(children(d)) == n, 20, what="%d workers" % n)
    return children(d)


def _tcp():
    """(local port, remote port, inode) of every IPv4 TCP socket."""
    rows = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            rows.append((int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16), p[9]))
    return rows


def placed_conns(d, pids, per_worker=PER_WORKER):
    """{pid: [RawConn, ...]} with per_worker connections accepted by each
    worker (the kernel spreads them: open until each has its share)."""
    got = {pid: [] for pid in pids}
    for _ in range(64 * per_worker):
        if all(len(v) >= per_worker for v in got.values()):
            break
        c = h.RawConn(d.port, timeout=60)
        c.send(b"G")            # the rest follows in Client
        port = c.sock.getsockname()[1]
        box = []
        h.wait_until(lambda: box.append(h.worker_holding(d.proc.pid, d.port, port)) or
                     box[-1] is not None, 10, what="a worker to accept the connection")
        pid = box[-1]
        if pid in got and len(got[pid]) < per_worker:
            got[pid].append(c)
        else:
            c.close()
    assert all(len(v) >= per_worker for v in got.values()), \
        "could not place %d connections on each worker: %s" % (
            per_worker, {k: len(v) for k, v in got.items()})
    return got


class Client(threading.Thread):
    """One GET on a connection opened already; body hashed as it comes."""

    def __init__(self, conn, url, headers=()):
        super().__init__(daemon=True)
        self.conn, self.url, self.headers = conn, url, list(headers)
        self.got = 0
        self.sha = hashlib.sha256()
        self.resp = self.error = None

    def run(self):
        try:
            req = h.build_request("GET", self.url, self.headers + [("Connection", "close")])
            assert req[:1] == b"G"
            self.conn.send(req[1:])     # placed_conns sent the first byte

            def sink(b):
                self.sha.update(b)
                self.got += len(b)
            self.resp = self.conn.recv_response(sink=sink)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def unread(d, pids):
    """Bytes clients sent that the workers have not read yet."""
    inodes = set()
    for pid in pids:
        inodes |= h.socket_inodes(pid)
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[9] in inodes and int(p[1].rsplit(":", 1)[1], 16) == d.port and p[3] == "01":
                n += int(p[4].split(":")[1], 16)
    return n


def finish(cs, timeout=60):
    for c in cs:
        c.join(timeout)
        assert not c.is_alive(), "a client is still waiting after %ds" % timeout


def status(d):
    r = h.proxy_request(d, "GET", "/squidlike/status.json")
    assert r.status == 200, r.brief()
    return json.loads(r.body.decode("utf-8"))


def grace(o, path, n):
    """Give requests that would not be collapsed the time to reach the
    origin (bounded, 1 s); a collapsing proxy never sends them."""
    try:
        h.wait_until(lambda: o.count(path) >= n, 1.0, what="uncollapsed requests")
    except h.TestFailure:
        pass


def start_clients(d, pids, url):
    """PER_WORKER GETs of url on connections placed on each worker,
    started."""
    conns = placed_conns(d, pids)
    cs = [Client(c, url) for pid in pids for c in conns[pid]]
    for c in cs:
        c.start()
    return cs


def fetch_started(o, d, pids):
    """The origin has its request and the workers read every client's."""
    o.wait_requests(1)
    h.wait_until(lambda: unread(d, pids) == 0, 10,
                 what="the workers to read every request")


def assert_bodies(cs, body):
    """Every client got 200 and exactly body."""
    errs = [repr(c.error) for c in cs if c.error]
    assert not errs, "clients failed: %s" % errs
    want = hashlib.sha256(body).hexdigest()
    for c in cs:
        assert c.resp.status == 200 and c.got == len(body) and c.sha.hexdigest() == want, \
            "client got %s, %d bytes" % (c.resp.status, c.got)


def test_parallel_misses_on_two_workers_make_one_origin_request():
    body = os.urandom(1 << 20)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(30)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/xw": handler})
    with Daemon(overrides={"workers": 2}) as d:
        pids = workers(d)
        url = o.url("/xw")
        cs = start_clients(d, pids, url)
        fetch_started(o, d, pids)
        grace(o, "/xw", 2)
        assert o.count("/xw") == 1, \
            "%d origin requests before the answer (1 for 2 workers)" % o.count("/xw")
        gate.set()
        finish(cs)
        assert_bodies(cs, body)
        assert o.count("/xw") == 1, \
            "%d parallel misses on 2 workers made %d origin requests (1)" % (
                len(cs), o.count("/xw"))
        # The other worker's four waited on the fetch and were served
        # from the store; the leader's worker collapsed its own.
        xw = status(d)["cache"]["cross_worker"]
        assert xw["joins"] == PER_WORKER and xw["served"] == PER_WORKER, xw
        assert xw["forwarded"] == 0 and xw["table_full"] == 0, xw
        codes = sorted(a.code for a in h.access_entries(d, "GET", url, len(cs)))
        assert codes == ["TCP_HIT"] * (len(cs) - 1) + ["TCP_MISS"], codes
        m = h.proxy_request(d, "GET", "/metrics").body.decode()
        assert "squidlike_collapsed_cross_worker_total %d" % PER_WORKER in m, \
            [ln for ln in m.splitlines() if "cross_worker" in ln]


def test_uncacheable_answer_lets_the_other_worker_go_at_once():
    """The fetch's answer is no-store: the misses waiting in the other
    worker go to the origin themselves as soon as it is known (not after
    their wait's bound), as the leader's local waiters do."""
    body = os.urandom(300000)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(30)
        return Response(200, body, headers=[("Cache-Control", "no-store")])
    o = RoutedOrigin({"/ns": handler})
    with Daemon(overrides={"workers": 2}) as d:
        pids = workers(d)
        url = o.url("/ns")
        cs = start_clients(d, pids, url)
        fetch_started(o, d, pids)
        grace(o, "/ns", 2)
        assert o.count("/ns") == 1, o.count("/ns")
        t0 = time.monotonic()
        gate.set()
        finish(cs, timeout=30)
        took = time.monotonic() - t0
        assert_bodies(cs, body)
        # Each released miss fetched for itself: the leader, its three
        # local waiters, and the other worker's four.
        assert o.count("/ns") == len(cs), o.count("/ns")
        assert took < 10, "released waiters took %.1f s" % took
        xw = status(d)["cache"]["cross_worker"]
        assert xw["joins"] == PER_WORKER and xw["forwarded"] == PER_WORKER, xw
        assert xw["served"] == 0, xw


def test_slow_body_keeps_its_waiters():
    """A fetch whose body takes longer than a waiter's bound (connect +
    origin_first_byte, 2 s here) but keeps coming: the other worker's
    waiters wait on while it moves, and are served from the store."""
    pieces_n, piece = 8, 64 * 1024
    body = os.urandom(pieces_n * piece)

    def pieces():
        for i in range(pieces_n):
            yield body[i * piece:(i + 1) * piece]
            time.sleep(0.5)     # the origin's pace: 4 s in all
    o = RoutedOrigin({"/slow": lambda req: Response(200, pieces(), length=len(body),
                                                     headers=[FRESH])})
    with Daemon(overrides={"workers": 2, "timeouts.connect": "1s",
                           "timeouts.origin_first_byte": "1s"}) as d:
        pids = workers(d)
        cs = start_clients(d, pids, o.url("/slow"))
        finish(cs, timeout=60)
        assert_bodies(cs, body)
        assert o.count("/slow") == 1, \
            "origin requests: %d (waiters gave up on a fetch that moved)" % o.count("/slow")
        xw = status(d)["cache"]["cross_worker"]
        assert xw["served"] == PER_WORKER and xw["forwarded"] == 0, xw


def test_range_misses_on_two_workers_fetch_the_whole_once():
    """range_fetch: a Range miss fetches the whole object in the background
    and is cut from it; a Range miss in the other worker waits on that
    fetch rather than start its own, and is cut from the stored object."""
    size = 2 << 20
    body = os.urandom(size)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        assert req.header("Range") is None, "a range went to the origin"
        gate.wait(30)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/r.bin": handler})
    pats = {"cache.refresh_patterns": [
        {"regex": "\\.bin$", "min": 0, "percent": 20, "max": "3d", "range_fetch": "16M"},
        {"regex": ".", "min": 0, "percent": 20, "max": "3d"}]}
    with Daemon(overrides=dict(pats, workers=2)) as d:
        pids = workers(d)
        url = o.url("/r.bin")
        conns = placed_conns(d, pids, per_worker=1)
        first = Client(conns[pids[0]][0], url, [("Range", "bytes=1000-1999")])
        first.start()
        o.wait_requests(1)
        second = Client(conns[pids[1]][0], url, [("Range", "bytes=%d-%d" % (size - 500, size - 1))])
        second.start()
        h.wait_until(lambda: unread(d, pids) == 0, 10, what="the workers to read both requests")
        grace(o, "/r.bin", 2)
        assert o.count("/r.bin") == 1, "origin requests: %d" % o.count("/r.bin")
        gate.set()
        finish([first, second])
        for c, (a, b) in ((first, (1000, 1999)), (second, (size - 500, size - 1))):
            assert c.error is None, repr(c.error)
            assert c.resp.status == 206 and c.resp.header("Content-Range") == \
                "bytes %d-%d/%d" % (a, b, size), (c.resp.status, c.resp.header("Content-Range"))
            assert c.sha.hexdigest() == hashlib.sha256(body[a:b + 1]).hexdigest()
        assert o.count("/r.bin") == 1, "origin requests: %d" % o.count("/r.bin")
        assert status(d)["cache"]["cross_worker"]["served"] == 1


def test_fetch_in_flight_is_joined_across_a_reload():
    """The table outlives a reload: a miss in a worker of the new
    generation waits on a fetch an old worker (draining) still makes."""
    body = os.urandom(1 << 20)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(30)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/rl": handler})
    with Daemon(overrides={"workers": 2}) as d:
        old = workers(d)
        url = o.url("/rl")
        conns = placed_conns(d, old, per_worker=1)
        conns[old[1]][0].close()    # one is enough here
        first = Client(conns[old[0]][0], url)
        first.start()
        o.wait_requests(1)
        d.signal(signal.SIGHUP)
        h.wait_until(lambda: len([p for p in children(d) if p not in old]) == 2, 20,
                     what="the new generation's 2 workers")
        # the old ones accept no more (a connection placed before could
        # still go to one)
        h.wait_until(lambda: d.output().count("replaced:") == 2, 10,
                     what="the old workers to stop accepting")
        new = [p for p in children(d) if p not in old]
        nconns = placed_conns(d, new, per_worker=1)
        cs = [Client(nconns[p][0], url) for p in new]
        for c in cs:
            c.start()
        h.wait_until(lambda: unread(d, new) == 0, 10, what="the new workers to read")
        grace(o, "/rl", 2)
        assert o.count("/rl") == 1, "origin requests: %d" % o.count("/rl")
        gate.set()
        finish([first] + cs)
        want = hashlib.sha256(body).hexdigest()
        for c in [first] + cs:
            assert c.error is None, repr(c.error)
            assert c.resp.status == 200 and c.sha.hexdigest() == want, (c.resp.status, c.got)
        assert o.count("/rl") == 1, "origin requests: %d" % o.count("/rl")


def _leader(pids, origin_port):
    """The worker holding a connection to the origin."""
    for pid in pids:
        ino = h.socket_inodes(pid)
        if any(r[1] == origin_port and r[2] in ino for r in _tcp()):
            return pid
    return None


def test_owner_killed_mid_fetch_waiters_fetch_again():
    size = 2 << 20
    half = size // 2
    body = os.urandom(size)
    rest = threading.Event()
    h.register_cleanup("open the gate", rest.set)
    n = [0]

    def pieces():
        yield body[:half]
        rest.wait(30)
        yield body[half:]

    def handler(req):
        n[0] += 1
        if n[0] == 1:           # the first fetch stalls mid-body
            return Response(200, pieces(), length=size, headers=[FRESH])
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/kill": handler})
    with Daemon(overrides={"workers": 2}) as d:
        pids = workers(d)
        url = o.url("/kill")
        conns = placed_conns(d, pids)
        cs = {pid: [Client(c, url) for c in conns[pid]] for pid in pids}
        for pid in pids:
            for c in cs[pid]:
                c.start()
        o.wait_requests(1)
        h.wait_until(lambda: unread(d, pids) == 0, 10,
                     what="the workers to read every request")
        box = []
        h.wait_until(lambda: box.append(_leader(pids, o.port)) or box[-1] is not None, 10,
                     what="the worker that fetches")
        lead = box[-1]
        other = [p for p in pids if p != lead][0]
        # The leader's own clients read along: the fetch is mid-body.
        h.wait_until(lambda: all(c.got >= half for c in cs[lead]), 20,
                     what="the leader's clients to have the first half")
        assert all(c.got == 0 for c in cs[other]), [c.got for c in cs[other]]
        assert o.count("/kill") == 1, o.count("/kill")
        os.kill(lead, signal.SIGKILL)
        t0 = time.monotonic()
        finish(cs[other], timeout=30)
        took = time.monotonic() - t0
        errs = [repr(c.error) for c in cs[other] if c.error]
        assert not errs, "waiters of the killed worker's fetch failed: %s" % errs
        want = hashlib.sha256(body).hexdigest()
        for c in cs[other]:
            assert c.resp.status == 200 and c.got == size and c.sha.hexdigest() == want, \
                "a waiter got %s, %d bytes" % (c.resp.status, c.got)
        # One of them fetched it again, the others waited on that one.
        assert o.count("/kill") == 2, \
            "origin requests: %d (the killed fetch and one more)" % o.count("/kill")
        assert took < 10, "the waiters took %.1f s to notice the dead worker" % took
        rest.set()
        finish(cs[lead], timeout=30)    # cut: their worker died
        workers(d)                      # restarted
        xw = status(d)["cache"]["cross_worker"]
        assert xw["joins"] == PER_WORKER and xw["forwarded"] >= 1, xw
        # Stored whole by the one that took over.
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is True, r.brief()
        assert o.count("/kill") == 2


def test_stale_while_revalidate_revalidates_once():
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        if req.header("If-None-Match") == '"s"':
            gate.wait(30)
            return Response(304, headers=[FRESH])
        return Response(200, b"swr body", headers=[
            ("Cache-Control", "max-age=0, stale-while-revalidate=600"), ("ETag", '"s"')])
    o = RoutedOrigin({"/swr": handler})

    def revalidations():
        return sum(1 for q in o.reqs("/swr") if q.header("If-None-Match") == '"s"')
    with Daemon(overrides={"workers": 2}) as d:
        pids = workers(d)
        url = o.url("/swr")
        r = h.proxy_request(d, "GET", url)
        assert r.status == 200 and r.body == b"swr body", r.brief()
        conns = placed_conns(d, pids, per_worker=2)
        # One worker serves stale and starts the revalidation ...
        first = Client(conns[pids[0]][0], url)
        first.run()
        assert first.resp.status == 200 and h.cache_status_params(first.resp).get("fwd") == "stale"
        h.wait_until(lambda: revalidations() == 1, 10, what="a background revalidation")
        # ... the others serve stale too while it is in flight.
        for c in [conns[pids[0]][1]] + conns[pids[1]]:
            cl = Client(c, url)
            cl.run()
            assert cl.resp.status == 200 and cl.resp.body == b"" and cl.got == 8, cl.resp.brief()
            assert h.cache_status_params(cl.resp).get("fwd") == "stale", h.cache_status(cl.resp)
        grace(o, "/swr", 3)
        assert revalidations() == 1, \
            "%d revalidations for one stale object on 2 workers (1)" % revalidations()
        assert status(d)["cache"]["cross_worker"]["revalidations_skipped"] >= 1
        gate.set()
        h.wait_until(lambda: h.cache_status_params(h.proxy_request(d, "GET", url)).get("fwd")
                     is None, 10, what="the refreshed copy to be fresh")
        assert revalidations() == 1


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""Collapsed forwarding: concurrent misses for one URL make one origin
request; the other clients are served from that response as it streams in
(read-while-writer), not after it completes, and so are misses that arrive
while the body streams in (late joiners); an uncacheable answer (or one
whose length is unknown) releases the waiters to go forward on their own; a
response with Vary is shared only with requests that select its variant;
a fetch that fails mid-body cuts its readers visibly short."""

import hashlib
import json
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
N = 8


class Client(threading.Thread):
    """One GET through the proxy in its own thread; body hashed as it
    arrives, progress in .got, outcome in .resp / .error."""

    def __init__(self, d, url, headers=()):
        super().__init__(daemon=True)
        self.d, self.url, self.headers = d, url, list(headers)
        self.got = 0
        self.sent = threading.Event()
        self.resp = self.error = None
        self.sha = hashlib.sha256()

    def run(self):
        try:
            with h.RawConn(self.d.port, timeout=60) as c:
                c.send(h.build_request("GET", self.url, self.headers + [("Connection", "close")]))
                self.sent.set()

                def sink(b):
                    self.sha.update(b)
                    self.got += len(b)
                self.resp = c.recv_response(sink=sink)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.sent.set()


def start_clients(d, o, url, n=N, headers=()):
    """Start n clients; return once their requests are sent, the origin
    has the first one, and the daemon holds every client connection."""
    cs = [Client(d, url, headers) for _ in range(n)]
    for c in cs:
        c.start()
    for c in cs:
        h.wait_until(c.sent.is_set, 10, what="client requests sent")
    o.wait_requests(1)
    # n client connections (the leader's origin connection: wait_requests).
    h.wait_until(lambda: d.client_connections() >= n, 10,
                 what="%d client connections at the daemon" % n)
    return cs


def finish(cs, timeout=60):
    for c in cs:
        c.join(timeout)
        assert not c.is_alive(), "a client is still waiting after %ds" % timeout
    errs = [repr(c.error) for c in cs if c.error]
    assert not errs, "clients failed: %s" % errs


def grace(o, path, n):
    """Give requests that would not be collapsed the time to reach the
    origin: wait (bounded, 1 s) for n of them; a collapsing proxy never
    sends them, so this wait normally runs out."""
    try:
        h.wait_until(lambda: o.count(path) >= n, 1.0, what="uncollapsed requests")
    except h.TestFailure:
        pass


def test_parallel_misses_make_one_origin_request():
    body = os.urandom(2 << 20)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(30)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/one": handler})
    with Daemon() as d:
        url = o.url("/one")
        cs = start_clients(d, o, url)
        grace(o, "/one", N)
        gate.set()
        finish(cs)
        want = hashlib.sha256(body).hexdigest()
        for c in cs:
            assert c.resp.status == 200 and c.got == len(body) and c.sha.hexdigest() == want, \
                "client got %s, %d bytes" % (c.resp.status, c.got)
        assert o.count("/one") == 1, \
            "%d parallel misses made %d origin requests (collapsed forwarding: 1)" % (
                N, o.count("/one"))
        stat = sorted(h.cache_status(c.resp) for c in cs)
        assert stat.count("fwd=uri-miss; stored") == 1, stat
        codes = sorted(a.code for a in h.access_entries(d, "GET", url, N))
        assert codes == ["TCP_HIT"] * (N - 1) + ["TCP_MISS"], codes
        # And the object is stored whole.
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is True
        assert o.count("/one") == 1


def test_waiters_read_while_the_leader_writes():
    """The origin sends half the body and stalls: every client must have
    that half before the origin sends the rest."""
    size = 4 << 20
    half = size // 2
    body = os.urandom(size)
    first, rest = threading.Event(), threading.Event()
    h.register_cleanup("open the gates", lambda: (first.set(), rest.set()))

    def pieces():
        yield body[:half]
        rest.wait(30)
        yield body[half:]

    def handler(req):
        first.wait(30)
        return Response(200, pieces(), length=size, headers=[FRESH])
    o = RoutedOrigin({"/rww": handler})
    with Daemon() as d:
        url = o.url("/rww")
        cs = start_clients(d, o, url)
        grace(o, "/rww", N)
        first.set()
        try:
            h.wait_until(lambda: all(c.got >= half for c in cs), 20,
                         what="every client to have the first half")
        except h.TestFailure:
            raise AssertionError("clients did not get what the origin had sent (bytes: %s; "
                                 "origin requests %d)" % ([c.got for c in cs], o.count("/rww")))
        finally:
            rest.set()
        finish(cs)
        want = hashlib.sha256(body).hexdigest()
        assert all(c.got == size and c.sha.hexdigest() == want for c in cs), \
            [c.got for c in cs]
        assert o.count("/rww") == 1, "origin requests: %d" % o.count("/rww")


def _released(path, resp_kw, headers):
    """N clients miss on path while the leader's fetch waits at the origin;
    the answer (no-store, or no Content-Length) cannot be shared. Exact
    counts, from collapse.c: every miss that finds the PENDING entry
    waits (cf_lead_or_join), so until the answer comes the origin sees
    the leader's request alone. The answer releases them: cf_head finds
    no writer (no-store) or no length (chunked), unlinks the entry and
    calls release_waiters, which hands each waiter still in CL_WAIT - all
    N - 1 here - to cl_forward_released: fwd_start straight away, not
    back through cf_lead_or_join, so none of them collapses again and
    none is served from the leader's object. One origin request each:
    N in all."""
    body = os.urandom(300000)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(30)
        return Response(200, body, headers=headers, **resp_kw)
    o = RoutedOrigin({path: handler})
    with Daemon() as d:
        url = o.url(path)
        cs = start_clients(d, o, url)
        # Every request read: each client is then the leader or a waiter
        # (the lookup and the join follow the read in the same step), none
        # a late miss that could find the leader's answer stored.
        h.wait_until(lambda: d.client_unread() == 0, 10,
                     what="the daemon to read every request")
        grace(o, path, N)
        assert o.count(path) == 1, \
            "%d origin requests before the answer (the leader's alone: 1)" % o.count(path)
        gate.set()
        finish(cs)
        want = hashlib.sha256(body).hexdigest()
        for c in cs:
            assert c.resp.status == 200 and c.sha.hexdigest() == want, \
                "a released waiter got %s, %d bytes" % (c.resp.status, c.got)
        assert o.count(path) == N, \
            "%d origin requests for %d clients (the leader and each released waiter: %d)" % (
                o.count(path), N, N)
        return o.count(path)


def test_uncacheable_answer_releases_waiters():
    n = _released("/nostore", {}, [("Cache-Control", "no-store")])
    h.log("no-store: %d origin requests for %d clients" % (n, N))


def test_unknown_length_releases_waiters():
    n = _released("/chunked", {"chunked": True, "chunk_size": 10000}, [FRESH])
    h.log("chunked: %d origin requests for %d clients" % (n, N))


def test_after_an_uncacheable_answer_misses_go_side_by_side():
    """Once a URL's answer could not be shared (no-store), its next misses
    do not wait on each other for a while (hit-for-miss): N requests held
    at the origin together, all N reach it while none is answered. A
    proxy that collapsed them again would send one and hold N - 1."""
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        if req.headers and dict((k.lower(), v) for k, v in req.headers).get("x-wave") == "2":
            gate.wait(30)
        return Response(200, b"api", headers=[("Cache-Control", "no-store")])
    o = RoutedOrigin({"/api": handler})
    with Daemon() as d:
        url = o.url("/api")
        r = h.proxy_request(d, "GET", url)
        assert r.status == 200 and o.count("/api") == 1
        cs = start_clients(d, o, url, headers=[("X-Wave", "2")])
        h.wait_until(lambda: o.count("/api") >= N + 1, 10,
                     what="all %d misses at the origin at once" % N)
        gate.set()
        finish(cs)
        assert all(c.resp.status == 200 for c in cs)
        assert o.count("/api") == N + 1, o.count("/api")


def _streaming_origin(path, size, extra_headers=(), cut=False):
    """An origin whose body for path comes in two halves: the first at
    once, the second when .rest is set (or, with cut, the connection is
    closed after the first half: a fetch that fails mid-body)."""
    body = os.urandom(size)
    half = size // 2
    rest = threading.Event()
    h.register_cleanup("open the gate", rest.set)

    def pieces():
        yield body[:half]
        rest.wait(30)
        if not cut:
            yield body[half:]

    def handler(req):
        return Response(200, pieces(), length=size, close=cut,
                        headers=[FRESH] + list(extra_headers))
    o = RoutedOrigin({path: handler})
    return o, body, half, rest


def test_late_joiners_read_along():
    """Requests that arrive while the body is streaming in are served from
    that fetch (the first half at once, before the origin sends the rest):
    one origin request however the requests are spread in time."""
    size = 4 << 20
    o, body, half, rest = _streaming_origin("/late", size)
    with Daemon() as d:
        url = o.url("/late")
        first = Client(d, url)
        first.start()
        h.wait_until(lambda: first.got >= half, 20, what="the first client to have half")
        late = [Client(d, url) for _ in range(3)]
        for c in late:
            c.start()
        try:
            h.wait_until(lambda: all(c.got >= half for c in late), 20,
                         what="the late clients to have the first half")
        except h.TestFailure:
            raise AssertionError("late clients did not read along (bytes %s, origin "
                                 "requests %d)" % ([c.got for c in late], o.count("/late")))
        finally:
            rest.set()
        finish([first] + late)
        want = hashlib.sha256(body).hexdigest()
        for c in [first] + late:
            assert c.resp.status == 200 and c.got == size and c.sha.hexdigest() == want, \
                "client got %s, %d bytes" % (c.resp.status, c.got)
        assert o.count("/late") == 1, \
            "4 requests spread in time made %d origin requests (late joiners: 1)" % o.count("/late")
        assert [h.cache_status(c.resp) for c in late] == ["hit; collapsed"] * 3, \
            [h.cache_status(c.resp) for c in late]
        # Their age is the fetch's (seconds), not the epoch's.
        ages = [int(c.resp.header("Age")) for c in late]
        assert all(0 <= a < 60 for a in ages), "Age of collapsed responses: %s" % ages
        codes = sorted(a.code for a in h.access_entries(d, "GET", url, 4))
        assert codes == ["TCP_HIT"] * 3 + ["TCP_MISS"], codes
        st = json.loads(h.proxy_request(d, "GET", "/squidlike/status.json").body)
        assert st["cache"]["late_joins"] == 3, st["cache"]
        # Stored whole, and new requests are plain hits.
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is True
        assert o.count("/late") == 1


def _variant_origin(path, size):
    """Vary: Accept-Encoding, a different body per value; the first half
    of each at once, the rest when .rest is set."""
    bodies = {}
    rest = threading.Event()
    h.register_cleanup("open the gate", rest.set)

    def handler(req):
        ae = req.header("Accept-Encoding") or ""
        b = bodies.setdefault(ae, os.urandom(size))

        def pieces():
            yield b[:size // 2]
            rest.wait(30)
            yield b[size // 2:]
        return Response(200, pieces(), length=size,
                        headers=[FRESH, ("Vary", "Accept-Encoding")])
    return RoutedOrigin({path: handler}), bodies, rest


def test_late_joiner_of_another_variant_fetches_its_own():
    size = 1 << 20
    o, bodies, rest = _variant_origin("/vary", size)
    with Daemon() as d:
        url = o.url("/vary")
        a = Client(d, url, [("Accept-Encoding", "gzip")])
        a.start()
        h.wait_until(lambda: a.got >= size // 2, 20, what="the first variant streaming")
        same = Client(d, url, [("Accept-Encoding", "gzip")])
        other = Client(d, url, [("Accept-Encoding", "br")])
        same.start()
        other.start()
        h.wait_until(lambda: o.count("/vary") >= 2 and same.got >= size // 2, 20,
                     what="the other variant asked of the origin, the same one read along")
        rest.set()
        finish([a, same, other])
        for c, ae in ((a, "gzip"), (same, "gzip"), (other, "br")):
            assert c.resp.status == 200 and c.got == size and \
                c.sha.hexdigest() == hashlib.sha256(bodies[ae]).hexdigest(), \
                "Accept-Encoding %s got the wrong variant" % ae
        assert o.count("/vary") == 2, o.count("/vary")


def test_waiters_of_another_variant_fetch_their_own():
    """Waiters joined before the response said Vary: those whose request
    selects another variant must not get this one."""
    size = 300000
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)
    bodies = {}

    def handler(req):
        gate.wait(30)
        ae = req.header("Accept-Encoding") or ""
        b = bodies.setdefault(ae, os.urandom(size))
        return Response(200, b, headers=[FRESH, ("Vary", "Accept-Encoding")])
    o = RoutedOrigin({"/vw": handler})
    with Daemon() as d:
        url = o.url("/vw")
        cs = [Client(d, url, [("Accept-Encoding", ae)]) for ae in ("gzip", "br", "gzip", "br")]
        cs[0].start()
        o.wait_requests(1)
        for c in cs[1:]:
            c.start()
        h.wait_until(lambda: d.client_connections() >= 4, 10, what="4 client connections")
        grace(o, "/vw", 2)
        gate.set()
        finish(cs)
        for c, ae in zip(cs, ("gzip", "br", "gzip", "br")):
            assert c.sha.hexdigest() == hashlib.sha256(bodies[ae]).hexdigest(), \
                "a waiter with Accept-Encoding %s got the wrong variant" % ae
        assert o.count("/vw") <= 3, o.count("/vw")


def test_fetch_failing_mid_body_cuts_late_joiners_short():
    """The origin closes after half the body: the leader and the late
    joiners each get a response visibly short of its Content-Length
    (never one that looks complete), and nothing is stored."""
    size = 2 << 20
    o, body, half, rest = _streaming_origin("/cut", size, cut=True)
    with Daemon() as d:
        url = o.url("/cut")
        first = Client(d, url)
        first.start()
        h.wait_until(lambda: first.got >= half, 20, what="the first client to have half")
        late = Client(d, url)
        late.start()
        h.wait_until(lambda: late.got >= half, 20, what="the late client reading along")
        assert o.count("/cut") == 1
        rest.set()
        for c in (first, late):
            c.join(30)
            assert not c.is_alive(), "a client still waits after the fetch failed"
            assert c.got < size, "a cut fetch gave a client the whole length"
            assert c.error is not None, "a cut response looked complete to its client"
        o.routes["/cut"] = Response(200, body, headers=[FRESH])
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is not True, \
            "a cut fetch was stored"


if __name__ == "__main__":
    h.run(globals())

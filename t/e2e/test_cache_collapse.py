#!/usr/bin/env python3
"""Collapsed forwarding: concurrent misses for one URL make one origin
request; the other clients are served from that response as it streams in
(read-while-writer), not after it completes; an uncacheable answer (or one
whose length is unknown) releases the waiters to go forward on their own."""

import hashlib
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
        grace(o, path, N)
        gate.set()
        finish(cs)
        want = hashlib.sha256(body).hexdigest()
        for c in cs:
            assert c.resp.status == 200 and c.sha.hexdigest() == want, \
                "a released waiter got %s, %d bytes" % (c.resp.status, c.got)
        assert 1 <= o.count(path) <= N, o.count(path)
        return o.count(path)


def test_uncacheable_answer_releases_waiters():
    n = _released("/nostore", {}, [("Cache-Control", "no-store")])
    h.log("no-store: %d origin requests for %d clients" % (n, N))


def test_unknown_length_releases_waiters():
    n = _released("/chunked", {"chunked": True, "chunk_size": 10000}, [FRESH])
    h.log("chunked: %d origin requests for %d clients" % (n, N))


if __name__ == "__main__":
    h.run(globals())

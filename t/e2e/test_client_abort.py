#!/usr/bin/env python3
"""Clients that leave: a client that hangs up while its request waits (on
DNS, on a slow origin, on a collapsed fetch) is noticed at once - its
socket closed (no CLOSE_WAIT left behind), the origin request aborted and
its connection closed, the access-log line ending in _ABORTED - unless
other clients are collapsed on that fetch or it is being stored and worth
finishing (cache.quick_abort_*): then it goes on without the client. A
request whose client is already gone when it is read is not sent on."""

import hashlib
import json
import os
import socket
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
# Long timeouts: what the test sees must come from the hang-up, never
# from a timer running out.
SLOW = {"timeouts.origin_first_byte": "120s", "timeouts.origin_idle": "120s",
        "timeouts.connect": "60s", "dns.timeout": "60s"}


def status(d):
    """The daemon's status.json, as a dict."""
    r = h.proxy_request(d, "GET", "/squidlike/status.json")
    assert r.status == 200, r.status
    return json.loads(r.body.decode("utf-8"))


def metric(d, name):
    """The value of an unlabelled series in /metrics."""
    r = h.proxy_request(d, "GET", "/metrics")
    for line in r.body.decode("utf-8").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def client_sockets(d):
    """The daemon's sockets on its proxy port that are not listening."""
    return [s for s in d.tcp_sockets() if s[0] == d.port and s[2] != "0A"]


def origin_sockets(d, o):
    return [s for s in d.tcp_sockets() if s[1] == o.port]


def wait_gone(d, o, what, timeout=10):
    """The daemon holds neither the client's nor the origin's socket."""
    h.wait_until(lambda: not client_sockets(d) and not origin_sockets(d, o), timeout,
                 what="%s: client and origin sockets closed (client %s, origin %s)" % (
                     what, client_sockets(d), origin_sockets(d, o)))


class Client(threading.Thread):
    """One GET through the proxy in its own thread; stops reading and
    closes its socket when .leave is set or after leave_after body bytes."""

    def __init__(self, d, url, leave_after=None):
        super().__init__(daemon=True)
        self.d, self.url, self.leave_after = d, url, leave_after
        self.got = 0
        self.sha = hashlib.sha256()
        self.sent = threading.Event()
        self.head = threading.Event()
        self.left = threading.Event()
        self.resp = self.error = None

    def run(self):
        c = h.RawConn(self.d.port, timeout=60)
        try:
            c.send(h.build_request("GET", self.url, [("Connection", "close")]))
            self.sent.set()

            def sink(b):
                self.head.set()
                self.sha.update(b)
                self.got += len(b)
                if self.leave_after is not None and self.got >= self.leave_after:
                    raise _Leave()
            self.resp = c.recv_response(sink=sink)
        except _Leave:
            pass
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.sent.set()
            if self.leave_after is not None:
                c.close()
                self.left.set()


class _Leave(Exception):
    pass


def hang_up(c):
    """Close a RawConn the way a user's browser tab does: a FIN."""
    c.close()


def test_hangup_while_the_origin_is_slow():
    """The origin never answers; the client gives up after its request
    reached the origin: closed and logged at once, origin request aborted."""
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def slow(req):
        gate.wait(60)
        return Response(200, b"late", headers=[FRESH])
    o = RoutedOrigin({"/slow": slow})
    with Daemon(SLOW) as d:
        c = h.RawConn(d.port)
        c.send(h.build_request("GET", o.url("/slow")))
        o.wait_requests(1)
        h.wait_until(lambda: origin_sockets(d, o), 10, what="the origin connection")
        hang_up(c)
        wait_gone(d, o, "a client that left while the origin was slow")
        a = h.access_entries(d, "GET", o.url("/slow"), 1)[0]
        assert a.code == "TCP_MISS_ABORTED" and a.status == 0, a.raw
        gate.set()
        # The daemon serves on, and the late answer went nowhere.
        r = h.proxy_request(d, "GET", o.url("/slow"))
        assert r.status == 200 and r.body == b"late"


def test_hangup_while_resolving():
    dns = DnsStub({}, drop={"slow.test"})
    o = RoutedOrigin({"/x": Response(200, b"x")})
    with Daemon(SLOW, dns=dns) as d:
        url = "http://slow.test:%d/x" % o.port
        c = h.RawConn(d.port)
        c.send(h.build_request("GET", url))
        h.wait_until(lambda: dns.count("slow.test", "A") + dns.count("slow.test", "AAAA") > 0,
                     10, what="the DNS query")
        hang_up(c)
        h.wait_until(lambda: not client_sockets(d), 10,
                     what="the client socket closed (it is %s)" % client_sockets(d))
        a = h.access_entries(d, "GET", url, 1)[0]
        assert a.code.endswith("_ABORTED"), a.raw
        assert o.count("/x") == 0


def test_request_whose_client_is_gone_is_not_sent_on():
    """Request and FIN together (a client that gave up while the proxy
    could not accept): nothing reaches the origin."""
    o = RoutedOrigin({"/gone": Response(200, b"x")})
    with Daemon(SLOW) as d:
        c = h.RawConn(d.port)
        # One segment with the FIN on it (corked until the shutdown): two
        # sends could let a busy daemon read the request before the FIN.
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        c.send(h.build_request("GET", o.url("/gone")))
        c.shutdown_write()
        a = h.access_entries(d, "GET", o.url("/gone"), 1)[0]
        assert a.code.endswith("_ABORTED"), a.raw
        assert c.closed(10), "the proxy kept the connection of a client that left"
        assert o.count("/gone") == 0, "a request whose client had left was sent on"
        assert not origin_sockets(d, o)


def test_waiter_leaves_leader_goes_on():
    body = os.urandom(300000)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(60)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/w": handler})
    with Daemon(SLOW) as d:
        url = o.url("/w")
        leader = Client(d, url)
        leader.start()
        o.wait_requests(1)
        w = h.RawConn(d.port)
        w.send(h.build_request("GET", url))
        h.wait_until(lambda: len(client_sockets(d)) == 2, 10, what="2 client connections")
        hang_up(w)
        h.wait_until(lambda: len(client_sockets(d)) == 1, 10,
                     what="the waiter's socket closed (%s)" % client_sockets(d))
        gate.set()
        leader.join(30)
        assert leader.resp is not None and leader.got == len(body), leader.error
        codes = sorted(a.code for a in h.access_entries(d, "GET", url, 2))
        assert codes == ["TCP_HIT_ABORTED", "TCP_MISS"] or \
            codes == ["TCP_MISS", "TCP_MISS_ABORTED"], codes
        assert o.count("/w") == 1


def test_leader_leaves_waiters_are_still_served():
    """The first client leaves while others wait on its fetch: the fetch
    goes on for them (one origin request), and the object is stored."""
    body = os.urandom(2 << 20)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def handler(req):
        gate.wait(60)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({"/lead": handler})
    with Daemon(SLOW) as d:
        url = o.url("/lead")
        lead = h.RawConn(d.port)
        lead.send(h.build_request("GET", url))
        o.wait_requests(1)
        waiters = [Client(d, url) for _ in range(3)]
        for c in waiters:
            c.start()
        h.wait_until(lambda: len(client_sockets(d)) == 4, 10, what="4 client connections")
        hang_up(lead)
        h.wait_until(lambda: len(client_sockets(d)) == 3, 10,
                     what="the leader's socket closed (%s)" % client_sockets(d))
        s = status(d)["connections"]
        assert s["client_aborts"] == 1 and s["fetches_without_client"] == 1, s
        assert metric(d, "squidlike_fetches_without_client") == 1
        gate.set()
        want = hashlib.sha256(body).hexdigest()
        for c in waiters:
            c.join(30)
            assert not c.is_alive() and c.error is None, c.error
            assert c.got == len(body) and c.sha.hexdigest() == want, c.got
        assert o.count("/lead") == 1, o.count("/lead")
        first = [a for a in h.access_entries(d, "GET", url, 4) if a.code.endswith("_ABORTED")]
        assert len(first) == 1 and first[0].code == "TCP_MISS_ABORTED", first
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is True
        assert o.count("/lead") == 1
        h.wait_until(lambda: status(d)["connections"]["fetches_without_client"] == 0, 10,
                     what="the headless fetch to end")
        assert metric(d, "squidlike_client_aborts_total") == 1


def _half_then_gate(path, size):
    """An origin sending half the body at once, the rest when .gate is
    set; .done is set once it has sent it all."""
    body = os.urandom(size)
    gate, done = threading.Event(), threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def pieces():
        yield body[:size // 2]
        gate.wait(60)
        yield body[size // 2:]
        done.set()

    def handler(req):
        return Response(200, pieces(), length=size, headers=[FRESH])
    return RoutedOrigin({path: handler}), body, gate, done


def test_quick_abort_finishes_what_is_worth_it():
    """quick_abort_min above what is left: the fetch goes on without its
    client and the object is stored whole."""
    size = 4 << 20
    o, body, gate, done = _half_then_gate("/qa", size)
    with Daemon(dict(SLOW, **{"cache.quick_abort_min": "8M"})) as d:
        url = o.url("/qa")
        c = Client(d, url, leave_after=size // 2)
        c.start()
        assert c.left.wait(20), "the client never got the first half"
        h.wait_until(lambda: not client_sockets(d), 10,
                     what="the client's socket closed (%s)" % client_sockets(d))
        assert origin_sockets(d, o), "the fetch worth finishing was cut"
        a = h.access_entries(d, "GET", url, 1)[0]
        assert a.code == "TCP_MISS_ABORTED" and a.status == 200, a.raw
        gate.set()
        assert done.wait(20), "the origin could not send the rest"
        # Served from what the headless fetch stored (or is committing):
        # no second origin request.
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is True, \
            h.cache_status(r)
        assert o.count("/qa") == 1, o.count("/qa")


def test_quick_abort_default_cuts_a_big_remainder():
    """Squid's defaults (16K/16K/95%): 2 MiB left is not worth it; the
    origin connection is closed at once, and nothing is stored."""
    size = 4 << 20
    o, body, gate, _ = _half_then_gate("/cut", size)
    with Daemon(SLOW) as d:
        url = o.url("/cut")
        c = Client(d, url, leave_after=size // 2)
        c.start()
        assert c.left.wait(20), "the client never got the first half"
        wait_gone(d, o, "a client that left 2 MiB before the end")
        a = h.access_entries(d, "GET", url, 1)[0]
        assert a.code == "TCP_MISS_ABORTED" and a.status == 200, a.raw
        gate.set()
        o.routes["/cut"] = Response(200, body, headers=[FRESH])
        r = h.proxy_request(d, "GET", url)
        assert r.body == body and h.cache_status_params(r).get("hit") is not True
        assert o.count("/cut") == 2


def test_fetch_going_on_frees_its_connection_slot():
    """A fetch that goes on without its client holds an origin connection,
    not a place in limits.max_connections: with room for one client, the
    next one is served while the fetch is still running."""
    size = 4 << 20
    o, body, gate, done = _half_then_gate("/slot", size)
    o.routes["/other"] = Response(200, b"other", headers=[FRESH])
    with Daemon(dict(SLOW, **{"cache.quick_abort_min": "8M",
                              "limits.max_connections": 1})) as d:
        url = o.url("/slot")
        c = Client(d, url, leave_after=size // 2)
        c.start()
        assert c.left.wait(20), "the client never got the first half"
        h.wait_until(lambda: not client_sockets(d), 10, what="the client's socket closed")
        assert origin_sockets(d, o), "the fetch was cut"
        r = h.proxy_request(d, "GET", o.url("/other"), timeout=10)
        assert r.status == 200 and r.body == b"other"
        assert not done.is_set(), "the fetch ended before the check"
        gate.set()


def test_pipelined_request_behind_a_fin_is_not_a_hang_up():
    """A client that sent its next request and then shut its sending side
    still waits for the answer in progress: bytes to read behind the FIN
    mean it has not left."""
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def slow(req):
        gate.wait(60)
        return Response(200, b"first", headers=[FRESH])
    o = RoutedOrigin({"/p1": slow, "/p2": Response(200, b"second", headers=[FRESH])})
    with Daemon(SLOW) as d:
        c = h.RawConn(d.port, timeout=30)
        c.send(h.build_request("GET", o.url("/p1")) + h.build_request("GET", o.url("/p2")))
        o.wait_requests(1)
        c.shutdown_write()
        try:
            h.wait_until(lambda: not client_sockets(d), 1.0, what="a wrong abort")
            aborted = True
        except h.TestFailure:
            aborted = False
        gate.set()
        assert not aborted, "a client with a pipelined request behind its FIN was cut"
        r = c.recv_response()
        assert r.status == 200 and r.body == b"first", r.brief()


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""The cache store across restarts and crashes, and its size cap: objects
stored before a restart (SIGTERM or kill -9) are hits after it; kill -9
while a 50 MB object is being stored leaves a store that opens and serves
only whole objects (the object is fetched again, never served cut); the
chunks such a crash leaves behind are not counted against the cap;
eviction keeps the store under cache.size, dropping the oldest objects."""

import hashlib
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
BIG = 50 << 20


def log_synced(d, n, what):
    d.access_log_lines(lambda ls: len(ls) > n, what="the access log line of " + what)


def get(d, url, headers=(), method="GET", **kw):
    """One request; returns once its access-log line is written, which the
    daemon does after committing what the request did to the store (see
    get() in test_cache.py)."""
    n = len(d.access_log_lines())
    r = h.proxy_request(d, method, url, headers=headers, **kw)
    log_synced(d, n, "%s %s" % (method, url))
    return r


def is_hit(r):
    p = h.cache_status_params(r)
    return p.get("hit") is True and "fwd" not in p


def assert_hit(r, body, what=""):
    assert r.status == 200 and r.body == body, "%s: %d bytes, expected %d: %s" % (
        what, len(r.body), len(body), r.brief()[:300])
    assert is_hit(r), "%s: not a hit: Cache-Status %r" % (what, h.cache_status(r))


def stream_get(d, url, on_bytes=None, timeout=120, headers=()):
    """GET url on a fresh connection, hashing the body as it arrives.
    on_bytes(total) is called after each piece. Returns (response head,
    size, sha256) once the access-log line is written, or raises
    ConnectionClosed."""
    n0 = len(d.access_log_lines())
    hsh = hashlib.sha256()
    n = {"v": 0}

    def sink(b):
        hsh.update(b)
        n["v"] += len(b)
        if on_bytes:
            on_bytes(n["v"])
    with h.RawConn(d.port, timeout=timeout) as c:
        c.send(h.build_request("GET", url, list(headers) + [("Connection", "close")]))
        r = c.recv_response(sink=sink)
    log_synced(d, n0, "GET " + url)
    return r, n["v"], hsh.hexdigest()


def store_usage(d):
    """Bytes the daemon's store directory really occupies on disk."""
    total = 0
    top = os.path.join(d.dir, "var", "cache")
    for dirpath, _, files in os.walk(top):
        for f in files:
            try:
                total += os.stat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def _vary(req):
    ae = req.header("Accept-Encoding")
    return Response(200, b"variant " + (ae or "none").encode(),
                    headers=[FRESH, ("Vary", "Accept-Encoding")])


def test_restart_keeps_store():
    """SIGTERM, start again on the same directory: hits stay hits
    (inline, chunked, variants, negative), validators survive for a
    revalidation, a 304's refreshed fields and a PURGE are kept."""
    small, medium = os.urandom(1000), os.urandom((1 << 20) + 5)

    restarted = {"v": False}

    def reval(req):
        if req.header("If-None-Match") == '"r1"':
            # After the restarts the 304 carries no X-Gen: what the client
            # sees is the head the first 304 refreshed, as stored.
            return Response(304, headers=[("Cache-Control", "max-age=0")] +
                            ([] if restarted["v"] else [("X-Gen", "304")]))
        return Response(200, b"revalidate me", headers=[("Cache-Control", "max-age=0"),
                                                        ("ETag", '"r1"'), ("X-Gen", "200")])
    o = RoutedOrigin({
        "/small": Response(200, small, headers=[FRESH]),
        "/medium": Response(200, medium, headers=[FRESH], chunked=True, chunk_size=7000),
        "/v": _vary,
        "/404": Response(404, b"nope", headers=[("Cache-Control", "max-age=3600")]),
        "/reval": reval,
        "/purged": Response(200, b"purge me", headers=[FRESH]),
    })
    with Daemon() as d:
        for p in ("/small", "/medium", "/404", "/reval", "/purged"):
            get(d, o.url(p))
        for ae in ("gzip", "br"):
            get(d, o.url("/v"), headers=[("Accept-Encoding", ae)])
        r = get(d, o.url("/reval"))          # 304: head refreshed (X-Gen: 304)
        assert r.header("X-Gen") == "304", r.headers
        assert get(d, o.url("/purged"), method="PURGE").status == 200
        before = {p: o.count(p) for p in o.routes}
        restarted["v"] = True
        for crash in (False, True):
            d.restart(crash=crash)
            what = "after %s" % ("kill -9" if crash else "SIGTERM")
            assert_hit(get(d, o.url("/small")), small, "/small " + what)
            assert_hit(get(d, o.url("/medium")), medium, "/medium " + what)
            for ae in ("gzip", "br"):
                assert_hit(get(d, o.url("/v"), headers=[("Accept-Encoding", ae)]),
                           b"variant " + ae.encode(), "/v %s %s" % (ae, what))
            r = get(d, o.url("/404"))
            assert r.status == 404 and r.body == b"nope" and is_hit(r), (what, r.brief())
            r = get(d, o.url("/reval"))
            assert r.status == 200 and r.body == b"revalidate me", (what, r.brief())
            assert r.header("X-Gen") == "304", "%s: refreshed head lost: %r" % (what, r.headers)
            assert o.last().target == "/reval" and \
                o.last().header("If-None-Match") == '"r1"', (what, o.last().headers)
            assert {p: o.count(p) for p in o.routes if p not in ("/reval", "/purged")} == \
                {p: before[p] for p in o.routes if p not in ("/reval", "/purged")}, what
        r = get(d, o.url("/purged"))
        assert r.body == b"purge me" and not is_hit(r), "purged object back after restarts"
        assert o.count("/purged") == 2
        log = [a.code for a in h.access_entries(d, "GET", o.url("/small"))]
        assert log == ["TCP_MISS", "TCP_HIT", "TCP_HIT"], log


def test_kill9_while_storing_large_object():
    """kill -9 in the middle of storing a 50 MB object (origin stalled after
    20 MB, then origin streaming at full speed), and right after one was
    received whole: after each restart the store opens, objects stored
    before are hits, and the big object is whole (sha256) - served from
    the store only when it was stored completely, else fetched again."""
    small, medium = os.urandom(2000), os.urandom(3 << 20)
    stall_at = 20 << 20
    gate = threading.Event()
    h.register_cleanup("release the stalled origin", gate.set)
    mode = {"v": "stall"}

    def zeros(n):
        for _ in range(n // 65536):
            yield bytes(65536)

    def big(req):
        if mode["v"] == "fast":
            return Response(200, h.pattern_body(BIG), length=BIG, headers=[FRESH])

        def stalled():
            sent = 0
            for piece in (h.pattern_body(BIG) if mode["v"] == "stall" else zeros(BIG)):
                if sent >= stall_at:
                    gate.wait(60)
                    return          # the daemon is gone by now
                sent += len(piece)
                yield piece
        return Response(200, stalled(), length=BIG, headers=[FRESH])
    o = RoutedOrigin({"/small": Response(200, small, headers=[FRESH]),
                      "/medium": Response(200, medium, headers=[FRESH]),
                      "/big": big})
    want = h.pattern_sha256(BIG)
    # The cap leaves room for the big object and the others, not for
    # leftovers of a crashed store counted as well.
    with Daemon({"cache.size": "64M"}) as d:
        get(d, o.url("/small"))
        assert_hit(get(d, o.url("/small")), small, "/small")
        get(d, o.url("/medium"))
        assert_hit(get(d, o.url("/medium")), medium, "/medium")
        url = o.url("/big")

        def check_after_restart(what, complete_before):
            assert_hit(get(d, o.url("/small")), small, "/small " + what)
            assert_hit(get(d, o.url("/medium")), medium, "/medium " + what)
            n0 = o.count("/big")
            r, size, sha = stream_get(d, url)
            assert r.status == 200 and size == BIG and sha == want, \
                "%s: /big came back as %s, %d bytes, sha %s" % (what, r.status, size, sha[:12])
            fetched = o.count("/big") - n0
            if not complete_before:
                assert fetched == 1 and not is_hit(r), \
                    "%s: a partly stored object was served from the store (%r)" % (
                        what, h.cache_status(r))
            assert (fetched == 0) == is_hit(r), (what, fetched, h.cache_status(r))
            if fetched:
                assert "stored" in h.cache_status_params(r), (what, h.cache_status(r))
            # Now it is stored whole: a hit, and the others are still there
            # (the crashed object's chunks do not count against the cap).
            r, size, sha = stream_get(d, url)
            assert is_hit(r) and size == BIG and sha == want, \
                "%s: second GET of /big: %r %d %s" % (what, h.cache_status(r), size, sha[:12])
            assert o.count("/big") == n0 + fetched
            assert_hit(get(d, o.url("/small")), small, "/small after /big, " + what)
            assert_hit(get(d, o.url("/medium")), medium, "/medium after /big, " + what)
            assert get(d, url, method="PURGE").status == 200

        # 1. Origin stalled after 20 MB; the client has all of it.
        def kill_at(limit):
            def cb(n):
                if n >= limit and d.alive():
                    d.kill_hard()
            return cb
        try:
            stream_get(d, url, on_bytes=kill_at(stall_at))
            raise AssertionError("the response survived kill -9?")
        except h.ConnectionClosed:
            pass
        assert not d.alive()
        # Part of the object went into the store before the kill.
        h.log("store directory after kill -9 at 20 MB: %d bytes" % store_usage(d))
        assert store_usage(d) >= 10 << 20, store_usage(d)
        gate.set()
        mode["v"] = "fast"
        d.restart(crash=True)
        check_after_restart("kill -9 with the origin stalled at 20 MB", False)

        # 2. Origin streaming at full speed; kill at 10 MB received.
        try:
            stream_get(d, url, on_bytes=kill_at(10 << 20))
            raise AssertionError("the response survived kill -9?")
        except h.ConnectionClosed:
            pass
        d.restart(crash=True)
        check_after_restart("kill -9 mid-stream at 10 MB", False)

        # 3. Killed right after the whole body reached the client: stored
        # or not, never cut.
        r, size, sha = stream_get(d, url)
        assert size == BIG and sha == want and not is_hit(r), (size, h.cache_status(r))
        d.restart(crash=True)
        check_after_restart("kill -9 after a complete store", True)

        # 4. A stored object being replaced (a reload: request no-cache) by
        # a new version, killed mid-way: the old version whole, or a fetch.
        r, size, sha = stream_get(d, url)
        assert size == BIG and sha == want and not is_hit(r), (size, h.cache_status(r))
        gate.clear()
        mode["v"] = "zeros"
        try:
            stream_get(d, url, headers=[("Cache-Control", "no-cache")],
                       on_bytes=kill_at(stall_at))
            raise AssertionError("the response survived kill -9?")
        except h.ConnectionClosed:
            pass
        gate.set()
        mode["v"] = "fast"
        d.restart(crash=True)
        n0 = o.count("/big")
        r, size, sha = stream_get(d, url)
        assert size == BIG and sha == want, \
            "after kill -9 during a replacement: %d bytes, sha %s (zeros: %s), %r" % (
                size, sha[:12], sha == h.zeros_sha256(BIG), h.cache_status(r))
        assert is_hit(r) == (o.count("/big") == n0), (h.cache_status(r), o.count("/big"), n0)
    aside = [f for f in os.listdir(os.path.join(d.dir, "var")) if "broken" in f]
    assert not aside, "the store was moved aside after a crash: %r" % aside


def test_eviction_keeps_store_under_cap():
    """10 MB of 100 KB objects through a 2 MB store: the newest objects
    are hits, everything older than what fits is a miss again, and the
    store directory stays small."""
    cap, size, n = 2 << 20, 100 * 1024, 100
    bodies = {"/e%d" % i: os.urandom(size) for i in range(n)}
    o = RoutedOrigin({p: Response(200, b, headers=[FRESH]) for p, b in bodies.items()})
    with Daemon({"cache.size": "2M"}) as d:
        for i in range(n):
            r = get(d, o.url("/e%d" % i))
            assert r.status == 200 and r.body == bodies["/e%d" % i], i
            assert "stored" in h.cache_status_params(r), (i, h.cache_status(r))
        usage = store_usage(d)
        # Newest first: the hits are the newest objects, a contiguous run;
        # each miss re-stores an object and evicts only older (already
        # probed) ones.
        hits = []
        for i in reversed(range(n)):
            p = "/e%d" % i
            r = get(d, o.url(p))
            assert r.status == 200 and r.body == bodies[p], "%s: wrong body" % p
            hit = is_hit(r)
            assert hit == (o.count(p) == 1), (p, h.cache_status(r), o.count(p))
            hits.append(hit)
        kept = hits.index(False) if False in hits else len(hits)
        assert all(not x for x in hits[kept:]), \
            "hits are not the newest objects: %s" % "".join("H" if x else "." for x in hits)
        assert kept * size <= cap, "%d objects of %d bytes kept under a %d cap" % (kept, size, cap)
        assert kept * size >= cap // 2, "only %d objects kept under a %d cap" % (kept, cap)
        assert usage <= 4 * cap + (1 << 20), \
            "store directory uses %d bytes after 10 MB through a 2 MB cap" % usage
        h.log("kept %d objects of %d; store directory %d bytes" % (kept, n, usage))
        # An object bigger than the whole store is served whole, twice.
        huge = os.urandom(3 << 20)
        o.routes["/huge"] = Response(200, huge, headers=[FRESH])
        for _ in range(2):
            r = get(d, o.url("/huge"))
            assert r.status == 200 and r.body == huge, h.cache_status(r)
        assert store_usage(d) <= 4 * cap + (4 << 20), store_usage(d)


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""The HTTP cache (RFC 9111) end to end: what is stored and what is not,
hits (bodies inline, in chunks, over keep-alive, HEAD, conditionals,
ranges), freshness and Age, revalidation (304 refresh, 200 replace,
stale-if-error, request directives), Vary, invalidation by unsafe methods,
PURGE, only-if-cached, max_object, and the Cache-Status field.

The authoritative proof of a hit is the origin's request count (every
origin here is a RoutedOrigin that records what it receives); each test
also checks status, body bytes, Cache-Status and access-log codes.
Restarts, kill -9 and eviction are in test_cache_crash.py."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


def http_date(t):
    return time.strftime(HTTP_DATE, time.gmtime(t))


def log_synced(d, n, what):
    """Wait (bounded) until the access log has more than n lines."""
    d.access_log_lines(lambda ls: len(ls) > n, what="the access log line of " + what)


def get(d, url, headers=(), method="GET", sync=True, **kw):
    """One request on a fresh connection (Connection: close).

    With sync (the default) it returns once the request's access-log line
    is written. The daemon commits what a request did to the store (an
    object stored, a refreshed head, a PURGE or an invalidation) at the
    end of its event-loop iteration, in the same step that hands the
    access-log lines to the file; a client fast enough to send its next
    request before that iteration ends is served from the store as it
    was (see test_pipelined_requests_see_purge_and_invalidation). Tests
    that are not about that race wait for the log line first."""
    n = len(d.access_log_lines()) if sync else 0
    ok = False
    try:
        r = h.proxy_request(d, method, url, headers=headers, **kw)
        ok = True
        return r
    finally:
        if sync:
            try:
                log_synced(d, n, "%s %s" % (method, url))
            except h.TestFailure:
                if ok:
                    raise


def request_synced(c, d, method, url, headers=(), **kw):
    """c.request() on a RawConn, then wait for its access-log line."""
    n = len(d.access_log_lines())
    r = c.request(method, url, headers=headers, **kw)
    log_synced(d, n, "%s %s" % (method, url))
    return r


def cs(r):
    """squidlike's Cache-Status parameters; fails when there is none."""
    v = h.cache_status(r)
    assert v is not None, "no Cache-Status for squidlike in %r" % (r.headers,)
    return v


def csp(r):
    cs(r)
    return h.cache_status_params(r)


def assert_hit(r, body=None, status=200):
    p = csp(r)
    assert r.status == status, "hit: status %s, expected %d: %s" % (r.status, status, r.brief())
    assert p.get("hit") is True and "fwd" not in p, "not a hit: Cache-Status %r" % cs(r)
    assert r.header("Age") is not None and r.header("Age").isdigit(), \
        "hit without a numeric Age: %r" % (r.headers,)
    if body is not None:
        assert r.body == body, "hit body: %d bytes sha %s, expected %d sha %s" % (
            len(r.body), h.sha256(r.body)[:12], len(body), h.sha256(body)[:12])
    return p


def assert_miss(r, stored=True, body=None, status=200):
    p = csp(r)
    assert r.status == status, "miss: status %s, expected %d: %s" % (r.status, status, r.brief())
    assert p.get("fwd") == "uri-miss", "not a miss: Cache-Status %r" % cs(r)
    if stored:
        assert p.get("stored") is True, "miss not stored: Cache-Status %r" % cs(r)
    else:
        assert "stored" not in p and "detail" in p, \
            "expected a miss not stored (with a detail): Cache-Status %r" % cs(r)
    if body is not None:
        assert r.body == body, "miss body: %d bytes, expected %d" % (len(r.body), len(body))
    return p


def codes(d, url, n, method="GET"):
    """The access-log codes ("TCP_HIT/200") of the requests for url."""
    return ["%s/%d" % (a.code, a.status) for a in h.access_entries(d, method, url, n)]


# The daemon reads time(2), which glibc serves from the coarse clock: it
# can lag time.time() by a few milliseconds, so a second boundary seen here
# is waited past by a margin before the daemon is asked.
CLOCK_MARGIN = 0.05


def past_second(t, seconds=1):
    """Wait until the whole-second clock is at least int(t) + seconds, for
    the daemon too."""
    h.wait_until(lambda: time.time() >= int(t) + seconds + CLOCK_MARGIN, seconds + 5,
                 what="%d s past %.3f" % (seconds, t))


def wait_stale(t_after, max_age):
    """Wait until a response received before t_after (time.time()) with
    this max-age and no Date is stale by the daemon's whole-second clock."""
    past_second(t_after, max_age)


# --------------------------------------------------------------------------
# Hits
# --------------------------------------------------------------------------

def test_second_get_is_hit():
    body = b"hello from the cache test\n"
    o = RoutedOrigin({"/a": Response(200, body, headers=[
        FRESH, ("Content-Type", "text/plain; charset=utf-8"), ("X-Origin", "one"),
        ("ETag", '"e1"')])})
    with Daemon() as d:
        url = o.url("/a")
        r1 = get(d, url)
        assert_miss(r1, body=body)
        assert cs(r1) == "fwd=uri-miss; stored", cs(r1)
        assert r1.header("Age") is None, "a miss forwarded without Age got %r" % r1.header("Age")
        r2 = get(d, url)
        p = assert_hit(r2, body)
        assert 3590 <= int(p["ttl"]) <= 3600, "ttl %r for max-age=3600" % p.get("ttl")
        assert int(r2.header("Age")) <= 5, r2.header("Age")
        assert r2.header("Content-Length") == str(len(body)), r2.headers
        assert r2.header("Content-Type") == "text/plain; charset=utf-8", r2.headers
        assert r2.header("X-Origin") == "one" and r2.header("ETag") == '"e1"', r2.headers
        assert r2.header("Cache-Control") == "max-age=3600", r2.headers
        assert h.via_ok(r2.header("Via")) and len(r2.header_all("Via")) == 1, r2.headers
        assert len(r2.header_all("Cache-Status")) == 1, r2.headers
        r3 = get(d, url)
        assert_hit(r3, body)
        assert o.count("/a") == 1, "origin saw %d requests for a cached object" % o.count("/a")
        assert codes(d, url, 3) == ["TCP_MISS/200", "TCP_HIT/200", "TCP_HIT/200"]
        hit = h.access_entries(d, "GET", url)[1]
        assert hit.hier.startswith("HIER_NONE"), hit.raw
        assert hit.bytes >= len(body), hit.raw


def test_hit_bodies_every_framing_and_size():
    """Inline (<= 32 KiB) and chunked (128 KiB chunks) store paths, at and
    around their limits, from Content-Length, chunked (odd chunk sizes,
    extensions, trailers) and close-delimited origin bodies: the hit has
    exactly the bytes of the miss."""
    cases = {}
    for n in (0, 1, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 128 * 1024, 128 * 1024 + 1,
              3 * 128 * 1024, 1000003):
        cases["/cl-%d" % n] = (os.urandom(n), {})
    for n in (5, 40000, 128 * 1024 + 7, 700001):
        cases["/chunked-%d" % n] = (os.urandom(n), {"chunked": True, "chunk_size": 1000,
                                                    "chunk_ext": ";x=1",
                                                    "trailers": [("X-T", "1")]})
    for n in (3, 300000):
        cases["/close-%d" % n] = (os.urandom(n), {"close_delimited": True})
    o = RoutedOrigin({p: Response(200, b, headers=[FRESH], **kw) for p, (b, kw) in cases.items()})
    with Daemon() as d:
        for path, (body, _) in cases.items():
            url = o.url(path)
            r1 = get(d, url)
            assert_miss(r1, body=body)
            r2 = get(d, url)
            assert_hit(r2, body)
            assert r2.header("Content-Length") == str(len(body)), (path, r2.headers)
            assert r2.header("Transfer-Encoding") is None, (path, r2.headers)
            assert o.count(path) == 1, "%s: origin saw %d requests" % (path, o.count(path))
            assert codes(d, url, 2) == ["TCP_MISS/200", "TCP_HIT/200"], path


def test_hits_on_keepalive_connection_and_http10():
    small, big = b"s" * 100, os.urandom(400 * 1024)
    o = RoutedOrigin({"/s": Response(200, small, headers=[FRESH, ("ETag", '"s"')]),
                      "/b": Response(200, big, headers=[FRESH])})
    with Daemon() as d:
        su, bu = o.url("/s"), o.url("/b")
        with h.RawConn(d.port) as c:
            assert_miss(request_synced(c, d, "GET", su), body=small)
            assert_hit(request_synced(c, d, "GET", su), small)
            assert_miss(request_synced(c, d, "GET", bu), body=big)
            assert_hit(request_synced(c, d, "GET", bu), big)
            r = request_synced(c, d, "HEAD", bu)
            assert r.status == 200 and r.body == b"" and r.header("Content-Length") == str(len(big))
            r = request_synced(c, d, "GET", bu, headers=[("Range", "bytes=10-19")])
            assert r.status == 206 and r.body == big[10:20], r.brief()
            r = request_synced(c, d, "GET", su, headers=[("If-None-Match", '"s"')])
            assert r.status == 304 and r.body == b"", r.brief()
            assert_hit(request_synced(c, d, "GET", bu), big)
            assert_hit(request_synced(c, d, "GET", su), small)
        # HTTP/1.0 client: whole body with Content-Length, keep-alive on request.
        with h.RawConn(d.port) as c:
            for _ in range(2):
                r = request_synced(c, d, "GET", bu, headers=[("Connection", "keep-alive")],
                                   version="HTTP/1.0")
                assert_hit(r, big)
                assert r.header("Content-Length") == str(len(big))
        r = get(d, bu, version="HTTP/1.0")
        assert_hit(r, big)
        assert o.count("/s") == 1 and o.count("/b") == 1, (o.count("/s"), o.count("/b"))


def test_query_strings_are_distinct_keys():
    o = RoutedOrigin({"/q?x=1": Response(200, b"one", headers=[FRESH]),
                      "/q?x=2": Response(200, b"two", headers=[FRESH]),
                      "/q": Response(200, b"none", headers=[FRESH])})
    with Daemon() as d:
        for t, b in (("/q?x=1", b"one"), ("/q?x=2", b"two"), ("/q", b"none")):
            assert_miss(get(d, o.url(t)), body=b)
        for t, b in (("/q?x=2", b"two"), ("/q", b"none"), ("/q?x=1", b"one")):
            assert_hit(get(d, o.url(t)), b)
        assert [o.count(t) for t in ("/q?x=1", "/q?x=2", "/q")] == [1, 1, 1]


def test_host_name_case_is_one_key():
    dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]}})
    o = RoutedOrigin({"/h": Response(200, b"host", headers=[FRESH])})
    with Daemon(dns=dns) as d:
        assert_miss(get(d, "http://origin.test:%d/h" % o.port), body=b"host")
        assert_hit(get(d, "http://ORIGIN.Test:%d/h" % o.port,
                       headers=[("Host", "ORIGIN.Test:%d" % o.port)]), b"host")
        assert o.count("/h") == 1


def test_negative_and_redirect_hits():
    o = RoutedOrigin({
        "/404": Response(404, b"gone away\n", headers=[("Cache-Control", "max-age=600")]),
        "/410": Response(410, b"really gone\n", headers=[("Cache-Control", "max-age=600")]),
        "/301": Response(301, b"moved\n", headers=[("Cache-Control", "max-age=600"),
                                                   ("Location", "/new")]),
    })
    with Daemon() as d:
        for path, st in (("/404", 404), ("/410", 410), ("/301", 301)):
            url = o.url(path)
            assert_miss(get(d, url), status=st)
            r = get(d, url)
            assert_hit(r, o.routes[path].body, status=st)
            assert o.count(path) == 1, path
            code = "TCP_NEGATIVE_HIT" if st >= 400 else "TCP_HIT"
            assert codes(d, url, 2) == ["TCP_MISS/%d" % st, "%s/%d" % (code, st)], path
        assert get(d, o.url("/301")).header("Location") == "/new"


def test_head_answered_from_stored_get():
    body = os.urandom(50000)
    o = RoutedOrigin({"/g": Response(200, body, headers=[FRESH, ("X-Kind", "g")]),
                      "/h": Response(200, b"head-first", headers=[FRESH])})
    with Daemon() as d:
        url = o.url("/g")
        assert_miss(get(d, url), body=body)
        r = get(d, url, method="HEAD")
        assert_hit(r, b"")
        assert r.header("Content-Length") == str(len(body)) and r.header("X-Kind") == "g", r.headers
        assert o.count("/g") == 1, "HEAD went to the origin"
        assert codes(d, url, 1, "HEAD") == ["TCP_HIT/200"]
        # A HEAD miss is forwarded as HEAD and stores nothing; the GET after
        # it is a miss.
        url = o.url("/h")
        r = get(d, url, method="HEAD")
        assert r.status == 200 and r.body == b"", r.brief()
        assert_miss(r, stored=False)
        assert [q.method for q in o.reqs("/h")] == ["HEAD"]
        assert_miss(get(d, url), body=b"head-first")
        assert_hit(get(d, url, method="HEAD"), b"")
        assert [q.method for q in o.reqs("/h")] == ["HEAD", "GET"]


def test_client_conditionals_answered_from_store():
    lm = http_date(time.time() - 86400)
    body = b"conditional body\n"
    o = RoutedOrigin({"/c": Response(200, body, headers=[
        FRESH, ("ETag", '"v1"'), ("Last-Modified", lm), ("Content-Type", "text/plain")])})
    with Daemon() as d:
        url = o.url("/c")
        assert_miss(get(d, url), body=body)
        cases = [
            ([("If-None-Match", '"v1"')], 304),
            ([("If-None-Match", 'W/"v1"')], 304),           # weak comparison
            ([("If-None-Match", '"x", "v1"')], 304),
            ([("If-None-Match", "*")], 304),
            ([("If-None-Match", '"v2"')], 200),
            ([("If-Modified-Since", lm)], 304),
            ([("If-Modified-Since", http_date(time.time()))], 304),
            ([("If-Modified-Since", http_date(time.time() - 2 * 86400))], 200),
            ([("If-None-Match", '"v2"'), ("If-Modified-Since", lm)], 200),  # INM wins
            ([("If-Match", '"v2"')], 412),
            ([("If-Match", '"v1"')], 200),
            ([("If-Unmodified-Since", http_date(time.time() - 2 * 86400))], 412),
        ]
        want_codes = ["TCP_MISS/200"]
        for hdrs, st in cases:
            r = get(d, url, headers=hdrs)
            assert r.status == st, "%r: got %s, expected %d" % (hdrs, r.status, st)
            if st == 304:
                assert r.body == b"" and r.header("ETag") == '"v1"', (hdrs, r.brief())
                assert r.header("Content-Length") is None, (hdrs, r.headers)
                want_codes.append("TCP_IMS_HIT/304")
            elif st == 200:
                assert_hit(r, body)
                want_codes.append("TCP_HIT/200")
            else:
                assert r.body == b"" or b"conditional body" not in r.body, r.brief()
                want_codes.append("TCP_HIT/412")
        assert o.count("/c") == 1, "conditionals reached the origin (%d)" % o.count("/c")
        assert codes(d, url, len(want_codes)) == want_codes


def test_responses_from_store_are_framed_on_keepalive():
    """Every answer from the store (200, 304, 206, 412, 416) is delimited
    (RFC 9112 6.3) so that the next response on the connection is read as
    such: a 412 needs Content-Length: 0 like the 416."""
    o = RoutedOrigin({"/k": Response(200, b"abc", headers=[FRESH, ("ETag", '"k1"')])})
    with Daemon() as d:
        url = o.url("/k")
        assert_miss(get(d, url), body=b"abc")
        seq = [([], 200), ([("If-None-Match", '"k1"')], 304), ([("Range", "bytes=1-1")], 206),
               ([("If-Match", '"zz"')], 412), ([("Range", "bytes=9-")], 416), ([], 200)]
        with h.RawConn(d.port, timeout=10) as c:
            for hdrs, st in seq:
                c.send(h.build_request("GET", url, hdrs))
                r = c.recv_response(head_only=True)
                assert r.status == st, "%r: %s" % (hdrs, r.brief())
                if st in (200, 206, 412, 416):
                    assert r.header("Content-Length") is not None or \
                        r.header("Transfer-Encoding") is not None, \
                        "%d from the store on a kept-alive connection without framing " \
                        "(close-delimited, RFC 9112 6.3): %r" % (st, r.raw_head)
                n = int(r.header("Content-Length") or 0) if st != 304 else 0
                body = []
                c.rd.read_exact(n, body.append)
                if st == 200:
                    assert b"".join(body) == b"abc"
        assert o.count("/k") == 1


def test_ranges_answered_from_store():
    body = os.urandom(300000)
    small = b"0123456789"
    o = RoutedOrigin({"/r": Response(200, body, headers=[FRESH, ("ETag", '"r1"')]),
                      "/s": Response(200, small, headers=[FRESH, ("ETag", 'W/"weak"')])})
    with Daemon() as d:
        url = o.url("/r")
        assert_miss(get(d, url), body=body)
        n = len(body)
        ok = [("bytes=0-0", 0, 0), ("bytes=131068-131075", 131068, 131075),   # a chunk edge
              ("bytes=262140-262150", 262140, 262150),
              ("bytes=-100", n - 100, n - 1), ("bytes=299990-", 299990, n - 1),
              ("bytes=0-999999", 0, n - 1), ("bytes=1000-", 1000, n - 1)]
        for spec, a, b in ok:
            r = get(d, url, headers=[("Range", spec)])
            assert r.status == 206, "%s: %s" % (spec, r.brief())
            assert r.header("Content-Range") == "bytes %d-%d/%d" % (a, b, n), (spec, r.headers)
            assert r.body == body[a:b + 1], "%s: wrong bytes (%d)" % (spec, len(r.body))
            assert r.header("Content-Length") == str(b - a + 1), (spec, r.headers)
            assert_hit(r, status=206)
        for spec in ("bytes=300000-300010", "bytes=400000-", "bytes=-0"):
            r = get(d, url, headers=[("Range", spec)])
            assert r.status == 416, "%s: %s" % (spec, r.brief())
            assert r.header("Content-Range") == "bytes */%d" % n, (spec, r.headers)
        # Not single satisfiable byte ranges: the whole object.
        for spec in ("bytes=0-1,5-6", "bytes=5-3", "items=0-1", "bytes=abc"):
            r = get(d, url, headers=[("Range", spec)])
            assert_hit(r, body)
        # If-Range: only the strong ETag it names makes a range.
        r = get(d, url, headers=[("Range", "bytes=5-9"), ("If-Range", '"r1"')])
        assert r.status == 206 and r.body == body[5:10], r.brief()
        r = get(d, url, headers=[("Range", "bytes=5-9"), ("If-Range", '"other"')])
        assert_hit(r, body)
        # An inline object, and a weak ETag never satisfies If-Range.
        su = o.url("/s")
        assert_miss(get(d, su), body=small)
        r = get(d, su, headers=[("Range", "bytes=2-4")])
        assert r.status == 206 and r.body == b"234", r.brief()
        r = get(d, su, headers=[("Range", "bytes=2-4"), ("If-Range", 'W/"weak"')])
        assert_hit(r, small)
        assert o.count("/r") == 1 and o.count("/s") == 1, (o.count("/r"), o.count("/s"))
        assert codes(d, url, 2)[1] == "TCP_HIT/206"


def test_post_responses_not_stored():
    o = RoutedOrigin({"/p": lambda req: Response(200, b"post %d" % len(o.requests),
                                                 headers=[FRESH])})
    with Daemon() as d:
        url = o.url("/p")
        r1 = get(d, url, method="POST", body=b"data")
        r2 = get(d, url, method="POST", body=b"data")
        assert r1.status == r2.status == 200 and r1.body != r2.body, (r1.brief(), r2.brief())
        assert o.count("/p") == 2
        assert_miss(get(d, url), body=b"post 3")
        assert o.count("/p") == 3, "a POST response answered a GET"


def test_cache_disabled():
    o = RoutedOrigin({"/d": Response(200, b"d", headers=[FRESH])})
    with Daemon({"cache.enabled": False}) as d:
        for _ in range(2):
            r = get(d, o.url("/d"))
            assert r.status == 200 and r.body == b"d"
            assert h.cache_status(r) is None, "Cache-Status with the cache off: %r" % r.headers
        assert o.count("/d") == 2
        assert not os.path.exists(os.path.join(d.dir, "var", "cache", "data.mdb")), \
            "a store was created with cache.enabled = false"


# --------------------------------------------------------------------------
# What is not stored
# --------------------------------------------------------------------------

def _twice_not_stored(d, o, path, reqh=(), detail=None, status=200):
    url = o.url(path)
    for i in range(2):
        r = get(d, url, headers=reqh)
        p = assert_miss(r, stored=False, status=status)
        if detail is not None:
            assert detail in str(p.get("detail")), \
                "%s: Cache-Status %r, expected detail %r" % (path, cs(r), detail)
    assert o.count(path) == 2, "%s was stored (origin saw %d requests)" % (path, o.count(path))
    assert codes(d, url, 2) == ["TCP_MISS/%d" % status] * 2, path


def test_no_store_and_private_never_stored():
    o = RoutedOrigin({
        "/no-store": Response(200, b"ns", headers=[("Cache-Control", "no-store")]),
        "/no-store-max-age": Response(200, b"ns", headers=[("Cache-Control",
                                                            "max-age=3600, no-store")]),
        "/private": Response(200, b"pv", headers=[("Cache-Control", "private")]),
        "/private-max-age": Response(200, b"pv", headers=[("Cache-Control",
                                                           "public, max-age=3600, private")]),
        "/NO-STORE": Response(200, b"ns", headers=[("cache-control", "NO-STORE, Max-Age=60")]),
        "/req-no-store": Response(200, b"rq", headers=[FRESH]),
    })
    with Daemon() as d:
        _twice_not_stored(d, o, "/no-store", detail="no-store")
        _twice_not_stored(d, o, "/no-store-max-age", detail="no-store")
        _twice_not_stored(d, o, "/NO-STORE", detail="no-store")
        _twice_not_stored(d, o, "/private", detail="private")
        _twice_not_stored(d, o, "/private-max-age", detail="private")
        _twice_not_stored(d, o, "/req-no-store", reqh=[("Cache-Control", "no-store")])
        # ... and what a no-store request did not store is a miss without it.
        assert_miss(get(d, o.url("/req-no-store")), body=b"rq")
        assert o.count("/req-no-store") == 3


def test_other_responses_not_stored():
    o = RoutedOrigin({
        "/vary-star": Response(200, b"v", headers=[FRESH, ("Vary", "*")]),
        "/vary-list-star": Response(200, b"v", headers=[FRESH, ("Vary", "Accept, *")]),
        "/cookie": Response(200, b"c", headers=[FRESH, ("Set-Cookie", "s=1")]),
        "/auth": Response(200, b"a", headers=[FRESH]),
        "/302": Response(302, b"r", headers=[("Location", "/x")]),
        "/303": Response(303, b"r", headers=[("Location", "/x")]),
        "/500": Response(500, b"e"),
        "/206": Response(206, b"pa", headers=[FRESH, ("Content-Range", "bytes 0-1/10")]),
    })
    with Daemon() as d:
        _twice_not_stored(d, o, "/vary-star", detail="vary")
        _twice_not_stored(d, o, "/vary-list-star", detail="vary")
        _twice_not_stored(d, o, "/cookie", detail="set-cookie")
        _twice_not_stored(d, o, "/auth", reqh=[("Authorization", "Basic dTpw")],
                          detail="authorization")
        _twice_not_stored(d, o, "/302", status=302)
        _twice_not_stored(d, o, "/303", status=303)
        _twice_not_stored(d, o, "/500", status=500)
        _twice_not_stored(d, o, "/206", status=206)


def test_client_conditional_on_uncached_url_passes_through():
    def handler(req):
        if req.header("If-None-Match") == '"x"':
            return Response(304, headers=[("ETag", '"x"'), FRESH])
        return Response(200, b"full", headers=[("ETag", '"x"'), FRESH])
    o = RoutedOrigin({"/pc": handler})
    with Daemon() as d:
        url = o.url("/pc")
        r = get(d, url, headers=[("If-None-Match", '"x"')])
        assert r.status == 304 and r.body == b"", r.brief()
        assert o.last().header("If-None-Match") == '"x"', o.last().headers
        assert "stored" not in csp(r), cs(r)
        assert_miss(get(d, url), body=b"full")       # the 304 stored nothing
        r = get(d, url, headers=[("If-None-Match", '"x"')])
        assert r.status == 304 and is_hit_status(r), (r.brief(), cs(r))
        assert o.count("/pc") == 2
        assert codes(d, url, 3) == ["TCP_MISS/304", "TCP_MISS/200", "TCP_IMS_HIT/304"]


def is_hit_status(r):
    return csp(r).get("hit") is True


def test_cookie_and_authorization_stored_when_allowed():
    routes = {
        "/cookie-public": [("Cache-Control", "public, max-age=600"), ("Set-Cookie", "a=1")],
        "/cookie-smaxage": [("Cache-Control", "s-maxage=600"), ("Set-Cookie", "a=1")],
        "/auth-public": [("Cache-Control", "public, max-age=600")],
        "/auth-smaxage": [("Cache-Control", "s-maxage=600")],
        "/auth-mustreval": [("Cache-Control", "max-age=600, must-revalidate")],
    }
    o = RoutedOrigin({p: Response(200, p.encode(), headers=hd) for p, hd in routes.items()})
    with Daemon() as d:
        for p in routes:
            reqh = [("Authorization", "Basic dTpw")] if "auth" in p else []
            assert_miss(get(d, o.url(p), headers=reqh), body=p.encode())
            assert_hit(get(d, o.url(p), headers=reqh), p.encode())
            assert o.count(p) == 1, p


def test_heuristic_freshness_and_refresh_patterns():
    """No explicit lifetime: the first matching refresh_pattern decides
    (percent of the Last-Modified age between min and max; min without
    Last-Modified). The shipped patterns never keep /cgi-bin/ or query
    URLs fresh, but store them for revalidation."""
    lm = http_date(time.time() - 10 * 86400)
    lm_old = http_date(time.time() - 1000 * 86400)
    routes = {
        "/static/a.css": Response(200, b"css", headers=[("Last-Modified", lm)]),
        "/static/old.css": Response(200, b"old", headers=[("Last-Modified", lm_old)]),
        "/img/a.PNG": Response(200, b"png"),
        "/img/b.png": Response(200, b"png-b", headers=[("Last-Modified", lm_old)]),
        "/img/a.gif": Response(200, b"gif"),
        "/search?q=1": lambda req: (
            Response(304, headers=[("Last-Modified", lm)])
            if req.header("If-Modified-Since") == lm
            else Response(200, b"query", headers=[("Last-Modified", lm)])),
    }
    o = RoutedOrigin(routes)
    pats = [{"regex": "\\.png$", "icase": True, "min": 60, "percent": 20, "max": 120},
            {"regex": "/cgi-bin/|\\?", "icase": True, "min": 0, "percent": 0, "max": 0},
            {"regex": ".", "min": 0, "percent": 20, "max": "3d"}]
    with Daemon({"cache.refresh_patterns": pats}) as d:
        def ttl_of_hit(path, body):
            assert_miss(get(d, o.url(path)), body=body)
            p = assert_hit(get(d, o.url(path)), body)
            assert o.count(path) == 1, path
            return int(p["ttl"])
        t = ttl_of_hit("/static/a.css", b"css")       # 20% of 10 days = 2 days
        assert 2 * 86400 - 10 <= t <= 2 * 86400, "ttl %d, expected 20%% of 10 days" % t
        t = ttl_of_hit("/static/old.css", b"old")     # capped at max = 3 days
        assert 3 * 86400 - 10 <= t <= 3 * 86400, "ttl %d, expected the 3d max" % t
        t = ttl_of_hit("/img/a.PNG", b"png")          # no Last-Modified: min (icase)
        assert 50 <= t <= 60, "ttl %d, expected min 60" % t
        t = ttl_of_hit("/img/b.png", b"png-b")        # percent capped by max 120
        assert 110 <= t <= 120, "ttl %d, expected max 120" % t
        # min 0, no Last-Modified: stored, but stale at once and without a
        # validator, so every request goes to the origin.
        for _ in range(2):
            r = get(d, o.url("/img/a.gif"))
            assert r.status == 200 and r.body == b"gif" and "hit" not in csp(r), cs(r)
        assert o.count("/img/a.gif") == 2
        # Query URL: max 0, so revalidated with If-Modified-Since each time.
        url = o.url("/search?q=1")
        assert_miss(get(d, url), body=b"query")
        r = get(d, url)
        assert r.status == 200 and r.body == b"query", r.brief()
        assert csp(r) == {"fwd": "stale", "fwd-status": "304"}, cs(r)
        reqs = o.reqs("/search?q=1")
        assert len(reqs) == 2 and reqs[1].header("If-Modified-Since") == lm, \
            [q.headers for q in reqs]
        assert codes(d, url, 2) == ["TCP_MISS/200", "TCP_REFRESH_UNMODIFIED/200"]


# --------------------------------------------------------------------------
# Freshness, Age, revalidation
# --------------------------------------------------------------------------

def test_age_and_ttl_from_origin_age_and_date():
    """RFC 9111 4.2.3: Age from upstream and an old Date count; the hit's
    Age grows with resident time."""
    o = RoutedOrigin({
        "/aged": Response(200, b"aged", headers=[("Cache-Control", "max-age=3600"),
                                                  ("Age", "100")]),
        "/dated": lambda req: Response(200, b"dated", headers=[
            ("Cache-Control", "max-age=3600"), ("Date", http_date(time.time() - 50)),
            ("Age", "10")]),
    })
    with Daemon() as d:
        r = get(d, o.url("/aged"))
        assert_miss(r, body=b"aged")
        assert r.header("Age") == "100", "upstream Age not passed on: %r" % r.headers
        r = get(d, o.url("/aged"))
        p = assert_hit(r, b"aged")
        age = int(r.header("Age"))
        assert 100 <= age <= 105 and len(r.header_all("Age")) == 1, r.headers
        assert int(p["ttl"]) == 3600 - age, "ttl %s with Age %d" % (p["ttl"], age)
        assert_miss(get(d, o.url("/dated")), body=b"dated")
        r = get(d, o.url("/dated"))
        t_hit = time.time()
        assert_hit(r, b"dated")
        age = int(r.header("Age"))
        assert 49 <= age <= 56, "Age %d, expected >= the 50 s apparent age" % age
        # Resident time adds up.
        past_second(t_hit)
        r = get(d, o.url("/dated"))
        assert_hit(r, b"dated")
        assert int(r.header("Age")) >= age + 1, "Age %s after %d" % (r.header("Age"), age)
        assert o.count("/aged") == 1 and o.count("/dated") == 1


def test_fresh_then_stale_by_max_age():
    n = [0]

    def handler(req):
        n[0] += 1
        return Response(200, b"version %d" % n[0], headers=[("Cache-Control", "max-age=4")])
    o = RoutedOrigin({"/t": handler})
    with Daemon() as d:
        url = o.url("/t")
        assert_miss(get(d, url), body=b"version 1")
        t_after = time.time()
        p = assert_hit(get(d, url), b"version 1")
        assert 2 <= int(p["ttl"]) <= 4, cs(get(d, url))
        wait_stale(t_after, 4)
        r = get(d, url)
        # Stale without validators: fetched again and stored again.
        assert r.status == 200 and r.body == b"version 2", r.brief()
        assert "stored" in csp(r) and "hit" not in csp(r), cs(r)
        assert o.count("/t") == 2, o.count("/t")
        assert "If-None-Match" not in o.last().header_names() and \
            o.last().header("If-Modified-Since") is None
        assert_hit(get(d, url), b"version 2")
        assert o.count("/t") == 2


def test_stale_revalidated_304_refreshes_headers():
    """stale -> conditional request with our validators (the client's own
    conditionals replaced) -> 304 -> stored body served with the 304's
    fields merged in (RFC 9111 4.3.4) -> fresh again."""
    body = os.urandom(70000)

    def handler(req):
        if req.header("If-None-Match") == '"v1"':
            return Response(304, headers=[("Cache-Control", "max-age=3600"), ("ETag", '"v1"'),
                                          ("X-Refreshed", "yes")])
        return Response(200, body, headers=[("Cache-Control", "max-age=1"), ("ETag", '"v1"'),
                                            ("X-Refreshed", "no"), ("X-Kept", "k")])
    o = RoutedOrigin({"/rv": handler})
    with Daemon() as d:
        url = o.url("/rv")
        assert_miss(get(d, url), body=body)
        t_after = time.time()
        wait_stale(t_after, 1)
        r = get(d, url, headers=[("If-None-Match", '"client-tag"'),
                                 ("If-Modified-Since", http_date(time.time()))])
        assert r.status == 200 and r.body == body, r.brief()
        assert cs(r) == "fwd=stale; fwd-status=304", cs(r)
        assert r.header_all("X-Refreshed") == ["yes"], r.headers
        assert r.header("X-Kept") == "k" and r.header("Cache-Control") == "max-age=3600", r.headers
        assert r.header("Content-Length") == str(len(body)), r.headers
        reqs = o.reqs("/rv")
        assert len(reqs) == 2, len(reqs)
        assert reqs[1].header_all("If-None-Match") == ['"v1"'], reqs[1].headers
        assert reqs[1].header("If-Modified-Since") is None, \
            "the client's If-Modified-Since went on: %r" % reqs[1].headers
        # Fresh again, with the refreshed fields.
        r = get(d, url)
        p = assert_hit(r, body)
        assert int(p["ttl"]) > 3500 and r.header_all("X-Refreshed") == ["yes"], (cs(r), r.headers)
        assert o.count("/rv") == 2
        assert codes(d, url, 3) == ["TCP_MISS/200", "TCP_REFRESH_UNMODIFIED/200", "TCP_HIT/200"]


def test_revalidation_with_last_modified_and_client_conditional():
    lm = http_date(time.time() - 3600)

    def handler(req):
        if req.header("If-Modified-Since") == lm:
            return Response(304, headers=[("Cache-Control", "max-age=0")])
        return Response(200, b"lm body", headers=[("Cache-Control", "max-age=0"),
                                                   ("Last-Modified", lm)])
    o = RoutedOrigin({"/lm": handler})
    with Daemon() as d:
        url = o.url("/lm")
        assert_miss(get(d, url), body=b"lm body")
        # max-age=0: stale at once; revalidated with If-Modified-Since.
        r = get(d, url)
        assert r.status == 200 and r.body == b"lm body", r.brief()
        assert cs(r) == "fwd=stale; fwd-status=304", cs(r)
        # The client's own conditional is answered against the refreshed copy.
        r = get(d, url, headers=[("If-Modified-Since", lm)])
        assert r.status == 304 and r.body == b"", r.brief()
        r = get(d, url, headers=[("If-Modified-Since", http_date(time.time() - 7200))])
        assert r.status == 200 and r.body == b"lm body", r.brief()
        reqs = o.reqs("/lm")
        assert len(reqs) == 4, len(reqs)
        assert all(q.header_all("If-Modified-Since") == [lm] for q in reqs[1:]), \
            [q.headers for q in reqs]
        c = codes(d, url, 4)
        assert c[:2] == ["TCP_MISS/200", "TCP_REFRESH_UNMODIFIED/200"], c
        assert c[2] in ("TCP_REFRESH_UNMODIFIED/304", "TCP_IMS_HIT/304"), c
        assert c[3] == "TCP_REFRESH_UNMODIFIED/200", c


def test_stale_replaced_by_new_200():
    n = [0]

    def handler(req):
        n[0] += 1
        if n[0] == 1:
            return Response(200, b"old", headers=[("Cache-Control", "max-age=0"),
                                                  ("ETag", '"v1"')])
        assert req.header("If-None-Match") == '"v1"', req.headers
        return Response(200, b"new body", headers=[FRESH, ("ETag", '"v2"')])
    o = RoutedOrigin({"/new": handler})
    with Daemon() as d:
        url = o.url("/new")
        assert_miss(get(d, url), body=b"old")
        r = get(d, url)
        assert r.status == 200 and r.body == b"new body", r.brief()
        assert cs(r) == "fwd=stale; fwd-status=200; stored", cs(r)
        assert r.header("ETag") == '"v2"'
        assert_hit(get(d, url), b"new body")
        assert o.count("/new") == 2
        assert codes(d, url, 3) == ["TCP_MISS/200", "TCP_REFRESH_MODIFIED/200", "TCP_HIT/200"]


def test_stale_replaced_by_unstorable_200_is_dropped():
    n = [0]

    def handler(req):
        n[0] += 1
        if n[0] == 1:
            return Response(200, b"old", headers=[("Cache-Control", "max-age=0"),
                                                  ("ETag", '"v1"')])
        return Response(200, b"fresh %d" % n[0], headers=[("Cache-Control", "no-store")])
    o = RoutedOrigin({"/drop": handler})
    with Daemon() as d:
        url = o.url("/drop")
        assert_miss(get(d, url), body=b"old")
        r = get(d, url)
        assert r.body == b"fresh 2" and "stored" not in csp(r), (r.brief(), cs(r))
        r = get(d, url)
        assert r.body == b"fresh 3", r.brief()
        reqs = o.reqs("/drop")
        assert len(reqs) == 3
        assert reqs[2].header("If-None-Match") is None, \
            "the replaced stale copy is still stored (revalidated again): %r" % reqs[2].headers


def test_stale_if_error():
    body = b"keep serving me\n"
    fail = {"on": False}

    def handler(req):
        if fail["on"]:
            return Response(503, b"origin broken", headers=[("Cache-Control", "no-store")])
        return Response(200, body, headers=[("Cache-Control", "max-age=0, stale-if-error=600"),
                                            ("ETag", '"s"')])

    def strict(req):
        if fail["on"]:
            return Response(503, b"origin broken", headers=[("Cache-Control", "no-store")])
        return Response(200, b"strict", headers=[
            ("Cache-Control", "max-age=0, must-revalidate, stale-if-error=600"), ("ETag", '"m"')])
    o = RoutedOrigin({"/sie": handler, "/strict": strict})
    with Daemon() as d:
        url, surl = o.url("/sie"), o.url("/strict")
        assert_miss(get(d, url), body=body)
        assert_miss(get(d, surl), body=b"strict")
        fail["on"] = True
        r = get(d, url)
        assert r.status == 200 and r.body == body, "stale-if-error: %s" % r.brief()
        assert "fwd" in csp(r) and csp(r)["fwd"] == "stale", cs(r)
        # must-revalidate wins over stale-if-error (RFC 9111 5.2.2.2).
        r = get(d, surl)
        assert r.status == 503 and r.body == b"origin broken", r.brief()
        assert o.count("/sie") == 2 and o.count("/strict") == 2
        assert codes(d, url, 2) == ["TCP_MISS/200", "TCP_REFRESH_FAIL_OLD/200"]
        # Origin gone altogether: still served stale.
        o.stop()
        r = get(d, url)
        assert r.status == 200 and r.body == body, "stale-if-error, origin down: %s" % r.brief()
        assert codes(d, url, 3)[2] == "TCP_REFRESH_FAIL_OLD/200"
        r = get(d, surl)
        assert r.status == 502 and r.body != b"strict", r.brief()


def test_stale_while_revalidate():
    """RFC 5861 3: within stale-while-revalidate a stale copy is served at
    once, and the cache SHOULD revalidate it in the background; once
    refreshed it is a plain hit again."""
    def handler(req):
        if req.header("If-None-Match") == '"w"':
            return Response(304, headers=[("Cache-Control", "max-age=3600")], delay=1.0)
        return Response(200, b"swr body", headers=[
            ("Cache-Control", "max-age=0, stale-while-revalidate=600"), ("ETag", '"w"')])
    o = RoutedOrigin({"/swr": handler})
    with Daemon() as d:
        url = o.url("/swr")
        assert_miss(get(d, url), body=b"swr body")
        t0 = time.monotonic()
        r = get(d, url)
        took = time.monotonic() - t0
        p = csp(r)
        assert r.status == 200 and r.body == b"swr body", r.brief()
        assert p.get("hit") is True and p.get("fwd") == "stale", cs(r)
        assert took < 0.9, "a stale-while-revalidate answer waited %.1fs for the origin" % took
        try:
            h.wait_until(lambda: any(q.header("If-None-Match") == '"w"' for q in o.reqs("/swr")),
                         5, what="a background revalidation")
        except h.TestFailure:
            raise AssertionError("served stale under stale-while-revalidate, but no "
                                 "revalidation reached the origin within 5 s (%d requests)"
                                 % o.count("/swr"))
        # Refreshed by the 304 (max-age=3600): a plain hit, no more requests.
        h.wait_until(lambda: csp(get(d, url)).get("fwd") is None, 10,
                     what="the refreshed copy to be fresh")
        n = o.count("/swr")
        assert_hit(get(d, url), b"swr body")
        assert o.count("/swr") == n, (o.count("/swr"), n)


def test_request_cache_control_directives():
    def handler(req):
        if req.header("If-None-Match") == '"d"':
            return Response(304, headers=[FRESH])
        return Response(200, b"directives", headers=[FRESH, ("ETag", '"d"')])
    o = RoutedOrigin({"/rd": handler,
                      "/stale": Response(200, b"stale ok", headers=[
                          ("Cache-Control", "max-age=0"), ("ETag", '"st"')]),
                      "/stale-mr": Response(200, b"mr", headers=[
                          ("Cache-Control", "max-age=0, must-revalidate"), ("ETag", '"mr"')])})
    with Daemon() as d:
        url = o.url("/rd")
        assert_miss(get(d, url), body=b"directives")
        t_after = time.time()
        assert_hit(get(d, url, headers=[("Cache-Control", "max-age=3600")]), b"directives")
        assert_hit(get(d, url, headers=[("Cache-Control", "min-fresh=60")]), b"directives")
        assert o.count("/rd") == 1
        # max-age=0 accepts an age of 0: let the copy age a second first.
        past_second(t_after)
        for cc in ("max-age=0", "min-fresh=7200"):
            r = get(d, url, headers=[("Cache-Control", cc)])
            assert r.status == 200 and r.body == b"directives", (cc, r.brief())
            assert "hit" not in csp(r), (cc, cs(r))
            assert o.last().header("If-None-Match") == '"d"', (cc, o.last().headers)
        assert o.count("/rd") == 3
        # max-stale serves a stale copy, unless must-revalidate.
        surl = o.url("/stale")
        assert_miss(get(d, surl), body=b"stale ok")
        r = get(d, surl, headers=[("Cache-Control", "max-stale=600")])
        p = csp(r)
        assert r.status == 200 and r.body == b"stale ok", r.brief()
        assert p.get("hit") is True and p.get("fwd") == "stale" and int(p["ttl"]) <= 0, cs(r)
        assert o.count("/stale") == 1
        murl = o.url("/stale-mr")
        assert_miss(get(d, murl), body=b"mr")
        r = get(d, murl, headers=[("Cache-Control", "max-stale")])
        assert "hit" not in csp(r), "must-revalidate served stale: %r" % cs(r)
        assert o.count("/stale-mr") == 2


def test_request_no_cache():
    o = RoutedOrigin({"/nc": lambda req: Response(200, b"nc %d" % o.count("/nc"),
                                                  headers=[FRESH]),
                      "/nc-etag": lambda req: (
                          Response(304, headers=[FRESH]) if req.header("If-None-Match") == '"e"'
                          else Response(200, b"etag body", headers=[FRESH, ("ETag", '"e"')]))})
    with Daemon() as d:
        url = o.url("/nc")
        assert_miss(get(d, url), body=b"nc 1")
        for hd in ([("Cache-Control", "no-cache")], [("Pragma", "no-cache")]):
            r = get(d, url, headers=hd)
            assert r.status == 200 and r.body == b"nc %d" % o.count("/nc"), r.brief()
            p = csp(r)
            assert p.get("fwd") == "request" and p.get("stored") is True, (hd, cs(r))
        assert o.count("/nc") == 3
        assert_hit(get(d, url), b"nc 3")
        assert codes(d, url, 4) == ["TCP_MISS/200", "TCP_CLIENT_REFRESH_MISS/200",
                                    "TCP_CLIENT_REFRESH_MISS/200", "TCP_HIT/200"]
        # With a validator the reload is a revalidation; Cache-Status still
        # says why we went forward (the request), RFC 9211 2.2.
        eurl = o.url("/nc-etag")
        assert_miss(get(d, eurl), body=b"etag body")
        r = get(d, eurl, headers=[("Cache-Control", "no-cache")])
        assert r.status == 200 and r.body == b"etag body", r.brief()
        assert o.last().header("If-None-Match") == '"e"', o.last().headers
        assert csp(r).get("fwd") == "request", \
            "request no-cache revalidated: Cache-Status %r, expected fwd=request" % cs(r)


def test_response_no_cache_always_revalidates():
    def handler(req):
        if req.header("If-None-Match") == '"nc"':
            return Response(304, headers=[("Cache-Control", "no-cache, max-age=3600")])
        return Response(200, b"revalidate me", headers=[
            ("Cache-Control", "no-cache, max-age=3600"), ("ETag", '"nc"')])
    o = RoutedOrigin({"/rnc": handler})
    with Daemon() as d:
        url = o.url("/rnc")
        assert_miss(get(d, url), body=b"revalidate me")
        for i in range(2):
            r = get(d, url)
            assert r.status == 200 and r.body == b"revalidate me", r.brief()
            assert cs(r) == "fwd=stale; fwd-status=304", cs(r)
        assert o.count("/rnc") == 3
        assert all(q.header("If-None-Match") == '"nc"' for q in o.reqs("/rnc")[1:])


def test_only_if_cached():
    o = RoutedOrigin({"/oic": Response(200, b"cached", headers=[FRESH])})
    with Daemon() as d:
        url = o.url("/oic")
        r = get(d, url, headers=[("Cache-Control", "only-if-cached")])
        assert r.status == 504, r.brief()
        assert r.header("X-Squidlike-Error") == "ERR_ONLY_IF_CACHED_MISS", r.headers
        assert o.count("/oic") == 0, "only-if-cached went to the origin"
        assert codes(d, url, 1)[0].endswith("/504")
        assert_miss(get(d, url), body=b"cached")
        assert_hit(get(d, url, headers=[("Cache-Control", "only-if-cached")]), b"cached")
        assert o.count("/oic") == 1


# --------------------------------------------------------------------------
# Vary
# --------------------------------------------------------------------------

def _by_encoding(req):
    ae = req.header("Accept-Encoding")
    return Response(200, b"variant for " + (ae if ae is not None else "none").encode(),
                    headers=[FRESH, ("Vary", "Accept-Encoding")])


def test_vary_accept_encoding_keeps_variants():
    o = RoutedOrigin({"/v": _by_encoding})
    with Daemon() as d:
        url = o.url("/v")
        gz, ident = [("Accept-Encoding", "gzip")], []
        assert_miss(get(d, url, headers=gz), body=b"variant for gzip")
        assert_miss(get(d, url, headers=ident), body=b"variant for none")
        assert_hit(get(d, url, headers=gz), b"variant for gzip")
        assert_hit(get(d, url, headers=ident), b"variant for none")
        assert_hit(get(d, url, headers=[("accept-encoding", "gzip")]), b"variant for gzip")
        assert o.count("/v") == 2
        # Another value is another variant; list spacing is normalised.
        assert_miss(get(d, url, headers=[("Accept-Encoding", "gzip, br")]),
                    body=b"variant for gzip, br")
        assert_hit(get(d, url, headers=[("Accept-Encoding", "gzip,br")]), b"variant for gzip, br")
        # An empty value is not an absent field.
        r = get(d, url, headers=[("Accept-Encoding", "")])
        assert r.body == b"variant for " and "hit" not in csp(r), (r.brief(), cs(r))
        assert o.count("/v") == 4
        # HEAD picks its variant too.
        r = get(d, url, method="HEAD", headers=gz)
        assert_hit(r, b"")
        assert r.header("Content-Length") == str(len(b"variant for gzip")), r.headers
        assert o.count("/v") == 4
        assert codes(d, url, 5)[:5] == ["TCP_MISS/200", "TCP_MISS/200", "TCP_HIT/200",
                                        "TCP_HIT/200", "TCP_HIT/200"]


def test_vary_two_fields():
    def handler(req):
        return Response(200, ("%s|%s" % (req.header("Accept-Language"),
                                          req.header("X-Flavour"))).encode(),
                        headers=[FRESH, ("Vary", "Accept-Language"), ("Vary", "X-Flavour")])
    o = RoutedOrigin({"/v2": handler})
    with Daemon() as d:
        url = o.url("/v2")
        combos = [[("Accept-Language", "en"), ("X-Flavour", "a")],
                  [("Accept-Language", "en"), ("X-Flavour", "b")],
                  [("Accept-Language", "de"), ("X-Flavour", "a")]]
        for c in combos:
            assert_miss(get(d, url, headers=c))
        for c in reversed(combos):
            r = get(d, url, headers=c)
            assert_hit(r, ("%s|%s" % (c[0][1], c[1][1])).encode())
        assert o.count("/v2") == 3


# --------------------------------------------------------------------------
# Invalidation and PURGE
# --------------------------------------------------------------------------

def test_unsafe_methods_invalidate_target():
    """RFC 9111 4.4: a 2xx/3xx answer to POST/PUT/DELETE/PATCH removes the
    stored GET of the target; an error answer does not. Without a body
    and with one (the usual POST)."""
    def getter(path):
        return lambda req: (Response(200, b"%s #%d" % (path.encode(), o.count(path)),
                                     headers=[FRESH])
                            if req.method == "GET" else
                            Response(int(req.header("X-Want-Status") or 200), b"done"))
    paths = ["/m-%s-%s" % (m, b) for m in ("POST", "PUT", "DELETE", "PATCH")
             for b in ("empty", "body")] + ["/m-POST-err", "/m-POST-303"]
    o = RoutedOrigin({p: getter(p) for p in paths})
    failed = []
    with Daemon() as d:
        for p in paths:
            url = o.url(p)
            method = p.split("-")[1]
            assert_miss(get(d, url))
            assert_hit(get(d, url))
            st = 403 if p.endswith("err") else 303 if p.endswith("303") else 200
            r = get(d, url, method=method, headers=[("X-Want-Status", str(st))],
                    body=b"payload" if p.endswith("-body") else b"")
            assert r.status == st, (p, r.brief())
            r = get(d, url)
            if st == 403:
                assert_hit(r)
                if o.count(p) != 2:
                    failed.append("%s: a failed %s invalidated" % (p, method))
            elif o.count(p) != 3 or "hit" in csp(r):
                failed.append("%s: GET still a hit after %s %d (Cache-Status %r)"
                              % (p, method, st, cs(r)))
    assert not failed, "not invalidated as RFC 9111 4.4 says:\n" + "\n".join(failed)


def test_unsafe_method_invalidates_location_same_origin_only():
    other = RoutedOrigin({"/elsewhere": Response(200, b"other", headers=[FRESH])})
    o = RoutedOrigin({
        "/created": Response(200, b"created", headers=[FRESH]),
        "/cl": Response(200, b"cl", headers=[FRESH]),
    })
    o.routes["/form"] = Response(201, b"ok", headers=[
        ("Location", "/created"), ("Content-Location", o.url("/cl"))])
    o.routes["/form2"] = Response(201, b"ok", headers=[("Location", other.url("/elsewhere"))])
    with Daemon() as d:
        for u, b in ((o.url("/created"), b"created"), (o.url("/cl"), b"cl"),
                     (other.url("/elsewhere"), b"other")):
            assert_miss(get(d, u), body=b)
            assert_hit(get(d, u), b)
        assert get(d, o.url("/form"), method="DELETE").status == 201
        assert get(d, o.url("/form2"), method="DELETE").status == 201
        r = get(d, o.url("/created"))
        assert "hit" not in csp(r), "Location (relative) not invalidated: %r" % cs(r)
        r = get(d, o.url("/cl"))
        assert "hit" not in csp(r), "Content-Location not invalidated: %r" % cs(r)
        assert_hit(get(d, other.url("/elsewhere")), b"other")
        assert o.count("/created") == 2 and o.count("/cl") == 2 and other.count("/elsewhere") == 1


def test_purge():
    o = RoutedOrigin({"/pg": lambda req: Response(200, b"purgeable %d" % o.count("/pg"),
                                                  headers=[FRESH])})
    with Daemon() as d:
        url = o.url("/pg")
        assert_miss(get(d, url), body=b"purgeable 1")
        assert_hit(get(d, url), b"purgeable 1")
        r = get(d, url, method="PURGE")
        assert r.status == 200 and r.body == b"purged\n", r.brief()
        assert (r.header("Content-Type") or "").startswith("text/plain"), r.headers
        assert_miss(get(d, url), body=b"purgeable 2")
        assert_hit(get(d, url), b"purgeable 2")
        r = get(d, o.url("/never-stored"), method="PURGE")
        assert r.status == 404 and r.body == b"not found\n", r.brief()
        # PURGE on a keep-alive connection, twice: removed, then nothing.
        with h.RawConn(d.port) as c:
            r1 = request_synced(c, d, "PURGE", url)
            r2 = request_synced(c, d, "PURGE", url)
        assert (r1.status, r1.body, r2.status, r2.body) == (200, b"purged\n", 404, b"not found\n")
        assert o.count("/pg") == 2 and o.count("/never-stored") == 0
        st = [a.status for a in h.access_entries(d, "PURGE", url, 3)]
        assert st == [200, 200, 404], st


def test_purge_denied_from_other_sources():
    o = RoutedOrigin({"/pd": Response(200, b"keep", headers=[FRESH])})
    with Daemon({"cache.purge_from": ["127.0.0.1/32"]}) as d:
        url = o.url("/pd")
        assert_miss(get(d, url), body=b"keep")
        r = get(d, url, method="PURGE", bind="127.0.0.2")
        assert r.status == 403, r.brief()
        assert_hit(get(d, url), b"keep")
        r = get(d, url, method="PURGE")
        assert r.status == 200 and r.body == b"purged\n", r.brief()
        a = h.access_entries(d, "PURGE", url, 2)
        assert (a[0].client, a[0].code, a[0].status) == ("127.0.0.2", "TCP_DENIED", 403), a[0].raw
    with Daemon({"cache.purge_from": ["10.0.0.0/8"]}) as d:
        r = get(d, o.url("/pd"), method="PURGE")
        assert r.status == 403, r.brief()
    assert o.count("/pd") == 1


def test_pipelined_requests_see_purge_and_invalidation():
    """A GET right behind a PURGE, or behind a DELETE whose 2xx invalidated
    the URL, on the same connection (pipelined): the object is gone for
    it. The removal must not wait for the end of the loop iteration that
    already answered "purged"."""
    o = RoutedOrigin({"/pp": lambda req: (Response(204) if req.method == "DELETE" else
                                          Response(200, b"pp %d" % o.count("/pp"),
                                                   headers=[FRESH]))})
    with Daemon() as d:
        url = o.url("/pp")
        bad = []
        for m, st in (("PURGE", 200), ("DELETE", 204)):
            get(d, url)
            assert_hit(get(d, url))
            with h.RawConn(d.port) as c:
                c.send(h.build_request(m, url) + h.build_request("GET", url))
                r1 = c.recv_response(m)
                r2 = c.recv_response()
            assert r1.status == st, (m, r1.brief())
            assert r2.status == 200, (m, r2.brief())
            if csp(r2).get("hit") is True:
                bad.append("GET pipelined behind %s %d: served from the store (%r, body %r)"
                           % (m, st, cs(r2), r2.body))
            log_synced(d, len(d.access_log_lines()) - 1, "GET after " + m)
        assert not bad, "\n".join(bad)


def test_purge_removes_every_variant():
    o = RoutedOrigin({"/pv": _by_encoding})
    with Daemon() as d:
        url = o.url("/pv")
        gz, br = [("Accept-Encoding", "gzip")], [("Accept-Encoding", "br")]
        assert_miss(get(d, url, headers=gz))
        assert_miss(get(d, url, headers=br))
        assert_hit(get(d, url, headers=br), b"variant for br")
        r = get(d, url, method="PURGE")
        assert r.status == 200 and r.body == b"purged\n", r.brief()
        assert_miss(get(d, url, headers=gz), body=b"variant for gzip")
        r = get(d, url, headers=br)
        assert "hit" not in csp(r), \
            "a purged variant is served again once the URL is stored anew: %r" % cs(r)
        assert o.count("/pv") == 4


def test_invalidation_removes_every_variant():
    o = RoutedOrigin({"/iv": lambda req: (Response(204) if req.method == "DELETE"
                                          else _by_encoding(req))})
    with Daemon() as d:
        url = o.url("/iv")
        gz, br = [("Accept-Encoding", "gzip")], [("Accept-Encoding", "br")]
        assert_miss(get(d, url, headers=gz))
        assert_miss(get(d, url, headers=br))
        assert get(d, url, method="DELETE").status == 204
        assert_miss(get(d, url, headers=gz), body=b"variant for gzip")
        r = get(d, url, headers=br)
        assert "hit" not in csp(r), \
            "a variant survived DELETE and is served again: %r" % cs(r)


# --------------------------------------------------------------------------
# Sizes and broken transfers
# --------------------------------------------------------------------------

def test_max_object():
    """Bodies over cache.max_object are served whole, not stored; known
    (Content-Length) or found out while streaming (chunked, close)."""
    limit = 100 * 1024
    bodies = {"/exact": os.urandom(limit), "/over-cl": os.urandom(limit + 1),
              "/over-chunked": os.urandom(300000), "/over-close": os.urandom(300000),
              "/big": os.urandom(3 << 20)}
    kw = {"/over-chunked": {"chunked": True, "chunk_size": 5000},
          "/over-close": {"close_delimited": True}}
    o = RoutedOrigin({p: Response(200, b, headers=[FRESH], **kw.get(p, {}))
                      for p, b in bodies.items()})
    with Daemon({"cache.max_object": "100K"}) as d:
        for p, b in bodies.items():
            url = o.url(p)
            r1 = get(d, url)
            assert r1.status == 200 and r1.body == b, "%s: %s" % (p, r1.brief()[:200])
            r2 = get(d, url)
            assert r2.status == 200 and r2.body == b, "%s: second: %s" % (p, r2.brief()[:200])
            if p == "/exact":
                assert_hit(r2, b)
                assert o.count(p) == 1, "an object of exactly max_object was not stored"
            else:
                assert "hit" not in csp(r2), "%s over max_object was stored: %r" % (p, cs(r2))
                assert o.count(p) == 2, p
        r = get(d, o.url("/over-cl"))
        assert cs(r).startswith("fwd=uri-miss") and "stored" not in csp(r), cs(r)


def test_truncated_origin_body_not_stored():
    body = os.urandom(200000)
    cut = {"n": 0}

    def handler(req):
        cut["n"] += 1
        if cut["n"] == 1:
            return Response(raw=(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body)) + body[:150000])
        return Response(200, body, headers=[FRESH])

    def chunked_cut(req):
        if o.count("/cut-chunked") == 1:
            return Response(raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        return Response(200, b"hello world", headers=[FRESH], chunked=True)
    o = RoutedOrigin({"/cut": handler, "/cut-chunked": chunked_cut})
    with Daemon() as d:
        for path, whole in (("/cut", body), ("/cut-chunked", b"hello world")):
            url = o.url(path)
            try:
                r = get(d, url, timeout=15)
                assert r.body != whole, "%s: a cut body arrived whole?" % path
                raise AssertionError("%s: cut origin body relayed as complete: %s"
                                     % (path, r.brief()[:200]))
            except h.ConnectionClosed:
                pass            # the client sees the truncation: right
            r = get(d, url)
            assert r.status == 200 and r.body == whole, "%s: %s" % (path, r.brief()[:200])
            assert "hit" not in csp(r), "%s: a truncated body was stored: %r" % (path, cs(r))
            assert o.count(path) == 2
            assert_hit(get(d, url), whole)


def test_client_gone_mid_body_leaves_no_partial_object():
    body = os.urandom(4 << 20)
    o = RoutedOrigin({"/abandon": Response(200, body, headers=[FRESH])})
    with Daemon() as d:
        url = o.url("/abandon")
        c = h.RawConn(d.port)
        c.send(h.build_request("GET", url))
        got = {"n": 0}

        class Enough(Exception):
            pass

        def sink(b):
            got["n"] += len(b)
            if got["n"] >= 256 * 1024:
                raise Enough()
        try:
            c.recv_response(sink=sink)
        except Enough:
            pass
        c.close()
        # Whatever the proxy did with the rest, no client may get less
        # than the whole body now.
        for _ in range(2):
            r = get(d, url)
            assert r.status == 200 and len(r.body) == len(body) and r.body == body, \
                "after an abandoned download: %d bytes, sha %s" % (len(r.body),
                                                                   h.sha256(r.body)[:12])
        assert o.count("/abandon") in (1, 2, 3), o.count("/abandon")
        assert_hit(get(d, url), body)


# --------------------------------------------------------------------------
# Cache-Status accuracy and syntax
# --------------------------------------------------------------------------

def test_cache_status_names_stale_refetch():
    """RFC 9211 2.2: fwd=uri-miss means nothing was stored for the URI; a
    stale copy without validators, fetched again, is fwd=stale."""
    o = RoutedOrigin({"/sr": Response(200, b"sr", headers=[("Cache-Control", "max-age=0")])})
    with Daemon() as d:
        url = o.url("/sr")
        assert_miss(get(d, url), body=b"sr")
        r = get(d, url)
        assert r.status == 200 and r.body == b"sr" and o.count("/sr") == 2, r.brief()
        assert csp(r).get("fwd") == "stale", \
            "a stored stale copy fetched again: Cache-Status %r, expected fwd=stale" % cs(r)


def test_cache_status_is_a_structured_field():
    """RFC 9211 2: Cache-Status is an RFC 8941 List; "detail" is a String
    or a Token, so a value with a space must be quoted."""
    o = RoutedOrigin({
        "/ok": Response(200, b"x", headers=[FRESH]),
        "/ns": Response(200, b"x", headers=[("Cache-Control", "no-store")]),
        "/pv": Response(200, b"x", headers=[("Cache-Control", "private")]),
        "/ck": Response(200, b"x", headers=[FRESH, ("Set-Cookie", "a=b")]),
        "/vs": Response(200, b"x", headers=[FRESH, ("Vary", "*")]),
        "/nf": Response(302, b"x", headers=[("Location", "/y")]),
        "/st": Response(200, b"x", headers=[("Cache-Control", "max-age=0"), ("ETag", '"1"')]),
    })
    with Daemon() as d:
        bad = []
        for p in ("/ok", "/ok", "/ns", "/pv", "/ck", "/vs", "/nf", "/st", "/st"):
            r = get(d, o.url(p))
            for v in r.header_all("Cache-Status"):
                if not h.sf_list_ok(v):
                    bad.append("%s: %r" % (p, v))
        r = get(d, o.url("/nothing"), headers=[("Cache-Control", "only-if-cached")])
        bad += ["504: %r" % v for v in r.header_all("Cache-Status") if not h.sf_list_ok(v)]
        assert not bad, "Cache-Status values that are not RFC 8941 Lists:\n" + "\n".join(bad)


if __name__ == "__main__":
    h.run(globals())

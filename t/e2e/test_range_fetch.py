#!/usr/bin/env python3
"""Ranges on a cold cache (refresh_patterns' range_fetch, Squid's
range_offset_limit): a Range miss on a URL whose pattern allows it makes
the proxy fetch the whole object once, in the background, and answer the
range from that fetch as it arrives; later ranges are hits. An object
bigger than the limit is not fetched whole: the range is forwarded. URLs
without the setting forward ranges as before."""

import json
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")


def patterns(limit="16M"):
    return {"cache.refresh_patterns": [
        {"regex": "\\.bin$", "min": 0, "percent": 20, "max": "3d", "range_fetch": limit},
        {"regex": ".", "min": 0, "percent": 20, "max": "3d"},
    ]}


def ranging(body):
    """An origin route that honours "Range: bytes=a-b" (206), else 200."""
    def handler(req):
        rng = req.header("Range")
        if rng and rng.startswith("bytes=") and "," not in rng:
            a, _, b = rng[6:].partition("-")
            first, last = int(a), min(int(b), len(body) - 1)
            return Response(206, body[first:last + 1], headers=[
                FRESH, ("Content-Range", "bytes %d-%d/%d" % (first, last, len(body)))])
        return Response(200, body, headers=[FRESH])
    return handler


def ranged(d, url, first, last):
    return h.proxy_request(d, "GET", url, headers=[("Range", "bytes=%d-%d" % (first, last))])


def check_part(r, body, first, last):
    assert r.status == 206, "status %d (%s)" % (r.status, h.cache_status(r))
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (first, last, len(body)), \
        r.header("Content-Range")
    assert r.body == body[first:last + 1], "wrong bytes for %d-%d" % (first, last)


def test_cold_range_fetches_the_whole_object_once():
    size = 4 << 20
    body = os.urandom(size)
    o = RoutedOrigin({"/f.bin": ranging(body)})
    with Daemon(patterns()) as d:
        url = o.url("/f.bin")
        r = ranged(d, url, 1000, 1999)
        check_part(r, body, 1000, 1999)
        assert o.count("/f.bin") == 1
        sent = o.reqs("/f.bin")[0]
        assert sent.header("Range") is None, \
            "the range went to the origin as it was: nothing could be stored"
        assert h.cache_status(r) == "fwd=uri-miss; collapsed", h.cache_status(r)
        # Later ranges anywhere in the object: hits, once the whole is in.
        r2 = None

        def later():
            nonlocal r2
            r2 = ranged(d, url, size - 5000, size - 1)
            return h.cache_status_params(r2).get("hit") is True
        h.wait_until(later, 20, what="a later range served from the cache")
        check_part(r2, body, size - 5000, size - 1)
        r3 = h.proxy_request(d, "GET", url)
        assert r3.body == body and h.cache_status_params(r3).get("hit") is True
        assert o.count("/f.bin") == 1, o.count("/f.bin")
        codes = [(a.code, a.status) for a in h.access_entries(d, "GET", url, 2)]
        assert ("TCP_MISS", 206) in codes and ("TCP_MISS", 200) in codes, codes
        internal = [a for a in h.access_entries(d, "GET", url) if a.client == "internal"]
        assert len(internal) == 1 and internal[0].status == 200, internal
        st = json.loads(h.proxy_request(d, "GET", "/squidlike/status.json").body)
        assert st["cache"]["range_fetches"] == 1, st["cache"]


def test_range_waits_for_its_bytes_while_the_rest_streams_in():
    """The part asked for is sent as soon as the fetch has it: a range in
    the first half before the origin sends the second, one in the second
    half after."""
    size = 4 << 20
    half = size // 2
    body = os.urandom(size)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def pieces():
        yield body[:half]
        gate.wait(60)
        yield body[half:]

    o = RoutedOrigin({"/s.bin": lambda req: Response(200, pieces(), length=size,
                                                     headers=[FRESH])})
    with Daemon(patterns()) as d:
        url = o.url("/s.bin")
        r = ranged(d, url, 10, 100009)
        check_part(r, body, 10, 100009)
        box = {}

        def tail():
            try:
                box["r"] = ranged(d, url, half + 10, half + 20009)
            except Exception as e:  # noqa: BLE001
                box["e"] = e
        t = threading.Thread(target=tail, daemon=True)
        t.start()
        t.join(1.0)
        assert t.is_alive() and "r" not in box, "a range past what arrived was answered early"
        gate.set()
        t.join(30)
        assert "r" in box, box.get("e")
        check_part(box["r"], body, half + 10, half + 20009)
        assert o.count("/s.bin") == 1, o.count("/s.bin")


def test_range_joins_a_fetch_in_progress():
    """A plain GET is streaming the object in: a range request for it reads
    along instead of going to the origin."""
    size = 2 << 20
    half = size // 2
    body = os.urandom(size)
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def pieces():
        yield body[:half]
        gate.wait(60)
        yield body[half:]
    o = RoutedOrigin({"/j.bin": lambda req: Response(200, pieces(), length=size,
                                                     headers=[FRESH])})
    with Daemon(patterns()) as d:
        url = o.url("/j.bin")
        got = []
        c = h.RawConn(d.port, timeout=60)
        c.send(h.build_request("GET", url, [("Connection", "close")]))
        box = {}

        def whole():
            try:
                box["r"] = c.recv_response(sink=got.append)
            except Exception as e:  # noqa: BLE001
                box["e"] = e
        t = threading.Thread(target=whole, daemon=True)
        t.start()
        h.wait_until(lambda: sum(map(len, got)) >= half, 20, what="the GET streaming")
        r = ranged(d, url, 100, 199)
        check_part(r, body, 100, 199)
        assert o.count("/j.bin") == 1, o.count("/j.bin")
        gate.set()
        t.join(30)
        assert b"".join(got) == body, box.get("e")


def test_too_big_for_range_fetch_forwards_the_range():
    size = 3 << 20
    body = os.urandom(size)
    o = RoutedOrigin({"/big.bin": ranging(body)})
    with Daemon(patterns("1M")) as d:
        url = o.url("/big.bin")
        r = ranged(d, url, 5, 1004)
        check_part(r, body, 5, 1004)
        ranges = [q.header("Range") for q in o.reqs("/big.bin")]
        assert "bytes=5-1004" in ranges, ranges
        r = ranged(d, url, 5, 1004)
        check_part(r, body, 5, 1004)
        assert h.cache_status_params(r).get("hit") is not True


def test_without_range_fetch_ranges_are_forwarded():
    size = 1 << 20
    body = os.urandom(size)
    o = RoutedOrigin({"/plain.bin": ranging(body)})
    with Daemon() as d:
        url = o.url("/plain.bin")
        r = ranged(d, url, 0, 99)
        check_part(r, body, 0, 99)
        assert [q.header("Range") for q in o.reqs("/plain.bin")] == ["bytes=0-99"]


def test_bad_range_fetch_setting_names_the_line():
    d = Daemon(patterns("lots"), start=False)
    r = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", d.conf_path],
                       cwd=d.dir, capture_output=True, timeout=30, env=h.child_env())
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode != 0 and "range_fetch" in out and "squidlike.conf:" in out, out


def test_range_that_could_not_read_along_starts_nothing():
    """A range with a conditional (or credentials) could not share a whole
    fetch: it goes to the origin as it is, and no whole fetch starts."""
    size = 1 << 20
    body = os.urandom(size)
    o = RoutedOrigin({"/c.bin": ranging(body)})
    with Daemon(patterns()) as d:
        url = o.url("/c.bin")
        for _ in range(3):
            r = h.proxy_request(d, "GET", url, headers=[("Range", "bytes=0-99"),
                                                       ("If-None-Match", '"nope"')])
            check_part(r, body, 0, 99)
        st = json.loads(h.proxy_request(d, "GET", "/squidlike/status.json").body)
        assert st["cache"]["range_fetches"] == 0, st["cache"]
        assert [q.header("Range") for q in o.reqs("/c.bin")] == ["bytes=0-99"] * 3


if __name__ == "__main__":
    h.run(globals())

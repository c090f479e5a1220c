#!/usr/bin/env python3
"""Reverse mode's compression (issue 12): what a client of the company's
site gets when it says Accept-Encoding. gzip and br bodies that decode
(Python's zlib, the brotli CLI) to the backend's bytes exactly, for JSON
of 40 KiB and 1 MiB served by nginx, sent chunked with no Content-Length
(also pipelined), Vary: Accept-Encoding (once, merged with the
backend's), a strong ETag made weak (also one of some KiB), a weak one
kept, Accept-Ranges gone; identity clients served as they were but told
Vary; the coding chosen by q-values (q=0 refuses, "*" covers the rest,
ties go by the configured order, x-gzip, any case); ranges answered from
the identity bytes, cold, after a coded copy is cached and from a backend
that ignores Range; no second compression of an encoded body (nginx
serving a pre-gzipped file); no-transform, a body under min_length, a type
or a status not listed: untouched; the cache keeping one variant per set
of accepted codings, whose hits (GET, HEAD, If-None-Match) compress
nothing (counted in /metrics) while the backend sees only the misses, a
revalidated variant served as stored, PURGE taking them all; HTTP/1.0
clients (close-delimited), HEAD; compress = false on a route or a vhost,
and no compression block at all; chunked (with trailers), slow and
close-delimited backends; backends that cut a body short and clients that
leave (nothing looks whole, the stream is given back); a slow reader of
3 MiB; the byte counters; more streams than max_streams (sent identity,
not stored, counted busy); and the config errors -k parse names with
file:line.

Most cases share one daemon (one reverse listener, a scripted backend
`app` and an nginx backend `ng`); each uses its own paths, so that the
cache of one never answers another."""

import base64
import gzip
import json
import os
import re
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NginxOrigin, Response, RoutedOrigin  # noqa: E402
from test_metrics import Metrics, promtool_check  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402
from test_reverse_limits import manager_page  # noqa: E402
from test_reverse_tls import tx_queue  # noqa: E402

HOST = "www.example.test"
NOZIP = "nozip.example.test"       # a vhost with compress = false
TYPES = ["text/html", "text/plain", "text/css", "text/javascript", "application/javascript",
         "application/json", "application/xml", "image/svg+xml"]
COMPRESSION = {"codings": ["br", "gzip"], "types": TYPES, "min_length": 256,
               "gzip_level": 6, "brotli_level": 5, "max_streams": 64}
JSON = ("Content-Type", "application/json")
HTML = ("Content-Type", "text/html; charset=utf-8")
TEXT = ("Content-Type", "text/plain")
NO_STORE = ("Cache-Control", "no-store")
FRESH = ("Cache-Control", "max-age=3600")
RESPONSES = "squidlike_compress_responses_total"
BYTES_IN = "squidlike_compress_bytes_in_total"
BYTES_OUT = "squidlike_compress_bytes_out_total"
SKIPPED = "squidlike_compress_skipped_total"

# nginx (gzip off, its default): /ng/ not stored, /ng/cached/ fresh for an
# hour, /ng/pre/ files already gzipped (served with Content-Encoding: gzip),
# /ng/sub/ rewritten by sub_filter (hence chunked: no length known).
NGINX_CONF = """
    location /ng/ {
      types { application/json json; text/html html; text/plain txt; image/png png; }
      add_header Cache-Control "no-store";
    }
    location /ng/cached/ {
      types { application/json json; }
      add_header Cache-Control "max-age=3600";
    }
    location /ng/pre/ {
      types { }
      default_type application/json;
      add_header Content-Encoding gzip;
      add_header Cache-Control "no-store";
    }
    location /ng/sub/ {
      types { text/html html; }
      sub_filter "@@WHO@@" "squidlike";
      sub_filter_once off;
      add_header Cache-Control "no-store";
    }
"""

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu").split()


# --- bodies ---------------------------------------------------------------------

def json_doc(size, seed):
    """A JSON array of records (names, addresses, numbers, dates, tags) of
    about size bytes: compressible as a real API's answer is, no two
    records alike."""
    rng = random.Random(seed)
    recs, n = [], 2
    while n < size:
        first, last = rng.choice(WORDS), rng.choice(WORDS)
        rec = {"id": seed * 1000000 + len(recs),
               "name": "%s %s" % (first.title(), last.title()),
               "email": "%s.%s%d@example.test" % (first, last, rng.randrange(1000)),
               "score": round(rng.random() * 1000, 3),
               "active": rng.random() < 0.5,
               "created": "2024-%02d-%02dT%02d:%02d:%02dZ" % (
                   rng.randint(1, 12), rng.randint(1, 28), rng.randrange(24),
                   rng.randrange(60), rng.randrange(60)),
               "tags": rng.sample(WORDS, rng.randint(1, 4)),
               "note": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))}
        s = json.dumps(rec)
        recs.append(s)
        n += len(s) + 3
    return ("[" + ",\n ".join(recs) + "]\n").encode()


def html_doc(size, seed, marker=""):
    """An HTML page of about size bytes, paragraphs of varying words."""
    rng = random.Random(seed)
    parts = ["<!doctype html>\n<html><head><title>page %d</title></head><body>\n" % seed]
    n = len(parts[0])
    i = 0
    while n < size:
        p = "<h2>Section %d %s</h2>\n<p class=\"%s\">%s %s</p>\n" % (
            i, marker, rng.choice(WORDS),
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))), marker)
        parts.append(p)
        n += len(p)
        i += 1
    parts.append("</body></html>\n")
    return "".join(parts).encode()


# --- decoding and checks ----------------------------------------------------------

def gunzip(data):
    """One complete gzip stream, nothing after it."""
    z = zlib.decompressobj(wbits=31)
    out = z.decompress(data) + z.flush()
    assert z.eof, "gzip stream cut short (%d bytes)" % len(data)
    assert not z.unused_data, "%d bytes after the gzip stream" % len(z.unused_data)
    return out


def need_brotli():
    if not shutil.which("brotli"):
        raise h.Skip("the brotli CLI is not installed (Debian package brotli)")


def unbrotli(data):
    need_brotli()
    p = subprocess.run(["brotli", "-dc"], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, "brotli -dc failed on %d bytes: %s" % (
        len(data), p.stderr.decode(errors="replace"))
    return p.stdout


def decode(coding, data):
    return gunzip(data) if coding == "gzip" else unbrotli(data)


def vary_ae(r):
    """How many times Vary names Accept-Encoding."""
    return sum(1 for v in r.header_all("Vary") for t in v.split(",")
               if t.strip().lower() == "accept-encoding")


def same(got, want, what):
    assert got == want, "%s: %d bytes (sha256 %s), expected %d (sha256 %s)" % (
        what, len(got), h.sha256(got)[:16], len(want), h.sha256(want)[:16])


def compressed(r, coding, want, what, status=200, framing=True):
    """r is a `coding` body that decodes to want, with the head of a
    compressed response: Vary once, no Accept-Ranges; with framing (a
    response compressed now, to an HTTP/1.1 client) no Content-Length and
    chunked. A hit may give the stored length (the body read by it must
    then still be one whole stream: decode() checks)."""
    ctx = "%s: %s" % (what, r.brief()[:300])
    assert r.status == status, ctx
    assert r.header_all("Content-Encoding") == [coding], ctx
    assert vary_ae(r) == 1, ctx
    assert r.header("Accept-Ranges") is None, ctx
    if framing:
        assert r.header("Content-Length") is None, ctx
        assert r.chunked and (r.header("Transfer-Encoding") or "").lower() == "chunked", ctx
    same(decode(coding, r.body), want, what)


def identity(r, want, what, status=200, vary=True):
    """r carries want as it is; vary: Accept-Encoding named once (True),
    not at all (False), or not checked (None)."""
    ctx = "%s: %s" % (what, r.brief()[:300])
    assert r.status == status, ctx
    assert r.header("Content-Encoding") is None, ctx
    same(r.body, want, what)
    if vary is not None:
        assert vary_ae(r) == (1 if vary else 0), ctx


def zstats(d):
    """The compression counters of /metrics now."""
    m = Metrics(manager_page(d, "/metrics"))
    return {"gzip": m.get(RESPONSES, coding="gzip"), "br": m.get(RESPONSES, coding="br"),
            "in": m.get(BYTES_IN), "out": m.get(BYTES_OUT), "busy": m.get(SKIPPED, reason="busy")}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


# --- the shared site ---------------------------------------------------------------

def site_conf(port, app, ng=None, compression=None, compress_keys=True):
    pools = {"app": ("round-robin", ["127.0.0.1:%d" % app.port])}
    routes = [{"prefix": "/raw/", "pool": "app", "compress": False}]
    if ng is not None:
        pools["ng"] = ("round-robin", ["127.0.0.1:%d" % ng.port])
        routes.append({"prefix": "/ng/", "pool": "ng"})
    routes.append({"prefix": "/", "pool": "app"})
    nozip = {"names": [NOZIP], "compress": False, "routes": [{"prefix": "/", "pool": "app"}]}
    if not compress_keys:
        routes[0].pop("compress")
        nozip.pop("compress")
    extra = {"compression": compression} if compression else {}
    conf = rev_conf(port, pools, [{"names": [HOST], "routes": routes}, nozip], **extra)
    conf["cache.purge_from"] = ["127.0.0.1/32"]
    return conf


class Site:
    """A daemon with compression on and its backends: app (a RoutedOrigin:
    tests add their routes) and, with nginx, ng (tests add their files)."""

    def __init__(self, app=None, nginx=True, name="squidlike"):
        self.app = app or RoutedOrigin(name="app")
        self.ng = NginxOrigin(big_size=1, name="nginx-zip", server_conf=NGINX_CONF) \
            if nginx else None
        self.port = h.free_port()
        self.d = Daemon(site_conf(self.port, self.app, self.ng, COMPRESSION), name=name)

    def ask(self, path, ae=None, host=HOST, method="GET", headers=(), conn=None):
        hdrs = list(headers)
        if ae is not None:
            hdrs.append(("Accept-Encoding", ae))
        return get(self.port, host, path, hdrs, method=method, conn=conn)

    def url(self, path, host=HOST):
        return "http://%s%s" % (host, path)

    def stop(self):
        try:
            self.d.stop()
        finally:
            if self.ng:
                self.ng.stop()
            self.app.stop()


def site():
    return h.shared("site", Site)


def nginx_direct(ng, path):
    """GET path from nginx itself (what the backend sends)."""
    with h.RawConn(ng.port) as c:
        c.send(h.build_request("GET", path, [("Host", "localhost"), ("Connection", "close")]))
        return c.recv_response()


# --- 1, 2, 3: the codings and identity ------------------------------------------------

def test_gzip_json_from_nginx():
    s = site()
    docs = {"/ng/api/list.json": json_doc(40 * 1024, 1), "/ng/api/big.json": json_doc(1 << 20, 2)}
    for path, data in docs.items():
        s.ng.add_file(path, data)
    with h.RawConn(s.port) as c:       # one keep-alive connection for all of them
        for path, data in docs.items():
            raw = nginx_direct(s.ng, path)
            etag = raw.header("ETag")
            assert raw.status == 200 and raw.body == data and etag and not etag.startswith("W/"), \
                raw.brief()
            assert raw.header("Accept-Ranges") == "bytes", raw.headers
            r = s.ask(path, "gzip", conn=c)
            compressed(r, "gzip", data, path)
            assert r.header("Content-Type") == "application/json", r.headers
            assert r.header("ETag") == "W/" + etag, (etag, r.headers)
            ratio = len(r.body) / len(data)
            h.log("%s: %d -> %d bytes gzip (%.2f)" % (path, len(data), len(r.body), ratio))
            assert ratio < 0.5, "%s: gzip kept %.2f of the JSON" % (path, ratio)
        # the connection is still good after two chunked bodies, also for
        # requests pipelined: coded, identity and coded again, in order
        c.send(b"".join(h.build_request("GET", "/ng/api/list.json", [("Host", HOST)] + (
            [("Accept-Encoding", ae)] if ae else [])) for ae in ("gzip", None, "x-gzip")))
        data = docs["/ng/api/list.json"]
        compressed(c.recv_response(), "gzip", data, "pipelined 1")
        identity(c.recv_response(), data, "pipelined 2")
        compressed(c.recv_response(), "gzip", data, "pipelined 3")


def test_etags_weak_kept_long_weakened():
    """A weak ETag stays as it is; a strong one is made weak whatever its
    length (a head of 64 KiB is allowed: a tag of some KiB is legal). A
    daemon of its own: a backend blamed for our failure could be ejected."""
    data = json_doc(8 * 1024, 28)
    app = RoutedOrigin({"/etag/weak": Response(200, data, headers=[JSON, NO_STORE,
                                                                   ("ETag", 'W/"w1"')])},
                       name="app-etag")
    s = Site(app, nginx=False, name="squidlike-etag")
    r = s.ask("/etag/weak", "gzip")
    compressed(r, "gzip", data, "weak ETag")
    assert r.header_all("ETag") == ['W/"w1"'], r.headers
    bad = []
    for n in (900, 1100, 3000):
        tag = '"%s"' % ("e" * n)
        for cc in ("no-store", "max-age=600"):
            path = "/etag/%d/%s" % (n, cc)
            s.app.routes[path] = Response(200, data, headers=[JSON, ("Cache-Control", cc),
                                                              ("ETag", tag)])
            for ae in ("gzip", "br", None):
                r = s.ask(path, ae)
                try:
                    if ae:
                        compressed(r, ae, data, "%s %s" % (path, ae))
                        assert r.header_all("ETag") == ["W/" + tag], "ETag of %s" % path
                    else:
                        identity(r, data, path)
                        assert r.header_all("ETag") == [tag], "ETag of %s" % path
                except AssertionError as e:
                    bad.append("ETag of %d bytes, %s, Accept-Encoding %r: got %s (%s)" % (
                        n + 2, cc, ae, r.status, str(e)[:120]))
    assert not bad, "\n".join(bad)


def test_br():
    need_brotli()
    s = site()
    page = html_doc(48 * 1024, 3)
    data = json_doc(64 * 1024, 4)
    s.ng.add_file("/ng/br/data.json", data)
    s.app.routes["/br/page.html"] = Response(200, page, headers=[HTML, NO_STORE, ("ETag", '"p3"')])
    etag = nginx_direct(s.ng, "/ng/br/data.json").header("ETag")
    r = s.ask("/ng/br/data.json", "br")
    compressed(r, "br", data, "br from nginx")
    assert r.header("ETag") == "W/" + etag, (etag, r.headers)
    r = s.ask("/br/page.html", "br")
    compressed(r, "br", page, "br from app")
    assert r.header("ETag") == 'W/"p3"', r.headers
    assert len(r.body) < len(page) / 2, (len(r.body), len(page))


def test_identity_clients_told_vary():
    s = site()
    data = json_doc(20 * 1024, 5)
    s.ng.add_file("/ng/id/data.json", data)
    etag = nginx_direct(s.ng, "/ng/id/data.json").header("ETag")
    for ae in (None, "identity"):
        r = s.ask("/ng/id/data.json", ae)
        identity(r, data, "Accept-Encoding %r" % ae)
        assert r.header("ETag") == etag, (ae, etag, r.headers)
    # the backend's own Vary is kept, Accept-Encoding added once
    page = html_doc(8 * 1024, 6)
    s.app.routes["/id/vary-origin"] = Response(200, page, headers=[HTML, NO_STORE,
                                                                  ("Vary", "Origin")])
    s.app.routes["/id/vary-ae"] = Response(200, page, headers=[HTML, NO_STORE,
                                                              ("Vary", "accept-encoding, Cookie")])
    for path in ("/id/vary-origin", "/id/vary-ae"):
        for ae in (None, "gzip"):
            r = s.ask(path, ae)
            if ae:
                compressed(r, "gzip", page, "%s %s" % (path, ae))
            else:
                identity(r, page, path)
            names = [t.strip().lower() for v in r.header_all("Vary") for t in v.split(",")]
            want = "origin" if path.endswith("origin") else "cookie"
            assert want in names, (path, r.header_all("Vary"))


# --- 4: q-values -----------------------------------------------------------------------

def test_qvalues_choose_the_coding():
    need_brotli()
    s = site()
    data = json_doc(16 * 1024, 7)
    s.app.routes["/q"] = Response(200, data, headers=[JSON, NO_STORE])
    cases = [
        ("gzip;q=0, br", "br"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("*;q=0", None),
        ("gzip;q=0", None),
        ("*", "br"),                     # both at q=1: the codings order
        ("x-gzip", "gzip"),
        ("gzip, br", "br"),
        ("gzip;q=0.5, br;q=0.5", "br"),
        ("gzip;q=0.001", "gzip"),
        ("br;q=0, *", "gzip"),           # "*" covers what is not named
        ("br;q=0, gzip;q=0", None),
        ("deflate, compress", None),
        ("GZip", "gzip"),                # codings are case-blind
    ]
    bad = []
    for ae, want in cases:
        r = s.ask("/q", ae)
        try:
            if want:
                compressed(r, want, data, repr(ae))
            else:
                identity(r, data, repr(ae))
        except AssertionError as e:
            bad.append("%r: expected %s, got Content-Encoding %r (%s)" % (
                ae, want or "identity", r.header("Content-Encoding"), str(e)[:160]))
    assert not bad, "\n".join(bad)


# --- 5: ranges --------------------------------------------------------------------------

def test_range_gets_identity_bytes():
    s = site()
    data = json_doc(30 * 1024, 8)
    path = "/ng/cached/range.json"
    s.ng.add_file(path, data)
    n = len(data)

    def check_range(ae, spec, lo, hi, what):
        r = s.ask(path, ae, headers=[("Range", "bytes=" + spec)])
        ctx = "%s (Range %s, Accept-Encoding %r): %s" % (what, spec, ae, r.brief()[:300])
        assert r.status == 206, ctx
        assert r.header("Content-Encoding") is None, ctx
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (lo, hi, n), ctx
        same(r.body, data[lo:hi + 1], what)

    check_range("gzip", "100-1099", 100, 1099, "cold cache")
    r = s.ask(path, "gzip")
    compressed(r, "gzip", data, "the whole, compressed")
    r = s.ask(path, "gzip")
    compressed(r, "gzip", data, "the whole again", framing=False)
    assert h.cache_status_params(r).get("hit"), r.header("Cache-Status")
    check_range("gzip", "100-1099", 100, 1099, "gzip copy cached")
    check_range("gzip, br", "-500", n - 500, n - 1, "suffix, gzip copy cached")
    check_range(None, "0-99", 0, 99, "identity client")
    # a backend that ignores Range and sends the whole: a Range request is
    # never coded, whatever comes back (the whole, or a part cut from it)
    s.app.routes["/norange.json"] = Response(200, data, headers=[JSON, NO_STORE])
    for ae in ("gzip", "br", "gzip, br"):
        r = s.ask("/norange.json", ae, headers=[("Range", "bytes=100-1099")])
        ctx = "%r: %s" % (ae, r.brief()[:300])
        assert r.status in (200, 206) and r.header("Content-Encoding") is None, ctx
        same(r.body, data if r.status == 200 else data[100:1100], "Range ignored, %r" % ae)


# --- 6, 7, 8: what is not compressed --------------------------------------------------

def test_encoded_body_passes_untouched():
    s = site()
    data = json_doc(24 * 1024, 9)
    pre = gzip.compress(data, 9)
    s.ng.add_file("/ng/pre/data.json", pre)
    raw = nginx_direct(s.ng, "/ng/pre/data.json")
    assert raw.header("Content-Encoding") == "gzip" and raw.body == pre, raw.brief()
    brd = html_doc(8 * 1024, 10)        # not really brotli: it must pass as it is anyway
    s.app.routes["/pre/chunked"] = lambda req: Response(
        200, pre, headers=[JSON, NO_STORE, ("Content-Encoding", "gzip")], chunked=True,
        chunk_size=5000)
    s.app.routes["/pre/br"] = Response(200, brd, headers=[HTML, NO_STORE,
                                                          ("Content-Encoding", "br")])
    for ae in ("gzip", "br", "gzip, br", None):
        for path, body, coding in (("/ng/pre/data.json", pre, "gzip"),
                                   ("/pre/chunked", pre, "gzip"), ("/pre/br", brd, "br")):
            r = s.ask(path, ae)
            ctx = "%s %r: %s" % (path, ae, r.brief()[:300])
            assert r.status == 200 and r.header_all("Content-Encoding") == [coding], ctx
            same(r.body, body, "%s %r" % (path, ae))
        r = s.ask("/ng/pre/data.json", ae)
        assert r.header("Content-Length") == str(len(pre)), r.headers
    # "identity" is no coding: that one is compressed (once, named alone)
    s.app.routes["/pre/identity"] = Response(200, data, headers=[JSON, NO_STORE,
                                                                 ("Content-Encoding", "identity")])
    compressed(s.ask("/pre/identity", "gzip"), "gzip", data, "Content-Encoding: identity")


def test_no_transform_not_compressed():
    s = site()
    page = html_doc(16 * 1024, 11)
    for path, cc in (("/nt/plain", "no-transform"), ("/nt/list", "no-store, no-transform"),
                     ("/nt/case", "private, No-Transform"),
                     ("/nt/cached", "public, max-age=600, no-transform")):
        s.app.routes[path] = Response(200, page, headers=[HTML, ("Cache-Control", cc)])
        for i in range(2):
            for ae in ("gzip", "br", "gzip, br"):
                r = s.ask(path, ae)
                identity(r, page, "%s (%s) %r #%d" % (path, cc, ae, i), vary=None)
                if path == "/nt/cached" and i == 1:
                    # stored (one copy, or one per Accept-Encoding) and
                    # served again, still as it was
                    assert h.cache_status_params(r).get("hit"), (ae, r.header("Cache-Status"))
    assert 1 <= s.app.count("/nt/cached") <= 3, s.app.count("/nt/cached")


def test_small_other_types_and_statuses_not_compressed():
    s = site()
    text = json_doc(8 * 1024, 12)
    t255, t256 = b"x" * 200 + text[:55], b"x" * 200 + text[:56]
    png = b"\x89PNG\r\n\x1a\n" + html_doc(6000, 13)
    routes = {   # path: (status, body, headers, chunked, compressed?)
        "/s/255": (200, t255, [TEXT], False, False),
        "/s/256": (200, t256, [TEXT], False, True),
        "/s/tiny-chunked": (200, b"tiny but no length\n", [TEXT], True, True),
        "/s/png": (200, png, [("Content-Type", "image/png")], False, False),
        "/s/no-type": (200, text, [], False, False),
        "/s/json-patch": (200, text, [("Content-Type", "application/json-patch+json")],
                          False, False),
        "/s/params": (200, text, [("Content-Type", "Application/JSON; charset=UTF-8")],
                      False, True),
        "/s/500": (500, text, [JSON], False, False),
        "/s/201": (201, text, [JSON], False, False),
        "/s/404": (404, text, [JSON], False, True),
        "/s/403": (403, text, [JSON], False, True),
    }
    for path, (status, body, hdrs, chunked, _) in routes.items():
        s.app.routes[path] = Response(status, body, headers=hdrs + [NO_STORE], chunked=chunked)
    bad = []
    for path, (status, body, hdrs, chunked, yes) in routes.items():
        r = s.ask(path, "gzip")
        try:
            if yes:
                compressed(r, "gzip", body, path, status=status)
            else:
                identity(r, body, path, status=status, vary=None)
        except AssertionError as e:
            bad.append("%s: expected %s, got Content-Encoding %r (%s)" % (
                path, "gzip" if yes else "identity", r.header("Content-Encoding"), str(e)[:160]))
    assert not bad, "\n".join(bad)


# --- 9: the cache's variants -------------------------------------------------------------

def test_cached_variants_compress_nothing_on_hits():
    need_brotli()
    s = site()
    data = json_doc(32 * 1024, 14)
    path = "/c9/list.json"
    s.app.routes[path] = Response(200, data, headers=[JSON, FRESH, ("ETag", '"v9"')])
    steps = [   # (Accept-Encoding, coding sent, a hit?, backend requests so far)
        ("gzip", "gzip", False, 1),
        ("gzip", "gzip", True, 1),
        (None, None, False, 2),           # its own variant
        ("br", "br", False, 3),
        ("br", "br", True, 3),
        ("gzip, br", "br", False, 4),
        ("br,gzip;q=1", "br", True, 4),   # the same set of codings
        ("gzip", "gzip", True, 4),        # every variant kept
        (None, None, True, 4),
        ("br;q=0, gzip", "gzip", True, 4),  # accepts {gzip}: never the br copy
        # refuses gzip: never the gzip copy (a variant of its own or the
        # identity one; hit and backend not checked)
        ("gzip;q=0", None, None, None),
        ("*;q=0", None, None, None),
    ]
    # (No field and "identity" may be two variants: a request without
    # Accept-Encoding takes any coding (RFC 9110 12.5.3), one origin may
    # answer it coded; the spec does not make them one.)
    for i, (ae, coding, hit, backend) in enumerate(steps, 1):
        before = zstats(s.d)
        r = s.ask(path, ae)
        h.access_entries(s.d, "GET", s.url(path), n=i)     # done with it
        moved = delta(before, zstats(s.d))
        what = "step %d (%r)" % (i, ae)
        if coding:
            compressed(r, coding, data, what, framing=not hit)
            assert r.header("ETag") == 'W/"v9"', (what, r.headers)
        else:
            identity(r, data, what)
            assert r.header("ETag") == '"v9"', (what, r.headers)
        cs = h.cache_status_params(r)
        want = {"gzip": 0, "br": 0}
        if coding and not hit:
            want[coding] = 1
        assert {k: moved[k] for k in want} == want, (what, moved)
        if hit is None:
            continue
        assert bool(cs.get("hit")) == hit and (hit or "stored" in cs), \
            (what, r.header("Cache-Status"))
        if hit:
            assert moved["in"] == moved["out"] == 0, (what, moved)
        assert s.app.count(path) == backend, (what, s.app.count(path))
    backend = s.app.count(path)
    # HEAD finds the coded variant too
    r = s.ask(path, "gzip", method="HEAD")
    assert r.status == 200 and r.header_all("Content-Encoding") == ["gzip"], r.brief()
    assert r.header("ETag") == 'W/"v9"' and vary_ae(r) == 1, r.brief()
    assert h.cache_status_params(r).get("hit"), r.header("Cache-Status")
    # a client revalidating its copy: the weak tag matches (RFC 9110
    # 13.1.2: If-None-Match compares weakly), answered from the store
    for ae, tag in (("gzip", 'W/"v9"'), ("br", 'W/"v9"'), (None, '"v9"')):
        r = s.ask(path, ae, headers=[("If-None-Match", tag)])
        ctx = (ae, tag, r.brief()[:300])
        assert r.status == 304 and r.body == b"", ctx
        assert r.header("ETag") == tag and vary_ae(r) == 1, ctx
    assert s.app.count(path) == backend, (backend, s.app.count(path))
    # PURGE takes every variant of the URL
    assert s.ask(path, method="PURGE").status == 200
    compressed(s.ask(path, "gzip"), "gzip", data, "gzip after PURGE")
    identity(s.ask(path), data, "identity after PURGE")
    assert s.app.count(path) == backend + 2, (backend, s.app.count(path))


def test_revalidated_variant_served_as_stored():
    """A coded variant the cache must revalidate (no-cache): the origin's
    304 refreshes it; the client gets the stored coded bytes, still with
    the weak tag, and nothing is compressed again."""
    s = site()
    data = json_doc(24 * 1024, 23)

    def handler(req):
        # the 304 repeats the fields of the 200 (RFC 9110 15.4.5), Vary too
        if req.header("If-None-Match") in ('"r1"', 'W/"r1"'):
            return Response(304, b"", headers=[("ETag", '"r1"'), ("Cache-Control", "no-cache"),
                                               ("Vary", "Origin")])
        return Response(200, data, headers=[JSON, ("Cache-Control", "no-cache"),
                                            ("ETag", '"r1"'), ("Vary", "Origin")])
    s.app.routes["/reval"] = handler
    for i, ae in enumerate(("gzip", "gzip", "br", "br"), 1):
        before = zstats(s.d)
        r = s.ask("/reval", ae)
        h.access_entries(s.d, "GET", s.url("/reval"), n=i)
        moved = delta(before, zstats(s.d))
        what = "request %d (%s)" % (i, ae)
        again = i % 2 == 0
        compressed(r, ae, data, what, framing=not again)
        assert r.header("ETag") == 'W/"r1"', (what, r.headers)
        assert "origin" in [t.strip().lower() for v in r.header_all("Vary")
                            for t in v.split(",")], (what, r.headers)
        assert moved[ae] == (0 if again else 1), (what, moved)
        assert s.app.count("/reval") == i, (what, s.app.count("/reval"))
        if again:
            sent = s.app.reqs("/reval")[-1].header("If-None-Match")
            assert sent in ('"r1"', 'W/"r1"'), (what, sent)


# --- 10, 11: HTTP/1.0 and HEAD ----------------------------------------------------------

def test_http10_client_close_delimited():
    """The coded length is not known before the end, and HTTP/1.0 has no
    chunked: the body ends with the connection, also when the client
    asked to keep it alive."""
    s = site()
    data = json_doc(24 * 1024, 15)
    s.app.routes["/h10"] = Response(200, data, headers=[JSON, NO_STORE])
    for extra in ("", "Connection: keep-alive\r\n"):
        out = h.raw(s.port, ("GET /h10 HTTP/1.0\r\nHost: %s\r\nAccept-Encoding: gzip\r\n%s\r\n"
                             % (HOST, extra)).encode(), timeout=30)
        head, sep, body = out.partition(b"\r\n\r\n")
        assert sep, out[:300]
        lines = head.decode("latin-1").split("\r\n")
        r = h.HttpResponse()
        r.status = int(lines[0].split(" ")[1])
        r.headers = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]]
        r.body = body
        assert r.header("Transfer-Encoding") is None and r.header("Content-Length") is None, \
            (extra, lines)
        assert [v.lower() for v in r.header_all("Connection")] == ["close"], (extra, lines)
        compressed(r, "gzip", data, "HTTP/1.0 " + extra.strip(), framing=False)


def test_head_same_head_no_body():
    s = site()
    data = json_doc(16 * 1024, 16)
    s.app.routes["/head"] = Response(200, data, headers=[JSON, NO_STORE, ("ETag", '"h1"')])
    with h.RawConn(s.port) as c:
        r = s.ask("/head", "gzip", method="HEAD", conn=c)
        ctx = r.brief()
        assert r.status == 200 and r.header_all("Content-Encoding") == ["gzip"], ctx
        assert r.header("Content-Length") is None and vary_ae(r) == 1, ctx
        assert r.header("ETag") == 'W/"h1"', ctx
        # a body (or a chunk) after that head would be read as the next response
        r = s.ask("/head", "gzip", headers=[("Connection", "close")], conn=c)
        compressed(r, "gzip", data, "GET after HEAD")
        assert c.closed(10) and not c.rd.buf, bytes(c.rd.buf[:200])


# --- 12: compression off ---------------------------------------------------------------------

def test_compress_false_route_vhost_and_no_block():
    s = site()
    data = json_doc(20 * 1024, 17)
    for path in ("/raw/x.json", "/nozip/x.json"):
        s.app.routes[path] = Response(200, data, headers=[JSON, NO_STORE])
    s.app.routes["/raw/chunked"] = Response(200, data, headers=[JSON, NO_STORE], chunked=True)
    for ae in ("gzip", "br", "gzip, br", None):
        for host, path in ((HOST, "/raw/x.json"), (HOST, "/raw/chunked"),
                           (NOZIP, "/nozip/x.json")):
            r = s.ask(path, ae, host=host)
            identity(r, data, "%s%s %r" % (host, path, ae), vary=False)
            assert not r.header_all("Vary"), r.headers
    # the control: the same body elsewhere on this daemon is compressed
    s.app.routes["/on/x.json"] = Response(200, data, headers=[JSON, NO_STORE])
    compressed(s.ask("/on/x.json", "gzip"), "gzip", data, "compress on")

    # no compression block: nothing compressed, no Vary, no counter
    app = RoutedOrigin({"/x.json": Response(200, data, headers=[JSON, NO_STORE]),
                        "/c.json": Response(200, data, headers=[JSON, NO_STORE], chunked=True)},
                       name="app-nozip")
    port = h.free_port()
    with Daemon(site_conf(port, app, compress_keys=False), name="squidlike-noblock") as d:
        for path in ("/x.json", "/c.json"):
            for ae in ("gzip", "br", "*"):
                r = get(port, HOST, path, [("Accept-Encoding", ae)])
                identity(r, data, "no block %s %r" % (path, ae), vary=False)
                assert not r.header_all("Vary"), r.headers
        h.access_entries(d, "GET", "http://%s/c.json" % HOST, n=3)
        st = zstats(d)
        assert st == {"gzip": 0, "br": 0, "in": 0, "out": 0, "busy": 0}, st


# --- 13: chunked and slow backends --------------------------------------------------------------

def test_chunked_slow_and_close_delimited_backends():
    need_brotli()
    s = site()
    page = html_doc(40 * 1024, 18, marker="@@WHO@@")
    s.ng.add_file("/ng/sub/page.html", page)
    want = page.replace(b"@@WHO@@", b"squidlike")
    raw = nginx_direct(s.ng, "/ng/sub/page.html")
    assert raw.chunked and raw.body == want, raw.brief()     # nginx sends it chunked
    data = json_doc(48 * 1024, 19)
    pieces = [data[i:i + 7000] for i in range(0, len(data), 7000)]

    def slow(req):
        def gen():
            for p in pieces:
                yield p
                time.sleep(0.15)     # a backend that takes its time, piece by piece
        return Response(200, gen(), headers=[JSON, NO_STORE], chunked=True)
    s.app.routes["/slow"] = slow
    s.app.routes["/small-chunks"] = Response(200, data, headers=[JSON, NO_STORE], chunked=True,
                                             chunk_size=100)
    s.app.routes["/close"] = lambda req: Response(200, data, headers=[JSON, NO_STORE],
                                                  close_delimited=True)
    s.app.routes["/trailers"] = Response(200, data, headers=[JSON, NO_STORE], chunked=True,
                                         trailers=[("X-Checksum", "sha256=abc")])
    for path, body in (("/ng/sub/page.html", want), ("/slow", data), ("/small-chunks", data),
                       ("/close", data), ("/trailers", data)):
        for ae in ("gzip", "br"):
            t0 = time.monotonic()
            r = s.ask(path, ae)
            compressed(r, ae, body, "%s %s" % (path, ae))
            h.log("%s %s: %d -> %d bytes in %.2fs" % (path, ae, len(body), len(r.body),
                                                       time.monotonic() - t0))
    assert s.app.count("/slow") == 2


# --- 14: the byte counters --------------------------------------------------------------------

def test_metrics_count_bytes_in_and_out():
    s = site()
    data = json_doc(48 * 1024, 20)
    s.app.routes["/m14"] = Response(200, data, headers=[JSON, NO_STORE])
    before = zstats(s.d)
    r = s.ask("/m14", "gzip")
    compressed(r, "gzip", data, "/m14")
    h.access_entries(s.d, "GET", s.url("/m14"), n=1)
    moved = delta(before, zstats(s.d))
    assert moved == {"gzip": 1, "br": 0, "in": len(data), "out": len(r.body), "busy": 0}, \
        (moved, len(data), len(r.body))
    # an identity answer moves none of them
    identity(s.ask("/m14"), data, "/m14 identity")
    h.access_entries(s.d, "GET", s.url("/m14"), n=2)
    text = manager_page(s.d, "/metrics")
    m = Metrics(text)
    for fam in (RESPONSES, BYTES_IN, BYTES_OUT):
        assert m.types.get(fam) == "counter", (fam, m.types.get(fam))
    moved = delta(before, zstats(s.d))
    assert moved == {"gzip": 1, "br": 0, "in": len(data), "out": len(r.body), "busy": 0}, moved
    promtool_check(text)
    # the status page's tile says what /metrics says
    now = zstats(s.d)
    page = manager_page(s.d, "/squidlike/status")
    shown = {k: int(re.search(r'id="zip_%s" data-value="(\d+)"' % k, page).group(1))
             for k in ("gzip", "br", "in", "out", "busy")}
    assert shown == {k: int(v) for k, v in now.items()}, (shown, now)
    ratio = float(re.search(r'id="zip_ratio" data-value="([0-9.]+)"', page).group(1))
    assert abs(ratio - 100.0 * now["out"] / now["in"]) < 0.01, (ratio, now)


# --- max_streams -----------------------------------------------------------------------------------

def test_busy_sent_identity_not_stored():
    data = json_doc(400 * 1024, 21)
    other = json_doc(20 * 1024, 22)
    release = threading.Event()
    h.register_cleanup("release the held backend", release.set)

    def held(req):
        def gen():
            yield data[:256 * 1024]
            release.wait(60)
            yield data[256 * 1024:]
        return Response(200, gen(), headers=[JSON, NO_STORE], chunked=True)
    app = RoutedOrigin({"/held": held, "/other": Response(200, other, headers=[JSON, FRESH])},
                       name="app-busy")
    port = h.free_port()
    conf = site_conf(port, app, compression=dict(COMPRESSION, max_streams=1))
    with Daemon(conf, name="squidlike-busy") as d:
        with h.RawConn(port, timeout=60) as c:
            c.send(h.build_request("GET", "/held", [("Host", HOST), ("Accept-Encoding", "gzip"),
                                                    ("Connection", "close")]))
            head = c.recv_response(head_only=True)      # its stream is the one allowed
            assert head.header("Content-Encoding") == "gzip", head.brief()
            r = get(port, HOST, "/other", [("Accept-Encoding", "gzip")])
            identity(r, other, "past max_streams")
            h.access_entries(d, "GET", "http://%s/other" % HOST, n=1)
            st = zstats(d)
            assert st["busy"] == 1, st
            release.set()
            body = bytearray()
            c.rd.read_chunked(lambda b: body.extend(bytes(b)))
            same(gunzip(bytes(body)), data, "the held one")
        # the identity answer was not stored as the gzip variant
        r = get(port, HOST, "/other", [("Accept-Encoding", "gzip")])
        compressed(r, "gzip", other, "/other once free")
        r = get(port, HOST, "/other", [("Accept-Encoding", "gzip")])
        compressed(r, "gzip", other, "/other hit", framing=False)
        assert h.cache_status_params(r).get("hit"), r.header("Cache-Status")
        assert app.count("/other") == 2, app.count("/other")
        h.access_entries(d, "GET", "http://%s/other" % HOST, n=3)
        m = Metrics(manager_page(d, "/metrics"))
        assert m.types.get(SKIPPED) == "counter", m.types.get(SKIPPED)
        assert m.get(SKIPPED, reason="busy") == 1 and m.get(RESPONSES, coding="gzip") == 2


def test_abnormal_ends_free_the_stream():
    """With max_streams = 1, a coded response that ends badly (the backend
    cuts it short, chunked or with a length; the client leaves) must give
    its stream back, and must not look whole to its client."""
    data = json_doc(64 * 1024, 25)
    small = json_doc(8 * 1024, 26)
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
    release = threading.Event()
    h.register_cleanup("release the held backend", release.set)

    def held(req):
        def gen():
            yield data[:48 * 1024]
            release.wait(60)
            yield data[48 * 1024:]
        return Response(200, gen(), headers=[JSON, NO_STORE], chunked=True)
    app = RoutedOrigin({
        "/cut-chunked": Response(raw=(head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                                 + b"%x\r\n%s\r\n" % (30000, data[:30000])),
        "/cut-length": Response(raw=(head + "Content-Length: %d\r\n\r\n" % len(data)).encode()
                                + data[:30000]),
        "/held": held,
        "/ok": Response(200, small, headers=[JSON, NO_STORE]),
    }, name="app-ends")
    port = h.free_port()
    conf = site_conf(port, app, compression=dict(COMPRESSION, max_streams=1))
    with Daemon(conf, name="squidlike-ends") as d:
        for path in ("/cut-chunked", "/cut-length"):
            for ae in ("gzip", "br", None):
                try:
                    r = get(port, HOST, path, [("Accept-Encoding", ae)] if ae else [])
                    raise AssertionError("%s %r: a cut body passed as whole: %s"
                                         % (path, ae, r.brief()[:300]))
                except h.ConnectionClosed:
                    pass
            compressed(get(port, HOST, "/ok", [("Accept-Encoding", "gzip")]), "gzip", small,
                       "after %s" % path)
        with h.RawConn(port) as c:
            c.send(h.build_request("GET", "/held", [("Host", HOST), ("Accept-Encoding", "br")]))
            r = c.recv_response(head_only=True)
            assert r.header("Content-Encoding") == "br", r.brief()
        release.set()
        h.access_entries(d, "GET", "http://%s/held" % HOST, n=1, timeout=30)
        compressed(get(port, HOST, "/ok", [("Accept-Encoding", "br")]), "br", small,
                   "after a client left")
        assert d.alive() and zstats(d)["busy"] == 0, zstats(d)


def dechunk(b):
    """The body of a chunked message body b (no trailers)."""
    out, i = bytearray(), 0
    while True:
        j = b.index(b"\r\n", i)
        size = int(b[i:j].split(b";")[0], 16)
        i = j + 2
        if size == 0:
            assert b[i:] == b"\r\n", b[i:i + 100]
            return bytes(out)
        out += b[i:i + size]
        assert b[i + size:i + size + 2] == b"\r\n", "chunk of %d not ended" % size
        i += size + 2


def test_big_body_to_a_slow_reader():
    """3 MiB of coded bytes to a client with a small window that stops
    reading until the daemon's sends back up, twice: every byte arrives."""
    s = site()
    data = base64.encodebytes(random.Random(27).randbytes(3 << 20))     # 4 MiB of text
    s.app.routes["/big.txt"] = Response(200, data, headers=[TEXT, NO_STORE])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    h.register_cleanup("slow reader", sock.close)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", s.port))
    me = sock.getsockname()[1]
    sock.sendall(h.build_request("GET", "/big.txt", [("Host", HOST), ("Accept-Encoding", "gzip"),
                                                     ("Connection", "close")]))
    got, n, pauses = [], 0, 0
    deadline = time.monotonic() + 180
    for _ in range(1000000):
        assert time.monotonic() < deadline, "%d bytes after 180 s" % n
        if n >= (pauses + 1) * (1 << 20) and pauses < 2:
            h.wait_until(lambda: tx_queue(s.port, me) >= 16384, 30,
                         what="the daemon's sends backing up")
            pauses += 1
        b = sock.recv(4096)
        if not b:
            break
        got.append(b)
        n += len(b)
    sock.close()
    raw = b"".join(got)
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep and b"\r\ncontent-encoding: gzip\r\n" in head.lower() + b"\r\n", head[:400]
    assert b"\r\ntransfer-encoding: chunked" in head.lower(), head[:400]
    body = gunzip(dechunk(body))
    same(body, data, "slow reader")
    assert pauses == 2, (pauses, n)
    h.log("slow reader: %d bytes -> %d on the wire" % (len(data), n))


# --- 15: configuration -------------------------------------------------------------------------

CONF_OK = """reverse: {
  listen = [ "127.0.0.1:1" ];
  pools = ( { name = "app"; backends = [ "127.0.0.1:8080" ]; } );
  compression: {
    codings = [ "br", "gzip" ];
    types = [ "text/html", "text/*", "application/json" ];
    min_length = 256;
    gzip_level = 6;
    brotli_level = 5;
    max_streams = 64;
  };
  vhosts = ( { names = [ "a.example" ]; compress = true;
    routes = ( { prefix = "/raw/"; pool = "app"; compress = false; },
               { prefix = "/"; pool = "app"; } ); } );
};
"""


def test_config_errors_named():
    d = h.tmpdir()
    bad = [  # (replace, with, what the message names)
        ("gzip_level = 6;", "gzip_level = 12;", "gzip_level"),
        ("gzip_level = 6;", "gzip_level = 0;", "gzip_level"),
        ("brotli_level = 5;", "brotli_level = 20;", "brotli_level"),
        ("brotli_level = 5;", "brotli_level = -1;", "brotli_level"),
        ('codings = [ "br", "gzip" ];', 'codings = [ "br", "zstd" ];', "zstd"),
        ('types = [ "text/html", "text/*", "application/json" ];', "types = [ ];", "types"),
        ("max_streams = 64;", "max_streams = 64; colour = 1;", "colour"),
        ("compress = true;", 'compress = "yes";', "compress"),
    ]
    for i, (old, new, what) in enumerate(bad):
        assert old in CONF_OK, old
        text = CONF_OK.replace(old, new, 1)
        line = text[:text.index(new)].count("\n") + 1
        path = os.path.join(d, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (new, err)
        assert "%s:%d:" % (path, line) in err and what in err, (new, line, what, err)
    path = os.path.join(d, "good.conf")
    with open(path, "w") as f:
        f.write(CONF_OK)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr + p.stdout


if __name__ == "__main__":
    h.run(globals())

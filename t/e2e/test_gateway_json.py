#!/usr/bin/env python3
"""The API gateway's response_json (issue 15): members of a route's JSON
response bodies removed and renamed before the client (and the cache) get
them. Exact bodies asserted: Content-Length and chunked backends (also a
body of 60 KiB arriving in pieces), the edited body sent with its own
Content-Length on a connection that stays usable; a body over max_size
passed on byte for byte (Content-Length as it came, chunked to HTTP/1.1
clients from a chunked or close-delimited backend, close-delimited to
1.0); invalid JSON, a top level that is not an object, a non-JSON type, a
gzip-coded body, a 206: untouched; +json types and error statuses edited;
a cache hit sends the edited body; HEAD (no length: the edited one is not
known); HTTP/1.0 clients; compression on the same route (the edit wins,
identity); the config errors -k parse names with file:line."""

import gzip
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402

HOST = "api.example.test"
JSON = ("Content-Type", "application/json")
NO_STORE = ("Cache-Control", "no-store")
FRESH = ("Cache-Control", "max-age=3600")
RULES = {"remove": ["password", "internal.id"], "rename": ["usr: user"]}

DOC = (b'{"id": 7, "usr": "bob", "password": "s3cret", '
       b'"internal": {"id": 99, "shard": "eu-1"}, "tags": ["a", "b"]}')
EDITED = b'{"id": 7, "user": "bob", "internal": {"shard": "eu-1"}, "tags": ["a", "b"]}'


def site_conf(port, app):
    pools = {"app": ("round-robin", ["127.0.0.1:%d" % app.port])}
    routes = [{"prefix": "/small/", "pool": "app",
               "response_json": dict(RULES, max_size="1k")},
              {"prefix": "/plain/", "pool": "app"},
              {"prefix": "/stall/", "pool": "app", "response_json": RULES,
               "idle_timeout": "1s"},
              {"prefix": "/norange/", "pool": "app", "response_json": RULES,
               "request_headers": {"remove": ["Range", "If-Range"]}},
              {"prefix": "/", "pool": "app", "response_json": RULES}]
    compression = {"codings": ["gzip"], "types": ["application/json", "text/plain"],
                   "min_length": 16, "max_streams": 16}
    return rev_conf(port, pools, [{"names": [HOST], "routes": routes}],
                    compression=compression)


class Site:
    def __init__(self):
        self.app = RoutedOrigin(name="app")
        self.port = h.free_port()
        self.d = Daemon(site_conf(self.port, self.app), name="squidlike-json")

    def ask(self, path, method="GET", headers=(), conn=None):
        return get(self.port, HOST, path, list(headers), method=method, conn=conn)

    def stop(self):
        try:
            self.d.stop()
        finally:
            self.app.stop()


def site():
    return h.shared("site", Site)


def edited(r, want, what, status=200):
    """r is want with a Content-Length of it (no chunks)."""
    ctx = "%s: %s" % (what, r.brief()[:400])
    assert r.status == status, ctx
    assert r.body == want, ctx
    assert r.header("Content-Length") == str(len(want)), ctx
    assert r.header("Transfer-Encoding") is None and not r.chunked, ctx
    json.loads(r.body)          # a document a client can read


def big_doc(n_items, password_at_end=True):
    items = [{"n": i, "name": "item %d" % i, "secret": False} for i in range(n_items)]
    head = b'{"items": ' + json.dumps(items).encode()
    return head + b', "password": "hunter2", "usr": "eve"}', \
        head + b', "user": "eve"}'


def http10(port, path, extra=""):
    """GET path as an HTTP/1.0 client: (status, headers, body) read to the close."""
    out = h.raw(port, ("GET %s HTTP/1.0\r\nHost: %s\r\n%s\r\n" % (path, HOST, extra)).encode(),
                timeout=30)
    head, sep, body = out.partition(b"\r\n\r\n")
    assert sep, out[:300]
    lines = head.decode("latin-1").split("\r\n")
    r = h.HttpResponse()
    r.status = int(lines[0].split(" ")[1])
    r.headers = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]]
    r.body = body
    return r


# --- edited -------------------------------------------------------------------------

def test_content_length_and_chunked_bodies_edited():
    s = site()
    s.app.routes["/cl"] = Response(200, DOC, headers=[JSON, NO_STORE])
    s.app.routes["/ck"] = Response(200, DOC, headers=[JSON, NO_STORE], chunked=True,
                                   chunk_size=10)
    s.app.routes["/pretty"] = Response(
        200, b'{\n  "password": "x",\n  "usr": "u",\n  "internal": {\n    "id": 1\n  }\n}\n',
        headers=[JSON, NO_STORE])
    s.app.routes["/esc"] = Response(200, b'{"pass\\u0077ord": 1, "u\\u0073r": 2, "a": "\\u00e9"}',
                                    headers=[("Content-Type", "application/json; charset=utf-8"),
                                             NO_STORE])
    # one keep-alive connection: each response ends where its length says
    with h.RawConn(s.port) as c:
        for _ in range(2):
            edited(s.ask("/cl", conn=c), EDITED, "Content-Length backend")
            edited(s.ask("/ck", conn=c), EDITED, "chunked backend")
        edited(s.ask("/pretty", conn=c),
               b'{\n  "user": "u",\n  "internal": {\n    \n  }\n}\n', "pretty")
        edited(s.ask("/esc", conn=c), b'{"user": 2, "a": "\\u00e9"}', "escaped keys")
        r = s.ask("/cl", headers=[("Connection", "close")], conn=c)
        edited(r, EDITED, "last")
        assert c.closed(10), "the connection should close after Connection: close"


def test_big_body_in_pieces_edited():
    """60 KiB (under the default 64 KiB) arriving in 4 KiB chunks over
    several reads: held whole, edited at its end."""
    s = site()
    doc, want = big_doc(1200)
    assert 50000 < len(doc) < 64 * 1024, len(doc)
    s.app.routes["/big"] = Response(200, doc, headers=[JSON, NO_STORE], chunked=True,
                                    chunk_size=4096)
    s.app.routes["/big-cl"] = Response(200, doc, headers=[JSON, NO_STORE])
    edited(s.ask("/big"), want, "chunked 60 KiB")
    edited(s.ask("/big-cl"), want, "Content-Length 60 KiB")


def test_json_types_and_statuses():
    s = site()
    for path, ctype, status in (("/problem", "application/problem+json", 404),
                                ("/vnd", "application/vnd.api+json; ext=x", 201),
                                ("/err", "Application/JSON", 500)):
        s.app.routes[path] = Response(status, DOC, headers=[("Content-Type", ctype), NO_STORE])
        edited(s.ask(path), EDITED, path, status=status)
    # no-transform stops compression, not the site's own rule
    s.app.routes["/nt"] = Response(200, DOC, headers=[
        JSON, ("Cache-Control", "no-store, no-transform")])
    edited(s.ask("/nt", headers=[("Accept-Encoding", "gzip")]), EDITED, "no-transform")


def test_cache_hit_sends_the_edited_body():
    s = site()
    s.app.routes["/cached"] = Response(200, DOC, headers=[JSON, FRESH], chunked=True)
    edited(s.ask("/cached"), EDITED, "miss")
    r = s.ask("/cached")
    edited(r, EDITED, "hit")
    assert s.app.count("/cached") == 1, "the second request went to the backend"
    assert "hit" in (r.header("Cache-Status") or ""), r.headers


# --- not edited --------------------------------------------------------------------

def test_over_max_size_passed_unchanged():
    """/small/: max_size 1k. A Content-Length over it goes as it came; a
    chunked or close-delimited one is passed on after 1 KiB was held:
    chunked to an HTTP/1.1 client, to the close for a 1.0 one."""
    s = site()
    doc, _ = big_doc(60)
    assert 1024 < len(doc) < 8192, len(doc)
    s.app.routes["/small/cl"] = Response(200, doc, headers=[JSON, NO_STORE])
    s.app.routes["/small/ck"] = Response(200, doc, headers=[JSON, NO_STORE], chunked=True,
                                         chunk_size=300)
    s.app.routes["/small/close"] = Response(200, [doc[:700], doc[700:]],
                                            headers=[JSON, NO_STORE], close_delimited=True)
    s.app.routes["/small/fits"] = Response(200, DOC, headers=[JSON, NO_STORE], chunked=True)
    with h.RawConn(s.port) as c:
        r = s.ask("/small/cl", conn=c)
        assert r.status == 200 and r.body == doc, r.brief()[:300]
        assert r.header("Content-Length") == str(len(doc)), r.headers
        for path in ("/small/ck", "/small/close", "/small/ck"):
            r = s.ask(path, conn=c)
            assert r.status == 200 and r.body == doc, (path, r.brief()[:300])
            assert r.chunked and r.header("Content-Length") is None, (path, r.headers)
        edited(s.ask("/small/fits", conn=c), EDITED, "under max_size on the same route")
    for path in ("/small/ck", "/small/close"):
        r = http10(s.port, path)
        assert r.status == 200 and r.body == doc, (path, r.headers, r.body[:200])
        assert r.header("Content-Length") is None and r.header("Transfer-Encoding") is None, \
            (path, r.headers)


def test_not_json_not_edited():
    s = site()
    cases = {
        "/invalid": (b'{"password": "x",}', [JSON], False),
        "/invalid-ck": (b'{"password": "x"', [JSON], True),
        "/array": (b'[{"password": "x"}]', [JSON], True),
        "/string": (b'"password"', [JSON], False),
        "/text": (DOC, [("Content-Type", "text/plain")], False),
        "/jsonp": (DOC, [("Content-Type", "application/jsonp")], False),
        "/none": (DOC, [], False),
    }
    for path, (body, hdrs, chunked) in cases.items():
        s.app.routes[path] = Response(200, body, headers=hdrs + [NO_STORE], chunked=chunked)
    for path, (body, hdrs, chunked) in cases.items():
        r = s.ask(path)
        assert r.status == 200 and r.body == body, (path, r.brief()[:300])
        if chunked:     # held whole, then sent with its length as it came
            assert r.header("Content-Length") == str(len(body)), (path, r.headers)
    # a route without response_json: the same document untouched
    s.app.routes["/plain/doc"] = Response(200, DOC, headers=[JSON, NO_STORE])
    r = s.ask("/plain/doc")
    assert r.status == 200 and r.body == DOC, r.brief()[:300]


def test_gzip_coded_by_the_backend_untouched():
    s = site()
    z = gzip.compress(DOC)
    s.app.routes["/gz"] = Response(200, z, headers=[JSON, ("Content-Encoding", "gzip"),
                                                    NO_STORE])
    r = s.ask("/gz", headers=[("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.body == z, r.brief()[:300]
    assert r.header("Content-Encoding") == "gzip", r.headers
    assert gzip.decompress(r.body) == DOC


def test_partial_content_untouched_full_answer_edited():
    s = site()
    part = DOC[:20]
    s.app.routes["/part"] = Response(206, part, headers=[
        JSON, NO_STORE, ("Content-Range", "bytes 0-19/%d" % len(DOC))])
    r = s.ask("/part", headers=[("Range", "bytes=0-19")])
    assert r.status == 206 and r.body == part, r.brief()[:300]
    # ... though the gateway never asks for a range where it edits bodies
    assert s.app.reqs("/part")[-1].header("Range") is None, "Range reached the backend"
    # a backend that ignores Range answers with the whole document: edited
    s.app.routes["/ignores"] = Response(200, DOC, headers=[JSON, NO_STORE])
    edited(s.ask("/ignores", headers=[("Range", "bytes=0-19")]), EDITED, "Range ignored")


def test_range_dropped_on_a_route_gets_the_whole_edited():
    """The documented way to keep a member from ever leaving: a route
    that drops Range; a backend that would have answered 206."""
    s = site()

    def ranged(req):
        if req.header("Range"):
            return Response(206, DOC[:20], headers=[
                JSON, NO_STORE, ("Content-Range", "bytes 0-19/%d" % len(DOC))])
        return Response(200, DOC, headers=[JSON, NO_STORE])
    s.app.routes["/norange/doc"] = ranged
    edited(s.ask("/norange/doc", headers=[("Range", "bytes=0-19")]), EDITED, "Range dropped")
    assert s.app.reqs("/norange/doc")[-1].header("Range") is None


def test_head_no_length_no_body():
    s = site()
    s.app.routes["/head"] = Response(200, DOC, headers=[JSON, NO_STORE, ("Accept-Ranges", "bytes")])
    with h.RawConn(s.port) as c:
        r = s.ask("/head", method="HEAD", conn=c)
        assert r.status == 200 and r.body == b"", r.brief()
        assert r.header("Content-Type") == "application/json", r.headers
        # the backend said its own length; the edited one is not known
        assert s.app.reqs("/head")[-1].method == "HEAD"
        assert r.header("Content-Length") is None and r.header("Accept-Ranges") is None, \
            r.headers
        # nothing followed that head: the next response reads clean
        edited(s.ask("/head", conn=c), EDITED, "GET after HEAD")


def test_http10_client():
    """The edited body's length, to a 1.0 client too; one that asked for
    keep-alive keeps its connection after a Content-Length backend's body,
    not after a chunked one's (that one could have gone past max_size and
    been passed on to the close, and the head says which before)."""
    s = site()
    s.app.routes["/h10"] = Response(200, DOC, headers=[JSON, NO_STORE])
    s.app.routes["/h10-ck"] = Response(200, DOC, headers=[JSON, NO_STORE], chunked=True,
                                       chunk_size=16)
    for path in ("/h10", "/h10-ck"):
        r = http10(s.port, path)
        assert r.status == 200 and r.body == EDITED, (path, r.headers, r.body)
        assert r.header("Content-Length") == str(len(EDITED)), (path, r.headers)
        assert r.header("Transfer-Encoding") is None, (path, r.headers)
    with h.RawConn(s.port) as c:
        for path, conn in (("/h10", "keep-alive"), ("/h10", "keep-alive"),
                           ("/h10-ck", "close")):
            c.send(("GET %s HTTP/1.0\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n"
                    % (path, HOST)).encode())
            r = c.recv_response()
            edited(r, EDITED, "1.0 keep-alive " + path)
            assert (r.header("Connection") or "").lower() == conn, (path, r.headers)
        assert c.closed(10), "closed after Connection: close"


def test_compressed_route_sends_the_edit_identity():
    """Compression is on for every route here: an edited body goes
    identity (the edit wins), another type on the route is still coded."""
    s = site()
    s.app.routes["/zj"] = Response(200, DOC, headers=[JSON, NO_STORE])
    s.app.routes["/zt"] = Response(200, b"plain text " * 100, headers=[
        ("Content-Type", "text/plain"), NO_STORE])
    r = s.ask("/zj", headers=[("Accept-Encoding", "gzip")])
    edited(r, EDITED, "gzip asked")
    assert r.header("Content-Encoding") is None, r.headers
    r = s.ask("/zt", headers=[("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("Content-Encoding") == "gzip", r.headers
    assert gzip.decompress(r.body) == b"plain text " * 100


# --- abnormal ends -------------------------------------------------------------------

def test_backend_cut_or_stalled_mid_body_answered():
    """The head is held with the body: a backend that closes or stalls
    before the end gets the client a 502 / 504, never the part it sent."""
    s = site()
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Cache-Control: no-store\r\n")
    part = b'{"password": "s3cret", "usr": '
    s.app.routes["/cut"] = Response(raw=head + b"Content-Length: 100\r\n\r\n" + part)
    s.app.routes["/cut-ck"] = Response(raw=head + b"Transfer-Encoding: chunked\r\n\r\n" +
                                       b"%x\r\n" % len(part) + part + b"\r\n")
    s.app.routes["/stall/doc"] = Response(raw=head + b"Content-Length: 100\r\n\r\n" + part,
                                          keep_open=True)
    for path, status in (("/cut", 502), ("/cut-ck", 502), ("/stall/doc", 504)):
        r = s.ask(path)
        assert r.status == status, (path, r.brief()[:300])
        assert b"s3cret" not in r.body, (path, r.body[:300])
    # and the daemon is fine
    s.app.routes["/after"] = Response(200, DOC, headers=[JSON, NO_STORE])
    edited(s.ask("/after"), EDITED, "after")


def test_client_leaves_while_held():
    """A client gone while its body is held: the response goes on to the
    end (and to the store, edited), the buffer is freed (ASan's run)."""
    s = site()
    doc, want = big_doc(1000)
    s.app.routes["/leave"] = Response(200, [doc[:1000], doc[1000:]], headers=[JSON, FRESH],
                                      chunked=True, body_delay=0.5)
    with h.RawConn(s.port) as c:
        c.send(h.build_request("GET", "/leave", [("Host", HOST)]))
        h.wait_until(lambda: s.app.count("/leave") == 1, timeout=20, what="request at the backend")
    # the stored copy, when the fetch went on to its end, is the edited one
    r = s.ask("/leave")
    edited(r, want, "after the client left")


# --- config -----------------------------------------------------------------------

def test_config_errors_named():
    app = RoutedOrigin(name="app-parse")
    d = Daemon(site_conf(h.free_port(), app), start=False, name="squidlike-parse")
    good = d.conf_text()
    old = 'max_size = "1k";'
    assert old in good, good
    bad = [
        ('max_size = "2M";', "max_size"),
        ('max_size = "64k"; keep = [ "x" ];', "keep"),
        ('max_size = 1; ', "max_size"),
    ]
    path = os.path.join(d.dir, "bad.conf")
    for new, what in bad:
        text = good.replace(old, new, 1)
        line = text[:text.index(new)].count("\n") + 1
        _parse_fails(path, text, line, what)
    for rm, what in (('"a..b"', "response_json.remove"), ('""', "empty"),
                     ('"a\\tb"', "response_json.remove")):
        text = good.replace('"password"', rm, 1)
        line = text[:text.index(rm)].count("\n") + 1
        _parse_fails(path, text, line, what)
    for rn in ('"usr"', '"usr: a.b"', '"usr: "'):
        text = good.replace('"usr: user"', rn, 1)
        line = text[:text.index(rn)].count("\n") + 1
        _parse_fails(path, text, line, "response_json.rename")
    with open(path, "w") as f:
        f.write(good)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr + p.stdout
    app.stop()


def _parse_fails(path, text, line, what):
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    err = p.stderr + p.stdout
    assert p.returncode != 0, (what, err)
    assert "%s:%d:" % (path, line) in err and what in err, (line, what, err)


if __name__ == "__main__":
    h.run(globals())

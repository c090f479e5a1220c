#!/usr/bin/env python3
"""Reverse mode over HTTPS (issue 12): reverse.tls_listen and reverse.tls,
with certificates made here by `openssl req` (EC P-256, RSA 2048, DNS
SANs) and Python's ssl as the client (openssl s_client where Python will
not go). The backend learns proto=https; SNI picks the certificate; ALPN;
old protocols refused; sessions resumed (tickets, session ids, ticket key
files across a restart); KeyUpdate and renegotiation; http and https kept
apart in the cache; https_redirect and hsts; certificates replaced by a
reload under load (a bad one refused); -k parse naming FILE:LINE; hostile
clients; big bodies both ways; expiry and handshakes on /metrics and
status.json."""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import types

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NginxOrigin, Response, ScriptedOrigin  # noqa: E402

DAY = 86400
V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


# --- certificates --------------------------------------------------------------

class Cert:
    """A self-signed certificate and its key, made by `openssl req`: kind
    "ec" (P-256) or "rsa" (2048), the first name as CN, all as DNS SANs."""

    def __init__(self, names, kind="ec", days=30, serial=None):
        self.names, self.kind, self.days = list(names), kind, days
        d = h.subdir("cert-" + names[0].replace("*", "star"))
        self.cert = os.path.join(d, "cert.pem")
        self.key = os.path.join(d, "key.pem")
        self.make(serial)

    def make(self, serial=None):
        """(Re)write the pair, each file replaced at once."""
        cert, key = self.cert, self.key
        new = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if self.kind == "ec"
               else ["-newkey", "rsa:2048"])
        argv = (["openssl", "req", "-x509", "-nodes"] + new +
                ["-keyout", key + ".tmp", "-out", cert + ".tmp", "-days", str(self.days),
                 "-subj", "/CN=" + self.names[0],
                 "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in self.names)])
        if serial is not None:
            argv += ["-set_serial", str(serial)]
        r = subprocess.run(argv, capture_output=True, timeout=60, env=h.child_env())
        assert r.returncode == 0, "openssl req: %s" % r.stderr.decode(errors="replace")
        os.replace(key + ".tmp", key)
        os.replace(cert + ".tmp", cert)

    def der(self):
        with open(self.cert) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def not_after(self):
        r = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", self.cert],
                           capture_output=True, text=True, timeout=30)
        return int(ssl.cert_time_to_seconds(r.stdout.strip().split("=", 1)[1]))


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def client_ctx(*cas, verify=True, minv=None, maxv=None, alpn=None):
    """A client context trusting the given Certs (verify=False: trusts all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        for c in cas:
            ctx.load_verify_locations(c.cert)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class TlsConn(h.RawConn):
    """RawConn over TLS: send(), recv_response(), closed() as there;
    .sock is the SSLSocket (session, session_reused, peer certificate)."""

    def __init__(self, port, ctx, sni, session=None, timeout=20.0, rcvbuf=None):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            raw.settimeout(timeout)
            raw.connect(("127.0.0.1", port))
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = ctx.wrap_socket(raw, server_hostname=sni, session=session)
        except BaseException:
            raw.close()
            raise
        self.timeout = timeout
        self.rd = h._Reader(self.sock)
        self._cleanup = h.register_cleanup("tls connection", self.close)

    def get(self, host, path, headers=(), method="GET", body=b"", close=False):
        hdrs = [("Host", host)] + list(headers) + ([("Connection", "close")] if close else [])
        self.send(h.build_request(method, path, hdrs, body))
        return self.recv_response(method)


class Seen:
    """What a client learnt of a TLS connection (kept after its close)."""

    def __init__(self, sock):
        self.der = sock.getpeercert(binary_form=True)
        self.cert = sock.getpeercert()      # {} unless verified
        self.version = sock.version()
        self.reused = sock.session_reused
        self.session = sock.session


def tls_get(port, ctx, sni, path="/", host=None, session=None, **kw):
    """One request on a fresh TLS connection: (response, Seen)."""
    with TlsConn(port, ctx, sni, session=session) as c:
        r = c.get(host or sni, path, close=True, **kw)
        return r, Seen(c.sock)


def plain_get(port, host, path="/", headers=()):
    hdrs = [("Host", host), ("Connection", "close")] + list(headers)
    with h.RawConn(port) as c:
        c.send(h.build_request("GET", path, hdrs))
        return c.recv_response()


# --- the site ------------------------------------------------------------------

def echo(req):
    return Response(200, ("%s %s" % (req.method, req.target)).encode(),
                    headers=[("Cache-Control", "no-store")])


def vhost(names, pool="app", **kw):
    v = {"names": names, "routes": [{"prefix": "/", "pool": pool}]}
    v.update(kw)
    return v


class Site:
    """A daemon with a plain and an HTTPS reverse listener in front of the
    backends {pool: origin}; certs are the certificate entries in order."""

    def __init__(self, backends, vhosts, certs, tls=None, ports=None, workers=None,
                 **extra):
        self.tls_port, self.plain_port = ports or (h.free_port(), h.free_port())
        t = {"certificates": [{"cert": c.cert, "key": c.key} for c in certs]}
        t.update(tls or {})
        r = {"listen": ["127.0.0.1:%d" % self.plain_port],
             "tls_listen": ["127.0.0.1:%d" % self.tls_port],
             "pools": [{"name": n, "backends": ["127.0.0.1:%d" % o.port]}
                       for n, o in backends.items()],
             "vhosts": vhosts, "tls": t}
        r.update(extra)
        self.conf = {"reverse": r}
        if workers is not None:
            self.conf["workers"] = workers
        self.d = Daemon(self.conf)


def www_api(days=(30, 20)):
    """www.test (EC, also *.apps.test) and api.test (RSA)."""
    return (Cert(["www.test", "*.apps.test"], "ec", days=days[0]),
            Cert(["api.test"], "rsa", days=days[1]))


SITE_NAMES = ["www.test", "*.apps.test", "api.test", "other.test"]


def metrics(d):
    r = h.proxy_request(d, "GET", "/metrics")
    assert r.status == 200, r.brief()
    return r.body.decode()


def tls_count(d, kind):
    m = re.search(r'^squidlike_tls_handshakes_total\{kind="%s"\} (\d+)$' % kind,
                  metrics(d), re.M)
    assert m, "no squidlike_tls_handshakes_total{kind=%r} on /metrics" % kind
    return int(m.group(1))


def status_json(d):
    r = h.proxy_request(d, "GET", "/squidlike/status.json")
    assert r.status == 200, r.brief()
    return json.loads(r.body)


def hello_bytes(sni="www.test"):
    """A real ClientHello (the first flight of Python's client)."""
    bio_out = ssl.MemoryBIO()
    obj = client_ctx(verify=False).wrap_bio(ssl.MemoryBIO(), bio_out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = bio_out.read()
    assert len(data) > 100 and data[0] == 0x16, data[:10]
    return data


def s_client(port, *args, sni="www.test"):
    """openssl s_client, its input closed at once: (exit code, output)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", sni] + list(args)
    r = subprocess.run(argv, input=b"", capture_output=True, timeout=30, env=h.child_env())
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


# --- 1. requests over HTTPS ------------------------------------------------------

def test_https_reaches_backend_proto_https():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    ctx = client_ctx(www, api)
    with TlsConn(s.tls_port, ctx, "www.test") as c:
        for i in range(3):      # keep-alive over one TLS connection
            r = c.get("www.test", "/hello?i=%d" % i)
            assert r.status == 200 and r.body == b"GET /hello?i=%d" % i, r.brief()
    q = o.last()
    assert q.header("X-Forwarded-Proto") == "https", q.headers
    assert re.search(r"(^|;)\s*proto=https(;|$)", q.header("Forwarded") or ""), q.headers
    assert len(o.requests) == 3
    # pipelined: three requests in one TLS record, three answers in order
    with TlsConn(s.tls_port, ctx, "api.test") as c:
        c.send(b"".join(h.build_request("GET", "/p%d" % i, [("Host", "api.test")])
                        for i in range(3)))
        assert [c.recv_response().body for i in range(3)] == [b"GET /p0", b"GET /p1",
                                                              b"GET /p2"]
    # A plain client claiming https is not believed (not a trusted proxy).
    r = plain_get(s.plain_port, "www.test", "/plain", [("X-Forwarded-Proto", "https"),
                                                       ("Forwarded", "proto=https")])
    assert r.status == 200 and r.body == b"GET /plain", r.brief()
    q = o.last()
    assert q.header_all("X-Forwarded-Proto") == ["http"], q.headers
    assert len(q.header_all("Forwarded")) == 1, q.headers
    assert re.search(r"(^|;)\s*proto=http(;|$)", q.header("Forwarded") or ""), q.headers


# --- 2. SNI ------------------------------------------------------------------------

def test_sni_picks_certificate():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    # A second certificate for www's names, RSA: the same context offers
    # whichever the client can verify. And a wildcard that is not the default.
    www_rsa = Cert(["www.test", "*.apps.test"], "rsa")
    deep = Cert(["*.deep.test"])
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api, www_rsa, deep])
    port = s.tls_port
    for sni, want in (("api.test", api), ("API.Test", api), ("x.apps.test", www),
                      ("www.test", www), ("x.deep.test", deep), ("X.Deep.TEST", deep)):
        r, c = tls_get(port, client_ctx(www, api, deep), sni, host="www.test")
        assert r.status == 200, (sni, r.brief())
        assert c.der == want.der(), "SNI %s: got the certificate of another entry" % sni
    r, c = tls_get(port, client_ctx(api), "api.test")
    assert ("DNS", "api.test") in c.cert["subjectAltName"], c.cert
    # Unknown name, no SNI, names a wildcard must not cover: the default
    # (first) certificate.
    for sni in ("unknown.test", None, "a.b.deep.test", "deep.test", "xdeep.test"):
        r, c = tls_get(port, client_ctx(verify=False), sni, host="www.test")
        assert r.status == 200, (sni, r.brief())
        assert c.der == www.der(), "SNI %r: not the default certificate" % sni
    # A TLS 1.2 client that takes only RSA gets www's RSA certificate; one
    # that takes only ECDSA the EC one (api.test has no EC one: refused).
    for cipher, want in (("ECDHE-RSA-AES128-GCM-SHA256", www_rsa),
                         ("ECDHE-ECDSA-AES128-GCM-SHA256", www)):
        ctx = client_ctx(www, www_rsa, maxv=V12)
        ctx.set_ciphers(cipher)
        r, c = tls_get(port, ctx, "www.test")
        assert r.status == 200 and c.der == want.der(), cipher
    ctx = client_ctx(api, maxv=V12)
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    try:
        tls_get(port, ctx, "api.test")
        raise AssertionError("an ECDSA-only client got a handshake with api.test (RSA only)")
    except ssl.SSLError:
        pass


def test_sni_every_name_of_a_certificate():
    """All of a certificate's names select it, not only those that fit the
    status page's list (60 SANs of 20 bytes)."""
    www, api = www_api()
    names = ["host-%02d.example.test" % i for i in range(60)]
    many = Cert(names)
    s = Site({"app": ScriptedOrigin(echo)}, [vhost(SITE_NAMES)], [www, many])
    anyone = client_ctx(verify=False)
    wrong = [n for n in names[::7] + names[-1:]
             if tls_get(s.tls_port, anyone, n, host="www.test")[1].der != many.der()]
    assert wrong == [], "these names got the default certificate: %s" % wrong


def test_rsa_and_ecdsa_pair_whatever_the_san_order():
    """An RSA and an ECDSA certificate for the same names pair up even when
    their SANs come in another order (certificates issued apart)."""
    ec = Cert(["www.test", "*.apps.test"])
    rsa = Cert(["*.apps.test", "www.test"], "rsa")
    s = Site({"app": ScriptedOrigin(echo)}, [vhost(SITE_NAMES)], [ec, rsa])
    for cipher, want in (("ECDHE-RSA-AES128-GCM-SHA256", rsa),
                         ("ECDHE-ECDSA-AES128-GCM-SHA256", ec)):
        ctx = client_ctx(ec, rsa, maxv=V12)
        ctx.set_ciphers(cipher)
        try:
            r, c = tls_get(s.tls_port, ctx, "x.apps.test", host="www.test")
        except ssl.SSLError as e:
            raise AssertionError("a client taking only %s: %s" % (cipher, e))
        assert r.status == 200 and c.der == want.der(), cipher


# --- 3. ALPN -----------------------------------------------------------------------

def test_alpn_http11_only():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    with TlsConn(s.tls_port, client_ctx(www, alpn=["h2", "http/1.1"]), "www.test") as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1", c.sock.selected_alpn_protocol()
        assert c.get("www.test", "/a").body == b"GET /a"
    with TlsConn(s.tls_port, client_ctx(www, alpn=["h2"]), "www.test") as c:
        assert c.sock.selected_alpn_protocol() is None, c.sock.selected_alpn_protocol()
        assert c.get("www.test", "/b").body == b"GET /b"


# --- 4. protocols ------------------------------------------------------------------

def test_old_protocols_refused():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    # TLS 1.2 and 1.3 are served
    for v in (V12, V13):
        r, c = tls_get(s.tls_port, client_ctx(www, minv=v, maxv=v), "www.test")
        assert r.status == 200 and c.version == v.name.replace("_", "."), c.version
    # TLS 1.0 / 1.1 (the client's own policy lowered so that it really
    # offers them): the server refuses, and counts the failure.
    for flag in ("-tls1", "-tls1_1"):
        before = tls_count(s.d, "failed")
        rc, out = s_client(s.tls_port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and "Cipher is (NONE)" in out, out
        h.wait_until(lambda: tls_count(s.d, "failed") == before + 1, 10,
                     what="the server's failed handshake for %s" % flag)
    # min_protocol = "TLSv1.3": a TLS 1.2-only client fails, 1.3 works
    s13 = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], tls={"min_protocol": "TLSv1.3"})
    before = tls_count(s13.d, "failed")
    try:
        tls_get(s13.tls_port, client_ctx(www, maxv=V12), "www.test")
        raise AssertionError("a TLS 1.2 client was served with min_protocol TLSv1.3")
    except ssl.SSLError as e:
        assert "VERSION" in str(e).upper(), e
    h.wait_until(lambda: tls_count(s13.d, "failed") == before + 1, 10,
                 what="the refused TLS 1.2 handshake counted")
    r, c = tls_get(s13.tls_port, client_ctx(www), "www.test")
    assert r.status == 200 and c.version == "TLSv1.3", c.version


# --- KeyUpdate, renegotiation ---------------------------------------------------

class SClient:
    """openssl s_client kept open (its commands on: a line "K" asks for a
    TLS 1.3 key update, "R" a renegotiation); .out collects what it prints."""

    def __init__(self, port, *args):
        self.p = subprocess.Popen(["openssl", "s_client", "-crlf", "-connect",
                                   "127.0.0.1:%d" % port, "-servername", "www.test"] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=h.child_env())
        self.out = b""
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        h.register_cleanup("s_client", self.close)

    def _read(self):
        for b in iter(lambda: self.p.stdout.read1(65536), b""):
            self.out += b

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def wait(self, what, timeout=15):
        h.wait_until(lambda: what.encode() in self.out or self.p.poll() is not None, timeout,
                     what="%r from s_client" % what)
        assert what.encode() in self.out, self.out.decode(errors="replace")[-2000:]

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        self.t.join(10)


def test_key_update_and_renegotiation():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    # TLS 1.3 KeyUpdate asking for ours: the daemon's read must write first.
    c = SClient(s.tls_port, "-tls1_3")
    c.send("GET /a HTTP/1.1\nHost: www.test\n\n")
    c.wait("GET /a")
    c.send("K\n")
    c.wait("KEYUPDATE")
    c.send("GET /b HTTP/1.1\nHost: www.test\n\n")
    c.wait("GET /b")
    c.close()
    # TLS 1.2 renegotiation asked by the client: refused, the daemon serves on.
    c = SClient(s.tls_port, "-tls1_2")
    c.send("GET /c HTTP/1.1\nHost: www.test\n\n")
    c.wait("GET /c")
    c.send("R\n")
    c.wait("no renegotiation")
    c.close()
    assert tls_get(s.tls_port, client_ctx(www), "www.test", "/d")[0].body == b"GET /d"


# --- 5. sessions ---------------------------------------------------------------

def resume(port, ctx, sni, session=None):
    """A first connection (or the session given), then a second one that
    offers its session: (first Seen or None, second Seen)."""
    a = None
    if session is None:
        r, a = tls_get(port, ctx, sni)
        assert r.status == 200 and not a.reused and a.session is not None, r.brief()
        session = a.session
    r, b = tls_get(port, ctx, sni, session=session)
    assert r.status == 200, r.brief()
    return a, b


def test_session_resumption():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    d = s.d
    r0, f0, n = tls_count(d, "resumed"), tls_count(d, "full"), 0
    ctxs = {v: client_ctx(www, api, minv=v, maxv=v) for v in (V12, V13)}
    for v in (V13, V12):
        for sni in ("www.test", "api.test"):
            a, b = resume(s.tls_port, ctxs[v], sni)
            assert a.session.has_ticket, (v, sni)
            assert b.reused and b.version == v.name.replace("_", "."), \
                "%s %s: not resumed with the first connection's ticket" % (v.name, sni)
            n += 1
    assert tls_count(d, "resumed") - r0 == n and tls_count(d, "full") - f0 == n, \
        metrics(d)
    # Generated ticket keys survive a reload ...
    sess = {v: tls_get(s.tls_port, ctxs[v], "www.test")[1].session for v in (V12, V13)}
    assert d.reload() == "reloaded", d.last_reload_line
    for v in (V13, V12):
        assert resume(s.tls_port, ctxs[v], "www.test", sess[v])[1].reused, v
    # ... and not a restart: a full handshake, served.
    d.restart()
    for v in (V13, V12):
        b = resume(s.tls_port, ctxs[v], "www.test", sess[v])[1]
        assert not b.reused, "%s: a ticket of the last process resumed" % v.name
    assert tls_count(d, "resumed") == 0 and tls_count(d, "full") == 2

    # session_tickets = false: TLS 1.2 resumes by session id (no ticket).
    s2 = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], tls={"session_tickets": False})
    for v in (V12, V13):
        ctx = client_ctx(www, api, minv=v, maxv=v)
        for sni in ("www.test", "api.test"):
            a, b = resume(s2.tls_port, ctx, sni)
            if v == V12:
                assert not a.session.has_ticket and a.session.id, "%s: a ticket" % sni
            assert b.reused, "%s %s: not resumed from the session cache" % (v.name, sni)
    assert tls_count(s2.d, "resumed") == 4

    # ticket_key_files: a second process with the same key file resumes
    # the first one's sessions.
    key = write(os.path.join(h.subdir("ticket"), "ticket.key"), os.urandom(80))
    s3 = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], tls={"ticket_key_files": [key]})
    sess = {}
    for v in (V12, V13):
        ctx = client_ctx(www, api, minv=v, maxv=v)
        sess[v] = (ctx, tls_get(s3.tls_port, ctx, "api.test")[1].session)
    s3.d.restart()
    for v, (ctx, se) in sess.items():
        b = resume(s3.tls_port, ctx, "api.test", se)[1]
        assert b.reused, "%s: a ticket of the same key file did not resume" % v.name
    assert tls_count(s3.d, "resumed") == 2 and tls_count(s3.d, "full") == 0


def worker_rows(d, n):
    """status.json's rows of the n live workers (waits until there are n
    running), by index."""
    box = {}

    def up():
        rows = [w for w in status_json(d)["workers"]["list"] if w["state"] == "running"]
        box["rows"] = sorted(rows, key=lambda w: w["index"])
        return len(rows) == n
    h.wait_until(up, 30, what="%d workers running" % n)
    return box["rows"]


def test_tickets_resume_on_every_worker():
    """With 2 workers, the ticket of one connection resumes on 24 fresh
    connections, which land on both workers: the generated keys come from
    a secret in the shared memory, the same in every worker. A worker
    killed -9 is replaced by one that resumes it too (the secret outlives
    it). /metrics counts the handshakes of both workers, whichever
    renders it."""
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], workers=2)

    def counts(full, resumed):
        for _ in range(6):      # /metrics from whichever worker takes it
            got = (tls_count(d, "full"), tls_count(d, "resumed"))
            assert got == (full, resumed), "handshakes full, resumed: %r, not %r" % (
                got, (full, resumed))

    d = s.d
    for v in (V13, V12):
        ctx = client_ctx(www, api, minv=v, maxv=v)
        before = {w["index"]: w["requests"] for w in worker_rows(d, 2)}
        r, a = tls_get(s.tls_port, ctx, "www.test", "/first")
        assert r.status == 200 and not a.reused and a.session.has_ticket, r.brief()
        reused = [resume(s.tls_port, ctx, "www.test", a.session)[1].reused
                  for _ in range(24)]
        after = {w["index"]: w["requests"] for w in worker_rows(d, 2)}
        served = {i: after[i] - before[i] for i in after}
        # 25 connections over 2 SO_REUSEPORT sockets: all on one worker
        # has a chance of 2^-24. (The counts may take one status.json
        # request too: 2 or more is at least one of ours.)
        assert all(n >= 2 for n in served.values()), (v.name, served)
        assert reused == [True] * 24, "%s: resumed %d of 24 (requests per worker %r)" \
            % (v.name, sum(reused), served)
    counts(2, 48)
    # Worker 0 killed: its replacement takes the same tickets.
    ctx = client_ctx(www, api, minv=V13, maxv=V13)
    sess = tls_get(s.tls_port, ctx, "www.test")[1].session
    old = worker_rows(d, 2)[0]["pid"]
    os.kill(old, signal.SIGKILL)

    def replaced():
        rows = [w for w in status_json(d)["workers"]["list"] if w["state"] == "running"]
        return len(rows) == 2 and all(w["pid"] != old for w in rows)
    h.wait_until(replaced, 30, what="worker 0 replaced")
    before = {w["index"]: w["requests"] for w in worker_rows(d, 2)}
    reused = [resume(s.tls_port, ctx, "www.test", sess)[1].reused for _ in range(16)]
    after = {w["index"]: w["requests"] for w in worker_rows(d, 2)}
    assert after[0] - before[0] >= 2, (before, after)
    assert reused == [True] * 16, reused
    counts(3, 64)               # the dead worker's count too


def scheme_backend():
    """A backend that sends plain-HTTP clients to HTTPS with a cacheable
    301 (as frameworks do) and serves HTTPS ones."""
    n = {"swr": 0}

    def handler(req):
        if req.header("X-Forwarded-Proto") != "https":
            return Response(301, b"", headers=[("Location", "https://www.test" + req.target),
                                               ("Cache-Control", "max-age=600")])
        if req.target == "/swr":
            n["swr"] += 1
            return Response(200, b"swr%d" % n["swr"], headers=[
                ("Cache-Control", "max-age=1, stale-while-revalidate=60")])
        return Response(200, b"secure", headers=[("Cache-Control", "max-age=600")])
    return ScriptedOrigin(handler)


def test_cache_keeps_schemes_apart():
    """The backend learns the scheme, so what it says over one must not be
    served over the other: its redirect for plain HTTP, stored, served to
    an HTTPS client is a redirect loop."""
    o = scheme_backend()
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    r = plain_get(s.plain_port, "www.test", "/login")
    assert r.status == 301, r.brief()
    r, _ = tls_get(s.tls_port, client_ctx(www), "www.test", "/login")
    assert r.status == 200 and r.body == b"secure", \
        "HTTPS client got the redirect stored for plain HTTP: %s" % r.brief()


def test_background_revalidation_keeps_https():
    """A background revalidation of an object asked over HTTPS asks the
    backend as HTTPS (else the answer is that redirect, stored for HTTPS)."""
    o = scheme_backend()
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    ctx = client_ctx(www)
    r, _ = tls_get(s.tls_port, ctx, "www.test", "/swr")
    assert r.status == 200 and r.body == b"swr1", r.brief()
    h.wait_until(lambda: "stale" in (tls_get(s.tls_port, ctx, "www.test", "/swr")[0]
                                     .header("Cache-Status") or ""), 20, interval=0.2,
                 what="the object served stale (a background revalidation)")
    h.wait_until(lambda: len([q for q in o.requests if q.target == "/swr"]) >= 2, 20,
                 what="the background revalidation")
    protos = [q.header("X-Forwarded-Proto") for q in o.requests if q.target == "/swr"]
    assert protos == ["https"] * len(protos), "revalidation of an HTTPS object: %s" % protos
    r, _ = tls_get(s.tls_port, ctx, "www.test", "/swr")
    assert r.status == 200, r.brief()


# --- 6. https_redirect, hsts ---------------------------------------------------

def test_https_redirect_and_hsts():
    o = ScriptedOrigin(lambda req: Response(200, ("%s %s" % (req.method, req.target)).encode(),
                                            headers=[("Cache-Control", "max-age=60")]))
    tls_port, plain_port = h.free_port(), h.free_port()
    c = Cert(["secure.test", "red443.test", "open.test", "nohsts.test"])
    sts = "max-age=31536000; includeSubDomains"
    s = Site({"app": o}, [
        vhost(["secure.test"], https_redirect=True, https_port=tls_port, hsts=sts),
        vhost(["red443.test"], https_redirect=True, hsts="max-age=60"),
        vhost(["open.test"], hsts="max-age=60"),
        vhost(["nohsts.test"])], [c], ports=(tls_port, plain_port))
    cases = [("secure.test:%d" % plain_port, "/a/b?x=1&y=%20",
              "https://secure.test:%d/a/b?x=1&y=%%20" % tls_port),
             ("secure.test", "/", "https://secure.test:%d/" % tls_port),
             ("red443.test:%d" % plain_port, "/p?q", "https://red443.test/p?q"),
             ("RED443.test", "/P", "https://RED443.test/P")]
    for host, path, loc in cases:
        for method in ("GET", "HEAD"):
            with h.RawConn(plain_port) as rc:
                rc.send(h.build_request(method, path, [("Host", host), ("Connection", "close")]))
                r = rc.recv_response(method)
            assert r.status == 308 and r.header("Location") == loc, (host, path, r.brief())
            assert r.header("Strict-Transport-Security") is None, r.headers
    # absolute form, and a POST with its body (308 keeps method and body)
    with h.RawConn(plain_port) as rc:
        rc.send(b"GET http://secure.test/abs?z HTTP/1.1\r\nHost: other\r\n\r\n")
        r = rc.recv_response()
        assert r.status == 308 and r.header("Location") == \
            "https://secure.test:%d/abs?z" % tls_port, r.brief()
        rc.send(h.build_request("POST", "/form", [("Host", "secure.test")], b"x" * 5000))
        r = rc.recv_response()
        assert r.status == 308 and r.header("Location").endswith("/form"), r.brief()
    assert o.requests == [], "the backend was asked: %r" % o.requests
    # over TLS: served, with the vhost's HSTS (on hits too: the backend
    # sees each path once)
    ctx = client_ctx(c)
    for sni, path, want in (("secure.test", "/a?b=1", sts), ("secure.test", "/a?b=1", sts),
                            ("open.test", "/o", "max-age=60"), ("open.test", "/o", "max-age=60"),
                            ("nohsts.test", "/n", None)):
        r, _ = tls_get(tls_port, ctx, sni, path)
        assert r.status == 200 and r.body == b"GET " + path.encode(), r.brief()
        assert r.header_all("Strict-Transport-Security") == ([want] if want else []), r.headers
    assert [q.target for q in o.requests] == ["/a?b=1", "/o", "/n"], o.requests
    # the plain listener never sends it, on a miss (plain and TLS objects
    # are apart: test_cache_keeps_schemes_apart) nor on a hit
    for want in ("fwd=", "hit"):
        r = plain_get(plain_port, "open.test", "/o")
        assert r.status == 200 and want in (r.header("Cache-Status") or ""), r.brief()
        assert r.header("Strict-Transport-Security") is None, r.headers
    r = plain_get(plain_port, "open.test", "/o2")
    assert r.status == 200 and r.header("Strict-Transport-Security") is None, r.headers



# --- OCSP stapling ----------------------------------------------------------------

def ocsp_files():
    """A CA, a leaf for www.test it signed, and a DER OCSP response saying
    the leaf is good (made offline by `openssl ocsp` as a responder)."""
    d = h.subdir("ocsp")

    def run(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, timeout=60,
                           env=h.child_env())
        assert r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr.decode(errors="replace"))
        return r.stdout.decode()
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "30", "-subj", "/CN=Test OCSP CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=www.test", "-keyout", "leaf.key", "-out", "leaf.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:www.test\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-out", "leaf.pem")
    serial = run("x509", "-in", "leaf.pem", "-noout", "-serial").strip().split("=")[1]
    expiry = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + 20 * 86400))
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.write("V\t%s\t\t%s\tunknown\t/CN=www.test\n" % (expiry, serial))
    run("ocsp", "-index", "index.txt", "-rsigner", "ca.pem", "-rkey", "ca.key", "-CA", "ca.pem",
        "-issuer", "ca.pem", "-cert", "leaf.pem", "-respout", "resp.der", "-ndays", "1")
    return {k: os.path.join(d, v) for k, v in (("ca", "ca.pem"), ("cert", "leaf.pem"),
                                               ("key", "leaf.key"), ("resp", "resp.der"))}


def s_client_status(port):
    """What `openssl s_client -status` prints of the stapled response."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "www.test", "-status"], input=b"",
                       capture_output=True, timeout=60, env=h.child_env())
    return r.stdout.decode(errors="replace")


def test_ocsp_stapled_from_the_file():
    """A certificate entry with ocsp = FILE staples it to clients that ask
    (status_request); one without staples nothing; a file that is not a
    DER OCSP response fails the load, naming the entry's line."""
    f = ocsp_files()
    o = ScriptedOrigin(echo, name="backend")
    cert = types.SimpleNamespace(cert=f["cert"], key=f["key"])
    site = Site({"app": o}, [vhost(["www.test"], default=True)], [cert])
    site.conf["reverse"]["tls"]["certificates"][0]["ocsp"] = f["resp"]
    site.d.write_conf(site.conf)
    assert site.d.reload() == "reloaded", site.d.last_reload_line
    out = s_client_status(site.tls_port)
    assert "OCSP Response Status: successful" in out, out[-2000:]
    assert "Cert Status: good" in out, out[-2000:]
    # the HTTP side is untouched
    ctx = ssl.create_default_context(cafile=f["ca"])
    r, _ = tls_get(site.tls_port, ctx, "www.test", "/o")
    assert r.status == 200 and r.body == b"GET /o", r.brief()
    # without the setting: nothing stapled
    del site.conf["reverse"]["tls"]["certificates"][0]["ocsp"]
    site.d.write_conf(site.conf)
    assert site.d.reload() == "reloaded", site.d.last_reload_line
    out = s_client_status(site.tls_port)
    assert "OCSP response: no response sent" in out, out[-2000:]
    # not an OCSP response: refused, the running one kept
    site.conf["reverse"]["tls"]["certificates"][0]["ocsp"] = f["cert"]
    site.d.write_conf(site.conf)
    assert site.d.reload() == "reload failed", site.d.last_reload_line
    assert "not a DER OCSP response" in site.d.last_reload_line, site.d.last_reload_line
    r, _ = tls_get(site.tls_port, ctx, "www.test", "/p")
    assert r.status == 200, r.brief()

# --- 7. certificates replaced by a reload --------------------------------------

class Load(threading.Thread):
    """Requests over 4 keep-alive TLS connections and a fresh connection
    every 8th, until stop() (bounded: 60 s, 20,000 requests); every
    failure is kept."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.failures = port, 0, []
        self._halt = threading.Event()
        self.ctx = client_ctx(verify=False)
        self.start()

    def run(self):
        conns = []
        deadline = time.monotonic() + 60
        try:
            conns = [TlsConn(self.port, self.ctx, "www.test") for _ in range(4)]
            for i in range(20000):
                if self._halt.is_set() or time.monotonic() > deadline:
                    break
                try:
                    if i % 8 == 7:
                        r, _ = tls_get(self.port, self.ctx, "www.test", "/load/%d" % i)
                    else:
                        r = conns[i % 4].get("www.test", "/load/%d" % i)
                    if r.status != 200 or r.body != b"GET /load/%d" % i:
                        self.failures.append(r.brief())
                    else:
                        self.ok += 1
                except (OSError, h.TestFailure) as e:
                    self.failures.append("request %d: %r" % (i, e))
                    break
        except OSError as e:
            self.failures.append("connect: %r" % e)
        finally:
            for c in conns:
                c.close()

    def stop(self):
        self._halt.set()
        self.join(90)
        assert not self.is_alive(), "the load thread did not stop"


def test_certificate_reload():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    www.make(serial=1001)
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    d, port, anyone = s.d, s.tls_port, client_ctx(verify=False)
    keep = TlsConn(port, client_ctx(www), "www.test")
    assert keep.get("www.test", "/before").status == 200
    old = www.der()
    load = Load(port)
    h.wait_until(lambda: load.ok >= 20 or load.failures, 30, what="the load running")
    www.make(serial=1002)       # a new key and certificate, same files
    new = www.der()
    assert new != old
    assert d.reload() == "reloaded", d.last_reload_line
    n = load.ok
    h.wait_until(lambda: load.ok >= n + 40 or load.failures, 30, what="load after the reload")
    load.stop()
    assert load.failures == [], load.failures[:5]
    r = keep.get("www.test", "/after")
    assert r.status == 200 and r.body == b"GET /after", r.brief()
    r, seen = tls_get(port, client_ctx(www), "www.test")    # verifies the new one
    assert r.status == 200 and seen.der == new, "a new connection got the old certificate"
    assert tls_get(port, anyone, "api.test")[1].der == api.der()

    # A key that does not belong to the certificate: the reload fails,
    # naming the file, and the running certificates stay.
    stray = Cert(["stray.test"], "ec")
    shutil.copyfile(www.key, www.key + ".good")
    shutil.copyfile(stray.key, www.key)
    assert d.reload() == "reload failed", d.last_reload_line
    assert www.key in d.last_reload_line, d.last_reload_line
    res = status_json(d)["config"]["last_reload_result"]
    assert res.startswith("failed") and www.key in res, (res, status_json(d)["config"])
    r, seen = tls_get(port, anyone, "x.apps.test")
    assert r.status == 200 and seen.der == new, "the refused certificate is in use"
    r = keep.get("www.test", "/still")
    assert r.status == 200 and r.body == b"GET /still", r.brief()
    # A certificate file gone: the same.
    os.replace(www.key + ".good", www.key)
    api_der = api.der()
    os.unlink(api.cert)
    assert d.reload() == "reload failed" and api.cert in d.last_reload_line, \
        d.last_reload_line
    r, seen = tls_get(port, anyone, "api.test")
    assert r.status == 200 and seen.der == api_der, r.brief()
    keep.close()


# --- 8. -k parse ---------------------------------------------------------------

PARSE_CONF = """reverse: {
  listen = [ "127.0.0.1:1" ];
  tls_listen = [ "127.0.0.1:2" ];
  pools = ( { name = "app"; backends = [ "127.0.0.1:8080" ]; } );
  vhosts = ( { names = [ "www.test" ]; routes = ( { prefix = "/"; pool = "app"; } ); } );
  tls: {
    certificates = (
      { cert = "@C1@"; key = "@K1@"; },
      { cert = "@C2@"; key = "@K2@"; }
    );
    min_protocol = "TLSv1.2";
    ticket_key_files = [ "@T@" ];
  };
};
"""


def test_parse_errors_name_file_and_line():
    www, api = www_api()
    d = h.subdir("parse")
    garbage = write(os.path.join(d, "garbage.pem"), "this is not PEM\n")
    tkey = write(os.path.join(d, "t.key"), os.urandom(80))
    tshort = write(os.path.join(d, "short.key"), os.urandom(48))
    sub = {"@C1@": www.cert, "@K1@": www.key, "@C2@": api.cert, "@K2@": api.key, "@T@": tkey}
    good = PARSE_CONF
    for k, v in sub.items():
        good = good.replace(k, v)
    missing = os.path.join(d, "missing.pem")
    no_certs = re.sub(r"certificates = \(.*?\);\n", "", good, flags=re.S)
    bad = [   # (text, line, words the message must hold)
        (good.replace(api.key, www.key), 9, [www.key]),             # key of another cert
        (good.replace(api.cert, missing), 9, [missing]),
        (good.replace(api.cert, garbage), 9, [garbage]),
        (good.replace(www.key, garbage), 8, [garbage]),
        (no_certs, 3, ["tls_listen", "certificates"]),
        (good.replace('"TLSv1.2"', '"TLSv1.1"'), 11, ["min_protocol"]),
        (good.replace("min_protocol", "min_protocl"), 11, ["min_protocl"]),
        (good.replace(tkey, tshort), 12, [tshort]),
    ]
    def parse(name, text):
        path = write(os.path.join(d, name), text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        return path, p.returncode, p.stderr + p.stdout

    for i, (text, line, words) in enumerate(bad):
        path, rc, err = parse("bad%d.conf" % i, text)
        assert rc != 0, (i, err)
        for w in ["%s:%d:" % (path, line)] + words:
            assert w in err, "case %d: %r not in the message: %s" % (i, w, err)
    path, rc, err = parse("good.conf", good)
    assert rc == 0, err


# --- 9. hostile clients --------------------------------------------------------

def test_hostile_clients():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], tls={"handshake_timeout": "1s"})
    d, port, ctx = s.d, s.tls_port, client_ctx(www, api)

    def served(i):
        r, _ = tls_get(port, ctx, "www.test", "/alive/%d" % i)
        assert r.status == 200 and r.body == b"GET /alive/%d" % i, r.brief()

    def refused(what, data, within):
        """data sent, then the connection is closed (by the server: the
        failed counter rises) within the bound; the time it took."""
        f0 = tls_count(d, "failed")
        with h.RawConn(port) as c:
            c.send(data)
            t0 = time.monotonic()
            assert c.closed(within), "%s: still open after %ds" % (what, within)
            took = time.monotonic() - t0
            assert b"HTTP/" not in c.rd.buf, (what, bytes(c.rd.buf[:200]))
        h.wait_until(lambda: tls_count(d, "failed") == f0 + 1, 10,
                     what="%s counted as a failed handshake" % what)
        return took

    served(0)
    refused("plain HTTP", b"GET / HTTP/1.1\r\nHost: www.test\r\n\r\n", 10)
    served(1)
    hello = hello_bytes()
    took = refused("a ClientHello cut short", hello[:40], 15)
    assert took >= 0.9, "closed after %.2fs, before handshake_timeout (1s)" % took
    assert "timed out" in d.error_log(), d.error_log()[-2000:]
    served(2)
    rnd = random.Random(9)
    refused("random bytes", b"\x42" + rnd.randbytes(3000), 10)
    # a handshake record of the right length holding garbage
    refused("a garbage ClientHello", b"\x16\x03\x01\x01\x00" + rnd.randbytes(256), 10)
    served(3)


def test_half_open_handshakes_do_not_block():
    o = ScriptedOrigin(echo)
    www, api = www_api()
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api], tls={"handshake_timeout": "60s"})
    d, port = s.d, s.tls_port
    hello = hello_bytes()
    stuck = []
    for i in range(50):
        c = h.RawConn(port)
        c.send(hello[:40 + i])
        stuck.append(c)
    h.wait_until(lambda: sum(1 for lp, _, st in d.tcp_sockets() if lp == port and st == "01")
                 >= 50, 20, what="the daemon holding the 50 half-open handshakes")
    ctx = client_ctx(www, api)
    for i in range(5):
        r, seen = tls_get(port, ctx, "api.test", "/n/%d" % i)
        assert r.status == 200 and r.body == b"GET /n/%d" % i, r.brief()
    still = sum(1 for c in stuck if not c.closed(0.01))
    assert still == 50, "%d of the half-open handshakes were closed early" % (50 - still)
    for c in stuck[:25]:        # clients that give up: closed, counted as failed
        c.close()
    h.wait_until(lambda: sum(1 for lp, _, st in d.tcp_sockets() if lp == port and st != "0A")
                 == 25, 20, what="the daemon closing the abandoned handshakes")
    assert tls_count(d, "failed") == 25
    # SIGTERM: a handshake carries no request yet; the drain does not wait
    # for it (handshake_timeout is 60 s, timeouts.shutdown 10 s).
    t0 = time.monotonic()
    d.stop()
    took = time.monotonic() - t0
    assert took < 5, "SIGTERM took %.1fs with 25 handshakes pending" % took
    assert all(c.closed(5) for c in stuck[25:]), "a half-open handshake outlived the daemon"


# --- 10. big bodies ------------------------------------------------------------

def tx_queue(local_port, remote_port):
    """Bytes queued in the kernel for sending on the socket 127.0.0.1:local
    -> 127.0.0.1:remote (the daemon's side of a client connection)."""
    want = ("0100007F:%04X" % local_port, "0100007F:%04X" % remote_port)
    with open("/proc/net/tcp") as f:
        for line in f:
            p = line.split()
            if (p[1], p[2]) == want:
                return int(p[4].split(":")[0], 16)
    return 0


def test_big_bodies():
    data = random.Random(10).randbytes(4 << 20)
    digest = hashlib.sha256(data).hexdigest()
    ng = NginxOrigin(big_size=1, files={"big.bin": data})
    up = ScriptedOrigin(lambda req: Response(200, ("%d %s" % (req.body_len, req.body_sha256))
                                             .encode(), headers=[("Cache-Control", "no-store")]))
    www, api = www_api()
    s = Site({"ng": ng, "up": up},
             [{"names": ["www.test"], "routes": [{"prefix": "/up", "pool": "up"},
                                                {"prefix": "/", "pool": "ng"}]}], [www, api])
    ctx = client_ctx(www)
    with TlsConn(s.tls_port, ctx, "www.test") as c:
        r = c.get("www.test", "/big.bin?fast")
        assert r.status == 200 and len(r.body) == len(data), r.brief()
        assert hashlib.sha256(r.body).hexdigest() == digest, "the body changed on the way"
    # A slow reader: a small receive buffer, reads of 1000 bytes, and
    # pauses until the daemon's side is backed up (its sends would block).
    with TlsConn(s.tls_port, ctx, "www.test", rcvbuf=16384) as c:
        c.send(h.build_request("GET", "/big.bin?slow", [("Host", "www.test")]))
        r = c.recv_response(head_only=True)
        assert r.status == 200 and int(r.header("Content-Length")) == len(data), r.brief()
        me = c.sock.getsockname()[1]
        got, pauses = [bytes(c.rd.buf)], 0
        c.rd.buf.clear()
        n, deadline = len(got[0]), time.monotonic() + 120
        for _ in range(100000):
            if n >= len(data) or time.monotonic() > deadline:
                break
            if n >= (pauses + 1) * (1 << 20) and pauses < 3:
                h.wait_until(lambda: tx_queue(s.tls_port, me) >= 16384, 20,
                             what="the daemon's sends backing up")
                pauses += 1
            b = c.sock.recv(min(1000, len(data) - n))
            assert b, "closed after %d of %d bytes" % (n, len(data))
            got.append(b)
            n += len(b)
        body = b"".join(got)
        assert len(body) == len(data) and hashlib.sha256(body).hexdigest() == digest, \
            "slow reader: %d bytes, sha256 differs" % len(body)
        assert pauses == 3, pauses
        # the connection still serves after it
        assert c.get("www.test", "/small.txt").body == NginxOrigin.SMALL
    # Uploads: 1 MiB with Content-Length and chunked.
    up_data = random.Random(11).randbytes(1 << 20)
    want = ("%d %s" % (len(up_data), hashlib.sha256(up_data).hexdigest())).encode()
    with TlsConn(s.tls_port, ctx, "www.test") as c:
        r = c.get("www.test", "/up/cl", method="POST", body=up_data)
        assert r.status == 200 and r.body == want, r.brief()
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(up_data[k:k + 65536]), up_data[k:k + 65536])
                           for k in range(0, len(up_data), 65536)) + b"0\r\n\r\n"
        c.send(h.build_request("POST", "/up/chunked", [("Host", "www.test"),
                                                       ("Transfer-Encoding", "chunked")]))
        c.send(chunked)
        r = c.recv_response("POST")
        assert r.status == 200 and r.body == want, r.brief()
    assert [q.body_sha256 for q in up.requests] == [hashlib.sha256(up_data).hexdigest()] * 2


# --- 11. /metrics and status.json ------------------------------------------------

EXPIRY_RE = re.compile(r'^squidlike_tls_cert_expiry_seconds\{file="([^"]*)",names="([^"]*)",'
                       r'key="([^"]*)"\} (-?[0-9]+)$', re.M)


def test_metrics_and_status_certificates():
    o = ScriptedOrigin(echo)
    www, api = www_api(days=(30, 20))
    s = Site({"app": o}, [vhost(SITE_NAMES)], [www, api])
    d, port = s.d, s.tls_port
    # known traffic: two full handshakes, one resumed, one failed
    ctx = client_ctx(www, api)
    _, a = tls_get(port, ctx, "www.test")
    tls_get(port, ctx, "api.test")
    assert resume(port, ctx, "www.test", a.session)[1].reused
    with h.RawConn(port) as c:
        c.send(b"\x42" * 100)
        assert c.closed(10)
    h.wait_until(lambda: tls_count(d, "failed") == 1, 10, what="the failed handshake counted")
    text, now = metrics(d), time.time()
    for fam, typ in (("squidlike_tls_handshakes_total", "counter"),
                     ("squidlike_tls_cert_expiry_seconds", "gauge")):
        assert "# TYPE %s %s\n" % (fam, typ) in text, fam
    assert {k: tls_count(d, k) for k in ("full", "resumed", "failed")} == \
        {"full": 2, "resumed": 1, "failed": 1}, text
    rows = {f: (names, key, int(v)) for f, names, key, v in EXPIRY_RE.findall(text)}
    assert set(rows) == {www.cert, api.cert}, rows
    for c, names, key, days in ((www, "www.test,*.apps.test", "EC", 30),
                                (api, "api.test", "RSA", 20)):
        n, k, left = rows[c.cert]
        assert (n, k) == (names, key), rows[c.cert]
        assert (days - 1) * DAY < left <= days * DAY, "%s: %d s left" % (c.cert, left)
        assert abs(left - (c.not_after() - now)) <= 60, (left, c.not_after() - now)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    doc = status_json(d)
    t = doc.get("tls")
    assert t is not None, sorted(doc)
    assert t["handshakes"] == {"full": 2, "resumed": 1, "failed": 1}, t
    got = [(x["file"], x["names"], x["key"], x["not_after"]) for x in t["certificates"]]
    assert got == [(www.cert, "www.test,*.apps.test", "EC", www.not_after()),
                   (api.cert, "api.test", "RSA", api.not_after())], got
    for x, days in zip(t["certificates"], (30, 20)):
        assert (days - 1) * DAY < x["expires_in_seconds"] <= days * DAY, x
    page = h.proxy_request(d, "GET", "/squidlike/status")
    assert page.status == 200 and b'id="tls"' in page.body and \
        b"www.test,*.apps.test" in page.body, page.brief()
    # nothing of it on a proxy without HTTPS listeners
    with Daemon() as plain:
        assert "squidlike_tls" not in metrics(plain)
        assert "tls" not in status_json(plain)


if __name__ == "__main__":
    h.run(globals())

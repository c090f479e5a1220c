#!/usr/bin/env python3
"""Proxy authentication (Basic, htpasswd of crypt(3) hashes) and the
server_name ACL (the SNI peeked from the ClientHello behind a CONNECT).

Auth: 407 + Proxy-Authenticate without or with bad credentials, 200 with
good ones (SHA-512, bcrypt, yescrypt), credentials never forwarded, the
user in access.log, the fail2ban line, malformed headers, a proxy_auth
user list, CONNECT. SNI: a denied name gets 200 then a TLS access_denied
alert and no origin connection, an allowed one tunnels to a Python TLS
origin that records the SNI it saw, the CONNECT host itself, bytes that
are not TLS, a ClientHello in small pieces, and auth behind a
server_name rule. Names resolve via the stub."""

import base64
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import time
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, RawConn, ScriptedOrigin, TcpServer, TlsOrigin  # noqa: E402

REALM = "e2e realm"
NAMES = ("allowed.test", "blocked.test", "www.evil.test")
# access.c: the alert a CONNECT refused after the peek gets (fatal, 49).
TLS_ACCESS_DENIED = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31])

# --------------------------------------------------------------------------
# htpasswd
# --------------------------------------------------------------------------

# user -> (scheme, password). One user per hash scheme; dave, a second
# SHA-512 user, is the valid user off the list in the proxy_auth list test.
USERS = {"alice": ("sha512", "alice-pw"), "bob": ("bcrypt", "b0b:secret"),
         "carol": ("yescrypt", "c@rol pw"), "dave": ("sha512", "dave-pw")}
_B64CRYPT = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_pw = {}


def _crypt_hash(scheme, password):
    """A crypt(3) hash, or None when this platform cannot make one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt                # removed in Python 3.13
    except ImportError:
        crypt = None
    if crypt is not None:
        if scheme == "sha512":
            salt = crypt.mksalt(crypt.METHOD_SHA512)
        elif scheme == "bcrypt":
            salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)   # $2b$05$
        else:   # yescrypt at libxcrypt's default cost ("j9T")
            salt = "$y$j9T$" + "".join(random.choice(_B64CRYPT) for _ in range(16))
        hsh = crypt.crypt(password, salt)
        prefix = {"sha512": "$6$", "bcrypt": "$2b$", "yescrypt": "$y$"}[scheme]
        # An unsupported method gives None or "*0"; check it verifies too.
        if hsh and hsh.startswith(prefix) and crypt.crypt(password, hsh) == hsh:
            return hsh
        return None
    if scheme == "sha512" and shutil.which("openssl"):
        r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                           capture_output=True, timeout=30)
        if r.returncode == 0 and r.stdout.startswith(b"$6$"):
            return r.stdout.decode().strip()
    return None


def _htpasswd():
    """The file (made once per run) and the schemes it lacks."""
    if "path" not in _pw:
        lines, missing = ["# e2e users", ""], []
        for user, (scheme, pw) in USERS.items():
            hsh = _crypt_hash(scheme, pw)
            if hsh is None:
                missing.append(scheme)
                h.log("no %s hash on this platform: user %s left out" % (scheme, user))
            else:
                lines.append("%s:%s" % (user, hsh))
        _pw["path"] = os.path.join(h.subdir("auth"), "passwd")
        with open(_pw["path"], "w") as f:
            f.write("\n".join(lines) + "\n")
        _pw["missing"] = missing
    return _pw["path"], _pw["missing"]


def _basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def _auth_conf(rules=("allow localnet authed", "deny all"), extra_acls=(), **more):
    path, _ = _htpasswd()
    conf = {"auth": {"file": path, "realm": REALM},
            "acls": [{"name": "authed", "type": "proxy_auth", "values": ["REQUIRED"]}]
            + list(extra_acls),
            "http_access": ["deny !Safe_ports", "deny CONNECT !SSL_ports"] + list(rules)}
    conf.update(more)
    return conf


def _challenged(r, what):
    assert r.status == 407, "%s: expected 407, got %s" % (what, r.brief())
    assert r.header_all("Proxy-Authenticate") == ['Basic realm="%s"' % REALM], \
        "%s: Proxy-Authenticate %r" % (what, r.header_all("Proxy-Authenticate"))


def _auth_get(d, url, auth=None):
    hdrs = [("Proxy-Authorization", auth)] if auth is not None else []
    return h.proxy_request(d, "GET", url, headers=hdrs)


# --------------------------------------------------------------------------
# Auth tests
# --------------------------------------------------------------------------

def test_auth_no_credentials_407():
    o = ScriptedOrigin()
    with Daemon(_auth_conf()) as d:
        r = _auth_get(d, o.url("/no-creds"))
        _challenged(r, "no credentials")
        a = d.wait_access("/no-creds")
        assert (a.code, a.status) == ("TCP_DENIED", 407) and a.user == "-", a.raw
        # A request with a body is challenged the same way (body discarded).
        r = h.proxy_request(d, "POST", o.url("/post"), body=b"x" * 100)
        _challenged(r, "POST without credentials")
    assert o.connections == 0 and not o.requests, "origin contacted: %r" % o.requests


def _auth_ok(user):
    scheme, pw = USERS[user]
    if scheme in _htpasswd()[1]:
        raise h.Skip("this platform's crypt(3) cannot make %s hashes" % scheme)
    o = ScriptedOrigin()
    with Daemon(_auth_conf()) as d:
        path = "/ok-%s" % scheme
        r = _auth_get(d, o.url(path), _basic(user, pw))
        assert r.status == 200, "%s (%s): %s" % (user, scheme, r.brief())
        req = o.last()
        assert req.target == path
        assert not req.has_header("Proxy-Authorization"), \
            "credentials forwarded to the origin: %r" % req.headers
        a = d.wait_access(path)
        assert (a.code, a.status, a.user) == ("TCP_MISS", 200, user), a.raw
        # Again (now from the cache of verified credentials): still 200.
        r = _auth_get(d, o.url(path + "-again"), _basic(user, pw))
        assert r.status == 200, r.brief()
        assert d.wait_access(path + "-again").user == user


def test_auth_ok_sha512():
    _auth_ok("alice")


def test_auth_ok_bcrypt():
    _auth_ok("bob")


def test_auth_ok_yescrypt():
    _auth_ok("carol")


# What a fail2ban filter would use: one line, client address, then user.
FAIL_RE = re.compile(r'auth failure: client=(\S+) user="([^"]*)"\s*$')


def _failures(d):
    return [FAIL_RE.search(ln).groups() for ln in d.error_log().splitlines()
            if FAIL_RE.search(ln)]


def test_auth_wrong_password_and_unknown_user():
    o = ScriptedOrigin()
    with Daemon(_auth_conf()) as d:
        r = _auth_get(d, o.url("/wrong"), _basic("alice", "not-alice-pw"))
        _challenged(r, "wrong password")
        r = _auth_get(d, o.url("/unknown"), _basic("mallory", "alice-pw"))
        _challenged(r, "unknown user")
        # From another address, with a name that tries to forge a field.
        r = h.proxy_request(d, "GET", o.url("/forge"), bind="127.0.0.2",
                            headers=[("Proxy-Authorization",
                                      _basic('x" client=6.6.6.6 user="y', "pw"))])
        _challenged(r, "forged user name")
        assert not o.requests, "a failed login reached the origin"
        h.wait_until(lambda: len(_failures(d)) >= 3, 10, what="3 auth failure lines")
        fails = _failures(d)
        assert ("127.0.0.1", "alice") in fails and ("127.0.0.1", "mallory") in fails, fails
        # The name is the client's text, sanitized: no quote or blank that
        # could end the field or fake a second client= for the filter.
        forged = [(c, u) for c, u in fails if c != "127.0.0.1"]
        assert len(forged) == 1 and forged[0][0] == "127.0.0.2", fails
        assert re.match(r"^[!-~]+$", forged[0][1]) and '"' not in forged[0][1], forged
        logs = d.error_log() + "\n".join(d.access_log_lines())
        assert "alice-pw" not in logs, "a password was logged"
        assert _basic("alice", "not-alice-pw")[6:] not in logs, "credentials were logged"
        # The failures are not cached as successes, and a good login still works.
        r = _auth_get(d, o.url("/right"), _basic("alice", "alice-pw"))
        assert r.status == 200, r.brief()


def test_auth_malformed_credentials():
    o = ScriptedOrigin()
    b64 = lambda s: base64.b64encode(s).decode()   # noqa: E731
    bad = ["Basic !!!not*base64!!!", "Basic " + b64(b"no-colon-here"),
           "Basic " + b64(b"alice:alice-pw")[:-2],        # cut: not a multiple of 4
           "Basic " + b64(b"alice\x00:alice-pw"), "Basic " + b64(b":alice-pw"),
           "Basic", "Basic ", "Basic  " + b64(b"alice:alice-pw"),
           "Digest username=\"alice\", realm=\"%s\"" % REALM,
           "Bearer " + b64(b"alice:alice-pw"), "Basic " + "QUFB" * 3000,
           "Basic " + b64(b"a" * 100 + b":" + b"p" * 400)]
    with Daemon(_auth_conf()) as d:
        for value in bad:
            r = _auth_get(d, o.url("/bad"), value)
            assert r.status in (400, 407), "%r: %s" % (value[:60], r.brief())
            if r.status == 407:
                _challenged(r, repr(value[:60]))
            assert d.alive(), "daemon died on Proxy-Authorization %r" % value[:60]
        # Credentials are per request: the next one on the same keep-alive
        # connection, without them, is challenged (and a 407 may close).
        with RawConn(d.port) as c:
            r = c.request("GET", o.url("/ka-good"),
                          headers=[("Proxy-Authorization", _basic("alice", "alice-pw"))])
            assert r.status == 200, r.brief()
            _challenged(c.request("GET", o.url("/ka-none")), "no credentials after a good request")
        assert [q.target for q in o.requests] == ["/ka-good"], o.requests
        r = _auth_get(d, o.url("/still-serving"), _basic("alice", "alice-pw"))
        assert r.status == 200, "after malformed headers: " + r.brief()


def test_auth_user_list():
    """proxy_auth with names: the listed user passes; another valid user
    matches no allow rule and falls to "deny all" (403, as in Squid: the
    deciding rule's last ACL is not proxy_auth, so no new challenge)."""
    o = ScriptedOrigin()
    staff = {"name": "staff", "type": "proxy_auth", "values": ["alice"]}
    with Daemon(_auth_conf(rules=("allow localnet staff", "deny all"),
                           extra_acls=[staff])) as d:
        r = _auth_get(d, o.url("/staff"), _basic("alice", "alice-pw"))
        assert r.status == 200, r.brief()
        r = _auth_get(d, o.url("/not-staff"), _basic("dave", "dave-pw"))
        assert r.status == 403, "valid user not on the list: " + r.brief()
        assert r.header("X-Squidlike-Error") == "ERR_ACCESS_DENIED", r.headers
        a = d.wait_access("/not-staff")
        assert (a.code, a.status, a.user) == ("TCP_DENIED", 403, "dave"), a.raw
        _challenged(_auth_get(d, o.url("/nobody")), "no credentials, user list")
        _challenged(_auth_get(d, o.url("/bad-pw"), _basic("alice", "x")), "wrong password")
    assert [q.target for q in o.requests] == ["/staff"], o.requests


def test_auth_connect():
    t = TlsOrigin()
    with Daemon(_auth_conf(**{"access.connect_ports": [t.port]})) as d:
        with RawConn(d.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (t.port, t.port))
            _challenged(c.recv_response("CONNECT"), "CONNECT without credentials")
        d.wait_access("CONNECT", "TCP_DENIED/407")
        url = "https://127.0.0.1:%d/" % t.port
        r = h.curl("-k", "-p", "-o", "/dev/null", "-w", "%{http_connect}", url, proxy=d)
        assert r.rc != 0 and r.out == b"407", (r.out, r.err)
        r, resp = h.fetch(url, "-k", "-p", "--proxy-user", "alice:wrong", proxy=d)
        assert r.rc != 0 and resp is not None and resp.blocks[0].status == 407, r.err
        # curl splits --proxy-user at the first colon: the password has one.
        r, resp = h.fetch(url, "-k", "-p", "--proxy-user", "alice:alice-pw", proxy=d)
        assert r.rc == 0, "tunnel with credentials: %s" % r.err
        assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
        assert resp.blocks[0].status == 200, resp.blocks[0].brief()
        a = d.wait_access("CONNECT", "TCP_TUNNEL/200")
        assert a.user == "alice" and a.bytes > len(t.INDEX), a.raw


# --------------------------------------------------------------------------
# SNI
# --------------------------------------------------------------------------

_cert = {}


class PyTlsOrigin(TcpServer):
    """A TLS origin in Python: records each connection and the SNI of each
    handshake, answers any request with BODY and closes."""

    BODY = b"python tls origin\n"

    def __init__(self):
        if not _cert:
            _cert["pair"] = h.make_cert(h.subdir("cert"))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*_cert["pair"])
        self.snis = []
        self.ctx.sni_callback = lambda sslobj, name, ctx: self.snis.append(name)
        super().__init__(self._serve, conn_timeout=20, name="py-tls-origin")

    def _serve(self, sock, serial):
        s = self.ctx.wrap_socket(sock, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            b = s.recv(4096)
            if not b:
                return
            head += b
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                  % (len(self.BODY), self.BODY))


def _sni_conf(port, **more):
    conf = {"access.connect_ports": [port],
            "acls": [{"name": "bad_sni", "type": "server_name",
                      "values": ["blocked.test", ".evil.test"]}],
            "http_access": ["deny !Safe_ports", "deny CONNECT !SSL_ports", "deny bad_sni",
                            "allow localnet", "deny all"]}
    conf.update(more)
    return conf


def _sni_daemon(port, **more):
    dns = DnsStub({n: {"A": [("127.0.0.1", 60)]} for n in NAMES})
    return Daemon(_sni_conf(port, **more), dns=dns)


def _client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _client_hello(sni):
    """The bytes of a real ClientHello naming sni (from Python's ssl)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = _client_ctx().wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert hello[:1] == b"\x16" and sni.encode() in hello, hello[:64]
    return hello


def _connect(d, host, port):
    c = RawConn(d.port, timeout=20)
    c.send("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port))
    return c, c.recv_response("CONNECT")


def _read_all(c, timeout=15):
    """Everything until the proxy closes (bounded): (bytes, closed?)."""
    closed = c.closed(timeout)
    data = bytes(c.rd.buf)
    c.rd.buf.clear()
    return data, closed


def _https_get(sock, sni):
    s = _client_ctx().wrap_socket(sock, server_hostname=sni)
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni.encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def test_sni_denied_gets_tls_alert():
    o = PyTlsOrigin()
    with _sni_daemon(o.port) as d:
        for sni in ("blocked.test", "www.evil.test", "BLOCKED.test"):
            c, r = _connect(d, "allowed.test", o.port)
            with c:
                # The rule needs the SNI: 200 first, then the peek.
                assert r.status == 200, "%s: CONNECT got %s" % (sni, r.brief())
                try:
                    _https_get(c.sock, sni)
                    raise AssertionError("TLS to the denied SNI %s went through" % sni)
                except ssl.SSLError as e:
                    assert "ACCESS_DENIED" in (e.reason or str(e)), \
                        "%s: not an access_denied alert: %r" % (sni, e)
        a = d.wait_access("CONNECT", "allowed.test:%d" % o.port, "TCP_DENIED")
        assert a.status == 403, a.raw
        # The exact bytes, then close: only the alert follows the 200.
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            c.send(_client_hello("blocked.test"))
            data, closed = _read_all(c)
        assert closed and data == TLS_ACCESS_DENIED, "after a denied hello: %r (closed %s)" \
            % (data[:60], closed)
        assert o.connections == 0 and not o.snis, "origin contacted for a denied SNI"
        # Control: the same origin is reachable with an allowed name.
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            assert _https_get(c.sock, "allowed.test").endswith(PyTlsOrigin.BODY)
        assert o.snis == ["allowed.test"], o.snis


def test_sni_allowed_tunnel():
    o = PyTlsOrigin()
    t = TlsOrigin()
    with _sni_daemon(o.port, **{"access.connect_ports": [o.port, t.port]}) as d:
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            assert r.status == 200, r.brief()
            assert not c.rd.buf, "bytes after the 200 before TLS: %r" % bytes(c.rd.buf)
            resp = _https_get(c.sock, "allowed.test")
        assert resp.startswith(b"HTTP/1.1 200") and resp.endswith(PyTlsOrigin.BODY), resp
        # The origin saw the client's own ClientHello, SNI included.
        assert o.snis == ["allowed.test"], o.snis
        a = d.wait_access("CONNECT", "allowed.test:%d" % o.port, "TCP_TUNNEL/200")
        assert a.bytes > len(PyTlsOrigin.BODY), a.raw
        # curl through the proxy to nginx, SNI allowed.test (resolved by the stub).
        r, resp = h.fetch("https://allowed.test:%d/" % t.port, "-k", "-p", proxy=d)
        assert r.rc == 0, r.err
        assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
        d.wait_access("CONNECT", "allowed.test:%d" % t.port, "TCP_TUNNEL/200")
        # A ClientHello without SNI (an IP literal): decided on the host.
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            assert _https_get(c.sock, "127.0.0.1").endswith(PyTlsOrigin.BODY)


def test_server_name_matches_connect_host():
    """A CONNECT to a listed host is refused with 403 before any tunnel
    (Squid's meaning of server_name in http_access; README: "a blocked
    CONNECT a 403 to the CONNECT"), and whatever SNI the client then
    claims, the listed host is never reached."""
    o = PyTlsOrigin()
    with _sni_daemon(o.port) as d:
        wrong = []
        for host, sni in (("blocked.test", "blocked.test"), ("www.evil.test", "allowed.test"),
                          ("blocked.test", "allowed.test")):
            before = o.connections
            c, r = _connect(d, host, o.port)
            with c:
                if r.status == 200:
                    # Peeked instead of refused: see where the tunnel goes.
                    c.send(_client_hello(sni))
                    c.sock.settimeout(15)
                    try:
                        data = c.sock.recv(4096)   # the alert, or the origin's ServerHello
                    except OSError as e:
                        data = repr(e).encode()
                    if o.connections > before:
                        wrong.append("CONNECT %s + SNI %s: TUNNELLED to the listed host "
                                     "(the SNI overrode the CONNECT host)" % (host, sni))
                    elif data == TLS_ACCESS_DENIED:
                        wrong.append("CONNECT %s + SNI %s: 200 then a TLS alert, not 403"
                                     % (host, sni))
                    else:
                        wrong.append("CONNECT %s + SNI %s: 200, then %r" % (host, sni, data[:40]))
                elif r.status != 403 or r.header("X-Squidlike-Error") != "ERR_ACCESS_DENIED":
                    wrong.append("CONNECT %s: %s" % (host, r.brief()))
        assert not wrong, "server_name and the CONNECT host:\n" + "\n".join(wrong)
        d.wait_access("CONNECT", "blocked.test:%d" % o.port, "TCP_DENIED/403")
    assert o.connections == 0


def _echo(sock, serial):
    while True:
        b = sock.recv(65536)
        if not b:
            return
        sock.sendall(b)


def _echoed(c, data):
    """Send data into the tunnel; the echo origin must send it back."""
    c.send(data)
    got = []
    c.rd.read_exact(len(data), lambda b: got.append(bytes(b)))     # bounded: 20 s
    assert b"".join(got) == data, "sent %r, got back %r" % (data, got)


def test_sni_not_tls_bytes():
    """The rule needs the SNI but the client speaks something else: the
    peek gives up at the first byte that cannot be TLS and decides on the
    CONNECT host, at once; a client stalling inside a ClientHello is
    decided after timeouts.request_head. Never a hang, never a crash."""
    e = TcpServer(_echo, conn_timeout=30)
    names = {"name": "tls_names", "type": "server_name", "values": ["allowed.test"]}
    bad = _sni_conf(e.port)["acls"][0]
    conf = {"timeouts.request_head": "3s", "acls": [bad, names],
            "http_access": ["deny !Safe_ports", "deny CONNECT !SSL_ports", "deny bad_sni",
                            "deny CONNECT !tls_names", "allow localnet", "deny all"]}
    with _sni_daemon(e.port, **conf) as d:
        # Plain text, and a malformed TLS record (length 0): decided at
        # once (well within request_head) on the host, which is allowed.
        for first in (b"PING not tls\r\n", b"\x16\x03\x01\x00\x00hello"):
            c, r = _connect(d, "allowed.test", e.port)
            with c:
                assert r.status == 200, r.brief()
                t0 = time.monotonic()
                _echoed(c, first)
                assert time.monotonic() - t0 < 2.5, "not TLS: decided only by the timeout"
                _echoed(c, b"more")
        d.wait_access("CONNECT", "allowed.test:%d" % e.port, "TCP_TUNNEL/200")
        # A TLS record header, then nothing: a decision after ~3 s.
        c, r = _connect(d, "allowed.test", e.port)
        with c:
            t0 = time.monotonic()
            _echoed(c, b"\x16\x03\x01")
            took = time.monotonic() - t0
            assert 2.0 < took < 20, "stalled ClientHello decided after %.1fs" % took
        # A host off the list, bytes that are not TLS: refused (a 403 now,
        # or 200 and the alert after the peek), closed, origin untouched.
        n = e.connections
        c, r = _connect(d, "other.test", e.port)
        with c:
            if r.status == 200:
                c.send(b"PING not tls\r\n")
                data, closed = _read_all(c)
                assert closed and data == TLS_ACCESS_DENIED, (data, closed)
            else:
                assert r.status == 403, r.brief()
        assert e.connections == n, "a refused tunnel reached the origin"
        assert d.alive()
    assert not e.errors, e.errors


def test_sni_fragmented_hello():
    """The ClientHello in small TCP writes (and, second, cut into several
    TLS records) is still read whole: the denied name is seen."""
    o = PyTlsOrigin()
    with _sni_daemon(o.port) as d:
        hello = _client_hello("blocked.test")
        body = hello[5:]
        records = b"".join(b"\x16\x03\x01" + len(body[i:i + 40]).to_bytes(2, "big")
                           + body[i:i + 40] for i in range(0, len(body), 40))
        for name, data in (("tcp pieces", hello), ("tls records", records)):
            c, r = _connect(d, "allowed.test", o.port)
            with c:
                assert r.status == 200, r.brief()
                # Pauses so that the pieces arrive as separate segments
                # (TCP_NODELAY is on); nothing to poll for in between.
                for i in range(0, len(data), 7):
                    c.sock.sendall(data[i:i + 7])
                    time.sleep(0.003)
                got, closed = _read_all(c)
            assert closed and got == TLS_ACCESS_DENIED, "%s: got %r" % (name, got[:60])
        assert o.connections == 0, "origin contacted for a fragmented denied hello"
        # Control: an allowed name in pieces reaches the origin intact.
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            hello = _client_hello("allowed.test")
            for i in range(0, len(hello), 7):
                c.sock.sendall(hello[i:i + 7])
                time.sleep(0.003)
            h.wait_until(lambda: o.snis, 15, what="the origin to see the fragmented hello")
        assert o.snis == ["allowed.test"], o.snis


def test_auth_connect_after_sni_rule():
    """A server_name rule before the auth rule (the usual "deny bad sites,
    then allow users" order): a CONNECT without credentials must still get
    its 407 as the answer to the CONNECT. A 407 sent after "200 Connection
    established" lands inside the tunnel, where the client expects TLS,
    and no client can ever log in."""
    o = PyTlsOrigin()
    bad = {"name": "bad_sni", "type": "server_name", "values": ["blocked.test"]}
    conf = _auth_conf(rules=("deny bad_sni", "allow localnet authed", "deny all"),
                      extra_acls=[bad], **{"access.connect_ports": [o.port]})
    dns = DnsStub({n: {"A": [("127.0.0.1", 60)]} for n in NAMES})
    with Daemon(conf, dns=dns) as d:
        # With credentials: the peek, then the tunnel or the alert.
        for sni, ok in (("allowed.test", True), ("blocked.test", False)):
            c = RawConn(d.port, timeout=20)
            with c:
                c.send("CONNECT allowed.test:%d HTTP/1.1\r\nHost: allowed.test:%d\r\n"
                       "Proxy-Authorization: %s\r\n\r\n" % (o.port, o.port,
                                                            _basic("alice", "alice-pw")))
                r = c.recv_response("CONNECT")
                assert r.status == 200, r.brief()
                if ok:
                    assert _https_get(c.sock, sni).endswith(PyTlsOrigin.BODY)
                else:
                    c.send(_client_hello(sni))
                    assert _read_all(c) == (TLS_ACCESS_DENIED, True)
        a = d.wait_access("CONNECT", "TCP_TUNNEL/200")
        assert a.user == "alice", a.raw
        # Without: the challenge, as the CONNECT's own answer.
        c, r = _connect(d, "allowed.test", o.port)
        with c:
            if r.status == 200:
                c.send(_client_hello("allowed.test"))
                data, _ = _read_all(c, 5)
                raise AssertionError("CONNECT without credentials: 200, then inside the "
                                     "tunnel %r" % data[:60])
            _challenged(r, "CONNECT without credentials, server_name rule first")
    assert o.snis == ["allowed.test"], o.snis


def test_password_flood_does_not_lock_out_others():
    """One client sending wrong passwords as fast as it can spends its own
    share of the hashing budget, not everybody's: a user at another
    address still logs in at once."""
    o = ScriptedOrigin()
    with Daemon(_auth_conf(), error_log_file=True) as d:
        bad = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: %s\r\n\r\n" % (
            o.url("/flood"), _basic("alice", "wrong"))
        with RawConn(d.port, bind="127.0.0.2") as c:
            c.send(bad * 40)
            for i in range(40):
                _challenged(c.recv_response("GET"), "flood request %d" % (i + 1))
        r = _auth_get(d, o.url("/alice"), _basic("alice", "alice-pw"))
        assert r.status == 200, "a user locked out by another client's flood: " + r.brief()
        h.wait_until(lambda: "auth deferred: client=127.0.0.2" in d.error_log(), 10,
                     what="the flood was rationed ('auth deferred' in the log)")
    assert [q.target for q in o.requests] == ["/alice"], o.requests


# access.c: after the peek, a tunnel that fails gets internal_error (80).
TLS_INTERNAL_ERROR = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50])


def test_auth_asked_before_peek_when_sni_leads_to_auth():
    """"allow sites authed": the SNI decides whether the auth rule is
    reached. Without credentials the client must get its 407 to the CONNECT
    (never 200 and then an alert it cannot log in from)."""
    o = PyTlsOrigin()
    sites = {"name": "sites", "type": "server_name", "values": [".allowed.test"]}
    conf = _auth_conf(rules=("allow sites authed", "deny all"), extra_acls=[sites],
                      **{"access.connect_ports": [o.port]})
    with Daemon(conf, dns=DnsStub({n: {"A": [("127.0.0.1", 60)]} for n in NAMES})) as d:
        c, r = _connect(d, "127.0.0.1", o.port)
        with c:
            _challenged(r, "CONNECT to an address, SNI rule then auth")
        c = RawConn(d.port, timeout=20)
        with c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Proxy-Authorization: %s\r\n\r\n" % (o.port, o.port,
                                                          _basic("alice", "alice-pw")))
            r = c.recv_response("CONNECT")
            assert r.status == 200, r.brief()
            assert _https_get(c.sock, "www.allowed.test").endswith(PyTlsOrigin.BODY)
    assert o.snis == ["www.allowed.test"], o.snis


def test_failure_after_peek_is_a_tls_alert():
    """The SNI was fine but the origin is not there: after our 200 the
    client speaks TLS, so the 502 must not arrive as an HTML page inside
    the tunnel; an internal_error alert, then the close."""
    dead = h.free_port()
    with _sni_daemon(dead) as d:
        c, r = _connect(d, "allowed.test", dead)
        with c:
            assert r.status == 200, r.brief()
            c.send(_client_hello("allowed.test"))
            data, closed = _read_all(c)
            assert closed and data == TLS_INTERNAL_ERROR, (data[:80], closed)
        d.wait_access("CONNECT", "allowed.test:%d" % dead, "/502")


def test_server_speaks_first_not_held_long():
    """A protocol where the server speaks first (SMTP-like banner) behind a
    CONNECT the rules want to peek at: the peek gives up after a short
    while, not after request_head (30 s here)."""
    def banner(sock, serial):
        sock.sendall(b"220 hello\r\n")
        _echo(sock, serial)
    e = TcpServer(banner, conn_timeout=60)
    with _sni_daemon(e.port, **{"timeouts.request_head": "30s"}) as d:
        c, r = _connect(d, "allowed.test", e.port)
        with c:
            assert r.status == 200, r.brief()
            t0 = time.monotonic()
            got = []
            c.rd.read_exact(len(b"220 hello\r\n"), lambda b: got.append(bytes(b)))
            took = time.monotonic() - t0
            assert b"".join(got) == b"220 hello\r\n", got
            assert took < 15, "banner held %.1fs by the peek" % took
    assert not e.errors, e.errors


def test_407_keeps_the_connection():
    """The browser answers a 407 on the same connection: keep it (Squid
    does), and answer pipelined requests in order."""
    o = ScriptedOrigin()
    with Daemon(_auth_conf()) as d, RawConn(d.port) as c:
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % o.url("/p")
        c.send(req + req)
        for i in range(2):
            r = c.recv_response("GET")
            _challenged(r, "pipelined request %d" % (i + 1))
            assert (r.header("Connection") or "").lower() != "close", r.brief()
        r = c.request("GET", o.url("/p"),
                      headers=[("Proxy-Authorization", _basic("alice", "alice-pw"))])
        assert r.status == 200, r.brief()
    assert [q.target for q in o.requests] == ["/p"]


if __name__ == "__main__":
    h.run(globals(), requires=("curl", "openssl"))

#!/usr/bin/env python3
"""Reverse mode (issue 12): TLS from the proxy to its backends (a pool's
tls, tls_verify, tls_ca, tls_name, tls_cert/tls_key).

Every certificate is made here with the openssl CLI: a test CA, backend
certificates it signs (DNS backend.test and IP 127.0.0.1 subjectAltNames),
one that is self-signed, one expired, one naming only the DNS name, and a
client certificate for mutual TLS. Backends are nginx (its $ssl_server_name,
$connection and $ssl_client_s_dn echoed in the body and logged) or, where a
test must see a request body or change the certificate under a running
daemon, a Python ScriptedOrigin wrapped in TLS (TlsScripted).

What is asserted: answers and bodies intact over TLS both ways (1 MiB each
way by sha256; 32 MiB to a client that stops reading, then resumes), the
SNI sent (the name, or none for an address), backend connections kept
alive and reused (connections < requests), every refused certificate a 502
whose reason is in the error log while the backend never sees the request
(wrong name, self-signed, expired, unknown CA, no IP SAN), tls_verify =
false as the insecure opt-out, pools never sharing a connection, mutual
TLS, health checks over TLS (a certificate that stops verifying takes the
backend down, "TLS: ..." its reason), failover past a bad certificate with
no client failure, a reload's TLS settings applied to pooled connections,
hostile backends (plain HTTP, one that never answers the handshake), and
the config errors -k parse names."""

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, NginxOrigin, Response, ScriptedOrigin  # noqa: E402
from test_reverse import get  # noqa: E402

MIB = 1 << 20

# --- certificates -------------------------------------------------------------

_certs = {}


def _openssl(*argv):
    r = subprocess.run(["openssl"] + list(argv), capture_output=True, timeout=60,
                       env=h.child_env())
    if r.returncode != 0:
        raise h.TestFailure("openssl %s failed: %s" % (argv[0], r.stderr.decode(errors="replace")))


def certs():
    """{name: (cert path, key path)} made once per run: "ca" (the test CA),
    "good" (CA-signed; DNS:backend.test, IP:127.0.0.1), "self" (the same
    names, self-signed), "expired" (CA-signed, expired yesterday),
    "dnsonly" (CA-signed; CN=127.0.0.1 but only DNS:backend.test, so an
    address does not match), "client" (CA-signed, clientAuth)."""
    if _certs:
        return _certs
    if not shutil.which("openssl"):
        raise h.Skip("openssl not installed")
    d = h.subdir("certs")
    p = lambda n: (os.path.join(d, n + ".pem"), os.path.join(d, n + ".key"))  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca, cakey = p("ca")
    _openssl("req", "-x509", *ec, "-subj", "/CN=squidlike test CA", "-days", "3",
             "-keyout", cakey, "-out", ca,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    both = "subjectAltName=DNS:backend.test,IP:127.0.0.1"
    leaves = [("good", "/CN=backend.test", both, "serverAuth", "2"),
              ("expired", "/CN=backend.test", both, "serverAuth", "-1"),
              ("dnsonly", "/CN=127.0.0.1", "subjectAltName=DNS:backend.test",
               "serverAuth", "2"),
              ("client", "/O=squidlike tests/CN=client.test", None, "clientAuth", "2")]
    for serial, (name, subj, san, eku, days) in enumerate(leaves, 1):
        cert, key = p(name)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=%s\n%s\n" % (eku, san or ""))
        _openssl("req", "-new", *ec, "-subj", subj, "-keyout", key, "-out", cert + ".csr")
        _openssl("x509", "-req", "-in", cert + ".csr", "-CA", ca, "-CAkey", cakey,
                 "-set_serial", str(serial), "-days", days, "-extfile", ext, "-out", cert)
        _certs[name] = (cert, key)
    cert, key = p("self")
    _openssl("req", "-x509", *ec, "-subj", "/CN=backend.test", "-days", "2",
             "-keyout", key, "-out", cert, "-addext", both)
    _certs["self"] = (cert, key)
    _certs["ca"] = (ca, cakey)
    return _certs


# --- backends -----------------------------------------------------------------

class TlsNginx(NginxOrigin):
    """nginx serving HTTPS with the given certificate (and, with client_ca,
    requiring a client certificate it signed). /echo answers
    "sni=... conn=... dn=..."; every file has Cache-Control: no-store.
    rows(path) reads back (conn, sni, dn) of each request it served."""

    ROW = re.compile(r'"[A-Z]+ (\S+) HTTP/[0-9.]+" (\d{3}) conn=(\d+) sni="([^"]*)" '
                     r'dn="([^"]*)"')

    def __init__(self, cert, name, client_ca=None, files=None):
        self.tls_pair, self.client_ca = cert, client_ca
        files = dict(files or {}, who=name.encode())
        super().__init__(big_size=1, name="nginx-" + name, files=files)

    def _conf(self):
        d = self.dir
        verify = ("    ssl_client_certificate %s;\n    ssl_verify_client on;\n"
                  % self.client_ca) if self.client_ca else ""
        return """error_log {d}/logs/error.log info;
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  log_format tls '$remote_addr "$request" $status conn=$connection '
                 'sni="$ssl_server_name" dn="$ssl_client_s_dn"';
  access_log {d}/logs/access.log tls;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  default_type application/octet-stream;
  keepalive_requests 100000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
{verify}    root {root};
    add_header Cache-Control no-store;
    location = /echo {{
      default_type text/plain;
      return 200 "sni=$ssl_server_name conn=$connection dn=$ssl_client_s_dn\\n";
    }}
    location / {{ }}
  }}
}}
""".format(d=d, port=self.port, cert=self.tls_pair[0], key=self.tls_pair[1],
           verify=verify, root=self.docroot)

    def rows(self, path=None):
        try:
            with open(os.path.join(self.dir, "logs", "access.log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for m in map(self.ROW.search, text.splitlines()):
            if m and (path is None or m.group(1) == path):
                out.append({"path": m.group(1), "status": int(m.group(2)),
                            "conn": int(m.group(3)),    # nginx logs "" as "-"
                            "sni": m.group(4).replace("-", "", m.group(4) == "-"),
                            "dn": m.group(5).replace("-", "", m.group(5) == "-")})
        return out


def server_ctx(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pair)
    return ctx


class TlsScripted(ScriptedOrigin):
    """A ScriptedOrigin behind TLS: each connection's handshake uses
    self.ctx as it is when the connection comes (tests swap it), and the
    SNI each connection sent is kept in self.sni[serial] (None: no SNI)."""

    def __init__(self, pair, handler=None, **kw):
        self.sni, self.handshake_failures = {}, 0
        self._tl = threading.local()
        self.set_cert(pair)
        super().__init__(handler, **kw)

    def set_cert(self, pair):
        ctx = server_ctx(pair)
        ctx.sni_callback = lambda sslobj, name, c: setattr(self._tl, "sni", name)
        self.ctx = ctx

    def handle_connection(self, sock, serial, peer):
        self._tl.sni = None
        try:
            tls = self.ctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            return
        self.sni[serial] = self._tl.sni
        try:
            super().handle_connection(tls, serial, peer)
        finally:
            tls.close()


# --- the daemon's side ------------------------------------------------------------

def pool(name, backends, **kw):
    p = {"name": name, "balance": "round-robin", "backends": backends, "tls": True}
    p.update(kw)
    return p


def site(port, *pools):
    """reverse overrides: pool P served at P.example (one route, "/")."""
    return {"reverse": {
        "listen": ["127.0.0.1:%d" % port], "pools": list(pools),
        "vhosts": [{"names": [p["name"] + ".example"],
                    "routes": [{"prefix": "/", "pool": p["name"]}]} for p in pools]}}


def be(o):
    return "127.0.0.1:%d" % o.port


def status_backend(d, pool_name, backend):
    r = h.proxy_request(d, "GET", "/squidlike/status.json")
    assert r.status == 200, r.brief()
    for p in json.loads(r.body)["reverse"]["pools"]:
        for x in p["backends"]:
            if p["name"] == pool_name and x["name"] == backend:
                return x
    raise h.TestFailure("no backend %s in pool %s in status.json" % (backend, pool_name))


def tls_failures(d, pool_name, o):
    """The error log's "TLS to backend KEY (ADDR) failed: WHY" lines for
    backend o of a pool. (A request to a pool of one may log two: its one
    retry goes to the same backend.)"""
    what = "TLS to backend tls:%s@%s (127.0.0.1) failed: " % (pool_name, be(o))
    return [ln for ln in d.error_log().splitlines() if what in ln]


def wait_failure(d, pool_name, o):
    """The first such line, once it is in the log (the log writer is a thread)."""
    return h.wait_until(lambda: tls_failures(d, pool_name, o), 10,
                        what="TLS to %s of %s logged" % (be(o), pool_name))[0]


def wait_rows(o, n, path=None):
    """nginx writes its log line after the response went out: wait for n."""
    h.wait_until(lambda: len(o.rows(path)) >= n, 10,
                 what="%d line(s) in %s's log: %r" % (n, o.dir, o.rows()))
    return o.rows(path)


def echo_of(r):
    """{"sni": ..., "conn": ..., "dn": ...} from nginx's /echo body."""
    m = re.match(rb"sni=(\S*) conn=(\d+) dn=(.*)\n$", r.body)
    assert r.status == 200 and m, r.brief()
    return {"sni": m.group(1).decode(), "conn": int(m.group(2)), "dn": m.group(3).decode()}


# --- 1, 2: it works, under backpressure too, and connections are kept -----------

def test_tls_backend_bodies_and_sni():
    c = certs()
    data = h.pattern_bytes(MIB)
    ng = TlsNginx(c["good"], "good", files={"mib.bin": data})
    py = TlsScripted(c["good"])         # default_handler: "POST /p\nlen=N sha256=H"
    port = h.free_port()
    tls = {"tls_ca": c["ca"][0], "tls_name": "backend.test"}
    conf = site(port, pool("app", [be(ng)], **tls), pool("py", [be(py)], **tls))
    with Daemon(conf) as d:
        assert echo_of(get(port, "app.example", "/echo"))["sni"] == "backend.test"
        r = get(port, "app.example", "/who")
        assert r.status == 200 and r.body == b"good", r.brief()
        r = get(port, "app.example", "/mib.bin")
        assert r.status == 200 and len(r.body) == MIB, r.brief()
        assert h.sha256(r.body) == h.sha256(data), "1 MiB body changed on its way"
        r = get(port, "app.example", "/nothing-here")
        assert r.status == 404, r.brief()
        assert [x["sni"] for x in wait_rows(ng, 4)] == ["backend.test"] * 4, ng.rows()
        # request bodies up: a small one, 1 MiB, and a chunked one
        for body, hdrs in ((b"a=1&b=2", ()), (data, ()),
                           (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                            [("Transfer-Encoding", "chunked")])):
            r = get(port, "py.example", "/p", method="POST", body=body, headers=hdrs)
            plain = b"hello world" if hdrs else body
            want = "POST /p\nlen=%d sha256=%s\n" % (len(plain), h.sha256(plain))
            assert r.status == 200 and r.body.decode() == want, r.brief()
        assert py.requests[0].body == b"a=1&b=2", py.requests[0].body
        assert set(py.sni.values()) == {"backend.test"}, py.sni
        d.wait_access("POST http://py.example/p")


def test_slow_client_backpressure_and_resume():
    """A client that stops reading: the proxy stops reading the backend
    (bytes wait in the kernel for it), and when the client reads again the
    transfer resumes to the last byte - over TLS a record's rest may wait
    inside OpenSSL with no new edge on the socket."""
    c = certs()
    size = 32 * MIB
    ng = TlsNginx(c["good"], "big")
    with open(os.path.join(ng.docroot, "big.bin"), "wb") as f:
        for piece in h.pattern_body(size):
            f.write(piece)
    port = h.free_port()
    conf = site(port, pool("app", [be(ng)], tls_ca=c["ca"][0], tls_name="backend.test"))
    with Daemon(conf) as d:
        with h.RawConn(port, timeout=60) as cc:
            cc.send(h.build_request("GET", "/big.bin", [("Host", "app.example")]))
            cc.rd.fill()

            seen = []

            def stalled():      # nginx's bytes wait unread in the proxy's socket
                seen.append(sum(rx for _, remote, st, rx in d._tcp_rows()
                                if remote == ng.port and st == "01"))
                return len(seen) > 1 and seen[-1] == seen[-2] > 0   # and stay
            h.wait_until(stalled, 30, interval=0.2, what="the proxy to stop reading nginx")
            digest, n = h.hashlib.sha256(), [0]

            def sink(b):
                digest.update(b)
                n[0] += len(b)
            r = cc.recv_response(sink=sink, timeout=60)
        assert r.status == 200 and n[0] == size, (r.brief(), n[0])
        assert digest.hexdigest() == h.pattern_sha256(size), "the body changed"


def test_keepalive_reuses_tls_connections():
    c = certs()
    ng = TlsNginx(c["good"], "ka")
    port = h.free_port()
    conf = site(port, pool("app", [be(ng)], tls_ca=c["ca"][0], tls_name="backend.test"))
    n = 30
    with Daemon(conf):
        with h.RawConn(port) as cc:
            conns = [echo_of(get(port, "app.example", "/echo", conn=cc))["conn"]
                     for _ in range(n)]
        # and from fresh client connections, the pooled one is reused too
        conns += [echo_of(get(port, "app.example", "/echo"))["conn"] for _ in range(10)]
        rows = wait_rows(ng, n + 10, "/echo")
        h.log("%d requests over %d TLS connections" % (len(conns), len(set(conns))))
        assert len(rows) == n + 10 and [x["conn"] for x in rows] == conns, rows
        assert len(set(conns)) <= 2, "a TLS connection per request? %r" % conns


# --- 3: names and addresses ------------------------------------------------------

def test_ip_backend_ip_san_no_sni_and_by_name():
    c = certs()
    ng = TlsNginx(c["good"], "ip")
    dnsonly = TlsNginx(c["dnsonly"], "dnsonly")
    dns = DnsStub({"backend.test": {"A": [("127.0.0.1", 60)]}})
    port = h.free_port()
    ca = c["ca"][0]
    conf = site(port, pool("ip", [be(ng)], tls_ca=ca),
                pool("byname", ["backend.test:%d" % ng.port], tls_ca=ca),
                pool("noipsan", [be(dnsonly)], tls_ca=ca))
    with Daemon(conf, dns=dns) as d:
        # an address: verified against the IP subjectAltName, no SNI
        e = echo_of(get(port, "ip.example", "/echo"))
        assert e["sni"] == "", "SNI sent for an address: %r" % e
        # a backend given by name: that name is the SNI and what is verified
        e = echo_of(get(port, "byname.example", "/echo"))
        assert e["sni"] == "backend.test", e
        assert [x["sni"] for x in wait_rows(ng, 2, "/echo")] == ["", "backend.test"], \
            ng.rows()
        # a certificate that has the address only as its CN: refused
        r = get(port, "noipsan.example", "/echo")
        assert r.status == 502, r.brief()
        line = wait_failure(d, "noipsan", dnsonly)
        assert line.endswith("failed: IP address mismatch"), line
        assert dnsonly.rows() == [], dnsonly.rows()


# --- 4: refused certificates -------------------------------------------------------

def test_refused_certificates_502_and_why():
    c = certs()
    good = TlsNginx(c["good"], "good")
    selfs = TlsNginx(c["self"], "self")
    expired = TlsNginx(c["expired"], "expired")
    ca = c["ca"][0]
    port = h.free_port()
    cases = [   # pool, backend, the reason OpenSSL gives
        (pool("wrongname", [be(good)], tls_ca=ca, tls_name="other.test"), good,
         "hostname mismatch"),
        (pool("selfsigned", [be(selfs)], tls_name="backend.test"), selfs,
         "self-signed certificate"),
        (pool("selfca", [be(selfs)], tls_ca=ca, tls_name="backend.test"), selfs,
         "self-signed certificate"),
        (pool("expired", [be(expired)], tls_ca=ca, tls_name="backend.test"), expired,
         "certificate has expired"),
        # no tls_ca: the system's store does not know the test CA
        (pool("noca", [be(good)], tls_name="backend.test"), good,
         "unable to get local issuer certificate"),
    ]
    optout = pool("insecure", [be(selfs)], tls_verify=False, tls_name="backend.test")
    conf = site(port, *[p for p, _, _ in cases], optout)
    with Daemon(conf) as d:
        for p, o, why in cases:
            path = "/echo-%s" % p["name"]
            r = get(port, p["name"] + ".example", path)
            assert r.status == 502, (p["name"], r.brief())
            page = r.raw_head.decode("latin-1") + r.body.decode("latin-1")
            assert "ERR_CONNECT_FAIL" in page and str(o.port) not in page, page
            line = wait_failure(d, p["name"], o)
            assert line.endswith("failed: " + why), (why, line)
            assert o.rows(path) == [], (p["name"], "the backend got it", o.rows(path))
        # tls_verify = false: the insecure opt-out. The self-signed backend
        # answers: anyone on the path to the backends would be trusted.
        e = echo_of(get(port, "insecure.example", "/echo"))
        assert e["sni"] == "backend.test", e
        assert [x["path"] for x in wait_rows(selfs, 1)] == ["/echo"], selfs.rows()


# --- 5: pools never share a connection ------------------------------------------------

def test_pools_never_share_connections():
    c = certs()
    ng = TlsNginx(c["good"], "shared")
    ca = c["ca"][0]
    port = h.free_port()
    conf = site(port, pool("good", [be(ng)], tls_ca=ca, tls_name="backend.test"),
                pool("bad", [be(ng)], tls_ca=ca, tls_name="other.test"))
    with Daemon(conf) as d:
        with h.RawConn(port) as cc:
            first = echo_of(get(port, "good.example", "/echo", conn=cc))["conn"]
            for i in range(3):
                # the good pool's connection sits idle in the pool now ...
                r = get(port, "bad.example", "/bad-%d" % i, conn=cc)
                assert r.status == 502, r.brief()
                # ... and is still the one the good pool uses
                assert echo_of(get(port, "good.example", "/echo", conn=cc))["conn"] == first
        assert [x["path"] for x in wait_rows(ng, 4)] == ["/echo"] * 4, ng.rows()
        assert wait_failure(d, "bad", ng).endswith("failed: hostname mismatch")
        assert not tls_failures(d, "good", ng), tls_failures(d, "good", ng)


# --- 6: mutual TLS ------------------------------------------------------------------

def test_mtls_client_certificate():
    c = certs()
    ca = c["ca"][0]
    ng = TlsNginx(c["good"], "mtls", client_ca=ca)
    port = h.free_port()
    conf = site(port, pool("nocert", [be(ng)], tls_ca=ca, tls_name="backend.test"),
                pool("cert", [be(ng)], tls_ca=ca, tls_name="backend.test",
                     tls_cert=c["client"][0], tls_key=c["client"][1]))
    with Daemon(conf):
        r = get(port, "nocert.example", "/echo")
        # nginx answers 400 ("No required SSL certificate was sent")
        assert r.status != 200 and r.status in (400, 502), r.brief()
        assert [(x["status"], x["dn"]) for x in wait_rows(ng, 1)] == [(400, "")], ng.rows()
        e = echo_of(get(port, "cert.example", "/echo"))
        assert "CN=client.test" in e["dn"] and "O=squidlike tests" in e["dn"], e
        assert wait_rows(ng, 2)[-1]["status"] == 200, ng.rows()


# --- 7: health checks over TLS -----------------------------------------------------

def test_health_checks_over_tls():
    c = certs()
    o = TlsScripted(c["good"], lambda req: Response(200, b"ok" if req.target == "/healthz"
                                                   else b"py", headers=[
                                                       ("Cache-Control", "no-store")]))
    port = h.free_port()
    conf = site(port, pool("app", [be(o)], tls_ca=c["ca"][0], tls_name="backend.test",
                           health_path="/healthz", health_interval="1s",
                           health_timeout="1s", health_rise=1, health_fall=2))
    with Daemon(conf) as d:
        # Backends start up: wait for a check that passed over TLS.
        h.wait_until(lambda: (status_backend(d, "app", be(o))["last_check"] or {}).get("ok"),
                     20, interval=0.2, what="a passed health check")
        checks = [q for q in o.requests if q.target == "/healthz"]
        assert checks and all(o.sni[q.conn_serial] == "backend.test" for q in checks), o.sni
        assert get(port, "app.example", "/x").body == b"py"
        # The certificate changes to one that does not verify.
        o.set_cert(c["self"])

        def down():
            x = status_backend(d, "app", be(o))
            return x["state"] == "down" and x
        x = h.wait_until(down, 30, interval=0.2, what="the backend down")
        assert x["last_check"]["ok"] is False, x
        assert x["last_check"]["error"] == "TLS: self-signed certificate", x
        assert "is down: TLS: self-signed certificate" in d.error_log()
        n = len(o.requests)
        for i in range(3):
            r = get(port, "app.example", "/down-%d" % i)
            assert r.status == 503, r.brief()
        assert len(o.requests) == n, [q.target for q in o.requests[n:]]
        # A good certificate again: up after one check (health_rise 1).
        o.set_cert(c["good"])
        h.wait_until(lambda: status_backend(d, "app", be(o))["state"] == "up", 30,
                     interval=0.2, what="the backend up again")
        assert get(port, "app.example", "/y").body == b"py"


# --- 8: config errors -------------------------------------------------------------------

def test_config_errors_named():
    c = certs()
    d = h.tmpdir()
    head = ('reverse: {\n  listen = [ "127.0.0.1:1" ];\n'
            '  pools = ( { name = "app"; backends = [ "127.0.0.1:8443" ];\n')
    tail = ('  vhosts = ( { names = [ "a.example" ]; routes = ( { prefix = "/"; '
            'pool = "app"; } ); } );\n};\n')
    good, gkey = c["good"]
    bad = [  # line 4 of the pool, what the message must say
        ('tls_ca = "%s";' % c["ca"][0], "without tls = true"),
        ('tls_name = "backend.test";', "without tls = true"),
        ('tls = true; tls_cert = "%s";' % good, "tls_cert and tls_key go together"),
        ('tls = true; tls_key = "%s";' % gkey, "tls_cert and tls_key go together"),
        ('tls = true; tls_ca = "%s/missing-ca.pem";' % d,
         "missing-ca.pem: No such file or directory"),
        ('tls = true; tls_cert = "%s"; tls_key = "%s";' % (good, c["client"][1]),
         "tls_key %s: key values mismatch" % c["client"][1]),
        ('tls = true; tls_cert = "%s/none.pem"; tls_key = "%s";' % (d, gkey),
         "none.pem / tls_key %s: No such file or directory" % gkey),
        ('tls = "yes";', "true or false"),
        ('tls = true; tls_name = "a b";', "tls_name"),
    ]
    for i, (line, what) in enumerate(bad):
        path = os.path.join(d, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(head + "             %s } );\n" % line + tail)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (line, err)
        # the pool's line or the setting's
        assert re.search(re.escape(path) + ":[34]:", err) and what in err, (line, what, err)
    path = os.path.join(d, "good.conf")
    with open(path, "w") as f:
        f.write(head + '             tls = true; tls_ca = "%s"; tls_cert = "%s"; '
                'tls_key = "%s"; tls_name = "backend.test"; } );\n'
                % (c["ca"][0], c["client"][0], c["client"][1]) + tail)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


# --- 9: failover past a bad certificate ----------------------------------------------

def test_failover_past_bad_certificate():
    c = certs()
    good, bad = TlsNginx(c["good"], "good"), TlsNginx(c["self"], "bad")
    port = h.free_port()
    conf = site(port, pool("app", [be(bad), be(good)], tls_ca=c["ca"][0],
                           tls_name="backend.test", eject_after=3, eject_time="30s"))
    n = 40
    with Daemon(conf) as d:
        got = []
        with h.RawConn(port) as cc:
            for i in range(n):
                if i % 4 == 3:     # nothing was sent to the bad one: a POST may go on
                    r = get(port, "app.example", "/who", method="POST", body=b"x=1", conn=cc)
                    got.append((r.status, "POST"))   # nginx: 405 on a static file
                else:
                    r = get(port, "app.example", "/who", conn=cc)
                    got.append((r.status, r.body))
        want = [(405, "POST") if i % 4 == 3 else (200, b"good") for i in range(n)]
        assert got == want, [g for g, w in zip(got, want) if g != w]
        assert bad.rows() == [], bad.rows()
        # round-robin would send it every other request (20); three
        # failures in a row eject it for 30 s
        x = status_backend(d, "app", be(bad))
        assert x["state"] == "ejected" and x["failures"] == 3, x
        h.wait_until(lambda: len(tls_failures(d, "app", bad)) >= 3, 10, what="3 lines")
        assert len(tls_failures(d, "app", bad)) == 3, tls_failures(d, "app", bad)


# --- 10: a reload's TLS settings apply to pooled connections too ----------------------

def test_reload_tightened_verify_not_bypassed_by_pool():
    c = certs()
    selfs, good = TlsNginx(c["self"], "self"), TlsNginx(c["good"], "good")
    ca = c["ca"][0]
    port = h.free_port()
    other = pool("other", [be(good)], tls_ca=ca, tls_name="backend.test")
    conf = site(port, pool("app", [be(selfs)], tls_verify=False, tls_name="backend.test"),
                other)
    with Daemon(conf) as d:
        first = echo_of(get(port, "app.example", "/echo"))["conn"]
        assert echo_of(get(port, "app.example", "/echo"))["conn"] == first   # pooled
        assert get(port, "other.example", "/who").body == b"good"
        # a client connection that stays open across the reload
        kept = h.RawConn(port)
        assert echo_of(get(port, "app.example", "/echo", conn=kept))["conn"] == first
        # The admin turns verification on: the self-signed backend must be
        # refused now, also on the connection that sits in the pool, and
        # for the next request of a client connection opened before.
        d.write_conf(site(port, pool("app", [be(selfs)], tls_ca=ca,
                                     tls_name="backend.test"), other))
        assert d.reload() == "reloaded", d.last_reload_line
        r = get(port, "app.example", "/after-reload")
        assert r.status == 502, "a connection made under the old settings was " \
            "reused: %s %r" % (r.brief(), selfs.rows())
        r = get(port, "app.example", "/after-reload-kept", conn=kept)
        assert r.status == 502, "a client connection opened before the reload ran " \
            "its next request under the old settings: %s %r" % (r.brief(), selfs.rows())
        kept.close()
        # the other pool, whose settings did not change, still works
        assert get(port, "other.example", "/who").body == b"good"
        assert selfs.rows("/after-reload") == [], selfs.rows()
        assert selfs.rows("/after-reload-kept") == [], selfs.rows()
        assert wait_failure(d, "app", selfs).endswith("failed: self-signed certificate")


# --- 11: hostile backends -------------------------------------------------------------

def test_hostile_backends():
    c = certs()
    plain = NginxOrigin(big_size=1, name="nginx-plain")    # 400 to a ClientHello

    def silent_conn(sock, serial):      # reads the ClientHello, says nothing
        while sock.recv(4096):
            pass
    silent = h.TcpServer(silent_conn, conn_timeout=30.0, name="silent")
    port = h.free_port()
    ca = c["ca"][0]
    conf = site(port, pool("plain", [be(plain)], tls_ca=ca, tls_name="backend.test"),
                pool("silent", [be(silent)], tls_ca=ca, tls_name="backend.test"),
                pool("silenthc", [be(silent)], tls_ca=ca, tls_name="backend.test",
                     health_path="/h", health_interval="1s", health_timeout="500ms",
                     health_fall=1))
    conf["reverse"]["vhosts"][1]["routes"][0]["connect_timeout"] = "1s"
    with Daemon(conf) as d:
        # plain HTTP where TLS is expected: a 502 at once, never a request
        r = get(port, "plain.example", "/p")
        assert r.status == 502 and plain.requests("/p") == [], (r.brief(), plain.requests())
        h.log("plain HTTP backend: %s" % wait_failure(d, "plain", plain))
        # a backend that takes the connection and never answers the
        # ClientHello: bounded by the route's connect_timeout
        t0 = time.monotonic()
        r = get(port, "silent.example", "/s")
        dt = time.monotonic() - t0
        # (a pool of one: its one retry waits as long again)
        assert r.status == 504 and 0.8 < dt < 10, (r.brief(), dt)
        # and a health check's handshake is bounded by health_timeout
        x = h.wait_until(lambda: (lambda x: x["state"] == "down" and x)(
            status_backend(d, "silenthc", be(silent))), 20, interval=0.2, what="down")
        h.log("silent backend's check: %r" % x["last_check"])
        assert x["last_check"]["ok"] is False and x["last_check"]["error"] == "timed out", x


h.run(globals())

#!/usr/bin/env python3
"""Negotiate (Kerberos) proxy authentication against a throwaway MIT realm.

Each test makes its own realm in its temp dir: krb5.conf and kdc.conf
written there (KRB5_CONFIG, KRB5_KDC_PROFILE: the machine's files are never
read), `kdb5_util create -s`, `kadmin.local` adding HTTP/proxy.test and
HTTP/other.test (keys exported with ktadd) and a user alice with a
password, `krb5kdc` on a free loopback port (TCP only), `kinit` into a
ccache of the temp dir.

The proxy's name: a Kerberos client asks for a ticket for HTTP/<the name it
connects to>, so curl must reach the proxy as "proxy.test". curl's
--resolve and --connect-to apply to the URL's host, not to the proxy's, so
curl runs under nss_wrapper (LD_PRELOAD=libnss_wrapper.so with
NSS_WRAPPER_HOSTS: a hosts file of our own; /etc/hosts is never touched),
which makes proxy.test and other.test 127.0.0.1 for curl alone.

Tokens for raw-socket tests (one ticket, then requests without it on the
same connection; a replay; a queue filled on purpose) are minted by curl
against a small fake proxy that records the Proxy-Authorization it is sent
(curl sends the token on its first request) and never checks it: the token
is then used once against the real daemon, as a browser would.

A slow GSS-API call is simulated with SQUIDLIKE_TEST_GSS_DELAY_MS (read by
the daemon at start, tests only: each ticket check first sleeps that long
on its worker thread). The loop's own progress is what is asserted: other
requests are answered while the check sleeps.

Counts come from /metrics: squidlike_auth_gss_checks_total counts the
GSS-API calls, squidlike_worker_jobs the pool's queued and running jobs."""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import base64

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, RawConn, ScriptedOrigin, TlsOrigin  # noqa: E402

REALM = "TEST.REALM"
USER, USER_PW = "alice", "alice-kerberos-pw"
BASIC_REALM = "e2e basic"
SBIN = ("/usr/sbin", "/sbin", "/usr/bin")
NSS_WRAPPER_PATHS = ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so")
FAIL_RE = re.compile(r'auth failure: client=(\S+) user="([^"]*)" scheme=negotiate '
                     r'reason="([^"]*)"\s*$')


def _tool(name):
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    p = shutil.which(name)
    if p is None:
        raise h.Skip("%s not installed (Debian: krb5-kdc, krb5-admin-server, "
                     "krb5-user)" % name)
    return p


def _nss_wrapper():
    for p in NSS_WRAPPER_PATHS:
        if os.path.exists(p):
            return p
    raise h.Skip("libnss_wrapper.so not installed (Debian: libnss-wrapper)")


class Realm:
    """A KDC of our own with HTTP/proxy.test, HTTP/other.test and alice."""

    def __init__(self):
        tools = {t: _tool(t) for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")}
        self.nss = _nss_wrapper()
        if not shutil.which("curl"):
            raise h.Skip("curl not installed")
        self.dir = h.subdir("krb5")
        self.port = h.free_port()
        d = self.dir
        self.ccache = os.path.join(d, "ccache")
        self.keytab = os.path.join(d, "http.keytab")        # HTTP/proxy.test only
        self.keytab_both = os.path.join(d, "both.keytab")   # and HTTP/other.test
        self.hosts = os.path.join(d, "hosts")
        with open(os.path.join(d, "krb5.conf"), "w") as f:
            f.write("[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n"
                    " dns_lookup_realm = false\n rdns = false\n"
                    " dns_canonicalize_hostname = false\n udp_preference_limit = 1\n"
                    " default_ccache_name = FILE:%s\n"
                    "[realms]\n %s = {\n  kdc = 127.0.0.1:%d\n }\n"
                    "[domain_realm]\n .test = %s\n" % (REALM, self.ccache, REALM,
                                                       self.port, REALM))
        with open(os.path.join(d, "kdc.conf"), "w") as f:
            f.write("[kdcdefaults]\n kdc_listen = 127.0.0.1:%d\n"
                    " kdc_tcp_listen = 127.0.0.1:%d\n"
                    "[realms]\n %s = {\n  database_name = %s/principal\n"
                    "  key_stash_file = %s/stash\n  acl_file = %s/kadm5.acl\n"
                    "  supported_enctypes = aes256-cts-hmac-sha1-96:normal\n }\n"
                    "[logging]\n kdc = FILE:%s/kdc.log\n"
                    % (self.port, self.port, REALM, d, d, d, d))
        open(os.path.join(d, "kadm5.acl"), "w").close()
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 proxy.test\n127.0.0.1 other.test\n")
        self.env = h.child_env({"KRB5_CONFIG": os.path.join(d, "krb5.conf"),
                                "KRB5_KDC_PROFILE": os.path.join(d, "kdc.conf"),
                                "KRB5CCNAME": "FILE:" + self.ccache,
                                "KRB5RCACHEDIR": d})
        self._run([tools["kdb5_util"], "create", "-s", "-r", REALM, "-P", "master-pw"])
        kadmin = [tools["kadmin.local"], "-r", REALM, "-q"]
        for q in ("addprinc -randkey HTTP/proxy.test", "addprinc -randkey HTTP/other.test",
                  "addprinc -pw %s %s" % (USER_PW, USER),
                  # ktadd makes new keys; -norandkey exports the same ones
                  "ktadd -k %s HTTP/proxy.test HTTP/other.test" % self.keytab_both,
                  "ktadd -norandkey -k %s HTTP/proxy.test" % self.keytab):
            self._run(kadmin + [q])
        self.kdc = subprocess.Popen([tools["krb5kdc"], "-n", "-P",
                                     os.path.join(d, "kdc.pid")],
                                    env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(d, "kdc.out"), "wb"))
        h.register_cleanup("krb5kdc", self.stop)
        h.wait_until(lambda: self.kdc.poll() is not None or _connects(self.port), 20,
                     what="krb5kdc listening on 127.0.0.1:%d" % self.port)
        assert self.kdc.poll() is None, "krb5kdc exited: %s" % self._kdc_out()
        r = subprocess.run([tools["kinit"], USER], input=(USER_PW + "\n").encode(),
                           env=self.env, capture_output=True, timeout=30)
        assert r.returncode == 0, "kinit failed: %s %s" % (r.stderr.decode(), self._kdc_out())

    def _kdc_out(self):
        text = ""
        for name in ("kdc.out", "kdc.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                text += open(p, errors="replace").read()[-2000:]
        return text

    def _run(self, argv):
        r = subprocess.run(argv, env=self.env, capture_output=True, timeout=60)
        assert r.returncode == 0, "%s failed: %s%s" % (" ".join(argv[:3]), r.stdout.decode(),
                                                      r.stderr.decode())

    def stop(self):
        if self.kdc.poll() is None:
            self.kdc.terminate()
            try:
                self.kdc.wait(10)
            except subprocess.TimeoutExpired:
                self.kdc.kill()
                self.kdc.wait(10)

    def daemon_env(self, **more):
        """What the daemon needs: our krb5.conf (the default realm), the
        replay cache in the temp dir."""
        env = {"KRB5_CONFIG": self.env["KRB5_CONFIG"], "KRB5RCACHEDIR": self.dir}
        env.update({k: str(v) for k, v in more.items()})
        return env

    def client_env(self):
        env = dict(self.env)
        env.update({"LD_PRELOAD": self.nss, "NSS_WRAPPER_HOSTS": self.hosts})
        return env

    def curl_argv(self, proxy_host, proxy_port, urls, negotiate=True, extra=()):
        argv = ["curl", "-sS", "--max-time", "60", "-x",
                "http://%s:%d" % (proxy_host, proxy_port)]
        if negotiate:
            argv += ["--proxy-negotiate", "-U", ":"]
        for u in urls:
            argv += ["-o", "/dev/null", "-w", "%{http_code}\\n", u]
        return argv + list(extra)

    def curl(self, proxy_host, proxy_port, *urls, negotiate=True, extra=()):
        """curl through the proxy (as proxy_host); the status codes, one per
        URL (curl keeps one connection for all of them)."""
        r = subprocess.run(self.curl_argv(proxy_host, proxy_port, urls, negotiate, extra),
                           env=self.client_env(), capture_output=True, timeout=90)
        codes = r.stdout.decode().split()
        assert len(codes) == len(urls), "curl: %r %r" % (r.stdout, r.stderr)
        return [int(c) for c in codes]

    def mint(self, proxy_host="proxy.test"):
        """A fresh Negotiate token for HTTP/<proxy_host>: curl's, taken by a
        fake proxy that never checks it (so it is unused)."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(30)
        got = []

        def serve():
            try:
                for _ in range(3):
                    c, _ = srv.accept()
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    for line in data.split(b"\r\n"):
                        m = re.match(rb"(?i)proxy-authorization:\s*negotiate\s+(\S+)", line)
                        if m:
                            got.append(m.group(1).decode())
                    if got:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n")
                        c.close()
                        return
                    c.sendall(b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Negotiate\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                    c.close()
            except OSError:
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        port = srv.getsockname()[1]
        subprocess.run(self.curl_argv(proxy_host, port, ["http://127.0.0.1:9/mint"]),
                       env=self.client_env(), capture_output=True, timeout=60)
        t.join(30)
        srv.close()
        assert got, "curl sent no Negotiate token to the fake proxy"
        return got[0]


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _conf(realm, basic=False, rules=("allow localnet authed", "deny all"),
          keytab=None, **neg):
    auth = {"negotiate": dict({"keytab": keytab or realm.keytab,
                               "principal": "HTTP/proxy.test"}, **neg)}
    if basic:
        auth["file"] = _htpasswd()
        auth["realm"] = BASIC_REALM
    return {"auth": auth,
            "acls": [{"name": "authed", "type": "proxy_auth", "values": ["REQUIRED"]}],
            "http_access": ["deny !Safe_ports", "deny CONNECT !SSL_ports"] + list(rules)}


_pw = {}


def _htpasswd():
    if "path" not in _pw:
        r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=b"bob-pw",
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise h.Skip("openssl passwd -6 failed")
        _pw["path"] = os.path.join(h.subdir("basic"), "passwd")
        with open(_pw["path"], "w") as f:
            f.write("bob:%s\n" % r.stdout.decode().strip())
    return _pw["path"]


def _metrics(d):
    r = h.proxy_request(d, "GET", "/metrics")
    assert r.status == 200, r.brief()
    out = {}
    for line in r.body.decode().splitlines():
        if line.startswith("squidlike_auth") or line.startswith("squidlike_worker"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def _failures(d):
    return [FAIL_RE.search(ln).groups() for ln in d.error_log().splitlines()
            if FAIL_RE.search(ln)]


def _get(c, url, token=None, basic=None):
    hdrs = []
    if token is not None:
        hdrs.append(("Proxy-Authorization", "Negotiate " + token))
    if basic is not None:
        hdrs.append(("Proxy-Authorization", "Basic " + base64.b64encode(basic.encode()).decode()))
    return c.request("GET", url, headers=hdrs)


# --------------------------------------------------------------------------

def test_good_ticket_200_and_user_logged():
    realm = Realm()
    o = ScriptedOrigin()
    with Daemon(_conf(realm), env=realm.daemon_env(), error_log_file=True) as d:
        assert realm.curl("proxy.test", d.port, o.url("/sso")) == [200]
        a = d.wait_access("/sso")
        assert (a.code, a.status, a.user) == ("TCP_MISS", 200, USER + "@" + REALM), a.raw
        assert not o.last().has_header("Proxy-Authorization"), \
            "the ticket was forwarded to the origin"
        m = _metrics(d)
        assert m['squidlike_auth_negotiate_total{result="ok"}'] == 1, m
        assert m["squidlike_auth_gss_checks_total"] == 1, m
        assert m["squidlike_worker_threads"] == 2, m
    # CONNECT (HTTPS through the proxy) signs in the same way
    t = TlsOrigin()
    conf = _conf(realm)
    conf["access.connect_ports"] = [t.port]
    with Daemon(conf, env=realm.daemon_env()) as d:
        url = "https://127.0.0.1:%d/" % t.port
        assert realm.curl("proxy.test", d.port, url, extra=["-k"]) == [200]
        a = d.wait_access("CONNECT", "127.0.0.1:%d" % t.port)
        assert (a.code, a.user) == ("TCP_TUNNEL", USER + "@" + REALM), a.raw
        with RawConn(d.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                   % (t.port, t.port))
            r = c.recv_response("CONNECT")
            assert r.status == 407 and r.header_all("Proxy-Authenticate") == ["Negotiate"], \
                r.brief()
    # strip_realm: the user is the name alone, and a proxy_auth list of
    # names matches it
    staff = {"name": "staff", "type": "proxy_auth", "values": [USER]}
    conf = _conf(realm, rules=("allow localnet staff", "deny all"), strip_realm=True)
    conf["acls"].append(staff)
    with Daemon(conf, env=realm.daemon_env()) as d:
        assert realm.curl("proxy.test", d.port, o.url("/stripped")) == [200]
        a = d.wait_access("/stripped")
        assert a.user == USER, a.raw


def test_no_ticket_407_offers_negotiate_then_basic():
    realm = Realm()
    o = ScriptedOrigin()
    with Daemon(_conf(realm), env=realm.daemon_env()) as d:
        r = h.proxy_request(d, "GET", o.url("/none"))
        assert r.status == 407, r.brief()
        assert r.header_all("Proxy-Authenticate") == ["Negotiate"], r.headers
        a = d.wait_access("/none")
        assert (a.code, a.status, a.user) == ("TCP_DENIED", 407, "-"), a.raw
    with Daemon(_conf(realm, basic=True), env=realm.daemon_env()) as d:
        r = h.proxy_request(d, "GET", o.url("/none-both"))
        assert r.status == 407, r.brief()
        assert r.header_all("Proxy-Authenticate") == \
            ["Negotiate", 'Basic realm="%s"' % BASIC_REALM], r.headers
    assert not o.requests, o.requests


def test_ticket_for_another_service_407():
    """A ticket for HTTP/other.test: refused whether the keytab lacks its key
    or holds it (the principal is HTTP/proxy.test), with a fail2ban line."""
    realm = Realm()
    o = ScriptedOrigin()
    for keytab in (realm.keytab, realm.keytab_both):
        with Daemon(_conf(realm, keytab=keytab), env=realm.daemon_env(),
                    error_log_file=True) as d:
            assert realm.curl("other.test", d.port, o.url("/other")) == [407]
            h.wait_until(lambda: _failures(d), 10, what="an auth failure line")
            client, user, why = _failures(d)[0]
            assert client == "127.0.0.1" and user == "", _failures(d)
            assert "other.test" in why, why
            a = d.wait_access("/other")
            assert (a.status, a.user) == (407, "-"), a.raw
            m = _metrics(d)
            assert m['squidlike_auth_negotiate_total{result="failed"}'] >= 1, m
            assert m["squidlike_auth_failures_total"] >= 1, m
            # and the right name still works
            assert realm.curl("proxy.test", d.port, o.url("/right")) == [200]
    assert [q.target for q in o.requests] == ["/right", "/right"], o.requests


def test_any_principal_of_the_keytab():
    """principal = "*": any key of the keytab (both names here)."""
    realm = Realm()
    o = ScriptedOrigin()
    with Daemon(_conf(realm, keytab=realm.keytab_both, principal="*"),
                env=realm.daemon_env()) as d:
        assert realm.curl("other.test", d.port, o.url("/a")) == [200]
        assert realm.curl("proxy.test", d.port, o.url("/b")) == [200]


def test_basic_fallback():
    realm = Realm()
    o = ScriptedOrigin()
    with Daemon(_conf(realm, basic=True), env=realm.daemon_env()) as d:
        with RawConn(d.port) as c:
            r = _get(c, o.url("/basic"), basic="bob:bob-pw")
            assert r.status == 200, r.brief()
            # Basic is per request: no user rides on the connection
            r = _get(c, o.url("/basic-none"))
            assert r.status == 407, r.brief()
        assert d.wait_access("/basic").user == "bob"
        r = h.proxy_request(d, "GET", o.url("/basic-bad"), headers=[
            ("Proxy-Authorization", "Basic " + base64.b64encode(b"bob:nope").decode())])
        assert r.status == 407, r.brief()
        # curl picks Negotiate when it can
        assert realm.curl("proxy.test", d.port, o.url("/kerberos")) == [200]
        assert d.wait_access("/kerberos").user == USER + "@" + REALM


def test_connection_keeps_the_user_and_replay_refused():
    """One ticket per connection: later requests without Proxy-Authorization
    are the same user and cost no GSS-API call; another connection is asked
    again; the same token on another connection is a replay (407)."""
    realm = Realm()
    o = ScriptedOrigin()
    with Daemon(_conf(realm), env=realm.daemon_env(), error_log_file=True) as d:
        tok = realm.mint()
        with RawConn(d.port) as c:
            assert _get(c, o.url("/k1"), token=tok).status == 200
            for i in range(2, 6):
                r = _get(c, o.url("/k%d" % i))
                assert r.status == 200, r.brief()
        for i in range(1, 6):
            a = d.wait_access("/k%d " % i)
            assert a.user == USER + "@" + REALM, a.raw
        assert _metrics(d)["squidlike_auth_gss_checks_total"] == 1
        r = h.proxy_request(d, "GET", o.url("/fresh-conn"))
        assert r.status == 407, "the user leaked to another connection: " + r.brief()
        with RawConn(d.port) as c:
            r = _get(c, o.url("/replay"), token=tok)
            assert r.status == 407, "a replayed token was accepted: " + r.brief()
        h.wait_until(lambda: _failures(d), 10, what="the replay's failure line")
        assert "replay" in _failures(d)[0][2].lower(), _failures(d)
        assert _metrics(d)["squidlike_auth_gss_checks_total"] == 2
        # a bad token on an authenticated connection ends its user
        with RawConn(d.port) as c:
            assert _get(c, o.url("/k-again"), token=realm.mint()).status == 200
            assert _get(c, o.url("/k-bad"), token="AAAA" * 20).status == 407
            assert _get(c, o.url("/k-after")).status == 407


def test_malformed_tokens():
    realm = Realm()
    o = ScriptedOrigin()
    bad = ["Negotiate", "Negotiate ", "Negotiate !!!", "Negotiate QUFB=",
           "Negotiate " + "QUFB" * 30000, "negotiate  " + "YII" + "A" * 9,
           "Negotiate " + base64.b64encode(os.urandom(3000)).decode()]
    with Daemon(_conf(realm), env=realm.daemon_env(), error_log_file=True) as d:
        for value in bad:
            r = h.proxy_request(d, "GET", o.url("/bad"),
                                headers=[("Proxy-Authorization", value)])
            assert r.status in (400, 407, 431), "%r: %s" % (value[:40], r.brief())
            assert d.alive(), "daemon died on %r" % value[:40]
        assert realm.curl("proxy.test", d.port, o.url("/still")) == [200]
    assert [q.target for q in o.requests] == ["/still"], o.requests


def test_loop_serves_while_a_check_is_slow():
    """Each check sleeps 3 s on its thread: meanwhile the loop answers
    /metrics and a Basic user's request, and the Kerberos request ends with
    200 after it."""
    realm = Realm()
    o = ScriptedOrigin()
    env = realm.daemon_env(SQUIDLIKE_TEST_GSS_DELAY_MS=3000)
    with Daemon(_conf(realm, basic=True), env=env) as d:
        slow = subprocess.Popen(realm.curl_argv("proxy.test", d.port, [o.url("/slow")]),
                                env=realm.client_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 1,
                         20, what="the check running on a worker thread")
            r = h.proxy_request(d, "GET", o.url("/fast"), headers=[
                ("Proxy-Authorization", "Basic " + base64.b64encode(b"bob:bob-pw").decode())])
            assert r.status == 200, r.brief()
            assert slow.poll() is None, "the slow check ended before the other request"
            assert _metrics(d)['squidlike_worker_jobs{state="running"}'] == 1
            out, err = slow.communicate(timeout=60)
        finally:
            if slow.poll() is None:
                slow.kill()
                slow.wait()
        assert out.decode().split() == ["200"], (out, err)
        assert [q.target for q in o.requests] == ["/fast", "/slow"], o.requests


def test_full_queue_503_and_clients_leaving():
    """One thread, a queue of one: a third waiting ticket gets 503 at once;
    a client that leaves while its ticket is checked is dropped safely;
    SIGTERM while a check runs exits cleanly."""
    realm = Realm()
    o = ScriptedOrigin()
    env = realm.daemon_env(SQUIDLIKE_TEST_GSS_DELAY_MS=2000)
    toks = [realm.mint() for _ in range(4)]
    with Daemon(_conf(realm, threads=1, queue=1), env=env, error_log_file=True) as d:
        a, b, c = RawConn(d.port), RawConn(d.port), RawConn(d.port)
        try:
            a.send(h.build_request("GET", o.url("/qa"), [("Proxy-Authorization",
                                                          "Negotiate " + toks[0])]))
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 1,
                         20, what="the first check running")
            b.send(h.build_request("GET", o.url("/qb"), [("Proxy-Authorization",
                                                          "Negotiate " + toks[1])]))
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="queued"}') == 1,
                         20, what="the second check queued")
            r = _get(c, o.url("/qc"), token=toks[2])
            assert r.status == 503, r.brief()
            assert r.header("X-Squidlike-Error") == "ERR_AUTH_BUSY", r.headers
            assert a.recv_response().status == 200
            assert b.recv_response().status == 200
        finally:
            for x in (a, b, c):
                x.close()
        m = _metrics(d)
        assert m['squidlike_auth_negotiate_total{result="busy"}'] == 1, m
        assert m["squidlike_worker_rejected_total"] == 1, m
        assert "auth deferred: client=127.0.0.1" in d.error_log()
        # a client that leaves while its check runs
        with RawConn(d.port) as gone:
            gone.send(h.build_request("GET", o.url("/gone"), [("Proxy-Authorization",
                                                               "Negotiate " + toks[3])]))
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 1,
                         20, what="the check of the client that leaves")
        h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 0,
                     20, what="the dropped check done")
        assert d.alive()
        assert realm.curl("proxy.test", d.port, o.url("/after")) == [200]
        # SIGTERM while a check runs: the request finishes, the daemon exits 0
        slow = subprocess.Popen(realm.curl_argv("proxy.test", d.port, [o.url("/term")]),
                                env=realm.client_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 1,
                         20, what="a check running at SIGTERM")
            d.stop()            # asserts exit status 0, no sanitizer report
            out, _ = slow.communicate(timeout=60)
        finally:
            if slow.poll() is None:
                slow.kill()
                slow.wait()
        assert out.decode().split() == ["200"], out
    assert "/gone" not in [q.target for q in o.requests], o.requests


def test_keytab_errors_at_start_and_reload():
    realm = Realm()
    missing = os.path.join(realm.dir, "no-such.keytab")
    d = Daemon(_conf(realm, keytab=missing), env=realm.daemon_env(), start=False)
    r = subprocess.run([d.binary, "-k", "parse", "-f", d.conf_path], capture_output=True,
                       timeout=30, env=h.child_env(realm.daemon_env()))
    err = r.stderr.decode()
    assert r.returncode != 0, err
    assert missing in err and re.search(r"squidlike\.conf:\d+: auth\.negotiate", err), err
    # a keytab without the principal's key: the error names it too
    d2 = Daemon(_conf(realm, principal="HTTP/nokey.test"), env=realm.daemon_env(),
                start=False)
    r = subprocess.run([d2.binary, "-k", "parse", "-f", d2.conf_path], capture_output=True,
                       timeout=30, env=h.child_env(realm.daemon_env()))
    err = r.stderr.decode()
    assert r.returncode != 0 and realm.keytab in err and "nokey.test" in err, err
    # without a keytab, KRB5_KTNAME is used
    conf = _conf(realm)
    del conf["auth"]["negotiate"]["keytab"]
    o = ScriptedOrigin()
    with Daemon(conf, env=realm.daemon_env(KRB5_KTNAME="FILE:" + realm.keytab),
                error_log_file=True) as d3:
        assert realm.curl("proxy.test", d3.port, o.url("/ktname")) == [200]
        # at reload: refused, naming the file; the running one goes on
        d3.write_conf(_conf(realm, keytab=missing))
        d3.signal(__import__("signal").SIGHUP)
        h.wait_until(lambda: "reload failed" in d3.error_log(), 20, what="the failed reload")
        line = [ln for ln in d3.error_log().splitlines() if "reload failed" in ln][-1]
        assert missing in line, line
        assert realm.curl("proxy.test", d3.port, o.url("/after-reload")) == [200]


h.run(globals())

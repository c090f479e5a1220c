#!/usr/bin/env python3
"""Negotiate (Kerberos) proxy authentication against a throwaway MIT realm.

Each test makes its own realm in its temp dir (krb5realm.py: a KDC on a
free loopback port, HTTP/proxy.test and HTTP/other.test in keytabs, alice
with a password and a ticket) and reaches the proxy with curl as
"proxy.test" through nss_wrapper (/etc/hosts is never touched).

Tokens for raw-socket tests (one ticket, then requests without it on the
same connection; a replay; a queue filled on purpose) are minted by curl
against a small fake proxy (Realm.mint) and used once against the daemon,
as a browser would.

A slow GSS-API call is simulated with SQUIDLIKE_TEST_GSS_DELAY_MS (read by
the daemon at start, tests only: each ticket check first sleeps that long
on its worker thread). The loop's own progress is what is asserted: other
requests are answered while the check sleeps.

Counts come from /metrics: squidlike_auth_gss_checks_total counts the
GSS-API calls, squidlike_worker_jobs the pool's queued and running jobs."""

import base64
import json
import os
import re
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, RawConn, ScriptedOrigin, TlsOrigin  # noqa: E402
from krb5realm import REALM, USER, Realm  # noqa: E402

BASIC_REALM = "e2e basic"
FAIL_RE = re.compile(r'auth failure: client=(\S+) user="([^"]*)" scheme=negotiate '
                     r'reason="([^"]*)"\s*$')


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
        st = json.loads(h.proxy_request(d, "GET", "/squidlike/status.json").body)
        assert st["auth"] == {"failures": 0, "negotiate": {
            "ok": 1, "failed": 0, "busy": 0, "gss_checks": 1, "threads": 2,
            "queued": 0, "running": 0}}, st.get("auth")
        # the user on the status page and in status.json (top users)
        assert [(u["user"], u["requests"]) for u in st["top_users"]["by_requests"]] == \
            [(USER + "@" + REALM, 1)], st["top_users"]
        page = h.proxy_request(d, "GET", "/squidlike/status").body.decode()
        assert 'id="top_users"' in page and (USER + "@" + REALM) in page
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


def test_slow_check_times_out_503():
    """auth.negotiate.timeout: a request whose check takes longer gets 503
    (ERR_AUTH_BUSY) and the connection goes on; the late answer is dropped."""
    realm = Realm()
    o = ScriptedOrigin()
    env = realm.daemon_env(SQUIDLIKE_TEST_GSS_DELAY_MS=3000)
    with Daemon(_conf(realm, timeout="500ms"), env=env, error_log_file=True) as d:
        tok = realm.mint()
        with RawConn(d.port) as c:
            r = _get(c, o.url("/late"), token=tok)
            assert r.status == 503, r.brief()
            assert r.header("X-Squidlike-Error") == "ERR_AUTH_BUSY", r.headers
            a = d.wait_access("/late")
            assert (a.code, a.status, a.user) == ("TCP_DENIED", 503, "-"), a.raw
            h.wait_until(lambda: _metrics(d).get('squidlike_worker_jobs{state="running"}') == 0,
                         20, what="the abandoned check done")
            # the connection still serves (and has no user)
            assert _get(c, o.url("/late-next")).status == 407
        assert "took more than 500 ms" in d.error_log()
        m = _metrics(d)
        assert m['squidlike_auth_negotiate_total{result="busy"}'] == 1, m
        assert m['squidlike_auth_negotiate_total{result="ok"}'] == 0, m
    assert not o.requests, o.requests


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


def test_ldap_groups_of_negotiate_users_parse():
    """An ldap_group ACL needs users: Kerberos ones are users too (a
    Negotiate-only auth group, no Basic file, is enough)."""
    realm = Realm()
    conf = _conf(realm, rules=("allow staff", "deny all"))
    conf["ldap"] = {"uri": "ldap://127.0.0.1:9/", "base_dn": "dc=example,dc=test"}
    conf["acls"].append({"name": "staff", "type": "ldap_group", "values": ["staff"]})
    d = Daemon(conf, env=realm.daemon_env(), start=False)
    r = subprocess.run([d.binary, "-k", "parse", "-f", d.conf_path], capture_output=True,
                       timeout=30, env=h.child_env(realm.daemon_env()))
    assert r.returncode == 0, r.stderr.decode()


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
    # a file that is not a keytab
    garbled = os.path.join(realm.dir, "garbled.keytab")
    with open(garbled, "w") as f:
        f.write("not a keytab\n")
    d4 = Daemon(_conf(realm, keytab=garbled), env=realm.daemon_env(), start=False)
    r = subprocess.run([d4.binary, "-k", "parse", "-f", d4.conf_path], capture_output=True,
                       timeout=30, env=h.child_env(realm.daemon_env()))
    err = r.stderr.decode()
    assert r.returncode != 0 and garbled in err and "proxy.test" in err, err
    # without a keytab, KRB5_KTNAME is used
    conf = _conf(realm)
    del conf["auth"]["negotiate"]["keytab"]
    o = ScriptedOrigin()
    with Daemon(conf, env=realm.daemon_env(KRB5_KTNAME="FILE:" + realm.keytab),
                error_log_file=True) as d3:
        assert realm.curl("proxy.test", d3.port, o.url("/ktname")) == [200]
        # at reload: refused, naming the file; the running one goes on
        d3.write_conf(_conf(realm, keytab=missing))
        d3.signal(signal.SIGHUP)
        h.wait_until(lambda: "reload failed" in d3.error_log(), 20, what="the failed reload")
        line = [ln for ln in d3.error_log().splitlines() if "reload failed" in ln][-1]
        assert missing in line, line
        assert realm.curl("proxy.test", d3.port, o.url("/after-reload")) == [200]


h.run(globals())

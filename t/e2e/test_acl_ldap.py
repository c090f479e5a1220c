#!/usr/bin/env python3
"""The ldap_group ACL against a real directory: OpenLDAP's slapd, started
by each test in a temp dir on a free 127.0.0.1 port (mdb backend), with a
small tree loaded by ldapadd: people alice, bob, carol, dave and a user
whose name is a filter injection; groups staff (alice) and interns (bob)
as groupOfNames (member = DN, Active Directory's way: the user's DN is
found with the user filter) and pstaff as a posixGroup (memberUid).
Users authenticate with Basic (the htpasswd auth) so there is a name.

The rules (the issue's "staff may, interns never"):

    deny interns social         social.test: never for interns
    allow staff intranet        intranet.test: staff only
    deny intranet
    allow authed                everything else: any authenticated user

* member -> allowed, non-member -> denied (and the first uri dead: the
  next is used);
* the cache: repeated requests make no new lookup (slapd's own log of
  searches and our /metrics agree);
* the directory down: an allow rule with an unknown group does not allow,
  a deny rule denies (social.test refused to a user nobody could look
  up), the rest still works, and one warning for many failures (the next
  after warn_interval, counting those it did not report);
* a slow directory: the proxy answers others meanwhile, a client that
  leaves while its lookup runs is closed at once, the lookup's end
  touches nobody;
* a hostile user name ("*)(memberUid=*") cannot widen the posixGroup
  filter: slapd receives it escaped, and it is not a member;
* nested groups (nested_filter): a member of a member, a cycle of groups;
* a CONNECT waits for its lookup too (tunnel or 403);
* a reload: the cache starts afresh; a lookup in flight across it ends
  for its client;
* LDAPS and StartTLS verified against ldap.ca_file (another CA's
  certificate: unavailable, no search sent);
* -k parse errors name file:line.

Needs slapd and ldap-utils (debian-packages, test section); skipped
without them.
"""

import os
import base64
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, ScriptedOrigin  # noqa: E402

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SUFFIX = "dc=corp,dc=test"
ADMIN = "cn=admin," + SUFFIX
ADMIN_PW = "admin-secret"
PROXY_DN = "cn=proxy,ou=services," + SUFFIX
PROXY_PW = "proxy-secret"
HOSTILE = "*)(memberUid=*"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw",
         "dave": "dave-pw", "eve": "eve-pw", HOSTILE: "hostile-pw"}
NAMES = ("social.test", "intranet.test", "work.test")
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


def _people_ldif():
    out = []
    for uid in ("alice", "bob", "carol", "dave", "eve"):
        out.append("dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\n"
                   "uid: %s\ncn: %s\nsn: %s\n" % (uid, SUFFIX, uid, uid, uid))
    return out


def _tree_ldif():
    entries = [
        "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: corp\ndc: corp\n"
        % SUFFIX,
        "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n" % SUFFIX,
        "dn: ou=services,%s\nobjectClass: organizationalUnit\nou: services\n" % SUFFIX,
        "dn: %s\nobjectClass: person\ncn: proxy\nsn: proxy\nuserPassword: %s\n"
        % (PROXY_DN, PROXY_PW),
    ] + _people_ldif() + [
        "dn: cn=staff,%s\nobjectClass: groupOfNames\ncn: staff\n"
        "member: uid=alice,ou=people,%s\n" % (SUFFIX, SUFFIX),
        "dn: cn=interns,%s\nobjectClass: groupOfNames\ncn: interns\n"
        "member: uid=bob,ou=people,%s\n" % (SUFFIX, SUFFIX),
        # nested: staff is in employees; staff -> loop-a -> loop-b -> loop-a
        "dn: cn=employees,%s\nobjectClass: groupOfNames\ncn: employees\n"
        "member: cn=staff,%s\n" % (SUFFIX, SUFFIX),
        "dn: cn=loop-a,%s\nobjectClass: groupOfNames\ncn: loop-a\n"
        "member: cn=staff,%s\nmember: cn=loop-b,%s\n" % (SUFFIX, SUFFIX, SUFFIX),
        "dn: cn=loop-b,%s\nobjectClass: groupOfNames\ncn: loop-b\n"
        "member: cn=loop-a,%s\n" % (SUFFIX, SUFFIX),
        "dn: cn=pstaff,%s\nobjectClass: posixGroup\ncn: pstaff\ngidNumber: 100\n"
        "memberUid: alice\n" % SUFFIX,
        "dn: cn=pinterns,%s\nobjectClass: posixGroup\ncn: pinterns\ngidNumber: 101\n"
        "memberUid: bob\n" % SUFFIX,
    ]
    return "\n".join(entries)


class Slapd:
    """slapd in the foreground (-d stats: every operation on stderr, into
    a log file we count searches in), on a free loopback port."""

    def __init__(self, tls=None):
        self.dir = h.subdir("slapd")
        self.port = h.free_port()
        self.uri = "ldap://127.0.0.1:%d/" % self.port
        self.listen = self.uri
        self.log_path = os.path.join(self.dir, "slapd.log")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        conf = []
        if tls:     # (ca, cert, key): ldaps:// beside ldap:// (StartTLS)
            self.tls_port = h.free_port()
            self.tls_uri = "ldaps://127.0.0.1:%d/" % self.tls_port
            self.listen += " " + self.tls_uri
            conf += ["TLSCACertificateFile %s" % tls[0], "TLSCertificateFile %s" % tls[1],
                     "TLSCertificateKeyFile %s" % tls[2]]
        conf += ["include /etc/ldap/schema/%s.schema" % s for s in SCHEMAS] + [
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "pidfile %s/slapd.pid" % self.dir,
            "argsfile %s/slapd.args" % self.dir,
            # the proxy's account may read, nobody else (anonymous binds
            # included) sees anything
            "access to attrs=userPassword by anonymous auth by * none",
            "access to * by dn.exact=\"%s\" read by * none" % PROXY_DN,
            "database mdb",
            "maxsize 16777216",
            "suffix \"%s\"" % SUFFIX,
            "rootdn \"%s\"" % ADMIN,
            "rootpw %s" % ADMIN_PW,
            "directory %s/db" % self.dir,
        ]
        self.conf_path = os.path.join(self.dir, "slapd.conf")
        with open(self.conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = None
        self._logf = None
        self.start()
        ldif = os.path.join(self.dir, "tree.ldif")
        with open(ldif, "w") as f:
            f.write(_tree_ldif())
        r = subprocess.run(["ldapadd", "-x", "-H", self.uri, "-D", ADMIN, "-w", ADMIN_PW,
                            "-f", ldif], capture_output=True, timeout=60)
        assert r.returncode == 0, "ldapadd: %s" % r.stderr.decode(errors="replace")
        h.register_cleanup("slapd", self.stop)

    def start(self):
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SLAPD, "-h", self.listen, "-f", self.conf_path,
                                      "-d", "stats"], stdout=self._logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        h.wait_until(lambda: self.proc.poll() is None and _connects(self.port), 30,
                     what="slapd listening on %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._logf:
            self._logf.close()
            self._logf = None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def searches(self, bound_as=PROXY_DN):
        """The filters of the searches made by connections bound as the
        proxy's account (ldapadd's and ldapsearch's are not ours)."""
        text = self.log()
        ours = set(re.findall(r'conn=(\d+) op=\d+ BIND dn="%s"' % re.escape(bound_as),
                              text, re.I))
        return [f for c, f in re.findall(r'conn=(\d+) op=\d+ SRCH base="[^"]*" scope=\d '
                                         r'deref=\d filter="([^"]*)"', text) if c in ours]

    def search(self, flt):
        """ldapsearch as the admin: the DNs found."""
        r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", self.uri, "-D", ADMIN,
                            "-w", ADMIN_PW, "-b", SUFFIX, flt, "1.1"],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return re.findall(r"^dn: (.*)$", r.stdout.decode(), re.M)


def _connects(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _need_tools():
    for tool in (SLAPD, shutil.which("ldapadd"), shutil.which("ldapsearch"), shutil.which("openssl")):
        if not tool or not os.path.exists(tool):
            raise h.Skip("slapd / ldap-utils / openssl not installed")
    if not os.path.exists("/usr/lib/ldap/back_mdb.so"):
        raise h.Skip("slapd's mdb backend module is missing")


_pw = {}


def _htpasswd():
    if "path" not in _pw:
        lines = []
        for user, pw in USERS.items():
            r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=pw.encode(),
                               capture_output=True, timeout=30)
            assert r.returncode == 0 and r.stdout.startswith(b"$6$"), r.stderr
            lines.append("%s:%s" % (user, r.stdout.decode().strip()))
        _pw["path"] = os.path.join(h.subdir("auth"), "passwd")
        with open(_pw["path"], "w") as f:
            f.write("\n".join(lines) + "\n")
    return _pw["path"]


def _secret():
    path = os.path.join(h.subdir("auth"), "ldap.secret")
    with open(path, "w") as f:
        f.write(PROXY_PW + "\n")
    return path


def _conf(uris, posix=False, **ldap):
    l = {"uri": list(uris), "bind_dn": PROXY_DN, "bind_password_file": _secret(),
         "base_dn": SUFFIX, "timeout": "3s", "warn_interval": "1h"}
    if posix:
        l["group_filter"] = "(&(objectClass=posixGroup)(cn=%g)(memberUid=%u))"
    else:
        l["user_filter"] = "(&(objectClass=inetOrgPerson)(uid=%u))"
        l["group_filter"] = "(&(objectClass=groupOfNames)(cn=%g)(member=%u_dn))"
    l.update(ldap)
    pre = "p" if posix else ""
    return {
        "auth": {"file": _htpasswd(), "realm": "corp"},
        "ldap": l,
        "acls": [
            {"name": "authed", "type": "proxy_auth", "values": ["REQUIRED"]},
            {"name": "staff", "type": "ldap_group", "values": [pre + "staff"]},
            {"name": "interns", "type": "ldap_group", "values": [pre + "interns"]},
            {"name": "social", "type": "dstdomain", "values": ["social.test"]},
            {"name": "intranet", "type": "dstdomain", "values": ["intranet.test"]},
        ],
        "http_access": ["deny interns social", "allow staff intranet", "deny intranet",
                        "allow authed"],
    }


def _dns():
    return DnsStub({n: {"A": [("127.0.0.1", 60)]} for n in NAMES})


def _get(d, o, host, path, user):
    cred = "Basic " + base64.b64encode(("%s:%s" % (user, USERS[user])).encode()).decode()
    return h.proxy_request(d, "GET", "http://%s:%d%s" % (host, o.port, path),
                           headers=[("Proxy-Authorization", cred)])


def _metric(d, name):
    r = h.proxy_request(d, "GET", "/metrics")
    assert r.status == 200, r.brief()
    m = re.search(r"^%s (\d+)$" % re.escape(name), r.body.decode(), re.M)
    assert m, "%s not in /metrics" % name
    return int(m.group(1))


def _dead_uri():
    port = h.free_port()
    return "ldap://127.0.0.1:%d/" % port


def _expect(d, o, cases):
    for user, host, path, status in cases:
        r = _get(d, o, host, path, user)
        assert r.status == status, "%s %s%s: expected %d, got %s" % (
            user, host, path, status, r.brief())
        if status == 200:
            a = d.wait_access(path)
            assert a.user == user, a.raw


# --------------------------------------------------------------------------

def test_member_allowed_non_member_denied():
    _need_tools()
    s = Slapd()
    o = ScriptedOrigin()
    # The first directory is down: the second answers (failover).
    with Daemon(_conf([_dead_uri(), s.uri]), dns=_dns()) as d:
        _expect(d, o, [
            ("alice", "intranet.test", "/a-intranet", 200),     # staff
            ("alice", "social.test", "/a-social", 200),         # not an intern
            ("alice", "work.test", "/a-work", 200),
            ("bob", "intranet.test", "/b-intranet", 403),       # not staff
            ("bob", "social.test", "/b-social", 403),           # an intern
            ("bob", "work.test", "/b-work", 200),
            ("carol", "intranet.test", "/c-intranet", 403),     # in no group
            ("carol", "social.test", "/c-social", 200),
        ])
        a = d.wait_access("/b-social")
        assert (a.code, a.status, a.user) == ("TCP_DENIED", 403, "bob"), a.raw
        assert _metric(d, "squidlike_ldap_errors_total") == 0
        # the answers came from slapd, through the proxy's bind, with the
        # user's DN found first (the %u_dn filters)
        found = s.searches()
        assert "(&(objectClass=groupOfNames)(cn=staff)"\
               "(member=uid=alice,ou=people,dc=corp,dc=test))" in found, found
        assert "(&(objectClass=inetOrgPerson)(uid=bob))" in found, found
    got = [r.target for r in o.requests]
    assert set(got) == {"/a-intranet", "/a-social", "/a-work", "/b-work", "/c-social"}, got


def test_cache_avoids_lookups():
    _need_tools()
    s = Slapd()
    o = ScriptedOrigin()
    with Daemon(_conf([s.uri]), dns=_dns()) as d:
        _expect(d, o, [("alice", "work.test", "/first", 200)])
        # alice's first request asked for interns (rule 1) and staff (rule
        # 2): two lookups, each a DN search and a group search
        assert _metric(d, "squidlike_ldap_lookups_total") == 2
        first = s.searches()
        assert len(first) == 4, first
        for i in range(20):
            host = ("work.test", "intranet.test", "social.test")[i % 3]
            _expect(d, o, [("alice", host, "/again-%d" % i, 200)])
        assert _metric(d, "squidlike_ldap_lookups_total") == 2
        assert s.searches() == first, "slapd was asked again: %r" % s.searches()[4:]
        # several clients at once for one new user: one lookup each ACL
        results = []

        def one(i):
            results.append(_get(d, o, "intranet.test", "/burst-%d" % i, "bob").status)
        th = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in th:
            t.start()
        for t in th:
            t.join(60)
        assert results == [403] * 8, results
        lookups = _metric(d, "squidlike_ldap_lookups_total")
        assert lookups == 4, "8 clients at once made %d lookups for bob" % (lookups - 2)
        h.log("8 concurrent clients for one user: %d lookups, %d shared waits" % (
            lookups - 2, _metric(d, "squidlike_ldap_shared_total")))


def test_directory_down():
    _need_tools()
    s = Slapd()
    o = ScriptedOrigin()
    with Daemon(_conf([s.uri], error_ttl="1h"), dns=_dns()) as d:
        _expect(d, o, [("alice", "intranet.test", "/up", 200)])
        s.stop()
        # carol, dave, eve: nobody could look them up. "deny interns
        # social" still denies (the unknown counts against them), "allow
        # staff intranet" does not allow, and the rest is unchanged.
        for user in ("carol", "dave", "eve"):
            _expect(d, o, [
                (user, "social.test", "/down-social-" + user, 403),
                (user, "intranet.test", "/down-intranet-" + user, 403),
                (user, "work.test", "/down-work-" + user, 200),
            ])
        a = d.wait_access("/down-social-carol")
        assert (a.code, a.status) == ("TCP_DENIED", 403), a.raw
        # alice's answers are still in the cache: the outage does not touch her
        _expect(d, o, [("alice", "intranet.test", "/cached", 200)])
        errors = _metric(d, "squidlike_ldap_errors_total")
        assert errors >= 3, errors
        warn = [ln for ln in d.error_log().splitlines() if "directory unavailable" in ln]
        assert len(warn) == 1, "expected one warning for %d failures: %r" % (errors, warn)
        assert s.uri.rstrip("/") in warn[0] and "deny rules" in warn[0], warn[0]
    assert "/down-social-carol" not in {r.target for r in o.requests}


def test_warning_per_interval():
    """The next warning comes once warn_interval has passed, counting the
    failures it did not report one by one."""
    _need_tools()
    o = ScriptedOrigin()
    with Daemon(_conf([_dead_uri()], warn_interval="5s", error_ttl="1h"),
                dns=_dns()) as d:
        t0 = time.monotonic()
        _expect(d, o, [("carol", "work.test", "/w1", 200),       # 2 lookups fail
                       ("dave", "work.test", "/w2", 200)])       # 2 more
        lines = lambda: [ln for ln in d.error_log().splitlines()
                         if "directory unavailable" in ln]
        assert len(lines()) == 1, lines()
        assert "0 more failures" in lines()[0], lines()[0]
        assert time.monotonic() - t0 < 5.0, "too slow to test a 5 s interval"
        # the interval itself is what is tested: wait it out
        h.wait_until(lambda: time.monotonic() - t0 > 5.2, 15, what="5 s")
        _expect(d, o, [("eve", "work.test", "/w3", 200)])
        h.wait_until(lambda: len(lines()) == 2, 10, what="the second warning")
        assert "3 more failures since the last warning" in lines()[1], lines()[1]
        assert _metric(d, "squidlike_ldap_errors_total") == 6


class SilentServer:
    """Accepts connections and never answers: a directory that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()
        h.register_cleanup("silent", self.close)

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.th.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def test_slow_directory():
    _need_tools()
    silent = SilentServer()
    o = ScriptedOrigin()
    uri = "ldap://127.0.0.1:%d/" % silent.port
    with Daemon(_conf([uri], timeout="2s"), dns=_dns()) as d:
        # a client that leaves while its lookup runs is closed at once
        c = h.RawConn(d.port)
        cred = base64.b64encode(("bob:" + USERS["bob"]).encode()).decode()
        c.send(("GET http://work.test:%d/leaver HTTP/1.1\r\nHost: work.test\r\n"
                "Proxy-Authorization: Basic %s\r\n\r\n" % (o.port, cred)).encode())
        h.wait_until(lambda: _metric(d, "squidlike_ldap_lookups_in_flight") == 1, 10,
                     what="bob's lookup under way")
        c.close()
        h.wait_until(lambda: "left while waiting on an ACL lookup" in d.error_log(), 10,
                     what="the leaver closed")
        # its lookup ends on its own (timeout) and touches nobody
        h.wait_until(lambda: _metric(d, "squidlike_ldap_lookups_in_flight") == 0, 30,
                     what="the leaver's lookup ended")
        assert "/leaver" not in {r.target for r in o.requests}
        t0 = time.monotonic()
        box = {}

        def slow():
            box["r"] = _get(d, o, "work.test", "/slow", "alice")
            box["t"] = time.monotonic() - t0
        th = threading.Thread(target=slow)
        th.start()
        h.wait_until(lambda: _metric(d, "squidlike_ldap_lookups_in_flight") == 1, 10,
                     what="alice's lookup under way")
        # the loop is free: others are answered while the lookup hangs
        t1 = time.monotonic()
        r = h.proxy_request(d, "GET", "/metrics")
        took = time.monotonic() - t1
        assert r.status == 200 and took < 1.0, (r.brief(), took)
        th.join(60)
        # no answer within the timeout: unknown, so "allow authed" decides
        # (two lookups of 2 s: interns for rule 1, staff for rule 2)
        assert box["r"].status == 200, box["r"].brief()
        assert 3.0 < box["t"] < 30, box["t"]
        h.log("a hanging directory (timeout 2s): answered in %.1fs, /metrics meanwhile "
              "in %.0f ms" % (box["t"], took * 1000))
        _expect(d, o, [("carol", "intranet.test", "/after", 403)])


def test_hostile_user_name():
    _need_tools()
    s = Slapd()
    o = ScriptedOrigin()
    raw = "(&(objectClass=posixGroup)(cn=pstaff)(memberUid=%s))" % HOSTILE
    # the premise: put in unescaped, this name makes the filter match
    assert s.search(raw) == ["cn=pstaff," + SUFFIX], s.search(raw)
    with Daemon(_conf([s.uri], posix=True), dns=_dns()) as d:
        _expect(d, o, [
            ("alice", "intranet.test", "/alice", 200),          # memberUid alice
            (HOSTILE, "intranet.test", "/hostile", 403),
            (HOSTILE, "work.test", "/hostile-work", 200),
        ])
        found = s.searches()
        want = "(&(objectClass=posixGroup)(cn=pstaff)(memberUid=\\2A\\29\\28memberUid=\\2A))"
        assert any(f.lower() == want.lower() for f in found), found
        assert not any("memberUid=*" in f for f in found), found


def _openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def _ca(d, name):
    """A CA (name.pem, name.key) in d."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".pem"),
             "-days", "2", "-subj", "/CN=" + name)
    return os.path.join(d, name + ".pem")


def _server_cert(d, ca):
    key, csr, pem, ext = (os.path.join(d, "srv." + x) for x in ("key", "csr", "pem", "ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=127.0.0.1")
    _openssl("x509", "-req", "-in", csr, "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext)
    return pem, key


def test_tls():
    """LDAPS and StartTLS, the directory's certificate verified against
    ldap.ca_file; a certificate from another CA: the directory counts as
    unavailable (never spoken to in the clear)."""
    _need_tools()
    d = h.subdir("pki")
    ca = _ca(d, "corp-ca")
    other = _ca(d, "other-ca")
    cert, key = _server_cert(d, os.path.join(d, "corp-ca"))
    s = Slapd(tls=(ca, cert, key))
    o = ScriptedOrigin()
    with Daemon(_conf([s.tls_uri], ca_file=ca), dns=_dns()) as p:
        _expect(p, o, [("alice", "intranet.test", "/ldaps", 200),
                       ("bob", "intranet.test", "/ldaps-bob", 403)])
        assert _metric(p, "squidlike_ldap_errors_total") == 0
    with Daemon(_conf([s.uri], ca_file=ca, start_tls=True), dns=_dns(),
                name="starttls") as p:
        _expect(p, o, [("alice", "intranet.test", "/starttls", 200)])
        assert _metric(p, "squidlike_ldap_errors_total") == 0
    before = len(s.searches())
    for name, uri, more in (("wrong-ca", s.tls_uri, {}),
                            ("wrong-ca-starttls", s.uri, {"start_tls": True})):
        with Daemon(_conf([uri], ca_file=other, error_ttl="1h", **more), dns=_dns(),
                    name=name) as p:
            _expect(p, o, [("alice", "intranet.test", "/%s" % name, 403),
                           ("alice", "work.test", "/%s-work" % name, 200)])
            assert _metric(p, "squidlike_ldap_errors_total") >= 1
            warn = [ln for ln in p.error_log().splitlines() if "directory unavailable" in ln]
            assert len(warn) == 1 and uri.rstrip("/") in warn[0], warn
            h.log("%s: %s" % (name, warn[0][warn[0].index("directory"):][:160]))
    assert len(s.searches()) == before, "a search went out over an unverified connection"


def test_reload():
    """A reload starts with no answers (the new snapshot's cache), and a
    lookup in flight across it ends for its client on the old one."""
    _need_tools()
    s = Slapd()
    silent = SilentServer()
    o = ScriptedOrigin()
    with Daemon(_conf([s.uri]), dns=_dns()) as d:
        _expect(d, o, [("alice", "intranet.test", "/r1", 200)])
        assert _metric(d, "squidlike_ldap_lookups_total") == 2
        assert d.reload() == "reloaded", d.last_reload_line
        _expect(d, o, [("alice", "intranet.test", "/r2", 200)])
        assert _metric(d, "squidlike_ldap_lookups_total") == 4
        # now a directory that hangs, and a reload while a client waits
        d.write_conf(_conf(["ldap://127.0.0.1:%d/" % silent.port], timeout="2s"))
        assert d.reload() == "reloaded", d.last_reload_line
        box = {}
        th = threading.Thread(target=lambda: box.update(
            r=_get(d, o, "work.test", "/r3", "carol")))
        th.start()
        h.wait_until(lambda: _metric(d, "squidlike_ldap_lookups_in_flight") == 1, 10,
                     what="carol's lookup under way")
        d.write_conf(_conf([s.uri]))
        assert d.reload() == "reloaded", d.last_reload_line
        # a new request takes the new snapshot (slapd) at once
        _expect(d, o, [("bob", "intranet.test", "/r4", 403)])
        th.join(60)
        assert box["r"].status == 200, box["r"].brief()      # unknown: allow authed
        h.wait_until(lambda: _metric(d, "squidlike_ldap_lookups_in_flight") == 0, 30,
                     what="the old snapshot's lookups ended")


def test_nested_groups():
    """nested_filter: staff is a member of employees, so alice (in staff)
    is in employees; a cycle of groups (loop-a and loop-b, each in the
    other) ends; bob (interns) is in neither. Without nested_filter only
    direct membership counts."""
    _need_tools()
    s = Slapd()
    o = ScriptedOrigin()
    nested = "(&(objectClass=groupOfNames)(member=%u_dn))"
    for nest in (True, False):
        conf = _conf([s.uri], **({"nested_filter": nested} if nest else {}))
        conf["acls"] += [{"name": "employees", "type": "ldap_group", "values": ["employees"]},
                         {"name": "looped", "type": "ldap_group", "values": ["loop-b"]}]
        conf["http_access"] = ["allow employees intranet", "allow looped social",
                               "deny all"]
        want = 200 if nest else 403
        with Daemon(conf, dns=_dns(), name="nested" if nest else "flat") as d:
            _expect(d, o, [("alice", "intranet.test", "/emp-%s" % nest, want),
                           ("alice", "social.test", "/loop-%s" % nest, want),
                           ("bob", "intranet.test", "/emp-bob-%s" % nest, 403),
                           ("bob", "social.test", "/loop-bob-%s" % nest, 403)])
            assert _metric(d, "squidlike_ldap_errors_total") == 0
    found = s.searches()
    assert "(&(objectClass=groupOfNames)(member=cn=loop-a,dc=corp,dc=test))" in found, found
    assert any(f.startswith("(|(&(objectClass=groupOfNames)(cn=employees)(member=")
               for f in found), found


def test_connect():
    """A CONNECT waits for the group lookup like any request: staff get
    their tunnel to intranet.test, an intern gets a 403 to the CONNECT."""
    _need_tools()
    if not shutil.which("nginx"):
        raise h.Skip("nginx not installed")
    s = Slapd()
    t = h.TlsOrigin()
    with Daemon(_conf([s.uri]), dns=_dns()) as d:
        url = "https://intranet.test:%d/" % t.port
        r, resp = h.fetch(url, "-k", "-p", "--proxy-user", "alice:alice-pw", proxy=d)
        assert r.rc == 0, "alice's tunnel: %s" % r.err
        assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
        a = d.wait_access("CONNECT", "TCP_TUNNEL/200")
        assert a.user == "alice", a.raw
        r, resp = h.fetch(url, "-k", "-p", "--proxy-user", "bob:bob-pw", proxy=d)
        assert r.rc != 0 and resp is not None and resp.blocks[0].status == 403, r.err
        a = d.wait_access("CONNECT", "TCP_DENIED/403")
        assert a.user == "bob", a.raw
        assert _metric(d, "squidlike_ldap_lookups_total") == 4


def test_parse_errors():
    """-k parse names the file, the line and what is wrong."""
    d = h.subdir("parse")
    secret = _secret()
    good = ('auth: { file = "%s"; };\n'
            'ldap: {\n'
            '  uri = [ "ldap://127.0.0.1:1/", "ldaps://dc2.corp.test/" ];\n'
            '  base_dn = "dc=corp,dc=test";\n'
            '  bind_dn = "cn=proxy,dc=corp,dc=test";\n'
            '  bind_password_file = "%s";\n'
            '  group_filter = "(&(objectClass=group)(cn=%%g)(member=%%u_dn))";\n'
            '};\n'
            'acls = ( { name = "staff"; type = "ldap_group"; values = [ "Staff" ]; } );\n'
            'http_access = [ "allow staff" ];\n' % (_htpasswd(), secret))
    bad = [
        (good.replace('"ldaps://dc2', '"http://dc2'), 3, "ldap://HOST"),
        (good.replace("(member=%u_dn))", "(member=%u_dn)"), 7, "unbalanced"),
        (good.replace("(cn=%g)", "(cn=%x)"), 7, "unknown placeholder"),
        (good.replace("(cn=%g)", "(cn=staff)"), 7, "does not use %g"),
        (good.replace(secret, "/nonexistent/secret"), 6, "/nonexistent/secret"),
        (good.replace('  base_dn = "dc=corp,dc=test";\n', ""), 2, "without 'base_dn'"),
        (good.replace('  bind_dn = "cn=proxy,dc=corp,dc=test";\n', ""), 2,
         "go together"),
        (good.replace("ldap: {", "ldap: {\n  start_tls = true;"), 2, "start_tls"),
        (good.replace("ldap: {", "ldap: {\n  threads = 0;"), 3, "'threads'"),
        (good.replace("ldap: {", "ldap: {\n  user_filter = \"(dn=%u_dn)\";"), 3,
         "cannot use %u_dn"),
        (good.replace("ldap: {", "ldap: {\n  colour = 1;"), 3, "unknown setting 'colour'"),
        (good.replace("ldap: {", "ldap: {\n  nested_filter = \"(member=%u)\";"), 3,
         "must use %u_dn"),
        (good.replace("ldap: {", "ldap: {\n  nested_filter = \"(member=%u_dn)\";")
             .replace("(member=%u_dn))", "(memberUid=%u))"), 2,
         "nested_filter needs a group_filter with %u_dn"),
        (good.replace('values = [ "Staff" ]', 'values = [ "a\\tb" ]'), 9, "bad group name"),
        (good[good.index("acls"):], 1, "needs an 'ldap' group"),
        (good[good.index("ldap:"):], 8, "needs an 'auth' group"),
    ]
    for i, (text, line, what) in enumerate(bad):
        path = os.path.join(d, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (what, err)
        want = "%s:%d:" % (path, line)
        assert want in err and what in err, (what, want, err)
    path = os.path.join(d, "good.conf")
    with open(path, "w") as f:
        f.write(good)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


h.run(globals(), requires=("curl",))

#!/usr/bin/env python3
"""The access log in each access_log_format (squid, common, combined,
json): every line of a known sequence of transactions (a miss with a
hostile URL, Referer and User-Agent, a cache hit, a category block, a
CONNECT tunnel whose TLS server name was peeked, an unparsable request)
checked field by field; the format switched by a reload; `-k reopen` after
a rename; the shipped logrotate rules (logrotate -d, then a forced
rotation against the running daemon) and systemd unit
(systemd-analyze verify, when it can run here)."""

import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, RawConn, Response, ScriptedOrigin, TcpServer  # noqa: E402

BODY = b"logged body\n"
# What a hostile client puts where a log line could be forged: quotes to
# close the field, a backslash to eat the escape, a TAB (the one control
# byte a field value may carry), text that looks like the next fields.
EVIL_REFERER = 'http://ref.test/"x\\y\tz'
EVIL_AGENT = 'Evil "UA" 1.0\\" 200 99 "-" "x" TCP_HIT:HIER_NONE'
EVIL_PATH = '/a"b\\c\xe9'       # '"', '\' and obs-text are legal in a target
SNI = "tunnel.test"


def _esc_quoted(s):
    """The quoted-field escaping of common/combined (logfmt.c)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\t\r\n":
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}[ch])
        elif ord(ch) < 0x20 or ord(ch) >= 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def _esc_token(s):
    """The space-separated-field escaping of the squid format."""
    return "".join("%%%02X" % ord(ch) if ord(ch) <= 0x20 or ord(ch) >= 0x7f or ch in '"\\'
                   else ch for ch in s)


def _blocklists():
    d = h.subdir("blocklists")
    os.makedirs(os.path.join(d, "adult"))
    with open(os.path.join(d, "adult", "domains"), "w") as f:
        f.write("bad.test\n")
    return d


def _conf(fmt, tunnel_port):
    return {
        "access_log_format": fmt,
        "access.connect_ports": [443, tunnel_port],
        "blocklists": {"dir": _blocklists()},
        "acls": [{"name": "porn", "type": "category", "values": ["adult"]},
                 # Any server_name rule makes every CONNECT peek at the SNI.
                 {"name": "bad_sni", "type": "server_name", "values": ["blocked.test"]}],
        "http_access": ["deny !Safe_ports", "deny CONNECT !SSL_ports", "deny porn",
                        "deny bad_sni", "allow localnet", "deny all"],
    }


def _client_hello(sni):
    """The bytes of a real ClientHello naming sni (from Python's ssl)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Run:
    """One daemon in one format and the transactions it logged, in order.
    Each transaction waits for its own line before the next starts, so the
    log's order is known. Remembers what each client received (bytes)."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.origin = ScriptedOrigin(lambda req: Response(
            200, BODY, headers=[("Content-Type", "text/plain"),
                                ("Cache-Control", "max-age=600")]))

        def tunnel(sock, serial):
            sock.settimeout(10)
            got = b""
            while len(got) < 5 or not got.startswith(b"\x16"):
                b = sock.recv(65536)
                if not b:
                    break
                got += b
            sock.sendall(b"pong")
        self.tun = TcpServer(tunnel)
        self.dns = DnsStub({n: {"A": [("127.0.0.1", 60)]} for n in ("www.test", "bad.test")})
        self.d = Daemon(_conf(fmt, self.tun.port), dns=self.dns)
        self.url = "http://www.test:%d%s" % (self.origin.port, EVIL_PATH)
        self.sent = []          # bytes each client received, in log order
        self.lines = []

    def _wait_line(self):
        n = len(self.lines) + 1
        lines = self.d.access_log_lines(lambda ls: len(ls) >= n,
                                        what="access log line %d" % n)
        assert len(lines) == n, "more lines than transactions:\n" + "\n".join(lines)
        self.lines = lines

    def _get(self, url, headers):
        with RawConn(self.d.port) as c:
            c.send(h.build_request("GET", url, list(headers) + [("Connection", "close")]))
            r = c.recv_response("GET")
        self.sent.append(len(r.raw_head) + len(r.body))
        self._wait_line()
        return r

    def go(self):
        r = self._get(self.url, [("Referer", EVIL_REFERER), ("User-Agent", EVIL_AGENT)])
        assert r.status == 200 and r.body == BODY, r.brief()
        r = self._get(self.url, [("User-Agent", "hit-agent/1.0")])
        assert r.status == 200 and r.body == BODY, r.brief()
        assert "hit" in (r.header("Cache-Status") or ""), r.headers
        r = self._get("http://bad.test/x", [("User-Agent", "blocked-agent")])
        assert r.status == 403, r.brief()
        # A tunnel: our 200, then a ClientHello (peeked for its SNI, then
        # passed on), "pong" back, the server closes.
        target = "127.0.0.1:%d" % self.tun.port
        with RawConn(self.d.port) as c:
            c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tunnel-agent\r\n\r\n"
                   % (target, target))
            r = c.recv_response("CONNECT")
            assert r.status == 200, r.brief()
            c.send(_client_hello(SNI))
            assert c.closed(20), "tunnel not closed after the server closed"
            assert bytes(c.rd.buf) == b"pong", bytes(c.rd.buf)
        self.sent.append(len(r.raw_head) + 4)
        self._wait_line()
        # Not HTTP at all.
        with RawConn(self.d.port) as c:
            c.send(b"HELLO\r\n\r\n")
            r = c.recv_response("GET")
            assert r.status == 400, r.brief()
            c.closed(10)
        self.sent.append(len(r.raw_head) + len(r.body))
        self._wait_line()
        return self.lines


def _expected(run):
    """What each line must say, in log order (None: null / "-")."""
    u = run.url
    tun = "127.0.0.1:%d" % run.tun.port
    return [
        dict(code="TCP_MISS", status=200, method="GET", url=u, version="1.1",
             hier="HIER_DIRECT", peer="127.0.0.1", type="text/plain",
             rule="allow localnet", category=None, cache_status=r"fwd=uri-miss; stored",
             host="www.test", sni=None, referer=EVIL_REFERER, user_agent=EVIL_AGENT),
        dict(code="TCP_HIT", status=200, method="GET", url=u, version="1.1",
             hier="HIER_NONE", peer=None, type="text/plain", rule="allow localnet",
             category=None, cache_status=r"hit; ttl=\d+", host="www.test", sni=None,
             referer=None, user_agent="hit-agent/1.0"),
        dict(code="TCP_DENIED", status=403, method="GET", url="http://bad.test/x",
             version="1.1", hier="HIER_NONE", peer=None, type="text/html",
             rule="deny porn", category="adult", cache_status=None, host="bad.test",
             sni=None, referer=None, user_agent="blocked-agent"),
        dict(code="TCP_TUNNEL", status=200, method="CONNECT", url=tun, version="1.1",
             hier="HIER_DIRECT", peer="127.0.0.1", type=None, rule="allow localnet",
             category=None, cache_status=None, host="127.0.0.1", sni=SNI,
             referer=None, user_agent="tunnel-agent"),
        # Squid's line for a request it could not parse.
        dict(code="NONE_NONE", status=400, method="NONE", url="error:invalid-request",
             version=None, hier="HIER_NONE", peer=None, type="text/html", rule=None,
             category=None, cache_status=None, host=None, sni=None, referer=None,
             user_agent=None),
    ]


def _near_now(t, what):
    assert abs(t - time.time()) < 300, "%s: time %s is not now" % (what, t)


def _match(rx, line, i):
    m = re.fullmatch(rx, line)
    assert m, "line %d does not match\n  line:    %r\n  pattern: %r" % (i + 1, line, rx)
    return m


TIME_SQUID = r"(\d+\.\d{3}) +\d+ "
TIME_HTTPD = r"\[(\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}" \
             r":\d{2}:\d{2}:\d{2} [+-]\d{4})\]"


def _check_text(run, lines):
    exp = _expected(run)
    assert len(lines) == len(exp), "\n".join(lines)
    for i, (ln, e) in enumerate(zip(lines, exp)):
        tok = lambda v: re.escape(_esc_token(v) if v else "-")     # noqa: E731
        quo = lambda v: re.escape(_esc_quoted(v) if v else "-")    # noqa: E731
        if run.fmt == "squid":
            # %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
            rx = (TIME_SQUID + r"127\.0\.0\.1 %s/%03d %d %s %s - %s/%s %s"
                  % (e["code"], e["status"], run.sent[i], e["method"], tok(e["url"]),
                     e["hier"], tok(e["peer"]), tok(e["type"])))
            m = _match(rx, ln, i)
            _near_now(float(m.group(1)), ln)
            continue
        # %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st
        rx = (r"127\.0\.0\.1 - - " + TIME_HTTPD + r' "%s %s HTTP/%s" %d %d '
              % (e["method"], quo(e["url"]), re.escape(e["version"] or "0.0"),
                 e["status"], run.sent[i]))
        if run.fmt == "combined":
            rx += r'"%s" "%s" ' % (quo(e["referer"]), quo(e["user_agent"]))
        rx += r"%s:%s" % (e["code"], e["hier"])
        m = _match(rx, ln, i)
        t = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
        _near_now(t, ln)
        assert m.group(1).endswith(time.strftime(" %z", time.localtime(t))), \
            "not in local time: " + ln


JSON_KEYS = ["time", "elapsed_ms", "status", "bytes", "client", "code", "method",
             "url", "version", "user", "hier", "peer", "type", "rule", "category",
             "cache_status", "host", "sni", "referer", "user_agent",
             "vhost", "route", "route_index", "backend", "request_id", "consumer"]


def _check_json(run, lines):
    exp = _expected(run)
    assert len(lines) == len(exp), "\n".join(lines)
    for i, (ln, e) in enumerate(zip(lines, exp)):
        try:
            o = json.loads(ln)
        except ValueError as err:
            raise h.TestFailure("line %d is not JSON (%s): %r" % (i + 1, err, ln))
        assert list(o) == JSON_KEYS, "line %d keys %s" % (i + 1, list(o))
        assert isinstance(o["time"], float), ln
        _near_now(o["time"], ln)
        assert isinstance(o["elapsed_ms"], int) and o["elapsed_ms"] >= 0, ln
        assert o["bytes"] == run.sent[i], "line %d: bytes %s, client got %d" % (
            i + 1, o["bytes"], run.sent[i])
        assert o["client"] == "127.0.0.1" and o["user"] is None, ln
        # reverse mode's fields: a forward request has none of them
        assert [o[k] for k in JSON_KEYS[-4:]] == [None] * 4, ln
        for k, v in e.items():
            if k == "cache_status" and v is not None:
                assert o[k] is not None and re.fullmatch(v, o[k]), \
                    "line %d: cache_status %r, expected %r" % (i + 1, o[k], v)
            else:
                assert o[k] == v, "line %d: %s is %r, expected %r\n%s" % (i + 1, k, o[k], v, ln)


def _format_test(fmt):
    run = Run(fmt)
    lines = run.go()
    for ln in lines:
        h.log(ln)
    (_check_json if fmt == "json" else _check_text)(run, lines)
    run.d.stop()


def test_format_squid():
    _format_test("squid")


def test_format_common():
    _format_test("common")


def test_format_combined():
    _format_test("combined")


def test_format_json():
    _format_test("json")


def test_long_headers_kept_capped():
    """Referer and User-Agent are kept to their first 512 bytes."""
    o = ScriptedOrigin()
    with Daemon({"access_log_format": "json"}) as d:
        r = h.proxy_request(d, "GET", o.url("/long"), headers=[
            ("Referer", "http://r.test/" + "r" * 3000), ("User-Agent", "u" * 3000)])
        assert r.status == 200, r.brief()
        lines = d.access_log_lines(lambda ls: len(ls) >= 1, what="a line")
        e = json.loads(lines[0])
        assert e["referer"] == ("http://r.test/" + "r" * 3000)[:512], e["referer"]
        assert e["user_agent"] == "u" * 512, len(e["user_agent"])


def test_format_follows_reload():
    """A reload to another format: the next line is in the new one."""
    o = ScriptedOrigin()
    with Daemon() as d:
        assert h.proxy_request(d, "GET", o.url("/one")).status == 200
        d.wait_access("/one")
        d.write_conf({"access_log_format": "json"})
        assert d.reload() == "reloaded", d.last_reload_line
        assert h.proxy_request(d, "GET", o.url("/two")).status == 200
        lines = d.access_log_lines(lambda ls: len(ls) >= 2, what="2 lines")
        assert h.parse_access_line(lines[0]).url == o.url("/one"), lines
        assert json.loads(lines[1])["url"] == o.url("/two"), lines


def _write_after(d, path, tag):
    """Send requests until one tagged line shows up in path (bounded)."""
    o = ScriptedOrigin()
    n = [0]

    def landed():
        n[0] += 1
        assert h.proxy_request(d, "GET", o.url("/%s-%d" % (tag, n[0]))).status == 200
        try:
            with open(path) as f:
                return "/%s-" % tag in f.read()
        except FileNotFoundError:
            return False
    h.wait_until(landed, 15, interval=0.05, what="a /%s- line in %s" % (tag, path))


def test_k_reopen_after_rename():
    o = ScriptedOrigin()
    with Daemon() as d:
        assert h.proxy_request(d, "GET", o.url("/before")).status == 200
        d.wait_access("/before")
        old = d.access_log_path + ".1"
        os.rename(d.access_log_path, old)
        r = subprocess.run([d.binary, "-f", d.conf_path, "-k", "reopen"],
                           capture_output=True, timeout=30, env=h.child_env())
        assert r.returncode == 0, "-k reopen: exit %d: %s" % (r.returncode, r.stderr)
        h.wait_until(lambda: "logs reopened" in d.error_log(), 10,
                     what="'logs reopened' in the error log")
        _write_after(d, d.access_log_path, "after")
        with open(old) as f:
            text = f.read()
        assert "/before" in text and "/after-" not in text, text
        with open(d.access_log_path) as f:
            assert "/before" not in f.read()


# --- the shipped operating files -----------------------------------------

def _render(name, sbindir, sysconfdir, localstatedir):
    """etc/NAME with its @...@ paths filled in, as etc/local.mk does."""
    with open(os.path.join(h.srcdir(), "etc", name)) as f:
        text = f.read()
    for k, v in (("sbindir", sbindir), ("sysconfdir", sysconfdir),
                 ("localstatedir", localstatedir)):
        text = text.replace("@%s@" % k, v)
    left = re.findall(r"@\w+@", text)
    assert not left, "names etc/local.mk does not fill in: %s" % left
    return text


def _logrotate(conf, state, *args):
    return subprocess.run(["logrotate", "-s", state] + list(args) + [conf],
                          capture_output=True, timeout=60, env=h.child_env())


def test_logrotate_rules():
    if not shutil.which("logrotate"):
        raise h.Skip("logrotate not installed (debian-packages, test: line)")
    var = h.subdir("localstate")
    log = os.path.join(var, "log", "squidlike", "access.log")
    with Daemon({"access_log": log}) as d:
        conf = os.path.join(h.subdir("logrotate"), "squidlike")
        with open(conf, "w") as f:
            f.write(_render("logrotate.d/squidlike", os.path.dirname(d.binary),
                            os.path.dirname(d.conf_path), var))
        os.chmod(conf, 0o644)           # logrotate refuses writable rules
        state = os.path.join(os.path.dirname(conf), "state")
        o = ScriptedOrigin()
        assert h.proxy_request(d, "GET", o.url("/rot-before")).status == 200
        d.wait_access("/rot-before")
        # The debug run parses the rules and says what it would do.
        r = _logrotate(conf, state, "-d")
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode == 0, "logrotate -d: exit %d:\n%s" % (r.returncode, out)
        assert "error" not in out.lower(), out
        assert "rotating pattern: %s/log/squidlike/*.log" % var in out, out
        assert "after 1 days (14 rotations)" in out, out
        assert "empty log files are not rotated" in out, out
        # A forced run renames the file and, through postrotate, makes the
        # running daemon reopen: new lines go to a new file.
        r = _logrotate(conf, state, "-f")
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode == 0, "logrotate -f: exit %d:\n%s" % (r.returncode, out)
        assert os.path.exists(log + ".1"), os.listdir(os.path.dirname(log))
        h.wait_until(lambda: "logs reopened" in d.error_log(), 10,
                     what="'logs reopened' after logrotate's postrotate")
        _write_after(d, log, "rot-after")
        with open(log + ".1") as f:
            text = f.read()
        assert "/rot-before" in text and "/rot-after" not in text, text


def test_systemd_unit():
    text = _render("squidlike.service", os.path.dirname(h.daemon_binary()),
                   "/etc", "/var")
    for want in ("Type=notify", "NotifyAccess=all", "KillMode=mixed", "ExecReload=/bin/kill -HUP $MAINPID",
                 "NoNewPrivileges=yes", "ProtectSystem=full", "PrivateTmp=yes",
                 "LimitNOFILE=", "WantedBy=multi-user.target"):
        assert want in text, "unit lacks %s" % want
    assert "ExecStart=%s -f /etc/squidlike.conf" % h.daemon_binary() in text, text
    tool = shutil.which("systemd-analyze")
    if not tool:
        raise h.Skip("systemd-analyze not installed: the unit was not verified")
    d = h.subdir("units")
    # First a unit that cannot be wrong: if even it fails, this container
    # cannot run systemd-analyze, which says nothing about ours.
    with open(os.path.join(d, "sl-probe.service"), "w") as f:
        f.write("[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n")
    try:
        r = subprocess.run([tool, "verify", "--man=no", os.path.join(d, "sl-probe.service")],
                           capture_output=True, timeout=120, env=h.child_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        raise h.Skip("systemd-analyze cannot run here: %s" % e)
    if r.returncode != 0 or r.stderr.strip():
        raise h.Skip("systemd-analyze cannot verify units here (probe: exit %d: %s)"
                     % (r.returncode, r.stderr.decode(errors="replace").strip()[:300]))
    unit = os.path.join(d, "squidlike.service")
    with open(unit, "w") as f:
        f.write(text)
    r = subprocess.run([tool, "verify", "--man=no", unit], capture_output=True,
                       timeout=120, env=h.child_env())
    err = r.stderr.decode(errors="replace").strip()
    assert r.returncode == 0 and not err, "systemd-analyze verify: exit %d:\n%s" % (
        r.returncode, err)


def test_systemd_notify_ready():
    """Type=notify: the daemon sends READY=1 to $NOTIFY_SOCKET once it
    listens."""
    import socket
    path = os.path.join(h.subdir("notify"), "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    try:
        env = dict(os.environ, NOTIFY_SOCKET=path)
        d = h.Daemon(env=env)
        msg = s.recv(4096).decode()
        assert msg.split("\n")[0] == "READY=1", msg
        d.stop()
    finally:
        s.close()


if __name__ == "__main__":
    h.run(globals())

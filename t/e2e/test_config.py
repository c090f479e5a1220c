#!/usr/bin/env python3
"""The command line and the shipped configuration: etc/squidlike.conf runs
as it is from a fresh directory (relative var/ paths, -a overriding the
listen list), -k parse, -v, -k reconfigure / shutdown via the pid file."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, ScriptedOrigin  # noqa: E402


def _run(args, cwd=None, timeout=30):
    r = subprocess.run([h.daemon_binary()] + list(args), cwd=cwd or h.tmpdir(),
                       capture_output=True, timeout=timeout, env=h.child_env())
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def test_version():
    rc, out = _run(["-v"])
    assert rc == 0, "-v exited %d: %s" % (rc, out)
    assert re.search(r"squidlike\s+\d+\.\d+", out), "-v printed %r" % out


def test_parse_shipped_config():
    rc, out = _run(["-k", "parse", "-f", h.shipped_conf_path()])
    assert rc == 0, "shipped config rejected (%d): %s" % (rc, out)
    assert "AddressSanitizer" not in out and "runtime error:" not in out, out


def test_parse_broken_configs():
    good = h.shipped_conf_text()
    lines = good.splitlines()
    cases = [
        ("syntax", "\n".join(lines[:4] + ["listen = [ \"127.0.0.1:3128\" "] + lines[4:]) + "\n"),
        ("unknown setting", good + "\nhttp2: { enabled = true; };\n"),
        ("bad duration", re.sub(r'client_idle\s*=\s*"[^"]*"', 'client_idle = "soon"', good)),
        ("bad size", re.sub(r'buffer_size\s*=\s*"[^"]*"', 'buffer_size = "lots"', good)),
        ("bad network", re.sub(r'"10\.0\.0\.0/8"', '"10.0.0.0/33"', good)),
        ("bad forwarded_for", re.sub(r'forwarded_for\s*=\s*"[^"]*"', 'forwarded_for = "maybe"', good)),
    ]
    for what, text in cases:
        assert text != good, "test bug: %s did not change the file" % what
        path = os.path.join(h.tmpdir(), "bad-%s.conf" % what.replace(" ", "-"))
        with open(path, "w") as f:
            f.write(text)
        rc, out = _run(["-k", "parse", "-f", path])
        assert rc != 0, "%s accepted by -k parse" % what
        assert re.search(re.escape(os.path.basename(path)) + r":\d+", out), \
            "%s: message without FILE:LINE: %r" % (what, out)
        assert "AddressSanitizer" not in out and "runtime error:" not in out, out


def test_missing_config_file():
    rc, out = _run(["-k", "parse", "-f", os.path.join(h.tmpdir(), "nope.conf")])
    assert rc != 0 and "nope.conf" in out, (rc, out)


def test_shipped_config_runs_as_is():
    o = ScriptedOrigin()
    d = Daemon(conf_text=h.shipped_conf_text(), name="shipped")
    try:
        # Ready on d.port although the file says 3128: -a took over.
        r = h.proxy_request(d, "GET", o.url("/shipped"))
        assert r.status == 200, r.brief()
        d.wait_access("/shipped", "TCP_MISS/200")
        assert d.access_log_path == os.path.join(d.dir, "var", "log", "access.log")
        pidfile = os.path.join(d.dir, "var", "run", "squidlike.pid")
        h.wait_until(lambda: os.path.isfile(pidfile), 10, what="pid file")
        with open(pidfile) as f:
            assert int(f.read().strip()) == d.pid, "pid file does not hold the daemon's pid"
        assert h.via_ok(o.last().header("Via"))
        # -k reconfigure and -k shutdown find the daemon through its pid file.
        rc, out = _run(["-k", "reconfigure", "-f", d.conf_path], cwd=d.dir)
        assert rc == 0, "-k reconfigure: %d %s" % (rc, out)
        h.wait_until(lambda: "reloaded" in d.error_log(), 20, what="reload after -k reconfigure")
        assert h.proxy_request(d, "GET", o.url("/after-reconfigure")).status == 200
        rc, out = _run(["-k", "shutdown", "-f", d.conf_path], cwd=d.dir)
        assert rc == 0, "-k shutdown: %d %s" % (rc, out)
        assert d.wait_exit(30) is not None, "daemon still running after -k shutdown"
    finally:
        d.stop()


def test_two_instances_in_two_directories():
    o = ScriptedOrigin()
    a = Daemon(conf_text=h.shipped_conf_text(), name="one")
    b = Daemon(conf_text=h.shipped_conf_text(), name="two")
    try:
        for d in (a, b):
            assert h.proxy_request(d, "GET", o.url("/d%d" % d.port)).status == 200
            d.wait_access("/d%d" % d.port)
        assert "/d%d" % b.port not in "\n".join(a.access_log_lines())
    finally:
        a.stop()
        b.stop()


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""SIGHUP reloads: a good changed file takes effect for the next request, a
broken file is rejected with file:line and the old config keeps serving, a
request in flight during a reload completes. SIGUSR1 reopens the logs."""

import os
import re
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402


def _xff_seen(d, o, path="/r"):
    r = h.proxy_request(d, "GET", o.url(path))
    assert r.status == 200, r.brief()
    return o.last().header_all("X-Forwarded-For")


def test_reload_good_config():
    o = ScriptedOrigin()
    with Daemon(error_log_file=True) as d:      # the log line goes to a file here
        assert _xff_seen(d, o) == []
        d.write_conf({"http.forwarded_for": "on"})
        res = d.reload()
        assert res == "reloaded", "good config: %s" % d.last_reload_line
        assert "squidlike.conf" in d.last_reload_line, d.last_reload_line
        assert _xff_seen(d, o) == ["127.0.0.1"], "new config not applied"
        # And back again.
        d.write_conf({"http.forwarded_for": "delete"})
        assert d.reload() == "reloaded", d.last_reload_line
        assert _xff_seen(d, o) == []


def _broken_variants(good):
    lines = good.splitlines()
    syntax = "\n".join(lines[:2] + ["this is = = broken;"] + lines[2:]) + "\n"
    unknown = good + "\nno_such_setting = 1;\n"
    bad_value = re.sub(r'forwarded_for\s*=\s*"[^"]*"', 'forwarded_for = "sometimes"', good)
    # libconfig 1.5 exits the process on an @include of a directory
    body = good.rstrip("\n")
    include_dir = body + '\n@include "%s"\n' % h.subdir("include-dir")
    return [("syntax error", syntax, 3), ("unknown setting", unknown, None),
            ("bad value", bad_value, None),
            ("include of a directory", include_dir, len(body.splitlines()) + 1)]


def test_reload_broken_config_keeps_old():
    o = ScriptedOrigin()
    with Daemon({"http.forwarded_for": "off"}) as d:
        good = d.conf_text()
        assert _xff_seen(d, o) == ["unknown"]
        for what, text, line in _broken_variants(d.build_conf({"http.forwarded_for": "on"})):
            d.write_conf_text(text)
            res = d.reload()
            assert res == "reload failed", "%s accepted: %s" % (what, d.last_reload_line)
            m = re.search(r"squidlike\.conf:(\d+)", d.last_reload_line)
            assert m, "%s: no FILE:LINE in %r" % (what, d.last_reload_line)
            if line is not None:
                assert int(m.group(1)) == line, "%s reported at line %s, expected %d: %r" % (
                    what, m.group(1), line, d.last_reload_line)
            assert d.alive(), "daemon died on a broken config"
            assert _xff_seen(d, o, "/after-" + what.replace(" ", "-")) == ["unknown"], \
                "%s: the old config is no longer in force" % what
        d.write_conf_text(good.replace('forwarded_for = "off"', 'forwarded_for = "truncate"'))
        assert d.reload() == "reloaded", d.last_reload_line
        assert _xff_seen(d, o, "/fixed") == ["127.0.0.1"]


def test_request_in_flight_during_reload():
    size = 200000

    def handler(req):
        if req.target == "/slow":
            return Response(200, h.pattern_bytes(size), delay=2)
        return Response(200, b"fast")
    o = ScriptedOrigin(handler)
    with Daemon() as d:
        box = {}

        def client():
            try:
                box["r"] = h.proxy_request(d, "GET", o.url("/slow"), timeout=30)
            except Exception as e:  # noqa: BLE001 - reported below
                box["e"] = e
        t = threading.Thread(target=client, daemon=True)
        t.start()
        o.wait_requests(1)
        d.write_conf({"http.forwarded_for": "on"})
        assert d.reload() == "reloaded", d.last_reload_line
        t.join(30)
        assert not t.is_alive(), "in-flight request did not finish"
        assert "e" not in box, "in-flight request failed: %s" % box.get("e")
        r = box["r"]
        assert r.status == 200 and r.body == h.pattern_bytes(size), r.brief()
        assert not o.requests[0].has_header("X-Forwarded-For")
        assert _xff_seen(d, o, "/after") == ["127.0.0.1"]


def test_sigusr1_reopens_logs():
    import signal
    o = ScriptedOrigin()
    with Daemon() as d:
        assert h.proxy_request(d, "GET", o.url("/before")).status == 200
        d.wait_access("/before")
        rotated = d.access_log_path + ".1"
        os.rename(d.access_log_path, rotated)
        d.signal(signal.SIGUSR1)
        n = [0]

        def new_file_has_line():
            n[0] += 1
            assert h.proxy_request(d, "GET", o.url("/after-%d" % n[0])).status == 200
            try:
                with open(d.access_log_path) as f:
                    return "/after-" in f.read()
            except FileNotFoundError:
                return False
        h.wait_until(new_file_has_line, 10, interval=0.1, what="a new access.log after SIGUSR1")
        with open(rotated) as f:
            assert "/before" in f.read()


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""Graceful shutdown: SIGTERM lets a request in flight finish, refuses new
connections, exits 0; timeouts.shutdown bounds the drain; SIGINT exits."""

import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402


def _start_client(d, url, timeout=30):
    box = {}

    def client():
        try:
            box["r"] = h.proxy_request(d, "GET", url, timeout=timeout)
        except Exception as e:  # noqa: BLE001 - reported by the test
            box["e"] = e
    t = threading.Thread(target=client, daemon=True)
    t.start()
    return t, box


def test_sigterm_drains_in_flight_request():
    size = 300000
    o = ScriptedOrigin(lambda req: Response(200, h.pattern_bytes(size), delay=2))
    d = Daemon()
    t, box = _start_client(d, o.url("/slow"))
    o.wait_requests(1)
    d.terminate()
    h.wait_until(lambda: h.port_is_closed(d.port), 10, interval=0.05,
                 what="the listener to close after SIGTERM")
    t.join(30)
    assert not t.is_alive(), "in-flight request never finished"
    assert "e" not in box, "in-flight request failed during shutdown: %s" % box.get("e")
    r = box["r"]
    assert r.status == 200 and r.body == h.pattern_bytes(size), r.brief()
    status = d.wait_exit(30)
    assert status is not None, "daemon still running 30 s after SIGTERM"
    d.stop()        # asserts exit status 0 and no sanitizer report
    assert h.port_is_closed(d.port)


def test_sigterm_idle_daemon_exits_promptly():
    o = ScriptedOrigin()
    d = Daemon()
    with h.RawConn(d.port) as c:        # an idle keep-alive client must not hold it up
        assert c.request("GET", o.url("/x")).status == 200
        t0 = time.monotonic()
        d.terminate()
        status = d.wait_exit(20)
        assert status is not None, "daemon with an idle client still running 20 s after SIGTERM"
        assert time.monotonic() - t0 < 10, "idle daemon took %.1fs to exit" % (time.monotonic() - t0)
    d.stop()


def test_shutdown_timeout_bounds_the_drain():
    o = ScriptedOrigin(lambda req: Response(hang=True))
    d = Daemon({"timeouts.shutdown": "1s"})
    t, box = _start_client(d, o.url("/forever"), timeout=40)
    o.wait_requests(1)
    t0 = time.monotonic()
    d.terminate()
    status = d.wait_exit(20)
    assert status is not None, "shutdown timeout 1s: still running after 20 s"
    assert time.monotonic() - t0 < 15
    t.join(20)
    d.stop()


def test_sigint_exits():
    d = Daemon()
    d.signal(signal.SIGINT)
    assert d.wait_exit(20) is not None, "SIGINT did not stop the daemon"
    d.check_sanitizers()
    d.stop(expect_status=None)


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""The cache on a full disk: the store lives on a 4 MiB tmpfs (TinyFs: a
private mount namespace, root only) that a filler file fills up while the
daemon runs. The error log names the real error (No space left on device,
not Input/output error) and the store's directory, once, not once per
failed commit; failed commits are counted by reason in /metrics and
status.json, which also show the filesystem's free space next to the
cache fill; while the disk stays full the store pauses (responses say why
they were not stored instead of claiming `stored`), clients still get
whole responses, and objects stored before are still hits. Once space is
freed, storing resumes by itself within the back-off bound (one log line),
and a restart on the same store opens it and serves only whole objects; a
daemon killed mid-store and started again on a full disk opens its store
paused instead of refusing to start."""

import json
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin, TinyFs  # noqa: E402
from test_metrics import Metrics  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
FS_KIB = 4096
BIG = 1 << 20
BACKOFF_MAX = 60        # seconds: the store probes at least this often


def synced(d, fn):
    """fn() (one request), then wait for its access-log line: the daemon
    writes it after committing what the request did to the store."""
    n = len(d.access_log_lines())
    r = fn()
    d.access_log_lines(lambda ls: len(ls) > n, what="the access-log line")
    return r


def get(d, url):
    return synced(d, lambda: h.proxy_request(d, "GET", url, timeout=60))


def status(d):
    r = synced(d, lambda: h.proxy_request(d, "GET", "/squidlike/status.json"))
    assert r.status == 200, r.brief()
    return json.loads(r.body.decode("utf-8"))


def metrics(d):
    r = synced(d, lambda: h.proxy_request(d, "GET", "/metrics"))
    assert r.status == 200, r.brief()
    return Metrics(r.body.decode("utf-8"))


def dashboard(d):
    """{id: data-value} of the HTML status page."""
    r = synced(d, lambda: h.proxy_request(d, "GET", "/squidlike/status"))
    assert r.status == 200, r.brief()
    return dict(re.findall(r'id="([a-z0-9_]+)" data-value="([^"]*)"',
                           r.body.decode("utf-8")))


def params(r):
    return h.cache_status_params(r)


def assert_whole(r, body, what):
    assert r.status == 200 and r.body == body, "%s: %d bytes of %d: %s" % (
        what, len(r.body), len(body), r.brief()[:300])


def assert_hit(r, body, what):
    assert_whole(r, body, what)
    p = params(r)
    assert p.get("hit") is True and "fwd" not in p, "%s: not a hit: %r" % (
        what, h.cache_status(r))


def cache_lines(d):
    return [ln for ln in d.error_log().splitlines() if "cache" in ln]


def test_full_disk():
    fs = TinyFs(FS_KIB)
    store = os.path.join(fs.path, "store")
    bodies = {"/keep": os.urandom(20000), "/keep-big": os.urandom(300000),
              "/later": os.urandom(20000)}
    for i in range(1, 5):
        bodies["/big%d" % i] = os.urandom(BIG)
    o = RoutedOrigin({p: Response(200, b, headers=[FRESH]) for p, b in bodies.items()})
    conf = {"cache.dir": store, "cache.size": "64M", "cache.max_object": "8M"}
    with Daemon(conf, wrapper=fs.wrapper) as d:
        assert os.readlink("/proc/%d/exe" % d.pid).endswith("squidlike"), \
            "the wrapper did not exec the daemon in its own process"
        # Stored while there is room: hits before, during and after.
        for p in ("/keep", "/keep-big"):
            get(d, o.url(p))
            assert_hit(get(d, o.url(p)), bodies[p], p)
        s0 = status(d)
        assert s0["cache"]["objects"] == 2, s0["cache"]

        fs.fill(leave=40 << 10)
        # The first big object fills the disk up: its commit fails. The
        # client still gets all of it.
        r = get(d, o.url("/big1"))
        assert_whole(r, bodies["/big1"], "/big1 (the commit that fails)")
        h.wait_until(lambda: "No space left on device" in d.error_log(), 20,
                     what="'No space left on device' in the error log")
        bad = [ln for ln in cache_lines(d) if "Input/output error" in ln]
        assert not bad, "a full disk logged as an I/O error: %r" % bad
        lines = [ln for ln in cache_lines(d) if "No space left on device" in ln]
        assert len(lines) == 1 and store in lines[0], \
            "expected one line naming %s: %r" % (store, cache_lines(d))

        # The store knows the disk is full: it does not claim to store,
        # and says why. Pass-through goes on; old objects are hits.
        r = get(d, o.url("/big2"))
        assert_whole(r, bodies["/big2"], "/big2 (store paused)")
        p = params(r)
        assert "stored" not in p and "disk full" in p.get("detail", ""), \
            "Cache-Status while the disk is full: %r" % h.cache_status(r)
        for p in ("/keep", "/keep-big"):
            assert_hit(get(d, o.url(p)), bodies[p], p + " while the disk is full")
        a = d.wait_access("/big2")
        assert a.status == 200 and a.bytes >= BIG, a.line

        # Counters and the filesystem's free space, sampled off the loop.
        def fs_sampled():
            c = status(d)["cache"]
            return c.get("fs_free_bytes") is not None and c["fs_free_bytes"] < 128 << 10
        h.wait_until(fs_sampled, 30, what="status.json to show the full filesystem")
        c = status(d)["cache"]
        assert c["fs_bytes"] == FS_KIB << 10, c
        assert c["fill_percent"] < 10, c
        assert c["storing"] is False and "No space left" in (c["paused_error"] or ""), c
        assert c["write_errors"] >= 1 and c["write_errors_by_reason"]["no_space"] >= 1, c
        assert c["stores_skipped"] >= 1, c
        m = metrics(d)
        assert m.get("squidlike_cache_write_errors_total", reason="no_space") >= 1, \
            m.text[-3000:]
        assert m.get("squidlike_cache_stores_skipped_total") >= 1
        assert m.get("squidlike_cache_paused") == 1
        assert m.get("squidlike_cache_fs_free_bytes") < 128 << 10
        assert m.get("squidlike_cache_fs_size_bytes") == FS_KIB << 10
        v = dashboard(d)
        assert v["cache_storing"] == "0" and int(v["cache_write_errors"]) >= 1, v
        assert int(v["cache_fs_free"]) < 128 << 10 and int(v["cache_fs_size"]) == FS_KIB << 10, v
        assert float(v["cache_fill"]) < 0.1, v

        # It probes again on its own; a failed probe logs nothing new.
        errs = c["write_errors"]
        h.wait_until(lambda: status(d)["cache"]["write_errors"] > errs, 30,
                     what="a probe of the full disk")
        lines = [ln for ln in cache_lines(d) if "No space left on device" in ln]
        assert len(lines) == 1, "a line per failed commit: %r" % cache_lines(d)
        r = get(d, o.url("/big3"))
        assert_whole(r, bodies["/big3"], "/big3 (store paused)")
        assert "stored" not in params(r), h.cache_status(r)

        # Space comes back: storing resumes within the back-off bound, on
        # its own (only the log is read meanwhile: no request wakes it).
        fs.free_filler()
        t0 = time.monotonic()
        h.wait_until(lambda: any("resumed" in ln for ln in cache_lines(d)), BACKOFF_MAX + 30,
                     what="storing to resume after space was freed")
        h.log("storing resumed %.1f s after the space was freed" % (time.monotonic() - t0))
        resumed = [ln for ln in cache_lines(d) if "resumed" in ln]
        assert len(resumed) == 1 and store in resumed[0], cache_lines(d)
        assert status(d)["cache"]["storing"] is True
        assert dashboard(d)["cache_storing"] == "1"
        r = get(d, o.url("/later"))
        assert_whole(r, bodies["/later"], "/later")
        assert params(r).get("stored") is True, h.cache_status(r)
        assert_hit(get(d, o.url("/later")), bodies["/later"], "/later")
        # Nothing of the dropped objects is left in the store: three
        # objects, and their bytes (a leaked 128 KiB chunk would show).
        c = status(d)["cache"]
        want = sum(len(bodies[p]) for p in ("/keep", "/keep-big", "/later"))
        assert c["objects"] == 3 and want <= c["bytes"] < want + (16 << 10), (c, want)
        assert c["stores"] == 3 and c["stores_dropped"] >= 1, c

        # A restart on the same store: it opens, the whole objects are
        # hits, the dropped ones are fetched again (whole).
        d.restart()
        for p in ("/keep", "/keep-big", "/later"):
            assert_hit(get(d, o.url(p)), bodies[p], p + " after the restart")
        c = status(d)["cache"]
        assert c["objects"] == 3 and want <= c["bytes"] < want + (16 << 10), (c, want)
        n = o.count("/big1")
        r = get(d, o.url("/big1"))
        assert_whole(r, bodies["/big1"], "/big1 after the restart")
        assert o.count("/big1") == n + 1 and not params(r).get("hit"), h.cache_status(r)
        assert_hit(get(d, o.url("/big1")), bodies["/big1"], "/big1 stored at last")
    fs.close()


def test_full_from_the_start():
    """A daemon killed while storing leaves chunks for the next start to
    remove; the disk is full by then. It starts all the same (the store
    opens paused and says so at once, the removal waits), hits are hits,
    misses pass through whole; once space is freed, storing resumes and
    the dead writer's chunks are gone (the byte count is back to what the
    whole objects take)."""
    fs = TinyFs(FS_KIB)
    store = os.path.join(fs.path, "store")
    x, y, big = os.urandom(50000), os.urandom(300000), os.urandom(BIG)
    gate = threading.Event()

    def slow(req):
        def pieces():
            yield big[:400000]
            gate.wait(60)       # until the daemon is gone
        return Response(200, pieces(), length=len(big), headers=[FRESH])
    o = RoutedOrigin({"/x": Response(200, x, headers=[FRESH]), "/slow": slow,
                      "/y": Response(200, y, headers=[FRESH])})
    conf = {"cache.dir": store, "cache.size": "64M"}
    d = Daemon(conf, wrapper=fs.wrapper)
    try:
        get(d, o.url("/x"))
        assert_hit(get(d, o.url("/x")), x, "/x")
        want = status(d)["cache"]["bytes"]
        used = fs.avail()
        conn = h.RawConn(d.port, timeout=30)
        conn.send(h.build_request("GET", o.url("/slow"), [("Connection", "close")]))
        # Three chunks of /slow committed (at least 384 KiB more in use).
        h.wait_until(lambda: used - fs.avail() >= 384 << 10, 20,
                     what="chunks of /slow in the store")
        d.kill_hard()
        conn.close()
    finally:
        gate.set()
    fs.fill()
    d.restart()
    h.wait_until(lambda: "No space left on device" in d.error_log(), 20,
                 what="the paused store reported at start")
    c = status(d)["cache"]
    assert c["storing"] is False and c["write_errors_by_reason"]["no_space"] >= 1, c
    assert c["bytes"] > want, "the dead writer's chunks were not counted: %r" % c
    for i in range(2):
        assert_hit(get(d, o.url("/x")), x, "/x on a full disk")
    r = get(d, o.url("/y"))
    assert_whole(r, y, "/y on a full disk")
    assert "stored" not in params(r), h.cache_status(r)
    fs.free_filler()
    h.wait_until(lambda: any("resumed" in ln for ln in cache_lines(d)), BACKOFF_MAX + 30,
                 what="storing to resume after space was freed")
    h.wait_until(lambda: status(d)["cache"]["bytes"] == want, 10,
                 what="the dead writer's chunks removed (bytes back to %d)" % want)
    assert_whole(get(d, o.url("/y")), y, "/y")
    assert_hit(get(d, o.url("/y")), y, "/y stored at last")
    d.stop()
    fs.close()


def test_late_joiner_after_a_failed_commit():
    """A fetch streams in when a commit fails (the disk is full): its
    writer is gone, so a miss that comes next must not read along it (it
    would be cut with nothing sent) - it fetches for itself and gets the
    whole body."""
    size = 1 << 20
    body = os.urandom(size)
    fs = TinyFs(4096)
    store = os.path.join(fs.path, "store")
    gate = threading.Event()
    h.register_cleanup("open the gate", gate.set)

    def pieces():
        yield body[:131172]
        gate.wait(60)
        yield body[131172:]
    o = RoutedOrigin({"/s": lambda req: Response(200, pieces(), length=size,
                                                 headers=[("Cache-Control", "max-age=3600")])})
    conf = {"cache.dir": store, "cache.size": "64M", "cache.max_object": "8M"}
    with Daemon(conf, wrapper=fs.wrapper) as d:
        fs.fill(leave=40 << 10)
        leader = h.RawConn(d.port, timeout=60)
        leader.send(h.build_request("GET", o.url("/s")))
        o.wait_requests(1)
        h.wait_until(lambda: "No space left on device" in d.error_log(), 30,
                     what="the failed commit")
        box = {}

        def late():
            try:
                box["r"] = h.proxy_request(d, "GET", o.url("/s"), timeout=30)
            except Exception as e:  # noqa: BLE001
                box["e"] = e
        t = threading.Thread(target=late, daemon=True)
        t.start()
        try:
            h.wait_until(lambda: o.count("/s") >= 2 or not t.is_alive(), 20,
                         what="the late request forwarded")
        finally:
            gate.set()
        t.join(30)
        assert "r" in box, "the late request failed: %r" % box.get("e")
        assert box["r"].status == 200 and box["r"].body == body, box["r"].brief()
        assert o.count("/s") == 2, o.count("/s")
        leader.close()
    fs.close()


if __name__ == "__main__":
    h.run(globals())

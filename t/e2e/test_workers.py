#!/usr/bin/env python3
"""Worker processes (`workers = N`): a master whose pid is in the pid file
and N workers, its children, serving on the same ports with one shared
cache (an object stored through one worker is a hit through the other) and
counters summed over all of them (status.json, /metrics, per-worker rows
adding up to the totals); a worker killed with SIGKILL restarted 20 times
over without a stale LMDB reader slot nor a counter going backwards; reloads
under load (new generation, old workers drained and gone, no request
failing), an old worker's drain bounded by timeouts.shutdown, a listener added and removed by a reload, misses for one URL
collapsed across workers, a binary upgrade under load (a new master, the
old one and its workers gone, no request failing); `workers = 1` a single
process; bad `workers` / `worker_sockets` refused by -k parse with
file:line."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, Response, RoutedOrigin, ScriptedOrigin, TestFailure  # noqa: E402

FRESH = ("Cache-Control", "max-age=3600")
# What the master does (fork, restart after back-off, reload, upgrade) on
# a busy 2-core machine: generous bounds, strict checks.
WAIT = 30.0
SHUTDOWN = 3            # timeouts.shutdown (s) where old workers must drain

# A binary upgrade's new master is the old master's child: when the old one
# exits it is re-parented to the nearest subreaper. Be that subreaper, so
# that it stays this program's to wait for (and its exit status ours to see).
if h._LIBC is not None:
    try:
        h._LIBC.prctl(36, 1, 0, 0, 0)      # PR_SET_CHILD_SUBREAPER
    except Exception:   # noqa: BLE001 - then the new master is polled in /proc
        pass


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def body_for(target):
    return ("body of %s\n" % target).encode() * 50


def origin(**kw):
    """/c/...: cacheable for an hour; anything else: no-store. The body is
    body_for(target) either way."""
    def handler(req):
        cc = "max-age=3600" if req.target.startswith("/c/") else "no-store"
        return Response(200, body_for(req.target), headers=[("Cache-Control", cc)])
    return ScriptedOrigin(handler, **kw)


def origin_count(o, target):
    return sum(1 for r in list(o.requests) if r.target == target)


def count(d):
    """Note one more request sent to d (and answered): d.sent is what the
    pages must count (everything logged before them)."""
    d.sent = getattr(d, "sent", 0) + 1


def get(d, url, port=None):
    """GET url through the proxy on a fresh connection (counted)."""
    r = h.proxy_request(port or d.port, "GET", url)
    count(d)
    return r


def get_ok(d, url, hit=None, port=None):
    r = get(d, url, port)
    target = re.sub(r"^http://[^/]+", "", url)
    assert r.status == 200 and r.body == body_for(target), "GET %s: %s" % (url, r.brief())
    if hit is not None:
        p = h.cache_status_params(r)
        assert bool(p.get("hit")) == hit, "GET %s: %s, Cache-Status %r" % (
            url, "not a hit" if hit else "a hit", h.cache_status(r))
    return r


def status(d, port=None):
    r = get(d, "/squidlike/status.json", port)
    assert r.status == 200, "status.json: %s" % r.brief()
    return json.loads(r.body.decode())


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def metrics(d):
    """/metrics as {"name{labels}": value}."""
    r = get(d, "/metrics")
    assert r.status == 200, "/metrics: %s" % r.brief()
    out = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "malformed /metrics line %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def msum(m, name, **labels):
    """The sum of a family's samples whose labels include these."""
    total = 0.0
    for k, v in m.items():
        base, _, lab = k.partition("{")
        if base != name:
            continue
        if all('%s="%s"' % kv in lab for kv in labels.items()):
            total += v
    return total


def wsec(s):
    """status.json's "workers" object (fails when there is none)."""
    w = s.get("workers")
    assert isinstance(w, dict) and isinstance(w.get("list"), list), \
        "status.json has no workers object with a list: %r" % (w,)
    return w


def pid_file(d):
    try:
        with open(d.pid_path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def wait_workers(d, n, generation=None, not_pids=(), master=None, timeout=WAIT):
    """Wait until the master has exactly n live children, all running,
    and status.json lists exactly those (of `generation` when given), none
    of not_pids among them. Returns (status.json, {index: pid})."""
    master = master or d.pid
    box = {}

    def ready():
        kids = h.proc_children(master)
        box["kids"] = kids
        if len(kids) != n or kids & set(not_pids):
            return False
        s = status(d)
        box["w"] = w = wsec(s)
        rows = w["list"]
        if sorted(r["pid"] for r in rows) != sorted(kids):
            return False
        if generation is not None and (w["generation"] != generation or
                                       any(r["generation"] != generation for r in rows)):
            return False
        if any(r["state"] != "running" for r in rows):
            return False
        box["s"] = s
        return True
    try:
        h.wait_until(ready, timeout, interval=0.05,
                     what="%d running workers%s" % (n, "" if generation is None else
                                                    " of generation %d" % generation))
    except TestFailure as e:
        raise TestFailure("%s; the master's children: %r, status.json workers: %r"
                          % (e, sorted(box.get("kids", ())), box.get("w")))
    s = box["s"]
    rows = wsec(s)["list"]
    idx = {r["index"]: r["pid"] for r in rows}
    assert sorted(idx) == list(range(n)), "worker indexes %r, expected 0..%d" % (
        sorted(r["index"] for r in rows), n - 1)
    return s, idx


def wait_logged(d, n=None, timeout=20.0):
    """Wait until the access log has a line for every request sent."""
    n = d.sent if n is None else n
    d.access_log_lines(lambda ls: len(ls) >= n, timeout,
                       what="%d access-log lines (one per request sent)" % n)


def wait_counted(d, read, what, timeout=20.0):
    """Poll read(d) (a page: itself one request, counted once logged) until
    it equals the number of requests sent before it; fail at once when it
    counts more. Returns the last value read."""
    wait_logged(d)
    box = {}

    def ok():
        want = d.sent
        got = read(d)
        box["v"] = (got, want)
        assert got <= want, "%s counts %s requests, only %d were sent" % (what, got, want)
        return got == want
    try:
        h.wait_until(ok, timeout, interval=0.1, what="%s to count every request" % what)
    except TestFailure as e:
        raise TestFailure("%s: counted %s of %s" % ((e,) + box.get("v", (None, None))))
    return box["v"][0]


def new_log(d, sizes):
    return d._new_log_text(sizes)


def wait_cached(d, n):
    h.wait_until(lambda: status(d)["cache"]["objects"] >= n, 20, interval=0.1,
                 what="%d objects in the cache" % n)


class Load:
    """Clients in threads requesting urls from the proxy until stop():
    `keepalive` of them on persistent connections (a new one only after
    the proxy announced the end with Connection: close), `fresh` of them on
    a new connection per request. Every response must be 200 with
    body_for(target); anything else (refused, reset, closed without an
    answer, cut short, another status or body) is a failure."""

    def __init__(self, ports, urls, keepalive=2, fresh=2):
        self.ports, self.urls = list(ports), list(urls)
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._keepalive, args=(i,), daemon=True)
                        for i in range(keepalive)]
        self.threads += [threading.Thread(target=self._fresh, args=(i,), daemon=True)
                         for i in range(fresh)]
        self._cleanup = h.register_cleanup("load clients", self.halt)
        for t in self.threads:
            t.start()

    def _check(self, url, r, how):
        target = re.sub(r"^http://[^/]+", "", url)
        if r.status != 200 or r.body != body_for(target):
            self._fail("%s %s: %s" % (how, url, r.brief()))
            return False
        with self.lock:
            self.ok += 1
        return True

    def _fail(self, what):
        with self.lock:
            self.failures.append("%.3f %s" % (time.monotonic(), what))
        self.stopping.wait(0.05)

    def _keepalive(self, k):
        c, i, reqs = None, k, 0
        while not self.stopping.is_set():
            url = self.urls[i % len(self.urls)]
            port = self.ports[i % len(self.ports)]
            i += 1
            try:
                if c is None:
                    c, reqs = h.RawConn(port, timeout=30), 0
                reqs += 1
                r = c.request("GET", url)
            except Exception as e:  # noqa: BLE001 - a failure to report
                self._fail("keep-alive (request %d on its connection) %s: %s"
                           % (reqs, url, h._short_exc(e)))
                if c is not None:
                    c.close()
                c = None
                continue
            self._check(url, r, "keep-alive")
            if "close" in (r.header("Connection") or "").lower():
                c.close()
                c = None
        if c is not None:
            c.close()

    def _fresh(self, k):
        i = k
        while not self.stopping.is_set():
            url = self.urls[i % len(self.urls)]
            port = self.ports[i % len(self.ports)]
            i += 1
            try:
                r = h.proxy_request(port, "GET", url)
            except Exception as e:  # noqa: BLE001 - a failure to report
                self._fail("fresh connection %s: %s" % (url, h._short_exc(e)))
                continue
            self._check(url, r, "fresh connection")

    def wait_ok(self, n, timeout=WAIT):
        """Wait for n more successful requests (the load goes on)."""
        with self.lock:
            want = self.ok + n
        h.wait_until(lambda: self.ok >= want, timeout, interval=0.05,
                     what="%d more successful requests under load" % n)

    def halt(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)

    def stop(self):
        """Stop the clients; fail if one hangs or any request failed."""
        h.unregister_cleanup(self._cleanup)
        self.halt()
        assert not any(t.is_alive() for t in self.threads), "a load client hangs"
        assert not self.failures, "%d of %d requests failed under load:\n%s" % (
            len(self.failures), self.ok + len(self.failures), "\n".join(self.failures[:20]))
        h.log("load: %d requests, none failed" % self.ok)
        return self.ok


def reload_and_wait(d, generation, old_pids, n=2, timeout=SHUTDOWN + 20):
    """SIGHUP to the master; wait until n workers of generation+1 run and
    every old worker is gone (draining bounded by timeouts.shutdown).
    Returns (status.json, {index: pid})."""
    sizes = d._log_sizes()
    t0 = time.monotonic()
    d.signal(signal.SIGHUP)
    s, pids = wait_workers(d, n, generation=generation + 1, not_pids=old_pids,
                           timeout=timeout)
    h.wait_until(lambda: not any(h.proc_alive(p) for p in old_pids), timeout,
                 what="the old workers %r to exit" % sorted(old_pids))
    h.log("reload to generation %d: old workers gone after %.1fs"
          % (generation + 1, time.monotonic() - t0))
    want = "reload: generation %d with %d workers" % (generation + 1, n)
    h.wait_until(lambda: want in new_log(d, sizes), 10, what="%r in the log" % want)
    return s, pids


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_two_workers_serve():
    o = origin()
    with Daemon({"workers": 2}) as d:
        s, pids = wait_workers(d, 2)
        assert pid_file(d) == d.pid, "pid file holds %d, the master is %d" % (pid_file(d), d.pid)
        assert h.proc_children(d.pid) == set(pids.values()), \
            (h.proc_children(d.pid), pids)
        w = wsec(s)
        assert w["count"] == 2 and len(w["list"]) == 2, w
        assert len(set(pids.values())) == 2 and d.pid not in pids.values(), w
        gen = w["generation"]
        assert isinstance(gen, int) and gen >= 1, w
        for r in w["list"]:
            assert r["generation"] == gen and r["state"] == "running", r
            for k in ("started", "requests", "hits", "connections", "cpu_seconds",
                      "rss_bytes", "restarts"):
                assert isinstance(r.get(k), (int, float)) and r[k] >= 0, (k, r)
            assert r["rss_bytes"] > 0 and r["started"] > 1e9, r
        text = d.error_log()
        for i, pid in pids.items():
            want = "worker %d started (pid %d, generation %d)" % (i, pid, gen)
            assert want in text, "no %r in the log:\n%s" % (want, text[-3000:])
        assert re.search(r"ready \(pid %d\b" % d.pid, text), "no master 'ready' line"
        for i in range(10):
            get_ok(d, o.url("/n/%d" % i))
        assert msum(metrics(d), "squidlike_workers") == 2
        # A keep-alive client connection is a worker's, not the master's.
        with h.RawConn(d.port) as c:
            r = c.request("GET", o.url("/n/ka"))
            assert r.status == 200 and r.body == body_for("/n/ka"), r.brief()
            mine = c.sock.getsockname()[1]
            who = [p for p in [d.pid] + sorted(pids.values())
                   if (d.port, mine, "01") in tcp_of(p)]
            assert len(who) == 1 and who[0] in pids.values(), \
                "the connection is held by %r (master %d, workers %r)" % (who, d.pid, pids)


def test_shared_socket_and_auto():
    """worker_sockets = "shared" (one socket, EPOLLEXCLUSIVE) serves, also
    after a reload; workers = "auto" starts one worker per online CPU."""
    o = origin()
    with Daemon({"workers": 2, "worker_sockets": "shared",
                 "timeouts.shutdown": "%ds" % SHUTDOWN}) as d:
        s, pids = wait_workers(d, 2)
        for i in range(20):
            get_ok(d, o.url("/n/s%d" % i))
        s, pids = reload_and_wait(d, wsec(s)["generation"], set(pids.values()))
        for i in range(20):
            get_ok(d, o.url("/n/t%d" % i))
        assert sum(r["requests"] for r in wsec(status(d))["list"]) >= 20
    cpus = min(os.sysconf("SC_NPROCESSORS_ONLN"), 64)
    if cpus < 2:
        raise h.Skip("one online CPU: workers = \"auto\" is a single process")
    with Daemon({"workers": "auto"}) as d:
        s, pids = wait_workers(d, cpus)
        assert wsec(s)["count"] == cpus, (wsec(s), cpus)
        get_ok(d, o.url("/n/auto"))


def test_one_shared_cache():
    o = origin()
    with Daemon({"workers": 2}) as d:
        _, pids = wait_workers(d, 2)
        url = o.url("/c/shared")
        get_ok(d, url, hit=False)
        assert origin_count(o, "/c/shared") == 1
        wait_logged(d)
        wait_cached(d, 1)
        hits0 = {r["pid"]: r["hits"] for r in wsec(status(d))["list"]}
        n, spread = 0, {}
        while n < 200:
            for _ in range(20):
                get_ok(d, url, hit=True)
                n += 1
            if n < 40:
                continue
            wait_logged(d)
            rows = wsec(status(d))["list"]
            assert sorted(r["pid"] for r in rows) == sorted(pids.values()), (rows, pids)
            spread = {r["pid"]: r["hits"] - hits0.get(r["pid"], 0) for r in rows}
            if all(v > 0 for v in spread.values()):
                break
        h.log("hits per worker after %d connections: %r" % (n, spread))
        assert origin_count(o, "/c/shared") == 1, "the origin saw %d requests" % \
            origin_count(o, "/c/shared")
        assert len(spread) == 2 and all(v > 0 for v in spread.values()), \
            "after %d connections, hits per worker %r: not both workers hit" % (n, spread)
        assert sum(spread.values()) == n, "%d hits counted over the workers, %d sent" % (
            sum(spread.values()), n)


def test_counters_sum():
    o = origin()
    with Daemon({"workers": 2}) as d:
        wait_workers(d, 2)
        curls = [o.url("/c/k%d" % i) for i in range(6)]
        for u in curls:
            get_ok(d, u, hit=False)
        wait_logged(d)
        wait_cached(d, len(curls))
        # 6 clients at once, 3 on keep-alive connections, 3 on a connection
        # per request: 9 hits and 5 misses each.
        errors, done = [], []
        lock = threading.Lock()

        def client(k):
            plan = [(u, True) for u in curls + curls[:3]] + \
                   [(o.url("/n/k%d-%d" % (k, j)), False) for j in range(5)]
            c = h.RawConn(d.port) if k < 3 else None
            try:
                for u, hit in plan:
                    if c is not None:
                        r = c.request("GET", u)
                    else:
                        r = h.proxy_request(d.port, "GET", u)
                    p = h.cache_status_params(r)
                    target = re.sub(r"^http://[^/]+", "", u)
                    ok = r.status == 200 and r.body == body_for(target) and \
                        bool(p.get("hit")) == hit
                    with lock:
                        done.append(u)
                        if not ok:
                            errors.append("%s: %s %r" % (u, r.brief(), p))
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append("client %d: %s" % (k, h._short_exc(e)))
            finally:
                if c is not None:
                    c.close()
        ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not any(t.is_alive() for t in ts), "a client hangs"
        assert not errors, errors
        assert len(done) == 6 * 14, len(done)
        d.sent += len(done)
        hits, misses = 6 * 9, len(curls) + 6 * 5
        for i, u in enumerate(curls):
            assert origin_count(o, "/c/k%d" % i) == 1, "%s fetched again" % u

        box = {}

        def read_status(dd):
            box["s"] = status(dd)
            return box["s"]["requests"]["total"]
        wait_counted(d, read_status, "status.json requests.total")
        s = box["s"]
        rq = s["requests"]
        assert (rq["hits"], rq["misses"]) == (hits, misses), (rq, hits, misses)
        rows = wsec(s)["list"]
        assert len(rows) == 2, rows
        assert sum(r["requests"] for r in rows) == rq["total"], \
            "per-worker requests %r do not add up to %d" % ([r["requests"] for r in rows],
                                                            rq["total"])
        assert sum(r["hits"] for r in rows) == hits, ([r["hits"] for r in rows], hits)
        assert all(r["requests"] > 0 for r in rows), "a worker served nothing: %r" % rows

        mbox = {}

        def read_metrics(dd):
            mbox["m"] = metrics(dd)
            return msum(mbox["m"], "squidlike_requests_total")
        wait_counted(d, read_metrics, "/metrics squidlike_requests_total")
        m = mbox["m"]
        assert msum(m, "squidlike_requests_total", code="TCP_HIT") == hits, m
        assert msum(m, "squidlike_requests_total", code="TCP_MISS") == misses, m
        assert msum(m, "squidlike_cache_hits_total") == hits, m


def lmdb_env_dir(root):
    for dirpath, _, files in os.walk(root):
        if "data.mdb" in files:
            return dirpath
    raise TestFailure("no LMDB environment (data.mdb) under %s" % root)


def lmdb_reader_pids(env):
    """The pids in the reader table of the LMDB environment (mdb_stat -r)."""
    p = subprocess.Popen(["mdb_stat", "-r", env], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=h.child_env())
    out, _ = p.communicate(timeout=30)
    text = out.decode(errors="replace")
    # (mdb_stat 0.9.24 exits 1 after -r alone: the table is what counts.)
    assert "Reader Table Status" in text, "mdb_stat -r %s: %s" % (env, text)
    pids = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+[0-9a-fA-F]+\s+\S+\s*$", line)
        if m and int(m.group(1)) != p.pid:
            pids.append(int(m.group(1)))
    return pids, text


def test_killed_worker_restarted():
    o = origin()
    kills = 20
    with Daemon({"workers": 2}) as d:
        s, pids = wait_workers(d, 2)
        gen = wsec(s)["generation"]
        curls = [o.url("/c/r%d" % i) for i in range(4)]
        for u in curls:
            get_ok(d, u, hit=False)
        wait_logged(d)
        wait_cached(d, len(curls))
        prev_total = prev_metric = 0
        for k in range(kills):
            idx = k % 2
            victim = pids[idx]
            wait_logged(d)      # nothing the victim answered is left to count
            sizes = d._log_sizes()
            os.kill(victim, signal.SIGKILL)
            h.wait_until(lambda: not h.proc_alive(victim), WAIT,
                         what="worker %d (pid %d) gone after SIGKILL" % (idx, victim))
            s, new = wait_workers(d, 2, not_pids=[victim])
            assert new[1 - idx] == pids[1 - idx], \
                "kill %d: the other worker changed too: %r -> %r" % (k, pids, new)
            assert new[idx] != victim, (pids, new)
            row = [r for r in wsec(s)["list"] if r["index"] == idx][0]
            assert row["generation"] == gen, row
            want = ["worker %d (pid %d) exited: killed by signal 9" % (idx, victim),
                    "worker %d started (pid %d, generation %d)" % (idx, new[idx], gen)]
            h.wait_until(lambda: all(w in new_log(d, sizes) for w in want), 10,
                         what="%r in the log" % want)
            pids = new
            # Still serving, the cache intact: every stored object a hit.
            for u in curls:
                get_ok(d, u, hit=True)
            get_ok(d, o.url("/n/r%d" % k), hit=False)
            # The counters: sums over the live workers and the dead ones.
            box = {}

            def read_status(dd):
                box["s"] = status(dd)
                return box["s"]["requests"]["total"]
            total = wait_counted(d, read_status, "status.json requests.total (kill %d)" % k)
            assert total >= prev_total, "requests.total went back: %d -> %d" % (prev_total, total)
            prev_total = total
            metric = wait_counted(d, lambda dd: msum(metrics(dd), "squidlike_requests_total"),
                                  "/metrics squidlike_requests_total (kill %d)" % k)
            assert metric >= prev_metric, "requests_total went back: %d -> %d" % (
                prev_metric, metric)
            prev_metric = metric
        for i, u in enumerate(curls):
            assert origin_count(o, "/c/r%d" % i) == 1, "%s fetched %d times" % (
                u, origin_count(o, "/c/r%d" % i))
        m = metrics(d)
        assert msum(m, "squidlike_worker_restarts_total") == kills, \
            "squidlike_worker_restarts_total %r after %d kills" % (
                msum(m, "squidlike_worker_restarts_total"), kills)
        assert msum(m, "squidlike_workers") == 2, m.get("squidlike_workers")
        exited = len(re.findall(r"exited: killed by signal 9", d.error_log()))
        assert exited == kills, "%d 'killed by signal 9' lines for %d kills" % (exited, kills)
        # No reader slot of a dead worker left in the LMDB environment.
        if not shutil.which("mdb_stat"):
            raise h.Skip("mdb_stat not installed (lmdb-utils): reader table not checked")
        env = lmdb_env_dir(d.dir)
        box = {}

        def no_stale():
            pids_, text = lmdb_reader_pids(env)
            box["t"] = text
            box["stale"] = [p for p in pids_ if not h.proc_alive(p)]
            # A table naming no live worker would be one mdb_stat made
            # afresh (first to open the environment): proof of nothing.
            assert set(pids_) & set(pids.values()), \
                "no live worker %r in the reader table:\n%s" % (pids, text)
            return not box["stale"]
        try:
            h.wait_until(no_stale, 15, interval=0.2, what="no stale LMDB reader")
        except TestFailure as e:
            raise TestFailure("%s: dead pids %r in the reader table:\n%s"
                              % (e, box["stale"], box["t"]))
        h.log(box["t"])


def test_reload_under_load():
    o = origin()
    with Daemon({"workers": 2, "timeouts.shutdown": "%ds" % SHUTDOWN}) as d:
        s, pids = wait_workers(d, 2)
        gen = wsec(s)["generation"]
        urls = [o.url("/c/l0"), o.url("/c/l1"), o.url("/n/l2")]
        for u in urls[:2]:
            get_ok(d, u)
        wait_cached(d, 2)
        load = Load([d.port], urls)
        load.wait_ok(50)
        for _ in range(10):         # the measure: 10 reloads under load
            s, pids = reload_and_wait(d, gen, set(pids.values()))
            gen += 1
            load.wait_ok(50)
        load.stop()
        assert msum(metrics(d), "squidlike_workers") == 2


def test_reload_drain_bounded():
    """An old worker waits for its request in flight, shown as draining,
    while the new generation serves; timeouts.shutdown bounds the wait."""
    o = RoutedOrigin({"/hang": Response(200, b"late", hang=True)})
    fast = origin()
    with Daemon({"workers": 2, "timeouts.shutdown": "%ds" % SHUTDOWN}) as d:
        s, pids = wait_workers(d, 2)
        gen = wsec(s)["generation"]
        old = set(pids.values())
        c = h.RawConn(d.port, timeout=60)
        c.send(h.build_request("GET", o.url("/hang")))
        h.wait_until(lambda: o.count("/hang") >= 1, 20, what="the hanging request at the origin")
        holder = [p for p in old if any(
            local == d.port and state == "01" for local, _, state in tcp_of(p))]
        assert len(holder) == 1, "which worker holds the request: %r" % holder
        t0 = time.monotonic()
        d.signal(signal.SIGHUP)
        box = {}

        def new_serving():
            w = wsec(status(d))
            box["w"] = w
            rows = {r["pid"]: r for r in w["list"]}
            return w["generation"] == gen + 1 and holder[0] in rows and \
                rows[holder[0]]["state"] == "draining" and \
                sum(1 for r in rows.values() if r["generation"] == gen + 1 and
                    r["state"] == "running") == 2
        try:
            h.wait_until(new_serving, WAIT, interval=0.05,
                         what="generation %d running beside the draining worker" % (gen + 1))
        except TestFailure as e:
            raise TestFailure("%s: %r" % (e, box.get("w")))
        assert time.monotonic() - t0 < SHUTDOWN, "the new generation took %.1fs" % (
            time.monotonic() - t0)
        get_ok(d, fast.url("/n/during"))
        assert h.proc_alive(holder[0]), "the old worker left its request behind at once"
        h.wait_until(lambda: not any(h.proc_alive(p) for p in old), SHUTDOWN + 20,
                     what="the old workers to exit")
        took = time.monotonic() - t0
        h.log("the draining worker exited %.1fs after SIGHUP (timeouts.shutdown %ds)"
              % (took, SHUTDOWN))
        assert SHUTDOWN - 0.5 <= took <= SHUTDOWN + 10, took
        assert c.closed(10), "the request in flight still open after its worker left"
        c.close()
        wait_workers(d, 2, generation=gen + 1)


def tcp_of(pid):
    """(local port, remote port, state) of the TCP sockets of one process."""
    inodes = set()
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[9] in inodes:
                out.append((int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16),
                            p[3]))
    return out


def test_listener_added_by_reload():
    o = origin()
    with Daemon({"workers": 2, "timeouts.shutdown": "%ds" % SHUTDOWN}, listen_arg=False) as d:
        s, pids = wait_workers(d, 2)
        gen = wsec(s)["generation"]
        urls = [o.url("/c/p0"), o.url("/n/p1")]
        get_ok(d, urls[0])
        load = Load([d.port], urls)
        load.wait_ok(20)
        p2 = h.free_port()
        assert h.port_is_closed(p2), "port %d taken before the test" % p2
        d.write_conf({"listen": [d.addr, "127.0.0.1:%d" % p2]})
        s, pids = reload_and_wait(d, gen, set(pids.values()))
        gen += 1
        for i in range(12):
            get_ok(d, o.url("/n/new%d" % i), port=p2)
        assert wsec(status(d, port=p2))["count"] == 2
        load.wait_ok(20)
        d.write_conf()
        s, pids = reload_and_wait(d, gen, set(pids.values()))
        gen += 1
        h.wait_until(lambda: h.port_is_closed(p2), 15, what="port %d closed" % p2)
        for i in range(5):
            assert h.port_is_closed(p2), "port %d accepted again (try %d)" % (p2, i)
        load.wait_ok(20)
        load.stop()


class Client(threading.Thread):
    """One GET through the proxy on its own connection."""

    def __init__(self, port, url):
        super().__init__(daemon=True)
        self.port, self.url = port, url
        self.sent = threading.Event()
        self.resp = self.error = None

    def run(self):
        try:
            with h.RawConn(self.port, timeout=60) as c:
                c.send(h.build_request("GET", self.url, [("Connection", "close")]))
                self.sent.set()
                self.resp = c.recv_response()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.sent.set()


def test_collapse_across_workers():
    size = 300000
    body = h.pattern_bytes(size)
    release = threading.Event()

    def slow(req):
        release.wait(20)
        return Response(200, body, headers=[FRESH])
    o = RoutedOrigin({})
    n = 8
    with Daemon({"workers": 2}) as d:
        _, pids = wait_workers(d, 2)
        spanned = None
        for attempt in range(4):
            path = "/slow/%d" % attempt
            o.routes[path] = slow
            release.clear()
            before = status(d)
            wait_logged(d)
            cs = [Client(d.port, o.url(path)) for _ in range(n)]
            for c in cs:
                c.start()
            for c in cs:
                h.wait_until(c.sent.is_set, 20, what="client requests sent")
            h.wait_until(lambda: o.count(path) >= 1, 20, what="the first origin request")
            h.wait_until(lambda: d.client_connections() >= n and d.client_unread() == 0, 20,
                         what="%d client connections at the workers, every request read" % n)
            # Give a request that would not be collapsed the time to reach
            # the origin (a collapsing proxy never sends it: runs out).
            try:
                h.wait_until(lambda: o.count(path) > 1, 1.5, what="a second origin request")
            except TestFailure:
                pass
            release.set()
            for c in cs:
                c.join(60)
                assert not c.is_alive(), "a client still waits"
            errs = [h._short_exc(c.error) for c in cs if c.error]
            assert not errs, errs
            for c in cs:
                assert c.resp.status == 200 and c.resp.body == body, c.resp.brief()
            d.sent += n
            assert o.count(path) == 1, "%d misses on two workers made %d origin requests" % (
                n, o.count(path))
            wait_logged(d)
            after = status(d)
            b = {r["pid"]: r["requests"] for r in wsec(before)["list"]}
            a = {r["pid"]: r["requests"] for r in wsec(after)["list"]}
            assert sorted(a) == sorted(b) == sorted(pids.values()), (a, b, pids)
            delta = {p: a[p] - b[p] for p in a}
            # `before` itself is counted after it was answered, by its worker.
            if before.get("pid") in delta:
                delta[before["pid"]] -= 1
                spanned = all(v >= 1 for v in delta.values())
            else:
                spanned = all(v >= 2 for v in delta.values())
            h.log("attempt %d: clients per worker %r" % (attempt, delta))
            if spanned:
                break
        assert spanned, "the clients never spread over both workers in 4 attempts"


def test_binary_upgrade_under_load():
    o = origin()
    with Daemon({"workers": 2, "timeouts.shutdown": "%ds" % SHUTDOWN}) as d:
        s, pids = wait_workers(d, 2)
        old_master, old_workers = d.pid, set(pids.values())
        assert pid_file(d) == old_master
        urls = [o.url("/c/u0"), o.url("/n/u1")]
        get_ok(d, urls[0])
        load = Load([d.port], urls)
        load.wait_ok(50)
        sizes = d._log_sizes()
        r = subprocess.run([d.binary, "-f", d.conf_path, "-k", "upgrade"], capture_output=True,
                           timeout=30, env=h.child_env())
        assert r.returncode == 0, "-k upgrade: status %d: %s" % (
            r.returncode, (r.stdout + r.stderr).decode(errors="replace"))
        new_master = h.wait_until(
            lambda: pid_file(d) if pid_file(d) not in (0, old_master) and
            h.proc_alive(pid_file(d)) else None, WAIT, what="a new master in the pid file")

        def stop_new():
            """SIGTERM the new master; its exit status (None: not ours
            to wait for, gone)."""
            if h.proc_alive(new_master):
                os.kill(new_master, signal.SIGTERM)
            deadline = time.monotonic() + h.STOP_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    pid, st = os.waitpid(new_master, os.WNOHANG)
                    if pid == new_master:
                        return os.waitstatus_to_exitcode(st)
                except ChildProcessError:
                    if not h.proc_alive(new_master):
                        return None
                time.sleep(0.05)
            for p in [new_master] + sorted(h.proc_children(new_master)):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise TestFailure("the new master %d did not exit within %.0fs of SIGTERM"
                              % (new_master, h.STOP_TIMEOUT))
        cleanup = h.register_cleanup("new master", stop_new)
        assert new_master not in old_workers, (new_master, old_workers)
        st = d.wait_exit(WAIT)
        assert st == 0, "the old master: exit status %r (None: still running)" % st
        h.wait_until(lambda: not any(h.proc_alive(p) for p in old_workers), WAIT,
                     what="the old workers %r to exit" % sorted(old_workers))
        s, new = wait_workers(d, 2, master=new_master)
        assert not set(new.values()) & old_workers, (new, old_workers)
        text = new_log(d, sizes)
        assert re.search(r"ready \(pid %d\b" % new_master, text), \
            "no 'ready (pid %d' line from the new master:\n%s" % (new_master, text[-3000:])
        load.wait_ok(50)
        load.stop()
        get_ok(d, urls[0], hit=True)
        h.unregister_cleanup(cleanup)
        kids = h.proc_children(new_master)
        st = stop_new()
        assert st in (0, None), "the new master exited with status %r" % st
        h.wait_until(lambda: not any(h.proc_alive(p) for p in kids), WAIT,
                     what="the new master's workers to exit")
        d.check_sanitizers()


def test_one_worker_single_process():
    o = origin()
    with Daemon({"workers": 1}) as d:
        get_ok(d, o.url("/n/one"))
        s = status(d)
        w = wsec(s)
        assert w["count"] == 1 and len(w["list"]) == 1, w
        row = w["list"][0]
        assert row["pid"] == d.pid and row["index"] == 0, (row, d.pid)
        assert row["requests"] >= 1, row
        assert h.proc_children(d.pid) == set(), "children: %r" % h.proc_children(d.pid)
        assert pid_file(d) == d.pid
        assert msum(metrics(d), "squidlike_workers") == 1
        assert _sched_policy(d.pid) == 0    # worker_sched_batch: workers only


def _sched_policy(pid):
    """The scheduling policy of pid (0 SCHED_OTHER, 3 SCHED_BATCH)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[38])


def test_sched_batch_workers():
    """worker_sched_batch: the workers run SCHED_BATCH (the master not),
    and serve, by default and when set; set false, SCHED_OTHER."""
    o = origin()
    for on, want in ((None, 3), (True, 3), (False, 0)):
        conf = {"workers": 2}
        if on is not None:
            conf["worker_sched_batch"] = on
        with Daemon(conf) as d:
            pids = sorted(wait_workers(d, 2)[1].values())
            get_ok(d, o.url("/n/batch%s" % on))
            assert [_sched_policy(p) for p in pids] == [want, want], (on, pids)
            assert _sched_policy(d.pid) == 0


def test_config_errors():
    d = Daemon(start=False)
    cases = [("workers", 0), ("workers", 65), ("workers", "lots"), ("workers", -1),
             ("worker_sockets", "bogus"), ("worker_sched_batch", "yes")]
    good = [("workers", 2), ("workers", 64), ("workers", "auto"), ("workers", 1),
            ("worker_sockets", "shared"), ("worker_sockets", "reuseport"),
            ("worker_sched_batch", True)]
    for i, (key, val) in enumerate(cases + good):
        text = d.build_conf({key: val})
        lines = text.splitlines()
        at = [n for n, ln in enumerate(lines, 1) if re.match(r"^%s\s*=" % key, ln)]
        assert len(at) == 1, (key, at)
        path = os.path.join(d.dir, "w%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([d.binary, "-k", "parse", "-f", path], capture_output=True,
                           text=True, timeout=30, env=h.child_env())
        err = p.stdout + p.stderr
        if (key, val) in good:
            assert p.returncode == 0, "%s = %r refused: %s" % (key, val, err)
            continue
        assert p.returncode != 0, "%s = %r accepted: %s" % (key, val, err)
        want = "%s:%d" % (path, at[0])
        assert want in err, "%s = %r: no %s in %r" % (key, val, want, err)
        assert key in err and "unknown setting" not in err, (key, val, err)


if __name__ == "__main__":
    h.run(globals(), watchdog=1200)

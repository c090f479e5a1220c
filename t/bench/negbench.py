#!/usr/bin/env python3
"""negbench.py - what Negotiate (Kerberos) costs cache hits, once the
connections are authenticated.

proxybench's hit1k cannot measure it: its fill step (curl -x) and its wrk
load send the same request on every connection, and a Negotiate token can
be used once (a second use is a replay, refused). So this runs proxybench's
hit1k by hand: a 1 KiB object cached, then wrk with as many threads as
connections (negbench.lua), each connection sending its own fresh token on
its first request and nothing on the later ones - what a browser does.

Two daemons of the same build, side by side, rounds interleaved (A B A B):
  off        no auth: "allow localnet"
  negotiate  auth.negotiate, "allow localnet authed" (proxy_auth REQUIRED)
and, as a reference, a per-request check of the other scheme:
  basic      auth.file, every request with a (cached) Basic credential
The proxy is pinned to CPU 0, wrk to CPU 1 (if there are two).

Then the cost of one ticket check: fresh connections one after the other,
each with a new token (negotiate) or none (off), timed from the client.

Usage: SQUIDLIKE=squidlike/squidlike top_srcdir=. python3 t/bench/negbench.py
       [--rounds 5] [--duration 8] [--connections 10]
Needs wrk, taskset, curl and what t/e2e/krb5realm.py needs."""

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from krb5realm import Realm  # noqa: E402

PB_RE = re.compile(r"PBRESULT (.*)")


def pin(cpu):
    return ["taskset", "-c", str(cpu)] if os.cpu_count() and os.cpu_count() > 1 else []


def basic_file():
    r = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=b"bench-pw",
                       capture_output=True, check=True)
    path = os.path.join(h.subdir("basic"), "passwd")
    with open(path, "w") as f:
        f.write("bench:%s\n" % r.stdout.decode().strip())
    return path


def confs(realm):
    authed = {"name": "authed", "type": "proxy_auth", "values": ["REQUIRED"]}
    quiet = {"log_level": "warn"}
    return {
        "off": dict(quiet, http_access=["allow localnet", "deny all"]),
        "negotiate": dict(quiet, auth={"negotiate": {"keytab": realm.keytab,
                                                     "principal": "HTTP/proxy.test"}},
                          acls=[authed], http_access=["allow localnet authed", "deny all"]),
        "basic": dict(quiet, auth={"file": basic_file()}, acls=[authed],
                      http_access=["allow localnet authed", "deny all"]),
    }


def wrk(d, target, host, conns, duration, tokens=None, header=None):
    args = [target, host, "-"]
    if tokens is not None:
        args[2] = os.path.join(h.tmpdir(), "tokens")
        with open(args[2], "w") as f:
            f.write("\n".join(tokens) + "\n")
    if header:
        args.append(header)
    argv = pin(1) + ["wrk", "-t", str(conns), "-c", str(conns), "-d", "%ds" % duration,
                     "-s", os.path.join(HERE, "negbench.lua"),
                     "http://127.0.0.1:%d/" % d.port, "--"] + args
    r = subprocess.run(argv, capture_output=True, timeout=duration + 60)
    m = PB_RE.search(r.stdout.decode())
    assert m, "wrk: %s %s" % (r.stdout.decode(), r.stderr.decode())
    res = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def metric(d, name):
    r = h.proxy_request(d, "GET", "/metrics")
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def cpu_ticks(d):
    with open("/proc/%d/stat" % d.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime, clock ticks


def fresh_connections(d, url, tokens):
    """Wall time of one request on a fresh connection each, in ms (median)."""
    times = []
    for tok in tokens:
        hdrs = [("Proxy-Authorization", "Negotiate " + tok)] if tok else []
        t0 = time.perf_counter()
        r = h.proxy_request(d, "GET", url, headers=hdrs)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200, r.brief()
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--serial", type=int, default=50)
    o = ap.parse_args()

    realm = Realm()
    origin = ScriptedOrigin(Response(200, b"x" * 1024,
                                     headers=[("Cache-Control", "max-age=3600"),
                                              ("Content-Type", "text/plain")]))
    target = origin.url("/c/1k")
    host = "127.0.0.1:%d" % origin.port
    cf = confs(realm)
    env = realm.daemon_env()
    ds = {name: Daemon(c, env=env, wrapper=pin(0), name=name) for name, c in cf.items()}
    basic_hdr = "Proxy-Authorization: Basic " + base64.b64encode(b"bench:bench-pw").decode()
    try:
        # fill each cache; check it hits
        for name, d in ds.items():
            hdrs = []
            if name == "negotiate":
                hdrs = [("Proxy-Authorization", "Negotiate " + realm.mint())]
            if name == "basic":
                hdrs = [("Proxy-Authorization", basic_hdr.split(": ", 1)[1])]
            for _ in range(3):
                r = h.proxy_request(d, "GET", target, headers=hdrs)
                assert r.status == 200, (name, r.brief())
                if name == "negotiate":
                    hdrs = [("Proxy-Authorization", "Negotiate " + realm.mint())]
        before = len(origin.requests)
        results = {name: [] for name in ds}
        cpu = {name: [] for name in ds}
        for rnd in range(o.rounds):
            for name, d in ds.items():
                toks = [realm.mint() for _ in range(o.connections)] \
                    if name == "negotiate" else None
                gss0, c0 = metric(d, "squidlike_auth_gss_checks_total"), cpu_ticks(d)
                res = wrk(d, target, host, o.connections, o.duration, toks,
                          basic_hdr if name == "basic" else None)
                c1, gss1 = cpu_ticks(d), metric(d, "squidlike_auth_gss_checks_total")
                res["gss"] = gss1 - gss0
                res["cpu_us_per_req"] = (c1 - c0) / os.sysconf("SC_CLK_TCK") * 1e6 \
                    / max(res["requests"], 1)
                results[name].append(res)
                print("round %d %-9s %8.0f req/s  p50 %5d us  p99 %6d us  non-2xx %d  "
                      "errors %d  gss %d  cpu %.1f us/req" % (
                          rnd + 1, name, res["rps"], res["p50_us"], res["p99_us"],
                          res["status"], res["connect"] + res["read"] + res["write"]
                          + res["timeout"], res["gss"], res["cpu_us_per_req"]), flush=True)
        assert len(origin.requests) == before, "the load went to the origin"
        print("\n| config | req/s (median of %d) | vs off | p50 us | p99 us | CPU us/req "
              "| non-2xx | GSS checks/round |" % o.rounds)
        print("|---|---|---|---|---|---|---|---|")
        off = statistics.median(r["rps"] for r in results["off"])
        for name, rs in results.items():
            med = statistics.median(r["rps"] for r in rs)
            print("| %s | %.0f | %+.1f %% | %d | %d | %.1f | %d | %s |" % (
                name, med, (med / off - 1) * 100,
                statistics.median(r["p50_us"] for r in rs),
                statistics.median(r["p99_us"] for r in rs),
                statistics.median(r["cpu_us_per_req"] for r in rs),
                sum(r["status"] for r in rs),
                ",".join("%d" % r["gss"] for r in rs)))
        # one ticket check, from the client's side
        n = o.serial
        toks = [realm.mint() for _ in range(n)]
        neg_med, neg_min = fresh_connections(ds["negotiate"], target, toks)
        off_med, off_min = fresh_connections(ds["off"], target, [None] * n)
        print("\nfresh connection, one hit each (%d in a row): off %.2f ms median "
              "(min %.2f), with a new ticket %.2f ms median (min %.2f): a check costs "
              "about %.2f ms of latency" % (n, off_med, off_min, neg_med, neg_min,
                                            neg_med - off_med))
    finally:
        for d in ds.values():
            d.stop()
        origin.stop()
        realm.stop()


if __name__ == "__main__":
    main()

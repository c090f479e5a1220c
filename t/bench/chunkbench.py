#!/usr/bin/env python3
"""chunkbench.py - what chunked bodies cost the proxy: a chunked download
and a chunked upload of SIZE bytes through the daemon, each RUNS times;
prints the median wall time per transfer and the daemon's CPU time (user +
system, from /proc/PID/stat, in clock ticks: summed over the runs for a
usable resolution).

    SQUIDLIKE=squidlike/squidlike python3 t/bench/chunkbench.py [--size 100M]
        [--chunk 16K] [--runs 10] [--store]

The origin is a few lines of Python that only moves bytes (the response is
framed once, in memory, in --chunk pieces with an extension on each size
line, and no-store: the relay is measured, not the cache - unless --store,
then the cache stores each download, under a URL of its own; an upload is
read to its last chunk and answered 200); the client is
curl (-T with Transfer-Encoding: chunked for the upload, so its chunks are
curl's). Everything on 127.0.0.1; uses the e2e harness for the daemon.
Compare two builds by running it once with each SQUIDLIKE.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402


def size_arg(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * mult[s[-1].upper()] if s[-1].upper() in mult else int(s)


class Origin:
    """GET: the framed body; POST/PUT: read to the end of the chunked body,
    answer 200. One thread per connection."""

    def __init__(self, body, store):
        self.body = body
        self.store = store
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            s, _ = self.ls.accept()
            threading.Thread(target=self._conn, args=(s,), daemon=True).start()

    def _conn(self, s):
        buf = bytearray(1 << 20)
        mv = memoryview(buf)
        with s:
            data = b""
            while b"\r\n\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    return
                data += got
            head, _, rest = data.partition(b"\r\n\r\n")
            if head.startswith(b"GET"):
                s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" +
                          (b"Cache-Control: max-age=600\r\n" if self.store else
                           b"Cache-Control: no-store\r\n") + b"Connection: close\r\n\r\n")
                s.sendall(self.body)
                return
            tail = bytes(rest[-7:])
            while not tail.endswith(b"\r\n0\r\n\r\n"):
                n = s.recv_into(mv)
                if n == 0:
                    return
                tail = (tail + bytes(mv[max(0, n - 7):n]))[-7:]
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def framed(size, chunk):
    piece = h.pattern_bytes(chunk)
    parts, left = [], size
    while left > 0:
        n = min(chunk, left)
        parts.append(b"%x;ext=1\r\n" % n + piece[:n] + b"\r\n")
        left -= n
    return b"".join(parts) + b"0\r\n\r\n"


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def timed(d, argv):
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(d.pid), time.monotonic()
    r = subprocess.run(argv, capture_output=True, timeout=600)
    t1, c1 = time.monotonic(), cpu_ticks(d.pid)
    if r.returncode != 0:
        raise SystemExit("curl failed: %s" % r.stderr.decode(errors="replace"))
    return t1 - t0, (c1 - c0) / hz, r.stdout.decode().strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=size_arg, default=100 << 20)
    ap.add_argument("--chunk", type=size_arg, default=16 << 10)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--store", action="store_true")
    a = ap.parse_args()
    o = Origin(framed(a.size, a.chunk), a.store)
    up = os.path.join(h.tmpdir(), "upload.bin")
    with open(up, "wb") as f:
        f.write(h.pattern_bytes(a.size))
    proxy = "127.0.0.1:%d"
    with h.Daemon() as d:
        px = proxy % d.port
        url = "http://127.0.0.1:%d/" % o.port
        down, upl = [], []
        for i in range(a.runs):
            w, c, out = timed(d, ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}",
                                  "-x", px, url + "down%d" % i])
            if int(out) != a.size:
                raise SystemExit("downloaded %s bytes, want %d" % (out, a.size))
            down.append((w, c))
            w, c, out = timed(d, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  "-x", px, "-T", up, "-H", "Transfer-Encoding: chunked",
                                  "-H", "Expect:", url + "up"])
            if out != "200":
                raise SystemExit("upload answered %s" % out)
            upl.append((w, c))
    mb = a.size / (1 << 20)
    for name, rs in (("download", down), ("upload", upl)):
        w = statistics.median(x for x, _ in rs)
        c = sum(y for _, y in rs)
        print("%-8s %d x %.0f MiB  chunks %s  wall %.3f s (median)  proxy CPU %.2f s "
              "in all, %.1f ms per transfer, %.0f MiB per CPU second"
              % (name, a.runs, mb, a.chunk if name == "download" else "curl's", w, c,
                 1000 * c / a.runs, a.runs * mb / c if c else 0))
    shutil.rmtree(h.tmpdir(), ignore_errors=True)


if __name__ == "__main__":
    main()

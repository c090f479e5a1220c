#!/usr/bin/env python3
"""Large streaming: a 1 GiB download (nginx, sparse file) and a 1 GiB upload
(to the scripted origin, hashed there) pass through with the daemon's peak
RSS (VmHWM) growing by less than 64 MiB.

Under AddressSanitizer the allocator's quarantine (256 MiB by default) would
count freed buffers as resident; the daemon gets quarantine_size_mb=8 here so
that the bound measures the daemon, not the sanitizer."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NginxOrigin, ScriptedOrigin  # noqa: E402

GIB = 1 << 30
RSS_SLACK_KB = 64 * 1024
MAX_TIME = 300


def _daemon():
    asan = os.environ.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in asan:
        asan = (asan + ":" if asan else "") + "quarantine_size_mb=8"
    return Daemon(env={"ASAN_OPTIONS": asan})


def _check_rss(d, before, what):
    after = d.rss_kb()
    h.log("%s: VmHWM %d -> %d kB, VmRSS now %d kB" % (what, before["VmHWM"], after["VmHWM"],
                                                       after["VmRSS"]))
    assert after["VmHWM"] < before["VmHWM"] + RSS_SLACK_KB, \
        "%s: peak RSS grew from %d kB to %d kB (limit +%d kB)" % (
            what, before["VmHWM"], after["VmHWM"], RSS_SLACK_KB)


def test_download_1gib():
    n = NginxOrigin(big_size=GIB)
    with _daemon() as d:
        # Warm up: buffers and pools that exist after one request.
        r = h.curl(n.url("/small.txt"), proxy=d).check()
        assert r.out == n.SMALL
        before = d.rss_kb()
        rc, size, digest, err = h.curl_stream(n.url("/big.bin"), timeout=MAX_TIME, proxy=d)
        assert rc == 0, "download failed (curl exit %d): %s" % (rc, err.strip())
        assert size == GIB, "downloaded %d bytes of %d" % (size, GIB)
        assert digest == h.zeros_sha256(GIB), "downloaded bytes differ from the file"
        _check_rss(d, before, "1 GiB download")
        a = d.wait_access("/big.bin", "TCP_MISS/200")
        assert a.bytes >= GIB, a.raw


def test_upload_1gib():
    o = ScriptedOrigin(keep_body=0)
    path = os.path.join(h.tmpdir(), "sparse-upload.bin")
    with open(path, "wb"):
        pass
    os.truncate(path, GIB)
    with _daemon() as d:
        r = h.curl(o.url("/warm"), "--data-binary", "warm-up", proxy=d).check()
        before = d.rss_kb()
        r = h.curl("-T", path, "-H", "Expect:", "-o", "/dev/null", "-w", "%{http_code}",
                   o.url("/upload"), proxy=d, timeout=MAX_TIME)
        assert r.rc == 0, "upload failed (curl exit %d): %s" % (r.rc, r.err.strip())
        assert r.out == b"200", "upload answered %r" % r.out
        req = [q for q in o.wait_complete(2, timeout=60) if q.target == "/upload"][0]
        assert req.method == "PUT" and req.body_len == GIB, "origin got %d bytes" % req.body_len
        assert req.body_sha256 == h.zeros_sha256(GIB), "uploaded bytes differ"
        _check_rss(d, before, "1 GiB upload")
    os.unlink(path)


if __name__ == "__main__":
    h.run(globals(), watchdog=1500)

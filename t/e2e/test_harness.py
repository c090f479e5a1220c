#!/usr/bin/env python3
"""Self-test of the e2e harness: stub DNS, scripted origin, nginx origins,
clients and helpers. Needs no daemon."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Response  # noqa: E402


def test_free_port_is_free():
    ports = {h.free_port() for _ in range(20)}
    assert len(ports) == 20, "free_port returned duplicates"
    for p in list(ports)[:5]:
        assert h.port_is_closed(p), "port %d is not free" % p


def test_libconfig_roundtrip():
    text = h.shipped_conf_text()
    cfg = h.parse_libconfig(text)
    for key in ("listen", "http", "timeouts", "dns", "access", "limits"):
        assert key in cfg, "shipped config parsed without %r: %r" % (key, list(cfg))
    assert cfg["http"]["forwarded_for"] == "delete"
    again = h.parse_libconfig(h.format_libconfig(cfg))
    assert again == cfg, "format/parse round trip changed the config"
    merged = h.merge_overrides(cfg, {"http.forwarded_for": "on",
                                     "timeouts": {"client_idle": "1s"},
                                     "access.connect_ports": [8443],
                                     "limits": None})
    assert merged["http"]["forwarded_for"] == "on"
    assert merged["http"]["via"] is True
    assert merged["timeouts"]["client_idle"] == "1s"
    assert merged["timeouts"]["connect"] == cfg["timeouts"]["connect"]
    assert merged["access"]["connect_ports"] == [8443]
    assert "limits" not in merged
    assert cfg["http"]["forwarded_for"] == "delete", "merge modified its input"
    t = h.parse_libconfig('a = "x" "y"; // c\n/* multi\nline */ g: { b = 0x10; c = [1, 2]; '
                          'd = false; e = ( "p", 3 ); f = 1.5; }; h = 12L;')
    assert t == {"a": "xy", "g": {"b": 16, "c": [1, 2], "d": False, "e": ["p", 3], "f": 1.5},
                 "h": 12}, t


def test_dns_stub_answers():
    dns = h.DnsStub({"origin.test": {"A": [("127.0.0.1", 60), ("127.0.0.3", 30)]},
                     "v6.test": {"AAAA": [("::1", 20)]},
                     "both.test": {"A": [("127.0.0.1", 5)], "AAAA": [("::1", 5)]}},
                    nxdomain={"nx.test"}, servfail={"bad.test"})
    rcode, flags, ans, _ = h.dns_query(dns.port, "origin.test", "A")
    assert rcode == 0 and ans == [("A", "127.0.0.1", 60), ("A", "127.0.0.3", 30)], ans
    assert flags & 0x8000 and flags & 0x0400 and flags & 0x0100 and flags & 0x0080, hex(flags)
    rcode, _, ans, _ = h.dns_query(dns.port, "V6.Test", "AAAA")
    assert rcode == 0 and ans == [("AAAA", "::1", 20)], ans
    # NODATA: the name exists, not that type; SOA in authority.
    rcode, _, ans, ns = h.dns_query(dns.port, "v6.test", "A")
    assert rcode == 0 and ans == [] and ns == 1, (rcode, ans, ns)
    rcode, _, ans, ns = h.dns_query(dns.port, "nx.test", "A")
    assert rcode == 3 and ans == [] and ns == 1, (rcode, ans)
    rcode, _, ans, _ = h.dns_query(dns.port, "unknown.test", "AAAA")
    assert rcode == 3, rcode
    rcode, _, _, _ = h.dns_query(dns.port, "bad.test", "A")
    assert rcode == 2, rcode
    # EDNS OPT in the query: answered normally.
    rcode, _, ans, _ = h.dns_query(dns.port, "both.test", "AAAA", edns=True)
    assert rcode == 0 and ans == [("AAAA", "::1", 5)], ans
    assert dns.count("origin.test", "A") == 1
    assert dns.count("v6.test", "AAAA") == 1 and dns.count("v6.test", "A") == 1
    assert dns.count("nx.test", "A") == 1
    assert dns.count("both.test", "A") == 0
    # Records can change at run time.
    dns.set("origin.test", {"A": [("127.0.0.9", 1)]})
    _, _, ans, _ = h.dns_query(dns.port, "origin.test", "A")
    assert ans == [("A", "127.0.0.9", 1)], ans
    assert dns.count("origin.test", "A") == 2


def test_dns_stub_drop_times_out():
    dns = h.DnsStub({}, drop={"slow.test"})
    t0 = time.monotonic()
    try:
        h.dns_query(dns.port, "slow.test", "A", timeout=0.5)
    except socket.timeout:
        pass
    else:
        raise AssertionError("a dropped name was answered")
    assert time.monotonic() - t0 < 3
    assert dns.count("slow.test", "A") == 1
    # Still serving afterwards.
    rcode, _, _, _ = h.dns_query(dns.port, "other.test", "A")
    assert rcode == 3


def test_dns_stub_parallel_clients():
    dns = h.DnsStub({"p.test": {"A": [("127.0.0.1", 60)], "AAAA": [("::1", 60)]}})
    import threading
    errors = []

    def worker(qt):
        try:
            for _ in range(20):
                rcode, _, ans, _ = h.dns_query(dns.port, "p.test", qt)
                assert rcode == 0 and len(ans) == 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=worker, args=(qt,)) for qt in ("A", "AAAA") * 3]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors, errors
    assert dns.count("p.test", "A") == 60 and dns.count("p.test", "AAAA") == 60


def test_scripted_origin_get_and_keepalive():
    o = h.ScriptedOrigin()
    url = o.url("/a?x=1")
    r = h.curl(url, o.url("/b")).check()
    assert r.out == (b"GET /a?x=1\nlen=0 sha256=%s\n" % h.sha256(b"").encode()
                     + b"GET /b\nlen=0 sha256=%s\n" % h.sha256(b"").encode()), r.out
    reqs = o.wait_requests(2)
    assert reqs[0].method == "GET" and reqs[0].target == "/a?x=1" and reqs[0].version == "HTTP/1.1"
    assert reqs[0].header("host") == "127.0.0.1:%d" % o.port
    assert reqs[0].conn_serial == reqs[1].conn_serial, "curl did not reuse the connection"
    assert (reqs[0].index, reqs[1].index) == (0, 1)
    assert o.connections == 1


def test_scripted_origin_bodies():
    o = h.ScriptedOrigin()
    path = os.path.join(h.tmpdir(), "body.bin")
    data = os.urandom(300000)
    with open(path, "wb") as f:
        f.write(data)
    h.curl("--data-binary", "@" + path, o.url("/cl")).check()
    h.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path, o.url("/ch")).check()
    h.curl("-X", "PUT", "--data-binary", "@" + path, "-H", "Expect: 100-continue",
           o.url("/put")).check()
    o.wait_complete(3)
    for r in o.requests:
        assert r.body_len == len(data) and r.body_sha256 == h.sha256(data), r
        assert r.body == data
    assert not o.requests[0].chunked and o.requests[1].chunked
    assert o.requests[2].header("Expect") == "100-continue"


def test_scripted_origin_actions():
    def handler(req):
        p = req.target
        if p == "/interim":
            return Response(200, b"final", interim=[(103, [("Link", "</a.css>; rel=preload")])])
        if p == "/chunked":
            return Response(200, [b"abc", b"defg"], chunked=True, chunk_ext=";x=1",
                            trailers=[("X-Sum", "7")])
        if p == "/closedelim":
            return Response(200, h.pattern_body(100000), close_delimited=True)
        if p == "/nobody":
            return Response(no_response=True)
        if p == "/garbage":
            return b"garbage\r\n\r\n"
        if p == "/delay":
            return Response(200, b"late", delay=0.3)
        if p == "/head":
            return Response(200, b"x" * 1234)
        if p == "/204":
            return Response(204)
        return Response(404, b"nope")
    o = h.ScriptedOrigin(handler)

    def get(path, method="GET", version="HTTP/1.1"):
        with h.RawConn(o.port) as c:
            c.send("%s %s %s\r\nHost: x\r\n\r\n" % (method, path, version))
            return c.recv_response(method)
    r = get("/interim")
    assert r.status == 200 and r.body == b"final" and r.interim[0][0] == 103, r.brief()
    r = get("/chunked")
    assert r.chunked and r.body == b"abcdefg" and r.trailers == [("X-Sum", "7")], r.brief()
    r = get("/closedelim")
    assert r.close_delimited and r.body == h.pattern_bytes(100000)
    try:
        get("/nobody")
    except h.ConnectionClosed:
        pass
    else:
        raise AssertionError("expected the connection to close without a response")
    out = h.raw(o.port, b"GET /garbage HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out == b"garbage\r\n\r\n", out
    t0 = time.monotonic()
    r = get("/delay")
    assert r.body == b"late" and time.monotonic() - t0 >= 0.25
    r = get("/head", method="HEAD")
    assert r.status == 200 and r.header("Content-Length") == "1234" and r.body == b""
    r = get("/204")
    assert r.status == 204 and not r.has_header("Content-Length")
    # HTTP/1.0 request: the origin closes after the response.
    out = h.raw(o.port, b"GET /head HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"x" * 1234)
    # Pipelining straight to the origin: answered in order.
    with h.RawConn(o.port) as c:
        c.send(b"GET /delay HTTP/1.1\r\nHost: x\r\n\r\nGET /head HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv_response().body == b"late"
        assert c.recv_response().body == b"x" * 1234
    assert not o.errors, o.errors


def test_scripted_origin_head_handler():
    def early(req):
        if req.header("Expect"):
            return Response(417)
        return None
    o = h.ScriptedOrigin(head_handler=early)
    with h.RawConn(o.port) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.recv_response()
        assert r.status == 417 and not r.interim, r.brief()
    assert not o.requests[0].complete
    r = h.curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "abc",
               o.url("/x")).check()
    assert r.out == b"200", r.out


def test_scripted_origin_close_silently_and_retry_view():
    o = h.ScriptedOrigin(lambda req: Response(200, b"ok", close_silently_after=0.1))
    with h.RawConn(o.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.recv_response()
        assert r.body == b"ok" and not r.has_header("Connection")
        assert c.closed(5), "origin did not close the idle connection"


def test_scripted_origin_streams_large_bodies():
    size = 64 << 20
    o = h.ScriptedOrigin(lambda req: Response(200, h.pattern_body(size), length=size)
                         if req.method == "GET" else None, keep_body=0)
    path = os.path.join(h.tmpdir(), "sparse.bin")
    with open(path, "wb"):
        pass
    os.truncate(path, size)
    out = os.path.join(h.tmpdir(), "down.bin")
    r = h.curl("-o", out, "-w", "%{size_download}", o.url("/big"), timeout=120).check()
    assert int(r.out) == size
    with open(out, "rb") as f:
        assert h.sha256(f.read()) == h.pattern_sha256(size)
    os.unlink(out)
    h.curl("-T", path, "-H", "Expect:", o.url("/up"), "-o", "/dev/null", timeout=120).check()
    req = o.wait_complete(2)[1]
    assert req.method == "PUT" and req.body_len == size, req
    assert req.body_sha256 == h.zeros_sha256(size)
    assert req.body is None, "a body larger than keep_body was kept"


def test_scripted_origin_ipv6():
    if not h.ipv6_loopback_ok():
        raise h.Skip("no IPv6 loopback")
    o = h.ScriptedOrigin(family=socket.AF_INET6)
    r = h.curl("-g", o.url("/six")).check()
    assert r.out.startswith(b"GET /six"), r.out
    assert o.last().header("Host") == "[::1]:%d" % o.port


def test_tcp_server_half_close():
    def conn(sock, serial):
        data = b""
        while True:
            b = sock.recv(65536)
            if not b:
                break
            data += b
        sock.sendall(b"got %d: %s" % (len(data), data))
    s = h.TcpServer(conn)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"hello")
    c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = c.recv(100)
        if not b:
            break
        got += b
    c.close()
    assert got == b"got 5: hello", got
    assert s.connections == 1


def test_nginx_origin():
    n = h.NginxOrigin()
    r = h.curl(n.url("/small.txt")).check()
    assert r.out == n.SMALL, r.out
    r = h.curl("-I", n.url("/big.bin")).check()
    assert b"Content-Length: %d" % (1 << 30) in r.out, r.out
    last = (1 << 30) - 1
    r = h.curl("-r", "%d-%d" % (last - 823, last), "-w", "\n%{http_code}",
               n.url("/big.bin")).check()
    body, _, code = r.out.rpartition(b"\n")
    assert code == b"206" and body == bytes(824), (code, len(body))
    # Two URLs, one connection.
    r = h.curl("-v", n.url("/hello.txt"), n.url("/hello.txt")).check()
    assert r.out == b"hello\nhello\n"
    assert "Re-using existing connection" in r.err or "left intact" in r.err
    assert os.path.exists(os.path.join(n.dir, "logs", "access.log")), "nginx logs elsewhere"
    h.wait_until(lambda: len(n.requests("/hello.txt")) == 2, 10, what="nginx's log lines")
    assert n.requests()[0] == ("GET", "/small.txt", 200), n.requests()


def test_nginx_origin_server_conf_and_files():
    n = h.NginxOrigin(big_size=0, name="nginx-conf", files={"/a/b.txt": b"b\n"},
                      server_conf='    location /a/ { add_header X-Loc a; }\n')
    assert os.path.exists(os.path.join(n.docroot, "a", "b.txt")), "leading / left the docroot"
    for bad in ("../x", "/a/../../x"):
        try:
            n.add_file(bad, b"x")
        except h.TestFailure:
            continue
        raise AssertionError("add_file(%r) wrote outside the docroot" % bad)
    r = h.curl("-D", "-", n.url("/a/b.txt")).check()
    assert b"X-Loc: a" in r.out and r.out.endswith(b"\r\n\r\nb\n"), r.out
    h.curl(n.url("/missing")).check()
    h.wait_until(lambda: len(n.requests()) == 2, 10, what="nginx's log lines")
    assert n.requests("/missing") == [("GET", "/missing", 404)], n.requests()


def test_tls_origin():
    t = h.TlsOrigin()
    r = h.curl("-k", "https://127.0.0.1:%d/" % t.port).check()
    assert r.out == t.INDEX, r.out
    r = h.curl("https://127.0.0.1:%d/" % t.port)
    assert r.rc != 0, "curl accepted a self-signed certificate without -k"


def test_raw_and_proxy_request_helpers():
    o = h.ScriptedOrigin()
    out = h.raw(o.port, b"GET /r HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"GET /r" in out, out
    # build_request adds Host and Content-Length.
    req = h.build_request("POST", "http://127.0.0.1:%d/p" % o.port, [("X-A", "1")], b"abc")
    assert req.startswith(b"POST http://127.0.0.1:%d/p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          % (o.port, o.port)), req
    assert b"Content-Length: 3\r\n\r\nabc" in req
    # proxy_request against the origin itself (it accepts absolute form).
    r = h.proxy_request(o.port, "POST", "http://127.0.0.1:%d/p" % o.port, body=b"abc")
    assert r.status == 200 and b"len=3" in r.body, r.brief()
    assert o.last().target == "http://127.0.0.1:%d/p" % o.port
    assert h.split_url("http://[::1]:8080/x?y") == ("::1", 8080, "/x?y", "[::1]:8080")
    assert h.split_url("http://a.test") == ("a.test", 80, "/", "a.test")


def test_access_line_parser():
    ln = ("1700000000.123    12 127.0.0.1 TCP_MISS/200 1234 GET http://127.0.0.1:8080/x "
          "- HIER_DIRECT/127.0.0.1 text/plain")
    a = h.parse_access_line(ln)
    assert (a.code, a.status, a.bytes, a.method, a.url, a.client, a.elapsed) == \
        ("TCP_MISS", 200, 1234, "GET", "http://127.0.0.1:8080/x", "127.0.0.1", 12), a
    a = h.parse_access_line("1.0 0 127.0.0.1 NONE_NONE/400 0 - error:invalid-request - HIER_NONE/- -")
    assert a.code == "NONE_NONE" and a.status == 400
    assert h.parse_access_line("short line") is None


def test_netns_link():
    with h.NetNs("198.51.100.20/30") as ns:
        o = h.ScriptedOrigin(host=ns.host_addr)
        r = ns.exec(["curl", "-q", "-sS", "--max-time", "10", o.url("/from-ns")])
        assert r.returncode == 0 and r.stdout.startswith(b"GET /from-ns"), r
        assert o.last().peer[0] == ns.ns_addr, o.last().peer
    r = h.subprocess.run(["ip", "netns", "list"], capture_output=True)
    assert ns.name.encode() not in r.stdout, "namespace left behind"


def test_tinyfs_fills_and_leaks_nothing():
    with h.TinyFs(512) as fs:
        assert os.listdir(fs.path) == [], "the tmpfs shows in the test's namespace"
        r = h.subprocess.run(fs.wrapper + ["sh", "-c", 'echo hi > "$1"/probe && df -k "$1"',
                                           "sh", fs.path], capture_output=True, timeout=20)
        assert r.returncode == 0 and b"tinyfs" in r.stdout, r
        assert open(fs.host_path("probe"), "rb").read() == b"hi\n"
        assert os.listdir(fs.path) == [], "a file of the tmpfs shows in the test's namespace"
        fs.fill(leave=64 << 10)
        assert 48 << 10 <= fs.avail() <= 80 << 10, fs.avail()
        fs.fill(name="rest")
        assert fs.avail() == 0, fs.avail()
        try:
            with open(fs.host_path("more"), "wb", buffering=0) as f:
                f.write(b"x" * 8192)
        except OSError as e:
            assert e.errno == h.errno.ENOSPC, e
        else:
            raise AssertionError("a full tmpfs took 8 KiB")
        fs.free_filler()
        assert fs.avail() > 400 << 10, fs.avail()
        holder = fs.holder
    assert not holder.alive(), "the namespace holder outlived close()"


def test_wait_until_is_bounded():
    t0 = time.monotonic()
    try:
        h.wait_until(lambda: False, timeout=0.3, what="nothing")
    except AssertionError as e:
        assert "nothing" in str(e)
    else:
        raise AssertionError("wait_until did not time out")
    assert time.monotonic() - t0 < 2


def test_proc_children_and_alive():
    import subprocess
    p = subprocess.Popen(["sleep", "30"])
    try:
        assert p.pid in h.proc_children(os.getpid()), h.proc_children(os.getpid())
        assert h.proc_alive(p.pid)
        p.kill()
        # Killed but not waited for: a zombie, neither alive nor a child.
        h.wait_until(lambda: not h.proc_alive(p.pid), 10, what="sleep gone")
        assert p.pid not in h.proc_children(os.getpid())
    finally:
        p.kill()
        p.wait(10)
    assert not h.proc_alive(p.pid) and h.proc_children(p.pid) == set()


if __name__ == "__main__":
    h.run(globals(), needs_daemon=False, requires=("curl", "openssl"))

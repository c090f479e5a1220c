#!/usr/bin/env python3
"""CONNECT tunnels: through to a TLS server with curl -p, ports not allowed
-> 403, half-close, bulk bytes both ways, refused targets, idle timeout,
access log lines."""

import os
import re
import socket
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, TcpServer, TlsOrigin  # noqa: E402


def _open_tunnel(d, port, host="127.0.0.1", timeout=30):
    c = h.RawConn(d.port, timeout=timeout)
    c.send("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port))
    r = c.recv_response("CONNECT")
    assert r.status == 200, "CONNECT answered %s" % r.brief()
    return c, r


def _read_to_close(sock, timeout=20):
    sock.settimeout(timeout)
    out = b""
    while True:
        b = sock.recv(65536)
        if not b:
            return out
        out += b


def test_connect_to_tls_origin():
    t = TlsOrigin()
    dns = DnsStub({"tls.test": {"A": [("127.0.0.1", 60)]}})
    with Daemon({"access.connect_ports": [443, t.port]}, dns=dns) as d:
        url = "https://127.0.0.1:%d/" % t.port
        r, resp = h.fetch(url, "-k", "-p", proxy=d)
        assert r.rc == 0, "curl through the tunnel failed: %s" % r.err
        assert resp.status == 200 and resp.body == t.INDEX, resp.brief()
        assert resp.blocks[0].status == 200, "proxy CONNECT answer: %s" % resp.blocks[0].brief()
        a = d.wait_access("CONNECT", "127.0.0.1:%d" % t.port)
        assert (a.code, a.status) == ("TCP_TUNNEL", 200), a.raw
        assert a.bytes > 0, "tunnel logged with %d bytes: %s" % (a.bytes, a.raw)
        # By name, resolved by the proxy.
        r, resp = h.fetch("https://tls.test:%d/" % t.port, "-k", "-p", proxy=d)
        assert r.rc == 0 and resp.body == t.INDEX, r.err
        assert dns.count("tls.test", "A") >= 1
        d.wait_access("CONNECT", "tls.test:%d" % t.port, "TCP_TUNNEL/200")


def test_connect_port_not_allowed():
    t = TlsOrigin()
    with Daemon() as d:        # default connect_ports: [443]
        url = "https://127.0.0.1:%d/" % t.port
        r = h.curl("-k", "-p", "-o", "/dev/null", "-w", "%{http_connect}", url, proxy=d)
        assert r.rc != 0, "tunnel to a port not allowed succeeded"
        assert r.out == b"403", "proxy CONNECT code %r (%s)" % (r.out, r.err.strip())
        a = d.wait_access("CONNECT", "TCP_DENIED/403")
        assert a.status == 403
        with h.RawConn(d.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (t.port, t.port))
            r = c.recv_response("CONNECT")
            assert r.status == 403, r.brief()
        # Plain HTTP still works afterwards.
        o = h.ScriptedOrigin()
        assert h.proxy_request(d, "GET", o.url("/x")).status == 200


def test_connect_half_close():
    def conn(sock, serial):
        got = _read_to_close(sock)
        sock.sendall(b"got %d: %s" % (len(got), got))
    srv = TcpServer(conn)
    with Daemon({"access.connect_ports": [srv.port]}) as d:
        c, _ = _open_tunnel(d, srv.port)
        with c:
            c.send(b"hello")
            c.shutdown_write()
            reply = bytes(c.rd.buf) + _read_to_close(c.sock)
        assert reply == b"got 5: hello", "after half-close the client got %r" % reply
        a = d.wait_access("CONNECT", "TCP_TUNNEL/200", "127.0.0.1:%d" % srv.port)
        assert a.bytes >= len(b"got 5: hello"), a.raw


def _spliced(d):
    m = h.proxy_request(d, "GET", "/metrics").body.decode()
    return int(re.search(r"^squidlike_tunnel_spliced_bytes_total (\d+)$", m, re.M).group(1))


def test_connect_bulk_both_ways():
    # 16 MiB each way, byte for byte, in both modes: bulk bytes by
    # splice(2) (the default: the first 16 KiB of each direction go
    # through the buffers, the rest never enters user space), and by
    # read/write with limits.tunnel_splice = false.
    for splice in (True, False):
        _bulk(splice)


def _bulk(splice):
    def echo(sock, serial):
        while True:
            b = sock.recv(65536)
            if not b:
                return
            sock.sendall(b)
    srv = TcpServer(echo)
    size = 16 * 1024 * 1024
    data = os.urandom(size)
    with Daemon({"access.connect_ports": [srv.port], "limits.tunnel_splice": splice}) as d:
        c, _ = _open_tunnel(d, srv.port, timeout=60)
        with c:
            err = []

            def writer():
                try:
                    for i in range(0, size, 256 * 1024):
                        c.sock.sendall(data[i:i + 256 * 1024])
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError as e:
                    err.append(e)
            t = threading.Thread(target=writer, daemon=True)
            t.start()
            back = bytes(c.rd.buf) + _read_to_close(c.sock, timeout=60)
            t.join(60)
            assert not err, err
        assert len(back) == size and back == data, "echoed %d of %d bytes" % (len(back), size)
        a = d.wait_access("CONNECT", "TCP_TUNNEL/200")
        assert a.bytes >= size, a.raw
        n = _spliced(d)
        if splice:
            # all but each direction's first 16 KiB (and what a read
            # took past it), both ways
            assert 2 * size - 4 * 65536 <= n <= 2 * size, n
        else:
            assert n == 0, n


def test_connect_target_refusing():
    port = h.free_port()
    with Daemon({"access.connect_ports": [port]}) as d:
        with h.RawConn(d.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port))
            r = c.recv_response("CONNECT")
            assert r.status == 502, r.brief()
            assert r.header("X-Squidlike-Error") == "ERR_CONNECT_FAIL", r.headers


def test_connect_tunnel_idle_timeout():
    def echo(sock, serial):
        while True:
            b = sock.recv(65536)
            if not b:
                return
            sock.sendall(b)
    srv = TcpServer(echo)
    with Daemon({"access.connect_ports": [srv.port], "timeouts.tunnel_idle": "1s"}) as d:
        c, _ = _open_tunnel(d, srv.port)
        with c:
            c.send(b"ping")
            got = []
            c.rd.read_exact(4, lambda b: got.append(bytes(b)))
            assert b"".join(got) == b"ping", got
            assert c.closed(15), "idle tunnel still open after 15 s with tunnel_idle 1s"
        # Squid tags a tunnel cut short TCP_TUNNEL_ABORTED; either is fine.
        a = d.wait_access("CONNECT", "127.0.0.1:%d" % srv.port)
        assert a.code.startswith("TCP_TUNNEL") and a.status == 200, a.raw


if __name__ == "__main__":
    h.run(globals(), requires=("curl", "openssl"))

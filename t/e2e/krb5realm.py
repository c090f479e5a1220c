"""A throwaway MIT Kerberos realm for the tests and the Negotiate benchmark.

Realm() makes one in a fresh directory of the harness's temp dir:
krb5.conf and kdc.conf written there (KRB5_CONFIG, KRB5_KDC_PROFILE: the
machine's files are never read), `kdb5_util create -s`, `kadmin.local`
adding HTTP/proxy.test and HTTP/other.test (keys exported with ktadd) and a
user alice with a password, `krb5kdc` on a free loopback port (TCP only),
`kinit` into a ccache of that directory.

The proxy's name: a Kerberos client asks for a ticket for HTTP/<the name it
connects to>, so curl must reach the proxy as "proxy.test". curl's
--resolve and --connect-to apply to the URL's host, not to the proxy's, so
curl runs under nss_wrapper (LD_PRELOAD=libnss_wrapper.so with
NSS_WRAPPER_HOSTS: a hosts file of our own; /etc/hosts is never touched),
which makes proxy.test and other.test 127.0.0.1 for curl alone.

mint() makes a fresh, unused token: curl's, taken by a small fake proxy
that records the Proxy-Authorization it is sent and never checks it.
Raises harness.Skip when a tool is missing."""

import os
import re
import shutil
import socket
import subprocess
import threading

import harness as h

REALM = "TEST.REALM"
USER, USER_PW = "alice", "alice-kerberos-pw"
SBIN = ("/usr/sbin", "/sbin", "/usr/bin")
NSS_WRAPPER_PATHS = ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                     "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so")


def _tool(name):
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    p = shutil.which(name)
    if p is None:
        raise h.Skip("%s not installed (Debian: krb5-kdc, krb5-admin-server, "
                     "krb5-user)" % name)
    return p


def _nss_wrapper():
    for p in NSS_WRAPPER_PATHS:
        if os.path.exists(p):
            return p
    raise h.Skip("libnss_wrapper.so not installed (Debian: libnss-wrapper)")


class Realm:
    """A KDC of our own with HTTP/proxy.test, HTTP/other.test and alice."""

    def __init__(self):
        tools = {t: _tool(t) for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")}
        self.nss = _nss_wrapper()
        if not shutil.which("curl"):
            raise h.Skip("curl not installed")
        self.dir = h.subdir("krb5")
        self.port = h.free_port()
        d = self.dir
        self.ccache = os.path.join(d, "ccache")
        self.keytab = os.path.join(d, "http.keytab")        # HTTP/proxy.test only
        self.keytab_both = os.path.join(d, "both.keytab")   # and HTTP/other.test
        self.hosts = os.path.join(d, "hosts")
        with open(os.path.join(d, "krb5.conf"), "w") as f:
            f.write("[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n"
                    " dns_lookup_realm = false\n rdns = false\n"
                    " dns_canonicalize_hostname = false\n udp_preference_limit = 1\n"
                    " default_ccache_name = FILE:%s\n"
                    "[realms]\n %s = {\n  kdc = 127.0.0.1:%d\n }\n"
                    "[domain_realm]\n .test = %s\n" % (REALM, self.ccache, REALM,
                                                       self.port, REALM))
        with open(os.path.join(d, "kdc.conf"), "w") as f:
            f.write("[kdcdefaults]\n kdc_listen = 127.0.0.1:%d\n"
                    " kdc_tcp_listen = 127.0.0.1:%d\n"
                    "[realms]\n %s = {\n  database_name = %s/principal\n"
                    "  key_stash_file = %s/stash\n  acl_file = %s/kadm5.acl\n"
                    "  supported_enctypes = aes256-cts-hmac-sha1-96:normal\n }\n"
                    "[logging]\n kdc = FILE:%s/kdc.log\n"
                    % (self.port, self.port, REALM, d, d, d, d))
        open(os.path.join(d, "kadm5.acl"), "w").close()
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 proxy.test\n127.0.0.1 other.test\n")
        self.env = h.child_env({"KRB5_CONFIG": os.path.join(d, "krb5.conf"),
                                "KRB5_KDC_PROFILE": os.path.join(d, "kdc.conf"),
                                "KRB5CCNAME": "FILE:" + self.ccache,
                                "KRB5RCACHEDIR": d})
        self._run([tools["kdb5_util"], "create", "-s", "-r", REALM, "-P", "master-pw"])
        kadmin = [tools["kadmin.local"], "-r", REALM, "-q"]
        for q in ("addprinc -randkey HTTP/proxy.test", "addprinc -randkey HTTP/other.test",
                  "addprinc -pw %s %s" % (USER_PW, USER),
                  # ktadd makes new keys; -norandkey exports the same ones
                  "ktadd -k %s HTTP/proxy.test HTTP/other.test" % self.keytab_both,
                  "ktadd -norandkey -k %s HTTP/proxy.test" % self.keytab):
            self._run(kadmin + [q])
        self.kdc = subprocess.Popen([tools["krb5kdc"], "-n", "-P",
                                     os.path.join(d, "kdc.pid")],
                                    env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(d, "kdc.out"), "wb"))
        h.register_cleanup("krb5kdc", self.stop)
        h.wait_until(lambda: self.kdc.poll() is not None or _connects(self.port), 20,
                     what="krb5kdc listening on 127.0.0.1:%d" % self.port)
        assert self.kdc.poll() is None, "krb5kdc exited: %s" % self._kdc_out()
        r = subprocess.run([tools["kinit"], USER], input=(USER_PW + "\n").encode(),
                           env=self.env, capture_output=True, timeout=30)
        assert r.returncode == 0, "kinit failed: %s %s" % (r.stderr.decode(), self._kdc_out())

    def _kdc_out(self):
        text = ""
        for name in ("kdc.out", "kdc.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                text += open(p, errors="replace").read()[-2000:]
        return text

    def _run(self, argv):
        r = subprocess.run(argv, env=self.env, capture_output=True, timeout=60)
        assert r.returncode == 0, "%s failed: %s%s" % (" ".join(argv[:3]), r.stdout.decode(),
                                                      r.stderr.decode())

    def stop(self):
        if self.kdc.poll() is None:
            self.kdc.terminate()
            try:
                self.kdc.wait(10)
            except subprocess.TimeoutExpired:
                self.kdc.kill()
                self.kdc.wait(10)

    def daemon_env(self, **more):
        """What the daemon needs: our krb5.conf (the default realm), the
        replay cache in the temp dir."""
        env = {"KRB5_CONFIG": self.env["KRB5_CONFIG"], "KRB5RCACHEDIR": self.dir}
        env.update({k: str(v) for k, v in more.items()})
        return env

    def client_env(self):
        env = dict(self.env)
        env.update({"LD_PRELOAD": self.nss, "NSS_WRAPPER_HOSTS": self.hosts})
        return env

    def curl_argv(self, proxy_host, proxy_port, urls, negotiate=True, extra=()):
        argv = ["curl", "-sS", "--max-time", "60", "-x",
                "http://%s:%d" % (proxy_host, proxy_port)]
        if negotiate:
            argv += ["--proxy-negotiate", "-U", ":"]
        for u in urls:
            argv += ["-o", "/dev/null", "-w", "%{http_code}\\n", u]
        return argv + list(extra)

    def curl(self, proxy_host, proxy_port, *urls, negotiate=True, extra=()):
        """curl through the proxy (as proxy_host); the status codes, one per
        URL (curl keeps one connection for all of them)."""
        r = subprocess.run(self.curl_argv(proxy_host, proxy_port, urls, negotiate, extra),
                           env=self.client_env(), capture_output=True, timeout=90)
        codes = r.stdout.decode().split()
        assert len(codes) == len(urls), "curl: %r %r" % (r.stdout, r.stderr)
        return [int(c) for c in codes]

    def mint(self, proxy_host="proxy.test"):
        """A fresh Negotiate token for HTTP/<proxy_host>: curl's, taken by a
        fake proxy that never checks it (so it is unused)."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(30)
        got = []

        def serve():
            try:
                for _ in range(3):
                    c, _ = srv.accept()
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    for line in data.split(b"\r\n"):
                        m = re.match(rb"(?i)proxy-authorization:\s*negotiate\s+(\S+)", line)
                        if m:
                            got.append(m.group(1).decode())
                    if got:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n")
                        c.close()
                        return
                    c.sendall(b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Negotiate\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                    c.close()
            except OSError:
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        port = srv.getsockname()[1]
        subprocess.run(self.curl_argv(proxy_host, port, ["http://127.0.0.1:9/mint"]),
                       env=self.client_env(), capture_output=True, timeout=60)
        t.join(30)
        srv.close()
        assert got, "curl sent no Negotiate token to the fake proxy"
        return got[0]


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False

"""harness.py - end-to-end test harness for squidlike (Python 3 stdlib only).

Every test program in this folder is one file `test_*.py` that imports this
module, defines functions named `test_*`, and ends with `harness.run(globals())`.
The automake parallel harness runs each file as `python3 t/e2e/test_x.py` with
SQUIDLIKE (the built daemon) and top_srcdir set; exit 0 = pass, 1 = fail,
77 = skipped, 99 = hard error.

What is in here (each piece says what it promises):
  free_port(), tmpdir()          ports and one temp dir per test file
  Daemon                          the proxy under test: config, start, reload,
                                  logs, RSS, stop (asserts exit 0 and no
                                  sanitizer report)
  DnsStub, dns_query()            a UDP DNS server answering from a table,
                                  counting queries; a tiny client for self-tests
  TcpServer, ScriptedOrigin       a threaded origin whose handler decides each
                                  response; records what it received
  NginxOrigin, TlsOrigin          real nginx (plain / TLS) serving a docroot
  curl(), raw(), RawConn,         clients: curl, hand-written bytes, a
  proxy_request()                 persistent connection that parses responses
  NetNs                           a network namespace + veth pair (root only)
  TinyFs                          a small tmpfs in a private mount namespace
                                  (root only): a disk that fills up
  run(globals())                  the runner: ok / not ok lines, cleanup, exit

Rules kept everywhere: every wait is bounded (deadline + short polls), every
process started is stopped (try/finally, the runner, atexit), nothing but
127.0.0.1 (and the test's own namespace) is touched, no real DNS.
"""

import atexit
import collections
import errno
import hashlib
import http
import ipaddress
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

__all__ = [
    "Skip", "TestFailure", "free_port", "tmpdir", "wait_until", "srcdir",
    "daemon_binary", "Daemon", "DnsStub", "dns_query", "TcpServer",
    "ScriptedOrigin", "Response", "Request", "NginxOrigin", "TlsOrigin",
    "curl", "fetch", "raw", "RawConn", "HttpResponse", "proxy_request",
    "pattern_body", "pattern_sha256", "zeros_sha256", "parse_access_line",
    "NetNs", "TinyFs", "run", "shared", "register_cleanup", "log", "ipv6_loopback_ok",
    "sha256", "port_is_closed", "CLIENT_IP_HEADERS", "via_ok",
    "RoutedOrigin", "cache_status", "cache_status_params", "sf_list_ok",
    "access_entries", "proc_alive", "proc_children",
]

# --------------------------------------------------------------------------
# Basics
# --------------------------------------------------------------------------

PROXY_ENV_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                  "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                  "ftp_proxy", "FTP_PROXY")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "ERROR: ThreadSanitizer",
                     "WARNING: MemorySanitizer")

READY_TIMEOUT = 30.0      # daemon / nginx readiness

# Fields that can name the client; none reaches the origin under
# forwarded_for "delete".
CLIENT_IP_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "Client-IP",
                     "True-Client-IP")
STOP_TIMEOUT = 30.0       # SIGTERM -> exit


class Skip(Exception):
    """Raise in a test to report it as skipped ("ok - name # SKIP why")."""


class TestFailure(AssertionError):
    """A failed expectation with a readable message."""


def log(msg):
    """A diagnostic line in the test log (TAP-style comment)."""
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def child_env(extra=None):
    """Environment for child processes: no proxy variables, ever."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV_VARS}
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def via_ok(value):
    """Is value a Via field whose last element is squidlike's
    ("1.1 squidlike (squidlike/0.1.0)"; the version may differ)?"""
    if not value:
        return False
    return value.split(",")[-1].strip().startswith("1.1 squidlike")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value (returned) or the deadline
    passes (TestFailure). Intervals grow from `interval` to 0.2 s."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


_used_ports = set()
_port_lock = threading.Lock()


def free_port(host="127.0.0.1"):
    """A TCP port free on host (and on 127.0.0.1 and ::1 when available).

    Picked at random below the kernel's ephemeral range (32768+) so that
    outgoing connections of parallel tests do not take it in the meantime;
    callers that start a process on it retry on EADDRINUSE anyway.
    """
    with _port_lock:
        for _ in range(500):
            port = random.randint(20000, 32700)
            if port in _used_ports:
                continue
            if not _port_bindable(host, port):
                continue
            if host != "127.0.0.1" and not _port_bindable("127.0.0.1", port):
                continue
            _used_ports.add(port)
            return port
    # Fall back to whatever the kernel gives.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def proc_alive(pid):
    """Is process pid there and not a zombie (from /proc/PID/stat)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:][:1] not in ("Z", "X", "")


def proc_children(pid):
    """The live (not zombie) child processes of pid, as a set of pids (from
    /proc/PID/task/*/children); empty when pid is gone."""
    kids = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids.update(int(x) for x in f.read().split())
        except OSError:
            pass
    return {k for k in kids if proc_alive(k)}


def socket_inodes(pid):
    """The inodes of the sockets pid holds (from /proc/PID/fd)."""
    out = set()
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for name in names:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def worker_holding(master, port, local):
    """The child of master (a worker) holding the IPv4 TCP connection
    accepted on port from local port `local`, or None while none does."""
    with open("/proc/net/tcp") as f:
        next(f)
        inodes = {p[9] for p in (ln.split() for ln in f)
                  if int(p[1].rsplit(":", 1)[1], 16) == port and
                  int(p[2].rsplit(":", 1)[1], 16) == local}
    for pid in proc_children(master):
        if inodes & socket_inodes(pid):
            return pid
    return None


def _port_bindable(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_is_closed(port, host="127.0.0.1", timeout=1.0):
    """True when a TCP connect to host:port is refused."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def _can_connect(host, port, timeout=0.5):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ipv6_loopback_ok():
    """Can we listen on and connect to [::1]?"""
    if not socket.has_ipv6:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        s.listen(1)
        c = socket.create_connection(("::1", s.getsockname()[1]), timeout=2)
        c.close()
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------
# Temp dir, cleanup registry
# --------------------------------------------------------------------------

_tmp = None
_cleanups = []                  # (label, fn), run in reverse order
_cleanup_lock = threading.Lock()
_cleanup_failures = []          # messages from failed cleanups (e.g. ASan)
_file_cleanups = []             # cleanups of shared() resources: at the very end


def tmpdir():
    """The temp dir of this test file (created on first use). Removed at the
    end unless KEEP_TMP=1 (then its path is printed)."""
    global _tmp
    if _tmp is None:
        name = os.path.splitext(os.path.basename(sys.argv[0] or "e2e"))[0]
        _tmp = tempfile.mkdtemp(prefix="squidlike-%s-" % name)
    return _tmp


def subdir(name):
    """A fresh, uniquely named directory inside tmpdir()."""
    base = os.path.join(tmpdir(), name)
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = "%s-%d" % (base, n)
    os.makedirs(path)
    return path


def register_cleanup(label, fn):
    """Run fn() when the current test (or the file) ends. Returns a handle
    for unregister_cleanup."""
    item = (label, fn)
    with _cleanup_lock:
        _cleanups.append(item)
    return item


def unregister_cleanup(item):
    with _cleanup_lock:
        for lst in (_cleanups, _file_cleanups):
            try:
                lst.remove(item)
                return
            except ValueError:
                pass


def _run_cleanups(upto=0):
    """Run and drop cleanups registered after index `upto`. Returns a list of
    failure messages."""
    failures = []
    while True:
        with _cleanup_lock:
            if len(_cleanups) <= upto:
                break
            label, fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:    # noqa: BLE001 - report, keep cleaning
            failures.append("%s: %s" % (label, _short_exc(e)))
    return failures


def _final_cleanup():
    fails = _run_cleanups(0)
    while True:
        with _cleanup_lock:
            if not _file_cleanups:
                break
            label, fn = _file_cleanups.pop()
        try:
            fn()
        except Exception as e:    # noqa: BLE001
            fails.append("%s: %s" % (label, _short_exc(e)))
    for f in fails:
        log("cleanup: " + f)
    global _tmp
    if _tmp and os.path.isdir(_tmp):
        if os.environ.get("KEEP_TMP") == "1":
            print("# temp dir kept: %s" % _tmp, flush=True)
        else:
            shutil.rmtree(_tmp, ignore_errors=True)
        _tmp = None


atexit.register(_final_cleanup)


def _short_exc(e):
    if isinstance(e, AssertionError):
        return str(e) or "assertion failed"
    return "%s: %s" % (type(e).__name__, e)


def srcdir():
    """The source tree root: $top_srcdir, else two levels above this file."""
    d = os.environ.get("top_srcdir")
    if d:
        return os.path.abspath(d)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class _NoDaemon(Exception):
    pass


def daemon_binary():
    """Path of the daemon: $SQUIDLIKE, else the in-tree build. Raises Skip
    when there is none (the harness self-test does not need it)."""
    p = os.environ.get("SQUIDLIKE")
    if p:
        p = os.path.abspath(p)
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            raise _NoDaemon("SQUIDLIKE=%s is not an executable file" % p)
        return p
    for cand in (os.path.join(srcdir(), "squidlike", "squidlike"),
                 os.path.join(os.getcwd(), "squidlike", "squidlike")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise Skip("SQUIDLIKE is not set and no built daemon was found "
               "(looked in %s/squidlike/)" % srcdir())


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

class _Proc:
    """A child process with stdout+stderr captured to a file in tmpdir()."""

    def __init__(self, argv, name, cwd=None, env=None, stdin=subprocess.DEVNULL):
        self.argv = list(argv)
        self.name = name
        self.out_path = os.path.join(subdir("proc-" + name), "output.txt")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=cwd, env=env or child_env(),
                                     stdin=stdin, stdout=self._out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     preexec_fn=_child_setup)
        self.pid = self.proc.pid
        self._cleanup = register_cleanup("stop %s" % name, self.kill)

    def output(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """Stop without judging: SIGTERM, then SIGKILL. Idempotent."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(10) is None:
                self.signal(signal.SIGKILL)
                self.wait(10)
        self._close()

    def _close(self):
        unregister_cleanup(self._cleanup)
        try:
            self._out.close()
        except OSError:
            pass


try:
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):
    _LIBC = None


def _child_setup():
    """In the child before exec: die with the test program (PR_SET_PDEATHSIG),
    so that even a SIGKILLed test leaves no daemon or nginx behind."""
    if _LIBC is not None:
        try:
            _LIBC.prctl(1, signal.SIGKILL)
        except Exception:   # noqa: BLE001 - best effort
            pass


def _tail(text, n=40):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------
# libconfig: a small reader/writer for the subset squidlike.conf uses
# --------------------------------------------------------------------------

class ConfigSyntaxError(ValueError):
    pass


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:0[xX][0-9A-Fa-f]+|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)L{0,2})
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}\[\]()])
""", re.X | re.S)


def _lc_tokens(text):
    pos = 0
    line = 1
    out = []
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ConfigSyntaxError("line %d: unexpected %r" % (line, text[pos:pos + 10]))
        pos = m.end()
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(), line))
        line += m.group().count("\n")
    return out


def _lc_unquote(s):
    body = s[1:-1]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", "r": "\r",
                                       "f": "\f"}.get(m.group(1), m.group(1)), body)


def parse_libconfig(text):
    """Parse libconfig text into nested dicts (insertion order kept); arrays
    and lists become Python lists."""
    toks = _lc_tokens(text)
    i = 0

    def peek():
        return toks[i][:2] if i < len(toks) else (None, None)

    def here():
        return toks[min(i, len(toks) - 1)][2] if toks else 1

    def take(kind=None, val=None):
        nonlocal i
        t = peek()
        if t[0] is None or (kind and t[0] != kind) or (val and t[1] != val):
            raise ConfigSyntaxError("line %d: expected %s, got %r" % (here(), val or kind, t[1]))
        i += 1
        return t

    def value():
        kind, v = peek()
        if kind == "string":
            s = ""
            while peek()[0] == "string":
                s += _lc_unquote(take()[1])
            return s
        if kind == "number":
            take()
            v = v.rstrip("L")
            if re.match(r"^[-+]?0[xX]", v):
                return int(v, 16)
            if re.search(r"[.eE]", v):
                return float(v)
            return int(v)
        if kind == "name" and v.lower() in ("true", "false"):
            take()
            return v.lower() == "true"
        if (kind, v) == ("punct", "{"):
            take()
            g = settings("}")
            take("punct", "}")
            return g
        if (kind, v) in (("punct", "["), ("punct", "(")):
            close = "]" if v == "[" else ")"
            take()
            items = []
            while peek() != ("punct", close):
                items.append(value())
                if peek() == ("punct", ","):
                    take()
            take("punct", close)
            return items
        raise ConfigSyntaxError("line %d: unexpected %r" % (here(), v))

    def settings(end):
        d = {}
        while peek()[0] is not None and peek() != ("punct", end):
            name = take("name")[1]
            sep = take("punct")[1]
            if sep not in ("=", ":"):
                raise ConfigSyntaxError("line %d: expected = or : after %s" % (here(), name))
            d[name] = value()
            if peek() in (("punct", ";"), ("punct", ",")):
                take()
        return d

    d = settings(None)
    if i != len(toks):
        raise ConfigSyntaxError("line %d: trailing tokens" % here())
    return d


def _lc_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    raise TypeError("cannot write %r as a libconfig value" % (v,))


def format_libconfig(d, indent=0):
    """Write nested dicts as libconfig text (lists of scalars become
    [ arrays ], lists of dicts ( lists of groups ))."""
    pad = "  " * indent
    out = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append("%s%s: {\n%s%s};\n" % (pad, k, format_libconfig(v, indent + 1), pad))
        elif isinstance(v, (list, tuple)) and any(isinstance(x, dict) for x in v):
            # a list of groups: ( { ... }, { ... } )
            groups = ["{ %s}" % format_libconfig(x, 0).replace("\n", " ") for x in v]
            out.append("%s%s = ( %s );\n" % (pad, k, ", ".join(groups)))
        elif isinstance(v, (list, tuple)):
            out.append("%s%s = [ %s ];\n" % (pad, k, ", ".join(_lc_scalar(x) for x in v)))
        else:
            out.append("%s%s = %s;\n" % (pad, k, _lc_scalar(v)))
    return "".join(out)


def merge_overrides(base, overrides):
    """Deep-merge overrides into a copy of base. Keys may be dotted
    ("http.forwarded_for"); a value None removes the setting."""
    import copy
    res = copy.deepcopy(base)
    for key, val in (overrides or {}).items():
        parts = key.split(".")
        node = res
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                node[p] = nxt
            node = nxt
        last = parts[-1]
        if isinstance(val, dict) and isinstance(node.get(last), dict):
            node[last] = merge_overrides(node[last], val)
        elif val is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(val)
    return res


_FALLBACK_DEFAULTS = {
    "listen": ["127.0.0.1:3128"],
    "visible_hostname": "squidlike",
    "pid_file": "var/run/squidlike.pid",
    "access_log": "var/log/access.log",
    "error_log": "var/log/error.log",
    "log_level": "info",
}


def shipped_conf_path():
    return os.path.join(srcdir(), "etc", "squidlike.conf")


def shipped_conf_text():
    with open(shipped_conf_path(), "r", encoding="utf-8") as f:
        return f.read()


def default_config():
    """The settings of the shipped etc/squidlike.conf as nested dicts."""
    try:
        return parse_libconfig(shipped_conf_text())
    except (OSError, ConfigSyntaxError) as e:
        log("cannot read shipped config (%s); using built-in defaults" % e)
        return dict(_FALLBACK_DEFAULTS)


# --------------------------------------------------------------------------
# Access log
# --------------------------------------------------------------------------

AccessLine = collections.namedtuple(
    "AccessLine", "time elapsed client code status bytes method url user hier type raw")


def parse_access_line(line):
    """Split a Squid native access.log line:
    time elapsed client CODE/STATUS bytes method URL user hierarchy/peer type.
    Returns an AccessLine (status and bytes as ints, -1 when not numeric),
    or None when the line does not have at least 7 fields."""
    f = line.split()
    if len(f) < 7:
        return None

    def num(s):
        try:
            return int(s)
        except ValueError:
            return -1
    code, _, status = f[3].partition("/")
    return AccessLine(f[0], num(f[1]), f[2], code, num(status), num(f[4]), f[5],
                      f[6], f[7] if len(f) > 7 else "", f[8] if len(f) > 8 else "",
                      f[9] if len(f) > 9 else "", line)


# --------------------------------------------------------------------------
# Daemon
# --------------------------------------------------------------------------

class Daemon:
    """The proxy under test, started in the foreground in its own directory.

        d = Daemon(overrides={"http.forwarded_for": "on"}, dns=stub)
        d = Daemon(conf_text=shipped_conf_text())      # a config file as is

    With overrides (the default way) the config is the shipped
    etc/squidlike.conf merged with the overrides, with pid_file, access_log,
    error_log pointing into the daemon's directory (error_log = "stderr",
    captured to a file, unless error_log_file=True) and dns.nameservers set to
    the stub given (or to an empty stub that answers NXDOMAIN to every name,
    so that no test ever queries the machine's resolver). With conf_text the text is used as written
    (only dns.nameservers is replaced when dns is given); its relative paths
    resolve against the daemon's directory.

    The daemon runs `$SQUIDLIKE -f CONF -a ADDR:PORT` (listen_arg=False:
    without -a, the config's listen list is [ADDR:PORT] and a reload may
    change it); ready = a TCP connect to ADDR:PORT succeeds. With worker
    processes (workers >= 2) the process is the master: tcp_sockets() and
    client_connections() also look at its children. stop() asserts a clean exit. wrapper: a command
    prefix that must exec the daemon in its own process (so that the pid,
    the signals and the exit status stay the daemon's), e.g. TinyFs.wrapper
    (`nsenter -t PID -m --`: the daemon sees another mount namespace).
    """

    def __init__(self, overrides=None, conf_text=None, dns=None, listen_host="127.0.0.1",
                 port=None, error_log_file=False, env=None, extra_args=(), start=True,
                 name="squidlike", wrapper=(), listen_arg=True):
        self.binary = daemon_binary()
        if dns is None and conf_text is None:
            # Never let the daemon ask the machine's resolver: without a
            # stub of the test's own it gets one that knows no name.
            dns = DnsStub({})
        self.dir = subdir(name)
        self.conf_path = os.path.join(self.dir, "squidlike.conf")
        self.listen_host = listen_host
        self.dns = dns
        self.env = env
        self.extra_args = list(extra_args)
        self.wrapper = list(wrapper)
        self.listen_arg = listen_arg
        self.error_log_file = error_log_file
        self.overrides = dict(overrides or {})
        self.conf_text_given = conf_text
        self.port = port
        self.proc = None
        self.stderr_path = None
        self.last_reload_line = None
        self._stopped = False
        self._past_outputs = []     # output of earlier processes (restart)
        self._write_initial_conf()
        if start:
            self.start()

    def tcp_sockets(self):
        """(local port, remote port, state) of every TCP socket the daemon
        (and its worker processes, if any) holds, from /proc (state "01"
        established, "08" close-wait, "0A" listening)."""
        return [row[:3] for row in self._tcp_rows()]

    def _tcp_rows(self):
        """tcp_sockets() with a fourth field: the bytes the kernel holds
        for the daemon to read (rx_queue)."""
        inodes = set()
        for pid in [self.proc.pid] + sorted(proc_children(self.proc.pid)):
            fd_dir = "/proc/%d/fd" % pid
            try:
                names = os.listdir(fd_dir)
            except OSError:
                if pid == self.proc.pid:
                    raise
                continue        # a worker that just exited
            for name in names:
                try:
                    link = os.readlink(os.path.join(fd_dir, name))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        out = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        p = line.split()
                        if p[9] in inodes:
                            out.append((int(p[1].rsplit(":", 1)[1], 16),
                                        int(p[2].rsplit(":", 1)[1], 16), p[3],
                                        int(p[4].split(":")[1], 16)))
            except OSError:
                pass
        return out

    def client_connections(self):
        """Established client connections the daemon holds on its listening
        port (from /proc). Unlike socket_count() this ignores origin and
        DNS sockets and the readiness probe, which the kernel may hand over
        late (TCP_DEFER_ACCEPT) and which then closes at once."""
        return sum(1 for local, _, state in self.tcp_sockets()
                   if state == "01" and local == self.port)

    def client_unread(self):
        """Bytes clients sent that the daemon has not read yet, over its
        established client connections (from /proc): 0 once it has read
        every request it was sent."""
        return sum(rx for local, _, state, rx in self._tcp_rows()
                   if state == "01" and local == self.port)

    def socket_count(self):
        """Sockets the daemon holds open now (from /proc/PID/fd)."""
        n = 0
        fd_dir = "/proc/%d/fd" % self.proc.pid
        for name in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, name)).startswith("socket:"):
                    n += 1
            except OSError:
                pass
        return n

    # -- config -----------------------------------------------------------

    def _paths_from(self, cfg):
        def resolve(p):
            if p in (None, "none", "stderr"):
                return None
            return p if os.path.isabs(p) else os.path.join(self.dir, p)
        self.pid_path = resolve(cfg.get("pid_file"))
        self.access_log_path = resolve(cfg.get("access_log"))
        self.error_log_path = resolve(cfg.get("error_log"))

    def build_conf(self, overrides=None):
        """Config text from the shipped defaults + self.overrides + overrides."""
        cfg = default_config()
        fixed = {
            "pid_file": os.path.join(self.dir, "squidlike.pid"),
            "access_log": os.path.join(self.dir, "access.log"),
            "error_log": (os.path.join(self.dir, "error.log")
                          if self.error_log_file else "stderr"),
        }
        if self.port is not None:
            fixed["listen"] = [self.addr]
        # A drain shorter than stop()'s 30 s bound, so that a daemon that
        # behaves always exits in time (tests may override it).
        fixed["timeouts.shutdown"] = "10s"
        # One process unless the test asks for workers: most tests look at
        # one process's state (its DNS cache, its pools, its reload);
        # test_workers.py and the 2-worker cases run the master.
        fixed["workers"] = 1
        cfg = merge_overrides(cfg, fixed)
        if self.dns is not None:
            cfg = merge_overrides(cfg, {"dns.nameservers": [self.dns.nameserver]})
        cfg = merge_overrides(cfg, self.overrides)
        cfg = merge_overrides(cfg, overrides or {})
        self._cfg = cfg
        return "# generated by t/e2e/harness.py\n" + format_libconfig(cfg)

    def _patch_text(self, text):
        if self.dns is not None:
            new = 'nameservers = [ "%s" ];' % self.dns.nameserver
            text, n = re.subn(r"nameservers\s*[=:]\s*\[[^\]]*\]\s*;?", new, text, count=1)
            if n == 0:
                text += "\ndns: { %s };\n" % new
        return text

    def _write_initial_conf(self):
        if self.conf_text_given is not None:
            text = self._patch_text(self.conf_text_given)
            try:
                cfg = parse_libconfig(text)
            except ConfigSyntaxError:
                cfg = {}
            self._cfg = cfg
            self._paths_from(cfg)
            self.write_conf_text(text)
        else:
            text = self.build_conf()
            self._paths_from(self._cfg)
            self.write_conf_text(text)

    def write_conf_text(self, text):
        """Replace the config file atomically (for reload tests)."""
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.conf_path)

    def write_conf(self, overrides=None):
        """Rewrite the config from defaults + constructor overrides + these."""
        self.write_conf_text(self.build_conf(overrides))

    def conf_text(self):
        with open(self.conf_path, "r", encoding="utf-8") as f:
            return f.read()

    # -- life cycle --------------------------------------------------------

    @property
    def addr(self):
        return "[%s]:%d" % (self.listen_host, self.port) if ":" in self.listen_host \
            else "%s:%d" % (self.listen_host, self.port)

    @property
    def proxy_url(self):
        return "http://%s" % self.addr

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        explicit = self.port is not None
        for attempt in range(4):
            if self.port is None:
                self.port = free_port(self.listen_host)
            if self.conf_text_given is None:
                self.write_conf_text(self.build_conf())
            argv = self.wrapper + [self.binary, "-f", self.conf_path] + \
                (["-a", self.addr] if self.listen_arg else []) + self.extra_args
            self.proc = _Proc(argv, "squidlike-%d" % self.port, cwd=self.dir,
                              env=child_env(self.env))
            self.stderr_path = self.proc.out_path
            self._cleanup = register_cleanup("daemon on port %d" % self.port, self._cleanup_stop)
            try:
                self._wait_ready()
                return self
            except TestFailure:
                out = self.output()
                self.proc.kill()
                unregister_cleanup(self._cleanup)
                if (not explicit and attempt < 3 and
                        re.search(r"address already in use|EADDRINUSE", out, re.I)):
                    log("port %d was taken, retrying with another" % self.port)
                    self.port = None
                    continue
                raise

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        delay = 0.01
        while True:
            if not self.proc.alive():
                raise TestFailure("daemon exited during start-up with status %s:\n%s"
                                  % (self.proc.proc.returncode, _tail(self.output())))
            if _can_connect(self.listen_host, self.port):
                return
            if time.monotonic() > deadline:
                raise TestFailure("daemon not accepting on %s after %.0fs:\n%s"
                                  % (self.addr, READY_TIMEOUT, _tail(self.output())))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def output(self):
        """Everything the daemon wrote to stderr/stdout so far."""
        return self.proc.output() if self.proc else ""

    def error_log(self):
        """stderr plus the error log file (when there is one). After a
        restart(), the output of the earlier processes comes first."""
        text = "".join(self._past_outputs) + self.output()
        if self.error_log_path and os.path.exists(self.error_log_path):
            with open(self.error_log_path, "rb") as f:
                text += f.read().decode("utf-8", "replace")
        return text

    def _log_sizes(self):
        sizes = []
        for p in (self.stderr_path, self.error_log_path):
            try:
                sizes.append((p, os.path.getsize(p)) if p else (p, 0))
            except OSError:
                sizes.append((p, 0))
        return sizes

    def _new_log_text(self, sizes):
        text = ""
        for p, off in sizes:
            if not p:
                continue
            try:
                with open(p, "rb") as f:
                    f.seek(off)
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def signal(self, sig):
        self.proc.signal(sig)

    def reload(self, timeout=20.0):
        """SIGHUP, then wait for a new log line with "reloaded" or "reload
        failed". Returns "reloaded" or "reload failed"; the line itself is in
        self.last_reload_line."""
        sizes = self._log_sizes()
        self.signal(signal.SIGHUP)
        found = {}

        def check():
            if not self.alive():
                raise TestFailure("daemon died after SIGHUP (status %s):\n%s"
                                  % (self.proc.proc.returncode, _tail(self.output())))
            for line in self._new_log_text(sizes).splitlines():
                if "reload failed" in line:
                    found["r"] = ("reload failed", line)
                    return True
                if "reloaded" in line:
                    found["r"] = ("reloaded", line)
                    return True
            return False
        wait_until(check, timeout, what="'reloaded' / 'reload failed' in the daemon's log")
        self.last_reload_line = found["r"][1]
        return found["r"][0]

    def access_log_lines(self, pred=None, timeout=10.0, what=None):
        """Lines of the access log. With pred, poll until pred(lines) is true
        (bounded by timeout) and return the lines."""
        def read():
            if not self.access_log_path:
                return []
            try:
                with open(self.access_log_path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return []
            # Only whole lines: the writer's write may be seen half done,
            # and a cut line parses as a wrong entry ("C" for "CARP/pa").
            return data[:data.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()
        if pred is None:
            return read()
        box = {}

        def check():
            box["l"] = read()
            return pred(box["l"])
        try:
            wait_until(check, timeout, what=what or "access log condition")
        except TestFailure as e:
            raise TestFailure("%s; access log:\n%s" % (e, "\n".join(box.get("l", [])[-15:])))
        return box["l"]

    def wait_access(self, *substrings, timeout=10.0, after=0):
        """Wait for an access log line (index >= after) containing all the
        substrings; return it parsed (AccessLine)."""
        res = {}

        def pred(lines):
            for ln in lines[after:]:
                if all(s in ln for s in substrings):
                    res["l"] = ln
                    return True
            return False
        self.access_log_lines(pred, timeout, what="access log line with %r" % (substrings,))
        return parse_access_line(res["l"])

    def rss_kb(self):
        """{"VmRSS": kB, "VmHWM": kB} from /proc/PID/status."""
        out = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out

    def check_sanitizers(self):
        text = self.error_log()
        for m in SANITIZER_MARKERS:
            if m in text:
                i = text.index(m)
                raise TestFailure("sanitizer report in daemon output:\n%s"
                                  % text[max(0, i - 200):i + 3000])

    def terminate(self):
        """Send SIGTERM without waiting (graceful-shutdown tests)."""
        self.signal(signal.SIGTERM)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait (bounded) for the process to exit; returns its status or None."""
        return self.proc.wait(timeout)

    def stop(self, expect_status=0):
        """SIGTERM, wait up to 30 s (then SIGKILL and fail); assert exit
        status 0 and no sanitizer report. Idempotent."""
        if self._stopped or self.proc is None:
            return
        self._stopped = True
        unregister_cleanup(self._cleanup)
        try:
            t0 = time.monotonic()
            if self.proc.alive():
                self.signal(signal.SIGTERM)
            status = self.proc.wait(STOP_TIMEOUT)
            if status is not None and time.monotonic() - t0 > 5:
                log("note: the daemon took %.1fs to exit after SIGTERM"
                    % (time.monotonic() - t0))
            if status is None:
                self.proc.signal(signal.SIGKILL)
                self.proc.wait(10)
                raise TestFailure("daemon did not exit within %.0fs of SIGTERM:\n%s"
                                  % (STOP_TIMEOUT, _tail(self.output())))
            self.check_sanitizers()
            if expect_status is not None and status != expect_status:
                raise TestFailure("daemon exited with status %s (expected %s):\n%s"
                                  % (status, expect_status, _tail(self.output())))
        finally:
            self.proc.kill()

    def kill_hard(self, timeout=STOP_TIMEOUT):
        """A crash: SIGKILL, then wait (bounded) until the process is gone.
        Nothing is judged (no exit status, no sanitizer check: the process
        had no chance to report); the daemon counts as stopped until
        restart(). Idempotent."""
        if self._stopped or self.proc is None:
            return
        self._stopped = True
        unregister_cleanup(self._cleanup)
        try:
            self.proc.signal(signal.SIGKILL)
            if self.proc.wait(timeout) is None:
                raise TestFailure("daemon (pid %d) still there %.0fs after SIGKILL"
                                  % (self.proc.pid, timeout))
        finally:
            self.proc.kill()

    def restart(self, crash=False):
        """Stop the daemon - stop() with its checks, or kill_hard() with
        crash=True - and start a new process in the same directory, on the
        same address, with the same config (rewritten from the same
        overrides). What the daemon keeps on disk there (the cache store,
        the access log, appended to) carries over. Returns self."""
        if crash:
            self.kill_hard()
        else:
            self.stop()
        if self.proc is not None:
            self._past_outputs.append(self.output())
        self._stopped = False
        self.start()
        return self

    def _cleanup_stop(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
        else:
            try:
                self.stop()
            except AssertionError as e:
                log("also, when stopping the daemon: %s" % e)
                _cleanup_failures.append(str(e))
        return False


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
          28: "AAAA", 33: "SRV", 41: "OPT", 65: "HTTPS", 255: "ANY"}
QTYPE_NUM = {v: k for k, v in QTYPES.items()}


def _dns_name_bytes(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            b = label.encode("ascii")
            out += bytes([len(b)]) + b
    return out + b"\x00"


def _dns_read_name(data, pos, depth=0):
    """Returns (name, position after the name in the original stream)."""
    labels = []
    end = None
    while True:
        if pos >= len(data):
            raise ValueError("truncated name")
        ln = data[pos]
        if ln == 0:
            pos += 1
            break
        if ln & 0xC0 == 0xC0:
            if depth > 10 or pos + 1 >= len(data):
                raise ValueError("bad pointer")
            ptr = ((ln & 0x3F) << 8) | data[pos + 1]
            if end is None:
                end = pos + 2
            name, _ = _dns_read_name(data, ptr, depth + 1)
            if name:
                labels.append(name)
            pos = end
            return ".".join(labels), end
        labels.append(data[pos + 1:pos + 1 + ln].decode("ascii", "replace"))
        pos += 1 + ln
    return ".".join(labels), pos if end is None else end


class DnsStub:
    """A UDP DNS server on 127.0.0.1 answering from a table.

        dns = DnsStub({"origin.test": {"A": [("127.0.0.1", 60)]},
                       "v6.test": {"AAAA": [("::1", 60)]}},
                      nxdomain={"nx.test"}, drop={"slow.test"})
        daemon config: dns.nameservers = [dns.nameserver]
        dns.count("origin.test", "A")   # queries received so far

    Names are case-insensitive, without trailing dot. Unknown names and names
    in nxdomain -> NXDOMAIN; names in drop -> no answer ever; servfail ->
    SERVFAIL; a known name without the asked type -> NOERROR, no answer
    (NODATA). NXDOMAIN / NODATA carry an SOA in the authority section whose
    TTL and minimum are `negative_ttl`. EDNS OPT records in queries are
    ignored and answers carry none. TCP is not served.
    """

    def __init__(self, records=None, nxdomain=(), drop=(), servfail=(), negative_ttl=30):
        self._lock = threading.Lock()
        self.records = {}
        for name, rr in (records or {}).items():
            self.set(name, rr)
        self.nxdomain = {n.lower().strip(".") for n in nxdomain}
        self.drop = {n.lower().strip(".") for n in drop}
        self.servfail = {n.lower().strip(".") for n in servfail}
        self.negative_ttl = negative_ttl
        self.counts = collections.Counter()
        self.log = []       # (monotonic time, name, type, src address)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-stub", daemon=True)
        self._thread.start()
        self._cleanup = register_cleanup("dns stub", self.stop)

    @property
    def nameserver(self):
        return "127.0.0.1:%d" % self.port

    def set(self, name, rrs):
        """Set (replace) the records of a name: {"A": [(addr, ttl)], ...}."""
        norm = {}
        for t, lst in rrs.items():
            norm[t.upper()] = [(a, int(ttl)) for a, ttl in lst]
        with self._lock:
            self.records[name.lower().strip(".")] = norm

    def count(self, name, qtype="A"):
        with self._lock:
            return self.counts[(name.lower().strip("."), qtype.upper())]

    def total(self):
        with self._lock:
            return sum(self.counts.values())

    def first_query_time(self, name, qtype="A"):
        name = name.lower().strip(".")
        with self._lock:
            for t, n, ty, _ in self.log:
                if n == name and ty == qtype:
                    return t
        return None

    def wait_count(self, name, qtype, n, timeout=10.0):
        return wait_until(lambda: self.count(name, qtype) >= n, timeout,
                          what="%d %s queries for %s" % (n, qtype, name))

    def _serve(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.sock], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                resp = self._answer(data, peer)
            except Exception as e:     # noqa: BLE001 - a stub must not die
                log("dns stub: bad query from %s: %s" % (peer, e))
                resp = None
            if resp:
                try:
                    self.sock.sendto(resp, peer)
                except OSError:
                    pass

    def _answer(self, data, peer):
        if len(data) < 12:
            return None
        qid, flags, qd, _an, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
        if flags & 0x8000:
            return None                     # a response: ignore
        opcode = (flags >> 11) & 0xF
        rd = flags & 0x0100
        if qd != 1 or opcode != 0:
            # FORMERR / NOTIMP without a question section.
            rcode = 1 if qd != 1 else 4
            return struct.pack("!HHHHHH", qid, 0x8000 | (opcode << 11) | rd | 0x80 | rcode,
                               0, 0, 0, 0)
        name, pos = _dns_read_name(data, 12)
        qtype, qclass = struct.unpack("!HH", data[pos:pos + 4])
        question = data[12:pos + 4]         # copied as received (0x20 case kept)
        key = name.lower().strip(".")
        tname = QTYPES.get(qtype, str(qtype))
        with self._lock:
            self.counts[(key, tname)] += 1
            self.log.append((time.monotonic(), key, tname, peer))
            recs = self.records.get(key)
        if key in self.drop:
            return None
        rcode = 0
        answers = []
        if key in self.servfail:
            rcode = 2
        elif key in self.nxdomain or recs is None:
            rcode = 3
        elif qclass in (1, 255):
            for addr, ttl in recs.get(tname, []):
                if tname == "A":
                    rdata = socket.inet_pton(socket.AF_INET, addr)
                elif tname == "AAAA":
                    rdata = socket.inet_pton(socket.AF_INET6, addr)
                elif tname in ("CNAME", "NS", "PTR"):
                    rdata = _dns_name_bytes(addr)
                else:
                    continue
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(rdata)) + rdata)
        authority = []
        if not answers and rcode in (0, 3) and self.negative_ttl is not None:
            t = int(self.negative_ttl)
            soa = (_dns_name_bytes("ns.test") + _dns_name_bytes("hostmaster.test")
                   + struct.pack("!IIIII", 1, 3600, 600, 86400, t))
            authority.append(b"\x00" + struct.pack("!HHIH", 6, 1, t, len(soa)) + soa)
        rflags = 0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080 | rcode
        return (struct.pack("!HHHHHH", qid, rflags, 1, len(answers), len(authority), 0)
                + question + b"".join(answers) + b"".join(authority))

    def stop(self):
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        unregister_cleanup(self._cleanup)


def dns_query(port, name, qtype="A", timeout=2.0, edns=False, host="127.0.0.1"):
    """Send one UDP query; returns (rcode, flags, answers, nscount) where
    answers is a list of (type name, value, ttl). Raises socket.timeout when
    no answer comes. Only for testing the stub."""
    qid = random.randint(0, 0xFFFF)
    qt = QTYPE_NUM[qtype] if isinstance(qtype, str) else qtype
    msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    msg += _dns_name_bytes(name) + struct.pack("!HH", qt, 1)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data, _ = s.recvfrom(4096)
            if struct.unpack("!H", data[:2])[0] == qid:
                break
    finally:
        s.close()
    _, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    pos = 12
    for _ in range(qd):
        _, pos = _dns_read_name(data, pos)
        pos += 4
    answers = []
    for _ in range(an):
        _, pos = _dns_read_name(data, pos)
        t, _c, ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        rdata = data[pos:pos + rdlen]
        pos += rdlen
        if t == 1:
            val = socket.inet_ntop(socket.AF_INET, rdata)
        elif t == 28:
            val = socket.inet_ntop(socket.AF_INET6, rdata)
        else:
            val = rdata
        answers.append((QTYPES.get(t, str(t)), val, ttl))
    return flags & 0xF, flags, answers, ns


# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------

_PATTERN = bytes(range(256)) * 256           # 64 KiB, period 256 bytes


def pattern_body(n, chunk=65536):
    """Yield n bytes of a repeating pattern in pieces of <= chunk bytes
    (chunk must be a multiple of 256 up to 65536 to keep the pattern)."""
    chunk = max(256, min(65536, chunk - chunk % 256))
    left = n
    while left > 0:
        k = min(chunk, left)
        yield _PATTERN[:k]
        left -= k


def pattern_bytes(n):
    return b"".join(pattern_body(n))


def pattern_sha256(n):
    h = hashlib.sha256()
    for piece in pattern_body(n):
        h.update(piece)
    return h.hexdigest()


def zeros_sha256(n):
    h = hashlib.sha256()
    block = bytes(1 << 20)
    left = n
    while left > 0:
        k = min(len(block), left)
        h.update(block[:k] if k < len(block) else block)
        left -= k
    return h.hexdigest()


# --------------------------------------------------------------------------
# TCP servers and the scripted origin
# --------------------------------------------------------------------------

class TcpServer:
    """A threaded TCP server on 127.0.0.1 (or ::1 with family=AF_INET6):
    conn_handler(sock, serial) runs in its own thread per connection and the
    socket is closed after it returns. Counts connections accepted."""

    def __init__(self, conn_handler=None, host=None, family=socket.AF_INET, port=0,
                 conn_timeout=120.0, name="tcp-server"):
        self.family = family
        self.host = host or ("::1" if family == socket.AF_INET6 else "127.0.0.1")
        self.conn_handler = conn_handler
        self.conn_timeout = conn_timeout
        self.name = name
        self.lsock = socket.socket(family, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((self.host, port))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self._lock = threading.Lock()
        self.connections = 0
        self._open = {}
        self._threads = []
        self.errors = []
        self.stopping = threading.Event()
        self._accept_thread = threading.Thread(target=self._accept_loop,
                                               name=name + "-accept", daemon=True)
        self._accept_thread.start()
        self._cleanup = register_cleanup(name, self.stop)

    @property
    def addr(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host \
            else "%s:%d" % (self.host, self.port)

    def url(self, path="/"):
        return "http://%s%s" % (self.addr, path)

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                sock, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                time.sleep(0.05)
                continue
            with self._lock:
                self.connections += 1
                serial = self.connections
                self._open[serial] = sock
            sock.settimeout(self.conn_timeout)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            t = threading.Thread(target=self._conn_main, args=(sock, serial, peer),
                                 name="%s-conn%d" % (self.name, serial), daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()

    def _conn_main(self, sock, serial, peer):
        try:
            self.handle_connection(sock, serial, peer)
        except (OSError, EOFError):
            pass
        except Exception as e:      # noqa: BLE001 - record, never kill the server
            self.errors.append("conn %d: %s\n%s" % (serial, e, traceback.format_exc()))
        finally:
            with self._lock:
                self._open.pop(serial, None)
            try:
                sock.close()
            except OSError:
                pass

    def handle_connection(self, sock, serial, peer):
        self.conn_handler(sock, serial)

    def open_connections(self):
        with self._lock:
            return len(self._open)

    def stop(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._accept_thread.join(5)
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._open.values())
            threads = list(self._threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(max(0.01, deadline - time.monotonic()))
        unregister_cleanup(self._cleanup)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False


class _Reader:
    """Buffered reads from a socket, for the origin and the clients."""

    def __init__(self, sock, record=None):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        self.record = record        # a bytearray: every byte received is appended

    def _got(self, data):
        if self.record is not None:
            self.record += data

    def fill(self, n=65536):
        data = self.sock.recv(n)
        if not data:
            self.eof = True
            raise EOFError("connection closed by peer")
        self._got(data)
        self.buf += data
        return len(data)

    def read_head(self, limit=1 << 20):
        """Bytes up to and including the empty line; None on a clean EOF
        before any byte. Accepts CRLF or bare LF line ends."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            j = self.buf.find(b"\n\n")
            ends = [(x, ln) for x, ln in ((i, 4), (j, 2)) if x >= 0]
            if ends:
                x, ln = min(ends)
                head = bytes(self.buf[:x + ln])
                del self.buf[:x + ln]
                return head
            if len(self.buf) > limit:
                raise ValueError("head longer than %d bytes" % limit)
            try:
                self.fill()
            except EOFError:
                if not self.buf:
                    return None
                raise

    def read_line(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self.fill()

    def read_exact(self, n, sink):
        """Pass exactly n bytes to sink(memoryview/bytes) as they arrive."""
        if self.buf:
            k = min(n, len(self.buf))
            sink(bytes(self.buf[:k]))
            del self.buf[:k]
            n -= k
        if n <= 0:
            return
        big = bytearray(min(n, 1 << 20))
        mv = memoryview(big)
        while n > 0:
            got = self.sock.recv_into(mv, min(n, len(big)))
            if got == 0:
                self.eof = True
                raise EOFError("connection closed with %d body bytes missing" % n)
            self._got(mv[:got])
            sink(mv[:got])
            n -= got

    def read_to_close(self, sink):
        if self.buf:
            sink(bytes(self.buf))
            self.buf.clear()
        big = bytearray(1 << 18)
        mv = memoryview(big)
        while True:
            got = self.sock.recv_into(mv)
            if got == 0:
                self.eof = True
                return
            self._got(mv[:got])
            sink(mv[:got])

    def read_chunked(self, sink):
        """Decode a chunked body; returns (trailers list, raw size lines)."""
        exts = []
        while True:
            line = self.read_line().rstrip(b"\r\n")
            size_s, _, ext = line.partition(b";")
            if ext:
                exts.append(ext.decode("latin-1"))
            size = int(size_s.strip(), 16)
            if size == 0:
                break
            self.read_exact(size, sink)
            crlf = self.read_line()
            if crlf not in (b"\r\n", b"\n"):
                raise ValueError("missing CRLF after chunk data: %r" % crlf[:20])
        trailers = []
        while True:
            line = self.read_line()
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode("latin-1").rstrip("\r\n").partition(":")
            trailers.append((k, v.strip()))
        return trailers, exts


def _parse_head_lines(head):
    text = head.decode("latin-1")
    lines = text.split("\n")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    while lines and lines[-1] == "":
        lines.pop()
    start = lines[0] if lines else ""
    headers = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + ln.strip())
            continue
        k, _, v = ln.partition(":")
        headers.append((k, v.strip(" \t")))
    return start, headers


def _hget(headers, name, default=None):
    n = name.lower()
    for k, v in headers:
        if k.lower() == n:
            return v
    return default


def _hall(headers, name):
    n = name.lower()
    return [v for k, v in headers if k.lower() == n]


class _HeaderAccess:
    """Case-insensitive access to self.headers, a list of (name, value)."""

    def header(self, name, default=None):
        return _hget(self.headers, name, default)

    def header_all(self, name):
        return _hall(self.headers, name)

    def has_header(self, name):
        return _hget(self.headers, name) is not None


class Request(_HeaderAccess):
    """What the origin received. Fields: method, target, version, headers
    (list of (name, value) as received), conn_serial, index (0-based position
    on its connection), body_len, body_sha256, body (bytes, kept when at most
    keep_body bytes), trailers, chunk_exts, complete (body fully read),
    received_at (monotonic)."""

    def __init__(self, method, target, version, headers, conn_serial, index, peer):
        self.method, self.target, self.version = method, target, version
        self.headers = headers
        self.conn_serial, self.index, self.peer = conn_serial, index, peer
        self.body_len = 0
        self.body_sha256 = hashlib.sha256(b"").hexdigest()
        self.body = b""
        self.trailers = []
        self.chunk_exts = []
        self.chunked = False
        self.complete = False
        self.received_at = time.monotonic()

    def header_names(self):
        return [k.lower() for k, _ in self.headers]

    def __repr__(self):
        return "<Request #%d.%d %s %s %s body=%d>" % (self.conn_serial, self.index, self.method,
                                                       self.target, self.version, self.body_len)


class Response:
    """What the scripted origin sends for one request.

    status, reason (default: the standard phrase), headers [(k, v)],
    body: bytes, or an iterable of bytes pieces (then give `length` unless
                chunked or close_delimited); a list of bytes with chunked=True
                gives the chunk boundaries,
    length: Content-Length to send (default len(body) when body is bytes),
    chunked: send Transfer-Encoding: chunked (chunk_size pieces of a bytes
             body, chunk_ext appended to each size line), trailers [(k, v)],
    close_delimited: no Content-Length / chunked; close after the body,
    close: add "Connection: close" and close after the response,
    close_silently_after: seconds after the response to close the connection
             without having announced it (an origin dropping an idle
             keep-alive connection),
    interim: [(status, headers)] sent before the final response (100, 103),
    delay: seconds to wait before responding (interruptible, capped at 120),
    raw: bytes sent instead of a formatted response (then the connection is
         closed unless keep_open),
    no_response: close the connection without sending anything,
    hang: never respond (until the origin stops or 120 s),
    no_length: send neither Content-Length nor chunked (e.g. for 204/304
         this is automatic).
    """

    def __init__(self, status=200, body=b"", headers=(), reason=None, length=None,
                 chunked=False, chunk_size=8192, chunk_ext="", trailers=(),
                 close_delimited=False, close=False, close_silently_after=None,
                 interim=(), delay=0.0, raw=None, keep_open=False, no_response=False,
                 hang=False, no_length=False, body_delay=0.0):
        self.status = status
        self.body = body
        self.headers = list(headers)
        self.reason = reason
        self.length = length
        self.chunked = chunked
        self.chunk_size = chunk_size
        self.chunk_ext = chunk_ext
        self.trailers = list(trailers)
        self.close_delimited = close_delimited
        self.close = close
        self.close_silently_after = close_silently_after
        self.interim = list(interim)
        self.delay = delay
        self.raw = raw
        self.keep_open = keep_open
        self.no_response = no_response
        self.hang = hang
        self.no_length = no_length
        self.body_delay = body_delay


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status %d" % status


def default_handler(req):
    """200 text/plain: "METHOD TARGET\\nlen=N sha256=H\\n"."""
    body = ("%s %s\nlen=%d sha256=%s\n" % (req.method, req.target, req.body_len,
                                            req.body_sha256)).encode()
    return Response(200, body, headers=[("Content-Type", "text/plain")])


class ScriptedOrigin(TcpServer):
    """An HTTP/1.1 origin whose handler decides every response.

        o = ScriptedOrigin(lambda req: Response(200, b"hi"))
        o.requests            # every Request received, in order
        o.connections         # connections accepted

    handler(req) is called after the request body has been read (streamed
    and hashed; kept in req.body when at most keep_body bytes). It returns a
    Response, raw bytes (sent as they are, then the connection is closed), or
    None (= default_handler). A fixed Response may be given instead of a
    function.

    head_handler(req), when given, is called right after the head, before
    the body is read; returning a Response sends it at once without reading
    the body, and then the connection is closed (an origin answering 417 or
    401 to Expect: 100-continue). Returning None goes on as usual.

    With auto_continue (default) a request with Expect: 100-continue gets
    "HTTP/1.1 100 Continue" before its body is read.

    With record=True every byte received is kept as it came, per connection:
    o.received(serial) (serial from 1, as Request.conn_serial) and
    o.received_all() (all connections, in the order they were accepted) -
    for asserting the exact framing a proxy sent.
    """

    def __init__(self, handler=None, head_handler=None, auto_continue=True,
                 keep_body=1 << 20, family=socket.AF_INET, host=None, port=0, name="origin",
                 conn_timeout=120.0, record=False):
        if handler is None:
            handler = default_handler
        self.handler = handler
        self.head_handler = head_handler
        self.auto_continue = auto_continue
        self.keep_body = keep_body
        self.requests = []
        self._req_lock = threading.Lock()
        self.record = record
        self._received = {}
        super().__init__(None, host=host, family=family, port=port, name=name,
                         conn_timeout=conn_timeout)

    # -- queries for tests --

    def wait_requests(self, n, timeout=10.0):
        """Wait until at least n requests have been received (heads)."""
        wait_until(lambda: len(self.requests) >= n, timeout,
                   what="%d request(s) at the origin (got %d)" % (n, len(self.requests)))
        return self.requests

    def wait_complete(self, n, timeout=30.0):
        """Wait until n requests have been received with their whole body."""
        wait_until(lambda: sum(1 for r in list(self.requests) if r.complete) >= n, timeout,
                   what="%d complete request(s) at the origin" % n)
        return self.requests

    def last(self):
        assert self.requests, "the origin received no request"
        return self.requests[-1]

    def received(self, serial):
        """The bytes received on connection serial (record=True), so far."""
        with self._req_lock:
            return bytes(self._received.get(serial, b""))

    def received_all(self):
        with self._req_lock:
            return b"".join(bytes(self._received[k]) for k in sorted(self._received))

    # -- serving --

    def handle_connection(self, sock, serial, peer):
        rec = None
        if self.record:
            rec = bytearray()
            with self._req_lock:
                self._received[serial] = rec
        rd = _Reader(sock, record=rec)
        index = 0
        while not self.stopping.is_set():
            head = rd.read_head()
            if head is None:
                return
            start, headers = _parse_head_lines(head)
            parts = start.split(" ")
            if len(parts) != 3:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                return
            req = Request(parts[0], parts[1], parts[2], headers, serial, index, peer)
            index += 1
            with self._req_lock:
                self.requests.append(req)

            if self.head_handler is not None:
                early = self.head_handler(req)
                if early is not None:
                    self._send(sock, req, early, force_close=True)
                    return

            te = (req.header("Transfer-Encoding") or "").lower()
            cl = req.header("Content-Length")
            if "100-continue" in (req.header("Expect") or "").lower() and self.auto_continue:
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._read_body(rd, req, te, cl)
            req.complete = True

            resp = self.handler(req) if callable(self.handler) else self.handler
            if resp is None:
                resp = default_handler(req)
            keep = self._send(sock, req, resp)
            if not keep:
                return

    def _read_body(self, rd, req, te, cl):
        h = hashlib.sha256()
        kept = []
        state = {"n": 0, "keep": True}

        def sink(b):
            h.update(b)
            state["n"] += len(b)
            if state["keep"]:
                if state["n"] <= self.keep_body:
                    kept.append(bytes(b))
                else:
                    state["keep"] = False
                    kept.clear()
        if "chunked" in te:
            req.chunked = True
            req.trailers, req.chunk_exts = rd.read_chunked(sink)
        elif cl is not None:
            rd.read_exact(int(cl.strip()), sink)
        req.body_len = state["n"]
        req.body_sha256 = h.hexdigest()
        req.body = b"".join(kept) if state["keep"] else None

    def _wait(self, seconds):
        self.stopping.wait(min(max(seconds, 0), 120.0))

    def _send(self, sock, req, resp, force_close=False):
        """Send resp; return True to keep the connection for another request."""
        if isinstance(resp, (bytes, bytearray)):
            resp = Response(raw=bytes(resp))
        if resp.delay:
            self._wait(resp.delay)
        if resp.hang:
            self._wait(120)
            return False
        if resp.no_response:
            return False
        if resp.raw is not None:
            sock.sendall(resp.raw)
            return resp.keep_open and not force_close
        for st, hdrs in resp.interim:
            out = "HTTP/1.1 %d %s\r\n" % (st, _reason(st))
            out += "".join("%s: %s\r\n" % kv for kv in hdrs)
            sock.sendall((out + "\r\n").encode("latin-1"))
        is_head = req.method.upper() == "HEAD"
        no_body = is_head or resp.status in (204, 304) or 100 <= resp.status < 200
        client_close = (req.header("Connection") or "").lower() == "close" or \
            (req.version == "HTTP/1.0" and "keep-alive" not in (req.header("Connection") or "").lower())
        close = resp.close or resp.close_delimited or force_close or client_close
        hdrs = list(resp.headers)
        names = {k.lower() for k, _ in hdrs}
        body = resp.body
        if resp.chunked:
            if "transfer-encoding" not in names:
                hdrs.append(("Transfer-Encoding", "chunked"))
        elif not resp.close_delimited and not resp.no_length and resp.status not in (204, 304) \
                and not 100 <= resp.status < 200 and "content-length" not in names:
            if resp.length is not None:
                hdrs.append(("Content-Length", str(resp.length)))
            elif isinstance(body, (bytes, bytearray)):
                hdrs.append(("Content-Length", str(len(body))))
            else:
                raise ValueError("an iterable body needs length=, chunked or close_delimited")
        if close and "connection" not in names and not resp.close_delimited:
            hdrs.append(("Connection", "close"))
        head = "HTTP/1.1 %d %s\r\n" % (resp.status, resp.reason or _reason(resp.status))
        head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
        head = head.encode("latin-1")
        if (not no_body and not resp.chunked and not resp.body_delay
                and isinstance(body, (bytes, bytearray)) and len(body) <= 65536):
            sock.sendall(head + body)       # one write: no Nagle / delayed-ACK stall
            body = b""
        else:
            sock.sendall(head)
        if not no_body:
            if resp.body_delay:
                self._wait(resp.body_delay)
            if resp.chunked:
                if isinstance(body, (bytes, bytearray)):
                    pieces = [body[i:i + resp.chunk_size]
                              for i in range(0, len(body), max(1, resp.chunk_size))]
                else:
                    pieces = body
                for p in pieces:
                    if p:
                        sock.sendall(b"%x%s\r\n" % (len(p), resp.chunk_ext.encode()) + p + b"\r\n")
                tr = "".join("%s: %s\r\n" % kv for kv in resp.trailers)
                sock.sendall(b"0\r\n" + tr.encode("latin-1") + b"\r\n")
            elif isinstance(body, (bytes, bytearray)):
                if body:
                    sock.sendall(body)
            else:
                for p in body:
                    sock.sendall(p)
        if close:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            # Let the peer read everything before the socket goes away.
            _drain_until_close(sock, 5.0)
            return False
        if resp.close_silently_after is not None:
            self._wait(resp.close_silently_after)
            return False
        return True


def _drain_until_close(sock, timeout):
    """Read and discard until the peer closes or timeout passes."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            if not sock.recv(65536):
                return
    except OSError:
        return


class RoutedOrigin(ScriptedOrigin):
    """A scripted origin answering per request target, for cache tests.

        o = RoutedOrigin({"/a": Response(200, b"x", headers=[...]),
                          "/b": lambda req: Response(...)})
        o.routes["/c"] = ...          # may change while a test runs
        o.count("/a")                 # requests received for that target
        o.reqs("/a")                  # those requests, in order
        o.url("/a")                   # http://127.0.0.1:PORT/a

    A route is a Response (sent for every request; give bytes bodies, an
    iterator is used up by the first) or a function(req) -> Response.
    A target without a route gets 404 with Cache-Control: no-store.
    """

    def __init__(self, routes=None, **kw):
        self.routes = dict(routes or {})
        super().__init__(self._dispatch, **kw)

    def _dispatch(self, req):
        r = self.routes.get(req.target)
        if r is None:
            return Response(404, b"no route for %s\n" % req.target.encode("latin-1"),
                            headers=[("Cache-Control", "no-store")])
        return r(req) if callable(r) else r

    def reqs(self, target):
        return [r for r in list(self.requests) if r.target == target]

    def count(self, target):
        return len(self.reqs(target))


def cache_status(resp, cache="squidlike"):
    """The parameters of squidlike's member of the Cache-Status field
    (RFC 9211) of resp, as a string ("hit; ttl=59"), or None when there is
    none. Fails when the member appears more than once."""
    found = []
    for v in resp.header_all("Cache-Status"):
        for member in v.split(","):
            name, _, params = member.strip().partition(";")
            if name.strip() == cache:
                found.append(params.strip())
    if len(found) > 1:
        raise TestFailure("Cache-Status names %s %d times: %r"
                          % (cache, len(found), resp.header_all("Cache-Status")))
    return found[0] if found else None


def cache_status_params(resp, cache="squidlike"):
    """cache_status() as a dict: {"hit": True, "ttl": "59"}; {} when there
    is no member for the cache."""
    out = {}
    for p in (cache_status(resp, cache) or "").split(";"):
        p = p.strip()
        if not p:
            continue
        k, eq, v = p.partition("=")
        out[k.strip()] = v.strip() if eq else True
    return out


# RFC 8941 structured fields: a List of Items with Parameters.
_SF_TOKEN = r"[A-Za-z*][-!#$%&'*+.^_`|~0-9A-Za-z:/]*"
_SF_BARE = (r'(?:-?[0-9]{1,15}(?:\.[0-9]{1,3})?|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
            r"|" + _SF_TOKEN + r"|\?[01]|:[A-Za-z0-9+/=]*:)")
_SF_ITEM = _SF_BARE + r"(?:; *[a-z*][-a-z0-9_.*]*(?:=" + _SF_BARE + r")?)*"
_SF_LIST_RE = re.compile(r"^[ \t]*" + _SF_ITEM + r"(?:[ \t]*,[ \t]*" + _SF_ITEM + r")*[ \t]*$")


def sf_list_ok(value):
    """Is value a valid RFC 8941 List (of Items; Inner Lists not handled),
    the syntax of Cache-Status (RFC 9211 2)?"""
    return bool(_SF_LIST_RE.match(value or ""))


def access_entries(daemon, method, url, n=None, timeout=10.0):
    """The access-log entries (AccessLine) for exactly this method and URL,
    in order; with n, first wait (bounded) until there are at least n."""
    def mine(lines):
        out = []
        for ln in lines:
            a = parse_access_line(ln)
            if a is not None and a.method == method and a.url == url:
                out.append(a)
        return out
    if n is None:
        return mine(daemon.access_log_lines())
    lines = daemon.access_log_lines(lambda ls: len(mine(ls)) >= n, timeout,
                                    what="%d access log lines for %s %s" % (n, method, url))
    return mine(lines)


# --------------------------------------------------------------------------
# nginx origins
# --------------------------------------------------------------------------

NGINX = "/usr/sbin/nginx"


def have_nginx():
    return os.access(NGINX, os.X_OK)


def _nginx_has_e_flag():
    try:
        r = subprocess.run([NGINX, "-h"], capture_output=True, timeout=10, env=child_env())
        return b"-e filename" in r.stdout + r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


class NginxOrigin:
    """nginx on 127.0.0.1:free port, one process (master_process off),
    serving a docroot: small.txt, index.html, hello.txt and big.bin (a sparse
    file of big_size zero bytes). Logs stay in its directory (-e given when
    supported, error_log directive first). With ssl=True it serves HTTPS with
    a fresh self-signed certificate for CN=localhost. server_conf is nginx
    text put in the server block before its `location / { }` (directives
    for the whole server, more locations); requests() reads back what nginx
    served from its access log."""

    SMALL = b"hello from nginx\n"
    INDEX = b"<html><body>nginx origin</body></html>\n"

    def __init__(self, big_size=1 << 30, ssl=False, files=None, name=None, server_conf=""):
        if not have_nginx():
            raise Skip("nginx not installed at %s" % NGINX)
        self.ssl = ssl
        self.server_conf = server_conf
        self.dir = subdir(name or ("nginx-tls" if ssl else "nginx"))
        self.docroot = os.path.join(self.dir, "html")
        os.makedirs(self.docroot)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            os.makedirs(os.path.join(self.dir, sub))
        self.big_size = big_size
        self.add_file("small.txt", self.SMALL)
        self.add_file("index.html", self.INDEX)
        self.add_file("hello.txt", b"hello\n")
        with open(os.path.join(self.docroot, "big.bin"), "wb") as f:
            pass
        os.truncate(os.path.join(self.docroot, "big.bin"), big_size)
        for k, v in (files or {}).items():
            self.add_file(k, v)
        if ssl:
            self.cert, self.key = make_cert(self.dir)
        self.proc = None
        self._start()

    def add_file(self, name, data):
        """Write data to docroot/name (name is a URL path: a leading / is
        the docroot's, never the file system's root)."""
        path = os.path.normpath(os.path.join(self.docroot, name.lstrip("/")))
        if not path.startswith(self.docroot + os.sep):
            raise TestFailure("add_file: %r is outside the docroot" % name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _conf(self):
        d = self.dir
        ssl = ""
        if self.ssl:
            ssl = (" ssl;\n    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
                   "    ssl_protocols TLSv1.2 TLSv1.3" % (self.cert, self.key))
        return """error_log {d}/logs/error.log warn;
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log {d}/logs/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  types {{ text/html html; text/plain txt; application/octet-stream bin; }}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port}{ssl};
    server_name localhost;
    root {root};
{extra}
    location / {{ }}
  }}
}}
""".format(d=d, port=self.port, ssl=ssl, root=self.docroot, extra=self.server_conf)

    def _start(self):
        e_flag = _nginx_has_e_flag()
        last = None
        for _ in range(4):
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(self._conf())
            argv = [NGINX, "-p", self.dir + "/", "-c", conf]
            if e_flag:
                argv[1:1] = ["-e", os.path.join(self.dir, "logs", "error.log")]
            self.proc = _Proc(argv, "nginx-%d" % self.port, cwd=self.dir)
            try:
                deadline = time.monotonic() + READY_TIMEOUT
                while True:
                    if not self.proc.alive():
                        raise TestFailure("nginx exited at start:\n%s\n%s" % (
                            self.proc.output(), self.error_log()))
                    if _can_connect("127.0.0.1", self.port):
                        return
                    if time.monotonic() > deadline:
                        raise TestFailure("nginx not ready after %.0fs:\n%s" % (
                            READY_TIMEOUT, self.error_log()))
                    time.sleep(0.05)
            except TestFailure as e:
                last = e
                self.proc.kill()
                if "Address already in use" in str(e):
                    continue
                raise
        raise last

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "logs", "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def url(self, path="/"):
        return "%s://127.0.0.1:%d%s" % ("https" if self.ssl else "http", self.port, path)

    _LOG_RE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) ')

    def requests(self, path=None):
        """(method, path, status) of every request nginx has logged so far,
        in order (a line is written when a response is finished); with path,
        only those for that path."""
        try:
            with open(os.path.join(self.dir, "logs", "access.log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            m = self._LOG_RE.search(line)
            if m and (path is None or m.group(2) == path):
                out.append((m.group(1), m.group(2), int(m.group(3))))
        return out

    def stop(self):
        if self.proc:
            self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False


def make_cert(directory, cn="localhost"):
    """A self-signed RSA 2048 certificate valid 2 days: (cert path, key path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=%s" % cn, "-days", "2", "-keyout", key, "-out", cert],
                       capture_output=True, timeout=60, env=child_env())
    if r.returncode != 0:
        raise TestFailure("openssl req failed: %s" % r.stderr.decode(errors="replace"))
    return cert, key


class TlsOrigin(NginxOrigin):
    """An HTTPS origin (nginx with a self-signed certificate); GET / returns
    TlsOrigin.INDEX."""

    INDEX = b"<html><body>tls origin ok</body></html>\n"

    def __init__(self, **kw):
        kw.setdefault("big_size", 1 << 20)
        super().__init__(ssl=True, **kw)


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------

class CurlResult(tuple):
    """(rc, stdout bytes, stderr str) with .rc .out .err attributes."""

    def __new__(cls, rc, out, err, argv):
        self = tuple.__new__(cls, (rc, out, err))
        self.argv = argv
        return self

    rc = property(lambda s: s[0])
    out = property(lambda s: s[1])
    err = property(lambda s: s[2])

    def check(self):
        if self.rc != 0:
            raise TestFailure("curl failed (exit %d): %s\n  %s" % (
                self.rc, self.err.strip()[-2000:], " ".join(self.argv)))
        return self


def curl(*args, timeout=30, proxy=None, input=None, netns=None):
    """Run `curl -q -sS --max-time T ARGS...` with no proxy variables in its
    environment. proxy=Daemon or "host:port" adds -x and --noproxy ''.
    Returns CurlResult (rc, stdout bytes, stderr str)."""
    argv = ["curl", "-q", "-sS", "--max-time", str(timeout)]
    if proxy is not None:
        addr = proxy.addr if isinstance(proxy, Daemon) else proxy
        argv += ["-x", "http://%s" % addr, "--noproxy", ""]
    argv += [str(a) for a in args]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout + 15, env=child_env(),
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TestFailure("curl did not finish within %ds: %s" % (timeout + 15, " ".join(argv))) from e
    return CurlResult(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"), argv)


def curl_stream(*args, timeout=300, proxy=None):
    """Run curl writing the body to stdout and hash it on the fly (for
    downloads too big to keep). Returns (rc, size, sha256 hex, stderr)."""
    argv = ["curl", "-q", "-sS", "--max-time", str(timeout)]
    if proxy is not None:
        addr = proxy.addr if isinstance(proxy, Daemon) else proxy
        argv += ["-x", "http://%s" % addr, "--noproxy", ""]
    argv += [str(a) for a in args]
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL,
                         env=child_env())
    killer = threading.Timer(timeout + 15, p.kill)
    killer.start()
    hsh = hashlib.sha256()
    size = 0
    try:
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                break
            hsh.update(b)
            size += len(b)
        rc = p.wait(30)
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait(10)
        p.stdout.close()
    errf.seek(0)
    err = errf.read().decode("utf-8", "replace")
    errf.close()
    return rc, size, hsh.hexdigest(), err


def parse_header_dump(text):
    """Parse curl -D output; returns a list of HttpResponse (heads only),
    one per block (1xx, CONNECT 200, final)."""
    out = []
    for block in re.split(r"\r?\n\r?\n", text.decode("latin-1") if isinstance(text, bytes) else text):
        if not block.strip():
            continue
        start, headers = _parse_head_lines(block.encode("latin-1") + b"\r\n\r\n")
        parts = start.split(" ", 2)
        if not parts[0].startswith("HTTP/"):
            continue
        r = HttpResponse()
        r.version, r.status = parts[0], int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        r.headers = headers
        out.append(r)
    return out


def fetch(url, *args, proxy=None, timeout=30, body_to=None, netns=None):
    """curl URL (through proxy when given) and parse what came back.
    Returns (CurlResult, HttpResponse of the final response or None); the
    body is in resp.body unless body_to (a path) is given. The CurlResult is
    not checked: assert on rc yourself."""
    d = subdir("fetch")
    hdr = os.path.join(d, "headers")
    body = body_to or os.path.join(d, "body")
    r = curl("-D", hdr, "-o", body, *args, url, timeout=timeout, proxy=proxy, netns=netns)
    resp = None
    try:
        with open(hdr, "rb") as f:
            blocks = parse_header_dump(f.read())
        finals = [b for b in blocks if not 100 <= b.status < 200]
        resp = finals[-1] if finals else None
        if resp is not None:
            resp.interim = [(b.status, b.headers) for b in blocks if 100 <= b.status < 200]
            resp.blocks = blocks
            if body_to is None and os.path.exists(body):
                with open(body, "rb") as f:
                    resp.body = f.read()
    except FileNotFoundError:
        pass
    shutil.rmtree(d, ignore_errors=True)
    return r, resp


def raw(port, data, read_until_close=True, timeout=10.0, host="127.0.0.1", bind=None):
    """Connect, send data, and return what comes back: until the peer closes
    (bounded by timeout) or, with read_until_close=False, whatever arrives
    within timeout after the first bytes stop for 0.5 s."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if bind:
            s.bind((bind, 0))
        s.connect((host, port))
        s.sendall(data)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if read_until_close:
                    raise TestFailure("connection not closed within %.0fs; got %r"
                                      % (timeout, bytes(out[:300])))
                break
            s.settimeout(left if read_until_close or not out else min(left, 0.5))
            try:
                b = s.recv(65536)
            except socket.timeout:
                if read_until_close:
                    continue
                break
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
        return bytes(out)
    finally:
        s.close()


class ConnectionClosed(TestFailure):
    pass


class HttpResponse(_HeaderAccess):
    """A parsed response: status, reason, version, headers [(k, v)], body
    bytes, trailers, interim [(status, headers)], raw_head."""

    def __init__(self):
        self.status = None
        self.reason = ""
        self.version = ""
        self.headers = []
        self.body = b""
        self.trailers = []
        self.interim = []
        self.raw_head = b""
        self.chunked = False
        self.close_delimited = False

    def __repr__(self):
        return "<HttpResponse %s %s body=%d>" % (self.status, self.reason, len(self.body))

    def brief(self):
        return "%s %s %s body=%r" % (self.status, self.reason, self.headers, self.body[:200])


class RawConn:
    """A persistent client connection for keep-alive, pipelining and
    hand-written requests.

        c = RawConn(d.port)
        c.send(b"GET http://... HTTP/1.1\\r\\nHost: ...\\r\\n\\r\\n")
        r = c.recv_response()          # HttpResponse
        c.closed(timeout=5)            # True once the peer has closed
    """

    def __init__(self, port, host="127.0.0.1", bind=None, timeout=20.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.timeout = timeout
        self.sock.settimeout(timeout)
        if bind:
            self.sock.bind((bind, 0))
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = _Reader(self.sock)
        self._cleanup = register_cleanup("raw connection", self.close)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def recv_response(self, method="GET", interim=False, timeout=None, sink=None,
                      head_only=False):
        """Read one response (1xx interim responses are collected into
        .interim and skipped unless interim=True). Body framing follows
        RFC 9112: none for HEAD/1xx/204/304, chunked (decoded, trailers kept),
        Content-Length, or until close. sink(bytes) receives the body instead
        of keeping it. Raises ConnectionClosed when the peer closes first."""
        self.sock.settimeout(timeout or self.timeout)
        resp = HttpResponse()
        while True:
            try:
                head = self.rd.read_head()
            except EOFError:
                raise ConnectionClosed("connection closed in the middle of a response head: %r"
                                       % bytes(self.rd.buf[:300]))
            except ConnectionResetError:
                raise ConnectionClosed("connection reset before a response")
            if head is None:
                raise ConnectionClosed("connection closed before a response")
            start, headers = _parse_head_lines(head)
            parts = start.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise TestFailure("bad status line %r" % start)
            status = int(parts[1])
            if 100 <= status < 200 and status != 101 and not interim:
                resp.interim.append((status, headers))
                continue
            break
        resp.version, resp.status = parts[0], status
        resp.reason = parts[2] if len(parts) > 2 else ""
        resp.headers, resp.raw_head = headers, head
        if head_only:
            return resp
        body = []
        out = sink or body.append
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        try:
            if method.upper() == "HEAD" or status in (204, 304) or 100 <= status < 200 \
                    or (method.upper() == "CONNECT" and 200 <= status < 300):
                pass
            elif "chunked" in te:
                resp.chunked = True
                resp.trailers, _ = self.rd.read_chunked(lambda b: out(bytes(b)))
            elif cl is not None:
                self.rd.read_exact(int(cl), lambda b: out(bytes(b)))
            else:
                resp.close_delimited = True
                self.rd.read_to_close(lambda b: out(bytes(b)))
        except EOFError as e:
            raise ConnectionClosed("response body cut short (%s) after head %r"
                                   % (e, head[:300]))
        resp.body = b"".join(body)
        return resp

    def request(self, method, url, headers=(), body=b"", version="HTTP/1.1"):
        """Send one request in absolute form and read its response."""
        self.send(build_request(method, url, headers, body, version))
        return self.recv_response(method)

    def closed(self, timeout=5.0):
        """Wait (bounded) for the peer to close: True when recv returns b""
        or the connection is reset; False if still open at the deadline.
        Data arriving meanwhile is kept in .rd.buf."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not b:
                return True
            self.rd.buf += b

    def close(self):
        unregister_cleanup(self._cleanup)
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def split_url(url):
    """("host", port, "/path?q", "host[:port]") for http://host[:port]/path."""
    m = re.match(r"^(?:http://)?(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?$", url, re.I)
    if not m:
        raise ValueError("cannot split %r" % url)
    host = m.group(1)
    port = int(m.group(2)) if m.group(2) else 80
    path = m.group(3) or "/"
    hostport = host + (":%s" % m.group(2) if m.group(2) else "")
    return host.strip("[]"), port, path, hostport


def build_request(method, url, headers=(), body=b"", version="HTTP/1.1"):
    """A request head in absolute form; adds Host (HTTP/1.1, unless given)
    and Content-Length (when body and no framing header is given)."""
    hdrs = list(headers)
    names = {k.lower() for k, _ in hdrs}
    if version == "HTTP/1.1" and "host" not in names and url.lower().startswith("http://"):
        hdrs.insert(0, ("Host", split_url(url)[3]))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, url, version)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def proxy_request(proxy, method, url, headers=(), body=b"", version="HTTP/1.1",
                  bind=None, timeout=30.0, close=True):
    """One request through the proxy on a fresh connection; returns the
    HttpResponse. close=True adds "Connection: close"."""
    port = proxy.port if isinstance(proxy, Daemon) else int(proxy)
    host = proxy.listen_host if isinstance(proxy, Daemon) else "127.0.0.1"
    hdrs = list(headers)
    if close and version == "HTTP/1.1" and "connection" not in {k.lower() for k, _ in hdrs}:
        hdrs.append(("Connection", "close"))
    with RawConn(port, host=host, bind=bind, timeout=timeout) as c:
        c.send(build_request(method, url, hdrs, body, version))
        return c.recv_response(method)


# --------------------------------------------------------------------------
# Network namespace (the real outsider)
# --------------------------------------------------------------------------

class NetNs:
    """A network namespace joined to this one by a veth pair:
    host side HOST_ADDR/30, namespace side NS_ADDR/30 (198.51.100.0/30,
    documentation addresses). Raises Skip when not root or `ip netns` fails.
    Always removed by close() / the runner's cleanup."""

    def __init__(self, net="198.51.100.0/30"):
        if os.geteuid() != 0:
            raise Skip("needs root for ip netns")
        if not shutil.which("ip"):
            raise Skip("iproute2 (ip) not installed")
        n = ipaddress.ip_network(net)
        hosts = list(n.hosts())
        self.host_addr, self.ns_addr = str(hosts[0]), str(hosts[1])
        self.prefix = n.prefixlen
        tag = "%d" % (os.getpid() % 100000)
        self.name = "sle2e-%s" % tag
        self.veth_host = "slh%s" % tag
        self.veth_ns = "sln%s" % tag
        self._cleanup = register_cleanup("netns %s" % self.name, self.close)
        self._remove_stale()
        steps = [
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns],
            ["ip", "link", "set", self.veth_ns, "netns", self.name],
            ["ip", "addr", "add", "%s/%d" % (self.host_addr, self.prefix), "dev", self.veth_host],
            ["ip", "link", "set", self.veth_host, "up"],
            ["ip", "netns", "exec", self.name, "ip", "addr", "add",
             "%s/%d" % (self.ns_addr, self.prefix), "dev", self.veth_ns],
            ["ip", "netns", "exec", self.name, "ip", "link", "set", self.veth_ns, "up"],
            ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"],
        ]
        for argv in steps:
            r = subprocess.run(argv, capture_output=True, timeout=20, env=child_env())
            if r.returncode != 0:
                err = r.stderr.decode(errors="replace").strip()
                self.close()
                raise Skip("`%s` failed: %s" % (" ".join(argv), err))
        # The link must be usable from both ends before tests start.
        wait_until(lambda: self.exec(["ping", "-c1", "-W1", self.host_addr]).returncode == 0
                   if shutil.which("ping") else True, 10, what="veth link up")

    def _remove_stale(self):
        """Remove namespaces left by earlier runs whose process is gone."""
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10,
                           env=child_env())
        for line in r.stdout.decode(errors="replace").splitlines():
            name = line.split()[0] if line.split() else ""
            m = re.match(r"^sle2e-(\d+)$", name)
            if m and (name == self.name or not os.path.exists("/proc/%s" % m.group(1))):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True, timeout=10)

    def exec(self, argv, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.name] + list(argv),
                              capture_output=True, timeout=timeout, env=child_env())

    def close(self):
        unregister_cleanup(self._cleanup)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True, timeout=20)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


# --------------------------------------------------------------------------
# A small filesystem (a disk that fills up)
# --------------------------------------------------------------------------

class TinyFs:
    """A tmpfs of size_kib KiB mounted on a directory of tmpdir() in a
    private mount namespace, so that nothing leaks into the test's own: a
    holder process (`unshare --mount --propagation private`, then sleep)
    keeps the namespace and the mount alive across daemon restarts, and
    close() / the runner's cleanup ends it (the mount goes with it).

        fs = TinyFs(2048)
        d = Daemon({"cache.dir": fs.path + "/store"}, wrapper=fs.wrapper)
        fs.fill(leave=64 << 10)     # leave 64 KiB free
        fs.free_filler()

    From the test's namespace the directory looks empty: files in the tmpfs
    are reached through /proc/HOLDER/root (fs.host_path(p)), which resolves
    paths in the holder's namespace. Raises Skip when not root or when
    unshare, nsenter or the mount fails."""

    def __init__(self, size_kib):
        if os.geteuid() != 0:
            raise Skip("needs root for a private mount namespace")
        for tool in ("unshare", "nsenter", "mount", "sleep"):
            if not shutil.which(tool):
                raise Skip("%s not installed (util-linux)" % tool)
        self.path = subdir("tinyfs")
        self.size = size_kib << 10
        script = ('mount -t tmpfs -o size=%dk,mode=0755 tinyfs "$1" && echo mounted && '
                  'exec sleep 3600' % size_kib)
        self.holder = _Proc(["unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script, "sh", self.path], "tinyfs")
        self._cleanup = register_cleanup("tinyfs at %s" % self.path, self.close)
        try:
            wait_until(lambda: "mounted" in self.holder.output() or not self.holder.alive(),
                       20, what="the tmpfs mounted in its namespace")
        except TestFailure:
            self.close()
            raise
        if not self.holder.alive() or "mounted" not in self.holder.output():
            out = self.holder.output().strip()
            self.close()
            raise Skip("cannot mount a tmpfs in a private mount namespace: %s" % out)
        self.wrapper = ["nsenter", "-t", str(self.holder.pid), "-m", "--"]
        st = os.statvfs(self.host_path())
        if st.f_blocks * st.f_frsize != self.size:
            self.close()
            raise TestFailure("the tmpfs is not %d bytes from the test's side" % self.size)

    def host_path(self, rel=""):
        """rel (inside the tmpfs) as the test process reaches it."""
        return os.path.join("/proc/%d/root" % self.holder.pid,
                            self.path.lstrip("/"), rel)

    def avail(self):
        """Bytes free in the tmpfs now."""
        st = os.statvfs(self.host_path())
        return st.f_bavail * st.f_frsize

    def fill(self, leave=0, name="filler"):
        """Write a file of zeros that leaves about `leave` bytes free (a
        page or so less), or fills the tmpfs up when leave is 0. Returns
        the bytes written."""
        want = max(0, self.avail() - leave)
        done = 0
        block = b"\0" * 65536
        with open(self.host_path(name), "ab", buffering=0) as f:
            try:
                while done < want:
                    n = f.write(block[:min(len(block), want - done)])
                    if not n:
                        break
                    done += n
            except OSError as e:
                if e.errno != errno.ENOSPC or leave:
                    raise
        return done

    def free_filler(self, name="filler"):
        os.unlink(self.host_path(name))

    def close(self):
        """End the holder: the namespace and the mount go with it."""
        unregister_cleanup(self._cleanup)
        self.holder.kill()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

_shared = {}


def shared(name, factory):
    """A resource shared by the tests of one file (e.g. one daemon for many
    malformed-request cases): created on first use, stopped at the end of the
    file (a failing stop, e.g. a sanitizer report, fails the file)."""
    if name not in _shared:
        with _cleanup_lock:
            n = len(_cleanups)
        obj = factory()
        # What the factory registered belongs to the file, not to this test.
        with _cleanup_lock:
            _file_cleanups.extend(_cleanups[n:])
            del _cleanups[n:]
        _shared[name] = obj
    return _shared[name]


def _watchdog(seconds):
    def fire():
        print("not ok - watchdog: test file still running after %ds; killing everything"
              % seconds, flush=True)
        try:
            _final_cleanup()
        finally:
            os._exit(1)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def run(ns, needs_daemon=True, watchdog=600, requires=("curl",)):
    """Run every function named test_* defined in the calling file, in
    definition order; print "ok - name" / "not ok - name: reason"; clean up
    everything each test started; exit 0 (all passed or skipped, at least
    one passed), 1 (a failure), 77 (all skipped) or 99 (harness error).

    TEST=name1,name2 in the environment runs only those tests."""
    sys.stdout.reconfigure(line_buffering=True)

    def on_term(signum, frame):
        print("not ok - interrupted by signal %d" % signum, flush=True)
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, on_term)
    wd = _watchdog(int(os.environ.get("E2E_WATCHDOG", watchdog)))
    main = ns.get("__name__", "__main__")
    tests = [(k, v) for k, v in ns.items()
             if k.startswith("test_") and callable(v) and getattr(v, "__module__", main) == main]
    only = os.environ.get("TEST")
    if only:
        wanted = set(only.split(","))
        tests = [(k, v) for k, v in tests if k in wanted]
    try:
        for tool in requires:
            if not shutil.which(tool):
                print("SKIP: %s not installed" % tool)
                return _exit(77)
        if needs_daemon:
            try:
                daemon_binary()
            except Skip as e:
                print("SKIP: %s" % e)
                return _exit(77)
            except _NoDaemon as e:
                print("ERROR: %s" % e)
                return _exit(99)
        passed = failed = skipped = 0
        for name, fn in tests:
            mark = len(_cleanups)
            _cleanup_failures.clear()
            t0 = time.monotonic()
            status, reason = "ok", None
            try:
                fn()
            except Skip as e:
                status, reason = "skip", str(e)
            except AssertionError as e:
                status, reason = "fail", str(e) or "assertion failed"
                tb = traceback.extract_tb(e.__traceback__)
                where = [f for f in tb if f.filename == sys.argv[0] or
                         os.path.basename(f.filename).startswith("test_")]
                if where:
                    reason += " (at line %d)" % where[-1].lineno
            except Exception as e:     # noqa: BLE001 - report every error
                status, reason = "fail", _short_exc(e)
                log(traceback.format_exc())
            leftover = _run_cleanups(mark)
            leftover += list(_cleanup_failures)
            if leftover and status != "fail":
                status, reason = "fail", "; ".join(leftover)
            elif leftover:
                log("cleanup after failure: " + "; ".join(leftover))
            dt = time.monotonic() - t0
            if status == "ok":
                passed += 1
                print("ok - %s (%.1fs)" % (name, dt))
            elif status == "skip":
                skipped += 1
                print("ok - %s # SKIP %s" % (name, reason))
            else:
                failed += 1
                lines = reason.splitlines() or [""]
                print("not ok - %s: %s" % (name, lines[0]))
                for ln in lines[1:60]:
                    print("#   " + ln)
        # Shared resources (daemons used by several tests) are judged at the end.
        for key, res in list(_shared.items()):
            stop = getattr(res, "stop", None)
            if stop:
                try:
                    stop()
                except AssertionError as e:
                    failed += 1
                    print("not ok - stop shared %s: %s" % (key, str(e).splitlines()[0]))
                    for ln in str(e).splitlines()[1:60]:
                        print("#   " + ln)
        _shared.clear()
        print("# %d passed, %d failed, %d skipped" % (passed, failed, skipped))
        if failed:
            return _exit(1)
        if passed == 0:
            return _exit(77)
        return _exit(0)
    except SystemExit:
        raise
    except BaseException:
        print("ERROR: harness failure")
        traceback.print_exc(file=sys.stdout)
        return _exit(99)
    finally:
        wd.cancel()


def _exit(code):
    _final_cleanup()
    sys.stdout.flush()
    sys.exit(code)

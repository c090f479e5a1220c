"""Load a page in headless Chromium; return its DOM and its console errors.

Standard library only.  Talks to Chromium over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: Chromium reads commands on fd 3 and writes
replies/events on fd 4, each a JSON object ended by a NUL byte), so no
websocket client and no TCP debugging port are needed.

    >>> from browser import load
    >>> dom, errors = load("http://127.0.0.1:8000/", timeout=30)
    >>> assert errors == [], errors

What counts as an error (and ends up in ``errors``):

* uncaught JavaScript exceptions, including unhandled promise rejections
  (``Runtime.exceptionThrown``)
* ``console.error(...)`` and failed ``console.assert(...)`` calls
  (``Runtime.consoleAPICalled`` with type ``error``/``assert``)
* browser-generated messages of level ``error`` (``Log.entryAdded``): CSP
  violations (source ``security``), failed subresource loads (source
  ``network``: connection refused, 404, blocked port, ...), and so on.
  The browser's own automatic ``/favicon.ico`` request is ignored.

``console.log``/``console.warn`` and warning-level browser messages are not
errors.

When is the page "loaded"?  After the ``load`` event of the main frame,
plus ``settle`` seconds (default 0.3 s) to let late reports arrive: an
unhandled promise rejection, for instance, is reported just *after* the
load event.  Things that happen later still (timers, a ``<meta refresh>``)
are not waited for, so a refreshing page does not hang the loader.

Isolation: each :class:`Browser` gets its own temporary ``--user-data-dir``
(and ``XDG_CONFIG_HOME``, where Chromium's crash handler would otherwise
write ``~/.config/chromium/Crash Reports``), deleted on close.  Inside one
:class:`Browser`, each :meth:`Browser.load` runs in a fresh browser context
(incognito-like: no shared cookies, storage or cache).  The module-level
:func:`load` starts and stops a whole browser per call.

Networking: host names other than ``localhost`` do not resolve
(``--host-resolver-rules``), so Chromium's background requests to Google
services fail at once instead of going out; IP-literal URLs work.

Runs as root (``--no-sandbox``).  Chromium runs in its own session/process
group, which is SIGKILLed on timeout or failure (the crashpad handlers put
themselves outside that group, but exit on their own as soon as the browser
dies).
"""

import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from urllib.parse import urlsplit

__all__ = ["load", "Browser", "BrowserError", "BrowserTimeout",
           "find_chromium", "FLAGS"]

#: Command-line flags passed to Chromium (besides --user-data-dir and the
#: pipe flag).  Exposed so tests and docs can show exactly what runs.
FLAGS = [
    "--headless",                       # the "new" headless (only one left)
    "--no-sandbox",                     # needed when running as root
    "--disable-gpu",
    "--disable-dev-shm-usage",          # small /dev/shm in containers
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--mute-audio",
    # Even with the flags above, Chromium resolves clients2.google.com,
    # update.googleapis.com and accounts.google.com.  Make every lookup
    # except localhost fail locally, so nothing leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1",
]

# Candidate executables, in order.  The Debian /usr/bin/chromium is a shell
# wrapper that adds flags and prints a spurious "[: unexpected operator"
# on some /dev/shm setups, so the real binary is preferred.
_CANDIDATES = [
    "/usr/lib/chromium/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
]


class BrowserError(RuntimeError):
    """Chromium could not be started, crashed, or the page failed to load."""


class BrowserTimeout(BrowserError, TimeoutError):
    """The operation did not finish within its timeout."""


def find_chromium():
    """Return the path of a Chromium executable.

    ``$CHROMIUM`` wins if set; otherwise the candidates above are tried.
    Raises :class:`BrowserError` if none is found.
    """
    env = os.environ.get("CHROMIUM")
    for name in ([env] if env else []) + _CANDIDATES:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    raise BrowserError("no Chromium found (apt-get install chromium, "
                       "or set $CHROMIUM)")


def load(url, timeout=30, settle=0.3):
    """Load *url* in a fresh headless Chromium.

    Returns ``(dom, errors)``: the serialized DOM after load (doctype +
    ``document.documentElement.outerHTML``, like ``--dump-dom``) and a list
    of human-readable error strings (empty for a clean page).

    *timeout* (seconds) bounds the whole call, browser start-up included.
    Raises :class:`BrowserTimeout` on timeout and :class:`BrowserError` if
    Chromium fails or the page cannot be loaded at all (e.g. connection
    refused on the main URL).  The browser and its temporary profile are
    always cleaned up.
    """
    deadline = time.monotonic() + timeout
    with Browser(startup_timeout=timeout) as b:
        return b.load(url, timeout=max(0.0, deadline - time.monotonic()),
                      settle=settle)


class Browser:
    """One headless Chromium process; use as a context manager.

    Reusing one :class:`Browser` for many pages saves the start-up and
    shut-down cost (about 0.4 s per page); each :meth:`load` still gets a
    fresh browser context.  After a :class:`BrowserTimeout` or
    :class:`BrowserError` from :meth:`load`, close this Browser and start a
    new one rather than reusing it.
    """

    def __init__(self, executable=None, extra_flags=(), startup_timeout=30):
        self.executable = executable or find_chromium()
        self.flags = FLAGS + list(extra_flags)
        self.startup_timeout = startup_timeout
        self.pid = None
        self._tmp = None
        self._wfd = self._rfd = None
        self._buf = b""
        self._next_id = 0
        self._events = []          # events read while waiting for a reply

    # ----------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        # After a timeout or protocol error the browser may be wedged:
        # skip the polite Browser.close and kill it outright.
        self.close(force=exc_type is not None)

    def start(self):
        """Spawn Chromium and wait until it answers on the pipe."""
        self._tmp = tempfile.mkdtemp(prefix="chromium-probe-")
        profile = os.path.join(self._tmp, "profile")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self._tmp, "xdg"))
        argv = [self.executable] + self.flags + [
            "--user-data-dir=" + profile, "--remote-debugging-pipe",
            "about:blank"]

        # Our fds are close-on-exec (PEP 446); only the dup2 targets below
        # are inherited.  Move the child's pipe ends to fds >= 10 first so
        # the dup2s onto 3 and 4 cannot clobber each other.
        cmd_r, cmd_w = os.pipe()     # we write commands -> child fd 3
        evt_r, evt_w = os.pipe()     # child fd 4 -> we read events
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(evt_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(evt_w)
        devnull = os.open(os.devnull, os.O_RDONLY)
        self._log = os.path.join(self._tmp, "chromium.log")
        log = os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # posix_spawn (not Popen+preexec_fn): safe with threads in the
            # caller (e.g. an in-process http.server); setsid=True gives
            # Chromium its own process group to kill.
            self.pid = os.posix_spawn(
                self.executable, argv, env, setsid=True, file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                    (os.POSIX_SPAWN_DUP2, child_in, 3),
                    (os.POSIX_SPAWN_DUP2, child_out, 4),
                ])
        except OSError as e:
            os.close(cmd_w)
            os.close(evt_r)
            self._cleanup_tmp()
            raise BrowserError("cannot start %s: %s" % (self.executable, e))
        finally:
            for fd in (child_in, child_out, devnull, log):
                os.close(fd)
        self._wfd, self._rfd = cmd_w, evt_r
        try:
            self._call("Browser.getVersion",
                       deadline=time.monotonic() + self.startup_timeout)
        except BaseException:
            self.close(force=True)
            raise

    def close(self, force=False):
        """Stop Chromium (politely unless *force*), delete the profile."""
        if self.pid is not None:
            if not force and self._wfd is not None:
                try:
                    self._send("Browser.close")
                except OSError:
                    pass
                self._wait_exit(3.0)
            if self.pid is not None:
                self._kill_group()
        for fd in (self._wfd, self._rfd):
            if fd is not None:
                os.close(fd)
        self._wfd = self._rfd = None
        self._cleanup_tmp()

    def _wait_exit(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._pgid, self.pid = self.pid, None
                try:                  # children still in the group, if any
                    os.killpg(self._pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return True
            time.sleep(0.01)
        return False

    def _kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.pid = None

    def _cleanup_tmp(self):
        if self._tmp:
            for _ in range(5):       # crashpad may write a last file late
                shutil.rmtree(self._tmp, ignore_errors=True)
                if not os.path.exists(self._tmp):
                    break
                time.sleep(0.05)
            self._tmp = None

    def _log_tail(self, n=15):
        """Last meaningful lines of Chromium's stderr, for error messages."""
        try:
            with open(self._log, errors="replace") as f:
                lines = [l.rstrip() for l in f
                         if "dbus" not in l.lower() and l.strip()]
        except (OSError, TypeError):
            return ""
        return "\n".join(lines[-n:])

    # ------------------------------------------------------------ protocol
    def _send(self, method, params=None, session=None):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._wfd, data):]
        return self._next_id

    def _recv(self, deadline):
        """Next message from Chromium, or raise BrowserTimeout."""
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserTimeout("timed out waiting for Chromium")
            ready, _, _ = select.select([self._rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._rfd, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe "
                                   "(crashed?)\n" + self._log_tail())
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _call(self, method, params=None, session=None, deadline=None):
        """Send a command, return its result; queue events seen meanwhile."""
        msg_id = self._send(method, params, session)
        while True:
            msg = self._recv(deadline)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError("%s failed: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self._events.append(msg)

    def _next_event(self, deadline):
        if self._events:
            return self._events.pop(0)
        msg = self._recv(deadline)
        return msg if "method" in msg else None

    # ---------------------------------------------------------------- load
    def load(self, url, timeout=30, settle=0.3):
        """Load *url* in a fresh browser context; see module :func:`load`."""
        deadline = time.monotonic() + timeout
        try:
            return self._load(url, deadline, settle)
        except BrowserTimeout:
            raise BrowserTimeout("timed out after %ss loading %s\n%s"
                                 % (timeout, url, self._log_tail())) from None

    def _load(self, url, deadline, settle):
        call = lambda m, p=None, s=None: self._call(m, p, s, deadline)
        ctx = call("Target.createBrowserContext",
                   {"disposeOnDetach": True})["browserContextId"]
        target = call("Target.createTarget", {
            "url": "about:blank", "browserContextId": ctx})["targetId"]
        sid = call("Target.attachToTarget",
                   {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log"):
                call(domain + ".enable", None, sid)
            self._events = [e for e in self._events
                            if e.get("sessionId") != sid]  # about:blank noise
            errors = []
            nav = call("Page.navigate", {"url": url}, sid)
            if nav.get("errorText"):
                raise BrowserError("cannot load %s: %s" % (url, nav["errorText"]))

            # Collect until the load event, then for `settle` more seconds.
            loaded_at = None
            while True:
                if loaded_at is not None:
                    end = min(deadline, loaded_at + settle)
                    if time.monotonic() >= end:
                        break
                else:
                    end = deadline
                try:
                    ev = self._next_event(end)
                except BrowserTimeout:
                    if loaded_at is None or time.monotonic() >= deadline:
                        raise
                    break                      # settle period over
                if ev is None or ev.get("sessionId") != sid:
                    continue
                method = ev["method"]
                if method == "Page.loadEventFired" and loaded_at is None:
                    loaded_at = time.monotonic()
                elif method in ("Inspector.targetCrashed",
                                "Target.targetCrashed"):
                    raise BrowserError("renderer crashed loading " + url)
                else:
                    err = _as_error(ev, url)
                    if err:
                        errors.append(err)

            res = call("Runtime.evaluate", {
                "expression": _DOM_JS, "returnByValue": True}, sid)
            if "exceptionDetails" in res:
                raise BrowserError("could not read DOM of %s: %s"
                                   % (url, res["exceptionDetails"]))
            dom = res["result"]["value"]
            # Reports that raced with the evaluate call.
            for ev in self._events:
                if ev.get("sessionId") == sid:
                    err = _as_error(ev, url)
                    if err:
                        errors.append(err)
            return dom, errors
        finally:
            self._events = [e for e in self._events
                            if e.get("sessionId") != sid]
            if self.pid is not None and time.monotonic() < deadline:
                try:
                    call("Target.closeTarget", {"targetId": target})
                    call("Target.disposeBrowserContext",
                         {"browserContextId": ctx})
                except BrowserError:
                    pass


# Same shape as `chromium --dump-dom`: "<!DOCTYPE html>\n<html>...</html>".
_DOM_JS = """(() => {
  const d = document.doctype;
  return (d ? new XMLSerializer().serializeToString(d) + "\\n" : "")
         + document.documentElement.outerHTML;
})()"""


def _where(url, line=None):
    if not url:
        return ""
    return " (%s%s)" % (url, "" if line is None else ":%d" % (line + 1))


def _remote_object_text(obj):
    if "value" in obj:
        v = obj["value"]
        return v if isinstance(v, str) else json.dumps(v)
    return obj.get("description") or obj.get("unserializableValue") \
        or obj.get("type", "?")


def _as_error(ev, page_url):
    """Turn a DevTools event into an error string, or None if not an error."""
    method, p = ev["method"], ev.get("params", {})
    if method == "Runtime.exceptionThrown":
        d = p["exceptionDetails"]
        exc = d.get("exception") or {}
        desc = (exc.get("description") or _remote_object_text(exc)
                if exc else "").split("\n")[0]
        text = d.get("text", "Uncaught")
        msg = "%s %s" % (text, desc) if desc and desc not in text else text
        return "exception: %s%s" % (msg, _where(d.get("url"),
                                                 d.get("lineNumber")))
    if method == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                 "assert"):
        frames = (p.get("stackTrace") or {}).get("callFrames") or [{}]
        text = " ".join(_remote_object_text(a) for a in p.get("args", []))
        return "console.%s: %s%s" % (p["type"], text,
                                     _where(frames[0].get("url"),
                                            frames[0].get("lineNumber")))
    if method == "Log.entryAdded":
        e = p["entry"]
        if e.get("level") != "error":
            return None
        if e.get("source") == "network" and _is_auto_favicon(e.get("url"),
                                                              page_url):
            return None
        return "%s: %s%s" % (e.get("source", "log"), e.get("text", ""),
                             _where(e.get("url")))
    return None


def _is_auto_favicon(url, page_url):
    """Chromium's own request for <origin>/favicon.ico (not the page's)."""
    if not url:
        return False
    u, p = urlsplit(url), urlsplit(page_url)
    return u.path == "/favicon.ico" and (u.scheme, u.netloc) == (p.scheme,
                                                                 p.netloc)


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: python3 browser.py URL")
    t = time.monotonic()
    dom, errs = load(sys.argv[1])
    print(dom)
    for e in errs:
        print("ERROR:", e, file=sys.stderr)
    print("%d error(s), %.2fs" % (len(errs), time.monotonic() - t),
          file=sys.stderr)
    sys.exit(1 if errs else 0)

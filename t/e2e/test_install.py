#!/usr/bin/env python3
"""`make install DESTDIR=...` from the build tree: the daemon, the
configuration with system paths (and a copy an admin's edits survive),
the logrotate rules and systemd unit with the directories filled in, the
man pages, the block page template and the example blocklists; the
installed daemon accepts the installed configuration; `make uninstall`
takes back what it put there. Needs no daemon running."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PREFIX = "/opt/sltest"


def builddir():
    binary = h.daemon_binary()
    return os.path.dirname(os.path.dirname(binary))


def make(*args):
    # A make of our own, not a part of the one running the tests.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-s", "-C", builddir()] + list(args), env=env,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, "make %s failed:\n%s%s" % (
        " ".join(args), r.stdout.decode(errors="replace")[-3000:],
        r.stderr.decode(errors="replace")[-3000:])


def installed(root):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def test_install_and_uninstall():
    if not os.path.exists(os.path.join(builddir(), "Makefile")):
        raise h.Skip("no Makefile in %s" % builddir())
    root = h.subdir("root")
    opts = ["DESTDIR=" + root, "prefix=" + PREFIX, "sysconfdir=/etc/sltest",
            "localstatedir=/var/sltest", "systemdsystemunitdir=/lib/systemd/system"]
    make("install", *opts)
    files = installed(root)
    want = {"opt/sltest/sbin/squidlike",
            "etc/sltest/squidlike.conf", "etc/sltest/squidlike.conf.default",
            "etc/sltest/logrotate.d/squidlike",
            "lib/systemd/system/squidlike.service",
            "opt/sltest/share/man/man8/squidlike.8",
            "opt/sltest/share/man/man5/squidlike.conf.5",
            "opt/sltest/share/squidlike/errors/blocked.html",
            "opt/sltest/share/squidlike/blocklists/ads/domains",
            "opt/sltest/share/squidlike/blocklists/malware/domains"}
    assert want <= files, "not installed: %s" % sorted(want - files)

    conf = open(os.path.join(root, "etc/sltest/squidlike.conf")).read()
    for rel in ('"var/', '"etc/errors', '"etc/blocklists"'):
        assert rel not in conf, "a relative path %s... left in the installed config" % rel
    for path in ("/var/sltest/log/squidlike/access.log", "/var/sltest/cache/squidlike",
                 "/var/sltest/run/squidlike/", PREFIX + "/share/squidlike/errors/blocked.html"):
        assert path in conf, "%s not in the installed config" % path
    # The path rewrite leaves the regexes alone (the package archive
    # patterns, test_apt.py, are the installed ones too).
    assert (h.parse_libconfig(conf)["cache"]["refresh_patterns"]
            == h.default_config()["cache"]["refresh_patterns"]), "refresh_patterns changed"
    for f in ("etc/sltest/logrotate.d/squidlike", "lib/systemd/system/squidlike.service"):
        text = open(os.path.join(root, f)).read()
        left = re.findall(r"@[a-z_]+@", text)
        assert not left, "%s: %s left unfilled" % (f, left)
        assert PREFIX + "/sbin/squidlike" in text, "%s: no daemon path" % f
        assert "/etc/sltest/squidlike.conf" in text, "%s: no config path" % f

    # The daemon will not start without its own addresses, which glibc's
    # getifaddrs() reads over netlink: a unit that restricts address
    # families must let that one through.
    unit = open(os.path.join(root, "lib/systemd/system/squidlike.service")).read()
    fams = re.search(r"^RestrictAddressFamilies=(.*)$", unit, re.M)
    assert fams is None or "AF_NETLINK" in fams.group(1).split(), fams.group(0)

    # The installed daemon takes the installed configuration as it is.
    r = subprocess.run([os.path.join(root, "opt/sltest/sbin/squidlike"), "-k", "parse",
                        "-f", os.path.join(root, "etc/sltest/squidlike.conf")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, "installed config: %s" % r.stderr.decode(errors="replace")

    # An admin's edit survives a second install; the .default is replaced.
    with open(os.path.join(root, "etc/sltest/squidlike.conf"), "a") as f:
        f.write("# local edit\n")
    make("install", *opts)
    assert open(os.path.join(root, "etc/sltest/squidlike.conf")).read().endswith(
        "# local edit\n"), "make install overwrote the admin's squidlike.conf"

    make("uninstall", *opts)
    left = {f for f in installed(root) if f != "etc/sltest/squidlike.conf"}
    assert not left, "make uninstall left: %s" % sorted(left)


if __name__ == "__main__":
    h.run(globals(), requires=("make",))

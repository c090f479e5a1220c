#!/usr/bin/env python3
"""What package managers fetch, through the shipped configuration as it is
(its refresh_patterns, no pattern written here).

The real apt-get, run as two fresh machines one after the other, updates
from and downloads a package out of a small Debian archive that nginx
serves the way many mirrors do: no ETag, no Last-Modified, no lifetime.
The second machine's download of the .deb is a cache hit and the origin
sends it once; the index files (InRelease, Release, Release.gpg, Packages,
Translation) go to the origin again every time.

curl stands in for dnf, apk and pacman (and apt's by-hash and Release.gpg
fetches, which carry no Cache-Control) on their repository layouts:
package files hit on the second fetch even without validators, indexes
that an origin dates (Last-Modified ten days back, which the catch-all
pattern would keep fresh for two days) are revalidated every time, and a
404 for a package is not kept as long as the package would be.
"""

import email.utils
import gzip
import hashlib
import os
import random
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, NginxOrigin  # noqa: E402

# What a bare mirror sends: no validator, no lifetime, and no 304 either
# (nginx would otherwise answer If-Modified-Since from the file's mtime).
# add_header with an empty value removes the field nginx would add.
NO_VALIDATORS = """
    etag off;
    if_modified_since off;
    add_header Last-Modified "";
"""
# Under /lm/ nginx sends its usual Last-Modified and ETag and answers
# conditionals (its own add_header stops the server's from applying).
WITH_VALIDATORS = """
    location /lm/ { etag on; if_modified_since exact; add_header X-Validators yes; }
"""

HIT_CODES = ("TCP_HIT", "TCP_MEM_HIT")
APT_TIMEOUT = 180
LOG_TIMEOUT = 30           # for a log line to appear, on a busy machine


def proxy_daemon():
    """The daemon with etc/squidlike.conf verbatim (only the DNS servers
    replaced by a stub that knows no name: every URL here is 127.0.0.1)."""
    return Daemon(conf_text=h.shipped_conf_text(), dns=h.DnsStub({}), name="proxy")


def origin_headers(url):
    """The response header fields (lowercased names) nginx sends for url,
    fetched directly."""
    r = h.curl("-o", "/dev/null", "-D", "-", url).check()
    fields = {}
    for line in r.out.decode("latin-1").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def served(origin, since, path=None):
    """(method, path, status) of what the origin served after its first
    since requests (the direct checks come first), for path or all."""
    return [r for r in origin.requests()[since:] if path is None or r[1] == path]


def assert_bare(url):
    """The origin really sends nothing a cache could date or validate."""
    f = origin_headers(url)
    for name in ("etag", "last-modified", "cache-control", "expires"):
        assert name not in f, "origin sends %s for %s: %r" % (name, url, f)
    assert "date" in f and "content-length" in f, f


# --------------------------------------------------------------------------
# A Debian archive
# --------------------------------------------------------------------------

def make_deb(work, name, version):
    """A real .deb built by dpkg-deb; returns (bytes, control text)."""
    tree = os.path.join(work, "%s-%s" % (name, version))
    os.makedirs(os.path.join(tree, "DEBIAN"))
    os.makedirs(os.path.join(tree, "usr", "share", "doc", name))
    control = ("Package: %s\nVersion: %s\nArchitecture: all\n"
               "Maintainer: squidlike tests <root@localhost>\n"
               "Description: squidlike test package\n" % (name, version))
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
        f.write(control)
    with open(os.path.join(tree, "usr", "share", "doc", name, "payload"), "wb") as f:
        # Incompressible, so that the .deb is as big as the payload.
        f.write(random.Random(name).randbytes(300 * 1024))
    out = os.path.join(work, "%s_%s_all.deb" % (name, version))
    r = subprocess.run(["dpkg-deb", "--root-owner-group", "--build", tree, out],
                       capture_output=True, timeout=120, env=h.child_env())
    assert r.returncode == 0, "dpkg-deb: %s" % r.stderr.decode(errors="replace")
    with open(out, "rb") as f:
        return f.read(), control


def build_archive(docroot, work):
    """docroot/debian: pool/ with one .deb, dists/stable with Release,
    main/binary-amd64/Packages(.gz) and main/i18n/Translation-en, as
    apt-ftparchive would lay them out. Returns the .deb's path and bytes."""
    deb, control = make_deb(work, "sl-apt-test", "1.0-1")
    rel_deb = "pool/main/s/sl-apt-test/sl-apt-test_1.0-1_all.deb"
    base = os.path.join(docroot, "debian")
    files = {rel_deb: deb}
    packages = (control + "Filename: %s\nSize: %d\nSHA256: %s\n\n"
                % (rel_deb, len(deb), hashlib.sha256(deb).hexdigest())).encode()
    index = {
        "main/binary-amd64/Packages": packages,
        "main/binary-amd64/Packages.gz": gzip.compress(packages, mtime=0),
        "main/i18n/Translation-en": b"Package: sl-apt-test\n"
        b"Description-md5: 5f5e7e8b1c3a9d2e4f6a8b0c2d4e6f80\n"
        b"Description-en: squidlike test package\n\n",
    }
    release = ("Origin: squidlike\nLabel: squidlike\nSuite: stable\nCodename: stable\n"
               "Date: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n"
               % email.utils.formatdate(usegmt=True))
    for name, data in index.items():
        release += " %s %d %s\n" % (hashlib.sha256(data).hexdigest(), len(data), name)
        files["dists/stable/" + name] = data
    files["dists/stable/Release"] = release.encode()
    for rel, data in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return "/debian/" + rel_deb, deb


def apt_machine(name, origin, proxy):
    """A fresh apt state of its own (nothing of the system's /etc/apt or
    /var is read or written): APT_CONFIG is read before anything else and
    moves Dir, so sources, config parts, lists, caches and the dpkg status
    all live under the root. Returns (env, root)."""
    root = h.subdir(name)
    for d in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/trusted.gpg.d",
              "etc/apt/sources.list.d", "var/lib/apt/lists/partial",
              "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt", "dl"):
        os.makedirs(os.path.join(root, d))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        f.write("deb [trusted=yes] %s stable main\n" % origin.url("/debian"))
    conf = os.path.join(root, "apt.conf")
    with open(conf, "w") as f:
        f.write('Dir "%s/";\n' % root
                + 'APT::Architecture "amd64";\nAPT::Architectures { "amd64"; };\n'
                # root without dropping to _apt, which could not write here
                + 'APT::Sandbox::User "root";\n'
                + 'Acquire::http::Proxy "%s/";\n' % proxy.proxy_url
                + 'Acquire::Languages { "en"; };\nAcquire::Retries "0";\n'
                + 'Acquire::http::Timeout "60";\n')
    return h.child_env({"APT_CONFIG": conf}), root


def apt_get(env, root, *args):
    r = subprocess.run(["apt-get", "-q"] + list(args), cwd=os.path.join(root, "dl"),
                       capture_output=True, timeout=APT_TIMEOUT, env=env,
                       stdin=subprocess.DEVNULL)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 0, "apt-get %s exited %d:\n%s" % (" ".join(args), r.returncode, out)
    # apt exits 0 after some failed fetches ("W: Failed to fetch"): not here.
    assert "W: " not in out and "E: " not in out, "apt-get %s:\n%s" % (" ".join(args), out)
    return out


def test_apt_get_second_download_is_a_hit():
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise h.Skip("%s not installed" % tool)
    work = h.subdir("build")
    origin = NginxOrigin(big_size=0, name="archive", server_conf=NO_VALIDATORS)
    deb_path, deb = build_archive(origin.docroot, work)
    assert_bare(origin.url(deb_path))
    assert_bare(origin.url("/debian/dists/stable/Release"))
    deb_url = origin.url(deb_path)
    base = len(origin.requests())
    d = proxy_daemon()

    # Machine 1: everything is a miss.
    env, root = apt_machine("apt1", origin, d)
    apt_get(env, root, "update")
    apt_get(env, root, "download", "sl-apt-test")
    with open(os.path.join(root, "dl", "sl-apt-test_1.0-1_all.deb"), "rb") as f:
        assert f.read() == deb, "machine 1 got another .deb"
    first = h.access_entries(d, "GET", deb_url, n=1, timeout=LOG_TIMEOUT)
    assert first[0].code not in HIT_CODES and first[0].status == 200, first[0].raw
    # What apt asked for besides the package: its index files.
    indexes = sorted({p for _, p, _ in served(origin, base) if p.startswith("/debian/dists/")})
    for want in ("/debian/dists/stable/InRelease", "/debian/dists/stable/Release",
                 "/debian/dists/stable/main/i18n/Translation-en"):
        assert want in indexes, "apt did not fetch %s: %r" % (want, indexes)
    assert any("/Packages" in p for p in indexes), indexes

    # Machine 2, with an empty apt state: apt fetches all of it again.
    env, root = apt_machine("apt2", origin, d)
    out = apt_get(env, root, "update")
    apt_get(env, root, "download", "sl-apt-test")
    with open(os.path.join(root, "dl", "sl-apt-test_1.0-1_all.deb"), "rb") as f:
        assert f.read() == deb, "machine 2 got another .deb"

    # The package: from the cache, the origin sent it once.
    second = h.access_entries(d, "GET", deb_url, n=2, timeout=LOG_TIMEOUT)
    assert len(second) == 2, [a.raw for a in second]
    assert second[1].code in HIT_CODES and second[1].status == 200, \
        "second download of the .deb: %s" % second[1].raw
    assert second[1].bytes >= len(deb), second[1].raw
    assert served(origin, base, deb_path) == [("GET", deb_path, 200)], \
        served(origin, base, deb_path)

    # Every index file: to the origin again, never a hit of the cache's own.
    for p in indexes:
        h.wait_until(lambda: len(served(origin, base, p)) >= 2, LOG_TIMEOUT,
                     what="the origin to see %s twice" % p)
        assert len(served(origin, base, p)) == 2, (p, served(origin, base, p))
        seen = h.access_entries(d, "GET", origin.url(p), n=2, timeout=LOG_TIMEOUT)
        assert len(seen) == 2 and all("HIT" not in a.code for a in seen), \
            "%s: %r" % (p, [a.raw for a in seen])
    h.log("machine 2 update:\n" + out)
    d.stop()


# --------------------------------------------------------------------------
# rpm, apk, pacman and apt's by-hash files through curl
# --------------------------------------------------------------------------

HEX64 = hashlib.sha256(b"primary").hexdigest()

# Package files (no validators): the second fetch is a hit.
PACKAGE_FILES = (
    "/plain/fedora/39/x86_64/os/repodata/%s-primary.xml.gz" % HEX64,
    "/plain/fedora/39/x86_64/os/Packages/s/sl-test-1.0-1.fc39.noarch.rpm",
    "/plain/alpine/v3.19/main/x86_64/sl-test-1.0-r0.apk",
    "/plain/archlinux/core/os/x86_64/sl-test-1.0-1-any.pkg.tar.zst",
    "/plain/debian/dists/stable/main/binary-amd64/by-hash/SHA256/%s" % HEX64,
)
# Index files, dated ten days back: revalidated every time (304).
INDEX_FILES = (
    "/lm/fedora/39/x86_64/os/repodata/repomd.xml",
    "/lm/alpine/v3.19/main/x86_64/APKINDEX.tar.gz",
    "/lm/archlinux/core/os/x86_64/core.db",
    "/lm/debian/dists/stable/Release.gpg",
)
# The catch-all is unchanged: a dated page stays fresh for a while, a bare
# file outside any repository layout is not kept.
OTHER_DATED = "/lm/other/page.html"
OTHER_BARE = "/plain/other/file.bin"
# A package the mirror does not have (yet): the 404 is not kept for the
# 90 days the package would be.
MISSING = "/plain/debian/pool/main/n/nope/nope_1.0-1_all.deb"


def get_synced(d, url):
    """GET through the proxy; returns once its access-log line is written
    (the store commits with the log lines, see test_cache.py's get)."""
    n = len(d.access_log_lines())
    r = h.proxy_request(d, "GET", url)
    d.access_log_lines(lambda ls: len(ls) > n, LOG_TIMEOUT,
                       what="the access log line of " + url)
    return r


def test_repository_layouts():
    files = {p: (p.encode() * 500)[:20000] for p in
             PACKAGE_FILES + INDEX_FILES + (OTHER_DATED, OTHER_BARE)}
    origin = NginxOrigin(big_size=0, name="repos", files=files,
                         server_conf=NO_VALIDATORS + WITH_VALIDATORS)
    ten_days_ago = time.time() - 10 * 86400
    for p in INDEX_FILES + (OTHER_DATED,):
        os.utime(os.path.join(origin.docroot, p.lstrip("/")), (ten_days_ago, ten_days_ago))
        f = origin_headers(origin.url(p))
        assert "last-modified" in f and "etag" in f, (p, f)
    for p in PACKAGE_FILES + (OTHER_BARE,):
        assert_bare(origin.url(p))
    base = len(origin.requests())
    d = proxy_daemon()

    for p in PACKAGE_FILES + INDEX_FILES + (OTHER_DATED, OTHER_BARE):
        for _ in range(2):
            r = get_synced(d, origin.url(p))
            assert r.status == 200 and r.body == files[p], (p, r.status, r.headers)
    for _ in range(2):
        assert get_synced(d, origin.url(MISSING)).status == 404
    missing = h.access_entries(d, "GET", origin.url(MISSING), n=2, timeout=LOG_TIMEOUT)
    assert all("HIT" not in a.code for a in missing), [a.raw for a in missing]
    assert [st for _, _, st in served(origin, base, MISSING)] == [404, 404], \
        served(origin, base, MISSING)
    codes = {p: [a.code for a in
                 h.access_entries(d, "GET", origin.url(p), n=2, timeout=LOG_TIMEOUT)]
             for p in files}
    for p in PACKAGE_FILES:
        assert codes[p][0] not in HIT_CODES and codes[p][1] in HIT_CODES, (p, codes[p])
        assert len(served(origin, base, p)) == 1, (p, served(origin, base, p))
    for p in INDEX_FILES:
        assert codes[p] == ["TCP_MISS", "TCP_REFRESH_UNMODIFIED"], (p, codes[p])
        assert [st for _, _, st in served(origin, base, p)] == [200, 304], \
            (p, served(origin, base, p))
    assert codes[OTHER_DATED][1] in HIT_CODES, codes[OTHER_DATED]
    assert codes[OTHER_BARE][1] not in HIT_CODES, codes[OTHER_BARE]
    assert len(served(origin, base, OTHER_BARE)) == 2, served(origin, base, OTHER_BARE)
    d.stop()


def test_resumed_package_download_fills_the_cache():
    """A download resumed with a Range on a cold cache (apt's partial/,
    dnf, an interrupted curl -C -): the shipped package patterns carry
    range_fetch, so the proxy fetches the whole .deb once and cuts the
    range from it; the next full download is a hit."""
    path = "/plain/debian/pool/main/s/sl-big/sl-big_2.0-1_amd64.deb"
    body = random.Random(7).randbytes(3 << 20)
    origin = NginxOrigin(big_size=0, name="resume", files={path: body},
                         server_conf=NO_VALIDATORS)
    assert_bare(origin.url(path))
    base = len(origin.requests())
    d = proxy_daemon()
    first = 1 << 20
    r = h.proxy_request(d, "GET", origin.url(path), headers=[("Range", "bytes=%d-" % first)])
    assert r.status == 206 and r.body == body[first:], (r.status, len(r.body))
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (first, len(body) - 1, len(body))
    d.access_log_lines(lambda ls: any(" 200 " in ln or "/200 " in ln for ln in ls),
                       LOG_TIMEOUT, what="the whole fetch's log line")
    r = get_synced(d, origin.url(path))
    assert r.status == 200 and r.body == body
    codes = [a.code for a in h.access_entries(d, "GET", origin.url(path), n=3,
                                              timeout=LOG_TIMEOUT)]
    assert codes[-1] in HIT_CODES, codes
    assert [st for _, _, st in served(origin, base, path)] == [200], \
        "the origin should send the whole file once: %s" % served(origin, base, path)
    d.stop()


h.run(globals())

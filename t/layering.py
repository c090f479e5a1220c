#!/usr/bin/env python3
"""The layering rule of doc design.md "Layout", checked over the sources.

    squidlike/ calls into acl/, cache/ and filters/; those three never
    include anything from squidlike/'s event loop or sockets, and never
    each other's internals. The one exception is the base.

Usage: layering.py [ROOT]   (ROOT: $top_srcdir, else this file's ../)
Exit 0 when the tree keeps the rules, 1 with one line per violation
(file:line: rule: what), 99 when there is nothing to check (a wrong ROOT,
a folder gone): a check that reads no file must not pass.

The rules, over every #include line (comments skipped) of the .c and .h
files in acl/, cache/, filters/, squidlike/ and t/:

  base-only  acl/, cache/ and filters/ include from squidlike/ only the base:
             BASE below (buffers and views, the HTTP message and its
             parser, byte classes, hashing: pure, no loop).
  private    a folder's *_int.h is included only from that folder
             (style.md "files"). t/ may include the internals of acl/,
             cache/ and filters/ (white-box unit tests of a pure room),
             never those of squidlike/.
  no-io      no .c in acl/, cache/ or filters/ includes an event-loop,
             socket or resolver header (NO_IO_HEADERS). A header of those
             rooms may include <sys/socket.h> for the address types its
             API carries (struct sockaddr_storage), nothing else there.
             File I/O is not banned: cache/store*.c is the LMDB store and
             the blocklists are read from files at load time; "policy is
             pure" is kept by base-only and by the calls below.
  no-io-call no .c in acl/, cache/ or filters/ calls a socket, event-loop
             or resolver function (NO_IO_CALLS), whatever its includes:
             a header that pulls <sys/socket.h> in for a type must not
             become a way round no-io.
  include    an #include that is not "file" or <file> (a macro): the
             check cannot read it, so it is refused in the checked folders.

A quoted include resolves as the compiler does: first beside the including
file, then from ROOT (-I$(top_srcdir)); "buf.h" from squidlike/ is
squidlike/buf.h, and "../squidlike/loop.h" from cache/ is squidlike/loop.h.
"""

import os
import re
import sys

ROOMS = ("acl", "cache", "filters")
CORE = "squidlike"
TESTS = "t"
BASE = {
    "squidlike/buf.h",
    "squidlike/http.h",
    "squidlike/chars.h",
    "squidlike/hash.h",
}
NO_IO_HEADERS = {
    "sys/socket.h", "sys/epoll.h", "sys/eventfd.h", "sys/timerfd.h",
    "sys/signalfd.h", "sys/select.h", "sys/poll.h", "poll.h", "sys/un.h",
    "sys/sendfile.h", "netinet/tcp.h", "netinet/udp.h", "netdb.h",
    "ares.h", "openssl/ssl.h", "event.h", "ev.h", "uv.h",
}
# Headers of the pure rooms may carry socket address types.
HEADER_MAY = {"sys/socket.h"}
NO_IO_CALLS = re.compile(
    r"(?<![\w.>])("
    r"socket|socketpair|connect|accept4?|bind|listen|send|sendto|sendmsg|"
    r"sendfile|recv|recvfrom|recvmsg|setsockopt|getsockopt|getpeername|"
    r"getsockname|getaddrinfo|getnameinfo|gethostbyname2?|gethostbyaddr|"
    r"epoll_\w+|poll|ppoll|select|pselect|splice|eventfd|timerfd_\w+|"
    r"ares_\w+|sl_loop_\w+|sl_timer_\w+|sl_net_\w+|sl_dns_\w+|"
    r"sl_origin_\w+|sl_pool_\w+"
    r")\s*\(")

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include\b[ \t]*(.*)$')
TARGET = re.compile(r'^(?:"([^"]+)"|<([^>]+)>)')


def strip_comments(text, keep_strings=True):
    """text with comments (and, unless keep_strings, string and character
    literals) blanked; newlines stay, so line numbers hold."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j] if keep_strings
                       else c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def folder_of(rel):
    """The top-level folder of a path relative to ROOT ('' for the root)."""
    return rel.split("/", 1)[0] if "/" in rel else ""


def resolve(root, rel, target):
    """The ROOT-relative path a quoted include names: beside the including
    file when it is there (or the name starts with "./" or "../"), else
    from ROOT."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if target.startswith(("./", "../")) or \
            os.path.isfile(os.path.join(root, here)):
        return here.replace(os.sep, "/")
    return os.path.normpath(target).replace(os.sep, "/")


def sources(root):
    """(ROOT-relative path, folder) of every .c and .h to check."""
    for top in ROOMS + (CORE, TESTS):
        base = os.path.join(root, top)
        for d, dirs, files in os.walk(base):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    full = os.path.join(d, f)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    yield rel, top


def check_file(root, rel, top):
    """The violations of one file, as (line, rule, message)."""
    with open(os.path.join(root, rel), encoding="utf-8",
              errors="replace") as f:
        text = f.read()
    code = strip_comments(text)
    found = []
    is_c = rel.endswith(".c")
    for no, line in enumerate(code.split("\n"), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        t = TARGET.match(m.group(1).strip())
        if not t:
            found.append((no, "include",
                          "#include %s: not \"file\" or <file>, so not "
                          "checkable" % m.group(1).strip()))
            continue
        if t.group(2) is not None:              # <system header>
            name = os.path.normpath(t.group(2)).replace(os.sep, "/")
            if top in ROOMS and name in NO_IO_HEADERS and \
                    (is_c or name not in HEADER_MAY):
                found.append((no, "no-io",
                              "includes <%s>: acl/, cache/ and filters/ use "
                              "no event loop, sockets or resolver" % name))
            continue
        name = resolve(root, rel, t.group(1))
        owner = folder_of(name)
        if top in ROOMS and owner == CORE and name not in BASE:
            found.append((no, "base-only",
                          "includes \"%s\": from squidlike/, acl/, cache/ "
                          "and filters/ use only the base (%s)"
                          % (name, ", ".join(sorted(BASE)))))
        if name.endswith("_int.h") and owner != top and \
                not (top == TESTS and owner in ROOMS):
            found.append((no, "private",
                          "includes \"%s\": the internals of %s/ are for "
                          "%s/ alone" % (name, owner or ".", owner or ".")))
    if top in ROOMS and is_c:
        calls = strip_comments(text, keep_strings=False)
        for no, line in enumerate(calls.split("\n"), 1):
            if INCLUDE.match(line):
                continue
            for m in NO_IO_CALLS.finditer(line):
                found.append((no, "no-io-call",
                              "calls %s(): acl/, cache/ and filters/ do no "
                              "socket, event-loop or resolver I/O"
                              % m.group(1)))
    return found


def main(argv):
    if len(argv) > 2:
        print("usage: layering.py [ROOT]", file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.environ.get("top_srcdir") or \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    counts = dict.fromkeys(ROOMS + (CORE,), 0)
    files = violations = 0
    for rel, top in sources(root):
        files += 1
        if top in counts and rel.endswith(".c"):
            counts[top] += 1
        for no, rule, msg in check_file(root, rel, top):
            print("%s:%d: %s: %s" % (rel, no, rule, msg))
            violations += 1
    empty = [d for d, n in counts.items() if n == 0]
    if empty:
        print("layering: no .c file in %s under %s: nothing to check"
              % (", ".join(d + "/" for d in empty), root))
        return 99
    print("layering: %d files checked, %d violation%s"
          % (files, violations, "" if violations == 1 else "s"))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

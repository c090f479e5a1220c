#!/usr/bin/env python3
"""The layering check (t/layering.py) still checks: run on small trees
built here, it passes a clean one (with every allowed case in it), fails a
dirty one with each rule's planted violation named at its file:line, and
refuses a tree with nothing to check. Without this, an edit that stopped
the check from reading a file or a rule would leave `make check` green.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "layering.py")

# Allowed: the base from squidlike/, a room's own _int.h, a room header
# carrying socket address types, file I/O in the store, squidlike/ using
# anything, tests using a room's internals; words that look like calls in
# comments, strings, members and longer names; includes in comments.
CLEAN = {
    "acl/a.h": '#include <sys/socket.h>\n#include "squidlike/http.h"\n',
    "acl/a_int.h": '#include "acl/a.h"\n',
    "acl/a.c": """#include "config.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include "acl/a.h"
#include "a_int.h"
#include "squidlike/buf.h"
#include "squidlike/chars.h"
#include "squidlike/hash.h"
/* #include "squidlike/loop.h" in a comment is no include,
#include <sys/epoll.h> nor is this, and socket( is no call */
// connect(fd) in a line comment
static const char *s = "bind(x) listen( epoll_wait(";
static int f(struct ops *o) { return o->send(1) + o->poll(2) + o.select(3)
    + my_connect(4) + acl_bind(5) + reconnect (6); }
""",
    "cache/store.c": """#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cache/store_int.h"
static int g(void) { return open("x", 0) + read(0, 0, 0) + fsync(0); }
""",
    "cache/store_int.h": '#include <lmdb.h>\n',
    "filters/f.c": '#include "filters/f.h"\n#include "squidlike/http.h"\n',
    "filters/f.h": '#include "../squidlike/buf.h"\n',
    "squidlike/buf.h": "\n",
    "squidlike/http.h": "\n",
    "squidlike/chars.h": "\n",
    "squidlike/hash.h": "\n",
    "squidlike/loop.h": "\n",
    "squidlike/s_int.h": "\n",
    "squidlike/s.c": """#include <sys/epoll.h>
#include <sys/socket.h>
#include "acl/a.h"
#include "cache/store.h"
#include "squidlike/loop.h"
#include "s_int.h"
int h(void) { return socket(1, 2, 3) + epoll_wait(0, 0, 0, 0); }
""",
    "t/unit/check_a.c": '#include "acl/a_int.h"\n#include "cache/store_int.h"\n'
                        '#include "squidlike/loop.h"\n',
}

# One planted violation per case: (file, text, expected "file:line: rule").
DIRTY = [
    ("acl/d1.c", '#include "config.h"\n#include "squidlike/loop.h"\n',
     "acl/d1.c:2: base-only"),
    ("cache/d2.c", '\n\n#include "../squidlike/client.h"\n',
     "cache/d2.c:3: base-only"),
    ("filters/d3.c", '#include "cache/store_int.h"\n',
     "filters/d3.c:1: private"),
    ("acl/d4.c", '  #  include "filters/f_int.h"\n',
     "acl/d4.c:1: private"),
    ("squidlike/d5.c", '#include "cache/store_int.h"\n',
     "squidlike/d5.c:1: private"),
    ("t/unit/check_d6.c", '#include <check.h>\n#include "squidlike/s_int.h"\n',
     "t/unit/check_d6.c:2: private"),
    ("cache/d7.c", '#include <string.h>\n#include <sys/socket.h>\n',
     "cache/d7.c:2: no-io"),
    ("filters/d8.h", '#include <sys/epoll.h>\n',
     "filters/d8.h:1: no-io"),
    ("acl/d9.c", '#include <netdb.h>\n', "acl/d9.c:1: no-io"),
    ("cache/d10.c", 'int f(void)\n{\n    return connect(0, 0, 0);\n}\n',
     "cache/d10.c:3: no-io-call"),
    ("filters/d11.c", 'void g(void) { sl_loop_run(0); }\n',
     "filters/d11.c:1: no-io-call"),
    ("acl/d12.c", '#define H "squidlike/loop.h"\n#include H\n',
     "acl/d12.c:2: include"),
]


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def run(root):
    p = subprocess.run([sys.executable, CHECKER, root], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="layering-") as tmp:
        clean = os.path.join(tmp, "clean")
        write_tree(clean, CLEAN)
        rc, out = run(clean)
        print("--- clean tree: exit %d\n%s" % (rc, out))
        if rc != 0 or "%d files checked, 0 violations" % len(CLEAN) not in out:
            failures.append("the clean tree did not pass with every file read")

        dirty = os.path.join(tmp, "dirty")
        write_tree(dirty, CLEAN)
        write_tree(dirty, {rel: text for rel, text, _ in DIRTY})
        rc, out = run(dirty)
        print("--- dirty tree: exit %d\n%s" % (rc, out))
        if rc != 1:
            failures.append("the dirty tree exited %d, not 1" % rc)
        lines = [l for l in out.splitlines() if not l.startswith("layering:")]
        for rel, _, want in DIRTY:
            if not any(l.startswith(want + ":") for l in lines):
                failures.append("not reported: " + want)
            got = [l for l in lines if l.startswith(rel + ":")]
            if len(got) != 1:
                failures.append("%s: %d reports, not 1: %r" % (rel, len(got), got))
        if len(lines) != len(DIRTY):
            failures.append("%d reports for %d planted violations"
                            % (len(lines), len(DIRTY)))

        empty = os.path.join(tmp, "empty")
        write_tree(empty, {"acl/a.c": "\n", "cache/c.c": "\n", "filters/f.c": "\n"})
        rc, out = run(empty)
        print("--- tree without squidlike/: exit %d\n%s" % (rc, out))
        if rc != 99:
            failures.append("a tree with nothing in squidlike/ exited %d, not 99" % rc)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

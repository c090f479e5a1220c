#!/usr/bin/env python3
"""The manual pages keep up with the code. Needs no running daemon.

* Every setting the configuration loader accepts has a paragraph in
  doc/squidlike.conf.5 (a setting documented there that the loader does not
  know yet is fine: the check runs from the loader to the page).
* Every command-line option, -k command, handled signal and manager page
  of the daemon is in doc/squidlike.8.
* groff -man -ww -z has no warning for either page, and doc/local.mk
  installs both.

How the settings are found (extract_loader_keys):
  1. conf.c's tables (`static const struct key NAME[] = { ... };`) are read
     with the file's own #define macros expanded by a small preprocessor,
     so `DUR(timeouts, connect)` becomes `{ .name = "connect", ... }`. An
     entry whose expansion has no `.name` fails the test: a new macro form
     can never be skipped silently. `.sub = X_keys` makes X a group; the
     table no other table names is the top level.
  2. A key handled by a function of its own (`.fn = k_x` / `cf_k_x`) that
     reads sub-settings (groups like auth, lists of groups like acls) gets
     the names that function, and the functions it calls, compare with
     strcmp against a variable set from config_setting_name(), plus those
     it fetches with config_setting_get_member / config_setting_lookup*.
  3. Cross-checks: every hand-written "(expected one of: a, b)" message
     must list exactly the names its function compares; at least MIN_KEYS
     names and every ANCHORS path must be found; and, when the daemon is
     built, `squidlike -k parse` on a file with an unknown setting in each
     group must list the same names as were extracted (the loader telling
     what it accepts).

A key inside a group is named by its dotted path (cache.size, acls.name).
On the page, a setting is a .TP paragraph whose tag starts with its path;
a tag without a dot inside an .RS block is a field of the enclosing
paragraph's setting (acls -> name gives acls.name). See the top of
doc/squidlike.conf.5.
"""

import itertools
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# Every part of the loader: conf.c and the conf_*.c beside it (a new part
# is read without anyone having to remember this list).
LOADER_FILES = tuple(sorted(
    "squidlike/" + f for f in os.listdir(os.path.join(h.srcdir(), "squidlike"))
    if f.startswith("conf") and f.endswith(".c")))
MACRO_FILES = LOADER_FILES + ("squidlike/conf_int.h",)
CONF_PAGE = "doc/squidlike.conf.5"
DAEMON_PAGE = "doc/squidlike.8"

# A broken extraction must not pass by finding nothing: 84 settings when
# this was written, and one path reached by each way of finding them.
MIN_KEYS = 80
MIN_TABLE_KEYS = 55
ANCHORS = (
    "listen", "access_log_format", "pac",               # top-level table
    "http.via", "timeouts.shutdown", "pac.spread",      # nested tables
    "cache.refresh_patterns.regex",                     # callee of k_...
    "acls.name", "acls.icase",                          # callee of cf_k_...
    "auth.file", "header_access.request_replace",       # inline strcmp
    "deny_info.redirect",
    "blocklists.dir",                                   # get_member
)


def src(path):
    with open(os.path.join(h.srcdir(), path), encoding="utf-8") as f:
        return f.read()


# --------------------------------------------------------------------------
# A little C: comments out, adjacent string literals joined, macros expanded
# --------------------------------------------------------------------------

C_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"'        # string literal
                      r"|'(?:\\.|[^'\\\n])*'"        # character literal
                      r"|/\*.*?\*/|//[^\n]*"         # comments
                      r"|\s+|.", re.S)


def clean_c(text):
    """Text without comments, with "a" "b" joined into "ab"."""
    out = []
    last_str = None         # index in out of the last string literal
    for t in C_TOKENS.findall(text):
        if t.startswith("/*") or t.startswith("//"):
            t = " " + "\n" * t.count("\n")
        if t.startswith('"'):
            if last_str is not None:
                out[last_str] = out[last_str][:-1] + t[1:]
                del out[last_str + 1:]
                continue
            last_str = len(out)
        elif not t.isspace():
            last_str = None
        out.append(t)
    return "".join(out)


def read_macros(text):
    """{name: (params or None, body)} of the #defines in text."""
    defs = {}
    text = text.replace("\\\n", " ")
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\(([^)]*)\))?[ \t]*(.*)$",
                         text, re.M):
        params = None
        if m.group(2) is not None:
            params = [p.strip() for p in m.group(3).split(",") if p.strip()]
        defs[m.group(1)] = (params, m.group(4).strip())
    return defs


def split_top(text, sep=","):
    """Split at sep outside (), {}, [] and string literals."""
    parts, depth, cur = [], 0, []
    for t in C_TOKENS.findall(text):
        if t in "({[":
            depth += 1
        elif t in ")}]":
            depth -= 1
        if t == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(t)
    parts.append("".join(cur).strip())
    return parts


def match_close(text, i):
    """text[i] is '(' or '{': the index of its partner (strings skipped)."""
    pairs = {"(": ")", "{": "}"}
    opener, closer = text[i], pairs[text[i]]
    depth, pos = 0, i
    for t in C_TOKENS.findall(text[i:]):
        if t == opener:
            depth += 1
        elif t == closer:
            depth -= 1
            if depth == 0:
                return pos
        pos += len(t)
    raise AssertionError("unbalanced %r in %r" % (opener, text[i:i + 80]))


def call_args(text, i):
    """text[i] is '(': the arguments and the index after the ')'."""
    j = match_close(text, i)
    return split_top(text[i + 1:j]), j + 1


SUBST_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|##|#|[A-Za-z_]\w*|\s+|.', re.S)


def substitute(params, body, args):
    amap = dict(zip(params, args))
    toks = SUBST_TOKENS.findall(body)
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t == "#":                            # stringize the next parameter
            j = i + 1
            while j < len(toks) and toks[j].isspace():
                j += 1
            if j < len(toks) and toks[j] in amap:
                out.append('"%s"' % amap[toks[j]].strip())
                i = j + 1
                continue
        if t == "##":                           # paste: drop the blanks around
            while out and out[-1].isspace():
                out.pop()
            i += 1
            while i < len(toks) and toks[i].isspace():
                i += 1
            continue
        out.append(amap[t].strip() if t in amap else t)
        i += 1
    return "".join(out)


def expand(text, defs, depth=0):
    """Expand the macros of defs in text (function-like and object-like)."""
    if depth > 30:
        raise AssertionError("macro expansion does not end: %r" % text[:120])
    out, pos, changed = [], 0, False
    for m in re.finditer(r'"(?:\\.|[^"\\])*"|\b[A-Za-z_]\w*\b', text):
        name = m.group(0)
        if m.start() < pos or name.startswith('"') or name not in defs:
            continue
        params, body = defs[name]
        if params is None:
            out.append(text[pos:m.start()])
            out.append(body)
            pos = m.end()
            changed = True
            continue
        k = m.end()
        while k < len(text) and text[k].isspace():
            k += 1
        if k >= len(text) or text[k] != "(":
            continue
        args, end = call_args(text, k)
        if args == [""]:
            args = []
        out.append(text[pos:m.start()])
        out.append(substitute(params, body, args))
        pos = end
        changed = True
    out.append(text[pos:])
    res = "".join(out)
    return expand(res, defs, depth + 1) if changed else res


# --------------------------------------------------------------------------
# The loader's settings
# --------------------------------------------------------------------------

def read_tables(text, defs):
    """{table: [ {name, kind, sub, fn, raw} ]} of conf.c's key tables."""
    tables = {}
    for m in re.finditer(r"static\s+const\s+struct\s+key\s+(\w+)\s*\[\s*\]\s*=\s*\{",
                         text):
        start = m.end() - 1
        entries = []
        for raw in split_top(text[start + 1:match_close(text, start)]):
            if not raw:
                continue
            e = expand(raw, defs)
            nm = re.search(r'\.name\s*=\s*(?:"([^"]*)"|(NULL)\b)', e)
            if nm is None:
                raise AssertionError(
                    "table %s: cannot tell the setting name of entry %r "
                    "(expanded: %r); teach t/e2e/test_docs.py this form"
                    % (m.group(1), raw, e))
            if nm.group(2):
                break                       # END
            sub = re.search(r"\.sub\s*=\s*(\w+)", e)
            fn = re.search(r"\.fn\s*=\s*(\w+)", e)
            kind = re.search(r"\.kind\s*=\s*(\w+)", e)
            entries.append({"name": nm.group(1), "raw": raw,
                            "kind": kind.group(1) if kind else None,
                            "sub": sub.group(1) if sub else None,
                            "fn": fn.group(1) if fn else None})
        tables[m.group(1)] = entries
    return tables


def read_functions(text):
    """{name: body} of the functions of a kernel-style C file (the braces of
    a function body alone on their lines, at column 0)."""
    funcs = {}
    prev_end = 0
    for m in re.finditer(r"^\{[ \t]*$", text, re.M):
        head = text[prev_end:m.start()]
        head = head[max(head.rfind(";"), head.rfind("}")) + 1:]
        names = re.findall(r"\b([A-Za-z_]\w*)\s*\(", head)
        end = re.compile(r"^\}[ \t]*$", re.M).search(text, m.end())
        if end is None:
            raise AssertionError("function without its closing brace near %r"
                                 % head[-80:])
        if names:
            funcs[names[-1]] = text[m.end():end.start()]
        prev_end = end.end()
    return funcs


EXPECTED_RE = re.compile(r"expected one of: ([A-Za-z_][\w]*(?:, [A-Za-z_]\w*)*)\)")


def direct_keys(body):
    """Setting names one function body reads from a group."""
    names = set()
    for var in set(re.findall(r"\b(\w+)\s*=\s*config_setting_name\s*\(", body)):
        names.update(re.findall(r'\bstr(?:case)?cmp\s*\(\s*%s\s*,\s*"([^"]+)"\s*\)'
                                % re.escape(var), body))
        names.update(re.findall(r'\bstr(?:case)?cmp\s*\(\s*"([^"]+)"\s*,\s*%s\s*\)'
                                % re.escape(var), body))
    names.update(re.findall(
        r'\bconfig_setting_(?:get_member|lookup\w*)\s*\(\s*[^,()]+,\s*"([^"]+)"', body))
    return names


NESTED_RE = re.compile(r"/\*\s*conf-entries:\s*([\w ]+?)\s*\*/\s*"
                       r"(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(")


def read_nested(text):
    """{function: [setting, ...]} for the functions marked with a
    "/* conf-entries: K1 K2 */" comment right before them: each reads the
    entries (or the group) of those settings of its caller's group."""
    return {m.group(2): m.group(1).split() for m in NESTED_RE.finditer(text)}


def extract_loader_keys():
    """(keys, groups, problems): keys {path: where}, groups {path or "":
    set of names} (what each group accepts, for the daemon cross-check),
    problems: a list of inconsistencies found in the sources."""
    defs = {}
    for f in MACRO_FILES:
        defs.update(read_macros(clean_c(src(f))))
    conf = clean_c(src("squidlike/conf.c"))
    tables = read_tables(conf, defs)
    funcs = {}
    nested = {}
    for f in LOADER_FILES:
        funcs.update(read_functions(clean_c(src(f))))
        nested.update(read_nested(src(f)))

    problems = []
    for fn, body in sorted(funcs.items()):
        said = [set(m.split(", ")) for m in EXPECTED_RE.findall(body)]
        got = direct_keys(body)
        for s in said:
            if s != got:
                problems.append("%s() says \"expected one of: %s\" but compares "
                                "the names %s" % (fn, ", ".join(sorted(s)),
                                                  ", ".join(sorted(got)) or "none"))

    def fn_keys(fn, seen, path=None):
        # A callee marked "conf-entries: K" reads the entries of the
        # setting K of fn's group: its names are the group path.K, not
        # fn's (a list of groups inside a list entry).
        if fn in seen or fn not in funcs:
            return set()
        seen.add(fn)
        names = direct_keys(funcs[fn])
        for callee in set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", funcs[fn])):
            if callee not in funcs or callee == fn:
                continue
            if callee in nested and path is not None:
                for k in nested[callee]:
                    sub = fn_keys(callee, set(), path + "." + k)
                    groups[path + "." + k] = set(sub)
                    for n in sub:
                        keys[path + "." + k + "." + n] = "%s()" % callee
            elif callee not in nested:
                names |= fn_keys(callee, seen, path)
        return names

    subs = {e["sub"] for t in tables.values() for e in t if e["sub"]}
    roots = [t for t in tables if t not in subs]
    assert len(roots) == 1, ("expected one top-level key table (named by no "
                             ".sub), found %s" % roots)
    keys, groups = {}, {}

    def walk(table, prefix, depth=0):
        assert depth < 10, "key tables nest too deep at %s" % table
        assert table in tables, "group table %s not found in conf.c" % table
        gname = prefix.rstrip(".")
        groups[gname] = set()
        for e in tables[table]:
            path = prefix + e["name"]
            keys[path] = "conf.c %s: %s" % (table, e["raw"])
            groups[gname].add(e["name"])
            if e["sub"]:
                walk(e["sub"], path + ".", depth + 1)
            elif e["fn"]:
                assert e["fn"] in funcs, ("%s: function %s not found in the "
                                          "loader files" % (path, e["fn"]))
                sub = fn_keys(e["fn"], set(), path)
                if sub:
                    groups[path] = set(sub)
                for n in sub:
                    keys[path + "." + n] = "%s()" % e["fn"]
    walk(roots[0], "")
    n_table = sum(len(t) for t in tables.values())
    return keys, groups, problems, n_table


def sane_keys():
    keys, groups, problems, n_table = extract_loader_keys()
    h.log("%d settings found (%d in key tables, %d groups)"
          % (len(keys), n_table, len(groups)))
    assert n_table >= MIN_TABLE_KEYS, (
        "only %d entries found in conf.c's key tables (expected at least %d): "
        "the extraction in t/e2e/test_docs.py is broken" % (n_table, MIN_TABLE_KEYS))
    assert len(keys) >= MIN_KEYS, (
        "only %d settings found (expected at least %d): the extraction in "
        "t/e2e/test_docs.py is broken:\n%s" % (len(keys), MIN_KEYS, sorted(keys)))
    missing = [a for a in ANCHORS if a not in keys]
    assert not missing, ("settings %s were not found in the loader: the "
                         "extraction in t/e2e/test_docs.py is broken (or they "
                         "were renamed: update ANCHORS)" % missing)
    return keys, groups, problems


# --------------------------------------------------------------------------
# The pages
# --------------------------------------------------------------------------

def tag_word(line):
    """The first word of a .TP tag line, escapes and fonts removed."""
    line = re.sub(r"^\.(?:B|I|R|BI|IB|BR|RB|IR|RI|SM|SB)\b", "", line.strip())
    line = re.sub(r"\\f(?:\[[^]]*\]|\(..|.)", "", line)
    line = (line.replace("\\(dq", '"').replace("\\-", "-").replace("\\e", "\\")
            .replace("\\&", "").replace("\\ ", " ").replace("\\~", " "))
    line = line.replace('"', " ")
    words = line.split()
    return words[0].rstrip(",;:") if words else ""


def documented(page_text):
    """Paths of the .TP paragraphs of a page (see the docstring at the top),
    and the words of its headings, as "\u00a7word"."""
    paths = set()
    stack = {}
    depth = 0
    lines = page_text.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if re.match(r"\.RS\b", ln):
            depth += 1
        elif re.match(r"\.RE\b", ln):
            depth -= 1
            assert depth >= 0, "unbalanced .RE at line %d" % (i + 1)
            for d in [d for d in stack if d > depth]:
                del stack[d]
        elif re.match(r"\.S[HS]\b", ln):
            assert depth == 0, ".RS without .RE before line %d" % (i + 1)
            stack.clear()
            for w in re.findall(r"[a-z_]+", ln[3:].lower()):
                paths.add("\u00a7" + w)
        elif re.match(r"\.TP\b", ln) and i + 1 < len(lines):
            i += 1
            while lines[i].startswith('.\\"'):
                i += 1
            word = tag_word(lines[i])
            if word:
                if "." in word.strip(".") or depth == 0 or depth - 1 not in stack:
                    full = word
                else:
                    full = stack[depth - 1] + "." + word
                stack[depth] = full
                for d in [d for d in stack if d > depth]:
                    del stack[d]
                paths.add(full)
        i += 1
    assert depth == 0, ".RS without .RE at the end"
    return paths


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_extraction_self_check():
    """The mini preprocessor and the readers on a made-up loader."""
    text = clean_c(r'''
#define F(m) offsetof(struct sl_conf, m)
#define NUM(k, g, n, lo, hi) \
    { .name = #n, .kind = k, .off = F(g.n), .min = lo, .max = hi }
#define DUR(g, n) NUM(K_DURATION, g, n, 1, 7)
#define GROUP(n) { .name = #n, .kind = K_GROUP, .sub = n##_keys }
#define FUNC(n) { .name = #n, .kind = K_FUNC, .fn = k_##n }
#define END { .name = NULL }
static const struct key t_keys[] = {
    DUR(t, a), NUM(K_SIZE, t, b, 1, 2), /* c */ END
};
static const struct key top_keys[] = {
    GROUP(t), FUNC(x), { .name = "lit", .kind = K_STR }, END
};
static int helper(config_setting_t *s)
{
    const char *k = config_setting_name(s);
    if (strcmp(k, "one") == 0 || strcmp(k, "two") == 0 || strcmp(v, "no") == 0)
        return fail("unknown setting "
                    "(expected one of: one, two)");
    return 0;
}
static int k_x(config_setting_t *s)
{
    return helper(config_setting_get_member(s, "three"));
}
''')
    tables = read_tables(text, read_macros(text))
    assert [e["name"] for e in tables["t_keys"]] == ["a", "b"], tables
    assert [(e["name"], e["sub"], e["fn"]) for e in tables["top_keys"]] == \
        [("t", "t_keys", None), ("x", None, "k_x"), ("lit", None, None)], tables
    funcs = read_functions(text)
    assert set(funcs) == {"helper", "k_x"}, funcs
    assert direct_keys(funcs["helper"]) == {"one", "two"}
    assert EXPECTED_RE.findall(funcs["helper"]) == ["one, two"]
    assert direct_keys(funcs["k_x"]) == {"three"}
    try:
        read_tables(clean_c("static const struct key z_keys[] = { NEWFORM(a), END };"
                            "\n#define END { .name = NULL }\n"), {})
    except AssertionError as e:
        assert "NEWFORM" in str(e), e
    else:
        raise AssertionError("an entry of an unknown form was skipped silently")
    page = ('.SH A\n.TP\n.BI "cache.size " size\nx\n.TP\n.B acls\n.RS\n.TP 8\n'
            '.BI name " string"\n.RE\n.TP\n\\fB\\-a\\fP [\\fIaddr\\fP:]port\n')
    assert documented(page) == {"\u00a7a", "cache.size", "acls", "acls.name", "-a"}, \
        documented(page)


def test_loader_messages_agree():
    """Hand-written "expected one of" lists name what their code compares."""
    _, _, problems = sane_keys()
    assert not problems, "\n".join(problems)


def test_every_setting_documented():
    keys, groups, _ = sane_keys()
    have = documented(src(CONF_PAGE))
    # A group of settings may be a section instead (.SH CACHE: the group
    # cache), as long as its settings are paragraphs.
    missing = sorted(k for k in keys if k not in have and
                     not (k in groups and "\u00a7" + k in have))
    assert not missing, (
        "%d setting(s) of the loader are not documented in %s (add a .TP "
        "paragraph tagged with the full path; a field of a list entry goes in "
        "an .RS block under its list):\n%s"
        % (len(missing), CONF_PAGE,
           "\n".join("  %s   (%s)" % (k, keys[k]) for k in missing)))


# What an entry of a list of groups needs before the loader reads the
# nested settings a probe puts in it.
PROBE_CONTEXT = {"reverse.vhosts": "default = true;"}


def probe(binary, text, d):
    path = os.path.join(d, "probe.conf")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([binary, "-k", "parse", "-f", "probe.conf"], cwd=d,
                       env=h.child_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace").strip()
    m = re.search(r"expected one of: (.*?)(\)?)$", out)
    if m:
        names = m.group(1).split(", ")
        # unknown() lists names in a 300-byte buffer: the last may be cut
        truncated = not m.group(2) or len(m.group(1)) >= 290
        if truncated:
            names = names[:-1]
        return set(names), truncated, out
    m = re.search(r"takes exactly one setting: (\w+)$", out)
    if m:
        return {m.group(1)}, False, out
    return None, False, out


def test_the_daemon_accepts_what_was_extracted():
    """The loader's own lists of names ("unknown setting 'zz' ... expected
    one of: ...") agree with what was read from the sources."""
    try:
        binary = h.daemon_binary()
    except Exception as e:      # noqa: BLE001 - Skip, or a broken $SQUIDLIKE
        raise h.Skip("no built daemon: %s" % e)
    _, groups, _ = sane_keys()
    d = h.subdir("probe")
    bad = []
    for path, names in sorted(groups.items()):
        parts = path.split(".") if path else []
        inner = 'zz_probe_setting = "x";'
        shapes = []
        if not parts:
            shapes = [inner]
        else:
            as_group = "%s: { %s };" % (parts[-1], inner)
            as_list = "%s = ( { %s } );" % (parts[-1], inner)
            # each part above may be a group or a list of groups (with
            # what an entry needs before its nested lists are read)
            for forms in itertools.product((0, 1), repeat=len(parts) - 1):
                for leaf in (as_group, as_list):
                    t = leaf
                    for i in reversed(range(len(parts) - 1)):
                        p = parts[i]
                        ctx = PROBE_CONTEXT.get(".".join(parts[:i + 1]), "")
                        t = ("%s = ( { %s %s } );" if forms[i] else "%s: { %s %s };") \
                            % (p, ctx, t)
                    shapes.append(t)
        said, truncated, outs = None, False, []
        for text in shapes:
            said, truncated, out = probe(binary, text + "\n", d)
            outs.append(out)
            if said is not None:
                break
        if said is None:
            bad.append("%s: the daemon did not list its settings:\n    %s"
                       % (path or "(top level)", "\n    ".join(outs)))
            continue
        if said - names:
            bad.append("%s: the daemon accepts %s, which the extraction missed"
                       % (path or "(top level)", sorted(said - names)))
        if not truncated and names - said:
            bad.append("%s: extracted %s, which the daemon does not list"
                       % (path or "(top level)", sorted(names - said)))
    assert not bad, "\n".join(bad)


def test_daemon_page_covers_the_command_line():
    main = clean_c(src("squidlike/main.c"))
    page = src(DAEMON_PAGE)
    have = documented(page)
    m = re.search(r'getopt\s*\(\s*argc\s*,\s*argv\s*,\s*"([^"]+)"', main)
    assert m, "getopt call not found in squidlike/main.c"
    opts = ["-" + c for c in m.group(1) if c != ":"]
    cmds = re.findall(r'\{\s*"(\w+)"\s*,\s*(?:SIG\w+|0)\s*\}', main)
    cmds += re.findall(r'strcmp\s*\(\s*o\.k\s*,\s*"(\w+)"\s*\)', main)
    # The signals a process takes: the one process and the workers
    # (worker.c), the master (master.c); SIGCHLD is the master's own.
    sigs = []
    for f in ("squidlike/worker.c", "squidlike/master.c"):
        for sig in re.findall(r"sigaddset\s*\(\s*&[\w>-]+\s*,\s*(SIG\w+)\s*\)",
                              clean_c(src(f))):
            if sig not in sigs and sig != "SIGCHLD":
                sigs.append(sig)
    assert len(opts) >= 6 and len(cmds) >= 8 and len(sigs) >= 4, (
        "too few options (%s), -k commands (%s) or signals (%s) found in "
        "main.c, worker.c, master.c: the extraction is broken" % (opts, cmds, sigs))
    missing = [o for o in opts if o not in have]
    missing += ["-k " + c for c in cmds if "-k." + c not in have]
    missing += [s for s in sigs if s not in have]
    mgr = clean_c(src("squidlike/client_mgr.c"))
    pages = re.findall(r'path_is\s*\([^,]+,\s*"(/[^"]*)"\s*\)', mgr)
    pages += re.findall(r'#\s*define\s+\w+_PATH\s+"(/[^"]*)"', mgr)
    assert len(pages) >= 3, "too few manager pages found in client_mgr.c: %s" % pages
    missing += ["page " + p for p in pages if p not in page]
    assert not missing, "%s does not document: %s" % (DAEMON_PAGE, ", ".join(missing))


def test_groff_has_no_warnings():
    if not shutil.which("groff"):
        raise h.Skip("groff not installed (Debian: groff-base)")
    for page in (DAEMON_PAGE, CONF_PAGE):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                            os.path.join(h.srcdir(), page)],
                           env=h.child_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode("utf-8", "replace").strip()
        assert p.returncode == 0 and not err, (
            "groff -man -ww -z %s: exit %d\n%s" % (page, p.returncode, err))


def test_pages_are_installed():
    mk = src("doc/local.mk")
    top = src("Makefile.am")
    assert re.search(r"^include \$\(srcdir\)/doc/local\.mk$", top, re.M), \
        "Makefile.am does not include doc/local.mk"
    pages = sorted(f for f in os.listdir(os.path.join(h.srcdir(), "doc"))
                   if re.search(r"\.[1-9]$", f))
    assert len(pages) >= 2, pages
    m = re.search(r"^(?:dist_)?man_MANS\s*\+?=((?:.*\\\n)*.*)$", mk, re.M)
    assert m, "no man_MANS in doc/local.mk"
    listed = {os.path.basename(w) for w in m.group(1).replace("\\\n", " ").split()}
    missing = [p for p in pages if p not in listed]
    assert not missing, "doc/local.mk does not install %s" % missing


if __name__ == "__main__":
    h.run(globals(), needs_daemon=False, requires=())

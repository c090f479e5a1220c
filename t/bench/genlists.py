#!/usr/bin/env python3
"""genlists.py - write a synthetic UT1 / squidGuard blocklist tree.

    python3 t/bench/genlists.py OUTDIR --domains 1000000 --urls 10000 \\
        --expressions 1000 --categories 10 [--seed 1]

OUTDIR/<category>/{domains,urls,expressions}, the way UT1 ships them, with
the untidiness real lists have mixed in: comments, blank lines, CRLF line
ends (one whole category, and stray lines elsewhere), uppercase, trailing
dots, leading "." and "*.", blanks around entries, trailing comments,
duplicates, names listed in two categories, "http://" prefixes on URLs and
a few lines no loader should accept (bad host names, bad expressions).

The content depends only on the arguments (seeded PRNG, no clock, no
network). OUTDIR/README (a file, so not a category) records what a correct
loader must find:

    domains=...      distinct (name, category) pairs
    urls=...         distinct (host, path, category) entries
    expressions=...  valid expressions
    bad_lines=...    lines a loader must report and skip

Standard library only.
"""

import argparse
import os
import random
import sys

CATEGORIES = [
    "adult", "malware", "gambling", "phishing", "publicite",
    "social_networks", "games", "shopping", "press", "warez", "dating",
    "drugs", "hacking", "violence", "webmail", "radio", "audio-video",
    "sports", "update", "vpn",
]

SYLLABLES = [
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pa", "se", "do", "fi",
    "gu", "ha", "je", "ko", "li", "ma", "no", "pe", "qua", "ri", "so", "tu",
    "ve", "wa", "xi", "yo", "ze", "bra", "cre", "dro", "fla", "gri", "pro",
    "str", "tra", "clo", "sha", "chi", "net", "web", "cam", "bet", "sex",
    "tube", "shop", "play", "win", "cash",
]

# (tld, weight): roughly what a large list holds.
TLDS = [
    ("com", 45), ("net", 10), ("org", 6), ("ru", 5), ("de", 4), ("fr", 4),
    ("info", 4), ("co.uk", 3), ("com.br", 3), ("nl", 2), ("pl", 2),
    ("xyz", 2), ("io", 2), ("biz", 2), ("it", 2), ("es", 1), ("top", 1),
    ("online", 1), ("cn", 1),
]

SUBS = ["www", "m", "cdn", "img", "static", "ads", "track", "mail", "shop",
        "en", "fr", "de", "api", "media", "s1", "s2"]

# Lines no loader may accept as a host name. Each is reported as one bad
# line. ("exa mple.com" has text after the entry.)
BAD_DOMAINS = [
    "bad!name.com", "exa mple.com", "foo..com", "-", "..", "under$score.net",
    "a" * 70 + ".com", "1.2.3", "h\u00e9llo.com", "http://", "*",
    "sp@m.example.org", "x" * 260, "comma,name.com", "*.*.wild.com",
]

BAD_URLS = [
    "/only/a/path", "ex!ample.com/x", "http:///nohost", "bad host.com/x",
    "foo..bar.com/path",
]

BAD_EXPRESSIONS = ["(unclosed", "[z-a]", "*leading-star", "a{2,1}",
                   "trailing\\"]


def word(rng, lo=2, hi=4):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(lo, hi)))


def make_tld_picker(rng):
    total = sum(w for _, w in TLDS)
    cum = []
    acc = 0
    for t, w in TLDS:
        acc += w
        cum.append((acc, t))

    def pick():
        r = rng.randrange(total)
        for c, t in cum:
            if r < c:
                return t
        return cum[-1][1]
    return pick


def category_names(n):
    names = CATEGORIES[:n]
    for i in range(len(names), n):
        names.append("cat%03d" % i)
    return names


def split_counts(total, n, rng):
    """Zipf-like shares: the first categories are the big ones (as adult is
    in UT1); every category gets at least one entry when total allows."""
    if n == 0:
        return []
    weights = [1.0 / (i + 1) for i in range(n)]
    s = sum(weights)
    counts = [int(total * w / s) for w in weights]
    i = 0
    while sum(counts) < total:
        counts[i % n] += 1
        i += 1
    return counts


class Writer:
    """Collects the lines of one file; eol is '\\n' or '\\r\\n'."""

    def __init__(self, path, eol, rng, header):
        self.path = path
        self.eol = eol
        self.rng = rng
        self.lines = ["# " + h for h in header]
        self.lines.append("")

    def add(self, line):
        self.lines.append(line)
        r = self.rng.random()
        if r < 0.0002:
            self.lines.append("# ---- section %d ----" % len(self.lines))
        elif r < 0.0004:
            self.lines.append("")
        elif r < 0.0005:
            self.lines.append("   \t ")

    def close(self):
        out = []
        for ln in self.lines:
            # Stray CRLF lines in LF files, as merged lists tend to have.
            if self.eol == "\n" and self.rng.random() < 0.001:
                out.append(ln + "\r\n")
            else:
                out.append(ln + self.eol)
        with open(self.path, "w", encoding="utf-8", newline="") as f:
            f.write("".join(out))


def noisy_domain(rng, name):
    """The same name as a list might spell it."""
    r = rng.random()
    if r < 0.005:
        return name.upper()
    if r < 0.008:
        return name[0].upper() + name[1:]
    if r < 0.011:
        return name + "."
    if r < 0.013:
        return "." + name
    if r < 0.014:
        return "*." + name
    if r < 0.015:
        return "  " + name + "\t"
    if r < 0.0155:
        return name + "  # reported 2023"
    return name


def gen_domains(rng, names, counts, args, stats):
    pick_tld = make_tld_picker(rng)
    seen = set()
    per_cat = []
    for ci, cat in enumerate(names):
        lst = []
        while len(lst) < counts[ci]:
            base = word(rng)
            if rng.random() < 0.3:
                base += str(rng.randrange(1000))
            if rng.random() < 0.15:
                base += "-" + word(rng, 1, 2)
            name = base + "." + pick_tld()
            if rng.random() < 0.25:
                name = rng.choice(SUBS) + "." + name
            if name in seen:
                continue
            seen.add(name)
            lst.append(name)
        per_cat.append(lst)

    pairs = sum(len(lst) for lst in per_cat)
    # Names listed in a second category too (adult and dating do overlap).
    extra = [[] for _ in names]
    if len(names) > 1:
        for ci, lst in enumerate(per_cat):
            for name in lst:
                if rng.random() < 0.001:
                    other = rng.randrange(len(names) - 1)
                    other += other >= ci
                    extra[other].append(name)
        pairs += sum(len(e) for e in extra)

    bad = 0
    for ci, cat in enumerate(names):
        eol = "\r\n" if ci == 1 else "\n"
        w = Writer(os.path.join(args.outdir, cat, "domains"), eol, rng,
                   ["UT1-style synthetic list, category %s" % cat,
                    "generated by squidlike t/bench/genlists.py"])
        lst = per_cat[ci] + extra[ci]
        rng.shuffle(lst)
        written = []
        for name in lst:
            w.add(noisy_domain(rng, name))
            written.append(name)
            r = rng.random()
            if r < 0.002 and written:
                # A duplicate, perhaps spelt differently.
                w.add(noisy_domain(rng, rng.choice(written)))
            elif r < 0.0025:
                w.add(rng.choice(BAD_DOMAINS))
                bad += 1
        w.close()
    stats["domains"] = pairs
    stats["bad_lines"] += bad


def gen_urls(rng, names, counts, args, stats):
    pick_tld = make_tld_picker(rng)
    # A few hosting sites carry most URL entries (as in real lists), the
    # rest are spread over many hosts.
    big = ["%s.%s" % (word(rng, 2, 3), pick_tld()) for _ in range(20)]
    total = 0
    bad = 0
    for ci, cat in enumerate(names):
        seen = set()
        w = Writer(os.path.join(args.outdir, cat, "urls"),
                   "\r\n" if ci == 1 else "\n", rng,
                   ["URL list, category %s" % cat])
        while len(seen) < counts[ci]:
            if rng.random() < 0.5:
                host = rng.choice(big)
            else:
                host = "%s.%s" % (word(rng), pick_tld())
            segs = ["/" + word(rng, 1, 3) for _ in range(rng.randint(1, 4))]
            path = "".join(segs)
            r = rng.random()
            if r < 0.1:
                path += "?id=%d" % rng.randrange(100000)
            elif r < 0.2:
                path += "/%s.%s" % (word(rng, 1, 2),
                                    rng.choice(["html", "php", "jpg"]))
            if (host, path) in seen:
                continue
            seen.add((host, path))
            line_host = host
            r = rng.random()
            if r < 0.02:
                line_host = host.upper()
            elif r < 0.03:
                line_host = "www." + host
            line = line_host + path
            r = rng.random()
            if r < 0.05:
                line = "http://" + line
            elif r < 0.07:
                line = "https://" + line
            w.add(line)
            r = rng.random()
            if r < 0.005:
                w.add(line)                 # duplicate
            elif r < 0.01:
                w.add(rng.choice(BAD_URLS))
                bad += 1
        total += len(seen)
        w.close()
    stats["urls"] = total
    stats["bad_lines"] += bad


def gen_expression(rng):
    k = rng.random()
    if k >= 0.95:
        # No literal to look for: these run on every URL (and are the
        # ones worth merging into alternations).
        return rng.choice([
            r"^[a-z]{%d}[0-9]{%d,}\." % (rng.randint(2, 6), rng.randint(3, 6)),
            r"/[0-9a-f]{%d}/[0-9]+$" % rng.randint(8, 40),
            r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[a-z]{%d}" % rng.randint(3, 9),
        ])
    if k < 0.5:
        words = "|".join(word(rng, 2, 3) for _ in range(rng.randint(2, 6)))
        return r"(^|[-\?+=/_.])(%s)([-/_\?.=+]|$)" % words
    if k < 0.7:
        return r"^[^/]*\.?%s[0-9]*\.(com|net|org)/" % word(rng, 2, 3)
    if k < 0.85:
        return r"/(%s|%s)/[0-9]+x[0-9]+\.(gif|jpe?g|png)" % (
            word(rng, 1, 2), word(rng, 1, 2))
    return r"%s[-_.]?%s" % (word(rng, 2, 3), word(rng, 2, 3))


def gen_expressions(rng, names, counts, args, stats):
    total = 0
    bad = 0
    for ci, cat in enumerate(names):
        w = Writer(os.path.join(args.outdir, cat, "expressions"),
                   "\r\n" if ci == 1 else "\n", rng,
                   ["expressions, category %s" % cat])
        for i in range(counts[ci]):
            if ci == 0 and i < 2:
                # One that must not be merged into an alternation, one
                # with an inline option.
                w.add([r"(ab)\1cd", r"(?i)upper[0-9]+case"][i])
            else:
                w.add(gen_expression(rng))
            total += 1
            if rng.random() < 0.004:
                w.add(rng.choice(BAD_EXPRESSIONS))
                bad += 1
        w.close()
    stats["expressions"] = total
    stats["bad_lines"] += bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--domains", type=int, default=100000)
    ap.add_argument("--urls", type=int, default=1000)
    ap.add_argument("--expressions", type=int, default=100)
    ap.add_argument("--categories", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 1 <= args.categories <= 256:
        ap.error("--categories must be 1..256")

    rng = random.Random(args.seed)
    names = category_names(args.categories)
    for cat in names:
        os.makedirs(os.path.join(args.outdir, cat), exist_ok=True)
    stats = {"bad_lines": 0}
    gen_domains(rng, names, split_counts(args.domains, len(names), rng),
                args, stats)
    gen_urls(rng, names, split_counts(args.urls, len(names), rng), args,
             stats)
    gen_expressions(rng, names,
                    split_counts(args.expressions, len(names), rng), args,
                    stats)
    with open(os.path.join(args.outdir, "README"), "w") as f:
        f.write("# synthetic lists: t/bench/genlists.py --domains %d "
                "--urls %d --expressions %d --categories %d --seed %d\n"
                % (args.domains, args.urls, args.expressions,
                   args.categories, args.seed))
        f.write("categories=%d\n" % len(names))
        for k in ("domains", "urls", "expressions", "bad_lines"):
            f.write("%s=%d\n" % (k, stats[k]))
    sys.stdout.write("".join("%s=%d\n" % (k, stats[k]) for k in
                             ("domains", "urls", "expressions", "bad_lines")))


if __name__ == "__main__":
    main()

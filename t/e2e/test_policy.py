#!/usr/bin/env python3
"""The access policy: category blocklists (UT1 layout), http_access over the
ACL types (dstdomain, url_regex, urlpath_regex, port, method, browser,
req_header, time, dst, maxconn), block pages and deny_info, header_access,
CONNECT refusals, the JSON access log, and a reload with a broken list.
Names resolve through the stub; origins listen on 127.0.0.1 / 127.0.0.2."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon, DnsStub, RawConn, Response, ScriptedOrigin  # noqa: E402

# Names the allowed requests use; everything resolves to the origin's host.
LOCAL_NAMES = ("good.test", "urlhost.test", "exp.test", "notsocial.test",
               "social.test", "other.test", "sub.exact.test",
               "bad.example")   # blocked by lists, resolvable once unblocked


def _dns(extra=None):
    recs = {n: {"A": [("127.0.0.1", 60)]} for n in LOCAL_NAMES}
    recs.update(extra or {})
    return DnsStub(recs)


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# The "adult" domains file: a comment, CRLF line ends, upper case, trailing
# dots, a bad line (line 5) and a trailing comment after an entry.
ADULT_DOMAINS = (b"# adult domains (UT1 layout)\r\n"
                 b"Bad.Example.\r\n"
                 b"\r\n"
                 b"  MIXED.case.TEST  # comment after the entry\r\n"
                 b"exa$mple.test\r\n"
                 b"trailing.test.\n")
BAD_LINE = 5
ADULT_URLS = b"# host/path prefixes\nurlhost.test/private/\r\n"
ADULT_EXPR = b"# whole-URL expressions\n/(poker|casino)[0-9]*\\.php\r\n"


def _ut1_tree():
    """A blocklist dir: adult (named by an ACL), games (present, unnamed)."""
    d = h.subdir("blocklists")
    _write(os.path.join(d, "adult", "domains"), ADULT_DOMAINS)
    _write(os.path.join(d, "adult", "urls"), ADULT_URLS)
    _write(os.path.join(d, "adult", "expressions"), ADULT_EXPR)
    _write(os.path.join(d, "games", "domains"), b"other.test\n")
    return d


def _cat_conf(bl_dir, **more):
    conf = {"blocklists": {"dir": bl_dir},
            "acls": [{"name": "porn", "type": "category", "values": ["adult"]}],
            "http_access": ["deny porn", "allow all"]}
    conf.update(more)
    return conf


def _blocked(r, what=""):
    """A block page: 403, our error header, never cached."""
    assert r.status == 403, "%s: expected 403, got %s" % (what, r.brief())
    assert "no-store" in (r.header("Cache-Control") or ""), "%s: %r" % (what, r.headers)
    assert r.header("X-Squidlike-Error") == "ERR_ACCESS_DENIED", \
        "%s: X-Squidlike-Error %r" % (what, r.header("X-Squidlike-Error"))
    return r


def _ok(r, what=""):
    assert r.status == 200, "%s: expected 200, got %s" % (what, r.brief())
    return r


def _get(d, url, headers=(), method="GET", bind=None):
    return h.proxy_request(d, method, url, headers=headers, bind=bind)


def test_category_blocklist():
    o = ScriptedOrigin()
    bl = _ut1_tree()
    with Daemon(_cat_conf(bl), dns=_dns()) as d:
        p = o.port
        for host in ("bad.example", "www.sub.BAD.example", "mixed.case.test",
                     "trailing.test"):
            r = _blocked(_get(d, "http://%s:%d/x" % (host, p)), host)
            # The ACL is called "porn": "adult" can only come from %c.
            assert b"<td>Category</td><td>adult</td>" in r.body, \
                "%s: category not named: %r" % (host, r.body)
        # The allowed domain, and names near the blocked ones.
        for host in ("good.test", "other.test"):   # other.test: "games", unnamed
            r = _ok(_get(d, "http://%s:%d/fine" % (host, p)), host)
            assert r.body.startswith(b"GET /fine"), r.body
        # urls: a host/path prefix blocks that path only.
        _blocked(_get(d, "http://urlhost.test:%d/private/doc" % p), "url entry")
        _ok(_get(d, "http://urlhost.test:%d/public/doc" % p), "other path on a url host")
        # expressions: matched against the URL, without case.
        _blocked(_get(d, "http://exp.test:%d/games/casino7.php" % p), "expression")
        _blocked(_get(d, "http://exp.test:%d/games/POKER.PHP" % p), "expression, upper")
        _ok(_get(d, "http://exp.test:%d/games/chess.php" % p), "no expression")
        seen = [q.target for q in o.requests]
        assert seen == ["/fine", "/fine", "/public/doc", "/games/chess.php"], \
            "the origin saw: %r" % seen
        # The bad line is named by file and line; the good ones around it load.
        where = "%s:%d:" % (os.path.join(bl, "adult", "domains"), BAD_LINE)
        h.wait_until(lambda: where in d.error_log(), 5, what="bad list line reported")
        line = [ln for ln in d.error_log().splitlines() if where in ln][0]
        assert "bad character" in line or "host name" in line, line


def test_acl_types_and_rule_order():
    o = ScriptedOrigin()
    unused_port = h.free_port()
    conf = {
        "acls": [
            {"name": "vip", "type": "req_header", "values": ["X-VIP ^yes$"]},
            {"name": "social", "type": "dstdomain", "values": [".social.test", "exact.test"]},
            {"name": "ads", "type": "url_regex", "icase": True, "values": ["/ADS/Banner"]},
            {"name": "exe", "type": "urlpath_regex", "values": ["\\.exe$"]},
            {"name": "badport", "type": "port", "values": [str(unused_port)]},
            {"name": "writes", "type": "method", "values": ["PUT", "DELETE"]},
            {"name": "admin", "type": "req_header", "values": ["X-Admin ^secret$"]},
            {"name": "bots", "type": "browser", "values": ["BadBot"]},
            {"name": "here", "type": "src", "values": ["127.0.0.1/32"]},
        ],
        # First match wins: vip goes before the denials; the last rule is an
        # allow, so a request no rule matches is denied by default.
        "http_access": ["allow vip", "deny social", "deny ads", "deny exe",
                        "deny badport", "deny writes !admin", "deny bots", "allow here"],
    }
    with Daemon(conf, dns=_dns()) as d:
        p = o.port
        u = "http://good.test:%d" % p
        for url in ("http://social.test:%d/" % p, "http://www.social.test:%d/" % p,
                    "http://exact.test:%d/" % p):
            r = _blocked(_get(d, url), url)
            assert b"deny social" in r.body, r.body
        _ok(_get(d, "http://notsocial.test:%d/suffix" % p), "label boundary")
        _ok(_get(d, "http://sub.exact.test:%d/exact-only" % p), "no leading dot: exact")
        # The same denied host passes with the header of an earlier allow.
        _ok(_get(d, "http://social.test:%d/vip" % p, [("X-VIP", "yes")]), "vip first")
        _blocked(_get(d, "http://social.test:%d/vip" % p, [("X-VIP", "yes!")]), "vip regex")
        _blocked(_get(d, u + "/ads/BANNER.gif"), "url_regex icase")
        _blocked(_get(d, u + "/setup.exe"), "urlpath_regex")
        _ok(_get(d, u + "/setup.EXE"), "urlpath_regex is case-sensitive")
        _blocked(_get(d, "http://good.test:%d/" % unused_port), "port")
        # method with a negated ACL: PUT denied unless the admin header is there.
        _blocked(_get(d, u + "/put", method="PUT"), "PUT")
        _blocked(_get(d, u + "/del", method="DELETE"), "DELETE")
        _ok(_get(d, u + "/put-admin", [("X-Admin", "secret")], method="PUT"), "PUT admin")
        _ok(_get(d, u + "/post", method="POST"), "POST")
        _blocked(_get(d, u + "/b", [("User-Agent", "Mozilla/5.0 BadBot/2")]), "browser")
        _ok(_get(d, u + "/b2", [("User-Agent", "Mozilla/5.0 GoodBot/2")]), "browser")
        # No rule matches a client on 127.0.0.2: the opposite of the last rule.
        r = _blocked(_get(d, u + "/default", bind="127.0.0.2"), "default")
        assert b"(default)" in r.body, r.body
        _ok(_get(d, u + "/not-default"), "last rule")
        got = sorted(q.target for q in o.requests)
        assert got == sorted(["/suffix", "/exact-only", "/vip", "/setup.EXE", "/put-admin",
                              "/post", "/b2", "/not-default"]), got


def test_deny_info_page_and_redirect():
    tpl = os.path.join(h.subdir("pages"), "tracker.html")
    _write(tpl, b"<p>TRACKER url=[%U] host=[%H] rule=[%r] acl=[%a] cat=[%c] "
                b"client=[%i] proxy=[%s] 100%% sure %z</p>\n")
    conf = {
        "visible_hostname": "proxy.corp.test",
        "acls": [{"name": "social", "type": "dstdomain", "values": [".social.test"]},
                 {"name": "tracker", "type": "dstdomain", "values": [".tracker.test"]},
                 {"name": "others", "type": "dstdomain", "values": [".others.test"]}],
        "http_access": ["deny social", "deny tracker", "deny others", "allow all"],
        "deny_info": [{"acl": "social", "redirect": "http://intranet.test/policy?url=%U&a=%a"},
                      {"acl": "tracker", "page": tpl}],
    }
    with Daemon(conf) as d:
        url = "http://ads.tracker.test/p?a=1&b=2"
        r = _blocked(_get(d, url), "template")
        body = r.body.decode("utf-8", "replace")
        # Tags substituted (HTML-escaped), %% is a percent, an unknown tag stays.
        want = ("<p>TRACKER url=[http://ads.tracker.test/p?a=1&amp;b=2] host=[ads.tracker.test] "
                "rule=[deny tracker] acl=[tracker] cat=[-] client=[127.0.0.1] "
                "proxy=[proxy.corp.test] 100% sure %z</p>\n")
        assert body == want, "template page:\n%r\nexpected\n%r" % (body, want)
        assert r.header("Content-Type", "").startswith("text/html"), r.headers
        # A redirect: 302 with the URL percent-encoded in Location.
        r = _get(d, "http://www.social.test/feed?id=7&x=%41")
        assert r.status == 302, "redirect: " + r.brief()
        loc = r.header("Location")
        assert loc == ("http://intranet.test/policy?url=http%3A%2F%2Fwww.social.test"
                       "%2Ffeed%3Fid%3D7%26x%3D%2541&a=social"), loc
        # An ACL without deny_info gets the default page.
        r = _blocked(_get(d, "http://others.test/"), "default page")
        assert b"This page is blocked" in r.body and b"deny others" in r.body, r.body


def test_deny_info_long_redirect():
    """A redirect for a long URL (percent-encoding triples it) must still be
    a well-formed 302 carrying the whole URL."""
    conf = {"acls": [{"name": "social", "type": "dstdomain", "values": [".social.test"]}],
            "http_access": ["deny social", "allow all"],
            "deny_info": [{"acl": "social", "redirect": "http://intranet.test/p?url=%U"}]}
    with Daemon(conf) as d:
        for n in (100, 200):        # 223 and 423 bytes: both far below max_request_line
            url = "http://www.social.test/" + "a/" * n
            with RawConn(d.port, timeout=5) as c:
                c.send(h.build_request("GET", url))
                try:
                    r = c.recv_response()
                except OSError as e:     # socket.timeout: the head never ended
                    raise h.TestFailure("redirect for a %d-byte URL: no complete response "
                                        "head within 5 s (%s); got %r" %
                                        (len(url), e, bytes(c.rd.buf[-120:])))
            assert r.status == 302, r.brief()
            want = "http://intranet.test/p?url=" + url.replace(":", "%3A").replace("/", "%2F")
            assert r.header("Location") == want, \
                "Location for a %d-byte URL: %r" % (len(url), r.header("Location"))


def test_block_page_framing_on_keepalive():
    """A block page is a complete response: the connection carries on, and
    a HEAD gets the GET's Content-Length (RFC 9110 8.6) or none."""
    o = ScriptedOrigin()
    conf = {"acls": [{"name": "bad", "type": "dstdomain", "values": [".bad.test"]}],
            "http_access": ["deny bad", "allow all"]}
    with Daemon(conf) as d, RawConn(d.port) as c:
        get = _blocked(c.request("GET", "http://x.bad.test/a"), "GET")
        _ok(c.request("GET", o.url("/after-block")), "same connection after a block")
        head = _blocked(c.request("HEAD", "http://x.bad.test/a"), "HEAD")
        assert head.header("Content-Length") in (None, get.header("Content-Length")), \
            "HEAD block page: Content-Length %r, the GET's is %r" % (
                head.header("Content-Length"), get.header("Content-Length"))
        _ok(c.request("GET", o.url("/after-head")), "same connection after HEAD")


# Monday 2024-01-01 10:00 UTC; +10 h is Monday 20:00, +24 h Tuesday 10:00.
MONDAY_10 = 1704103200


def test_time_acl_fixed_clock():
    o = ScriptedOrigin()
    conf = {"acls": [{"name": "monday_work", "type": "time", "values": ["M 09:00-17:00"]}],
            "http_access": ["deny monday_work", "allow all"]}
    cases = [(MONDAY_10, 403, "Monday 10:00, inside"),
             (MONDAY_10 + 10 * 3600, 200, "Monday 20:00, after the window"),
             (MONDAY_10 + 24 * 3600, 200, "Tuesday 10:00, another day"),
             (MONDAY_10 + 7 * 86400 + 7 * 3600, 403, "next Monday 17:00, last minute")]
    d = None
    for now, want, what in cases:
        env = {"SQUIDLIKE_TEST_NOW": str(now), "TZ": "UTC"}
        if d is None:
            d = Daemon(conf, env=env)
        else:
            d.env = env          # the clock is read at start: start again
            d.restart()
        r = _get(d, o.url("/t%d" % now))
        assert r.status == want, "%s: expected %d, got %s" % (what, want, r.brief())
    d.stop()
    assert [q.target for q in o.requests] == ["/t%d" % c[0] for c in cases if c[1] == 200]


def test_dst_acl_after_dns():
    o1 = ScriptedOrigin()                       # 127.0.0.1
    o2 = ScriptedOrigin(host="127.0.0.2")
    dns = _dns({"two.test": {"A": [("127.0.0.2", 60)]}})
    conf = {"acls": [{"name": "net2", "type": "dst", "values": ["127.0.0.2/32"]}],
            "http_access": ["deny net2", "allow all"]}
    with Daemon(conf, dns=dns) as d:
        r = _blocked(_get(d, "http://two.test:%d/by-name" % o2.port), "dst by name")
        assert b"deny net2" in r.body, r.body
        assert dns.count("two.test", "A") >= 1, "dst decided without a lookup"
        _blocked(_get(d, o2.url("/literal")), "dst literal")
        _ok(_get(d, "http://good.test:%d/one" % o1.port), "other address")
        # The denied address again, now from the daemon's DNS cache.
        _blocked(_get(d, "http://two.test:%d/again" % o2.port), "dst cached")
    assert not o2.requests, "a denied destination was contacted: %r" % o2.requests
    assert [q.target for q in o1.requests] == ["/one"]


def test_dst_any_resolved_address():
    # The first address refuses connections (nothing listens on it), the
    # second is the denied one: the forward would fall through to it, so
    # "deny dst" must see every address, not the first alone.
    o2 = ScriptedOrigin(host="127.0.0.2")
    dns = _dns({"multi.test": {"A": [("127.0.0.3", 60), ("127.0.0.2", 60)]},
                "later.test": {"A": [("127.0.0.3", 60), ("127.0.0.1", 60)]}})
    o1 = ScriptedOrigin()
    conf = {"acls": [{"name": "net2", "type": "dst", "values": ["127.0.0.2/32"]}],
            "http_access": ["deny net2", "allow all"]}
    with Daemon(conf, dns=dns) as d:
        _blocked(_get(d, "http://multi.test:%d/x" % o2.port), "second address denied")
        # allowed: the forward walks past the dead first address to the second
        _ok(_get(d, "http://later.test:%d/y" % o1.port), "fallback address")
    assert not o2.requests, "a denied destination was contacted: %r" % o2.requests
    assert [q.target for q in o1.requests] == ["/y"]


def test_url_regex_sees_canonical_url():
    # Scheme and host case, and an explicit :80, must not walk past a rule.
    o = ScriptedOrigin()
    dns = _dns({"secret.test": {"A": [("127.0.0.1", 60)]}})
    conf = {"acls": [{"name": "sec", "type": "url_regex",
                      "values": ["^http://secret\\.test:%d/secret" % o.port]},
                     {"name": "sec80", "type": "url_regex",
                      "values": ["^http://secret\\.test/p80"]}],
            "http_access": ["deny sec", "deny sec80", "allow all"]}
    with Daemon(conf, dns=dns) as d:
        for url in ("http://secret.test:%d/secret" % o.port,
                    "HTTP://SECRET.Test:%d/secret" % o.port,
                    "Http://secret.TEST:%d/secret/more" % o.port):
            with RawConn(d.port) as c:
                _blocked(c.request("GET", url), url)
        with RawConn(d.port) as c:
            c.send("GET HTTP://Secret.Test:80/p80 HTTP/1.1\r\nHost: secret.test\r\n\r\n")
            _blocked(c.recv_response("GET"), ":80 and case")
        _ok(_get(d, "http://secret.test:%d/public" % o.port), "other path")
    assert [q.target for q in o.requests] == ["/public"], o.requests


def test_maxconn_per_client_ip():
    # The clients come from 127.0.0.3 so that no other connection (the
    # harness's readiness probe) counts for their address.
    o = ScriptedOrigin()
    conf = {"acls": [{"name": "toomany", "type": "maxconn", "values": ["2"]}],
            "http_access": ["deny toomany", "allow all"]}
    with Daemon(conf) as d:
        held = []
        for i in range(2):
            c = RawConn(d.port, bind="127.0.0.3")
            held.append(c)
            _ok(c.request("GET", o.url("/held%d" % i)), "connection %d" % (i + 1))
        c3 = RawConn(d.port, bind="127.0.0.3")
        _blocked(c3.request("GET", o.url("/third")), "third connection")
        # Another address is not affected by this one's count.
        _ok(_get(d, o.url("/other-ip"), bind="127.0.0.4"), "another client")
        c3.close()
        held[0].close()
        # Once the daemon has seen the closes, a new connection is allowed.
        h.wait_until(lambda: _get(d, o.url("/later"), bind="127.0.0.3").status == 200,
                     10, interval=0.05, what="a new connection allowed after closes")
        held[1].close()
    assert "/third" not in [q.target for q in o.requests]


def test_header_access():
    o = ScriptedOrigin(lambda req: Response(200, b"hdrs", headers=[
        ("Server", "OriginServer/9.9"), ("X-Secret", "s3cr3t"), ("X-Kept", "yes")]))
    conf = {"header_access": {"request": ["deny Referer", "deny User-Agent"],
                              "request_replace": ["User-Agent: Corp-Browser/1.0"],
                              "reply": ["deny Server", "deny X-Secret"]}}
    with Daemon(conf) as d:
        r = _ok(_get(d, o.url("/h"), [("Referer", "http://private.test/secret-page"),
                                      ("User-Agent", "Leaky/3.1 (user@example)"),
                                      ("Cookie", "a=1")]))
        got = o.last()
        assert not got.has_header("Referer"), "Referer reached the origin: %r" % got.headers
        assert got.header_all("User-Agent") == ["Corp-Browser/1.0"], got.headers
        assert got.header("Cookie") == "a=1", "a field no rule names must pass"
        assert not r.has_header("Server"), "Server reached the client: %r" % r.headers
        assert not r.has_header("X-Secret"), r.headers
        assert r.header("X-Kept") == "yes" and r.body == b"hdrs", r.brief()


def test_connect_to_blocked_host():
    bl = _ut1_tree()
    conf = _cat_conf(bl)
    conf["acls"] = conf["acls"] + [{"name": "banned", "type": "dstdomain",
                                    "values": [".banned.test"]}]
    conf["http_access"] = ["deny banned", "deny porn", "allow all"]
    dns = _dns()
    with Daemon(conf, dns=dns) as d:
        for target, rule in (("www.banned.test:443", "deny banned"),
                             ("bad.example:443", "deny porn"),
                             ("sub.bad.example:443", "deny porn")):
            with RawConn(d.port) as c:
                c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target))
                r = _blocked(c.recv_response("CONNECT"), "CONNECT " + target)
                assert rule.encode() in r.body, r.body
            d.wait_access("TCP_DENIED/403", "CONNECT", target)
        assert dns.total() == 0, "a refused CONNECT was resolved: %r" % dns.log


def test_json_access_log():
    o = ScriptedOrigin()
    bl = _ut1_tree()
    with Daemon(_cat_conf(bl, access_log_format="json"), dns=_dns()) as d:
        _blocked(_get(d, "http://bad.example:%d/j1" % o.port))
        _ok(_get(d, "http://good.test:%d/j2" % o.port))
        _blocked(_get(d, "http://exp.test:%d/casino1.php" % o.port))

        def parsed(lines):
            return [json.loads(ln) for ln in lines if ln.strip()]
        # Wait for three complete lines (a line may be read half written).
        lines = d.access_log_lines(lambda ls: sum(ln.endswith("}") for ln in ls) >= 3,
                                   what="3 access log lines")
        try:
            entries = parsed(lines)
        except ValueError as e:
            raise h.TestFailure("access.log line is not JSON (%s):\n%s" % (e, "\n".join(lines)))
        by_url = {e.get("url"): e for e in entries}
        blocked = by_url.get("http://bad.example:%d/j1" % o.port)
        assert blocked, entries
        assert blocked["status"] == 403 and blocked["code"] == "TCP_DENIED", blocked
        assert blocked["rule"] == "deny porn" and blocked["category"] == "adult", blocked
        assert blocked["client"] == "127.0.0.1" and blocked["method"] == "GET", blocked
        allowed = by_url["http://good.test:%d/j2" % o.port]
        assert allowed["status"] == 200 and allowed["rule"] == "allow all", allowed
        assert allowed["category"] is None, allowed
        expr = by_url["http://exp.test:%d/casino1.php" % o.port]
        assert expr["category"] == "adult" and expr["rule"] == "deny porn", expr
        for e in entries:
            assert isinstance(e["time"], float) and isinstance(e["elapsed_ms"], int), e


def test_reload_with_broken_list_keeps_old():
    o = ScriptedOrigin()
    bl = _ut1_tree()
    domains = os.path.join(bl, "adult", "domains")
    with Daemon(_cat_conf(bl), dns=_dns()) as d:
        _blocked(_get(d, "http://bad.example:%d/before" % o.port), "before")
        # A directory where the list file should be: fails to read even as root.
        os.unlink(domains)
        os.mkdir(domains)
        assert d.reload() == "reload failed", "broken list accepted: %s" % d.last_reload_line
        assert domains in d.last_reload_line and "directory" in d.last_reload_line.lower(), \
            d.last_reload_line
        assert d.alive()
        # The old lists are still in force (a half-applied load would have
        # lost every domain, and bad.example would pass).
        _blocked(_get(d, "http://bad.example:%d/during" % o.port), "after failed reload")
        _blocked(_get(d, "http://urlhost.test:%d/private/x" % o.port), "old url list")
        _ok(_get(d, "http://good.test:%d/serving" % o.port), "still serving")
        # Repaired, with a new entry: the next reload takes it.
        os.rmdir(domains)
        _write(domains, b"newly.test\n")
        assert d.reload() == "reloaded", d.last_reload_line
        _blocked(_get(d, "http://newly.test:%d/new" % o.port), "new list entry")
        _ok(_get(d, "http://bad.example:%d/gone" % o.port), "entry gone from the new list")
    assert [q.target for q in o.requests] == ["/serving", "/gone"], o.requests


if __name__ == "__main__":
    h.run(globals())

#!/usr/bin/env python3
"""The PAC file the proxy serves (/proxy.pac, /wpad.dat): headers, who may
fetch it, and its decisions, evaluated in a real JavaScript engine (node)
with the standard PAC helper functions defined here. dnsResolve answers
from a table: the PAC never reaches real DNS."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import Daemon  # noqa: E402

PAC_TYPE = "application/x-ns-proxy-autoconfig"

# The PAC helpers as browsers define them (Mozilla's pac_utils.js).
HELPERS = r"""
var dnsQueries = [];
function dnsResolve(host) {
  dnsQueries.push(host);
  return Object.prototype.hasOwnProperty.call(DNS, host) ? DNS[host] : null;
}
function myIpAddress() { return "10.9.9.9"; }
function isPlainHostName(host) { return host.search('\\.') == -1; }
function dnsDomainIs(host, domain) {
  return host.length >= domain.length &&
         host.substring(host.length - domain.length) == domain;
}
function localHostOrDomainIs(host, hostdom) {
  return host == hostdom || hostdom.lastIndexOf(host + '.', 0) == 0;
}
function isResolvable(host) { return dnsResolve(host) != null; }
function dnsDomainLevels(host) { return host.split('.').length - 1; }
function convert_addr(ipchars) {
  var bytes = ipchars.split('.');
  return ((bytes[0] & 0xff) << 24) | ((bytes[1] & 0xff) << 16) |
         ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
}
function isInNet(ipaddr, pattern, maskstr) {
  var test = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ipaddr);
  if (test == null) {
    ipaddr = dnsResolve(ipaddr);
    if (ipaddr == null) return false;
  } else if (test[1] > 255 || test[2] > 255 || test[3] > 255 || test[4] > 255) {
    return false;
  }
  var host = convert_addr(ipaddr), pat = convert_addr(pattern),
      mask = convert_addr(maskstr);
  return ((host & mask) == (pat & mask));
}
function shExpMatch(url, pattern) {
  pattern = pattern.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + pattern + '$').test(url);
}
"""

RUNNER = r"""
var vm = require('vm');
var input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
var ctx = vm.createContext({ DNS: input.dns });
vm.runInContext(input.helpers, ctx);
vm.runInContext(input.pac, ctx);
var out = { decisions: [], hashes: [], queries: null };
input.urls.forEach(function (u) {
  var host = u.replace(/^[a-z]+:\/\//, '').replace(/[\/:].*$/, '');
  ctx.u = u; ctx.host = host;
  out.decisions.push(vm.runInContext('FindProxyForURL(u, host)', ctx));
});
input.hash.forEach(function (s) {
  ctx.s = s;
  out.hashes.push(vm.runInContext('typeof slHash == "function" ? slHash(s) : null', ctx));
});
out.queries = vm.runInContext('dnsQueries', ctx);
process.stdout.write(JSON.stringify(out));
"""

DNS = {
    "www.example.com": "93.184.216.34",
    "git.example.com": "10.5.5.5",          # public name, private address
    "notcorp.example": "198.51.100.7",
    "www.intranet.example": "198.51.100.8",
}


def fnv1a(host):
    x = 0x811c9dc5
    for c in host.lower().encode("ascii"):
        x = ((x ^ c) * 0x01000193) & 0xffffffff
    return x


def run_pac(pac, urls, hash_inputs=()):
    """Evaluate pac in node: FindProxyForURL for each URL, slHash for each
    string. Returns (decisions, hashes, DNS names asked)."""
    data = json.dumps({"helpers": HELPERS, "pac": pac, "dns": DNS, "urls": list(urls),
                       "hash": list(hash_inputs)})
    r = subprocess.run(["node", "-e", RUNNER], input=data.encode(), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, "node failed: %s\n--- PAC ---\n%s" % (r.stderr.decode(), pac)
    out = json.loads(r.stdout)
    return out["decisions"], out["hashes"], out["queries"]


def get_pac(d, path="/proxy.pac"):
    res, resp = h.fetch("http://%s%s" % (d.addr, path))
    assert res.rc == 0 and resp is not None, res.err
    assert resp.status == 200, resp.brief()
    assert resp.header("Content-Type") == PAC_TYPE, resp.header("Content-Type")
    assert int(resp.header("Content-Length")) == len(resp.body), resp.brief()
    return resp


def test_served_with_headers():
    with Daemon({"pac.proxies": ["a:3128"], "pac.max_age": "10m"}) as d:
        pac = get_pac(d, "/proxy.pac")
        wpad = get_pac(d, "/wpad.dat")
        assert pac.body == wpad.body, "proxy.pac and wpad.dat differ"
        assert pac.header("Cache-Control") == "max-age=600", pac.header("Cache-Control")
        assert b"function FindProxyForURL(url, host)" in pac.body, pac.body
        head = h.proxy_request(d, "HEAD", "/wpad.dat?x=1")
        assert head.status == 200, head.brief()
        assert head.header("Content-Type") == PAC_TYPE
        assert int(head.header("Content-Length")) == len(pac.body)
        assert head.body == b"", head.body
        a = d.wait_access("NONE/200", "HEAD", "/wpad.dat?x=1")
        assert a.hier.startswith("HIER_NONE") and a.type == PAC_TYPE, a.raw
        d.wait_access("NONE/200", "GET", "/proxy.pac")
        # Other origin-form targets are still not ours.
        res, other = h.fetch("http://%s/proxy.pac.bak" % d.addr)
        assert other.status == 400, other.brief()
        r = h.proxy_request(d, "POST", "/proxy.pac", body=b"x")
        assert r.status == 400, r.brief()


def test_decisions():
    with Daemon({"pac.proxies": ["a:3128"],
                 "pac.direct_domains": [".corp.example", "intranet.example"]}) as d:
        pac = get_pac(d).body.decode()
    table = [
        ("http://intranet/", "DIRECT"),                 # plain host name
        ("http://wiki/page", "DIRECT"),
        ("http://www.corp.example/x", "DIRECT"),        # .corp.example
        ("http://corp.example/", "DIRECT"),
        ("http://a.b.corp.example:8080/", "DIRECT"),
        ("http://notcorp.example/", "PROXY a:3128; DIRECT"),
        ("http://intranet.example/", "DIRECT"),         # exact host
        ("http://www.intranet.example/", "PROXY a:3128; DIRECT"),
        ("http://10.1.2.3/", "DIRECT"),                 # private networks
        ("http://192.168.0.5:8080/", "DIRECT"),
        ("http://172.20.0.1/", "DIRECT"),
        ("http://172.32.0.1/", "PROXY a:3128; DIRECT"),
        ("http://169.254.1.1/", "DIRECT"),
        ("http://127.0.0.1:8000/", "DIRECT"),
        ("http://a:3128/", "DIRECT"),                   # the proxy itself
        ("http://git.example.com/", "DIRECT"),          # resolves to 10.5.5.5
        ("http://www.example.com/", "PROXY a:3128; DIRECT"),
        ("https://www.example.com/", "PROXY a:3128; DIRECT"),
        ("http://unknown.example.org/", "PROXY a:3128; DIRECT"),   # no answer
        ("http://8.8.8.8/", "PROXY a:3128; DIRECT"),
    ]
    got, _, queries = run_pac(pac, [u for u, _ in table])
    bad = ["%s -> %r (expected %r)" % (u, g, w) for (u, w), g in zip(table, got) if g != w]
    assert not bad, "wrong decisions:\n  " + "\n  ".join(bad)
    assert "10.1.2.3" not in queries and "intranet" not in queries, queries


def test_options_off():
    with Daemon({"pac.proxies": ["a:3128", "b:3129"], "pac.direct_plain_hostnames": False,
                 "pac.direct_networks": [], "pac.direct_fallback": False}) as d:
        pac = get_pac(d).body.decode()
    got, _, queries = run_pac(pac, ["http://intranet/", "http://10.1.2.3/",
                                    "http://www.example.com/"])
    assert got == ["PROXY a:3128; PROXY b:3129"] * 3, got
    assert queries == [], "dnsResolve asked without direct_networks: %r" % queries


def test_spread():
    proxies = ["p1.example:3128", "p2.example:3128"]
    hosts = ["host%d.example.net" % i for i in range(24)] + ["WWW.Example.COM"]
    with Daemon({"pac.proxies": proxies, "pac.spread": True,
                 "pac.direct_networks": []}) as d:
        pac = get_pac(d).body.decode()
    urls = ["http://%s/" % x for x in hosts]
    got1, hashes, _ = run_pac(pac, urls, [x.lower() for x in hosts])  # as the PAC calls it
    got2, _, _ = run_pac(pac, urls)
    assert got1 == got2, "spread is not stable"
    assert hashes == [fnv1a(x) for x in hosts], \
        "JS slHash %r != Python FNV-1a %r" % (hashes, [fnv1a(x) for x in hosts])
    firsts = set()
    for x, g in zip(hosts, got1):
        k = fnv1a(x) % 2
        want = "PROXY %s; PROXY %s; DIRECT" % (proxies[k], proxies[1 - k])
        assert g == want, "%s -> %r (expected %r)" % (x, g, want)
        firsts.add(k)
    assert firsts == {0, 1}, "every host went to one proxy"
    assert got1[-1] == run_pac(pac, ["http://www.example.com/"])[0][0], "case matters"


def test_default_proxy_is_where_the_client_came():
    with Daemon() as d:
        pac = get_pac(d).body.decode()
        assert "PROXY %s; DIRECT" % d.addr in pac, pac
        with h.RawConn(d.port) as c:
            c.send("GET /proxy.pac HTTP/1.1\r\nHost: Proxy.Corp.example:3128\r\n"
                   "Connection: close\r\n\r\n")
            r = c.recv_response("GET")
        assert r.status == 200, r.brief()
        got, _, _ = run_pac(r.body.decode(), ["http://www.example.com/",
                                              "http://proxy.corp.example/"])
        assert got == ["PROXY Proxy.Corp.example:3128; DIRECT", "DIRECT"], got
        # A Host that could break out of a JS string is not used.
        with h.RawConn(d.port) as c:
            c.send("GET /wpad.dat HTTP/1.1\r\nHost: a\";alert(1);//:80\r\n"
                   "Connection: close\r\n\r\n")
            r = c.recv_response("GET")
        assert r.status == 200, r.brief()
        assert b"alert" not in r.body, r.body
        assert ("PROXY %s; DIRECT" % d.addr).encode() in r.body, r.body


def test_outsider_refused():
    with Daemon({"access.allow_sources": ["127.0.0.1/32"]}) as d:
        r = h.proxy_request(d, "GET", "/proxy.pac", bind="127.0.0.2")
        assert r.status == 403, r.brief()
        assert r.header("X-Squidlike-Error") == "ERR_ACCESS_DENIED", r.brief()
        assert b"FindProxyForURL" not in r.body
        a = d.wait_access("TCP_DENIED/403", "/proxy.pac")
        assert a.client == "127.0.0.2", a.raw
        r = h.proxy_request(d, "GET", "/proxy.pac")
        assert r.status == 200, r.brief()


if __name__ == "__main__":
    h.run(globals(), requires=("curl", "node"))

#!/usr/bin/env python3
"""The API gateway's authentication (issue 15, /work/notes/gateway-spec.md):
JWTs minted here (HS256/384/512 with hmac; RS256/384/512, PS256, ES256,
ES384 and EdDSA with the openssl CLI, see jwtmint.py) against PEM keys and
a JWKS file, API keys in a header and in the query, consumers in the config
and in consumers_file, per-route consumers/groups and anonymous access.

What a client sees is asserted exactly: 200 and the backend's
X-Consumer-Id / X-Consumer-Groups (a client's own copies gone), or 401 with
the body `401 Unauthorized: <reason>\\n` and the WWW-Authenticate
challenges of the methods the route accepts, or 403 naming the consumer and
the route; a refused request never reaches the backend. Malformed and huge
tokens get a 4xx, never a 5xx or a hang. A reload (SIGHUP) takes new
consumers, keys and JWKS: the old ones are refused, the new ones accepted
(also a token the worker had cached as verified).

The other gateway test files import the site helpers from here."""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import jwtmint as jm  # noqa: E402
from harness import Daemon, Response, ScriptedOrigin  # noqa: E402
from test_reverse import get, rev_conf  # noqa: E402

# Pieces of the gateway not in main yet: their tests SKIP naming the
# piece, and the site leaves their settings out (jwt, consumer-limits). Empty
# since main 25c7ea8 (JWT, consumer limits and quotas in); GW_ALL=1 runs
# everything anyway.
PENDING = {}

ISSUER = "https://idp.example.com"
AUDIENCE = "api.example.com"
HOST = "api.example"

# API keys as the clients hold them (the config has their SHA-256).
KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789",
        "dave": "dave-key-0123456789", "carol": "carol-key-0123456789"}


def ready(piece):
    return piece not in PENDING or bool(os.environ.get("GW_ALL"))


def pending(*pieces):
    """SKIP the test while a piece of the gateway it needs is not built."""
    for piece in pieces:
        if not ready(piece):
            raise h.Skip("gateway piece not in main yet: %s (%s)" % (piece, PENDING[piece]))


def jwt_part(what):
    """Whether to run the JWT steps of a test about something else; logs
    what is left out while the jwt piece is pending."""
    if ready("jwt"):
        return True
    h.log("left out until the jwt piece lands: %s" % what)
    return False


# --- the site -------------------------------------------------------------------

class Keys:
    """Every key of the tests, made once per file in one directory: PEM keys
    (rs, es, es384, ed), an HMAC secret file (hs), and the JWKS keys (jrs,
    jes, jed, jhs)."""

    def __init__(self):
        self.dir = h.subdir("keys")
        kinds = {"rs": "rsa", "es": "ec256", "es384": "ec384", "ed": "ed25519", "hs": "hmac",
                 "jrs": "rsa", "jes": "ec256", "jed": "ed25519", "jhs": "hmac"}
        self.k = {name: jm.Key.make(kind, self.dir, name) for name, kind in kinds.items()}
        # an HMAC secret file ending in a newline: the newline is part of
        # the secret (the file's bytes)
        nl = jm.Key("hmac", secret=jm.b64u(os.urandom(48)).encode() + b"\n",
                    secret_path=os.path.join(self.dir, "hsnl.key"))
        with open(nl.secret_path, "wb") as f:
            f.write(nl.secret)
        self.k["hsnl"] = nl
        self.k["hsnl-stripped"] = jm.Key("hmac", secret=nl.secret.rstrip(b"\n"))
        self.jwks_path = os.path.join(self.dir, "jwks.json")
        self.write_jwks([("jw-rs", self.k["jrs"]), ("jw-es", self.k["jes"]),
                         ("jw-ed", self.k["jed"]), ("jw-hs", self.k["jhs"])])

    def write_jwks(self, entries):
        jm.write_jwks(self.jwks_path, entries)

    def jwt_conf(self, **over):
        g = {"keys": [{"kid": "rs1", "pem": self.k["rs"].pub_pem},
                      {"kid": "es1", "pem": self.k["es"].pub_pem},
                      {"kid": "es384", "pem": self.k["es384"].pub_pem},
                      {"kid": "ed1", "pem": self.k["ed"].pub_pem},
                      {"kid": "hs1", "secret_file": self.k["hs"].secret_path},
                      {"kid": "hsnl", "secret_file": self.k["hsnl"].secret_path}],
             "jwks": self.jwks_path, "issuer": ISSUER, "audience": AUDIENCE,
             "clock_skew": "30s", "require": ["exp", "iat"]}
        g.update(over)
        return g


def keys():
    return h.shared("gateway keys", Keys)


def consumer(name, groups=None, api_keys=None, subject=None, **kw):
    c = {"name": name}
    if groups:
        c["groups"] = groups
    if api_keys:
        c["api_keys"] = [jm.api_key_digest(k) for k in api_keys]
    if subject:
        c["jwt_subject"] = subject
    c.update(kw)
    return c


def base_consumers():
    return [consumer("alice", groups=["partners"], api_keys=[KEYS["alice"]],
                     subject="alice@example.com"),
            consumer("bob", api_keys=[KEYS["bob"]]),
            consumer("carol", groups=["staff", "ops"], api_keys=[KEYS["carol"]])]


def write_consumers_file(path, consumers):
    """A consumers_file (`consumers = ( ... );`), replaced atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(h.format_libconfig({"consumers": consumers}))
    os.replace(tmp, path)


def route(prefix, name, methods=None, **kw):
    """A route of pool api; methods: the auth methods (None: open route)."""
    r = {"prefix": prefix, "pool": "api", "name": name}
    if methods is not None:
        r["auth"] = {"methods": methods}
        for k in ("consumers", "groups", "anonymous"):
            if k in kw:
                r["auth"][k] = kw.pop(k)
    r.update(kw)
    return r


def gw_site(port, backend, routes, gateway, top=None, **extra):
    """Daemon overrides: reverse mode with one pool "api" on backend, one
    default vhost api.example with routes, reverse.gateway = gateway and
    the other reverse settings in extra; top: settings outside reverse
    (access_log_format, workers)."""
    conf = rev_conf(port, {"api": ("round-robin", ["127.0.0.1:%d" % backend.port])},
                    [{"names": [HOST], "default": True, "routes": routes}],
                    gateway=gateway, **extra)
    conf.update(top or {})
    return conf


def recorder(status=200, headers=(), body=None):
    """A backend that answers every request (no-store unless headers say
    otherwise) and records what it got."""
    def handler(req):
        hdrs = list(headers) or [("Cache-Control", "no-store")]
        return Response(status, body if body is not None else b"ok " + req.target.encode(),
                        headers=[("Content-Type", "text/plain")] + hdrs)
    return ScriptedOrigin(handler, name="backend")


def call(port, path, headers=(), method="GET", host=HOST, body=b""):
    return get(port, host, path, headers=headers, method=method, body=body)


def bearer(token):
    return [("Authorization", "Bearer " + token)]


def claims(sub="alice@example.com", **kw):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def challenge_bearer(reason=None):
    v = 'Bearer realm="squidlike"'
    if reason:
        v += ', error="invalid_token", error_description="%s"' % reason
    return v


CHALLENGE_APIKEY = 'ApiKey realm="squidlike"'


def refused_401(r, reason, challenges):
    """r is the gateway's 401 for reason, with exactly these
    WWW-Authenticate values (in any order)."""
    assert r.status == 401, "expected 401 (%s), got %s" % (reason, r.brief())
    want = b"401 Unauthorized: %s\n" % reason.encode()
    assert r.body == want, "401 body %r, expected %r" % (r.body, want)
    assert (r.header("Content-Type") or "").startswith("text/plain"), r.headers
    got = sorted(r.header_all("WWW-Authenticate"))
    assert got == sorted(challenges), "WWW-Authenticate %r, expected %r" % (got, challenges)


def served(o, n0, target):
    """The backend got exactly one request since n0 (its count before),
    for target; return it."""
    h.wait_until(lambda: len(o.requests) >= n0 + 1, 10, what="the backend's request")
    got = o.requests[n0:]
    assert len(got) == 1 and got[0].target == target, (target, got)
    return got[0]


def conns_on_each_worker(d, port, path, hdrs, attempts=60):
    """Two keep-alive connections to the reverse listener on port, held by
    different workers of d (workers = 2), and the number of requests made
    to place them (one for path+N each, 200, on every connection tried,
    those closed again included): placed by looking at which worker
    accepted each."""
    held = {}
    made = 0
    for i in range(attempts):
        if len(held) == 2:
            break
        c = h.RawConn(port)
        c.send(h.build_request("GET", "%s%d" % (path, i), [("Host", HOST)] + list(hdrs)))
        r = c.recv_response()
        made += 1
        assert r.status == 200, r.brief()
        box, local = [], c.sock.getsockname()[1]
        h.wait_until(lambda: box.append(h.worker_holding(d.proc.pid, port, local)) or box[-1],
                     10, what="the worker holding the connection")
        if box[-1] in held:
            c.close()       # both on one worker: try again
            h.wait_until(lambda: h.worker_holding(d.proc.pid, port, local) is None, 10,
                         what="the worker to see the close")
        else:
            held[box[-1]] = c
    assert len(held) == 2, "could not place a connection on each worker"
    return list(held.values()), made


def auth_site(port, o, k, consumers_file=None, **gw):
    gateway = {"consumers": base_consumers()}
    if ready("jwt"):
        gateway["jwt"] = k.jwt_conf()
    if consumers_file:
        gateway["consumers_file"] = consumers_file
    gateway.update(gw)
    routes = [route("/open/", "open"),
              route("/jwt/", "jwt-only", ["jwt"]),
              route("/key/", "key-only", ["api_key"]),
              route("/any/", "any", ["api_key", "jwt"]),
              route("/partners/", "partners", ["api_key", "jwt"], groups=["partners"],
                    consumers=["carol"]),
              route("/anon/", "anon", ["api_key", "jwt"], anonymous=True)]
    return gw_site(port, o, routes, gateway)


def start_auth_daemon(consumers_in_file=()):
    """A daemon on the auth site; consumers_file consumers.conf (relative to
    the config's directory) holding consumers_in_file (dave by default)."""
    k = keys()
    o = recorder()
    port = h.free_port()
    d = Daemon(auth_site(port, o, k, consumers_file="consumers.conf"), start=False)
    write_consumers_file(os.path.join(d.dir, "consumers.conf"), list(consumers_in_file) or
                         [consumer("dave", api_keys=[KEYS["dave"]], subject="dave-sub")])
    d.start()
    return d, o, port, k


# --- JWT ---------------------------------------------------------------------------

# (alg, key name in Keys, kid): every algorithm, by PEM and by the JWKS
GOOD = [("HS256", "hs", "hs1"), ("HS384", "hs", "hs1"), ("HS512", "hs", "hs1"),
        ("RS256", "rs", "rs1"), ("RS384", "rs", "rs1"), ("RS512", "rs", "rs1"),
        ("HS256", "hsnl", "hsnl"),
        ("PS256", "rs", "rs1"), ("ES256", "es", "es1"), ("ES384", "es384", "es384"),
        ("EdDSA", "ed", "ed1"),
        ("RS256", "jrs", "jw-rs"), ("PS256", "jrs", "jw-rs"), ("ES256", "jes", "jw-es"),
        ("EdDSA", "jed", "jw-ed"), ("HS256", "jhs", "jw-hs")]


def test_valid_tokens_every_algorithm():
    pending("jwt")
    d, o, port, k = start_auth_daemon()
    with d:
        for alg, kname, kid in GOOD:
            tok = jm.mint(k.k[kname], alg, claims(), kid=kid)
            n0 = len(o.requests)
            r = call(port, "/jwt/%s/%s" % (alg, kid), bearer(tok) + [
                ("X-Consumer-Id", "mallory"), ("X-Consumer-Groups", "admins")])
            assert r.status == 200, "%s %s: %s" % (alg, kid, r.brief())
            q = served(o, n0, "/jwt/%s/%s" % (alg, kid))
            assert q.header_all("X-Consumer-Id") == ["alice"], (alg, kid, q.headers)
            assert q.header_all("X-Consumer-Groups") == ["partners"], (alg, kid, q.headers)
            # passed on: the route does not remove it
            assert q.header("Authorization") == "Bearer " + tok, (alg, q.headers)
        # a consumer without groups: no X-Consumer-Groups at all, even the client's
        tok = jm.mint(k.k["es"], "ES256", claims(sub="bob"), kid="es1")
        r = call(port, "/jwt/bob", bearer(tok) + [("X-Consumer-Groups", "admins")])
        assert r.status == 200, r.brief()
        q = o.last()
        assert q.header_all("X-Consumer-Id") == ["bob"] and \
            not q.has_header("X-Consumer-Groups"), q.headers
        # a consumer of the consumers_file, named by its jwt_subject
        tok = jm.mint(k.k["rs"], "RS256", claims(sub="dave-sub"), kid="rs1")
        r = call(port, "/any/dave", bearer(tok))
        assert r.status == 200 and o.last().header_all("X-Consumer-Id") == ["dave"], \
            (r.brief(), o.last().headers)


def refused_cases(k):
    """(what, token, reason): tokens the gateway must refuse."""
    now = int(time.time())
    rs, es, hs = k.k["rs"], k.k["es"], k.k["hs"]
    good_rs = jm.mint(rs, "RS256", claims(), kid="rs1")
    none_hdr = {"alg": "none", "typ": "JWT", "kid": "rs1"}
    return [
        ("expired", jm.mint(rs, "RS256", claims(exp=now - 120), kid="rs1"), "token expired"),
        ("expired by an hour", jm.mint(es, "ES256", claims(exp=now - 3600, iat=now - 7200),
                                       kid="es1"), "token expired"),
        ("not yet valid", jm.mint(rs, "RS256", claims(nbf=now + 120), kid="rs1"),
         "token not yet valid"),
        ("wrong audience", jm.mint(rs, "RS256", claims(aud="other.example.com"), kid="rs1"),
         "wrong audience"),
        ("wrong audience list", jm.mint(rs, "RS256", claims(aud=["a.example", "b.example"]),
                                        kid="rs1"), "wrong audience"),
        ("wrong issuer", jm.mint(rs, "RS256", claims(iss="https://evil.example"), kid="rs1"),
         "wrong issuer"),
        ("no issuer", jm.mint(rs, "RS256", claims(iss=None), kid="rs1"), "wrong issuer"),
        ("RS256 byte flipped", jm.flip_signature_byte(good_rs), "bad signature"),
        ("ES256 byte flipped", jm.flip_signature_byte(
            jm.mint(es, "ES256", claims(), kid="es1")), "bad signature"),
        ("HS256 byte flipped", jm.flip_signature_byte(
            jm.mint(hs, "HS256", claims(), kid="hs1")), "bad signature"),
        ("EdDSA byte flipped", jm.flip_signature_byte(
            jm.mint(k.k["ed"], "EdDSA", claims(), kid="ed1")), "bad signature"),
        ("the secret file without its newline", jm.mint(k.k["hsnl-stripped"], "HS256", claims(),
                                                         kid="hsnl"), "bad signature"),
        ("JWKS RS256 byte flipped", jm.flip_signature_byte(
            jm.mint(k.k["jrs"], "RS256", claims(), kid="jw-rs")), "bad signature"),
        ("claims changed after signing",
         ".".join([good_rs.split(".")[0], jm.b64u(json.dumps(claims(sub="bob"))),
                   good_rs.split(".")[2]]), "bad signature"),
        ("signed by another key", jm.mint(k.k["jrs"], "RS256", claims(), kid="rs1"),
         "bad signature"),
        ("missing iat", jm.mint(rs, "RS256", claims(iat=None), kid="rs1"), "missing claim iat"),
        ("missing exp", jm.mint(rs, "RS256", claims(exp=None), kid="rs1"), "missing claim exp"),
        ("alg none", jm.mint(None, "none", claims(), header=none_hdr), "algorithm not allowed"),
        ("alg none with a signature", jm.mint(None, "none", claims(), header=none_hdr,
                                              sig=b"x" * 32), "algorithm not allowed"),
        # the confusion: the RSA public key's PEM used as an HMAC secret
        ("HS256 keyed by the RSA PEM", jm.mint(rs.pub_pem_bytes(), "HS256", claims(), kid="rs1"),
         "algorithm not allowed"),
        ("HS256 keyed by a JWKS RSA key", jm.mint(k.k["jrs"].pub_pem_bytes(), "HS256", claims(),
                                                  kid="jw-rs"), "algorithm not allowed"),
        ("RS256 on the HMAC key", jm.mint(rs, "RS256", claims(), kid="hs1"),
         "algorithm not allowed"),
        ("unknown kid", jm.mint(rs, "RS256", claims(), kid="nope"), "no key for the token"),
        ("unknown consumer", jm.mint(rs, "RS256", claims(sub="mallory"), kid="rs1"),
         "unknown consumer"),
        ("consumer named but not its subject", jm.mint(rs, "RS256", claims(sub="alice"),
                                                       kid="rs1"), "unknown consumer"),
    ]


def test_refused_tokens_401_with_reason():
    pending("jwt")
    d, o, port, k = start_auth_daemon()
    with d:
        n0 = len(o.requests)
        bad = []
        for what, tok, reason in refused_cases(k):
            r = call(port, "/jwt/x", bearer(tok))
            try:
                refused_401(r, reason, [challenge_bearer(reason)])
            except AssertionError as e:
                bad.append("%s: %s" % (what, e))
            # on a route taking both: both challenges, the Bearer one with the error
            r = call(port, "/any/x", bearer(tok))
            try:
                refused_401(r, reason, [challenge_bearer(reason), CHALLENGE_APIKEY])
            except AssertionError as e:
                bad.append("%s (route any): %s" % (what, e))
        assert not bad, "\n".join(bad)
        assert len(o.requests) == n0, "refused tokens reached the backend: %r" % o.requests[n0:]


def test_clock_skew_and_audience_list_accepted():
    """Within clock_skew (30 s) an expired or not-yet-valid token passes;
    an aud array containing the audience passes."""
    pending("jwt")
    d, o, port, k = start_auth_daemon()
    now = int(time.time())
    rs = k.k["rs"]
    with d:
        for what, c in (("expired 5 s ago", claims(exp=now - 5)),
                        ("valid in 5 s", claims(nbf=now + 5)),
                        ("aud list", claims(aud=["x.example", AUDIENCE]))):
            n0 = len(o.requests)
            r = call(port, "/jwt/skew", bearer(jm.mint(rs, "RS256", c, kid="rs1")))
            assert r.status == 200, "%s: %s" % (what, r.brief())
            assert served(o, n0, "/jwt/skew").header("X-Consumer-Id") == "alice"
        # without skew, the same 5 s are refused
        d.write_conf({"reverse.gateway.jwt.clock_skew": "0s"})
        assert d.reload() == "reloaded", d.last_reload_line
        now = int(time.time())
        r = call(port, "/jwt/noskew", bearer(jm.mint(rs, "RS256", claims(exp=now - 5),
                                                     kid="rs1")))
        refused_401(r, "token expired", [challenge_bearer("token expired")])
        r = call(port, "/jwt/noskew", bearer(jm.mint(rs, "RS256", claims(nbf=now + 20),
                                                     kid="rs1")))
        refused_401(r, "token not yet valid", [challenge_bearer("token not yet valid")])


def test_algorithms_list_limits_what_is_accepted():
    pending("jwt")
    k = keys()
    o = recorder()
    port = h.free_port()
    gw = {"consumers": base_consumers(), "jwt": k.jwt_conf(algorithms=["ES256"])}
    with Daemon(gw_site(port, o, [route("/jwt/", "jwt-only", ["jwt"])], gw)):
        r = call(port, "/jwt/es", bearer(jm.mint(k.k["es"], "ES256", claims(), kid="es1")))
        assert r.status == 200, r.brief()
        for alg, kname, kid in (("RS256", "rs", "rs1"), ("HS256", "hs", "hs1"),
                                ("EdDSA", "ed", "ed1")):
            r = call(port, "/jwt/" + alg, bearer(jm.mint(k.k[kname], alg, claims(), kid=kid)))
            refused_401(r, "algorithm not allowed", [challenge_bearer("algorithm not allowed")])
    assert [q.target for q in o.requests] == ["/jwt/es"], o.requests


def test_malformed_and_huge_tokens():
    """Broken tokens: 401 "malformed token"; a token over 8 KiB: 401 or
    431, never a 5xx or a hang; the daemon serves on."""
    pending("jwt")
    d, o, port, k = start_auth_daemon()
    good = jm.mint(k.k["rs"], "RS256", claims(), kid="rs1")
    head, body, sig = good.split(".")
    with d:
        cases = [("two parts", head + "." + body),
                 ("four parts", good + ".AAAA"),
                 ("bad base64", "!!!." + body + "." + sig),
                 ("bad base64 in the signature", head + "." + body + ".*&^%"),
                 ("header not JSON", jm.b64u("not json") + "." + body + "." + sig),
                 # well signed, so that only the claims are wrong
                 ("claims not JSON", jm.mint(k.k["rs"], "RS256", None, kid="rs1",
                                             payload=b'{"sub":')),
                 ("claims an array", jm.mint(k.k["rs"], "RS256", None, kid="rs1",
                                             payload=b'[1,2]')),
                 ("claims a string", jm.mint(k.k["hs"], "HS256", None, kid="hs1",
                                             payload=b'"alice"')),
                 ("empty parts", ".."),
                 ("header without alg", jm.b64u('{"typ":"JWT","kid":"rs1"}') + "." + body +
                  "." + sig)]
        bad = []
        for what, tok in cases:
            r = call(port, "/jwt/m", bearer(tok))
            try:
                refused_401(r, "malformed token", [challenge_bearer("malformed token")])
            except AssertionError as e:
                bad.append("%s: %s" % (what, e))
        assert not bad, "\n".join(bad)
        # huge: a valid-looking token of 9, 16 and 60 KiB
        for size in (9 * 1024, 16 * 1024, 60 * 1024):
            pad = jm.b64u(json.dumps(claims(pad="x" * size)))
            r = call(port, "/jwt/huge", bearer(head + "." + pad + "." + sig))
            assert r.status in (401, 431), "%d bytes: %s" % (size, r.brief())
            if r.status == 401:
                assert r.body.startswith(b"401 Unauthorized: "), r.brief()
        r = call(port, "/jwt/after", bearer(good))
        assert r.status == 200, r.brief()
        assert [q.target for q in o.requests] == ["/jwt/after"], o.requests


# --- API keys ------------------------------------------------------------------------

def test_api_key_header_and_query():
    d, o, port, _ = start_auth_daemon()
    with d:
        n0 = len(o.requests)
        r = call(port, "/key/h", [("X-Api-Key", KEYS["alice"]), ("X-Consumer-Id", "bob")])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/key/h")
        assert q.header_all("X-Consumer-Id") == ["alice"], q.headers
        assert q.header_all("X-Consumer-Groups") == ["partners"], q.headers
        # in the query: the backend never sees the key, the rest of the query stays
        n0 = len(o.requests)
        r = call(port, "/key/q?x=1&api_key=%s&y=2" % KEYS["bob"])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/key/q?x=1&y=2")
        assert q.header_all("X-Consumer-Id") == ["bob"], q.headers
        n0 = len(o.requests)
        r = call(port, "/key/only?api_key=%s" % KEYS["carol"])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/key/only")
        assert q.header_all("X-Consumer-Id") == ["carol"], q.headers
        assert q.header_all("X-Consumer-Groups") == ["staff,ops"], q.headers
        # a consumer of consumers_file
        r = call(port, "/key/dave", [("X-Api-Key", KEYS["dave"])])
        assert r.status == 200 and o.last().header("X-Consumer-Id") == "dave", r.brief()
        # a key on a route taking both methods
        r = call(port, "/any/k", [("X-Api-Key", KEYS["bob"])])
        assert r.status == 200 and o.last().header("X-Consumer-Id") == "bob", r.brief()

        n0 = len(o.requests)
        for what, path, hdrs in (
                ("wrong key in the header", "/key/w", [("X-Api-Key", "nope")]),
                ("a key one byte off", "/key/w", [("X-Api-Key", KEYS["alice"][:-1] + "X")]),
                ("wrong key in the query", "/key/w?api_key=nope", []),
                ("the digest itself as the key", "/key/w",
                 [("X-Api-Key", jm.api_key_digest(KEYS["alice"])[7:])])):
            r = call(port, path, hdrs)
            refused_401(r, "unknown API key", [CHALLENGE_APIKEY])
        r = call(port, "/key/none")
        refused_401(r, "no credentials", [CHALLENGE_APIKEY])
        r = call(port, "/any/none")
        refused_401(r, "no credentials", [challenge_bearer(), CHALLENGE_APIKEY])
        r = call(port, "/any/w", [("X-Api-Key", "nope")])
        refused_401(r, "unknown API key", [challenge_bearer(), CHALLENGE_APIKEY])
        # a route taking only JWTs does not read keys: no credentials
        r = call(port, "/jwt/k", [("X-Api-Key", KEYS["alice"])])
        refused_401(r, "no credentials", [challenge_bearer()])
        # and a key route does not read tokens (not even bad ones)
        r = call(port, "/key/t", bearer("not.a.token"))
        refused_401(r, "no credentials", [CHALLENGE_APIKEY])
        if jwt_part("a good token on a key route"):
            tok = jm.mint(keys().k["rs"], "RS256", claims(), kid="rs1")
            r = call(port, "/key/t", bearer(tok))
            refused_401(r, "no credentials", [CHALLENGE_APIKEY])
        assert len(o.requests) == n0, o.requests[n0:]


def test_field_and_parameter_names_configured():
    """api_key_header, api_key_query = "" (keys not read from the query) and
    consumer_header: the names the gateway reads and writes."""
    o = recorder()
    port = h.free_port()
    gw = {"consumers": base_consumers(), "api_key_header": "X-Key", "api_key_query": "",
          "consumer_header": "X-User"}
    with Daemon(gw_site(port, o, [route("/key/", "key-only", ["api_key"])], gw)):
        n0 = len(o.requests)
        r = call(port, "/key/a?api_key=x", [("X-Key", KEYS["alice"]), ("X-User", "bob"),
                                             ("X-Consumer-Id", "carol")])
        assert r.status == 200, r.brief()
        # the query is not the gateway's any more: it reaches the backend
        q = served(o, n0, "/key/a?api_key=x")
        assert q.header_all("X-User") == ["alice"], q.headers
        assert q.header_all("X-Consumer-Groups") == ["partners"], q.headers
        n0 = len(o.requests)
        refused_401(call(port, "/key/b", [("X-Api-Key", KEYS["alice"])]), "no credentials",
                    [CHALLENGE_APIKEY])
        refused_401(call(port, "/key/c?api_key=%s" % KEYS["alice"]), "no credentials",
                    [CHALLENGE_APIKEY])
        assert len(o.requests) == n0, o.requests[n0:]


def test_route_consumers_and_groups_403():
    d, o, port, k = start_auth_daemon()
    with d:
        # alice by her group, carol by name: in
        callers = [("alice", [("X-Api-Key", KEYS["alice"])]),
                   ("carol", [("X-Api-Key", KEYS["carol"])])]
        if jwt_part("a token's consumer on a route with groups"):
            callers.append(("alice", bearer(jm.mint(k.k["ed"], "EdDSA", claims(), kid="ed1"))))
        for who, hdrs in callers:
            n0 = len(o.requests)
            r = call(port, "/partners/x", hdrs)
            assert r.status == 200, "%s: %s" % (who, r.brief())
            assert served(o, n0, "/partners/x").header("X-Consumer-Id") == who
        n0 = len(o.requests)
        callers = [("bob", [("X-Api-Key", KEYS["bob"])]), ("dave", [("X-Api-Key", KEYS["dave"])])]
        if jwt_part("a token's consumer refused by a route"):
            callers.append(("bob", bearer(jm.mint(k.k["rs"], "RS256", claims(sub="bob"),
                                                  kid="rs1"))))
        for who, hdrs in callers:
            r = call(port, "/partners/x", hdrs)
            assert r.status == 403, "%s: %s" % (who, r.brief())
            want = b"403 Forbidden: consumer %s may not call partners\n" % who.encode()
            assert r.body == want, (r.body, want)
            assert not r.has_header("WWW-Authenticate"), r.headers
        # bad credentials on that route are a 401, not a 403
        r = call(port, "/partners/x", [("X-Api-Key", "nope")])
        refused_401(r, "unknown API key", [challenge_bearer(), CHALLENGE_APIKEY])
        assert len(o.requests) == n0, o.requests[n0:]


def test_anonymous_and_open_routes():
    d, o, port, k = start_auth_daemon()
    with d:
        # anonymous: no credentials -> through, as no consumer (a client's
        # X-Consumer-Id removed all the same)
        n0 = len(o.requests)
        r = call(port, "/anon/x", [("X-Consumer-Id", "alice"), ("X-Consumer-Groups", "partners")])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/anon/x")
        assert not q.has_header("X-Consumer-Id") and not q.has_header("X-Consumer-Groups"), \
            q.headers
        # good credentials: the consumer
        r = call(port, "/anon/k", [("X-Api-Key", KEYS["bob"])])
        assert r.status == 200 and o.last().header_all("X-Consumer-Id") == ["bob"], r.brief()
        # bad credentials: 401 even though anonymous is allowed
        n0 = len(o.requests)
        r = call(port, "/anon/bad", [("X-Api-Key", "nope")])
        refused_401(r, "unknown API key", [challenge_bearer(), CHALLENGE_APIKEY])
        if jwt_part("a bad token on an anonymous route"):
            tok = jm.flip_signature_byte(jm.mint(k.k["rs"], "RS256", claims(), kid="rs1"))
            r = call(port, "/anon/bad", bearer(tok))
            refused_401(r, "bad signature", [challenge_bearer("bad signature"),
                                             CHALLENGE_APIKEY])
        r = call(port, "/anon/bad?api_key=nope")
        refused_401(r, "unknown API key", [challenge_bearer(), CHALLENGE_APIKEY])
        assert len(o.requests) == n0, o.requests[n0:]

        # the open route: no auth; what the client sent goes on as it was
        n0 = len(o.requests)
        r = call(port, "/open/x?api_key=whatever&a=1", [
            ("Authorization", "Bearer not-a-token"), ("X-Api-Key", "nope")])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/open/x?api_key=whatever&a=1")
        assert q.header("Authorization") == "Bearer not-a-token", q.headers
        assert q.header("X-Api-Key") == "nope", q.headers
        assert not r.has_header("WWW-Authenticate"), r.headers


def test_open_route_drops_client_consumer_fields():
    """The spec: consumer_header is "always removed from what the client
    sent" - also on a route without auth, so that a backend shared by an
    open route and an authenticated one never trusts a client's claim."""
    d, o, port, k = start_auth_daemon()
    with d:
        n0 = len(o.requests)
        r = call(port, "/open/y", [("X-Consumer-Id", "alice"), ("X-Consumer-Groups", "partners")])
        assert r.status == 200, r.brief()
        q = served(o, n0, "/open/y")
        assert not q.has_header("X-Consumer-Id"), q.headers
        assert not q.has_header("X-Consumer-Groups"), q.headers


# --- reload ----------------------------------------------------------------------------

def test_reload_takes_new_consumers():
    """SIGHUP re-reads consumers_file: a changed key and a new consumer
    count at once, the old key is refused; a consumer named in both the
    config and the file fails the reload, naming the file, and the running
    consumers go on."""
    d, o, port, k = start_auth_daemon()
    cpath = os.path.join(d.dir, "consumers.conf")
    with d:
        assert call(port, "/key/d", [("X-Api-Key", KEYS["dave"])]).status == 200
        write_consumers_file(cpath, [
            consumer("dave", api_keys=["dave-new-key-0123"], subject="dave-sub"),
            consumer("erin", api_keys=["erin-key-0123"], groups=["partners"])])
        assert d.reload() == "reloaded", d.last_reload_line
        n0 = len(o.requests)
        refused_401(call(port, "/key/d", [("X-Api-Key", KEYS["dave"])]), "unknown API key",
                    [CHALLENGE_APIKEY])
        assert len(o.requests) == n0, o.requests[n0:]
        for path, hdrs, who in (
                ("/key/d2", [("X-Api-Key", "dave-new-key-0123")], "dave"),
                ("/partners/e", [("X-Api-Key", "erin-key-0123")], "erin"),
                ("/key/a", [("X-Api-Key", KEYS["alice"])], "alice")):    # inline: kept
            n0 = len(o.requests)
            r = call(port, path, hdrs)
            assert r.status == 200, "%s: %s" % (path, r.brief())
            assert served(o, n0, path).header("X-Consumer-Id") == who


def test_reload_refuses_a_consumer_named_twice():
    """A consumer in both the config and consumers_file: the reload fails,
    its message naming the file and the consumer; the running consumers
    go on."""
    d, o, port, k = start_auth_daemon()
    cpath = os.path.join(d.dir, "consumers.conf")
    with d:
        write_consumers_file(cpath, [
            consumer("dave", api_keys=["dave-new-key-0123"], subject="dave-sub"),
            consumer("alice", api_keys=["other-alice-key"])])
        before = len(d.error_log())
        assert d.reload() == "reload failed", d.last_reload_line
        said = d.error_log()[before:]
        assert "consumers.conf" in said and "alice" in said, said
        assert call(port, "/key/d3", [("X-Api-Key", KEYS["dave"])]).status == 200
        for key in ("other-alice-key", "dave-new-key-0123"):
            refused_401(call(port, "/key/x", [("X-Api-Key", key)]), "unknown API key",
                        [CHALLENGE_APIKEY])


def test_reload_takes_new_keys_and_jwks():
    """SIGHUP re-reads the JWKS file and the PEM files: tokens of a key
    gone are refused - also one verified (and cached) before - and tokens
    of the new keys accepted."""
    pending("jwt")
    d, o, port, k = start_auth_daemon()
    old_jwks = jm.mint(k.k["jrs"], "RS256", claims(), kid="jw-rs")
    old_pem = jm.mint(k.k["es"], "ES256", claims(), kid="es1")
    new_rsa = jm.Key.make("rsa", k.dir, "jrs-new")
    new_es = jm.Key.make("ec256", k.dir, "es-new")
    with d:
        for _ in range(2):          # the second from the verified-token cache
            r = call(port, "/jwt/old", bearer(old_jwks))
            assert r.status == 200, r.brief()
        assert call(port, "/jwt/oldpem", bearer(old_pem)).status == 200
        # jw-rs is replaced by jw-rs2 (another key); es1's PEM is another key
        k.write_jwks([("jw-rs2", new_rsa), ("jw-es", k.k["jes"]), ("jw-ed", k.k["jed"]),
                      ("jw-hs", k.k["jhs"])])
        d.write_conf({"reverse.gateway.jwt.keys": [
            {"kid": "rs1", "pem": k.k["rs"].pub_pem}, {"kid": "es1", "pem": new_es.pub_pem},
            {"kid": "es384", "pem": k.k["es384"].pub_pem}, {"kid": "ed1", "pem": k.k["ed"].pub_pem},
            {"kid": "hs1", "secret_file": k.k["hs"].secret_path},
            {"kid": "hsnl", "secret_file": k.k["hsnl"].secret_path}]})
        try:
            assert d.reload() == "reloaded", d.last_reload_line
            n0 = len(o.requests)
            refused_401(call(port, "/jwt/old", bearer(old_jwks)), "no key for the token",
                        [challenge_bearer("no key for the token")])
            refused_401(call(port, "/jwt/oldpem", bearer(old_pem)), "bad signature",
                        [challenge_bearer("bad signature")])
            # a token of the old key under the new kid
            r = call(port, "/jwt/x", bearer(jm.mint(k.k["jrs"], "RS256", claims(), kid="jw-rs2")))
            refused_401(r, "bad signature", [challenge_bearer("bad signature")])
            assert len(o.requests) == n0, o.requests[n0:]
            for path, tok in (("/jwt/new", jm.mint(new_rsa, "RS256", claims(), kid="jw-rs2")),
                              ("/jwt/newpem", jm.mint(new_es, "ES256", claims(), kid="es1"))):
                n0 = len(o.requests)
                r = call(port, path, bearer(tok))
                assert r.status == 200, "%s: %s" % (path, r.brief())
                assert served(o, n0, path).header("X-Consumer-Id") == "alice"
        finally:
            # the JWKS file is shared by the file's tests: put it back
            k.write_jwks([("jw-rs", k.k["jrs"]), ("jw-es", k.k["jes"]), ("jw-ed", k.k["jed"]),
                          ("jw-hs", k.k["jhs"])])


# --- config errors ------------------------------------------------------------------

def test_config_error_consumer_named_twice():
    """Two consumers of one name in the config: -k parse names FILE:LINE
    (of the second) and the name."""
    d = h.tmpdir()
    path = os.path.join(d, "twice.conf")
    with open(path, "w") as f:
        f.write("""reverse: {
  listen = [ "127.0.0.1:1" ];
  pools = ( { name = "api"; backends = [ "127.0.0.1:8080" ]; } );
  gateway: {
    consumers = ( { name = "alice"; },
                  { name = "alice"; } );
  };
  vhosts = ( { names = [ "a.example" ]; routes = (
    { prefix = "/"; pool = "api"; auth = { methods = [ "api_key" ]; }; } ); } );
};
""")
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    err = p.stderr + p.stdout
    assert p.returncode != 0, err
    assert "%s:6:" % path in err and "alice" in err, err


def test_config_errors_named():
    """-k parse names FILE:LINE and what is wrong. The jwt and
    consumer-limit lines are blanked (same line numbers) while those pieces
    are pending."""
    k = keys()
    d = h.tmpdir()
    good_key = jm.api_key_digest("k1")
    good = """reverse: {
  listen = [ "127.0.0.1:1" ];
  pools = ( { name = "api"; backends = [ "127.0.0.1:8080" ]; } );
  rate_limits = ( { name = "gold"; key = "consumer"; rate = 10; per = "1s"; } );
  gateway: {
    consumers = ( { name = "alice"; api_keys = [ "%s" ]; rate_limits = [ "gold" ]; } );
    jwt: { keys = ( { kid = "rs1"; pem = "%s"; } ); };
  };
  vhosts = ( { names = [ "a.example" ]; routes = (
    { prefix = "/"; pool = "api"; auth = { methods = [ "api_key", "jwt" ]; }; } ); } );
};
""" % (good_key, k.k["rs"].pub_pem)
    if not ready("jwt"):
        good = good.replace('    jwt: { keys = ( { kid = "rs1"; pem = "%s"; } ); };' % k.k["rs"].pub_pem,
                            "    # jwt: pending").replace('"api_key", "jwt"', '"api_key"')
    if not ready("consumer-limits"):
        good = good.replace(' rate_limits = [ "gold" ];', '').replace('key = "consumer"',
                                                                        'key = "client"')
    bad = [
        (good.replace(good_key, "k1"), 6, "store the key's SHA-256"),
        (good.replace(good_key, "sha256:abcd"), 6, "sha256"),
        (good.replace('rate_limits = [ "gold" ]', 'rate_limits = [ "nope" ]'), 6, "nope"),
        (good.replace('name = "alice"', 'name = "al ice"'), 6, "name"),
        (good.replace(k.k["rs"].pub_pem, "/nonexistent/key.pem"), 7, "/nonexistent/key.pem"),
        (good.replace(k.k["rs"].pub_pem, k.k["hs"].secret_path), 7, k.k["hs"].secret_path),
        (good.replace('methods = [ "api_key"', 'methods = [ "basic"'), 10, "basic"),
        (good.replace('name = "alice";', 'name = "alice"; quotas = [ "weekly" ];'), 6, "weekly"),
    ]
    for i, (text, line, what) in enumerate(bad):
        if text == good:
            h.log("case %r left out: its line is pending" % what)
            continue
        path = os.path.join(d, "gwbad%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                           capture_output=True, text=True, timeout=30)
        err = p.stderr + p.stdout
        assert p.returncode != 0, (what, err)
        want = "%s:%d:" % (path, line)
        assert want in err and what in err, (what, want, err)
    path = os.path.join(d, "gwgood.conf")
    with open(path, "w") as f:
        f.write(good)
    p = subprocess.run([h.daemon_binary(), "-k", "parse", "-f", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


if __name__ == "__main__":
    h.run(globals(), requires=("openssl",))

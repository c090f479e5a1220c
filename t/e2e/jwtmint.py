#!/usr/bin/env python3
"""jwtmint.py - keys and JSON Web Tokens for the gateway tests (issue 15).

Python 3 standard library and the openssl CLI only. What is in here:

  b64u(data), b64u_decode(text)   base64url without padding (RFC 7515 2)
  Key.make(kind, directory, name) a new key pair on disk: kind "rsa" (2048),
                                  "ec256", "ec384", "ed25519", or "hmac"
                                  (random bytes); .pem (private), .pub_pem
                                  (public PEM path), .jwk(kid) (the public
                                  JWK, RFC 7517/7518/8037)
  mint(key, alg, claims, kid=...) a compact JWS: HS* with hmac, RS*/PS256
                                  with `openssl dgst -sign`, ES* with
                                  `openssl dgst -sign` and the DER signature
                                  cut to raw R||S, EdDSA with `openssl pkeyutl
                                  -sign -rawin`; header= overrides the header
  verify(key, token)              checks a token made here the independent
                                  way (hmac.compare_digest, `openssl dgst
                                  -verify`, `openssl pkeyutl -verify`)
  write_jwks(path, [(kid, key)])  a JWKS file
  api_key_digest(key)             "sha256:<hex>" as consumers list API keys

Running this file is its self-test: every algorithm minted, verified, and
tampered tokens refused (exit 0 ok, 1 fail, 77 no openssl).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile

OPENSSL = "openssl"
TIMEOUT = 60        # seconds for one openssl call (a busy 2-core machine)

HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
EC_SIZE = {"ec256": 32, "ec384": 48}
EC_CRV = {"ec256": "P-256", "ec384": "P-384"}


def b64u(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    if isinstance(text, bytes):
        text = text.decode("ascii")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _openssl(*args, data=None):
    r = subprocess.run([OPENSSL] + list(args), input=data, capture_output=True,
                       timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                          r.stderr.decode(errors="replace")))
    return r.stdout


def api_key_digest(key):
    """How a consumer lists an API key: its SHA-256, lowercase hex."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return "sha256:" + hashlib.sha256(key).hexdigest()


# --- DER, just enough for ECDSA signatures and public keys -------------------

def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_read(buf, pos):
    """(tag, content, next position) of the DER element at pos."""
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, buf[pos:pos + n], pos + n


def ecdsa_der_to_raw(der, size):
    """ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) -> R||S, each
    left-padded to size bytes (RFC 7518 3.4)."""
    tag, seq, end = _der_read(der, 0)
    assert tag == 0x30 and end == len(der), "not a DER SEQUENCE"
    out = b""
    pos = 0
    for _ in range(2):
        tag, num, pos = _der_read(seq, pos)
        assert tag == 0x02, "not a DER INTEGER"
        num = num.lstrip(b"\x00")
        assert len(num) <= size, "integer longer than the curve"
        out += num.rjust(size, b"\x00")
    assert pos == len(seq)
    return out


def ecdsa_raw_to_der(raw):
    half = len(raw) // 2
    body = b""
    for part in (raw[:half], raw[half:]):
        num = part.lstrip(b"\x00") or b"\x00"
        if num[0] & 0x80:
            num = b"\x00" + num
        body += b"\x02" + _der_len(len(num)) + num
    return b"\x30" + _der_len(len(body)) + body


def _spki_bit_string(der):
    """The subjectPublicKey bytes of a SubjectPublicKeyInfo (DER)."""
    tag, spki, _ = _der_read(der, 0)
    assert tag == 0x30
    tag, _, pos = _der_read(spki, 0)             # AlgorithmIdentifier
    assert tag == 0x30
    tag, bits, _ = _der_read(spki, pos)
    assert tag == 0x03 and bits[0] == 0, "not a BIT STRING"
    return bits[1:]


# --- keys -----------------------------------------------------------------------

class Key:
    """A key pair in files (or an HMAC secret). kind: rsa, ec256, ec384,
    ed25519, hmac. pem: the private key's path; pub_pem: the public key's
    path; secret: the HMAC bytes (hmac) ; secret_path: where they are."""

    def __init__(self, kind, pem=None, pub_pem=None, secret=None, secret_path=None):
        self.kind = kind
        self.pem = pem
        self.pub_pem = pub_pem
        self.secret = secret
        self.secret_path = secret_path

    @classmethod
    def make(cls, kind, directory, name):
        base = os.path.join(directory, name)
        if kind == "hmac":
            # printable, no newline; 86 bytes: at least the output of
            # SHA-512, as RFC 7518 3.2 asks of HS512's key
            secret = b64u(os.urandom(64)).encode()
            with open(base + ".key", "wb") as f:
                f.write(secret)
            return cls(kind, secret=secret, secret_path=base + ".key")
        gen = {"rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
               "ec256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
               "ec384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
               "ed25519": ["-algorithm", "ED25519"]}[kind]
        pem, pub = base + ".pem", base + ".pub.pem"
        _openssl("genpkey", *gen, "-out", pem)
        _openssl("pkey", "-in", pem, "-pubout", "-out", pub)
        return cls(kind, pem=pem, pub_pem=pub)

    def pub_pem_bytes(self):
        with open(self.pub_pem, "rb") as f:
            return f.read()

    def _pub_der(self):
        return _openssl("pkey", "-pubin", "-in", self.pub_pem, "-outform", "DER")

    def jwk(self, kid):
        """The public JWK (the secret for hmac: kty oct)."""
        if self.kind == "hmac":
            return {"kty": "oct", "kid": kid, "k": b64u(self.secret)}
        if self.kind == "rsa":
            text = _openssl("rsa", "-pubin", "-in", self.pub_pem, "-noout", "-modulus").decode()
            n = bytes.fromhex(text.strip().split("=", 1)[1])
            txt = _openssl("pkey", "-pubin", "-in", self.pub_pem, "-noout", "-text").decode()
            exp = [ln for ln in txt.splitlines() if ln.strip().startswith("Exponent:")]
            e = int(exp[0].split()[1])
            eb = e.to_bytes((e.bit_length() + 7) // 8, "big")
            return {"kty": "RSA", "kid": kid, "n": b64u(n), "e": b64u(eb)}
        point = _spki_bit_string(self._pub_der())
        if self.kind in EC_SIZE:
            size = EC_SIZE[self.kind]
            assert point[0] == 4 and len(point) == 1 + 2 * size, "not an uncompressed point"
            return {"kty": "EC", "kid": kid, "crv": EC_CRV[self.kind],
                    "x": b64u(point[1:1 + size]), "y": b64u(point[1 + size:])}
        assert self.kind == "ed25519" and len(point) == 32
        return {"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(point)}


def write_jwks(path, entries):
    """A JWKS file of [(kid, Key)], replaced atomically."""
    doc = {"keys": [key.jwk(kid) for kid, key in entries]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)
    return doc


# --- signing --------------------------------------------------------------------

def _sign_file(args, data):
    with tempfile.NamedTemporaryFile(prefix="jws-") as f:
        f.write(data)
        f.flush()
        return _openssl(*args, f.name)


def sign(key, alg, data):
    """The JWS signature of data (bytes) by key with alg (RFC 7518)."""
    if alg.startswith("HS"):
        # a Key of kind hmac, or raw bytes (the algorithm-confusion token)
        secret = key if isinstance(key, (bytes, bytearray)) else key.secret
        return hmac.new(secret, data, HASHES[alg[2:]]).digest()
    if alg[:2] in ("RS", "PS"):
        args = ["dgst", "-sha" + alg[2:], "-sign", key.pem]
        if alg[:2] == "PS":
            args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
        return _sign_file(args, data)
    if alg[:2] == "ES":
        der = _sign_file(["dgst", "-sha" + alg[2:], "-sign", key.pem], data)
        return ecdsa_der_to_raw(der, EC_SIZE[key.kind])
    if alg == "EdDSA":
        return _sign_file(["pkeyutl", "-sign", "-inkey", key.pem, "-rawin", "-in"], data)
    raise ValueError("no such algorithm %r" % alg)


def mint(key, alg, claims, kid=None, header=None, sig=None, payload=None):
    """A compact JWS. key: a Key, or bytes used as an HMAC secret (the
    algorithm-confusion token), or None with alg "none" (empty signature).
    header: the whole header instead of {"alg", "typ", "kid"}; sig: these
    signature bytes instead of the real ones; payload: these bytes signed
    instead of claims as JSON (a well-signed token whose claims are not an
    object)."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
    head = b64u(json.dumps(header, separators=(",", ":")))
    body = b64u(payload if payload is not None else json.dumps(claims, separators=(",", ":")))
    data = ("%s.%s" % (head, body)).encode("ascii")
    if sig is None:
        sig = b"" if alg == "none" else sign(key, alg, data)
    return "%s.%s.%s" % (head, body, b64u(sig))


def flip_signature_byte(token, index=5):
    """The token with one byte of its signature changed."""
    head, body, sig = token.split(".")
    raw = bytearray(b64u_decode(sig))
    raw[index % len(raw)] ^= 0x01
    return "%s.%s.%s" % (head, body, b64u(bytes(raw)))


def verify(key, token):
    """Is token's signature good for key? (The independent check of the
    self-test: hmac, or the openssl CLI with the public key.)"""
    head, body, sig = token.split(".")
    alg = json.loads(b64u_decode(head))["alg"]
    data = ("%s.%s" % (head, body)).encode("ascii")
    sig = b64u_decode(sig)
    if alg.startswith("HS"):
        return hmac.compare_digest(sign(key, alg, data), sig)
    with tempfile.TemporaryDirectory(prefix="jwsv-") as d:
        dpath, spath = os.path.join(d, "data"), os.path.join(d, "sig")
        with open(dpath, "wb") as f:
            f.write(data)
        if alg[:2] == "ES":
            sig = ecdsa_raw_to_der(sig)
        with open(spath, "wb") as f:
            f.write(sig)
        if alg == "EdDSA":
            argv = ["pkeyutl", "-verify", "-pubin", "-inkey", key.pub_pem, "-rawin",
                    "-in", dpath, "-sigfile", spath]
        else:
            argv = ["dgst", "-sha" + alg[2:], "-verify", key.pub_pem, "-signature", spath]
            if alg[:2] == "PS":
                argv += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
            argv.append(dpath)
        r = subprocess.run([OPENSSL] + argv, capture_output=True, timeout=TIMEOUT)
        return r.returncode == 0


# --- self-test ------------------------------------------------------------------

def _self_test():
    if not shutil.which(OPENSSL):
        print("SKIP: openssl not installed")
        return 77
    failures = []

    def check(cond, what):
        print(("ok - " if cond else "not ok - ") + what, flush=True)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="jwtmint-") as d:
        keys = {k: Key.make(k, d, k) for k in ("hmac", "rsa", "ec256", "ec384", "ed25519")}
        claims = {"sub": "alice", "exp": 4102444800}
        for alg, kind in (("HS256", "hmac"), ("HS384", "hmac"), ("HS512", "hmac"),
                          ("RS256", "rsa"), ("RS384", "rsa"), ("RS512", "rsa"),
                          ("PS256", "rsa"), ("ES256", "ec256"), ("ES384", "ec384"),
                          ("EdDSA", "ed25519")):
            key = keys[kind]
            tok = mint(key, alg, claims, kid="k")
            parts = tok.split(".")
            check(len(parts) == 3 and all(p and "=" not in p for p in parts),
                  "%s: three base64url parts" % alg)
            check(json.loads(b64u_decode(parts[1])) == claims, "%s: claims round trip" % alg)
            if alg[:2] == "ES":
                check(len(b64u_decode(parts[2])) == 2 * EC_SIZE[kind], "%s: raw R||S" % alg)
            check(verify(key, tok), "%s: verifies" % alg)
            check(not verify(key, flip_signature_byte(tok)), "%s: flipped byte refused" % alg)
            other = dict(claims, sub="mallory")
            forged = ".".join(parts[:1] + [b64u(json.dumps(other))] + parts[2:])
            check(not verify(key, forged), "%s: changed claims refused" % alg)
        # PS256 is randomised: two signatures differ, both verify
        a, b = (mint(keys["rsa"], "PS256", claims) for _ in range(2))
        check(a != b and verify(keys["rsa"], a) and verify(keys["rsa"], b), "PS256: salted")
        # the JWKs: RSA's n is the modulus openssl prints; e = 65537
        jr = keys["rsa"].jwk("r")
        mod = _openssl("rsa", "-pubin", "-in", keys["rsa"].pub_pem, "-noout",
                       "-modulus").decode().strip().split("=")[1]
        check(b64u_decode(jr["n"]).hex().upper() == mod.upper() and jr["e"] == "AQAB",
              "RSA JWK n/e")
        je = keys["ec256"].jwk("e")
        check(len(b64u_decode(je["x"])) == 32 and len(b64u_decode(je["y"])) == 32
              and je["crv"] == "P-256", "EC JWK x/y")
        # x||y is the point openssl prints for the key
        txt = _openssl("pkey", "-pubin", "-in", keys["ec256"].pub_pem, "-noout", "-text").decode()
        hexpt = "".join(ln.strip() for ln in txt.splitlines()
                        if ln.startswith("    ")).replace(":", "")
        check(hexpt == "04" + (b64u_decode(je["x"]) + b64u_decode(je["y"])).hex(),
              "EC JWK matches openssl's point")
        jo = keys["ed25519"].jwk("o")
        check(jo["kty"] == "OKP" and len(b64u_decode(jo["x"])) == 32, "OKP JWK x")
        check(b64u_decode(keys["hmac"].jwk("h")["k"]) == keys["hmac"].secret, "oct JWK k")
        check(api_key_digest("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb"
              "410ff61f20015ad", "API key digest")
        none = mint(None, "none", claims)
        check(none.endswith(".") and none.count(".") == 2, "alg none: empty signature")
    print("# %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_self_test())

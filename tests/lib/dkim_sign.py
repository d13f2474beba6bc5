#!/usr/bin/python3
"""dkim_sign.py - sign a message with python3-dkim (dkimpy), the
independent signer of the DKIM tests.

Reads the message on standard input, writes it on standard output with
one DKIM-Signature field added on top.  Beyond Debian's `dkimsign` it
sets l= (--length), h= (--headers) and, with --raw, lets through what
dkimpy's sign() refuses (h= without From, i= outside d=) so that the
attack cases can be produced: the hashing, canonicalization and RSA or
ed25519 signing are still dkimpy's own.

usage: dkim_sign.py SELECTOR DOMAIN KEYFILE [--alg rsa-sha256|rsa-sha1|
       ed25519-sha256] [--canon relaxed/simple] [--length]
       [--headers from:to:subject] [--identity I] [--raw] [--count N]

--count N adds N signatures, each on top of the previous ones.
"""
import argparse
import sys
import time

import dkim
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key

try:
    import nacl.signing
    import nacl.encoding
except ImportError:  # only needed for ed25519
    nacl = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("selector")
    ap.add_argument("domain")
    ap.add_argument("keyfile")
    ap.add_argument("--alg", default="rsa-sha256")
    ap.add_argument("--canon", default="relaxed/simple")
    ap.add_argument("--length", action="store_true")
    ap.add_argument("--headers", default="from:to:subject:date:message-id")
    ap.add_argument("--identity")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--count", type=int, default=1)
    a = ap.parse_args()

    msg = sys.stdin.buffer.read()
    key = open(a.keyfile, "rb").read()
    alg = a.alg.encode()
    hc, bc = a.canon.encode().split(b"/")
    heads = [h.strip().encode() for h in a.headers.split(":") if h.strip()]
    sel, dom = a.selector.encode(), a.domain.encode()
    ident = a.identity.encode() if a.identity else None

    for _ in range(a.count):
        d = dkim.DKIM(msg, signature_algorithm=alg, linesep=b"\n")
        if not a.raw:
            sig = d.sign(sel, dom, key, identity=ident,
                         canonicalize=(hc, bc), include_headers=heads,
                         length=a.length)
        else:
            sig = raw_sign(d, sel, dom, key, alg, ident, hc, bc, heads,
                           a.length)
        msg = sig + msg
    sys.stdout.buffer.write(msg)


def raw_sign(d, sel, dom, key, alg, ident, hc, bc, heads, length):
    """dkimpy's sign() without its parameter checks."""
    if alg == b"ed25519-sha256":
        pk = nacl.signing.SigningKey(key, encoder=nacl.encoding.Base64Encoder)
    else:
        pk = parse_pem_private_key(key)
    policy = CanonicalizationPolicy.from_c_value(hc + b"/" + bc)
    body = policy.canonicalize_body(d.body)
    d.hasher = dkim.HASH_ALGORITHMS[alg]
    h = d.hasher()
    h.update(body)
    import base64
    fields = [x for x in [
        (b"v", b"1"),
        (b"a", alg),
        (b"c", policy.to_c_value()),
        (b"d", dom),
        (b"i", ident or b"@" + dom),
        length and (b"l", str(len(body)).encode()),
        (b"q", b"dns/txt"),
        (b"s", sel),
        (b"t", str(int(time.time())).encode()),
        (b"h", b" : ".join(heads)),
        (b"bh", base64.b64encode(h.digest())),
        (b"b", b"0" * 60),
    ] if x]
    res = d.gen_header(fields, tuple(heads), policy, b"DKIM-Signature", pk)
    return b"DKIM-Signature: " + res


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""milter_corpus.py — write the seed corpus of fuzz_milter_engine: milter
conversations as Postfix (milter8.c, protocol 6) sends them, plus the
out-of-order and malformed cases of issue 3 item 7.

Run from the source root:  python3 tests/fuzz/milter_corpus.py
(writes tests/fuzz/corpus/fuzz_milter_engine/*).
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "fuzz_milter_engine")

# Postfix 3.7 offers every action and these steps (SMFIP_* of protocol 6).
ACTIONS = 0x1ff
STEPS = 0x1fffff


def pkt(cmd, data=b""):
    """One packet: 4-byte length, command, data."""
    return struct.pack(">I", 1 + len(data)) + cmd + data


def z(*parts):
    """NUL-terminated strings, concatenated."""
    return b"".join(p + b"\0" for p in parts)


def macros(cmd, *pairs):
    """A 'D' packet: the macros of command CMD."""
    return pkt(b"D", cmd + z(*pairs))


def optneg(version=6, actions=ACTIONS, steps=STEPS):
    return pkt(b"O", struct.pack(">III", version, actions, steps))


def connect(host=b"mail.example.com", addr=b"192.0.2.7", port=41234,
            fam=b"4"):
    return (macros(b"C", b"j", b"mx.test", b"{daemon_name}", b"smtpd",
                   b"{client_addr}", addr, b"{client_name}", host)
            + pkt(b"C", z(host) + fam + struct.pack(">H", port)
                  + z(addr)))


def message(sender=b"<alice@example.com>", rcpts=(b"<bob@test>",),
            headers=((b"From", b" alice@example.com"),
                     (b"Subject", b" hello"),
                     (b"Authentication-Results", b" mx.test; spf=pass")),
            body=b"Hello Bob.\r\n", qid=b"4XyZ1"):
    s = macros(b"M", b"i", qid, b"{auth_authen}", b"", b"{mail_addr}",
               sender.strip(b"<>"))
    s += pkt(b"M", z(sender, b"SIZE=100"))
    for r in rcpts:
        s += macros(b"R", b"{rcpt_addr}", r.strip(b"<>"))
        s += pkt(b"R", z(r))
    s += macros(b"T") + pkt(b"T")
    for n, v in headers:
        s += macros(b"L") + pkt(b"L", z(n, v))
    s += macros(b"N", b"i", qid) + pkt(b"N")
    if body:
        s += pkt(b"B", body)
    s += macros(b"E") + pkt(b"E")
    return s


def session(*msgs, helo=b"client.example"):
    s = optneg() + connect()
    s += macros(b"H", b"{tls_version}", b"TLSv1.3", b"{cipher}",
                b"TLS_AES_256_GCM_SHA384") + pkt(b"H", z(helo))
    for m in msgs:
        s += m
    return s + pkt(b"Q")


SEEDS = {
    "normal": session(message()),
    "two-messages": session(message(), pkt(b"A") + message(
        sender=b"<>", rcpts=(b"<a@test>", b"<b@test>"), body=b"")),
    "reject-mail": session(message(sender=b"<reject@example.com>")),
    "tempfail-rcpt": session(message(rcpts=(b"<tempfail@test>",
                                            b"<ok@test>"))),
    "discard-helo": session(message(), helo=b"discard.example"),
    "spam-tag": session(message(qid=b"tag1"), helo=b"spam.example"),
    "accept": session(message(sender=b"<accept@example.com>")),
    "filter-error-eom": session(message(qid=b"error")),
    "ipv6-unknown": (optneg() + connect(addr=b"IPv6:2001:db8::1", fam=b"6")
                     + pkt(b"C", z(b"localhost") + b"U")
                     + message() + pkt(b"Q")),
    "quit-nc": (session(message())[:-5] + pkt(b"K") + connect()
                + message(qid=b"again") + pkt(b"Q")),
    "abort-in-headers": (optneg() + connect() + pkt(b"H", z(b"x"))
                         + message()[:200] + pkt(b"A") + message()
                         + pkt(b"Q")),
    "mail-without-connect": message() + pkt(b"Q"),
    "body-without-headers": (optneg() + connect() + pkt(b"M", z(b"<a@b>"))
                             + pkt(b"R", z(b"<c@d>")) + pkt(b"B", b"x" * 300)
                             + pkt(b"E", b"last chunk") + pkt(b"Q")),
    "old-version-nosymlist": (optneg(2, 0x3f, 0x7f) + connect()
                              + message() + pkt(b"Q")),
    "no-header-actions": optneg(6, 0x1, 0) + connect() + message(),
    "truncated": session(message())[:-40],
    "bad-macros": (optneg() + pkt(b"D", b"C{client_addr}\0noterm")
                   + pkt(b"D", b"Z") + pkt(b"D") + connect()
                   + pkt(b"U", z(b"XFOO")) + message() + pkt(b"Q")),
    "bad-length": optneg() + connect() + struct.pack(">I", 0x7fffffff) + b"B",
    "zero-length": optneg() + struct.pack(">I", 0) + connect(),
    "unknown-command": optneg() + connect() + pkt(b"Z", b"zz"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

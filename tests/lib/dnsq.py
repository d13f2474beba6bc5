#!/usr/bin/env python3
"""Minimal DNS client for the integration harness (python3 stdlib only).

Usage: dnsq.py [-t TIMEOUT] [--tcp] SERVER PORT NAME [TYPE]

Sends one query (RD set) to SERVER:PORT and prints, dig-like:
    status NOERROR
    example.test. 3600 TXT "v=spf1 -all"
Exit status: 0 on any reply (check the status line), 2 on timeout or
network error, 1 on bad usage or a malformed reply.  TXT character-strings
are printed as separate quoted strings, as dig does.
"""
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28, "SRV": 33, "ANY": 255}
RTYPES = {v: k for k, v in TYPES.items()}
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]


def encode_name(name):
    """Return NAME in wire format."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            if len(raw) > 63:
                raise ValueError("label too long")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(msg, off, depth=0):
    """Return (name, offset after the name) at OFF, following pointers."""
    labels = []
    end = None
    while True:
        if depth > 20 or off >= len(msg):
            raise ValueError("bad name")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack("!H", msg[off:off + 2])[0] & 0x3FFF
            if end is None:
                end = off + 2
            off = ptr
            depth += 1
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels) + ".", (end if end is not None else off)


def quote(b):
    """Return the character-string B quoted like dig."""
    s = ""
    for c in b:
        if c in (0x22, 0x5C):
            s += "\\" + chr(c)
        elif 0x20 <= c < 0x7F:
            s += chr(c)
        else:
            s += "\\%03d" % c
    return '"' + s + '"'


def rdata_text(msg, rtype, off, rdlen):
    """Return the presentation form of one RDATA."""
    rd = msg[off:off + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype in (2, 5, 12):
        return decode_name(msg, off)[0]
    if rtype == 15:
        return "%d %s" % (struct.unpack("!H", rd[:2])[0],
                          decode_name(msg, off + 2)[0])
    if rtype == 16:
        parts, i = [], 0
        while i < len(rd):
            n = rd[i]
            parts.append(quote(rd[i + 1:i + 1 + n]))
            i += 1 + n
        return " ".join(parts)
    return "\\# %d %s" % (rdlen, rd.hex())


def query(server, port, name, qtype, timeout, tcp):
    """Send the query and return the raw reply."""
    qid = random.randrange(65536)
    pkt = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    pkt += encode_name(name) + struct.pack("!HH", qtype, 1)
    if tcp:
        with socket.create_connection((server, port), timeout) as s:
            s.sendall(struct.pack("!H", len(pkt)) + pkt)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(
                    "!H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    raise OSError("short TCP reply")
                buf += chunk
            reply = buf[2:]
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((server, port))
            s.send(pkt)
            while True:
                reply = s.recv(65535)
                if len(reply) >= 12 and struct.unpack(
                        "!H", reply[:2])[0] == qid:
                    break
    return reply


def main(argv):
    """Parse arguments, query, print."""
    timeout, tcp = 2.0, False
    args = argv[1:]
    while args and args[0].startswith("-"):
        if args[0] == "-t" and len(args) > 1:
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--tcp":
            tcp = True
            args = args[1:]
        else:
            break
    if len(args) not in (3, 4):
        sys.stderr.write(__doc__)
        return 1
    server, port, name = args[0], int(args[1]), args[2]
    tname = args[3].upper() if len(args) == 4 else "A"
    qtype = TYPES.get(tname) or (int(tname[4:]) if tname.startswith("TYPE")
                                 else None)
    if qtype is None:
        sys.stderr.write("dnsq: unknown type %s\n" % tname)
        return 1
    try:
        reply = query(server, port, name, qtype, timeout, tcp)
    except (OSError, socket.timeout) as e:
        sys.stderr.write("dnsq: %s:%d: %s\n" % (server, port, e))
        return 2
    try:
        _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", reply[:12])
        rcode = flags & 0xF
        print("status", RCODES[rcode] if rcode < len(RCODES) else rcode)
        off = 12
        for _ in range(qd):
            off = decode_name(reply, off)[1] + 4
        for _ in range(an):
            rname, off = decode_name(reply, off)
            rtype, _, ttl, rdlen = struct.unpack("!HHIH", reply[off:off + 10])
            off += 10
            print(rname, ttl, RTYPES.get(rtype, "TYPE%d" % rtype),
                  rdata_text(reply, rtype, off, rdlen))
            off += rdlen
    except (ValueError, struct.error, IndexError) as e:
        sys.stderr.write("dnsq: malformed reply: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

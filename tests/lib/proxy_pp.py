#!/usr/bin/env python3
"""proxy_pp.py GROUP — gatehouse proxy before the banner, against the
scripted backend with raw-socket clients.  Groups:
  proxyproto  PROXY protocol v1/v2 on the listener (proxy_protocol)
  refused     the chain refusing at CONNECT (554 then 503, 421)
Exit 0 when all pass.
"""
import os
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxytest import (Backend, Client, Gatehouse, GATEHOUSE, check,  # noqa
                       message, run, tmpdir)

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PP = ("proxy_protocol=yes", "proxy_networks=127.0.0.0/8")


def v1(src, sport=4444, dst="127.0.0.1", dport=25, fam="TCP4"):
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, sport=4444, dst="127.0.0.1", dport=25, local=False, tlv=b""):
    """A PROXY v2 header (TCP over IPv4 or IPv6, or LOCAL)."""
    if local:
        return V2SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    if ":" in src:
        dst = "::1" if dst == "127.0.0.1" else dst
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack("!HH", sport, dport))
        fam = 0x21
    else:
        body = (socket.inet_aton(src) + socket.inet_aton(dst) +
                struct.pack("!HH", sport, dport))
        fam = 0x11
    body += tlv
    return V2SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def connect(port, bind="127.0.0.1"):
    s = socket.socket()
    s.bind((bind, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    c = Client.__new__(Client)
    c.s, c.buf = s, b""
    return c


def session(gh, header, helo="client.example", bind="127.0.0.1",
            split=False):
    """Header, banner, EHLO, one message, QUIT; return the client."""
    c = connect(gh.port, bind)
    if split:           # one byte per segment
        for i in range(len(header)):
            c.send(header[i:i + 1])
            time.sleep(0.002)
    else:
        c.send(header)
    code, lines = c.reply()
    check(code == 220, f"banner after the header: {lines[0]}")
    c.cmd("EHLO " + helo)
    codes = [c.cmd("MAIL FROM:<a@example.org>")[0],
             c.cmd("RCPT TO:<b@example.net>")[0], c.cmd("DATA")[0]]
    c.send(message() + ".\r\n")
    codes.append(c.reply()[0])
    check(codes == [250, 250, 354, 250], f"message relayed {codes}")
    c.cmd("QUIT")
    c.close()
    return c


def refused_no_banner(c, what):
    """The server closes without a byte."""
    c.s.settimeout(5)
    try:
        data = c.s.recv(1000)
    except OSError:
        data = b""
    check(data == b"", f"{what}: closed without a banner ({data[:40]!r})")
    c.close()


def xclients(be):
    return [x for x in be.commands() if x.startswith("XCLIENT")]


def test_proxy_v1_v2():
    be = Backend("--xclient")
    gh = Gatehouse(be.port, *PP, "client_name_lookup=no",
                   "backend.pool_size=0")
    session(gh, v1("192.0.2.7", 4444))
    session(gh, v2("192.0.2.8", 5555))
    session(gh, v2("2001:db8::9", 6666))
    session(gh, v1("2001:db8::10", 7777, "::1", 25, "TCP6"))
    session(gh, v2("192.0.2.11", 1111), split=True)
    session(gh, v2("192.0.2.12", 1212, tlv=b"\x04\x00\x03abc"))
    session(gh, v2(None, local=True))
    session(gh, b"PROXY UNKNOWN\r\n")
    time.sleep(0.3)
    xc = xclients(be)
    want = ["ADDR=192.0.2.7 PORT=4444", "ADDR=192.0.2.8 PORT=5555",
            "ADDR=IPV6:2001:db8::9 PORT=6666",
            "ADDR=IPV6:2001:db8::10 PORT=7777",
            "ADDR=192.0.2.11 PORT=1111", "ADDR=192.0.2.12 PORT=1212",
            "ADDR=127.0.0.1 PORT=", "ADDR=127.0.0.1 PORT="]
    what = ["v1 TCP4", "v2 TCP4", "v2 TCP6", "v1 TCP6",
            "v2 split into 1-byte segments", "v2 with a TLV",
            "v2 LOCAL keeps the peer", "v1 UNKNOWN keeps the peer"]
    check(len(xc) == len(want), f"{len(xc)} XCLIENT for {len(want)}")
    for w, x, n in zip(want, xc, what):
        check(w in x, f"{n}: XCLIENT {x}")
    log = gh.logtext()
    check('message client="192.0.2.7"' in log and
          'message client="2001:db8::9"' in log,
          "the log lines name the header's client")
    check("PROXY header refused" in log and
          "closed before a PROXY header" in log,
          "the port probe (no header) is logged as refused")


def test_proxy_pipelined_and_timeout():
    be = Backend("--xclient")
    gh = Gatehouse(be.port, *PP, "client_name_lookup=no",
                   "proxy_protocol_timeout=1s")
    # header and EHLO in one segment: the EHLO is kept for the session
    c = connect(gh.port)
    c.send(v1("192.0.2.20") + b"EHLO early.example\r\n")
    check(c.reply()[0] == 220, "banner first")
    check(c.reply()[0] == 250, "then the early EHLO's reply")
    c.cmd("QUIT")
    c.close()
    # nothing at all: closed at proxy_protocol_timeout, no banner
    t0 = time.time()
    c = connect(gh.port)
    refused_no_banner(c, "no header")
    dt = time.time() - t0
    check(0.8 < dt < 4, f"closed after the 1s header timeout ({dt:.1f}s)")
    # half a header, then silence
    c = connect(gh.port)
    c.send(b"PROXY TCP4 192.0.2.")
    refused_no_banner(c, "half a v1 header")
    time.sleep(0.2)
    check(gh.logtext().count("no PROXY header in time") == 2,
          "both timeouts logged")
    # a header dribbled a byte at a time: the timeout is for the whole
    # header, not renewed by every byte (a slow client holds no slot)
    c = connect(gh.port)
    t0 = time.time()
    closed_at, data = None, b""
    for b in v1("192.0.2.21")[:12]:
        try:
            c.s.send(bytes([b]))
        except OSError:
            closed_at = time.time()
            break
        r, _, _ = select.select([c.s], [], [], 0.3)
        if r:
            try:
                data = c.s.recv(1000)
            except OSError:
                data = b""
            closed_at = time.time()
            break
    if closed_at is None:
        refused_no_banner(c, "a dribbled header")
        closed_at = time.time()
    else:
        c.close()
    dt = closed_at - t0
    check(data == b"", f"a dribbled header gets no banner ({data[:40]!r})")
    check(dt < 2.5, f"a dribbled header closed at the 1s timeout "
          f"({dt:.1f}s)")
    time.sleep(0.2)
    check(gh.logtext().count("no PROXY header in time") == 3,
          "the dribbled header's timeout logged")


def test_proxy_malformed():
    be = Backend("--xclient")
    gh = Gatehouse(be.port, *PP, "client_name_lookup=no")
    bad = [b"EHLO client.example\r\n",
           b"PROXY TCP4 192.0.2.1 127.0.0.1 1 25\n",
           b"PROXY TCP4 192.0.2.300 127.0.0.1 1 25\r\n",
           b"PROXY TCP4 1.2.3.4\x1b[31m 127.0.0.1 1 25\r\n",
           b"PROXY " + b"A" * 200 + b"\r\n",
           V2SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12,    # version 3
           V2SIG + b"\x21\x11\x00\x04" + b"\x00" * 4,     # block short
           V2SIG + b"\x21\x11\xff\xff"]                   # too long
    for b in bad:
        c = connect(gh.port)
        c.send(b)
        refused_no_banner(c, f"malformed header {b[:24]!r}")
    time.sleep(0.2)
    log = gh.logtext()
    check(log.count("PROXY header refused") >= len(bad),
          "every refusal logged")
    check("\\x1b[31m" in log and "\x1b" not in log,
          "the bytes that came are quoted escaped in the log")
    check('no PROXY protocol header: "EHLO client.example\\r\\n"' in log,
          "a plain SMTP client is named in the log")
    check(be.commands().count("MAIL FROM:<a@example.org>") == 0,
          "nothing reached the backend")
    check(gh.alive(), "still running")


def test_proxy_outside_networks():
    """Headers from a peer outside proxy_networks are refused."""
    be = Backend("--xclient")
    gh = Gatehouse(be.port, "proxy_protocol=yes",
                   "proxy_networks=127.0.0.9/32", "client_name_lookup=no")
    for name, h in (("v1", v1("192.0.2.30")), ("v2", v2("192.0.2.31"))):
        c = connect(gh.port, "127.0.0.1")
        try:
            c.send(h)
        except OSError:
            pass
        refused_no_banner(c, f"{name} header from 127.0.0.1")
    session(gh, v2("192.0.2.32"), bind="127.0.0.9")
    time.sleep(0.2)
    log = gh.logtext()
    check(log.count("PROXY header refused peer=127.0.0.1: peer outside "
                    "proxy_networks") >= 2, "the refusals are logged")
    xc = xclients(be)
    check(len(xc) == 1 and "ADDR=192.0.2.32" in xc[0],
          "only the balancer's client reached the backend")


def test_proxy_client_limit():
    """max_connections_per_client counts the header's client."""
    be = Backend("--xclient")
    gh = Gatehouse(be.port, *PP, "client_name_lookup=no",
                   "smtp.max_connections_per_client=1")
    a = connect(gh.port)
    a.send(v1("192.0.2.40"))
    check(a.reply()[0] == 220, "first session of 192.0.2.40")
    b = connect(gh.port)
    b.send(v2("192.0.2.40"))
    code, lines = b.reply()
    check(code == 421 and "too many connections" in lines[0],
          "a second one from the same client: " + lines[0])
    b.close()
    c = connect(gh.port)
    c.send(v2("192.0.2.41"))
    check(c.reply()[0] == 220,
          "another client through the same balancer is served")
    for x in (a, c):
        x.cmd("QUIT")
        x.close()
    time.sleep(0.2)
    d = connect(gh.port)
    d.send(v1("192.0.2.40"))
    check(d.reply()[0] == 220, "the count went when the session ended")
    d.close()
    check('too many connections client=192.0.2.40' in gh.logtext(),
          "logged with the header's client")


def test_proxy_rules_and_check():
    """Rules see the header's client; `check` wants proxy_networks."""
    rules = os.path.join(tmpdir(), "pp.rules")
    with open(rules, "w") as f:
        f.write('client T_PP_BAD /\\[192\\.0\\.2\\.66\\]$/\n'
                'action T_PP_BAD reject "554 5.7.1 Your network is '
                'blocked"\n')
    be = Backend("--xclient")
    gh = Gatehouse(be.port, *PP, "client_name_lookup=no", "rules=" + rules)
    c = connect(gh.port)
    c.send(v1("192.0.2.66"))
    code, lines = c.reply()
    check(code == 554, "a client rule matches the header's address: " +
          lines[0])
    c.close()
    r = subprocess.run([GATEHOUSE, "-c", "/dev/null", "-o",
                        "proxy_protocol=yes", "-o", "rules=", "check"],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "proxy_networks" in r.stderr,
          "check: proxy_protocol without proxy_networks is an error: " +
          r.stderr.strip())
    r = subprocess.run([GATEHOUSE, "-c", "/dev/null", "-o",
                        "proxy_protocol=yes", "-o",
                        "proxy_networks=10.0.0.0/8", "-o", "rules=",
                        "check"], capture_output=True, text=True)
    check(r.returncode == 0, "check: with proxy_networks it is valid")


# ------------------------------------------------------------- refused

REFUSE_RULES = r"""
client   T_NO_BAD   /\[127\.0\.0\.9\]$/
action   T_NO_BAD   reject "554 5.7.1 Your network is blocked"
client   T_NO_LATER /\[127\.0\.0\.10\]$/
action   T_NO_LATER tempfail "451 4.7.1 Try again later"
"""


def test_connect_refused():
    rules = os.path.join(tmpdir(), "refuse.rules")
    with open(rules, "w") as f:
        f.write(REFUSE_RULES)
    be = Backend("--xclient")
    gh = Gatehouse(be.port, "rules=" + rules, "client_name_lookup=no")
    c = connect(gh.port, "127.0.0.9")
    code, lines = c.reply()
    check(code == 554 and "Your network is blocked" in lines[0],
          "554 in place of the greeting: " + lines[0])
    for cmd in ("EHLO client.example", "MAIL FROM:<a@example.org>"):
        code, lines = c.cmd(cmd)
        check(code == 503, f"{cmd.split()[0]} gets 503: {lines[0]}")
    code, _ = c.cmd("QUIT")
    check(code == 221 and c.closed(), "QUIT gets 221 and the close")
    # pipelined, then the small error limit: 421 and close
    c = connect(gh.port, "127.0.0.9")
    c.reply()
    c.send("EHLO a\r\nNOOP\r\nRSET\r\nHELO b\r\nQUIT\r\n")
    codes = [c.reply()[0] for _ in range(3)]
    check(codes[:2] == [503, 503] and codes[2] == 503,
          f"503 to each pipelined command {codes}")
    code, lines = c.reply()
    check(code == 421 and c.closed(),
          "the error limit ends it with 421: " + lines[0])
    # idle: the session ends at the idle timeout
    gh2 = Gatehouse(be.port, "rules=" + rules, "client_name_lookup=no",
                    "smtp.idle_timeout=1s")
    c = connect(gh2.port, "127.0.0.9")
    c.reply()
    t0 = time.time()
    code, lines = c.reply()
    check(code == 421 and c.closed() and time.time() - t0 < 5,
          "silence ends at the idle timeout: " + lines[0])
    # tempfail at CONNECT: 421 and the channel closes (RFC 5321 3.8)
    c = connect(gh.port, "127.0.0.10")
    code, lines = c.reply()
    check(code == 421 and "4.7.1" in lines[0] and c.closed(),
          "tempfail at CONNECT: 421 and close: " + lines[0])
    time.sleep(0.2)
    check(not be.commands() or all("MAIL" not in x for x in be.commands()),
          "the backend never saw these clients")
    check("refused at connect client=127.0.0.9" in gh.logtext(),
          "the refusal is logged")


GROUPS = {
    "proxyproto": [test_proxy_v1_v2, test_proxy_pipelined_and_timeout,
                   test_proxy_malformed, test_proxy_outside_networks,
                   test_proxy_client_limit, test_proxy_rules_and_check],
    "refused": [test_connect_refused],
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(GROUPS)
    run([t for n in names for t in GROUPS[n]])

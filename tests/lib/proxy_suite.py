#!/usr/bin/env python3
"""proxy_suite.py GROUP — gatehouse proxy behaviour against a scripted
backend, with raw-socket clients.  Groups: relay, smuggling, limits,
failures, disconnects, lifecycle, xforward.  Exit 0 when all pass.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxytest import (Backend, Client, Gatehouse, check, message,  # noqa
                       run, tmpdir, free_port)


def transaction(c, mail="<a@example.org>", rcpts=("<b@example.net>",)):
    """MAIL and RCPTs; return the codes."""
    codes = [c.cmd("MAIL FROM:" + mail)[0]]
    for r in rcpts:
        codes.append(c.cmd("RCPT TO:" + r)[0])
    return codes


# ---------------------------------------------------------------- relay

def test_relay_basic():
    be = Backend("--xclient")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello("client.example")
    check(transaction(c) == [250, 250], "MAIL and RCPT relayed with 250")
    check(c.cmd("DATA")[0] == 354, "DATA gets 354")
    c.send(message(body="..leading dot\r\nplain\r\n") + ".\r\n")
    code, lines = c.reply()
    check(code == 250 and "queued as FAKE" in lines[0],
          "the backend's own 250 reaches the client: " + lines[0])
    # a second transaction on the same session, after RSET
    check(transaction(c)[0] == 250, "second MAIL")
    check(c.cmd("RSET")[0] == 250, "RSET")
    check(transaction(c) == [250, 250], "third transaction")
    check(c.cmd("DATA")[0] == 354, "DATA again")
    c.send(message("two") + ".\r\n")
    check(c.reply()[0] == 250, "second message accepted")
    check(c.cmd("QUIT")[0] == 221, "QUIT")
    c.close()
    time.sleep(0.2)
    msgs = be.messages()
    check(len(msgs) == 2, f"backend got 2 messages ({len(msgs)})")
    check(b"\r\n.leading dot\r\n" in msgs[0]["data"],
          "dot-stuffing undone then redone: backend sees '.leading dot'")
    cmds = be.commands()
    xc = [x for x in cmds if x.startswith("XCLIENT")]
    check(len(xc) == 1 and "ADDR=127.0.0.1" in xc[0] and
          "HELO=client.example" in xc[0] and "PROTO=ESMTP" in xc[0],
          "XCLIENT once with the real client: " + (xc[0] if xc else "-"))
    i = cmds.index(xc[0]) if xc else -1
    check(i >= 0 and cmds[i + 1] == "EHLO client.example",
          "EHLO again after XCLIENT, with the client's HELO")
    check(any(m["mail"] == "MAIL FROM:<a@example.org>" for m in msgs),
          "envelope relayed")


def test_bdat():
    """CHUNKING offered: the message goes by BDAT, length-delimited."""
    be = Backend("--chunking")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello()
    body = "..dot line\r\nplain\r\n"
    for subject in ("one", "two"):
        transaction(c)
        c.cmd("DATA")
        c.send(message(subject, body + ("x" * 70 + "\r\n") * 1000) +
               ".\r\n")
        code, lines = c.reply()
        check(code == 250 and "FAKEBDAT" in lines[0],
              "the backend's BDAT reply reaches the client: " + lines[0])
    c.cmd("QUIT")
    time.sleep(0.2)
    msgs = be.messages()
    check(len(msgs) == 2 and all(m.get("bdat") for m in msgs),
          "both messages went by BDAT")
    check(all(b"\r\n.dot line\r\n" in m["data"] for m in msgs),
          "no dot-stuffing inside BDAT: the line is '.dot line'")
    check(not any(x == "DATA" for x in be.commands()), "no DATA command")
    be2 = Backend("--chunking", "--reply", "dot=452")
    gh2 = Gatehouse(be2.port)
    check(one_message(gh2) == [250, 250, 354, 452],
          "a 4xx to BDAT LAST is relayed")
    be3 = Backend("--chunking")
    gh3 = Gatehouse(be3.port, "backend.chunking=no")
    one_message(gh3)
    time.sleep(0.2)
    check("DATA" in be3.commands() and
          not any(m.get("bdat") for m in be3.messages()),
          "backend.chunking=no: DATA even when CHUNKING is offered")


def test_backend_pool():
    """Idle backend connections serve the next session, XCLIENT again."""
    for size, want, opt in (("16", 1, "--xclient"), ("0", 3, "--xclient"),
                            ("16", 3, "--xclient-once")):
        be = Backend(opt)
        gh = Gatehouse(be.port, "backend.pool_size=" + size)
        for i in range(3):
            c = Client(gh.port)
            c.hello(f"client{i}.example")
            transaction(c)
            c.cmd("DATA")
            c.send(message() + ".\r\n")
            c.reply()
            c.cmd("QUIT")
            c.close()
            time.sleep(0.1)
        ents = be.entries()
        conns = {e["conn"] for e in ents if e.get("cmd", "").startswith(
            "MAIL")}
        xc = [e["cmd"] for e in ents if e.get("cmd", "").startswith(
            "XCLIENT")]
        check(len(conns) == want, f"pool_size={size} {opt}: {len(conns)} "
              f"backend connection(s) for 3 sessions")
        check(len(xc) == 3 and all(f"HELO=client{i}.example" in xc[i]
                                   for i in range(3)),
              f"pool_size={size} {opt}: each session announced with "
              "XCLIENT")
        check(len(be.messages()) == 3, "all delivered")
        gh.stop()
        be.stop()


def test_backend_pool_surplus():
    """Beyond pool_size, an idle connection is kept briefly while other
    sessions are open (the next one takes it), then QUIT after ~1 s."""
    be = Backend("--xclient")
    gh = Gatehouse(be.port, "backend.pool_size=1")
    cs = {n: Client(gh.port) for n in "ABCDE"}
    for n, c in cs.items():
        c.hello(f"client{n}.example")

    def deliver(c):
        transaction(c)
        c.cmd("DATA")
        c.send(message() + ".\r\n")
        return c.reply()[0]

    def conns():
        return {e["conn"] for e in be.entries()
                if e.get("cmd", "").startswith("MAIL")}

    def quits():
        return [e["conn"] for e in be.entries() if e.get("cmd") == "QUIT"]

    # A and B in transactions at once: two backend connections.
    transaction(cs["A"])
    check(deliver(cs["B"]) == 250, "B delivered")
    cs["A"].cmd("DATA")
    cs["A"].send(message() + ".\r\n")
    check(cs["A"].reply()[0] == 250, "A delivered")
    for n in "AB":
        cs[n].cmd("QUIT")
        cs[n].close()
    time.sleep(0.2)
    # Both are idle now, one beyond pool_size=1: C and D take both.
    transaction(cs["C"])
    check(deliver(cs["D"]) == 250, "D delivered")
    cs["C"].cmd("DATA")
    cs["C"].send(message() + ".\r\n")
    check(cs["C"].reply()[0] == 250, "C delivered")
    check(len(conns()) == 2, f"4 sessions, 2 at a time, pool_size=1: "
          f"{len(conns())} backend connections (want 2)")
    for n in "CD":
        cs[n].cmd("QUIT")
        cs[n].close()
    time.sleep(0.3)
    check(quits() == [], f"both kept while E is open: QUIT on {quits()}")
    time.sleep(1.2)
    check(len(quits()) == 1, f"the surplus one QUIT after ~1 s: {quits()}")
    check(deliver(cs["E"]) == 250 and len(conns()) == 2,
          "E served by the one kept within pool_size")
    cs["E"].cmd("QUIT")
    cs["E"].close()
    check(len(be.messages()) == 5, "all delivered")
    gh.stop()
    be.stop()


def test_large_pipelined():
    """Messages far beyond one 4 KB read, and beyond the 1 MB read
    buffer, sent with what follows them in one go: every byte reaches
    the backend once, in its message, dot-stuffing undone."""
    be = Backend("--xclient")
    gh = Gatehouse(be.port, "data.memory_max=65536")
    bodies = []
    for size in (4225 - 80, 150000, 2500000):
        lines, n = [], 0
        while n < size:
            l = (".." if len(lines) % 37 == 0 else "") + \
                f"{len(lines):06d}" + "x" * 60
            lines.append(l)
            n += len(l) + 2
        bodies.append("\r\n".join(lines) + "\r\n")
    c = Client(gh.port, timeout=30)
    c.hello()
    blob = ""
    for i, b in enumerate(bodies):
        blob += (f"MAIL FROM:<a{i}@example.org>\r\nRCPT TO:<b@example.net>"
                 f"\r\nDATA\r\n" + message(f"big{i}", b) + ".\r\n")
    c.send(blob + "QUIT\r\n")
    codes = [c.reply()[0] for _ in range(4 * len(bodies) + 1)]
    check(codes == [250, 250, 354, 250] * len(bodies) + [221],
          f"replies in order: {codes}")
    msgs = be.messages()
    check(len(msgs) == len(bodies), f"{len(msgs)} messages at the backend")
    for i, (m, b) in enumerate(zip(msgs, bodies)):
        want = b.replace("\r\n..", "\r\n.").encode()
        if want.startswith(b".."):
            want = want[1:]
        check(m["mail"] == f"MAIL FROM:<a{i}@example.org>" and
              m["data"].endswith(b"\r\n\r\n" + want) and
              f"Subject: big{i}".encode() in m["data"],
              f"message {i} ({len(b)} bytes) intact at the backend")
    gh.stop()
    be.stop()


def test_xforward_to_backend():
    be = Backend()      # offers XFORWARD only
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello("helo.example")
    for _ in range(2):
        transaction(c)
        c.cmd("DATA")
        c.send(message() + ".\r\n")
        c.reply()
    c.cmd("QUIT")
    time.sleep(0.2)
    xf = [x for x in be.commands() if x.startswith("XFORWARD")]
    check(len(xf) == 2 and all("ADDR=127.0.0.1" in x and
                               "HELO=helo.example" in x for x in xf),
          f"XFORWARD before each MAIL ({len(xf)})")


def test_pipelining():
    be = Backend("--xclient")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.reply()
    c.send("EHLO p.example\r\nMAIL FROM:<a@example.org>\r\n"
           "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
           "DATA\r\n")
    codes = [c.reply()[0] for _ in range(5)]
    check(codes == [250, 250, 250, 250, 354],
          f"pipelined group answered in order {codes}")
    c.send(message() + ".\r\nMAIL FROM:<x@example.org>\r\n"
           "RCPT TO:<y@example.net>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(4)]
    check(codes == [250, 250, 250, 354],
          f"message then the next group in one write {codes}")
    c.send(message("2") + ".\r\nQUIT\r\n")
    check([c.reply()[0] for _ in range(2)] == [250, 221], "then QUIT")
    c.close()
    time.sleep(0.2)
    check(len(be.messages()) == 2, "both pipelined messages delivered")


def test_pipelining_refused_rcpts():
    be = Backend("--reply", "rcpt=550")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.reply()
    # A careless client pipelines the text after DATA: it must never be
    # taken for commands when DATA is refused.
    c.send("EHLO p.example\r\nMAIL FROM:<a@example.org>\r\n"
           "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
           "DATA\r\nSubject: x\r\n\r\nMAIL FROM:<evil@example.org>\r\n"
           "RCPT TO:<victim@example.net>\r\n.\r\n")
    replies = [c.reply() for _ in range(5)]
    codes = [r[0] for r in replies]
    check(codes == [250, 250, 550, 550, 554],
          f"refused recipients relayed, DATA refused {codes}")
    check(replies[2][1][0] == "550 5.0.0 scripted reply at rcpt",
          "the backend's refusal text unchanged: " + replies[2][1][0])
    check(c.closed(), "the session ends: the text is not read as commands")
    time.sleep(0.3)
    check(not any("evil" in x or "victim" in x for x in be.commands()),
          "pipelined text after a refused DATA never reaches the backend")


# ------------------------------------------------------------ smuggling

VARIANTS = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n",
            b"\r\n.\r", b"\n.\r", b"\r.\n", b"\r\n\x00.\r\n",
            b"\n..\n", b"\r\n.\x00\r\n"]
SMUGGLED = (b"MAIL FROM:<smuggled@evil.example>\r\n"
            b"RCPT TO:<victim@example.net>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nevil\r\n")


def smuggle(gh, variant):
    c = Client(gh.port)
    c.hello()
    transaction(c)
    c.cmd("DATA")
    c.send(b"Subject: first\r\n\r\nbody" + variant + SMUGGLED + b".\r\n")
    code, lines = c.reply()
    c.cmd("QUIT")
    c.close()
    return code


def test_smuggling_reject():
    be = Backend()
    gh = Gatehouse(be.port)
    for v in VARIANTS:
        code = smuggle(gh, v)
        check(code == 550, f"{v!r}: message refused with 550 ({code})")
    time.sleep(0.3)
    check(be.messages() == [], "no message reached the backend")
    check(not any("smuggled" in x for x in be.commands()),
          "no smuggled command reached the backend")


def test_smuggling_normalize():
    be = Backend()
    gh = Gatehouse(be.port, "data.bare_newline=normalize")
    for v in VARIANTS:
        code = smuggle(gh, v)
        check(code == 250, f"{v!r}: one message accepted ({code})")
    time.sleep(0.3)
    msgs = be.messages()
    check(len(msgs) == len(VARIANTS),
          f"exactly one message per session ({len(msgs)})")
    check(not any("smuggled" in x for x in be.commands()),
          "the would-be second message is text, never a command")
    check(all(b"MAIL FROM:<smuggled" in m["data"] for m in msgs),
          "it is inside the one message")
    check(all(b"\r" not in m["data"].replace(b"\r\n", b"") and
              b"\n" not in m["data"].replace(b"\r\n", b"") and
              b"\0" not in m["data"] for m in msgs),
          "no bare CR, LF or NUL reaches the backend")


def test_terminator_split():
    be = Backend()
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello()
    transaction(c)
    c.cmd("DATA")
    for part in [message().encode()[:-1], b"\n", b".", b"\r", b"\n"]:
        c.send(part)
        time.sleep(0.15)
    check(c.reply()[0] == 250, "CRLF.CRLF split over five segments")
    c.cmd("QUIT")
    time.sleep(0.2)
    check(len(be.messages()) == 1, "one message")


# --------------------------------------------------------------- limits

def test_limits():
    be = Backend()
    gh = Gatehouse(be.port, "max_message_size=2048",
                   "smtp.max_recipients=2", "smtp.max_errors=50")
    c = Client(gh.port)
    c.hello()
    code, _ = c.cmd("NOOP " + "x" * 600)
    check(code == 500, f"command line over 512 octets: 500 ({code})")
    c.send("NOOP " + "y" * 20000)
    time.sleep(0.2)
    code, lines = c.cmd("")
    check(code == 500 and "too long" in lines[0],
          "a 20 KB line without CRLF yet: one 500 5.5.2 when it ends")
    check(c.cmd("NOOP")[0] == 250, "the session goes on")
    check(c.cmd("MAIL FROM:<a@example.org> SIZE=4096")[0] == 552,
          "SIZE= over max_message_size: 552")
    check(transaction(c, rcpts=["<1@example.net>", "<2@example.net>",
                                "<3@example.net>"]) == [250, 250, 250, 452],
          "third recipient: 452")
    c.cmd("DATA")
    c.send(message(body="z" * 5000 + "\r\n") + ".\r\n")
    code, lines = c.reply()
    check(code == 552, f"message grown past the limit: 552 ({code})")
    transaction(c)
    c.cmd("DATA")
    c.send(message(body="w" * 1200 + "\r\n") + ".\r\n")
    code, lines = c.reply()
    check(code == 500 and "5.5.2" in lines[0],
          f"text line over 1000 octets: 500 5.5.2 ({code})")
    c.cmd("QUIT")
    c.close()
    time.sleep(0.2)
    check(be.messages() == [], "nothing oversize or long reached the backend")
    check(not any("zzzz" in x or "SIZE=4096" in x for x in be.commands()),
          "no part of them either")
    # control characters inside commands
    c = Client(gh.port)
    c.reply()
    for bad in [b"HELO a\rb\r\n", b"EHLO a\nRCPT TO:<h@evil>\r\n",
                b"HELO a\x00b\r\n"]:
        c.send(bad)
        check(c.reply()[0] == 500, f"{bad!r}: 500")
    c.cmd("EHLO ok.example")
    for bad in [b"MAIL FROM:<a@example.org>\nRCPT TO:<m@evil>\r\n",
                b"MAIL FROM:<a@exa\rmple.org>\r\n",
                b"MAIL FROM:<a@example.org\x00>\r\n"]:
        c.send(bad)
        check(c.reply()[0] == 500, f"{bad!r}: 500")
    c.cmd("MAIL FROM:<a@example.org>")
    for bad in [b"RCPT TO:<b@example.net>\nRCPT TO:<r@evil>\r\n",
                b"RCPT TO:<b@exa\x00mple.net>\r\n",
                b"RCPT TO:<b@example.net>\rX\r\n"]:
        c.send(bad)
        check(c.reply()[0] == 500, f"{bad!r}: 500")
    c.close()
    time.sleep(0.2)
    check(not any("evil" in x or "\x00" in x or "\r" in x
                  for x in be.commands()),
          "no CR, LF or NUL in HELO/MAIL/RCPT reached the backend")
    # too many errors
    gh = Gatehouse(be.port, "smtp.max_errors=5")
    c = Client(gh.port)
    c.reply()
    codes = [c.cmd("BOGUS")[0] for _ in range(4)]
    c.send("BOGUS\r\n")
    last = [c.reply()[0], c.reply()[0]]
    check(codes == [500] * 4 and last == [500, 421] and c.closed(),
          f"max_errors: 421 and closed {codes} {last}")


def test_timeouts_and_ipv6():
    be = Backend()
    v6, port4 = free_port(), free_port()
    gh = Gatehouse(be.port, "smtp.idle_timeout=500ms",
                   "smtp.data_timeout=700ms",
                   f"listen=127.0.0.1:{port4},[::1]:{v6}", port=port4)
    try:
        s6 = socket.create_connection(("::1", v6), timeout=5)
        check(s6.recv(100).startswith(b"220 "), "IPv6 listener: 220")
        s6.close()
    except OSError as e:
        print("skip IPv6:", e)
    c = Client(port4)
    c.hello()
    t0 = time.time()
    code, lines = c.reply()
    check(code == 421 and "timeout" in lines[0] and c.closed() and
          0.4 < time.time() - t0 < 3, "idle timeout: 421 and closed")
    c = Client(port4)
    c.hello()
    transaction(c)
    c.cmd("DATA")
    c.send("Subject: slow\r\n")
    t0 = time.time()
    code, lines = c.reply()
    check(code == 421 and c.closed() and 0.5 < time.time() - t0 < 3,
          "DATA timeout: 421, nothing relayed")
    time.sleep(0.2)
    check(be.messages() == [], "the half message never reached the backend")


def test_connection_limits():
    be = Backend()
    gh = Gatehouse(be.port, "smtp.max_connections_per_client=2")
    time.sleep(0.3)     # the probe connection of wait_port is gone
    a, b = Client(gh.port), Client(gh.port)
    a.reply(), b.reply()
    c = Client(gh.port)
    code, _ = c.reply()
    check(code == 421 and c.closed(), f"third connection: 421 ({code})")
    a.cmd("QUIT")
    a.close()
    time.sleep(0.2)
    d = Client(gh.port)
    check(d.reply()[0] == 220, "a slot freed: 220 again")
    gh2 = Gatehouse(be.port, "smtp.max_connections=1")
    time.sleep(0.3)
    a = Client(gh2.port)
    a.reply()
    b = Client(gh2.port)
    check(b.reply()[0] == 421, "max_connections: 421")


# ------------------------------------------------------------- failures

def one_message(gh, rcpt_ok=True):
    """Try one message; return the codes of MAIL, RCPT, DATA, dot."""
    c = Client(gh.port)
    c.hello()
    out = []
    out.append(c.cmd("MAIL FROM:<a@example.org>")[0])
    if out[-1] == 250:
        out.append(c.cmd("RCPT TO:<b@example.net>")[0])
    if out[-1] == 250:
        out.append(c.cmd("DATA")[0])
    if out[-1] == 354:
        c.send(message() + ".\r\n")
        out.append(c.reply()[0])
    try:
        c.cmd("QUIT")
    except OSError:
        pass
    c.close()
    return out


def test_failures():
    # backend down
    gh = Gatehouse(free_port())
    check(one_message(gh) == [451], "backend down: 451 at MAIL")
    cases = [
        (("--reply", "banner=554"), [451], "banner 554"),
        (("--reply", "mail=451"), [451], "4xx at MAIL relayed"),
        (("--reply", "rcpt=550"), [250, 550], "550 at RCPT relayed"),
        (("--reply", "rcpt=354"), [250, 451], "354 to RCPT: 451"),
        (("--reply", "data=554"), [250, 250, 354, 554], "DATA refused"),
        (("--reply", "data=250"), [250, 250, 354, 451],
         "250 to DATA (nothing sent): 451, never a success"),
        (("--reply", "mail=354"), [451], "354 to MAIL: 451"),
        (("--reply", "dot=451"), [250, 250, 354, 451], "451 at end"),
        (("--reply", "dot=554"), [250, 250, 354, 554], "554 at end"),
        (("--close", "mail"), [451], "closed at MAIL"),
        (("--close", "rcpt"), [250, 451], "closed at RCPT"),
        (("--close", "data"), [250, 250, 354, 451], "closed at DATA"),
        (("--close", "dot"), [250, 250, 354, 451], "closed at end"),
        (("--xclient", "--reply", "xclient=550"), [451],
         "XCLIENT refused: 451, never unidentified"),
    ]
    for args, want, what in cases:
        be = Backend(*args)
        gh = Gatehouse(be.port)
        got = one_message(gh)
        check(got == want, f"{what}: {got}")
        be.stop()
        gh.stop()
    # The backend lost at RCPT: 4xx for each recipient, never a 503 that
    # would make a real MTA bounce them (found by the soak).
    be = Backend("--close", "rcpt")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello()
    codes = transaction(c, rcpts=["<b@example.net>", "<c@example.net>"])
    codes.append(c.cmd("DATA")[0])
    check(codes == [250, 451, 451, 554],
          f"backend lost at RCPT: 451, 451, then DATA 554 {codes}")
    c.close()
    be = Backend("--stall", "dot")
    gh = Gatehouse(be.port, "backend.timeout=1s")
    t0 = time.time()
    got = one_message(gh)
    check(got == [250, 250, 354, 451] and time.time() - t0 < 5,
          f"backend stalls past its timeout: 451 {got}")
    check("timeout" in gh.logtext(), "the log says timeout")


# ---------------------------------------------------------- disconnects

def test_disconnects():
    be = Backend()
    gh = Gatehouse(be.port)
    steps = [[], ["EHLO x"], ["EHLO x", "MAIL FROM:<a@example.org>"],
             ["EHLO x", "MAIL FROM:<a@example.org>",
              "RCPT TO:<b@example.net>"],
             ["EHLO x", "MAIL FROM:<a@example.org>",
              "RCPT TO:<b@example.net>", "DATA"]]
    for st in steps:
        c = Client(gh.port)
        c.reply()
        for cmd in st:
            c.cmd(cmd)
        if st and st[-1] == "DATA":
            c.send("Subject: half\r\n\r\nhalf a message\r\n")
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    time.sleep(0.5)
    check(be.messages() == [], "disconnects at every stage deliver nothing")
    check(one_message(gh) == [250, 250, 354, 250], "and the proxy serves on")
    # gone while the backend has the message
    be2 = Backend("--stall", "dot")
    gh2 = Gatehouse(be2.port)
    c = Client(gh2.port)
    c.hello()
    transaction(c)
    c.cmd("DATA")
    c.send(message() + ".\r\n")
    time.sleep(0.3)
    c.close()
    time.sleep(0.3)
    check(gh2.alive() and Client(gh2.port).reply()[0] == 220,
          "client gone during the backend's wait: still serving")


# ------------------------------------------------------------ lifecycle

def write_conf(path, hostname, extra=""):
    with open(path, "w") as f:
        f.write(f"hostname = {hostname}\n{extra}")


def test_reload():
    be = Backend()
    conf = os.path.join(tmpdir(), "reload.conf")
    write_conf(conf, "one.test")
    port = free_port()
    gh = Gatehouse(be.port, config=conf, port=port)
    # -o hostname=gate.test would win over the file: start without it
    gh.stop()
    gh = GatehouseConf(be.port, conf)
    c = Client(gh.port)
    check("one.test" in c.reply()[1][0], "banner from the file")
    c.cmd("EHLO x")
    transaction(c)
    write_conf(conf, "two.test")
    gh.signal(signal.SIGHUP)
    time.sleep(0.5)
    _, lines = c.cmd("EHLO y")      # ends the transaction, new chain
    check("two.test" in lines[0],
          "after a transaction boundary the session uses the new set")
    d = Client(gh.port)
    check("two.test" in d.reply()[1][0], "new sessions use the new set")
    write_conf(conf, "three.test", "smtp.max_errors = lots\n")
    gh.signal(signal.SIGHUP)
    time.sleep(0.5)
    e = Client(gh.port)
    check("two.test" in e.reply()[1][0], "a broken file keeps the old set")
    log = gh.logtext()
    check(f"{conf}:2: smtp.max_errors" in log,
          "the error is logged with file:line")
    check(gh.alive(), "still running")


class GatehouseConf(Gatehouse):
    """gatehouse with only a configuration file (no -o hostname)."""

    def __init__(self, backend_port, conf):
        import subprocess
        from proxytest import _procs, wait_port
        self.port = free_port()
        self.log = os.path.join(tmpdir(), f"gatehouse-{self.port}.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            [os.environ.get("GATEHOUSE", "build/gatehouse"), "-f", "-c", conf,
             "-o", f"listen=127.0.0.1:{self.port}",
             "-o", f"backend=127.0.0.1:{backend_port}",
             "-o", "spf.enable=no", "-o", "dkim.enable=no", "-o", "rules=",
             "-o", "client_name_lookup=no",
             "proxy"],
            stderr=self.logf)
        _procs.append(self.proc)
        wait_port(self.port)


def test_reload_backend():
    """A reload that moves the backend: pooled connections to the old
    one are never used again, not even those released after the reload."""
    import subprocess
    from proxytest import _procs, wait_port
    b1, b2 = Backend(), Backend()
    conf = os.path.join(tmpdir(), "move.conf")
    port = free_port()

    def conf_for(be):
        with open(conf, "w") as f:
            f.write(f"listen = 127.0.0.1:{port}\nbackend = 127.0.0.1:"
                    f"{be.port}\nspf.enable = no\ndkim.enable = no\n"
                    "client_name_lookup = no\n"
                    f"rules =\nspool_dir = {tmpdir()}\n")

    conf_for(b1)
    log = open(os.path.join(tmpdir(), "move.log"), "w")
    p = subprocess.Popen([os.environ.get("GATEHOUSE", "build/gatehouse"),
                          "-f", "-c", conf, "proxy"], stderr=log)
    _procs.append(p)
    wait_port(port)
    a = Client(port)
    a.hello()
    transaction(a)
    a.cmd("DATA")
    a.send(message("to b1") + ".\r\n")
    a.reply()
    conf_for(b2)
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    a.cmd("QUIT")           # its backend connection (to b1) is released
    a.close()
    time.sleep(0.2)
    for i in range(2):
        c = Client(port)
        c.hello()
        transaction(c)
        c.cmd("DATA")
        c.send(message(f"to b2 {i}") + ".\r\n")
        c.reply()
        c.cmd("QUIT")
        c.close()
    time.sleep(0.3)
    check(len(b1.messages()) == 1 and len(b2.messages()) == 2,
          f"after the reload every message goes to the new backend "
          f"({len(b1.messages())}, {len(b2.messages())})")


def test_drain():
    be = Backend()
    gh = Gatehouse(be.port, "shutdown_timeout=5s")
    busy = Client(gh.port)
    busy.hello()
    transaction(busy)
    idle = Client(gh.port)
    idle.hello()
    gh.signal(signal.SIGTERM)
    code, _ = idle.reply()
    check(code == 421 and idle.closed(), f"idle session: 421 at once "
          f"({code})")
    try:
        Client(gh.port, timeout=2).reply()
        refused = False
    except OSError:
        refused = True
    check(refused, "no new connections")
    check(busy.cmd("DATA")[0] == 354, "the open transaction goes on")
    busy.send(message() + ".\r\n")
    check(busy.reply()[0] == 250, "and its message is delivered")
    code, _ = busy.reply()
    check(code == 421 and busy.closed(), "then 421 and closed")
    gh.proc.wait(5)
    check(gh.proc.returncode == 0, "exit 0 when drained")
    time.sleep(0.2)
    check(len(be.messages()) == 1, "the message reached the backend")
    # the deadline
    gh = Gatehouse(be.port, "shutdown_timeout=1s")
    stuck = Client(gh.port)
    stuck.hello()
    transaction(stuck)
    t0 = time.time()
    gh.signal(signal.SIGTERM)
    gh.proc.wait(10)
    check(time.time() - t0 < 4, "shutdown_timeout cuts a stuck session")


# ------------------------------------------------------------- xforward

def test_xforward_mode():
    """As Postfix's smtpd_proxy_filter: XFORWARD from trusted networks."""
    be = Backend("--xclient")
    gh = Gatehouse(be.port, "trusted_networks=127.0.0.0/8")
    c = Client(gh.port)
    c.reply()
    _, lines = c.cmd("EHLO front.example")
    check(any("XFORWARD" in l for l in lines), "XFORWARD offered to "
          "trusted clients")
    check(c.cmd("XFORWARD NAME=spike.example ADDR=192.0.2.7 PORT=4711 "
                "PROTO=ESMTP HELO=real-helo.example")[0] == 250,
          "XFORWARD accepted")
    check(c.cmd("XFORWARD IDENT=ABC123 SOURCE=REMOTE")[0] == 250,
          "XFORWARD in two commands, as Postfix sends it")
    transaction(c)
    c.cmd("DATA")
    c.send(message() + ".\r\n")
    check(c.reply()[0] == 250, "message delivered")
    c.cmd("QUIT")
    time.sleep(0.2)
    xc = [x for x in be.commands() if x.startswith("XCLIENT")]
    check(xc and "ADDR=192.0.2.7" in xc[0] and
          "HELO=real-helo.example" in xc[0] and "NAME=spike.example" in xc[0],
          "the backend learns the original client: " +
          (xc[0] if xc else "-"))
    check("message client=\"192.0.2.7\"" in gh.logtext(),
          "the log line has the original client")
    gh2 = Gatehouse(be.port)
    c = Client(gh2.port)
    c.reply()
    _, lines = c.cmd("EHLO x")
    check(not any("XFORWARD" in l for l in lines),
          "not offered to untrusted clients")
    check(c.cmd("XFORWARD ADDR=192.0.2.7")[0] == 550, "and refused")


# ---------------------------------------------------------------- chain

RULES = r"""
client   T_BAD_CLIENT  /\[127\.0\.0\.9\]$/
action   T_BAD_CLIENT  reject "554 5.7.1 Your network is blocked"
mailfrom T_SPAMMER     /^spammer@/
action   T_SPAMMER     reject "550 5.7.1 Sender refused by rule"
rcptto   T_TRAP        /^trap@/
action   T_TRAP        reject "550 5.1.1 No such user"
header   T_TAGME       Subject =~ /tag-me/
action   T_TAGME       tag
header   T_DROP        Subject =~ /drop-me/
action   T_DROP        discard
body     T_GTUBE       /XJS\*C4JDBQADN1/
action   T_GTUBE       reject "554 5.7.1 GTUBE found"
"""


def rules_file(name, text):
    path = os.path.join(tmpdir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_chain_verdicts():
    be = Backend()
    rules = rules_file("t.rules", RULES)
    gh = Gatehouse(be.port, "rules=" + rules, "dkim.enable=no")
    # connect stage: refused before the banner, the backend never asked
    c = socket.create_connection(("127.0.0.1", gh.port))
    c.close()
    bad = Client(gh.port)
    bad.s.close()
    s = socket.socket()
    s.bind(("127.0.0.9", 0))
    s.connect(("127.0.0.1", gh.port))
    data = s.recv(1000).decode()
    check(data.startswith("554 5.7.1 Your network is blocked"),
          "CONNECT rule: 554 instead of the banner: " + data.strip())
    s.close()
    c = Client(gh.port)
    c.hello()
    code, lines = c.cmd("MAIL FROM:<spammer@example.org>")
    check(code == 550 and "Sender refused by rule" in lines[0],
          "MAIL rule: the chain's reply " + lines[0])
    check(c.cmd("MAIL FROM:<a@example.org>")[0] == 250, "next MAIL ok")
    code, lines = c.cmd("RCPT TO:<trap@example.net>")
    check(code == 550 and "No such user" in lines[0],
          "RCPT rule refuses that recipient only")
    check(c.cmd("RCPT TO:<b@example.net>")[0] == 250, "others go on")
    c.cmd("DATA")
    c.send(message(body="XJS*C4JDBQADN1.NSBN3\r\n") + ".\r\n")
    code, lines = c.reply()
    check(code == 554 and "GTUBE" in lines[0], "EOM rule: 554 " + lines[0])
    transaction(c)
    c.cmd("DATA")
    c.send(message("please tag-me") + ".\r\n")
    check(c.reply()[0] == 250, "tagged message delivered")
    transaction(c)
    c.cmd("DATA")
    c.send(message("drop-me") + ".\r\n")
    check(c.reply()[0] == 250, "discarded message: 250 (asked for)")
    c.cmd("QUIT")
    time.sleep(0.3)
    cmds = be.commands()
    msgs = be.messages()
    check(not any("spammer" in x or "trap@" in x for x in cmds),
          "refused sender and recipient never reached the backend")
    check(len(msgs) == 1, f"only the tagged message was delivered "
          f"({len(msgs)})")
    if msgs:
        d = msgs[0]["data"]
        check(b"X-Spam-Flag: YES" in d and b"T_TAGME" in d,
              "the chain's header edits reached the backend")
        check(d.startswith(b"Authentication-Results:"),
              "Authentication-Results inserted at the top")
    check(cmds.count("DATA") == 1, "DATA sent to the backend once only")
    log = gh.logtext()
    check("verdict=reject" in log and "verdict=tag" in log and
          "verdict=discard" in log, "each fate in the log lines")


def test_chain_reload_rules():
    be = Backend()
    rules = rules_file("r.rules", 'mailfrom T_ONE /^one@/\n'
                       'action T_ONE reject "550 5.7.1 one refused"\n')
    gh = Gatehouse(be.port, "rules=" + rules, "dkim.enable=no")
    c = Client(gh.port)
    c.hello()
    check(c.cmd("MAIL FROM:<one@example.org>")[0] == 550, "rule one acts")
    # a good new rule set: new transactions use it
    rules_file("r.rules", 'mailfrom T_TWO /^two@/\n'
               'action T_TWO reject "550 5.7.1 two refused"\n')
    gh.signal(signal.SIGHUP)
    time.sleep(0.5)
    check(c.cmd("MAIL FROM:<two@example.org>")[0] == 550,
          "after SIGHUP the next transaction uses the new rules")
    check(c.cmd("MAIL FROM:<one@example.org>")[0] == 250,
          "and the old rule is gone")
    c.cmd("RSET")
    # a broken rule file: refused with file:line, the old set stays
    rules_file("r.rules", 'mailfrom T_THREE /^three@/\n'
               'action T_THREE explode\n')
    gh.signal(signal.SIGHUP)
    time.sleep(0.5)
    check(c.cmd("MAIL FROM:<two@example.org>")[0] == 550,
          "a broken rule file keeps the old rules")
    check(c.cmd("MAIL FROM:<three@example.org>")[0] == 250,
          "none of the broken file is used")
    check(f"{rules}:2" in gh.logtext(), "the error names file:line")
    check(gh.alive(), "still running")


def test_worker_late_result():
    """A blocking stage (DKIM, DNS) outlives its client: dropped."""
    dead = free_port()
    be = Backend()
    gh = Gatehouse(be.port, f"resolver=127.0.0.1@{dead}", "dns.timeout=1s",
                   "dns.budget=2s", "log.level=debug", "dkim.enable=yes")
    c = Client(gh.port)
    c.hello()
    transaction(c)
    c.cmd("DATA")
    c.send("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; "
           "h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; "
           "b=AAAA\r\n" + message() + ".\r\n")
    time.sleep(0.2)
    # gone (a reset) while the worker waits on DNS
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    time.sleep(3)
    check(gh.alive() and "late verdict for a closed session dropped" in
          gh.logtext(), "the late verdict for a gone session is dropped")
    check(be.messages() == [], "and nothing was delivered")
    check(one_message(gh) in ([250, 250, 354, 250], [250, 250, 354, 451]),
          "the proxy serves on")


# ---------------------------------------------------------------- chaos

def test_chaos():
    """Random pipelined commands, bytes, splits and resets from six
    clients at once, against backends that misbehave in five ways:
    gatehouse stays up, serves a clean message after, exits cleanly, and
    (under ASan/UBSan) reports nothing.  GH_CHAOS_SECONDS per backend."""
    import random
    rnd = random.Random(4242)
    bes = [Backend(), Backend("--reply", "rcpt=451"),
           Backend("--close", "dot"), Backend("--chunking"),
           Backend("--reply", "dot=554")]
    words = [b"EHLO x", b"HELO y", b"MAIL FROM:<a@example.org>",
             b"MAIL FROM:<>", b"RCPT TO:<b@example.net>", b"DATA",
             b"RSET", b"NOOP", b"QUIT", b"BDAT 10", b"XFORWARD ADDR=1.2.3.4",
             b"MAIL FROM:<a@example.org> SIZE=99999999999",
             b"RCPT TO:<\x00@x>", b"VRFY x", b"STARTTLS", b"",
             b"Subject: x", b".", b"..", b"\r", b"\n.\n", b"x" * 600]
    for be in bes:
        gh = Gatehouse(be.port, "smtp.max_errors=1000",
                       "max_message_size=4096", "smtp.idle_timeout=2s",
                       "backend.timeout=2s")
        secs = float(os.environ.get("GH_CHAOS_SECONDS", "3"))
        t_end = time.time() + secs
        counts = []

        def worker(seed):
            r = random.Random(seed)
            n = 0
            while time.time() < t_end:
                try:
                    c = Client(gh.port, timeout=2)
                    parts = []
                    for _ in range(r.randint(1, 30)):
                        w = r.choice(words)
                        parts.append(w + r.choice([b"\r\n", b"\r\n",
                                                   b"\n", b""]))
                    data = b"".join(parts)
                    cut = r.randint(0, len(data))
                    c.send(data[:cut])
                    if r.random() < 0.3:
                        time.sleep(0.005)
                    c.send(data[cut:])
                    if r.random() < 0.3:
                        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00"
                                       b"\x00\x00\x00\x00")
                    else:
                        c.s.settimeout(0.05)
                        try:
                            while c.s.recv(65536):
                                pass
                        except OSError:
                            pass
                    c.close()
                    n += 1
                except OSError:
                    pass
            counts.append(n)

        import threading
        ts = [threading.Thread(target=worker, args=(rnd.random(),))
              for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        n = sum(counts)
        check(gh.alive() and one_message(gh)[0] in (250, 451),
              f"alive and serving after {n} chaotic sessions")
        gh.stop()
        check(gh.proc.returncode == 0, "clean exit")


GROUPS = {
    "relay": [test_relay_basic, test_bdat, test_backend_pool,
              test_backend_pool_surplus, test_large_pipelined,
              test_xforward_to_backend,
              test_pipelining,
              test_pipelining_refused_rcpts],
    "smuggling": [test_smuggling_reject, test_smuggling_normalize,
                  test_terminator_split],
    "limits": [test_limits, test_timeouts_and_ipv6, test_connection_limits],
    "failures": [test_failures],
    "disconnects": [test_disconnects],
    "lifecycle": [test_reload, test_reload_backend, test_drain],
    "xforward": [test_xforward_mode],
    "chaos": [test_chaos],
    "chain": [test_chain_verdicts, test_chain_reload_rules,
              test_worker_late_result],
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(GROUPS)
    run([t for n in names for t in GROUPS[n]])

#!/usr/bin/env python3
"""rawmilter.py -- drive `gatehouse milter` with raw milter-protocol
packets, in orders no MTA (and not miltertest, which fills in skipped
steps) would send: MAIL without CONNECT, a body without headers, EOM
without MAIL, aborts and abrupt closes at every point, garbage.

Usage: rawmilter.py SOCKET_PATH
Exit 0 when every scenario behaved: the milter answered tempfail (never
accept) where it had no state, ignored what libmilter ignores, and served
a normal message on a fresh connection after every scenario.
"""
import socket
import struct
import sys

SOCK = sys.argv[1]
TIMEOUT = 2.0

# SMFIP_* protocol steps the "MTA" offers: what Postfix offers.
NR_HDR, NR_BODY, NODATA, NOUNKN = 0x80, 0x80000, 0x200, 0x100
LEADSPC = 0x100000
NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"N": 0x40000, b"L": NR_HDR, b"B": NR_BODY}
ALL_STEPS = 0x1FFFFF
ALL_ACTS = 0x1FF


class NoReply(Exception):
    pass


class Conn:
    """One milter connection: send commands, read replies."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(SOCK)
        self.buf = b""
        self.steps = 0

    def send(self, cmd, data=b""):
        self.s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _read(self, n, timeout):
        self.s.settimeout(timeout)
        while len(self.buf) < n:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                raise NoReply()
            if not chunk:
                raise EOFError()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self, timeout=TIMEOUT):
        (n,) = struct.unpack(">I", self._read(4, timeout))
        pkt = self._read(n, timeout)
        return pkt[:1], pkt[1:]

    def final(self):
        """Replies up to a final one; return (final, [modifications])."""
        mods = []
        while True:
            cmd, data = self.reply()
            if cmd in (b"h", b"i", b"m", b"p"):
                mods.append((cmd, data))
                continue
            return cmd, data, mods

    def no_reply(self, wait=0.5):
        try:
            cmd, data = self.reply(timeout=wait)
        except NoReply:
            return True
        raise AssertionError("unexpected reply %r %r" % (cmd, data))

    def negotiate(self, steps=ALL_STEPS):
        self.send(b"O", struct.pack(">III", 6, ALL_ACTS, steps))
        cmd, data = self.reply()
        assert cmd == b"O", cmd
        _, acts, self.steps = struct.unpack(">III", data[:12])
        assert acts & 0x11 == 0x11, "no ADDHDRS/CHGHDRS: %x" % acts
        assert acts & ~0x111 == 0, "asks for more actions: %x" % acts
        assert self.steps & 0x7f == 0, "skips a stage: %x" % self.steps
        assert self.steps & ~steps == 0, "steps not offered: %x" % self.steps

    def connect(self, host=b"client.example", ip=b"192.0.2.1"):
        self.send(b"C", host + b"\0" + b"4" + struct.pack(">H", 4000) +
                  ip + b"\0")

    def step(self, cmd, data=b""):
        """Send a command; its reply, or None where none is due."""
        self.send(cmd, data)
        if self.steps & NR.get(cmd, 0):
            return None
        return self.reply()

    def ok(self, cmd, data=b""):
        """A command that must continue (or get no reply)."""
        r = self.step(cmd, data)
        assert r is None or r[0] == b"c", "%r: %r" % (cmd, r)

    def expect_continue(self, cmd):
        """The reply to a command sent already, unless none is due."""
        if not self.steps & NR.get(cmd, 0):
            expect(*self.reply(), b"c")

    def header(self, name, value):
        self.send(b"L", name + b"\0" + value + b"\0")
        if not self.steps & NR_HDR:
            assert self.reply()[0] == b"c"

    def body(self, data):
        self.send(b"B", data)
        if not self.steps & NR_BODY:
            assert self.reply()[0] == b"c"

    def close(self):
        self.s.close()


def expect(cmd, data, want):
    assert cmd == want, "got %r %r, want %r" % (cmd, data, want)


def tempfail(cmd, data):
    """A tempfail: 't', or a 4xx reply code."""
    ok = cmd == b"t" or (cmd == b"y" and data[:1] == b"4")
    assert ok, "want tempfail, got %r %r" % (cmd, data)


def full_message(c, mail=b"<a@example.org>"):
    """MAIL..EOM with a forged A-R; check the edits; the final reply."""
    c.ok(b"M", mail + b"\0")
    c.ok(b"R", b"<b@example.net>\0")
    c.header(b"From", b" a@example.org")
    c.header(b"Authentication-Results", b" mx.test; spf=pass")
    c.ok(b"N")
    c.body(b"hello\r\n")
    c.send(b"E")
    cmd, data, mods = c.final()
    assert cmd in (b"c", b"a"), "EOM answered %r %r" % (cmd, data)
    names = [(m[0], m[1]) for m in mods]
    assert any(m == b"i" and b"Authentication-Results\0 mx.test;" in d
               for m, d in names), "no A-R inserted: %r" % names
    assert any(m == b"m" and d[4:] == b"Authentication-Results\0\0"
               for m, d in names), "forged A-R not deleted: %r" % names


def normal():
    """A normal session: the milter still serves."""
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.ok(b"H", b"client.example\0")
    full_message(c)
    c.send(b"Q")
    c.close()


def refused(c, r):
    """A command without state was answered `r`: tempfail now, or — where
    the MTA expects no reply (or libmilter answered for us) — the message
    goes on and is refused at EOM, never accepted."""
    if r is not None and r[0] != b"c":
        tempfail(*r)
        return
    c.step(b"R", b"<b@example.net>\0")
    c.step(b"L", b"From\0 x\0")
    c.step(b"N")
    c.send(b"E")
    cmd, data, mods = c.final()
    tempfail(cmd, data)
    assert not mods, "edits on a refused message: %r" % mods


def mail_without_connect(steps=ALL_STEPS):
    c = Conn()
    c.negotiate(steps)
    refused(c, c.step(b"M", b"<a@example.org>\0"))
    refused(c, c.step(b"M", b"<a@example.org>\0"))
    c.close()


def helo_without_connect(steps=ALL_STEPS):
    c = Conn()
    c.negotiate(steps)
    r = c.step(b"H", b"x\0")
    if r is not None and r[0] != b"c":
        tempfail(*r)
    refused(c, c.step(b"M", b"<a@example.org>\0"))
    c.close()


def old_mta_without_connect():
    """An MTA that knows no "no reply" steps: libmilter answers for us."""
    mail_without_connect(steps=NODATA | NOUNKN)
    helo_without_connect(steps=NODATA | NOUNKN)


def body_without_headers():
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.ok(b"M", b"<a@example.org>\0")
    c.ok(b"R", b"<b@example.net>\0")
    c.body(b"no headers at all\r\n")
    c.send(b"E")
    cmd, data, mods = c.final()
    assert cmd in (b"c", b"a"), (cmd, data)
    assert any(m[0] == b"i" for m in mods), mods
    c.close()


def eom_without_headers_or_body():
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.ok(b"M", b"<a@example.org>\0")
    c.ok(b"R", b"<b@example.net>\0")
    c.send(b"E")
    cmd, data, mods = c.final()
    assert cmd in (b"c", b"a"), (cmd, data)
    c.close()


def eom_without_mail():
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.send(b"E")        # libmilter ignores an EOM out of a transaction
    c.no_reply()
    full_message(c)
    c.close()


def connect_twice_and_quit_nc():
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.connect()         # ignored by libmilter
    c.no_reply()
    full_message(c)
    c.send(b"K")        # QUIT_NC: a new SMTP connection follows
    c.connect(ip=b"192.0.2.9")
    c.expect_continue(b"C")
    full_message(c)
    c.close()


def header_after_eoh():
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    c.ok(b"M", b"<a@example.org>\0")
    c.ok(b"R", b"<b@example.net>\0")
    c.ok(b"N")
    c.send(b"L", b"Late\0 x\0")     # aborts the transaction in libmilter
    c.send(b"E")
    c.no_reply()
    full_message(c)
    c.close()


PREFIX = [
    lambda c: c.negotiate(),
    lambda c: (c.connect(), c.expect_continue(b"C")),
    lambda c: c.ok(b"H", b"h\0"),
    lambda c: c.ok(b"M", b"<a@example.org>\0"),
    lambda c: c.ok(b"R", b"<b@example.net>\0"),
    lambda c: c.header(b"Subject", b" s"),
    lambda c: c.ok(b"N"),
    lambda c: c.body(b"x\r\n"),
]


def abort_everywhere():
    for k in range(2, len(PREFIX) + 1):
        c = Conn()
        for step in PREFIX[:k]:
            step(c)
        c.send(b"A")
        c.send(b"A")
        full_message(c)
        c.close()


def close_everywhere():
    for k in range(0, len(PREFIX) + 1):
        for quit in (False, True):
            c = Conn()
            for step in PREFIX[:k]:
                step(c)
            if quit:
                c.send(b"Q")
            c.close()
        normal()


def quit_ends_connection():
    """QUIT ends the connection in any state: the milter closes its end
    at once, as Postfix expects after its ABORT, ABORT, QUIT following
    end of message (once, the QUIT was ignored there and the milter
    waited for the MTA to close first)."""
    for after in ("eom", "negotiation", "abort"):
        c = Conn()
        c.negotiate()
        if after == "eom":
            c.connect()
            c.expect_continue(b"C")
            full_message(c)
            c.send(b"A")
            c.send(b"A")
        elif after == "abort":
            c.connect()
            c.expect_continue(b"C")
            c.send(b"A")
        c.send(b"Q")
        try:
            c._read(1, TIMEOUT)
            raise AssertionError("data after QUIT (%s)" % after)
        except EOFError:
            pass
        except NoReply:
            raise AssertionError("connection still open %gs after QUIT "
                                 "(%s)" % (TIMEOUT, after))
        c.close()


def garbage():
    for junk in (b"\x00\x00\x00\x01Z", b"\x7f\xff\xff\xffO",
                 b"\x00\x00\x00\x00", b"\x00\x00\x00\x05O\x00\x00"):
        c = Conn()
        c.s.sendall(junk)
        c.close()
    c = Conn()
    c.negotiate()
    c.connect()
    c.expect_continue(b"C")
    try:
        refused(c, c.step(b"M", b""))   # MAIL without an argument
    except (EOFError, OSError):
        pass                  # libmilter may drop the connection
    c.close()


def without_leadspc_or_nr():
    c = Conn()
    c.negotiate(steps=NODATA | NOUNKN)
    c.connect()
    c.expect_continue(b"C")
    c.ok(b"M", b"<a@example.org>\0")
    c.ok(b"R", b"<b@example.net>\0")
    c.header(b"From", b"a@example.org")
    c.ok(b"N")
    c.body(b"x\r\n")
    c.send(b"E")
    cmd, data, mods = c.final()
    assert any(m == b"i" and b"Authentication-Results\0mx.test;" in d
               for m, d in mods), mods
    c.close()


SCENARIOS = [normal, mail_without_connect, helo_without_connect,
             old_mta_without_connect,
             body_without_headers, eom_without_headers_or_body,
             eom_without_mail, connect_twice_and_quit_nc, header_after_eoh,
             abort_everywhere, close_everywhere, quit_ends_connection, garbage,
             without_leadspc_or_nr]

failed = 0
for sc in SCENARIOS:
    try:
        sc()
        normal()
        print("ok   %s" % sc.__name__)
    except Exception as e:      # report every scenario, then fail
        failed += 1
        print("FAIL %s: %s: %s" % (sc.__name__, type(e).__name__, e))
sys.exit(1 if failed else 0)

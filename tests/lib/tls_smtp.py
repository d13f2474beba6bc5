#!/usr/bin/env python3
"""tls_smtp.py PORT SCENARIO [ARGS] - STARTTLS scenarios against gatehouse.

Raw SMTP over a socket, upgraded with Python's ssl module where the
scenario says so; each step's reply is checked.  Prints one line per
step and exits 1 on the first surprise (with the transcript so far).

Scenarios:
  inject     "STARTTLS\\r\\nMAIL FROM:<evil@x.test>\\r\\n" in one segment:
             the MAIL must never be answered nor take effect (CVE-2011-0411)
  reset      after the handshake, MAIL without a new EHLO gets 503
  syntax     STARTTLS with an argument 501; STARTTLS in TLS 503
  garbage    STARTTLS, then plaintext instead of a ClientHello: closed
  stall      STARTTLS, then silence: closed by the idle timeout
  auth USER PASS  AUTH refused before STARTTLS (530); after it a 1.6 KB
             AUTH line gets the backend's 535, then AUTH PLAIN; prints
             the final reply code
"""
import base64
import socket
import ssl
import sys

TIMEOUT = 10


class Conn:
    """An SMTP client connection that reads whole replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), TIMEOUT)
        self.buf = b""
        self.log = []

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("latin-1")

    def reply(self):
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            self.log.append("<- " + ln)
            if len(ln) < 4 or ln[3] != "-":
                return lines

    def send(self, text):
        self.log.append("-> " + text.replace("\r\n", "\\r\\n"))
        self.sock.sendall(text.encode("latin-1"))

    def cmd(self, text, want):
        self.send(text + "\r\n")
        r = self.reply()
        if not r[-1].startswith(want):
            fail(self, "%r: wanted %s, got %r" % (text, want, r[-1]))
        return r

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.buf:
            fail(self, "bytes after the 220 before TLS: %r" % self.buf)
        self.sock = ctx.wrap_socket(self.sock)
        self.log.append("=== TLS %s %s" % (self.sock.version(),
                                           self.sock.cipher()[0]))


def fail(c, why):
    print("\n".join(c.log))
    print("FAIL: " + why)
    sys.exit(1)


def hello(port):
    c = Conn(port)
    r = c.reply()
    if not r[0].startswith("220"):
        fail(c, "banner")
    r = c.cmd("EHLO client.test", "250")
    if not any("STARTTLS" in x for x in r):
        fail(c, "STARTTLS not offered")
    return c


def inject(port):
    c = hello(port)
    c.send("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
    r = c.reply()
    if not r[-1].startswith("220"):
        fail(c, "STARTTLS: " + r[-1])
    c.starttls()
    r = c.cmd("EHLO client.test", "250")
    if any("STARTTLS" in x for x in r):
        fail(c, "STARTTLS offered again inside TLS")
    # The injected MAIL did not open a transaction: RCPT needs MAIL.
    c.cmd("RCPT TO:<b@y.test>", "503")
    c.cmd("MAIL FROM:<good@x.test>", "250")
    c.cmd("RCPT TO:<b@y.test>", "250")
    c.cmd("QUIT", "221")
    print("\n".join(c.log))


def reset(port):
    c = hello(port)
    c.cmd("STARTTLS", "220")
    c.starttls()
    c.cmd("MAIL FROM:<a@x.test>", "503")
    c.cmd("EHLO again.test", "250")
    c.cmd("QUIT", "221")
    print("\n".join(c.log))


def syntax(port):
    c = hello(port)
    c.cmd("STARTTLS now", "501")
    c.cmd("STARTTLS", "220")
    c.starttls()
    c.cmd("EHLO client.test", "250")
    c.cmd("STARTTLS", "503")
    c.cmd("QUIT", "221")
    print("\n".join(c.log))


def garbage(port):
    c = hello(port)
    c.cmd("STARTTLS", "220")
    c.send("EHLO not-a-client-hello\r\n")
    try:
        while c.sock.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout) as e:
        if isinstance(e, socket.timeout):
            fail(c, "not closed")
    print("\n".join(c.log))


def stall(port):
    c = hello(port)
    c.cmd("STARTTLS", "220")
    c.sock.settimeout(15)
    try:
        while c.sock.recv(4096):
            pass
    except socket.timeout:
        fail(c, "no ClientHello, but not closed within 15 s")
    except ConnectionResetError:
        pass
    print("\n".join(c.log))


def auth(port, user, password):
    c = hello(port)
    plain = base64.b64encode(("\0%s\0%s" % (user, password)).encode())
    c.cmd("AUTH PLAIN " + plain.decode(), "530")
    c.cmd("STARTTLS", "220")
    c.starttls()
    r = c.cmd("EHLO client.test", "250")
    if not any(x[4:].startswith("AUTH ") for x in r):
        fail(c, "AUTH not offered after STARTTLS")
    # An AUTH line longer than a command line (RFC 4954 4 allows 12288
    # octets) reaches the backend, which refuses the wrong password.
    long = base64.b64encode(("\0%s\0%s" % (user, "x" * 1200)).encode())
    c.send("AUTH PLAIN " + long.decode() + "\r\n")
    r = c.reply()
    if not r[-1].startswith("535"):
        fail(c, "long AUTH line: wanted 535, got %r" % r[-1])
    c.send("AUTH PLAIN " + plain.decode() + "\r\n")
    r = c.reply()
    print("\n".join(x for x in c.log if "AUTH PLAIN" not in x))
    print("auth-reply " + r[-1][:3])
    c.cmd("QUIT", "221")


def main():
    port = int(sys.argv[1])
    what = sys.argv[2]
    fn = {"inject": inject, "reset": reset, "syntax": syntax,
          "garbage": garbage, "stall": stall, "auth": auth}[what]
    fn(port, *sys.argv[3:])


if __name__ == "__main__":
    main()

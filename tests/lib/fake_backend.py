#!/usr/bin/env python3
"""fake_backend.py — a scripted SMTP backend for gatehouse's failure tests.

Speaks just enough SMTP (strict CRLF.CRLF end of data) to stand in for
Postfix, and misbehaves on request at a chosen stage:

  --reply STAGE=CODE   answer CODE ("451", "550", "354"...) at STAGE
  --close STAGE        close the connection at STAGE (before replying)
  --stall STAGE        never answer at STAGE (the proxy must time out)
  --xclient            offer XCLIENT (else XFORWARD, unless --plain)
  --xclient-once       as Postfix: no XCLIENT offered after an XCLIENT
  --plain              offer neither XCLIENT nor XFORWARD
  --chunking           offer CHUNKING and take BDAT (stage "dot" for LAST)

STAGE is one of banner, ehlo, xclient, xforward, mail, rcpt, data, dot,
rset.  Every command line and every message received (with the MAIL
FROM and RCPT TO it came with) is appended to --record as one JSON
object per line, so that tests can check what reached the backend.
The port is given with --port; the PID goes to --pidfile.
"""
import argparse
import base64
import itertools
import json
import os
import socketserver
import sys
import threading
import time

LOCK = threading.Lock()
CONNS = itertools.count(1)


def record(path, obj):
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def misbehave(self, stage):
        """Return True when the stage was handled by a fault."""
        a = self.server.args
        if stage in a.close:
            self.request.close()
            raise ConnectionAbortedError
        if stage in a.stall:
            time.sleep(3600)
        if stage in a.reply:
            code = a.reply[stage]
            self.send(f"{code} {code[0]}.0.0 scripted reply at {stage}")
            return True
        return False

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise ConnectionAbortedError
        return line

    def handle(self):
        a = self.server.args
        rec = a.record
        conn = {"conn": next(CONNS), "t": time.time()}
        mail, rcpts = None, []
        xclient_done = False
        bdat = None
        try:
            if not self.misbehave("banner"):
                self.send("220 fake.backend ESMTP")
            while True:
                raw = self.readline()
                line = raw.rstrip(b"\r\n").decode("latin-1")
                record(rec, {"cmd": line, "conn": conn["conn"]})
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    if self.misbehave("ehlo"):
                        continue
                    self.send("250-fake.backend")
                    self.send("250-PIPELINING")
                    self.send("250-SIZE 100000000")
                    self.send("250-8BITMIME")
                    if a.xclient and not (a.xclient_once and xclient_done):
                        self.send("250-XCLIENT NAME ADDR PORT PROTO HELO")
                    elif not a.plain:
                        self.send("250-XFORWARD NAME ADDR PORT PROTO HELO")
                    if a.chunking:
                        self.send("250-CHUNKING")
                    self.send("250 ENHANCEDSTATUSCODES")
                elif verb == "XCLIENT":
                    if a.xclient_once and xclient_done:
                        self.send("550 5.7.0 Error: insufficient "
                                  "authorization")
                    elif not self.misbehave("xclient"):
                        xclient_done = True
                        self.send("220 fake.backend ESMTP")
                elif verb == "XFORWARD":
                    if not self.misbehave("xforward"):
                        self.send("250 2.0.0 Ok")
                elif verb == "MAIL":
                    if not self.misbehave("mail"):
                        mail, rcpts = line, []
                        self.send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if not self.misbehave("rcpt"):
                        rcpts.append(line)
                        self.send("250 2.1.5 Ok")
                elif verb == "DATA":
                    if self.misbehave("data"):
                        continue
                    self.send("354 go ahead")
                    data = b""
                    while True:
                        l = self.readline()
                        if l == b".\r\n":
                            break
                        if l.startswith(b"."):
                            l = l[1:]
                        data += l
                    if self.misbehave("dot"):
                        continue
                    record(rec, {"message": base64.b64encode(data).decode(),
                                 "mail": mail, "rcpts": rcpts,
                                 "conn": conn["conn"]})
                    mail, rcpts = None, []
                    self.send("250 2.0.0 Ok: queued as FAKE")
                elif verb == "BDAT" and a.chunking:
                    parts = line.split()
                    size = int(parts[1])
                    last = len(parts) > 2 and parts[2].upper() == "LAST"
                    chunk = self.rfile.read(size)
                    if len(chunk) != size:
                        raise ConnectionAbortedError
                    bdat = (bdat or b"") + chunk
                    if not last:
                        self.send(f"250 2.0.0 Ok: {size} octets")
                        continue
                    if self.misbehave("dot"):
                        bdat = None
                        continue
                    record(rec, {"message": base64.b64encode(bdat).decode(),
                                 "mail": mail, "rcpts": rcpts, "bdat": True,
                                 "conn": conn["conn"]})
                    bdat, mail, rcpts = None, None, []
                    self.send("250 2.0.0 Ok: queued as FAKEBDAT")
                elif verb == "RSET":
                    if not self.misbehave("rset"):
                        mail, rcpts = None, []
                        self.send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    self.send("221 2.0.0 Bye")
                    return
                elif verb == "NOOP":
                    self.send("250 2.0.0 Ok")
                else:
                    self.send("502 5.5.2 Error: command not recognized")
        except (ConnectionError, OSError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--reply", action="append", default=[])
    p.add_argument("--close", action="append", default=[])
    p.add_argument("--stall", action="append", default=[])
    p.add_argument("--xclient", action="store_true")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--xclient-once", action="store_true")
    p.add_argument("--chunking", action="store_true")
    a = p.parse_args()
    a.reply = dict(r.split("=", 1) for r in a.reply)
    a.xclient = a.xclient or a.xclient_once
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.args = a
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write(str(os.getpid()))
    print("fake backend on port", a.port, file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

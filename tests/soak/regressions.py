#!/usr/bin/env python3
"""regressions.py — small, exact reproductions of the bugs the soak
(tests/soak/soak.py) found in gatehouse proxy, each a test that failed
before its fix.  Run by tests/integration/soak_regressions.sh; uses
tests/lib/proxytest.py (gatehouse, scripted backend, raw clients) and,
where that backend cannot misbehave the way needed, a small one here.
"""
import os
import socketserver
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from proxytest import (Backend, Client, Gatehouse, check, free_port,  # noqa
                       message, run)


class CloseAtNthRcpt(socketserver.StreamRequestHandler):
    """A backend that takes the first RCPT and closes at the second."""

    def handle(self):
        def send(line):
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()
        send("220 nth.backend ESMTP")
        nrcpt = 0
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                send("250-nth.backend\r\n250-PIPELINING\r\n"
                     "250 ENHANCEDSTATUSCODES")
            elif verb == b"RCPT":
                nrcpt += 1
                if nrcpt == 2:
                    self.server.closed_at_rcpt += 1
                    return
                send("250 2.1.5 Ok")
            elif verb == b"DATA":
                self.server.data_seen += 1
                send("554 5.5.1 should never get here")
            elif verb == b"QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("250 2.0.0 Ok")


def nth_backend():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()),
                                          CloseAtNthRcpt)
    srv.daemon_threads = True
    srv.closed_at_rcpt = 0
    srv.data_seen = 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_backend_lost_at_first_rcpt():
    """The backend closes at RCPT: that recipient and every later one
    get a 4xx (found by the soak: the later ones got 503 "need MAIL
    command", a permanent reply that makes an MTA bounce them)."""
    be = Backend("--close", "rcpt")
    gh = Gatehouse(be.port)
    c = Client(gh.port)
    c.hello()
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
           "RCPT TO:<c@example.net>\r\nDATA\r\n")
    got = [c.reply()[0] for _ in range(4)]
    check(got[:3] == [250, 451, 451],
          f"pipelined: each RCPT after the backend went gets 451 {got}")
    check(got[3] in (451, 554), f"and DATA is refused {got}")
    check(c.cmd("RSET")[0] == 250, "RSET ends the transaction")
    d = Client(gh.port)
    d.hello()
    got = [d.cmd("MAIL FROM:<a@example.org>")[0],
           d.cmd("RCPT TO:<b@example.net>")[0],
           d.cmd("RCPT TO:<c@example.net>")[0]]
    check(got == [250, 451, 451], f"lockstep: the same {got}")
    check(d.cmd("QUIT")[0] == 221, "the session goes on")
    check(be.messages() == [], "nothing reached the backend")


def test_backend_lost_after_an_accepted_rcpt():
    """One recipient accepted, the backend closes at the next: the
    message gets a 4xx at the end, never a 5xx (the soak saw DATA get
    503 "need RCPT command", which bounces the whole message)."""
    srv = nth_backend()
    gh = Gatehouse(srv.server_address[1])
    for pipelined in (True, False):
        c = Client(gh.port)
        c.hello()
        cmds = ["MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>",
                "RCPT TO:<c@example.net>", "DATA"]
        if pipelined:
            c.send("".join(x + "\r\n" for x in cmds))
            got = [c.reply()[0] for _ in cmds]
        else:
            got = [c.cmd(x)[0] for x in cmds]
        what = "pipelined" if pipelined else "lockstep"
        check(got[:3] == [250, 250, 451],
              f"{what}: b accepted, c 451 {got}")
        if got[3] == 354:
            c.send(message() + ".\r\n")
            code = c.reply()[0]
            check(code // 100 == 4, f"{what}: 4xx at the end ({code})")
        else:
            check(got[3] // 100 == 4, f"{what}: DATA gets a 4xx {got}")
        check(c.cmd("NOOP")[0] == 250, f"{what}: the session goes on")
        c.close()
    check(srv.closed_at_rcpt == 2 and srv.data_seen == 0,
          "the backend never got DATA")
    srv.shutdown()


if __name__ == "__main__":
    run([test_backend_lost_at_first_rcpt,
         test_backend_lost_after_an_accepted_rcpt])

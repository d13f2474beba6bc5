#!/usr/bin/env python3
"""backend.py — the soak's scripted SMTP backend (python3 stdlib, asyncio).

Stands in for Postfix behind `gatehouse proxy` and misbehaves on a
schedule that the soak driver (soak.py) controls at run time: it writes
a JSON mode file and sends SIGUSR1, and the backend rereads it.  Mode
keys (all optional, default 0 = off):

  err      probability, per stage (banner, XCLIENT, MAIL, RCPT, DATA,
           end of data), of a random 4xx or 5xx reply ("soak-backend"
           in its text, so that the driver can tell who answered)
  slow     each reply waits a random 0..slow seconds
  stall    probability, at end of data, of taking the message (it is
           recorded) and answering only after `stall_for` seconds:
           past gatehouse's backend.timeout, so the reply is lost
  lost     probability, at end of data, of taking the message (it is
           recorded) and closing the connection without a reply
  chunking true: offer CHUNKING (RFC 3030), so that gatehouse sends the
           message with BDAT (the same faults apply to its last chunk)

Postfix-like: the EHLO reply offers PIPELINING, SIZE, 8BITMIME,
ENHANCEDSTATUSCODES and XCLIENT; XCLIENT is answered with a new 220;
RCPT TO a local part "unknown" is always refused (550 5.1.1).

The record (--record) gets one JSON line per message taken, written
with one O_APPEND write() *before* the 250 is sent, so that a message
whose 250 went out is always on record, even if this process is then
killed with SIGKILL:

  {"e": "acc", "a": ATTEMPT-ID, "r": [RCPT...], "ok": BODY-INTACT,
   "tag": X-SPAM-FLAG-YES, "sum": "sha1", "bdat": SENT-WITH-BDAT}

and, for diagnostics only, {"e": "ref", "a": ..., "c": CODE} for a
message refused at end of data.  ATTEMPT-ID is the X-Soak-Attempt
header; BODY-INTACT compares the body's SHA-1 (LF line ends, without
the last line "SOAK-END ...") with the X-Soak-Sum header.
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import signal
import sys

STAGES_4 = [("421", "4.3.0"), ("450", "4.2.0"), ("451", "4.3.0"),
            ("452", "4.3.1")]
STAGES_5 = [("550", "5.7.1"), ("552", "5.3.4"), ("553", "5.1.3"),
            ("554", "5.3.0")]
ADDR_RE = re.compile(rb"<([^>]*)>")


class State:
    def __init__(self, args):
        self.args = args
        self.mode = {}
        self.rnd = random.Random(args.seed)
        self.fd = os.open(args.record,
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.queued = 0

    def load_mode(self):
        try:
            with open(self.args.mode_file) as f:
                self.mode = json.load(f)
        except (OSError, ValueError):
            self.mode = {}

    def p(self, key):
        return self.mode.get(key, 0)

    def record(self, obj):
        os.write(self.fd, (json.dumps(obj, separators=(",", ":")) + "\n")
                 .encode())


def parse_message(data):
    """Return (attempt, intact, tag, sum) of an un-dot-stuffed message."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, False, False, ""
    head = data[:end + 2]
    body = data[end + 4:]
    attempt, want, tag = None, None, False
    for line in head.split(b"\r\n"):
        low = line[:16].lower()
        if low.startswith(b"x-soak-attempt:"):
            attempt = line[15:].strip().decode("latin-1")
        elif low.startswith(b"x-soak-sum:"):
            want = line[11:].strip().decode("latin-1")
        elif low.startswith(b"x-spam-flag:"):
            tag = line[12:].strip().upper() == b"YES"
    body = body.replace(b"\r\n", b"\n")
    # the last line is "SOAK-END attempt\n"
    cut = body.rfind(b"SOAK-END ")
    got = hashlib.sha1(body[:cut] if cut >= 0 else body).hexdigest()
    intact = (cut >= 0 and want == got and
              body[cut:] == b"SOAK-END " + (attempt or "").encode() + b"\n")
    return attempt, intact, tag, got


class Conn:
    def __init__(self, st, reader, writer):
        self.st = st
        self.r = reader
        self.w = writer

    async def send(self, text):
        slow = self.st.p("slow")
        if slow:
            await asyncio.sleep(self.st.rnd.random() * slow)
        self.w.write(text.encode() + b"\r\n")
        await self.w.drain()

    def fault(self):
        """A random refusal, or None."""
        st = self.st
        if st.p("err") and st.rnd.random() < st.p("err"):
            code, enh = st.rnd.choice(STAGES_4 + STAGES_5)
            return code, enh
        return None

    async def refuse(self, where):
        f = self.fault()
        if f is None:
            return False
        code, enh = f
        await self.send(f"{code} {enh} soak-backend refuses {where}")
        if code == "421":
            raise ConnectionAbortedError
        return True

    async def run(self):
        st = self.st
        mail, rcpts, chunks = None, [], []
        if await self.refuse("banner"):
            raise ConnectionAbortedError
        await self.send("220 backend.soak ESMTP soak")
        while True:
            line = await self.r.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                mail, rcpts, chunks = None, [], []
                await self.send("250-backend.soak\r\n250-PIPELINING\r\n"
                                "250-SIZE 100000000\r\n250-8BITMIME\r\n"
                                "250-XCLIENT NAME ADDR PORT PROTO HELO\r\n" +
                                ("250-CHUNKING\r\n" if st.p("chunking")
                                 else "") +
                                "250 ENHANCEDSTATUSCODES")
            elif verb == b"XCLI":
                mail, rcpts, chunks = None, [], []
                if not await self.refuse("XCLIENT"):
                    await self.send("220 backend.soak ESMTP soak")
            elif verb == b"MAIL":
                if mail is not None:
                    await self.send("503 5.5.1 Error: nested MAIL command")
                elif not await self.refuse("MAIL"):
                    mail, rcpts = line, []
                    await self.send("250 2.1.0 Ok")
            elif verb == b"RCPT":
                m = ADDR_RE.search(line)
                addr = m.group(1).decode("latin-1") if m else ""
                if mail is None:
                    await self.send("503 5.5.1 Error: need MAIL command")
                elif addr.lower().startswith("unknown@"):
                    await self.send("550 5.1.1 <%s>: Recipient address "
                                    "rejected: soak-backend unknown user"
                                    % addr)
                elif not await self.refuse("RCPT"):
                    rcpts.append(addr)
                    await self.send("250 2.1.5 Ok")
            elif verb == b"DATA":
                if mail is None or not rcpts:
                    await self.send("503 5.5.1 Error: need RCPT command")
                    continue
                if await self.refuse("DATA"):
                    mail, rcpts, chunks = None, [], []
                    continue
                await self.send("354 End data with <CR><LF>.<CR><LF>")
                await self.data(rcpts)
                mail, rcpts, chunks = None, [], []
            elif verb == b"BDAT":
                # RFC 3030: the chunk is read whatever the reply
                parts = line.split()
                try:
                    size = int(parts[1])
                    last = len(parts) > 2 and parts[2].upper() == b"LAST"
                except (IndexError, ValueError):
                    await self.send("501 5.5.4 Syntax: BDAT size [LAST]")
                    return
                chunk = await self.r.readexactly(size)
                if mail is None or not rcpts:
                    await self.send("503 5.5.1 Error: need RCPT command")
                    continue
                chunks.append(chunk)
                if not last:
                    if await self.refuse("BDAT"):
                        mail, rcpts, chunks = None, [], []
                        continue
                    await self.send(f"250 2.0.0 {size} octets received")
                    continue
                await self.message(b"".join(chunks), rcpts, bdat=True)
                mail, rcpts, chunks = None, [], []
            elif verb == b"RSET":
                mail, rcpts, chunks = None, [], []
                await self.send("250 2.0.0 Ok")
            elif verb == b"NOOP":
                await self.send("250 2.0.0 Ok")
            elif verb == b"QUIT":
                await self.send("221 2.0.0 Bye")
                return
            else:
                await self.send("502 5.5.2 Error: command not recognized")

    async def data(self, rcpts):
        raw = await self.r.readuntil(b"\r\n.\r\n")
        raw = raw[:-3]                       # keep the last CRLF
        if raw.startswith(b".."):
            raw = raw[1:]
        await self.message(raw.replace(b"\r\n..", b"\r\n."), rcpts)

    async def message(self, data, rcpts, bdat=False):
        """The end of a message (DATA or the last BDAT): refuse it, or
        record it and answer (or lose the answer)."""
        st = self.st
        attempt, intact, tag, got = parse_message(data)
        f = self.fault()
        if f is not None:
            code, enh = f
            st.record({"e": "ref", "a": attempt, "c": int(code)})
            await self.send(f"{code} {enh} soak-backend refuses "
                            "end of data")
            if code == "421":
                raise ConnectionAbortedError
            return
        st.record({"e": "acc", "a": attempt, "r": rcpts, "ok": intact,
                   "tag": tag, "sum": got, "bdat": bdat})
        st.queued += 1
        if st.p("lost") and st.rnd.random() < st.p("lost"):
            raise ConnectionAbortedError     # taken; the reply is lost
        if st.p("stall") and st.rnd.random() < st.p("stall"):
            await asyncio.sleep(st.p("stall_for") or 5)
        await self.send(f"250 2.0.0 Ok: queued as S{st.queued:x}")


async def handle(st, reader, writer):
    c = Conn(st, reader, writer)
    try:
        await c.run()
    except (ConnectionError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, OSError):
        pass
    finally:
        try:
            writer.transport.abort()
        except Exception:
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--mode-file", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    st = State(a)
    st.load_mode()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, st.load_mode)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    srv = await asyncio.start_server(
        lambda r, w: handle(st, r, w), "127.0.0.1", a.port,
        backlog=1024, limit=64 * 1024 * 1024, reuse_address=True)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write(str(os.getpid()))
    print("soak backend on port", a.port, file=sys.stderr, flush=True)
    async with srv:
        await stop


if __name__ == "__main__":
    asyncio.run(main())

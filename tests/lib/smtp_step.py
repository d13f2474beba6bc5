#!/usr/bin/python3
"""smtp_step.py - a scripted SMTP client that can hold a session open.

usage: smtp_step.py HOST PORT SCRIPT

SCRIPT has one step a line:
  C <expect> <command>   send COMMAND, the reply must start with EXPECT
                         (e.g. "C 250 MAIL FROM:<a@example.test>")
  E <expect>             read one reply (the greeting)
  D <expect> <file>      send FILE as message content (dot-stuffed, CRLF)
                         then ".", the reply must start with EXPECT
  W <path>               wait (at most 120 s) until PATH exists
Each reply is printed as "<- CODE TEXT"; on the first mismatch the
script prints "MISMATCH" and exits 1 (2 on a timeout or lost connection).
"""
import os
import socket
import sys
import time


def reply(f):
    """Read one (multi-line) reply; return its last line."""
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        print("<- " + line, flush=True)
        if len(line) < 4 or line[3] != "-":
            return line


def main():
    host, port, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.create_connection((host, port), timeout=60)
    f = s.makefile("rb")
    with open(script) as sf:
        steps = [l.rstrip("\n") for l in sf if l.strip()]
    try:
        for st in steps:
            kind, _, rest = st.partition(" ")
            if kind == "W":
                for _ in range(1200):
                    if os.path.exists(rest):
                        break
                    time.sleep(0.1)
                else:
                    print("TIMEOUT waiting for " + rest)
                    return 2
                continue
            exp, _, arg = rest.partition(" ")
            if kind == "C":
                print("-> " + arg, flush=True)
                s.sendall(arg.encode() + b"\r\n")
            elif kind == "D":
                with open(arg, "rb") as mf:
                    data = mf.read().replace(b"\r\n", b"\n")
                out = []
                for l in data.split(b"\n"):
                    out.append(b"." + l if l.startswith(b".") else l)
                if out and out[-1] == b"":
                    out.pop()
                s.sendall(b"\r\n".join(out) + b"\r\n.\r\n")
                print("-> <" + arg + ">", flush=True)
            line = reply(f)
            if not line.startswith(exp):
                print("MISMATCH: wanted " + exp)
                return 1
    except (OSError, EOFError) as e:
        print("ERROR: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

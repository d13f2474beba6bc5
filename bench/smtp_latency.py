#!/usr/bin/env python3
"""smtp_latency.py PORT SIZE CONCURRENCY COUNT — send COUNT messages of
SIZE body bytes with CONCURRENCY parallel clients (one message per
connection, as smtp-source does) and print "p50_ms p99_ms msgs_per_s":
latency from connect to the 250 after the end of data.
Also: smtp_latency.py --idle PORT N PID — open N sessions that stay idle
after EHLO, print the gatehouse RSS growth per session in KiB.
"""
import socket
import sys
import threading
import time


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


def one(port, body):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    reply(f)
    for cmd in (b"EHLO bench.example\r\n", b"MAIL FROM:<a@example.org>\r\n",
                b"RCPT TO:<b@example.net>\r\n", b"DATA\r\n"):
        s.sendall(cmd)
        reply(f)
    s.sendall(body)
    code = reply(f)
    t1 = time.perf_counter()
    s.sendall(b"QUIT\r\n")
    reply(f)
    s.close()
    if code != 250:
        raise RuntimeError(f"end of data: {code}")
    return t1 - t0


def latency(port, size, conc, count):
    line = b"x" * 76 + b"\r\n"
    body = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n"
            b"\r\n" + line * (size // len(line) + 1) + b".\r\n")
    lat, lock = [], threading.Lock()
    left = [count]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            d = one(port, body)
            with lock:
                lat.append(d)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.perf_counter() - t0
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"{p(0.50):.2f} {p(0.99):.2f} {len(lat) / el:.0f}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])


def idle(port, n, pid):
    socks = []
    time.sleep(0.5)
    before = rss_kib(pid)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rb")
        reply(f)
        s.sendall(b"EHLO idle.example\r\n")
        reply(f)
        socks.append((s, f))
    time.sleep(1.0)
    after = rss_kib(pid)
    print(f"{(after - before) / n:.2f}")
    for s, f in socks:
        s.close()


if __name__ == "__main__":
    if sys.argv[1] == "--idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        latency(*map(int, sys.argv[1:5]))

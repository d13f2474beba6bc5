"""Start a real unbound serving SPF test zones on loopback (python3 stdlib).

Zone data is a dict: owner name -> list of records, each a dict with one
key (A, AAAA, MX, PTR, CNAME, TXT, SPF) or the string "TIMEOUT", as in
the RFC 7208 test suite's JSON.  Semantics follow pyspf's test DNS:
SPF entries are also served as TXT unless the name has a TXT entry
("TXT": "NONE" means no TXT at all); "TIMEOUT" makes every type listed
after it (and every type not listed) time out: the name is delegated
to a UDP socket that never answers.

Everything runs on 127.0.0.1 with ports picked by the kernel; unbound
is stopped by PID.
"""
import os
import socket
import struct
import subprocess
import tempfile
import time


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def esc_name(name):
    """Presentation form of a name: anything unusual as \\DDD."""
    if name == "":
        return "."
    out = []
    for b in name.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.*"):
            out.append(c)
        else:
            out.append("\\%03d" % b)
    s = "".join(out)
    return s if s.endswith(".") else s + "."


def esc_txt(strings):
    """One TXT rdata: quoted character-strings, each at most 255 bytes."""
    if isinstance(strings, str):
        strings = [strings]
    parts = []
    for s in strings:
        raw = s.encode("utf-8")
        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        for ch in chunks:
            q = []
            for b in ch:
                c = chr(b)
                if 0x20 <= b < 0x7f and c not in '"\\':
                    q.append(c)
                else:
                    q.append("\\%03d" % b)
            parts.append('"' + "".join(q) + '"')
    return " ".join(parts) if parts else '""'


def records(entries):
    """pyspf's getrdata: (type, value) pairs, TXT generated from SPF."""
    txt, gen, out, timeout_at = [], True, [], None
    for e in entries:
        if e == "TIMEOUT":
            timeout_at = len(out)
            continue
        for t, v in e.items():
            if t == "TXT":
                gen = False
            elif t == "SPF" and gen:
                txt.append(("TXT", v))
            if v != "NONE":
                out.append((t, v))
    if gen:
        out.extend(txt)
    return out, timeout_at


def rr_line(name, t, v):
    n = esc_name(name)
    if t in ("TXT", "SPF"):
        return "%s 300 IN %s %s" % (n, t, esc_txt(v))
    if t == "MX":
        return "%s 300 IN MX %d %s" % (n, v[0], esc_name(v[1]))
    if t in ("PTR", "CNAME"):
        return "%s 300 IN %s %s" % (n, t, esc_name(v))
    return "%s 300 IN %s %s" % (n, t, v)


def local_data(line):
    return "  local-data: '%s'\n" % line.replace("'", "\\'")


class Unbound:
    """A running unbound with a zone; use as a context manager."""

    def __init__(self, zone, extra=""):
        self.dir = tempfile.mkdtemp(prefix="gh-unbound-")
        self.port = free_port()
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        bh = self.blackhole.getsockname()[1]
        conf = [
            "server:",
            "  interface: 127.0.0.1",
            "  port: %d" % self.port,
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % self.dir,
            '  pidfile: ""',
            "  use-syslog: no",
            "  logfile: \"%s/unbound.log\"" % self.dir,
            "  num-threads: 1",
            "  do-ip6: no",
            "  do-not-query-localhost: no",
            "  access-control: 127.0.0.0/8 allow",
            '  module-config: "iterator"',
            "  qname-minimisation: no",
            "  minimal-responses: yes",
            "  cache-max-ttl: 0",
            "  cache-max-negative-ttl: 0",
            '  local-zone: "." static',
        ]
        stubs = []
        timeouts = {}
        body = ""
        for name, entries in zone.items():
            recs, timeout_at = records(entries)
            if timeout_at is not None:
                timeouts[name.lower()] = True
                body += '  local-zone: "%s" typetransparent\n' % \
                    esc_name(name)
                recs = recs[:timeout_at]
                stubs.append(name)
            for t, v in recs:
                if t == "TXT" and isinstance(v, list) and not v:
                    v = [""]
                body += local_data(rr_line(name, t, v))
        # A defined name below a timing-out one answers for itself.
        for name in zone:
            low = name.lower()
            if low in timeouts:
                continue
            if any(low.endswith("." + t) for t in timeouts):
                body = '  local-zone: "%s" static\n' % esc_name(name) + body
        conf.append(body.rstrip("\n"))
        conf.append(extra.rstrip("\n"))
        for name in stubs:
            conf += ["stub-zone:", '  name: "%s"' % esc_name(name),
                     "  stub-addr: 127.0.0.1@%d" % bh]
        conf += ["remote-control:", "  control-enable: no", ""]
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.conftext = "\n".join(conf)
        # The port was free a moment ago; another test may take it
        # first: start again on a new one.
        for attempt in range(5):
            with open(self.conf, "w") as f:
                f.write(self.conftext)
            self.proc = subprocess.Popen(
                ["unbound", "-d", "-c", self.conf],
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(self.dir, "stderr"), "w"))
            if self.wait_ready():
                return
            port = free_port()
            self.conftext = self.conftext.replace(
                "  port: %d\n" % self.port, "  port: %d\n" % port)
            self.port = port
        raise RuntimeError("unbound does not start: " + self.log())

    def log(self):
        text = ""
        for name in ("stderr", "unbound.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()[-2000:]
            except OSError:
                pass
        return text

    def query(self, name, qtype=16, timeout=0.2):
        q = struct.pack(">HHHHHH", 0x4748, 0x0100, 1, 0, 0, 0)
        for label in name.strip(".").split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack(">HH", qtype, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            return s.recv(4096)
        finally:
            s.close()

    def wait_ready(self):
        """True once unbound answers, False when it exited."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.query("ready.invalid")
                return True
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("unbound did not answer: " + self.log())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.blackhole.close()
        subprocess.call(["rm", "-rf", self.dir])

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

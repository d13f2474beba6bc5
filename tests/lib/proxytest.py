"""proxytest.py — helpers for gatehouse proxy tests in python3 (stdlib).

Start a fake backend (fake_backend.py), smtp-sink or gatehouse itself on
free loopback ports, talk raw SMTP to them, read what reached the
backend, and stop everything by PID at the end.
"""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GATEHOUSE = os.environ.get("GATEHOUSE", "build/gatehouse")

_procs = []
_failures = []
_tmp = tempfile.mkdtemp(prefix="gh-proxytest-")


def tmpdir():
    return _tmp


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cleanup():
    for p in reversed(_procs):
        stop(p)
    # A sanitizer report in any gatehouse log fails the run.
    for name in sorted(os.listdir(_tmp)):
        if name.startswith("gatehouse-") and name.endswith(".log"):
            with open(os.path.join(_tmp, name), errors="replace") as f:
                text = f.read()
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                        "runtime error:"):
                if bad in text:
                    check(False, f"{name}: {bad}")


class Backend:
    """The scripted backend; `record` lists what it received."""

    def __init__(self, *args):
        self.port = free_port()
        self.record = os.path.join(_tmp, f"backend-{self.port}.jsonl")
        open(self.record, "w").close()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_backend.py"),
             "--port", str(self.port), "--record", self.record, *args],
            stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        wait_port(self.port)
        time.sleep(0.05)
        # the connection wait_port made is recorded as nothing

    def entries(self):
        with open(self.record) as f:
            return [json.loads(l) for l in f if l.strip()]

    def commands(self):
        return [e["cmd"] for e in self.entries() if "cmd" in e]

    def messages(self):
        return [dict(e, data=base64.b64decode(e["message"]))
                for e in self.entries() if "message" in e]

    def stop(self):
        stop(self.proc)


class Gatehouse:
    """gatehouse proxy in the foreground, log in a file."""

    def __init__(self, backend_port, *overrides, config=None, port=None):
        self.port = port or free_port()
        self.log = os.path.join(_tmp, f"gatehouse-{self.port}.log")
        cfg = config or "/dev/null"
        args = [GATEHOUSE, "-f", "-c", cfg,
                "-o", f"listen=127.0.0.1:{self.port}",
                "-o", f"backend=127.0.0.1:{backend_port}",
                "-o", "hostname=gate.test",
                "-o", f"spool_dir={_tmp}",
                # No DNS in tests unless a test brings its own: the
                # filters that need it are off unless asked for.
                "-o", "spf.enable=no", "-o", "dkim.enable=no",
                "-o", "client_name_lookup=no", "-o", "rules="]
        for o in overrides:
            args += ["-o", o]
        args.append("proxy")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stderr=self.logf)
        _procs.append(self.proc)
        wait_port(self.port)

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        stop(self.proc)


class Client:
    """A raw SMTP client: send bytes, read replies."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def reply(self):
        """One reply: (code, [lines])."""
        lines = []
        while True:
            l = self._line()
            lines.append(l)
            if len(l) < 4 or l[3] == " ":
                return int(l[:3]), lines

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (after replies)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def hello(self, name="client.example"):
        c, _ = self.reply()
        assert c == 220, c
        c, _ = self.cmd("EHLO " + name)
        assert c == 250, c


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        _failures.append(what)


def run(tests):
    """Run test functions; exit 0 when all passed."""
    try:
        for t in tests:
            print(f"== {t.__name__}", flush=True)
            try:
                t()
            except Exception as e:  # a test that crashed failed
                check(False, f"{t.__name__}: {type(e).__name__}: {e}")
    finally:
        cleanup()
    if _failures:
        print(f"{len(_failures)} failure(s); logs in {_tmp}")
        sys.exit(1)
    print("all passed")
    sys.exit(0)


def message(subject="test", body="hello\r\n"):
    return (f"From: a@example.org\r\nTo: b@example.net\r\n"
            f"Subject: {subject}\r\n\r\n{body}")

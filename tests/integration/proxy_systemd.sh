#!/usr/bin/env bash
# proxy_systemd.sh — gatehouse proxy under systemd's protocols, without
# systemd: socket activation (systemd-socket-activate passes the listening
# socket, as gatehouse-proxy.socket does) and Type=notify (READY=1 at
# start, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, read
# from a NOTIFY_SOCKET of our own).
set -u
command -v systemd-socket-activate >/dev/null ||
	{ echo "skip: systemd-socket-activate missing"; exit 77; }
exec python3 - "$GATEHOUSE" <<'EOF_PY'
import os, signal, socket, subprocess, sys, tempfile

gh = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="gh-systemd-")
path = os.path.join(tmp, "notify.sock")
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(path)
ns.settimeout(10)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
p = subprocess.Popen(["systemd-socket-activate", "-E", f"NOTIFY_SOCKET={path}",
                      "-l", f"127.0.0.1:{port}", gh, "-f", "-c", "/dev/null",
                      "-o", "listen=127.0.0.1:1", "proxy"],
                     stderr=open(os.path.join(tmp, "gatehouse.log"), "w"))
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    fails += not cond


try:
    for _ in range(100):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            import time
            time.sleep(0.05)
    check(ns.recv(1000).startswith(b"READY=1"), "READY=1 once serving")
    check(c.recv(100).startswith(b"220 "),
          "the banner on the socket systemd passed (listen= ignored)")
    c.close()
    p.send_signal(signal.SIGHUP)
    check(ns.recv(1000) == b"RELOADING=1", "RELOADING=1 on SIGHUP")
    check(ns.recv(1000) == b"READY=1", "then READY=1")
    p.send_signal(signal.SIGTERM)
    check(ns.recv(1000) == b"STOPPING=1", "STOPPING=1 on SIGTERM")
    check(p.wait(10) == 0, "exit 0")
except Exception as e:
    check(False, f"{type(e).__name__}: {e}")
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
if fails:
    print("logs in", tmp)
sys.exit(1 if fails else 0)
EOF_PY

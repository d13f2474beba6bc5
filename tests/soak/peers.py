"""peers.py — the soak's peers (unbound, smtp-sink, the scripted
backend, a private Postfix), started, killed and restarted by PID, and
what /proc says about gatehouse (fds, RSS)."""
import asyncio
import collections
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

from common import now

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------ helpers

def port_listening(port):
    """True if a TCP socket listens on 127.0.0.1:port (or any)."""
    h = ":%04X" % port
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "0A" and p[1].endswith(h):
                        return True
        except OSError:
            pass
    return False


def free_port():
    """A free loopback port below the kernel's ephemeral range (as the
    harness picks them), so that no outgoing connection takes it."""
    rnd = random.Random()
    for _ in range(500):
        p = rnd.randint(20000, 32000)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as sk:
                    sk.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


def proc_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st not in ("Z", "X")
    except (OSError, IndexError):
        return False


def fd_info(pid):
    """(count, {kind: n}) of the open file descriptors of pid."""
    kinds = collections.Counter()
    d = f"/proc/{pid}/fd"
    n = 0
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        n += 1
        if t.startswith("socket:"):
            kinds["socket"] += 1
        elif t.startswith("pipe:"):
            kinds["pipe"] += 1
        elif t.startswith("anon_inode:"):
            kinds[t[11:].strip("[]")] += 1
        elif t.endswith("(deleted)"):
            kinds["deleted-file"] += 1
        else:
            kinds["file"] += 1
    return n, dict(kinds)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def is_asan(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


class Proc:
    """A child process, stopped by its PID."""

    def __init__(self, name, argv, logpath, env=None):
        self.name = name
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=self.logf,
                                  env=env)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    async def stop(self, sig=signal.SIGTERM, grace=5.0):
        """Signal, wait (bounded), SIGKILL if needed, reap."""
        self.kill(signal.SIGCONT)
        self.kill(sig)
        end = now() + grace
        while self.alive() and now() < end:
            await asyncio.sleep(0.02)
        if self.alive():
            self.kill(signal.SIGKILL)
            end = now() + 5
            while self.alive() and now() < end:
                await asyncio.sleep(0.02)
        self.logf.close()

    def stop_now(self):
        """SIGKILL and reap (cleanup path, no loop needed)."""
        if self.alive():
            self.kill(signal.SIGCONT)
            self.kill(signal.SIGKILL)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.logf.close()
        except OSError:
            pass


def procs_in(d):
    """PIDs of the processes whose cwd is inside d (every Postfix process
    has its cwd in its queue directory)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == d or cwd.startswith(d + "/"):
            out.append(int(pid))
    return out


class Postfix:
    """A private Postfix instance as the backend: smtpd on the backend
    port, relaying everything to its own smtp-sink (whose captures are
    the record); killed with SIGKILL, all of its processes, found by
    their cwd in its queue directory."""

    def __init__(self, d, port, sink_port):
        self.d = d
        self.conf = os.path.join(d, "conf")
        self.spool = os.path.join(d, "spool")
        self.port = port
        self.sink_port = sink_port
        self.pid = None
        self.setup()

    def setup(self):
        d, sp = self.d, self.spool
        os.makedirs(self.conf, exist_ok=True)
        os.makedirs(os.path.join(sp, "pid"), exist_ok=True)
        os.chmod(sp, 0o755)
        for q in ("active", "bounce", "corrupt", "defer", "deferred",
                  "flush", "hold", "incoming", "private", "saved",
                  "trace"):
            os.makedirs(os.path.join(sp, q), mode=0o700, exist_ok=True)
            shutil.chown(os.path.join(sp, q), "postfix", "root")
        for q, mode in (("maildrop", 0o730), ("public", 0o710)):
            os.makedirs(os.path.join(sp, q), exist_ok=True)
            os.chmod(os.path.join(sp, q), mode)
            shutil.chown(os.path.join(sp, q), "postfix", "postdrop")
        os.makedirs(os.path.join(d, "data"), mode=0o700, exist_ok=True)
        shutil.chown(os.path.join(d, "data"), "postfix")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""\
# the soak's private Postfix (tests/soak/soak.py)
compatibility_level = 3.6
config_directory = {self.conf}
queue_directory = {sp}
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.soak.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
relayhost = [127.0.0.1]:{self.sink_port}
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
biff = no
default_process_limit = 400
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connection_cache_on_demand = yes
""")
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fl = line.split()
                if line.startswith(("#", " ", "\t")) or len(fl) < 8:
                    out.append(line)
                    continue
                if fl[0] == "smtp" and fl[1] == "inet":
                    fl[0] = f"127.0.0.1:{self.port}"
                fl[4] = "n"
                out.append(" ".join(fl) + "\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.writelines(out)

    async def start(self):
        dd = subprocess.run(["postconf", "-c", self.conf, "-h",
                             "daemon_directory"], capture_output=True,
                            text=True).stdout.strip()
        p = await asyncio.create_subprocess_exec(
            os.path.join(dd, "master"), "-c", self.conf, "-w",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        await p.wait()
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                self.pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            raise RuntimeError("postfix master did not start")
        if not await wait_listen(self.port, None, 15):
            raise RuntimeError("postfix smtpd not listening")

    def alive(self):
        return self.pid is not None and proc_alive(self.pid)

    def kill(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    async def stop(self, sig=signal.SIGKILL, grace=5.0):
        """SIGKILL every process of the instance (sig=SIGTERM: let the
        master stop its children first)."""
        if sig != signal.SIGKILL and self.alive():
            os.kill(self.pid, sig)
            end = now() + grace
            while self.alive() and now() < end:
                await asyncio.sleep(0.05)
        end = now() + 10
        while now() < end:
            pids = procs_in(self.spool)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            await asyncio.sleep(0.05)
        self.pid = None

    def stop_now(self):
        for _ in range(50):
            pids = procs_in(self.spool)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def queued(self):
        """Messages in the queue.  A file that a killed cleanup(8) left
        half written (mode 0600: Postfix marks a complete queue file
        executable) is no message and never leaves incoming/."""
        n = 0
        for q in ("incoming", "active", "deferred", "hold", "maildrop"):
            for root, _, files in os.walk(os.path.join(self.spool, q)):
                for fn in files:
                    try:
                        mode = os.stat(os.path.join(root, fn)).st_mode
                    except OSError:
                        continue
                    if q not in ("incoming", "maildrop") or mode & 0o100:
                        n += 1
        return n

    async def flush(self, secs):
        """Deliver everything queued; True once the queue is empty."""
        subprocess.run(["postqueue", "-c", self.conf, "-f"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = now() + secs
        while now() < end:
            if self.queued() == 0:
                return True
            await asyncio.sleep(0.5)
        return self.queued() == 0


async def wait_listen(port, proc, secs=10.0):
    end = now() + secs
    while now() < end:
        if port_listening(port):
            return True
        if proc is not None and not proc.alive():
            return False
        await asyncio.sleep(0.02)
    return port_listening(port)


# -------------------------------------------------------------- peers

class Peers:
    """unbound and the backends: started, killed, restarted by PID."""

    def __init__(self, a, ports):
        self.a = a
        self.dir = os.path.abspath(a.dir)
        self.be_port = ports["backend"]
        self.dns_port = ports["dns"]
        self.unbound = None
        self.unbound_paused = False
        self.backend = None
        self.kind = None
        self.mode = {}
        self.procs = []
        self.lock = asyncio.Lock()
        self.record = os.path.join(self.dir, "backend.jsonl")
        self.mode_file = os.path.join(self.dir, "backend-mode.json")
        self.sink_dir = os.path.join(self.dir, "sink")
        self.counts = collections.Counter()
        self.seed = a.seed
        self.postfix = None
        self.pf_sink = None
        self.pf_sink_dir = os.path.join(self.dir, "pfsink")
        self.pf_sink_port = None

    def _track(self, p):
        self.procs = [q for q in self.procs
                      if q.alive() or isinstance(q, Postfix)]
        self.procs.append(p)
        return p

    # unbound
    def _unbound_conf(self):
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write(f"""\
server:
  interface: 127.0.0.1
  port: {self.dns_port}
  so-reuseport: no
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." static
  local-zone: "soak.test." redirect
  local-data: 'soak.test. 1 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"'
  local-zone: "fail.test." redirect
  local-data: 'fail.test. 1 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"'
remote-control:
  control-enable: no
""")
        return path

    async def start_unbound(self):
        conf = os.path.join(self.dir, "unbound.conf")
        if not os.path.exists(conf):
            self._unbound_conf()
        self.unbound = self._track(Proc(
            "unbound", ["unbound", "-d", "-c", conf],
            os.path.join(self.dir, "unbound.log")))
        self.unbound_paused = False
        # unbound binds UDP and TCP; the TCP listener says it is up.
        if not await wait_listen(self.dns_port, self.unbound):
            raise RuntimeError("unbound did not start")
        await asyncio.sleep(0.05)

    async def stop_unbound(self):
        if self.unbound:
            await self.unbound.stop()
            self.unbound = None
            self.counts["unbound stopped"] += 1

    def pause_unbound(self):
        if self.unbound and not self.unbound_paused:
            self.unbound.kill(signal.SIGSTOP)
            self.unbound_paused = True
            self.counts["unbound paused"] += 1

    def resume_unbound(self):
        if self.unbound and self.unbound_paused:
            self.unbound.kill(signal.SIGCONT)
            self.unbound_paused = False

    # backends
    def set_mode(self, **mode):
        self.mode = mode
        tmp = self.mode_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(mode, f)
        os.rename(tmp, self.mode_file)
        if self.kind == "scripted" and self.backend:
            self.backend.kill(signal.SIGUSR1)

    async def start_postfix(self):
        if self.postfix is None:
            self.pf_sink_port = free_port()
            os.makedirs(self.pf_sink_dir, exist_ok=True)
            os.chmod(self.pf_sink_dir, 0o777)
            self.pf_sink = self._track(Proc(
                "pf-sink", ["smtp-sink", "-u", "nobody", "-4", "-h",
                            "pfsink.soak", "-m", "1024", "-d",
                            os.path.join(self.pf_sink_dir, "%H%M/%S."),
                            f"127.0.0.1:{self.pf_sink_port}", "1024"],
                os.path.join(self.dir, "pfsink.log")))
            if not await wait_listen(self.pf_sink_port, self.pf_sink):
                raise RuntimeError("Postfix's smtp-sink did not start")
            self.postfix = Postfix(os.path.join(self.dir, "pf"),
                                   self.be_port, self.pf_sink_port)
        await self.postfix.start()
        if self.postfix not in self.procs:
            self.procs.append(self.postfix)
        self.backend, self.kind = self.postfix, "postfix"

    async def start_backend(self, kind):
        self.seed += 1
        if kind == "postfix":
            await self.start_postfix()
            return
        if kind == "sink":
            os.makedirs(self.sink_dir, exist_ok=True)
            os.chmod(self.sink_dir, 0o777)
            argv = ["smtp-sink", "-u", "nobody", "-4", "-h", "sink.soak",
                    "-m", "1024", "-d",
                    os.path.join(self.sink_dir, "%H%M/%S."),
                    f"127.0.0.1:{self.be_port}", "1024"]
        else:
            argv = [sys.executable, os.path.join(HERE, "backend.py"),
                    "--port", str(self.be_port), "--record", self.record,
                    "--mode-file", self.mode_file, "--seed",
                    str(self.seed)]
        p = self._track(Proc("backend-" + kind, argv,
                             os.path.join(self.dir, f"{kind}.log")))
        self.backend, self.kind = p, kind
        if not await wait_listen(self.be_port, p):
            raise RuntimeError(f"backend {kind} did not start")

    async def kill_backend(self):
        if self.backend:
            await self.backend.stop(signal.SIGKILL)
            self.backend = None
            self.counts["backend killed"] += 1

    async def flush_postfix(self, secs):
        """At the end: let Postfix deliver what it queued (it may have
        been killed with messages in its queue)."""
        if self.postfix is None:
            return True
        async with self.lock:
            if not self.postfix.alive():
                if self.backend is not None:
                    await self.kill_backend()
                await self.start_postfix()
        return await self.postfix.flush(secs)

    async def stop_all(self):
        for p in reversed(self.procs):
            await p.stop()
        self.procs = []

    def kill_all_now(self):
        for p in reversed(self.procs):
            p.stop_now()
        self.procs = []

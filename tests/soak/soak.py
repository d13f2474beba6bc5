#!/usr/bin/env python3
"""soak.py — gatehouse proxy under load and faults (python3 stdlib only).

Many concurrent SMTP clients send N messages through a running
`gatehouse proxy` to a real backend while a fault scheduler, on a
timetable, kills and restarts the backend (Postfix's smtp-sink, and a
scripted backend, tests/soak/backend.py, that also answers 4xx and 5xx
at random stages, is slow, stalls past gatehouse's backend timeout and
loses its reply after taking a message), stops and pauses the DNS
server (unbound; SPF is on, so some transactions tempfail), makes
clients vanish in the middle of DATA and right after it, and sends
gatehouse a SIGHUP every second with the rule file alternately good and
broken.  Then it checks what the clients were told against what the
backends recorded.

Two steps, so that the caller (tests/integration/soak_short.sh, through
the test harness, or tools/soak) starts gatehouse itself:

  soak.py prepare --dir D --gh-port P --backend-port B --dns-port N
      writes D/gatehouse.conf, D/rules/soak.rules (the good set)
  soak.py run --dir D --gh-pid PID [--messages N] [--seconds S] ...
      starts unbound, the backends, runs the soak, stops them by PID

Every message has a unique id (Message-ID, and its body); every try
("attempt") of it has its own id too (X-Soak-Attempt, and the body's
last line), because a client retries a message after a 4xx or a lost
connection, as a real MTA does.  The backends record the attempt ids
they took (backend.py: a JSON line before its 250; smtp-sink: one file
per message, complete before its 250).

THE INVARIANT, per attempt (the client's last reply -> what the
backend may hold of that attempt):

  250 at end of data                      exactly one copy
  5xx at any stage                        none
  4xx before end of data                  none (nothing was sent on)
  4xx at end of data from the backend     none (relayed refusal)
  4xx at end of data from gatehouse       none or one: "maybe": the
      ("Temporary backend failure")       backend may have taken it and
                                          lost its reply (RFC 1047)
  connection lost before the client       none
      finished sending the terminator
  client vanished in DATA (no ".")        none
  connection lost, or the client left,    none or one ("maybe")
      after the terminator was sent
  no reply within --reply-timeout         a failure in itself

and no attempt is ever on record twice, every recorded body is intact
(SHA-1 of the body, dot-stuffing undone), every recorded recipient set
is exactly the set the client saw 250 for at RCPT, a message whose
Subject asks for the tag rule is tagged (X-Spam-Flag: YES) and no other
is.  Per message, the copies the backends hold are then: one if any
attempt got 250, plus one per "maybe" attempt that did arrive; a
message held twice is a duplicate (counted and printed, allowed only
as explained by a lost reply).

The rule set stays live through broken reloads: a message marked for
the rejecting rules gets the rule's 5xx at end of data every time it
gets that far, a "trap@" recipient the rule's 550 at RCPT, and the
gatehouse log shows both accepted and refused reloads.  SPF: a sender
whose domain's SPF fails never gets a 250 for MAIL.

Also checked: gatehouse still answers after the faults (a last clean
message goes through), its open file descriptors and RSS are back near
their level before the soak (tolerances below, both figures printed).
Sanitizer reports are checked by the caller after it stops gatehouse
(LeakSanitizer reports at exit).

Loopback only; every loop is bounded by a count or a deadline; every
process started here is stopped by its PID.
"""
import argparse
import asyncio
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import Soak  # noqa: E402
from common import (F_REJECT, F_SPF_FAIL, GOOD_RULES,  # noqa: E402
                    KIND_NAMES, K_OK, STAGES, S_DOT, log, now)
from faults import Scheduler  # noqa: E402
from peers import (Peers, fd_info, is_asan, proc_alive,  # noqa: E402
                   rss_kib, wait_listen)
from records import harvest_sink, read_scripted, verify  # noqa: E402


# ------------------------------------------------------------ prepare

def prepare(a):
    d = os.path.abspath(a.dir)
    os.makedirs(os.path.join(d, "rules"), exist_ok=True)
    os.makedirs(os.path.join(d, "spool"), exist_ok=True)
    with open(os.path.join(d, "rules", "soak.rules"), "w") as f:
        f.write(GOOD_RULES)
    conf = f"""\
# gatehouse.conf for the soak (written by tests/soak/soak.py prepare)
hostname = gate.soak.test
listen = 127.0.0.1:{a.gh_port}
backend = 127.0.0.1:{a.backend_port}
resolver = 127.0.0.1@{a.dns_port}
rules = {d}/rules/*.rules
spool_dir = {d}/spool
data.memory_max = 64K
smtp.max_connections = 4000
smtp.max_connections_per_client = 50
smtp.idle_timeout = 60s
smtp.data_timeout = 60s
backend.connect_timeout = 2s
backend.timeout = 3s
backend.pool_idle = 2s
dns.timeout = 400ms
dns.budget = 2s
spf.enable = yes
dkim.enable = yes
log.level = {a.log_level}
shutdown_timeout = 10s
"""
    with open(os.path.join(d, "gatehouse.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(d, "ports.json"), "w") as f:
        json.dump({"gh": a.gh_port, "backend": a.backend_port,
                   "dns": a.dns_port}, f)
    return 0


# ---------------------------------------------------------------- run

async def run(a):
    d = os.path.abspath(a.dir)
    with open(os.path.join(d, "ports.json")) as f:
        ports = json.load(f)
    peers = Peers(a, ports)
    soak = Soak(a, ports, peers)
    gh = a.gh_pid
    rules = os.path.join(d, "rules", "soak.rules")
    failures = []
    t_start = now()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    loop.add_signal_handler(signal.SIGINT, main.cancel)
    sched = None
    try:
        await peers.start_unbound()
        peers.set_mode()
        await peers.start_backend("scripted")
        if not await wait_listen(ports["gh"], None, 20):
            raise RuntimeError("gatehouse is not listening")
        asan = is_asan(gh)
        # warm-up: the same load, no faults, then idle: the baseline.
        warm = min(a.warmup, a.messages)
        tw = await soak.load(warm, a.concurrency, False)
        log(f"warm-up: {warm} messages in {tw:.1f}s")
        await asyncio.sleep(a.idle_wait)
        fd0, kinds0 = fd_info(gh)
        rss0 = rss_kib(gh)
        log(f"baseline: {fd0} fds {kinds0}, RSS {rss0} KiB")
        # the soak
        sched = Scheduler(a, peers, soak, gh, rules)
        soak.deadline = now() + a.seconds
        todo = a.messages - warm
        if a.min_seconds > 0:
            soak.pace = (now(), soak.next_msg, todo / a.min_seconds)
        st = asyncio.create_task(sched.run())
        watch = asyncio.create_task(progress(a, soak, gh))
        recs = []
        harv_stop = asyncio.Event()
        harv = asyncio.create_task(harvester(a, peers, recs, harv_stop))
        t0 = now()
        soak.total = soak.next_msg + todo
        soak.faults = True
        workers = [asyncio.create_task(soak.worker(c))
                   for c in range(a.concurrency)]
        # the faults stop once every message has been started (retries
        # then finish against a healthy system)
        while soak.next_msg < soak.total and now() < soak.deadline:
            if not proc_alive(gh):
                raise RuntimeError("gatehouse died during the soak")
            if st.done():
                st.result()
            await asyncio.sleep(0.1)
        t_started = now() - t0
        sched.stop = True
        soak.pace = None
        await st
        soak.faults = False
        await asyncio.gather(*workers)
        t_load = now() - t0
        watch.cancel()
        harv_stop.set()
        await harv
        pushed = soak.next_msg - warm
        log(f"soak: {pushed} messages started in {t_started:.1f}s, all "
            f"done in {t_load:.1f}s")
        if not proc_alive(gh):
            raise RuntimeError("gatehouse died")
        # gatehouse still answers: clean messages go through.
        soak.total = soak.next_msg + a.final_messages
        soak.start_new = True
        before = soak.next_msg
        await soak.load(a.final_messages, 1, False)
        retried = 0
        for m in range(before, soak.next_msg):
            fl = soak.msg_flags[m]
            if fl & (F_REJECT | F_SPF_FAIL):
                continue
            tries = [soak.att[m * 8 + n] for n in range(8)
                     if m * 8 + n in soak.att]
            if not tries or tries[-1][0] != K_OK:
                a0 = tries[-1] if tries else None
                failures.append(f"after the soak, message {m} got "
                                f"{KIND_NAMES[a0[0]] if a0 else 'nothing'}"
                                f" ({a0[2] if a0 else ''}) in "
                                f"{len(tries)} tries")
            retried += len(tries) > 1
        log(f"after the soak: {soak.next_msg - before} messages, "
            f"{retried} needed more than one try")
        # back to the baseline?
        await asyncio.sleep(a.idle_wait)
        end = now() + 15
        while True:
            fd1, kinds1 = fd_info(gh)
            if fd1 <= fd0 + a.fd_tolerance or now() > end:
                break
            await asyncio.sleep(0.5)
        rss1 = rss_kib(gh)
        rss_tol = int(rss0 * a.rss_tolerance_pct / 100) + \
            a.rss_tolerance_mib * 1024
        if asan:
            rss_tol += a.asan_extra_mib * 1024
        # what reached the backends
        bad = []
        if not await peers.flush_postfix(120):
            failures.append("Postfix's queue did not empty in 120s")
        await peers.stop_all()
        bdat = read_scripted(peers.record, recs, bad)
        partial = harvest_sink(peers.sink_dir, recs, True) \
            if os.path.isdir(peers.sink_dir) else 0
        if os.path.isdir(peers.pf_sink_dir):
            partial += harvest_sink(peers.pf_sink_dir, recs, True,
                                    "postfix")
        fails, stats, final = verify(soak, recs, bad)
        failures += fails
        failures += soak.violations
        # the log says the reloads were taken and refused
        if a.gh_log:
            n_ok = n_bad = 0
            with open(a.gh_log, errors="replace") as f:
                for line in f:
                    if "reloaded configuration" in line:
                        n_ok += 1
                    elif "reload failed" in line:
                        n_bad += 1
            if soak.hups["good"] and n_ok == 0:
                failures.append("no 'reloaded configuration' in the log")
            if soak.hups["broken"] and n_bad == 0:
                failures.append("no 'reload failed' in the log")
        else:
            n_ok = n_bad = "?"
        if fd1 > fd0 + a.fd_tolerance:
            failures.append(f"open fds {fd0} -> {fd1} (tolerance "
                            f"+{a.fd_tolerance}): {kinds0} -> {kinds1}")
        if rss1 > rss0 + rss_tol:
            failures.append(f"RSS {rss0} -> {rss1} KiB (tolerance "
                            f"+{rss_tol} KiB)")
        # report
        total_att = len(soak.att)
        print()
        print(f"== soak report (seed {a.seed}, {a.concurrency} clients, "
              f"{'ASan build' if asan else 'normal build'})")
        print(f"messages: {soak.next_msg} in all ({warm} warm-up, {pushed}"
              f" under faults, {a.final_messages} after); {total_att} "
              f"attempts")
        n_att = sum(1 for k in soak.att if warm <= k >> 3 < warm + pushed)
        print(f"under faults: {pushed} messages, {n_att} attempts in "
              f"{t_load:.1f}s: {pushed / t_load:.0f} messages/s "
              f"({pushed / t_started:.0f}/s started while faults ran "
              f"{t_started:.1f}s); whole run {now() - t_start:.0f}s")
        print("final outcome per message:")
        for k, v in sorted(final.items()):
            print(f"  {v:8d}  {k}")
        print("attempts by last reply, stage and who answered:")
        for (k, s, src), v in sorted(soak.by_source.items(),
                                     key=lambda x: -x[1]):
            print(f"  {v:8d}  {k:<19s} {s:<8s} {src}")
        print("backend record: %d copies (%d scripted, %d of them by "
              "BDAT; %d smtp-sink; %d Postfix), %d partial captures of "
              "killed sinks" % (
                  len(recs), sum(1 for r in recs if r[4] == "scripted"),
                  bdat, sum(1 for r in recs if r[4] == "sink"),
                  sum(1 for r in recs if r[4] == "postfix"), partial))
        for k, v in sorted(stats.items()):
            print(f"  {v:8d}  {k}")
        dups = sum(v for k, v in stats.items() if k.startswith("messages "
                                                               "held"))
        print(f"duplicates: {dups} messages held more than once (every "
              f"extra copy from a try whose reply was lost)")
        print("faults: " + ", ".join(f"{k} {v}" for k, v in
                                     sorted(sched.events.items())) +
              f", SIGHUP {soak.hups['good']} good + {soak.hups['broken']}"
              f" broken (log: {n_ok} reloaded, {n_bad} refused)")
        print(f"fds: before {fd0} after {fd1} (tolerance +{a.fd_tolerance})"
              f"  {kinds0} -> {kinds1}")
        print(f"RSS: before {rss0} KiB after {rss1} KiB (tolerance "
              f"+{rss_tol} KiB = {a.rss_tolerance_pct}% + "
              f"{a.rss_tolerance_mib} MiB" +
              (f" + {a.asan_extra_mib} MiB ASan quarantine" if asan else "")
              + ")")
        if soak.progress_rss:
            print("RSS under load (KiB): " + " ".join(
                str(x) for x in soak.progress_rss))
        if a.verbose:
            print("sample replies:")
            for k, v in sorted(soak.samples.items(), key=str):
                print(f"  {k}: {' | '.join(v)}")
        lost = sum(1 for f in failures if ": LOST:" in f)
        print(f"acknowledged messages lost: {lost}")
        with open(os.path.join(d, "transcript.tsv"), "w") as f:
            f.write("attempt\tlast reply\tstage\tcode\tmaybe\n")
            for key, (kind, stage, code, _, _, maybe) in \
                    sorted(soak.att.items()):
                f.write(f"{soak.attempt_id(key >> 3, key & 7)}\t"
                        f"{KIND_NAMES[kind]}\t{STAGES[stage]}\t{code}\t"
                        f"{'maybe' if maybe else ''}\n")
        with open(os.path.join(d, "timeline.txt"), "w") as f:
            f.write("\n".join(sched.timeline) + "\n")
        if failures:
            print(f"FAIL: {len(failures)} problem(s):")
            for x in failures[:40]:
                print("  " + x)
            return 1
        print("PASS")
        return 0
    except asyncio.CancelledError:
        log("interrupted")
        return 130
    finally:
        if sched:
            sched.stop = True
        peers.kill_all_now()


async def progress(a, soak, gh):
    """Every few seconds: a line of progress and an RSS sample."""
    t0, n0 = now(), soak.next_msg
    while True:
        await asyncio.sleep(a.progress_every)
        try:
            rss = rss_kib(gh)
            fds = fd_info(gh)[0]
        except OSError:
            return
        soak.progress_rss.append(rss)
        ok = soak.kinds.get((K_OK, S_DOT), 0)
        t1, n1 = now(), soak.next_msg
        log(f"{n1} started ({(n1 - n0) / (t1 - t0):.0f}/s), {ok} delivered, "
            f"{len(soak.att)} attempts; gatehouse RSS {rss} KiB, {fds} fds")
        t0, n0 = t1, n1


async def harvester(a, peers, recs, stop):
    """Collect smtp-sink's complete captures as the run goes, so that a
    long run does not pile up a million files.  Stopped with `stop`,
    never cancelled: a harvest in its thread must end before the last
    one starts, or a capture could be read twice."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), a.harvest_every)
        except asyncio.TimeoutError:
            pass
        if not stop.is_set() and os.path.isdir(peers.sink_dir):
            await asyncio.to_thread(harvest_sink, peers.sink_dir, recs,
                                    False)
        if not stop.is_set() and os.path.isdir(peers.pf_sink_dir):
            await asyncio.to_thread(harvest_sink, peers.pf_sink_dir, recs,
                                    False, "postfix")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--dir", required=True)
    pp.add_argument("--gh-port", type=int, required=True)
    pp.add_argument("--backend-port", type=int, required=True)
    pp.add_argument("--dns-port", type=int, required=True)
    pp.add_argument("--log-level", default="info")
    pr = sub.add_parser("run")
    pr.add_argument("--dir", required=True)
    pr.add_argument("--gh-pid", type=int, required=True)
    pr.add_argument("--gh-log")
    pr.add_argument("--messages", type=int, default=20000)
    pr.add_argument("--seconds", type=float, default=200,
                    help="stop starting messages after this long")
    pr.add_argument("--min-seconds", type=float, default=60,
                    help="spread the messages over at least this long, "
                    "so that every kind of fault meets them")
    pr.add_argument("--concurrency", type=int, default=100)
    pr.add_argument("--warmup", type=int, default=1000)
    pr.add_argument("--final-messages", type=int, default=20)
    pr.add_argument("--seed", type=int, default=1)
    pr.add_argument("--cycle", type=float, default=12.0)
    pr.add_argument("--hup-every", type=float, default=1.0)
    pr.add_argument("--p-err", type=float, default=0.03)
    pr.add_argument("--p-vanish", type=float, default=0.01)
    pr.add_argument("--p-vanish-dot", type=float, default=0.003)
    pr.add_argument("--max-attempts", type=int, default=5)
    pr.add_argument("--retry-delay", type=float, default=0.5)
    pr.add_argument("--reply-timeout", type=float, default=60)
    pr.add_argument("--idle-wait", type=float, default=3.0)
    pr.add_argument("--fd-tolerance", type=int, default=4)
    pr.add_argument("--rss-tolerance-pct", type=float, default=20)
    pr.add_argument("--rss-tolerance-mib", type=int, default=8)
    pr.add_argument("--asan-extra-mib", type=int, default=48)
    pr.add_argument("--progress-every", type=float, default=10)
    pr.add_argument("--harvest-every", type=float, default=30)
    pr.add_argument("--no-sink", action="store_true",
                    help="no smtp-sink cycles")
    pr.add_argument("--no-chunking", dest="chunking", action="store_false",
                    help="the scripted backend never offers CHUNKING "
                    "(by default every other scripted cycle does)")
    pr.add_argument("--postfix", action="store_true",
                    help="also cycles with a real Postfix as the backend "
                    "(relaying to its own smtp-sink)")
    pr.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    if a.cmd == "prepare":
        return prepare(a)
    if a.max_attempts > 8:
        p.error("--max-attempts: at most 8")
    return asyncio.run(run(a))


if __name__ == "__main__":
    sys.exit(main())

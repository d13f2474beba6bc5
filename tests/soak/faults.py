"""faults.py — the soak's fault scheduler: the timetable of backend
kills and swaps, backend modes, DNS outages, and a SIGHUP every second
with good and broken rule files."""
import asyncio
import collections
import os
import random
import signal

from common import BROKEN_TAILS, GOOD_RULES, log, now


# ------------------------------------------------------- fault schedule

class Scheduler:
    """The timetable of faults, in cycles of `cycle` seconds."""

    def __init__(self, a, peers, soak, gh_pid, rules_path):
        self.a = a
        self.peers = peers
        self.soak = soak
        self.gh_pid = gh_pid
        self.rules = rules_path
        self.rnd = random.Random(a.seed + 99)
        self.events = collections.Counter()
        self.stop = False
        self.t0 = now()
        self.timeline = []
        self.chunking = False

    def note(self, what):
        t = now() - self.t0
        self.timeline.append(f"{t:7.2f} {what}")
        if self.a.verbose:
            log(f"t={t:.2f} {what}")

    def write_rules(self, good):
        tmp = self.rules + ".tmp"
        with open(tmp, "w") as f:
            f.write(GOOD_RULES)
            if not good:
                f.write(self.rnd.choice(BROKEN_TAILS))
        os.rename(tmp, self.rules)

    def hup(self, good):
        self.write_rules(good)
        os.kill(self.gh_pid, signal.SIGHUP)
        self.soak.hups["good" if good else "broken"] += 1

    async def hupper(self):
        good = False
        while not self.stop:
            self.hup(good)
            good = not good
            await asyncio.sleep(self.a.hup_every)

    async def at(self, t, coro_fn, *args, **kw):
        """Run an event at time t, unless the faults are over by then
        (an event once begun runs to its end: a restart is not cut)."""
        while not self.stop and now() < t:
            await asyncio.sleep(min(0.05, t - now()))
        if not self.stop:
            await coro_fn(*args, **kw)

    def base_mode(self):
        """Every other scripted cycle the backend offers CHUNKING, so that
        gatehouse sends BDAT (RFC 3030) instead of DATA."""
        return {"chunking": True} if self.chunking else {}

    async def swap(self, kind):
        async with self.peers.lock:
            await self.peers.kill_backend()
            self.peers.set_mode(**self.base_mode())
            await asyncio.sleep(self.rnd.uniform(0.05, 0.3))
            await self.peers.start_backend(kind)
        self.events["backend swapped"] += 1
        self.note(f"backend -> {kind}" + (" (CHUNKING)" if kind == "scripted"
                                          and self.chunking else ""))

    async def kill_restart(self):
        down = self.rnd.uniform(0.3, 1.5)
        self.note(f"backend {self.peers.kind} killed, down {down:.1f}s")
        async with self.peers.lock:
            kind = self.peers.kind
            await self.peers.kill_backend()
            await asyncio.sleep(down)
            await self.peers.start_backend(kind)
        self.events["backend killed"] += 1

    async def mode(self, what, **mode):
        if self.peers.kind != "scripted":
            return
        async with self.peers.lock:
            self.peers.set_mode(**self.base_mode(), **mode)
        self.events["backend mode " + what] += 1
        self.note(f"backend mode {what}")

    async def dns_stop(self):
        down = self.rnd.uniform(1.0, 2.0)
        self.note(f"unbound stopped for {down:.1f}s")
        await self.peers.stop_unbound()
        await asyncio.sleep(down)
        await self.peers.start_unbound()
        self.events["unbound stopped"] += 1

    async def dns_pause(self):
        down = self.rnd.uniform(1.0, 2.0)
        self.note(f"unbound paused for {down:.1f}s")
        self.peers.pause_unbound()
        await asyncio.sleep(down)
        self.peers.resume_unbound()
        self.events["unbound paused"] += 1

    async def run(self):
        hupper = asyncio.create_task(self.hupper())
        kinds = ["scripted"]
        if not self.a.no_sink:
            kinds.append("sink")
        if self.a.postfix:
            kinds.append("postfix")
        k = 0
        try:
            while not self.stop:
                kind = kinds[k % len(kinds)]
                if kind == "scripted":
                    self.chunking = not self.chunking and self.a.chunking
                c0 = now()
                L = self.a.cycle
                j = self.rnd.uniform
                evs = [self.at(c0, self.swap, kind)]
                if kind == "scripted":
                    evs += [
                        self.at(c0 + 0.15 * L + j(0, 1), self.mode, "errors",
                                err=self.a.p_err),
                        self.at(c0 + 0.35 * L + j(0, 1), self.mode, "slow",
                                slow=0.08, stall=0.01, stall_for=4.5),
                        self.at(c0 + 0.6 * L + j(0, 1), self.mode,
                                "lossy+errors", lost=0.03,
                                err=self.a.p_err),
                        self.at(c0 + 0.85 * L, self.mode, "normal"),
                    ]
                evs += [
                    self.at(c0 + 0.25 * L + j(0, 1), self.dns_stop),
                    self.at(c0 + 0.5 * L + j(0, 1), self.kill_restart),
                    self.at(c0 + 0.75 * L + j(0, 1), self.dns_pause),
                ]
                tasks = [asyncio.create_task(e) for e in evs]
                end = c0 + L
                while now() < end and not self.stop:
                    await asyncio.sleep(0.05)
                if self.stop:
                    # let events in progress finish their restart
                    await asyncio.gather(*tasks, return_exceptions=True)
                else:
                    res = await asyncio.gather(*tasks,
                                               return_exceptions=True)
                    for x in res:
                        if isinstance(x, Exception):
                            raise x
                k += 1
        finally:
            self.stop = True
            await hupper
            await self.restore()

    async def restore(self):
        """Everything healthy again: unbound up, backend normal, rules
        good and reloaded."""
        self.peers.resume_unbound()
        if self.peers.unbound is None:
            await self.peers.start_unbound()
        async with self.peers.lock:
            if self.peers.backend is None or not self.peers.backend.alive():
                await self.peers.start_backend(self.peers.kind or
                                               "scripted")
            self.peers.set_mode()
        self.hup(True)
        self.note("faults over: all healthy")
        await asyncio.sleep(0.5)

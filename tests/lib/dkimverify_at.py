#!/usr/bin/python3
"""dkimverify_at.py PORT [dkimverify args] < MESSAGE

Debian's `dkimverify` (python3-dkim), unchanged, with its DNS pointed at
the test server on 127.0.0.1:PORT instead of /etc/resolv.conf: the
cross-check of the DKIM tests.  Prints "signature ok" (exit 0) or
"signature verification failed" (exit 1) as dkimverify does; a DKIM
exception (a malformed signature, which dkimverify reports with a
traceback) prints "signature error: ..." and exits 1.
"""
import sys

import dns.resolver

import dkim
import dkim.dkimverify


def main():
    port = int(sys.argv[1])
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 3
    dns.resolver.default_resolver = res
    sys.argv = ["dkimverify"] + sys.argv[2:]
    try:
        dkim.dkimverify.main()
    except dkim.DKIMException as e:
        print("signature error: %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# proxy_chain.sh — gatehouse proxy: the chain's verdicts at every stage
# (rules at connect, MAIL, RCPT, end of data; tag edits, discard), SIGHUP
# with a good and a broken rule file, and a blocking stage (DKIM on a
# worker) whose client vanishes.  Real gatehouse, scripted backend, raw
# clients; see tests/lib/proxy_suite.py.
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/lib/proxy_suite.py" chain

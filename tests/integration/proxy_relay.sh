#!/usr/bin/env bash
# proxy_relay.sh — gatehouse proxy: MAIL/RCPT/end-of-data relay, XCLIENT/XFORWARD, pipelining.
# Real gatehouse, scripted backend (tests/lib/fake_backend.py) and raw
# SMTP clients, all on loopback; see tests/lib/proxy_suite.py.
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/lib/proxy_suite.py" relay

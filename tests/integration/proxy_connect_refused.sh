#!/usr/bin/env bash
# proxy_connect_refused.sh — gatehouse proxy: the chain refusing at
# CONNECT: 554 in place of the greeting, then 503 to every command but
# QUIT (RFC 5321 3.1) until QUIT, the error limit or the idle timeout;
# a tempfail is 421 and close.
# Real gatehouse, scripted backend, raw clients; see tests/lib/proxy_pp.py.
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/lib/proxy_pp.py" refused

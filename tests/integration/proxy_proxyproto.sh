#!/usr/bin/env bash
# proxy_proxyproto.sh — gatehouse proxy: PROXY protocol v1/v2 on the
# listener (proxy_protocol, proxy_networks): the header's client reaches XCLIENT, the log, the rules
# and the per-client limit; LOCAL/UNKNOWN keep the peer; missing, slow,
# malformed and unauthorised headers close the connection with an escaped
# log line; `gatehouse check` wants proxy_networks.
# Real gatehouse, scripted backend, raw clients; see tests/lib/proxy_pp.py.
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/lib/proxy_pp.py" proxyproto

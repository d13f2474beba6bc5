#!/usr/bin/env bash
# bench/spf.sh — SPF checks per second with a warm cache: a real unbound
# on loopback serves a typical record (ip4, include, mx, a), gatehouse
# spf repeats the check on 1 and 2 threads after a warm-up run.  Reports,
# never fails on time.
#   usage: bench/spf.sh [GATEHOUSE] [COUNT]
set -euo pipefail
GH=${1:-${GATEHOUSE:-build/gatehouse}}
N=${2:-20000}
command -v unbound >/dev/null || { echo "unbound not installed"; exit 77; }
T=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET,
socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $port
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T"
  pidfile: ""
  use-syslog: no
  logfile: "$T/unbound.log"
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "test." static
  local-data: 'bench.test. 3600 TXT "v=spf1 ip4:203.0.113.0/24 include:_spf.bench.test mx a:out.bench.test -all"'
  local-data: '_spf.bench.test. 3600 TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"'
  local-data: 'bench.test. 3600 MX 10 mx1.bench.test.'
  local-data: 'bench.test. 3600 MX 20 mx2.bench.test.'
  local-data: 'mx1.bench.test. 3600 A 192.0.2.1'
  local-data: 'mx2.bench.test. 3600 A 192.0.2.2'
  local-data: 'out.bench.test. 3600 A 192.0.2.25'
remote-control:
  control-enable: no
CONF
unbound -d -c "$T/unbound.conf" & pid=$!
for _ in $(seq 50); do
	"$GH" spf -o resolver=127.0.0.1@$port --ip 192.0.2.25 \
	    --sender a@bench.test --no-helo >/dev/null 2>&1 && break
	sleep 0.1
done
echo "== one check, lookups (the last mechanism matches):"
"$GH" spf -o resolver=127.0.0.1@$port --ip 192.0.2.25 \
    --sender a@bench.test --no-helo | sed -n '/^result/p;/^lookups/,$p'
for th in 1 2; do
	echo "== $N checks, warm cache, $th thread(s):"
	"$GH" spf -o resolver=127.0.0.1@$port --ip 192.0.2.25 \
	    --sender a@bench.test --no-helo --count "$N" --threads "$th"
done

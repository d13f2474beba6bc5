#!/usr/bin/env bash
# bench/filters.sh — what each filter costs the proxy: the same 4 KB
# message, signed with rsa-sha256 (2048 bits) by an independent signer
# (python3-dkim), from a sender whose SPF record passes, sent through
# gatehouse proxy -> smtp-sink with no filters, SPF only, DKIM only, and
# SPF + DKIM + the shipped rules, in one run (interleaved rounds, best
# of each).  DNS comes from a local unbound (warm after the first
# message).  Prints messages/s and the ratio to no filters.  Loopback
# only; every loop is bounded; reports, asserts nothing.
#
# usage: GATEHOUSE=build/gatehouse bench/filters.sh [MESSAGES] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
export GH_SRC=$PWD GATEHOUSE=${GATEHOUSE:-$PWD/build/gatehouse}
N=${1:-2000}
C=${2:-10}
ROUNDS=${ROUNDS:-3}
. tests/lib/harness.sh
need unbound smtp-sink openssl python3

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$T/k.pem" 2>/dev/null
pub=$(openssl pkey -in "$T/k.pem" -pubout -outform DER | base64 -w0)
v="v=DKIM1; k=rsa; p=$pub"
rr="sel._domainkey.bench.test. TXT"
while [[ -n $v ]]; do rr+=" \"${v:0:255}\""; v=${v:255}; done
start_unbound "$rr" 'bench.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
start_smtp_sink

python3 - > "$T/plain.eml" <<'PY'
import random
random.seed(1)
words = "the quick brown fox jumps over lazy dog mail filter postmaster".split()
print("From: Bench <bench@bench.test>\r\nTo: rcpt@example.net\r\n"
      "Subject: a benchmark message\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
      "Message-ID: <bench@bench.test>\r\n\r", end="\n")
body = ""
while len(body) < 4096:
    line = " ".join(random.choice(words) for _ in range(12))
    body += line + "\r\n"
print(body, end="")
PY
"$GH_PY" tests/lib/dkim_sign.py sel bench.test "$T/k.pem" \
	< "$T/plain.eml" > "$T/signed.eml"

declare -A PORT PID
variant() {	# name options...
	local name=$1 port
	shift
	port=$(free_port)
	start_bg "gh-$name" "$GATEHOUSE" -f -c /dev/null \
		-o "listen=127.0.0.1:$port" -o "backend=127.0.0.1:$SINK_PORT" \
		-o "resolver=127.0.0.1@$UNBOUND_PORT" -o metrics_listen= \
		-o hostname=gate.bench -o log.level=warning \
		-o smtp.max_connections_per_client=1000 -o "spool_dir=$T" "$@" proxy
	wait_port "$port" 20 || fail "$name did not start"
	PORT[$name]=$port
	PID[$name]=$BG_PID
}
variant none -o spf.enable=no -o dkim.enable=no -o rules=
variant spf -o spf.enable=yes -o spf.helo=off -o dkim.enable=no -o rules=
variant dkim -o spf.enable=no -o dkim.enable=yes -o rules=
variant all -o spf.enable=yes -o spf.helo=off -o dkim.enable=yes \
	-o "rules=$GH_SRC/rules/default/*.rules"

send() {	# port count conc -> msgs/s
	python3 - "$1" "$2" "$3" "$T/signed.eml" <<'PY'
import socket, sys, threading, time
port, count, conc, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
msg = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
msg = msg.replace(b"\r\n.", b"\r\n..") + b".\r\n"
left = [count]; lock = threading.Lock(); bad = [0]
def reply(f):
    while True:
        l = f.readline()
        if not l: raise ConnectionError
        if l[3:4] != b"-": return int(l[:3])
def worker():
    while True:
        with lock:
            if left[0] <= 0: return
            left[0] -= 1
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb"); reply(f)
        for c in (b"EHLO client.bench.test\r\n", b"MAIL FROM:<bench@bench.test>\r\n",
                  b"RCPT TO:<rcpt@example.net>\r\n", b"DATA\r\n"):
            s.sendall(c); reply(f)
        s.sendall(msg)
        if reply(f) != 250: bad[0] += 1
        s.sendall(b"QUIT\r\n"); reply(f); s.close()
t0 = time.perf_counter()
ts = [threading.Thread(target=worker) for _ in range(conc)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.perf_counter() - t0
if bad[0]: print("refused %d" % bad[0], file=sys.stderr)
print("%.1f" % (count / dt))
PY
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
declare -A BEST CPU
for name in none spf dkim all; do send "${PORT[$name]}" 20 2 > /dev/null; done
# What each variant decided, from the copies the sink kept.
grep -l "spf=pass" "$T"/sink/* > /dev/null 2>&1 || fail "no spf=pass seen"
grep -l "dkim=pass header.d=bench.test" "$T"/sink/* > /dev/null 2>&1 ||
	fail "no dkim=pass seen"
for r in $(seq 1 "$ROUNDS"); do
	for name in none spf dkim all; do
		t0=$(ticks "${PID[$name]}")
		rate=$(send "${PORT[$name]}" "$N" "$C")
		t1=$(ticks "${PID[$name]}")
		CPU[$name]=$(( ${CPU[$name]:-0} + t1 - t0 ))
		awk -v a="$rate" -v b="${BEST[$name]:-0}" 'BEGIN { exit !(a > b) }' &&
			BEST[$name]=$rate
	done
done
echo "gatehouse proxy -> smtp-sink, $N signed 4 KB messages, concurrency $C, best of $ROUNDS"
echo "(msgs/s is bounded by the python client on a busy machine; CPU ms per"
echo " message is gatehouse's own cost, from /proc/PID/stat)"
printf '%-8s %10s %8s %14s\n' variant "msgs/s" ratio "cpu ms/msg"
for name in none spf dkim all; do
	printf '%-8s %10s %8s %14s\n' "$name" "${BEST[$name]}" \
		"$(awk -v a="${BEST[$name]}" -v b="${BEST[none]}" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v t="${CPU[$name]}" -v hz="$HZ" -v n="$N" -v r="$ROUNDS" 'BEGIN { printf "%.3f", t * 1000 / hz / (n * r) }')"
done
stop_all

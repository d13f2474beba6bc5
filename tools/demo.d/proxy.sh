#!/usr/bin/env bash
# tools/demo.d/proxy.sh — the real thing: a private Postfix on loopback as
# the backend, `gatehouse proxy` in front of it, and a few messages sent
# with swaks (and one raw-socket client), each shown with its fate.
# Called by tools/demo with GATEHOUSE and GH_SRC set; runs alone too:
#   GATEHOUSE=build/gatehouse GH_SRC=$PWD bash tools/demo.d/proxy.sh
set -euo pipefail
: "${GATEHOUSE:?}" "${GH_SRC:?}"
if [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null ||
    ! command -v swaks >/dev/null; then
	echo "(skipped: needs root, postfix and swaks)"
	exit 0
fi
. "$GH_SRC/tests/lib/postfix_local.sh"

T=$(mktemp -d /tmp/gh-demo-proxy.XXXXXX)
GH_PID=
finish() {
	[ -n "$GH_PID" ] && kill "$GH_PID" 2>/dev/null && wait "$GH_PID" 2>/dev/null
	postfix_local_stop "$T"
	rm -rf "$T"
}
trap finish EXIT
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PF_PORT=$(port)
GH_PORT=$(port)

postfix_local_start "$T" "$PF_PORT"
"$GATEHOUSE" -f -c /dev/null -o "listen=127.0.0.1:$GH_PORT" \
	-o "backend=127.0.0.1:$PF_PORT" -o hostname=gate.demo \
	-o "rules=$GH_SRC/rules/default/*.rules" \
	-o spf.enable=no -o dkim.enable=no \
	-o max_message_size=64k -o "spool_dir=$T" proxy 2>"$T/gatehouse.log" &
GH_PID=$!
for i in $(seq 1 100); do
	(exec 3<>/dev/tcp/127.0.0.1/"$GH_PORT") 2>/dev/null && break
	sleep 0.1
done
echo "Postfix on 127.0.0.1:$PF_PORT (XCLIENT allowed from 127.0.0.1);"
echo "gatehouse proxy on 127.0.0.1:$GH_PORT in front of it, with the shipped"
echo "rules (no DNS here, so SPF and DKIM are off)."
echo

# fate WHAT SWAKS-ARGS...: send, then print the final reply line.
fate() {
	local what=$1
	shift
	swaks --server "127.0.0.1:$GH_PORT" --local-interface 127.0.0.2 \
		--helo client.demo --from alice@sender.demo "$@" \
		>"$T/swaks.log" 2>&1 || true
	printf '%-44s -> %s\n' "$what" \
		"$(grep -E '^(<-|<\*\*) +[245][0-9][0-9] ' "$T/swaks.log" |
		tail -2 | head -1 | sed 's/^<[-*]* *//')"
}

fate "1. a plain message to user@backend.test" --to user@backend.test \
	--header "Subject: hello through gatehouse"
fate "2. to an unknown recipient (Postfix says)" --to nobody@backend.test
fate "3. 100 KB, over max_message_size=64k" --to user@backend.test \
	--body "$(head -c 100000 /dev/zero | tr '\0' 'x' | fold -w 76)"

fate "4. the GTUBE test string (shipped rules)" --to user@backend.test \
	--body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

# 5. SMTP smuggling: a bare-LF "end of data" hiding a second message.
python3 - "$GH_PORT" >"$T/smuggle.log" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline().decode().rstrip()
        if l[3:4] != "-":
            return l
reply()
for c in ("EHLO smuggler.demo", "MAIL FROM:<alice@sender.demo>",
          "RCPT TO:<user@backend.test>", "DATA"):
    s.sendall(c.encode() + b"\r\n"); reply()
s.sendall(b"Subject: innocent\r\n\r\nhi\n.\nMAIL FROM:<ceo@bank.demo>\r\n"
          b"RCPT TO:<user@backend.test>\r\nDATA\r\nSubject: forged\r\n\r\n"
          b"pay now\r\n.\r\n")
print(reply())
s.sendall(b"QUIT\r\n")
EOF
printf '%-44s -> %s\n' "5. smuggling: <LF>.<LF> + a forged message" \
	"$(cat "$T/smuggle.log")"
sleep 1

echo
echo "What Postfix got:"
grep -E ': client=|reject: RCPT' "$T/maillog" | sed 's/^.*postfix\//  postfix\//'
echo
echo "The delivered message's top (gatehouse's headers, Postfix's Received):"
msg=$(ls "$T"/mail/user/new/* 2>/dev/null | head -1)
[ -n "$msg" ] && sed -n '1,/^$/p' "$msg" | grep -E \
	'^(Received: from|Authentication-Results|X-Spam-|Subject)' |
	sed 's/^/  /'
echo
echo "gatehouse's log, one line per message:"
grep ' message ' "$T/gatehouse.log" | sed 's/^[^ ]* gatehouse\[[0-9]*\]: info: /  /'

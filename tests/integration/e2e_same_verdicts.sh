#!/bin/bash
# e2e_same_verdicts.sh - the same messages through `gatehouse proxy` in
# front of Postfix and through Postfix with `gatehouse milter` (same
# configuration file, same rules, same authserv-id, same unbound) get the
# same verdicts and the same added headers (issue 3, "Shown by": "one test
# sends the same set of messages through gatehouse proxy and through
# Postfix + gatehouse milter").
#
# One Postfix, two smtpd listeners: $PF_PORT (plain; the proxy's backend)
# and $MX_PORT (smtpd_milters = the gatehouse milter).  For each message
# the client's replies at MAIL, RCPT, DATA and end of data are compared
# (after removing session and queue ids, and the "N bytes" of Postfix's
# reply to BDAT: the proxy passes the message on by BDAT), and the delivered copies'
# header sections are compared whole, unfolded, without the Received:
# lines (the proxy's and the milter's paths name different hops) and the
# DKIM signatures (each path's copy is signed with its own Message-ID).
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/lib/e2e.sh"
need postfix swaks unbound openssl
[[ $(id -u) -eq 0 ]] || skip "needs root to run a private Postfix"
"$GH_PY" -c 'import dkim' 2>/dev/null || skip "needs python3-dkim"

e2e_dns
cat >"$E/rules/50-e2e.rules" <<'EOF'
rcptto   TRAP     /^trap@/
describe TRAP     a recipient that must be refused at RCPT
score    TRAP     0.1
action   TRAP     reject "550 5.1.1 no such user"

header   E2E_TAG  Subject =~ /tag me/
describe E2E_TAG  a subject that tags
score    E2E_TAG  6

# The hop Postfix adds for the client: synthesised for header rules by
# both front ends (Postfix shows milters no Received of its own).
header   E2E_HOP  X-Spam-Relays-Trusted =~ /^\[ ip=127\.0\.0\.1 rdns=\S* helo=client\.example /
score    E2E_HOP  0.001
EOF
e2e_conf "milter_listen = unix:$T/milter.sock" "milter_socket_group = postfix"

MX_PORT=$(free_port)
start_postfix --users "user alice trap" \
    --master "127.0.0.1:$MX_PORT inet n - n - - smtpd -o smtpd_milters=unix:$T/milter.sock -o milter_default_action=tempfail"
wait_port "$MX_PORT" 20 || fail "Postfix's milter listener did not start"

GH_LOG=$T/milter.log start_gatehouse -c "$E/gatehouse.conf" milter
_milter_up() { [[ -S $T/milter.sock ]]; }
wait_until 30 _milter_up || fail "milter did not start: $(tail -5 "$T/milter.log")"
start_proxy main

# The messages: NAME FROM TO-LIST.
# ham and changed are signed per path (the Message-ID names the path).
e2e_msg "$E/ham.in" ham "signed ham"
e2e_msg "$E/gtube.in" gtube "gtube" "$GTUBE"
e2e_msg "$E/forged.in" forged "forged A-R"
sed -i '1i Authentication-Results: mx.test; dkim=pass header.d=bank.test\r\nAuthentication-Results: other.test; spf=pass smtp.mailfrom=x@other.test\r' \
    "$E/forged.in"
e2e_msg "$E/tagged.in" tagged "please tag me"
sed 's/<ham@e2e>/<changed@e2e>/' "$E/ham.in" >"$E/changed.in"
e2e_msg "$E/spffail.in" spffail "spf fail"
e2e_msg "$E/trap.in" trap "trap and alice"
MSGS=(
	"ham alice@example.test user@backend.test"
	"gtube alice@example.test user@backend.test"
	"forged alice@example.test user@backend.test"
	"tagged alice@example.test user@backend.test"
	"changed alice@example.test user@backend.test"
	"spffail bad@fail.test user@backend.test"
	"trap alice@example.test trap@backend.test,alice@backend.test"
)

# The client's replies to MAIL, RCPT, DATA and ".", ids removed.
replies() {
	awk '/^ -> (MAIL FROM|RCPT TO|DATA$|\.$)/ { c = $0; next }
	    c != "" && /^<(-|\*\*) / { print c " => " $0; c = "" }' "$1" |
	    sed -E 's/Ok: ([0-9]+ bytes )?queued as [0-9A-Z]+/Ok: queued as ID/;
	        s/\([0-9a-f]{8,}\)/(SESSION)/g'
}

# The header section of a delivered copy, unfolded, without Received:;
# the signatures (made per path: the Message-ID names it) are left out.
copy_headers() {
	hdrs "$1" | grep -Ev '^(Received|DKIM-Signature): ' |
	    sed -E 's/header\.b=("[^"]*"|[^ ;]*)/header.b=SIG/g'
}

# Send every message through PORT, with the results under $T/VIA/.
send_all() {
	local via=$1 port=$2 m name from to f
	mkdir -p "$T/$via"
	for m in "${MSGS[@]}"; do
		read -r name from to <<<"$m"
		sed "s/@e2e>/.$via@e2e>/" "$E/$name.in" >"$E/$name.$via"
		case $name in
		ham | changed)
			e2e_sign "$E/$name.$via" "$E/$name.signed"
			mv "$E/$name.signed" "$E/$name.$via"
			;;
		esac
		[[ $name != changed ]] ||
			sed -i 's/plain test message/changed message/' \
			    "$E/$name.$via"
		swaks_send "$via-$name" --server "127.0.0.1:$port" \
		    --helo client.example --from "$from" --to "$to" \
		    --data "$E/$name.$via" || true
		replies "$SWAKS_OUT" >"$T/$via/$name.replies"
		[[ -s $T/$via/$name.replies ]] ||
			fail "$via $name: no replies ($SWAKS_OUT)"
	done
}

send_all proxy "$PROXY_PORT"
send_all milter "$MX_PORT"
pf_wait_queue_empty 30 || fail "Postfix queue not empty"
for m in "${MSGS[@]}"; do
	read -r name _ <<<"$m"
	for via in proxy milter; do
		f=$(delivered "$name.$via")
		if [[ -n $f ]]; then
			copy_headers "$f" | sed "s/\.$via@e2e>/@e2e>/" \
			    >"$T/$via/$name.headers"
		else
			: >"$T/$via/$name.headers"
		fi
	done
done

bad=0
for m in "${MSGS[@]}"; do
	read -r name _ <<<"$m"
	if ! diff -u "$T/proxy/$name.replies" "$T/milter/$name.replies" \
	    >"$T/$name.replies.diff"; then
		note "$name: replies differ (proxy vs milter):"
		cat "$T/$name.replies.diff" >&2
		bad=1
	fi
	if ! diff -u "$T/proxy/$name.headers" "$T/milter/$name.headers" \
	    >"$T/$name.headers.diff"; then
		note "$name: delivered headers differ (proxy vs milter):"
		cat "$T/$name.headers.diff" >&2
		bad=1
	fi
done

# Make sure the comparison compared something: the expected outcomes.
chk() { grep -Eq -- "$2" "$T/proxy/$1" || fail "proxy $1: no '$2'"; }
chk ham.replies '^ -> \. => <-  250 '
chk ham.headers '^Authentication-Results: mx\.test; spf=pass .* dkim=pass header\.d=example\.test'
chk gtube.replies '^ -> \. => <\*\* 554 5\.7\.1 '
chk forged.headers '^Authentication-Results: other\.test; '
! grep -q 'bank\.test' "$T/proxy/forged.headers" "$T/milter/forged.headers" ||
	fail "the forged A-R with our authserv-id was delivered"
chk tagged.headers '^X-Spam-Flag: YES'
chk tagged.headers '^X-Spam-Status: .*E2E_HOP'
chk changed.headers 'dkim=fail'
chk spffail.replies '^ -> MAIL FROM.* => <\*\* 550 5\.7\.23 '
chk trap.replies 'RCPT TO:<trap@.* => <\*\* 550 5\.1\.1 no such user'
chk trap.headers '^Delivered-To: alice@backend\.test'
[[ ! -s $T/proxy/gtube.headers && ! -s $T/proxy/spffail.headers ]] ||
	fail "a refused message was delivered"
((bad == 0)) || fail "the proxy and the milter disagree (see above)"
ok "${#MSGS[@]} messages: same replies and same delivered headers through the proxy and the milter"

# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# e2e.sh - shared setup of the end-to-end tests (tests/integration/e2e_*):
# source it after harness.sh.
#
#   e2e_dns                 an RSA-2048 key in $E/k.pem (selector "sel",
#                           domain example.test) and a real unbound serving
#                           its key and the SPF records:
#                             example.test  v=spf1 ip4:127.0.0.1 -all
#                             fail.test     v=spf1 -all
#   e2e_conf [LINE...]      write $E/gatehouse.conf (authserv_id mx.test,
#                           no trusted networks, SPF and DKIM on, the
#                           default rules plus $E/rules/*.rules)
#   e2e_sign IN OUT         sign IN (CRLF) with python3-dkim, rsa-sha256
#   e2e_msg FILE ID SUBJ [BODY]  write a message (CRLF) with Message-ID <ID@e2e>
#   hdrs FILE               print FILE's header section, unfolded, no CR
#   delivered ID            print the delivered file whose Message-ID is ID
#   e2e_wait_delivered ID [SECS]  wait until ID is delivered; print its file
#   start_proxy NAME [-o K=V...]  `gatehouse proxy` in front of $PF_PORT on
#                           a free port; sets PROXY_PORT, PROXY_PID, log in
#                           $T/proxy-NAME.log

E=$T/e2e
mkdir -p "$E/rules"
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

# Make the DKIM key and start unbound with the test zones.
e2e_dns() {
	local pub v rr
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$E/k.pem" 2>/dev/null || fail "openssl genpkey failed"
	pub=$(openssl pkey -in "$E/k.pem" -pubout -outform DER | base64 -w0)
	v="v=DKIM1; k=rsa; p=$pub"
	rr="sel._domainkey.example.test. TXT"
	while [[ -n $v ]]; do
		rr+=" \"${v:0:255}\""
		v=${v:255}
	done
	start_unbound "$rr" \
	    'example.test. TXT "v=spf1 ip4:127.0.0.1 -all"' \
	    'fail.test. TXT "v=spf1 -all"'
}

# Write the gatehouse configuration shared by the proxy and the milter.
e2e_conf() {
	local line
	{
		echo "authserv_id = mx.test"
		echo "trusted_networks ="
		echo "resolver = 127.0.0.1@$UNBOUND_PORT"
		echo "rules = $GH_SRC/rules/default/*.rules, $E/rules/*.rules"
		echo "spf.enable = yes"
		echo "dkim.enable = yes"
		echo "spool_dir = $E"
		echo "log.level = info"
		for line in "$@"; do echo "$line"; done
	} >"$E/gatehouse.conf"
}

# Write a test message with CRLF line ends.
e2e_msg() {
	local file=$1 id=$2 subj=$3 body=${4:-Hello Bob,
this is a plain test message.}
	{
		printf 'From: Alice <alice@example.test>\n'
		printf 'To: Bob <user@backend.test>\n'
		printf 'Subject: %s\n' "$subj"
		printf 'Date: Mon, 01 Jan 2024 10:00:00 +0000\n'
		printf 'Message-ID: <%s@e2e>\n' "$id"
		printf '\n%s\n' "$body"
	} | sed 's/$/\r/' >"$file"
}

# Sign a message with python3-dkim (rsa-sha256, relaxed/simple).
e2e_sign() {
	"$GH_PY" "$GH_SRC/tests/lib/dkim_sign.py" sel example.test \
	    "$E/k.pem" <"$1" >"$2" || fail "dkim_sign.py failed on $1"
}

# Print the header section of FILE unfolded, without CRs.
hdrs() {
	awk '{ sub(/\r$/, "") }
	    /^$/ { exit }
	    /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
	    { if (h != "") print h; h = $0 }
	    END { if (h != "") print h }' "$1"
}

# Print the delivered file with Message-ID <ID@e2e> (nothing if none).
delivered() {
	local f
	for f in $(pf_mailbox); do
		if grep -qF "<$1@e2e>" "$f"; then
			echo "$f"
			return 0
		fi
	done
}

_e2e_has() { [[ -n $(delivered "$1") ]]; }

# Wait until message ID is delivered, then print its file.
e2e_wait_delivered() {
	wait_until "${2:-20}" _e2e_has "$1" || fail "message $1 not delivered"
	delivered "$1"
}

# Start `gatehouse proxy` in front of the private Postfix.
start_proxy() {
	local name=$1
	shift
	PROXY_PORT=$(free_port)
	GH_LOG=$T/proxy-$name.log start_gatehouse -c "$E/gatehouse.conf" \
	    -o "listen=127.0.0.1:$PROXY_PORT" \
	    -o "backend=127.0.0.1:$PF_PORT" -o hostname=gate.test "$@" proxy
	PROXY_PID=$GH_PID
	wait_port "$PROXY_PORT" 30 "$PROXY_PID" ||
		fail "gatehouse proxy $name did not listen: $(tail -n 5 "$T/proxy-$name.log")"
}

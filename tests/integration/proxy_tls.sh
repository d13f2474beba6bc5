#!/usr/bin/env bash
# proxy_tls.sh — STARTTLS towards clients (RFC 3207), against real
# clients: `openssl s_client -starttls smtp` and `swaks --tls` upgrade
# and deliver to smtp-sink; plaintext pipelined after STARTTLS is never
# executed (CVE-2011-0411); the session starts over after the handshake;
# STARTTLS syntax and state errors; a failed handshake is logged and
# closed, and one that never starts is cut by the idle timeout; the
# TLS facts reach the per-message log line; a key readable by
# others is refused by `gatehouse check` and at start; tls.level = may
# without a certificate is refused; a certificate swapped on SIGHUP is
# served to the next client, and a broken one keeps the old.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need openssl swaks python3 smtp-sink

# A self-signed certificate for CN=$1 into $2.crt / $2.key (mode 600).
mkcert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
	    -addext "subjectAltName=DNS:$1,IP:127.0.0.1" \
	    -keyout "$2.key" -out "$2.crt" >/dev/null 2>&1 ||
		fail "openssl req failed"
	chmod 600 "$2.key"
}

# The SHA-256 fingerprint of a PEM certificate file, or of what the
# server on port $1 serves after STARTTLS.
fp_file() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
fp_served() {
	timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$1" \
	    </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256
}

mkcert one.test "$T/one"
mkcert two.test "$T/two"
cp "$T/one.crt" "$T/cert.pem"
cp -p "$T/one.key" "$T/key.pem"

start_smtp_sink
# Rules with a HELO rule: the client's second EHLO (after STARTTLS)
# runs the HELO stage again, which the rules filter must take.
cat >"$T/tls.rules" <<'EOF'
helo     GH_TEST_HELO  /\./
describe GH_TEST_HELO  any dotted HELO name
score    GH_TEST_HELO  0.1
EOF
GH_PORT=$(free_port)
cat >"$T/gatehouse.conf" <<EOF
listen = 127.0.0.1:$GH_PORT
backend = 127.0.0.1:$SINK_PORT
hostname = gate.test
spool_dir = $T
spf.enable = no
dkim.enable = no
client_name_lookup = no
rules = $T/tls.rules
metrics_listen =
log.level = debug
tls.level = may
tls.cert_file = $T/cert.pem
tls.key_file = $T/key.pem
smtp.idle_timeout = 3s
EOF

"$GATEHOUSE" -c "$T/gatehouse.conf" check >"$T/check.out" 2>&1 ||
	fail "gatehouse check refused a good TLS setup: $(cat "$T/check.out")"
ok "gatehouse check accepts the certificate and key"

# A key that group or others may read: refused by check and at start.
cp -p "$T/key.pem" "$T/open.key"
chmod 644 "$T/open.key"
if "$GATEHOUSE" -c "$T/gatehouse.conf" -o "tls.key_file=$T/open.key" \
    check >"$T/check-open.out" 2>&1; then
	fail "gatehouse check accepted a world-readable key"
fi
assert_grep "open.key: bad mode 0644" "$T/check-open.out"
rc=0
timeout 10 "$GATEHOUSE" -f -c "$T/gatehouse.conf" \
    -o "tls.key_file=$T/open.key" -o "listen=127.0.0.1:$(free_port)" \
    proxy >"$T/start-open.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "proxy started with a world-readable key"
assert_grep "open.key: bad mode 0644" "$T/start-open.out"
if "$GATEHOUSE" -c /dev/null -o tls.level=may check \
    >"$T/check-nocert.out" 2>&1; then
	fail "tls.level = may without a certificate passed check"
fi
assert_grep "tls.level = may needs tls.cert_file" "$T/check-nocert.out"
ok "a world-readable key and a missing certificate are refused"

start_gatehouse -c "$T/gatehouse.conf" proxy
wait_port "$GH_PORT" 10 "$GH_PID" || fail "gatehouse did not listen"
LOG=$T/gatehouse.log

# openssl s_client: upgrade, EHLO again, deliver.
{
	printf 'EHLO client.test\r\n'; sleep 0.3
	printf 'MAIL FROM:<s_client@x.test>\r\nRCPT TO:<b@y.test>\r\n'
	printf 'DATA\r\n'; sleep 0.3
	printf 'Subject: s_client\r\n\r\nthrough openssl\r\n.\r\n'; sleep 0.3
	printf 'QUIT\r\n'; sleep 0.3
} | timeout 15 openssl s_client -starttls smtp -quiet \
    -connect "127.0.0.1:$GH_PORT" >"$T/s_client.out" 2>&1 || true
assert_grep '^250 2\.0\.0 Ok' "$T/s_client.out"
sink_wait 1
grep -l "through openssl" $(sink_files) >/dev/null ||
	fail "the s_client message is not in the sink"
wait_grep 'message .*from=<s_client@x.test>' "$LOG" 5 ||
	fail "no log line for the s_client message"
assert_grep 'message .*tls=TLSv1\.[23]/[A-Z0-9_-]+ from=<s_client@x\.test>.* hits=GH_TEST_HELO ' \
    "$LOG"
assert_not_grep 'evaluation failed' "$LOG"
assert_grep 'starttls client=127\.0\.0\.1 version=TLSv1\.[23] cipher=.* bits=' \
    "$LOG"
ok "openssl s_client -starttls smtp: upgraded and delivered; TLS in the log line"

# swaks --tls.
swaks_send tls --server "127.0.0.1:$GH_PORT" --tls --from sw@x.test \
    --to b@y.test --body "through swaks" || fail "swaks --tls failed"
assert_grep '^=== TLS started with cipher TLSv1\.[23]' "$SWAKS_OUT"
assert_grep '^<~  250 2\.0\.0 Ok' "$SWAKS_OUT"
sink_wait 2
ok "swaks --tls: upgraded and delivered"

# Plaintext pipelined after STARTTLS is discarded, never executed.
python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" inject \
    >"$T/inject.out" 2>&1 || fail "inject: $(tail -n 3 "$T/inject.out")"
assert_grep "pipelined 25 byte\\(s\\) after STARTTLS: discarded" "$LOG"
assert_not_grep "evil" "$LOG"
ok "plaintext after STARTTLS discarded (CVE-2011-0411), never relayed"

python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" reset \
    >"$T/reset.out" 2>&1 || fail "reset: $(tail -n 3 "$T/reset.out")"
ok "after the handshake the client must EHLO again (RFC 3207 4.2)"
python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" syntax \
    >"$T/syntax.out" 2>&1 || fail "syntax: $(tail -n 3 "$T/syntax.out")"
ok "STARTTLS with an argument: 501; inside TLS: 503"
python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" garbage \
    >"$T/garbage.out" 2>&1 || fail "garbage: $(tail -n 3 "$T/garbage.out")"
wait_grep 'TLS handshake failed client=127\.0\.0\.1: ' "$LOG" 5 ||
	fail "no log line for the failed handshake"
ok "a failed handshake is logged and the connection closed"
python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" stall \
    >"$T/stall.out" 2>&1 || fail "stall: $(tail -n 3 "$T/stall.out")"
wait_grep 'TLS handshake failed client=127\.0\.0\.1: timeout' "$LOG" 5 ||
	fail "no log line for the handshake timeout"
ok "a handshake that does not come is cut by smtp.idle_timeout"

# SIGHUP with a new certificate: the next client gets it.
[[ $(fp_served "$GH_PORT") == "$(fp_file "$T/one.crt")" ]] ||
	fail "the first certificate is not the one served"
cp "$T/two.crt" "$T/cert.pem"
cp -p "$T/two.key" "$T/key.pem"
kill -HUP "$GH_PID"
_loaded() { (($(grep -c "TLS: certificate .* loaded" "$LOG") >= 2)); }
wait_until 10 _loaded || fail "no reload of the certificate"
[[ $(fp_served "$GH_PORT") == "$(fp_file "$T/two.crt")" ]] ||
	fail "the new certificate is not served after SIGHUP"
ok "a certificate swapped on SIGHUP is served to the next client"

# A broken certificate on SIGHUP: logged, the old one stays.
echo "not a certificate" >"$T/cert.pem"
kill -HUP "$GH_PID"
wait_grep 'tls.cert_file .*cert.pem: .*the old TLS certificate and settings stay' \
    "$LOG" 10 || fail "no log line for the broken certificate"
[[ $(fp_served "$GH_PORT") == "$(fp_file "$T/two.crt")" ]] ||
	fail "the old certificate is not served after a broken reload"
ok "a broken certificate on SIGHUP keeps the old one, logged"

stop_gatehouse
((GH_EXIT == 0)) || fail "gatehouse exited with $GH_EXIT"

# A TLS session waiting on a slow backend longer than the idle timeout
# is not cut: only the TLS layer's timeouts count, and they are off
# while the session waits on the backend.
SLOW_PORT=$(free_port)
mkdir -p "$T/slow"
chmod 777 "$T/slow"
start_bg slow-sink smtp-sink -u nobody -4 -h slow.test -w 5 \
    -d "$T/slow/%H%M%S." "127.0.0.1:$SLOW_PORT" 10
SLOW_PID=$BG_PID
wait_port "$SLOW_PORT" 10 "$SLOW_PID" || fail "slow smtp-sink did not start"
GH_PORT2=$(free_port)
GH_LOG=$T/gatehouse-slow.log start_gatehouse -c "$T/gatehouse.conf" \
    -o "listen=127.0.0.1:$GH_PORT2" -o "backend=127.0.0.1:$SLOW_PORT" \
    -o "tls.cert_file=$T/two.crt" -o "tls.key_file=$T/two.key" \
    -o backend.chunking=no proxy
wait_port "$GH_PORT2" 10 "$GH_PID" || fail "gatehouse did not listen"
swaks_send slow --server "127.0.0.1:$GH_PORT2" --tls --from slow@x.test \
    --to b@y.test --body "slow backend" || fail "swaks --tls (slow) failed"
assert_grep '^<~  250 2\.0\.0 Ok' "$SWAKS_OUT"
assert_not_grep 'timeout client=' "$T/gatehouse-slow.log"
ok "a TLS session outlives the idle timeout while the backend is slow"
stop_gatehouse
stop_bg "$SLOW_PID"

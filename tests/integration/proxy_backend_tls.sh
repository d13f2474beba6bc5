#!/usr/bin/env bash
# proxy_backend_tls.sh — STARTTLS from gatehouse to the backend
# (backend.tls): against a real Postfix with smtpd_tls_* set, `may` and
# `require` deliver over TLS (Postfix logs the TLS connection, gatehouse
# logs the backend's TLS facts); backend.tls_verify with the right CA
# passes and with another CA fails with a 4xx to the client; against
# smtp-sink (no STARTTLS) `may` delivers in plaintext and `require`
# gives the client a 4xx, never a 2xx.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need openssl swaks postfix smtp-sink

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$T/pf.key" -out "$T/pf.crt" >/dev/null 2>&1 ||
	fail "openssl req failed"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" \
    -keyout "$T/other.key" -out "$T/other.crt" >/dev/null 2>&1 ||
	fail "openssl req failed"
chmod 600 "$T/pf.key" "$T/other.key"
chmod 644 "$T/pf.crt" "$T/other.crt"

start_smtp_sink
start_postfix -o "smtpd_tls_cert_file=$T/pf.crt" \
    -o "smtpd_tls_key_file=$T/pf.key" -o smtpd_tls_security_level=may \
    -o smtpd_tls_loglevel=1

# run NAME BACKEND_PORT GATEHOUSE-OPTIONS...: one message through a
# fresh gatehouse; the swaks transcript is $SWAKS_OUT, the log $GLOG.
run() {
	local name=$1 be=$2 port
	shift 2
	port=$(free_port)
	GLOG=$T/gatehouse-$name.log
	GH_LOG=$GLOG start_gatehouse -c /dev/null \
	    -o "listen=127.0.0.1:$port" -o "backend=127.0.0.1:$be" \
	    -o hostname=gate.test -o spf.enable=no -o dkim.enable=no \
	    -o client_name_lookup=no \
	    -o rules= -o metrics_listen= -o "spool_dir=$T" \
	    -o backend.pool_size=0 "$@" proxy
	wait_port "$port" 10 "$GH_PID" || fail "$name: gatehouse did not listen"
	swaks_send "$name" --server "127.0.0.1:$port" --from a@x.test \
	    --to user@backend.test --body "backend tls $name" || true
	stop_gatehouse
}

run may "$PF_PORT" -o backend.tls=may
assert_grep '^<-  250 2\.0\.0 Ok: .*queued as' "$SWAKS_OUT"
assert_grep 'backend TLS version=TLSv1\.[23] cipher=[A-Z0-9_-]+ bits=[0-9]+ verified=no' \
    "$GLOG"
pf_wait_delivered 1
assert_grep 'Anonymous TLS connection established from .*127\.0\.0\.1' \
    "$(pf_log)"
ok "backend.tls = may: STARTTLS to Postfix, delivered over TLS"

run verify "$PF_PORT" -o backend.tls=require -o backend.tls_verify=yes \
    -o "backend.tls_ca_file=$T/pf.crt"
assert_grep '^<-  250 2\.0\.0 Ok: .*queued as' "$SWAKS_OUT"
assert_grep 'backend TLS version=.* verified=yes' "$GLOG"
pf_wait_delivered 2
ok "backend.tls = require with tls_verify and the right CA: delivered"

run wrongca "$PF_PORT" -o backend.tls=require -o backend.tls_verify=yes \
    -o "backend.tls_ca_file=$T/other.crt"
assert_grep '^<\*\* 451 4\.4\.1 ' "$SWAKS_OUT"
assert_grep 'TLS handshake with the backend failed: certificate: ' "$GLOG"
ok "backend.tls_verify with another CA: the client gets 451, logged"

run sinkmay "$SINK_PORT" -o backend.tls=may
assert_grep '^<-  250 ' "$SWAKS_OUT"
sink_wait 1
assert_not_grep 'backend TLS' "$GLOG"
ok "backend.tls = may, backend without STARTTLS: plaintext"

run sinkreq "$SINK_PORT" -o backend.tls=require
assert_grep '^<\*\* 451 4\.4\.1 ' "$SWAKS_OUT"
assert_not_grep '^<-  250 2\.0\.0' "$SWAKS_OUT"
assert_grep 'does not offer STARTTLS \(backend.tls = require\)' "$GLOG"
ok "backend.tls = require, backend without STARTTLS: 451, never relayed"

# postfix_local.sh — a private Postfix on loopback for proxy tests and the
# demo (shared/RECIPES.md): its own queue, log (DIR/maillog) and port,
# virtual mailboxes for user@backend.test in DIR/mail/user/, XCLIENT
# allowed from 127.0.0.1 only.  Source it; needs root.
#
#   postfix_local_start DIR PORT [MASTER_LINES [MAIN_LINES]]
#                                  start (DIR must be empty or new); the
#                                  optional lines are added to master.cf
#                                  and main.cf
#   postfix_local_stop DIR         stop it by the PID in its pid file

. "${GH_SRC:?}/tests/lib/postfix_conf.sh"

# Create Postfix's directories, write the configuration
# (tests/lib/postfix_conf.sh), start, and wait for the port.
postfix_local_start() {
	local T=$1 port=$2 master_extra=${3:-} main_extra=${4:-} i
	local PF=$T/pf
	chmod 755 "$T"	# the postfix user must reach its directories
	mkdir -p "$PF"
	pf_make_dirs "$T/spool" "$T/data" "$T/mail"
	pf_main_cf "$PF" "$T/spool" "$T/data" "$T/mail" "$T/maillog" \
	    >"$PF/main.cf"
	# XCLIENT from gatehouse's address only, as on a real MX: a client
	# that XCLIENT made 127.0.0.2 may not XCLIENT again, so the proxy's
	# pooled backend connections are tested as deployed.
	postconf -c "$PF" -e "smtpd_authorized_xclient_hosts = 127.0.0.1"
	[ -n "$main_extra" ] && printf '%s\n' "$main_extra" >>"$PF/main.cf"
	echo "user@backend.test user/" >"$PF/mailboxes"
	# The stock services with chroot off, smtpd on our loopback port.
	pf_master_cf "$port" >"$PF/master.cf"
	[ -n "$master_extra" ] && printf '%s\n' "$master_extra" >>"$PF/master.cf"
	postfix -c "$PF" check >"$T/postfix-check.log" 2>&1 || {
		cat "$T/postfix-check.log"
		return 1
	}
	postfix -c "$PF" start >"$T/postfix-start.log" 2>&1 || {
		cat "$T/postfix-start.log" "$T/maillog" 2>/dev/null
		return 1
	}
	for i in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "Postfix did not open port $port" >&2
	return 1
}

# Stop the instance by the PID of its master.
postfix_local_stop() {
	local pidf=$1/spool/pid/master.pid
	[ -f "$pidf" ] || return 0
	kill "$(tr -d ' ' <"$pidf")" 2>/dev/null
	sleep 0.5
}

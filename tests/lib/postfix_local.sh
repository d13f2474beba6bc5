# postfix_local.sh — a private Postfix on loopback for proxy tests and the
# demo (shared/RECIPES.md): its own queue, log (DIR/maillog) and port,
# virtual mailboxes for user@backend.test in DIR/mail/user/, XCLIENT
# allowed from 127.0.0.1.  Source it; needs root.
#
#   postfix_local_start DIR PORT [MASTER_LINES [MAIN_LINES]]
#                                  start (DIR must be empty or new); the
#                                  optional lines are added to master.cf
#                                  and main.cf
#   postfix_local_stop DIR         stop it by the PID in its pid file

# Create Postfix's directories as postfix-files wants them, write the
# configuration, start, and wait for the port.
postfix_local_start() {
	local T=$1 port=$2 master_extra=${3:-} main_extra=${4:-} d i
	local PF=$T/pf
	chmod 755 "$T"	# the postfix user must reach its directories
	mkdir -p "$PF" "$T/mail"
	mkdir -m 755 "$T/spool" "$T/spool/pid"
	for d in active bounce corrupt defer deferred flush hold incoming \
	    private saved trace; do
		mkdir -m 700 "$T/spool/$d"
		chown postfix:root "$T/spool/$d"
	done
	mkdir -m 730 "$T/spool/maildrop"
	mkdir -m 710 "$T/spool/public"
	chown postfix:postdrop "$T/spool/maildrop" "$T/spool/public"
	mkdir -m 700 "$T/data"
	chown postfix "$T/data"
	chown nobody:nogroup "$T/mail"
	cat >"$PF/main.cf" <<EOC
compatibility_level = 3.6
config_directory = $PF
queue_directory = $T/spool
data_directory = $T/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.backend.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $T/maillog
maillog_file_prefixes = $T
alias_maps =
alias_database =
smtpd_authorized_xclient_hosts = 127.0.0.1
virtual_mailbox_domains = backend.test
virtual_mailbox_base = $T/mail
virtual_mailbox_maps = texthash:$PF/mailboxes
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
EOC
	[ -n "$main_extra" ] && printf '%s\n' "$main_extra" >>"$PF/main.cf"
	echo "user@backend.test user/" >"$PF/mailboxes"
	# The stock services with chroot off, smtpd on our loopback port.
	awk -v port="$port" '
		/^#/ || /^[ \t]/ || NF < 8 { print; next }
		$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
		{ $5 = "n"; print }' /etc/postfix/master.cf >"$PF/master.cf"
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

# postfix.sh — a private Postfix instance for bench/milter.sh (tests use
# tests/lib/harness.sh; settings from shared/RECIPES.md): its own config and queue
# directory under $1, smtpd on 127.0.0.1:$2, relaying everything to
# 127.0.0.1:$3 (smtp-sink), optional smtpd_milters $4.  Stop it with
# postfix_stop DIR.

# Print a free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# postfix_start DIR SMTPD_PORT RELAY_PORT [MILTER] [PROCESS_LIMIT]
postfix_start() {
	local dir=$1 port=$2 relay=$3 milter=${4:-} limit=${5:-100}
	mkdir -p "$dir/conf" "$dir/spool" "$dir/data"
	# Postfix's daemons (user postfix) must reach the directory.
	chmod 755 "$(dirname "$dir")" "$dir"
	chown postfix "$dir/data"
	cat > "$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = backend.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$relay
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
alias_maps =
alias_database =
default_process_limit = $limit
milter_default_action = tempfail
smtpd_milters = $milter
non_smtpd_milters =
milter_connect_timeout = 5s
milter_command_timeout = 10s
smtp_connection_cache_on_demand = yes
default_destination_concurrency_limit = 50
initial_destination_concurrency = 10
CF
	# The stock services, none chrooted, smtpd on the loopback port.
	awk -v port="$port" '
		/^[a-z0-9]/ && NF >= 8 {
			$5 = "n"
			if ($1 == "smtp" && $2 == "inet")
				$1 = "127.0.0.1:" port
		}
		{ print }' /etc/postfix/master.cf.proto > "$dir/conf/master.cf"
	postfix -c "$dir/conf" check >> "$dir/start.log" 2>&1 || return 1
	postfix -c "$dir/conf" start >> "$dir/start.log" 2>&1 || return 1
	local i
	for i in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# postfix_stop DIR
postfix_stop() {
	postfix -c "$1/conf" stop > /dev/null 2>&1 || true
	local pidf="$1/spool/pid/master.pid" i pid
	[ -f "$pidf" ] || return 0
	pid=$(tr -d ' ' < "$pidf")
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

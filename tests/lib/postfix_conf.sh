# postfix_conf.sh — the parts of a private Postfix instance that the test
# harness (tests/lib/harness.sh, start_postfix) and the stand-alone
# helper (tests/lib/postfix_local.sh: two proxy tests, tools/demo) share:
# the queue directories, the base main.cf and master.cf
# (shared/RECIPES.md).  Source it; functions only, no state.
#
#   pf_make_dirs SPOOL DATA MAIL   make the queue directories as
#                                  postfix-files wants them (post-install
#                                  takes 2-3 s to do it), the data
#                                  directory and the virtual mail root
#   pf_main_cf CONF SPOOL DATA MAIL LOG
#                                  print the base main.cf: loopback only,
#                                  no DNS, log to LOG, XCLIENT from
#                                  127.0.0.0/8, virtual mailboxes for
#                                  backend.test under MAIL (map CONF/mailboxes)
#   pf_master_cf PORT              print the stock master.cf, no chroot,
#                                  smtpd on 127.0.0.1:PORT

pf_make_dirs() {
	local spool=$1 data=$2 mail=$3 d
	mkdir -p "$mail"
	mkdir -m 755 "$spool" "$spool/pid"
	for d in active bounce corrupt defer deferred flush hold incoming \
	    private saved trace; do
		mkdir -m 700 "$spool/$d"
		chown postfix:root "$spool/$d"
	done
	mkdir -m 730 "$spool/maildrop"
	mkdir -m 710 "$spool/public"
	chown postfix:postdrop "$spool/maildrop" "$spool/public"
	mkdir -m 700 "$data"
	chown postfix "$data"
	chown nobody:nogroup "$mail"
}

pf_main_cf() {
	local conf=$1 spool=$2 data=$3 mail=$4 log=$5
	cat <<EOC
compatibility_level = 3.6
config_directory = $conf
queue_directory = $spool
data_directory = $data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.backend.test
mydomain = backend.test
myorigin = backend.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $log
maillog_file_prefixes = $(dirname "$log")
alias_maps =
alias_database =
biff = no
smtpd_authorized_xclient_hosts = 127.0.0.0/8
virtual_mailbox_domains = backend.test
virtual_mailbox_base = $mail
virtual_mailbox_maps = texthash:$conf/mailboxes
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
EOC
}

pf_master_cf() {
	cat <<EOC
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
}

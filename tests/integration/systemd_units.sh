#!/usr/bin/env bash
# The systemd units: `systemd-analyze verify` is clean and `systemd-analyze
# security` rates each service 2.0 or lower (no running systemd needed).
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?} ${GH_BUILD:?}"
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/units" "$T/man/man5" "$T/man/man8"
cp "$GH_SRC"/systemd/*.service "$GH_SRC"/systemd/*.socket "$T/units/"
# Point the units at the binary just built; everything else unchanged.
sed -i "s|/usr/sbin/gatehouse|$GATEHOUSE|g" "$T"/units/*
cp "$GH_SRC/docs/man/gatehouse.8" "$T/man/man8/"
cp "$GH_SRC"/docs/man/*.5 "$T/man/man5/" 2>/dev/null || true
"$GATEHOUSE" manpage > "$T/man/man5/gatehouse.conf.5"
# verify runs `man` for Documentation= lines: give it our pages.
export MANPATH="$T/man"
cd "$T/units"
if ! systemd-analyze verify ./*.service ./*.socket > "$T/verify" 2>&1; then
	cat "$T/verify"
	fail "systemd-analyze verify failed"
fi
# Warnings print without failing the command: treat any output as failure.
grep -v -e '^$' "$T/verify" | grep -q . && { cat "$T/verify"; fail "verify warnings"; }
for svc in gatehouse-proxy.service gatehouse-milter.service; do
	systemd-analyze security --offline=true "./$svc" > "$T/sec" 2>&1 ||
		{ cat "$T/sec"; fail "security $svc"; }
	level=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' "$T/sec")
	[ -n "$level" ] || { cat "$T/sec"; fail "no exposure level for $svc"; }
	echo "$svc exposure $level"
	awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
		fail "$svc exposure $level > 2.0"
done
echo "systemd_units: ok"

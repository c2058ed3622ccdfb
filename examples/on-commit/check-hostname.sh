#!/bin/sh
# check-hostname.sh - an example for callhomed --on-commit.
#
# callhomed runs it on every change of the running configuration:
#   $1  the new running configuration (XML, as libyang prints it)
#   $2  the change: libyang's diff (lyd_diff_siblings) as XML, each changed
#       node with a yang:operation attribute (create, delete, replace, none)
# Exit 0 to accept the change; anything else rejects it, and the first KiB
# of what is written to standard error becomes the NETCONF error-message.
# Standard output goes to callhomed's log.
#
# CALLHOME_ON_COMMIT=rollback: a confirmed commit was rolled back; running
# is already $1 again and the device must follow. Nothing can be refused
# then ($2 holds RFC 6470 <edit> elements); a failure is logged as an error.
#
# This one refuses a hostname containing "forbidden" and otherwise appends
# the change to $ON_COMMIT_LOG (default /tmp/callhomed-on-commit.log).
set -eu

running=$1
diff=$2
log=${ON_COMMIT_LOG:-/tmp/callhomed-on-commit.log}
kind=${CALLHOME_ON_COMMIT:-check}

if [ "$kind" = check ] && grep -q '<hostname>[^<]*forbidden' "$running"
then
	echo 'hostname must not contain "forbidden"' >&2
	exit 1
fi

what="change accepted"
[ "$kind" = rollback ] && what="rolled back"
{
	printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$what"
	cat "$diff"
	printf '\n'
} >>"$log"
echo "on-commit: change logged to $log"
exit 0

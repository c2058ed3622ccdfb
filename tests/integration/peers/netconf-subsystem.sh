#!/bin/sh
# sshd's "Subsystem netconf" for yuma123 netconfd: usage
#   netconf-subsystem.sh NCXSERVER_SOCKET
#
# netconfd drops a session whose sshd-side port (the last field of
# SSH_CONNECTION) is not in its --port list. On a call-home device that
# port is the ephemeral source port of the outbound connection, so say
# 830, the port netconfd is started with.
set -eu
sock=$1
set -- ${SSH_CONNECTION:-0.0.0.0 0 0.0.0.0 0}
SSH_CONNECTION="$1 $2 $3 830"
export SSH_CONNECTION
exec /usr/sbin/netconf-subsystem --ncxserver-sockname="830@$sock"

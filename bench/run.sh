#!/bin/sh
# bench/run.sh BUILD_DIR [OPTIONS] - callhome's benchmarks against peers
# measured in the same run (OpenSSH sshd -i + yuma123 netconfd as the
# device, ncclient as the manager). Prints a table and writes it to
# /tmp/callhome-bench-results.txt. Needs root and the Debian peers
# (make deps). OPTIONS: see bench/README.md or --help.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: bench/run.sh BUILD_DIR [OPTIONS]" >&2
	exec /usr/bin/python3 -B "$here/callhome_bench.py" --help
fi
build=$1
shift
cache="$build/CMakeCache.txt"
if [ ! -f "$cache" ]; then
	echo "bench: $build is not a cmake build directory" >&2
	exit 1
fi
if grep -q '^CH_SANITIZE:STRING=..*' "$cache"; then
	echo "bench: $build is a sanitizer build; numbers would mean nothing" >&2
	exit 1
fi
# Our two daemons and the CLI (the forward and terminal benchmarks
# drive it): other targets may not link yet.
cmake --build "$build" --target callhomed callhome-hub callhome-cli \
	-j"$(nproc)" >/dev/null
/usr/bin/python3 -B "$here/callhome_bench.py" "$build" "$@"
/usr/bin/python3 -B "$here/queued_job.py" "$build"
/usr/bin/python3 -B "$here/tls_handshake.py" "$build"
/usr/bin/python3 -B "$here/forward_bench.py" "$build"
/usr/bin/python3 -B "$here/terminal_bench.py" "$build"
/usr/bin/python3 -B "$here/snmp_bench.py" "$build"
/usr/bin/python3 -B "$here/front_door_bench.py" "$build"
# About two minutes: keep-alives at their defaults (30 s x 3).
exec /usr/bin/python3 -B "$here/dead_peer.py" "$build"

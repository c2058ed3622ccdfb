#!/usr/bin/env bash
# Fuzzes each libFuzzer target for a fixed time, starting from the
# committed seed corpus (new inputs go to a scratch copy, not the tree).
# Memory is bounded: a process over RSS_MB, or one allocation over
# MALLOC_MB, is a failure. Each target has its own input size (max_len):
# what its parser meets in one piece, and small enough to stay fast.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RSS_MB=2048
MALLOC_MB=512
# target:max_len; a target built but not listed fuzzes with DEFAULT_LEN,
# and one listed but not built fails (a list cannot forget a target).
DEFAULT_LEN=16384
lens="frame:65536 hello:65536 rpc:65536 filter:65536 certmap:16384
      ncsession:65536 editconfig:16384 ctlline:16384 chconfig:16384
      serials:8192 notiftime:4096 streamframe:16384 castline:65536
      fwdrule:4096 snmpframe:8192 junos:8192
      opkeys:16384 select:4096 conffile:16384 devxml:65536"
status=0
for entry in $lens; do
  [ -x "$build/fuzz_${entry%%:*}" ] || { echo "fuzz_${entry%%:*}: not built"; status=1; }
done
for exe in "$build"/fuzz_*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  target=${exe##*/fuzz_}
  max_len=$DEFAULT_LEN
  for entry in $lens; do
    [ "${entry%%:*}" = "$target" ] && max_len=${entry#*:}
  done
  mkdir -p "$work/$target"
  [ -d "$root/fuzz/corpus/$target" ] &&
    cp -r "$root/fuzz/corpus/$target/." "$work/$target/"
  echo "== fuzz_$target for ${seconds}s (max_len $max_len)"
  if ! "$build/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" \
       -timeout=10 -rss_limit_mb=$RSS_MB -malloc_limit_mb=$MALLOC_MB \
       -print_final_stats=1 -artifact_prefix="$work/" "$work/$target" \
       2>"$work/$target.log"; then
    echo "fuzz_$target FAILED:"; tail -60 "$work/$target.log"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
             "$work"/oom-*; do
      [ -e "$a" ] && { echo "artifact $a:"; xxd "$a" | head -20; }
    done
    status=1
  else
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/$target.log" || true
  fi
done
exit $status

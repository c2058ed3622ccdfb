#!/usr/bin/env bash
# Fuzzes each libFuzzer target for a fixed time, starting from the
# committed seed corpus (new inputs go to a scratch copy, not the tree).
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in frame hello rpc filter certmap; do
  mkdir -p "$work/$target"
  cp -r "$root/fuzz/corpus/$target/." "$work/$target/"
  echo "== fuzz_$target for ${seconds}s"
  if ! "$build/fuzz_$target" -max_total_time="$seconds" -max_len=65536 \
       -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/" "$work/$target" 2>"$work/$target.log"; then
    echo "fuzz_$target FAILED:"; tail -60 "$work/$target.log"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
      [ -e "$a" ] && { echo "artifact $a:"; xxd "$a" | head -20; }
    done
    status=1
  else
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/$target.log" || true
  fi
done
exit $status

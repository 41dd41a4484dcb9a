#!/usr/bin/env bash
# make bench: runs the Go micro-benchmarks of every package and records the
# results under bench/results/ with the command and the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y-%m-%d)
out=bench/results/micro-$stamp.txt
cmd="go test -run '^\$' -bench . -benchmem -count ${COUNT:-1} ./..."
{
  echo "# $cmd"
  echo "# $(date -u +%FT%TZ) on $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  eval "$cmd"
} | tee "$out"
echo "results written to $out"

#!/usr/bin/env bash
# make bench: runs the Go micro-benchmarks of every package, then (as root)
# the end-to-end comparison of ulvs with its peers on a netns topology
# (bench/lbbench), and records everything under bench/results/:
#   micro-<date>.txt          the go test -bench output, with the command
#   <date>.json, <date>.md    every metric per scenario and round, medians,
#                             min–max, ratios to direct, and the micro results
#   <date>-<metric>.svg       one chart per end-to-end metric
# ROUNDS (default 3), DURATION (per measurement, default 5s), COUNT (go test
# -count, default 1), SCENARIOS and LOADS (comma-separated names), VM=0
# (no QEMU scenarios) and WIRE_CHECKSUMS=0 tune it. By default the client's
# and real servers' TX checksum offload is off (lbbench -wire-checksums):
# frames reach the director with complete checksums, as from a wire, which
# the XDP fast path scenarios need (a veth leaves a local sender's checksums
# partial, and the fast path hands those to user space).
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

rounds=${ROUNDS:-3}
vm=()
mkdir -p bin
if [ "$(id -u)" != 0 ]; then
  echo "bench: the end-to-end comparison needs root (network namespaces); recording the micro-benchmarks only" >&2
  rounds=0
else
  scripts/deps.sh bench
  # The (VM) scenarios: kernel IPVS and ulvs side by side in one QEMU guest
  # (VM=0 leaves them out).
  if [ "${VM:-1}" != 0 ]; then
    scripts/ipvs-vm.sh fetch
    CGO_ENABLED=0 go build -o bin/ipvsagent ./forward/ipvs/internal/ipvsagent
    vm=(-vm -vm-cache "${ULVS_VM_CACHE:-.cache/ipvs-vm}" -vm-agent bin/ipvsagent)
  fi
fi
go build -o bin/lbbench ./bench/lbbench
CGO_ENABLED=0 go build -o bin/ulvsd ./cmd/ulvsd
wire=(-wire-checksums)
if [ "${WIRE_CHECKSUMS:-1}" = 0 ]; then
  wire=()
fi
bin/lbbench -rounds "$rounds" -d "${DURATION:-5s}" -micro "$out" -out "bench/results/$stamp" -ulvsd bin/ulvsd "${vm[@]}" "${wire[@]}" \
  ${SCENARIOS:+-scenarios "$SCENARIOS"} ${LOADS:+-loads "$LOADS"}

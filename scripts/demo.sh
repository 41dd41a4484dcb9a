#!/usr/bin/env bash
# make demo: the main job a newcomer runs first. As root, on a fresh machine:
# installs what the lab needs, builds, and runs `ulvslab demo` — a client,
# two directors running ulvsd in VRRP and three nginx real servers in
# network namespaces; 30 requests spread by round robin, a stopped real
# server drained, the master director killed and the VIP answered by the
# backup, everything healed, one connection traced hop by hop in DR mode,
# and everything removed. Each step checks itself; the exit status is 0
# only if every step held. It runs again cleanly (a lab left by an
# interrupted run is removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - start) / 100000000 ))" | sed 's/.$/.&/'; }

if [ "$(id -u)" != 0 ]; then
  echo "demo: the lab creates network namespaces: run it as root (sudo make demo)" >&2
  exit 1
fi
echo "==> installing what the lab needs (scripts/deps.sh demo)"
scripts/deps.sh demo
echo "==> building ulvsd, ulvsadm and ulvslab into bin/"
CGO_ENABLED=0 go build -o bin/ ./cmd/...

# The user's seed configs when ../shared sits beside the clone, else the
# project's own (testdata/seed-configs).
shared=${SHARED:-../shared}
args=(--seeds testdata/seed-configs)
if [ -d "$shared/seed-configs" ]; then
  args=(--seeds "$shared/seed-configs")
fi
status=0
bin/ulvslab demo "${args[@]}" || status=$?

# Whatever happened, nothing of the lab may be left behind.
left=$(ip netns list | awk '{print $1}' | grep '^ulvslab-' || true)
if [ -n "$left" ]; then
  echo "demo: namespaces left behind: $left" >&2
  bin/ulvslab down || true
  status=1
fi
if [ "$status" = 0 ]; then
  echo "make demo: passed in $(elapsed)s (install, build and every step)"
else
  echo "make demo: FAILED after $(elapsed)s" >&2
fi
exit "$status"

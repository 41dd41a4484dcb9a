#!/usr/bin/env bash
# Installs what ulvs's tests, demo and benchmarks need: the Debian packages
# scripts/tools.txt names for the list (only the missing ones, so a second run
# costs a second) and the Go modules.
# Usage: scripts/deps.sh [test|demo|bench|all]   (default: test)
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-test}
case "$want" in
  test|demo|bench|all) ;;
  *) echo "usage: $0 [test|demo|bench|all]" >&2; exit 2 ;;
esac
# The packages come from scripts/tools.txt, the one table of the tools the
# tests, demo and benchmarks run (a unit test ties it to the tests).
mapfile -t pkgs < <(awk -v want="$want" '
  /^#/ || NF < 3 { next }
  { n = split($3, lists, ",")
    for (i = 1; i <= n; i++) if (want == "all" || lists[i] == want) { print $2; break } }' scripts/tools.txt | sort -u)
if [ ${#pkgs[@]} -eq 0 ]; then
  echo "deps: scripts/tools.txt names no package for $want" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages (${missing[*]}); run as root to install them" >&2
  else
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package installs must not start services on the host (nginx, dnsmasq,
    # opensmtpd, keepalived): the tests start their own inside namespaces.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    }
  fi
fi
go mod download

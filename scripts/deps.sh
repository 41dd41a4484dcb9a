#!/usr/bin/env bash
# Installs what ulvs's tests, demo and benchmarks need: Debian packages (only
# the missing ones, so a second run costs a second) and the Go modules.
# Usage: scripts/deps.sh [test|demo|bench|all]   (default: test)
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-test}
# Real peers and tools for the netns tests: keepalived (VRRP interop, genhash),
# nginx (real servers), curl/wrk (clients), tshark/tcpdump (wire checks),
# nftables, iproute2, ethtool, psmisc (killall, used by the user's
# vrrp_script), openssl (test certificates), dnsmasq (a real DNS server),
# opensmtpd (a real SMTP server), iperf3, socat (UDP echo), qemu-system-x86
# (the kernel IPVS VM tests; scripts/ipvs-vm.sh fetches the guest's kernel).
# netsniff-ng: trafgen, the line-rate sender of the UDP burst and SYN flood tests.
# bird2: the ECMP router in front of N directors announcing over BGP (test/ecmp_test.go, ulvslab --ecmp).
test_pkgs=(keepalived nginx curl wrk tshark tcpdump nftables iproute2 ethtool psmisc procps
  openssl dnsmasq-base opensmtpd iperf3 socat netsniff-ng qemu-system-x86 bird2)
# The demo's lab: nginx (real servers), nftables (ulvsd keeps its kernel
# out of the virtual services' traffic with nft), iproute2 (namespaces).
demo_pkgs=(nginx curl iproute2 procps psmisc tcpdump tshark nftables)
bench_pkgs=(nginx curl wrk iperf3 netsniff-ng haproxy libnginx-mod-stream nftables iproute2 ethtool procps sysstat)

case "$want" in
  test) pkgs=("${test_pkgs[@]}") ;;
  demo) pkgs=("${demo_pkgs[@]}") ;;
  bench) pkgs=("${bench_pkgs[@]}") ;;
  all) pkgs=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [test|demo|bench|all]" >&2; exit 2 ;;
esac

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

#!/usr/bin/env bash
# Prepares (and with "test", uses) the VM that proves the kernel IPVS
# backend: Debian's linux-image-amd64 kernel, which ships the ip_vs modules
# this machine's kernel lacks, booted under qemu-system-x86 (TCG).
#
#   scripts/ipvs-vm.sh fetch   install qemu, download and unpack the kernel,
#                              busybox-static and ipvsadm (+ libraries) into
#                              $ULVS_VM_CACHE (default .cache/ipvs-vm)
#   scripts/ipvs-vm.sh test    fetch, then run the VM tests
#
# Only qemu is installed on the host; the rest is unpacked into the cache
# (git-ignored), so the host's kernel and /boot are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${ULVS_VM_CACHE:-$PWD/.cache/ipvs-vm}
guest_pkgs=(busybox-static ipvsadm libnl-3-200 libnl-genl-3-200 libpopt0)

fetch() {
  if ! command -v qemu-system-x86_64 >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "ipvs-vm: qemu-system-x86 is missing; run as root to install it" >&2; exit 1; }
    echo "ipvs-vm: installing qemu-system-x86"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
    }
  fi
  # linux-image-amd64 is a metapackage; the kernel is its dependency.
  kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  if [ -z "$kernel" ]; then
    apt-get update -qq >/dev/null
    kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  fi
  want="$kernel ${guest_pkgs[*]}"
  if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$want" ] && [ -d "$cache/root/boot" ]; then
    return 0
  fi
  echo "ipvs-vm: fetching $want into $cache"
  rm -rf "$cache/debs" "$cache/root"
  mkdir -p "$cache/debs" "$cache/root"
  # apt's sandbox user must be able to write the download directory.
  chmod 777 "$cache/debs"
  (cd "$cache/debs" && apt-get download -qq "$kernel" "${guest_pkgs[@]}" 2>/dev/null) || {
    apt-get update -qq >/dev/null
    (cd "$cache/debs" && apt-get download -qq "$kernel" "${guest_pkgs[@]}")
  }
  for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$cache/root"
  done
  echo "$want" > "$cache/stamp"
}

case "${1:-fetch}" in
  fetch) fetch ;;
  test)
    fetch
    ULVS_VM=1 ULVS_VM_CACHE="$cache" go test -count=1 -timeout 15m -run 'VM' ${VERBOSE:+-v} ./forward/ipvs/ ./internal/vm/...
    ;;
  *) echo "usage: $0 [fetch|test]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Captures the real frames the frame tests replay (frames.pcap): TCP over
# IPv4 and IPv6 (an HTTP exchange), UDP (small and fragmented datagrams, both
# families), and ICMP and ICMPv6 port-unreachable errors quoting UDP. Run as
# root; it uses two namespaces joined by a veth pair with checksum offload
# off, so every captured checksum is complete.
set -euo pipefail
p=ulvscap$$
cleanup() { ip netns del ${p}a 2>/dev/null || true; ip netns del ${p}b 2>/dev/null || true; }
trap cleanup EXIT
ip netns add ${p}a; ip netns add ${p}b
ip -n ${p}a link add eth0 type veth peer name eth0 netns ${p}b
for n in a b; do
  ip netns exec ${p}$n sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip netns exec ${p}$n ethtool -K eth0 tx off rx off tso off gso off gro off >/dev/null
  ip -n ${p}$n link set lo up; ip -n ${p}$n link set eth0 up
done
ip -n ${p}a addr add 198.18.7.1/24 dev eth0; ip -n ${p}a addr add 2001:db8:7::1/64 dev eth0 nodad
ip -n ${p}b addr add 198.18.7.2/24 dev eth0; ip -n ${p}b addr add 2001:db8:7::2/64 dev eth0 nodad
d=$(mktemp -d)
mkdir -p $d/www; echo hello > $d/www/index.html
ip netns exec ${p}b python3 -m http.server -d $d/www --bind :: 80 >/dev/null 2>&1 &
hp=$!
ip netns exec ${p}b socat -T5 UDP6-RECVFROM:53,fork,ipv6only=0 EXEC:cat >/dev/null 2>&1 &
sp=$!
sleep 0.5
ip netns exec ${p}a tcpdump -i eth0 -U -w "$(dirname "$0")/frames.pcap" -s 0 >/dev/null 2>&1 &
tp=$!
sleep 0.5
ip netns exec ${p}a curl -s http://198.18.7.2/ >/dev/null
ip netns exec ${p}a curl -s 'http://[2001:db8:7::2]/' >/dev/null
ip netns exec ${p}a bash -c 'head -c 100 /dev/zero | socat -T1 - UDP4:198.18.7.2:53' >/dev/null || true
ip netns exec ${p}a bash -c 'head -c 3000 /dev/zero | socat -b4000 -T1 - UDP4:198.18.7.2:53' >/dev/null || true
ip netns exec ${p}a bash -c 'head -c 100 /dev/zero | socat -T1 - UDP6:[2001:db8:7::2]:53' >/dev/null || true
ip netns exec ${p}a bash -c 'head -c 3000 /dev/zero | socat -b4000 -T1 - UDP6:[2001:db8:7::2]:53' >/dev/null || true
ip netns exec ${p}a bash -c 'echo x | socat -T1 - UDP4:198.18.7.2:9' >/dev/null 2>&1 || true
ip netns exec ${p}a bash -c 'echo x | socat -T1 - UDP6:[2001:db8:7::2]:9' >/dev/null 2>&1 || true
sleep 0.5
kill $tp; wait $tp 2>/dev/null || true
kill $hp $sp 2>/dev/null || true
rm -rf $d

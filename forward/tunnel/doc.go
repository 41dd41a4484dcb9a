// Package tunnel is the real-server side of TUN mode for kernels without
// the ipip and ip6_tunnel modules: a userspace decapsulator that takes IPIP
// (IPv4-in-IPv4, protocol 4) and IPv6-in-IPv6 (next header 41) packets from
// raw sockets and hands the inner packets to the kernel through a TUN
// device, as if they had arrived there. The real server answers the client
// directly, as with a kernel tunl0.
//
// Holding a raw socket for the protocol also stops the kernel from
// answering tunnelled packets with ICMP protocol unreachable.
//
// The real server still needs the VIP on a local interface (lo, or the TUN
// device through Config.Addrs) with arp_ignore/arp_announce set, and
// reverse-path filtering off or loose for the TUN device (Run turns it off
// for its device and warns when net.ipv4.conf.all.rp_filter is strict).
//
// Each raw socket has an 8 MiB receive buffer and is read up to 64 packets
// a recvmmsg: with the default buffer, a 60-byte UDP flood through ulvs's
// TUN mode lost more than half its packets at the real servers' raw
// sockets (/proc/net/raw's drops column) while the decapsulator waited for
// a CPU. Each inner packet is still one write(2) to the TUN device.
//
// Left out: GRE and GUE tunnels (keepalived's tunnel_type gre/gue), and
// IPv6-in-IPv4 or IPv4-in-IPv6 mixes.
package tunnel

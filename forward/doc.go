// Package forward is ulvs's data path: it forwards a virtual service's
// traffic to its real servers in DR, NAT and TUN modes, keeping connection
// and persistence tables with IPVS's semantics, on kernels without IPVS.
//
// The daemon drives a Backend: AddService/UpdateService/DeleteService,
// AddReal/UpdateReal/DeleteReal (weights, thresholds, per-real method),
// SetVIP (VRRP master or backup), SetTimeouts (lvs_timeouts), Services
// (ipvsadm --stats/--rate) and Conns (ipvsadm -Lnc), all safe while packets
// flow. New("userspace", cfg) starts the userspace backend; New("ipvs", …)
// fails with ErrUnavailable: the kernel IPVS backend is not written yet.
//
// # The userspace backend
//
//   - I/O (forward/ring): per interface, one AF_PACKET socket per worker in
//     a PACKET_FANOUT_HASH group, TPACKET_V2 by default (a frame wakes its
//     worker at once; V3 with its 1 ms block timeout on request), a
//     classic-BPF filter listing the enabled VIPs and the NAT real servers,
//     PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR, and batched sendmmsg straight
//     from the receive ring with PACKET_QDISC_BYPASS.
//   - The kernel guard (forward/guard): nftables prerouting rules for
//     exactly the service tuples (and NAT replies not addressed to the
//     director), so its kernel neither answers nor forwards them, with or
//     without the VIP configured locally; removed on Close.
//   - Codec (forward/frame): zero-allocation decode and in-place rewrite with
//     RFC 1624 incremental checksums. Frames with offloaded checksums or GSO
//     keep their virtio_net_hdr on transmit in DR and NAT (the kernel or the
//     peer completes them); TUN completes checksums and segments GSO frames
//     itself, and answers a packet that will not fit the tunnel with ICMP
//     fragmentation-needed / packet-too-big from the VIP.
//   - Tables (forward/conntab): one shared connection table and one template
//     table for all workers. Both directions of a NAT connection hash to the
//     same bucket (protocol + client address and port), which is how replies
//     find their connection although PACKET_FANOUT_HASH may give them to a
//     different worker than the client's packets.
//   - Scheduling: package sched's Service.Pick, called once per new
//     connection (worker.pick), with persistence templates (granularity,
//     port-0 services), quiescent real servers (weight 0) and a sorry server
//     used when the scheduler finds none; no server and no sorry server gets
//     the client an ICMP port unreachable, as ip_vs_leave sends.
//   - Next hops: the route and neighbour of every real server from netlink,
//     re-read every second; a missing neighbour is resolved by the kernel on
//     request (NTF_USE). NAT replies go back to the Ethernet address the
//     client's first packet came from, on the interface it came in.
//   - ICMP errors follow their connection in both directions (the quoted
//     packet is rewritten in NAT); later IP fragments follow the first by
//     (addresses, protocol, IP ID), without reassembly.
//
// # Left out, or different from IPVS
//
//   - Firewall-mark services: marks are set by netfilter after the AF_PACKET
//     tap has seen the packet, so AddService rejects them (ErrUnsupported).
//   - Outer fragmentation in TUN mode of an IPv4 packet without DF that does
//     not fit the tunnel (it is dropped and counted); GRE/GUE tunnels.
//   - Later fragments that arrive before their first fragment are dropped.
//   - Frames whose 802.1Q tag the kernel stripped (bind the VLAN device).
//   - Connection synchronisation between directors, the SIP persistence
//     engine, sysctls other than sloppy_tcp (expire_nodest_conn and
//     expire_quiescent_template keep their defaults, 0).
//   - A sorry server is used whenever the scheduler returns none (keepalived
//     uses it when the alive weight falls below quorum; with the default
//     quorum 1 and hysteresis 0 that is the same moment).
package forward

// Package forward is ulvs's data path: it forwards a virtual service's
// traffic to its real servers in DR, NAT and TUN modes, keeping connection
// and persistence tables with IPVS's semantics, on kernels without IPVS.
//
// The daemon drives a Backend: AddService/UpdateService/DeleteService,
// AddReal/UpdateReal/DeleteReal (weights, thresholds, per-real method),
// SetVIP (VRRP master or backup), SetTimeouts (lvs_timeouts), Services
// (ipvsadm --stats/--rate) and Conns (ipvsadm -Lnc), all safe while packets
// flow. NewUserspace starts the userspace backend, described below; the
// kernel IPVS backend is package forward/ipvs (ipvs.New), which programs the
// kernel's ip_vs through the same interface. ulvsd chooses one with
// --backend; both also implement SetSync and SyncStats (lvs_sync_daemon).
//
// # Counters for metrics
//
// Two optional interfaces, tested for with a type assertion, carry what a
// metrics scrape needs beyond Services; the userspace backend implements
// both, and a backend need not (kernel IPVS has neither):
//
//   - DropCounter: Drops() returns the packets dropped since start by
//     reason (malformed, bad_checksum, no_connection, no_real_server,
//     table_full, no_route, too_big, ttl_exceeded, fragment_orphan,
//     transmit_full, local_delivery, receive_overflow (a worker's
//     receive ring was full: the kernel's PACKET_STATISTICS),
//     transmit_error (the kernel refused a frame on send); Drops.Each lists
//     them with these names, in a fixed order).
//   - TableCounter: Tables() returns the entries, capacity and life
//     counters (inserted, expired, evicted, refused) of the connection and
//     template tables, shard by shard, without listing them (Conns at a
//     million entries is too heavy for a scrape).
//
// # The userspace backend
//
//   - I/O (forward/ring): per interface, one AF_PACKET socket per worker in
//     a PACKET_FANOUT_HASH group, TPACKET_V3 by default (the kernel wakes a
//     worker once per block of frames, retired when full or after 1 ms: at
//     moderate rates a fraction of V2's CPU per packet, a frame waiting up
//     to 1 ms; V2, where a frame wakes its worker at once, on request), a
//     classic-BPF filter listing the enabled VIPs and the NAT real servers,
//     PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR, and batched sendmmsg straight
//     from the receive ring with PACKET_QDISC_BYPASS. A V3 ring holds 128
//     blocks of 128 KiB (128 ms of traffic at low rates, where each block
//     is retired after 1 ms; 16 MiB at high ones), a 64 KiB GSO
//     super-frame whole. A V2 ring holds
//     Config.RingFrames frames (default 8192) sized to the interface's MTU,
//     so a worker absorbs a burst of that many frames while it is busy or
//     descheduled; a larger frame (a GRO super-frame, a jumbo frame) comes
//     whole through the socket's queue (PACKET_COPY_THRESH). Workers wait
//     in the Go runtime's poller, not in a blocking system call.
//   - AF_XDP I/O (forward/xsk; Config.IO, ulvsd --io xdp|auto): an XDP
//     program steers exactly what the guard covers into one AF_XDP socket
//     per receive queue (one worker each), so the kernel's copy of a
//     forwarded frame dies before its stack; covered frames on a queue
//     without a socket are dropped (fail closed) and the guard stays
//     installed. Frames leave in place through the socket of the
//     interface they came in on (an AF_PACKET sender for any other).
//     Native XDP only; with IOAuto an interface where it does not attach
//     runs AF_PACKET, the reason logged and reported by IO. XDP sees no
//     checksum metadata, so on a veth the peer's partial checksums are
//     completed before forwarding (frame.CompletePartial); other drivers
//     hand XDP complete checksums (virtio-net refuses XDP while the host
//     offloads them). Socket and program drops count as receive_overflow
//     and transmit_error.
//   - The XDP fast path (Config.XDPFastPath, ulvsd --xdp-fastpath): once
//     a DR or NAT TCP connection is established and has sent fastAfter client
//     packets (a short connection ends before, without a map update; UDP:
//     from its first packet — on a sync master, once the sync daemon has
//     had its first message about it, the 3rd client packet), the engine
//     puts it into the XDP program of the interface it arrives on (each
//     worker's new flows in one batch after each batch of frames), which
//     forwards its further packets itself
//     (XDP_TX with the real server's MACs; NAT: rewritten to the real
//     server, and its replies rewritten to the VIP with the TTL
//     decremented, byte for byte as frame's rewrite) when they cannot
//     change its state (TCP without SYN, FIN or RST; UDP), are unfragmented
//     and carry a complete checksum; the rest still comes here, and FIN or
//     RST either way takes the connection off. The table
//     stays the authority: a connection's time is read from the program
//     before it expires (looked at every half timeout, each time telling
//     the sync daemon's backups), and the program's per-real-server counts
//     are added to the statistics. ipvsadm -Lnc's expire column counts to
//     the next look. Only connections whose real server (and, NAT, whose
//     client) is behind the interface they arrive on take it; TUN does not
//     (yet).
//   - Next hops are resolved when a real server is added and, while its
//     neighbour is unresolved, again after 5 ms, doubling up to a second;
//     packets to it meanwhile are dropped (no_route), not queued.
//   - The kernel guard (forward/guard): nftables prerouting rules for
//     exactly the service tuples (and NAT replies not addressed to the
//     director), arriving on the tapped interfaces, so its kernel neither
//     answers nor forwards them, with or without the VIP configured
//     locally; removed on Close.
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
//     request (NTF_USE), at once (see above). NAT replies go back to the Ethernet address the
//     client's first packet came from, on the interface it came in.
//   - Local real servers (IPVS's LOCALNODE, ipvsadm's "Local"): a real
//     server whose address the kernel routes as local (loopback, or an
//     address of the director, as a sorry_server 127.0.0.1 80) gets its
//     packets in the director's own stack, whatever the configured method,
//     and RealStatus.Method says Local. The forwarder writes them,
//     unchanged and with their offload header, into a TUN device it owns
//     (Config.LocalDevice, "ulvs-local", created when the first local real
//     server appears, with reverse-path filtering off on it and gone when
//     the forwarder stops); the replies leave by the director's normal
//     routing. The packet keeps the VIP as destination, as kernel IPVS
//     delivers it, so the VIP must be an address of the director (VRRP puts
//     it there on the master; kernel IPVS needs it too): without it the
//     local real server gets nothing, counted as no_route and logged. A
//     real server port other than the service's is mapped by the guard
//     with connection-tracking DNAT on the device, which maps the replies
//     back; that is one port per service, so local real servers of one
//     service on different ports (a sorry server included) are refused with
//     a warning.
//   - ICMP errors follow their connection in both directions (the quoted
//     packet is rewritten in NAT), once their checksum verifies; IPv4
//     packets whose header checksum fails are dropped, as the kernel drops
//     them before IPVS. Later IP fragments follow the first by (addresses,
//     protocol, IP ID), without reassembly; later fragments that arrive
//     before their first wait for it in a small holding area (64 frames,
//     2 s; the oldest pushed out when full).
//   - TUN: an IPv4 packet without DF that does not fit the tunnel goes in
//     outer fragments, an outer header on each, as the kernel fragments
//     ip_vs_tunnel_xmit's output; with DF, or IPv6, the client gets ICMP
//     fragmentation-needed / packet-too-big.
//
// # Left out, or different from IPVS
//
//   - Firewall-mark services: marks are set by netfilter after the AF_PACKET
//     tap has seen the packet, so AddService rejects them (ErrUnsupported).
//   - GRE/GUE tunnels; in TUN mode a UDP GSO frame holding several
//     datagrams that does not fit the tunnel is dropped (too_big).
//   - Local delivery without the VIP on the director, and local real
//     servers of one service on different ports (see above).
//   - Frames whose 802.1Q tag the kernel stripped (bind the VLAN device).
//   - The SIP persistence engine, sysctls other than sloppy_tcp
//     (expire_nodest_conn and expire_quiescent_template keep their
//     defaults, 0: packets of a removed real server's connections are
//     dropped, their entries left to their timers; conn_reuse_mode is 1: a
//     SYN on the tuple of a connection in TIME_WAIT or CLOSE that no
//     template controls is scheduled afresh; sync_threshold is "3 50" and
//     sync_refresh_period 0).
//   - Connection synchronisation (SetSync) speaks the kernel's version 1
//     messages, with two differences: a template is sent with the
//     connection that is being synced (the kernel sends it on every packet
//     of its connections), and a partly filled message waits at most
//     100 ms (the kernel waits up to 2 s). A backup binds what it receives
//     to its own real servers; a synced entry learns the client side's next
//     hop from the client's first packet through it (NAT replies before
//     that are dropped as no_route, and retransmitted). Sequence-adjustment
//     options are skipped: ulvs has no FTP helper.
//   - A sorry server is used whenever the scheduler returns none (keepalived
//     uses it when the alive weight falls below quorum; with the default
//     quorum 1 and hysteresis 0 that is the same moment).
package forward

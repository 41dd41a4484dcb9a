// Package ipvs is the kernel IPVS backend of package forward: the same
// Backend interface as the userspace forwarder, programmed into the
// kernel's ip_vs tables over generic netlink with github.com/moby/ipvs.
// ulvsd chooses it with --backend ipvs on kernels that have IPVS; on a
// kernel without it, New fails at once with an error wrapping
// forward.ErrUnavailable, so the daemon never silently forwards nothing.
//
// What the backend maps, and how:
//
//   - Services: address, port and protocol or firewall mark; scheduler and
//     its flags (IP_VS_SVC_F_SCHED1..3); persistence_timeout as the
//     PERSISTENT flag (0x1, which moby/ipvs has no constant for) with the
//     timeout; persistence_granularity as the netmask (IPv4: the mask in
//     network byte order; IPv6: the prefix length); ops as ONEPACKET.
//   - Real servers: address, port, weight, u/l thresholds and the
//     forwarding method (the service's unless the real server sets one).
//   - sorry_server, which the kernel does not know: keepalived's rule with
//     its default quorum 1 and hysteresis 0. The sorry server is in the
//     kernel table exactly while no real server has a weight above 0, and
//     is removed when one has.
//   - SetVIP(addr, false) removes the VIP's services from the kernel (the
//     backend keeps their configuration) and SetVIP(addr, true) puts them
//     back with their real servers. Connections the kernel holds keep
//     their destinations meanwhile; counters restart.
//   - SetSync starts and stops the kernel's own sync daemon
//     (IPVS_CMD_NEW_DAEMON/DEL_DAEMON, which moby/ipvs does not expose:
//     sent with vishvananda/netlink's generic netlink messages), as
//     keepalived's lvs_sync_daemon does; a daemon is given a second to
//     settle before it is stopped (Linux 6.1 kept a stop issued right
//     after the start waiting 60 s).
//   - Services reads the kernel's table back (netlink) and merges what the
//     kernel does not store (the sorry server's configuration, whether a
//     real server's method was set explicitly); persistence-template counts
//     come from /proc/net/ip_vs_conn. Conns parses /proc/net/ip_vs_conn.
//
// Left out or different from the userspace backend:
//
//   - The sorry server is chosen by weights, not by the scheduler finding
//     nothing: real servers that are all overloaded (u_threshold) do not
//     bring it in, as with keepalived on kernel IPVS.
//   - Weights are limited to 0..65535: moby/ipvs reads them back as 16
//     bits (ipvsadm has the same limit).
//   - Counters are the kernel's 32-bit netlink counters for connections
//     and packets (they wrap), 64-bit for bytes.
//   - Tunnel types other than ipip (GUE, GRE),
//     persistence engines (SIP) and network namespaces other than the
//     caller's are not configured.
package ipvs

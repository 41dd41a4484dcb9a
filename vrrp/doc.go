// Package vrrp implements VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) the way
// keepalived 2.2.7 does, so that a ulvs node can stand in a keepalived pair:
// it owns the VIPs of its instances while MASTER and interoperates with
// keepalived on the wire (tested against Debian's keepalived in network
// namespaces).
//
// The package is in three layers:
//
//   - The codec (advert.go, ah.go): Advert.AppendBinary / ParseAdvert for
//     v2 and v3, IPv4 and IPv6, the checksum with or without the
//     pseudo-header (keepalived's v3 IPv4 default, or v3_checksum_as_v2),
//     PASS authentication and keepalived's IPsec AH (HMAC-MD5-96 over the
//     IP header with its mutable fields zeroed).
//   - The state machine (machine.go, engine.go): a pure function of
//     (state, event, now) returning actions. Timers are deadlines, nothing
//     reads the clock. Skew and Master_Down_Interval per version, preempt,
//     nopreempt, preempt_delay, the priority 255 owner, priority 0 on
//     shutdown and the fast takeover it triggers, the equal-priority tie on
//     the higher primary address, v3 backups adopting the master's interval,
//     FAULT from tracking, sync groups, keepalived's start-up rules and its
//     receive checks (TTL, version, auth, interval, address list, checksum)
//     with keepalived's counters.
//   - The I/O behind narrow interfaces: Network / Transport (raw IP protocol
//     112 or 51 sockets per interface, multicast group or unicast peers,
//     TTL 255 sent and checked) and System (addresses with dev/label/scope/
//     brd, routes and rules through rtnetlink, gratuitous ARP and
//     unsolicited NA through AF_PACKET, use_vmac macvlans, link state).
//     SystemNetwork and NewSystem are the Linux implementations; the tests'
//     MemLAN / MemHost (memnet_test.go) are in-memory fakes that record
//     what happens.
//
// Node ties them together for the daemon: New(cfg) checks a Config (ulvs's
// own types for global_defs, vrrp_script, track_file, vrrp_sync_group and
// vrrp_instance; internal/plan translates package conf's into them), Run(ctx)
// runs until ctx ends and then stops gracefully (priority 0, VIPs, routes
// and rules removed, notify_stop), Events streams state changes, Apply
// applies a reloaded Config as a diff that keeps unchanged instances'
// state, and Status snapshots states and counters. Track scripts run
// through internal/script and never block the state machine; notify
// scripts, notify FIFOs and smtp_alert mail follow keepalived's formats.
//
// Beyond the instances: static_ipaddress / static_routes / static_rules
// with track_group (static.go), no_accept and vrrp_strict's accept rule
// through an nftables table laid out as keepalived's own (firewall.go,
// nft_linux.go), vrrp_track_process from the kernel's process events or,
// where they are not available (outside the initial network namespace),
// /proc scans every 250 ms (process.go), notify_deleted,
// notify_priority_changes, mcast_dst_ip, unicast_ttl,
// unicast_fault_no_peer and promote_secondaries.
//
// Left out (keepalived has them): track_bfd, auth_hmac, use_ipvlan,
// garp_extra_if, owner_ignore_adverts, the old_unicast_checksum
// compatibility mode, keepalived's rogue-owner timer (two owners: the
// local priority drops to 254 at once, as keepalived does on the first
// conflicting advert), the nftables filtering of IGMP/MLD on VMAC
// interfaces, SNMP and D-Bus. track_file is read by polling (every 500 ms)
// where keepalived uses inotify. With the userspace forwarder, a
// no_accept master still forwards its virtual services (the forwarder
// taps frames before netfilter sees them); keepalived with kernel IPVS
// would drop them, as ulvs's --backend ipvs does.
package vrrp

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
//     SystemNetwork and NewSystem are the Linux implementations; MemLAN /
//     MemHost are in-memory fakes that record what happens.
//
// Node ties them together for the daemon: New(cfg) checks a Config (ulvs's
// own types for global_defs, vrrp_script, track_file, vrrp_sync_group and
// vrrp_instance; cmd/ulvsd translates package conf's into them), Run(ctx)
// runs until ctx ends and then stops gracefully (priority 0, VIPs, routes
// and rules removed, notify_stop), Events streams state changes, Apply
// applies a reloaded Config as a diff that keeps unchanged instances'
// state, and Status snapshots states and counters. Track scripts run
// through internal/script and never block the state machine; notify
// scripts, notify FIFOs and smtp_alert mail follow keepalived's formats.
//
// Left out (keepalived has them): vrrp_strict and the firewall rules it and
// no_accept install (ulvs behaves as accept), vrrp_track_process,
// track_bfd, auth_hmac, use_ipvlan, garp_extra_if, notify_deleted (a
// deleted instance is notified as FAULT, keepalived's behaviour without
// it), notify_priority_changes, owner_ignore_adverts, unicast_ttl and
// mcast_dst_ip, the old_unicast_checksum compatibility mode, keepalived's
// rogue-owner timer (two owners: the local priority drops to 254 at once,
// as keepalived does on the first conflicting advert), SNMP and D-Bus.
// track_file is read by polling (every 500 ms) where keepalived uses
// inotify.
package vrrp

// Command ulvslab is ulvs's teaching lab: it builds a load-balancing
// setup in network namespaces on one machine — a client, one or two
// directors running ulvsd (keepalived's VRRP and checkers, LVS in
// userspace) and real servers answering HTTP with their own names — in
// DR, NAT or TUN mode, and lets a person drive it:
//
//	ulvslab up [--mode dr|nat|tun] [--directors 1|2] [--servers N] [--config FILE]
//	ulvslab curl 30          # requests through the VIP, tallied per real server
//	ulvslab fail rs1         # stop a real server's HTTP server; fail director1: kill a director
//	ulvslab heal             # undo every fail
//	ulvslab trace            # one connection, hop by hop, with what each hop changed; pcaps
//	ulvslab status | down
//	ulvslab demo             # the whole story, checked step by step (make demo)
//
// Every node is a namespace "<prefix><name>" (default prefix "ulvslab-")
// with eth0 on a bridge in "<prefix>sw", addressed from 198.18.0.0/15. The
// processes the lab starts (ulvsd, nginx or the built-in HTTP server, the
// TUN decapsulator) run detached in their namespaces and outlive `up`; the
// state under /run/ulvslab/<prefix>/ records their pids, and `down` kills
// only those, then deletes the namespaces (which kills anything left in
// them) — also after a crash, by the namespaces' names.
//
// The trace taps the bridge's ports from the switch namespace (a mirror
// port, nothing runs in the nodes) and decodes with gopacket.
//
// Left out: IPv6 and UDP services (the lab serves HTTP over IPv4), and
// a director-local sorry server (sorry_server 127.0.0.1 is mapped onto a
// lab node until ulvsd's forwarder serves one itself). docs/lab.md is the
// guide.
package main

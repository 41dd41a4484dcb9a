// Package route announces this director's virtual addresses to the routers
// in front of it over BGP, so that N directors can be active at once behind
// ECMP. It embeds GoBGP (github.com/osrg/gobgp/v4) as the speaker: route
// starts it, applies neighbours as a difference on reload, announces and
// withdraws prefixes with the reason for each, and reports neighbour, BFD
// and announcement changes as Events.
//
// Decide is the announce policy, a pure function: announce a prefix only
// while this director can serve it (forwarder running, the first round of
// health checks done, every virtual server of the prefix at or above its
// quorum, not in maintenance, and the tracked VRRP instance MASTER when one
// is named); otherwise withdraw, saying why.
//
// route is imported only by cmd: it knows nothing of vrrp, health or
// forward, whose states reach Decide as plain values.
//
// What it leaves out: the speaker only announces. It takes no routes into
// the kernel (GoBGP does not write the FIB, and a director needs none), it
// advertises no graceful restart (a director's forwarding dies with the
// process, so it must not ask routers to keep its routes), and its BFD is
// GoBGP's: single hop, asynchronous mode, no authentication or echo. An
// IPv4 neighbour carries IPv4 prefixes and an IPv6 neighbour IPv6 ones.
package route

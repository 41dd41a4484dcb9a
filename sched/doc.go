// Package sched implements the IPVS schedulers — rr, wrr, lc, wlc, lblc,
// lblcr, dh, sh, sed, nq, fo, ovf, mh and twos — making decision for
// decision the choices of the Linux kernel's net/netfilter/ipvs/ip_vs_*.c,
// and making them in O(1) or O(log n) where the kernel scans every real
// server.
//
// # API contract
//
// The data path (package forward) calls Pick on every new connection from
// several worker goroutines at once, while one control goroutine adds,
// removes and reweights real servers:
//
//		svc, err := sched.New(sched.Config{Scheduler: "wlc"})
//		d, err := svc.AddDest(sched.DestConfig{Addr: a, Port: 80, Weight: 3})
//		dest := svc.Pick(&sched.Flow{Src: c, Dst: vip, SrcPort: cp, DstPort: 80, Proto: sched.ProtoTCP})
//		dest.Bind(sched.ConnInactive) // the conn table binds the new connection
//		dest.Activate()               // ... which became ESTABLISHED
//		dest.Deactivate()             // ... FIN_WAIT
//		dest.Unbind(sched.ConnInactive) // ... expired
//
//	  - Flow is what a scheduler sees of a new connection: addresses, ports,
//	    protocol, Inverse for ICMP errors (sh and mh then hash the destination)
//	    and a coarse clock Now for lblc and lblcr. Pick never reads the clock.
//	  - Dest is one real server. Its counters change only through Bind,
//	    Unbind, Activate and Deactivate, which keep the overload flag exactly
//	    as ip_vs_bind_dest and ip_vs_unbind_dest do (set when active+inactive
//	    reaches the upper threshold; cleared below the lower threshold, or
//	    below 3/4 of the upper one) and keep the schedulers' indexes current.
//	    A removed Dest stays valid for the connections that hold it.
//	  - Service is one virtual service: the dest list in kernel order (a new
//	    dest goes to the head, so configuration order comes out reversed),
//	    the scheduler, and its add/del/upd hooks run as the kernel runs them.
//	    AddDest, UpdateDest, RemoveDest, SetScheduler and Expire are the
//	    control side (serialized by a mutex); Pick allocates nothing, takes no
//	    lock and is safe concurrently with everything else.
//
// FlagECMP (ipvsadm -b "mh-ecmp", ulvs's own) gives mh the table of N
// active directors behind ECMP: filled in address order, so history does
// not change it, and with fallback always on (ecmp.go says how it differs
// from the kernel's). Service.Slot explains an mh decision: the slot, its
// owner, the server chosen.
//
// New rejects an unknown scheduler name (ErrUnknownScheduler) and a
// scheduler flag the scheduler does not use (ErrFlag): SCHED1 (sh-fallback,
// mh-fallback) and SCHED2 (sh-port, mh-port) apply to sh and mh only;
// SCHED3 (flag-3) to none.
//
// # How it stays exact and fast
//
// Every control change publishes a new immutable table (copy on write):
// the dest list, the sh/dh/mh lookup tables rebuilt from it, and for the
// connection-driven schedulers a tournament tree over list positions whose
// nodes hold the leftmost best dest under the kernel's own comparison
// (overhead = active<<8 + inactive; loh*w(d) > doh*w(least) in 64 bits).
// The leftmost best is what the kernel's "keep the first, replace only on
// strictly better" scan returns, so the choice is the kernel's while Pick
// reads one word. Counter changes re-compute one leaf and refresh its
// ancestors with compare-and-swap. rr and wrr keep their position in one
// word moved by compare-and-swap; wrr skips passes that cannot match.
//
// twos needs the dest that holds a random unit of the eligible weight in
// list order, which the kernel finds by walking the list: while no dest
// is overloaded a guide table over the table's weight sums finds it in a
// step or two; otherwise a Fenwick tree over the effective weights does.
//
// lblc and lblcr keep their cache in memory allocated with the service:
// entries are pushed onto lookup chains with compare-and-swap and read
// under per-entry incarnations (a seqlock each); lblcr's sets are
// persistent lists of member nodes. Only the holder of a claim unlinks
// and frees: the collector, or a Pick that evicts the least recently used
// entry from a full cache.
//
// # What is left out, or differs
//
//   - sh and dh hash with hash_32 (GOLDEN_RATIO_32 = 0x61C88647, top 8
//     bits), as the kernel has since Linux 4.x; very old kernels used
//     (x * 2654435761) & 255 and chose differently.
//   - twos is random by design: the same distribution, not the same
//     sequence.
//   - twos draws its two points from one 64-bit random number (a 32-bit
//     half each, exactly uniform) where the kernel calls
//     get_random_u32_below twice; with no server overloaded it finds them
//     through a guide table over the weight sums, else through a Fenwick
//     tree: both return the kernel's server for every random number.
//   - lblc and lblcr allocate their whole cache with the service, where
//     the kernel kmallocs an entry per new destination address (and
//     lblcr a node per set member) and has no bound: 65,536 entries, four
//     times the 16,384 the kernel's collector works towards, and for
//     lblcr 131,072 member nodes (about 5 MiB per lblc service, 8 MiB per
//     lblcr service). Up to that bound the decisions are the kernel's:
//     Expire runs the kernel's full and partial collections, the partial
//     one bucket by bucket of the kernel's 1024-bucket table. Beyond it a
//     new destination address takes the entry of the least recently used
//     one (exactly, by lastuse), and an lblcr set that needs a member when
//     all nodes are taken evicts the same way; an evicted entry leaves the
//     kernel's entry count, which otherwise keeps the kernel's quirks
//     (lblc counts a replaced entry as a new one).
//   - Pick takes no lock on the cache. Unlinking and freeing entries take
//     a claim: the collector waits for it; a Pick that finds the cache
//     full only tries it, and when another Pick or the collector holds it
//     leaves its address uncached this time, as the kernel does when
//     kmalloc fails. Two concurrent misses for the same new address both
//     add an entry; the later one then finds the earlier, marks itself
//     dead and applies its choice to the earlier one, as the kernel's
//     second ip_vs_lblc(r)_new does under its lock, so one entry remains.
//   - An entry's lastuse keeps the latest of the workers' clocks where the
//     kernel's keeps the last one written.
//   - Decisions under concurrent counter changes are as good as the
//     kernel's racy reads, not more: the exactness claims are for
//     sequential histories, which is what the tests check.
//   - Overhead arithmetic is the kernel's int: it wraps beyond 2^23 active
//     connections on one real server.
//   - No persistence, connection table or sysctl other than
//     lblc(r)_expiration: those belong to package forward.
package sched

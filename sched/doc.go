// Package sched implements the IPVS schedulers (rr, wrr, lc, wlc, sed, nq,
// fo, ovf, sh, dh, mh, lblc, lblcr, twos), making decision for decision the
// choices of the Linux kernel's net/netfilter/ipvs/ip_vs_*.c.
//
// Schedulers are pure: no I/O, no locks and no allocation in Pick. They work
// on a copy-on-write snapshot of the real servers of one virtual service.
package sched

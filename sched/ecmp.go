package sched

import (
	"cmp"
	"slices"
)

// ECMP mode (FlagECMP on mh): the table of N active directors behind an
// ECMP router. The router may send any packet of a flow to any director,
// so every director must pick the same real server for it without sharing
// state. The kernel's mh cannot promise that: ip_vs_mh_populate walks the
// real servers in list order, and the list order is the order they were
// added (newest first), so two directors that learnt the same servers in
// another order fill different tables.
//
// The table of ECMP mode is the kernel's mh table with one change and one
// default:
//
//   - Order: the real servers are taken in address order (the 16-byte
//     address, then the port) instead of list order. Everything else is the
//     kernel's: the same 4093 slots, the same SipHash-1-3 keys for each
//     server's offset and skip, the same weight turns from last_weight, the
//     same lookup hash of the source address (and port with mh-port). So
//     the kernel, given the real servers added in descending address order
//     (its list is newest first), fills exactly this table; a test checks
//     it against the kernel's recorded tables.
//   - Fallback is always on (mh-fallback): a failed real server keeps its
//     weight-0 place in the table — mh fills by last_weight, the latest
//     non-zero weight — and its flows walk on to the next available slot
//     instead of the table being rebuilt without it. Two directors that
//     disagree about one server's health therefore disagree only about that
//     server's flows; every other slot is the same on both.
//
// What it still depends on: the set of real servers with their
// last_weight. A server removed from the configuration (not failed) leaves
// the table, which is rebuilt — Maglev moves its slots and a few others. A
// server first added at weight 0 (it starts failed: keepalived's alpha)
// has a last_weight of 0 and no slots until its first non-zero weight;
// directors that saw it up and ones that never did then differ in more
// than its own slots until it comes up. ulvsd keeps failed servers at
// weight 0 in ECMP mode (inhibit_on_failure) instead of removing them.

// ecmpOrder returns dests sorted by address, then port.
func ecmpOrder(dests []*Dest) []*Dest {
	out := slices.Clone(dests)
	slices.SortFunc(out, func(a, b *Dest) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return out
}

// SlotInfo is what an mh table says about one flow: the slot its hash
// lands in, the real server that owns the slot, and the one chosen (the
// owner, or with fallback the first available one on the flow's walk; nil
// when none).
type SlotInfo struct {
	Slot   int
	Owner  *Dest
	Chosen *Dest
}

// Slot explains an mh service's decision for f: which slot of its 4093 the
// flow hashes to, who owns it and who is chosen. ok is false for other
// schedulers and for an empty table.
func (s *Service) Slot(f *Flow) (info SlotInfo, ok bool) {
	t := s.cur.Load()
	a, isMH := t.algo.(*mhAlgo)
	if !isMH || a.lookup == nil {
		return info, false
	}
	addr, port := f.hashAddr(a.port)
	info.Slot = int(mhHash(mhKey1, fold(addr), port, 0) % MHTableSize)
	info.Owner = a.lookup[info.Slot]
	info.Chosen = a.get(addr, port)
	return info, true
}

package sched

import (
	"encoding/binary"
	"net/netip"

	"github.com/dgryski/go-sip13"
)

// Table sizes of the hashing schedulers (CONFIG_IP_VS_SH_TAB_BITS,
// CONFIG_IP_VS_DH_TAB_BITS, CONFIG_IP_VS_MH_TAB_INDEX defaults).
const (
	SHTableSize = 256
	DHTableSize = 256
	MHTableSize = 4093
	shTabBits   = 8
	dhTabBits   = 8
	mhTabBits   = 12 / 2 // IP_VS_MH_TAB_BITS
)

// unavailable is sh's and mh's is_unavailable: weight <= 0 or overloaded.
func unavailable(d *Dest) bool {
	return d.weight.Load() <= 0 || d.flags.Load()&destOverload != 0
}

// shAlgo is ip_vs_sh.c: 256 buckets filled by cycling through the list,
// each dest taking max(weight, 1) consecutive buckets (weight read at
// rebuild time); a flow goes to bucket hash_32(port + fold(addr), 8).
type shAlgo struct {
	buckets  [SHTableSize]*Dest
	fallback bool
	port     bool
}

func newSH(dests []*Dest, flags uint32) *shAlgo {
	a := &shAlgo{fallback: flags&FlagSched1 != 0, port: flags&FlagSched2 != 0}
	if len(dests) == 0 {
		return a
	}
	p, count := 0, int32(0)
	for i := range a.buckets {
		d := dests[p]
		a.buckets[i] = d
		// Don't move to next dest until filling weight.
		count++
		if count >= d.weight.Load() {
			p = (p + 1) % len(dests)
			count = 0
		}
	}
	return a
}

// shHash is ip_vs_sh_hashkey.
func shHash(fold uint32, port uint16, offset uint32) uint32 {
	return (offset + hash32(uint32(port)+fold, shTabBits)) & (SHTableSize - 1)
}

func (a *shAlgo) pick(_ *Service, _ *table, f *Flow) *Dest {
	addr, port := f.hashAddr(a.port)
	fa := fold(addr)
	ihash := shHash(fa, port, 0)
	d := a.buckets[ihash]
	if d == nil {
		return nil
	}
	if !unavailable(d) {
		return d
	}
	if !a.fallback {
		return nil
	}
	// Loop around the table starting from the original hash.
	for offset := uint32(0); offset < SHTableSize; offset++ {
		roffset := (offset + ihash) % SHTableSize
		d = a.buckets[shHash(fa, port, roffset)]
		if d == nil {
			break
		}
		if !unavailable(d) {
			return d
		}
	}
	return nil
}

// dhAlgo is ip_vs_dh.c: 256 buckets, one per dest in list order, cycling;
// a flow goes to bucket hash_32(fold(daddr), 8). Weights only say whether a
// dest may be chosen.
type dhAlgo struct {
	buckets [DHTableSize]*Dest
}

func newDH(dests []*Dest) *dhAlgo {
	a := &dhAlgo{}
	if len(dests) == 0 {
		return a
	}
	for i := range a.buckets {
		a.buckets[i] = dests[i%len(dests)]
	}
	return a
}

func (a *dhAlgo) pick(_ *Service, _ *table, f *Flow) *Dest {
	d := a.buckets[hash32(fold(f.Dst), dhTabBits)]
	if d == nil || d.flags.Load()&(destAvailable|destOverload) != destAvailable || d.weight.Load() <= 0 {
		return nil
	}
	return d
}

// The hsiphash keys of ip_vs_mh.c's generate_hash_secret.
const (
	mhKey1 = 2654435761
	mhKey2 = 2654446892
)

// mhHash is ip_vs_mh_hashkey: hsiphash, which on 64-bit kernels is
// SipHash-1-3 truncated to 32 bits, of the 4 little-endian bytes of
// offset + port + fold(addr).
func mhHash(key uint64, fa uint32, port uint16, offset uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], offset+uint32(port)+fa)
	return uint32(sip13.Sum64(key, key, b[:]))
}

// mhAlgo is ip_vs_mh.c (Maglev hashing): a 4093-entry lookup table in
// which every dest fills its preferred slots in turn, weighted by
// last_weight.
type mhAlgo struct {
	lookup   []*Dest // nil: no dest has a non-zero last weight
	fallback bool
	port     bool
}

// newMH runs ip_vs_mh_dest_changed over dests. With more dests than table
// slots the kernel's reassign fails and leaves the old table in place, so
// does this (old may be nil).
func newMH(dests []*Dest, flags uint32, old *mhAlgo) *mhAlgo {
	a := &mhAlgo{fallback: flags&(FlagSched1|FlagECMP) != 0, port: flags&FlagSched2 != 0}
	if flags&FlagECMP != 0 {
		dests = ecmpOrder(dests)
	}
	if len(dests) > MHTableSize {
		if old != nil {
			a.lookup = old.lookup
		}
		return a
	}
	// ip_vs_mh_gcd_weight and ip_vs_mh_shift_weight over last_weight.
	var g, mx int32
	for _, d := range dests {
		w := d.lastWeight.Load()
		if w > 0 {
			if g > 0 {
				g = int32(gcd(int64(w), int64(g)))
			} else {
				g = w
			}
		}
		if w > mx {
			mx = w
		}
	}
	if g < 1 {
		return a // ip_vs_mh_reset: every slot empty
	}
	shift := 0
	if s := bitsLen32(uint32(mx/g)) - mhTabBits; s > 0 {
		shift = s
	}
	type setup struct {
		skip, perm uint32
		turns      int32
	}
	ds := make([]setup, len(dests))
	for i, d := range dests {
		fa := fold(d.Addr)
		ds[i].perm = mhHash(mhKey1, fa, d.Port, 0) % MHTableSize
		ds[i].skip = mhHash(mhKey2, fa, d.Port, 0)%(MHTableSize-1) + 1
		lw := d.lastWeight.Load()
		ds[i].turns = (lw / g) >> shift
		if ds[i].turns == 0 && lw != 0 {
			ds[i].turns = 1
		}
	}
	a.lookup = make([]*Dest, MHTableSize)
	var taken [(MHTableSize + 63) / 64]uint64
	n, dtCount := 0, int32(0)
	for n < MHTableSize {
		for i := 0; i < len(dests); {
			if ds[i].turns < 1 {
				i++ // ignore added server with zero weight
				continue
			}
			c := ds[i].perm
			for taken[c/64]&(1<<(c%64)) != 0 {
				ds[i].perm += ds[i].skip
				if ds[i].perm >= MHTableSize {
					ds[i].perm -= MHTableSize
				}
				c = ds[i].perm
			}
			taken[c/64] |= 1 << (c % 64)
			a.lookup[c] = dests[i]
			if n++; n == MHTableSize {
				return a
			}
			if dtCount++; dtCount >= ds[i].turns {
				dtCount = 0
				i++
			}
		}
	}
	return a
}

// bitsLen32 is the kernel's fls(): the 1-based index of the highest set bit.
func bitsLen32(x uint32) int {
	n := 0
	for x != 0 {
		x >>= 1
		n++
	}
	return n
}

func (a *mhAlgo) pick(_ *Service, _ *table, f *Flow) *Dest {
	if a.lookup == nil {
		return nil
	}
	addr, port := f.hashAddr(a.port)
	return a.get(addr, port)
}

func (a *mhAlgo) get(addr netip.Addr, port uint16) *Dest {
	fa := fold(addr)
	ihash := mhHash(mhKey1, fa, port, 0) % MHTableSize
	d := a.lookup[ihash]
	if d == nil {
		return nil
	}
	if !unavailable(d) {
		return d
	}
	if !a.fallback {
		return nil
	}
	// Loop around the table starting from ihash to find a new dest.
	for offset := uint32(0); offset < MHTableSize; offset++ {
		roffset := (offset + ihash) % MHTableSize
		d = a.lookup[mhHash(mhKey1, fa, port, roffset)%MHTableSize]
		if d == nil {
			break
		}
		if !unavailable(d) {
			return d
		}
	}
	return nil
}

// buildSH is sh's row of kinds.
func buildSH(s *Service, t, _ *table, _ change) { t.algo = newSH(t.dests, s.cfg.Flags) }

// buildDH is dh's row of kinds.
func buildDH(_ *Service, t, _ *table, _ change) { t.algo = newDH(t.dests) }

// buildMH is mh's row of kinds: the new table starts from the
// previous one's lookup table, as the kernel's mh does on a change.
func buildMH(s *Service, t, prev *table, c change) {
	var old *mhAlgo
	if prev != nil && c.op != opInit {
		old, _ = prev.algo.(*mhAlgo)
	}
	t.algo = newMH(t.dests, s.cfg.Flags, old)
}

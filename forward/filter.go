package forward

import (
	"encoding/binary"
	"slices"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/ring"
)

// Classic BPF opcodes used by the filter.
const (
	bpfLdH  = 0x28 // ldh [k]
	bpfLdW  = 0x20 // ld [k]
	bpfJeq  = 0x15 // jeq #k
	bpfRet  = 0x06 // ret #k
	bpfJmp  = 0x05 // ja k
	bpfKeep = 0x40000
	// maxFilterAddrs bounds the addresses the filter lists; beyond it the
	// filter passes all IP traffic and the workers sort it out.
	maxFilterAddrs = 24
)

// buildFilter returns a classic-BPF program that accepts IPv4 and IPv6
// frames to an enabled VIP, or from a NAT real server (their replies), and
// nothing else, so only virtual-service traffic reaches user space.
func buildFilter(s *snapshot) []ring.Instruction {
	var dst4, dst6, src4, src6 [][16]byte
	for a := range s.vips {
		if conntab.Is4(&a) {
			dst4 = append(dst4, a)
		} else {
			dst6 = append(dst6, a)
		}
	}
	seen := map[[16]byte]bool{}
	for k := range s.natReals {
		if seen[k.addr] {
			continue
		}
		seen[k.addr] = true
		if conntab.Is4(&k.addr) {
			src4 = append(src4, k.addr)
		} else {
			src6 = append(src6, k.addr)
		}
	}
	for _, l := range [][][16]byte{dst4, dst6, src4, src6} {
		slices.SortFunc(l, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	}
	if len(dst4)+len(dst6)+len(src4)+len(src6) > maxFilterAddrs {
		return []ring.Instruction{
			{Op: bpfLdH, K: 12},
			{Op: bpfJeq, Jt: 2, K: 0x0800},
			{Op: bpfJeq, Jt: 1, K: 0x86dd},
			{Op: bpfRet, K: 0},
			{Op: bpfRet, K: bpfKeep},
		}
	}
	// Layout: ethertype dispatch, the IPv4 block, the IPv6 block, then
	// "drop" and "accept". Blocks jump forward to accept on a match.
	var v4, v6 []ring.Instruction
	// IPv4 block: one word per address.
	addWords := func(prog *[]ring.Instruction, off uint32, addrs [][16]byte, words int) {
		for _, a := range addrs {
			for w := range words {
				*prog = append(*prog, ring.Instruction{Op: bpfLdW, K: off + uint32(4*w)})
				var v uint32
				if words == 1 {
					v = binary.BigEndian.Uint32(a[12:16])
				} else {
					v = binary.BigEndian.Uint32(a[4*w:])
				}
				// Jt/Jf are patched below: a mismatch skips the rest of
				// this address, a full match jumps to accept.
				*prog = append(*prog, ring.Instruction{Op: bpfJeq, K: v, Jf: 0xff, Jt: 0xfe})
			}
		}
	}
	addWords(&v4, 14+16, dst4, 1)
	addWords(&v4, 14+12, src4, 1)
	addWords(&v6, 14+24, dst6, 4)
	addWords(&v6, 14+8, src6, 4)
	prog := []ring.Instruction{{Op: bpfLdH, K: 12}}
	// jeq IPv4 → v4 block (next), else jeq IPv6 → v6 block, else drop.
	prog = append(prog, ring.Instruction{Op: bpfJeq, K: 0x0800, Jt: 1, Jf: 0})
	prog = append(prog, ring.Instruction{Op: bpfJeq, K: 0x86dd, Jt: 1, Jf: 0})
	prog = append(prog, ring.Instruction{Op: bpfJmp, K: 0}) // → drop, patched
	v4start := len(prog)
	prog = append(prog, v4...)
	prog = append(prog, ring.Instruction{Op: bpfJmp, K: 0}) // v4 fell through → drop
	v6start := len(prog)
	prog = append(prog, v6...)
	drop := len(prog)
	prog = append(prog, ring.Instruction{Op: bpfRet, K: 0}, ring.Instruction{Op: bpfRet, K: bpfKeep})
	accept := drop + 1
	// Patch the dispatch: IPv4 goes to v4start (the next instruction after
	// the two jeqs and the ja); IPv6 to v6start.
	prog[1].Jt = uint8(v4start - 2)
	prog[2].Jt = uint8(v6start - 3)
	prog[3].K = uint32(drop - 4)
	prog[v6start-1].K = uint32(drop - v6start)
	// Patch each address's compare chain.
	patch := func(start, end, words int) {
		for i := start; i < end; i += 2 * words {
			for w := range words {
				j := i + 2*w + 1
				next := i + 2*words // first instruction of the next address
				prog[j].Jf = uint8(next - j - 1)
				if w == words-1 {
					prog[j].Jt = uint8(accept - j - 1)
				} else {
					prog[j].Jt = 0
				}
			}
		}
	}
	patch(v4start, v4start+len(v4), 1)
	patch(v6start, v6start+len(v6), 4)
	return prog
}

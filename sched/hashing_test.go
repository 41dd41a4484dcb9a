package sched

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected values below come from testdata/kernel_hash.py, an
// independent transliteration of ip_vs_sh.c, ip_vs_dh.c, ip_vs_mh.c and
// lib/siphash.c.

// TestSH: the table of A (3), B (2), C (1) added in that order is, from
// bucket 0, C BB AAA repeated; clients 198.18.128.1..5 hash to buckets
// 255, 97, 195, 37, 135 (hash_32(fold, 8)), that is A B A B A.
func TestSH(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "sh", 0, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
	a := s.cur.Load().algo.(*shAlgo)
	var got string
	for i := range 12 {
		got += name(a.buckets[i])
	}
	if diff := cmp.Diff("CBBAAACBBAAA", got); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	for i, want := range []uint32{255, 97, 195, 37, 135} {
		if got := shHash(fold(clientFlow(i+1).Src), 0, 0); got != want {
			t.Errorf("client %d: bucket %d, want %d", i+1, got, want)
		}
	}
	if diff := cmp.Diff("ABABA", picks(s, 5)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// sh-port: 198.18.128.1 port 40000 hashes to bucket 163: B.
	sp := newSvc(t, "sh", FlagSched2, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
	if got := name(sp.Pick(clientFlow(1))); got != "B" {
		t.Errorf("sh-port: Pick = %s, want B", got)
	}
	// Without fallback an unavailable bucket owner means no dest. With
	// sh-fallback the first retry (offset 0, roffset = ihash = 255) looks at
	// bucket (255 + 255) & 255 = 254, which is B.
	for _, tc := range []struct {
		flags uint32
		want  string
	}{{0, "-"}, {FlagSched1, "B"}} {
		s := newSvc(t, "sh", tc.flags, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
		if _, err := s.UpdateDest(DestConfig{Addr: rsAddr("A"), Port: 80, Weight: 0}); err != nil {
			t.Fatal(err)
		}
		// The table is rebuilt with A taking one bucket: C BB A repeated;
		// client 1 (bucket 255 = 255 mod 4 = 3) still lands on A.
		if got := name(s.Pick(clientFlow(1))); got != tc.want {
			t.Errorf("flags %#x: Pick = %s, want %s", tc.flags, got, tc.want)
		}
	}
}

// TestSHIPv6 checks the IPv6 fold (XOR of the four words).
func TestSHIPv6(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr("2001:db8::1:2")
	// The words are 0x20010db8, 0, 0 and 0x00010002.
	want := uint32(0x20010db8 ^ 0x00010002)
	if got := fold(a); got != want {
		t.Fatalf("fold = %#x, want %#x", got, want)
	}
}

// TestDH: one bucket per dest, cycling C B A; 198.18.0.10, .11 and
// 10.0.0.1 hash to buckets 44, 142, 39: A, B, C.
func TestDH(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "dh", 0, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
	var got string
	for _, dst := range []string{"198.18.0.10", "198.18.0.11", "10.0.0.1"} {
		got += name(s.Pick(&Flow{Src: clientFlow(1).Src, Dst: netip.MustParseAddr(dst), Proto: ProtoTCP}))
	}
	if diff := cmp.Diff("ABC", got); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// A removed dest is never returned; weight 0 is unavailable.
	if _, err := s.UpdateDest(DestConfig{Addr: rsAddr("A"), Port: 80, Weight: 0}); err != nil {
		t.Fatal(err)
	}
	if got := s.Pick(&Flow{Dst: netip.MustParseAddr("198.18.0.10")}); got != nil {
		t.Errorf("weight 0: Pick = %v, want nil", got)
	}
}

// TestMH: the Maglev table of A (3), B (2), C (1), its first 32 slots,
// slot counts and the lookups of clients 198.18.128.1..10.
func TestMH(t *testing.T) {
	t.Parallel()
	if h1, h2 := mhHash(mhKey1, fold(rsAddr("A")), 80, 0), mhHash(mhKey2, fold(rsAddr("A")), 80, 0); h1 != 637243566 || h2 != 3825926100 {
		t.Fatalf("hsiphash = %d, %d; want 637243566, 3825926100", h1, h2)
	}
	s := newSvc(t, "mh", 0, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
	a := s.cur.Load().algo.(*mhAlgo)
	var first string
	counts := map[string]int{}
	for i, d := range a.lookup {
		if i < 32 {
			first += name(d)
		}
		counts[name(d)]++
	}
	if diff := cmp.Diff("AAABAAAAAABAACACACAAAAAABABAAAAC", first); diff != "" {
		t.Errorf("first slots (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"A": 2046, "B": 1364, "C": 683}, counts); diff != "" {
		t.Errorf("slot counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("ABCAAAABBC", picks(s, 10)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// All last weights zero: empty table.
	z := newSvc(t, "mh", 0, rs{"A", 0, 0, 0})
	if got := z.Pick(clientFlow(1)); got != nil {
		t.Errorf("zero weights: Pick = %v, want nil", got)
	}
	// A quiesced dest keeps its slots (last_weight), so without fallback
	// its flows get nothing, and with mh-fallback another dest.
	for _, tc := range []struct {
		flags uint32
		nil   bool
	}{{0, true}, {FlagSched1, false}} {
		s := newSvc(t, "mh", tc.flags, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0})
		if _, err := s.UpdateDest(DestConfig{Addr: rsAddr("A"), Port: 80, Weight: 0}); err != nil {
			t.Fatal(err)
		}
		if got := s.Pick(clientFlow(1)); (got == nil) != tc.nil || got == dest(t, s, "A") {
			t.Errorf("flags %#x: Pick = %v", tc.flags, got)
		}
	}
}

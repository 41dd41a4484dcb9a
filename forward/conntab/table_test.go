package conntab

import (
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func v4(a, b, c, d byte) [16]byte {
	var x [16]byte
	Put16(&x, []byte{a, b, c, d})
	return x
}

// insert adds a connection client:cport → vip:80 → rs:8080 expiring at exp.
func insert(t testing.TB, tb *Table, client [16]byte, cport uint16, exp uint32) (*Entry, Ref) {
	h := tb.Hash(6, &client, cport)
	s := tb.Shard(h)
	s.Lock()
	defer s.Unlock()
	e, r := s.InsertLocked(h, exp)
	if e == nil {
		return nil, 0
	}
	e.Proto, e.CAddr, e.CPort = 6, client, cport
	e.VAddr, e.VPort = v4(198, 18, 0, 100), 80
	e.DAddr, e.DPort = v4(198, 18, 0, 11), 8080
	return e, r
}

func find(tb *Table, k Key) bool {
	h := tb.Hash(k.Proto, &k.CAddr, k.CPort)
	s := tb.Shard(h)
	s.Lock()
	defer s.Unlock()
	return s.FindLocked(h, &k) != nil
}

func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(Entry{}); n > 104 {
		t.Fatalf("Entry is %d bytes; the table promises about 100", n)
	}
}

func TestBothDirectionsFindTheConnection(t *testing.T) {
	t.Parallel()
	tb := New(Config{Max: 1000, Shards: 4})
	c := v4(198, 18, 1, 1)
	insert(t, tb, c, 40000, 100)
	cases := []struct {
		name string
		k    Key
		want bool
	}{
		{"in", Key{Proto: 6, CAddr: c, CPort: 40000, Addr: v4(198, 18, 0, 100), Port: 80, Direction: In}, true},
		{"out", Key{Proto: 6, CAddr: c, CPort: 40000, Addr: v4(198, 18, 0, 11), Port: 8080, Direction: Out}, true},
		{"in wrong vport", Key{Proto: 6, CAddr: c, CPort: 40000, Addr: v4(198, 18, 0, 100), Port: 81}, false},
		{"out rs as vip", Key{Proto: 6, CAddr: c, CPort: 40000, Addr: v4(198, 18, 0, 100), Port: 80, Direction: Out}, false},
		{"other cport", Key{Proto: 6, CAddr: c, CPort: 40001, Addr: v4(198, 18, 0, 100), Port: 80}, false},
		{"udp", Key{Proto: 17, CAddr: c, CPort: 40000, Addr: v4(198, 18, 0, 100), Port: 80}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := find(tb, tc.k); got != tc.want {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	var expired []uint16
	tb := New(Config{Max: 1000, Shards: 2, OnExpire: func(e *Entry) { expired = append(expired, e.CPort) }})
	tb.Expire(0)
	c := v4(198, 18, 1, 2)
	insert(t, tb, c, 1, 10)
	e2, _ := insert(t, tb, c, 2, 20)
	insert(t, tb, c, 3, 5000) // several turns of the wheel away
	tb.Expire(9)
	if len(expired) != 0 {
		t.Fatalf("expired early: %v", expired)
	}
	// A packet moves conn 2's expiry; the lazy wheel must honour it.
	s := tb.Shard(tb.Hash(6, &c, 2))
	s.Lock()
	e2.Expires = 700
	s.Unlock()
	tb.Expire(10)
	tb.Expire(600)
	if diff := cmp.Diff([]uint16{1}, expired); diff != "" {
		t.Fatalf("after tick 600 (-want +got):\n%s", diff)
	}
	tb.Expire(1000)
	tb.Expire(5000)
	if diff := cmp.Diff([]uint16{1, 2, 3}, expired); diff != "" {
		t.Fatalf("after tick 5000 (-want +got):\n%s", diff)
	}
	if n := tb.Len(); n != 0 {
		t.Fatalf("%d entries left", n)
	}
}

func TestTemplateOutlivesItsConnections(t *testing.T) {
	t.Parallel()
	tb := New(Config{Max: 100, Shards: 1})
	tb.Expire(0)
	c := v4(198, 18, 1, 0)
	h := tb.Hash(0, &c, 0)
	s := tb.Shard(h)
	s.Lock()
	tpl, ref := s.InsertLocked(h, 10)
	tpl.Flags, tpl.CAddr, tpl.Timeout = FlagTemplate, c, 10
	s.Unlock()
	tb.Hold(ref)
	tb.Expire(10)
	if tb.Len() != 1 {
		t.Fatal("template controlling a connection expired")
	}
	tb.Release(ref)
	tb.Expire(19)
	if tb.Len() != 1 {
		t.Fatal("re-armed template expired before its timeout")
	}
	tb.Expire(20)
	if tb.Len() != 0 {
		t.Fatal("template without connections did not expire")
	}
}

func TestBoundedWithEarlyDrop(t *testing.T) {
	t.Parallel()
	tb := New(Config{Max: 64, Shards: 1})
	c := v4(198, 18, 2, 1)
	// Fill with established connections: nothing may be evicted.
	for p := range uint16(64) {
		e, _ := insert(t, tb, c, p+1, 100)
		if e == nil {
			t.Fatalf("insert %d refused below the bound", p)
		}
		e.State = TCPEstablished
	}
	if e, _ := insert(t, tb, c, 1000, 100); e != nil {
		t.Fatal("insert beyond the bound of established connections accepted")
	}
	// Make every connection evictable; the next insert evicts one.
	tb.Walk(func(e *Entry) bool { e.State = TCPSynRecv; return true })
	if e, _ := insert(t, tb, c, 1001, 100); e == nil {
		t.Fatal("insert with evictable entries refused")
	}
	st := tb.Stats()
	if st.Entries != 64 || st.Refused != 1 || st.Evicted != 1 || st.Inserted != 65 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEarlyDropTakesTheOldest: when the table is full, the evicted entry is
// the one closest to expiry among the buckets the scan looks at, so a real
// client's new half-open connection (the latest to expire) is not taken
// before the flood's older ones.
func TestEarlyDropTakesTheOldest(t *testing.T) {
	t.Parallel()
	for round := range 50 {
		tb := New(Config{Max: 32, Shards: 1})
		c := v4(198, 18, 2, byte(round))
		keys := map[uint16]uint32{} // port → expiry
		for p := range uint16(32) {
			exp := 100 + uint32(p)*7%32 // expiries in shuffled order
			e, _ := insert(t, tb, c, p+1, exp)
			e.State = TCPSynRecv
			keys[p+1] = exp
		}
		newPort := uint16(1000)
		h := tb.Hash(6, &c, newPort)
		if e, _ := insert(t, tb, c, newPort, 500); e == nil {
			t.Fatal("insert refused with evictable entries")
		}
		s := tb.Shard(h)
		scanned := func(port uint16) bool {
			b := tb.Hash(6, &c, port) & s.bmask
			for k := range uint64(earlyDropScan) {
				if (h+k)&s.bmask == b {
					return true
				}
			}
			return false
		}
		var gone []uint16
		for p, exp := range keys {
			if !find(tb, Key{Proto: 6, CAddr: c, CPort: p, Addr: v4(198, 18, 0, 100), Port: 80}) {
				gone = append(gone, p)
				for q, qexp := range keys {
					if q != p && scanned(q) && qexp < exp {
						t.Fatalf("round %d: evicted port %d (expires %d) while port %d in a scanned bucket expires at %d",
							round, p, exp, q, qexp)
					}
				}
			}
		}
		if len(gone) != 1 {
			t.Fatalf("round %d: %d entries evicted, want 1", round, len(gone))
		}
	}
}

func TestUnhashedTemplateKeepsItsTimer(t *testing.T) {
	t.Parallel()
	tb := New(Config{Max: 100, Shards: 1})
	tb.Expire(0)
	c := v4(198, 18, 3, 0)
	e, _ := insert(t, tb, c, 7, 50)
	h := tb.Hash(6, &c, 7)
	s := tb.Shard(h)
	s.Lock()
	s.UnhashLocked(e, h)
	s.Unlock()
	if find(tb, Key{Proto: 6, CAddr: c, CPort: 7, Addr: v4(198, 18, 0, 100), Port: 80}) {
		t.Fatal("unhashed entry still found")
	}
	if tb.Len() != 1 {
		t.Fatal("unhashed entry freed before its timer")
	}
	tb.Expire(50)
	if tb.Len() != 0 {
		t.Fatal("unhashed entry not freed by its timer")
	}
}

func TestFlush(t *testing.T) {
	t.Parallel()
	n := 0
	tb := New(Config{Max: 1000, Shards: 8, OnExpire: func(*Entry) { n++ }})
	for p := range uint16(100) {
		insert(t, tb, v4(198, 18, 4, byte(p)), p, uint32(p))
	}
	tb.Flush()
	if n != 100 || tb.Len() != 0 {
		t.Fatalf("flush reported %d, left %d", n, tb.Len())
	}
}

func TestTCPTransitions(t *testing.T) {
	t.Parallel()
	const syn, fin, ack, rst = 0x02, 0x01, 0x10, 0x04
	cases := []struct {
		table  TCPTable
		from   uint8
		flags  uint8
		want   uint8
		reason string
	}{
		{Input, TCPNone, syn, TCPSynRecv, "client SYN"},
		{Input, TCPSynRecv, ack, TCPEstablished, "handshake done"},
		{Output, TCPSynRecv, syn | ack, TCPSynRecv, "SYN+ACK from the server: syn row"},
		{Input, TCPEstablished, fin | ack, TCPCloseWait, "client FIN (input table)"},
		{InputOnly, TCPEstablished, fin | ack, TCPFinWait, "client FIN (input-only table)"},
		{Output, TCPEstablished, fin | ack, TCPFinWait, "server FIN"},
		{Input, TCPFinWait, ack, TCPFinWait, "ack in FIN_WAIT"},
		{Input, TCPEstablished, rst | ack, TCPClose, "rst wins over ack"},
		{InputOnly, TCPSynAck, rst, TCPClose, "input-only rst in SYNACK"},
		{Input, TCPSynAck, rst, TCPSynRecv, "input rst in SYNACK"},
		{Input, TCPEstablished, 0, TCPEstablished, "no flags"},
		{Input, TCPTimeWait, syn, TCPSynRecv, "reuse after TIME_WAIT"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			if got := TCPTransition(c.table, c.from, c.flags); got != c.want {
				t.Fatalf("%s + %#x = %s, want %s", StateName(6, c.from), c.flags, StateName(6, got), StateName(6, c.want))
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	to := DefaultTimeouts()
	for _, c := range []struct {
		proto, state uint8
		secs         uint32
	}{{6, TCPEstablished, 900}, {6, TCPSynRecv, 60}, {6, TCPClose, 10}, {6, TCPFinWait, 120},
		{17, UDPNormal, 300}, {132, SCTPEstablished, 900}, {132, SCTPInit1, 4}} {
		if got := to.Ticks(c.proto, c.state); got != c.secs*TicksPerSecond {
			t.Errorf("%d/%s: %d ticks, want %d s", c.proto, StateName(c.proto, c.state), got, c.secs)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	tb := New(Config{Max: 1 << 12, Shards: 4})
	c := v4(198, 18, 5, 1)
	for p := range uint16(1000) {
		insert(t, tb, c, p, 100)
	}
	k := Key{Proto: 6, CAddr: c, CPort: 500, Addr: v4(198, 18, 0, 100), Port: 80}
	allocs := testing.AllocsPerRun(1000, func() {
		h := tb.Hash(k.Proto, &k.CAddr, k.CPort)
		s := tb.Shard(h)
		s.Lock()
		e := s.FindLocked(h, &k)
		e.State = TCPTransition(Input, e.State, 0x10)
		e.Expires = 200
		s.Unlock()
	})
	if allocs != 0 {
		t.Fatalf("lookup allocated %v times", allocs)
	}
}

// TestConcurrent runs inserts, lookups from both directions and expiry at
// once; run with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	var freed atomic.Int64
	tb := New(Config{Max: 1 << 14, Shards: 16, OnExpire: func(*Entry) { freed.Add(1) }})
	var wg sync.WaitGroup
	var now atomic.Uint32
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4000 {
				c := v4(198, 18, byte(w), byte(i))
				e, _ := insert(t, tb, c, uint16(i), now.Load()+uint32(i%50))
				if e == nil {
					continue
				}
				find(tb, Key{Proto: 6, CAddr: c, CPort: uint16(i), Addr: v4(198, 18, 0, 11), Port: 8080, Direction: Out})
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			tb.Expire(now.Add(1))
			runtime.Gosched()
		}
	}()
	wg.Wait()
	tb.Expire(now.Load() + 1000)
	st := tb.Stats()
	if st.Entries != 0 || int64(st.Inserted) != freed.Load() {
		t.Fatalf("stats %+v, freed %d", st, freed.Load())
	}
}

func BenchmarkInsertLookup1M(b *testing.B) {
	const n = 1 << 20
	keys := make([][16]byte, n)
	for i := range keys {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], 0xc6120000+uint32(i))
		Put16(&keys[i], a[:])
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb := New(Config{Max: n, Shards: 64})
	for i := range keys {
		if e, _ := insert(b, tb, keys[i], uint16(i), 1000); e == nil {
			b.Fatalf("insert %d refused", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := float64(after.HeapAlloc-before.HeapAlloc) / n
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := Key{Proto: 6, CAddr: keys[i&(n-1)], CPort: uint16(i & (n - 1)), Addr: v4(198, 18, 0, 100), Port: 80}
			if !find(tb, k) {
				b.Fatal("miss")
			}
			i++
		}
		b.ReportMetric(perConn, "B/conn")
	})
	b.Run("delete-insert", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			j := i & (n - 1)
			k := Key{Proto: 6, CAddr: keys[j], CPort: uint16(j), Addr: v4(198, 18, 0, 100), Port: 80}
			h := tb.Hash(6, &k.CAddr, k.CPort)
			s := tb.Shard(h)
			s.Lock()
			s.RemoveLocked(s.FindLocked(h, &k))
			e, _ := s.InsertLocked(h, 1000)
			e.Proto, e.CAddr, e.CPort = 6, k.CAddr, k.CPort
			e.VAddr, e.VPort = k.Addr, k.Port
			s.Unlock()
			i++
		}
	})
	runtime.KeepAlive(tb)
}

// TestEarlyDropBeyondAnEmptyWindow: a full table whose entries all lie
// outside the buckets a new key's scan starts with still makes room for it
// (before, such a key was refused every time it came back: a client's
// retransmitted SYNs hash to the same buckets).
func TestEarlyDropBeyondAnEmptyWindow(t *testing.T) {
	t.Parallel()
	tb := New(Config{Max: 64, Shards: 1})
	s := &tb.shards[0]
	if s.bmask != 63 {
		t.Fatalf("%d buckets, the test wants 64", s.bmask+1)
	}
	c := v4(198, 18, 3, 1)
	bucket := func(port uint16) uint64 { return tb.Hash(6, &c, port) & s.bmask }
	// 64 half-open connections, all in buckets 0–31.
	port := uint16(1)
	for n := 0; n < 64; port++ {
		if bucket(port) >= 32 {
			continue
		}
		e, _ := insert(t, tb, c, port, 100+uint32(n))
		if e == nil {
			t.Fatalf("insert %d refused below the bound", n)
		}
		e.State = TCPSynRecv
		n++
	}
	// New clients whose windows lie in the empty half, far enough apart
	// that neither scans the other's bucket.
	var fresh []uint16
	for ; len(fresh) < 2; port++ {
		b := bucket(port)
		if len(fresh) == 0 && b >= 32 && b <= 64-2*earlyDropScan ||
			len(fresh) == 1 && b >= bucket(fresh[0])+earlyDropScan && b <= 64-earlyDropScan {
			fresh = append(fresh, port)
		}
	}
	for _, p := range fresh {
		e, _ := insert(t, tb, c, p, 500)
		if e == nil {
			t.Fatalf("port %d (bucket %d): insert refused although 64 entries may be evicted", p, bucket(p))
		}
		e.State = TCPSynRecv
		if !find(tb, Key{Proto: 6, CAddr: c, CPort: p, Addr: v4(198, 18, 0, 100), Port: 80}) {
			t.Fatalf("port %d inserted but not found", p)
		}
	}
	st := tb.Stats()
	if st.Entries != 64 || st.Evicted != 2 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRefreshKeepsFastConnections: a connection marked FlagFast whose time
// has come asks Refresh; it lives on only while Refresh moves its time.
func TestRefreshKeepsFastConnections(t *testing.T) {
	t.Parallel()
	var expired []uint16
	live := map[uint16]bool{1: true}
	var asked []uint16
	tb := New(Config{Max: 100, Shards: 1, OnExpire: func(e *Entry) { expired = append(expired, e.CPort) },
		Refresh: func(e *Entry, now uint32) bool {
			asked = append(asked, e.CPort)
			if live[e.CPort] {
				e.Expires = now + 10
				return true
			}
			return false
		}})
	tb.Expire(0)
	c := v4(198, 18, 1, 3)
	for port := uint16(1); port <= 3; port++ {
		e, _ := insert(t, tb, c, port, 10)
		if port < 3 {
			e.Flags |= FlagFast // 3 is a plain connection: never asked
		}
	}
	tb.Expire(10)
	if diff := cmp.Diff([]uint16{2, 3}, sorted(expired)); diff != "" {
		t.Fatalf("at tick 10 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint16{1, 2}, sorted(asked)); diff != "" {
		t.Fatalf("Refresh asked about (-want +got):\n%s", diff)
	}
	tb.Expire(19)
	if len(expired) != 2 {
		t.Fatalf("refreshed connection expired early: %v", expired)
	}
	delete(live, 1)
	tb.Expire(20)
	if diff := cmp.Diff([]uint16{1, 2, 3}, sorted(expired)); diff != "" {
		t.Fatalf("at tick 20 (-want +got):\n%s", diff)
	}
}

func sorted(s []uint16) []uint16 {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

package forward

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward/conntab"
)

// fakeFast records what the engine asks of the fast path.
type fakeFast struct {
	log  []string
	age  map[uint16]time.Duration // by client port; absent: not held
	full bool                     // add refuses
}

func (f *fakeFast) add(_ int, e *conntab.Entry, r *real) bool {
	if f.full {
		f.log = append(f.log, "add refused")
		return false
	}
	f.log = append(f.log, "add "+r.cfg.Addr.String())
	f.age[e.CPort] = 0
	return true
}

func (f *fakeFast) del(e *conntab.Entry) {
	f.log = append(f.log, "del")
	delete(f.age, e.CPort)
}

func (f *fakeFast) commit(int) {}

func (f *fakeFast) retire(r *real) { f.log = append(f.log, "retire "+r.cfg.Addr.String()) }

func (f *fakeFast) seen(e *conntab.Entry) (time.Duration, bool) {
	a, ok := f.age[e.CPort]
	return a, ok
}

// TestFastPathStates: which packets put a connection on the fast path and
// take it off (a state list), and how its time is read when it comes.
func TestFastPathStates(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	// est is a connection's client packets after its SYN up to the one that
	// puts it on the fast path (fastAfter in all).
	est := strings.Repeat("A", fastAfter-1)
	for _, tc := range []struct {
		name    string
		method  Method
		packets string // one TCP flag set per packet: S, A or F; lower case from the real server
		full    bool
		sync    bool // a sync master
		want    []string
	}{
		// Established, its 8th client packet (fastAfter) puts it on; FIN
		// takes it off.
		{"DR", DR, "S" + est + "F", false, false, []string{"add 198.18.0.11", "del"}},
		{"DR, still open", DR, "S" + est, false, false, []string{"add 198.18.0.11"}},
		// A short connection ends on the socket path: no map updates.
		{"DR short", DR, "SAAAF", false, false, nil},
		{"DR handshake only", DR, "SA", false, false, nil},
		{"DR reset in the handshake", DR, "SF", false, false, nil},
		// A sync master waits for the sync daemon's first message too (the
		// 3rd packet), which fastAfter already covers for TCP.
		{"DR, sync master", DR, "S" + est + "F", false, true, []string{"add 198.18.0.11", "del"}},
		// NAT: the real server's packets do not count; a FIN either way
		// takes it off.
		{"NAT", NAT, "Ss" + est + "F", false, false, []string{"add 198.18.0.11", "del"}},
		{"NAT, the real server closes", NAT, "Ss" + est + "f", false, false, []string{"add 198.18.0.11", "del"}},
		{"NAT short", NAT, "SsAAAF", false, false, nil},
		{"NAT, sync master", NAT, "Ss" + est + "F", false, true, []string{"add 198.18.0.11", "del"}},
		// A program that cannot take it is asked again at the next
		// packet, and the connection forwards as before.
		{"DR refused", DR, "S" + est + "A", true, false, []string{"add refused", "add refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: tc.method}, "198.18.0.11")
			f := &fakeFast{age: map[uint16]time.Duration{}, full: tc.full}
			w.e.fast = f
			if tc.sync {
				w.e.syncq.Store(w.e.newSyncQueue(64))
			}
			c := netip.MustParseAddrPort("198.18.1.1:41000")
			rs := netip.MustParseAddrPort("198.18.0.11:8080")
			for _, fl := range tc.packets {
				if up := strings.ToUpper(string(fl)); up != string(fl) {
					w.feed(tcpFrame(t, rsMAC["198.18.0.11"], dirMAC, rs, c, up))
					continue
				}
				w.feed(tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), string(fl)))
			}
			if len(tx.sent) != len(tc.packets) {
				t.Fatalf("%d of %d packets forwarded", len(tx.sent), len(tc.packets))
			}
			if diff := cmp.Diff(tc.want, f.log); diff != "" {
				t.Fatalf("fast path calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFastPathExpiry: a fast-path connection whose time comes lives on
// while the program saw a packet within its timeout, and is looked at
// again within half of it; once quiet for its timeout it expires and
// leaves the program.
func TestFastPathExpiry(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11")
	if err := u.SetTimeouts(Timeouts{TCP: 10 * time.Second, TCPFin: time.Second, UDP: time.Second}); err != nil {
		t.Fatal(err)
	}
	f := &fakeFast{age: map[uint16]time.Duration{}}
	w.e.fast = f
	c := netip.MustParseAddrPort("198.18.1.1:41000")
	start := time.Now()
	for _, fl := range "S" + strings.Repeat("A", fastAfter-1) {
		w.feed(tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), string(fl)))
	}
	conns := func() int { return w.e.conns.Len() }
	// at runs the housekeeping timer's ticks up to d after the start.
	var last time.Duration
	at := func(d time.Duration) {
		for ; last <= d; last += time.Second / conntab.TicksPerSecond {
			u.housekeep(start.Add(last), 1)
		}
	}
	at(0)
	// The first look comes at half the timeout (5 s): seen 1 s ago.
	f.age[41000] = time.Second
	at(4 * time.Second)
	if conns() != 1 {
		t.Fatal("expired before its first look")
	}
	at(6 * time.Second)
	if conns() != 1 {
		t.Fatal("expired though the program saw a packet 1 s ago")
	}
	// Quiet from now: 9 s later it is still within its timeout...
	f.age[41000] = 9 * time.Second
	at(11*time.Second + 500*time.Millisecond)
	if conns() != 1 {
		t.Fatal("expired within its timeout")
	}
	// ... and gone once quiet for its timeout.
	f.age[41000] = 20 * time.Second
	at(30 * time.Second)
	if conns() != 0 {
		t.Fatal("a quiet fast-path connection did not expire")
	}
	if !slices.Equal(f.log, []string{"add 198.18.0.11", "del"}) {
		t.Fatalf("fast path calls %v, want add then del", f.log)
	}
}

package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
)

func TestLaterFragmentsWaitForTheFirst(t *testing.T) {
	t.Parallel()
	for _, method := range []Method{DR, NAT} {
		t.Run(method.String(), func(t *testing.T) {
			t.Parallel()
			key := ServiceKey{Addr: vip, Port: 53, Proto: UDP}
			u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: method}, "198.18.0.11")
			client := netip.MustParseAddrPort("198.18.1.1:5353")
			frags := fragmentFrame(t, udpFrame(t, client, netip.AddrPortFrom(vip, 53), 4000, false), 1500)
			// The last fragment first, then the middle one, then the first.
			w.feed(frags[2])
			w.feed(frags[1])
			if len(tx.sent) != 0 {
				t.Fatalf("later fragments forwarded before the first: %d", len(tx.sent))
			}
			w.feed(frags[0])
			if len(tx.sent) != 3 {
				t.Fatalf("sent %d frames after the first fragment, want 3", len(tx.sent))
			}
			// The first goes first, then the held ones as they came.
			for i, wantOff := range []int{0, 2960, 1480} {
				p := decoded(t, tx.sent[i].data)
				off := int(binary.BigEndian.Uint16(p.B[p.L3+6:])&0x1fff) * 8
				if off != wantOff || p.DstAddr() != map[Method]netip.Addr{DR: vip, NAT: netip.MustParseAddr("198.18.0.11")}[method] {
					t.Fatalf("frame %d: offset %d to %v, want offset %d", i, off, p.DstAddr(), wantOff)
				}
			}
			if d := u.Drops(); d != (Drops{}) {
				t.Fatalf("drops %+v", d)
			}
		})
	}
}

func TestHeldFragmentsExpire(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 53, Proto: UDP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11")
	frags := fragmentFrame(t, udpFrame(t, netip.MustParseAddrPort("198.18.1.1:5353"), netip.AddrPortFrom(vip, 53), 4000, false), 1500)
	w.feed(frags[1])
	u.housekeep(time.Now(), 1)
	if got := u.Drops().FragOrphan; got != 0 {
		t.Fatalf("expired at once: %d orphans", got)
	}
	u.housekeep(time.Now().Add(holdLife*time.Second/conntab.TicksPerSecond+time.Second), 1)
	if got := u.Drops().FragOrphan; got != 1 {
		t.Fatalf("after the holding time: %d orphans, want 1", got)
	}
	w.feed(frags[0])
	if len(tx.sent) != 1 {
		t.Fatalf("sent %d frames: an expired fragment came back", len(tx.sent))
	}
}

func TestHoldingAreaIsBounded(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 53, Proto: UDP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11")
	dgram := udpFrame(t, netip.MustParseAddrPort("198.18.1.1:5353"), netip.AddrPortFrom(vip, 53), 2000, false)
	var firsts [][]byte
	for i := range holdSlots + 5 {
		// Datagrams with their own IP IDs.
		d := append([]byte{}, dgram...)
		binary.BigEndian.PutUint16(d[frame.EthLen+4:], uint16(i+1))
		fr := fragmentFrame(t, d, 1500)
		w.feed(fr[1])
		firsts = append(firsts, fr[0])
	}
	if got := u.Drops().FragOrphan; got != 5 {
		t.Fatalf("%d orphans with %d fragments for %d slots, want 5", got, holdSlots+5, holdSlots)
	}
	// The five oldest were pushed out; the newest still follow their first.
	w.feed(firsts[0])
	w.feed(firsts[len(firsts)-1])
	if len(tx.sent) != 3 {
		t.Fatalf("sent %d frames, want 1 (oldest, pushed out) + 2 (newest)", len(tx.sent))
	}
}

package forward

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward/frame"
)

func TestDropsByReason(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	client := netip.MustParseAddrPort("198.18.1.1:40000")
	tests := []struct {
		name string
		// frames are fed in order; the drops are those after the last.
		frames func(t *testing.T) [][]byte
		want   Drops
		sent   int
	}{
		{
			name: "bad IPv4 header checksum",
			frames: func(t *testing.T) [][]byte {
				b := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
				b[frame.EthLen+10] ^= 0xff
				return [][]byte{b}
			},
			want: Drops{BadChecksum: 1},
		},
		{
			name: "ICMP error with a bad checksum is not followed",
			frames: func(t *testing.T) [][]byte {
				syn := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
				reply := tcpFrame(t, dirMAC, clientMAC, netip.AddrPortFrom(vip, 80), client, "A")
				icmp := icmpErrorFrame(t, netip.MustParseAddr("198.18.1.254"), vip, reply[frame.EthLen:])
				icmp[frame.EthLen+frame.IPv4Len+2] ^= 0xff
				return [][]byte{syn, icmp}
			},
			want: Drops{BadChecksum: 1},
			sent: 1,
		},
		{
			name: "a valid ICMP error is followed",
			frames: func(t *testing.T) [][]byte {
				syn := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
				reply := tcpFrame(t, dirMAC, clientMAC, netip.AddrPortFrom(vip, 80), client, "A")
				return [][]byte{syn, icmpErrorFrame(t, netip.MustParseAddr("198.18.1.254"), vip, reply[frame.EthLen:])}
			},
			sent: 2,
		},
		{
			name: "no connection for a non-SYN",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A")}
			},
			want: Drops{NoConn: 1},
		},
		{
			name: "truncated TCP header",
			frames: func(t *testing.T) [][]byte {
				b := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
				return [][]byte{b[:frame.EthLen+frame.IPv4Len+10]}
			},
			want: Drops{Malformed: 1},
		},
		{
			name: "later fragment before its first",
			frames: func(t *testing.T) [][]byte {
				frags := fragmentFrame(t, udpFrame(t, client, netip.AddrPortFrom(vip, 80), 3000, false), 1500)
				return frags[1:2]
			},
			// It waits in the holding area (see fraghold_test.go).
			want: Drops{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := key
			frames := tt.frames(t)
			var p frame.Packet
			p.Decode(frames[len(frames)-1])
			if p.Proto == frame.ProtoUDP || p.Has(frame.FlagLaterFragment) {
				k.Proto = UDP
			}
			u, w, tx := testBackend(t, ServiceConfig{Key: k, Scheduler: "rr", Method: DR}, "198.18.0.11")
			for _, b := range frames {
				w.feed(b)
			}
			if diff := cmp.Diff(tt.want, u.Drops()); diff != "" {
				t.Errorf("drops (-want +got):\n%s", diff)
			}
			if len(tx.sent) != tt.sent {
				t.Errorf("sent %d frames, want %d", len(tx.sent), tt.sent)
			}
		})
	}
}

func TestDropsEachNamesEveryField(t *testing.T) {
	t.Parallel()
	d := Drops{Malformed: 1, BadChecksum: 2, NoConn: 3, NoDest: 4, TableFull: 5, NoHop: 6, TooBig: 7, TTL: 8,
		FragOrphan: 9, TxFull: 10, Local: 11, RxOverflow: 12, TxError: 13}
	var names []string
	var sum uint64
	d.Each(func(reason string, n uint64) {
		names = append(names, reason)
		sum += n
	})
	want := []string{"malformed", "bad_checksum", "no_connection", "no_real_server", "table_full", "no_route",
		"too_big", "ttl_exceeded", "fragment_orphan", "transmit_full", "local_delivery",
		"receive_overflow", "transmit_error"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("reasons (-want +got):\n%s", diff)
	}
	if sum != 91 {
		t.Fatalf("Each passed counts summing to %d, want 91 (a field is missing)", sum)
	}
}

func TestTablesCountsWithoutListing(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR, Persistence: time.Minute}, "198.18.0.11")
	for i := range 3 {
		w.feed(tcpFrame(t, clientMAC, dirMAC, netip.AddrPortFrom(netip.MustParseAddr("198.18.1.1"), uint16(40000+i)),
			netip.AddrPortFrom(vip, 80), "S"))
	}
	want := Tables{
		Conns:     TableStats{Entries: 3, Capacity: 1 << 16, Inserted: 3},
		Templates: TableStats{Entries: 1, Capacity: 1 << 16, Inserted: 1},
	}
	if diff := cmp.Diff(want, u.Tables()); diff != "" {
		t.Fatalf("tables (-want +got):\n%s", diff)
	}
}

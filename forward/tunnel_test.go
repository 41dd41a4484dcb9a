package forward

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/forward/frame"
)

// TestTUNFragmentsOuter: an IPv4 packet without DF that does not fit the
// tunnel goes in outer fragments (ip_vs_tunnel_xmit copies the clear DF,
// ip_fragment splits the outer packet), here the client's own fragments
// of a UDP datagram larger than the MTU.
func TestTUNFragmentsOuter(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 53, Proto: UDP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: TUN}, "198.18.0.11")
	client := netip.MustParseAddrPort("198.18.1.1:5353")
	frags := fragmentFrame(t, udpFrame(t, client, netip.AddrPortFrom(vip, 53), 4000, false), 1500)
	if len(frags) != 3 {
		t.Fatalf("%d client fragments", len(frags))
	}
	for _, f := range frags {
		w.feed(f)
	}
	if d := u.Drops(); d != (Drops{}) {
		t.Fatalf("drops %+v", d)
	}
	// Reassemble the outer packets by IP ID: each must be one client
	// fragment, byte for byte.
	type outerPkt struct {
		data []byte
		have int
		last int
	}
	outers := map[uint16]*outerPkt{}
	var order []uint16
	for i, s := range tx.sent {
		p := decoded(t, s.data)
		if p.Proto != frame.ProtoIPIP || p.DstAddr() != netip.MustParseAddr("198.18.0.11") || p.IPLen() > 1500 {
			t.Fatalf("frame %d: proto %d to %v, %d bytes", i, p.Proto, p.DstAddr(), p.IPLen())
		}
		id := binary.BigEndian.Uint16(p.B[p.L3+4:])
		fo := binary.BigEndian.Uint16(p.B[p.L3+6:])
		if fo&0x4000 != 0 {
			t.Fatalf("frame %d: outer DF set", i)
		}
		o := outers[id]
		if o == nil {
			o = &outerPkt{data: make([]byte, 9000), last: -1}
			outers[id] = o
			order = append(order, id)
		}
		off := int(fo&0x1fff) * 8
		n := copy(o.data[off:], p.B[p.L3+frame.IPv4Len:p.End])
		o.have += n
		if fo&0x2000 == 0 {
			o.last = off + n
		}
	}
	if len(outers) != len(frags) {
		t.Fatalf("%d outer packets for %d client fragments", len(outers), len(frags))
	}
	for i, id := range order {
		o := outers[id]
		want := frags[i][frame.EthLen:]
		if o.last != len(want) || o.have != len(want) || !bytes.Equal(o.data[:o.last], want) {
			t.Fatalf("outer packet %d does not reassemble to client fragment %d (%d of %d bytes)", id, i, o.have, len(want))
		}
	}
	// Two full-size client fragments need two outer fragments each; the
	// short last one fits whole.
	if len(tx.sent) != 5 {
		t.Fatalf("sent %d frames, want 5", len(tx.sent))
	}
}

package tunnel

import (
	"bytes"
	"os"
	"testing"

	"go.uber.org/zap"
)

// TestDeliver: the inner packet of an IPv4-in-IPv4 packet (outer header
// included, as an IPv4 raw socket returns it) or of an IPv6 raw socket's
// payload reaches the TUN device whole; anything else is counted as
// malformed and not written.
func TestDeliver(t *testing.T) {
	inner4 := append([]byte{0x45, 0, 0, 28}, make([]byte, 24)...)
	inner6 := append([]byte{0x60}, make([]byte, 47)...)
	outer := func(ihl byte, inner []byte) []byte {
		h := make([]byte, int(ihl)*4)
		h[0] = 0x40 | ihl
		h[9] = 4
		return append(h, inner...)
	}
	for _, tc := range []struct {
		name  string
		pkt   []byte
		outer bool
		want  []byte // nil: malformed
	}{
		{"ipip", outer(5, inner4), true, inner4},
		{"ipip with options", outer(6, inner4), true, inner4},
		{"ipv6 payload", inner6, false, inner6},
		{"short outer", []byte{0x45, 0, 0}, true, nil},
		{"outer not ipv4", append([]byte{0x60}, make([]byte, 40)...), true, nil},
		{"ihl past the end", outer(5, nil)[:20:20], true, nil},
		{"ihl below 5", append([]byte{0x44}, make([]byte, 30)...), true, nil},
		{"empty inner", outer(5, nil), true, nil},
		{"inner not ip", outer(5, []byte{0x10, 1, 2}), true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			d := &Decap{tun: w, log: zap.NewNop()}
			d.deliver(tc.pkt, tc.outer)
			w.Close()
			got := new(bytes.Buffer)
			if _, err := got.ReadFrom(r); err != nil {
				t.Fatal(err)
			}
			s := d.Stats()
			if tc.want == nil {
				if s.Malformed != 1 || s.Decapsulated != 0 || got.Len() != 0 {
					t.Fatalf("stats %+v, wrote %d bytes; want one malformed, nothing written", s, got.Len())
				}
				return
			}
			if s.Decapsulated != 1 || s.Malformed != 0 || !bytes.Equal(got.Bytes(), tc.want) {
				t.Fatalf("stats %+v, wrote % x; want % x", s, got.Bytes(), tc.want)
			}
		})
	}
}

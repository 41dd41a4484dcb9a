package frame

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecode feeds arbitrary frames to the decoder and the rewrites the
// data path applies to them. Nothing may panic or read out of bounds, and
// decoding is a fixed point: recomputing checksums and decoding again yields
// the same view.
func FuzzDecode(f *testing.F) {
	for _, b := range captured(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p, q, r Packet
		p.Decode(b)
		if !p.OK() {
			return
		}
		b2 := bytes.Clone(b)
		q.Decode(b2)
		q.FixChecksums()
		r.Decode(b2)
		if diff := cmp.Diff(q, r, cmpopts.IgnoreFields(Packet{}, "B")); diff != "" {
			t.Fatalf("decode not a fixed point (-first +second):\n%s", diff)
		}
		q.Decode(b2)
		var in Packet
		if q.Inner(&in) {
			in.SetSrc(in.DstIP(), 1, false)
			in.SetDst(in.SrcIP(), 2, false)
			q.FixICMP()
		}
		src := bytes.Clone(q.SrcIP())
		q.SetDst(src, 80, false)
		q.SetSrc(src, 81, true)
		q.DecTTL()
		var s Segmenter
		if s.Reset(&q, 536) {
			out := make([]byte, q.End+536)
			for i := 0; s.Next(out) > 0; i++ {
				if i > 1<<17 {
					t.Fatal("segmenter does not end")
				}
			}
		}
		var e [MaxICMPError]byte
		PutICMPError(e[:], &q, ICMPFragNeeded, 1400, q.DstIP(), q.SrcMAC(), q.DstMAC())
	})
}

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
		p.HeaderValid()
		p.ChecksumValid()
		b2 := bytes.Clone(b)
		q.Decode(b2)
		q.FixChecksums()
		if !q.HeaderValid() || !q.ChecksumValid() {
			t.Fatal("checksums just recomputed do not verify")
		}
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
		if q.Family == 4 {
			hl := q.L3 + int(q.B[q.L3]&0x0f)*4
			out := make([]byte, hl)
			for off, step := 0, FragmentPayload(576, hl-q.L3); off < q.End-hl; off += step {
				PutFragmentHeader(out, q.B[:hl], q.L3, q.End-hl, off, min(step, q.End-hl-off))
			}
		}
	})
}

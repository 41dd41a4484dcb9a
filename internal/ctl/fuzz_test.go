package ctl

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzReadRequest feeds the control socket's decoder what any local root
// process may send: it never panics, never reads past its bound, and a
// request it accepts encodes (as ulvsadm sends it) and decodes to itself.
func FuzzReadRequest(f *testing.F) {
	for _, r := range []*Request{
		{Op: OpIPVS}, {Op: OpConns}, {Op: OpVRRP}, {Op: OpCheckers}, {Op: OpStatus},
		{Op: OpEdit, Edit: &Edit{Cmd: EditAddService, Service: &ServiceSpec{Proto: "TCP",
			Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Sched: "wrr", Flags: FlagPersistent, Timeout: 300, Netmask: 24}}},
		{Op: OpEdit, Edit: &Edit{Cmd: EditAddDest, Service: &ServiceSpec{FWMark: 7, IPv6: true},
			Dest: &DestSpec{Addr: netip.MustParseAddr("2001:db8::11"), Port: 80, Method: "Route", Weight: 3}}},
		{Op: OpEdit, Edit: &Edit{Cmd: EditTimeout, Timeouts: &Timeouts{TCP: 900, TCPFin: 120, UDP: 300}}},
	} {
		b, err := EncodeRequest(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{", "{not json\n", `{"op":""}`, `{"op":"ipvs","edit":{"service":{"addr":"300.1.1.1"}}}`,
		`{"op":"edit","edit":{"dest":{"addr":"::ffff:198.18.0.1%eth0","port":70000}}}`, `[]`, `null`, `{"op":"ipvs"}{"op":"x"}`,
		`{"op":"` + strings.Repeat("a", 70<<10) + `"}`} {
		f.Add([]byte(s))
	}
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{})}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{r: bytes.NewReader(b)}
		req, err := ReadRequest(r)
		if r.n > maxRequest+1+4096 {
			t.Fatalf("read %d bytes, bound %d", r.n, maxRequest)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad request: ") {
				t.Fatalf("error %q does not say it is a bad request", err)
			}
			return
		}
		enc, err := EncodeRequest(req)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", b, err)
		}
		again, err := ReadRequest(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("re-reading %q: %v", enc, err)
		}
		if d := cmp.Diff(req, again, opts); d != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s", d)
		}
	})
}

type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

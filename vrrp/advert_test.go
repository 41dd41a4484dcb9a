package vrrp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdvertRoundTrip(t *testing.T) {
	t.Parallel()
	v4 := []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")}
	v6 := []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")}
	tests := []struct {
		name string
		a    Advert
		ph   *Pseudo
		len  int
	}{
		{"v2 ipv4 pass", Advert{Version: 2, Family: IPv4, VRID: 51, Priority: 100, AdverInt: 1, AuthType: AuthPass,
			AuthData: [8]byte{'1', '1', '1', '1'}, Addrs: v4}, nil, 8 + 8 + 8},
		{"v2 ipv4 none, no addresses", Advert{Version: 2, Family: IPv4, VRID: 1, Priority: 255, AdverInt: 255}, nil, 16},
		{"v3 ipv4", Advert{Version: 3, Family: IPv4, VRID: 7, Priority: 90, AdverInt: 100, Addrs: v4},
			&Pseudo{Src: netip.MustParseAddr("198.18.0.11"), Dst: Group4}, 8 + 8},
		{"v3 ipv4 reserved bits", Advert{Version: 3, Family: IPv4, VRID: 7, Priority: 90, AdverInt: 4095, Reserved: 0xf,
			Addrs: v4[:1]}, nil, 12},
		{"v3 ipv6", Advert{Version: 3, Family: IPv6, VRID: 9, Priority: 0, AdverInt: 10, Addrs: v6},
			&Pseudo{Src: netip.MustParseAddr("fe80::11"), Dst: Group6}, 8 + 32},
		{"v2 ipv6 has no auth field", Advert{Version: 2, Family: IPv6, VRID: 9, Priority: 1, AdverInt: 3, Addrs: v6[:1]}, nil, 24},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := tc.a
			if err := a.SetChecksum(tc.ph); err != nil {
				t.Fatal(err)
			}
			b, err := a.AppendBinary([]byte{0xaa}) // appends, keeps what was there
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 0xaa || len(b)-1 != tc.len || a.Len() != tc.len {
				t.Fatalf("encoded %d bytes (Len %d), want %d after the prefix", len(b)-1, a.Len(), tc.len)
			}
			msg := b[1:]
			if !VerifyChecksum(msg, tc.ph) {
				t.Errorf("checksum does not verify")
			}
			got, err := ParseAdvert(msg, a.Family)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&a, got, addrCmp); diff != "" {
				t.Errorf("parse(append(a)) (-want +got):\n%s", diff)
			}
			msg[0] ^= 0x01 // still type 1? no: type 0 → must fail
			if _, err := ParseAdvert(msg, a.Family); !errors.Is(err, ErrType) {
				t.Errorf("type 0: err = %v, want ErrType", err)
			}
		})
	}
}

// TestAdvertKnownBytes checks the encoder against vectors whose checksums
// were computed independently (RFC 1071 in a few lines of Python over the
// same bytes); the interop tests compare with keepalived's own adverts.
func TestAdvertKnownBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    Advert
		ph   *Pseudo
		hex  string
	}{
		{
			// keepalived: VI_1 vrid 51 prio 100 advert_int 1, auth PASS 1111,
			// VIP 198.18.0.100.
			name: "v2 pass",
			a: Advert{Version: 2, Family: IPv4, VRID: 51, Priority: 100, AdverInt: 1, AuthType: AuthPass,
				AuthData: [8]byte{'1', '1', '1', '1'}, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.100")}},
			hex: "21336401010150f1c61200643131313100000000",
		},
		{
			// keepalived: vrid 52 prio 150 advert_int 0.1 (10 cs) version 3,
			// from 198.18.0.12 to 224.0.0.18, VIP 198.18.0.100.
			name: "v3 ipv4 pseudo-header",
			a: Advert{Version: 3, Family: IPv4, VRID: 52, Priority: 150, AdverInt: 10,
				Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.100")}},
			ph:  &Pseudo{Src: netip.MustParseAddr("198.18.0.12"), Dst: Group4},
			hex: "31349601000acb9bc6120064",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := tc.a
			if err := a.SetChecksum(tc.ph); err != nil {
				t.Fatal(err)
			}
			got, err := a.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			want := mustHex(t, tc.hex)
			if !bytes.Equal(got, want) {
				t.Errorf("encoded\n%x\nwant\n%x", got, want)
			}
		})
	}
}

func TestChecksumRFC1071(t *testing.T) {
	t.Parallel()
	// RFC 1071 §3's example: the one's complement sum of 00 01 f2 03 f4
	// f5 f6 f7 is ddf2, so the checksum is ^ddf2 = 220d. Our Checksum skips
	// bytes 6-7 (the checksum field), so put the example after a zero
	// header.
	msg := append(make([]byte, 8), 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)
	if got := Checksum(msg, nil); got != 0x220d {
		t.Errorf("Checksum = %#04x, want 0x220d", got)
	}
	// The checksum field itself is ignored.
	msg[6], msg[7] = 0x12, 0x34
	if got := Checksum(msg, nil); got != 0x220d {
		t.Errorf("Checksum with a field set = %#04x, want 0x220d", got)
	}
}

func TestParseAdvertErrors(t *testing.T) {
	t.Parallel()
	good := Advert{Version: 2, Family: IPv4, VRID: 1, Priority: 100, AdverInt: 1, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")}}
	b, err := good.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name string
		b    []byte
		fam  Family
		want error
	}{
		{"empty", nil, IPv4, ErrTruncated},
		{"header only", b[:7], IPv4, ErrTruncated},
		{"version 1", mod(func(b []byte) []byte { b[0] = 0x11; return b }), IPv4, ErrVersion},
		{"version 4", mod(func(b []byte) []byte { b[0] = 0x41; return b }), IPv4, ErrVersion},
		{"type 2", mod(func(b []byte) []byte { b[0] = 0x22; return b }), IPv4, ErrType},
		{"count too high", mod(func(b []byte) []byte { b[3] = 2; return b }), IPv4, ErrLength},
		{"trailing byte", append(append([]byte(nil), b...), 0), IPv4, ErrLength},
		{"ipv6 length", b, IPv6, ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseAdvert(tc.b, tc.fam); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAppendBinaryRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    Advert
	}{
		{"version", Advert{Version: 4, Family: IPv4}},
		{"family", Advert{Version: 2}},
		{"v2 interval", Advert{Version: 2, Family: IPv4, AdverInt: 256}},
		{"v3 interval", Advert{Version: 3, Family: IPv4, AdverInt: 4096}},
		{"mixed family", Advert{Version: 3, Family: IPv4, Addrs: []netip.Addr{netip.MustParseAddr("::1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.a.AppendBinary(nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

// FuzzParseAdvert: no panic, and parse → append is the identity on every
// input that parses (append writes exactly the fields parse read), so
// parse → append → parse is a fixed point.
func FuzzParseAdvert(f *testing.F) {
	seeds := []Advert{
		{Version: 2, Family: IPv4, VRID: 51, Priority: 100, AdverInt: 1, AuthType: AuthPass, AuthData: [8]byte{'p', 'w'},
			Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.100")}},
		{Version: 3, Family: IPv4, VRID: 52, Priority: 0, AdverInt: 10},
		{Version: 3, Family: IPv6, VRID: 53, Priority: 255, AdverInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("fe80::1")}},
	}
	for _, a := range seeds {
		b, err := a.AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, a.Family == IPv6)
	}
	f.Fuzz(func(t *testing.T, b []byte, six bool) {
		fam := IPv4
		if six {
			fam = IPv6
		}
		a, err := ParseAdvert(b, fam)
		if err != nil {
			return
		}
		out, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatalf("append of a parsed advert: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("append(parse(b)) = %x, want %x", out, b)
		}
		a2, err := ParseAdvert(out, fam)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, a2, addrCmp); diff != "" {
			t.Fatalf("parse(append(parse(b))) differs (-first +second):\n%s", diff)
		}
		// The checksum of what we encode always verifies.
		if err := a.SetChecksum(nil); err != nil {
			t.Fatal(err)
		}
		out, _ = a.AppendBinary(nil)
		if !VerifyChecksum(out, nil) {
			t.Fatal("SetChecksum result does not verify")
		}
	})
}

func BenchmarkAdvert(b *testing.B) {
	a := Advert{Version: 3, Family: IPv4, VRID: 51, Priority: 100, AdverInt: 100,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")}}
	ph := &Pseudo{Src: netip.MustParseAddr("198.18.0.11"), Dst: Group4}
	buf := make([]byte, 0, 64)
	msg, _ := a.AppendBinary(nil)
	b.Run("append+checksum", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = a.SetChecksum(ph)
			buf, _ = a.AppendBinary(buf[:0])
		}
	})
	b.Run("parse+verify", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := ParseAdvert(msg, IPv4); err != nil {
				b.Fatal(err)
			}
			_ = VerifyChecksum(msg, ph)
		}
	})
}

package syncmsg

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var tcp4 = Conn{Proto: 6, Flags: DRoute | NoOutput, State: 1,
	CAddr: netip.MustParseAddr("198.18.1.1"), VAddr: netip.MustParseAddr("198.18.0.100"), DAddr: netip.MustParseAddr("198.18.0.11"),
	CPort: 40000, VPort: 80, DPort: 80, Timeout: 900}

// wire4 is tcp4 in a message with sync ID 7, byte for byte as
// ip_vs_sync.c lays it out (struct ip_vs_sync_mesg, struct ip_vs_sync_v4).
const wire4 = "00 07 002c 01 01 0000" + // reserved, syncid, size 44, 1 conn, version 1, spare
	"00 06 0024" + // type (IPv4), protocol TCP, version 0 | size 36
	"00000083" + // flags: DROUTE | NOOUTPUT
	"0001 9c40 0050 0050" + // state ESTABLISHED, cport 40000, vport 80, dport 80
	"00000000 00000384" + // fwmark, timeout 900 s
	"c6120101 c6120064 c612000b" // caddr, vaddr, daddr

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeKernelLayout(t *testing.T) {
	msg, err := Append(NewMessage(nil, 7), &tcp4)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, wire4); !bytes.Equal(msg, want) {
		t.Errorf("encoded\n%x\nwant\n%x", msg, want)
	}
}

func TestRoundTrip(t *testing.T) {
	udp6 := Conn{Proto: 17, Flags: Masq | Inactive, CAddr: netip.MustParseAddr("2001:db8::1"),
		VAddr: netip.MustParseAddr("2001:db8::100"), DAddr: netip.MustParseAddr("2001:db8:1::11"), CPort: 5353, VPort: 53, DPort: 53, Timeout: 300}
	tpl := Conn{Proto: 6, Flags: Template | DRoute | NoCPort, CAddr: netip.MustParseAddr("198.18.1.0"),
		VAddr: netip.MustParseAddr("198.18.0.100"), DAddr: netip.MustParseAddr("198.18.0.12"), VPort: 80, DPort: 80, Timeout: 600}
	msg := NewMessage(make([]byte, 0, 1500), 0)
	var err error
	for _, c := range []Conn{tcp4, udp6, tpl} {
		if msg, err = Append(msg, &c); err != nil {
			t.Fatal(err)
		}
	}
	if Count(msg) != 3 || len(msg) != HeaderLen+2*ConnLen4+ConnLen6 {
		t.Fatalf("%d connections in %d bytes", Count(msg), len(msg))
	}
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Message{Conns: []Conn{tcp4, udp6, tpl}}, m, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestParseOptions: a kernel connection with the sequence option (type 1,
// 24 bytes, padded to 4) and a persistence-engine name parses; the options
// are skipped.
func TestParseOptions(t *testing.T) {
	conn := unhex(t, wire4)[HeaderLen:]
	opt := append([]byte{1, 24}, make([]byte, 24)...)
	opt = append(opt, 3, 3, 's', 'i', 'p', 0) // PE name "sip", then one byte of padding to 4
	size := len(conn) + len(opt)
	conn[2], conn[3] = byte(size>>8), byte(size)
	msg := append(NewMessage(nil, 1), conn...)
	msg = append(msg, opt...)
	msg[4] = 1
	msg[2], msg[3] = byte(len(msg)>>8), byte(len(msg))
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Conns) != 1 || m.Conns[0].DAddr != tcp4.DAddr || m.SyncID != 1 {
		t.Errorf("parsed %+v", m)
	}
}

func TestParseErrors(t *testing.T) {
	good := unhex(t, wire4)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:5], "shorter than a header"},
		{"version 0", mod(func(b []byte) []byte { b[0] = 1; return b }), "version 0 message"},
		{"version 2", mod(func(b []byte) []byte { b[5] = 2; return b }), "version 2"},
		{"size", mod(func(b []byte) []byte { return b[:len(b)-1] }), "header says 44 bytes, datagram has 43"},
		{"count", mod(func(b []byte) []byte { b[4] = 2; return b }), "connection 2 of 2: truncated"},
		{"conn size", mod(func(b []byte) []byte { b[11] = 20; return b }), "connection 1: size 20"},
		{"conn version", mod(func(b []byte) []byte { b[10] = 0x10; return b }), "connection 1: version 1"},
		{"trailing", mod(func(b []byte) []byte { b[4] = 0; return b }), "36 bytes after the 0 connections"},
		{"option", mod(func(b []byte) []byte {
			b = append(b, 1, 24, 0, 0)
			b[11] = 40
			b[3] = 48
			return b
		}), "option 1: length beyond"},
	} {
		var m Message
		err := Parse(tc.b, &m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if len(m.Conns) != 0 && err != nil && tc.name != "count" && tc.name != "trailing" {
			t.Errorf("%s: kept %d connections of a bad message", tc.name, len(m.Conns))
		}
	}
}

func TestAppendLimits(t *testing.T) {
	msg := NewMessage(nil, 0)
	var err error
	for range 255 {
		if msg, err = Append(msg, &tcp4); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Append(msg, &tcp4); err == nil {
		t.Error("a 256th connection was added")
	}
	mixed := tcp4
	mixed.DAddr = netip.MustParseAddr("2001:db8::11")
	if _, err := Append(NewMessage(nil, 0), &mixed); err == nil {
		t.Error("a connection with addresses of two families was added")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(unhex(f, wire4))
	msg, _ := Append(NewMessage(nil, 3), &Conn{Proto: 17, CAddr: netip.MustParseAddr("::1"), VAddr: netip.MustParseAddr("::2"), DAddr: netip.MustParseAddr("::3")})
	f.Add(msg)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := Parse(b, &m); err != nil {
			return
		}
		// What parses encodes back to a message that parses the same
		// (options are dropped, so the bytes may differ).
		out := NewMessage(nil, m.SyncID)
		for i := range m.Conns {
			var err error
			if out, err = Append(out, &m.Conns[i]); err != nil {
				t.Fatalf("re-encoding %+v: %v", m.Conns[i], err)
			}
		}
		var m2 Message
		if err := Parse(out, &m2); err != nil {
			t.Fatalf("re-encoded message: %v", err)
		}
		if len(m2.Conns) != len(m.Conns) {
			t.Fatalf("%d connections became %d", len(m.Conns), len(m2.Conns))
		}
		for i := range m.Conns {
			if m.Conns[i] != m2.Conns[i] {
				t.Fatalf("connection %d: %+v became %+v", i, m.Conns[i], m2.Conns[i])
			}
		}
	})
}

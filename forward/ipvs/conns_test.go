package ipvs

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseConns(t *testing.T) {
	t.Parallel()
	// testdata/ip_vs_conn.txt was read from Debian's 6.1 kernel in the VM:
	// a persistence template for 198.18.0.0/24 and the connection it
	// controls.
	fixture, err := os.ReadFile("testdata/ip_vs_conn.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want []forward.Conn
	}{
		{"kernel 6.1", string(fixture), []forward.Conn{
			{Proto: forward.TCP, Expires: 46 * time.Second, State: "NONE", Client: ap("198.18.0.0:0"),
				Virtual: ap("198.18.0.100:80"), Real: ap("198.18.0.12:80"), Template: true},
			{Proto: forward.TCP, Expires: 59 * time.Second, State: "SYN_RECV", Client: ap("198.18.0.1:48778"),
				Virtual: ap("198.18.0.100:80"), Real: ap("198.18.0.12:80")},
		}},
		{"header only", connHeader + "\n", nil},
		{"IPv6, UDP, a persistence engine, an expired timer", connHeader + "\n" +
			"UDP 2001:0db8:0000:0000:0000:0000:0000:0001 9C40 2001:0db8:0000:0000:0000:0000:0000:0100 0035 2001:0db8:0000:0000:0000:0000:0000:0011 0035 UDP            299\n" +
			"IP  C6120000 0000 00000007 0000 C612000C 0000 ASSURED         12 sip 1234@x\n" +
			"TCP C6120001 9C41 C6120064 0050 C612000B 0050 CLOSE      4294967295\n",
			[]forward.Conn{
				{Proto: forward.UDP, Expires: 299 * time.Second, State: "UDP", Client: ap("[2001:db8::1]:40000"),
					Virtual: ap("[2001:db8::100]:53"), Real: ap("[2001:db8::11]:53")},
				{Proto: 0, Expires: 12 * time.Second, State: "ASSURED", Client: ap("198.18.0.0:0"),
					Virtual: ap("0.0.0.7:0"), Real: ap("198.18.0.12:0"), Template: true},
				{Proto: forward.TCP, State: "CLOSE", Client: ap("198.18.0.1:40001"), Virtual: ap("198.18.0.100:80"),
					Real: ap("198.18.0.11:80")},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConns([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, addrs); diff != "" {
				t.Errorf("ParseConns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConnsErrors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"TCP C6120001 9C41 C6120064 0050 C612000B 0050 CLOSE",
		"TCP C612001 9C41 C6120064 0050 C612000B 0050 CLOSE 10",
		"TCP C6120001 9C4 C6120064 0050 C612000B 0050 CLOSE 10",
		"XYZ C6120001 9C41 C6120064 0050 C612000B 0050 CLOSE 10",
		"TCP C6120001 9C41 C6120064 0050 C612000B 0050 CLOSE -1",
		"TCP 2001:db8::1 9C41 C6120064 0050 C612000B 0050 CLOSE 10",
	} {
		if _, err := ParseConns([]byte(connHeader + "\n" + line + "\n")); err == nil {
			t.Errorf("ParseConns accepted %q", line)
		}
	}
}

func TestAppendConnsFixture(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/ip_vs_conn.txt")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ParseConns(fixture)
	if err != nil {
		t.Fatal(err)
	}
	out, err := AppendConns(nil, cs)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel's own spacing, byte for byte.
	if diff := cmp.Diff(string(fixture), string(out)); diff != "" {
		t.Errorf("AppendConns does not print as the kernel (-kernel +ours):\n%s", diff)
	}
}

func FuzzConns(f *testing.F) {
	if b, err := os.ReadFile("testdata/ip_vs_conn.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(connHeader + "\nUDP 2001:0db8:0000:0000:0000:0000:0000:0001 9C40 2001:0db8:0000:0000:0000:0000:0000:0100 0035 2001:0db8:0000:0000:0000:0000:0000:0011 0035 UDP 299\n"))
	f.Add([]byte("IP_99 C6120000 0000 00000007 0000 C612000C 0000 ASSURED 12 sip x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseConns(b)
		if err != nil {
			return
		}
		out, err := AppendConns(nil, cs)
		if err != nil {
			t.Fatalf("AppendConns of parsed entries: %v", err)
		}
		again, err := ParseConns(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(cs, again, addrs); diff != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s", diff)
		}
		if strings.Count(string(out), "\n") != len(cs)+1 {
			t.Fatalf("%d entries printed as %d lines", len(cs), strings.Count(string(out), "\n"))
		}
	})
}

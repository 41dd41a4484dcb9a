package health

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseResponseHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     string
		want   *ResponseHeader
		status int
		clen   int64
		err    bool
	}{
		{
			name: "nginx",
			in:   "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello world\n",
			want: &ResponseHeader{Proto: "HTTP/1.1", Status: "200", Reason: "OK", Fields: []HeaderField{
				{"Server", "nginx/1.22.1"}, {"Content-Length", "12"}, {"Connection", "close"}}},
			status: 200, clen: 12,
		},
		{
			name:   "reason with spaces, lower-case length, no body",
			in:     "HTTP/1.0 404 Not Found\r\ncontent-length:   0  \r\n\r\n",
			want:   &ResponseHeader{Proto: "HTTP/1.0", Status: "404", Reason: "Not Found", Fields: []HeaderField{{"content-length", "0"}}},
			status: 404, clen: 0,
		},
		{
			// keepalived reads the status with atoi: "200OK" is 200.
			name:   "atoi status",
			in:     "HTTP/1.1 200OK\r\n\r\n",
			want:   &ResponseHeader{Proto: "HTTP/1.1", Status: "200OK"},
			status: 200, clen: -1,
		},
		{
			name:   "garbage status and a line without colon",
			in:     "HTTP/1.1 abc x\r\njunk line\r\n\r\n",
			want:   &ResponseHeader{Proto: "HTTP/1.1", Status: "abc", Reason: "x", Fields: []HeaderField{{"", "junk line"}}},
			status: 0, clen: -1,
		},
		{name: "incomplete", in: "HTTP/1.1 200 OK\r\nServer: x\r\n", err: true},
		{name: "empty status line", in: "\r\n\r\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := ParseResponseHeader([]byte(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, h); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if got := h.StatusCode(); got != tc.status {
				t.Errorf("StatusCode = %d, want %d", got, tc.status)
			}
			if got := h.ContentLength(); got != tc.clen {
				t.Errorf("ContentLength = %d, want %d", got, tc.clen)
			}
		})
	}
}

// TestAppendRequest checks keepalived's request_template byte for byte.
func TestAppendRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, proto, vhost string
		dst                netip.AddrPort
		want               string
	}{
		{"/", "", "", netip.MustParseAddrPort("198.18.0.11:80"),
			"GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 198.18.0.11:80\r\n\r\n"},
		{"/x?y", "1.1", "www.example.com", netip.MustParseAddrPort("198.18.0.11:8080"),
			"GET /x?y HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"},
		{"/", "1.0C", "", netip.MustParseAddrPort("[2001:db8::11]:443"),
			"GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: [2001:db8::11]:443\r\n\r\n"},
	} {
		if got := string(AppendRequest(nil, tc.path, tc.proto, tc.vhost, tc.dst)); got != tc.want {
			t.Errorf("AppendRequest(%q, %q, %q, %v) = %q, want %q", tc.path, tc.proto, tc.vhost, tc.dst, got, tc.want)
		}
	}
}

// FuzzParseResponseHeader: no panic, and parse → append → parse is a
// fixed point.
func FuzzParseResponseHeader(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\n\r\nhello world\n",
		"HTTP/1.0 404 Not Found\r\ncontent-length:   0  \r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 abc x\r\njunk line\r\n:x\r\n\r\n",
		" \r\n\r\n",
		"HTTP/1.1\r\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: /a\r\nSet-Cookie: a=b; c\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseResponseHeader(b)
		if err != nil {
			return
		}
		_ = h.StatusCode()
		_ = h.ContentLength()
		out, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatalf("parsed header does not append: %v\n%+v", err, h)
		}
		h2, err := ParseResponseHeader(out)
		if err != nil {
			t.Fatalf("appended header does not parse: %v\n%q", err, out)
		}
		if d := cmp.Diff(h, h2); d != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s\n%q", d, out)
		}
		out2, _ := h2.AppendBinary(nil)
		if !bytes.Equal(out, out2) {
			t.Fatalf("append differs: %q vs %q", out, out2)
		}
	})
}

func BenchmarkParseResponseHeader(b *testing.B) {
	in := []byte("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 01:44:21 GMT\r\nContent-Type: text/html\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello world\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseResponseHeader(in); err != nil {
			b.Fatal(err)
		}
	}
}

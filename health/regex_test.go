package health

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawHTTP serves every connection the same response, written in the
// given chunks with a pause between them so that they arrive as separate
// reads.
func rawHTTP(t *testing.T, chunks ...string) *net.TCPListener {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				_, _ = c.Read(buf) // the request
				c.SetNoDelay(true)
				for i, ch := range chunks {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					if _, err := c.Write([]byte(ch)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l
}

func intp(v int) *int { return &v }

// TestHTTPRegex is keepalived's regex check (check_http.c check_regex and
// http_handle_response): the verdict after status code and digest, the
// subject from the status line once a body arrives, the offsets, and
// regex_no_match.
func TestHTTPRegex(t *testing.T) {
	t.Parallel()
	const hdr = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"
	page := "<html><body>status: healthy</body></html>\n"
	sum := md5.Sum([]byte(page))
	long := strings.Repeat("x", 9000) + "needle" + strings.Repeat("y", 100)
	for _, tc := range []struct {
		name   string
		chunks []string
		url    URL
		ok     bool
		why    string
	}{
		{"match", []string{hdr + page}, URL{Path: "/", Regex: "status: (healthy|ok)"}, true, "Regex match success"},
		{"mismatch", []string{hdr + page}, URL{Path: "/", Regex: "status: down"}, false, "Regex match failed"},
		{"no_match passes when absent", []string{hdr + page}, URL{Path: "/", Regex: "error", RegexNoMatch: true}, true, "Regex match success"},
		{"no_match fails when present", []string{hdr + page}, URL{Path: "/", Regex: "healthy", RegexNoMatch: true}, false, "want no match"},
		{"header is part of the subject", []string{hdr + page}, URL{Path: "/", Regex: `^HTTP/1\.0 200`}, true, ""},
		{"header sent apart is still the subject", []string{hdr, page}, URL{Path: "/", Regex: `Content-Type: text/html`}, true, ""},
		{"no body, no match", []string{hdr}, URL{Path: "/", Regex: "OK"}, false, "Regex match failed"},
		{"no body, no_match passes", []string{hdr}, URL{Path: "/", Regex: "OK", RegexNoMatch: true}, true, ""},
		{"match across reads", []string{hdr + "status: hea", "lthy"}, URL{Path: "/", Regex: "status: healthy"}, true, ""},
		{"beyond one buffer", []string{hdr + long}, URL{Path: "/", Regex: "needle"}, true, ""},
		{"digest checked first", []string{hdr + page}, URL{Path: "/", Digest: strings.Repeat("0", 32), Regex: "healthy"}, false, "MD5 digest error"},
		{"digest and regex", []string{hdr + page}, URL{Path: "/", Digest: hex.EncodeToString(sum[:]), Regex: "healthy"}, true, "Regex match success"},
		{"status checked first", []string{"HTTP/1.0 500 Oops\r\n\r\nhealthy"}, URL{Path: "/", Regex: "healthy"}, false, "status code error"},
		// Offsets count from the first byte of the status line.
		{"min offset skips an early match", []string{hdr + "ab" + page}, URL{Path: "/", Regex: "HTTP", RegexMinOffset: 1}, false, "Regex match failed"},
		{"min offset at the match", []string{hdr + page}, URL{Path: "/", Regex: "status", RegexMinOffset: len(hdr) + 12}, true, ""},
		{"min offset past the match", []string{hdr + page}, URL{Path: "/", Regex: "status", RegexMinOffset: len(hdr) + 13}, false, ""},
		{"max offset at the match", []string{hdr + page}, URL{Path: "/", Regex: "status", RegexMaxOffset: intp(len(hdr) + 12)}, true, ""},
		{"max offset before the match", []string{hdr + page}, URL{Path: "/", Regex: "status", RegexMaxOffset: intp(len(hdr) + 11)}, false, ""},
		{"match may end past max", []string{hdr + page}, URL{Path: "/", Regex: "status: healthy", RegexMaxOffset: intp(len(hdr) + 12)}, true, ""},
		{"max 0 is an offset", []string{hdr + page}, URL{Path: "/", Regex: "HTTP", RegexMaxOffset: intp(0)}, true, ""},
		{"min above max drops both", []string{hdr + page}, URL{Path: "/", Regex: "HTTP", RegexMinOffset: 50, RegexMaxOffset: intp(10)}, true, ""},
		{"no_match with window", []string{hdr + page}, URL{Path: "/", Regex: "healthy", RegexNoMatch: true, RegexMaxOffset: intp(len(hdr))}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := rawHTTP(t, tc.chunks...)
			p, err := newHTTPProber(NetDialer{}, Conn{Dst: addrOfListener(t, l.Addr())}, 2*time.Second,
				&HTTPCheck{URLs: []URL{tc.url}}, false, "", "")
			if err != nil {
				t.Fatal(err)
			}
			o := p.probe(context.Background(), 0)
			if o.ok != tc.ok || !strings.Contains(o.reason, tc.why) {
				t.Errorf("ok = %v (%s), want %v with %q", o.ok, o.reason, tc.ok, tc.why)
			}
		})
	}
}

// TestHTTPRegexRefused: a pattern RE2 cannot run is an error when the
// checker is built, naming the url.
func TestHTTPRegexRefused(t *testing.T) {
	t.Parallel()
	for _, re := range []string{`(a)\1`, `foo(?=bar)`, `(?<!x)y`, `a++`, `(?>a)`} {
		_, err := newHTTPProber(NetDialer{}, Conn{}, time.Second, &HTTPCheck{URLs: []URL{{Path: "/x", Regex: re}}}, false, "", "")
		if err == nil || !strings.Contains(err.Error(), "url /x") {
			t.Errorf("%q: err = %v, want a refusal naming the url", re, err)
		}
	}
}

// TestRegexMatchStreaming: the streaming match gives the verdict a match
// over the whole subject gives, however the subject is cut into writes.
func TestRegexMatchStreaming(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pats := []string{`ab+c`, `^a`, `c$`, `(?s)a.*c`, `[^a]{3}`, `b`, `(?m)^c`}
	for i := range 2000 {
		n := rng.IntN(40)
		b := make([]byte, n)
		for j := range b {
			b[j] = "abc\n"[rng.IntN(4)]
		}
		pat := pats[i%len(pats)]
		min := rng.IntN(8)
		max := -1
		if rng.IntN(2) == 0 {
			max = min + rng.IntN(20)
		}
		u := URL{Path: "/", Regex: pat, RegexMinOffset: min}
		if max >= 0 {
			u.RegexMaxOffset = intp(max)
		}
		r, err := newURLRegex(&u)
		if err != nil {
			t.Fatal(err)
		}
		want := false
		if n > 0 && min <= n {
			if loc := regexp.MustCompile(pat).FindIndex(b[min:]); loc != nil && (max < 0 || min+loc[0] <= max) {
				want = true
			}
		}
		m := r.start()
		for rest := b; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			m.Write(rest[:k])
			rest = rest[k:]
		}
		if got := m.Close(); got != want {
			t.Fatalf("%q over %q min %d max %d: got %v, want %v", pat, b, min, max, got, want)
		}
	}
}

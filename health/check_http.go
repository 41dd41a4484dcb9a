package health

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// httpProber is HTTP_GET and SSL_GET: one url per attempt, as keepalived
// walks its url list (check_http.c epilog).
type httpProber struct {
	d       Dialer
	conn    Conn
	timeout time.Duration
	urls    []httpURL
}

type httpURL struct {
	path      string
	req       []byte
	tls       *tls.Config // nil for HTTP_GET
	digest    [md5.Size]byte
	hasDigest bool
	codes     []StatusRange
	re        *urlRegex
}

// defaultStatus is keepalived's default status_code set.
var defaultStatus = []StatusRange{{200, 299}}

// newHTTPProber resolves the url blocks: request, virtual host (url, then
// checker, real server, virtual server), SNI and digest.
func newHTTPProber(d Dialer, conn Conn, timeout time.Duration, hc *HTTPCheck, ssl bool, rsVhost, vsVhost string) (*httpProber, error) {
	if len(hc.URLs) == 0 {
		return nil, errors.New("HTTP/SSL_GET checker has no urls specified")
	}
	switch hc.Protocol {
	case "", "1.0", "1.0C", "1.0c", "1.1":
	default:
		return nil, fmt.Errorf("invalid http_protocol %q", hc.Protocol)
	}
	p := &httpProber{d: d, conn: conn, timeout: timeout}
	for _, u := range hc.URLs {
		vhost := firstNonEmpty(u.Virtualhost, hc.Virtualhost, rsVhost, vsVhost)
		hu := httpURL{path: u.Path, codes: u.StatusCodes, req: AppendRequest(nil, u.Path, hc.Protocol, vhost, conn.Dst)}
		if len(hu.codes) == 0 {
			hu.codes = defaultStatus
		}
		for _, r := range hu.codes {
			if r.Min < 100 || r.Max > 999 || r.Min > r.Max {
				return nil, fmt.Errorf("invalid HTTP_GET status code range %d-%d", r.Min, r.Max)
			}
		}
		if u.Digest != "" {
			b, err := hex.DecodeString(u.Digest)
			if err != nil || len(b) != md5.Size {
				return nil, fmt.Errorf("digest %q is not %d hex digits", u.Digest, 2*md5.Size)
			}
			copy(hu.digest[:], b)
			hu.hasDigest = true
		}
		re, err := newURLRegex(&u)
		if err != nil {
			return nil, err
		}
		hu.re = re
		if ssl {
			cfg := hc.TLS
			if cfg == nil {
				cfg = &tls.Config{InsecureSkipVerify: true}
			}
			cfg = cfg.Clone()
			if hc.EnableSNI {
				if sni := firstNonEmpty(hc.SNIName, vhost); sni != "" {
					cfg.ServerName = sni
				}
			}
			hu.tls = cfg
		}
		p.urls = append(p.urls, hu)
	}
	return p, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (p *httpProber) steps() int { return len(p.urls) }

func (p *httpProber) probe(ctx context.Context, step int) outcome {
	if step < 0 || step >= len(p.urls) {
		step = 0
	}
	u := &p.urls[step]
	f := Fetch{Dialer: p.d, Conn: p.conn, TLS: u.tls, Request: u.req, Timeout: p.timeout}
	var rm *regexMatch
	if u.re != nil {
		rm = u.re.start()
		f.subject = rm
	}
	res, err := f.Do(ctx)
	matched := false
	if rm != nil {
		matched = rm.Close()
	}
	who := " server " + RSKey(p.conn.Dst) + " url(" + u.path + ")"
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) {
			return failed(fe.Msg + who + ": " + errString(fe.Err))
		}
		return failed(err.Error())
	}
	if res.Header == nil {
		return failed("Read, no data received from" + who)
	}
	code := res.Header.StatusCode()
	if !statusIn(code, u.codes) {
		return failed(fmt.Sprintf("HTTP status code error to%s: got %d", who, code))
	}
	msg := "HTTP status code"
	if u.hasDigest {
		if res.Digest != u.digest {
			return failed(fmt.Sprintf("MD5 digest error to%s: got %x", who, res.Digest))
		}
		msg = "MD5 digest"
	}
	if u.re != nil {
		// keepalived check_http.c: "if (req->regex_matched ==
		// url->regex_no_match) ... Regex match failed".
		if matched == u.re.noMatch {
			want := "match"
			if u.re.noMatch {
				want = "no match"
			}
			return failed(fmt.Sprintf("Regex match failed to%s: want %s of %q", who, want, u.re.re.String()))
		}
		msg = "Regex match"
	}
	return passed(msg + " success to" + who)
}

func statusIn(code int, set []StatusRange) bool {
	for _, r := range set {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// buildHTTP is HTTP_GET's and SSL_GET's row of kinds.
func buildHTTP(a *probeArgs) (prober, error) {
	a.c.spec.fast = a.chk.HTTP.FastRecovery
	return newHTTPProber(a.r.dialer, a.conn, a.t.connectTimeout, &a.chk.HTTP, a.chk.Kind == KindSSL,
		a.rc.Virtualhost, a.v.Virtualhost)
}

// httpSettings are HTTP_GET's and SSL_GET's settings, without the TLS
// client configuration (rebuilt at each reload).
func httpSettings(c *Check) any {
	h := c.HTTP
	h.TLS = nil
	return h
}

package health

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// httpBufLen is keepalived's MAX_BUFFER_LENGTH: a read fills at most this
// many bytes minus one, and the header must fit in that buffer.
const httpBufLen = 4096

// Fetch is one GET as keepalived's HTTP_GET, SSL_GET and genhash do it:
// connect, optional TLS handshake, send the request, read to EOF and digest
// the body with MD5.
type Fetch struct {
	// Dialer opens the TCP connection (NetDialer when nil).
	Dialer Dialer
	// Conn is the destination and socket options.
	Conn Conn
	// TLS, when not nil, makes this an SSL_GET. ServerName selects SNI
	// (empty: none); certificates are verified only if the configuration
	// asks for it.
	TLS *tls.Config
	// Request is the request to send (see AppendRequest).
	Request []byte
	// Timeout bounds the connect, the handshake, the write and each read
	// (keepalived's connect_timeout). Zero means no bound.
	Timeout time.Duration
	// Trace, when set, sees the reply as keepalived's genhash -v prints it.
	Trace *FetchTrace

	// subject, when set, receives the response as keepalived's regex sees
	// it: once body bytes arrive, the header block and then every body
	// byte received (not bounded by Content-Length).
	subject io.Writer
}

// FetchTrace receives the reply read by read, in keepalived's buffer
// boundaries (genhash -v prints these).
type FetchTrace struct {
	// HeaderRead is called for every read while the header is incomplete.
	HeaderRead func()
	// Header is called once with the header block (ending CRLF CRLF).
	Header func(h []byte)
	// Body is called with the digested body bytes of each read; first is
	// set for the bytes that came with the header. It must not retain b.
	Body func(b []byte, first bool)
}

// FetchResult is what came back.
type FetchResult struct {
	// Header is nil when no complete header arrived before EOF.
	Header *ResponseHeader
	// ContentLength is the Content-Length or -1.
	ContentLength int64
	// BodyLen counts the body bytes received (after the header).
	BodyLen int64
	// Digest is the MD5 of the body, bounded by Content-Length.
	Digest [md5.Size]byte
}

// FetchError is a failed fetch, with keepalived's message for it (which
// genhash prints).
type FetchError struct {
	// Msg is keepalived's wording: "Connection failed", "Timeout
	// connecting", "Timeout WEB read", ...
	Msg string
	Err error
}

// Error returns the message with the underlying error.
func (e *FetchError) Error() string {
	if e.Err == nil {
		return "health: " + e.Msg
	}
	return "health: " + e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FetchError) Unwrap() error { return e.Err }

// Do performs the fetch.
func (f *Fetch) Do(ctx context.Context) (*FetchResult, error) {
	d := f.Dialer
	if d == nil {
		d = NetDialer{}
	}
	dctx := ctx
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	c, err := d.DialContext(dctx, "tcp", f.Conn)
	if err != nil {
		return nil, connectError(err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if f.TLS != nil {
		cfg := f.TLS.Clone()
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			// Verify against the address when no name is given; Go sends
			// no SNI for an IP literal.
			cfg.ServerName = f.Conn.Dst.Addr().String()
		}
		tc := tls.Client(c, cfg)
		f.deadline(c)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &FetchError{Msg: "SSL handshake/communication error connecting to", Err: err}
		}
		c = tc
	}
	f.deadline(c)
	if _, err := c.Write(f.Request); err != nil {
		if isTimeout(err) {
			return nil, &FetchError{Msg: "Timeout WEB write", Err: err}
		}
		return nil, &FetchError{Msg: "Cannot send get request to", Err: err}
	}
	return f.read(c)
}

func (f *Fetch) deadline(c net.Conn) {
	if f.Timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(f.Timeout))
	}
}

// read follows check_http.c http_read_thread/http_process_response: bytes
// accumulate until the header is complete, then every read is digested
// and dropped.
func (f *Fetch) read(c net.Conn) (*FetchResult, error) {
	var buf [httpBufLen]byte
	res := &FetchResult{ContentLength: -1}
	h := md5.New()
	n := 0
	var header []byte // kept for the subject until the body starts
	subject := func(b []byte) {
		if f.subject == nil || len(b) == 0 {
			return
		}
		if header != nil {
			_, _ = f.subject.Write(header)
			header = nil
		}
		_, _ = f.subject.Write(b)
	}
	tr := f.Trace
	if tr == nil {
		tr = &FetchTrace{}
	}
	digest := func(b []byte, first bool) {
		// Bounded by Content-Length as keepalived bounds EVP_DigestUpdate.
		if res.ContentLength >= 0 {
			if res.ContentLength <= res.BodyLen {
				return
			}
			if left := res.ContentLength - res.BodyLen; int64(len(b)) > left {
				b = b[:left]
			}
		}
		h.Write(b)
		if tr.Body != nil {
			tr.Body(b, first)
		}
	}
	for reads := 0; ; reads++ {
		if n == httpBufLen-1 {
			// keepalived asks read() for 0 bytes and takes the 0 for EOF.
			break
		}
		f.deadline(c)
		r, err := c.Read(buf[n : httpBufLen-1])
		if r > 0 {
			n += r
			if res.Header == nil {
				if tr.HeaderRead != nil {
					tr.HeaderRead()
				}
				if end := headerEnd(buf[:n]); end >= 0 {
					hdr, perr := ParseResponseHeader(buf[:end])
					if perr != nil {
						// An empty status line: keepalived goes on with
						// status 0; so do we, through an empty header.
						hdr = &ResponseHeader{}
					}
					res.Header = hdr
					res.ContentLength = hdr.ContentLength()
					if tr.Header != nil {
						tr.Header(buf[:end])
					}
					if f.subject != nil {
						header = append([]byte{}, buf[:end]...)
					}
					if end < n {
						digest(buf[end:n], true)
						subject(buf[end:n])
					}
					res.BodyLen = int64(n - end)
					n = 0
				}
			} else {
				digest(buf[:n], false)
				subject(buf[:n])
				res.BodyLen += int64(n)
				n = 0
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if isTimeout(err) {
				msg := "Timeout HTTP read"
				if reads == 0 {
					msg = "Timeout WEB read"
				}
				return nil, &FetchError{Msg: msg, Err: err}
			}
			return nil, &FetchError{Msg: "Read error with", Err: err}
		}
	}
	copy(res.Digest[:], h.Sum(nil))
	return res, nil
}

// connectError gives a dial error keepalived's wording: a timeout, a
// network found unreachable at connect() time, or any other failure.
func connectError(err error) error {
	switch {
	case isTimeout(err):
		return &FetchError{Msg: "Timeout connecting", Err: err}
	case errors.Is(err, syscall.ENETUNREACH):
		return &FetchError{Msg: "HTTP_CHECK - network unreachable", Err: err}
	default:
		return &FetchError{Msg: "Connection failed", Err: err}
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// maxRequest bounds a request's size: a client must not make the daemon
// buffer without end.
const maxRequest = 64 << 10

// Defaults of a Server.
const (
	// DefaultMaxConns bounds the connections served at once: more wait in
	// the kernel's backlog, costing the daemon no descriptor.
	DefaultMaxConns = 16
	// DefaultRequestTimeout is how long a client has to send its request
	// (ulvsadm sends it at once).
	DefaultRequestTimeout = 3 * time.Second
	// DefaultWriteTimeout bounds writing the answer to a client that
	// does not read.
	DefaultWriteTimeout = 10 * time.Second
)

// Listen creates the control socket at path with mode 0600 (root only),
// replacing a stale one. The socket is bound inside a private directory
// (mode 0700) and renamed into place, so it never exists at path with a
// looser mode, whatever the umask (a socket's mode comes from the umask
// at bind, and a chmod afterwards leaves a window).
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("ctl: another daemon answers on %s", path)
	}
	priv, err := os.MkdirTemp(dir, ".ulvsd-sock-")
	if err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	defer os.RemoveAll(priv)
	tmp := filepath.Join(priv, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	// Close must not unlink tmp (gone) but the socket's real path.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ctl: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ctl: %w", err)
	}
	return &listener{UnixListener: ln, path: path}, nil
}

// listener removes the socket's path when closed.
type listener struct {
	*net.UnixListener
	path string
}

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if !errors.Is(err, net.ErrClosed) {
		_ = os.Remove(l.path)
	}
	return err
}

// Server answers the control socket: one JSON request per connection, from
// root or the daemon's own user only, a bounded number at once, each within
// its timeouts.
type Server struct {
	Handler Handler
	// MaxConns bounds the connections served at once (default
	// DefaultMaxConns); further clients wait in the listen backlog.
	MaxConns int
	// RequestTimeout and WriteTimeout bound reading a request and writing
	// its answer (defaults DefaultRequestTimeout, DefaultWriteTimeout).
	RequestTimeout, WriteTimeout time.Duration
	// Logger receives refused peers and accept errors (nil: none).
	Logger *zap.Logger

	// onConn sees connections start (+1) and end (-1), for tests.
	onConn func(delta int32)
}

// Serve answers requests on ln with h until ctx ends or ln is closed (see
// Server).
func Serve(ctx context.Context, ln net.Listener, h Handler) error {
	return (&Server{Handler: h}).Serve(ctx, ln)
}

// Serve answers requests on ln until ctx ends or ln is closed; it returns
// nil then. An accept error (the daemon out of descriptors, say) does not
// stop it: it waits, up to a second, and accepts again.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	max := s.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	log := s.Logger
	if log == nil {
		log = zap.NewNop()
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	slots := make(chan struct{}, max)
	var backoff time.Duration
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		c, err := ln.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// As net/http does: back off and try again. The error is
			// the daemon's (EMFILE, ENFILE, ENOBUFS), never the
			// client's; it may pass.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
				log.Warn("control socket: accept failed; retrying", zap.Error(err))
			} else {
				backoff = min(2*backoff, time.Second)
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if backoff != 0 {
			log.Info("control socket: accepting again")
			backoff = 0
		}
		go func() {
			defer func() { <-slots }()
			s.serveConn(ctx, c, log)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, log *zap.Logger) {
	if s.onConn != nil {
		s.onConn(1)
		defer s.onConn(-1)
	}
	defer c.Close()
	rt, wt := s.RequestTimeout, s.WriteTimeout
	if rt <= 0 {
		rt = DefaultRequestTimeout
	}
	if wt <= 0 {
		wt = DefaultWriteTimeout
	}
	answer := func(resp *Response) {
		_ = c.SetWriteDeadline(time.Now().Add(wt))
		_ = json.NewEncoder(c).Encode(resp)
	}
	_ = c.SetReadDeadline(time.Now().Add(rt))
	if uc, ok := c.(*net.UnixConn); ok {
		if err := checkPeer(uc); err != nil {
			if ce := log.Check(zap.WarnLevel, "control socket: peer refused"); ce != nil {
				ce.Write(zap.Error(err))
			}
			// Read the request (and drop it) so that the client's send
			// succeeds and it reads why.
			_, _ = ReadRequest(c)
			answer(&Response{Error: err.Error()})
			return
		}
	}
	req, err := ReadRequest(c)
	if err != nil {
		answer(&Response{Error: err.Error()})
		return
	}
	resp := s.Handler.Handle(ctx, req)
	if resp == nil {
		resp = &Response{Error: "no answer"}
	}
	answer(resp)
}

// ReadRequest decodes one request from r, reading at most 64 KiB. The
// error names what is wrong ("bad request: ...").
func ReadRequest(r io.Reader) (*Request, error) {
	lr := &io.LimitedReader{R: r, N: maxRequest + 1}
	dec := json.NewDecoder(lr)
	var req Request
	if err := dec.Decode(&req); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("bad request: longer than %d bytes", maxRequest)
		}
		return nil, fmt.Errorf("bad request: %w", err)
	}
	if req.Op == "" {
		return nil, errors.New("bad request: no op")
	}
	return &req, nil
}

// EncodeRequest is the request as Call sends it: one JSON line.
func EncodeRequest(req *Request) ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(req); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

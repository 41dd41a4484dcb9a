//go:build unix

package notify

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
)

// FIFO is a notify FIFO open for writing. Like keepalived it creates the
// FIFO when missing (mode 0600, then chown to the configured user and
// group), opens it read-write and non-blocking so that a missing reader
// never stalls the writer, and removes the FIFO on Close only if it
// created it.
type FIFO struct {
	path    string
	mu      sync.Mutex
	fd      int // -1 once closed
	created bool
}

// OpenFIFO opens the FIFO spec names, creating it when missing; its User
// and Group apply only to a FIFO it creates.
func OpenFIFO(spec FIFOSpec) (*FIFO, error) {
	path := spec.Path
	w := &FIFO{path: path, fd: -1}
	switch err := syscall.Mkfifo(path, 0o600); {
	case err == nil:
		w.created = true
		if spec.User != "" {
			if err := chown(path, spec.User, spec.Group); err != nil {
				_ = os.Remove(path)
				return nil, fmt.Errorf("notify fifo %s: %w", path, err)
			}
		}
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	st, err := os.Lstat(path)
	if err == nil && st.Mode()&os.ModeNamedPipe == 0 {
		err = errors.New("not a FIFO")
	}
	if err == nil {
		// A raw descriptor, not an os.File: the runtime poller would park
		// a write to a full FIFO until a reader drains it, and a notify
		// FIFO nobody reads must never stall VRRP or the checkers.
		w.fd, err = syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		if w.created {
			_ = os.Remove(path)
		}
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	return w, nil
}

func chown(path, owner, group string) error {
	u, err := user.Lookup(owner)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return os.Chown(path, uid, gid)
}

// Path is the FIFO's path.
func (w *FIFO) Path() string { return w.path }

// Write writes b, at once: a FIFO without room fails with EAGAIN (the
// line is lost, the caller logs it) instead of waiting. Lines up to
// PIPE_BUF (4096) bytes go whole or not at all, so lines from concurrent
// writers never interleave.
func (w *FIFO) Write(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return os.ErrClosed
	}
	for {
		n, err := syscall.Write(w.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return err
		case n < len(b):
			return fmt.Errorf("notify fifo %s: short write (%d of %d bytes)", w.path, n, len(b))
		}
		return nil
	}
}

// Close closes the FIFO and removes it if OpenFIFO created it.
func (w *FIFO) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return nil
	}
	err := syscall.Close(w.fd)
	w.fd = -1
	if w.created {
		_ = os.Remove(w.path)
	}
	return err
}

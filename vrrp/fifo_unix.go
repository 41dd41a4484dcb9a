//go:build unix

package vrrp

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"

	"go.uber.org/zap"
)

// fifoWriter writes notify lines to a FIFO. Like keepalived it creates the
// FIFO when missing (and removes it again on close), opens it read-write
// and non-blocking so that a missing reader never stalls VRRP, and drops a
// line the FIFO has no room for.
type fifoWriter struct {
	log     *zap.Logger
	path    string
	f       *os.File
	created bool
	mu      sync.Mutex
}

func openFIFO(cfg FIFO, log *zap.Logger) (*fifoWriter, error) {
	w := &fifoWriter{log: log, path: cfg.Path}
	st, err := os.Stat(cfg.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := syscall.Mkfifo(cfg.Path, 0o600); err != nil {
			return nil, fmt.Errorf("vrrp: notify fifo %s: %w", cfg.Path, err)
		}
		w.created = true
		if cfg.User != "" {
			if err := chownTo(cfg.Path, cfg.User, cfg.Group); err != nil {
				_ = os.Remove(cfg.Path)
				return nil, err
			}
		}
	case err != nil:
		return nil, fmt.Errorf("vrrp: notify fifo %s: %w", cfg.Path, err)
	case st.Mode()&os.ModeNamedPipe == 0:
		return nil, fmt.Errorf("vrrp: notify fifo %s: not a FIFO", cfg.Path)
	}
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if w.created {
			_ = os.Remove(cfg.Path)
		}
		return nil, fmt.Errorf("vrrp: notify fifo %s: %w", cfg.Path, err)
	}
	w.f = f
	return w, nil
}

func chownTo(path, uname, gname string) error {
	u, err := user.Lookup(uname)
	if err != nil {
		return fmt.Errorf("vrrp: notify fifo %s: %w", path, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if gname != "" {
		g, err := user.LookupGroup(gname)
		if err != nil {
			return fmt.Errorf("vrrp: notify fifo %s: %w", path, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("vrrp: notify fifo %s: %w", path, err)
	}
	return nil
}

func (w *fifoWriter) write(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return
	}
	if _, err := w.f.WriteString(line); err != nil {
		w.log.Warn("notify fifo write failed", zap.String("fifo", w.path), zap.Error(err))
	}
}

func (w *fifoWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	if w.created {
		_ = os.Remove(w.path)
	}
}

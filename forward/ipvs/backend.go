package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// Config configures the IPVS backend. A nil *Config means the defaults.
type Config struct {
	// Flush empties the kernel's IPVS table at start (keepalived's
	// lvs_flush), removing services this backend did not add.
	Flush bool
	// KeepOnClose leaves the services in the kernel when the backend
	// closes (keepalived's --dont-release-ipvs).
	KeepOnClose bool
	// Logger receives the backend's logs (nil: none).
	Logger *zap.Logger
	// Clock is the time the backend reads and waits on (nil: the
	// system's).
	Clock Clock
}

// Clock is the time the backend reads and waits on: the system's, or a
// test's.
type Clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type systemClock struct{}

func (systemClock) Now() time.Time        { return time.Now() }
func (systemClock) Sleep(d time.Duration) { time.Sleep(d) }

// Backend is the kernel IPVS backend. It keeps the configuration it was
// given (what the daemon wants) and makes the kernel's table match it. Its
// methods are safe for concurrent use.
type Backend struct {
	// syncMu serialises the sync daemon's changes (SetSync, Close); it is
	// taken before mu, and held while a daemon settles, when mu is not.
	syncMu sync.Mutex
	mu     sync.Mutex
	k      kernel
	log    *zap.Logger
	clock  Clock
	cfg    Config
	svcs   map[forward.ServiceKey]*service
	// disabled are the VIPs whose services are out of the kernel table.
	disabled map[netip.Addr]bool
	connFile string
	closed   bool
	// syncRole, syncCfg and syncAt are the kernel sync daemon this
	// backend started, and when (written under syncMu and mu).
	syncRole forward.SyncRole
	syncCfg  forward.SyncConfig
	syncAt   time.Time
}

var _ forward.Backend = (*Backend)(nil)

// service is one virtual service as configured, and what of it is in the
// kernel.
type service struct {
	cfg   forward.ServiceConfig
	reals []forward.RealConfig // in the order they were added
	// inKernel: the service is in the kernel table (false while its VIP
	// is disabled).
	inKernel bool
	// sorryIn: the sorry server is one of the kernel's destinations.
	sorryIn bool
}

func newBackend(k kernel, cfg *Config) (*Backend, error) {
	b := &Backend{k: k, svcs: map[forward.ServiceKey]*service{}, disabled: map[netip.Addr]bool{}, connFile: procConn}
	if cfg != nil {
		b.cfg = *cfg
	}
	b.log, b.clock = b.cfg.Logger, b.cfg.Clock
	if b.log == nil {
		b.log = zap.NewNop()
	}
	if b.clock == nil {
		b.clock = systemClock{}
	}
	if b.cfg.Flush {
		if err := k.Flush(); err != nil {
			k.Close()
			return nil, fmt.Errorf("forward/ipvs: flush: %w", err)
		}
	}
	return b, nil
}

func (b *Backend) checkLocked() error {
	if b.closed {
		return errors.New("forward/ipvs: backend is closed")
	}
	return nil
}

func (b *Backend) sortedLocked() []*service {
	out := make([]*service, 0, len(b.svcs))
	for _, s := range b.svcs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y *service) int { return compareKey(x.cfg.Key, y.cfg.Key) })
	return out
}

func compareKey(a, b forward.ServiceKey) int {
	if a.FWMark != b.FWMark {
		return int(int64(a.FWMark) - int64(b.FWMark))
	}
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Port) - int(b.Port)
}

// Close stops the sync daemon this backend started, removes the backend's
// services from the kernel (unless KeepOnClose) and releases the netlink
// socket.
func (b *Backend) Close() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil
	}
	var errs []error
	if err := b.setSync(forward.SyncOff, forward.SyncConfig{}); err != nil {
		errs = append(errs, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if !b.cfg.KeepOnClose {
		for _, s := range b.sortedLocked() {
			if !s.inKernel {
				continue
			}
			if err := b.k.DelService(kservice(s.cfg)); err != nil && !errors.Is(err, forward.ErrNotFound) {
				errs = append(errs, fmt.Errorf("forward/ipvs: delete service %v: %w", s.cfg.Key, err))
			}
		}
	}
	b.k.Close()
	return errors.Join(errs...)
}

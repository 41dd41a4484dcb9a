package forward

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/forward/guard"
	"github.com/ulvs/ulvs/forward/ring"
)

// defaultLocalDevice names the local-delivery device.
const defaultLocalDevice = "ulvs-local"

// localDev is the TUN device through which the forwarder hands packets to
// the director's own stack: what is written to it arrives there as if
// received on it. It is not persistent, so it goes when its descriptor
// closes, even if the forwarder crashes.
type localDev struct {
	name  string
	fd    int
	index int
	// slots hold each worker's writev arguments, so that Inject allocates
	// nothing.
	slots []injectSlot
}

type injectSlot struct {
	hdr [ring.VnetHdrLen]byte
	iov [2]unix.Iovec
	_   [32]byte // keep workers off each other's cache lines
}

// openLocalDev creates the device: IFF_TUN without packet information and
// with virtio_net_hdr (partial checksums and GSO frames go in as they came),
// reverse-path filtering off and local sources accepted (the clients are
// not routed through it), no IPv6 link-local address (nothing for the
// kernel to send on it), and up.
func openLocalDev(name string, workers int, log *zap.Logger) (*localDev, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("forward: local device name %q too long", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("forward: local device: /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("forward: local device %s: TUNSETIFF: %w", name, e)
	}
	d := &localDev{name: name, fd: fd, slots: make([]injectSlot, workers)}
	link, err := netlink.LinkByName(name)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("forward: local device %s: %w", name, err)
	}
	d.index = link.Attrs().Index
	for _, s := range []struct{ path, value string }{
		{"ipv4/conf/" + name + "/rp_filter", "0"},
		{"ipv4/conf/" + name + "/accept_local", "1"},
		{"ipv6/conf/" + name + "/addr_gen_mode", "1"},
	} {
		if err := os.WriteFile("/proc/sys/net/"+s.path, []byte(s.value), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.close()
			return nil, fmt.Errorf("forward: local device %s: %s: %w", name, s.path, err)
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/rp_filter"); err == nil && strings.TrimSpace(string(b)) == "1" {
		log.Warn("net.ipv4.conf.all.rp_filter is 1 (strict): IPv4 packets delivered to local real servers will be dropped; set it to 0 or 2")
	}
	if err := netlink.LinkSetUp(link); err != nil {
		d.close()
		return nil, fmt.Errorf("forward: local device %s up: %w", name, err)
	}
	log.Info("local delivery device ready", zap.String("device", name))
	return d, nil
}

// inject writes one packet with its offload header (one writev, which the
// kernel handles as one received packet).
func (d *localDev) inject(worker int, vh *ring.VnetHdr, pkt []byte) bool {
	if worker >= len(d.slots) || len(pkt) == 0 {
		return false
	}
	s := &d.slots[worker]
	vh.Encode(s.hdr[:])
	s.iov[0].Base = &s.hdr[0]
	s.iov[0].SetLen(len(s.hdr))
	s.iov[1].Base = &pkt[0]
	s.iov[1].SetLen(len(pkt))
	_, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(d.fd), uintptr(unsafe.Pointer(&s.iov[0])), 2)
	s.iov[1].Base = nil // must not retain pkt
	return e == 0
}

func (d *localDev) close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// localInjector is the engine's injector: the device, once the resolver
// has opened it.
type localInjector struct {
	dev atomic.Pointer[localDev]
}

// Inject implements injector.
func (l *localInjector) Inject(worker int, vh *ring.VnetHdr, pkt []byte) bool {
	d := l.dev.Load()
	return d != nil && d.inject(worker, vh, pkt)
}

// localState is the resolver's view of local delivery.
type localState struct {
	mu     sync.Mutex
	name   string
	inj    *localInjector
	dev    *localDev
	failed string // the last error opening the device
	// seen maps the handles of real servers found local to their address
	// (a handle may be reused by another real server later).
	seen map[uint32]netip.Addr
	// why is the last problem logged per handle, so that it is logged once.
	why map[uint32]string
	// maps are the port maps the guard holds, once applied.
	maps    []guard.PortMap
	applied bool
}

// noteLocal records what the resolver found about r: local or not. It
// reports whether that changed.
func (io *uio) noteLocal(r *real, local bool) bool {
	ls := &io.local
	ls.mu.Lock()
	defer ls.mu.Unlock()
	a, was := ls.seen[r.handle]
	was = was && a == r.cfg.Addr
	switch {
	case local && !was:
		ls.seen[r.handle] = r.cfg.Addr
		return true
	case !local && was:
		delete(ls.seen, r.handle)
		return true
	}
	return false
}

// syncLocal gives local real servers their local hop once delivery to them
// can work: the service's VIP is an address of the director (the packet
// keeps it as destination), the local real servers of one service agree on
// the port they take the service's traffic on (the guard maps one port per
// service), and the device and the guard's rules are in place. It installs
// the port maps before any local hop that needs them, and clears a hop
// before the map it needed goes. It republishes the snapshot when a real
// server becomes local or stops being so (NAT replies are not expected from
// a local one).
func (io *uio) syncLocal(membershipChanged bool) {
	ls := &io.local
	g := &io.u.e.reg
	log := io.u.e.log
	ls.mu.Lock()
	defer ls.mu.Unlock()

	var cands []localCandidate
	g.mu.Lock()
	for h, a := range ls.seen {
		if int(h) >= len(g.reals) || g.reals[h] == nil || g.reals[h].cfg.Addr != a {
			delete(ls.seen, h)
			continue
		}
		r := g.reals[h]
		k := r.svc.cfg.Key
		c := localCandidate{r: r, vip: k.Addr, proto: k.Proto, vport: k.Port, removed: r.removed}
		if r.cfg.Port != 0 && r.cfg.Port != k.Port {
			c.to = r.cfg.Port
		}
		cands = append(cands, c)
	}
	g.mu.Unlock()
	slices.SortFunc(cands, func(a, b localCandidate) int { return int(a.r.handle) - int(b.r.handle) })
	ok, maps, problem := planLocal(cands, isLocalAddr)
	if len(ok) > 0 && ls.dev == nil {
		d, err := openLocalDev(ls.name, len(io.workers), log)
		if err != nil {
			// Tried again every second, logged when the error changes; the
			// forwarder goes on without local delivery meanwhile.
			if msg := err.Error(); msg != ls.failed {
				ls.failed = msg
				log.Error("local delivery unavailable: real servers on this director get nothing", zap.Error(err))
			}
		} else {
			ls.failed = ""
			ls.dev = d
			ls.inj.dev.Store(d)
		}
	}
	if ls.dev == nil {
		for _, c := range ok {
			problem[c.r.handle] = "no local delivery device"
		}
		ok, maps = nil, nil
	}
	flipped := false
	// Hops that can no longer be used go first, then the rules change,
	// then the new hops appear.
	for _, c := range cands {
		if _, bad := problem[c.r.handle]; bad && c.r.local() {
			c.r.hop.Store(nil)
			flipped = true
		}
	}
	if ls.dev != nil && (!ls.applied || !slices.Equal(maps, ls.maps)) {
		if err := io.guard.SetLocal(guard.Local{Device: ls.name, Maps: maps}); err != nil {
			log.Error("local delivery rules not applied", zap.Error(err))
			for _, c := range ok {
				problem[c.r.handle] = "local delivery rules not applied"
				if c.r.local() {
					c.r.hop.Store(nil)
					flipped = true
				}
			}
			ok = nil
		} else {
			ls.maps, ls.applied = maps, true
		}
	}
	for _, c := range ok {
		if !c.r.local() {
			c.r.hop.Store(&hop{local: true, ifindex: ls.dev.index})
			flipped = true
			log.Info("real server is local: delivered to this director's own stack", zap.Stringer("real", c.r.cfg.Addr),
				zap.Uint16("port", c.r.cfg.Port), zap.Stringer("vip", c.vip))
		}
	}
	// Each problem is logged when it appears or changes, not every second.
	for _, c := range cands {
		h := c.r.handle
		why, bad := problem[h]
		switch {
		case !bad:
			delete(ls.why, h)
		case ls.why[h] != why:
			ls.why[h] = why
			if c.removed {
				break
			}
			log.Warn("local real server unreachable", zap.Stringer("real", c.r.cfg.Addr), zap.Uint16("port", c.r.cfg.Port),
				zap.String("reason", why))
		}
	}
	for h := range ls.why {
		if _, ok := ls.seen[h]; !ok {
			delete(ls.why, h)
		}
	}
	if flipped || membershipChanged {
		g.mu.Lock()
		io.u.publishLocked()
		g.mu.Unlock()
	}
}

// isLocalAddr reports whether a is an address of this director (the
// kernel's route to it is of type local).
func isLocalAddr(a netip.Addr) bool {
	rts, err := netlink.RouteGet(net.IP(a.AsSlice()))
	return err == nil && len(rts) > 0 && rts[0].Type == unix.RTN_LOCAL
}

// closeLocal closes the device (after the workers stopped).
func (io *uio) closeLocal() error {
	ls := &io.local
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.dev == nil {
		return nil
	}
	ls.inj.dev.Store(nil)
	err := ls.dev.close()
	ls.dev = nil
	return err
}

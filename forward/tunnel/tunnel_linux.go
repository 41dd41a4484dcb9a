package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Config configures a decapsulator.
type Config struct {
	// Device is the TUN device's name (default "ulvstun0").
	Device string
	// Addrs are put on the device (for example the VIPs, as /32 or /128),
	// and go with it.
	Addrs []netip.Prefix
	// Logger receives what happens (nil: nothing).
	Logger *zap.Logger
}

// Stats counts packets.
type Stats struct {
	Decapsulated, Malformed uint64
}

// Run decapsulates until ctx ends, then removes the device. It needs
// CAP_NET_ADMIN and CAP_NET_RAW.
func Run(ctx context.Context, cfg Config) error {
	d, err := Open(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Serve(ctx)
}

// Decap is an open decapsulator.
type Decap struct {
	cfg   Config
	tun   *os.File
	raws  []*os.File
	log   *zap.Logger
	mu    sync.Mutex
	stats Stats
}

// Open creates the TUN device and the raw sockets.
func Open(cfg Config) (*Decap, error) {
	if cfg.Device == "" {
		cfg.Device = "ulvstun0"
	}
	if len(cfg.Device) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tunnel: device name %q too long", cfg.Device)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	d := &Decap{cfg: cfg, log: cfg.Logger.With(zap.String("device", cfg.Device))}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tunnel: /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], cfg.Device)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tunnel: TUNSETIFF %s: %w", cfg.Device, e)
	}
	d.tun = os.NewFile(uintptr(fd), "/dev/net/tun")
	link, err := netlink.LinkByName(cfg.Device)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("tunnel: %s: %w", cfg.Device, err)
	}
	for _, p := range cfg.Addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if err := netlink.AddrAdd(link, a); err != nil {
			d.Close()
			return nil, fmt.Errorf("tunnel: %s: add %v: %w", cfg.Device, p, err)
		}
	}
	// The inner packets come from clients that are not routed via this
	// device: strict reverse-path filtering would drop them.
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+cfg.Device+"/rp_filter", []byte("0"), 0o644)
	if b, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/rp_filter"); err == nil && strings.TrimSpace(string(b)) == "1" {
		d.log.Warn("net.ipv4.conf.all.rp_filter is 1 (strict): tunnelled IPv4 packets will be dropped; set it to 0 or 2")
	}
	if err := netlink.LinkSetUp(link); err != nil {
		d.Close()
		return nil, fmt.Errorf("tunnel: %s up: %w", cfg.Device, err)
	}
	for _, s := range []struct{ family, proto int }{{unix.AF_INET, unix.IPPROTO_IPIP}, {unix.AF_INET6, unix.IPPROTO_IPV6}} {
		rfd, err := unix.Socket(s.family, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, s.proto)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("tunnel: raw socket for protocol %d: %w", s.proto, err)
		}
		d.raws = append(d.raws, os.NewFile(uintptr(rfd), fmt.Sprintf("raw-%d", s.proto)))
	}
	d.log.Info("decapsulator ready", zap.Stringers("addrs", cfg.Addrs))
	return d, nil
}

// Serve decapsulates until ctx ends.
func (d *Decap) Serve(ctx context.Context) error {
	errc := make(chan error, len(d.raws))
	for i, f := range d.raws {
		go func() { errc <- d.loop(f, i == 0) }()
	}
	select {
	case <-ctx.Done():
		for _, f := range d.raws {
			f.Close()
		}
		for range d.raws {
			<-errc
		}
		return nil
	case err := <-errc:
		return err
	}
}

// loop reads tunnelled packets: an IPv4 raw socket returns the outer header
// too; an IPv6 one only the payload (the inner packet).
func (d *Decap) loop(f *os.File, outerIncluded bool) error {
	buf := make([]byte, 65536)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("tunnel: read: %w", err)
		}
		inner := buf[:n]
		if outerIncluded {
			if n < 20 || buf[0]>>4 != 4 {
				d.count(false)
				continue
			}
			ihl := int(buf[0]&0x0f) * 4
			if ihl < 20 || ihl > n {
				d.count(false)
				continue
			}
			inner = buf[ihl:n]
		}
		if len(inner) == 0 || (inner[0]>>4 != 4 && inner[0]>>4 != 6) {
			d.count(false)
			continue
		}
		if _, err := d.tun.Write(inner); err != nil {
			d.log.Debug("tun write", zap.Error(err))
			continue
		}
		d.count(true)
	}
}

func (d *Decap) count(ok bool) {
	d.mu.Lock()
	if ok {
		d.stats.Decapsulated++
	} else {
		d.stats.Malformed++
	}
	d.mu.Unlock()
}

// Stats returns the counters.
func (d *Decap) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close closes the sockets and removes the device.
func (d *Decap) Close() error {
	var errs []error
	for _, f := range d.raws {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if d.tun != nil {
		errs = append(errs, d.tun.Close())
	}
	return errors.Join(errs...)
}

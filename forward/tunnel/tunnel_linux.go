package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
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
	cfg  Config
	tun  *os.File
	raws []*os.File
	log  *zap.Logger

	decapsulated, malformed atomic.Uint64
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
		if err := unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			_ = unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
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

// batch is how many packets one recvmmsg may return.
const batch = 64

// rcvbuf is each raw socket's receive buffer. The default (about 200 KiB,
// a few hundred small packets once the kernel's per-packet overhead is
// counted) overflows in a millisecond of a flood while the decapsulator
// waits for a CPU; /proc/net/raw's drops column showed it.
const rcvbuf = 8 << 20

// loop reads tunnelled packets, up to batch at a time with recvmmsg, and
// writes each inner packet to the TUN device: an IPv4 raw socket returns
// the outer header too; an IPv6 one only the payload (the inner packet).
func (d *Decap) loop(f *os.File, outerIncluded bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}
	bufs := make([][]byte, batch)
	iovs := make([]unix.Iovec, batch)
	msgs := make([]unix.Mmsghdr, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	var n int
	var rerr error
	recv := func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, rerr = int(r), nil
		if e != 0 {
			n, rerr = 0, e
		}
		return true
	}
	for {
		if err := rc.Read(recv); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("tunnel: read: %w", err)
		}
		if rerr != nil {
			return fmt.Errorf("tunnel: recvmmsg: %w", rerr)
		}
		for i := range n {
			d.deliver(bufs[i][:msgs[i].Len], outerIncluded)
		}
	}
}

// deliver writes one tunnelled packet's inner packet to the TUN device.
func (d *Decap) deliver(pkt []byte, outerIncluded bool) {
	inner := pkt
	if outerIncluded {
		if len(pkt) < 20 || pkt[0]>>4 != 4 {
			d.malformed.Add(1)
			return
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || ihl > len(pkt) {
			d.malformed.Add(1)
			return
		}
		inner = pkt[ihl:]
	}
	if len(inner) == 0 || (inner[0]>>4 != 4 && inner[0]>>4 != 6) {
		d.malformed.Add(1)
		return
	}
	if _, err := d.tun.Write(inner); err != nil {
		d.log.Debug("tun write", zap.Error(err))
		return
	}
	d.decapsulated.Add(1)
}

// Stats returns the counters.
func (d *Decap) Stats() Stats {
	return Stats{Decapsulated: d.decapsulated.Load(), Malformed: d.malformed.Load()}
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

package forward

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/forward/ring"
	"github.com/ulvs/ulvs/forward/xsk"
)

// rxSource is a worker's frame input: an AF_PACKET ring or an AF_XDP
// socket. recv waits for frames (until wake), which alias the source's
// memory until the next recv.
type rxSource interface {
	recv(out []ring.Frame) (int, error)
	wake()
	close() error
}

// ringRx is an AF_PACKET receive ring.
type ringRx struct{ r *ring.Ring }

func (x ringRx) recv(out []ring.Frame) (int, error) { return x.r.Recv(out, 0) }
func (x ringRx) wake()                              { x.r.Wake() }
func (x ringRx) close() error                       { return x.r.Close() }

// xskRx is an AF_XDP socket's receive side.
type xskRx struct {
	s       *xsk.Socket
	bufs    [][]byte
	ifindex int
}

func (x *xskRx) recv(out []ring.Frame) (int, error) {
	n, err := x.s.Recv(x.bufs[:min(len(out), len(x.bufs))], 0)
	if errors.Is(err, xsk.ErrClosed) {
		return 0, ring.ErrClosed
	}
	for i := range n {
		// XDP hands over host frames only (the program passes multicast
		// and broadcast), with no offload metadata.
		out[i] = ring.Frame{Data: x.bufs[i], Ifindex: x.ifindex}
	}
	return n, err
}

func (x *xskRx) wake()        { x.s.Wake() }
func (x *xskRx) close() error { return x.s.Close() }

// xskTx transmits a worker's frames: those that leave by the interface
// they came in on through its AF_XDP socket (in place when they are its
// received frames), others through an AF_PACKET sender.
type xskTx struct {
	s       *xsk.Socket
	ifindex int
	other   *ring.Sender
	// failed counts the kicks that failed (their frames wait on the ring).
	failed  uint64
	lastErr error
}

var _ txer = (*xskTx)(nil)

func (t *xskTx) Add(ifindex int, vh *ring.VnetHdr, head, body []byte) bool {
	if ifindex != t.ifindex {
		return t.other.Add(ifindex, vh, head, body)
	}
	// No room on the TX ring or in the UMEM: the caller counts
	// transmit_full.
	return t.s.Add(head, body)
}

func (t *xskTx) Full() bool { return t.s.Full() || t.other.Full() }

func (t *xskTx) Flush() error {
	if err := t.s.Flush(); err != nil {
		t.failed++
		t.lastErr = err
	}
	return t.other.Flush()
}

func (t *xskTx) failures() (uint64, error) {
	if t.other.LastErr != nil && t.lastErr == nil {
		return t.failed + t.other.Failed, t.other.LastErr
	}
	return t.failed + t.other.Failed, t.lastErr
}

// xdpIface is an interface running on AF_XDP.
type xdpIface struct {
	prog    *xsk.Program
	sockets []*xsk.Socket
	// last cumulative socket statistics and program counters, to add
	// their growth to the drop counters
	last     []xsk.Stats
	lastProg xsk.Counters
}

// planXDP loads the XDP program on an interface and returns it with the
// number of receive queues (one socket and one worker each), or why
// AF_XDP cannot run there.
func planXDP(x iface, fastFlows int) (*xsk.Program, int, error) {
	l, err := netlink.LinkByIndex(x.index)
	if err != nil {
		return nil, 0, err
	}
	// A frame must fit one UMEM frame behind XDP's 256-byte headroom
	// (multi-buffer frames are left out).
	if x.mtu+18 > 4096-256 {
		return nil, 0, fmt.Errorf("MTU %d does not fit an AF_XDP frame (at most %d without multi-buffer)", x.mtu, 4096-256-18)
	}
	if xd := l.Attrs().Xdp; xd != nil && xd.Attached {
		return nil, 0, fmt.Errorf("another XDP program (id %d) is attached", xd.ProgId)
	}
	queues, err := rxQueues(x.name)
	if err != nil {
		return nil, 0, err
	}
	prog, err := xsk.Attach(x.index, fastFlows)
	if err != nil {
		return nil, 0, err
	}
	return prog, queues, nil
}

// rxQueues returns the receive queues an interface uses (ethtool's
// channels: rx plus combined), 1 for a driver that does not say.
func rxQueues(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	// struct ethtool_channels: cmd, max_rx, max_tx, max_other,
	// max_combined, rx_count, tx_count, other_count, combined_count.
	var ch [9]uint32
	ch[0] = unix.ETHTOOL_GCHANNELS
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(&ch))
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ch)
	switch {
	case e == unix.EOPNOTSUPP:
		return 1, nil
	case e != 0:
		return 0, fmt.Errorf("ethtool channels: %w", e)
	}
	return max(int(ch[5]+ch[8]), 1), nil
}

// isVeth reports whether frames on the interface may carry partial
// checksums that XDP cannot see: a veth's peer hands its offloaded
// checksums over as they are.
func isVeth(index int) bool {
	l, err := netlink.LinkByIndex(index)
	return err == nil && l.Type() == "veth"
}

// localAddrs are the director's own addresses (every interface).
func localAddrs() []netip.Addr {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// syncXDP gives the XDP programs the guard's tuples and the director's
// addresses.
func (io *uio) syncXDP(svcs, nat []xsk.Tuple) {
	if len(io.xdp) == 0 {
		return
	}
	locals := localAddrs()
	for _, x := range io.xdp {
		if err := x.prog.Sync(svcs, nat, locals); err != nil {
			io.u.e.log.Error("XDP maps not applied: covered traffic may reach the kernel (the guard drops it)", zap.Error(err))
		}
	}
}

// pollXDP adds the growth of the sockets' and programs' drop counts to the
// drop counters: frames the socket had no room for (RX ring full, fill
// ring empty) and covered frames on a queue without a socket are
// receive_overflow; invalid TX descriptors are transmit_error.
func (io *uio) pollXDP() {
	d := &io.u.e.drops
	for _, x := range io.xdp {
		for i, s := range x.sockets {
			st, err := s.Stats()
			if err != nil {
				continue
			}
			l := x.last[i]
			d.rxOverflow.Add((st.Rx_dropped - l.Rx_dropped) + (st.Rx_ring_full - l.Rx_ring_full))
			d.txError.Add(st.Tx_invalid_descs - l.Tx_invalid_descs)
			x.last[i] = st
		}
		if c, err := x.prog.Counters(); err == nil {
			d.rxOverflow.Add(c.NoSocket - x.lastProg.NoSocket)
			x.lastProg = c
		}
	}
}

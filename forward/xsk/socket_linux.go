package xsk

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Recv after Wake.
var ErrClosed = errors.New("xsk: closed")

// Config describes a Socket.
type Config struct {
	// Ifindex and Queue name the receive queue the socket binds to.
	Ifindex, Queue int
	// Frames is the number of UMEM frames (default 4096), FrameSize their
	// size (default 2048; a power of two, 2048 or 4096).
	Frames, FrameSize int
	// RingSize is the size of the fill, completion, receive and transmit
	// rings (default 2048; a power of two).
	RingSize int
	// Copy forces copy mode; otherwise zero-copy is tried first.
	Copy bool
}

// Socket is one AF_XDP socket with its own UMEM. Recv, Add, Flush and
// Close belong to one goroutine; Wake and Stats may be called from any.
type Socket struct {
	fd        int
	file      *os.File
	rc        syscall.RawConn
	ready     func(uintptr) bool
	umem      []byte
	frameSize uint64
	shift     uint
	fill, tx  prodRing
	rx, comp  consRing
	// free holds the UMEM frames (their base addresses) that are neither
	// in the fill ring, nor handed out, nor being transmitted.
	free []uint64
	// state of every UMEM frame: owned by the kernel or free (0), handed
	// out by the last Recv (held), or queued for transmission (sending).
	state []uint8
	// held are the frames the last Recv handed out.
	held []uint64
	// pending counts descriptors on the TX ring not yet kicked.
	pending int
	// ZeroCopy reports whether the socket bound in zero-copy mode.
	ZeroCopy bool
	// Sent counts frames put on the TX ring; Kicks the sendto calls that
	// woke the kernel for them.
	Sent, Kicks uint64
	closed      atomic.Bool
	timed       bool
}

const (
	frameOwned   = 0
	frameHeld    = 1
	frameSending = 2
)

// ring is the part of an AF_XDP ring shared with the kernel.
type ring struct {
	mem        []byte
	prod, cons *uint32
	flags      *uint32
	desc       unsafe.Pointer
	mask       uint32
	size       uint32
}

// prodRing is a ring user space produces into (fill, TX).
type prodRing struct {
	ring
	cachedCons uint32
	local      uint32 // our producer index, published by submit
}

// consRing is a ring user space consumes from (RX, completion).
type consRing struct {
	ring
	cachedProd uint32
	local      uint32
}

// free reports how many entries a producer may add.
func (r *prodRing) room() uint32 {
	if n := r.size - (r.local - r.cachedCons); n > 0 {
		return n
	}
	r.cachedCons = atomic.LoadUint32(r.cons)
	return r.size - (r.local - r.cachedCons)
}

func (r *prodRing) submit() { atomic.StoreUint32(r.prod, r.local) }

func (r *consRing) avail() uint32 {
	if n := r.cachedProd - r.local; n > 0 {
		return n
	}
	r.cachedProd = atomic.LoadUint32(r.prod)
	return r.cachedProd - r.local
}

func (r *consRing) release() { atomic.StoreUint32(r.cons, r.local) }

func (r *ring) addr(i uint32) *uint64 {
	return (*uint64)(unsafe.Add(r.desc, uintptr(i&r.mask)*8))
}

func (r *ring) xdpDesc(i uint32) *unix.XDPDesc {
	return (*unix.XDPDesc)(unsafe.Add(r.desc, uintptr(i&r.mask)*unsafe.Sizeof(unix.XDPDesc{})))
}

func (r *ring) needWakeup() bool { return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0 }

func setsockopt(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), n, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Open creates the socket, its UMEM and rings, and binds it to the queue.
func Open(cfg Config) (*Socket, error) {
	if cfg.Frames == 0 {
		cfg.Frames = 4096
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = 2048
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = 2048
	}
	if cfg.FrameSize != 2048 && cfg.FrameSize != 4096 {
		return nil, fmt.Errorf("xsk: frame size %d (2048 or 4096)", cfg.FrameSize)
	}
	if cfg.RingSize&(cfg.RingSize-1) != 0 || cfg.RingSize > cfg.Frames {
		return nil, fmt.Errorf("xsk: ring size %d must be a power of two no larger than the frames (%d)", cfg.RingSize, cfg.Frames)
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("xsk: socket: %w", err)
	}
	s := &Socket{fd: fd, frameSize: uint64(cfg.FrameSize), state: make([]uint8, cfg.Frames)}
	for 1<<s.shift < cfg.FrameSize {
		s.shift++
	}
	fail := func(what string, err error) (*Socket, error) {
		s.Close()
		return nil, fmt.Errorf("xsk: ifindex %d queue %d: %s: %w", cfg.Ifindex, cfg.Queue, what, err)
	}
	s.umem, err = unix.Mmap(-1, 0, cfg.Frames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fail("UMEM mmap", err)
	}
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))), Len: uint64(len(s.umem)), Size: uint32(cfg.FrameSize)}
	if err := setsockopt(fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return fail("XDP_UMEM_REG", err)
	}
	for _, o := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING, unix.XDP_TX_RING} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o, cfg.RingSize); err != nil {
			return fail(fmt.Sprintf("ring option %d", o), err)
		}
	}
	var off unix.XDPMmapOffsets
	n := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return fail("XDP_MMAP_OFFSETS", e)
	}
	size := uint32(cfg.RingSize)
	mapRing := func(r *ring, o unix.XDPRingOffset, pgoff int64, descSize uintptr) error {
		m, err := unix.Mmap(fd, pgoff, int(o.Desc+uint64(uintptr(size)*descSize)), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return err
		}
		r.mem = m
		base := unsafe.Pointer(&m[0])
		r.prod = (*uint32)(unsafe.Add(base, o.Producer))
		r.cons = (*uint32)(unsafe.Add(base, o.Consumer))
		r.flags = (*uint32)(unsafe.Add(base, o.Flags))
		r.desc = unsafe.Add(base, o.Desc)
		r.size, r.mask = size, size-1
		return nil
	}
	descSize := unsafe.Sizeof(unix.XDPDesc{})
	if err := mapRing(&s.fill.ring, off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, 8); err != nil {
		return fail("fill ring mmap", err)
	}
	if err := mapRing(&s.comp.ring, off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, 8); err != nil {
		return fail("completion ring mmap", err)
	}
	if err := mapRing(&s.rx.ring, off.Rx, unix.XDP_PGOFF_RX_RING, descSize); err != nil {
		return fail("RX ring mmap", err)
	}
	if err := mapRing(&s.tx.ring, off.Tx, unix.XDP_PGOFF_TX_RING, descSize); err != nil {
		return fail("TX ring mmap", err)
	}
	s.fill.local, s.fill.cachedCons = *s.fill.prod, *s.fill.cons
	s.tx.local, s.tx.cachedCons = *s.tx.prod, *s.tx.cons
	s.rx.local, s.comp.local = *s.rx.cons, *s.comp.cons
	// Every frame starts free; the fill ring gets as many as it holds.
	s.free = make([]uint64, 0, cfg.Frames)
	for i := cfg.Frames - 1; i >= 0; i-- {
		s.free = append(s.free, uint64(i)*s.frameSize)
	}
	s.refill()
	// The copy of a frame the kernel hands a TX descriptor to waits for a
	// wake-up; let one sendto send a whole batch (Linux 6.17+; older
	// kernels send 32 per call, and Flush calls again).
	_ = unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, 256)
	bind := func(flags uint16) error {
		return unix.Bind(fd, &unix.SockaddrXDP{Flags: flags | unix.XDP_USE_NEED_WAKEUP, Ifindex: uint32(cfg.Ifindex), QueueID: uint32(cfg.Queue)})
	}
	if !cfg.Copy && bind(unix.XDP_ZEROCOPY) == nil {
		s.ZeroCopy = true
	} else if err := bind(unix.XDP_COPY); err != nil {
		return fail("bind", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("O_NONBLOCK", err)
	}
	s.file = os.NewFile(uintptr(fd), "xsk")
	if s.rc, err = s.file.SyscallConn(); err != nil {
		return fail("poller", err)
	}
	s.ready = func(uintptr) bool { return s.rx.avail() > 0 }
	return s, nil
}

// FD is the socket's descriptor, for the XSKMAP.
func (s *Socket) FD() int { return s.fd }

// refill moves free frames to the fill ring.
func (s *Socket) refill() {
	n := min(s.fill.room(), uint32(len(s.free)))
	if n == 0 {
		return
	}
	for i := range n {
		a := s.free[len(s.free)-1-int(i)]
		*s.fill.addr(s.fill.local) = a
		s.fill.local++
	}
	s.free = s.free[:len(s.free)-int(n)]
	s.fill.submit()
}

// reap takes the frames whose transmission completed back.
func (s *Socket) reap() {
	n := s.comp.avail()
	if n == 0 {
		return
	}
	for range n {
		a := *s.comp.addr(s.comp.local) &^ (s.frameSize - 1)
		s.comp.local++
		s.state[a>>s.shift] = frameOwned
		s.free = append(s.free, a)
	}
	s.comp.release()
}

// recycle gives back the frames the last Recv handed out, except those
// being transmitted in place (their completion gives them back).
func (s *Socket) recycle() {
	for _, a := range s.held {
		if s.state[a>>s.shift] == frameHeld {
			s.state[a>>s.shift] = frameOwned
			s.free = append(s.free, a)
		}
	}
	s.held = s.held[:0]
}

// Recv gives back the frames the previous Recv handed out, then fills out
// with received frames (each aliasing the UMEM until the next Recv),
// waiting up to timeout for the first (timeout <= 0: until one comes or
// Wake). It returns the number of frames, 0 on timeout, or ErrClosed after
// Wake.
func (s *Socket) Recv(out [][]byte, timeout time.Duration) (int, error) {
	s.recycle()
	for {
		if s.closed.Load() {
			return 0, ErrClosed
		}
		s.reap()
		s.refill()
		if n := s.rx.avail(); n > 0 {
			n = min(n, uint32(len(out)))
			for i := range n {
				d := s.rx.xdpDesc(s.rx.local)
				s.rx.local++
				base := d.Addr &^ (s.frameSize - 1)
				s.state[base>>s.shift] = frameHeld
				s.held = append(s.held, base)
				out[i] = s.umem[d.Addr : d.Addr+uint64(d.Len) : base+s.frameSize]
			}
			s.rx.release()
			return int(n), nil
		}
		if s.fill.needWakeup() {
			// A zero-copy driver waits to be told the fill ring has
			// frames again.
			_, _, _ = unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		}
		if timeout > 0 {
			s.timed = true
			_ = s.file.SetReadDeadline(time.Now().Add(timeout))
		} else if s.timed {
			s.timed = false
			_ = s.file.SetReadDeadline(time.Time{})
		}
		if s.closed.Load() {
			return 0, ErrClosed
		}
		err := s.rc.Read(s.ready)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if s.closed.Load() {
				return 0, ErrClosed
			}
			return 0, nil
		default:
			return 0, fmt.Errorf("xsk: wait: %w", err)
		}
	}
}

// Add queues head+body for transmission on the socket's interface. A
// frame that is a received frame of this socket (head aliases it, body is
// empty) goes out in place; any other is copied into a free UMEM frame.
// It reports false when the TX ring or the UMEM has no room even after the
// completed transmissions are taken back (the caller counts a drop).
func (s *Socket) Add(head, body []byte) bool {
	n := len(head) + len(body)
	if n == 0 || uint64(n) > s.frameSize {
		return false
	}
	if s.tx.room() == 0 {
		s.Flush()
		s.reap()
		if s.tx.room() == 0 {
			return false
		}
	}
	var addr uint64
	p := uintptr(unsafe.Pointer(unsafe.SliceData(head)))
	lo := uintptr(unsafe.Pointer(&s.umem[0]))
	if len(body) == 0 && p >= lo && p < lo+uintptr(len(s.umem)) {
		addr = uint64(p - lo)
		base := addr &^ (s.frameSize - 1)
		if s.state[base>>s.shift] != frameHeld || addr+uint64(n) > base+s.frameSize {
			return false // not a frame this batch may send (sent twice?)
		}
		s.state[base>>s.shift] = frameSending
	} else {
		if len(s.free) == 0 {
			s.reap()
			if len(s.free) == 0 {
				return false
			}
		}
		addr = s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		s.state[addr>>s.shift] = frameSending
		copy(s.umem[addr+uint64(copy(s.umem[addr:addr+s.frameSize], head)):addr+s.frameSize], body)
	}
	d := s.tx.xdpDesc(s.tx.local)
	*d = unix.XDPDesc{Addr: addr, Len: uint32(n)}
	s.tx.local++
	s.pending++
	return true
}

// Full reports whether the TX ring has no room left.
func (s *Socket) Full() bool { return s.tx.room() == 0 }

// Flush publishes the queued frames and wakes the kernel to send them when
// it asks to be woken (always in copy mode).
func (s *Socket) Flush() error {
	if s.pending == 0 {
		return nil
	}
	s.tx.submit()
	s.Sent += uint64(s.pending)
	s.pending = 0
	for range 16 {
		if !s.tx.needWakeup() {
			return nil
		}
		s.Kicks++
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			// Copy mode sends a bounded batch per call: call again
			// while descriptors wait.
			if atomic.LoadUint32(s.tx.cons) == s.tx.local {
				return nil
			}
		case unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			s.reap()
		case unix.ENETDOWN, unix.ENXIO:
			return fmt.Errorf("xsk: sendto: %w", e)
		default:
			return fmt.Errorf("xsk: sendto: %w", e)
		}
	}
	return nil
}

// Stats are the socket's XDP_STATISTICS.
type Stats = unix.XDPStatistics

// Stats reads the kernel's counters of the socket (cumulative).
func (s *Socket) Stats() (Stats, error) {
	var st Stats
	n := uint32(unsafe.Sizeof(st))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return st, fmt.Errorf("xsk: XDP_STATISTICS: %w", e)
	}
	return st, nil
}

// Wake makes a Recv in progress (or the next one) return ErrClosed.
func (s *Socket) Wake() {
	s.closed.Store(true)
	if s.file != nil {
		_ = s.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// Close unmaps the rings and UMEM and closes the socket; only the owner
// calls it, after its last Recv.
func (s *Socket) Close() error {
	var errs []error
	if s.file != nil {
		if s.fd >= 0 {
			errs = append(errs, s.file.Close())
		}
	} else if s.fd >= 0 {
		errs = append(errs, unix.Close(s.fd))
	}
	s.fd = -1
	for _, r := range []*ring{&s.fill.ring, &s.comp.ring, &s.rx.ring, &s.tx.ring} {
		if r.mem != nil {
			errs = append(errs, unix.Munmap(r.mem))
			r.mem = nil
		}
	}
	if s.umem != nil {
		errs = append(errs, unix.Munmap(s.umem))
		s.umem = nil
	}
	return errors.Join(errs...)
}

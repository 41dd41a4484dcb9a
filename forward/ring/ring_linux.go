package ring

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

// ErrClosed is returned by Recv after Wake asked the owner to stop.
var ErrClosed = errors.New("ring: closed")

const (
	v2HdrLen = 32 // TPACKET_ALIGN(sizeof(struct tpacket2_hdr))
	v3HdrLen = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	// copyBuffers bounds the queued large frames one Recv hands out; the
	// rest wait for the next Recv.
	copyBuffers = 8
)

// Ring is one AF_PACKET receive ring. Recv, Release and Close belong to one
// goroutine (the worker that owns the ring); SetFilter, Stats and Wake may be
// called from any.
type Ring struct {
	fd      int
	file    *os.File        // fd, registered with the Go runtime's poller
	rc      syscall.RawConn // file's
	ready   func(uintptr) bool
	timed   bool // a read deadline is set
	mem     []byte
	version int
	vnet    bool
	ignOut  bool

	// V3: blocks; V2: frames.
	blockSize, blocks int
	frameSize, frames int

	cur     int // current block (V3) or first frame handed out (V2)
	pktOff  int // V3: offset of the next packet in the current block
	pktLeft int // V3: packets of the current block not yet handed out
	handed  int // V2: frames handed out and not yet released
	holding bool

	// V2: buffers for frames that came through the socket queue
	// (TP_STATUS_COPY), and how many the frames handed out use.
	copies    [][]byte
	copied    int
	copyFails atomic.Uint64

	closed atomic.Bool
}

// Open creates, configures and binds a receive ring.
func Open(cfg Config) (*Ring, error) {
	if cfg.Version == 0 {
		cfg.Version = 3
	}
	if cfg.Version != 2 && cfg.Version != 3 {
		return nil, fmt.Errorf("ring: TPACKET version %d not supported (2 or 3)", cfg.Version)
	}
	page := unix.Getpagesize()
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 1 << 20
	}
	if cfg.Blocks == 0 {
		cfg.Blocks = 8
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = FrameSizeFor(1500)
	}
	if cfg.Frames == 0 {
		cfg.Frames = 8192
	}
	if cfg.CopyBuffer == 0 {
		cfg.CopyBuffer = 4 << 20
	}
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = time.Millisecond
	}
	cfg.BlockSize = roundUp(cfg.BlockSize, page)
	// V2: power-of-two frames in blocks of at least 64 KiB (one
	// power-of-two allocation each, nothing wasted), whole blocks.
	cfg.FrameSize = pow2(max(cfg.FrameSize, 2048))
	v2Block := max(cfg.FrameSize, 64<<10, page)
	cfg.Frames = roundUp(cfg.Frames, v2Block/cfg.FrameSize)

	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: socket: %w", err)
	}
	r := &Ring{fd: fd, version: cfg.Version, vnet: cfg.VnetHdr}
	fail := func(what string, err error) (*Ring, error) {
		r.Close()
		return nil, fmt.Errorf("ring: %s: %w", what, err)
	}
	// Until bind, the socket (protocol 0) receives nothing, so the filter is
	// in place before the first frame.
	if cfg.Filter != nil {
		if err := r.SetFilter(cfg.Filter); err != nil {
			r.Close()
			return nil, err
		}
	}
	ver := unix.TPACKET_V3
	if cfg.Version == 2 {
		ver = unix.TPACKET_V2
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, ver); err != nil {
		return fail("PACKET_VERSION", err)
	}
	if cfg.VnetHdr {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return fail("PACKET_VNET_HDR", err)
		}
	}
	// A one-armed forwarder must not read back what it sends (Linux 4.20+);
	// older kernels fall back to skipping PACKET_OUTGOING frames.
	r.ignOut = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) == nil
	var size int
	if cfg.Version == 3 {
		req := unix.TpacketReq3{Block_size: uint32(cfg.BlockSize), Block_nr: uint32(cfg.Blocks),
			Frame_size: 2048, Frame_nr: uint32(cfg.BlockSize / 2048 * cfg.Blocks),
			Retire_blk_tov: uint32(max(cfg.BlockTimeout.Milliseconds(), 1))}
		if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
			return fail("PACKET_RX_RING", err)
		}
		r.blockSize, r.blocks = cfg.BlockSize, cfg.Blocks
		size = cfg.BlockSize * cfg.Blocks
	} else {
		// A frame larger than a ring frame is queued whole on the socket
		// (its ring frame says TP_STATUS_COPY) while the socket's receive
		// buffer has room.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_COPY_THRESH, 1); err != nil {
			return fail("PACKET_COPY_THRESH", err)
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.CopyBuffer) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.CopyBuffer)
		}
		req := unix.TpacketReq{Block_size: uint32(v2Block), Block_nr: uint32(cfg.Frames * cfg.FrameSize / v2Block),
			Frame_size: uint32(cfg.FrameSize), Frame_nr: uint32(cfg.Frames)}
		if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
			return fail("PACKET_RX_RING", err)
		}
		r.frameSize, r.frames = cfg.FrameSize, cfg.Frames
		size = cfg.FrameSize * cfg.Frames
		r.copies = make([][]byte, copyBuffers)
		for i := range r.copies {
			r.copies[i] = make([]byte, VnetHdrLen+MaxFrame)
		}
	}
	r.mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fail("mmap", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: cfg.Ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fail(fmt.Sprintf("bind ifindex %d", cfg.Ifindex), err)
	}
	if cfg.FanoutGroup != 0 {
		arg := int(cfg.FanoutGroup) | unix.PACKET_FANOUT_HASH<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fail("PACKET_FANOUT", err)
		}
	}
	// Waiting goes through the runtime's poller (epoll): a worker that
	// waits parks its goroutine instead of blocking a thread in poll(2),
	// which the runtime would answer by handing the thread's P to another
	// thread, and back, at every frame.
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("O_NONBLOCK", err)
	}
	r.file = os.NewFile(uintptr(fd), "packet")
	if r.rc, err = r.file.SyscallConn(); err != nil {
		return fail("poller", err)
	}
	r.ready = r.hasFrames
	return r, nil
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

func pow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// SetFilter attaches (or replaces, atomically) the classic-BPF filter.
func (r *Ring) SetFilter(prog []Instruction) error {
	if len(prog) == 0 {
		return errors.New("ring: empty filter")
	}
	raw := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		raw[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fp := unix.SockFprog{Len: uint16(len(raw)), Filter: &raw[0]}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("ring: SO_ATTACH_FILTER: %w", err)
	}
	return nil
}

func (r *Ring) status(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }

// Recv releases the frames handed out by the previous Recv, then fills out
// with the next frames, waiting up to timeout for the first (timeout <= 0:
// until a frame comes or Wake). It returns the number of frames (0 on
// timeout), or ErrClosed after Wake.
func (r *Ring) Recv(out []Frame, timeout time.Duration) (int, error) {
	r.Release()
	for {
		if r.closed.Load() {
			return 0, ErrClosed
		}
		var n int
		if r.version == 3 {
			n = r.recv3(out)
		} else {
			n = r.recv2(out)
		}
		if n > 0 {
			return n, nil
		}
		if r.holding || r.handed > 0 {
			// Frames that were all skipped: give them back and look at
			// the next before sleeping.
			r.Release()
			continue
		}
		if timeout > 0 {
			r.timed = true
			_ = r.file.SetReadDeadline(time.Now().Add(timeout))
		} else if r.timed {
			r.timed = false
			_ = r.file.SetReadDeadline(time.Time{})
		}
		if r.closed.Load() {
			return 0, ErrClosed // Wake's deadline may just have been replaced
		}
		// Read calls ready first, then parks until epoll reports the socket
		// readable (every frame the kernel writes wakes it) and calls it
		// again.
		err := r.rc.Read(r.ready)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if r.closed.Load() {
				return 0, ErrClosed
			}
			return 0, nil
		default:
			return 0, fmt.Errorf("ring: wait: %w", err)
		}
	}
}

// hasFrames reports whether the kernel has handed the next frame (V2) or
// block (V3) to user space.
func (r *Ring) hasFrames(uintptr) bool {
	if r.version == 3 {
		return atomic.LoadUint32(r.status(r.cur*r.blockSize+8))&unix.TP_STATUS_USER != 0
	}
	off := ((r.cur + r.handed) % r.frames) * r.frameSize
	return atomic.LoadUint32(r.status(off))&unix.TP_STATUS_USER != 0
}

func (r *Ring) recv3(out []Frame) int {
	base := r.cur * r.blockSize
	if !r.holding {
		// struct tpacket_block_desc: version, offset_to_priv, then
		// tpacket_hdr_v1 {block_status, num_pkts, offset_to_first_pkt, ...}.
		if atomic.LoadUint32(r.status(base+8))&unix.TP_STATUS_USER == 0 {
			return 0
		}
		r.holding = true
		r.pktLeft = int(*(*uint32)(unsafe.Pointer(&r.mem[base+12])))
		r.pktOff = base + int(*(*uint32)(unsafe.Pointer(&r.mem[base+16])))
	}
	n := 0
	for r.pktLeft > 0 && n < len(out) {
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[r.pktOff]))
		if r.fill(&out[n], r.pktOff, int(h.Mac), int(h.Snaplen), h.Status, v3HdrLen) {
			n++
		}
		r.pktLeft--
		r.pktOff += int(h.Next_offset)
	}
	return n
}

func (r *Ring) recv2(out []Frame) int {
	n := 0
	for n < len(out) && r.handed < r.frames {
		off := ((r.cur + r.handed) % r.frames) * r.frameSize
		st := atomic.LoadUint32(r.status(off))
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		if st&unix.TP_STATUS_COPY != 0 && r.copied == len(r.copies) {
			break // every copy buffer is handed out
		}
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[off]))
		if r.fill(&out[n], off, int(h.Mac), int(h.Snaplen), st, v2HdrLen) {
			n++
		}
		r.handed++
	}
	return n
}

// fill describes the frame at off; it reports false for a frame to skip.
func (r *Ring) fill(f *Frame, off, mac, snap int, status uint32, hdrLen int) bool {
	// struct sockaddr_ll follows the header: family, protocol, ifindex,
	// hatype, pkttype.
	sll := off + hdrLen
	f.PktType = r.mem[sll+10]
	f.Vnet = VnetHdr{}
	if status&unix.TP_STATUS_COPY != 0 {
		// The whole frame waits on the socket's queue, whether or not it
		// is skipped.
		if !r.fetchCopy(f) {
			return false
		}
	} else {
		f.Data = r.mem[off+mac : off+mac+snap : off+mac+snap]
		if r.vnet && mac >= VnetHdrLen {
			f.Vnet.Decode(r.mem[off+mac-VnetHdrLen : off+mac])
		}
	}
	if !r.ignOut && f.PktType == unix.PACKET_OUTGOING {
		return false
	}
	f.Ifindex = int(*(*int32)(unsafe.Pointer(&r.mem[sll+4])))
	f.CsumNotReady = status&unix.TP_STATUS_CSUMNOTREADY != 0
	f.VLANTagged = status&unix.TP_STATUS_VLAN_VALID != 0
	return true
}

// fetchCopy replaces a truncated ring frame's data with the whole frame,
// which the kernel queued on the socket in the same order (tpacket_rcv's
// copy_skb); it reports false, and the frame is skipped, if the queue had
// none.
func (r *Ring) fetchCopy(f *Frame) bool {
	b := r.copies[r.copied]
	var n uintptr
	var e unix.Errno
	for {
		// recvfrom without an address (unix.Recvfrom would allocate one),
		// and as a raw system call: it cannot sleep.
		n, _, e = unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(r.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		if e != unix.EINTR {
			break
		}
	}
	if e != 0 {
		r.copyFails.Add(1)
		return false
	}
	r.copied++
	data := b[:min(int(n), len(b))]
	if r.vnet {
		if len(data) < VnetHdrLen {
			r.copyFails.Add(1)
			return false
		}
		f.Vnet.Decode(data[:VnetHdrLen])
		data = data[VnetHdrLen:]
	}
	f.Data = data[:len(data):len(data)]
	return true
}

// Release gives the frames handed out by the last Recv back to the kernel.
// Recv calls it; call it directly only to give frames back early.
func (r *Ring) Release() {
	if r.version == 3 {
		if r.holding && r.pktLeft == 0 {
			atomic.StoreUint32(r.status(r.cur*r.blockSize+8), unix.TP_STATUS_KERNEL)
			r.holding = false
			r.cur = (r.cur + 1) % r.blocks
		}
		return
	}
	for ; r.handed > 0; r.handed-- {
		atomic.StoreUint32(r.status(r.cur*r.frameSize), unix.TP_STATUS_KERNEL)
		r.cur = (r.cur + 1) % r.frames
	}
	r.copied = 0
}

// Wake makes a Recv in progress (or the next one) return ErrClosed. It is
// safe from any goroutine.
func (r *Ring) Wake() {
	r.closed.Store(true)
	if r.file != nil {
		_ = r.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// Stats reads and resets the kernel's PACKET_STATISTICS.
func (r *Ring) Stats() (Stats, error) {
	if r.version == 3 {
		st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return Stats{}, fmt.Errorf("ring: PACKET_STATISTICS: %w", err)
		}
		return Stats{Packets: uint64(st.Packets), Drops: uint64(st.Drops), FreezeQueueCount: uint64(st.Freeze_q_cnt)}, nil
	}
	st, err := unix.GetsockoptTpacketStats(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return Stats{}, fmt.Errorf("ring: PACKET_STATISTICS: %w", err)
	}
	return Stats{Packets: uint64(st.Packets), Drops: uint64(st.Drops), CopyLost: r.copyFails.Swap(0)}, nil
}

// Close unmaps the ring and closes the socket. Only the owner calls it,
// after its last Recv.
func (r *Ring) Close() error {
	var errs []error
	if r.mem != nil {
		errs = append(errs, unix.Munmap(r.mem))
		r.mem = nil
	}
	if r.file != nil {
		// r.file stays: a late Wake then only fails on a closed file.
		if r.fd >= 0 {
			errs = append(errs, r.file.Close())
			r.fd = -1
		}
	} else if r.fd >= 0 {
		errs = append(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errors.Join(errs...)
}

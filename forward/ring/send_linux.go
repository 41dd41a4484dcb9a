package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SenderConfig describes a Sender.
type SenderConfig struct {
	// Batch is how many frames one sendmmsg carries (default 64).
	Batch int
	// VnetHdr makes every frame start with a virtio_net_hdr, so the kernel
	// completes partial checksums and segments GSO frames.
	VnetHdr bool
	// QdiscBypass sets PACKET_QDISC_BYPASS: frames go straight to the
	// driver, skipping qdiscs (and other packet sockets' taps).
	QdiscBypass bool
}

// Sender transmits frames in batches with sendmmsg on an unbound AF_PACKET
// socket, each frame gathered from up to two slices (a rewritten head, such
// as a new Ethernet and tunnel header, and the rest of the packet) so that
// frames go out straight from the receive ring. One goroutine owns a Sender.
type Sender struct {
	fd    int
	vnet  bool
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	hdrs  []byte
	addrs []unix.RawSockaddrLinklayer
	n     int

	// Sent counts frames the kernel took; Failed those it refused.
	Sent, Failed uint64
	// LastErr is the last error a refused frame got.
	LastErr error
}

// NewSender opens the transmit socket.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: socket: %w", err)
	}
	if cfg.VnetHdr {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("ring: PACKET_VNET_HDR: %w", err)
		}
	}
	// Room for several batches of large frames in flight (the kernel
	// holds a frame's memory against the socket until the receiver is
	// done with it).
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	}
	if cfg.QdiscBypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("ring: PACKET_QDISC_BYPASS: %w", err)
		}
	}
	b := cfg.Batch
	s := &Sender{fd: fd, vnet: cfg.VnetHdr, msgs: make([]unix.Mmsghdr, b), iovs: make([]unix.Iovec, 3*b),
		hdrs: make([]byte, VnetHdrLen*b), addrs: make([]unix.RawSockaddrLinklayer, b)}
	return s, nil
}

// Full reports whether the batch is full and must be flushed before Add.
func (s *Sender) Full() bool { return s.n == len(s.msgs) }

// Len returns the number of frames queued.
func (s *Sender) Len() int { return s.n }

// Add queues the frame head+body (head starts with the Ethernet header;
// body may be empty) for interface ifindex, with the offload header vh (used
// when the Sender has VnetHdr; nil means none). The slices must stay
// unchanged until Flush. Add reports false if the batch is full.
func (s *Sender) Add(ifindex int, vh *VnetHdr, head, body []byte) bool {
	if s.n == len(s.msgs) || len(head) < 14 {
		return false
	}
	i := s.n
	iov := s.iovs[3*i : 3*i+3 : 3*i+3]
	k := 0
	if s.vnet {
		h := s.hdrs[VnetHdrLen*i : VnetHdrLen*(i+1)]
		if vh != nil {
			vh.Encode(h)
		} else {
			clear(h)
		}
		iov[k] = unix.Iovec{Base: &h[0], Len: VnetHdrLen}
		k++
	}
	iov[k] = unix.Iovec{Base: &head[0], Len: uint64(len(head))}
	k++
	if len(body) > 0 {
		iov[k] = unix.Iovec{Base: &body[0], Len: uint64(len(body))}
		k++
	}
	sa := &s.addrs[i]
	*sa = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Ifindex: int32(ifindex),
		Protocol: htons(binary.BigEndian.Uint16(head[12:14])), Halen: 6}
	copy(sa.Addr[:6], head[0:6])
	s.msgs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(sa)), Namelen: unix.SizeofSockaddrLinklayer,
		Iov: &iov[0], Iovlen: uint64(k)}}
	s.n++
	return true
}

// Flush sends the queued frames. A frame the kernel refuses is counted in
// Failed and skipped; Flush returns an error only when the socket fails.
func (s *Sender) Flush() error {
	done := 0
	wait := false
	for done < s.n {
		var r uintptr
		var e unix.Errno
		if wait {
			r, _, e = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[done])),
				uintptr(s.n-done), 0, 0, 0)
		} else {
			// A send that cannot sleep needs none of the runtime's
			// bookkeeping for system calls, which would wake its monitor
			// thread at every batch; only a full send buffer (EAGAIN)
			// takes the ordinary, blocking way.
			r, _, e = unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[done])),
				uintptr(s.n-done), unix.MSG_DONTWAIT, 0, 0)
		}
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN && !wait:
			wait = true
			continue
		case e == unix.EBADF || e == unix.ENOTSOCK:
			s.n = 0
			return fmt.Errorf("ring: sendmmsg: %w", e)
		case e != 0:
			// The first frame of the rest was refused (ENETDOWN, EMSGSIZE,
			// ENOBUFS, ...): skip it.
			s.Failed++
			s.LastErr = e
			done++
		default:
			s.Sent += uint64(r)
			done += int(r)
		}
	}
	for i := range s.n {
		s.msgs[i] = unix.Mmsghdr{}
		s.iovs[3*i], s.iovs[3*i+1], s.iovs[3*i+2] = unix.Iovec{}, unix.Iovec{}, unix.Iovec{}
	}
	s.n = 0
	return nil
}

// Close closes the socket, dropping anything queued.
func (s *Sender) Close() error {
	s.n = 0
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	if err != nil {
		return errors.Join(fmt.Errorf("ring: close: %w", err))
	}
	return nil
}

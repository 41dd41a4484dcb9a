package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The process events connector (linux/cn_proc.h): a netlink socket of
// family NETLINK_CONNECTOR bound to the CN_IDX_PROC group, told to listen
// with PROC_CN_MCAST_LISTEN. Each message is an nlmsghdr, a cn_msg and a
// proc_event.
const (
	cnIdxProc = 1
	cnValProc = 1

	procCnMcastListen = 1

	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventComm = 0x00000200
	procEventExit = 0x80000000

	nlHdrLen  = 16
	cnMsgLen  = 20
	evOffset  = nlHdrLen + cnMsgLen // struct proc_event
	dataStart = evOffset + 16       // event_data, after what, cpu, timestamp_ns
)

type procConnector struct {
	f *os.File
}

func openProcConnector() (procEvents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("vrrp: process events: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vrrp: process events: bind: %w", err)
	}
	msg := make([]byte, nlHdrLen+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[nlHdrLen:], cnIdxProc)
	le.PutUint32(msg[nlHdrLen+4:], cnValProc)
	le.PutUint16(msg[nlHdrLen+16:], 4)
	le.PutUint32(msg[nlHdrLen+cnMsgLen:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		// ECONNREFUSED outside the initial network namespace.
		unix.Close(fd)
		return nil, fmt.Errorf("vrrp: process events: listen: %w", err)
	}
	return &procConnector{f: os.NewFile(uintptr(fd), "proc-connector")}, nil
}

func (c *procConnector) Read() ([]procEvent, bool, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	buf := make([]byte, 4096)
	var evs []procEvent
	var rerr error
	lost := false
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, from, err := unix.Recvfrom(int(fd), buf, 0)
			switch {
			case errors.Is(err, unix.EAGAIN):
				return len(evs) > 0 || lost // wait for more only when nothing was read
			case errors.Is(err, unix.ENOBUFS):
				lost = true
				continue
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				rerr = err
				return true
			}
			if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
				continue // only the kernel speaks here
			}
			if e, ok := parseProcEvent(buf[:n]); ok {
				evs = append(evs, e)
			}
		}
	})
	if err != nil {
		return nil, false, err
	}
	return evs, lost, rerr
}

func (c *procConnector) Close() error { return c.f.Close() }

// parseProcEvent decodes one connector message; ok is false for what
// process tracking ignores (threads, acks, other events).
func parseProcEvent(b []byte) (procEvent, bool) {
	le := binary.LittleEndian
	if len(b) < dataStart+16 || le.Uint32(b[nlHdrLen:]) != cnIdxProc || le.Uint32(b[nlHdrLen+4:]) != cnValProc {
		return procEvent{}, false
	}
	d := b[dataStart:]
	switch le.Uint32(b[evOffset:]) {
	case procEventFork:
		// parent_pid, parent_tgid, child_pid, child_tgid: a new process
		// when the child is its own thread group.
		if le.Uint32(d[8:]) != le.Uint32(d[12:]) {
			return procEvent{}, false
		}
		return procEvent{kind: procFork, pid: int(le.Uint32(d[12:])), ppid: int(le.Uint32(d[4:]))}, true
	case procEventExec:
		return procEvent{kind: procExec, pid: int(le.Uint32(d[4:]))}, true
	case procEventComm:
		if le.Uint32(d[0:]) != le.Uint32(d[4:]) {
			return procEvent{}, false
		}
		return procEvent{kind: procComm, pid: int(le.Uint32(d[4:]))}, true
	case procEventExit:
		if le.Uint32(d[0:]) != le.Uint32(d[4:]) {
			return procEvent{}, false
		}
		return procEvent{kind: procExit, pid: int(le.Uint32(d[4:]))}, true
	}
	return procEvent{}, false
}

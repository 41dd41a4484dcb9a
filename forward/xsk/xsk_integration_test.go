//go:build linux

package xsk

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestSteerAndTransmit attaches the program to b's veth, covers UDP port
// 9000 of b's address, and checks on real traffic from a's kernel:
// covered datagrams reach the socket (and not b's kernel), others pass to
// b's kernel, a frame sent back in place reaches a, and with the socket
// gone covered datagrams are dropped, not passed (fail closed).
func TestSteerAndTransmit(t *testing.T) {
	topotest.Require(t)
	tp := topotest.New(t)
	a := topotest.AddNode(t, tp, "a", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.31.1/24")}})
	b := topotest.AddNode(t, tp, "b", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.31.2/24")}})
	bAddr := netip.MustParseAddr("198.18.31.2")
	var (
		prog    *Program
		sock    *Socket
		err     error
		ifindex int
		kernel  *net.UDPConn // b's kernel socket on the covered port
		passed  *net.UDPConn // and on a port not covered
	)
	topotest.InNS(t, b, func() {
		var ifc *net.Interface
		if ifc, err = net.InterfaceByName("eth0"); err != nil {
			return
		}
		ifindex = ifc.Index
		if prog, err = Attach(ifindex, 0); err != nil {
			return
		}
		if sock, err = Open(Config{Ifindex: ifindex, Queue: 0}); err != nil {
			return
		}
		if kernel, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 9000}); err != nil {
			return
		}
		passed, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 9001})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sock != nil {
			sock.Close()
		}
		if prog != nil {
			prog.Close()
		}
		if kernel != nil {
			kernel.Close()
		}
		if passed != nil {
			passed.Close()
		}
	})
	t.Logf("zero-copy: %v", sock.ZeroCopy)
	if err := prog.Sync([]Tuple{{Addr: bAddr, Proto: 17, Port: 9000}}, nil, []netip.Addr{bAddr}); err != nil {
		t.Fatal(err)
	}
	if err := prog.Register(0, sock); err != nil {
		t.Fatal(err)
	}
	var client *net.UDPConn
	topotest.InNS(t, a, func() {
		client, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 7000})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	send := func(port int, msg string) {
		t.Helper()
		if _, err := client.WriteToUDP([]byte(msg), &net.UDPAddr{IP: net.IP(bAddr.AsSlice()), Port: port}); err != nil {
			t.Fatal(err)
		}
	}
	// A datagram the kernel gets proves the path works; the covered one
	// sent before it must then have gone to the socket only.
	send(9000, "covered")
	send(9001, "passed")
	buf := make([]byte, 2048)
	_ = passed.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := passed.ReadFromUDP(buf); err != nil || string(buf[:n]) != "passed" {
		t.Fatalf("uncovered datagram not passed to the kernel: %q, %v", buf[:n], err)
	}
	frames := make([][]byte, 64)
	n, err := sock.Recv(frames, 5*time.Second)
	if err != nil || n != 1 {
		t.Fatalf("socket got %d frames, %v; want the covered datagram", n, err)
	}
	var p frame.Packet
	p.Decode(frames[0])
	if !p.OK() || p.DstPort != 9000 || string(p.B[p.L4+8:p.End]) != "covered" {
		t.Fatalf("socket got %x", frames[0])
	}
	_ = kernel.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := kernel.ReadFromUDP(buf); err == nil {
		t.Fatalf("the kernel got a covered datagram too: %q", buf[:n])
	}
	// a's kernel offloaded the checksum to its veth, and XDP sees what it
	// left: the pseudo-header sum, which the forwarder must complete.
	if !p.CompletePartial() || !p.ChecksumValid() {
		t.Errorf("the veth peer's datagram did not arrive with a partial checksum that completes: %x", frames[0])
	}

	// Answer in place: swap MACs, addresses and ports, and send it back.
	f := frames[0]
	var mac [6]byte
	copy(mac[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], mac[:])
	var ip [4]byte
	copy(ip[:], f[p.L3+12:p.L3+16])
	copy(f[p.L3+12:p.L3+16], f[p.L3+16:p.L3+20])
	copy(f[p.L3+16:p.L3+20], ip[:])
	sp, dp := binary.BigEndian.Uint16(f[p.L4:]), binary.BigEndian.Uint16(f[p.L4+2:])
	binary.BigEndian.PutUint16(f[p.L4:], dp)
	binary.BigEndian.PutUint16(f[p.L4+2:], sp)
	copy(f[p.L4+8:], "reply!!")
	p.Decode(f)
	p.FixChecksums()
	if !sock.Add(f[:p.End], nil) {
		t.Fatal("Add refused the frame")
	}
	if err := sock.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, from, err := client.ReadFromUDP(buf); err != nil || string(buf[:n]) != "reply!!" || from.Port != 9000 {
		t.Fatalf("reply sent in place: %q from %v, %v", buf[:n], from, err)
	}

	// A copied frame (not from the UMEM) goes out too.
	out := append([]byte(nil), f[:p.End]...)
	copy(out[p.L4+8:], "copied!")
	p.Decode(out)
	p.FixChecksums()
	if !sock.Add(out[:14], out[14:]) || sock.Flush() != nil {
		t.Fatal("copied frame refused")
	}
	if n, _, err := client.ReadFromUDP(buf); err != nil || string(buf[:n]) != "copied!" {
		t.Fatalf("copied frame: %q, %v", buf[:n], err)
	}

	// Fail closed: without a socket on the queue a covered datagram is
	// dropped, not handed to the kernel.
	if err := prog.objs.Xsks.Delete(uint32(0)); err != nil {
		t.Fatal(err)
	}
	send(9000, "no socket")
	send(9001, "after")
	_ = passed.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := passed.ReadFromUDP(buf); err != nil || string(buf[:n]) != "after" {
		t.Fatalf("uncovered datagram: %q, %v", buf[:n], err)
	}
	_ = kernel.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := kernel.ReadFromUDP(buf); err == nil {
		t.Fatalf("covered datagram without a socket reached the kernel: %q", buf[:n])
	}
	c, err := prog.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.Steered != 1 || c.NoSocket != 1 || c.Passed == 0 {
		t.Fatalf("counters %+v, want 1 steered, 1 without a socket, some passed", c)
	}
}

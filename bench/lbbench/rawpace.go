package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/ring"
)

// rawPaceMain is `lbbench rawpace`: it sends the UDP flood's 60-byte frames
// (the same frame as trafgen's, source ports counting up from 1024) on an
// AF_PACKET socket at a steady rate, in batches of what is due every
// 100 µs. It replaces trafgen's -b for the loss-free search: trafgen sends
// each second's packets in one burst at full speed (a -b 781pps run is 781
// back-to-back frames once a second), which measures a balancer's buffers,
// not the rate it forwards.
func rawPaceMain(args []string) error {
	fs := flag.NewFlagSet("rawpace", flag.ContinueOnError)
	ifname := fs.String("i", "eth0", "interface")
	dstS := fs.String("dst", "", "destination ADDR:PORT")
	srcS := fs.String("src", "", "source address")
	macS := fs.String("dstmac", "", "destination Ethernet address")
	rate := fs.Int("rate", 1000, "frames per second")
	d := fs.Duration("d", 2*time.Second, "duration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(*dstS)
	if err != nil || !dst.Addr().Is4() {
		return fmt.Errorf("rawpace: -dst %q: want IPv4 ADDR:PORT", *dstS)
	}
	src, err := netip.ParseAddr(*srcS)
	if err != nil || !src.Is4() {
		return fmt.Errorf("rawpace: -src %q: want IPv4", *srcS)
	}
	dmac, err := net.ParseMAC(*macS)
	if err != nil {
		return fmt.Errorf("rawpace: -dstmac: %w", err)
	}
	ifc, err := net.InterfaceByName(*ifname)
	if err != nil {
		return fmt.Errorf("rawpace: %w", err)
	}
	const batch = 64
	s, err := ring.NewSender(ring.SenderConfig{Batch: batch, QdiscBypass: true})
	if err != nil {
		return fmt.Errorf("rawpace: %w", err)
	}
	defer s.Close()
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = udpFrame60(dmac, ifc.HardwareAddr, src, dst)
	}
	sport := 1024
	var sent int
	start := time.Now()
	for {
		el := time.Since(start)
		if el >= *d {
			break
		}
		due := int(el.Seconds() * float64(*rate))
		if due <= sent {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		for n := min(due-sent, batch); n > 0; n-- {
			f := frames[s.Len()]
			setSourcePort(f, uint16(sport))
			if sport++; sport > 65000 {
				sport = 1024
			}
			s.Add(ifc.Index, nil, f, nil)
			sent++
		}
		if err := s.Flush(); err != nil {
			return fmt.Errorf("rawpace: %w", err)
		}
	}
	el := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(paceResult{Done: s.Sent, Errors: s.Failed, Rate: float64(sent) / el.Seconds()})
}

// udpFrame60 builds the flood's frame: Ethernet, IPv4, UDP and 18 zero
// bytes, 60 bytes in all.
func udpFrame60(dmac, smac net.HardwareAddr, src netip.Addr, dst netip.AddrPort) []byte {
	b := make([]byte, 60)
	copy(b[0:6], dmac)
	copy(b[6:12], smac)
	binary.BigEndian.PutUint16(b[12:], frame.EtherTypeIPv4)
	ip := b[frame.EthLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, frame.ProtoUDP
	binary.BigEndian.PutUint16(ip[2:], 20+8+18)
	s4, d4 := src.As4(), dst.Addr().As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[22:], dst.Port())
	binary.BigEndian.PutUint16(ip[24:], 8+18)
	// Not zero, which would mean "no checksum" to FixChecksums.
	binary.BigEndian.PutUint16(ip[26:], 0xffff)
	return b
}

// setSourcePort sets the frame's UDP source port and completes its
// checksums.
func setSourcePort(b []byte, port uint16) {
	binary.BigEndian.PutUint16(b[frame.EthLen+20:], port)
	var p frame.Packet
	p.Decode(b)
	p.FixChecksums()
}

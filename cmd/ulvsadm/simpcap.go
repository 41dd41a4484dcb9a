package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ulvs/ulvs/sched"
)

// readPcap turns a capture into arrivals: each TCP SYN (without ACK) to the
// VIP is a new connection and the client's first FIN or RST on it closes it;
// for UDP the first datagram of a client address and port is a new
// connection, which then lives for --duration. Times are relative to the
// first packet. pcap and pcapng are both read.
func readPcap(path string, vip netip.AddrPort, proto uint8) ([]arrival, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	var src source
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	var arr []arrival
	open := map[netip.AddrPort]int{} // client -> index in arr of its open connection
	var t0 time.Time
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--pcap: %w", err)
		}
		if t0.IsZero() {
			t0 = ci.Timestamp
		}
		now := ci.Timestamp.Sub(t0)
		pkt := gopacket.NewPacket(data, src.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		var saddr, daddr netip.Addr
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			saddr, _ = netip.AddrFromSlice(ip.SrcIP)
			daddr, _ = netip.AddrFromSlice(ip.DstIP)
		case *layers.IPv6:
			saddr, _ = netip.AddrFromSlice(ip.SrcIP)
			daddr, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			continue
		}
		saddr, daddr = saddr.Unmap(), daddr.Unmap()
		var sport, dport uint16
		var syn, ack, fin bool
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.TCP:
			if proto != sched.ProtoTCP {
				continue
			}
			sport, dport = uint16(l4.SrcPort), uint16(l4.DstPort)
			syn, ack, fin = l4.SYN, l4.ACK, l4.FIN || l4.RST
		case *layers.UDP:
			if proto != sched.ProtoUDP {
				continue
			}
			sport, dport = uint16(l4.SrcPort), uint16(l4.DstPort)
			syn = true
		default:
			continue
		}
		if daddr != vip.Addr() || dport != vip.Port() {
			continue
		}
		client := netip.AddrPortFrom(saddr, sport)
		i, isOpen := open[client]
		switch {
		case syn && !ack && !isOpen:
			open[client] = len(arr)
			arr = append(arr, arrival{
				flow:    sched.Flow{Src: saddr, Dst: daddr, SrcPort: sport, DstPort: dport, Proto: proto, Now: now},
				closeAt: -1,
			})
		case fin && isOpen:
			arr[i].closeAt = now
			delete(open, client)
		}
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("--pcap: %s: no new connections to %s", path, vip)
	}
	return arr, nil
}

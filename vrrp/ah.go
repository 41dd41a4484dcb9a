package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// ahLen is the size of keepalived's IPsec AH header: next header, payload
// length, reserved, SPI, sequence number and a 96-bit ICV (RFC 2402 §2).
const ahLen = 24

// ahPayloadLen is the AH "Payload Len" field: the header length in 32-bit
// words minus 2 (RFC 2402 §2.2), 4 for keepalived's 24 bytes.
const ahPayloadLen = ahLen/4 - 2

// icvLen is HMAC-MD5-96's truncated length (RFC 2403).
const icvLen = 12

// Packet is one VRRP packet with the IP fields the protocol looks at. For
// IPv4 the fields are those of the header ulvs writes itself (keepalived
// sends with IP_HDRINCL); for IPv6 the kernel builds the header.
type Packet struct {
	// Src and Dst are the IP source and destination.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// TOS is the IPv4 type of service (keepalived: 0xc0, network control).
	TOS uint8
	// ID is the IPv4 identification.
	ID uint16
	// Proto is ProtoVRRP, or ProtoAH for IPv4 with AH authentication.
	Proto uint8
	// IfIndex is the interface the packet came in on (0 when unknown).
	IfIndex int
	// Payload is the IP payload: the advert, behind the AH header when
	// Proto is ProtoAH.
	Payload []byte
}

// ipv4Header returns the header ulvs sends for p (and against which an AH
// ICV is computed), as x/net/ipv4 marshals it for IP_HDRINCL.
func (p *Packet) ipv4Header() *ipv4.Header {
	return &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TOS:      int(p.TOS),
		TotalLen: ipv4.HeaderLen + len(p.Payload),
		ID:       int(p.ID),
		TTL:      int(p.TTL),
		Protocol: int(p.Proto),
		Src:      net.IP(p.Src.AsSlice()),
		Dst:      net.IP(p.Dst.AsSlice()),
	}
}

// IPv4Header returns the header to send p with through a raw IPv4 socket.
func (p *Packet) IPv4Header() *ipv4.Header { return p.ipv4Header() }

// ahKey is keepalived's AH key: auth_pass, truncated or zero padded to 8
// bytes (vrrp->auth_data).
type ahKey [AuthLen]byte

// ahICV computes keepalived's ICV for an IPv4 packet: HMAC-MD5 keyed with
// the password over the IP header with the mutable fields (TOS, flags and
// fragment offset, checksum, and the TTL for unicast) zeroed, the AH header
// with a zero ICV, and the advert; truncated to 96 bits (RFC 2402 §3.3.3,
// keepalived vrrp_update_pkt / vrrp_in_chk_ipsecah).
func ahICV(p *Packet, key ahKey, unicast bool) ([icvLen]byte, error) {
	var icv [icvLen]byte
	if len(p.Payload) < ahLen {
		return icv, fmt.Errorf("vrrp: ah: %w", ErrTruncated)
	}
	h := p.ipv4Header()
	h.TOS, h.Flags, h.FragOff, h.Checksum = 0, 0, 0, 0
	if unicast {
		h.TTL = 0
	}
	hb, err := h.Marshal()
	if err != nil {
		return icv, fmt.Errorf("vrrp: ah: %w", err)
	}
	mac := hmac.New(md5.New, key[:])
	mac.Write(hb)
	var ah [ahLen]byte
	copy(ah[:ahLen-icvLen], p.Payload[:ahLen-icvLen])
	mac.Write(ah[:])
	mac.Write(p.Payload[ahLen:])
	copy(icv[:], mac.Sum(nil))
	return icv, nil
}

// appendAH appends an AH header for the packet p will be (src from p.Src)
// with sequence number seq and a zero ICV, to be sealed by sealAH once the
// advert follows it.
func appendAH(b []byte, src netip.Addr, seq uint32) []byte {
	spi := src.Unmap().As4()
	b = append(b, ProtoVRRP, ahPayloadLen, 0, 0)
	// keepalived: "The SPI value is filled with the ip header source
	// address" (vrrp_build_ipsecah).
	b = append(b, spi[:]...)
	b = binary.BigEndian.AppendUint32(b, seq)
	return append(b, make([]byte, icvLen)...)
}

// sealAH writes the ICV into p's AH header.
func sealAH(p *Packet, key ahKey, unicast bool) error {
	icv, err := ahICV(p, key, unicast)
	if err != nil {
		return err
	}
	copy(p.Payload[ahLen-icvLen:ahLen], icv[:])
	return nil
}

// ahInfo is what a receiver checks in an AH header.
type ahInfo struct {
	next uint8
	spi  [4]byte
	seq  uint32
}

func parseAH(b []byte) (ahInfo, error) {
	if len(b) < ahLen {
		return ahInfo{}, fmt.Errorf("vrrp: ah: %w", ErrTruncated)
	}
	if b[1] != ahPayloadLen {
		return ahInfo{}, fmt.Errorf("vrrp: ah: payload length %d, want %d", b[1], ahPayloadLen)
	}
	return ahInfo{next: b[0], spi: [4]byte(b[4:8]), seq: binary.BigEndian.Uint32(b[8:12])}, nil
}

// verifyAH reports whether p's ICV is right for key.
func verifyAH(p *Packet, key ahKey, unicast bool) bool {
	icv, err := ahICV(p, key, unicast)
	if err != nil {
		return false
	}
	return hmac.Equal(icv[:], p.Payload[ahLen-icvLen:ahLen])
}

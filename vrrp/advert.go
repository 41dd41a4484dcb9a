package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol numbers and addresses of RFC 3768 / RFC 5798.
const (
	// ProtoVRRP is the IP protocol number of VRRP.
	ProtoVRRP = 112
	// ProtoAH is the IP protocol number of the IPsec AH header that
	// keepalived puts in front of VRRPv2 adverts with auth_type AH.
	ProtoAH = 51
	// TTL is the IPv4 TTL / IPv6 hop limit adverts are sent with and
	// must arrive with (RFC 5798 §5.1.1.3, §7.1).
	TTL = 255
	// AuthLen is the size of the VRRPv2 authentication data.
	AuthLen = 8
	// headerLen is the fixed part of every advert.
	headerLen = 8
	// typeAdvert is the only VRRP packet type.
	typeAdvert = 1
)

// Default multicast groups (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.MustParseAddr("ff02::12")
)

// Family is an address family: 4 or 6.
type Family uint8

// Address families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) addrLen() int {
	if f == IPv6 {
		return 16
	}
	return 4
}

// String returns "inet" or "inet6".
func (f Family) String() string {
	if f == IPv6 {
		return "inet6"
	}
	return "inet"
}

// FamilyOf returns the family of a.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// AuthType is the VRRPv2 Auth Type field (RFC 3768 §5.3.6; type 2 is
// keepalived's IPsec AH).
type AuthType uint8

// Authentication types.
const (
	AuthNone AuthType = 0
	AuthPass AuthType = 1
	AuthAH   AuthType = 2
)

// String returns keepalived's name for the type.
func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "NONE"
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return fmt.Sprintf("AUTH(%d)", uint8(t))
}

// Advert is one VRRP advertisement, version 2 or 3, IPv4 or IPv6, as it is
// on the wire. AppendBinary writes the fields as they are, checksum
// included; SetChecksum computes it.
type Advert struct {
	// Version is 2 or 3.
	Version uint8
	// Family says how long the addresses are.
	Family Family
	// VRID is the virtual router id.
	VRID uint8
	// Priority is the sender's priority; 0 means it stops being master.
	Priority uint8
	// AdverInt is the advertisement interval in the version's unit:
	// whole seconds (8 bits) for v2, centiseconds (12 bits) for v3.
	AdverInt uint16
	// Reserved holds the 4 reserved bits in front of a v3 interval. They
	// are sent as zero and ignored on receipt (RFC 5798 §5.2.7); kept so a
	// parsed advert appends to the same bytes.
	Reserved uint8
	// AuthType is the v2 authentication type.
	AuthType AuthType
	// AuthData is the v2 authentication data. keepalived carries it for
	// IPv4 only (its IPv6 v2 adverts have no auth field), and so do we.
	AuthData [AuthLen]byte
	// Addrs are the virtual addresses, all of Family.
	Addrs []netip.Addr
	// Checksum is the checksum field.
	Checksum uint16
}

// Errors the parser returns; callers count them separately.
var (
	ErrTruncated = errors.New("vrrp: advert truncated")
	ErrLength    = errors.New("vrrp: advert length does not match its address count")
	ErrVersion   = errors.New("vrrp: unsupported version")
	ErrType      = errors.New("vrrp: not an advertisement")
)

// hasAuth reports whether the advert carries the 8 bytes of v2 auth data.
func (a *Advert) hasAuth() bool { return a.Version == 2 && a.Family == IPv4 }

// Len returns the encoded length.
func (a *Advert) Len() int {
	n := headerLen + len(a.Addrs)*a.Family.addrLen()
	if a.hasAuth() {
		n += AuthLen
	}
	return n
}

// Interval returns the advertisement interval as a duration.
func (a *Advert) Interval() time.Duration {
	if a.Version == 2 {
		return time.Duration(a.AdverInt) * time.Second
	}
	return time.Duration(a.AdverInt) * 10 * time.Millisecond
}

// AppendBinary appends the advert to b.
func (a *Advert) AppendBinary(b []byte) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return b, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	if a.Family != IPv4 && a.Family != IPv6 {
		return b, fmt.Errorf("vrrp: bad family %d", a.Family)
	}
	if len(a.Addrs) > 255 {
		return b, fmt.Errorf("vrrp: %d addresses, at most 255 fit", len(a.Addrs))
	}
	if a.Version == 2 && a.AdverInt > 255 {
		return b, fmt.Errorf("vrrp: v2 advert interval %d s does not fit 8 bits", a.AdverInt)
	}
	if a.Version == 3 && a.AdverInt > 0xfff {
		return b, fmt.Errorf("vrrp: v3 advert interval %d cs does not fit 12 bits", a.AdverInt)
	}
	b = append(b, a.Version<<4|typeAdvert, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 2 {
		b = append(b, uint8(a.AuthType), uint8(a.AdverInt))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(a.Reserved&0xf)<<12|a.AdverInt)
	}
	b = binary.BigEndian.AppendUint16(b, a.Checksum)
	for _, ip := range a.Addrs {
		if FamilyOf(ip) != a.Family {
			return b, fmt.Errorf("vrrp: address %v in an %v advert", ip, a.Family)
		}
		if a.Family == IPv4 {
			v := ip.Unmap().As4()
			b = append(b, v[:]...)
		} else {
			v := ip.As16()
			b = append(b, v[:]...)
		}
	}
	if a.hasAuth() {
		b = append(b, a.AuthData[:]...)
	}
	return b, nil
}

// ParseAdvert parses one advert of family fam (which the socket it came
// from tells). It checks the structure only: version, type and that the
// length is exactly what the address count says. Checksum, TTL and
// authentication depend on the receiver's configuration and are checked
// by the instance. The result does not alias b.
func ParseAdvert(b []byte, fam Family) (*Advert, error) {
	if fam != IPv4 && fam != IPv6 {
		return nil, fmt.Errorf("vrrp: bad family %d", fam)
	}
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	a := &Advert{Version: b[0] >> 4, Family: fam, VRID: b[1], Priority: b[2]}
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	if t := b[0] & 0xf; t != typeAdvert {
		return nil, fmt.Errorf("%w: type %d", ErrType, t)
	}
	n := int(b[3])
	if a.Version == 2 {
		a.AuthType = AuthType(b[4])
		a.AdverInt = uint16(b[5])
	} else {
		v := binary.BigEndian.Uint16(b[4:6])
		a.Reserved = uint8(v >> 12)
		a.AdverInt = v & 0xfff
	}
	a.Checksum = binary.BigEndian.Uint16(b[6:8])
	want := headerLen + n*fam.addrLen()
	if a.hasAuth() {
		want += AuthLen
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes for %d addresses, want %d", ErrLength, len(b), n, want)
	}
	if n > 0 {
		a.Addrs = make([]netip.Addr, n)
	}
	off := headerLen
	for i := range n {
		if fam == IPv4 {
			a.Addrs[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
			off += 4
		} else {
			a.Addrs[i] = netip.AddrFrom16([16]byte(b[off : off+16]))
			off += 16
		}
	}
	if a.hasAuth() {
		copy(a.AuthData[:], b[off:off+AuthLen])
	}
	return a, nil
}

// Pseudo is the IP pseudo-header a VRRPv3 checksum covers. RFC 5798
// §5.2.8: "the 16-bit one's complement of the one's complement sum of
// the entire VRRP message starting with the version field and a
// 'pseudo-header' as defined in Section 8.1 of [RFC2460]" (IPv6); for
// IPv4, keepalived (and RFC 5798 as implemented) uses the IPv4
// pseudo-header of RFC 768. A nil *Pseudo means the checksum covers the
// VRRP message only: always for v2, and for v3 with v3_checksum_as_v2.
type Pseudo struct {
	Src, Dst netip.Addr
}

// Checksum returns the checksum field value for msg, an encoded advert
// whose own checksum field is taken as zero.
func Checksum(msg []byte, ph *Pseudo) uint16 {
	var sum uint32
	if ph != nil {
		if ph.Src.Is4() || ph.Src.Is4In6() {
			s, d := ph.Src.Unmap().As4(), ph.Dst.Unmap().As4()
			sum = sumBytes(sum, s[:])
			sum = sumBytes(sum, d[:])
			sum += ProtoVRRP + uint32(len(msg))
		} else {
			s, d := ph.Src.As16(), ph.Dst.As16()
			sum = sumBytes(sum, s[:])
			sum = sumBytes(sum, d[:])
			sum += uint32(len(msg)) + ProtoVRRP
		}
	}
	if len(msg) >= headerLen {
		sum = sumBytes(sum, msg[:6])
		sum = sumBytes(sum, msg[8:])
	} else {
		sum = sumBytes(sum, msg)
	}
	return ^fold(sum)
}

// VerifyChecksum reports whether msg's checksum field is right.
func VerifyChecksum(msg []byte, ph *Pseudo) bool {
	if len(msg) < headerLen {
		return false
	}
	return Checksum(msg, ph) == binary.BigEndian.Uint16(msg[6:8])
}

// SetChecksum computes a's checksum for the given pseudo-header.
func (a *Advert) SetChecksum(ph *Pseudo) error {
	var buf [headerLen + 255*16 + AuthLen]byte
	msg, err := a.AppendBinary(buf[:0])
	if err != nil {
		return err
	}
	a.Checksum = Checksum(msg, ph)
	return nil
}

func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

package conf

import (
	"net/netip"
	"time"
)

// The virtual server half of Config: groups, virtual and real servers,
// health checkers.

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Pos     Pos
	Name    string
	Entries []VSGEntry
}

// VSGEntry is one line of a virtual_server_group: an address range with a
// port, or a fwmark.
type VSGEntry struct {
	Pos Pos
	// First and Last bound an inclusive address range (equal for one
	// address).
	First, Last netip.Addr
	Port        uint16
	Fwmark      uint32
	// Family is "inet" or "inet6" for fwmark entries ("" if not given).
	Family string
}

// Forwarding methods (lb_kind / lvs_method).
const (
	MethodNAT = "NAT"
	MethodDR  = "DR"
	MethodTUN = "TUN"
)

// Method is a forwarding method with its tunnel options.
type Method struct {
	Kind string // NAT, DR or TUN
	// TunnelType is ipip (default), gue or gre, for TUN.
	TunnelType string
	TunnelPort uint16 // gue
	// TunnelCsum is "", nocsum, csum or remcsum.
	TunnelCsum string
}

// SorryServer is a virtual server's sorry_server.
type SorryServer struct {
	Pos    Pos
	Addr   netip.Addr
	Port   uint16
	Method *Method // nil: the virtual server's
}

// VirtualServer is a virtual_server block. Exactly one of Addr, Fwmark and
// Group identifies it.
type VirtualServer struct {
	Pos Pos

	Addr   netip.Addr
	Port   uint16
	Fwmark uint32
	Group  string
	// Family is "inet" or "inet6" (ip_family, or derived from Addr).
	Family string

	Protocol   string // TCP, UDP or SCTP
	Sched      string // lb_algo; wlc when missing (with an error, as keepalived)
	SchedFlags uint32
	Method     Method

	// PersistenceTimeout is 0 when the service is not persistent.
	PersistenceTimeout time.Duration
	// PersistenceGranularity is the netmask as a prefix length (32/128
	// unless set).
	PersistenceGranularity int
	PersistenceEngine      string

	DelayLoop        time.Duration // 60 s
	ConnectTimeout   *time.Duration
	Retry            *int
	DelayBeforeRetry *time.Duration
	Warmup           *time.Duration

	SorryServer        *SorryServer
	SorryServerInhibit bool

	Quorum     int // 1
	Hysteresis int
	QuorumUp   *Script
	QuorumDown *Script

	Alpha            bool
	Omega            bool
	InhibitOnFailure bool
	Virtualhost      string
	HASuspend        bool
	SMTPAlert        *bool
	OPS              bool
	// Weight is the default weight of its real servers (1).
	Weight int

	RealServers []*RealServer
}

// RealServer is a real_server block.
type RealServer struct {
	Pos  Pos
	Addr netip.Addr
	Port uint16

	Weight int // the virtual server's weight unless set
	// InhibitOnFailure after inheriting the virtual server's.
	InhibitOnFailure bool
	Method           Method // the virtual server's unless lvs_method is given
	NotifyUp         *Script
	NotifyDown       *Script
	UThreshold       uint32
	LThreshold       uint32
	Alpha            bool
	SMTPAlert        *bool
	Virtualhost      string

	// Checker timing after inheriting the virtual server's; each checker
	// resolves its own from these.
	DelayLoop        time.Duration
	ConnectTimeout   *time.Duration
	Retry            *int
	DelayBeforeRetry *time.Duration
	Warmup           *time.Duration

	Checkers []*Checker
}

// Checker types.
const (
	CheckTCP  = "TCP_CHECK"
	CheckHTTP = "HTTP_GET"
	CheckSSL  = "SSL_GET"
	CheckSMTP = "SMTP_CHECK"
	CheckDNS  = "DNS_CHECK"
	CheckMisc = "MISC_CHECK"
	CheckPing = "PING_CHECK"
	CheckUDP  = "UDP_CHECK"
	CheckFile = "FILE_CHECK"
	CheckBFD  = "BFD_CHECK"
)

// Checker is one health checker of a real server. Timing fields hold the
// effective values after keepalived's inheritance (checker, then real
// server, then virtual server, then the checker type's default).
type Checker struct {
	Pos  Pos
	Type string

	ConnectIP      netip.Addr // the real server's address unless set
	ConnectPort    uint16     // the real server's port unless set
	BindTo         netip.Addr
	BindPort       uint16
	BindIf         string
	ConnectTimeout time.Duration
	Fwmark         uint32

	Retry            int
	DelayBeforeRetry time.Duration
	DelayLoop        time.Duration
	// Warmup is nil when keepalived would pick a random warmup up to
	// the delay loop.
	Warmup         *time.Duration
	Alpha          bool
	LogAllFailures bool

	HTTP *HTTPCheck
	SMTP *SMTPCheck
	DNS  *DNSCheck
	Misc *MiscCheck
	UDP  *UDPCheck
	File *FileCheck
}

// HTTPCheck holds HTTP_GET and SSL_GET settings.
type HTTPCheck struct {
	URLs        []*URL
	Virtualhost string
	// Protocol is "1.0" (default), "1.0C" or "1.1".
	Protocol     string
	FastRecovery bool
	EnableSNI    bool
	SNIName      string
	TLSCompliant bool
}

// URL is one url block.
type URL struct {
	Pos    Pos
	Path   string
	Digest string // lower-case hex MD5, "" for none
	// StatusCodes lists accepted codes as ranges; empty means 200-299.
	StatusCodes  []CodeRange
	Virtualhost  string
	Regex        string
	RegexPos     Pos
	RegexNoMatch bool
	// RegexOptions are regex_options' PCRE2 option names as given.
	RegexOptions []string
	// RegexMinOffset is regex_min_offset; RegexMaxOffset is
	// regex_max_offset (nil: none).
	RegexMinOffset int
	RegexMaxOffset *int
	TLSCompliant   bool
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ Lo, Hi int }

// SMTPCheck holds SMTP_CHECK settings.
type SMTPCheck struct {
	HeloName string
	// Hosts are the deprecated host sub-blocks, each a connection target.
	Hosts []*Checker
}

// DNSCheck holds DNS_CHECK settings.
type DNSCheck struct {
	Type string // SOA
	Name string // "."
}

// MiscCheck holds MISC_CHECK settings.
type MiscCheck struct {
	Path    *Script
	Timeout time.Duration // 0 means the delay loop
	Dynamic bool
}

// UDPCheck holds UDP_CHECK settings.
type UDPCheck struct {
	Payload []byte
	// RequireReply is the expected reply; RequireMask has 0x00 where the
	// pattern had an X wildcard and 0xff elsewhere. Nil: any reply.
	RequireReply   []byte
	RequireMask    []byte
	MinReplyLength int
	MaxReplyLength int // 255
}

// FileCheck holds FILE_CHECK settings.
type FileCheck struct {
	TrackFile string
	Weight    *int
	Reverse   bool
	Dynamic   bool
}

// SSLContext is the top-level SSL block.
type SSLContext struct {
	Pos         Pos
	Password    string
	CA          string
	Certificate string
	Key         string
}

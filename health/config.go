package health

import (
	"crypto/tls"
	"net/netip"
	"strconv"
	"time"

	"github.com/ulvs/ulvs/internal/script"
)

// Config is the health-check half of keepalived.conf: the virtual servers
// with their real servers and checkers, and the global_defs settings that
// govern checkers. cmd/ulvsd builds it from package conf; health never reads
// configuration files itself.
//
// Zero values mean "inherit" (from the real server, then the virtual
// server) or "keepalived's default", as documented on each field.
type Config struct {
	// Services are the virtual_server blocks.
	Services []VirtualServer
	// RouterID is global_defs router_id, used in smtp_alert subjects.
	RouterID string
	// Scripts holds script_user and enable_script_security.
	Scripts script.Policy
	// LogAllFailures is checker_log_all_failures.
	LogAllFailures bool
	// RSInitNotifies is rs_init_notifies: run notify_up for real servers
	// that start alive.
	RSInitNotifies bool
	// SMTPAlert is global smtp_alert_checker (or smtp_alert); nil means
	// unset, which leaves real servers alerting by default as keepalived
	// does (mail is only sent when the Notifier has a mail server).
	SMTPAlert *bool
	// NoCheckerEmails is no_checker_emails: a checker changing state
	// without changing its real server's state sends no mail.
	NoCheckerEmails bool
}

// Protocol names a virtual service's protocol as keepalived prints it.
type Protocol string

// The protocols of a virtual_server.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// VirtualServer is one virtual_server block.
type VirtualServer struct {
	// Addr is the service address and port (invalid for fwmark and
	// group services).
	Addr netip.AddrPort
	// Protocol defaults to TCP.
	Protocol Protocol
	// FWMark identifies a "virtual_server fwmark N" service.
	FWMark uint32
	// Group names a "virtual_server group NAME" service; Addr's port, if
	// any, is the group's port.
	Group string

	// Quorum is the minimum alive weight for the service to be up
	// (default 1).
	Quorum int64
	// Hysteresis widens the quorum threshold against flapping.
	Hysteresis int64
	// QuorumUp and QuorumDown are the quorum_up and quorum_down scripts.
	QuorumUp, QuorumDown script.Spec
	// SorryServer is used while quorum is lost (invalid: none).
	SorryServer netip.AddrPort
	// SorryServerInhibit keeps the sorry server in the pool at weight 0
	// while it is not in use.
	SorryServerInhibit bool
	// Alpha starts every checker of the service down.
	Alpha bool
	// Omega runs the down notifiers and quorum_down on shutdown.
	Omega bool
	// InhibitOnFailure is the default for the real servers: a failed one
	// stays in the pool with weight 0 instead of being removed.
	InhibitOnFailure bool
	// HASuspend suspends the checkers while this node does not hold the
	// service address (see Runner.SetVIP).
	HASuspend bool
	// SMTPAlert is the service's smtp_alert (nil: inherit the global).
	SMTPAlert *bool
	// Virtualhost is the default HTTP virtual host of the HTTP checkers.
	Virtualhost string
	// Timing holds the service's delay_loop, retry, delay_before_retry,
	// warmup and connect_timeout (default delay_loop 60 s).
	Timing
	// Reals are the real_server blocks.
	Reals []RealServer
}

// RealServer is one real_server block.
type RealServer struct {
	// Addr is the real server's address and port.
	Addr netip.AddrPort
	// Weight is the configured weight (keepalived's default is 1; the
	// daemon passes the resolved value).
	Weight int64
	// InhibitOnFailure overrides the service's inhibit_on_failure.
	InhibitOnFailure *bool
	// NotifyUp and NotifyDown are run, with their configured arguments
	// only, when the real server enters or leaves the pool.
	NotifyUp, NotifyDown script.Spec
	// SMTPAlert overrides the service's smtp_alert.
	SMTPAlert *bool
	// Alpha overrides the service's alpha for this server's checkers.
	Alpha *bool
	// Virtualhost overrides the service's virtualhost for HTTP checkers.
	Virtualhost string
	// Timing overrides the service's timers for this server's checkers.
	Timing
	// Checks are the checker blocks; a real server without checkers is
	// always up.
	Checks []Check
}

// Timing holds the timers a checker inherits: from the checker block, else
// the real server, else the virtual server, else keepalived's defaults.
type Timing struct {
	// DelayLoop is delay_loop, the interval between checks (default 60 s).
	DelayLoop time.Duration
	// DelayBeforeRetry is delay_before_retry (default 3 s for HTTP_GET
	// and SSL_GET, delay_loop for DNS_CHECK, 1 s for the others).
	DelayBeforeRetry time.Duration
	// Retry is retry (nb_get_retry): failures tolerated before the
	// checker goes down (default 1; DNS_CHECK 3; MISC_CHECK 0).
	Retry *int
	// Warmup bounds the random delay before a checker's first check
	// (default: delay_loop). Zero starts checks at once.
	Warmup *time.Duration
	// ConnectTimeout is connect_timeout, the bound on one attempt
	// (default 5 s).
	ConnectTimeout time.Duration
}

// Kind is a checker type, named as keepalived.conf spells it.
type Kind uint8

// The checker kinds; each has its row in kinds.
const (
	KindTCP Kind = iota + 1
	KindHTTP
	KindSSL
	KindSMTP
	KindMisc
	KindDNS
	KindPing
	KindUDP
	KindFile
)

// Check is one checker block of a real server. Only the settings block
// matching Kind is used.
type Check struct {
	Kind Kind
	// Conn holds connect_ip, connect_port, bindto, bind_port, bind_if and
	// fwmark (not used by MISC_CHECK and FILE_CHECK).
	Conn ConnOpts
	// Timing overrides the real server's timers.
	Timing
	// Alpha overrides the real server's alpha.
	Alpha *bool
	// LogAllFailures is log_all_failures.
	LogAllFailures *bool

	HTTP HTTPCheck
	SMTP SMTPCheck
	Misc MiscCheck
	DNS  DNSCheck
	UDP  UDPCheck
	File FileCheck
}

// ConnOpts are a checker's connection options.
type ConnOpts struct {
	// Addr is connect_ip (default: the real server's address).
	Addr netip.Addr
	// Port is connect_port (default: the real server's port).
	Port uint16
	// BindAddr is bindto, the source address.
	BindAddr netip.Addr
	// BindPort is bind_port, the source port.
	BindPort uint16
	// BindIface is bind_if (SO_BINDTODEVICE).
	BindIface string
	// Mark is fwmark (SO_MARK) set on the checker's socket.
	Mark uint32
}

// HTTPCheck holds HTTP_GET and SSL_GET settings.
type HTTPCheck struct {
	// URLs are the url blocks, checked one per check in turn as
	// keepalived does.
	URLs []URL
	// Virtualhost is the checker's virtualhost (overrides the real
	// server's).
	Virtualhost string
	// Protocol is http_protocol: "1.0" (default), "1.0C" (1.0 with
	// Connection: close) or "1.1" (always with Connection: close).
	Protocol string
	// FastRecovery is fast_recovery: re-check at once while recovering.
	FastRecovery bool
	// EnableSNI sends the virtual host (or SNIName) as TLS SNI.
	EnableSNI bool
	// SNIName is sni_name, overriding the virtual host for SNI.
	SNIName string
	// TLS is the client configuration built from the SSL block (ca,
	// certificate, key). Nil, as in keepalived without an SSL block,
	// means no certificate verification. It is not serialised.
	TLS *tls.Config `json:"-"`
}

// URL is one url block.
type URL struct {
	// Path is the request target.
	Path string
	// Digest is the expected MD5 of the body in hex ("" for none).
	Digest string
	// StatusCodes are the accepted status codes (default 200-299).
	StatusCodes []StatusRange
	// Virtualhost overrides the checker's virtualhost for this url.
	Virtualhost string
	// Regex is regex: a pattern in Go's regexp syntax (RE2) that the
	// response must match, or with RegexNoMatch must not match, for the
	// url to pass. It is checked after the status code and the digest.
	// What it is matched against is keepalived's subject: the response
	// from the first byte of its status line, header included, when the
	// response has a body; a response without a body never matches. See
	// the package documentation for where RE2 and keepalived's PCRE2
	// differ.
	Regex        string
	RegexNoMatch bool
	// RegexMinOffset is regex_min_offset: the match must start at or
	// after this byte of the subject.
	RegexMinOffset int
	// RegexMaxOffset is regex_max_offset: when set, the match must start
	// at or before this byte of the subject.
	RegexMaxOffset *int
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// SMTPCheck holds SMTP_CHECK settings.
type SMTPCheck struct {
	// HeloName is helo_name (default: the local host name).
	HeloName string
	// Hosts are the deprecated host sub-blocks. Each becomes a checker of
	// its own (keepalived checks them in turn; the real server is up only
	// when all pass, which separate checkers also give).
	Hosts []ConnOpts
}

// MiscCheck holds MISC_CHECK settings.
type MiscCheck struct {
	// Script is misc_path with its arguments and the user it runs as.
	Script script.Spec
	// Timeout is misc_timeout (default: delay_loop).
	Timeout time.Duration
	// Dynamic is misc_dynamic: exit codes 2..255 mean up with weight
	// code-2.
	Dynamic bool
}

// DNSCheck holds DNS_CHECK settings.
type DNSCheck struct {
	// Type is the query type: A, NS, CNAME, SOA (default), MX, TXT, AAAA.
	Type string
	// Name is the query name (default ".").
	Name string
}

// UDPCheck holds UDP_CHECK settings.
type UDPCheck struct {
	// Payload is sent in the datagram (empty: an empty datagram).
	Payload []byte
	// RequireReply demands a reply; without it only an ICMP error fails
	// the check.
	RequireReply bool
	// Reply is the expected start of the reply; ReplyMask has a bit set
	// for every bit of Reply that may differ (keepalived's X digits).
	Reply, ReplyMask []byte
	// MinReplyLen and MaxReplyLen bound the reply (default 0 and 255).
	MinReplyLen, MaxReplyLen int
}

// FileCheck holds FILE_CHECK settings (a track_file watched for a number).
type FileCheck struct {
	// Path is the tracked file.
	Path string
	// Weight multiplies the file's value into the real server's weight;
	// 0 means any non-zero value marks the server down.
	Weight int64
	// Reverse negates the weight.
	Reverse bool
	// Interval is how often the file is read (default 1 s).
	Interval time.Duration
}

// Key returns the virtual server's name as keepalived prints it (FMT_VS):
// "[IP]:proto:PORT", "FWM N" or "[GROUP]:PORT". It identifies the service
// to the Sink and across reloads.
func (vs *VirtualServer) Key() string {
	switch {
	case vs.Group != "":
		return "[" + vs.Group + "]:" + itoa(int64(vs.Addr.Port()))
	case vs.FWMark != 0:
		return "FWM " + itoa(int64(vs.FWMark))
	default:
		p := vs.Protocol
		if p == "" {
			p = TCP
		}
		return "[" + vs.Addr.Addr().String() + "]:" + string(p) + ":" + itoa(int64(vs.Addr.Port()))
	}
}

// RSKey formats a real server as keepalived prints it (FMT_RS): "[IP]:PORT".
func RSKey(a netip.AddrPort) string {
	return "[" + a.Addr().String() + "]:" + itoa(int64(a.Port()))
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

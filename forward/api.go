package forward

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Method is a forwarding method (keepalived's lb_kind / lvs_method).
type Method uint8

// Forwarding methods, numbered as IPVS's IP_VS_CONN_F_MASQ, LOCALNODE,
// TUNNEL, DROUTE.
const (
	NAT Method = 0
	// Local is IP_VS_CONN_F_LOCALNODE (ipvsadm's "Local"): the real server
	// is the director itself (a loopback address, or one configured on the
	// director), and its packets go to the director's own stack. It is never
	// configured: the backend reports it in RealStatus.Method for a real
	// server it found local, whatever the configured method.
	Local Method = 1
	TUN   Method = 2
	DR    Method = 3
)

func (m Method) String() string {
	switch m {
	case NAT:
		return "NAT"
	case Local:
		return "Local"
	case TUN:
		return "TUN"
	case DR:
		return "DR"
	}
	return fmt.Sprintf("Method(%d)", m)
}

// ParseMethod parses NAT, DR or TUN (any case).
func ParseMethod(s string) (Method, error) {
	switch strings.ToUpper(s) {
	case "NAT":
		return NAT, nil
	case "DR":
		return DR, nil
	case "TUN":
		return TUN, nil
	}
	return 0, fmt.Errorf("forward: unknown forwarding method %q (NAT, DR or TUN)", s)
}

// IP protocols of virtual services.
const (
	TCP  uint8 = 6
	UDP  uint8 = 17
	SCTP uint8 = 132
)

// ServiceKey names a virtual service: an address, port and protocol, or a
// firewall mark (FWMark non-zero; Addr then only gives the family).
type ServiceKey struct {
	Addr   netip.Addr
	Port   uint16
	Proto  uint8
	FWMark uint32
}

func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	p := map[uint8]string{TCP: "TCP", UDP: "UDP", SCTP: "SCTP"}[k.Proto]
	return p + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// ServiceConfig is one virtual service, as keepalived's virtual_server.
type ServiceConfig struct {
	Key ServiceKey
	// Scheduler is the ipvsadm scheduler name (lb_algo), default wlc.
	Scheduler string
	// SchedFlags are IP_VS_SVC_F_SCHED1..3 (sh-fallback/mh-fallback,
	// sh-port/mh-port, flag-3), as sched.ParseFlags returns them.
	SchedFlags uint32
	// Persistence is persistence_timeout (0: none).
	Persistence time.Duration
	// Granularity is persistence_granularity as a prefix length (0 means
	// /32 or /128).
	Granularity int
	// OnePacket is ops (UDP only): every datagram is scheduled on its own.
	OnePacket bool
	// Method is the default forwarding method of the real servers.
	Method Method
	// Sorry, when set, receives new connections when the scheduler finds
	// no available real server (sorry_server).
	Sorry *RealConfig
}

// RealConfig is one real server.
type RealConfig struct {
	Addr netip.Addr
	// Port 0 means the client's destination port.
	Port uint16
	// Weight 0 is quiescent: established connections continue, new ones go
	// elsewhere.
	Weight int32
	// UThreshold and LThreshold are uthreshold and lthreshold (0: none).
	UThreshold, LThreshold uint32
	// Method overrides the service's forwarding method when Set is true.
	Method    Method
	MethodSet bool
}

// Timeouts are lvs_timeouts: the TCP established, TCP FIN_WAIT and UDP
// timeouts (zero leaves a value as it is).
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// Stats are the cumulative counters ipvsadm --stats shows.
type Stats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
}

// Rates are what ipvsadm --rate shows, per second, estimated as IPVS's
// ip_vs_est does (2-second samples, exponentially weighted).
type Rates struct {
	CPS, InPPS, OutPPS, InBPS, OutBPS uint64
}

// RealStatus is a real server's configuration, connection counts and
// counters.
type RealStatus struct {
	Config RealConfig
	// Method is how its packets are forwarded: the configured method, or
	// Local while its address is the director's own.
	Method                                   Method
	ActiveConns, InactiveConns, PersistConns int32
	Stats                                    Stats
	Rates                                    Rates
	// NextHop is the resolved Ethernet address packets to it go to (empty
	// while unresolved: new connections to it are dropped until then), or
	// "local" for a real server on the director itself.
	NextHop string
}

// ServiceStatus is a virtual service's configuration and counters, with
// its real servers in the kernel's list order (newest first).
type ServiceStatus struct {
	Config  ServiceConfig
	Enabled bool
	Stats   Stats
	Rates   Rates
	Reals   []RealStatus
}

// Conn is one connection or persistence template, as ipvsadm -Lnc shows
// it.
type Conn struct {
	Proto    uint8
	Expires  time.Duration
	State    string
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Real     netip.AddrPort
	Template bool
}

// Backend is what the daemon drives: the userspace forwarder, or kernel
// IPVS. Every method is safe to call while packets flow.
type Backend interface {
	// AddService, UpdateService and DeleteService change virtual services.
	// UpdateService keeps the real servers and connections.
	AddService(ServiceConfig) error
	UpdateService(ServiceConfig) error
	DeleteService(ServiceKey) error
	// AddReal, UpdateReal and DeleteReal change a service's real servers;
	// UpdateReal also sets weights and thresholds.
	AddReal(ServiceKey, RealConfig) error
	UpdateReal(ServiceKey, RealConfig) error
	DeleteReal(ServiceKey, netip.AddrPort) error
	// SetVIP enables or disables forwarding for every service on addr (a
	// VRRP master enables, a backup disables). Services start enabled.
	SetVIP(addr netip.Addr, enabled bool) error
	// SetTimeouts applies lvs_timeouts.
	SetTimeouts(Timeouts) error
	// Services returns every service with its counters and rates.
	Services() []ServiceStatus
	// Conns returns the connection table (and templates).
	Conns() []Conn
	// Close stops forwarding and removes everything the backend installed.
	Close() error
}

// Errors callers may branch on.
var (
	// ErrUnavailable: the backend cannot run on this machine.
	ErrUnavailable = errors.New("forward: backend unavailable")
	// ErrExists: adding a service or real server that exists.
	ErrExists = errors.New("forward: already exists")
	// ErrNotFound: changing a service or real server that does not exist.
	ErrNotFound = errors.New("forward: not found")
	// ErrUnsupported: a feature this backend does not have.
	ErrUnsupported = errors.New("forward: not supported by this backend")
)

// Backend names, as ulvsd's --backend takes them: NewUserspace starts the
// userspace backend, and package forward/ipvs (ipvs.New) is kernel IPVS.
const (
	BackendUserspace = "userspace"
	BackendIPVS      = "ipvs"
)

// Validate checks what every backend requires of a service: an address
// (for a firewall-mark service, one of its family), TCP, UDP or SCTP, ops
// for UDP only, a forwarding method that can be configured, a persistence
// granularity within the address and a persistence timeout that is not
// negative. Backends add their own limits; the error has no package prefix.
func (c *ServiceConfig) Validate() error {
	k := c.Key
	switch {
	case !k.Addr.IsValid():
		return fmt.Errorf("service %v: no address (a firewall-mark service needs one of its family)", k)
	case k.FWMark == 0 && k.Proto != TCP && k.Proto != UDP && k.Proto != SCTP:
		return fmt.Errorf("service %v: protocol %d is not TCP, UDP or SCTP", k, k.Proto)
	case c.OnePacket && k.FWMark == 0 && k.Proto != UDP:
		return fmt.Errorf("service %v: ops applies to UDP only", k)
	case c.Method != NAT && c.Method != DR && c.Method != TUN:
		return fmt.Errorf("service %v: bad forwarding method %v", k, c.Method)
	case c.Granularity < 0 || c.Granularity > k.Addr.Unmap().BitLen():
		return fmt.Errorf("service %v: persistence granularity /%d", k, c.Granularity)
	case c.Persistence < 0:
		return fmt.Errorf("service %v: negative persistence timeout %v", k, c.Persistence)
	}
	if c.Sorry != nil {
		if err := c.Sorry.Validate(); err != nil {
			return fmt.Errorf("service %v: sorry server: %w", k, err)
		}
	}
	return nil
}

// validate is Validate for the userspace backend, which cannot match
// firewall marks.
func (c *ServiceConfig) validate() error {
	if c.Key.FWMark != 0 {
		return fmt.Errorf("%w: %v: firewall marks are set by netfilter after the AF_PACKET tap sees a packet, so the userspace forwarder cannot match them", ErrUnsupported, c.Key)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	return nil
}

// Validate checks what every backend requires of a real server: an address
// and, when set, a forwarding method that can be configured. The error has
// no package prefix.
func (c *RealConfig) Validate() error {
	switch {
	case !c.Addr.IsValid():
		return errors.New("real server without an address")
	case c.MethodSet && c.Method != NAT && c.Method != DR && c.Method != TUN:
		return fmt.Errorf("real server %v: method %v cannot be configured (NAT, DR or TUN; Local is chosen for the director's own addresses)", c.Addr, c.Method)
	}
	return nil
}

func (c *RealConfig) validate() error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	return nil
}

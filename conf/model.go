package conf

import (
	"net/netip"
	"time"
)

// Config is a whole keepalived configuration. Slices keep file order.
// Defaults are applied as keepalived applies them, so a consumer reads
// concrete values; pointer fields are nil where "not set" means "inherit".
type Config struct {
	Global GlobalDefs

	StaticAddresses []*IPAddress
	StaticRoutes    []*Route
	StaticRules     []*Rule
	TrackGroups     []*TrackGroup

	Scripts        []*VRRPScript
	TrackFiles     []*TrackFile
	TrackProcesses []*TrackProcess
	SyncGroups     []*SyncGroup
	Instances      []*Instance

	VirtualServerGroups []*VirtualServerGroup
	VirtualServers      []*VirtualServer

	// SSL is the client context for SSL_GET checkers (the SSL block).
	SSL *SSLContext

	// Files lists every file read, the main file first.
	Files []string
}

// Script is a script keyword's value: the command as written and the
// argument vector keepalived derives from it, with an optional run-as user.
type Script struct {
	Pos Pos
	// Cmd is the script string as keepalived reads it (quotes removed,
	// escapes decoded).
	Cmd string
	// Argv is Cmd split into words, honouring quotes and escapes.
	Argv []string
	// User and Group come from trailing words ("script" [user [group]]).
	User, Group string
}

// Timers shared by GlobalDefs, instances and sync groups for gratuitous ARP.
type Garp struct {
	// MasterDelay: second burst after becoming master (0: none).
	MasterDelay time.Duration
	// MasterRepeat: GARPs per burst.
	MasterRepeat int
	// MasterRefresh: periodic refresh while master (0: off).
	MasterRefresh time.Duration
	// MasterRefreshRepeat: GARPs per refresh.
	MasterRefreshRepeat int
	// LowerPrioDelay/LowerPrioRepeat: when a master hears a lower
	// priority advert.
	LowerPrioDelay  time.Duration
	LowerPrioRepeat int
}

// GlobalDefs is the global_defs block.
type GlobalDefs struct {
	Pos Pos

	RouterID              string
	NotificationEmail     []string
	NotificationEmailFrom string
	SMTPServer            string // host or address; empty: none
	SMTPPort              uint16 // 25
	SMTPConnectTimeout    time.Duration
	SMTPHeloName          string
	// SMTPAlert, SMTPAlertVRRP, SMTPAlertChecker: nil when unset.
	SMTPAlert, SMTPAlertVRRP, SMTPAlertChecker *bool
	CheckerLogAllFailures                      bool
	NoEmailFaults                              bool

	McastGroup4          netip.Addr // 224.0.0.18
	McastGroup6          netip.Addr // ff02::12
	VRRPVersion          int        // 2
	Garp                 Garp
	GarpInterval         time.Duration // vrrp_garp_interval
	GnaInterval          time.Duration // vrrp_gna_interval
	MinGarp              bool
	Strict               bool
	SkipCheckAdvAddr     bool
	CheckUnicastSrc      bool
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	V3ChecksumAsV2       bool
	DownTimerAdverts     int // 3
	StartupDelay         time.Duration
	NotifyPriorityChange bool
	DefaultInterface     string // eth0
	DynamicInterfaces    bool

	ScriptUser, ScriptGroup string
	EnableScriptSecurity    bool
	NotifyFifo              *Fifo
	VRRPNotifyFifo          *Fifo
	LVSNotifyFifo           *Fifo

	LVSTimeouts    LVSTimeouts
	LVSSyncDaemon  *LVSSyncDaemon
	LVSFlush       bool
	LVSFlushOnStop string // "", "VS" or "ALL"

	// RSInitNotifies runs real servers' notify scripts for their initial
	// state at start (rs_init_notifies).
	RSInitNotifies bool
	// StartupScript and ShutdownScript run before start and after stop;
	// their timeouts default to 10 s.
	StartupScript, ShutdownScript               *Script
	StartupScriptTimeout, ShutdownScriptTimeout time.Duration
	// Firewall is vrrp_iptables, vrrp_ipsets or nftables: how no_accept
	// and strict mode drop traffic to VIPs a master does not own.
	Firewall *Firewall
	// NetNamespace is the network namespace ulvsd runs in (net_namespace).
	NetNamespace    string
	NetNamespacePos Pos

	StateDumpFile string // /tmp/keepalived.data
	StatsDumpFile string // /tmp/keepalived.stats
	JSONDumpFile  string // /tmp/keepalived.json
	IncludeCheck  string
}

// Firewall is global_defs vrrp_iptables [IN [OUT]] (with vrrp_ipsets NAMES)
// or nftables [TABLE].
type Firewall struct {
	Pos Pos
	// Kind is "iptables" or "nftables".
	Kind string
	// Names are the iptables chains (INPUT and OUTPUT when empty) or the
	// nftables table ("keepalived").
	Names  []string
	IPSets []string
}

// TrackGroup is a track_group block: the instances whose states static
// addresses, routes and rules with "track_group NAME" follow.
type TrackGroup struct {
	Pos   Pos
	Name  string
	Group []string
}

// Fifo is a notify FIFO with an optional script that reads it.
type Fifo struct {
	Pos         Pos
	Path        string
	User, Group string
	Script      *Script
}

// LVSTimeouts is global_defs lvs_timeouts; zero means "kernel default".
type LVSTimeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// LVSSyncDaemon is global_defs lvs_sync_daemon.
type LVSSyncDaemon struct {
	Pos       Pos
	Interface string
	Instance  string
	SyncID    int
	MaxLen    int
	Port      int
	TTL       int
	Group     netip.Addr
}

// newLVSSyncDaemon is lvs_sync_daemon on iface with IPVS's defaults: port
// 8848, TTL 1, group 224.0.0.81.
func newLVSSyncDaemon(pos Pos, iface string) *LVSSyncDaemon {
	return &LVSSyncDaemon{Pos: pos, Interface: iface, Port: 8848, TTL: 1, Group: netip.AddrFrom4([4]byte{224, 0, 0, 81})}
}

// IPAddress is one line of virtual_ipaddress, virtual_ipaddress_excluded
// or static_ipaddress: "IP[/len] [brd IP|+|-] [dev IF] [scope S] [label L]
// [peer IP[/len]] [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin]
// [no_track] [preferred_lft N|forever] [use_vmac]".
type IPAddress struct {
	Pos Pos
	// Prefix holds the address and its length (/32 or /128 if none given).
	Prefix        netip.Prefix
	Broadcast     string // an address, "+", "-", or "" for none
	Dev           string
	Scope         string
	Label         string
	Peer          netip.Prefix
	Home          bool
	NoDAD         bool
	MngTmpAddr    bool
	NoPrefixRoute bool
	AutoJoin      bool
	NoTrack       bool
	PreferredLft  string
	UseVMAC       bool
	// TrackGroup names the track_group a static address follows.
	TrackGroup string
}

// Route is a virtual_routes or static_routes line, in ip-route syntax.
type Route struct {
	Pos Pos
	// Type is unicast (default), blackhole, unreachable, prohibit, throw,
	// local, broadcast, anycast, multicast or nat.
	Type     string
	Dst      netip.Prefix
	Src      netip.Addr
	Via      netip.Addr
	Or       netip.Addr // keepalived's "or IP": an alternative gateway
	Dev      string
	Scope    string
	Table    string
	Metric   int
	Protocol string
	OnLink   bool
	NoTrack  bool
	// TrackGroup names the track_group a static route follows.
	TrackGroup string
	// Options keeps other "name value" route attributes (mtu, advmss, ...).
	Options map[string]string
}

// Rule is a virtual_rules or static_rules line, in ip-rule syntax.
type Rule struct {
	Pos      Pos
	From, To netip.Prefix
	Table    string
	Priority int
	Fwmark   string
	IIf, OIf string
	Action   string // "", goto, blackhole, unreachable, prohibit
	NoTrack  bool
	// TrackGroup names the track_group a static rule follows.
	TrackGroup string
	Options    map[string]string
}

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Pos      Pos
	Name     string
	Script   *Script
	Interval time.Duration // 1 s
	Timeout  time.Duration // 0 means the interval
	Weight   int           // 0: failure means FAULT
	Reverse  bool
	Rise     int // 1
	Fall     int // 1
	InitFail bool
	// User and Group are the "user" keyword's (also copied into Script).
	User, Group string
}

// TrackFile is a track_file (vrrp_track_file) block.
type TrackFile struct {
	Pos      Pos
	Name     string
	File     string
	Weight   int // 1
	Reverse  bool
	InitFile *TrackFileInit
}

// TrackFileInit is track_file's init_file [VALUE] [overwrite].
type TrackFileInit struct {
	Value     int
	Overwrite bool
}

// TrackProcess is a vrrp_track_process block.
type TrackProcess struct {
	Pos            Pos
	Name           string
	Process        []string
	ParamMatch     string
	Weight         int
	Reverse        bool
	Quorum         int // 1
	QuorumMax      int // 0: unlimited
	Delay          time.Duration
	TerminateDelay time.Duration
	ForkDelay      time.Duration
	FullCommand    bool
}

// Track is a reference from an instance or sync group to something it
// tracks: "NAME [weight W] [reverse|noreverse]".
type Track struct {
	Pos  Pos
	Name string
	// Weight is nil when not given (the tracked object's own weight
	// applies, or failure means FAULT for interfaces).
	Weight  *int
	Reverse bool
}

// Notify holds the notify scripts of an instance or sync group.
type Notify struct {
	Master, Backup, Fault, Stop, Deleted *Script
	// Generic gets "INSTANCE|GROUP name STATE priority" appended.
	Generic           *Script
	MasterRxLowerPrio *Script
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Pos                     Pos
	Name                    string
	Group                   []string
	GroupPos                []Pos
	Notify                  Notify
	TrackInterfaces         []Track
	TrackScripts            []Track
	TrackFiles              []Track
	TrackProcesses          []Track
	SMTPAlert               *bool
	SyncGroupTrackingWeight bool
	NotifyPriorityChanges   bool
}

// Auth is an instance's authentication block.
type Auth struct {
	Pos  Pos
	Type string // PASS or AH
	// Pass is the password as given (only its first 8 bytes are used).
	Pass string
}

// UnicastPeer is one line of unicast_peer.
type UnicastPeer struct {
	Pos    Pos
	Addr   netip.Addr
	MinTTL int
	MaxTTL int
}

// VMAC is use_vmac [NAME] [MAC].
type VMAC struct {
	Pos  Pos
	Name string
	MAC  string
}

// Instance is a vrrp_instance block.
type Instance struct {
	Pos  Pos
	Name string

	// State is the configured initial state, MASTER or BACKUP.
	State    string
	StatePos Pos
	// Interface is required unless unicast peers are used.
	Interface    string
	InterfacePos Pos
	VRID         int
	// Priority after keepalived's rule: 100 by default, 255 when state
	// is MASTER and no priority is given.
	Priority  int
	AdvertInt time.Duration // 1 s
	// Version is 2 or 3 (global vrrp_version unless set; 3 for IPv6).
	Version int

	VIPs               []*IPAddress
	ExcludedVIPs       []*IPAddress
	NoVirtualIPAddress bool
	Routes             []*Route
	Rules              []*Rule

	Auth         *Auth
	Preempt      bool // true unless nopreempt
	PreemptDelay time.Duration

	TrackInterfaces []Track
	TrackScripts    []Track
	TrackFiles      []Track
	TrackProcesses  []Track

	UnicastSrcIP       netip.Addr
	UnicastPeers       []UnicastPeer
	McastSrcIP         netip.Addr
	McastDstIP         netip.Addr
	UnicastTTL         int // 255
	CheckUnicastSrc    bool
	UnicastFaultNoPeer bool

	Notify    Notify
	SMTPAlert *bool

	// Garp holds the instance's GARP timers (the global ones unless set).
	Garp Garp

	UseVMAC          *VMAC
	VMACXmitBase     bool
	DontTrackPrimary bool
	// Accept is nil unless accept or no_accept was given.
	Accept               *bool
	Strict               bool
	SkipCheckAdvAddr     bool
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	V3ChecksumAsV2       bool
	DownTimerAdverts     int
	Debug                int
	NotifyPriorityChange bool
	// PromoteSecondaries sets the interface's promote_secondaries so that
	// removing a VIP keeps the other addresses of its subnet.
	PromoteSecondaries bool

	// LVSSyncDaemonInterface is the deprecated per-instance keyword.
	LVSSyncDaemonInterface string
}

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
	RegexNoMatch bool
	// RegexMinOffset and RegexMaxOffset bound where in the body a match
	// may start (-1: not set); RegexOptions are PCRE2 option names.
	RegexMinOffset, RegexMaxOffset int
	RegexOptions                   []string
	TLSCompliant                   bool
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

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
	// NftablesPriority (nil: -1) and NftablesCounters are
	// nftables_priority and nftables_counters.
	NftablesPriority *int
	NftablesCounters bool
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
	Pos        Pos
	Name       string
	Process    []string
	ParamMatch string
	Weight     int
	Reverse    bool
	Quorum     int // 1
	// QuorumMax is nil when unbounded; 0 means none may run (keepalived).
	QuorumMax      *int
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
	Master, Backup, Fault, Stop *Script
	// Deleted is notify_deleted: set (with no Argv when no script is
	// given) makes a deleted instance DELETED rather than FAULT.
	Deleted *Script
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

package vrrp

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/notify"
)

// Config is everything VRRP needs from keepalived.conf (global_defs,
// vrrp_script, track_file, vrrp_sync_group, vrrp_instance), in ulvs's own
// types: internal/plan translates package conf's types into it. Zero values mean
// keepalived's defaults.
type Config struct {
	Global     Global
	Scripts    []Script
	TrackFiles []TrackFile
	Processes  []TrackProcess
	Groups     []SyncGroup
	Instances  []Instance

	// Static is static_ipaddress, static_routes, static_rules and the
	// track_group blocks they name: installed when Run starts, kept while
	// it runs, applied as a difference on reload, removed when it ends.
	Static Static

	// Logger receives the log; nil means no logging.
	Logger *zap.Logger `json:"-"`
	// Network opens the VRRP sockets; nil means the system's raw sockets
	// (Linux only).
	Network Network `json:"-"`
	// System adds addresses, routes and rules, sends gratuitous ARP and
	// reports links; nil means the system's (Linux only, netlink).
	System System `json:"-"`

	// KeepAddresses leaves the VIPs, virtual routes and rules in place when
	// Run ends (keepalived's -V, --dont-release-vrrp); priority 0 is still
	// sent, so a peer takes over.
	KeepAddresses bool

	// ReleaseVIPs is keepalived's -X (--release-vips): whenever an
	// instance becomes BACKUP, FAULT or STOP, its VIPs, eVIPs, routes and
	// rules are removed even if this run did not add them — another
	// process, a hand, or a crash may have left them, and a backup must not
	// answer for the VIP. (keepalived vrrp_restore_interface with
	// RELEASE_VIPS_BIT.)
	ReleaseVIPs bool

	// VIPHook, when set, is called on the node's goroutine with an
	// instance's VIPs and eVIPs: held true just before they are added (it
	// becomes master, or a reload changes a master's addresses), held false
	// just after they are removed. A userspace
	// forwarder enables its services there, so the kernel never owns a VIP
	// whose services are not yet forwarded (it would answer their SYNs
	// with RST). It must not block for long: adverts wait for it.
	VIPHook func(instance string, vips []netip.Prefix, held bool) `json:"-"`
}

// Global holds the global_defs settings that concern VRRP.
type Global struct {
	// RouterID is router_id (default: the host name), used in mail.
	RouterID string

	// Mail is where smtp_alert mail goes (smtp_server, smtp_helo_name,
	// smtp_connect_timeout, notification_email_from and
	// notification_email); nil: none. What it leaves empty takes
	// keepalived's default (notify.Mail.WithDefaults).
	Mail *notify.Mail
	// SMTPAlert is smtp_alert / smtp_alert_vrrp: the default for instances
	// and groups that do not set their own (nil: off).
	SMTPAlert *bool

	// McastGroup4 and McastGroup6 are vrrp_mcast_group4/6 (defaults
	// 224.0.0.18 and ff02::12).
	McastGroup4, McastGroup6 netip.Addr
	// Version is vrrp_version: 2 (default) or 3. IPv6 instances always
	// use 3.
	Version int

	// GARP settings: vrrp_garp_master_delay (default 5 s; a negative value
	// means 0, no second burst), vrrp_garp_master_repeat (5),
	// vrrp_garp_master_refresh (0, off), vrrp_garp_master_refresh_repeat
	// (1), vrrp_garp_lower_prio_delay and _repeat (default: the master
	// values), vrrp_garp_interval and vrrp_gna_interval (0), vrrp_min_garp.
	GARPMasterDelay         time.Duration
	GARPMasterRepeat        int
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	GARPLowerPrioDelay      *time.Duration
	GARPLowerPrioRepeat     *int
	GARPInterval            time.Duration
	GNAInterval             time.Duration
	MinGARP                 bool

	// DownTimerAdverts is vrrp_down_timer_adverts (default 3).
	DownTimerAdverts int
	// LowerPrioNoAdvert and HigherPrioSendAdvert are
	// vrrp_lower_prio_no_advert and vrrp_higher_prio_send_advert.
	LowerPrioNoAdvert, HigherPrioSendAdvert bool
	// V3ChecksumAsV2 is v3_checksum_as_v2: the v3 IPv4 checksum leaves
	// out the pseudo-header.
	V3ChecksumAsV2 bool
	// CheckUnicastSrc is vrrp_check_unicast_src.
	CheckUnicastSrc bool
	// SkipCheckAdvAddr is vrrp_skip_check_adv_addr.
	SkipCheckAdvAddr bool
	// StartupDelay is vrrp_startup_delay.
	StartupDelay time.Duration

	// NotifyPriorityChanges is vrrp_notify_priority_changes: the default
	// of instances' notify_priority_changes.
	NotifyPriorityChanges bool

	// Firewall is what keepalived's nftables keywords say about the
	// firewall that implements no_accept.
	Firewall Firewall

	// ScriptUser and ScriptGroup are script_user; EnableScriptSecurity is
	// enable_script_security.
	ScriptUser, ScriptGroup string
	EnableScriptSecurity    bool

	// NotifyFIFO and VRRPNotifyFIFO are notify_fifo and vrrp_notify_fifo;
	// the scripts are notify_fifo_script and vrrp_notify_fifo_script.
	NotifyFIFO, VRRPNotifyFIFO             FIFO
	NotifyFIFOScript, VRRPNotifyFIFOScript *Notify
}

// FIFO is a notify FIFO: its path and, when ulvs creates it, its owner.
type FIFO = notify.FIFOSpec

// Firewall is the nftables table through which masters in no_accept
// mode drop traffic to and from the VIPs they do not own, laid out as
// keepalived lays out its own (table ip and ip6 TABLE, a set of addresses,
// chains in and out at filter priority PRIORITY): global_defs nftables
// [TABLE], nftables_priority and nftables_counters. keepalived's
// vrrp_iptables uses this table too where iptables is nftables-based or
// missing, as it does on current distributions.
type Firewall struct {
	// Table is the table name (default "keepalived").
	Table string
	// Priority is the chains' priority relative to filter (default -1);
	// nil means the default.
	Priority *int
	// Counters adds counters to the drop rules.
	Counters bool
}

// Notify is a notify script: its argument vector (already split as
// keepalived splits it) and optional run-as user and group.
type Notify struct {
	Argv        []string
	User, Group string
}

// Script is a vrrp_script block.
type Script struct {
	// Name is the block's name, which track_script refers to.
	Name string
	// Argv is the script line, split.
	Argv []string
	// Interval is the time between runs (default 1 s).
	Interval time.Duration
	// Timeout is how long a run may take (default: Interval); a script
	// still running then is killed and counts as failed.
	Timeout time.Duration
	// Weight is -253..253; 0 means a failure puts the instance in FAULT.
	Weight int
	// Reverse is "weight W reverse".
	Reverse bool
	// Rise and Fall are the consecutive successes and failures needed to
	// change state (default 1 each).
	Rise, Fall int
	// User and Group are "user USER [GROUP]".
	User, Group string
	// InitFail is init_fail: the script starts failed instead of unknown.
	InitFail bool
}

// withDefaults is s with keepalived's defaults for what it leaves out.
func (s Script) withDefaults() Script {
	if s.Interval <= 0 {
		s.Interval = time.Second
	}
	s.Rise, s.Fall = max(s.Rise, 1), max(s.Fall, 1)
	return s
}

// TrackFile is a track_file (vrrp_track_file) block.
type TrackFile struct {
	Name string
	// Path is the file holding an integer.
	Path string
	// Weight multiplies the value (default 1; 0: a non-zero value is a
	// failure). WeightSet tells an explicit 0 from the default.
	Weight    int
	WeightSet bool
	Reverse   bool
	// InitFile, when set, is init_file: the file is created with this
	// value if missing, or always with InitOverwrite.
	InitFile      *int
	InitOverwrite bool
}

// TrackProcess is a vrrp_track_process block: the number of running
// processes that match decides whether it is up, as keepalived counts them
// (track_process.c): a process matches by its name (/proc/PID/comm) or,
// with FullCommand, by its command line, whose first word must equal
// Process and whose further words are compared as ParamMatch says. It is
// up while Quorum <= count <= QuorumMax.
type TrackProcess struct {
	Name string
	// Process is the process name or path (the first word of "process").
	Process string
	// Params are the further words of "process" (they imply FullCommand
	// and an exact ParamMatch).
	Params []string
	// ParamMatch is "" (no parameters compared), "exact", "partial" (the
	// configured parameters are the first ones) or "initial" (the last
	// configured parameter may be a prefix of the process's).
	ParamMatch string
	// FullCommand matches /proc/PID/cmdline instead of the name.
	FullCommand bool
	// Weight is -254..254; 0 means a lost quorum is a FAULT. Reverse is
	// "weight W reverse".
	Weight  int
	Reverse bool
	// Quorum (default 1) and QuorumMax (nil: no bound; 0 makes any
	// matching process a failure) bound the count.
	Quorum    int
	QuorumMax *int
	// ForkDelay delays the gain of quorum by a forked process;
	// TerminateDelay delays its loss ("delay" sets both).
	ForkDelay, TerminateDelay time.Duration
}

// TrackRef is one line of a track_script, track_interface or track_file
// block: a name with an optional weight that overrides the tracked
// object's own, and reverse / noreverse.
type TrackRef struct {
	Name string
	// Weight, when set, overrides the object's weight. For
	// track_interface there is nothing to override: unset means
	// unweighted (a failure is a FAULT).
	Weight *int
	// Reverse, when set, overrides the object's reverse flag.
	Reverse *bool
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Name    string
	Members []string

	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop *Notify
	Notify                                              *Notify

	TrackInterfaces, TrackScripts, TrackFiles, TrackProcesses []TrackRef
	// NotifyPriorityChanges is notify_priority_changes of the group: its
	// members report priority changes on the notify FIFOs.
	NotifyPriorityChanges bool
	// TrackingWeight is sync_group_tracking_weight: members keep the
	// weights of their tracked objects (otherwise a weighted failure in
	// a sync group member is a FAULT, as keepalived does).
	TrackingWeight bool
	SMTPAlert      *bool
}

// Instance is a vrrp_instance block.
type Instance struct {
	Name string
	// State is the configured "state": StateMaster, StateBackup, or
	// StateInit when absent (then MASTER iff priority 255).
	State State
	// Interface is the interface adverts go out on.
	Interface string
	// VRID is virtual_router_id, 1..255.
	VRID int
	// Priority is 1..255 (default 100, or 255 with "state MASTER" and no
	// priority).
	Priority int
	// AdvertInt is advert_int (default 1 s). v2 rounds it to whole
	// seconds, v3 to centiseconds.
	AdvertInt time.Duration
	// Version is 2 or 3 (default: Global.Version; IPv6: 3).
	Version int

	VIPs         []VIP
	ExcludedVIPs []VIP
	Routes       []Route
	Rules        []Rule

	// AuthType and AuthPass are the authentication block (v2 only; the
	// first 8 bytes of the password are used).
	AuthType AuthType
	AuthPass string

	// Nopreempt is nopreempt; PreemptDelay is preempt_delay.
	Nopreempt    bool
	PreemptDelay time.Duration

	TrackInterfaces, TrackScripts, TrackFiles, TrackProcesses []TrackRef
	// DontTrackPrimary is dont_track_primary.
	DontTrackPrimary bool

	// UnicastSrcIP is unicast_src_ip; McastSrcIP is mcast_src_ip.
	UnicastSrcIP, McastSrcIP netip.Addr
	// McastDstIP is mcast_dst_ip: the instance's own multicast group
	// (default: vrrp_mcast_group4/6).
	McastDstIP netip.Addr
	// UnicastPeers is unicast_peer; empty means multicast.
	UnicastPeers []Peer
	// UnicastTTL is unicast_ttl: the TTL / hop limit of unicast adverts
	// (nil: 255).
	UnicastTTL *int
	// UnicastFaultNoPeer is unicast_fault_no_peer: an instance with
	// unicast settings but no peer stays in FAULT instead of falling back
	// to multicast.
	UnicastFaultNoPeer bool

	// NoAccept is no_accept (also vrrp_strict's default for a non-owner):
	// while master, the host drops traffic to and from its VIPs and eVIPs
	// (RFC 5798 Accept_Mode False), unless its priority is 255.
	NoAccept bool

	// PromoteSecondaries is promote_secondaries: the interface's
	// promote_secondaries sysctl is set while ulvs runs, so removing one
	// address of a subnet does not remove the others.
	PromoteSecondaries bool

	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop *Notify
	Notify                                              *Notify
	// NotifyMasterRxLowerPri is notify_master_rx_lower_pri.
	NotifyMasterRxLowerPri *Notify
	// NotifyDeleted is notify_deleted: an instance a reload removes is
	// reported as DELETED (not FAULT), and NotifyDeletedScript, when set,
	// runs instead of notify_fault.
	NotifyDeleted       bool
	NotifyDeletedScript *Notify
	// NotifyPriorityChanges is notify_priority_changes (nil: the sync
	// group's or the global default): effective priority changes are
	// written to the notify FIFOs as MASTER_PRIORITY / BACKUP_PRIORITY.
	NotifyPriorityChanges *bool
	SMTPAlert             *bool

	// Per-instance GARP settings; nil means the global value.
	GARPMasterDelay         *time.Duration
	GARPMasterRepeat        *int
	GARPMasterRefresh       *time.Duration
	GARPMasterRefreshRepeat *int
	GARPLowerPrioDelay      *time.Duration
	GARPLowerPrioRepeat     *int

	// UseVMAC is use_vmac: the VIPs live on a macvlan interface with the
	// virtual MAC 00:00:5e:00:01:VRID (02 for IPv6), named VMACName
	// (default "vrrp.VRID"). VMACXmitBase is vmac_xmit_base.
	UseVMAC      bool
	VMACName     string
	VMACXmitBase bool

	// Per-instance overrides of the global settings.
	LowerPrioNoAdvert    *bool
	HigherPrioSendAdvert *bool
	SkipCheckAdvAddr     *bool
	V3ChecksumAsV2       *bool
	DownTimerAdverts     int
}

// Peer is one unicast_peer line.
type Peer struct {
	Addr netip.Addr
	// MinTTL and MaxTTL, when non-zero, bound the TTL accepted from this
	// peer (and make the source check apply).
	MinTTL, MaxTTL int
}

// VIP is one virtual_ipaddress (or virtual_ipaddress_excluded) line:
// IP[/len] [brd IP|+|-] [dev IF] [scope S] [label L] [peer IP] [home]
// [-nodad] [noprefixroute].
type VIP struct {
	Prefix netip.Prefix
	// Broadcast is an explicit "brd IP"; BroadcastAuto is "brd +".
	Broadcast     netip.Addr
	BroadcastAuto bool
	// Dev is the interface (default: the instance's, or its VMAC).
	Dev string
	// Scope is "global" (default), "site", "link", "host" or a number.
	Scope                      string
	Label                      string
	Peer                       netip.Prefix
	Home, NoDAD, NoPrefixRoute bool
}

// Route is one virtual_routes line.
type Route struct {
	Dst     netip.Prefix
	Src     netip.Addr
	Gateway netip.Addr
	Dev     string
	Scope   string
	Table   int
	Metric  int
	// Type is "unicast" (default), "blackhole", "unreachable",
	// "prohibit" or "local".
	Type string
}

// Rule is one virtual_rules line.
type Rule struct {
	From, To netip.Prefix
	Table    int
	Priority int
	Mark     uint32
	Mask     *uint32
	Iif, Oif string
	Invert   bool
	Family   Family
}

// Static is what the static_ipaddress, static_routes and static_rules
// blocks install. keepalived's rules: the addresses, routes and rules are
// added when VRRP starts and removed when it stops; a static address that
// is deleted while ulvs runs is restored (unless no_track), and the
// addresses and routes of an interface are restored when it comes back
// up. A line with "track_group GROUP" makes the instances of that
// track_group track its interface (the address's dev, a route's dev, a
// rule's iif): while that interface is down the address or route cannot
// exist, and the instances are in FAULT.
type Static struct {
	Addresses []StaticAddress
	Routes    []StaticRoute
	Rules     []StaticRule
	// TrackGroups are the track_group blocks: a name and its instances.
	TrackGroups []TrackGroup
}

// StaticAddress is one static_ipaddress line. VIP.Dev is required.
type StaticAddress struct {
	VIP
	// TrackGroup is the line's track_group; NoTrack is no_track.
	TrackGroup string
	NoTrack    bool
}

// StaticRoute is one static_routes line.
type StaticRoute struct {
	Route
	TrackGroup string
	NoTrack    bool
}

// StaticRule is one static_rules line.
type StaticRule struct {
	Rule
	TrackGroup string
	NoTrack    bool
}

// TrackGroup is a track_group block.
type TrackGroup struct {
	Name      string
	Instances []string
}

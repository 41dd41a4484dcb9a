package vrrp

import (
	"net/netip"
	"reflect"
	"time"
)

// Stats are an instance's counters, named as keepalived's JSON and stats
// dumps name them.
type Stats struct {
	AdvertRcvd        uint64 `json:"advert_rcvd"`
	AdvertSent        uint64 `json:"advert_sent"`
	BecomeMaster      uint64 `json:"become_master"`
	ReleaseMaster     uint64 `json:"release_master"`
	PacketLenErr      uint64 `json:"packet_len_err"`
	AdvertIntervalErr uint64 `json:"advert_interval_err"`
	IPTTLErr          uint64 `json:"ip_ttl_err"`
	InvalidTypeRcvd   uint64 `json:"invalid_type_rcvd"`
	AddrListErr       uint64 `json:"addr_list_err"`
	InvalidAuthType   uint64 `json:"invalid_authtype"`
	AuthTypeMismatch  uint64 `json:"authtype_mismatch"`
	AuthFailure       uint64 `json:"auth_failure"`
	PriZeroRcvd       uint64 `json:"pri_zero_rcvd"`
	PriZeroSent       uint64 `json:"pri_zero_sent"`
	ChecksumErr       uint64 `json:"chk_err"`
	VersionErr        uint64 `json:"vers_err"`
	// UnicastSrcErr counts adverts from a source that is not a
	// unicast_peer (with vrrp_check_unicast_src).
	UnicastSrcErr uint64 `json:"unicast_src_err"`
}

// Sub returns the counters since base was taken (a stats clear), field by
// field; a counter below its base (the instance was recreated) is returned
// whole.
func (s Stats) Sub(base Stats) Stats {
	out := s
	v, b := reflect.ValueOf(&out).Elem(), reflect.ValueOf(base)
	for i := range v.NumField() {
		if x, y := v.Field(i).Uint(), b.Field(i).Uint(); x >= y {
			v.Field(i).SetUint(x - y)
		}
	}
	return out
}

// Invalid returns the number of adverts dropped as invalid.
func (s *Stats) Invalid() uint64 {
	return s.PacketLenErr + s.AdvertIntervalErr + s.IPTTLErr + s.InvalidTypeRcvd + s.AddrListErr +
		s.InvalidAuthType + s.AuthTypeMismatch + s.AuthFailure + s.ChecksumErr + s.VersionErr + s.UnicastSrcErr
}

// InstanceStatus is a snapshot of one instance, for the USR1/USR2/JSON
// dumps and the control socket.
type InstanceStatus struct {
	Name      string `json:"iname"`
	Interface string `json:"ifp_ifname"`
	VRID      int    `json:"vrid"`
	Version   int    `json:"version"`
	State     State  `json:"state"`
	// WantState is the state the instance would be in without its sync
	// group.
	WantState         State         `json:"wantstate"`
	BasePriority      int           `json:"base_priority"`
	EffectivePriority int           `json:"effective_priority"`
	AdverInt          time.Duration `json:"adver_int"`
	MasterAdverInt    time.Duration `json:"master_adver_int"`
	MasterAddr        netip.Addr    `json:"master_saddr"`
	MasterPriority    int           `json:"master_priority"`
	SourceAddr        netip.Addr    `json:"saddr"`
	VIPs              []netip.Addr  `json:"vips"`
	VIPsSet           bool          `json:"vipset"`
	Group             string        `json:"sync_group,omitempty"`
	LastTransition    time.Time     `json:"last_transition"`
	Trackers          []TrackStatus `json:"tracking,omitempty"`
	Stats             Stats         `json:"stats"`
}

// TrackStatus is the state of one tracked object as an instance sees it.
type TrackStatus struct {
	Kind   string `json:"kind"` // "script", "interface" or "file"
	Name   string `json:"name"`
	Status string `json:"status"` // "OK", "FAILED", "INIT" or a file's value
	Weight int    `json:"weight"`
}

// GroupStatus is a snapshot of one sync group.
type GroupStatus struct {
	Name    string   `json:"gname"`
	State   State    `json:"state"`
	Members []string `json:"members"`
}

// Status is a snapshot of the whole VRRP side.
type Status struct {
	Instances []InstanceStatus `json:"instances"`
	Groups    []GroupStatus    `json:"groups"`
	// UnknownVRID counts adverts for a VRID no instance on that
	// interface has (keepalived drops them; log_unknown_vrids logs them).
	UnknownVRID uint64 `json:"unknown_vrid"`
	// Malformed counts packets too short to name a VRID.
	Malformed uint64 `json:"malformed"`
}

package ctl

// BGP is ulvsadm bgp's view: the speaker, its neighbours and the prefixes
// it announces or withdraws, with why.
type BGP struct {
	RouterID  string        `json:"router_id"`
	LocalAS   uint32        `json:"local_as"`
	Neighbors []BGPNeighbor `json:"neighbors"`
	Prefixes  []BGPPrefix   `json:"prefixes"`
}

// BGPNeighbor is one BGP session.
type BGPNeighbor struct {
	Addr     string  `json:"addr"`
	RemoteAS uint32  `json:"remote_as"`
	State    string  `json:"state"`
	Since    string  `json:"since,omitempty"`
	LastDown string  `json:"last_down,omitempty"`
	Flaps    uint64  `json:"flaps"`
	HoldTime float64 `json:"hold_time_s"`
	// BFD is off, down, init, up or admin_down; BFDDetect is "interval ×
	// multiplier".
	BFD         string `json:"bfd"`
	BFDSince    string `json:"bfd_since,omitempty"`
	BFDDetect   string `json:"bfd_detect,omitempty"`
	BFDFailures uint64 `json:"bfd_failures"`
}

// BGPPrefix is one announced (or withdrawn) prefix.
type BGPPrefix struct {
	Prefix    string `json:"prefix"`
	Announced bool   `json:"announced"`
	Since     string `json:"since,omitempty"`
	Reason    string `json:"reason"`
	// Directors is multi (ECMP) or single.
	Directors      string   `json:"directors"`
	VirtualServers []string `json:"virtual_servers"`
	MED            uint32   `json:"med,omitempty"`
	Announces      uint64   `json:"announces"`
	Withdraws      uint64   `json:"withdraws"`
}

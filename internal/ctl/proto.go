package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ulvs/ulvs/vrrp"
)

// Operations a Request may carry.
const (
	OpIPVS     = "ipvs"     // the virtual service table
	OpConns    = "conns"    // the connection table
	OpVRRP     = "vrrp"     // VRRP instances and sync groups
	OpCheckers = "checkers" // health checkers
	OpEdit     = "edit"     // an ipvsadm-style runtime edit
	OpStatus   = "status"   // daemon summary
	OpBGP      = "bgp"      // BGP neighbours and announced prefixes
)

// Edit commands, as ipvsadm's options name them.
const (
	EditAddService  = "A"
	EditEditService = "E"
	EditDelService  = "D"
	EditAddDest     = "a"
	EditEditDest    = "e"
	EditDelDest     = "d"
	EditClear       = "C"
	EditZero        = "Z"
	EditTimeout     = "set"
)

// ServiceSpec names (and for -A/-E, describes) a virtual service.
type ServiceSpec struct {
	Proto   string     `json:"proto,omitempty"`
	Addr    netip.Addr `json:"addr,omitzero"`
	Port    uint16     `json:"port,omitempty"`
	FWMark  uint32     `json:"fwmark,omitempty"`
	IPv6    bool       `json:"ipv6,omitempty"`
	Sched   string     `json:"sched,omitempty"`
	Flags   uint32     `json:"flags,omitempty"`
	Timeout uint32     `json:"timeout,omitempty"`
	Netmask int        `json:"netmask,omitempty"`
}

// DestSpec names (and for -a/-e, describes) a real server.
type DestSpec struct {
	Addr       netip.Addr `json:"addr"`
	Port       uint16     `json:"port"`
	Method     string     `json:"method,omitempty"` // Masq, Route or Tunnel
	Weight     int        `json:"weight"`
	UThreshold uint32     `json:"uthreshold,omitempty"`
	LThreshold uint32     `json:"lthreshold,omitempty"`
}

// Edit is a runtime change in ipvsadm's terms. Like edits made with
// ipvsadm under keepalived, it lasts until the next reload.
type Edit struct {
	Cmd      string       `json:"cmd"`
	Service  *ServiceSpec `json:"service,omitempty"`
	Dest     *DestSpec    `json:"dest,omitempty"`
	Timeouts *Timeouts    `json:"timeouts,omitempty"`
}

// Request is one call on the control socket.
type Request struct {
	Op   string `json:"op"`
	Edit *Edit  `json:"edit,omitempty"`
}

// Instance is one VRRP instance as ulvsadm shows it.
type Instance struct {
	Name              string   `json:"name"`
	Group             string   `json:"group,omitempty"`
	State             string   `json:"state"`
	Interface         string   `json:"interface"`
	VRID              int      `json:"vrid"`
	Version           int      `json:"version"`
	Priority          int      `json:"priority"`
	EffectivePriority int      `json:"effective_priority"`
	AdvertInt         float64  `json:"advert_int"`
	MasterAddr        string   `json:"master_addr,omitempty"`
	VIPs              []string `json:"vips"`
	LastTransition    string   `json:"last_transition,omitempty"`
	// Stats are the counters since the last stats clear.
	Stats vrrp.Stats `json:"stats"`
}

// Checker is one health checker as ulvsadm shows it.
type Checker struct {
	Service string `json:"service"`
	Real    string `json:"real"`
	Type    string `json:"type"`
	Target  string `json:"target"`
	Up      bool   `json:"up"`
	// Failures counts consecutive failed attempts.
	Failures int `json:"failures"`
	// LatencyMS is the last check's duration in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	LastError string  `json:"last_error,omitempty"`
	Suspended bool    `json:"suspended,omitempty"`
}

// Status summarises the daemon.
type Status struct {
	Version    string   `json:"version"`
	ConfigFile string   `json:"config_file"`
	Started    string   `json:"started"`
	Reloads    int      `json:"reloads"`
	LastReload string   `json:"last_reload,omitempty"`
	LastError  string   `json:"last_error,omitempty"`
	Subsystems []string `json:"subsystems"`
	// Sync describes lvs_sync_daemon's role and counters, when it runs.
	Sync string `json:"sync,omitempty"`
	// CannotServe says why this director cannot serve (its VRRP instances
	// gave up mastership); empty while it can.
	CannotServe []string `json:"cannot_serve,omitempty"`
	// IO is the userspace forwarder's frame I/O, one line per interface.
	IO []string `json:"io,omitempty"`
}

// Response answers a Request; exactly the field for the Op is set.
type Response struct {
	Error    string     `json:"error,omitempty"`
	IPVS     *IPVS      `json:"ipvs,omitempty"`
	Conns    []Conn     `json:"conns,omitempty"`
	VRRP     []Instance `json:"vrrp,omitempty"`
	Checkers []Checker  `json:"checkers,omitempty"`
	Status   *Status    `json:"status,omitempty"`
	BGP      *BGP       `json:"bgp,omitempty"`
}

// Handler answers control requests. It must not keep req.
type Handler interface {
	Handle(ctx context.Context, req *Request) *Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) *Response

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) *Response { return f(ctx, req) }

// Call sends one request to the daemon at path and returns its answer. An
// error response comes back as an error.
func Call(ctx context.Context, path string, req *Request) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot reach ulvsd on %s: %w (is ulvsd running, and are you root?)", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("ctl: send: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("ctl: receive: %w", err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// Process kinds a node may run.
const (
	procUlvsd = "ulvsd" // a director's daemon
	procHTTP  = "http"  // nginx or the built-in server
	procDecap = "decap" // the TUN decapsulator
)

// procState is one process `up` started, enough to stop it (after checking
// the pid is still ours) and to start it again.
type procState struct {
	Pid  int      `json:"pid"`
	Argv []string `json:"argv"`
	Log  string   `json:"log"`
	// Nginx is set when the HTTP server is nginx (restarted through topo).
	Nginx bool `json:"nginx,omitempty"`
}

// nodeState is one namespace of the lab.
type nodeState struct {
	Name    string         `json:"name"`
	Role    string         `json:"role"`
	NS      string         `json:"ns"`
	Port    string         `json:"port"`
	MAC     string         `json:"mac"`
	Addrs   []netip.Prefix `json:"addrs"`
	Gateway netip.Addr     `json:"gateway,omitzero"`
	// LoVIPs are held on lo (DR and TUN real servers).
	LoVIPs []netip.Addr `json:"lo_vips,omitempty"`
	// HTTPPorts and HTTPPaths are what its HTTP server serves (real
	// servers, sorry server, and directors of a VRRP-only config).
	HTTPPorts []uint16 `json:"http_ports,omitempty"`
	HTTPPaths []string `json:"http_paths,omitempty"`
	// Config and Socket are a director's keepalived.conf and ulvsd's
	// control socket.
	Config string `json:"config,omitempty"`
	Socket string `json:"socket,omitempty"`
	// BGP is a director's BGP file in the ECMP lab (ulvsd --bgp).
	BGP   string                `json:"bgp,omitempty"`
	Procs map[string]*procState `json:"procs,omitempty"`
	// Failed lists what `fail` stopped ("http", "node").
	Failed []string `json:"failed,omitempty"`
}

// addr4 is the node's first address.
func (n *nodeState) addr4() netip.Addr {
	if len(n.Addrs) == 0 {
		return netip.Addr{}
	}
	return n.Addrs[0].Addr()
}

// state is everything a later command needs to find the lab `up` made.
type state struct {
	Prefix    string `json:"prefix"`
	Dir       string `json:"dir"`
	Mode      string `json:"mode"`
	Directors int    `json:"directors"`
	// ECMP: the directors are all active behind a BIRD router (up --ecmp).
	ECMP    bool      `json:"ecmp,omitempty"`
	Created time.Time `json:"created"`
	// Source says where the directors' configuration came from.
	Source string `json:"source"`
	// Mapping lists what --config mapped onto the lab, for status.
	Mapping []string `json:"mapping,omitempty"`
	// Targets are the HTTP services the client reaches (VIP:port).
	Targets []netip.AddrPort `json:"targets"`
	// Instances are the VRRP instance names, for waiting on masters.
	Instances []string `json:"instances"`
	// UlvsdArgs are added to every ulvsd's command line (chaos: metrics,
	// a bounded connection table).
	UlvsdArgs []string `json:"ulvsd_args,omitempty"`
	// Paced real servers also serve /big (bigSize bytes) at bigRate, for
	// downloads that outlast a failover.
	Paced bool         `json:"paced,omitempty"`
	Nodes []*nodeState `json:"nodes"`
	Bins  struct {
		Ulvsd   string `json:"ulvsd"`
		Ulvsadm string `json:"ulvsadm"`
		Self    string `json:"self"`
	} `json:"bins"`
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// labDir is where a lab's state, configs, logs and sockets live.
func labDir(stateDir, prefix string) string { return filepath.Join(stateDir, prefix) }

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// save writes the state atomically.
func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("ulvslab: state: %w", err)
	}
	tmp := statePath(s.Dir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("ulvslab: state: %w", err)
	}
	if err := os.Rename(tmp, statePath(s.Dir)); err != nil {
		return fmt.Errorf("ulvslab: state: %w", err)
	}
	return nil
}

// errNoLab means no state file: the lab is not up (or `up` crashed before
// writing it; `down` still cleans up by prefix).
var errNoLab = errors.New("no lab is up")

// loadState reads a lab's state.
func loadState(stateDir, prefix string) (*state, error) {
	b, err := os.ReadFile(statePath(labDir(stateDir, prefix)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ulvslab: %w with prefix %q (run `ulvslab up`)", errNoLab, prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("ulvslab: state: %w", err)
	}
	s := &state{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("ulvslab: state %s: %w", statePath(labDir(stateDir, prefix)), err)
	}
	return s, nil
}

// node returns the named node, or nil.
func (s *state) node(name string) *nodeState {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// byRole returns the nodes with a role, in order.
func (s *state) byRole(role string) []*nodeState {
	var out []*nodeState
	for _, n := range s.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// topology reattaches the lab's namespaces.
func (s *state) topology() (*topo.Topology, map[string]*topo.Node, error) {
	t, err := topo.Open(s.Prefix)
	if err != nil {
		return nil, nil, err
	}
	nodes := map[string]*topo.Node{}
	for _, n := range s.Nodes {
		nodes[n.Name] = t.Adopt(n.Name, topo.NodeConfig{Addrs: n.Addrs, Gateway: n.Gateway}, n.Port)
	}
	return t, nodes, nil
}

// failed reports whether what is failed on the node.
func (n *nodeState) failed(what string) bool {
	for _, f := range n.Failed {
		if f == what {
			return true
		}
	}
	return false
}

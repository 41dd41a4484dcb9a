// Package topo builds network-namespace topologies: a switch namespace
// holding a bridge, and nodes (client, directors, real servers) each in its
// own namespace with an interface joined to that bridge.
//
// Nothing is created in the caller's namespace: veth pairs are made inside
// the switch namespace and their node ends moved straight into the node
// namespaces, so concurrent topologies never collide on link names and a
// node's interface can carry the name a keepalived.conf expects (eth0).
//
// topo shells out to iproute2 (ip) on purpose: the commands are the ones a
// person would type, and the lab prints them for teaching. It needs root.
package topo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BridgeName is the name of the bridge in a topology's switch namespace.
const BridgeName = "br0"

// Topology is a set of namespaces sharing one bridge. Its methods are safe
// for concurrent use.
type Topology struct {
	// Prefix starts the name of every namespace of this topology.
	Prefix string
	// Switch is the name of the namespace that holds the bridge.
	Switch string
	// Log, when set, receives every command run, as a person would type it.
	Log func(cmd string)

	mu     sync.Mutex
	nodes  []*Node
	procs  []*Proc
	closed bool
}

// New creates the switch namespace "<prefix>sw" with the bridge br0 in it.
// A prefix left over from an earlier run is removed first.
func New(prefix string) (*Topology, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ ") {
		return nil, fmt.Errorf("topo: bad prefix %q", prefix)
	}
	if err := Cleanup(prefix); err != nil {
		return nil, err
	}
	t := &Topology{Prefix: prefix, Switch: prefix + "sw"}
	if err := t.ip("netns", "add", t.Switch); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", t.Switch, "link", "set", "lo", "up"},
		{"-n", t.Switch, "link", "add", BridgeName, "type", "bridge", "forward_delay", "0", "stp_state", "0"},
		// Multicast snooping would drop VRRP adverts until a querier shows up.
		{"-n", t.Switch, "link", "set", BridgeName, "type", "bridge", "mcast_snooping", "0"},
		{"-n", t.Switch, "link", "set", BridgeName, "up"},
	}
	for _, s := range steps {
		if err := t.ip(s...); err != nil {
			_ = t.Close()
			return nil, err
		}
	}
	return t, nil
}

// NodeConfig describes one node.
type NodeConfig struct {
	// Iface is the name of the node's interface on the bridge (default eth0).
	Iface string
	// Addrs are assigned to Iface.
	Addrs []netip.Prefix
	// Gateway, when valid, becomes the node's default route.
	Gateway netip.Addr
	// Sysctls are set inside the node, e.g. "net.ipv4.ip_forward": "1".
	Sysctls map[string]string
	// NoDAD disables IPv6 duplicate address detection on Iface, so IPv6
	// addresses are usable at once.
	NoDAD bool
}

// Node is one namespace of a topology.
type Node struct {
	T *Topology
	// Name is the node's short name (client, rs1, ...).
	Name string
	// NS is the namespace name ("<prefix><name>").
	NS string
	// Iface is the node's interface on the bridge.
	Iface string
	// Addrs are the addresses given at creation.
	Addrs []netip.Prefix
	// Port is the name of the veth end in the switch namespace.
	Port string
}

// AddNode creates namespace "<prefix><name>" with an interface joined to the
// bridge, brings it and lo up and assigns the addresses.
func (t *Topology) AddNode(name string, cfg NodeConfig) (*Node, error) {
	if cfg.Iface == "" {
		cfg.Iface = "eth0"
	}
	t.mu.Lock()
	idx := len(t.nodes)
	t.mu.Unlock()
	n := &Node{T: t, Name: name, NS: t.Prefix + name, Iface: cfg.Iface, Addrs: cfg.Addrs,
		Port: fmt.Sprintf("p%d-%s", idx, name)}
	if len(n.Port) > 15 {
		n.Port = n.Port[:15]
	}
	if err := t.ip("netns", "add", n.NS); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.nodes = append(t.nodes, n)
	t.mu.Unlock()
	steps := [][]string{
		{"-n", n.NS, "link", "set", "lo", "up"},
		{"-n", t.Switch, "link", "add", n.Port, "type", "veth", "peer", "name", cfg.Iface, "netns", n.NS},
		{"-n", t.Switch, "link", "set", n.Port, "master", BridgeName},
		{"-n", t.Switch, "link", "set", n.Port, "up"},
	}
	for _, s := range steps {
		if err := t.ip(s...); err != nil {
			return nil, err
		}
	}
	if cfg.NoDAD {
		if err := n.Sysctl("net.ipv6.conf."+cfg.Iface+".accept_dad", "0"); err != nil {
			return nil, err
		}
	}
	for k, v := range cfg.Sysctls {
		if err := n.Sysctl(k, v); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Addrs {
		args := []string{"-n", n.NS, "addr", "add", a.String(), "dev", cfg.Iface}
		if a.Addr().Is6() && cfg.NoDAD {
			args = append(args, "nodad")
		}
		if err := t.ip(args...); err != nil {
			return nil, err
		}
	}
	if err := t.ip("-n", n.NS, "link", "set", cfg.Iface, "up"); err != nil {
		return nil, err
	}
	if cfg.Gateway.IsValid() {
		if err := t.ip("-n", n.NS, "route", "add", "default", "via", cfg.Gateway.String()); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Open returns the topology with the given prefix as an earlier process
// left it, creating and removing nothing: how a later command (a lab's
// status, fail or down) reaches namespaces that `up` made. Register its
// nodes with Adopt.
func Open(prefix string) (*Topology, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ ") {
		return nil, fmt.Errorf("topo: bad prefix %q", prefix)
	}
	return &Topology{Prefix: prefix, Switch: prefix + "sw"}, nil
}

// Adopt registers a node that an earlier AddNode made (with the same name
// and config), running nothing. port is the node's Port as AddNode set it.
func (t *Topology) Adopt(name string, cfg NodeConfig, port string) *Node {
	if cfg.Iface == "" {
		cfg.Iface = "eth0"
	}
	n := &Node{T: t, Name: name, NS: t.Prefix + name, Iface: cfg.Iface, Addrs: cfg.Addrs, Port: port}
	t.mu.Lock()
	t.nodes = append(t.nodes, n)
	t.mu.Unlock()
	return n
}

// Nodes returns the nodes in creation order.
func (t *Topology) Nodes() []*Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Node(nil), t.nodes...)
}

// Node returns the node with the given short name, or nil.
func (t *Topology) Node(name string) *Node {
	for _, n := range t.Nodes() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Addr returns the node's first address of the given family (4 or 6).
func (n *Node) Addr(family int) netip.Addr {
	for _, p := range n.Addrs {
		if (family == 4) == p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// MAC returns the hardware address of one of the node's interfaces.
func (n *Node) MAC(iface string) (net.HardwareAddr, error) {
	out, err := n.Output(context.Background(), "cat", "/sys/class/net/"+iface+"/address")
	if err != nil {
		return nil, err
	}
	return net.ParseMAC(strings.TrimSpace(out))
}

// IP runs "ip -n <ns> args...".
func (n *Node) IP(args ...string) error {
	return n.T.ip(append([]string{"-n", n.NS}, args...)...)
}

// Sysctl sets a sysctl inside the node.
func (n *Node) Sysctl(key, value string) error {
	_, err := n.Output(context.Background(), "sysctl", "-qw", key+"="+value)
	return err
}

// Command returns a command that runs inside the node's namespace.
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{"netns", "exec", n.NS, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Output runs a command inside the node and returns its standard output.
// The error carries the command and its standard error.
func (n *Node) Output(ctx context.Context, name string, args ...string) (string, error) {
	n.T.logf("ip netns exec %s %s %s", n.NS, name, strings.Join(args, " "))
	cmd := n.Command(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("topo: %s: %s %s: %w: %s", n.Name, name,
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Proc is a background process started in a node.
type Proc struct {
	Node *Node
	Cmd  *exec.Cmd
	// LogPath is the file that receives the process's stdout and stderr.
	LogPath string

	done    chan struct{}
	waitErr error
	stopped sync.Once
}

// Start starts a background process in the node. Its output goes to
// logDir/<node>-<name>.log (a temporary directory when logDir is empty). The
// topology stops it on Close if it is still running.
func (n *Node) Start(logDir, name string, args ...string) (*Proc, error) {
	if logDir == "" {
		logDir = os.TempDir()
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%s-%d.log", n.NS, filepath.Base(name), time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	defer f.Close()
	p, err := n.start(f, logPath, &syscall.SysProcAttr{Setpgid: true}, name, args)
	if err != nil {
		return nil, err
	}
	n.T.mu.Lock()
	n.T.procs = append(n.T.procs, p)
	n.T.mu.Unlock()
	return p, nil
}

// StartDetached starts a long-lived process in the node that outlives the
// caller, as a daemon would run: in a session of its own (so it leads its
// own process group and has no controlling terminal), with standard input
// from /dev/null and its output appended to logPath. The topology does not
// track it and Close does not stop it; Proc's methods still work while the
// caller runs, and Cleanup removes it with its namespace.
func (n *Node) StartDetached(logPath, name string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	defer f.Close()
	return n.start(f, logPath, &syscall.SysProcAttr{Setsid: true}, name, args)
}

func (n *Node) start(out *os.File, logPath string, attr *syscall.SysProcAttr, name string, args []string) (*Proc, error) {
	n.T.logf("ip netns exec %s %s %s &", n.NS, name, strings.Join(args, " "))
	argv := append([]string{"netns", "exec", n.NS, name}, args...)
	// ip netns exec enters the namespace and execs name: the process keeps
	// the pid started here.
	cmd := exec.Command("ip", argv...)
	cmd.SysProcAttr = attr
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("topo: %s: start %s: %w", n.Name, name, err)
	}
	p := &Proc{Node: n, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its wait error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Signal sends sig to the process group the process leads.
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Pid(), sig)
}

// Stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL. It returns the process's wait error, if it had exited by itself.
func (p *Proc) Stop(grace time.Duration) error {
	p.stopped.Do(func() {
		if ok, _ := p.Exited(); ok {
			return
		}
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	<-p.done
	return p.waitErr
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Proc) Kill() {
	p.stopped.Do(func() {
		_ = p.Signal(syscall.SIGKILL)
	})
	<-p.done
}

// Log returns what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Close stops every process the topology started and deletes its
// namespaces (which deletes their links).
func (t *Topology) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	procs := t.procs
	t.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		_ = procs[i].Stop(2 * time.Second)
	}
	return Cleanup(t.Prefix)
}

// Cleanup removes every namespace whose name starts with prefix, killing
// the processes still inside them first (they can only have been started
// there by whoever owns the prefix). It is how `ulvslab down` recovers from a
// crash.
func Cleanup(prefix string) error {
	names, err := Namespaces(prefix)
	if err != nil {
		return err
	}
	return RemoveNamespaces(names...)
}

// RemoveNamespaces kills the processes inside each named namespace, then
// deletes the namespaces (which deletes their links). Names that do not
// exist are an error.
func RemoveNamespaces(names ...string) error {
	var errs []error
	for _, ns := range names {
		killNamespace(ns)
	}
	for _, ns := range names {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("topo: ip netns del %s: %w: %s", ns, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// Namespaces lists the named namespaces that start with prefix.
func Namespaces(prefix string) ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func killNamespace(ns string) {
	for range 3 {
		out, err := exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			return
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, s := range pids {
			var pid int
			if _, err := fmt.Sscan(s, &pid); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *Topology) ip(args ...string) error {
	t.logf("ip %s", strings.Join(args, " "))
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("topo: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (t *Topology) logf(format string, args ...any) {
	if t.Log != nil {
		t.Log(fmt.Sprintf(format, args...))
	}
}

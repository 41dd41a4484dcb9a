package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/topo"
)

// lab is a lab being driven: its state and its reattached namespaces.
type lab struct {
	st    *state
	tp    *topo.Topology
	nodes map[string]*topo.Node
	out   *printer
}

// openLab loads a lab's state and reattaches its namespaces.
func openLab(g *globals, out *printer) (*lab, error) {
	st, err := loadState(g.stateDir, g.prefix)
	if err != nil {
		return nil, err
	}
	tp, nodes, err := st.topology()
	if err != nil {
		return nil, err
	}
	return &lab{st: st, tp: tp, nodes: nodes, out: out}, nil
}

// findBins locates ulvsd and ulvsadm: beside this executable (bin/), then
// on PATH.
func findBins(s *state) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("ulvslab: %w", err)
	}
	s.Bins.Self = self
	for _, b := range []struct {
		name string
		dst  *string
	}{{"ulvsd", &s.Bins.Ulvsd}, {"ulvsadm", &s.Bins.Ulvsadm}} {
		p := filepath.Join(filepath.Dir(self), b.name)
		if _, err := os.Stat(p); err != nil {
			if p, err = exec.LookPath(b.name); err != nil {
				return fmt.Errorf("ulvslab: %s is neither beside %s nor on PATH (run `make build`)", b.name, self)
			}
		}
		*b.dst = p
	}
	return nil
}

// startHTTP starts the node's HTTP server: nginx when installed (unless
// builtin is set), else `ulvslab serve`, naming the node in every answer.
func (l *lab) startHTTP(n *nodeState, builtin bool) error {
	node := l.nodes[n.Name]
	ports := n.HTTPPorts
	if len(ports) == 0 {
		return nil
	}
	if _, err := lookNginx(); err == nil && !builtin {
		dir := filepath.Join(l.st.Dir, n.Name+"-nginx")
		var listen []string
		for _, p := range ports {
			listen = append(listen, strconv.Itoa(int(p)))
		}
		files := map[string][]byte{}
		for _, p := range n.HTTPPaths {
			if strings.HasPrefix(p, "/") && !strings.Contains(p, "..") && !strings.HasSuffix(p, "/") {
				files[p] = []byte(n.Name + "\n")
			}
		}
		cfg := topo.NginxConfig{Dir: dir, Listen: listen, Files: files, Detached: true}
		switch {
		case l.st.ECMP && n.Role == roleReal:
			// Long downloads for the demo's failures: paced by the server.
			files["/big"] = []byte(strings.Repeat("0123456789abcdef", bigSize/16))
			cfg.LimitRate = "128k"
		case l.st.Paced && n.Role == roleReal:
			files["/big"], cfg.LimitRate = chaosBigBody(), chaosBigRate
		}
		p, err := node.StartNginx(cfg)
		if err != nil {
			return err
		}
		n.Procs[procHTTP] = &procState{Pid: p.Pid(), Log: p.LogPath, Nginx: true}
		return nil
	}
	argv := []string{l.st.Bins.Self, "serve", "--name", n.Name}
	for _, p := range ports {
		argv = append(argv, "--port", strconv.Itoa(int(p)))
	}
	if err := l.spawn(n, procHTTP, argv); err != nil {
		return err
	}
	return node.WaitListening("tcp", strconv.Itoa(int(ports[0])), 10*time.Second)
}

// spawn starts a detached process in the node and records it.
func (l *lab) spawn(n *nodeState, kind string, argv []string) error {
	logPath := filepath.Join(l.st.Dir, n.Name+"-"+kind+".log")
	p, err := l.nodes[n.Name].StartDetached(logPath, argv[0], argv[1:]...)
	if err != nil {
		return err
	}
	if n.Procs == nil {
		n.Procs = map[string]*procState{}
	}
	n.Procs[kind] = &procState{Pid: p.Pid(), Argv: argv, Log: logPath}
	// Until `ip netns exec` has entered the namespace and exec'd, the pid
	// is not yet found there: wait, so later liveness checks mean it.
	return waitFor(5*time.Second, filepath.Base(argv[0])+" on "+n.Name+" to enter its namespace", func() (bool, error) {
		if done, _ := p.Exited(); done {
			return false, fmt.Errorf("ulvslab: %s on %s exited at once:\n%s", filepath.Base(argv[0]), n.Name, tailFile(logPath, 20))
		}
		return l.alive(n, kind), nil
	})
}

// startDecap starts the userspace IPIP decapsulator on a TUN real server
// and waits for its device.
func (l *lab) startDecap(n *nodeState) error {
	if err := l.spawn(n, procDecap, []string{l.st.Bins.Self, "decap"}); err != nil {
		return err
	}
	node := l.nodes[n.Name]
	return waitFor(10*time.Second, "the decapsulator on "+n.Name+" to bring ulvstun0 up", func() (bool, error) {
		if !l.alive(n, procDecap) {
			return false, fmt.Errorf("ulvslab: the decapsulator on %s exited:\n%s", n.Name, tailFile(n.Procs[procDecap].Log, 10))
		}
		out, err := node.Output(context.Background(), "ip", "-br", "link", "show", "ulvstun0")
		return err == nil && strings.Contains(out, "UP"), nil
	})
}

// labMetricsPort is where each director's ulvsd serves its metrics.
const labMetricsPort = 9650

// startUlvsd starts ulvsd on a director and waits for its control socket.
func (l *lab) startUlvsd(n *nodeState) error {
	base := filepath.Join(l.st.Dir, n.Name)
	_ = os.Remove(n.Socket)
	argv := []string{l.st.Bins.Ulvsd, "-n", "-l", "-f", n.Config, "-p", base + ".pid", "-r", base + "-vrrp.pid",
		"-c", base + "-checkers.pid", "--control", n.Socket, "--interfaces", "eth0",
		// Prometheus metrics on the director's lab address, for a scraper in another node.
		"--metrics", netip.AddrPortFrom(n.addr4(), labMetricsPort).String()}
	if n.BGP != "" {
		argv = append(argv, "--bgp", n.BGP)
	}
	argv = append(argv, l.st.UlvsdArgs...)
	if err := l.spawn(n, procUlvsd, argv); err != nil {
		return err
	}
	return waitFor(15*time.Second, "ulvsd on "+n.Name+" to open its control socket", func() (bool, error) {
		if !l.alive(n, procUlvsd) {
			return false, fmt.Errorf("ulvslab: ulvsd on %s exited:\n%s", n.Name, tailFile(n.Procs[procUlvsd].Log, 20))
		}
		_, err := ctlCall(n.Socket, ctl.OpStatus)
		return err == nil, nil
	})
}

// alive reports whether the node's recorded process still runs in it.
func (l *lab) alive(n *nodeState, kind string) bool {
	p := n.Procs[kind]
	return p != nil && topo.PidInNamespace(p.Pid, l.st.Prefix+n.Name)
}

// stop kills a recorded process and its process group, if the pid still
// names a process in the node's namespace, and waits for it to go.
func (l *lab) stop(n *nodeState, kind string) error {
	p := n.Procs[kind]
	if p == nil || !l.alive(n, kind) {
		return nil
	}
	// Each process leads its own session and group (StartDetached), so
	// the group takes nginx's workers with it.
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("ulvslab: kill %s on %s (pid %d): %w", kind, n.Name, p.Pid, err)
	}
	return waitFor(5*time.Second, kind+" on "+n.Name+" to exit", func() (bool, error) {
		return !l.alive(n, kind), nil
	})
}

// ctlCall asks a ulvsd over its control socket.
func ctlCall(socket, op string) (*ctl.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return ctl.Call(ctx, socket, &ctl.Request{Op: op})
}

// waitFor polls cond every 50 ms until it holds, fails, or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ulvslab: waited %v for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

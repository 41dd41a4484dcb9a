package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/vm/agent"
)

// Config describes one VM.
type Config struct {
	Kit    *Kit
	Initrd string
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// MemoryMB is the guest's memory (default 512).
	MemoryMB int
	// NetNS, when set, is the named network namespace qemu runs in, so
	// that Tap can be a tap device there (joined to a topology's bridge).
	NetNS string
	// Tap is the tap device that backs the guest's eth0 ("" for no
	// network). It must exist; qemu attaches to it.
	Tap string
	// MAC is eth0's hardware address (default 52:54:00:12:34:56).
	MAC string
	// BootTimeout bounds the wait for the agent (default 3 minutes: TCG
	// on a loaded 2-core machine).
	BootTimeout time.Duration
	// Console, when set, receives the guest's console output line by
	// line.
	Console func(line string)
}

// Machine is a running VM with its agent.
type Machine struct {
	cfg     Config
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{}
	waitErr error
	boot    time.Duration

	mu      sync.Mutex // console
	console []string

	callMu sync.Mutex
	conn   net.Conn
	rd     *bufio.Reader
	seq    uint64
}

// Start boots the VM and waits until its agent serves. The caller must
// Close it.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	if cfg.Kit == nil || cfg.Initrd == "" {
		return nil, errors.New("vm: Kit and Initrd are required")
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 512
	}
	if cfg.MAC == "" {
		cfg.MAC = "52:54:00:12:34:56"
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 3 * time.Minute
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ulvs-vm-")
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	sock := filepath.Join(dir, "ctl.sock")
	args := []string{
		"-accel", "tcg", "-machine", "pc", "-cpu", "max", "-smp", "1", "-m", fmt.Sprint(cfg.MemoryMB),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", abs(cfg.Kit.Kernel), "-initrd", abs(cfg.Initrd),
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet loglevel=4 " + cfg.Cmdline),
		"-serial", "stdio",
		"-device", "virtio-serial-pci,id=vser",
		"-chardev", "socket,id=ctl,path=" + sock + ",server=on,wait=off",
		"-device", "virtserialport,bus=vser.0,chardev=ctl,name=" + agent.PortName,
	}
	if cfg.Tap != "" {
		args = append(args,
			"-netdev", "tap,id=n0,ifname="+cfg.Tap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,mac="+cfg.MAC)
	}
	var cmd *exec.Cmd
	if cfg.NetNS != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", cfg.NetNS, cfg.Kit.QEMU}, args...)...)
	} else {
		cmd = exec.Command(cfg.Kit.QEMU, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("vm: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	m := &Machine{cfg: cfg, cmd: cmd, dir: dir, exited: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("vm: start qemu: %w", err)
	}
	ready := make(chan struct{})
	go m.readConsole(stdout, ready)
	go func() { m.waitErr = cmd.Wait(); close(m.exited) }()
	timer := time.NewTimer(cfg.BootTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-m.exited:
		err := fmt.Errorf("vm: qemu exited before the agent started (%v); console:\n%s", m.waitErr, m.ConsoleTail(40))
		os.RemoveAll(dir)
		return nil, err
	case <-timer.C:
		_ = m.Close()
		return nil, fmt.Errorf("vm: agent not ready after %v; console:\n%s", cfg.BootTimeout, m.ConsoleTail(40))
	case <-ctx.Done():
		_ = m.Close()
		return nil, fmt.Errorf("vm: %w", ctx.Err())
	}
	m.boot = time.Since(start)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("vm: control socket: %w", err)
	}
	m.conn, m.rd = conn, bufio.NewReaderSize(conn, 1<<16)
	return m, nil
}

func (m *Machine) readConsole(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	once := sync.Once{}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		m.mu.Lock()
		m.console = append(m.console, line)
		m.mu.Unlock()
		if m.cfg.Console != nil {
			m.cfg.Console(line)
		}
		if strings.Contains(line, agent.ReadyMarker) {
			once.Do(func() { close(ready) })
		}
	}
}

// BootTime is how long the VM took from starting qemu to a serving agent.
func (m *Machine) BootTime() time.Duration { return m.boot }

// Console returns the guest's console output so far.
func (m *Machine) Console() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.console, "\n")
}

// ConsoleTail returns the last n console lines.
func (m *Machine) ConsoleTail(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.console
	if len(c) > n {
		c = c[len(c)-n:]
	}
	return strings.Join(c, "\n")
}

// Call sends one request to the agent and decodes its result into result
// (which may be nil). Calls are serialised.
func (m *Machine) Call(ctx context.Context, op string, args, result any) error {
	m.callMu.Lock()
	defer m.callMu.Unlock()
	if m.conn == nil {
		return errors.New("vm: machine is closed")
	}
	m.seq++
	req := agent.Request{ID: m.seq, Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("vm: %s: %w", op, err)
		}
		req.Args = b
	}
	line, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("vm: %s: %w", op, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	_ = m.conn.SetDeadline(deadline)
	if _, err := m.conn.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("vm: %s: %w", op, err)
	}
	for {
		b, err := m.rd.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("vm: %s: %w; console:\n%s", op, err, m.ConsoleTail(20))
		}
		var resp agent.Response
		if err := json.Unmarshal(b, &resp); err != nil {
			return fmt.Errorf("vm: %s: bad response %q: %w", op, b, err)
		}
		if resp.ID != req.ID {
			continue // the answer to an earlier call that timed out
		}
		if resp.Error != "" {
			return fmt.Errorf("vm: %s: %s", op, resp.Error)
		}
		if result != nil && resp.Result != nil {
			if err := json.Unmarshal(resp.Result, result); err != nil {
				return fmt.Errorf("vm: %s: decode result: %w", op, err)
			}
		}
		return nil
	}
}

// Exec runs a command in the guest and returns its standard output; a
// non-zero exit is an error carrying standard error.
func (m *Machine) Exec(ctx context.Context, argv ...string) (string, error) {
	res, err := m.Run(ctx, agent.ExecArgs{Argv: argv})
	if err != nil {
		return "", err
	}
	if res.Exit != 0 {
		return res.Stdout, fmt.Errorf("vm: guest: %s: exit %d: %s", strings.Join(argv, " "), res.Exit,
			strings.TrimSpace(res.Stderr))
	}
	return res.Stdout, nil
}

// Run runs a command in the guest as ExecArgs says.
func (m *Machine) Run(ctx context.Context, args agent.ExecArgs) (agent.ExecResult, error) {
	var res agent.ExecResult
	err := m.Call(ctx, "exec", args, &res)
	return res, err
}

// Shell runs a busybox sh script in the guest and returns its output.
func (m *Machine) Shell(ctx context.Context, script string) (string, error) {
	return m.Exec(ctx, "/bin/sh", "-c", "set -e\n"+script)
}

// ReadFile reads a file in the guest.
func (m *Machine) ReadFile(ctx context.Context, path string) (string, error) {
	var s string
	err := m.Call(ctx, "read_file", path, &s)
	return s, err
}

// Close asks the agent to shut the guest down, waits briefly for qemu to
// exit and kills it otherwise.
func (m *Machine) Close() error {
	m.callMu.Lock()
	conn := m.conn
	m.callMu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = m.Call(ctx, "shutdown", nil, nil)
		cancel()
		m.callMu.Lock()
		m.conn.Close()
		m.conn = nil
		m.callMu.Unlock()
	}
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
	return os.RemoveAll(m.dir)
}

// Package agent is the guest half of package vm: a small server that runs
// as the last step of a VM's /init and answers JSON requests, one per line,
// on a virtio-serial port. It runs commands, reads files and dispatches
// the operations a test registers (a test's agent is a main package that
// adds its own handlers and calls Main).
//
// The protocol types are shared with the host side (package vm).
package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// PortName is the virtio-serial port name of the control channel.
	PortName = "ulvs.ctl"
	// ReadyMarker is the console line the agent prints once it serves.
	ReadyMarker = "ULVS-AGENT-READY"
	// ExitMarker starts the console line /init prints when the agent exits.
	ExitMarker = "ULVS-AGENT-EXIT"
)

// Request is one call from the host.
type Request struct {
	ID   uint64          `json:"id"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response answers the Request with the same ID: Error is empty on
// success.
type Response struct {
	ID     uint64          `json:"id"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// ExecArgs are the arguments of the "exec" operation.
type ExecArgs struct {
	Argv  []string `json:"argv"`
	Stdin string   `json:"stdin,omitempty"`
	// Timeout bounds the command (default 60 s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Background starts the command and returns its pid at once; its
	// output goes to Log (default /tmp/<program>.<pid>.log).
	Background bool   `json:"background,omitempty"`
	Log        string `json:"log,omitempty"`
}

// ExecResult is the result of "exec".
type ExecResult struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
	Pid    int    `json:"pid,omitempty"`
	Log    string `json:"log,omitempty"`
}

// SignalArgs are the arguments of "signal": send Signal to a process that
// "exec" started in the background, and with Wait, wait for it to exit.
type SignalArgs struct {
	Pid    int  `json:"pid"`
	Signal int  `json:"signal"`
	Wait   bool `json:"wait,omitempty"`
}

// Handler serves one operation. It must not retain args.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// errShutdown ends Serve after the reply is sent.
var errShutdown = errors.New("agent: shutdown")

// Agent dispatches requests to handlers.
type Agent struct {
	mu       sync.Mutex
	handlers map[string]Handler
	bg       map[int]*exec.Cmd
}

// New returns an agent with the built-in operations: "ping", "exec",
// "signal", "read_file" (args: a path string; result: the content) and
// "shutdown".
func New() *Agent {
	a := &Agent{handlers: map[string]Handler{}, bg: map[int]*exec.Cmd{}}
	a.Handle("ping", func(context.Context, json.RawMessage) (any, error) { return "pong", nil })
	a.Handle("exec", a.exec)
	a.Handle("signal", a.signal)
	a.Handle("read_file", func(_ context.Context, raw json.RawMessage) (any, error) {
		var p string
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		return string(b), err
	})
	a.Handle("shutdown", func(context.Context, json.RawMessage) (any, error) { return nil, errShutdown })
	return a
}

// Handle registers h for op, replacing any earlier handler.
func (a *Agent) Handle(op string, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers[op] = h
}

// Serve answers requests read from rw, one at a time, until rw ends or a
// "shutdown" request has been answered.
func (a *Agent) Serve(ctx context.Context, rw io.ReadWriter) error {
	r := bufio.NewReaderSize(rw, 1<<16)
	enc := json.NewEncoder(rw)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("agent: read: %w", err)
			}
			continue
		}
		var req Request
		resp := Response{}
		var herr error
		if err := json.Unmarshal(line, &req); err != nil {
			resp.Error = fmt.Sprintf("agent: bad request: %v", err)
		} else {
			resp.ID = req.ID
			a.mu.Lock()
			h := a.handlers[req.Op]
			a.mu.Unlock()
			if h == nil {
				resp.Error = fmt.Sprintf("agent: unknown operation %q", req.Op)
			} else {
				var res any
				res, herr = h(ctx, req.Args)
				switch {
				case herr != nil && !errors.Is(herr, errShutdown):
					resp.Error = herr.Error()
				case res != nil:
					b, err := json.Marshal(res)
					if err != nil {
						resp.Error = fmt.Sprintf("agent: %s: encode result: %v", req.Op, err)
					} else {
						resp.Result = b
					}
				}
			}
		}
		if err := enc.Encode(&resp); err != nil {
			return fmt.Errorf("agent: write: %w", err)
		}
		if errors.Is(herr, errShutdown) {
			return nil
		}
	}
}

func (a *Agent) exec(ctx context.Context, raw json.RawMessage) (any, error) {
	var args ExecArgs
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, err
	}
	if len(args.Argv) == 0 {
		return nil, errors.New("agent: exec: empty argv")
	}
	if args.Background {
		cmd := exec.Command(args.Argv[0], args.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		log := args.Log
		if log == "" {
			log = "/tmp/" + filepath.Base(args.Argv[0]) + ".log"
		}
		f, err := os.Create(log)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
		if args.Stdin != "" {
			cmd.Stdin = strings.NewReader(args.Stdin)
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("agent: exec: %w", err)
		}
		a.mu.Lock()
		a.bg[cmd.Process.Pid] = cmd
		a.mu.Unlock()
		return ExecResult{Pid: cmd.Process.Pid, Log: log}, nil
	}
	if args.Timeout <= 0 {
		args.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, args.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args.Argv[0], args.Argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if args.Stdin != "" {
		cmd.Stdin = strings.NewReader(args.Stdin)
	}
	err := cmd.Run()
	res := ExecResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("agent: exec %s: %w", args.Argv[0], err)
	}
	return res, nil
}

func (a *Agent) signal(_ context.Context, raw json.RawMessage) (any, error) {
	var args SignalArgs
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, err
	}
	a.mu.Lock()
	cmd := a.bg[args.Pid]
	a.mu.Unlock()
	if cmd == nil {
		return nil, fmt.Errorf("agent: no background process %d", args.Pid)
	}
	if err := syscall.Kill(-args.Pid, syscall.Signal(args.Signal)); err != nil {
		return nil, fmt.Errorf("agent: signal %d: %w", args.Pid, err)
	}
	if !args.Wait {
		return nil, nil
	}
	err := cmd.Wait()
	a.mu.Lock()
	delete(a.bg, args.Pid)
	a.mu.Unlock()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, err
	}
	return ExecResult{Exit: cmd.ProcessState.ExitCode()}, nil
}

// OpenPort opens the virtio-serial port called name, looking it up in
// /sys/class/virtio-ports (there is no udev in the guest to make the
// /dev/virtio-ports links).
func OpenPort(name string) (*os.File, error) {
	dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		f, err := os.OpenFile("/dev/"+filepath.Base(d), os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("agent: no virtio-serial port named %q", name)
}

// Main opens the control port, announces readiness on the console and
// serves until shutdown. It returns the process exit code.
func Main(a *Agent) int {
	port, err := OpenPort(PortName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer port.Close()
	fmt.Println(ReadyMarker)
	if err := a.Serve(context.Background(), struct {
		io.Reader
		io.Writer
	}{patientReader{port}, port}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// patientReader waits out the end-of-file a virtio-serial port reports
// while no host is connected to it.
type patientReader struct{ r io.Reader }

func (p patientReader) Read(b []byte) (int, error) {
	for {
		n, err := p.r.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

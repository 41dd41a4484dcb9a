package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuAccount is a cgroup (v1 cpuacct) holding this program and, by
// inheritance, everything it starts: the client's senders, the real
// servers' nginx, the balancers. Its usage is scheduler run time, which on
// this kernel (no IRQ_TIME_ACCOUNTING) includes the softirq work done in a
// task's context: on veth, a packet's whole path through bridge, balancer
// and real server runs in the sender's softirq. Work deferred to ksoftirqd
// is not counted. The machine is shared, so machine-wide busy time would
// measure the neighbours.
type cpuAccount struct {
	dir, parent string
}

const cpuacctRoot = "/sys/fs/cgroup/cpuacct"

func newCPUAccount() (*cpuAccount, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	parent := cpuacctRoot
	for _, l := range strings.Split(string(self), "\n") {
		// 2:cpuacct:/path (or cpu,cpuacct)
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && strings.Contains(","+f[1]+",", ",cpuacct,") {
			parent = filepath.Join(cpuacctRoot, f[2])
		}
	}
	dir := filepath.Join(parent, fmt.Sprintf("lbbench-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cpuacct cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cpuacct cgroup: %w", err)
	}
	return &cpuAccount{dir: dir, parent: parent}, nil
}

func (c *cpuAccount) usage() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "cpuacct.usage"))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(v), err
}

// close moves this program back and removes the cgroup (the lab's
// processes are gone by then).
func (c *cpuAccount) close() error {
	if err := os.WriteFile(filepath.Join(c.parent, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	var err error
	for range 50 {
		if err = os.Remove(c.dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// cores returns the cores the accounted tasks used while fn ran.
func (c *cpuAccount) cores(fn func() error) (float64, error) {
	u0, err := c.usage()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := fn(); err != nil {
		return 0, err
	}
	u1, err := c.usage()
	if err != nil {
		return 0, err
	}
	return float64(u1-u0) / float64(time.Since(t0)), nil
}

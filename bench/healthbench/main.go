// Command healthbench measures the cost of health checking: N TCP_CHECK
// checkers at delay_loop 1 s against nginx in a network namespace, and the
// CPU time and resident memory of the process that runs them.
//
// It needs root. It builds a topology (a director and a real-server node
// with 10 addresses, nginx listening on 100 ports), re-executes itself in
// the director's namespace to run health.Runner, lets it warm up, then
// samples /proc/PID/stat and /proc/PID/status over the measured window.
//
//	go run ./bench/healthbench -n 1000 -warmup 5s -measure 30s -out bench/results/health-tcp-checkers.md
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/procstat"
	"github.com/ulvs/ulvs/internal/topo"
)

const (
	rsAddrs = 10
	rsPorts = 100
	base    = 10000
)

func main() {
	child := flag.Bool("child", false, "run the checkers (internal)")
	n := flag.Int("n", 1000, "number of TCP checkers")
	delay := flag.Duration("delay-loop", time.Second, "delay_loop")
	warm := flag.Duration("warmup", 5*time.Second, "time before measuring")
	measure := flag.Duration("measure", 30*time.Second, "measured window")
	out := flag.String("out", "", "append the result to this file")
	flag.Parse()
	if *child {
		if err := runChild(*n, *delay); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := runParent(*n, *delay, *warm, *measure, *out); err != nil {
		fmt.Fprintln(os.Stderr, "healthbench:", err)
		os.Exit(1)
	}
}

// nullSink counts the destination changes.
type nullSink struct{ ops int }

func (s *nullSink) AddDest(string, health.Dest) error    { s.ops++; return nil }
func (s *nullSink) UpdateDest(string, health.Dest) error { s.ops++; return nil }
func (s *nullSink) RemoveDest(string, health.Dest) error { s.ops++; return nil }

// childReport is what the child prints on SIGUSR1.
type childReport struct {
	Checkers, Alive, Goroutines int
	Runs, Failures              uint64
	HeapInuse                   uint64
}

func runChild(n int, delay time.Duration) error {
	cfg := &health.Config{}
	for s := 0; s*rsPorts < n; s++ {
		vs := health.VirtualServer{
			Addr:   netip.AddrPortFrom(netip.MustParseAddr("198.18.80.100"), uint16(80+s)),
			Timing: health.Timing{DelayLoop: delay, ConnectTimeout: 5 * time.Second},
		}
		for i := s * rsPorts; i < n && i < (s+1)*rsPorts; i++ {
			a := netip.AddrFrom4([4]byte{198, 18, 80, byte(11 + i/rsPorts%rsAddrs)})
			vs.Reals = append(vs.Reals, health.RealServer{
				Addr: netip.AddrPortFrom(a, uint16(base+i%rsPorts)), Weight: 1,
				Checks: []health.Check{{Kind: health.KindTCP}},
			})
		}
		cfg.Services = append(cfg.Services, vs)
	}
	r, err := health.New(cfg, &nullSink{}, health.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("ready")
	for sig := range sigs {
		if sig != syscall.SIGUSR1 {
			break
		}
		st, err := r.Status(ctx)
		if err != nil {
			return err
		}
		rep := childReport{Checkers: n, Goroutines: runtime.NumGoroutine()}
		for _, s := range st {
			for _, rs := range s.Reals {
				if rs.Alive {
					rep.Alive++
				}
				for _, c := range rs.Checkers {
					rep.Runs += c.Runs
					rep.Failures += c.Failures
				}
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rep.HeapInuse = ms.HeapInuse
		b, _ := json.Marshal(rep)
		fmt.Println("report " + string(b))
	}
	cancel()
	<-done
	return nil
}

// report asks the child for its counters and waits for the answer.
func report(child *topo.Proc, k int) (childReport, error) {
	if err := child.Signal(syscall.SIGUSR1); err != nil {
		return childReport{}, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var reps []string
		for _, l := range strings.Split(child.Log(), "\n") {
			if strings.HasPrefix(l, "report ") {
				reps = append(reps, strings.TrimPrefix(l, "report "))
			}
		}
		if len(reps) >= k {
			var r childReport
			err := json.Unmarshal([]byte(reps[k-1]), &r)
			return r, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return childReport{}, fmt.Errorf("no report from the child:\n%s", child.Log())
}

func runParent(n int, delay, warm, measure time.Duration, out string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tp, err := topo.New(fmt.Sprintf("hb%d", os.Getpid()%100000))
	if err != nil {
		return err
	}
	defer tp.Close()
	lb, err := tp.AddNode("lb", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.80.1/24")}})
	if err != nil {
		return err
	}
	var addrs []netip.Prefix
	for i := range rsAddrs {
		addrs = append(addrs, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 80, byte(11 + i)}), 24))
	}
	rs, err := tp.AddNode("rs", topo.NodeConfig{Addrs: addrs})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "healthbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var listen []string
	for p := range rsPorts {
		listen = append(listen, strconv.Itoa(base+p))
	}
	if _, err := rs.StartNginx(topo.NginxConfig{Dir: dir, Listen: listen}); err != nil {
		return err
	}
	child, err := lb.Start(dir, self, "-child", "-n", strconv.Itoa(n), "-delay-loop", delay.String())
	if err != nil {
		return err
	}
	defer child.Stop(5 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(child.Log(), "ready") {
		if time.Now().After(deadline) {
			return fmt.Errorf("child did not start:\n%s", child.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(warm)
	pid := child.Pid()
	p0, err := procstat.ReadProcess(pid, false)
	if err != nil {
		return err
	}
	t0 := time.Now()
	r0, err := report(child, 1)
	if err != nil {
		return err
	}
	time.Sleep(measure)
	p1, err := procstat.ReadProcess(pid, true)
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	r1, err := report(child, 2)
	if err != nil {
		return err
	}
	cpu := time.Duration((p1.CPU - p0.CPU) * float64(time.Second))
	rss, hwm, threads := int64(p1.RSS>>10), int64(p1.HWM>>10), int64(p1.Threads)
	res := result{
		Date: time.Now().UTC().Format(time.RFC3339), Checkers: n, DelayLoop: delay.String(),
		Window: wall.Round(time.Millisecond).String(), CPUSeconds: cpu.Seconds(),
		CPUPercent: 100 * cpu.Seconds() / wall.Seconds(), RSSKiB: rss, PeakRSSKiB: hwm, Threads: threads,
		ChecksPerSec: float64(r1.Runs-r0.Runs) / wall.Seconds(), Failures: r1.Failures - r0.Failures,
		Alive: r1.Alive, Goroutines: r1.Goroutines, HeapInuseKiB: r1.HeapInuse / 1024,
		Machine: machine(),
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	if out != "" {
		return appendResult(out, res, os.Args)
	}
	return nil
}

type result struct {
	Date       string
	Checkers   int
	DelayLoop  string
	Window     string
	CPUSeconds float64
	CPUPercent float64
	RSSKiB     int64
	PeakRSSKiB int64
	Threads    int64
	// From the child: checks done per second in the window, failures,
	// alive real servers, goroutines and Go heap in use at the end.
	ChecksPerSec float64
	Failures     uint64
	Alive        int
	Goroutines   int
	HeapInuseKiB uint64
	Machine      string
}

func machine() string {
	k, _ := exec.Command("uname", "-r").Output()
	return fmt.Sprintf("%d CPUs, kernel %s, %s", runtime.NumCPU(), strings.TrimSpace(string(k)), runtime.Version())
}

func appendResult(path string, r result, args []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "| %s | %d | %s | %s | %.0f | %d | %d | %.2f | %.1f %% | %d | %d | %d | %d | %d | %s | `%s` |\n",
		r.Date, r.Checkers, r.DelayLoop, r.Window, r.ChecksPerSec, r.Failures, r.Alive, r.CPUSeconds, r.CPUPercent,
		r.RSSKiB, r.PeakRSSKiB, r.HeapInuseKiB, r.Goroutines, r.Threads,
		r.Machine, strings.Join(append([]string{"go run ./bench/healthbench"}, args[1:]...), " "))
	return err
}

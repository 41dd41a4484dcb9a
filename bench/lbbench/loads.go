package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/procstat"
)

// load is one measurement taken in every scenario: it returns metric
// name → value. A load the scenario cannot carry returns nothing.
type load struct {
	name string
	run  func(r *runner, t *target) (map[string]float64, error)
}

// runner holds what loads share.
type runner struct {
	l       *lab
	d       time.Duration // length of one measurement
	conns   int           // wrk connections
	costPPS int           // offered packets/s of the CPU-per-packet run
	costCPS int           // offered connections/s of the CPU-per-connection run
	self    string        // this program, re-run in the client's namespace
	logf    func(string, ...any)
	// acct counts the CPU of the lab's processes; nil falls back to the
	// machine's busy time beyond a quiet window.
	acct *cpuAccount
	// pinGen runs the loss-free search's generator on CPU 0.
	pinGen bool
}

// cpu measures the cores the lab used while fn ran.
func (r *runner) cpu(fn func() error) (float64, error) {
	if r.acct != nil {
		return r.acct.cores(fn)
	}
	return busyBeyondQuiet(r.d, fn)
}

// loads run in this order in every scenario: the CPU costs first, on a
// quiet machine, the flood last (a proxy may take a while to drain it).
var loads = []load{
	{"cpu per packet", (*runner).cpuPerPacket},
	{"cpu per connection", (*runner).cpuPerConn},
	{"wrk keep-alive", func(r *runner, t *target) (map[string]float64, error) { return r.wrk(t, false) }},
	{"wrk close", func(r *runner, t *target) (map[string]float64, error) { return r.wrk(t, true) }},
	{"iperf3", (*runner).iperf3},
	{"udp flood", (*runner).flood},
	{"pinned loss-free", (*runner).lossFree},
}

// Metrics, with their units and which way is better.
type metricInfo struct {
	Unit   string `json:"unit"`
	Higher bool   `json:"higher_is_better"`
	Load   string `json:"load"`
}

var metrics = map[string]metricInfo{
	"keepalive_rps":       {"req/s", true, "wrk keep-alive"},
	"keepalive_p50_ms":    {"ms", false, "wrk keep-alive"},
	"keepalive_p99_ms":    {"ms", false, "wrk keep-alive"},
	"close_rps":           {"req/s", true, "wrk close"},
	"close_p50_ms":        {"ms", false, "wrk close"},
	"close_p99_ms":        {"ms", false, "wrk close"},
	"iperf3_gbps":         {"Gbit/s", true, "iperf3"},
	"udp_delivered_pps":   {"pkt/s", true, "udp flood"},
	"udp_loss_pct":        {"%", false, "udp flood"},
	"cpu_ns_per_packet":   {"ns CPU/pkt", false, "cpu per packet"},
	"cpu_us_per_conn":     {"µs CPU/conn", false, "cpu per connection"},
	"sat_ns_per_packet":   {"ns CPU/pkt", false, "udp flood"},
	"pinned_lossfree_pps": {"pkt/s", true, "pinned loss-free"},
}

// metricOrder is the order of columns in reports.
var metricOrder = []string{"keepalive_rps", "keepalive_p50_ms", "keepalive_p99_ms", "close_rps", "close_p50_ms",
	"close_p99_ms", "iperf3_gbps", "udp_delivered_pps", "udp_loss_pct", "cpu_ns_per_packet", "sat_ns_per_packet", "cpu_us_per_conn", "pinned_lossfree_pps"}

func (r *runner) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.d+60*time.Second)
}

func (r *runner) wrk(t *target, close bool) (map[string]float64, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	args := []string{"-t2", "-c" + strconv.Itoa(r.conns), "-d" + fmt.Sprintf("%ds", int(r.d.Seconds())), "--latency"}
	prefix := "keepalive"
	if close {
		args = append(args, "-H", "Connection: close")
		prefix = "close"
	}
	args = append(args, fmt.Sprintf("http://%v/", t.http))
	out, err := r.l.client.Output(ctx, "wrk", args...)
	if err != nil {
		return nil, err
	}
	w, err := parseWrk([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	if w.Requests > 0 && float64(w.Errors) > 0.01*float64(w.Requests) {
		return nil, fmt.Errorf("wrk: %d errors in %d requests\n%s", w.Errors, w.Requests, out)
	}
	return map[string]float64{prefix + "_rps": w.RPS, prefix + "_p50_ms": ms(w.P50), prefix + "_p99_ms": ms(w.P99)}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// iperf3 runs one stream for the measurement time. Every run gets fresh
// one-off servers: an iperf3 server whose last client vanished mid-test
// (a balancer torn down) stays "busy running a test" for minutes.
func (r *runner) iperf3(t *target) (map[string]float64, error) {
	for _, n := range r.l.reals {
		p, err := n.Start(r.l.dir, "iperf3", "-s", "-1", "-p", strconv.Itoa(iperfPort))
		if err != nil {
			return nil, err
		}
		defer func() { _ = p.Stop(time.Second) }()
		if err := n.WaitListening("tcp", strconv.Itoa(iperfPort), 5*time.Second); err != nil {
			return nil, err
		}
	}
	ctx, cancel := r.ctx()
	defer cancel()
	out, err := r.l.client.Output(ctx, "iperf3", "-c", t.iperf.Addr().String(), "-p", strconv.Itoa(int(t.iperf.Port())),
		"-B", t.src.String(), "-t", strconv.Itoa(int(r.d.Seconds())), "-J")
	bps, perr := parseIperf3([]byte(out))
	if perr != nil {
		return nil, fmt.Errorf("%w (%v)", perr, err)
	}
	return map[string]float64{"iperf3_gbps": bps / 1e9}, nil
}

// trafgenConfig is one 60-byte UDP frame to the target, from rotating
// source ports (so that hashing balancers spread it).
func trafgenConfig(l *lab, t *target) string {
	return fmt.Sprintf(`{
  eth(da=%v, sa=%v, type=0x0800),
  ipv4(saddr=%v, daddr=%v, ttl=64),
  udp(sp=dinc(1024, 65000), dp=%d),
  fill(0x00, 18)
}
`, t.udpMAC, l.macs["client"], t.src, t.udp.Addr(), t.udp.Port())
}

// flood sends 60-byte UDP frames with trafgen (one core, as fast as it
// can) for the measurement time and counts what the real servers got.
func (r *runner) flood(t *target) (map[string]float64, error) {
	if !t.udp.IsValid() {
		return nil, nil
	}
	var sent, got uint64
	var secs float64
	cores, err := r.cpu(func() error {
		var err error
		sent, got, secs, err = r.trafgen(t, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	loss := 0.0
	if sent > 0 && got < sent {
		loss = 100 * float64(sent-got) / float64(sent)
	}
	vals := map[string]float64{"udp_delivered_pps": float64(got) / secs, "udp_loss_pct": loss}
	if got > 0 {
		vals["sat_ns_per_packet"] = cores / (float64(got) / secs) * 1e9
	}
	return vals, nil
}

// frameCounts reads the frames the client's eth0 has sent and those the
// real servers have counted.
func (r *runner) frameCounts() (tx, rx uint64, err error) {
	if tx, err = txPackets(r.l.client); err != nil {
		return 0, 0, err
	}
	rx, err = r.l.udpDelivered()
	return tx, rx, err
}

// trafgen runs trafgen from the client (at rate, e.g. "50000pps", or
// unlimited when "") and returns frames sent, frames the real servers
// counted, and the seconds it ran.
func (r *runner) trafgen(t *target, rate string) (sent, got uint64, secs float64, err error) {
	cfg := filepath.Join(r.l.dir, "trafgen.cfg")
	if err := os.WriteFile(cfg, []byte(trafgenConfig(r.l, t)), 0o644); err != nil {
		return 0, 0, 0, err
	}
	tx0, rx0, err := r.frameCounts()
	if err != nil {
		return 0, 0, 0, err
	}
	args := []string{"-o", "eth0", "-i", cfg, "-P", "1", "--no-sock-mem"}
	if rate != "" {
		args = append(args, "-b", rate)
	}
	start := time.Now()
	p, err := r.l.client.Start(r.l.dir, "trafgen", args...)
	if err != nil {
		return 0, 0, 0, err
	}
	time.Sleep(r.d)
	_ = p.Signal(syscall.SIGINT)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		p.Kill()
	}
	secs = time.Since(start).Seconds()
	// Frames in flight land within a few milliseconds.
	time.Sleep(200 * time.Millisecond)
	tx1, rx1, err := r.frameCounts()
	if err != nil {
		return 0, 0, 0, err
	}
	return tx1 - tx0, rx1 - rx0, secs, nil
}

// busyBeyondQuiet measures the machine's busy CPU (in cores) while fn
// runs, minus what it was during a quiet window of length d just before:
// the machine is shared, and this takes the background out as far as it
// stays put for a few seconds.
func busyBeyondQuiet(d time.Duration, fn func() error) (float64, error) {
	quiet, err := busy(func() error { time.Sleep(d); return nil })
	if err != nil {
		return 0, err
	}
	b, err := busy(fn)
	return b - quiet, err
}

// busy measures the machine's busy CPU (in cores) while fn runs.
func busy(fn func() error) (float64, error) {
	a, err := procstat.ReadMachine()
	if err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	b, err := procstat.ReadMachine()
	if err != nil {
		return 0, err
	}
	if b.Total <= a.Total {
		return 0, fmt.Errorf("/proc/stat did not advance")
	}
	ncpu := 1.0
	if n, err := strconv.Atoi(os.Getenv("LBBENCH_NCPU")); err == nil && n > 0 {
		ncpu = float64(n)
	} else {
		ncpu = float64(numCPU())
	}
	return ncpu * (b.Busy - a.Busy) / (b.Total - a.Total), nil
}

// paced runs this program's "pace" mode in the client's namespace: UDP
// datagrams or TCP connections (HTTP/1.0 GET) at a fixed rate.
func (r *runner) paced(mode string, dst netip.AddrPort, src netip.Addr, rate int) (paceResult, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	out, err := r.l.client.Output(ctx, r.self, "pace", "-mode", mode, "-dst", dst.String(), "-src", src.String(),
		"-rate", strconv.Itoa(rate), "-d", r.d.String())
	if err != nil {
		return paceResult{}, err
	}
	var res paceResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return res, fmt.Errorf("pace: %w: %q", err, out)
	}
	return res, nil
}

// cpuPerPacket offers costPPS UDP datagrams per second and returns the
// machine's busy CPU, which the report turns into CPU per packet beyond
// the direct scenario's.
func (r *runner) cpuPerPacket(t *target) (map[string]float64, error) {
	if !t.udp.IsValid() {
		return nil, nil
	}
	var res paceResult
	cores, err := r.cpu(func() error {
		var err error
		res, err = r.paced("udp", t.udp, t.src, r.costPPS)
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"busy_cores_pkt": cores, "offered_pps": res.Rate}, nil
}

// cpuPerConn offers costCPS new connections per second.
func (r *runner) cpuPerConn(t *target) (map[string]float64, error) {
	var res paceResult
	cores, err := r.cpu(func() error {
		var err error
		res, err = r.paced("tcp", t.http, t.src, r.costCPS)
		return err
	})
	if err != nil {
		return nil, err
	}
	if res.Errors > res.Done/100 {
		return nil, fmt.Errorf("pace: %d of %d connections failed", res.Errors, res.Done)
	}
	return map[string]float64{"busy_cores_conn": cores, "offered_cps": res.Rate}, nil
}

// rawPace sends the flood's frames at a steady rate for r.d with this
// program's rawpace mode in the client's namespace, and returns frames
// sent (the client's eth0 counter), frames the real servers counted, and
// the seconds it ran.
func (r *runner) rawPace(t *target, rate int) (sent, got uint64, secs float64, err error) {
	tx0, rx0, err := r.frameCounts()
	if err != nil {
		return 0, 0, 0, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	start := time.Now()
	name, args := r.self, []string{"rawpace", "-dst", t.udp.String(), "-src", t.src.String(),
		"-dstmac", t.udpMAC.String(), "-rate", strconv.Itoa(rate), "-d", r.d.String()}
	if r.pinGen {
		name, args = "taskset", append([]string{"-c", "0", r.self}, args...)
	}
	out, err := r.l.client.Output(ctx, name, args...)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("rawpace: %w: %s", err, out)
	}
	secs = time.Since(start).Seconds()
	var res paceResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return 0, 0, 0, fmt.Errorf("rawpace: %w: %q", err, out)
	}
	secs = min(secs, r.d.Seconds()) // the pacer's own start-up is not sending time
	time.Sleep(200 * time.Millisecond)
	tx1, rx1, err := r.frameCounts()
	if err != nil {
		return 0, 0, 0, err
	}
	return tx1 - tx0, rx1 - rx0, secs, nil
}

// lossFree finds the highest rate of 60-byte UDP frames the balancer
// forwards with under 0.1 % loss with the whole forwarding path on one
// core: the generator runs on CPU 0, and everything after it on the last
// CPU — the client's switch port steers its received frames there (RPS),
// so the bridge, the director's kernel (nftables, the AF_PACKET tap, XDP)
// and the real servers' receive run there, and the balancer's threads, if
// it has any, are pinned there. Rates double until frames are lost (or the
// generator cannot keep up), then a binary search narrows the edge. Probes
// are 2 s of steadily paced frames (rawpace, not trafgen's once-a-second
// bursts).
func (r *runner) lossFree(t *target) (map[string]float64, error) {
	if !t.lossFree || !t.udp.IsValid() {
		return nil, nil
	}
	last := numCPU() - 1
	if t.balancer != 0 {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", strconv.Itoa(last), strconv.Itoa(t.balancer)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("taskset: %w: %s", err, out)
		}
		defer exec.Command("taskset", "-a", "-p", "-c", fmt.Sprintf("0-%d", last), strconv.Itoa(t.balancer)).Run()
	}
	if err := r.l.rps(fmt.Sprintf("%x", 1<<last)); err != nil {
		return nil, err
	}
	defer r.l.rps("0")
	r.pinGen = true
	defer func() { r.pinGen = false }()
	saved := r.d
	r.d = 2 * time.Second
	defer func() { r.d = saved }()
	probe := func(rate int) (ok bool, achieved float64, err error) {
		sent, got, secs, err := r.rawPace(t, rate)
		if err != nil {
			return false, 0, err
		}
		achieved = float64(sent) / secs
		lost := sent > got && float64(sent-got) > 0.001*float64(sent)
		r.logf("  pinned probe %d pps: sent %d, delivered %d in %.2fs", rate, sent, got, secs)
		return !lost, achieved, nil
	}
	good, bad := 0.0, 0
	rate := 25000
	for bad == 0 && rate <= 4_000_000 {
		ok, achieved, err := probe(rate)
		if err != nil {
			return nil, err
		}
		if achieved < 0.9*float64(rate) {
			// The generator is the limit, not the balancer.
			if ok {
				good = achieved
			}
			bad = rate
			break
		}
		if !ok {
			bad = rate
			break
		}
		good = achieved
		rate *= 2
	}
	lo, hi := int(good), bad
	for range 5 {
		if hi == 0 || hi-lo < hi/20 {
			break
		}
		mid := (lo + hi) / 2
		ok, achieved, err := probe(mid)
		if err != nil {
			return nil, err
		}
		if ok && achieved >= 0.9*float64(mid) {
			lo, good = mid, achieved
		} else {
			hi = mid
		}
	}
	return map[string]float64{"pinned_lossfree_pps": good}, nil
}

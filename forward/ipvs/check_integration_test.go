package ipvs_test

import (
	stdcmp "cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs/internal/kview"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/ipvsfmt"
	"github.com/ulvs/ulvs/internal/lvs"
	"github.com/ulvs/ulvs/sched"
)

var addrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

// asView renders what the backend reports as a kernel view would print it.
func asView(st []forward.ServiceStatus, view kview.View, proc bool) []kview.Service {
	var out []kview.Service
	for _, s := range st {
		if !s.Enabled {
			continue // not in the kernel
		}
		k := s.Config.Key
		v := kview.Service{Proto: map[uint8]string{forward.TCP: "TCP", forward.UDP: "UDP", forward.SCTP: "SCTP"}[k.Proto],
			Addr: k.Addr, Port: k.Port, Netmask: -1}
		if k.FWMark != 0 {
			v = kview.Service{Proto: "FWM", FWMark: k.FWMark, IPv6: !proc && k.Addr.Is6(), Netmask: -1}
		}
		bitlen := k.Addr.BitLen()
		switch {
		case view == kview.ViewStats:
			v.Stats = &kview.Counters{Conns: s.Stats.Conns, InPkts: s.Stats.InPkts, OutPkts: s.Stats.OutPkts,
				InBytes: s.Stats.InBytes, OutBytes: s.Stats.OutBytes}
		default:
			v.Sched = s.Config.Scheduler
			v.OnePacket = s.Config.OnePacket && (!proc || !k.Addr.Is6() || k.FWMark != 0)
			if !proc {
				if fl := sched.FlagString(v.Sched, s.Config.SchedFlags); fl != "" {
					v.Flags = strings.Split(fl, ",")
				}
			}
			if s.Config.Persistence > 0 {
				v.Timeout = uint32(s.Config.Persistence / time.Second)
				g := s.Config.Granularity
				if g == 0 {
					g = bitlen
				}
				// /proc prints every netmask; ipvsadm only one that is not
				// the full length.
				if proc || g != bitlen {
					v.Netmask = g
				}
			}
		}
		for _, r := range s.Reals {
			d := kview.Dest{Addr: r.Config.Addr, Port: r.Config.Port}
			switch view {
			case kview.ViewDefault:
				d.Forward, d.Weight, d.Active, d.Inactive = lvs.MethodWords[r.Method], r.Config.Weight, r.ActiveConns, r.InactiveConns
			case kview.ViewThresholds:
				d.UThresh, d.LThresh, d.Active, d.Inactive = r.Config.UThreshold, r.Config.LThreshold, r.ActiveConns, r.InactiveConns
			case kview.ViewPersistent:
				d.Weight, d.PersistConn, d.Active, d.Inactive = r.Config.Weight, r.PersistConns, r.ActiveConns, r.InactiveConns
			case kview.ViewStats:
				d.Stats = &kview.Counters{Conns: r.Stats.Conns, InPkts: r.Stats.InPkts, OutPkts: r.Stats.OutPkts,
					InBytes: r.Stats.InBytes, OutBytes: r.Stats.OutBytes}
			}
			v.Dests = append(v.Dests, d)
		}
		out = append(out, v)
	}
	return out
}

// tableDiff compares, at one moment, what the backend reports with the
// kernel's /proc/net/ip_vs (destinations in the kernel's order) and with
// ipvsadm's four listings (sorted as ipvsadm sorts). It returns the first
// difference, or "".
func (l *lab) tableDiff() string {
	l.t.Helper()
	st := l.services()
	proc := l.shell("cat /proc/net/ip_vs")
	got, err := kview.ParseProc([]byte(proc), l.hz)
	if err != nil {
		l.t.Fatalf("%v\n%s", err, proc)
	}
	want := asView(st, kview.ViewDefault, true)
	kview.Sort(got, false)
	kview.Sort(want, false)
	if d := cmp.Diff(want, got, addrs); d != "" {
		return "/proc/net/ip_vs (-backend +kernel):\n" + d + "\n" + proc
	}
	for _, v := range []struct {
		args string
		view kview.View
	}{
		{"", kview.ViewDefault}, {"--thresholds", kview.ViewThresholds},
		{"--persistent-conn", kview.ViewPersistent}, {"--stats --exact", kview.ViewStats},
	} {
		out := l.shell("ipvsadm -Ln " + v.args)
		got, view, err := kview.ParseIpvsadm([]byte(out))
		if err != nil || view != v.view {
			l.t.Fatalf("ipvsadm -Ln %s: view %v: %v\n%s", v.args, view, err, out)
		}
		want := asView(st, v.view, false)
		kview.Sort(got, true)
		kview.Sort(want, true)
		if d := cmp.Diff(want, got, addrs); d != "" {
			return fmt.Sprintf("ipvsadm -Ln %s (-backend +kernel):\n%s\n%s", v.args, d, out)
		}
		// ulvsadm prints the backend's view of the same table exactly as the
		// guest's ipvsadm 1.31 prints the kernel's, byte for byte.
		if d := ulvsadmDiff(out, st, v.args); d != "" {
			return d
		}
	}
	return ""
}

// ulvsadmDiff renders the backend's services with ulvsadm's formatter and
// compares the text with ipvsadm's listing.
func ulvsadmDiff(ipvsadm string, st []forward.ServiceStatus, args string) string {
	formats := map[string]ipvsfmt.Format{"": ipvsfmt.Numeric, "--thresholds": ipvsfmt.Numeric | ipvsfmt.Thresholds,
		"--persistent-conn": ipvsfmt.Numeric | ipvsfmt.PersistentConn,
		"--stats --exact":   ipvsfmt.Numeric | ipvsfmt.Stats | ipvsfmt.Exact}
	var size int
	fmt.Sscanf(ipvsadm, "IP Virtual Server version "+lvs.IPVSVersion+" (size=%d)", &size)
	t := &ctl.IPVS{Version: lvs.IPVSVersion, Size: size}
	for _, s := range st {
		if s.Enabled { // the kernel holds only the services of VIPs held
			t.Services = append(t.Services, lvs.ServiceView(s))
		}
	}
	var b strings.Builder
	ipvsfmt.Table(&b, t, formats[args])
	if b.String() != ipvsadm {
		return fmt.Sprintf("ulvsadm -Ln %s differs from ipvsadm's text (-ipvsadm +ulvsadm):\n%s", args,
			cmp.Diff(ipvsadm, b.String()))
	}
	return ""
}

// checkTable requires the kernel's views to equal what the backend
// reports. Connections change state between two reads, so it retries
// until one snapshot agrees.
func (l *lab) checkTable() {
	l.t.Helper()
	var d string
	for range 20 {
		if d = l.tableDiff(); d == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Errorf("the kernel's table differs from what the backend reports: %s", d)
}

// checkConfig requires Services to report exactly the configuration the
// seed asked for, real servers newest first as the kernel keeps them, the
// sorry server among them when sorry says so.
func (l *lab) checkConfig(want []seedService, sorry bool) {
	l.t.Helper()
	var exp []forward.ServiceStatus
	for _, s := range want {
		st := forward.ServiceStatus{Config: s.cfg, Enabled: true}
		for _, r := range slices.Backward(s.reals) {
			m := s.cfg.Method
			if r.MethodSet {
				m = r.Method
			}
			r.Method = m
			st.Reals = append(st.Reals, forward.RealStatus{Config: r, Method: m})
		}
		if sorry && s.cfg.Sorry != nil {
			r := *s.cfg.Sorry
			r.Method, r.Weight = s.cfg.Method, 1
			st.Reals = append([]forward.RealStatus{{Config: r, Method: r.Method}}, st.Reals...)
		}
		exp = append(exp, st)
	}
	// The backend's order: addresses, protocols, ports, then marks.
	slices.SortFunc(exp, func(a, b forward.ServiceStatus) int {
		x, y := a.Config.Key, b.Config.Key
		if c := stdcmp.Compare(x.FWMark, y.FWMark); c != 0 {
			return c
		}
		if c := x.Addr.Compare(y.Addr); c != 0 {
			return c
		}
		if c := stdcmp.Compare(x.Proto, y.Proto); c != 0 {
			return c
		}
		return stdcmp.Compare(x.Port, y.Port)
	})
	ignore := cmpopts.IgnoreFields(forward.RealStatus{}, "ActiveConns", "InactiveConns", "PersistConns", "Stats", "Rates")
	if d := cmp.Diff(exp, l.services(), addrs, ignore, cmpopts.IgnoreFields(forward.ServiceStatus{}, "Stats", "Rates")); d != "" {
		l.t.Errorf("Services (-seed +backend):\n%s", d)
	}
}

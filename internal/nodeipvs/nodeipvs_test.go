package nodeipvs

import (
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/procfs"

	"github.com/ulvs/ulvs/internal/ctl"
)

// table is the table a Linux 6.1 kernel showed as testdata/proc_ip_vs.txt
// (ipvsadm -Ln's view of the same table, in ulvs's terms).
func table() *ctl.IPVS {
	a := netip.MustParseAddr
	return &ctl.IPVS{Services: []ctl.Service{
		{Proto: "TCP", Addr: a("198.18.0.100"), Port: 80, Dests: []ctl.Dest{
			{Addr: a("198.18.0.11"), Port: 80, Weight: 2}, {Addr: a("198.18.0.12"), Port: 80, Weight: 1, Active: 1}}},
		{Proto: "UDP", Addr: a("198.18.0.100"), Port: 53, Dests: []ctl.Dest{{Addr: a("198.18.0.11"), Port: 53, Weight: 1}}},
		{Proto: "TCP", Addr: a("2001:db8::100"), Port: 80, IPv6: true, Dests: []ctl.Dest{
			{Addr: a("2001:db8::11"), Port: 80, Weight: 1}}},
		{FWMark: 7, Dests: []ctl.Dest{{Addr: a("198.18.0.12"), Weight: 1}}},
	}}
}

// nodeExporterBackends is what node_exporter's ipvs collector makes of
// /proc/net/ip_vs: procfs reads the file, the labels are formed as the
// collector forms them.
func nodeExporterBackends(t *testing.T, procIPVS string) []Backend {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(procIPVS)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "ip_vs"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.IPVSBackendStatus()
	if err != nil {
		t.Fatal(err)
	}
	var out []Backend
	for _, s := range st {
		local := ""
		if s.LocalAddress.String() != "<nil>" {
			local = s.LocalAddress.String()
		}
		out = append(out, Backend{Labels: [6]string{local, strconv.Itoa(int(s.LocalPort)), s.RemoteAddress.String(),
			strconv.Itoa(int(s.RemotePort)), s.Proto, s.LocalMark}, Active: s.ActiveConn, Inactive: s.InactConn, Weight: s.Weight})
	}
	return out
}

func sorted(b []Backend) []Backend {
	sort.Slice(b, func(i, j int) bool { return strings.Join(b[i].Labels[:], " ") < strings.Join(b[j].Labels[:], " ") })
	return b
}

func TestBackendsAsNodeExporter(t *testing.T) {
	t.Parallel()
	want := sorted(nodeExporterBackends(t, "testdata/proc_ip_vs.txt"))
	if len(want) != 5 {
		t.Fatalf("procfs read %d backends from the kernel's file, want 5", len(want))
	}
	if diff := cmp.Diff(want, sorted(Backends(table()))); diff != "" {
		t.Errorf("backends (-node_exporter on the kernel's /proc/net/ip_vs +ulvs):\n%s", diff)
	}
}

func TestBackendsSumEqualLabels(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	// Two fwmark services with one mark in both families share labels
	// (local_address is empty for both): node_exporter sums them.
	tb := &ctl.IPVS{Services: []ctl.Service{
		{FWMark: 9, Dests: []ctl.Dest{{Addr: a("198.18.0.11"), Weight: 2, Active: 1}}},
		{FWMark: 9, Dests: []ctl.Dest{{Addr: a("198.18.0.11"), Weight: 3, Inactive: 4}}},
		{Proto: "SCTP", Addr: a("198.18.0.100"), Port: 9, Dests: []ctl.Dest{{Addr: a("198.18.0.11"), Port: 9, Weight: 1}}},
	}}
	want := []Backend{{Labels: [6]string{"", "0", "198.18.0.11", "0", "FWM", "00000009"}, Active: 1, Inactive: 4, Weight: 5}}
	if diff := cmp.Diff(want, Backends(tb)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCollectorTotals(t *testing.T) {
	t.Parallel()
	tb := table()
	tb.Services[0].Stats = ctl.Stats{Conns: 3, InPkts: 10, InBytes: 600}
	tb.Services[1].Stats = ctl.Stats{Conns: 2, InPkts: 2, InBytes: 64, OutPkts: 2, OutBytes: 64}
	c := New(func() *ctl.IPVS { return tb })
	total := func() float64 { return testutil.ToFloat64(collectorOf(c, "node_ipvs_connections_total")) }
	if got := total(); got != 5 {
		t.Errorf("connections = %v, want 5", got)
	}
	// A deleted service's counts stay in the totals.
	tb.Services = tb.Services[1:]
	if got := total(); got != 5 {
		t.Errorf("after deleting a service: connections = %v, want 5", got)
	}
	// So do a zeroed service's.
	tb.Services[0].Stats = ctl.Stats{Conns: 1}
	if got := total(); got != 6 {
		t.Errorf("after zeroing a service and one more connection: connections = %v, want 6", got)
	}
	if n := testutil.CollectAndCount(c); n != 5+3*3 {
		t.Errorf("%d metrics, want 5 totals and 3 per backend", n)
	}
	if n := testutil.CollectAndCount(New(func() *ctl.IPVS { return nil })); n != 0 {
		t.Errorf("no table: %d metrics", n)
	}
}

// collectorOf narrows a collector to one family, for testutil.ToFloat64.
func collectorOf(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, name}
}

type filtered struct {
	c    prometheus.Collector
	name string
}

func (f filtered) Describe(ch chan<- *prometheus.Desc) { f.c.Describe(ch) }
func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.c.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+f.name+`"`) {
			ch <- m
		}
	}
}

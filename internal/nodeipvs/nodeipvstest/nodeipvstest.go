// Package nodeipvstest is the oracle for package nodeipvs: what
// node_exporter's ipvs collector exports for a kernel's /proc/net/ip_vs and
// /proc/net/ip_vs_stats, read with github.com/prometheus/procfs as
// node_exporter reads them, and formed into the same families (names,
// help, types and labels written out here from node_exporter's collector,
// not taken from package nodeipvs, so that each checks the other).
package nodeipvstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/procfs"
)

var labels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}

// Exposition returns node_exporter's node_ipvs_* families for the proc
// directory procDir (holding net/ip_vs and net/ip_vs_stats), in Prometheus's
// text format.
func Exposition(procDir string) (string, error) {
	fs, err := procfs.NewFS(procDir)
	if err != nil {
		return "", err
	}
	b, err := testutil.CollectAndFormat(collector{fs}, expfmt.TypeTextPlain, "node_ipvs_connections_total",
		"node_ipvs_incoming_packets_total", "node_ipvs_outgoing_packets_total", "node_ipvs_incoming_bytes_total",
		"node_ipvs_outgoing_bytes_total", "node_ipvs_backend_connections_active",
		"node_ipvs_backend_connections_inactive", "node_ipvs_backend_weight")
	return string(b), err
}

// WriteProc writes a proc directory holding the two files' contents.
func WriteProc(dir, ipvs, ipvsStats string) error {
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "ip_vs"), []byte(ipvs), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "net", "ip_vs_stats"), []byte(ipvsStats), 0o644)
}

// Families keeps the node_ipvs_* lines of a text exposition (HELP, TYPE
// and samples), in order.
func Families(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "node_ipvs_") || strings.HasPrefix(l, "# HELP node_ipvs_") || strings.HasPrefix(l, "# TYPE node_ipvs_") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

type collector struct{ fs procfs.FS }

var (
	connections = prometheus.NewDesc("node_ipvs_connections_total", "The total number of connections made.", nil, nil)
	inPackets   = prometheus.NewDesc("node_ipvs_incoming_packets_total", "The total number of incoming packets.", nil, nil)
	outPackets  = prometheus.NewDesc("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", nil, nil)
	inBytes     = prometheus.NewDesc("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", nil, nil)
	outBytes    = prometheus.NewDesc("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", nil, nil)
	active      = prometheus.NewDesc("node_ipvs_backend_connections_active", "The current active connections by local and remote address.", labels, nil)
	inactive    = prometheus.NewDesc("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address.", labels, nil)
	weight      = prometheus.NewDesc("node_ipvs_backend_weight", "The current backend weight by local and remote address.", labels, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connections, inPackets, outPackets, inBytes, outBytes, active, inactive, weight} {
		ch <- d
	}
}

// Collect is node_exporter's ipvsCollector.Update with every backend label.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.fs.IPVSStats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(connections, fmt.Errorf("could not get IPVS stats: %w", err))
		return
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{connections, st.Connections}, {inPackets, st.IncomingPackets}, {outPackets, st.OutgoingPackets},
		{inBytes, st.IncomingBytes}, {outBytes, st.OutgoingBytes}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	backends, err := c.fs.IPVSBackendStatus()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(active, fmt.Errorf("could not get backend status: %w", err))
		return
	}
	type sum struct{ active, inactive, weight uint64 }
	sums := map[string]sum{}
	values := map[string][]string{}
	for _, b := range backends {
		local := ""
		if b.LocalAddress.String() != "<nil>" {
			local = b.LocalAddress.String()
		}
		kv := []string{local, strconv.FormatUint(uint64(b.LocalPort), 10), b.RemoteAddress.String(),
			strconv.FormatUint(uint64(b.RemotePort), 10), b.Proto, b.LocalMark}
		key := strings.Join(kv, "-")
		s := sums[key]
		s.active += b.ActiveConn
		s.inactive += b.InactConn
		s.weight += b.Weight
		sums[key] = s
		values[key] = kv
	}
	for key, s := range sums {
		kv := values[key]
		ch <- prometheus.MustNewConstMetric(active, prometheus.GaugeValue, float64(s.active), kv...)
		ch <- prometheus.MustNewConstMetric(inactive, prometheus.GaugeValue, float64(s.inactive), kv...)
		ch <- prometheus.MustNewConstMetric(weight, prometheus.GaugeValue, float64(s.weight), kv...)
	}
}

package nodeipvs

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ulvs/ulvs/internal/ctl"
)

// BackendLabels are node_exporter's backend labels, in its order.
var BackendLabels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}

var (
	descConnections = prometheus.NewDesc("node_ipvs_connections_total", "The total number of connections made.", nil, nil)
	descInPackets   = prometheus.NewDesc("node_ipvs_incoming_packets_total", "The total number of incoming packets.", nil, nil)
	descOutPackets  = prometheus.NewDesc("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", nil, nil)
	descInBytes     = prometheus.NewDesc("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", nil, nil)
	descOutBytes    = prometheus.NewDesc("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", nil, nil)
	descActive      = prometheus.NewDesc("node_ipvs_backend_connections_active",
		"The current active connections by local and remote address.", BackendLabels, nil)
	descInactive = prometheus.NewDesc("node_ipvs_backend_connections_inactive",
		"The current inactive connections by local and remote address.", BackendLabels, nil)
	descWeight = prometheus.NewDesc("node_ipvs_backend_weight",
		"The current backend weight by local and remote address.", BackendLabels, nil)
)

// Collector is a prometheus.Collector of the node_ipvs_* families, read
// from a table at scrape time.
type Collector struct {
	view func() *ctl.IPVS

	mu      sync.Mutex
	last    map[serviceKey]ctl.Stats
	carried ctl.Stats
}

// New returns a Collector reading the table view returns at each scrape; a
// nil table (no forwarding) exports nothing.
func New(view func() *ctl.IPVS) *Collector {
	return &Collector{view: view, last: map[serviceKey]ctl.Stats{}}
}

var _ prometheus.Collector = (*Collector)(nil)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descInPackets, descOutPackets, descInBytes, descOutBytes,
		descActive, descInactive, descWeight} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	t := c.view()
	if t == nil {
		return
	}
	tot := c.totals(t)
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descConnections, tot.Conns)
	counter(descInPackets, tot.InPkts)
	counter(descOutPackets, tot.OutPkts)
	counter(descInBytes, tot.InBytes)
	counter(descOutBytes, tot.OutBytes)
	for _, b := range Backends(t) {
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(b.Active), b.Labels[:]...)
		ch <- prometheus.MustNewConstMetric(descInactive, prometheus.GaugeValue, float64(b.Inactive), b.Labels[:]...)
		ch <- prometheus.MustNewConstMetric(descWeight, prometheus.GaugeValue, float64(b.Weight), b.Labels[:]...)
	}
}

// Backend is one node_ipvs backend: the label values (in BackendLabels'
// order) and the sums over the real servers that share them.
type Backend struct {
	Labels                   [6]string
	Active, Inactive, Weight uint64
}

// Backends lists the table's real servers as node_exporter does from
// /proc/net/ip_vs: labelled by service and real server, real servers with
// equal labels summed, in the table's order.
func Backends(t *ctl.IPVS) []Backend {
	var out []Backend
	index := map[[6]string]int{}
	for i := range t.Services {
		s := &t.Services[i]
		var local, port, proto, mark string
		switch {
		case s.FWMark != 0:
			local, port, proto, mark = "", "0", "FWM", fmt.Sprintf("%08X", s.FWMark)
		case s.Proto == "TCP" || s.Proto == "UDP":
			local, port, proto = s.Addr.String(), strconv.Itoa(int(s.Port)), s.Proto
		default:
			continue // SCTP: procfs does not read it
		}
		for _, d := range s.Dests {
			l := [6]string{local, port, d.Addr.String(), strconv.Itoa(int(d.Port)), proto, mark}
			j, ok := index[l]
			if !ok {
				j = len(out)
				index[l] = j
				out = append(out, Backend{Labels: l})
			}
			out[j].Active += uint64(d.Active)
			out[j].Inactive += uint64(d.Inactive)
			out[j].Weight += uint64(max(d.Weight, 0))
		}
	}
	return out
}

type serviceKey struct {
	proto  string
	addr   string
	port   uint16
	fwmark uint32
	ipv6   bool
}

func keyOf(s *ctl.Service) serviceKey {
	return serviceKey{proto: s.Proto, addr: s.Addr.String(), port: s.Port, fwmark: s.FWMark, ipv6: s.IPv6}
}

// totals are the kernel's /proc/net/ip_vs_stats for this table: the sum
// of the services' counters, plus what services no longer there, or since
// zeroed, had counted when last seen.
func (c *Collector) totals(t *ctl.IPVS) ctl.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := make(map[serviceKey]ctl.Stats, len(t.Services))
	var sum ctl.Stats
	for i := range t.Services {
		k, st := keyOf(&t.Services[i]), t.Services[i].Stats
		if prev, ok := c.last[k]; ok && decreased(st, prev) {
			c.carried = add(c.carried, prev)
		}
		cur[k] = st
		sum = add(sum, st)
	}
	for k, prev := range c.last {
		if _, ok := cur[k]; !ok {
			c.carried = add(c.carried, prev)
		}
	}
	c.last = cur
	return add(c.carried, sum)
}

func decreased(a, b ctl.Stats) bool {
	return a.Conns < b.Conns || a.InPkts < b.InPkts || a.OutPkts < b.OutPkts || a.InBytes < b.InBytes || a.OutBytes < b.OutBytes
}

func add(a, b ctl.Stats) ctl.Stats {
	return ctl.Stats{Conns: a.Conns + b.Conns, InPkts: a.InPkts + b.InPkts, OutPkts: a.OutPkts + b.OutPkts,
		InBytes: a.InBytes + b.InBytes, OutBytes: a.OutBytes + b.OutBytes}
}

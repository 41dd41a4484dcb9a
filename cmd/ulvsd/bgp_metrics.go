package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// BGP metrics, read from the view ulvsadm bgp shows at scrape time.
var (
	mBGPNeighborUp = prometheus.NewDesc("ulvs_bgp_neighbor_up", "1 while the BGP session is established.",
		[]string{"neighbor", "state"}, nil)
	mBGPNeighborFlaps = prometheus.NewDesc("ulvs_bgp_neighbor_flaps_total", "Times the session left established.",
		[]string{"neighbor"}, nil)
	mBGPBFDUp = prometheus.NewDesc("ulvs_bgp_bfd_up", "1 while the neighbour's BFD session is up (neighbours with BFD only).",
		[]string{"neighbor", "state"}, nil)
	mBGPBFDFailures = prometheus.NewDesc("ulvs_bgp_bfd_failures_total", "Times BFD left up.",
		[]string{"neighbor"}, nil)
	mBGPPrefix = prometheus.NewDesc("ulvs_bgp_prefix_announced", "1 while the prefix is announced, 0 while withdrawn.",
		[]string{"prefix", "directors"}, nil)
	mBGPPrefixChanges = prometheus.NewDesc("ulvs_bgp_prefix_changes_total", "Announcements and withdrawals of the prefix.",
		[]string{"prefix", "change"}, nil)
)

// bgpCollector exposes ulvsd's BGP speaker.
type bgpCollector struct{ d *daemon }

func (bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []*prometheus.Desc{mBGPNeighborUp, mBGPNeighborFlaps, mBGPBFDUp, mBGPBFDFailures, mBGPPrefix, mBGPPrefixChanges} {
		ch <- m
	}
}

func (c bgpCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.d.bgpView()
	if v == nil {
		return
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	for _, n := range v.Neighbors {
		ch <- prometheus.MustNewConstMetric(mBGPNeighborUp, prometheus.GaugeValue, b(n.State == "established"), n.Addr, n.State)
		ch <- prometheus.MustNewConstMetric(mBGPNeighborFlaps, prometheus.CounterValue, float64(n.Flaps), n.Addr)
		if n.BFD != "off" {
			ch <- prometheus.MustNewConstMetric(mBGPBFDUp, prometheus.GaugeValue, b(n.BFD == "up"), n.Addr, n.BFD)
			ch <- prometheus.MustNewConstMetric(mBGPBFDFailures, prometheus.CounterValue, float64(n.BFDFailures), n.Addr)
		}
	}
	for _, p := range v.Prefixes {
		ch <- prometheus.MustNewConstMetric(mBGPPrefix, prometheus.GaugeValue, b(p.Announced), p.Prefix, p.Directors)
		ch <- prometheus.MustNewConstMetric(mBGPPrefixChanges, prometheus.CounterValue, float64(p.Announces), p.Prefix, "announce")
		ch <- prometheus.MustNewConstMetric(mBGPPrefixChanges, prometheus.CounterValue, float64(p.Withdraws), p.Prefix, "withdraw")
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/netcap"
	"github.com/ulvs/ulvs/internal/nodeipvs"
)

// Metrics are read from the same views ulvsadm shows, at scrape time, so
// they cannot disagree with it. Names follow the keepalived exporters'
// (keepalived_vrrp_state, keepalived_advertisements_sent_total, ...), with
// the ulvs_ prefix.

var (
	mVRRPState = prometheus.NewDesc("ulvs_vrrp_state",
		"VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP (keepalived's numbering).",
		[]string{"iname", "intf", "vrid"}, nil)
	mVRRPPriority = prometheus.NewDesc("ulvs_vrrp_priority", "Configured priority.",
		[]string{"iname", "intf", "vrid"}, nil)
	mVRRPEffPriority = prometheus.NewDesc("ulvs_vrrp_effective_priority", "Priority after tracking weights.",
		[]string{"iname", "intf", "vrid"}, nil)
	mVRRPCounters   = map[string]*prometheus.Desc{}
	vrrpCounterHelp = []struct{ name, help string }{
		{"advertisements_received_total", "Adverts received."},
		{"advertisements_sent_total", "Adverts sent."},
		{"become_master_total", "Transitions to MASTER."},
		{"release_master_total", "Transitions out of MASTER."},
		{"packet_length_errors_total", "Adverts with a bad length."},
		{"advertisements_interval_errors_total", "Adverts with another advert interval."},
		{"ip_ttl_errors_total", "Adverts with a TTL or hop limit other than 255."},
		{"invalid_type_received_total", "Packets that are not adverts."},
		{"address_list_errors_total", "Adverts with another address list."},
		{"authentication_invalid_total", "Adverts with an unknown authentication type."},
		{"authentication_mismatch_total", "Adverts with another authentication type."},
		{"authentication_failure_total", "Adverts failing authentication."},
		{"priority_zero_received_total", "Priority 0 adverts received."},
		{"priority_zero_sent_total", "Priority 0 adverts sent."},
		{"checksum_errors_total", "Adverts with a bad checksum."},
		{"version_errors_total", "Adverts of another VRRP version."},
	}
	mCheckerUp = prometheus.NewDesc("ulvs_checker_up", "1 if the checker's last verdict is up.",
		[]string{"service", "real_server", "type", "target"}, nil)
	mCheckerLatency = prometheus.NewDesc("ulvs_checker_latency_seconds", "Duration of the checker's last attempt.",
		[]string{"service", "real_server", "type", "target"}, nil)
	mCheckerFailures = prometheus.NewDesc("ulvs_checker_consecutive_failures", "Failed attempts since the last success.",
		[]string{"service", "real_server", "type", "target"}, nil)
	mRealUp = prometheus.NewDesc("ulvs_real_server_up", "1 while every checker of the real server is up (health's view; labelled as ulvs_checker_up).",
		[]string{"service", "real_server"}, nil)
	mQuorumUp = prometheus.NewDesc("ulvs_service_quorum_up",
		"1 while the alive real servers' weight meets the virtual server's quorum (labelled as ulvs_checker_up).",
		[]string{"service"}, nil)
	mSvcConns = prometheus.NewDesc("ulvs_service_connections_total", "Connections scheduled to the virtual service.",
		[]string{"service"}, nil)
	mSvcPackets = prometheus.NewDesc("ulvs_service_packets_total", "Packets of the virtual service, by direction.",
		[]string{"service", "direction"}, nil)
	mSvcBytes = prometheus.NewDesc("ulvs_service_bytes_total", "Bytes of the virtual service, by direction.",
		[]string{"service", "direction"}, nil)
	mSvcEnabled = prometheus.NewDesc("ulvs_service_enabled", "1 while this director forwards the service (VRRP master).",
		[]string{"service"}, nil)
	mRSConns = prometheus.NewDesc("ulvs_real_server_connections_total", "Connections scheduled to the real server.",
		[]string{"service", "real_server"}, nil)
	mRSActive = prometheus.NewDesc("ulvs_real_server_active_connections", "Active connections (IPVS's ActiveConn).",
		[]string{"service", "real_server"}, nil)
	mRSInactive = prometheus.NewDesc("ulvs_real_server_inactive_connections", "Inactive connections (IPVS's InActConn).",
		[]string{"service", "real_server"}, nil)
	mRSWeight = prometheus.NewDesc("ulvs_real_server_weight", "Current scheduling weight (0: quiesced).",
		[]string{"service", "real_server"}, nil)
	mRSPackets = prometheus.NewDesc("ulvs_real_server_packets_total", "Packets of the real server, by direction.",
		[]string{"service", "real_server", "direction"}, nil)
	mRSBytes = prometheus.NewDesc("ulvs_real_server_bytes_total", "Bytes of the real server, by direction.",
		[]string{"service", "real_server", "direction"}, nil)
	mConnEntries = prometheus.NewDesc("ulvs_connection_table_entries", "Entries in the userspace tables.",
		[]string{"table"}, nil)
	mConnCapacity = prometheus.NewDesc("ulvs_connection_table_capacity", "Size of the userspace tables.",
		[]string{"table"}, nil)
	mConnEvents = prometheus.NewDesc("ulvs_connection_table_events_total",
		"Entries inserted, expired, evicted (to make room) and refused (table full), by table.",
		[]string{"table", "event"}, nil)
	mDrops = prometheus.NewDesc("ulvs_forward_dropped_packets_total", "Packets the userspace forwarder dropped, by reason.",
		[]string{"reason"}, nil)
	mIO = prometheus.NewDesc("ulvs_forward_io", "The userspace forwarder's frame I/O per interface (1): afpacket or xdp, its mode and workers.",
		[]string{"interface", "io", "mode", "workers"}, nil)
	mFast = prometheus.NewDesc("ulvs_forward_fastpath_packets_total",
		"Packets the XDP programs forwarded themselves (--xdp-fastpath; also counted in the services' and real servers' packets), and map updates that failed (their connections took the socket path).",
		[]string{"what"}, nil)
	mReloads  = prometheus.NewDesc("ulvs_reloads_total", "Configuration reloads applied.", nil, nil)
	mCanServe = prometheus.NewDesc("ulvs_can_serve",
		"0 while this director cannot serve (forwarder stopped, no socket can be opened, connection table refusing) and its VRRP instances gave up mastership.",
		nil, nil)
	mSyncRole = prometheus.NewDesc("ulvs_sync_role",
		"lvs_sync_daemon's role: 0 off, 1 master, 2 backup.", nil, nil)
	mSyncConns = prometheus.NewDesc("ulvs_sync_connections_total",
		"Connections and templates synchronised, by event: sent, dropped (no room to queue or send), received (applied), unknown (no such service or real server here).",
		[]string{"event"}, nil)
	mSyncMessages = prometheus.NewDesc("ulvs_sync_messages_total",
		"Sync datagrams sent, and received ones refused (bad, or another sync ID), by direction.", []string{"direction"}, nil)
)

func init() {
	for _, c := range vrrpCounterHelp {
		mVRRPCounters[c.name] = prometheus.NewDesc("ulvs_vrrp_"+c.name, c.help, []string{"iname", "intf", "vrid"}, nil)
	}
}

// collector turns the daemon's views into metrics at scrape time.
type collector struct{ d *daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mVRRPState, mVRRPPriority, mVRRPEffPriority, mCheckerUp, mCheckerLatency,
		mCheckerFailures, mRealUp, mQuorumUp, mSvcConns, mSvcPackets, mSvcBytes, mSvcEnabled, mRSConns, mRSActive, mRSInactive, mRSWeight,
		mRSPackets, mRSBytes, mConnEntries, mConnCapacity, mConnEvents, mDrops, mIO, mFast, mReloads, mCanServe, mSyncRole, mSyncConns, mSyncMessages} {
		ch <- d
	}
	for _, d := range mVRRPCounters {
		ch <- d
	}
}

var stateNumbers = map[string]float64{"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 4}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, in := range c.d.vrrpView() {
		l := []string{in.Name, in.Interface, strconv.Itoa(in.VRID)}
		gauge(mVRRPState, stateNumbers[in.State], l...)
		gauge(mVRRPPriority, float64(in.Priority), l...)
		gauge(mVRRPEffPriority, float64(in.EffectivePriority), l...)
		s := in.Stats
		for name, v := range map[string]uint64{
			"advertisements_received_total": s.AdvertRcvd, "advertisements_sent_total": s.AdvertSent,
			"become_master_total": s.BecomeMaster, "release_master_total": s.ReleaseMaster,
			"packet_length_errors_total": s.PacketLenErr, "advertisements_interval_errors_total": s.AdvertIntervalErr,
			"ip_ttl_errors_total": s.IPTTLErr, "invalid_type_received_total": s.InvalidTypeRcvd,
			"address_list_errors_total": s.AddrListErr, "authentication_invalid_total": s.InvalidAuthType,
			"authentication_mismatch_total": s.AuthTypeMismatch, "authentication_failure_total": s.AuthFailure,
			"priority_zero_received_total": s.PriZeroRcvd, "priority_zero_sent_total": s.PriZeroSent,
			"checksum_errors_total": s.ChecksumErr, "version_errors_total": s.VersionErr,
		} {
			counter(mVRRPCounters[name], v, l...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cs, err := c.d.checkerView(ctx); err == nil {
		for _, ck := range cs {
			l := []string{ck.Service, ck.Real, ck.Type, ck.Target}
			up := 0.0
			if ck.Up {
				up = 1
			}
			gauge(mCheckerUp, up, l...)
			gauge(mCheckerLatency, ck.LatencyMS/1000, l...)
			gauge(mCheckerFailures, float64(ck.Failures), l...)
		}
	}
	if c.d.hr != nil {
		if st, err := c.d.hr.Status(ctx); err == nil {
			b := map[bool]float64{true: 1}
			for _, s := range st {
				gauge(mQuorumUp, b[s.QuorumUp], s.Service)
				for _, r := range s.Reals {
					gauge(mRealUp, b[r.Alive], s.Service, health.RSKey(r.Addr))
				}
			}
		}
	}
	if c.d.lvs != nil {
		t := c.d.lvs.View(c.d.o.backend)
		for _, s := range t.Services {
			name := serviceLabel(&s)
			counter(mSvcConns, s.Stats.Conns, name)
			counter(mSvcPackets, s.Stats.InPkts, name, "in")
			counter(mSvcPackets, s.Stats.OutPkts, name, "out")
			counter(mSvcBytes, s.Stats.InBytes, name, "in")
			counter(mSvcBytes, s.Stats.OutBytes, name, "out")
			en := 0.0
			if s.Enabled {
				en = 1
			}
			gauge(mSvcEnabled, en, name)
			for _, r := range s.Dests {
				rs := net.JoinHostPort(r.Addr.String(), strconv.Itoa(int(r.Port)))
				counter(mRSConns, r.Stats.Conns, name, rs)
				gauge(mRSActive, float64(r.Active), name, rs)
				gauge(mRSInactive, float64(r.Inactive), name, rs)
				gauge(mRSWeight, float64(r.Weight), name, rs)
				counter(mRSPackets, r.Stats.InPkts, name, rs, "in")
				counter(mRSPackets, r.Stats.OutPkts, name, rs, "out")
				counter(mRSBytes, r.Stats.InBytes, name, rs, "in")
				counter(mRSBytes, r.Stats.OutBytes, name, rs, "out")
			}
		}
	}
	if tc, ok := c.d.be.(forward.TableCounter); ok {
		tabs := tc.Tables()
		for _, x := range []struct {
			name string
			st   forward.TableStats
		}{{"connections", tabs.Conns}, {"templates", tabs.Templates}} {
			gauge(mConnEntries, float64(x.st.Entries), x.name)
			gauge(mConnCapacity, float64(x.st.Capacity), x.name)
			counter(mConnEvents, x.st.Inserted, x.name, "inserted")
			counter(mConnEvents, x.st.Expired, x.name, "expired")
			counter(mConnEvents, x.st.Evicted, x.name, "evicted")
			counter(mConnEvents, x.st.Refused, x.name, "refused")
		}
	}
	if dc, ok := c.d.be.(forward.DropCounter); ok {
		dc.Drops().Each(func(reason string, n uint64) { counter(mDrops, n, reason) })
	}
	if r, ok := c.d.be.(forward.IOReporter); ok {
		for _, x := range r.IO() {
			gauge(mIO, 1, x.Interface, x.IO, x.Mode, strconv.Itoa(x.Workers))
		}
		if f := r.FastPath(); f.On {
			counter(mFast, f.Packets, "forwarded")
			counter(mFast, f.Failed, "map_update_failed")
		}
	}
	c.d.mu.Lock()
	reloads := c.d.reloads
	c.d.mu.Unlock()
	counter(mReloads, uint64(reloads))
	if c.d.canServe != nil {
		ok, _ := c.d.canServe.Status()
		gauge(mCanServe, map[bool]float64{true: 1}[ok])
	}
	if ls := c.d.sync.Load(); ls != nil {
		st := ls.Stats()
		gauge(mSyncRole, map[string]float64{"master": 1, "backup": 2}[st.Role])
		if !st.Kernel {
			counter(mSyncConns, st.Sent, "sent")
			counter(mSyncConns, st.Dropped, "dropped")
			counter(mSyncConns, st.Received, "received")
			counter(mSyncConns, st.Unknown, "unknown")
			counter(mSyncMessages, st.Messages, "sent")
			counter(mSyncMessages, st.BadMessages, "refused")
		}
	}
}

// serviceLabel names a service as ipvsadm does: "TCP 198.18.0.100:80" or
// "FWM 7".
func serviceLabel(s *ctl.Service) string {
	if s.FWMark != 0 {
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return s.Proto + " " + net.JoinHostPort(s.Addr.String(), strconv.Itoa(int(s.Port)))
}

// serveMetrics serves /metrics on addr. The address must be given: metrics
// are opt-in, and an address without a host means loopback. Any local user
// may connect, so the listener holds at most maxConns connections (the one
// idle longest makes room for a new one), every connection has its
// timeouts, and at most 4 scrapes run at once.
func serveMetrics(addr string, d *daemon, maxConns int, log *zap.Logger) (func(), error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{d}, bgpCollector{d}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.o.nodeIPVS {
		reg.MustRegister(nodeipvs.New(func() *ctl.IPVS {
			if d.lvs == nil {
				return nil
			}
			return d.lvs.View(d.o.backend)
		}))
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 10 * time.Second}))
	raw, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ln := netcap.Limit(raw, maxConns)
	srv := &http.Server{Handler: mux, ConnState: ln.ConnState, MaxHeaderBytes: 16 << 10,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second,
		IdleTimeout: 30 * time.Second, ErrorLog: zap.NewStdLog(log.Named("metrics"))}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
	log.Info("metrics", zap.String("address", raw.Addr().String()), zap.Int("max_connections", maxConns))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

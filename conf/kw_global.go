package conf

import (
	"net/netip"
	"strings"
	"time"
)

func globalLevel() *level {
	g := func(b *builder) *GlobalDefs { return &b.cfg.Global }
	garp := func(b *builder) *Garp { return &b.cfg.Global.Garp }
	lv := newLevel("global_defs")
	lv.add(
		kwStr("router_id", func(b *builder) *string { return &g(b).RouterID }),
		kwVals("notification_email", func(b *builder, n *Node) {
			if len(n.Kids) == 0 {
				// "Warning - empty notification_email block".
				b.d.kaf(n.Pos, ClassGeneral, "notification_email: empty block")
			}
			for _, l := range n.Kids {
				g(b).NotificationEmail = append(g(b).NotificationEmail, l.Args...)
			}
		}),
		kwStr("notification_email_from", func(b *builder) *string { return &g(b).NotificationEmailFrom }),
		kw("smtp_server", func(b *builder, n *Node) {
			if !b.need(n, 1) {
				return
			}
			b.only(n, 2)
			g(b).SMTPServer = n.Args[0]
			if len(n.Args) > 1 {
				if p, ok := b.portAt(n, 1); ok {
					g(b).SMTPPort = p
				}
			}
		}),
		// smtp_connect_timeout_handler reads whole seconds.
		kw("smtp_connect_timeout", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 1<<31-1); ok {
				g(b).SMTPConnectTimeout = time.Duration(v) * time.Second
			}
		}),
		kwStr("smtp_helo_name", func(b *builder) *string { return &g(b).SMTPHeloName }),
		kw("smtp_alert", func(b *builder, n *Node) { g(b).SMTPAlert = boolPtr(b.optBool(n)) }),
		kw("smtp_alert_vrrp", func(b *builder, n *Node) { g(b).SMTPAlertVRRP = boolPtr(b.optBool(n)) }),
		kw("smtp_alert_checker", func(b *builder, n *Node) { g(b).SMTPAlertChecker = boolPtr(b.optBool(n)) }),
		kw("checker_log_all_failures", func(b *builder, n *Node) { g(b).CheckerLogAllFailures = b.optBool(n) }),
		kw("no_email_faults", func(b *builder, n *Node) { g(b).NoEmailFaults = true }),
		ignored("no_checker_emails", "checker e-mails follow smtp_alert_checker"),
		kw("vrrp_mcast_group4", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				if !a.Is4() || !a.IsMulticast() {
					b.d.kaf(n.Pos, ClassGeneral, "vrrp_mcast_group4: %s is not an IPv4 multicast address", a)
					return
				}
				g(b).McastGroup4 = a
			}
		}),
		kw("vrrp_mcast_group6", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				if !a.Is6() || !a.IsMulticast() {
					b.d.kaf(n.Pos, ClassGeneral, "vrrp_mcast_group6: %s is not an IPv6 multicast address", a)
					return
				}
				g(b).McastGroup6 = a
			}
		}),
		kw("vrrp_version", func(b *builder, n *Node) {
			if v, ok := b.int(n, 2, 3); ok {
				g(b).VRRPVersion = v
			}
		}),
		kw("vrrp_garp_master_delay", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 255); ok {
				garp(b).MasterDelay = time.Duration(v) * time.Second
				b.mark(&b.cfg.Global, "garp")
			}
		}),
		kw("vrrp_garp_master_repeat", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 255); ok {
				garp(b).MasterRepeat = v
				b.mark(&b.cfg.Global, "garp")
			}
		}),
		kw("vrrp_garp_master_refresh", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<20); ok {
				garp(b).MasterRefresh = time.Duration(v) * time.Second
				b.mark(&b.cfg.Global, "garp")
			}
		}),
		kw("vrrp_garp_master_refresh_repeat", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 255); ok {
				garp(b).MasterRefreshRepeat = v
				b.mark(&b.cfg.Global, "garp")
			}
		}),
		kw("vrrp_garp_lower_prio_delay", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 255); ok {
				garp(b).LowerPrioDelay = time.Duration(v) * time.Second
				b.mark(&b.cfg.Global, "garp_lower_delay")
			}
		}),
		kw("vrrp_garp_lower_prio_repeat", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 255); ok {
				garp(b).LowerPrioRepeat = v
				b.mark(&b.cfg.Global, "garp_lower_repeat")
			}
		}),
		// keepalived's shipped default config has "vrrp_garp_interval 0",
		// which keepalived 2.2.7 reports ("number '0' outside range
		// [0.000001, 4294.967295]") and leaves unset; ulvs reports it too and
		// reads 0 as off, which is what unset means.
		kw("vrrp_garp_interval", func(b *builder, n *Node) { garpInterval(b, n, &g(b).GarpInterval) }),
		kw("vrrp_gna_interval", func(b *builder, n *Node) { garpInterval(b, n, &g(b).GnaInterval) }),
		kw("vrrp_min_garp", func(b *builder, n *Node) { g(b).MinGarp = b.optBool(n) }),
		unsupported("vrrp_garp_extra_if", "no gratuitous ARPs are sent on other interfaces"),
		kaSays(alias(unsupported("vrrp_vmac_garp_intvl", "no gratuitous ARPs are sent on other interfaces"), "vrrp_garp_extra_if"),
			ClassDeprecated, `keyword "vrrp_vmac_garp_intvl" is deprecated - please use "vrrp_garp_extra_if"`),
		kw("vrrp_strict", func(b *builder, n *Node) { g(b).Strict = true }),
		kw("vrrp_skip_check_adv_addr", func(b *builder, n *Node) {
			// keepalived 2.2.7 reads no value here.
			ignoredWord(b, n)
			g(b).SkipCheckAdvAddr = true
		}),
		kw("vrrp_check_unicast_src", func(b *builder, n *Node) { g(b).CheckUnicastSrc = true }),
		kw("vrrp_lower_prio_no_advert", func(b *builder, n *Node) { g(b).LowerPrioNoAdvert = b.optBool(n) }),
		kw("vrrp_higher_prio_send_advert", func(b *builder, n *Node) { g(b).HigherPrioSendAdvert = b.optBool(n) }),
		kw("v3_checksum_as_v2", func(b *builder, n *Node) { g(b).V3ChecksumAsV2 = b.optBool(n) }),
		kw("vrrp_down_timer_adverts", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 100); ok {
				g(b).DownTimerAdverts = v
			}
		}),
		kw("vrrp_startup_delay", func(b *builder, n *Node) {
			// read_decimal_unsigned_strvec in [0.001, 4294.967295].
			if v, ok := b.timer(n, time.Millisecond, 4294967295*time.Microsecond); ok {
				g(b).StartupDelay = v
			}
		}),
		alias(kw("vrrp_delay_after_boot", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, time.Hour); ok {
				g(b).StartupDelay = v
			}
		}), "vrrp_startup_delay"),
		kw("vrrp_notify_priority_changes", func(b *builder, n *Node) { g(b).NotifyPriorityChange = b.optBool(n) }),
		ignored("vrrp_owner_ignore_adverts", "the priority-255 owner follows the RFC"),
		kwStr("default_interface", func(b *builder) *string { return &g(b).DefaultInterface }),
		kw("dynamic_interfaces", func(b *builder, n *Node) { g(b).DynamicInterfaces = true }),
		kw("script_user", func(b *builder, n *Node) {
			if u, grp, ok := b.userGroup(n); ok {
				g(b).ScriptUser, g(b).ScriptGroup = u, grp
			}
		}),
		kw("enable_script_security", func(b *builder, n *Node) { g(b).EnableScriptSecurity = true }),
		kw("notify_fifo", fifoHandler(func(b *builder) **Fifo { return &b.cfg.Global.NotifyFifo })),
		kw("vrrp_notify_fifo", fifoHandler(func(b *builder) **Fifo { return &b.cfg.Global.VRRPNotifyFifo })),
		kw("lvs_notify_fifo", fifoHandler(func(b *builder) **Fifo { return &b.cfg.Global.LVSNotifyFifo })),
		kwQ("notify_fifo_script", fifoScriptHandler(func(b *builder) **Fifo { return &b.cfg.Global.NotifyFifo })),
		kwQ("vrrp_notify_fifo_script", fifoScriptHandler(func(b *builder) **Fifo { return &b.cfg.Global.VRRPNotifyFifo })),
		kwQ("lvs_notify_fifo_script", fifoScriptHandler(func(b *builder) **Fifo { return &b.cfg.Global.LVSNotifyFifo })),
		ignored("fifo_write_vrrp_states_on_reload", "states are written to the FIFO on every change"),
		kw("lvs_timeouts", func(b *builder, n *Node) {
			t := &g(b).LVSTimeouts
			for i := 0; i < len(n.Args); i += 2 {
				if i+1 >= len(n.Args) {
					b.d.kaf(n.Pos, ClassGeneral, "lvs_timeouts: '%s' needs a value", n.Args[i])
					return
				}
				v, ok := b.intAt(n, i+1, 1, 86400*31)
				if !ok {
					return
				}
				d := time.Duration(v) * time.Second
				switch n.Args[i] {
				case "tcp":
					t.TCP = d
				case "tcpfin":
					t.TCPFin = d
				case "udp":
					t.UDP = d
				default:
					b.d.kaf(n.Pos, ClassGeneral, "lvs_timeouts: unknown protocol '%s' (tcp, tcpfin or udp)", n.Args[i])
					return
				}
			}
		}),
		kw("lvs_sync_daemon", func(b *builder, n *Node) {
			if !b.need(n, 1) {
				return
			}
			sd := newLVSSyncDaemon(n.Pos, n.Args[0])
			rest := n.Args[1:]
			if len(rest) > 0 && !isSyncOpt(rest[0]) {
				sd.Instance = rest[0]
				rest = rest[1:]
			}
			for i := 0; i < len(rest); i++ {
				if i+1 >= len(rest) {
					b.d.kaf(n.Pos, ClassGeneral, "lvs_sync_daemon: '%s' needs a value", rest[i])
					return
				}
				switch rest[i] {
				case "id":
					sd.SyncID, _ = atoiRange(rest[i+1], 0, 255)
				case "maxlen":
					sd.MaxLen, _ = atoiRange(rest[i+1], 1, 65535)
				case "port":
					sd.Port, _ = atoiRange(rest[i+1], 1, 65535)
				case "ttl":
					sd.TTL, _ = atoiRange(rest[i+1], 1, 255)
				case "group":
					a, err := netip.ParseAddr(rest[i+1])
					if err != nil {
						b.d.kaf(n.Pos, ClassGeneral, "lvs_sync_daemon: invalid group '%s'", rest[i+1])
						return
					}
					sd.Group = a
				default:
					b.d.kaf(n.Pos, ClassGeneral, "lvs_sync_daemon: unknown option '%s'", rest[i])
					return
				}
				i++
			}
			g(b).LVSSyncDaemon = sd
		}),
		kw("lvs_flush", func(b *builder, n *Node) { g(b).LVSFlush = true }),
		kw("lvs_flush_on_stop", func(b *builder, n *Node) {
			g(b).LVSFlushOnStop = "ALL"
			if len(n.Args) > 0 {
				g(b).LVSFlushOnStop = n.Args[0]
			}
		}),
		alias(kw("lvs_flush_onstop", func(b *builder, n *Node) { g(b).LVSFlushOnStop = "ALL" }), "lvs_flush_on_stop"),
		kwStr("state_dump_file", func(b *builder) *string { return &g(b).StateDumpFile }),
		kwStr("stats_dump_file", func(b *builder) *string { return &g(b).StatsDumpFile }),
		kwStr("json_dump_file", func(b *builder) *string { return &g(b).JSONDumpFile }),
		kw("include_check", func(b *builder, n *Node) {
			checks := "rmwb"
			if len(n.Args) > 0 {
				checks = ""
				for _, a := range n.Args {
					for _, c := range strings.TrimLeft(a, "+") {
						if strings.ContainsRune("rmwb", c) {
							checks += string(c)
						}
					}
				}
			}
			g(b).IncludeCheck = checks
		}),
	)
	// Keywords that tune keepalived's own processes, kernel buffers or
	// optional integrations ulvs does not have.
	for _, k := range []struct{ name, note string }{
		{"max_auto_priority", "ulvsd runs at normal priority"},
		{"min_auto_priority_delay", "ulvsd runs at normal priority"},
		{"vrrp_priority", "process priorities are left to systemd"},
		{"checker_priority", "process priorities are left to systemd"},
		{"bfd_priority", "process priorities are left to systemd"},
		{"vrrp_no_swap", "memory locking is left to systemd"},
		{"checker_no_swap", "memory locking is left to systemd"},
		{"bfd_no_swap", "memory locking is left to systemd"},
		{"vrrp_rt_priority", "process priorities are left to systemd"},
		{"checker_rt_priority", "process priorities are left to systemd"},
		{"bfd_rt_priority", "process priorities are left to systemd"},
		{"vrrp_cpu_affinity", "CPU affinity is left to systemd"},
		{"checker_cpu_affinity", "CPU affinity is left to systemd"},
		{"bfd_cpu_affinity", "CPU affinity is left to systemd"},
		{"vrrp_rlimit_rttime", "process limits are left to systemd"},
		{"checker_rlimit_rttime", "process limits are left to systemd"},
		{"bfd_rlimit_rttime", "process limits are left to systemd"},
		{"vrrp_rlimit_rtime", "process limits are left to systemd"},
		{"checker_rlimit_rtime", "process limits are left to systemd"},
		{"bfd_rlimit_rtime", "process limits are left to systemd"},
		{"process_names", "ulvsd is one process"},
		{"process_name", "ulvsd is one process"},
		{"vrrp_process_name", "ulvsd is one process"},
		{"checker_process_name", "ulvsd is one process"},
		{"lvs_process_name", "ulvsd is one process"},
		{"bfd_process_name", "ulvsd is one process"},
		{"use_symlink_paths", "paths are used as given"},
		{"set_supplementary_groups", "scripts run with the run-as user's primary group"},
		{"umask", "ulvsd keeps the umask it is started with"},
		{"random_seed", "ulvs seeds its own generators"},
		{"tmp_config_directory", "ulvsd is one process and needs no temporary config copies"},
		{"config_save_dir", "ulvsd does not save configurations"},
		{"reload_check_config", "ulvsd always checks a configuration before applying it"},
		{"reload_time_file", "timed reloads are not implemented"},
		{"reload_repeat", "timed reloads are not implemented"},
		{"reload_file", "timed reloads are not implemented"},
		{"data_use_instance", "dump file names are used as given"},
		{"json_version", "ulvsd writes one JSON format"},
		{"iproute_usr_dir", "ulvs uses numeric route tables or the names iproute2 knows"},
		{"iproute_etc_dir", "ulvs uses numeric route tables or the names iproute2 knows"},
		{"vrrp_netlink_cmd_rcv_bufs", "kernel buffer sizing"},
		{"vrrp_netlink_cmd_rcv_bufs_force", "kernel buffer sizing"},
		{"vrrp_netlink_monitor_rcv_bufs", "kernel buffer sizing"},
		{"vrrp_netlink_monitor_rcv_bufs_force", "kernel buffer sizing"},
		{"lvs_netlink_cmd_rcv_bufs", "kernel buffer sizing"},
		{"lvs_netlink_cmd_rcv_bufs_force", "kernel buffer sizing"},
		{"lvs_netlink_monitor_rcv_bufs", "kernel buffer sizing"},
		{"lvs_netlink_monitor_rcv_bufs_force", "kernel buffer sizing"},
		{"process_monitor_rcv_bufs", "kernel buffer sizing"},
		{"process_monitor_rcv_bufs_force", "kernel buffer sizing"},
		{"vrrp_rx_bufs_policy", "kernel buffer sizing"},
		{"vrrp_rx_bufs_multiplier", "kernel buffer sizing"},
		{"log_unknown_vrids", "adverts for unknown VRIDs are counted and logged at debug level"},
		{"vmac_prefix", "VMAC interfaces are named vrrp.VRID unless named in use_vmac"},
		{"vmac_addr_prefix", "VMAC interfaces are named vrrp.VRID unless named in use_vmac"},
		{"snmp_vs_stats_update_interval", "SNMP is not supported"},
		{"snmp_rs_stats_update_interval", "SNMP is not supported"},
		{"dbus_service_name", "D-Bus is not supported"},
		{"dbus_no_interface_name", "D-Bus is not supported"},
		{"nftables_ifindex", "ulvs installs its own kernel guard rules"},
		{"nftables_ipvs_priority", "ulvs installs its own kernel guard rules"},
		{"nftables_ipvs_start_fwmark", "ulvs installs its own kernel guard rules"},
		{"nftables_ipvs", "ulvs installs its own kernel guard rules"},
		{"disable_local_igmp", "IGMP is left to the kernel"},
		{"linkbeat_use_polling", "interfaces are tracked through netlink only"},
		{"child_wait_time", "ulvsd is a single process"},
		{"use_pid_dir", "ulvs uses the pid file given with -p"},
		{"instance", "keepalived's multi-instance paths; ulvs does not use them"},
		{"namespace_with_ipsets", "ulvs does not use ipsets"},
	} {
		lv.add(ignored(k.name, k.note))
	}
	for _, k := range []struct{ name, note string }{
		{"enable_snmp_vrrp", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_snmp_keepalived", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_snmp_checker", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_snmp_rfc", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_snmp_rfcv2", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_snmp_rfcv3", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_traps", "SNMP is not supported; use the Prometheus metrics"},
		{"snmp_socket", "SNMP is not supported; use the Prometheus metrics"},
		{"enable_dbus", "D-Bus is not supported; use the control socket"},
	} {
		// Management interfaces ulvs replaces: a note, not a warning.
		lv.add(ignoredWarn(k.name, k.note))
	}
	lv.add(
		kw("rs_init_notifies", func(b *builder, n *Node) { g(b).RSInitNotifies = true }),
		kwQ("startup_script", func(b *builder, n *Node) { g(b).StartupScript = b.script(n) }),
		kwQ("shutdown_script", func(b *builder, n *Node) { g(b).ShutdownScript = b.script(n) }),
		kw("startup_script_timeout", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 1000); ok {
				g(b).StartupScriptTimeout = time.Duration(v) * time.Second
			}
		}),
		kw("shutdown_script_timeout", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 1000); ok {
				g(b).ShutdownScriptTimeout = time.Duration(v) * time.Second
			}
		}),
		kw("vrrp_iptables", func(b *builder, n *Node) {
			b.only(n, 2)
			f := &Firewall{Pos: n.Pos, Kind: "iptables", Names: append([]string(nil), n.Args...)}
			g(b).Firewall = f
		}),
		kw("vrrp_ipsets", func(b *builder, n *Node) {
			f := g(b).Firewall
			if f == nil {
				f = &Firewall{Pos: n.Pos, Kind: "iptables"}
				g(b).Firewall = f
			}
			f.IPSets = append([]string{}, n.Args...)
		}),
		kw("nftables", func(b *builder, n *Node) {
			b.only(n, 1)
			f := &Firewall{Pos: n.Pos, Kind: "nftables", Names: []string{"keepalived"}}
			if len(n.Args) > 0 {
				f.Names = []string{n.Args[0]}
			}
			g(b).Firewall = f
		}),
		kw("nftables_priority", func(b *builder, n *Node) {
			if v, ok := b.int(n, -1000, 1000); ok {
				g(b).NftablesPriority = &v
			}
		}),
		kw("nftables_counters", func(b *builder, n *Node) { g(b).NftablesCounters = true }),
		kw("net_namespace", netNamespace),
		unsupported("net_namespace_ipvs", "IPVS stays in ulvsd's own namespace"),
	)
	return lv
}

func isSyncOpt(s string) bool {
	switch s {
	case "id", "maxlen", "port", "ttl", "group":
		return true
	}
	return false
}

func atoiRange(s string, lo, hi int) (int, bool) {
	v, err := parseIntWord(s)
	if err != nil || v < int64(lo) || v > int64(hi) {
		return lo, false
	}
	return int(v), true
}

// fifoHandler reads "FIFO [user [group]]".
func fifoHandler(dst func(*builder) **Fifo) func(*builder, *Node) {
	return func(b *builder, n *Node) {
		if !b.need(n, 1) {
			return
		}
		b.only(n, 3)
		f := *dst(b)
		if f == nil {
			f = &Fifo{}
			*dst(b) = f
		}
		f.Pos, f.Path = n.Pos, n.Args[0]
		if len(n.Args) > 1 {
			f.User = n.Args[1]
		}
		if len(n.Args) > 2 {
			f.Group = n.Args[2]
		}
	}
}

func fifoScriptHandler(dst func(*builder) **Fifo) func(*builder, *Node) {
	return func(b *builder, n *Node) {
		s := b.script(n)
		if s == nil {
			return
		}
		f := *dst(b)
		if f == nil {
			f = &Fifo{Pos: n.Pos}
			*dst(b) = f
		}
		f.Script = s
	}
}

// garpInterval reads vrrp_garp_interval / vrrp_gna_interval: seconds with
// microseconds, at most 1 s; 0 is reported as keepalived 2.2.7 reports it
// (out of range) and means off.
func garpInterval(b *builder, n *Node, dst *time.Duration) {
	if !b.need(n, 1) {
		return
	}
	if d, ok := parseTimer(n.Args[0]); ok && d == 0 {
		b.d.kaf(n.Pos, ClassInvalidNumber, "%s: number '%s' outside range [0.000001, 4294.967295] - read as off",
			n.Keyword, n.Args[0])
		*dst = 0
		return
	}
	if v, ok := b.timer(n, time.Microsecond, time.Second); ok {
		*dst = v
	}
}

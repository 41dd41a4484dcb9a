package conf

import (
	"fmt"
	"strings"
)

// effect is one row of the table that says, for a keyword ulvs reads, what
// shows that ulvs acts on it:
//
//   - tests names the tests that show the effect ("pkg/path.TestName",
//     space-separated); the keyword is then Supported.
//   - missing names the consequence of what ulvs does not do; the keyword
//     is then NotHonoured and using it is a warning at its line that says
//     so, or Partial when tests is also set.
//
// A keyword with a handler and no row is Untested: ulvs applies it, but no
// test named here shows it. Turning a keyword from not honoured into
// supported is a change to its one row: drop missing, name the tests.
//
// block is the registry's block name ("vrrp_instance", "url", ...); "*"
// matches the keyword in every block.
type effect struct {
	block, keyword string
	tests          string
	missing        string
}

// effects is the table. Rows are grouped by subsystem; keep each keyword
// on one row.
var effects = []effect{
	// ---- Supported: the tests named show the effect. test.* run ulvsd
	// with the keyword in its keepalived.conf; the others drive the
	// subsystem the keyword is translated into.

	// VRRP instances.
	{"(top level)", "vrrp_instance", "test.TestSeedDRPair test.TestDualMaster vrrp.TestInteropKeepalived", ""},
	{"vrrp_instance", "state", "test.TestSeedDRPair vrrp.TestEngineScenarios", ""},
	{"vrrp_instance", "interface", "test.TestSeedDRPair vrrp.TestLinkDownIsFault", ""},
	{"vrrp_instance", "virtual_router_id", "test.TestSeedDRPair vrrp.TestInteropMismatch", ""},
	{"vrrp_instance", "priority", "test.TestSeedDRPair test.TestDualMaster vrrp.TestInteropKeepalived", ""},
	{"vrrp_instance", "advert_int", "test.TestSeedDRPair vrrp.TestTimers vrrp.TestFailoverTimings", ""},
	{"vrrp_instance", "version", "vrrp.TestWireMatchesKeepalived vrrp.TestAdvertKnownBytes", ""},
	{"vrrp_instance", "virtual_ipaddress", "test.TestSeedDRPair vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "virtual_ipaddress_excluded", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "authentication", "test.TestSeedDRPair vrrp.TestInteropMismatch vrrp.TestInteropAH", ""},
	{"authentication", "auth_type", "vrrp.TestInteropAH vrrp.TestInteropMismatch", ""},
	{"authentication", "auth_pass", "test.TestSeedDRPair vrrp.TestInteropMismatch", ""},
	{"vrrp_instance", "nopreempt", "vrrp.TestInteropKeepalived vrrp.TestEngineScenarios", ""},
	{"vrrp_instance", "preempt_delay", "vrrp.TestEngineScenarios", ""},
	{"vrrp_instance", "track_interface", "vrrp.TestTrackEval vrrp.TestReloadTrackers", ""},
	{"vrrp_instance", "track_script", "vrrp.TestNginxScenario vrrp.TestTrackScriptMovesVIP", ""},
	{"vrrp_instance", "track_file", "vrrp.TestTrackEval", ""},
	{"vrrp_instance", "unicast_src_ip", "vrrp.TestInteropUnicast vrrp.TestUnicastWithMulticastDropped", ""},
	{"vrrp_instance", "unicast_peer", "vrrp.TestInteropUnicast vrrp.TestUnicastWithMulticastDropped", ""},
	{"vrrp_instance", "notify_master", "vrrp.TestNginxScenario vrrp.TestNotifyRealScripts", ""},
	{"vrrp_instance", "notify_backup", "vrrp.TestNginxScenario vrrp.TestTrackScriptMovesVIP", ""},
	{"vrrp_instance", "notify_fault", "vrrp.TestNginxScenario", ""},
	{"vrrp_instance", "notify_stop", "vrrp.TestNotifyRealScripts", ""},
	{"vrrp_instance", "notify", "vrrp.TestTrackScriptMovesVIP vrrp.TestSyncGroupNode", ""},
	{"vrrp_instance", "smtp_alert", "vrrp.TestSMTPAlert", ""},
	{"vrrp_instance", "use_vmac", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "virtual_routes", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "virtual_rules", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "garp_master_delay", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "garp_master_repeat", "vrrp.TestSystemOnLinux", ""},
	{"vrrp_instance", "garp_lower_prio_repeat", "vrrp.TestEngineScenarios", ""},
	{"vrrp_instance", "lower_prio_no_advert", "vrrp.TestEngineScenarios", ""},
	{"vrrp_instance", "down_timer_adverts", "vrrp.TestTimers", ""},

	// Sync groups, scripts, track files.
	{"(top level)", "vrrp_sync_group", "vrrp.TestSyncGroupNode vrrp.TestEngineScenarios", ""},
	{"vrrp_sync_group", "group", "vrrp.TestSyncGroupNode vrrp.TestEngineScenarios", ""},
	{"vrrp_sync_group", "track_interface", "vrrp.TestSyncGroupNode", ""},
	{"vrrp_sync_group", "notify", "vrrp.TestSyncGroupNode", ""},
	{"vrrp_sync_group", "sync_group_tracking_weight", "vrrp.TestTrackEval", ""},
	{"(top level)", "vrrp_script", "vrrp.TestNginxScenario vrrp.TestTrackScriptMovesVIP", ""},
	{"vrrp_script", "script", "vrrp.TestNginxScenario vrrp.TestSeedScriptLineKeepalivedVsULVS", ""},
	{"vrrp_script", "interval", "vrrp.TestNginxScenario vrrp.TestMasterAdvertsEveryInterval", ""},
	{"vrrp_script", "timeout", "vrrp.TestTrackScriptTimeoutKills", ""},
	{"vrrp_script", "weight", "vrrp.TestNginxScenario vrrp.TestTrackEval", ""},
	{"vrrp_script", "rise", "vrrp.TestScriptCounter vrrp.TestTrackScriptMovesVIP", ""},
	{"vrrp_script", "fall", "vrrp.TestScriptCounter vrrp.TestTrackScriptMovesVIP", ""},
	{"vrrp_script", "init_fail", "vrrp.TestScriptCounter", ""},
	{"vrrp_script", "user", "vrrp.TestNginxScenario vrrp.TestInsecureScriptDisabled", ""},
	{"(top level)", "track_file", "vrrp.TestTrackFileReadAndInit vrrp.TestTrackEval", ""},
	{"track_file", "file", "vrrp.TestTrackFileReadAndInit", ""},
	{"track_file", "weight", "vrrp.TestTrackEval", ""},
	{"track_file", "init_file", "vrrp.TestTrackFileReadAndInit", ""},

	// Global VRRP settings.
	{"global_defs", "router_id", "vrrp.TestSMTPAlert health.TestQuorumSorryServer", ""},
	{"global_defs", "vrrp_mcast_group4", "test.TestSeedDRPair vrrp.TestTrackScriptMovesVIP", ""},
	{"global_defs", "vrrp_version", "vrrp.TestResolveDefaults vrrp.TestWireMatchesKeepalived", ""},
	{"global_defs", "vrrp_min_garp", "vrrp.TestResolveDefaults", ""},
	{"global_defs", "vrrp_startup_delay", "vrrp.TestStartupDelay", ""},
	{"global_defs", "vrrp_check_unicast_src", "vrrp.TestHostilePackets", ""},
	{"global_defs", "v3_checksum_as_v2", "vrrp.TestValidAdvertsCounted", ""},
	{"global_defs", "vrrp_lower_prio_no_advert", "vrrp.TestEngineScenarios", ""},
	{"global_defs", "vrrp_garp_master_delay", "vrrp.TestSystemOnLinux", ""},
	{"global_defs", "vrrp_garp_master_repeat", "vrrp.TestSystemOnLinux", ""},
	{"global_defs", "vrrp_down_timer_adverts", "vrrp.TestTimers", ""},
	{"global_defs", "script_user", "vrrp.TestInsecureScriptDisabled internal/script.TestRunAsUser", ""},
	{"global_defs", "enable_script_security", "vrrp.TestInsecureScriptDisabled internal/script.TestSecurityRules", ""},
	{"global_defs", "notify_fifo", "vrrp.TestNotifyRealScripts internal/notify.TestFIFO", ""},
	{"global_defs", "smtp_server", "internal/notify.TestSend health.TestCheckersAgainstRealServers", ""},
	{"global_defs", "notification_email", "internal/notify.TestSend vrrp.TestSMTPAlert", ""},
	{"global_defs", "notification_email_from", "internal/notify.TestSend vrrp.TestSMTPAlert", ""},
	{"global_defs", "smtp_helo_name", "internal/notify.TestMailDefaults", ""},
	{"global_defs", "lvs_sync_daemon", "test.TestSyncFailover forward.TestSyncMaster forward.TestSyncBackup", ""},
	{"global_defs", "lvs_timeouts", "forward/ipvs.TestBackendTimeouts", ""},
	{"global_defs", "lvs_flush", "forward/ipvs.TestBackendKeepOnCloseAndFlush", ""},

	// Virtual servers.
	{"(top level)", "virtual_server", "test.TestSeedDRPair test.TestReload", ""},
	{"virtual_server", "lb_algo", "test.TestSeedDRPair test.TestReload sched.TestRR sched.TestWRR", ""},
	{"virtual_server", "lvs_sched", "sched.TestDifferential", ""},
	{"virtual_server", "lb_kind", "test.TestSeedDRPair forward.TestModesEndToEnd", ""},
	{"virtual_server", "lvs_method", "forward.TestModesEndToEnd", ""},
	{"virtual_server", "protocol", "test.TestSeedDRPair forward.TestUDPLargeDatagrams", ""},
	{"virtual_server", "persistence_timeout", "forward.TestPersistenceQuiescentSorry", ""},
	{"virtual_server", "persistence_granularity", "forward.TestPersistenceGranularity", ""},
	{"virtual_server", "sorry_server", "test.TestSeedDRPair health.TestQuorumSorryServer", ""},
	{"virtual_server", "sorry_server_inhibit", "health.TestSorryServerInhibit", ""},
	{"virtual_server", "quorum", "health.TestQuorumSorryServer health.TestQuorumSorryNetns", ""},
	{"virtual_server", "hysteresis", "health.TestHysteresis", ""},
	{"virtual_server", "quorum_up", "health.TestQuorumSorryServer health.TestQuorumSorryNetns", ""},
	{"virtual_server", "quorum_down", "health.TestQuorumSorryServer health.TestQuorumSorryNetns", ""},
	{"virtual_server", "omega", "health.TestStopOmega", ""},
	{"virtual_server", "ha_suspend", "health.TestHASuspend", ""},
	{"virtual_server", "ops", "forward.TestUDPLargeDatagrams", ""},
	{"virtual_server", "real_server", "test.TestSeedDRPair test.TestReload", ""},
	{"virtual_server", "sh-port", "sched.TestSH", ""},
	{"virtual_server", "sh-fallback", "sched.TestSH", ""},
	{"virtual_server", "mh-port", "sched.TestMH", ""},
	{"virtual_server", "mh-fallback", "sched.TestMH", ""},
	{"real_server", "weight", "test.TestReload test.TestSeedDRPair sched.TestWeightsHonoured", ""},
	{"real_server", "notify_up", "health.TestDownWithinBound", ""},
	{"real_server", "notify_down", "health.TestDownWithinBound", ""},
	{"real_server", "uthreshold", "sched.TestOverloadFlag", ""},
	{"real_server", "lthreshold", "sched.TestOverloadFlag", ""},
	{"*", "inhibit_on_failure", "health.TestInhibitOnFailure", ""},
	{"*", "alpha", "health.TestAlpha", ""},

	// Health checkers: the checker blocks and their timing, inherited
	// from the real and the virtual server.
	{"real_server", "TCP_CHECK", "test.TestReload health.TestCheckersAgainstRealServers", ""},
	{"real_server", "HTTP_GET", "test.TestSeedDRPair health.TestCheckersAgainstRealServers", ""},
	{"real_server", "SSL_GET", "health.TestCheckersAgainstRealServers health.TestSSLProberSNI", ""},
	{"real_server", "SMTP_CHECK", "health.TestCheckersAgainstRealServers", ""},
	{"real_server", "DNS_CHECK", "health.TestCheckersAgainstRealServers", ""},
	{"real_server", "MISC_CHECK", "health.TestCheckersAgainstRealServers health.TestMiscProber", ""},
	{"real_server", "PING_CHECK", "health.TestCheckersAgainstRealServers", ""},
	{"real_server", "UDP_CHECK", "health.TestCheckersAgainstRealServers", ""},
	{"real_server", "FILE_CHECK", "health.TestFileCheckWeights health.TestFileCheckFaultAtStart", ""},
	{"*", "connect_timeout", "test.TestSeedDRPair health.TestDownWithinBound", ""},
	{"*", "retry", "health.TestDownWithinBound health.TestStepMisc", ""},
	{"*", "nb_get_retry", "test.TestSeedDRPair health.TestDownWithinBound", ""},
	{"*", "delay_before_retry", "test.TestSeedDRPair health.TestDownWithinBound", ""},
	{"*", "delay_loop", "test.TestSeedDRPair health.TestDownWithinBound", ""},
	{"*", "warmup", "health.TestDownWithinBound health.TestMiscDynamicWeight", ""},
	{"HTTP_GET", "url", "test.TestSeedDRPair health.TestCheckersAgainstRealServers", ""},
	{"SSL_GET", "url", "health.TestCheckersAgainstRealServers", ""},
	{"url", "path", "test.TestSeedDRPair health.TestHTTPProber", ""},
	{"url", "status_code", "test.TestSeedDRPair health.TestHTTPProber", ""},
	{"url", "digest", "health.TestDownWithinBound health.TestHTTPProber", ""},
	{"HTTP_GET", "virtualhost", "health.TestHTTPProber", ""},
	{"SSL_GET", "enable_sni", "health.TestSSLProberSNI", ""},
	{"SMTP_CHECK", "helo_name", "health.TestCheckersAgainstRealServers", ""},
	{"DNS_CHECK", "type", "health.TestCheckersAgainstRealServers health.TestDNSProber", ""},
	{"DNS_CHECK", "name", "health.TestCheckersAgainstRealServers health.TestDNSProber", ""},
	{"MISC_CHECK", "misc_path", "health.TestMiscProber health.TestCheckersAgainstRealServers", ""},
	{"MISC_CHECK", "misc_timeout", "health.TestMiscProber", ""},
	{"MISC_CHECK", "misc_dynamic", "health.TestMiscDynamicWeight", ""},
	{"UDP_CHECK", "payload", "health.TestUDPProber health.TestCheckersAgainstRealServers", ""},
	{"UDP_CHECK", "require_reply", "health.TestUDPProber health.TestCheckersAgainstRealServers", ""},
	{"UDP_CHECK", "min_reply_length", "health.TestUDPProber", ""},
	{"FILE_CHECK", "track_file", "health.TestFileCheckWeights", ""},
	{"FILE_CHECK", "weight", "health.TestFileCheckWeights", ""},
	{"FILE_CHECK", "dynamic", "health.TestFileCheckFaultAtStart", ""},
	{"(top level)", "SSL", "health.TestSSLProberSNI", ""},

	// HTTP_GET / SSL_GET response bodies (Go's RE2; health's doc says
	// where it differs from keepalived's PCRE2).
	{"url", "regex", "health.TestRegexTakesServerOut health.TestHTTPRegex test.TestHostKeywords conf.TestURLRegex", ""},
	{"url", "regex_no_match", "health.TestRegexTakesServerOut health.TestHTTPRegex", ""},
	{"url", "regex_min_offset", "health.TestHTTPRegex health.TestRegexMatchStreaming", ""},
	{"url", "regex_max_offset", "health.TestHTTPRegex health.TestRegexMatchStreaming", ""},
	{"url", "regex_options", "conf.TestURLRegex test.TestHostKeywords", ""},

	// Addresses, routes and rules outside VRRP.
	{"(top level)", "static_ipaddress", "vrrp.TestStaticNetns vrrp.TestStaticAddresses test.TestHostKeywords", ""},
	{"(top level)", "static_routes", "vrrp.TestStaticNetns vrrp.TestStaticAddresses", ""},
	{"(top level)", "static_rules", "vrrp.TestStaticNetns vrrp.TestStaticAddresses", ""},
	{"(top level)", "track_group", "vrrp.TestStaticNetns vrrp.TestStaticAddresses internal/plan.TestVRRPFeatures", ""},

	// Traffic to the VIPs: the nftables table keepalived's nftables
	// option makes. vrrp_iptables uses it too (keepalived does where
	// iptables is nftables-based or missing, as on current Debian).
	{"vrrp_instance", "no_accept", "vrrp.TestNoAcceptNetns vrrp.TestNoAcceptFirewall test.TestHostKeywords", ""},
	{"global_defs", "vrrp_strict", "conf.TestStrictMode vrrp.TestEngineScenarios internal/plan.TestVRRPFeatures vrrp.TestNoAcceptNetns", ""},
	{"vrrp_instance", "strict_mode", "conf.TestStrictMode vrrp.TestEngineScenarios internal/plan.TestVRRPFeatures", ""},
	{"global_defs", "vrrp_iptables", "internal/plan.TestVRRPFeatures vrrp.TestNoAcceptNetns", ""},
	{"global_defs", "vrrp_ipsets", "", "ipsets are not used: the no_accept addresses are in the nftables table (keepalived with nftables does the same)"},
	{"global_defs", "nftables", "vrrp.TestNoAcceptNetns internal/plan.TestVRRPFeatures test.TestHostKeywords", ""},
	{"global_defs", "nftables_priority", "internal/plan.TestVRRPFeatures vrrp.TestNoAcceptRuleset", ""},
	{"global_defs", "nftables_counters", "internal/plan.TestVRRPFeatures vrrp.TestNoAcceptRuleset", ""},

	// Process tracking.
	{"(top level)", "vrrp_track_process", "vrrp.TestTrackProcessNginxPair vrrp.TestTrackProcess test.TestHostKeywords", ""},
	{"vrrp_track_process", "process", "vrrp.TestProcMatch vrrp.TestTrackProcessNginxPair", ""},
	{"vrrp_track_process", "param_match", "vrrp.TestProcMatch", ""},
	{"vrrp_track_process", "full_command", "vrrp.TestProcMatch", ""},
	{"vrrp_track_process", "weight", "vrrp.TestTrackProcess", ""},
	{"vrrp_track_process", "quorum", "vrrp.TestProcQuorumAndDelays test.TestHostKeywords", ""},
	{"vrrp_track_process", "quorum_max", "vrrp.TestProcQuorumAndDelays", ""},
	{"vrrp_track_process", "delay", "vrrp.TestProcQuorumAndDelays internal/plan.TestVRRPFeatures", ""},
	{"vrrp_track_process", "terminate_delay", "vrrp.TestProcQuorumAndDelays", ""},
	{"vrrp_track_process", "fork_delay", "vrrp.TestProcQuorumAndDelays vrrp.TestProcScanSeesForks", ""},
	{"vrrp_instance", "track_process", "vrrp.TestTrackProcessNginxPair vrrp.TestTrackProcess test.TestHostKeywords", ""},
	{"vrrp_sync_group", "track_process", "vrrp.TestTrackProcess", ""},

	// VRRP details.
	{"vrrp_instance", "notify_deleted", "vrrp.TestNotifyDeleted", ""},
	{"vrrp_instance", "notify_priority_changes", "vrrp.TestNotifyPriorityChanges internal/plan.TestVRRPFeatures", ""},
	{"vrrp_sync_group", "notify_priority_changes", "internal/plan.TestVRRPFeatures vrrp.TestNotifyPriorityChanges", ""},
	{"global_defs", "vrrp_notify_priority_changes", "vrrp.TestNotifyPriorityChanges", ""},
	{"vrrp_instance", "unicast_ttl", "vrrp.TestMcastDstIPAndUnicastTTL", ""},
	{"vrrp_instance", "mcast_dst_ip", "vrrp.TestMcastDstIPAndUnicastTTL", ""},
	{"vrrp_instance", "unicast_fault_no_peer", "vrrp.TestUnicastFaultNoPeer", ""},
	{"vrrp_instance", "promote_secondaries", "vrrp.TestPromoteSecondaries", ""},

	// Health checking.
	{"global_defs", "rs_init_notifies", "health.TestRSInitNotifies internal/plan.TestHealthFeatures", ""},
	{"virtual_server", "persistence_engine", "", "plain persistence applies: SIP calls are not kept on one real server"},

	// The process.
	{"global_defs", "startup_script", "test.TestStartupShutdownScripts", ""},
	{"global_defs", "startup_script_timeout", "cmd/ulvsd.TestLifecycleScriptTimeout", ""},
	{"global_defs", "shutdown_script", "test.TestStartupShutdownScripts", ""},
	{"global_defs", "shutdown_script_timeout", "cmd/ulvsd.TestLifecycleScriptTimeout test.TestStartupShutdownScripts", ""},
	{"*", "net_namespace", "test.TestNetNamespace", ""},

	// Found by reading what the daemon's translations use.
	{"vrrp_instance", "check_unicast_src", "", "adverts from addresses that are not unicast peers are accepted " +
		"(global_defs vrrp_check_unicast_src is honoured)"},
	{"global_defs", "no_email_faults", "", "mails are also sent for FAULT states"},
	{"global_defs", "lvs_flush_on_stop", "", "at stop ulvsd removes only the services it added (with the kernel " +
		"IPVS backend, other services stay)"},
	{"global_defs", "lvs_flush_onstop", "", "at stop ulvsd removes only the services it added (with the kernel " +
		"IPVS backend, other services stay)"},
	{"global_defs", "dynamic_interfaces", "", "an instance whose interface does not exist at start stops ulvsd from " +
		"starting, instead of waiting in FAULT for the interface"},
	{"SSL", "password", "", "the key is read unencrypted: a password-protected key fails to load"},
	{"url", "tls_compliant", "", "a TLS close without close_notify is not treated specially"},
	{"SSL_GET", "tls_compliant", "", "a TLS close without close_notify is not treated specially"},
}

// applyEffects sets each registry keyword's status from the effects table.
// It returns a message for every row that matches no keyword.
func applyEffects(root *level) []string {
	type key struct{ block, kw string }
	rows := map[key]*effect{}
	used := map[*effect]bool{}
	for i := range effects {
		e := &effects[i]
		rows[key{e.block, e.keyword}] = e
	}
	seen := map[*level]bool{}
	var walk func(lv *level)
	walk = func(lv *level) {
		if seen[lv] || lv == anyLevel {
			return
		}
		seen[lv] = true
		for _, k := range lv.kws {
			e := rows[key{lv.name, k.name}]
			if e == nil {
				e = rows[key{"*", k.name}]
			}
			if e != nil {
				used[e] = true
				k.tests = strings.Fields(e.tests)
				switch {
				case e.missing != "" && e.tests != "":
					k.status, k.note, k.warn = Partial, e.missing, true
				case e.missing != "":
					k.status, k.note, k.warn = NotHonoured, e.missing, true
				default:
					k.status = Supported
				}
			}
			if k.sub != nil {
				walk(k.sub)
			}
		}
	}
	walk(root)
	inheritNotHonoured(root, map[*level]bool{})
	var bad []string
	for i := range effects {
		if e := &effects[i]; !used[e] {
			bad = append(bad, fmt.Sprintf("effects row %s %s matches no keyword", e.block, e.keyword))
		}
	}
	return bad
}

// inheritNotHonoured makes the keywords inside a not-honoured block not
// honoured too, unless they have a row of their own: the block's warning
// covers them (a block turned supported gives them back their status).
func inheritNotHonoured(lv *level, seen map[*level]bool) {
	if seen[lv] || lv == anyLevel {
		return
	}
	seen[lv] = true
	for _, k := range lv.kws {
		if k.sub == nil {
			continue
		}
		if k.status == NotHonoured && k.sub != anyLevel {
			for _, sk := range k.sub.kws {
				if sk.status == Untested {
					sk.status, sk.note = NotHonoured, "inside "+k.name+", which is not honoured"
				}
			}
		}
		inheritNotHonoured(k.sub, seen)
	}
}

// needArg227 lists keywords ulvs reads without their value (or ignores)
// whose handler in keepalived 2.2.7 reads a parameter unchecked: alone on a
// line, each stops keepalived (found by keepalived -t on each keyword).
var needArg227 = map[string][]string{
	"global_defs": {"bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name",
		"checker_rlimit_rtime", "checker_rlimit_rttime", "config_save_dir", "lvs_process_name",
		"nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority", "process_name", "random_seed",
		"umask", "vmac_addr_prefix", "vmac_prefix", "vrrp_process_name", "vrrp_rlimit_rtime", "vrrp_rlimit_rttime"},
	"(top level)":        {"child_wait_time"},
	"vrrp_instance":      {"debug", "vrf"},
	"vrrp_track_process": {"process"},
}

// notIn227 lists the keywords ulvs reads that Debian's keepalived 2.2.7
// does not know in that block (it reports "Unknown keyword" and ignores
// the line): newer keepalived's, or ones it dropped. Using one gives that
// report at its line, so `ulvsd -t` flags what `keepalived -t` flags; ulvs
// still reads the keyword as its registry entry says. Found by running
// keepalived -t on each keyword (TestKeepalivedParity's corpus keeps the
// cases).
var notIn227 = map[string][]string{
	"global_defs": {"child_wait_time", "dbus_no_interface_name", "instance", "iproute_etc_dir", "iproute_usr_dir",
		"json_version", "linkbeat_use_polling", "namespace_with_ipsets", "net_namespace_ipvs",
		"set_supplementary_groups", "snmp_rs_stats_update_interval", "snmp_vs_stats_update_interval",
		"use_pid_dir", "use_symlink_paths", "v3_checksum_as_v2", "vrrp_ipsets", "vrrp_owner_ignore_adverts",
		"json_dump_file", "net_namespace", "state_dump_file", "stats_dump_file", "vrrp_delay_after_boot"},
	"vrrp_instance": {"no_virtual_ipaddress", "owner_ignore_adverts", "thread_timer_expired",
		"timer_expired_backup", "v3_checksum_as_v2"},
	"virtual_server": {"nat_mask"},
	"SSL_GET":        {"tls_compliant", "sni_name"},
	"HTTP_GET":       {"sni_name"},
	"url":            {"tls_compliant"},
	"FILE_CHECK": {"alpha", "dynamic", "log_all_failures", "connect_timeout", "delay_before_retry", "delay_loop",
		"retry", "warmup", "nb_get_retry"},
	// keepalived 2.2.7 reads nb_get_retry in HTTP_GET and SSL_GET only.
	"TCP_CHECK":  {"nb_get_retry"},
	"SMTP_CHECK": {"nb_get_retry"},
	"DNS_CHECK":  {"nb_get_retry"},
	"MISC_CHECK": {"nb_get_retry", "connect_timeout"},
	"PING_CHECK": {"nb_get_retry"},
	"UDP_CHECK":  {"nb_get_retry"},
}

// applyNotIn227 marks the keywords of notIn227, and returns a message for
// every entry that names no keyword.
func applyNotIn227(root *level) []string {
	seen := map[*level]bool{}
	found := map[string]bool{}
	var walk func(lv *level)
	walk = func(lv *level) {
		if seen[lv] || lv == anyLevel {
			return
		}
		seen[lv] = true
		for _, name := range notIn227[lv.name] {
			if k := lv.lookup(name); k != nil {
				found[lv.name+" "+name] = true
				what := "ulvs reads it"
				if k.status == Ignored || k.status == NotHonoured {
					what = "ulvs does not act on it either"
				}
				kaSays(k, ClassUnknownKeyword, "not known to keepalived 2.2.7 in "+lv.name+
					" (it reports an unknown keyword and skips the line); "+what)
			}
		}
		for _, k := range lv.kws {
			if k.sub != nil {
				walk(k.sub)
			}
		}
	}
	walk(root)
	var bad []string
	for block, kws := range needArg227 {
		for _, kw := range kws {
			if k := findKeyword(root, block, kw); k != nil {
				k.needsArg = true
			} else {
				bad = append(bad, "needArg227 entry "+block+" "+kw+" matches no keyword")
			}
		}
	}
	for block, kws := range notIn227 {
		for _, kw := range kws {
			if !found[block+" "+kw] {
				bad = append(bad, "notIn227 entry "+block+" "+kw+" matches no keyword")
			}
		}
	}
	return bad
}

// findKeyword finds the keyword of a block, searching the registry from
// root.
func findKeyword(root *level, block, name string) *keyword {
	seen := map[*level]bool{}
	var walk func(lv *level) *keyword
	walk = func(lv *level) *keyword {
		if seen[lv] || lv == anyLevel {
			return nil
		}
		seen[lv] = true
		if lv.name == block {
			if k := lv.lookup(name); k != nil {
				return k
			}
		}
		for _, k := range lv.kws {
			if k.sub != nil {
				if f := walk(k.sub); f != nil {
					return f
				}
			}
		}
		return nil
	}
	return walk(root)
}

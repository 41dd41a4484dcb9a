// Package health runs keepalived's health checkers against real servers
// and decides, as keepalived's checker process does (check/ipwrapper.c),
// which real servers are in each virtual service's pool and with what
// weight.
//
// What it does:
//
//   - Checkers: TCP_CHECK, HTTP_GET and SSL_GET (url blocks with path,
//     MD5 digest, status_code ranges, virtualhost; TLS with SNI),
//     SMTP_CHECK (HELO, per-host blocks), MISC_CHECK (misc_timeout,
//     misc_dynamic, user), DNS_CHECK (type, name), PING_CHECK (ICMP and
//     ICMPv6 echo), UDP_CHECK (payload, require_reply with wildcards) and
//     FILE_CHECK (a tracked file's number as a fault or a weight).
//   - Timing as keepalived's: each checker on its own goroutine and
//     schedule (delay_loop, a random warmup so a thousand checks do not
//     fire together), retry and delay_before_retry, connect_timeout per
//     attempt, alpha (start down). HTTP checkers walk their urls one per
//     check and, once down, recover through the failed url and then a full
//     pass, as check_http.c's epilog does (fast_recovery shortens it).
//   - The pool: a real server is up when all its checkers are;
//     inhibit_on_failure keeps a failed one at weight 0; quorum with
//     hysteresis, quorum_up/quorum_down and the sorry_server switch
//     (sorry_server_inhibit included); misc_dynamic and FILE_CHECK weights.
//     The result goes to a Sink (add, update, remove destination) that
//     cmd/ulvsd connects to package forward.
//   - Notifications through a Notifier: notify_up/notify_down and quorum
//     scripts (run under keepalived's script security rules by
//     internal/script), LVS notify_fifo lines ("RS …"/"VS …", NUL
//     terminated as keepalived writes them), smtp_alert mails; Dispatcher is
//     the real one.
//   - Events with a reason, per-checker state and last latency (Status),
//     ha_suspend (SetVIP), reload as a difference that keeps the state of
//     unchanged checkers (Apply), and a graceful stop with omega (the end
//     of Run).
//   - Fetch: one keepalived-style GET with its MD5, shared with cmd/genhash.
//
// What it leaves out: BFD_CHECK; regex matching of HTTP bodies (keepalived
// builds it only with PCRE2); SNMP traps; virtual_server_group address
// ranges (a group is one service to health, named "[GROUP]:PORT");
// FILE_CHECK reads its file every Interval instead of using inotify;
// lvs_flush_on_stop and the daemon's -I (keep IPVS on exit) belong to the
// Sink's owner. health does not import package conf: cmd/ulvsd translates
// keepalived.conf into Config.
package health

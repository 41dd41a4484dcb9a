// Package health runs keepalived's health checkers against real servers
// and decides, as keepalived's checker process does (check/ipwrapper.c),
// which real servers are in each virtual service's pool and with what
// weight.
//
// What it does:
//
//   - Checkers: TCP_CHECK, HTTP_GET and SSL_GET (url blocks with path,
//     MD5 digest, status_code ranges, virtualhost, regex with
//     regex_no_match and regex_min/max_offset; TLS with SNI),
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
// Regex: keepalived matches a url's regex with PCRE2; ulvs uses Go's
// regexp (RE2 syntax), which runs in time linear in the page and never
// backtracks. What keepalived matches is kept: the subject is the response
// from the first byte of its status line (header included) once body bytes
// arrive, every byte received, and regex_min_offset / regex_max_offset
// bound where the match starts, counted from that first byte. (keepalived
// leaves the header out when the header's last read carries no body byte,
// and then counts offsets from the body; ulvs does not depend on how the
// reads fall.) A response without a body matches nothing. Where RE2 and
// PCRE2 differ:
//
//   - RE2 has no backreferences (\1, \k<name>), lookahead or lookbehind
//     ((?=, (?!, (?<=, (?<!), atomic groups (?>...), possessive
//     quantifiers (a++), recursion, conditionals, \G, \K, \R, \X, \h,
//     \v, \Z, callouts or verbs ((*SKIP)...). A pattern using any of them
//     is refused with its line (conf) and when the checker is built.
//   - PCRE2 without the utf option works on bytes; RE2 on UTF-8: "." and a
//     negated class match a whole UTF-8 character, and an invalid byte is
//     one character.
//   - $ without (?m) matches only at the very end in RE2; PCRE2 also
//     matches before a final newline (dollar_endonly off). \s in RE2 is
//     [\t\n\f\r ]; PCRE2's also has \v. \d, \w and \b are ASCII in both
//     unless PCRE2's ucp option is given.
//   - regex_min_offset: PCRE2 starts at the offset but sees the bytes
//     before it (for ^, \b and lookbehind); RE2 matches from the offset as
//     if the text began there, so ^ can match at the offset.
//   - Repetition counts above 1000 are refused by RE2.
//   - regex_options: caseless, multiline, dotall and ungreedy become RE2's
//     i, m, s and U flags; dollar_endonly, utf and the options that only
//     tune PCRE2 (no_auto_capture, no_start_optimize, ...) change nothing;
//     extended (whitespace and comments in the pattern) is refused, and the
//     options RE2 cannot honour (firstline, ucp, alt_bsux, ...) are warned
//     about at their line. regex_stack sizes PCRE2's JIT stack and has no
//     counterpart.
//
// What it leaves out: BFD_CHECK; SNMP traps; virtual_server_group address
// ranges (a group is one service to health, named "[GROUP]:PORT");
// FILE_CHECK reads its file every Interval instead of using inotify;
// lvs_flush_on_stop and the daemon's -I (keep IPVS on exit) belong to the
// Sink's owner. health does not import package conf: internal/plan translates
// keepalived.conf into Config.
package health

// Package kacompat is keepalived's outside contract, as the tools around
// keepalived see it: the text of `keepalived -v` (on stderr, a first line a
// version parser accepts, the configure options ulvs behaves as having),
// `keepalived --signum NAME`, the dump files written on a signal (always
// complete: written to a temporary file in the same directory and renamed
// into place) and the JSON dump's shape, key for key in keepalived 2.2.7's
// order with its omission rules.
//
// Exporters such as mehdy/keepalived-exporter (formerly
// cafebazaar/keepalived-exporter) run `keepalived -v`, `keepalived
// --version` and `keepalived --signum`, then signal the pid in the pid file
// and read /tmp/keepalived.{data,stats,json} at once; with ulvsd installed
// as keepalived they keep working.
//
// Left out: the state and stats dumps' text itself (cmd/ulvsd writes them
// from its views), JSON version 2 (ulvs refuses json_version) and
// keepalived's bug of writing a backslash in a string as "\n" (ulvs writes
// "\\").
package kacompat

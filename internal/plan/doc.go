// Package plan translates a keepalived configuration (conf.Config) into
// each subsystem's own configuration: vrrp.Config for the instances,
// health.Config for the checkers, lvs.Services for the forwarding
// reconciler, lvs_sync_daemon's settings, and the notification
// dispatcher's.
//
// Build is the one translation: ulvsd runs it at start-up and on every
// reload, and `ulvsd -t` runs it too, so that what -t accepts the daemon
// starts and what the daemon refuses -t refuses, at the same line. Build
// has no side effects: it opens no socket, starts nothing and writes
// nothing (it reads the files the configuration names, such as an SSL CA,
// and iproute2's table names). It also runs the checks health and vrrp
// make when they are built.
//
// What Build finds comes back as conf.Diagnostics at the configuration's
// lines: an error means the configuration cannot run (start-up and reload
// refuse it), a warning names what will not be done (a virtual server that
// cannot be forwarded is left out; the rest runs). SystemChecks adds what
// only the machine can tell (missing interfaces, scripts that cannot run);
// -t shows it and the daemon does not refuse on it.
package plan

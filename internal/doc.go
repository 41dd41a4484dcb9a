// Package internal holds small pieces shared by more than one part of ulvs
// that have no better home: the netns topology builder used by tests and
// the lab, the script runner with keepalived's script security rules, and
// the notify FIFOs and smtp_alert mail that VRRP and the checkers share.
package internal

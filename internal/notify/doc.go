// Package notify holds what VRRP and the health checkers both hand to the
// outside world as keepalived does: notify FIFOs (created when missing,
// opened without waiting for a reader, lines dropped rather than blocking)
// and smtp_alert mail (keepalived's core/smtp.c session and headers).
// Each caller keeps its own line and subject formats.
package notify

// Package canserve decides whether this director can still serve: whether
// its forwarder runs, whether it can open sockets (the first thing a health
// checker needs), whether its connection table takes new connections. A
// Monitor runs its probes every second and reports a change of verdict
// once it has held for a few rounds, so that ulvsd can give up VRRP
// mastership instead of holding a VIP that answers nothing.
//
// keepalived has no such check: a keepalived director out of descriptors
// stays master while its checkers fail and its real servers are removed.
//
// canserve leaves out what the backup would see the same way (every real
// server down is quorum's business, not this director's fault).
package canserve

// Package test holds integration tests that cross packages: netns
// topologies with real peers (keepalived, nginx, curl, wrk, tshark).
//
// The tests need root. Without root they skip with a message; when
// ULVS_REQUIRE_NETNS=1 (set by `make test` as root) a missing capability or
// tool is a failure instead.
package test

package sched

import (
	"fmt"
	"net/netip"
	"testing"
)

// rs is a real server for tests: "A" is 198.18.1.1, "B" 198.18.1.2, ...
type rs struct {
	name   string
	weight int32
	u, l   uint32
}

func rsAddr(name string) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, 1, name[0] - 'A' + 1})
}

// newSvc builds a service and adds the servers in the order given.
func newSvc(t testing.TB, sched string, flags uint32, servers ...rs) *Service {
	t.Helper()
	s, err := New(Config{Scheduler: sched, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range servers {
		if _, err := s.AddDest(DestConfig{Addr: rsAddr(r.name), Port: 80, Weight: r.weight, UThreshold: r.u, LThreshold: r.l}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// name returns the test name of d ("A", "B", ...), or "-" for nil.
func name(d *Dest) string {
	if d == nil {
		return "-"
	}
	return string(rune('A' + d.Addr.As4()[3] - 1))
}

func dest(t testing.TB, s *Service, n string) *Dest {
	t.Helper()
	d := s.Lookup(rsAddr(n), 80)
	if d == nil {
		t.Fatalf("no dest %s", n)
	}
	return d
}

// clientFlow is the i-th client of simulate's default workload.
func clientFlow(i int) *Flow {
	return &Flow{
		Src:     netip.AddrFrom4([4]byte{198, 18, 128 + byte(i>>8), byte(i)}),
		Dst:     netip.AddrFrom4([4]byte{198, 18, 0, 10}),
		SrcPort: 40000, DstPort: 80, Proto: ProtoTCP,
	}
}

// picks runs n Picks with no connection accounting and returns the names.
func picks(s *Service, n int) string {
	out := ""
	for i := range n {
		out += name(s.Pick(clientFlow(i + 1)))
	}
	return out
}

// connect runs n Picks binding each chosen dest with an active connection.
func connect(s *Service, n int) string {
	out := ""
	for i := range n {
		d := s.Pick(clientFlow(i + 1))
		if d != nil {
			d.Bind(ConnInactive)
			d.Activate()
		}
		out += name(d)
	}
	return out
}

func order(s *Service) string {
	out := ""
	for _, d := range s.Dests() {
		out += name(d)
	}
	return out
}

var _ = fmt.Sprint

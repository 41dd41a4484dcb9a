package main

import (
	"net/netip"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// vipRecorder is a backend that only records SetVIP.
type vipRecorder struct {
	forward.Backend
	calls []string
}

func (r *vipRecorder) SetVIP(addr netip.Addr, enabled bool) error {
	r.calls = append(r.calls, addr.String()+map[bool]string{true: " on", false: " off"}[enabled])
	return nil
}

// TestFollowVRRP: the userspace data path forwards a VIP's services only
// while this node is master; with kernel IPVS the services stay in place on
// a backup, as keepalived leaves them.
func TestFollowVRRP(t *testing.T) {
	vip := netip.MustParseAddr("198.18.0.100")
	for _, tc := range []struct {
		backend string
		want    []string
	}{
		{"userspace", []string{"198.18.0.100 on", "198.18.0.100 off"}},
		{"ipvs", nil},
	} {
		be := &vipRecorder{}
		l := newLVS(be, 0, tc.backend == "userspace", zap.NewNop())
		for _, held := range []bool{true, false} {
			if err := l.follow(vip, held); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(be.calls, tc.want) {
			t.Errorf("%s: SetVIP calls %q, want %q", tc.backend, be.calls, tc.want)
		}
	}
}

// TestOwn: at start and on reload, an address a VRRP instance newly owns
// is disabled until its master enables it; one no instance owns any more
// forwards again; one still owned keeps its state.
func TestOwn(t *testing.T) {
	a, b, c := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.102")
	be := &vipRecorder{}
	l := newLVS(be, 0, true, zap.NewNop())
	l.own(map[netip.Addr]string{a: "VI_1", b: "VI_2"})
	if err := l.follow(a, true); err != nil { // VI_1 becomes master
		t.Fatal(err)
	}
	be.calls = nil
	l.own(map[netip.Addr]string{a: "VI_1", c: "VI_3"}) // reload: VI_2 gone, VI_3 new
	slices.Sort(be.calls)
	if want := []string{"198.18.0.101 on", "198.18.0.102 off"}; !slices.Equal(be.calls, want) {
		t.Errorf("SetVIP calls on reload %q, want %q", be.calls, want)
	}
	if !l.vips[a] || l.vips[c] {
		t.Errorf("followed %v, want %v enabled and %v disabled", l.vips, a, c)
	}
	be.calls = nil
	newLVS(be, 0, false, zap.NewNop()).own(map[netip.Addr]string{a: "VI_1"})
	if len(be.calls) != 0 {
		t.Errorf("kernel backend: SetVIP calls %q, want none", be.calls)
	}
}

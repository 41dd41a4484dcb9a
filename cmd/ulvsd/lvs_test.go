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

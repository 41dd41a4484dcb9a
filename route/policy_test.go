package route

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	web := ServiceHealth{Name: "TCP 198.18.0.100:80", Alive: 3, Quorum: 2}
	dns := ServiceHealth{Name: "UDP 198.18.0.100:53", Alive: 1, Quorum: 1}
	ready := Inputs{Forwarding: true, HealthReady: true, Services: []ServiceHealth{web, dns}}
	with := func(f func(*Inputs)) Inputs {
		in := ready
		in.Services = append([]ServiceHealth(nil), ready.Services...)
		f(&in)
		return in
	}
	for _, tc := range []struct {
		name     string
		in       Inputs
		announce bool
		reason   string
	}{
		{"serving", ready, true, "serving: TCP 198.18.0.100:80 alive weight 3, quorum 2; UDP 198.18.0.100:53 alive weight 1, quorum 1"},
		{"stopping", with(func(in *Inputs) { in.Stopping = true; in.Maintenance = "x" }), false, "shutting down (SIGTERM): withdrawn before forwarding stops"},
		{"maintenance", with(func(in *Inputs) { in.Maintenance = "maintenance file /m exists" }), false, "maintenance: maintenance file /m exists"},
		{"no forwarder", with(func(in *Inputs) { in.Forwarding = false }), false, "the forwarder is not running"},
		{"no services", with(func(in *Inputs) { in.Services = nil }), false, "no virtual server serves this prefix"},
		{"warming", with(func(in *Inputs) { in.HealthReady = false }), false, "waiting for the first round of health checks"},
		{"below quorum", with(func(in *Inputs) { in.Services[0].Alive = 1 }), false, "TCP 198.18.0.100:80: alive weight 1 below quorum 2"},
		{"at quorum", with(func(in *Inputs) { in.Services[0].Alive = 2 }), true, "serving: TCP 198.18.0.100:80 alive weight 2, quorum 2; UDP 198.18.0.100:53 alive weight 1, quorum 1"},
		{"none alive, quorum 0", with(func(in *Inputs) { in.Services = []ServiceHealth{{Name: "s", Alive: 0, Quorum: 0}} }), false, "s: alive weight 0 below quorum 1"},
		{"track backup", with(func(in *Inputs) { in.Track, in.TrackState = "VI_1", "BACKUP" }), false, "vrrp_instance VI_1 is BACKUP, not MASTER"},
		{"track unknown", with(func(in *Inputs) { in.Track = "VI_1" }), false, "vrrp_instance VI_1 is not running, not MASTER"},
		{"track master", with(func(in *Inputs) { in.Services = []ServiceHealth{dns}; in.Track, in.TrackState = "VI_1", "MASTER" }), true,
			"serving: UDP 198.18.0.100:53 alive weight 1, quorum 1; vrrp_instance VI_1 MASTER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, r := Decide(tc.in)
			if diff := cmp.Diff([]any{tc.announce, tc.reason}, []any{a, r}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

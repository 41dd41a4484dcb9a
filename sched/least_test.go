package sched

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLeastConnection works lc, wlc, sed, nq, fo and ovf by hand. Every
// Pick binds a connection that becomes active at once (connect), so the
// overhead of a dest is 256 per pick for lc/wlc and 1 per pick for sed/nq.
func TestLeastConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sched   string
		servers []rs
		want    string
	}{
		// lc ignores weights (except 0) and takes the first of the least.
		{"lc", []rs{{"A", 5, 0, 0}, {"B", 1, 0, 0}}, "BABABA"},
		{"lc", []rs{{"A", 1, 0, 0}, {"B", 0, 0, 0}, {"C", 1, 0, 0}}, "CACACA"},
		// wlc, list B A, weights 1 and 3: B first (0*3 > 0*1 is false), then
		// A while 256*3 > oh(A)*1, B again when A reaches 768.
		{"wlc", []rs{{"A", 3, 0, 0}, {"B", 1, 0, 0}}, "BAAAB" + "AAAB"},
		// sed, overhead active+1: A while 3*oh(B) > oh(A).
		{"sed", []rs{{"A", 3, 0, 0}, {"B", 1, 0, 0}}, "AABAAAB"},
		// nq: idle B, idle A, then as sed: A while 3*2 > active(A)+1.
		{"nq", []rs{{"A", 3, 0, 0}, {"B", 1, 0, 0}}, "BAAAAAB"},
		// fo: the highest weight, first in list on ties (C before B);
		// C overloads at one connection.
		{"fo", []rs{{"A", 3, 0, 0}, {"B", 5, 0, 0}, {"C", 5, 1, 0}}, "CBBB"},
		// ovf: the highest weight while its active connections <= weight.
		{"ovf", []rs{{"A", 2, 0, 0}, {"B", 1, 0, 0}}, "AAABB-"},
		{"wlc", []rs{{"A", 0, 0, 0}}, "--"},
	}
	for _, tt := range tests {
		t.Run(tt.sched+"/"+tt.want, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, tt.sched, 0, tt.servers...)
			if diff := cmp.Diff(tt.want, connect(s, len(tt.want))); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInactiveCounts: inactive connections weigh 1, active 256 (lc).
func TestInactiveCounts(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "lc", 0, rs{"A", 1, 0, 0}, rs{"B", 1, 0, 0})
	for range 255 {
		dest(t, s, "B").Bind(ConnInactive)
	}
	dest(t, s, "A").Bind(ConnInactive)
	dest(t, s, "A").Activate() // A: 256, B: 255
	if got := name(s.Pick(clientFlow(1))); got != "B" {
		t.Fatalf("Pick = %s, want B (255 inactive < 1 active)", got)
	}
	dest(t, s, "B").Bind(ConnInactive) // B: 256, tie: first in list (B)
	if got := name(s.Pick(clientFlow(1))); got != "B" {
		t.Fatalf("Pick = %s, want B (tie, first in list)", got)
	}
	dest(t, s, "B").Bind(ConnTemplate) // templates do not count
	if got := name(s.Pick(clientFlow(1))); got != "B" {
		t.Fatalf("Pick = %s, want B (templates do not count)", got)
	}
}

// TestOverloadFlag follows ip_vs_bind_dest / ip_vs_unbind_dest and the
// threshold edits of __ip_vs_update_dest.
func TestOverloadFlag(t *testing.T) {
	t.Parallel()
	type step struct {
		op   string // bind, unbind, edit
		u, l uint32
		want bool
	}
	tests := []struct {
		name  string
		u, l  uint32
		steps []step
	}{
		{"upper only: clear below 3/4", 4, 0, []step{
			{"bind", 0, 0, false}, {"bind", 0, 0, false}, {"bind", 0, 0, false}, {"bind", 0, 0, true},
			{"unbind", 0, 0, true}, // 3*4 < 12 is false
			{"unbind", 0, 0, false},
		}},
		{"lower threshold", 3, 1, []step{
			{"bind", 0, 0, false}, {"bind", 0, 0, false}, {"bind", 0, 0, true},
			{"unbind", 0, 0, true}, {"unbind", 0, 0, true}, {"unbind", 0, 0, false},
		}},
		{"edit with larger upper clears", 1, 0, []step{
			{"bind", 0, 0, true}, {"edit", 1, 0, true}, {"edit", 5, 0, false},
		}},
		{"edit to no upper clears", 1, 0, []step{
			{"bind", 0, 0, true}, {"edit", 0, 0, false}, {"bind", 0, 0, false},
		}},
		{"no thresholds: unbind clears", 1, 0, []step{
			{"bind", 0, 0, true}, {"bind", 0, 0, true}, {"edit", 1, 0, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, "wlc", 0, rs{"A", 1, tt.u, tt.l})
			d := dest(t, s, "A")
			for i, st := range tt.steps {
				switch st.op {
				case "bind":
					d.Bind(ConnInactive)
				case "unbind":
					d.Unbind(ConnInactive)
				case "edit":
					if _, err := s.UpdateDest(DestConfig{Addr: d.Addr, Port: 80, Weight: 1, UThreshold: st.u, LThreshold: st.l}); err != nil {
						t.Fatal(err)
					}
				}
				if got := d.Overloaded(); got != st.want {
					t.Fatalf("step %d (%s): overloaded = %v, want %v", i, st.op, got, st.want)
				}
				if got := s.Pick(clientFlow(1)) == nil; got != st.want {
					t.Fatalf("step %d: Pick nil = %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

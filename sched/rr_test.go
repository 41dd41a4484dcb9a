package sched

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListOrderNewestFirst(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "rr", 0, rs{"A", 1, 0, 0}, rs{"B", 1, 0, 0}, rs{"C", 1, 0, 0})
	if diff := cmp.Diff("CBA", order(s)); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	// A removed and re-added server moves to the front.
	if err := s.RemoveDest(rsAddr("B"), 80); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDest(DestConfig{Addr: rsAddr("B"), Port: 80, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("BCA", order(s)); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
}

// TestRR works ip_vs_rr_schedule by hand: the list is C B A (newest first),
// the position starts at the head, weight 0 and overloaded dests are
// skipped, and a removed position falls back to its predecessor.
func TestRR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		servers []rs
		edit    func(t *testing.T, s *Service)
		before  int
		want    string
	}{
		{name: "cycle", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 0, 0}, {"C", 1, 0, 0}}, want: "CBACBACBA"},
		{name: "weights ignored", servers: []rs{{"A", 5, 0, 0}, {"B", 1, 0, 0}}, want: "BABABA"},
		{name: "weight 0 skipped", servers: []rs{{"A", 1, 0, 0}, {"B", 0, 0, 0}, {"C", 1, 0, 0}}, want: "CACACA"},
		{name: "all quiescent", servers: []rs{{"A", 0, 0, 0}, {"B", 0, 0, 0}}, want: "---"},
		{name: "empty", want: "--"},
		{
			// After C, B: position on B; removing B moves it to C, so A is next.
			name: "remove position", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 0, 0}, {"C", 1, 0, 0}}, before: 2,
			edit: func(t *testing.T, s *Service) {
				if err := s.RemoveDest(rsAddr("B"), 80); err != nil {
					t.Fatal(err)
				}
			},
			want: "ACACA",
		},
		{
			// After C: position on C; removing C (the first) moves it to the head.
			name: "remove first", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 0, 0}, {"C", 1, 0, 0}}, before: 1,
			edit: func(t *testing.T, s *Service) {
				if err := s.RemoveDest(rsAddr("C"), 80); err != nil {
					t.Fatal(err)
				}
			},
			want: "BABA",
		},
		{
			// An add at the head does not move the position (still on B).
			name: "add keeps position", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 0, 0}, {"C", 1, 0, 0}}, before: 2,
			edit: func(t *testing.T, s *Service) {
				if _, err := s.AddDest(DestConfig{Addr: rsAddr("D"), Port: 80, Weight: 1}); err != nil {
					t.Fatal(err)
				}
			},
			want: "ADCBADCB",
		},
		{
			name: "overloaded skipped", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 1, 0}, {"C", 1, 0, 0}},
			edit: func(t *testing.T, s *Service) { dest(t, s, "B").Bind(ConnInactive) },
			want: "CACA",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, "rr", 0, tt.servers...)
			picks(s, tt.before)
			if tt.edit != nil {
				tt.edit(t, s)
			}
			if diff := cmp.Diff(tt.want, picks(s, len(tt.want))); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWRR works ip_vs_wrr_schedule by hand. Weights 4,3,2 added as A, B, C:
// the list is C B A; each add runs ip_vs_wrr_dest_changed, which leaves
// cw = 1 (A alone: di 4, mw 1; then di 1, mw 4, cw kept), so the first pass
// takes every dest, and then passes with cw = 4, 3, 2, 1 repeat A BA CBA CBA.
func TestWRR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		servers []rs
		edit    func(t *testing.T, s *Service)
		before  int
		want    string
	}{
		{name: "4,3,2", servers: []rs{{"A", 4, 0, 0}, {"B", 3, 0, 0}, {"C", 2, 0, 0}}, want: "CBA" + "ABACBACBA" + "ABACBACBA"},
		{name: "equal weights", servers: []rs{{"A", 2, 0, 0}, {"B", 2, 0, 0}}, want: "BABABA"},
		// A alone: di 6, mw 1, cw 1. Adding B: di 2, mw 6-(2-1) = 5, and
		// cw = (1/2)*2+1 = 1. So B A first, then passes cw = 5, 3, 1: A A BA.
		{name: "gcd 2", servers: []rs{{"A", 6, 0, 0}, {"B", 2, 0, 0}}, want: "BA" + "AABA" + "AABA"},
		{name: "weight 0", servers: []rs{{"A", 2, 0, 0}, {"B", 0, 0, 0}, {"C", 1, 0, 0}}, want: "CAACAA"},
		{name: "all zero", servers: []rs{{"A", 0, 0, 0}}, want: "--"},
		{
			// Only A (weight 3) is not overloaded: the passes for cw=3..1 all find it.
			name: "overloaded", servers: []rs{{"A", 3, 0, 0}, {"B", 5, 1, 0}, {"C", 4, 1, 0}},
			edit: func(t *testing.T, s *Service) {
				dest(t, s, "B").Bind(ConnInactive)
				dest(t, s, "C").Bind(ConnInactive)
			},
			want: "AAAAA",
		},
		{
			name: "all overloaded", servers: []rs{{"A", 3, 1, 0}, {"B", 5, 1, 0}},
			edit: func(t *testing.T, s *Service) {
				dest(t, s, "A").Bind(ConnInactive)
				dest(t, s, "B").Bind(ConnInactive)
			},
			want: "---",
		},
		{
			// An update puts cl back at the head; cw = 1 is kept (di = 1).
			name: "update resets cl", servers: []rs{{"A", 1, 0, 0}, {"B", 1, 0, 0}, {"C", 1, 0, 0}}, before: 2,
			edit: func(t *testing.T, s *Service) {
				if _, err := s.UpdateDest(DestConfig{Addr: rsAddr("A"), Port: 80, Weight: 1}); err != nil {
					t.Fatal(err)
				}
			},
			want: "CBACBA",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, "wrr", 0, tt.servers...)
			picks(s, tt.before)
			if tt.edit != nil {
				tt.edit(t, s)
			}
			if diff := cmp.Diff(tt.want, picks(s, len(tt.want))); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

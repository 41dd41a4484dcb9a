package sched

import (
	"errors"
	"testing"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sched, list string
		want        uint32
		err         error
	}{
		{"sh", "sh-fallback,sh-port", FlagSched1 | FlagSched2, nil},
		{"mh", "mh-port", FlagSched2, nil},
		{"mh", "flag-1", FlagSched1, nil},
		{"wrr", "", 0, nil},
		{"mh", "sh-port", 0, ErrFlag},
		{"wrr", "flag-1", 0, ErrFlag},
		{"sh", "flag-3", 0, ErrFlag},
		{"sh", "bogus", 0, ErrFlag},
		{"bogus", "", 0, ErrUnknownScheduler},
	}
	for _, tt := range tests {
		got, err := ParseFlags(tt.sched, tt.list)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) || got != tt.want {
			t.Errorf("ParseFlags(%q, %q) = %#x, %v; want %#x, %v", tt.sched, tt.list, got, err, tt.want, tt.err)
		}
	}
	if got := FlagString("sh", FlagSched1|FlagSched2); got != "sh-fallback,sh-port" {
		t.Errorf("FlagString = %q", got)
	}
	if _, err := New(Config{Scheduler: "wlc", Flags: FlagSched2}); !errors.Is(err, ErrFlag) {
		t.Errorf("New(wlc, sched2) = %v, want ErrFlag", err)
	}
	s, _ := New(Config{Scheduler: "rr"})
	if _, err := s.AddDest(DestConfig{Addr: rsAddr("A"), Weight: -1}); !errors.Is(err, ErrRange) {
		t.Errorf("negative weight: %v", err)
	}
	if _, err := s.AddDest(DestConfig{Addr: rsAddr("A"), Weight: 1, UThreshold: 1, LThreshold: 2}); !errors.Is(err, ErrRange) {
		t.Errorf("l > u: %v", err)
	}
	s.AddDest(DestConfig{Addr: rsAddr("A"), Weight: 1})
	if _, err := s.AddDest(DestConfig{Addr: rsAddr("A"), Weight: 1}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if err := s.RemoveDest(rsAddr("B"), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove missing: %v", err)
	}
}

// TestTrashRevival: a removed dest with connections comes back with them.
func TestTrashRevival(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "wlc", 0, rs{"A", 1, 0, 0})
	d := dest(t, s, "A")
	d.Bind(ConnInactive)
	s.RemoveDest(d.Addr, 80)
	if d.Available() {
		t.Fatal("removed dest still available")
	}
	d2, _ := s.AddDest(DestConfig{Addr: d.Addr, Port: 80, Weight: 2})
	if d2 != d || d2.InactiveConns() != 1 || !d2.Available() {
		t.Fatalf("revived %p (%d inactive), want %p with its connection", d2, d2.InactiveConns(), d)
	}
}

// TestSetScheduler keeps dests and counters and restarts the scheduler.
func TestSetScheduler(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "rr", 0, rs{"A", 1, 0, 0}, rs{"B", 1, 0, 0})
	picks(s, 1)
	if err := s.SetScheduler("wrr", 0); err != nil {
		t.Fatal(err)
	}
	if got := picks(s, 4); got != "BABA" {
		t.Errorf("picks = %s, want BABA", got)
	}
	if err := s.SetScheduler("sh", FlagSched3); !errors.Is(err, ErrFlag) {
		t.Errorf("SetScheduler(sh, flag-3) = %v", err)
	}
}

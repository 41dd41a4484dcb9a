package lvs

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/vrrp"
)

// recSyncer records SetSync calls; fail makes the next one fail.
type recSyncer struct {
	calls []string
	fail  error
	role  forward.SyncRole
}

func (s *recSyncer) SetSync(role forward.SyncRole, cfg forward.SyncConfig) error {
	name := role.String()
	if role == forward.SyncOff {
		name = "off"
	}
	s.calls = append(s.calls, name+" "+cfg.Interface)
	if err := s.fail; err != nil {
		s.fail = nil
		return err
	}
	s.role = role
	return nil
}

func (s *recSyncer) SyncStats() forward.SyncStats { return forward.SyncStats{Role: s.role.String()} }

// TestSyncFollows: lvs_sync_daemon starts a backup, is the master while
// its instance is, a backup otherwise, off when the instance stops; other
// instances and groups do not move it; a reload restarts it in its role
// with the new settings; a failed change is tried again at the next
// transition.
func TestSyncFollows(t *testing.T) {
	t.Parallel()
	s := &recSyncer{}
	l := NewSync(s, SyncSpec{Config: forward.SyncConfig{Interface: "eth0"}, Instance: "VI_1"}, nil)
	ev := func(name string, st vrrp.State, group bool) {
		l.Follow(vrrp.Event{Name: name, State: st, Group: group})
	}
	ev("VI_1", vrrp.StateMaster, false)
	ev("VI_2", vrrp.StateBackup, false)
	ev("VI_1", vrrp.StateBackup, true)
	l.Reload(SyncSpec{Config: forward.SyncConfig{Interface: "eth1"}, Instance: "VI_1"})
	ev("VI_1", vrrp.StateFault, false)
	s.fail = errors.New("no such interface")
	ev("VI_1", vrrp.StateMaster, false)
	ev("VI_1", vrrp.StateMaster, false)
	ev("VI_1", vrrp.StateStop, false)
	want := []string{"backup eth0", "master eth0", "master eth1", "backup eth1", "master eth1", "master eth1", "off eth1"}
	if !slices.Equal(s.calls, want) {
		t.Errorf("SetSync calls %q, want %q", s.calls, want)
	}
	if st := l.Status(); !strings.HasPrefix(st, "off on eth1 (instance VI_1)") {
		t.Errorf("status %q", st)
	}
	var none *Sync
	none.Follow(vrrp.Event{Name: "VI_1", State: vrrp.StateMaster})
	if none.Status() != "" {
		t.Error("a nil Sync has a status")
	}
}

package ipvs

import (
	"testing"

	"github.com/ulvs/ulvs/internal/ctl"
)

// TestServiceFlags pins the kernel's service flags to those ulvsadm's view
// carries (internal/ctl): the same IP_VS_SVC_F_* bits, in two packages
// that must not import each other. The scheduler's bits have one home,
// package sched.
func TestServiceFlags(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		name        string
		kernel, ctl uint32
	}{
		{"PERSISTENT", flagPersistent, ctl.FlagPersistent},
		{"HASHED", flagHashed, ctl.FlagHashed},
		{"ONEPACKET", flagOnePacket, ctl.FlagOnePacket},
	} {
		if f.kernel != f.ctl {
			t.Errorf("IP_VS_SVC_F_%s: %#x here, %#x in internal/ctl", f.name, f.kernel, f.ctl)
		}
	}
}

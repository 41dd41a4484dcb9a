package ipvs

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/forward"
)

// TestNewWithoutIPVS runs where the kernel has no IPVS (as on the machines
// ulvs is built for): New must fail at once, with ErrUnavailable and a
// message that says what to do.
func TestNewWithoutIPVS(t *testing.T) {
	t.Parallel()
	if ipvsFamily() == nil {
		t.Skip("this kernel has IPVS; the VM tests cover New on such a kernel")
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS")
	}
	b, err := New(nil)
	if err == nil {
		b.Close()
		if ipvsFamily() == nil {
			t.Skip("modprobe loaded ip_vs on this host")
		}
		t.Fatal("New succeeded on a kernel without IPVS")
	}
	if !errors.Is(err, forward.ErrUnavailable) {
		t.Errorf("error %v does not wrap forward.ErrUnavailable", err)
	}
	for _, want := range []string{"forward/ipvs: this kernel has no IPVS", "use the userspace backend", "backend unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Log(err)
}

package ipvs

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/forward"
)

var (
	vip  = netip.MustParseAddr("198.18.0.100")
	rs1  = netip.MustParseAddr("198.18.0.11")
	rs2  = netip.MustParseAddr("198.18.0.12")
	sry  = netip.MustParseAddr("198.18.0.13")
	web  = forward.ServiceKey{Addr: vip, Port: 80, Proto: forward.TCP}
	dns  = forward.ServiceKey{Addr: vip, Port: 53, Proto: forward.UDP}
	mark = forward.ServiceKey{Addr: netip.IPv4Unspecified(), FWMark: 7}
)

func newTest(t *testing.T) (*Backend, *fakeKernel) {
	t.Helper()
	k := &fakeKernel{}
	b, err := newBackend(k, &Config{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b.connFile = filepath.Join(t.TempDir(), "ip_vs_conn")
	return b, k
}

// TestBackendStates applies a sequence of operations and compares the
// kernel table after each with the expected rendering (tailscale's
// reconciler tests).
func TestBackendStates(t *testing.T) {
	t.Parallel()
	b, k := newTest(t)
	sorry := &forward.RealConfig{Addr: sry, Port: 80}
	steps := []struct {
		name string
		op   func() error
		want string
	}{
		{"service with a sorry server: the sorry server serves", func() error {
			return b.AddService(forward.ServiceConfig{Key: web, Scheduler: "wrr", Method: forward.DR, Sorry: sorry})
		}, `TCP 198.18.0.100:80 wrr flags=0x0
  -> 198.18.0.13:80 DR 1`},
		{"first real server with a weight: the sorry server leaves", func() error {
			return b.AddReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 1})
		}, `TCP 198.18.0.100:80 wrr flags=0x0
  -> 198.18.0.11:80 DR 1`},
		{"second real server goes to the head of the list", func() error {
			return b.AddReal(web, forward.RealConfig{Addr: rs2, Port: 80, Weight: 3})
		}, `TCP 198.18.0.100:80 wrr flags=0x0
  -> 198.18.0.12:80 DR 3
  -> 198.18.0.11:80 DR 1`},
		{"both quiescent: the sorry server is back", func() error {
			if err := b.UpdateReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 0}); err != nil {
				return err
			}
			return b.UpdateReal(web, forward.RealConfig{Addr: rs2, Port: 80, Weight: 0})
		}, `TCP 198.18.0.100:80 wrr flags=0x0
  -> 198.18.0.13:80 DR 1
  -> 198.18.0.12:80 DR 0
  -> 198.18.0.11:80 DR 0`},
		{"one back up", func() error {
			return b.UpdateReal(web, forward.RealConfig{Addr: rs2, Port: 80, Weight: 2})
		}, `TCP 198.18.0.100:80 wrr flags=0x0
  -> 198.18.0.12:80 DR 2
  -> 198.18.0.11:80 DR 0`},
		{"persistence /24, NAT by default, one real server stays DR", func() error {
			if err := b.UpdateReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 1, Method: forward.DR, MethodSet: true}); err != nil {
				return err
			}
			return b.UpdateService(forward.ServiceConfig{Key: web, Scheduler: "rr", Method: forward.NAT, Sorry: sorry,
				Persistence: 300 * time.Second, Granularity: 24})
		}, `TCP 198.18.0.100:80 rr flags=0x1 persistent 300 /24
  -> 198.18.0.12:80 NAT 2
  -> 198.18.0.11:80 DR 1`},
		{"a UDP service with ops and sh flags, and a fwmark service", func() error {
			if err := b.AddService(forward.ServiceConfig{Key: dns, Scheduler: "sh", SchedFlags: 0x18, OnePacket: true}); err != nil {
				return err
			}
			return b.AddService(forward.ServiceConfig{Key: mark, Scheduler: "mh", Method: forward.TUN})
		}, `TCP 198.18.0.100:80 rr flags=0x1 persistent 300 /24
  -> 198.18.0.12:80 NAT 2
  -> 198.18.0.11:80 DR 1
UDP 198.18.0.100:53 sh flags=0x1c
FWM 7 mh flags=0x0`},
		{"VIP disabled: its services leave the kernel, the fwmark one stays", func() error {
			return b.SetVIP(vip, false)
		}, `FWM 7 mh flags=0x0`},
		{"a real server changed while disabled", func() error {
			return b.AddReal(dns, forward.RealConfig{Addr: rs1, Port: 53, Weight: 1})
		}, `FWM 7 mh flags=0x0`},
		{"VIP enabled: services and real servers return in their order", func() error {
			return b.SetVIP(vip, true)
		}, `TCP 198.18.0.100:80 rr flags=0x1 persistent 300 /24
  -> 198.18.0.12:80 NAT 2
  -> 198.18.0.11:80 DR 1
UDP 198.18.0.100:53 sh flags=0x1c
  -> 198.18.0.11:53 NAT 1
FWM 7 mh flags=0x0`},
		{"real server deleted", func() error {
			return b.DeleteReal(web, netip.AddrPortFrom(rs2, 80))
		}, `TCP 198.18.0.100:80 rr flags=0x1 persistent 300 /24
  -> 198.18.0.11:80 DR 1
UDP 198.18.0.100:53 sh flags=0x1c
  -> 198.18.0.11:53 NAT 1
FWM 7 mh flags=0x0`},
		{"service deleted", func() error { return b.DeleteService(dns) }, `TCP 198.18.0.100:80 rr flags=0x1 persistent 300 /24
  -> 198.18.0.11:80 DR 1
FWM 7 mh flags=0x0`},
	}
	for _, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, k.render()); diff != "" {
			t.Fatalf("%s: kernel table (-want +got):\n%s", s.name, diff)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := k.render(); got != "" || !k.closed {
		t.Errorf("after Close the kernel holds:\n%s\n(closed=%v)", got, k.closed)
	}
}

func TestBackendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   func(b *Backend) error
		is   error
		msg  string
	}{
		{"service twice", func(b *Backend) error { return b.AddService(forward.ServiceConfig{Key: web}) }, forward.ErrExists, ""},
		{"unknown service", func(b *Backend) error { return b.DeleteService(dns) }, forward.ErrNotFound, ""},
		{"real twice", func(b *Backend) error {
			return b.AddReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 1})
		}, forward.ErrExists, ""},
		{"unknown real", func(b *Backend) error {
			return b.UpdateReal(web, forward.RealConfig{Addr: rs2, Port: 80, Weight: 1})
		}, forward.ErrNotFound, ""},
		{"delete unknown real", func(b *Backend) error { return b.DeleteReal(web, netip.AddrPortFrom(rs2, 80)) },
			forward.ErrNotFound, ""},
		{"weight above 65535", func(b *Backend) error {
			return b.AddReal(web, forward.RealConfig{Addr: rs2, Port: 80, Weight: 70000})
		}, forward.ErrUnsupported, "outside 0..65535"},
		{"ops on TCP", func(b *Backend) error {
			return b.AddService(forward.ServiceConfig{Key: forward.ServiceKey{Addr: vip, Port: 81, Proto: forward.TCP}, OnePacket: true})
		}, nil, "ops applies to UDP only"},
		{"granularity /33", func(b *Backend) error {
			return b.AddService(forward.ServiceConfig{Key: dns, Granularity: 33})
		}, nil, "granularity /33"},
		{"bad protocol", func(b *Backend) error {
			return b.AddService(forward.ServiceConfig{Key: forward.ServiceKey{Addr: vip, Port: 1, Proto: 1}})
		}, nil, "protocol 1"},
		{"bad scheduler flag", func(b *Backend) error {
			return b.AddService(forward.ServiceConfig{Key: dns, SchedFlags: 0x40})
		}, nil, "scheduler flags 0x40"},
		{"fractional timeout", func(b *Backend) error {
			return b.SetTimeouts(forward.Timeouts{TCP: 1500 * time.Millisecond})
		}, nil, "not whole seconds"},
		{"kernel refuses a real server", func(b *Backend) error {
			return b.AddReal(web, forward.RealConfig{Addr: netip.MustParseAddr("198.18.0.66"), Port: 80, Weight: 1})
		}, nil, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, k := newTest(t)
			k.failAdd = "198.18.0.66"
			if err := b.AddService(forward.ServiceConfig{Key: web, Scheduler: "rr", Method: forward.DR}); err != nil {
				t.Fatal(err)
			}
			if err := b.AddReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 1}); err != nil {
				t.Fatal(err)
			}
			before := k.render()
			err := tt.op(b)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "forward/ipvs: ") {
				t.Errorf("error %q: want prefix forward/ipvs: and %q", err, tt.msg)
			}
			if diff := cmp.Diff(before, k.render()); diff != "" {
				t.Errorf("a failed operation changed the kernel (-before +after):\n%s", diff)
			}
		})
	}
}

func TestBackendClosed(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.AddService(forward.ServiceConfig{Key: web}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("AddService after Close: %v", err)
	}
	if s := b.Services(); s != nil {
		t.Errorf("Services after Close: %v", s)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBackendKeepOnCloseAndFlush(t *testing.T) {
	t.Parallel()
	k := &fakeKernel{}
	_ = k.AddService(kService{Addr: rs2, Proto: forward.TCP, Port: 8080, Sched: "rr"})
	b, err := newBackend(k, &Config{Flush: true, KeepOnClose: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := k.render(); got != "" {
		t.Fatalf("Flush left:\n%s", got)
	}
	if err := b.AddService(forward.ServiceConfig{Key: web, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := k.render(), "TCP 198.18.0.100:80 rr flags=0x0"; got != want {
		t.Errorf("KeepOnClose: kernel holds %q, want %q", got, want)
	}
}

func TestBackendTimeouts(t *testing.T) {
	t.Parallel()
	b, k := newTest(t)
	if err := b.SetTimeouts(forward.Timeouts{TCP: 900 * time.Second, UDP: 300 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetTimeouts(forward.Timeouts{TCPFin: 120 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([3]uint32{900, 120, 300}, k.tmo); diff != "" {
		t.Errorf("timeouts (-want +got):\n%s", diff)
	}
}

// TestServicesReadBack checks that Services reports the kernel's table,
// with what the kernel does not keep merged in, and counts templates.
func TestServicesReadBack(t *testing.T) {
	t.Parallel()
	b, k := newTest(t)
	sorry := &forward.RealConfig{Addr: sry, Port: 80}
	cfg := forward.ServiceConfig{Key: web, Scheduler: "wlc", Method: forward.DR, Persistence: 50 * time.Second,
		Granularity: 24, Sorry: sorry}
	if err := b.AddService(cfg); err != nil {
		t.Fatal(err)
	}
	if err := b.AddReal(web, forward.RealConfig{Addr: rs1, Port: 80, Weight: 2, UThreshold: 100, LThreshold: 10}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddReal(web, forward.RealConfig{Addr: rs2, Port: 8080, Weight: 1, Method: forward.NAT, MethodSet: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddService(forward.ServiceConfig{Key: dns, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetVIP(vip, false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetVIP(vip, true); err != nil {
		t.Fatal(err)
	}
	// The kernel's counters, as netlink would report them.
	x := k.find(kservice(cfg))
	x.s.Stats = forward.Stats{Conns: 3, InPkts: 30, OutPkts: 20, InBytes: 3000, OutBytes: 9000}
	x.dests[1].Active, x.dests[1].Inactive = 2, 1
	conns := "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n" +
		"TCP C6120000 0000 C6120064 0050 C612000B 0050 NONE            49\n" +
		"TCP C6120100 0000 C6120064 0050 C612000B 0050 NONE            12\n" +
		"TCP C6120001 9C40 C6120064 0050 C612000B 0050 ESTABLISHED    899\n"
	if err := os.WriteFile(b.connFile, []byte(conns), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []forward.ServiceStatus{
		{
			Config: cfg, Enabled: true, Stats: x.s.Stats,
			Reals: []forward.RealStatus{
				{Config: forward.RealConfig{Addr: rs2, Port: 8080, Weight: 1, Method: forward.NAT, MethodSet: true}, Method: forward.NAT},
				{Config: forward.RealConfig{Addr: rs1, Port: 80, Weight: 2, UThreshold: 100, LThreshold: 10, Method: forward.DR},
					Method: forward.DR, ActiveConns: 2, InactiveConns: 1, PersistConns: 2},
			},
		},
		{Config: forward.ServiceConfig{Key: dns, Scheduler: "rr"}, Enabled: true},
	}
	if diff := cmp.Diff(want, b.Services(), addrs); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	if err := b.SetVIP(vip, false); err != nil {
		t.Fatal(err)
	}
	got := b.Services()
	if len(got) != 2 || got[0].Enabled || got[0].Stats != (forward.Stats{}) || len(got[0].Reals) != 2 {
		t.Errorf("disabled services are reported from the configuration without counters: %+v", got)
	}
}

// addrs compares netip values by ==.
var addrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

package forward

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"net/rpc"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward/tunnel"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// childConfig is what a test hands the forwarder it runs in the director's
// namespace: a forward Config built by hand, as cmd/ulvsd would from a
// keepalived virtual_server.
type childConfig struct {
	Config   Config
	Timeouts Timeouts
	Services []childService
	Sock     string
}

type childService struct {
	Service ServiceConfig
	Reals   []RealConfig
}

// Ctl is the test-only control the forwarder child serves over net/rpc.
type Ctl struct{ u *Userspace }

// RealArgs names a service and a real server.
type RealArgs struct {
	Key  ServiceKey
	Real RealConfig
}

func (c *Ctl) AddReal(a RealArgs, _ *bool) error    { return c.u.AddReal(a.Key, a.Real) }
func (c *Ctl) UpdateReal(a RealArgs, _ *bool) error { return c.u.UpdateReal(a.Key, a.Real) }
func (c *Ctl) Drops(_ bool, out *Drops) error       { *out = c.u.Drops(); return nil }
func (c *Ctl) DeleteReal(a RealArgs, _ *bool) error {
	return c.u.DeleteReal(a.Key, netip.AddrPortFrom(a.Real.Addr, a.Real.Port))
}
func (c *Ctl) Services(_ bool, out *[]ServiceStatus) error { *out = c.u.Services(); return nil }
func (c *Ctl) Conns(_ bool, out *[]Conn) error             { *out = c.u.Conns(); return nil }
func (c *Ctl) IO(_ bool, out *[]IOStatus) error            { *out = c.u.IO(); return nil }
func (c *Ctl) FastPath(_ bool, out *FastPathStats) error   { *out = c.u.FastPath(); return nil }

// TestForwarderChild is the forwarder process of the integration tests
// (run through topotest.Reexec inside the director's namespace).
func TestForwarderChild(t *testing.T) {
	if !topotest.InReexec("TestForwarderChild") {
		return
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(os.Getenv("ULVS_FWD_CONFIG")), &cc); err != nil {
		t.Fatal(err)
	}
	log, _ := zap.NewDevelopment()
	cc.Config.Logger = log
	u, err := NewUserspace(&cc.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetTimeouts(cc.Timeouts); err != nil {
		t.Fatal(err)
	}
	for _, s := range cc.Services {
		if err := u.AddService(s.Service); err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Reals {
			if err := u.AddReal(s.Service.Key, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := rpc.NewServer()
	if err := srv.Register(&Ctl{u: u}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", cc.Sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Accept(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ln.Close()
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	log.Info("forwarder stopped")
}

// TestDecapChild runs the TUN decapsulator inside a real server's
// namespace.
func TestDecapChild(t *testing.T) {
	if !topotest.InReexec("TestDecapChild") {
		return
	}
	log, _ := zap.NewDevelopment()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := tunnel.Run(ctx, tunnel.Config{Logger: log}); err != nil {
		t.Fatal(err)
	}
}

// startForwarder runs the forwarder in the node and returns its control.
func startForwarder(t *testing.T, n *topo.Node, cc childConfig) (*rpc.Client, *topo.Proc) {
	t.Helper()
	cc.Sock = t.TempDir() + "/ctl.sock"
	b, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	p := topotest.Reexec(t, n, "TestForwarderChild", "ULVS_FWD_CONFIG="+string(b))
	var c *rpc.Client
	topotest.Eventually(t, 10*time.Second, "forwarder control socket", func() bool {
		if ok, _ := p.Exited(); ok {
			t.Fatalf("forwarder exited:\n%s", p.Log())
		}
		c, err = rpc.Dial("unix", cc.Sock)
		return err == nil
	})
	t.Cleanup(func() { c.Close() })
	topotest.Eventually(t, 10*time.Second, "next hops of the real servers resolved", func() bool {
		var st []ServiceStatus
		if err := c.Call("Ctl.Services", true, &st); err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			for _, r := range s.Reals {
				if r.NextHop == "" {
					return false
				}
			}
		}
		return true
	})
	return c, p
}

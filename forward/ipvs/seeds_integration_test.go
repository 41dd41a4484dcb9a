package ipvs_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// seedService is a virtual_server of a seed config, translated to the
// backend's types the way ulvsd translates conf's.
type seedService struct {
	cfg   forward.ServiceConfig
	reals []forward.RealConfig
}

// loadSeed reads a seed config from testdata/seed-configs through package
// conf, after edit (nil: none) rewrites its text, and translates its
// virtual servers with their addresses moved into the lab: VIPs, real
// servers and sorry servers take labVIPs, labReals and labSorry in order of
// appearance.
func loadSeed(t *testing.T, name string, edit func(string) string) []seedService {
	t.Helper()
	path := topotest.SeedConfig(t, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	res, err := conf.Parse(path, []byte(text), conf.Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	remap := map[netip.Addr]netip.Addr{}
	pools := map[string][]netip.Addr{"vip": labVIPs, "real": labReals, "sorry": {labSorry}}
	move := func(kind string, a netip.Addr) netip.Addr {
		if m, ok := remap[a]; ok {
			return m
		}
		if len(pools[kind]) == 0 {
			t.Fatalf("%s: more %s addresses than the lab has", name, kind)
		}
		remap[a], pools[kind] = pools[kind][0], pools[kind][1:]
		return remap[a]
	}
	var out []seedService
	for _, vs := range res.Config.VirtualServers {
		if !vs.Addr.IsValid() {
			t.Fatalf("%s:%d: only address virtual servers are translated here", name, vs.Pos.Line)
		}
		method, err := forward.ParseMethod(vs.Method.Kind)
		if err != nil {
			t.Fatal(err)
		}
		proto := map[string]uint8{"TCP": forward.TCP, "UDP": forward.UDP, "SCTP": forward.SCTP}[vs.Protocol]
		s := seedService{cfg: forward.ServiceConfig{
			Key:       forward.ServiceKey{Addr: move("vip", vs.Addr), Port: vs.Port, Proto: proto},
			Scheduler: vs.Sched, SchedFlags: vs.SchedFlags, Persistence: vs.PersistenceTimeout, OnePacket: vs.OPS,
			Method: method,
		}}
		// conf gives /32 (or /128) for an unset granularity; the backend's
		// 0 means the same.
		if vs.PersistenceGranularity != vs.Addr.BitLen() {
			s.cfg.Granularity = vs.PersistenceGranularity
		}
		if ss := vs.SorryServer; ss != nil {
			s.cfg.Sorry = &forward.RealConfig{Addr: move("sorry", ss.Addr), Port: ss.Port}
			if ss.Method != nil {
				m, err := forward.ParseMethod(ss.Method.Kind)
				if err != nil {
					t.Fatal(err)
				}
				s.cfg.Sorry.Method, s.cfg.Sorry.MethodSet = m, m != method
			}
		}
		for _, rs := range vs.RealServers {
			r := forward.RealConfig{Addr: move("real", rs.Addr), Port: rs.Port, Weight: int32(rs.Weight),
				UThreshold: rs.UThreshold, LThreshold: rs.LThreshold}
			if m, err := forward.ParseMethod(rs.Method.Kind); err == nil && m != method {
				r.Method, r.MethodSet = m, true
			}
			s.reals = append(s.reals, r)
		}
		out = append(out, s)
	}
	return out
}

// asNAT turns a seed's DR virtual servers into NAT ones: the seeds hold no
// NAT config, and NAT is the mode that rewrites both directions.
func asNAT(s string) string { return strings.ReplaceAll(s, "lb_kind DR", "lb_kind NAT") }

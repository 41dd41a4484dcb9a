package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// TestRejectionsLogged: adverts the receive checks refuse are logged in
// keepalived's words ("(VI_1) invalid ttl. 254 and expect 255"), at most a
// few a minute per instance and kind whatever an attacker sends, with the
// number left out; checksum errors are counted. They used to be counted
// only.
func TestRejectionsLogged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lan, ha, _ := pair(t)
		core, logs := observer.New(zapcore.InfoLevel)
		cfg := Config{Instances: []Instance{inst("VI_1", 51, 150)}}
		cfg.Logger = zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
		tn := startNode(t, ha, nil, cfg)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if tn.state("VI_1") != StateMaster {
			t.Fatalf("VI_1 is %v", tn.state("VI_1"))
		}
		attacker := netip.MustParseAddr("198.18.0.66")
		hostile := func(ttl uint8, mod func(b []byte)) *Packet {
			a := Advert{Version: 2, Family: IPv4, VRID: 51, Priority: 255, AdverInt: 1, AuthType: AuthNone,
				Addrs: []netip.Addr{vip}}
			if err := a.SetChecksum(nil); err != nil {
				t.Fatal(err)
			}
			b, err := a.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if mod != nil {
				mod(b)
			}
			return &Packet{Src: attacker, Dst: netip.MustParseAddr("224.0.0.18"), TTL: ttl, Proto: ProtoVRRP, Payload: b}
		}
		for range 1000 {
			lan.Inject(ha, hostile(254, nil))
		}
		for range 50 {
			lan.Inject(ha, hostile(255, func(b []byte) { b[6] ^= 0xff }))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		ttlLogs := logs.FilterMessage("(VI_1) invalid ttl. 254 and expect 255").All()
		csumLogs := logs.FilterMessage("(VI_1) Invalid VRRPv2 checksum").All()
		if len(ttlLogs) == 0 || len(csumLogs) == 0 {
			var got []string
			for _, e := range logs.All() {
				got = append(got, e.Message)
			}
			t.Fatalf("rejections not logged in keepalived's words; logged:\n%s", strings.Join(got, "\n"))
		}
		if len(ttlLogs) > rejectBurst || len(csumLogs) > rejectBurst {
			t.Errorf("%d and %d rejection lines for 1,000 and 50 packets in a second, burst %d", len(ttlLogs), len(csumLogs), rejectBurst)
		}
		if ttlLogs[0].ContextMap()["src"] != attacker.String() {
			t.Errorf("the log does not name the sender: %v", ttlLogs[0].ContextMap())
		}
		st := tn.n.Status().Instances[0].Stats
		if st.IPTTLErr != 1000 || st.ChecksumErr != 50 {
			t.Errorf("counted %d TTL and %d checksum errors, want 1000 and 50", st.IPTTLErr, st.ChecksumErr)
		}
		// A minute later the next one is logged again, saying how many
		// were left out.
		time.Sleep(time.Minute)
		lan.Inject(ha, hostile(254, nil))
		time.Sleep(time.Second)
		synctest.Wait()
		ttlLogs = logs.FilterMessage("(VI_1) invalid ttl. 254 and expect 255").All()
		last := ttlLogs[len(ttlLogs)-1].ContextMap()
		if n, _ := last["suppressed"].(uint64); n != 1000-rejectBurst {
			t.Errorf("the next line says %v were left out, want %d: %v", last["suppressed"], 1000-rejectBurst, last)
		}
		if tn.state("VI_1") != StateMaster {
			t.Errorf("the hostile adverts moved VI_1 to %v", tn.state("VI_1"))
		}
	})
}

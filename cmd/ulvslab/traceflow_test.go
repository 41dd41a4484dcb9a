package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	cport = 40000
	mac2  = "02:00:00:00:00:03" // director2
	macC  = macClient
	macD  = macDir
	macR  = macRS
)

var testNames = names{
	macs: map[string]string{macClient: "client", macDir: "director1", mac2: "director2", macRS: "rs2"},
	addrs: map[netip.Addr]string{ipClient: "client", ipDir: "director1", ipVIP: "VIP", ipRS: "rs2", ipRSNAT: "rs2",
		netip.MustParseAddr("198.18.1.2"): "director1"},
}

// view builds a node's port view from the frames it sent or received.
func view(name, mac string, frames ...summary) portView {
	v := portView{Name: name, MAC: mac}
	for _, f := range frames {
		v.Frames = append(v.Frames, seen{S: f})
	}
	return v
}

// story renders steps as "node verb: first note".
func story(steps []traceStep) []string {
	var out []string
	for _, s := range steps {
		l := s.Node + " " + s.Verb
		if len(s.Notes) > 0 {
			l += ": " + s.Notes[0]
		}
		out = append(out, l)
	}
	return out
}

func TestFlow(t *testing.T) {
	t.Parallel()
	cSYN := syn(macC, macD, ipClient, ipVIP, cport, 80)
	// DR: the director rewrites the MACs only; rs2 answers the client.
	drOut := syn(macD, macR, ipClient, ipVIP, cport, 80)
	drAns := synack(macR, macC, ipVIP, ipClient, 80, cport)
	// NAT: destination rewritten; the answer comes back through the
	// director, which rewrites its source.
	natOut := syn(macD, macR, ipClient, ipRSNAT, cport, 80)
	natOut.IP.TTL = 63
	natAns := synack(macR, macD, ipRSNAT, ipClient, 80, cport)
	natBack := synack(macD, macC, ipVIP, ipClient, 80, cport)
	natBack.IP.TTL = 63
	// TUN: an outer IPIP header from the director to rs2.
	tunOut := tunnelled(syn(macD, macR, ipClient, ipVIP, cport, 80), ipDir, ipRS)
	// VRRP only: the director holds the VIP and answers itself.
	dirAns := synack(macD, macC, ipVIP, ipClient, 80, cport)

	for _, tc := range []struct {
		name    string
		views   []portView
		want    []string
		wantErr string
	}{
		{
			name: "DR",
			views: []portView{
				view("client", macC, cSYN, drAns),
				view("director1", macD, cSYN, drOut),
				view("director2", mac2), // the backup saw nothing
				view("rs2", macR, drOut, drAns),
			},
			want: []string{
				"client sends the SYN",
				"director1 forwards it: DR: dst MAC director1→rs2, IP unchanged",
				"rs2 answers: DR: rs2 holds the VIP on lo and answers from it straight to the client (dst MAC client): the answer never passes the director",
				"client receives the answer: the answer comes from 198.18.0.100:80, the address the client connected to (Ethernet from rs2)",
			},
		},
		{
			name: "NAT",
			views: []portView{
				view("client", macC, cSYN, natBack),
				view("director1", macD, cSYN, natOut, natAns, natBack),
				view("rs2", macR, natOut, natAns),
			},
			want: []string{
				"client sends the SYN",
				"director1 forwards it: NAT: dst 198.18.0.100:80 → 198.18.1.12:80",
				"rs2 answers: NAT: rs2 answers from its own address 198.18.1.12:80 to the client, through its default gateway (dst MAC director1): the answer must pass the director to be rewritten",
				"director1 forwards the answer: NAT: src 198.18.1.12:80 → 198.18.0.100:80",
				"client receives the answer: the answer comes from 198.18.0.100:80, the address the client connected to (Ethernet from director1)",
			},
		},
		{
			name: "TUN",
			views: []portView{
				view("client", macC, cSYN, drAns),
				view("director1", macD, cSYN, tunOut),
				view("rs2", macR, tunOut, drAns),
			},
			want: []string{
				"client sends the SYN",
				"director1 forwards it: TUN: outer IPIP director1→rs2 (198.18.0.2 → 198.18.0.12) wraps the packet; inner IP unchanged",
				"rs2 answers: TUN: rs2 took the packet out of the tunnel (its decapsulator) and answers from the VIP 198.18.0.100 straight to the client (dst MAC client): the answer never passes the director",
				"client receives the answer: the answer comes from 198.18.0.100:80, the address the client connected to (Ethernet from rs2)",
			},
		},
		{
			name: "VRRP only",
			views: []portView{
				view("client", macC, cSYN, dirAns),
				view("director1", macD, cSYN, dirAns),
			},
			want: []string{
				"client sends the SYN",
				"director1 answers: no forwarding: director1 holds 198.18.0.100 itself and answers",
				"client receives the answer: the answer comes from 198.18.0.100:80, the address the client connected to (Ethernet from director1)",
			},
		},
		{
			name:    "dropped at the director",
			views:   []portView{view("client", macC, cSYN), view("director1", macD, cSYN, drOut), view("rs2", macR)},
			want:    []string{"client sends the SYN", "director1 forwards it: DR: dst MAC director1→rs2, IP unchanged"},
			wantErr: "nobody received the SYN director1 sent",
		},
		{
			name:    "no answer",
			views:   []portView{view("client", macC, cSYN), view("director1", macD, cSYN)},
			want:    []string{"client sends the SYN"},
			wantErr: "director1 received the SYN but did not answer",
		},
		{
			name:    "nothing sent",
			views:   []portView{view("client", macC)},
			wantErr: "the client sent no SYN",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			steps, err := flow(tc.views, "client", testNames)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, story(steps)); diff != "" {
				t.Errorf("story (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFrameLinesMarkChanges: the changed headers get a "*".
func TestFrameLinesMarkChanges(t *testing.T) {
	t.Parallel()
	in := syn(macC, macD, ipClient, ipVIP, cport, 80)
	out := syn(macD, macR, ipClient, ipRSNAT, cport, 80)
	want := []string{
		"eth   director1 → rs2   (02:00:00:00:00:02 → 02:00:00:00:00:12) *",
		"ip    198.18.0.1 (client) → 198.18.1.12 (rs2)   ttl 64 *",
		"tcp   40000 → 80   [SYN]",
	}
	if diff := cmp.Diff(want, out.lines(testNames, &in)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	tun := tunnelled(in, ipDir, ipRS)
	got := tun.lines(testNames, &in)
	if len(got) != 4 || !strings.HasSuffix(got[1], "*") || strings.HasSuffix(got[2], "*") {
		t.Errorf("IPIP: the outer header is new, the inner unchanged:\n%s", strings.Join(got, "\n"))
	}
}

package test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestSyncAfterLinkCut: the master's link is cut; the backup takes over
// and a download starts through it; the link comes back and the first
// director, preferred, takes the VIP back: it must have learnt the
// download from the backup's lvs_sync_daemon meanwhile, so the download
// finishes whole. (Found by make chaos: downloads begun during a link
// cut broke when the director came back.)
func TestSyncAfterLinkCut(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	d1n := l.node("dir1", "198.18.0.2")
	d2n := l.node("dir2", "198.18.0.3")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB at 256 KiB/s: 8 s
	for i, a := range []string{"198.18.0.11", "198.18.0.12"} {
		rs := l.drRealServing(fmt.Sprintf("rs%d", i+1), a, []string{"198.18.0.100"},
			topo.NginxConfig{LimitRate: "256k", Files: map[string][]byte{"/big": big}})
		// Segments as a wire carries them. With TSO a veth hands the
		// client 64 KiB at once and it acknowledges a few times a second,
		// so the sync master's refresh of the connection (every 50th client
		// packet, as IPVS's sync_period) could come only after director1
		// has taken the VIP back.
		topotest.Run(t, rs.Node, "ethtool", "-K", "eth0", "tso", "off", "gso", "off")
	}
	d1 := l.ulvsd(d1n, syncConf("MASTER", 150))
	d2 := l.ulvsd(d2n, syncConf("BACKUP", 100))
	d1.waitState("VI_1", "MASTER", 10*time.Second)
	d2.waitState("VI_1", "BACKUP", 10*time.Second)
	waitReals(t, d1, "198.18.0.11:80", "198.18.0.12:80")
	waitReals(t, d2, "198.18.0.11:80", "198.18.0.12:80")

	topotest.Run(t, d1n, "ip", "link", "set", "eth0", "down")
	d2.waitState("VI_1", "MASTER", 10*time.Second)
	d1.waitState("VI_1", "FAULT", 5*time.Second)
	dl := l.download(client, "http://198.18.0.100/big")
	var real string
	topotest.Eventually(t, 5*time.Second, "the download never showed in director2's table", func() bool {
		real = clientConn(d2)
		return real != ""
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("download: %s\ndir1 status:\n%s\ndir1 connections:\n%s", dl.Log(), d1.mustAdm("status"), d1.mustAdm("-Lnc"))
		}
	})
	topotest.Run(t, d1n, "ip", "link", "set", "eth0", "up")
	topotest.Eventually(t, 5*time.Second, "director1 never learnt the download from director2", func() bool {
		return clientConn(d1) == real
	})
	d1.waitState("VI_1", "MASTER", 10*time.Second)
	wantDownload(t, dl, len(big), 40*time.Second, "link cut and the preemption back")
}

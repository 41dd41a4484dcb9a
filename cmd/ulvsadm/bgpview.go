package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
)

// printBGP prints ulvsadm bgp: the neighbours with their BFD, then every
// prefix, announced or withdrawn, with the reason.
func printBGP(w io.Writer, b *ctl.BGP) {
	if b == nil {
		return
	}
	fmt.Fprintf(w, "BGP router id %s, local AS %d\n", b.RouterID, b.LocalAS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Neighbor\tAS\tState\tFor\tHold\tBFD\tFlaps\tLast down")
	for _, n := range b.Neighbors {
		bfd := n.BFD
		if n.BFDDetect != "" {
			bfd += " (" + n.BFDDetect + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%gs\t%s\t%d\t%s\n", n.Addr, n.RemoteAS, n.State, ago(n.Since), n.HoldTime, bfd, n.Flaps, n.LastDown)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Prefix\tState\tFor\tDirectors\tVirtual servers\tWhy")
	for _, p := range b.Prefixes {
		st := "withdrawn"
		if p.Announced {
			st = "announced"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Prefix, st, ago(p.Since), p.Directors, strings.Join(p.VirtualServers, ", "), p.Reason)
	}
	tw.Flush()
}

// ago renders an RFC 3339 time as how long ago, to the tenth of a second.
func ago(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "-"
	}
	return time.Since(t).Round(100 * time.Millisecond).String()
}

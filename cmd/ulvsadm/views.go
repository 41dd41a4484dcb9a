package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/ulvs/ulvs/internal/ctl"
)

// runView runs `ulvsadm vrrp|checkers|status`: the parts of ulvsd that
// ipvsadm has no words for.
func runView(op string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := pflag.NewFlagSet("ulvsadm "+op, pflag.ContinueOnError)
		fs.SetOutput(stderr)
		socket := fs.String("socket", defaultSocket, "ulvsd's control socket")
		jsonOut := fs.Bool("json", false, "JSON output")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := ctl.Call(ctx, *socket, &ctl.Request{Op: op})
		if err != nil {
			fmt.Fprintf(stderr, "ulvsadm: %v\n", err)
			return 1
		}
		switch op {
		case ctl.OpVRRP:
			if *jsonOut {
				err = printJSON(stdout, resp.VRRP)
			} else {
				printVRRP(stdout, resp.VRRP)
			}
		case ctl.OpCheckers:
			if *jsonOut {
				err = printJSON(stdout, resp.Checkers)
			} else {
				printCheckers(stdout, resp.Checkers)
			}
		case ctl.OpBGP:
			if *jsonOut {
				err = printJSON(stdout, resp.BGP)
			} else {
				printBGP(stdout, resp.BGP)
			}
		case ctl.OpStatus:
			if *jsonOut {
				err = printJSON(stdout, resp.Status)
			} else {
				printStatus(stdout, resp.Status)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "ulvsadm: %v\n", err)
			return 1
		}
		return 0
	}
}

func printVRRP(w io.Writer, ins []ctl.Instance) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Instance\tState\tInterface\tVRID\tPrio\tEffPrio\tMaster\tVIPs\tAdverts rx/tx\tRefused\tChecksum errs")
	for _, in := range ins {
		name := in.Name
		if in.Group != "" {
			name += " (" + in.Group + ")"
		}
		master := in.MasterAddr
		if master == "" {
			master = "-"
		}
		st := in.Stats
		// Refused: every advert the receive checks dropped, as the
		// counters name them.
		refused := st.PacketLenErr + st.AdvertIntervalErr + st.IPTTLErr + st.InvalidTypeRcvd + st.AddrListErr +
			st.InvalidAuthType + st.AuthTypeMismatch + st.AuthFailure + st.ChecksumErr + st.VersionErr
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d/%d\t%d\t%d\n", name, in.State, in.Interface, in.VRID, in.Priority,
			in.EffectivePriority, master, strings.Join(in.VIPs, ","), st.AdvertRcvd, st.AdvertSent, refused, st.ChecksumErr)
	}
	tw.Flush()
}

func printCheckers(w io.Writer, cs []ctl.Checker) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Service\tReal server\tChecker\tTarget\tState\tFailures\tLatency\tLast error")
	for _, c := range cs {
		state := "UP"
		if !c.Up {
			state = "DOWN"
		}
		if c.Suspended {
			state += " (suspended)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.1fms\t%s\n", c.Service, c.Real, c.Type, c.Target, state, c.Failures,
			c.LatencyMS, c.LastError)
	}
	tw.Flush()
}

func printStatus(w io.Writer, s *ctl.Status) {
	fmt.Fprintf(w, "ulvsd %s\nconfig: %s\nstarted: %s\nsubsystems: %s\nreloads: %d\n", s.Version, s.ConfigFile,
		s.Started, strings.Join(s.Subsystems, ", "), s.Reloads)
	if s.LastReload != "" {
		fmt.Fprintf(w, "last reload: %s\n", s.LastReload)
	}
	if s.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", s.LastError)
	}
	if s.Sync != "" {
		fmt.Fprintf(w, "lvs_sync_daemon: %s\n", s.Sync)
	}
	for _, r := range s.CannotServe {
		fmt.Fprintf(w, "cannot serve: %s\n", r)
	}
	for _, l := range s.IO {
		fmt.Fprintf(w, "io: %s\n", l)
	}
}

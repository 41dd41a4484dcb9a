package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func runTrace(g *globals, args []string, out *printer) error {
	fs := flags("trace")
	target := fs.String("target", "", "VIP:PORT to reach (default: the lab's first service)")
	path := fs.String("path", "/", "URL path")
	outDir := fs.String("out", "", "directory for the pcap files (default: trace/ in the lab's state directory)")
	flow := fs.Int("flow", 0, "ECMP lab: which client flow to follow (client address and port by number)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := needRoot(); err != nil {
		return err
	}
	l, err := openLab(g, out)
	if err != nil {
		return err
	}
	t, err := l.target(*target)
	if err != nil {
		return err
	}
	if l.st.ECMP {
		return l.traceECMP(t, *path, *flow)
	}
	if *outDir == "" {
		*outDir = filepath.Join(l.st.Dir, "trace")
	}
	res, err := l.trace(t, *path, *outDir)
	if res != nil {
		res.print(out)
	}
	return err
}

// oldPcap matches the files a trace writes.
var oldPcap = regexp.MustCompile(`^[0-9]+-[a-z0-9]+\.pcapng$`)

// traceResult is one traced connection.
type traceResult struct {
	Target netip.AddrPort
	Port   uint16
	Body   string
	Mode   string
	Steps  []traceStep
	Names  names
	// Counts are the connection's frames seen per node, Pcaps the files.
	Counts map[string]int
	Pcaps  []string
}

// names builds the lab's address book.
func (s *state) names() names {
	nm := names{macs: map[string]string{}, addrs: map[netip.Addr]string{}}
	for _, n := range s.Nodes {
		nm.macs[n.MAC] = n.Name
		for _, a := range n.Addrs {
			nm.addrs[a.Addr()] = n.Name
		}
		for _, v := range n.LoVIPs {
			nm.addrs[v] = "VIP"
		}
		if n.Gateway.IsValid() {
			nm.addrs[n.Gateway] = "gateway"
		}
	}
	for _, t := range s.Targets {
		nm.addrs[t.Addr()] = "VIP"
	}
	return nm
}

// trace captures one connection on every switch port, follows it and
// writes one pcap per node on its path.
func (l *lab) trace(t netip.AddrPort, path, outDir string) (*traceResult, error) {
	client := l.st.node("client")
	var ports []string
	for _, n := range l.st.Nodes {
		ports = append(ports, n.Port)
	}
	capt, err := startCapture(l.st.Prefix+"sw", ports)
	if err != nil {
		return nil, err
	}
	res := &traceResult{Target: t, Mode: l.st.Mode, Names: l.st.names(), Counts: map[string]int{}}
	var getErr error
	for range 3 { // a random port may be taken: try another
		res.Port = uint16(20000 + rand.IntN(40000))
		res.Body, getErr = get(client.NS, t, path, int(res.Port), 3*time.Second)
		if getErr == nil || !strings.Contains(getErr.Error(), "address already in use") {
			break
		}
	}
	// The connection closes after the answer: wait for its last ACK.
	capt.quiet(300*time.Millisecond, 3*time.Second)
	frames := capt.stop()
	var views []portView
	for i, n := range l.st.Nodes {
		v := portView{Name: n.Name, MAC: n.MAC}
		for _, f := range frames[i] {
			s, ok := decodeFrame(f.Raw)
			if !ok || !s.belongs(client.addr4(), res.Port) || (s.SrcMAC != n.MAC && s.DstMAC != n.MAC) {
				continue
			}
			f.S = s
			v.Frames = append(v.Frames, f)
		}
		res.Counts[n.Name] = len(v.Frames)
		views = append(views, v)
	}
	steps, flowErr := flow(views, "client", res.Names)
	res.Steps = steps
	var order []string
	for _, s := range steps {
		if !slices.Contains(order, s.Node) {
			order = append(order, s.Node)
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return res, fmt.Errorf("ulvslab: %w", err)
	}
	// An earlier trace's files would mix with this one's.
	old, _ := filepath.Glob(filepath.Join(outDir, "*.pcapng"))
	for _, f := range old {
		if oldPcap.MatchString(filepath.Base(f)) {
			_ = os.Remove(f)
		}
	}
	for i, name := range order {
		for _, v := range views {
			if v.Name != name {
				continue
			}
			p := filepath.Join(outDir, fmt.Sprintf("%d-%s.pcapng", i+1, name))
			if err := writePcap(p, v); err != nil {
				return res, err
			}
			res.Pcaps = append(res.Pcaps, p)
		}
	}
	if getErr != nil {
		return res, fmt.Errorf("ulvslab: trace: the request failed: %w", getErr)
	}
	return res, flowErr
}

// writePcap writes the frames a node's switch port saw as a pcapng file
// (Wireshark reads it as any pcap), each frame flagged inbound or outbound
// from the node's point of view and commented "sent by"/"received by", so
// a director's two copies of each packet (as it came, as it left) are told
// apart.
func writePcap(path string, v portView) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("ulvslab: %w", err)
	}
	intf := pcapgo.DefaultNgInterface
	intf.Name = v.Name + " eth0"
	intf.Description = "the switch port of " + v.Name + " (" + v.MAC + "), captured by ulvslab trace"
	intf.LinkType = layers.LinkTypeEthernet
	w, err := pcapgo.NewNgWriterInterface(f, intf, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		f.Close()
		return fmt.Errorf("ulvslab: %s: %w", path, err)
	}
	for _, fr := range v.Frames {
		ci := gopacket.CaptureInfo{Timestamp: fr.At, CaptureLength: len(fr.Raw), Length: len(fr.Raw)}
		flags := &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
		comment := "received by " + v.Name
		if fr.S.SrcMAC == v.MAC {
			flags.Direction, comment = pcapgo.NgEpbFlagDirectionOutbound, "sent by "+v.Name
		}
		opts := pcapgo.NgPacketOptions{Comments: []string{comment}, Flags: flags}
		if err := w.WritePacketWithOptions(ci, fr.Raw, opts); err != nil {
			f.Close()
			return fmt.Errorf("ulvslab: %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("ulvslab: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ulvslab: %w", err)
	}
	return nil
}

// print tells the connection's story hop by hop.
func (r *traceResult) print(out *printer) {
	answer := ""
	if r.Body != "" {
		answer = ", answered by " + r.Body
	}
	out.line("one connection from the client (port %d) to %s, %s mode%s:", r.Port, r.Target, modeName(r.Mode), answer)
	out.line("(at each hop: the frame as that node sent it; * marks a header it changed)")
	for i, s := range r.Steps {
		out.line("")
		out.line("%2d. %s %s", i+1, s.Node, s.Verb)
		for _, l := range s.Frame.lines(r.Names, s.Prev) {
			out.line("      %s", l)
		}
		for j, n := range s.Notes {
			if j == 0 {
				out.line("    → %s", n)
			} else {
				out.line("      %s", n)
			}
		}
	}
	out.line("")
	var counts []string
	for _, s := range r.Steps {
		c := fmt.Sprintf("%s %d", s.Node, r.Counts[s.Node])
		if !slices.Contains(counts, c) {
			counts = append(counts, c)
		}
	}
	out.line("frames of this connection seen at each hop's switch port: %s", strings.Join(counts, ", "))
	if len(r.Pcaps) > 0 {
		out.line("one pcap per hop, for Wireshark (pcapng: each frame marked sent or received by that hop):")
		for _, p := range r.Pcaps {
			out.line("    %s", p)
		}
	}
}

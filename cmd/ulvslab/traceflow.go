package main

import (
	"fmt"
	"net/netip"
	"time"
)

// seen is one frame of the traced connection at a node's switch port.
type seen struct {
	At  time.Time
	S   summary
	Raw []byte
}

// portView is what one node's switch port saw of the connection: frames
// the node sent (source MAC its own) and frames delivered to it.
type portView struct {
	Name, MAC string
	Frames    []seen
}

// sent returns the first frame the node sent that matches.
func (v *portView) sent(match func(summary) bool) *seen {
	for i := range v.Frames {
		if f := &v.Frames[i]; f.S.SrcMAC == v.MAC && match(f.S) {
			return f
		}
	}
	return nil
}

// received returns the first frame from MAC `from` delivered to the node
// that matches.
func (v *portView) received(from string, match func(summary) bool) *seen {
	for i := range v.Frames {
		if f := &v.Frames[i]; f.S.DstMAC == v.MAC && f.S.SrcMAC == from && match(f.S) {
			return f
		}
	}
	return nil
}

// traceStep is one line of the story: a node and the frame it sent (or,
// for the last step, received), with what it changed.
type traceStep struct {
	Node  string
	Verb  string
	Frame summary
	// Prev is the frame this node received and changed into Frame.
	Prev  *summary
	Notes []string
}

// flow follows the connection's first packet (the SYN) from the client
// through every node that forwarded it to the node that answered, and the
// answer (the SYN-ACK) back to the client. The path is found from the
// captures alone: it shows what happened, not what the config meant.
func flow(views []portView, client string, nm names) ([]traceStep, error) {
	byName := map[string]*portView{}
	for i := range views {
		byName[views[i].Name] = &views[i]
	}
	c := byName[client]
	if c == nil {
		return nil, fmt.Errorf("ulvslab: trace: nothing captured at the client")
	}
	syn := c.sent(summary.isSYN)
	if syn == nil {
		return nil, fmt.Errorf("ulvslab: trace: the client sent no SYN")
	}
	steps := []traceStep{{Node: client, Verb: "sends the SYN", Frame: syn.S}}
	// next finds the node (other than cur) that received cur's frame.
	next := func(cur *portView, match func(summary) bool) (*portView, *seen) {
		for i := range views {
			w := &views[i]
			if w == cur {
				continue
			}
			if f := w.received(cur.MAC, match); f != nil {
				return w, f
			}
		}
		return nil, nil
	}
	cur := c
	var server *portView
	var request *seen
	for range 6 {
		w, in := next(cur, summary.isSYN)
		if w == nil {
			return steps, fmt.Errorf("ulvslab: trace: nobody received the SYN %s sent (a drop: see the pcaps)", cur.Name)
		}
		out := w.sent(summary.isSYN)
		if out == nil {
			server, request = w, in
			break
		}
		prev := in.S
		steps = append(steps, traceStep{Node: w.Name, Verb: "forwards it", Frame: out.S, Prev: &prev,
			Notes: describeForward(in.S, out.S, nm)})
		cur = w
	}
	if server == nil {
		return steps, fmt.Errorf("ulvslab: trace: the SYN went round more than 6 hops")
	}
	ans := server.sent(summary.isSYNACK)
	if ans == nil {
		return steps, fmt.Errorf("ulvslab: trace: %s received the SYN but did not answer", server.Name)
	}
	steps = append(steps, traceStep{Node: server.Name, Verb: "answers", Frame: ans.S,
		Notes: describeAnswer(request.S, ans.S, server.Name, len(steps) == 1, nm)})
	cur = server
	for range 6 {
		w, in := next(cur, summary.isSYNACK)
		if w == nil {
			return steps, fmt.Errorf("ulvslab: trace: nobody received the answer %s sent", cur.Name)
		}
		if w == c {
			steps = append(steps, traceStep{Node: client, Verb: "receives the answer", Frame: in.S,
				Notes: describeArrival(syn.S, in.S, nm)})
			return steps, nil
		}
		out := w.sent(summary.isSYNACK)
		if out == nil {
			return steps, fmt.Errorf("ulvslab: trace: %s received the answer and did not pass it on", w.Name)
		}
		prev := in.S
		steps = append(steps, traceStep{Node: w.Name, Verb: "forwards the answer", Frame: out.S, Prev: &prev,
			Notes: describeForward(in.S, out.S, nm)})
		cur = w
	}
	return steps, fmt.Errorf("ulvslab: trace: the answer went round more than 6 hops")
}

// nodeOf names the node behind an address ("director1"), or the address.
func (n names) nodeOf(a netip.Addr) string {
	if name, ok := n.addrs[a]; ok {
		return name
	}
	return a.String()
}

// describeForward says what a forwarding node changed, in the words of the
// mode that makes such a change.
func describeForward(in, out summary, nm names) []string {
	var notes []string
	switch {
	case out.Outer != nil && in.Outer == nil:
		notes = append(notes, fmt.Sprintf("TUN: outer IPIP %s→%s (%s → %s) wraps the packet; inner IP unchanged",
			nm.nodeOf(out.Outer.Src), nm.nodeOf(out.Outer.Dst), out.Outer.Src, out.Outer.Dst))
	case in.IP.Dst != out.IP.Dst || in.DstPort != out.DstPort:
		notes = append(notes, fmt.Sprintf("NAT: dst %s:%d → %s:%d", in.IP.Dst, in.DstPort, out.IP.Dst, out.DstPort))
	case in.IP.Src != out.IP.Src || in.SrcPort != out.SrcPort:
		notes = append(notes, fmt.Sprintf("NAT: src %s:%d → %s:%d", in.IP.Src, in.SrcPort, out.IP.Src, out.SrcPort))
	case in.DstMAC != out.DstMAC:
		notes = append(notes, fmt.Sprintf("DR: dst MAC %s→%s, IP unchanged", nm.mac(in.DstMAC), nm.mac(out.DstMAC)))
	default:
		notes = append(notes, "nothing changed")
	}
	if in.Outer == nil && out.Outer != nil && (in.IP.Src != out.IP.Src || in.IP.Dst != out.IP.Dst) {
		notes = append(notes, fmt.Sprintf("(inner addresses changed too: %s → %s)", in.IP.Dst, out.IP.Dst))
	}
	if in.DstMAC != out.DstMAC && out.Outer == nil && !(in.IP.Dst == out.IP.Dst && in.IP.Src == out.IP.Src) {
		notes = append(notes, fmt.Sprintf("dst MAC %s→%s: the next hop", nm.mac(in.DstMAC), nm.mac(out.DstMAC)))
	}
	if in.SrcMAC != out.SrcMAC {
		notes = append(notes, fmt.Sprintf("src MAC %s→%s: %s sends the frame itself", nm.mac(in.SrcMAC), nm.mac(out.SrcMAC), nm.mac(out.SrcMAC)))
	}
	if in.IP.TTL != out.IP.TTL {
		notes = append(notes, fmt.Sprintf("TTL %d → %d", in.IP.TTL, out.IP.TTL))
	}
	return notes
}

// describeAnswer says how the answering node addressed its answer.
func describeAnswer(req, ans summary, server string, direct bool, nm names) []string {
	switch {
	case direct:
		return []string{fmt.Sprintf("no forwarding: %s holds %s itself and answers", server, req.IP.Dst)}
	case req.Outer != nil:
		return []string{fmt.Sprintf("TUN: %s took the packet out of the tunnel (its decapsulator) and answers from the VIP %s "+
			"straight to the client (dst MAC %s): the answer never passes the director", server, ans.IP.Src, nm.mac(ans.DstMAC))}
	case ans.IP.Src == req.IP.Dst && nm.addrs[ans.IP.Src] == "VIP":
		return []string{fmt.Sprintf("DR: %s holds the VIP on lo and answers from it straight to the client (dst MAC %s): "+
			"the answer never passes the director", server, nm.mac(ans.DstMAC))}
	default:
		return []string{fmt.Sprintf("NAT: %s answers from its own address %s:%d to the client, through its default gateway "+
			"(dst MAC %s): the answer must pass the director to be rewritten", server, ans.IP.Src, ans.SrcPort, nm.mac(ans.DstMAC))}
	}
}

// describeArrival checks the answer against what the client asked for.
func describeArrival(syn, ans summary, nm names) []string {
	if ans.IP.Src == syn.IP.Dst && ans.SrcPort == syn.DstPort {
		return []string{fmt.Sprintf("the answer comes from %s:%d, the address the client connected to (Ethernet from %s)",
			ans.IP.Src, ans.SrcPort, nm.mac(ans.SrcMAC))}
	}
	return []string{fmt.Sprintf("the answer comes from %s:%d, not %s:%d: the client's TCP would reset it",
		ans.IP.Src, ans.SrcPort, syn.IP.Dst, syn.DstPort)}
}

package vrrp

import "slices"

// Condition is a tracked object the program sets itself, beside
// keepalived's scripts, interfaces, files and processes: ulvsd's "this
// director can serve" (its forwarder runs, it can open sockets, its
// connection table takes new connections). keepalived has no such object:
// a director that cannot serve stays master there.
type Condition struct {
	// Name names it in the status and the log.
	Name string
	// Failed is set while the condition does not hold.
	Failed bool
	// Reason says why it failed (or, when it holds, is empty).
	Reason string
	// Weight 0 puts the instances in FAULT while Failed; a negative weight
	// is added to their priority while Failed (a tracked script's rules).
	Weight int
	// Instances lists the instances it applies to.
	Instances []string
}

func (c *Condition) appliesTo(name string) bool { return slices.Contains(c.Instances, name) }

// SetCondition sets (or replaces) the condition named c.Name and
// re-evaluates every instance's tracking: an instance it applies to goes to
// FAULT or loses priority while it fails, as with a failed track_script.
func (n *Node) SetCondition(c Condition) {
	c.Instances = slices.Clone(c.Instances)
	n.do(func() {
		if n.ts.conds == nil {
			n.ts.conds = map[string]Condition{}
		}
		n.ts.conds[c.Name] = c
		if n.eng == nil {
			return // Run evaluates every instance when it starts
		}
		for _, in := range n.insts {
			n.retrack(in, false)
		}
	})
}

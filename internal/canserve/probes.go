package canserve

import "fmt"

// TableCounts are a connection table's size and how many new
// connections it refused so far.
type TableCounts struct {
	Entries, Capacity int64
	Refused           uint64
}

// Table is a probe on a connection table: it fails while the table is full
// and refused new connections since the last round (a full table that
// evicts old entries to take new ones still serves).
func Table(name string, read func() TableCounts) Probe {
	t := &tableProbe{name: name, read: read}
	t.last = read().Refused
	return t
}

type tableProbe struct {
	name string
	read func() TableCounts
	last uint64
}

func (t *tableProbe) Name() string { return t.name }

func (t *tableProbe) Check() string {
	c := t.read()
	refused := c.Refused - t.last
	t.last = c.Refused
	if refused > 0 && c.Entries >= c.Capacity {
		return fmt.Sprintf("full (%d of %d entries) and %d new connections refused in the last round", c.Entries,
			c.Capacity, refused)
	}
	return ""
}

// Err is a probe that fails while fn returns an error (the forwarder's
// workers, say).
func Err(name string, fn func() error) Probe {
	return ProbeFunc{ProbeName: name, Fn: func() string {
		if err := fn(); err != nil {
			return err.Error()
		}
		return ""
	}}
}
